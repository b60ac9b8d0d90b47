"""Gaussian product integrals for many component pairs at once, vectorised across the pairs.

The Gram entry of seed 000 (Fact (*), Matrix Cookbook §8.1.8),

.. math::
    \\log C_{ij} = \\log\\mathcal N(\\mu_i\\mid\\eta_j,\\Sigma_i+\\Lambda_j)
    = -\\tfrac12\\big[(\\mu_i-\\eta_j)^T S_{ij}^{-1}(\\mu_i-\\eta_j) + \\log\\det S_{ij}
    + d\\log 2\\pi\\big],\\qquad S_{ij} = \\Sigma_i + \\Lambda_j,

needs one factorisation of :math:`S_{ij}` per *pair*: the sum does not factor through the
components. For the small dimensions that dominate practice (``d <= 8``) a batched LAPACK call
per 8x8 matrix is slow (call overhead, no vectorisation across matrices), so here the
factorisation is written out entry by entry: an :math:`LDL^T` decomposition without square
roots, unrolled over the static dimension, where every scalar of the textbook algorithm is an
array holding that scalar for *all* pairs. XLA turns the whole thing into a few fused
elementwise loops over the pair axis, vectorised across pairs. ``d = 1`` and ``d = 2`` are the
closed forms (:math:`S = s`; :math:`\\det S = s_{11}s_{22}-s_{12}^2`) that the unrolled code
reduces to. Diagonal covariances never build matrices: :math:`O(d)` per pair.

For larger ``d`` the unrolled program grows as :math:`d^3` and compiles slowly; there the
kernel falls back to one batched Cholesky factorisation of the pair matrices.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._linalg import logdet_and_mahalanobis

__all__ = ["UNROLL_MAX_DIM", "bures_cost_2d", "cross_log_overlap", "ldl_logdet_maha"]

_LOG_2PI = float(np.log(2.0 * np.pi))

#: Largest dimension for which the factorisation is unrolled across pairs.
UNROLL_MAX_DIM = 8


def ldl_logdet_maha(s_entry, diff_entry, d: int) -> tuple[jax.Array, jax.Array]:
    """``(log det S, r^T S^{-1} r)`` for many SPD matrices ``S``, from an unrolled LDL^T.

    .. math::
        S = L D L^T,\\quad \\log\\det S = \\sum_k \\log D_k,\\quad
        r^T S^{-1} r = \\sum_k y_k^2 / D_k,\\quad L y = r.

    Args:
        s_entry: ``s_entry(a, b)`` returns the array of entries ``S[a, b]`` (``a >= b``) for
            all matrices; arrays from different calls must broadcast together.
        diff_entry: ``diff_entry(a)`` returns the array of ``r[a]``.
        d: the (static) matrix size.

    Returns:
        Two arrays of the broadcast shape of the entries.
    """
    lower: dict[tuple[int, int], jax.Array] = {}
    pivots: list[jax.Array] = []
    inv_pivots: list[jax.Array] = []
    for j in range(d):
        acc = s_entry(j, j)
        for k in range(j):
            acc = acc - lower[j, k] * lower[j, k] * pivots[k]
        pivots.append(acc)
        inv_pivots.append(1.0 / acc)
        for i in range(j + 1, d):
            acc = s_entry(i, j)
            for k in range(j):
                acc = acc - lower[i, k] * lower[j, k] * pivots[k]
            lower[i, j] = acc * inv_pivots[j]
    ys: list[jax.Array] = []
    maha = None
    logdet = None
    for i in range(d):
        y = diff_entry(i)
        for k in range(i):
            y = y - lower[i, k] * ys[k]
        ys.append(y)
        term = y * y * inv_pivots[i]
        maha = term if maha is None else maha + term
        log_pivot = jnp.log(pivots[i])
        logdet = log_pivot if logdet is None else logdet + log_pivot
    return logdet, maha


def _as_full(covs: jax.Array, diagonal: bool) -> jax.Array:
    if not diagonal:
        return covs
    return covs[..., :, None] * jnp.eye(covs.shape[-1], dtype=covs.dtype)


def cross_log_overlap(
    p_means: jax.Array,
    p_covs: jax.Array,
    q_means: jax.Array,
    q_covs: jax.Array,
    *,
    unroll_max_dim: int = UNROLL_MAX_DIM,
) -> jax.Array:
    """``(N_p, N_q)`` matrix of :math:`\\log\\mathcal N(\\mu_i\\mid\\eta_j,\\Sigma_i+\\Lambda_j)`.

    The Gram matrix of seed 000 (Fact (*)) between two flat sets of Gaussian components, with
    the pair axes vectorised (see the module docstring). Equal, to round-off, to
    ``log_gaussian_overlap`` on mixtures holding these components.

    Args:
        p_means: ``(N_p, d)`` means.
        p_covs: ``(N_p, d, d)`` full covariances or ``(N_p, d)`` variances.
        q_means: ``(N_q, d)`` means.
        q_covs: ``(N_q, d, d)`` or ``(N_q, d)``.
        unroll_max_dim: largest ``d`` for which the factorisation is unrolled; above it one
            batched Cholesky factorisation per pair is used.

    Returns:
        ``(N_p, N_q)`` log integrals.
    """
    d = p_means.shape[-1]
    diag_p = p_covs.ndim == p_means.ndim
    diag_q = q_covs.ndim == q_means.ndim
    if d == 1:  # a 1x1 covariance is its own diagonal
        diag_p, diag_q = True, True
        p_covs = p_covs.reshape(p_means.shape)
        q_covs = q_covs.reshape(q_means.shape)
    diff = p_means[:, None, :] - q_means[None, :, :]  # (Np, Nq, d)
    if diag_p and diag_q:
        s = p_covs[:, None, :] + q_covs[None, :, :]
        maha = jnp.sum(diff**2 / s, axis=-1)
        logdet = jnp.sum(jnp.log(s), axis=-1)
    elif d <= unroll_max_dim:
        pc = _as_full(p_covs, diag_p)
        qc = _as_full(q_covs, diag_q)
        pm_t, qm_t = p_means.T, q_means.T  # (d, N)
        pc_t = jnp.moveaxis(pc, 0, -1)  # (d, d, Np)
        qc_t = jnp.moveaxis(qc, 0, -1)

        def s_entry(a: int, b: int) -> jax.Array:
            return pc_t[a, b][:, None] + qc_t[a, b][None, :]

        def diff_entry(a: int) -> jax.Array:
            return pm_t[a][:, None] - qm_t[a][None, :]

        logdet, maha = ldl_logdet_maha(s_entry, diff_entry, d)
    else:
        s = _as_full(p_covs, diag_p)[:, None] + _as_full(q_covs, diag_q)[None, :]
        logdet, maha = logdet_and_mahalanobis(s, diff)
    return -0.5 * (maha + logdet + d * _LOG_2PI)


def bures_cost_2d(
    p_means: jax.Array, p_covs: jax.Array, q_means: jax.Array, q_covs: jax.Array
) -> jax.Array:
    """``(N_p, N_q)`` matrix of :math:`W_2^2` between Gaussians in ``d <= 2``, in closed form.

    .. math::
        W_2^2 = \\|m_i-m_j\\|^2 + \\operatorname{tr}\\Sigma_i + \\operatorname{tr}\\Sigma_j
        - 2\\sqrt{\\operatorname{tr}(\\Sigma_i\\Sigma_j) + 2\\sqrt{\\det\\Sigma_i\\det\\Sigma_j}}

    (seed 001, §II.A). For a 2x2 matrix :math:`A = \\Sigma_i^{1/2}\\Sigma_j^{1/2}` the nuclear
    norm is :math:`\\|A\\|_* = \\sigma_1+\\sigma_2 = \\sqrt{\\|A\\|_F^2 + 2|\\det A|}` with
    :math:`\\|A\\|_F^2 = \\operatorname{tr}(\\Sigma_i\\Sigma_j)` and
    :math:`|\\det A| = \\sqrt{\\det\\Sigma_i\\det\\Sigma_j}`: no square roots of matrices, no SVD,
    a handful of elementwise operations per pair. ``d = 1`` is the special case
    :math:`(\\sigma_i - \\sigma_j)^2`. The square roots have zero derivative at 0, so singular
    covariances give finite gradients.

    Args:
        p_means: ``(N_p, d)``; p_covs: ``(N_p, d, d)`` or ``(N_p, d)`` variances.
        q_means: ``(N_q, d)``; q_covs: ``(N_q, d, d)`` or ``(N_q, d)``.

    Returns:
        ``(N_p, N_q)`` squared distances, clamped at 0.
    """
    from gmmjax._bures import safe_sqrt

    d = p_means.shape[-1]
    if d > 2:
        raise ValueError(f"bures_cost_2d needs d <= 2; got d = {d}")
    pc = _as_full(p_covs, p_covs.ndim == p_means.ndim)
    qc = _as_full(q_covs, q_covs.ndim == q_means.ndim)
    mean_part = jnp.sum((p_means[:, None, :] - q_means[None, :, :]) ** 2, axis=-1)
    trace_p = jnp.trace(pc, axis1=-2, axis2=-1)
    trace_q = jnp.trace(qc, axis1=-2, axis2=-1)
    cross = jnp.einsum("iab,jba->ij", pc, qc)  # tr(S_i S_j), both symmetric
    if d == 1:
        fidelity = safe_sqrt(cross)
    else:
        det_p = pc[:, 0, 0] * pc[:, 1, 1] - pc[:, 0, 1] * pc[:, 1, 0]
        det_q = qc[:, 0, 0] * qc[:, 1, 1] - qc[:, 0, 1] * qc[:, 1, 0]
        fidelity = safe_sqrt(cross + 2.0 * safe_sqrt(det_p[:, None] * det_q[None, :]))
    out = mean_part + trace_p[:, None] + trace_q[None, :] - 2.0 * fidelity
    return jnp.maximum(out, 0.0)
