"""Gaussian densities and reparameterised draws on bare component arrays.

The arithmetic behind :meth:`GMM.log_prob <gmmjax.GMM.log_prob>`, :meth:`GMM.sample
<gmmjax.GMM.sample>` and :meth:`GMM.component_sample <gmmjax.GMM.component_sample>`: means
``(K, d)`` and covariances ``(K, d, d)`` (full), ``(K, d)`` (diagonal variances) or a
:class:`~gmmjax._src.core.low_rank.LowRankCovariance` (:math:`F_kF_k^T + s_kI`: Woodbury
identity and determinant lemma, :mod:`gmmjax._src.math.woodbury`; no ``d x d`` matrix).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gmmjax._src.core.low_rank import LowRankCovariance, is_low_rank_cov
from gmmjax._src.math.ldl import UNROLL_MAX_DIM, unrolled_sum
from gmmjax._src.math.linalg import cholesky_and_inverse
from gmmjax._src.math.numerics import LOG_2PI
from gmmjax._src.math.woodbury import capacitance, woodbury_mahalanobis

__all__ = [
    "component_log_densities",
    "log_posteriors",
    "low_rank_noise",
    "noise_factor",
    "scale_noise",
]


def _diagonal_mahalanobis(x: jax.Array, means: jax.Array, variances: jax.Array) -> jax.Array:
    """``(N, K)`` squared Mahalanobis distances to diagonal Gaussians (unrolled for small d)."""
    d = x.shape[-1]
    if d > UNROLL_MAX_DIM:
        diff = x[:, None, :] - means[None, :, :]
        return jnp.sum(diff**2 / variances, axis=-1)
    return unrolled_sum(
        lambda a: (x[:, a, None] - means[None, :, a]) ** 2 / variances[None, :, a], d
    )


def component_log_densities(x: jax.Array, means: jax.Array, covs: jax.Array) -> jax.Array:
    """``(N, K)`` log densities :math:`\\log\\mathcal N(x_n\\mid\\mu_k,\\Sigma_k)` for ``x``."""
    d = means.shape[-1]
    if is_low_rank_cov(covs):
        return _low_rank_log_densities(x, means, covs)
    if covs.ndim == means.ndim:
        maha = _diagonal_mahalanobis(x, means, covs)
        logdet = jnp.sum(jnp.log(covs), axis=-1)
    else:
        chol, inv = cholesky_and_inverse(covs)  # (K, d, d) each
        z = jnp.einsum("kij,nkj->nki", inv, x[:, None, :] - means[None, :, :])
        maha = jnp.sum(z**2, axis=-1)
        logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return -0.5 * (maha + logdet + d * LOG_2PI)


def _low_rank_log_densities(x: jax.Array, means: jax.Array, covs: LowRankCovariance):
    """``(N, K)`` log densities for :math:`\\Sigma_k = F_kF_k^T + s_kI` in :math:`O(NKdr)`."""
    d = means.shape[-1]
    f, s = covs.factors, covs.noise
    logdet_c, inverse = capacitance(jnp.einsum("kda,kdb->kab", f, f), s)
    diff = x[:, None, :] - means[None, :, :]  # (N, K, d)
    projection = jnp.einsum("kda,nkd->nka", f, diff)
    maha = woodbury_mahalanobis(jnp.sum(diff**2, axis=-1), projection, s, inverse)
    return -0.5 * (maha + d * jnp.log(s) + logdet_c + d * LOG_2PI)


def low_rank_noise(factors: jax.Array, noise: jax.Array, eps: jax.Array) -> jax.Array:
    """``F eps_r + sqrt(s) eps_d``: draws of :math:`\\mathcal N(0, FF^T + sI)`.

    Args:
        factors: ``(..., d, r)`` factors (broadcasting against ``eps``).
        noise: ``(...)`` isotropic variances.
        eps: ``(..., d + r)`` standard normal draws: the first ``r`` for the factor, the
            last ``d`` for the isotropic part.
    """
    r = factors.shape[-1]
    low = jnp.einsum("...da,...a->...d", factors, eps[..., :r])
    return low + jnp.sqrt(noise)[..., None] * eps[..., r:]


def log_posteriors(log_densities: jax.Array, weights: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Log component posteriors and log mixture densities from ``(..., K)`` log densities.

    .. math::
        \\log r_{nk} = \\log w_k + \\log\\mathcal N(x_n\\mid\\mu_k,\\Sigma_k) - \\log p(x_n),
        \\qquad \\log p(x_n) = \\operatorname{logsumexp}_j\\,(\\log w_j + \\log\\mathcal N_{nj})

    (Bishop 2006, Eq. 9.23). Computed in log space, so a point far from every component still
    gets finite posteriors that sum to 1; a zero-weight component gets :math:`-\\infty` (a
    posterior of exactly 0).

    Returns:
        ``(log_r, log_p)``: ``(..., K)`` and ``(...)``.
    """
    positive = weights > 0
    log_w = jnp.where(positive, jnp.log(jnp.where(positive, weights, 1.0)), -jnp.inf)
    joint = log_densities + log_w
    log_p = jax.nn.logsumexp(joint, axis=-1, keepdims=True)
    return joint - log_p, log_p[..., 0]


def noise_factor(covs: jax.Array, diagonal: bool) -> jax.Array:
    """``F`` with ``F F^T = Sigma``: standard deviations (diagonal) or Cholesky factors (full).

    Full covariances get a relative jitter of a few ulps (``10 * eps * max diag``), so that
    singular (PSD) covariances can be sampled; a positive-definite covariance changes only at
    round-off level.
    """
    if diagonal:
        return jnp.sqrt(covs)
    d = covs.shape[-1]
    eps = jnp.finfo(covs.dtype).eps
    scale = jnp.max(jnp.diagonal(covs, axis1=-2, axis2=-1), axis=-1)[..., None, None]
    return cholesky_and_inverse(covs + 10.0 * eps * scale * jnp.eye(d, dtype=covs.dtype))[0]


def scale_noise(factor: jax.Array, eps: jax.Array, diagonal: bool) -> jax.Array:
    """``F eps`` for standard normal draws ``eps`` (``(..., d)``), broadcasting the factors."""
    if diagonal:
        return factor * eps
    return jnp.einsum("...ij,...j->...i", factor, eps)
