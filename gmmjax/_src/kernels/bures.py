"""Wasserstein-2 geometry of Gaussians (Chen, Georgiou & Tannenbaum 2019, §II.A): the kernels.

Every quantity is computed from one symmetric square root per covariance,
:math:`F = \\Sigma^{1/2}`, and one small SVD per pair. The Bures trace term is a nuclear norm,

.. math::
    \\operatorname{tr}\\big((\\Sigma_0^{1/2}\\Sigma_1\\Sigma_0^{1/2})^{1/2}\\big)
    = \\|F_0 F_1\\|_*,

because :math:`(F_0F_1)(F_0F_1)^T = F_0\\Sigma_1F_0`. No iteration is stopped early: the result is
exact to round-off, also for ill-conditioned and singular covariances. Singular covariances
need no special case: with PSD square roots the formula above is the :math:`W_2` distance
between degenerate Gaussians too (Gelbrich's bound is attained). Chen et al.'s eq. 8 writes the
singular case as :math:`\\operatorname{tr}(\\Sigma_0^{1/2}((\\Sigma_0^{1/2})^\\dagger\\Sigma_1
(\\Sigma_0^{1/2})^\\dagger)^{1/2}\\Sigma_0^{1/2})`; as printed that expression differs from the
nonsingular formula when :math:`\\Sigma_0` and :math:`\\Sigma_1` do not commute, so the standard
form is used. The two agree for commuting covariances and in eq. 8's special case
:math:`\\Sigma_0=\\Sigma_1=0`, where :math:`W_2 = \\|m_0-m_1\\|`.

The optimal coupling of :math:`\\mathcal N(0,\\Sigma_0)` and :math:`\\mathcal N(0,\\Sigma_1)` is
:math:`(F_0 z, F_1 W^T z)` with :math:`W` the orthogonal polar factor of :math:`F_0F_1`;
McCann's interpolant and the transport map follow from it.

Derivatives never go through an eigen- or singular-vector derivative (those divide by gaps
between eigenvalues and are NaN at :math:`\\Sigma = cI`): the square root, the nuclear norm and
the polar factor carry their own JVPs, which divide by sums :math:`\\sqrt{\\lambda_i}+
\\sqrt{\\lambda_j}` or :math:`s_i+s_j` instead and stay finite at repeated eigenvalues, at
:math:`\\Sigma_0=\\Sigma_1` and for near-singular covariances. Nothing uses ``schur``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gmmjax._src.core.mixture import GMM
from gmmjax._src.math.linalg import pinv
from gmmjax._src.math.matfuncs import nuclear_norm, polar_factor, sqrtm_psd
from gmmjax._src.math.numerics import matrix_transpose, safe_sqrt, symmetrize

__all__ = ["bures_cost", "covariance_root", "interpolate", "transport_map"]


def covariance_root(cov: jax.Array, diagonal: bool) -> jax.Array:
    """Symmetric square root of a full covariance (diagonal: embedded standard deviations)."""
    if diagonal:
        return safe_sqrt(cov)[..., :, None] * jnp.eye(cov.shape[-1], dtype=cov.dtype)
    return sqrtm_psd(cov)


def _trace(cov: jax.Array, diagonal: bool) -> jax.Array:
    return jnp.sum(cov, axis=-1) if diagonal else jnp.trace(cov, axis1=-2, axis2=-1)


def bures_cost(p: GMM, q: GMM) -> jax.Array:
    """``(K_p, K_q)`` matrix of :math:`W_2^2` between the components of two single mixtures.

    .. math::
        C_{ij} = \\|m_i - m_j\\|^2 + \\operatorname{tr}\\Sigma_i + \\operatorname{tr}\\Sigma_j
        - 2\\,\\|\\Sigma_i^{1/2}\\Sigma_j^{1/2}\\|_*

    One square root per component, one nuclear norm per pair; diagonal pairs
    :math:`\\sum_l(\\sigma_{il}-\\sigma_{jl})^2` with no matrices. Clamped at 0.
    """
    diff = p.means[:, None, :] - q.means[None, :, :]
    mean_part = jnp.sum(diff**2, axis=-1)
    if p.is_diagonal and q.is_diagonal:
        sp, sq = safe_sqrt(p.covs), safe_sqrt(q.covs)
        return mean_part + jnp.sum((sp[:, None, :] - sq[None, :, :]) ** 2, axis=-1)
    fp = covariance_root(p.covs, p.is_diagonal)  # (Kp, d, d)
    fq = covariance_root(q.covs, q.is_diagonal)  # (Kq, d, d)
    cross = nuclear_norm(fp[:, None] @ fq[None, :])
    tp, tq = _trace(p.covs, p.is_diagonal), _trace(q.covs, q.is_diagonal)
    return jnp.maximum(mean_part + tp[:, None] + tq[None, :] - 2.0 * cross, 0.0)


def _coupling_factors(c0, diag0: bool, c1, diag1: bool) -> tuple[jax.Array, jax.Array]:
    """``(F_0, F_1 W^T)``: factors whose rows are the optimally coupled noise directions."""
    f0, f1 = jnp.broadcast_arrays(covariance_root(c0, diag0), covariance_root(c1, diag1))
    w = polar_factor(f0 @ f1)
    return f0, f1 @ matrix_transpose(w)


def interpolate(m0, c0, diag0: bool, m1, c1, diag1: bool, t) -> tuple[jax.Array, jax.Array]:
    """McCann's interpolant ``(m_t, Sigma_t)`` between Gaussians (eq. 7), any batch axes.

    :math:`\\Sigma_t = G_tG_t^T`, :math:`G_t = (1-t)\\Sigma_0^{1/2} + t\\,\\Sigma_1^{1/2}W^T`
    with :math:`W` the polar factor of :math:`\\Sigma_0^{1/2}\\Sigma_1^{1/2}`; two diagonal
    Gaussians interpolate their standard deviations and stay diagonal. The inputs broadcast
    (a geodesic passes ``(K_p, 1)`` against ``(1, K_q)`` components).
    """
    mean = (1.0 - t) * m0 + t * m1
    if diag0 and diag1:
        return mean, ((1.0 - t) * safe_sqrt(c0) + t * safe_sqrt(c1)) ** 2
    f0, f1w = _coupling_factors(c0, diag0, c1, diag1)
    g = (1.0 - t) * f0 + t * f1w
    return mean, symmetrize(g @ matrix_transpose(g))


def transport_map(m0, c0, diag0: bool, m1, c1, diag1: bool) -> tuple[jax.Array, jax.Array]:
    """Brenier map ``(A, b)`` of :math:`T(x) = Ax + b` from one Gaussian to another.

    :math:`A = F_0^+ (F_0\\Sigma_1F_0)^{1/2} F_0^+` with :math:`F_0 = \\Sigma_0^{1/2}` (a
    pseudo-inverse on a singular support); diagonal pairs give ``A`` as a diagonal ``(d,)``.
    """
    if diag0 and diag1:
        s0, s1 = safe_sqrt(c0), safe_sqrt(c1)
        ok = s0 > 0
        a = jnp.where(ok, s1 / jnp.where(ok, s0, 1.0), 0.0)
        return a, m1 - a * m0
    f0, f1w = _coupling_factors(c0, diag0, c1, diag1)
    f0_pinv = pinv(f0)
    a = symmetrize(f0_pinv @ (f0 @ f1w) @ f0_pinv)
    return a, m1 - a @ m0
