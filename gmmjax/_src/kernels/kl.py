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

import jax
import jax.numpy as jnp

from gmmjax._src.core.mixture import GMM, Gaussian
from gmmjax._src.math.linalg import cholesky_and_inverse
from gmmjax._src.math.numerics import LOG_2PI

__all__ = ["component_kl_matrix", "entropy", "gaussian_kl"]


def _factor(cov: jax.Array, diagonal: bool) -> tuple[jax.Array, jax.Array]:
    """Cholesky factor and its inverse (full), or standard deviations and their inverses."""
    if diagonal:
        sd = jnp.sqrt(cov)
        return sd, 1.0 / sd
    return cholesky_and_inverse(cov)


def _logdet(factor: jax.Array, diagonal: bool) -> jax.Array:
    diag = factor if diagonal else jnp.diagonal(factor, axis1=-2, axis2=-1)
    return 2.0 * jnp.sum(jnp.log(diag), axis=-1)


def _kl_from_factors(
    m0: jax.Array,
    f0: jax.Array,
    m1: jax.Array,
    f1: tuple[jax.Array, jax.Array],
    diag0: bool,
    diag1: bool,
) -> jax.Array:
    """KL between two single Gaussians given ``F_0`` and ``(F_1, F_1^{-1})`` (``Sigma = FF^T``)."""
    f1, f1_inv = f1
    d = m0.shape[-1]
    diff = m1 - m0
    if diag0 and diag1:
        ratio = (f0 / f1) ** 2
        return 0.5 * jnp.sum(ratio + (diff / f1) ** 2 - 1.0 - jnp.log(ratio))
    l0 = jnp.diag(f0) if diag0 else f0
    if diag1:
        trace = jnp.sum((l0 / f1[:, None]) ** 2)
        maha = jnp.sum((diff / f1) ** 2)
    else:
        trace = jnp.sum((f1_inv @ l0) ** 2)
        maha = jnp.sum((f1_inv @ diff) ** 2)
    return 0.5 * (trace + maha - d + _logdet(f1, diag1) - _logdet(f0, diag0))


def gaussian_kl(g0: Gaussian, g1: Gaussian) -> jax.Array:
    """:math:`D_{KL}(g_0\\|g_1)` between two single Gaussians (closed form above)."""
    f0, _ = _factor(g0.cov, g0.is_diagonal)
    f1 = _factor(g1.cov, g1.is_diagonal)
    return _kl_from_factors(g0.mean, f0, g1.mean, f1, g0.is_diagonal, g1.is_diagonal)


def entropy(covs: jax.Array, diagonal: bool) -> jax.Array:
    """Differential entropies :math:`\\tfrac12(\\log\\det\\Sigma + d(1 + \\log 2\\pi))`."""
    d = covs.shape[-1]
    factor, _ = _factor(covs, diagonal)
    logdet = _logdet(factor, diagonal)
    return 0.5 * (logdet + d * (1.0 + LOG_2PI))


def component_kl_matrix(p: GMM, q: GMM) -> jax.Array:
    """``(K_p, K_q)`` matrix of :math:`D_{KL}(p_i\\|q_j)` for single mixtures.

    Each component is factored once; the pairs only do triangular solves.
    """
    fp, _ = _factor(p.covs, p.is_diagonal)
    fq = _factor(q.covs, q.is_diagonal)

    def row(m0: jax.Array, f0: jax.Array) -> jax.Array:
        def one(m1: jax.Array, f1: tuple[jax.Array, jax.Array]) -> jax.Array:
            return _kl_from_factors(m0, f0, m1, f1, p.is_diagonal, q.is_diagonal)

        return jax.vmap(one)(q.means, fq)

    return jax.vmap(row)(p.means, fp)
