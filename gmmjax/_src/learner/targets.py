"""Random target densities of Lu et al. (2023), §3.1 (Tables 1-3): mixtures of 8 components.

Used by the benchmark of Tables 1-3, the learner demo and notebook 04. Each component has a
location drawn from U(-10, 10) and a scale from U(0.5, 2); its kind is drawn from ``kinds``
(normal; Student t with df in {3, ..., 10}; uniform with that standard deviation, i.e. width
``2 sqrt(3) scale``); the weights are Dirichlet(1, ..., 1). The CDF and density are exact
(SciPy), so the density information loss of a fit can be computed without sampling error.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["GAUSSIAN", "MIXED", "RandomTarget"]

GAUSSIAN = ("normal",)
MIXED = ("normal", "t", "uniform")


class RandomTarget:
    """A random mixture of normal / Student t / uniform components (Lu, Ding, Wu & Yuan 2023).

    The targets of the paper's §3.1: ``k`` components, locations from U(-10, 10), scales
    from U(0.5, 2), Dirichlet(1, ..., 1) weights.

    Args:
        rng: a NumPy ``Generator`` that draws the target.
        kinds: the component kinds to draw from, a tuple of ``"normal"``, ``"t"`` and
            ``"uniform"`` (default :data:`MIXED`, all three; :data:`GAUSSIAN`: normal only).
        k: number of components, an int >= 1 (default 8).

    Example:
        >>> target = RandomTarget(np.random.default_rng(0), MIXED)
        >>> x = target.sample(1000, np.random.default_rng(1))
        >>> x.shape, round(float(target.cdf(np.array([1e6]))[0]), 6)
        ((1000,), 1.0)
    """

    def __init__(
        self, rng: np.random.Generator, kinds: tuple[str, ...] = MIXED, k: int = 8
    ) -> None:
        self.weights = rng.dirichlet(np.ones(k))
        self.parts = []
        self.kinds = []
        for _ in range(k):
            loc, scale = rng.uniform(-10, 10), rng.uniform(0.5, 2.0)
            kind = kinds[rng.integers(len(kinds))]
            self.kinds.append(kind)
            if kind == "normal":
                self.parts.append(stats.norm(loc, scale))
            elif kind == "t":
                self.parts.append(stats.t(int(rng.integers(3, 11)), loc, scale))
            else:
                half = np.sqrt(3.0) * scale
                self.parts.append(stats.uniform(loc - half, 2 * half))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Exact CDF (float64).

        Args:
            x: points, any shape.

        Returns:
            The CDF at ``x``, float64, of the shape of ``x``.
        """
        return self._mixed("cdf", x)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Exact density (float64), the derivative of :meth:`cdf`.

        Args:
            x: points, any shape.

        Returns:
            The density at ``x`` (float64, shaped like ``x``).
        """
        return self._mixed("pdf", x)

    def _mixed(self, function: str, x: np.ndarray) -> np.ndarray:
        """The weighted sum over the components of their scipy ``function`` at ``x``."""
        x = np.asarray(x, dtype=np.float64)
        return sum(
            w * getattr(p, function)(x) for w, p in zip(self.weights, self.parts, strict=True)
        )

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` independent draws, shape ``(n,)``.

        Args:
            n: number of draws, an int >= 0.
            rng: a NumPy ``Generator`` for the draws.
        """
        idx = rng.choice(len(self.weights), size=n, p=self.weights)
        out = np.empty(n)
        for i, p in enumerate(self.parts):
            mask = idx == i
            out[mask] = p.rvs(size=int(mask.sum()), random_state=rng)
        return out
