"""Hypothesis strategies for valid Gaussian mixtures.

A mixture is described by a few structural draws (components ``K``, dimension ``d``, diagonal
or full covariances, condition number, scale, how unequal the weights are) plus a seed for the
numbers, so that shrinking moves towards small, well-conditioned cases and every example is a
valid GMM. Arrays are numpy float64; tests convert to the precision of the run.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

import gmmjax as gj


@dataclasses.dataclass(frozen=True)
class MixtureSpec:
    """Arrays of a valid mixture and the parameters they were drawn with."""

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray
    cond: float

    def gmm(self, dtype=None) -> gj.GMM:
        dtype = dtype or jnp.result_type(float)
        return gj.GMM(*(jnp.asarray(a, dtype) for a in (self.weights, self.means, self.covs)))


def _spd(rng: np.random.Generator, d: int, cond: float, scale: float) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eig = scale * (np.geomspace(1.0, cond, d) if d > 1 else np.ones(1))
    m = (q * eig) @ q.T
    return 0.5 * (m + m.T)


@st.composite
def mixture_specs(
    draw: st.DrawFn,
    d: int | None = None,
    max_components: int = 3,
    max_dim: int = 3,
    max_log10_cond: float = 3.0,
    diagonal: bool | None = None,
) -> MixtureSpec:
    """A valid mixture: K in [1, max_components], d in [1, max_dim], cond up to 1e3."""
    k = draw(st.integers(1, max_components))
    d = d if d is not None else draw(st.integers(1, max_dim))
    diagonal = draw(st.booleans()) if diagonal is None else diagonal
    log_cond = draw(st.floats(0.0, max_log10_cond))
    scale = draw(st.sampled_from([0.3, 1.0, 3.0]))
    spread = draw(st.sampled_from([0.5, 2.0, 5.0]))
    concentration = draw(st.sampled_from([0.3, 1.0, 10.0]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.full(k, concentration))
    w = np.maximum(w, 1e-3)
    w = w / w.sum()
    means = rng.standard_normal((k, d)) * spread
    cond = float(10.0**log_cond)
    if diagonal:
        covs = scale * np.exp(rng.uniform(0.0, np.log(cond), (k, d)))
    else:
        covs = np.stack([_spd(rng, d, cond, scale * rng.uniform(0.5, 2.0)) for _ in range(k)])
    return MixtureSpec(w, means, covs, cond)


@st.composite
def mixture_pairs(draw: st.DrawFn, count: int = 2, **kwargs) -> tuple[MixtureSpec, ...]:
    """``count`` mixtures of one shared dimension and one covariance kind.

    One kind per draw keeps the number of distinct programs the examples compile small;
    pairs of a diagonal and a full mixture are tested against references by the kernels'
    modules (``test_overlap.py``, ``test_batch.py``, ``test_bures.py``, ``test_kl.py``).
    """
    d = draw(st.integers(1, kwargs.pop("max_dim", 3)))
    kwargs.setdefault("diagonal", draw(st.booleans()))
    return tuple(draw(mixture_specs(d=d, **kwargs)) for _ in range(count))
