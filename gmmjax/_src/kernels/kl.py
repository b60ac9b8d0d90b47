"""Kullback–Leibler divergence and entropy of Gaussians in closed form: the KL kernels.

Between two Gaussians (the KL note of jojonki 2018, eq. 4, is the diagonal case):

.. math::
    D_{KL}(\\mathcal N_0\\|\\mathcal N_1) = \\tfrac12\\big[
    \\operatorname{tr}(\\Sigma_1^{-1}\\Sigma_0) + (\\mu_1-\\mu_0)^T\\Sigma_1^{-1}(\\mu_1-\\mu_0) - d
    + \\log\\det\\Sigma_1 - \\log\\det\\Sigma_0\\big],

computed through Cholesky factors,
:math:`\\operatorname{tr}(\\Sigma_1^{-1}\\Sigma_0) = \\|L_1^{-1}L_0\\|_F^2`; for a matrix over
component pairs each component is factored once and the pairs only multiply.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gmmjax._src.core.low_rank import is_low_rank_cov
from gmmjax._src.core.mixture import GMM, Gaussian
from gmmjax._src.kernels.low_rank import low_rank_entropy, low_rank_kl, low_rank_kl_matrix
from gmmjax._src.math.linalg import cholesky_and_inverse
from gmmjax._src.math.numerics import LOG_2PI

__all__ = ["component_kl_matrix", "entropy", "gaussian_kl"]


def _factor(cov: jax.Array, diagonal: bool) -> tuple[jax.Array, jax.Array]:
    """Cholesky factor and its inverse (full), or standard deviations and their inverses."""
    if diagonal:
        sd = jnp.sqrt(cov)
        return sd, 1.0 / sd
    return cholesky_and_inverse(cov)


def _log_diagonal(factor: jax.Array, diagonal: bool) -> jax.Array:
    """Logarithms of the diagonal of a Cholesky factor (or of the standard deviations)."""
    return jnp.log(factor if diagonal else jnp.diagonal(factor, axis1=-2, axis2=-1))


def _logdet(factor: jax.Array, diagonal: bool) -> jax.Array:
    return 2.0 * jnp.sum(_log_diagonal(factor, diagonal), axis=-1)


def _kl_from_factors(
    m0: jax.Array,
    f0: jax.Array,
    m1: jax.Array,
    f1: tuple[jax.Array, jax.Array],
    diag0: bool,
    diag1: bool,
) -> jax.Array:
    r"""KL between two single Gaussians given ``F_0`` and ``(F_1, F_1^{-1})`` (``Sigma = FF^T``).

    With the lower-triangular :math:`A = F_1^{-1} F_0` (diagonal
    :math:`a_i = (F_0)_{ii} / (F_1)_{ii}`) and :math:`z = F_1^{-1}(\mu_1 - \mu_0)`, the closed
    form (jojonki 2018, eq. 4) is written as a sum of non-negative terms,

    .. math::
        D_{KL} = \tfrac12\Big(\sum_i \big(a_i^2 - 1 - \log a_i^2\big)
            + \sum_{i>j} A_{ij}^2 + \|z\|^2\Big),

    since :math:`\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) = \|A\|_F^2` and
    :math:`\log\det\Sigma_1 - \log\det\Sigma_0 = -\sum_i\log a_i^2`. Each term is computed
    without cancellation (:func:`_excess`, with :math:`\log a_i^2` taken as a difference of the
    factors' log-diagonals, never as ``log`` of a rounded ratio), so the value is never
    negative, is accurate near :math:`D_{KL} = 0`, where the textbook form loses everything to
    round-off, and at any ratio of scales the dtype can hold (``a_i^2`` may underflow to 0).
    """
    f1, f1_inv = f1
    diff = m1 - m0
    log_a2 = 2.0 * (_log_diagonal(f0, diag0) - _log_diagonal(f1, diag1))
    if diag0 and diag1:
        a = f0 / f1
        return 0.5 * jnp.sum(_excess(a**2, log_a2) + (diff / f1) ** 2)
    l0 = jnp.diag(f0) if diag0 else f0
    if diag1:
        a = l0 / f1[:, None]
        z = diff / f1
    else:
        a = f1_inv @ l0
        z = f1_inv @ diff
    below = jnp.tril(a, -1)
    diagonal = jnp.diagonal(a)
    return 0.5 * (jnp.sum(_excess(diagonal**2, log_a2)) + jnp.sum(below**2) + jnp.sum(z**2))


def _excess(x: jax.Array, log_x: jax.Array) -> jax.Array:
    r""":math:`x - 1 - \log x \ge 0` for :math:`x > 0`, given ``x`` and ``log_x``.

    .. math::
        x - 1 - \log x = \begin{cases} u - \operatorname{log1p}(u),\ u = x - 1
            & \tfrac12 < x < 2 \\ x - 1 - \log x & \text{otherwise} \end{cases}

    Near 1, ``x - 1`` is exact (Sterbenz) and ``log1p`` is correctly rounded and below ``u``,
    so the difference is never negative. Away from 1 the value is at least
    :math:`\log 2 - \tfrac12` and the direct form loses at most a few ulps; it keeps
    :math:`\log x` where ``x - 1`` rounds to ``-1`` (``x`` below ``eps / 2``: the first form
    would give ``log1p(-1) = -inf`` or lose :math:`\log x` entirely). Both branches are
    evaluated at safe arguments, so the gradient is finite on either side.
    """
    near = (x > 0.5) & (x < 2.0)
    u = jnp.where(near, x - 1.0, 0.0)
    far = jnp.where(near, 1.0, x) - 1.0 - jnp.where(near, 0.0, log_x)
    return jnp.where(near, u - jnp.log1p(u), far)


def gaussian_kl(g0: Gaussian, g1: Gaussian) -> jax.Array:
    """:math:`D_{KL}(g_0\\|g_1)` between two single Gaussians (closed form above)."""
    if g0.is_low_rank or g1.is_low_rank:
        return _low_rank_dispatch(g0, g1, low_rank_kl, gaussian_kl)
    f0, _ = _factor(g0.cov, g0.is_diagonal)
    f1 = _factor(g1.cov, g1.is_diagonal)
    return _kl_from_factors(g0.mean, f0, g1.mean, f1, g0.is_diagonal, g1.is_diagonal)


def _low_rank_dispatch(a: Any, b: Any, kernel: Any, dense: Any) -> jax.Array:
    """Both low rank: the Woodbury ``kernel``; one of them: the ``dense`` one on full matrices."""
    if a.is_low_rank and b.is_low_rank:
        return kernel(*a._location_and_scale()[:2], *b._location_and_scale()[:2])
    return dense(*(g.to_dense() if g.is_low_rank else g for g in (a, b)))


def entropy(covs: jax.Array, diagonal: bool) -> jax.Array:
    """Differential entropies :math:`\\tfrac12(\\log\\det\\Sigma + d(1 + \\log 2\\pi))`."""
    if is_low_rank_cov(covs):
        return low_rank_entropy(covs)
    d = covs.shape[-1]
    factor, _ = _factor(covs, diagonal)
    logdet = _logdet(factor, diagonal)
    return 0.5 * (logdet + d * (1.0 + LOG_2PI))


def component_kl_matrix(p: GMM, q: GMM) -> jax.Array:
    """``(K_p, K_q)`` matrix of :math:`D_{KL}(p_i\\|q_j)` for single mixtures.

    Each component is factored once; the pairs only do triangular solves.
    """
    if p.is_low_rank or q.is_low_rank:
        return _low_rank_dispatch(p, q, low_rank_kl_matrix, component_kl_matrix)
    fp, _ = _factor(p.covs, p.is_diagonal)
    fq = _factor(q.covs, q.is_diagonal)

    def row(m0: jax.Array, f0: jax.Array) -> jax.Array:
        def one(m1: jax.Array, f1: tuple[jax.Array, jax.Array]) -> jax.Array:
            return _kl_from_factors(m0, f0, m1, f1, p.is_diagonal, q.is_diagonal)

        return jax.vmap(one)(q.means, fq)

    return jax.vmap(row)(p.means, fp)
