"""The log Gram matrix of Gaussian product integrals (You 2021), the one overlap kernel.

.. math::
    \\log C_{ij} = \\log\\int\\mathcal N(x\\mid\\mu_i,\\Sigma_i)\\,
    \\mathcal N(x\\mid\\eta_j,\\Lambda_j)\\,dx = \\log\\mathcal N(\\mu_i\\mid\\eta_j,S_{ij})
    = -\\tfrac12\\big[r_{ij}^T S_{ij}^{-1} r_{ij} + \\log\\det S_{ij} + d\\log 2\\pi\\big],

with :math:`S_{ij} = \\Sigma_i + \\Lambda_j` and :math:`r_{ij} = \\mu_i - \\eta_j` (You 2021,
"Fact (*)"; Matrix Cookbook §8.1.8). Every path of the library (single pairs, ``paired`` and
``pairwise`` collections, the KL bounds, the learner's L2 loss) evaluates it here.

The sum :math:`S_{ij}` does not factor through the components, so each *pair* needs a
factorisation: diagonal covariances elementwise (:math:`O(d)`, no matrices), full ones by the
:math:`LDL^T` unrolled across pairs for ``d <= UNROLL_MAX_DIM``
(:mod:`gmmjax._src.math.ldl`), and by a Cholesky factor above; low-rank-plus-isotropic ones
by the Woodbury identity (:mod:`gmmjax._src.kernels.low_rank`; against a full or diagonal
side they are formed as dense matrices).

Reference scale. The entries are computed for the space rescaled by :math:`2^{-k}`, with
:math:`4^k` near the geometric-mean variance: dividing covariances by :math:`4^k` and mean
differences by :math:`2^k` is exact in floating point, keeps the log-determinants of order
one, and moves every entry by the same constant :math:`-\\tfrac d2\\,2k\\log 2`, which
cancels in the Cauchy–Schwarz divergence (accurate in float32 at ``d = 128``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.core.mixture import GMM, component_variances
from gmmjax._src.kernels.low_rank import low_rank_scaled_log_overlap
from gmmjax._src.math.ldl import UNROLL_MAX_DIM, log_normal_of_sum
from gmmjax._src.math.linalg import logdet_and_mahalanobis
from gmmjax._src.math.numerics import LOG_2PI, weighted_logsumexp

__all__ = [
    "log_gram",
    "log_inner_products",
    "log_overlap_offset",
    "paired_log_inner_products",
    "reference_exponent",
    "scaled_log_overlap",
]


def reference_exponent(p: GMM, q: GMM) -> jax.Array:
    """Integer ``k`` with ``4**k`` near the geometric-mean variance of ``p`` and ``q``.

    Averaged over every component (and every mixture of a collection). Held constant for
    differentiation: the entries it shifts all move by the same constant.
    """
    tiny = jnp.finfo(p.dtype).tiny

    def mean_log2(g: GMM) -> jax.Array:
        return jnp.mean(jnp.log2(jnp.maximum(component_variances(g), tiny)))

    k = jnp.round(0.25 * (mean_log2(p) + mean_log2(q)))
    k = jnp.where(jnp.isfinite(k), k, 0.0)
    return jax.lax.stop_gradient(k).astype(jnp.int32)


def log_overlap_offset(d: int, k: jax.Array, dtype: jnp.dtype) -> jax.Array:
    """The constant ``-d/2 (log 2 pi + 2 k log 2)`` left out by :func:`scaled_log_overlap`."""
    return (-0.5 * d * (LOG_2PI + 2.0 * np.log(2.0) * k)).astype(dtype)


def _embed(covs: jax.Array, diagonal: bool) -> jax.Array:
    return covs[..., :, None] * jnp.eye(covs.shape[-1], dtype=covs.dtype) if diagonal else covs


def _rescaled(g: GMM, k: jax.Array, full: bool) -> tuple[jax.Array, jax.Array]:
    """Means over ``2**k`` and covariances over ``4**k``: exact in floating point.

    Covariances come back as variances ``(..., N, d)`` unless ``full`` (then ``(..., N, d, d)``,
    diagonal ones embedded).
    """
    one = jnp.ones((), g.dtype)
    if g.is_low_rank:  # F / 2**k and s / 4**k
        return g.means * jnp.ldexp(one, -k), g.covs.scaled(
            jnp.ldexp(one, -k), jnp.ldexp(one, -2 * k)
        )
    means, covs = g.means * jnp.ldexp(one, -k), g.covs * jnp.ldexp(one, -2 * k)
    diagonal = g.is_diagonal or g.dim == 1
    if g.dim == 1:
        covs = covs.reshape(means.shape)
    if not full:
        return means, covs if diagonal else jnp.diagonal(covs, axis1=-2, axis2=-1)
    return means, _embed(covs, diagonal)


def scaled_log_overlap(p: GMM, q: GMM, k: jax.Array, unroll_max_dim: int = UNROLL_MAX_DIM):
    """``(N_p, N_q)`` entries :math:`\\log C_{ij}` less :func:`log_overlap_offset`.

    Args:
        p: a GMM with ``(N_p, d)`` means (its weights are not used).
        q: a GMM with ``(N_q, d)`` means.
        k: the reference exponent (:func:`reference_exponent`).
        unroll_max_dim: largest ``d`` for which full covariances use the unrolled
            :math:`LDL^T`; above it a Cholesky factor per pair.

    Returns:
        ``-(r^T S^{-1} r + log det S) / 2`` in the rescaled space.
    """
    if p.is_low_rank and q.is_low_rank:  # Woodbury, no d x d matrix
        return low_rank_scaled_log_overlap(*_rescaled(p, k, False), *_rescaled(q, k, False))
    if p.is_low_rank or q.is_low_rank:  # against a full or diagonal side: dense
        p, q = (g.to_dense() if g.is_low_rank else g for g in (p, q))
    full = not ((p.is_diagonal or p.dim == 1) and (q.is_diagonal or q.dim == 1))
    (pm, pc), (qm, qc) = _rescaled(p, k, full), _rescaled(q, k, full)
    if not full:
        diff = pm[:, None, :] - qm[None, :, :]
        s = pc[:, None, :] + qc[None, :, :]
        return -0.5 * (jnp.sum(diff**2 / s, axis=-1) + jnp.sum(jnp.log(s), axis=-1))
    if p.dim <= unroll_max_dim:
        # Entry-major layouts: every entry is an (N_p, N_q) array XLA vectorises, and the
        # gradient comes from the closed-form rule of log_normal_of_sum.
        pm, qm = pm.T, qm.T  # (d, N)
        pc, qc = jnp.moveaxis(pc, 0, -1), jnp.moveaxis(qc, 0, -1)  # (d, d, N)
        return log_normal_of_sum(pm[:, :, None], pc[:, :, :, None], qm[:, None], qc[:, :, None])
    logdet, maha = logdet_and_mahalanobis(pc[:, None] + qc[None, :], pm[:, None] - qm[None, :])
    return -0.5 * (maha + logdet)


def log_inner_products(
    ps: GMM, qs: GMM, k: jax.Array, unroll_max_dim: int = UNROLL_MAX_DIM
) -> jax.Array:
    """``(T_p, T_q)`` mixture inner products :math:`\\log\\langle p_a, q_b\\rangle` (You 2021).

    .. math:: \\log\\langle p, q\\rangle = \\log\\sum_{ij}\\alpha_i\\beta_j C_{ij}

    For two collections with one batch axis each (``T`` mixtures of ``K`` components), from
    one :func:`scaled_log_overlap` over all component pairs, less
    :func:`log_overlap_offset`. The log-sum-exp is
    :func:`~gmmjax._src.math.numerics.weighted_logsumexp`, so zero weights (padding) add
    nothing and still have the right gradient.
    """
    tp, kp = ps.weights.shape
    tq, kq = qs.weights.shape

    def flat(g: GMM) -> GMM:
        return jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), g)

    logc = scaled_log_overlap(flat(ps), flat(qs), k, unroll_max_dim).reshape(tp, kp, tq, kq)
    w = ps.weights[:, :, None, None] * qs.weights[None, None, :, :]
    return weighted_logsumexp(logc, w, axis=(1, 3))


def paired_log_inner_products(
    ps: GMM, qs: GMM, k: jax.Array, unroll_max_dim: int = UNROLL_MAX_DIM
) -> jax.Array:
    """``(B,)`` mixture inner products :math:`\\log\\langle p_b, q_b\\rangle` of matching pairs.

    For two collections with one batch axis of equal length: :func:`scaled_log_overlap` of
    ``p_b`` and ``q_b`` for every ``b`` (``vmap``), less :func:`log_overlap_offset`. (Laying
    the batch axis out last instead, as the minor axis of every entry, measured 3.5x slower
    on CPU.)
    """
    logc = jax.vmap(scaled_log_overlap, in_axes=(0, 0, None, None))(ps, qs, k, unroll_max_dim)
    w = ps.weights[:, :, None] * qs.weights[:, None, :]
    return weighted_logsumexp(logc, w, axis=(1, 2))


def log_gram(p: GMM, q: GMM) -> jax.Array:
    """``(K_p, K_q)`` log Gram matrix :math:`\\log C_{ij}` of two single mixtures (all terms)."""
    k = reference_exponent(p, q)
    return scaled_log_overlap(p, q, k) + log_overlap_offset(p.dim, k, p.dtype)
