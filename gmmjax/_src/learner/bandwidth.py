"""The width of a grid basis chosen from the data: held-out likelihood over a few widths.

A grid basis (:func:`gmmjax.grid_basis`) gives every component the standard deviation
:math:`\\sigma_a = t\\,r_a` on axis ``a`` (``r_a`` the grid spacing). The rule that chooses
``t`` (likelihood cross-validation with EM on the weights, then the one-standard-error rule)
is stated in :func:`select_grid_width`, the public function; ``grid_basis`` without ``t`` and
``gmmjax fit`` without ``--t`` use it.

All candidates run in one compiled program (``vmap`` over the widths, ``lax.scan`` over the
EM steps); the scaled squared distances :math:`D_{jk} = \\sum_a ((x_{ja} - \\mu_{ka})/r_a)^2`
are shared, since :math:`\\log\\phi_k(x; t) = -D/(2t^2) - d\\log t - \\sum_a \\log r_a -
\\tfrac d2 \\log 2\\pi`.

When the narrowest candidate wins, the data hold structure finer than the grid can show
(:attr:`WidthChoice.grid_too_coarse`): more grid points per axis should fit better.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.learner.grid import as_points, grid_basis, grid_spacing

__all__ = ["DEFAULT_WIDTHS", "WidthChoice", "select_grid_width"]

DEFAULT_WIDTHS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
_EM_STEPS = 32
_VALIDATION_FRACTION = 0.2
_MAX_ENTRIES = 2**22  # widths x points x components evaluated at once


@dataclasses.dataclass(frozen=True)
class WidthChoice:
    """Result of :func:`select_grid_width`.

    Attributes:
        t: the chosen width, in grid spacings.
        widths: ``(C,)`` the candidate widths, increasing.
        scores: ``(C,)`` held-out mean log-likelihood of each (nats per point).
        standard_errors: ``(C,)`` standard error of each score's difference from the best
            one (paired over the held-out points; 0 for the best).
        n_points: how many points the selection used (training and held out).
    """

    t: float
    widths: np.ndarray
    scores: np.ndarray
    standard_errors: np.ndarray
    n_points: int

    @property
    def grid_too_coarse(self) -> bool:
        """Whether the narrowest candidate won clearly: a finer grid should fit better.

        True when ``t`` is the narrowest width and every wider one scores more than one
        standard error below it (the held-out likelihood still rises as the basis narrows).
        """
        return bool(self.t == self.widths[0]) and len(self.widths) > 1


@functools.partial(jax.jit, static_argnames=("n_valid", "steps"))
def _point_scores(
    pts: jax.Array,
    means: jax.Array,
    spacing: jax.Array,
    widths: jax.Array,
    key: jax.Array,
    *,
    n_valid: int,
    steps: int,
) -> jax.Array:
    """``(C, M)`` held-out log-densities at the best EM step (highest mean) of every width."""
    perm = jax.random.permutation(key, pts.shape[0])
    scaled = pts / spacing
    centres = means / spacing
    dist = jnp.sum((scaled[:, None, :] - centres[None, :, :]) ** 2, axis=-1)  # (N, K)
    d = pts.shape[1]
    const = -jnp.sum(jnp.log(spacing)) - 0.5 * d * jnp.log(2.0 * jnp.pi)
    train, valid = dist[perm[n_valid:]], dist[perm[:n_valid]]
    k = means.shape[0]

    def one_width(t: jax.Array) -> jax.Array:
        shift = const - d * jnp.log(t)
        log_train = -train / (2.0 * t * t) + shift
        log_valid = -valid / (2.0 * t * t) + shift

        def em_step(carry: tuple, _: Any) -> tuple[tuple, None]:
            log_pi, best, best_points = carry
            points = jax.nn.logsumexp(log_pi + log_valid, axis=1)  # (M,) held-out log g
            better = jnp.mean(points) > best
            best = jnp.where(better, jnp.mean(points), best)
            best_points = jnp.where(better, points, best_points)
            pi = jnp.mean(jax.nn.softmax(log_pi + log_train, axis=1), axis=0)
            return (jnp.log(jnp.maximum(pi, jnp.finfo(pi.dtype).tiny)), best, best_points), None

        start = jnp.full((k,), -jnp.log(k), pts.dtype)
        init = (start, jnp.asarray(-jnp.inf, pts.dtype), jnp.zeros(n_valid, pts.dtype))
        (_, _, best_points), _ = jax.lax.scan(em_step, init, None, steps)
        return best_points

    return jax.vmap(one_width)(widths)


def select_grid_width(
    x: Any,
    n_components: int | Sequence[int],
    widths: Sequence[float] = DEFAULT_WIDTHS,
    *,
    key: jax.Array | None = None,
) -> WidthChoice:
    """Choose the width ``t`` of :func:`gmmjax.grid_basis` by held-out likelihood.

    Too wide a ``t`` blurs structure the grid could resolve (two clusters become one blob),
    too narrow a ``t`` leaves nothing to smooth with. As for the bandwidth of a kernel density
    estimator, ``t`` is chosen by likelihood cross-validation (Silverman 1986, §3.4.4): 20% of
    the points are held out and, for every candidate width :math:`t_c`, the weights of
    ``grid_basis(x, n_components, t_c)`` are fitted to the other points by EM on the weights
    alone (means and covariances fixed, 32 steps from uniform weights),

    .. math::
        \\pi^{(s+1)}_k = \\frac1N\\sum_{j} \\frac{\\pi^{(s)}_k\\,\\phi_k(x_j; t_c)}
            {\\sum_l \\pi^{(s)}_l\\,\\phi_l(x_j; t_c)}, \\qquad
        \\mathrm{score}(t_c) = \\max_{s} \\frac1M \\sum_{i=1}^M \\log \\sum_k
            \\pi^{(s)}_k\\,\\phi_k(x^{val}_i; t_c),

    the best held-out mean log-likelihood along the EM path (early stopping). Of the widths
    whose score lies within one standard error of the best one, the widest is chosen (the
    one-standard-error rule of Hastie, Tibshirani and Friedman (2009), §7.10; the error of a
    difference of scores is paired over the held-out points). All candidates run in one
    compiled program. At most ``2**22 / (C K)`` points (and at least 1,000 where there are
    that many) take part, for ``C`` candidates and ``K`` components: a random subset of larger
    data sets.

    Args:
        x: ``(N,)`` or ``(N, d)`` finite data, ``N >= 10``.
        n_components: grid points per axis (an int, or one per axis), as for ``grid_basis``.
        widths: candidate widths in grid spacings, each ``> 0``; default
            ``(0.5, 0.75, 1, 1.5, 2, 3, 4)``.
        key: PRNG key for the split (and the subset); default ``jax.random.key(0)``.

    Returns:
        :class:`WidthChoice` with the chosen ``t``, every candidate's score and
        ``grid_too_coarse`` (the narrowest candidate won).

    Raises:
        ValueError: for fewer than 10 points, a bad ``widths`` or ``n_components``, or data
            rejected by :func:`gmmjax.grid_basis`.

    Example:
        >>> x = jnp.concatenate([jnp.zeros(500) - 3.0, jnp.zeros(500) + 3.0])
        >>> x = x + 0.3 * jax.random.normal(jax.random.key(1), (1000,))
        >>> choice = select_grid_width(x, 40)
        >>> choice.t < 2.0, choice.scores.shape
        (True, (7,))
    """
    pts = as_points(x)
    candidates = np.sort(np.asarray(widths, dtype=float).reshape(-1))
    if candidates.size < 1 or not np.all(np.isfinite(candidates) & (candidates > 0)):
        raise ValueError(f"widths must be finite numbers > 0; got {widths!r}")
    n = pts.shape[0]
    if n < 10:
        raise ValueError(f"x needs at least 10 points to hold some out; got {n}")
    basis = grid_basis(pts, n_components, 1.0)  # checks the data and the counts
    spacing = grid_spacing(pts, n_components)
    key = jax.random.key(0) if key is None else key
    subset_key, split_key = jax.random.split(key)
    budget = max(1000, _MAX_ENTRIES // (candidates.size * basis.n_components))
    if n > budget:
        pts = pts[jax.random.choice(subset_key, n, (budget,), replace=False)]
    n_used = pts.shape[0]
    points = _point_scores(
        pts,
        basis.means,
        spacing,
        jnp.asarray(candidates, pts.dtype),
        split_key,
        n_valid=math.ceil(_VALIDATION_FRACTION * n_used),
        steps=_EM_STEPS,
    )
    return _choose(candidates, np.asarray(points, dtype=float), int(n_used))


def _choose(widths: np.ndarray, points: np.ndarray, n_used: int) -> WidthChoice:
    """The one-standard-error choice from the ``(C, M)`` held-out log-densities."""
    scores = points.mean(axis=1)
    finite = np.isfinite(scores)
    best = int(np.argmax(np.where(finite, scores, -np.inf))) if finite.any() else 0
    diff = points - points[best]
    errors = diff.std(axis=1, ddof=1) / np.sqrt(points.shape[1])
    near = finite & (scores >= scores[best] - errors)
    chosen = int(np.flatnonzero(near)[-1]) if near.any() else best
    return WidthChoice(float(widths[chosen]), widths, scores, errors, n_used)
