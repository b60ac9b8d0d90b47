"""Algorithms 1 and 2 of Lu et al. (2023), §2.4, vectorised: baselines for the optax learner.

Both algorithms visit every data point once and add an update that depends only on the grid
cell of the point, never on the current weights. The sum over points is therefore a sum over
cells weighted by the cell counts, and the loops collapse to one matrix-vector product
(Algorithm 1) or one elementwise expression (Algorithm 2) with the same arithmetic.

Choices where the text is ambiguous (each is also stated in the docstrings):

* the closest mean: ``argmin_i |x_j - mu_i|``, the lower index on an exact tie;
* masses of a component on a window :math:`(a, b]`:
  :math:`\\tilde P_m((a,b]) = \\Phi((b-\\mu_m)/\\sigma) - \\Phi((a-\\mu_m)/\\sigma)`;
* Algorithm 1, line 11 reads :math:`k^{side-} = (x_j - r, x_j - r + d]`; we use
  :math:`(\\mu_i - r, \\mu_i - r + d]`, the mirror image of :math:`k^{side+}` (line 10), as
  Eq. 7 states;
* Algorithm 2, line 8 leaves the side window open; we average the two sides like Algorithm 1
  (on the symmetric grid both give the same number);
* both: the updates can leave some weights negative; before the final renormalisation negative
  weights are set to 0 (the smallest change that yields a valid mixture).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gmmjax._src.core.checks import check_positive
from gmmjax._src.core.mixture import GMM
from gmmjax._src.learner.grid import as_points, grid_basis

__all__ = ["cell_counts", "nearest_cell", "paper_algorithm1", "paper_algorithm2"]


def nearest_cell(x: jax.Array, lo: jax.Array, r: jax.Array, n: int) -> jax.Array:
    """Index of the grid mean closest to each point (``argmin_i |x - mu_i|``, lower on ties).

    Computed from the rounded position and a check of the two neighbours, so it needs
    :math:`O(N)` memory instead of the :math:`O(Nn)` of a full ``argmin``.
    """
    x = jnp.asarray(x)
    guess = jnp.clip(jnp.floor((x - lo) / r + 0.5).astype(jnp.int32), 0, n - 1)
    cand = jnp.clip(guess[:, None] + jnp.array([-1, 0, 1]), 0, n - 1)  # lowest index first
    dist = jnp.abs(x[:, None] - (lo + cand.astype(x.dtype) * r))
    return jnp.take_along_axis(cand, jnp.argmin(dist, axis=1)[:, None], axis=1)[:, 0]


def cell_counts(x: jax.Array, lo: jax.Array, r: jax.Array, n: int) -> jax.Array:
    """Number of points whose closest grid mean is ``mu_i``, shape ``(n,)``."""
    idx = nearest_cell(x, lo, r, n)
    return jnp.zeros(n, x.dtype).at[idx].add(1.0)


def _window_mass(a: jax.Array, b: jax.Array, mu: jax.Array, sigma: jax.Array) -> jax.Array:
    """``(W, n)`` masses :math:`\\tilde P_m((a_w, b_w])` of every component on every window."""
    z_hi = (b[:, None] - mu[None, :]) / sigma
    z_lo = (a[:, None] - mu[None, :]) / sigma
    return jax.scipy.special.ndtr(z_hi) - jax.scipy.special.ndtr(z_lo)


def _gradient_matrix(mu: jax.Array, r: jax.Array, sigma: jax.Array, d: jax.Array) -> jax.Array:
    """Row ``i``: the Eq. 7 update (averaged over the two sides) for a point nearest ``mu_i``."""
    mid = _window_mass(mu - d, mu + d, mu, sigma)
    side_plus = _window_mass(mu + r - d, mu + r, mu, sigma)
    side_minus = _window_mass(mu - r, mu - r + d, mu, sigma)
    return mid - 0.5 * (side_plus + side_minus)


def _setup(x: Any, n_components: int, t: float, d: Any) -> tuple:
    pts = as_points(x)
    if pts.shape[1] != 1:
        raise ValueError(f"the paper's algorithms are 1-D; x has shape {pts.shape}")
    basis = grid_basis(pts, n_components, t)
    mu = basis.means[:, 0]
    r = mu[1] - mu[0] if n_components > 1 else jnp.max(pts) - jnp.min(pts)
    sigma = jnp.sqrt(basis.covs[0, 0])
    check_positive("d", d)
    d = sigma / 4.0 if d is None else jnp.asarray(d, pts.dtype)
    counts = cell_counts(pts[:, 0], mu[0], r, n_components)
    return basis, mu, r, sigma, d, counts


def _renormalise(basis: GMM, pi: jax.Array) -> GMM:
    pi = jnp.maximum(pi, 0.0)
    return GMM._unchecked(pi / jnp.sum(pi), basis.means, basis.covs)


def _algorithm1_raw(x: Any, n_components: int, t: float, d: Any) -> tuple[GMM, jax.Array]:
    """Basis and weights of Algorithm 1 before the final clip and renormalisation."""
    basis, mu, r, sigma, d, counts = _setup(x, n_components, t, d)
    return basis, 1.0 / n_components + counts @ _gradient_matrix(mu, r, sigma, d)


def _algorithm2_raw(x: Any, n_components: int, t: float, d: Any) -> tuple[GMM, jax.Array]:
    """Basis and weights of Algorithm 2 before the final clip and renormalisation."""
    basis, mu, r, sigma, d, counts = _setup(x, n_components, t, d)
    gain = counts * jnp.diagonal(_gradient_matrix(mu, r, sigma, d))
    return basis, 1.0 / n_components + gain - (jnp.sum(gain) - gain) / n_components


def paper_algorithm1(x: Any, n_components: int, t: float, d: float | None = None) -> GMM:
    """Algorithm 1 of Lu, Ding, Wu & Yuan (2023, §2.4): one pass of interval-mass updates.

    Starting from :math:`\\pi_m = 1/n` on the grid basis (:func:`gmmjax.grid_basis`), every
    point :math:`x_j` with closest mean :math:`\\mu_i` adds, to every weight,

    .. math::
        \\pi_m \\mathrel{+}= \\tilde P_m(k_i^{mid})
        - \\tfrac12\\big(\\tilde P_m(k_i^{side+}) + \\tilde P_m(k_i^{side-})\\big),

    (equations 7–8 of the paper), with :math:`k^{mid}_i = (\\mu_i - d, \\mu_i + d]`,
    :math:`k^{side+}_i = (\\mu_i + r - d, \\mu_i + r]`,
    :math:`k^{side-}_i = (\\mu_i - r, \\mu_i - r + d]` and
    :math:`\\tilde P_m(k) = \\int_k \\phi_m`. There is no learning rate (Eq. 8). The update
    does not depend on :math:`\\pi`, so the pass equals :math:`\\pi = 1/n + G^T c` with
    :math:`c_i` the number of points nearest :math:`\\mu_i`; that is how it is computed.
    Finally negative weights are set to 0 and :math:`\\pi` is divided by its sum (the text
    only renormalises; see the module notes for every choice made).

    Args:
        x: ``(N,)`` data.
        n_components: number of grid components ``n``, an int >= 2.
        t: component width in grid spacings (``sigma = t r``), > 0.
        d: window half-width > 0; default ``None``: ``sigma / 4`` (the paper's first
            example).

    Returns:
        The grid basis with the learned weights.

    Example:
        >>> x = jax.random.normal(jax.random.key(0), (2000,))
        >>> g = paper_algorithm1(x, 20, 1.0)
        >>> g.n_components, round(float(g.weights.sum()), 5)
        (20, 1.0)
    """
    return _renormalise(*_algorithm1_raw(x, n_components, t, d))


def paper_algorithm2(x: Any, n_components: int, t: float, d: float | None = None) -> GMM:
    """Algorithm 2 of Lu, Ding, Wu & Yuan (2023, §2.4): the closest component gains, others pay.

    With the per-component step :math:`\\widetilde{dL}_i = \\tilde P_i(k_i^{mid})
    - \\tfrac12(\\tilde P_i(k_i^{side+}) + \\tilde P_i(k_i^{side-}))` (line 8; windows as in
    :func:`paper_algorithm1`), every point :math:`x_j` with closest mean :math:`\\mu_i` does

    .. math::
        \\pi_i \\mathrel{+}= \\widetilde{dL}_i, \\qquad
        \\pi_m \\mathrel{-}= \\widetilde{dL}_i / n \\quad (m \\ne i).

    Summed over the points, :math:`\\pi_m = 1/n + c_m\\widetilde{dL}_m
    - \\frac1n\\sum_{i \\ne m} c_i \\widetilde{dL}_i` with the cell counts :math:`c`: that is
    how it is computed. The subtraction drives the weight of every cell with fewer than about
    :math:`N/(n+1)` points negative; as the text only renormalises at the end, negative
    weights are set to 0 and :math:`\\pi` is divided by its sum. Sparse cells therefore get
    zero weight, which is the main reason this baseline is coarse.

    Args:
        x: ``(N,)`` data.
        n_components: number of grid components ``n``, an int >= 2.
        t: component width in grid spacings (``sigma = t r``), > 0.
        d: window half-width > 0; default ``None``: ``sigma / 4``.

    Returns:
        The grid basis with the learned weights (some of them exactly 0).

    Example:
        >>> x = jax.random.normal(jax.random.key(0), (2000,))
        >>> bool(paper_algorithm2(x, 20, 1.0).weights.min() >= 0.0)
        True
    """
    return _renormalise(*_algorithm2_raw(x, n_components, t, d))
