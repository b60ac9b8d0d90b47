"""Gaussian product integrals and the distances built on them (seed 000).

Everything is computed in log space. The building block is the Gram entry

.. math::
    \\log \\int \\mathcal N(x\\mid\\mu_i,\\Sigma_i)\\,\\mathcal N(x\\mid\\eta_j,\\Lambda_j)\\,dx
    = \\log \\mathcal N(\\mu_i \\mid \\eta_j, \\Sigma_i + \\Lambda_j)

(seed 000, "Fact (*)", Matrix Cookbook §8.1.8), evaluated through a Cholesky factor of
:math:`\\Sigma_i+\\Lambda_j` (diagonal covariances: elementwise, no matrices). The mixture inner
products :math:`\\langle p, q\\rangle = \\sum_{ij} \\alpha_i\\beta_j C_{ij}` are log-sum-exps
of these entries with the weights as multipliers, so zero-weight (padding) components
contribute nothing and have finite gradients.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._checks import check_same_dim
from gmmjax._lift import map_pairs
from gmmjax._linalg import logdet_and_mahalanobis
from gmmjax._mixture import GMM
from gmmjax._numerics import weighted_logsumexp
from gmmjax._smalld import UNROLL_MAX_DIM, ldl_logdet_maha

__all__ = [
    "cauchy_schwarz_divergence",
    "gaussian_overlap",
    "inner_product",
    "l2_distance",
    "l2_distance_squared",
    "log_gaussian_overlap",
    "log_inner_product",
    "log_l2_distance_squared",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


def _reference_exponent(p: GMM, q: GMM) -> jax.Array:
    """Integer ``k`` with ``4**k`` near the geometric-mean variance of ``p`` and ``q``.

    Dividing covariances by ``4**k`` and mean differences by ``2**k`` is exact in floating
    point, and the overlaps it changes all move by the same constant, so ``k`` is held constant
    for differentiation.
    """
    tiny = jnp.finfo(p.dtype).tiny

    def log2_var(g: GMM) -> jax.Array:
        var = g.covs if g.is_diagonal else jnp.diagonal(g.covs, axis1=-2, axis2=-1)
        return jnp.log2(jnp.maximum(var, tiny))

    mean_log2 = 0.5 * (jnp.mean(log2_var(p)) + jnp.mean(log2_var(q)))
    k = jnp.round(0.5 * mean_log2)
    k = jnp.where(jnp.isfinite(k), k, 0.0)
    return jax.lax.stop_gradient(k).astype(jnp.int32)


def _reduced_log_overlap(p: GMM, q: GMM, k: jax.Array) -> jax.Array:
    """``log N(mu_i | eta_j, Sigma_i + Lambda_j)`` without its constant ``-d/2 log(2 pi 4^k)``.

    The terms are computed for the rescaled space ``x / 2**k``, where the log-determinants are
    of order one instead of ``d log(variance)``; this keeps the cancellations of the
    Cauchy–Schwarz divergence accurate in float32. Full covariances are factored per pair by an
    :math:`LDL^T` unrolled across the pairs for ``d <= 8`` (:mod:`gmmjax._smalld`: no LAPACK
    call, about 14 times the throughput), above that by a Cholesky factor and its inverse.
    """
    one = jnp.ones((), p.dtype)
    inv_sd, inv_var = jnp.ldexp(one, -k), jnp.ldexp(one, -2 * k)
    diff = (p.means[:, None, :] - q.means[None, :, :]) * inv_sd  # (Kp, Kq, d)
    if p.is_diagonal and q.is_diagonal:
        s = (p.covs[:, None, :] + q.covs[None, :, :]) * inv_var
        maha = jnp.sum(diff**2 / s, axis=-1)
        logdet = jnp.sum(jnp.log(s), axis=-1)
    elif p.dim <= UNROLL_MAX_DIM:
        pc, qc = p.full_covs(), q.full_covs()

        def s_entry(a: int, b: int) -> jax.Array:
            return (pc[:, None, a, b] + qc[None, :, a, b]) * inv_var

        logdet, maha = ldl_logdet_maha(s_entry, lambda a: diff[..., a], p.dim)
    else:
        s = (p.full_covs()[:, None] + q.full_covs()[None, :]) * inv_var  # (Kp, Kq, d, d)
        logdet, maha = logdet_and_mahalanobis(s, diff)
    return -0.5 * (maha + logdet)


def _log_offset(d: int, k: jax.Array, dtype: jnp.dtype) -> jax.Array:
    """The constant ``-d/2 (log 2 pi + 2 k log 2)`` left out by :func:`_reduced_log_overlap`."""
    return (-0.5 * d * (_LOG_2PI + 2.0 * np.log(2.0) * k)).astype(dtype)


def _log_overlap_single(p: GMM, q: GMM) -> jax.Array:
    """``(K_p, K_q)`` matrix of ``log N(mu_i | eta_j, Sigma_i + Lambda_j)`` for single GMMs."""
    k = _reference_exponent(p, q)
    return _reduced_log_overlap(p, q, k) + _log_offset(p.dim, k, p.dtype)


def _log_inner_single(p: GMM, q: GMM) -> jax.Array:
    logc = _log_overlap_single(p, q)
    return weighted_logsumexp(logc, p.weights[:, None] * q.weights[None, :])


def _check_pair(p: GMM, q: GMM) -> None:
    for name, g in (("p", p), ("q", q)):
        if not isinstance(g, GMM):
            raise TypeError(f"{name} must be a GMM; got {type(g).__name__}")
    check_same_dim(p, q)


def log_gaussian_overlap(p: GMM, q: GMM) -> jax.Array:
    """Log Gram matrix of Gaussian product integrals between the components of ``p`` and ``q``.

    .. math::
        \\log C_{ij} = \\log \\int p_i(x) q_j(x)\\,dx
        = \\log \\mathcal N(\\mu_i \\mid \\eta_j, \\Sigma_i + \\Lambda_j)

    (seed 000, Fact (*); ``C`` of the note, and ``A``/``B`` when ``q is p``). Computed via an
    :math:`LDL^T` (``d <= 8``) or Cholesky factor of :math:`\\Sigma_i+\\Lambda_j`, or
    elementwise when both mixtures are diagonal. Needs :math:`\\Sigma_i+\\Lambda_j` positive
    definite.

    Args:
        p: GMM with ``K_p`` components (batch axes broadcast against ``q``).
        q: GMM with ``K_q`` components, same dimension.

    Returns:
        ``batch + (K_p, K_q)`` array of log integrals.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [0.5])
        >>> float(jnp.exp(log_gaussian_overlap(p, p))[0, 0])  # N(0 | 0, 1)  # doctest: +ELLIPSIS
        0.398942...
    """
    _check_pair(p, q)
    return map_pairs(_log_overlap_single, p, q)


def gaussian_overlap(p: GMM, q: GMM) -> jax.Array:
    """Gram matrix of Gaussian product integrals (seed 000, Fact (*)).

    .. math:: C_{ij} = \\int p_i q_j = \\mathcal N(\\mu_i\\mid\\eta_j,\\Sigma_i+\\Lambda_j)

    The exponential of :func:`log_gaussian_overlap` (seed 000). In high dimension the entries
    leave the floating-point range (they scale like :math:`(2\\pi\\sigma^2)^{-d/2}`: at
    ``d = 128`` they underflow float32 for unit variances and overflow it for variances 1e-3);
    use :func:`log_gaussian_overlap` there.
    """
    return jnp.exp(log_gaussian_overlap(p, q))


def log_inner_product(p: GMM, q: GMM) -> jax.Array:
    """:math:`\\log\\langle p, q\\rangle = \\log \\sum_{ij} \\alpha_i \\beta_j C_{ij}` (seed 000).

    A log-sum-exp over :func:`log_gaussian_overlap` with the weights as multipliers: finite
    wherever the overlaps are representable as logs, also when they under- or overflow.
    """
    _check_pair(p, q)
    return map_pairs(_log_inner_single, p, q)


def inner_product(p: GMM, q: GMM) -> jax.Array:
    """Inner product of mixture densities (seed 000).

    .. math:: \\langle p, q\\rangle = \\int p(x) q(x)\\,dx = \\sum_{ij}\\alpha_i\\beta_j C_{ij}

    Like :func:`gaussian_overlap` it can underflow or overflow in high dimension (outside the
    floating-point range for float32 at ``d = 128``); :func:`log_inner_product` and
    :func:`cauchy_schwarz_divergence` stay finite there.
    """
    return jnp.exp(log_inner_product(p, q))


def _l2_parts(p: GMM, q: GMM) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """``(log<p,p>, log<q,q>, log<p,q>)`` less a shared constant, and that constant.

    All three use one reference scale (see :func:`_reduced_log_overlap`), so the constant
    cancels exactly in the Cauchy–Schwarz divergence and factors out of L2.
    """

    def kernel(a: GMM, b: GMM) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        k = _reference_exponent(a, b)

        def log_inner(x: GMM, y: GMM) -> jax.Array:
            w = x.weights[:, None] * y.weights[None, :]
            return weighted_logsumexp(_reduced_log_overlap(x, y, k), w)

        offset = _log_offset(a.dim, k, a.dtype)
        return log_inner(a, a), log_inner(b, b), log_inner(a, b), offset

    _check_pair(p, q)
    return map_pairs(kernel, p, q)


def scaled_l2_from_logs(
    log_pp: jax.Array, log_qq: jax.Array, log_pq: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """``(m, s)`` with ``L2^2 = exp(m) * s`` from the three log inner products (seed 000, eq. 1).

    The largest log is factored out (held constant for differentiation); ``s`` is zeroed
    where it falls below the round-off of its terms, so ``P = Q`` gives exactly 0.
    """
    m = jax.lax.stop_gradient(jnp.maximum(jnp.maximum(log_pp, log_qq), log_pq))
    a, b, c = jnp.exp(log_pp - m), jnp.exp(log_qq - m), jnp.exp(log_pq - m)
    s = a + b - 2.0 * c
    noise = 8.0 * jnp.finfo(s.dtype).eps * (a + b)
    return m, jnp.where(s > noise, s, 0.0)


def cs_from_logs(log_pp: jax.Array, log_qq: jax.Array, log_pq: jax.Array) -> jax.Array:
    """Cauchy–Schwarz divergence from the three log inner products, clamped at 0."""
    return jnp.maximum(0.5 * (log_pp + log_qq) - log_pq, 0.0)


def _scaled_l2(p: GMM, q: GMM) -> tuple[jax.Array, jax.Array]:
    """``(m, s)`` with ``L2^2 = exp(m) * s``; ``s`` is zeroed below round-off of its terms."""
    log_pp, log_qq, log_pq, offset = _l2_parts(p, q)
    m, s = scaled_l2_from_logs(log_pp, log_qq, log_pq)
    return m + offset, s


def l2_distance_squared(p: GMM, q: GMM) -> jax.Array:
    """Squared L2 distance between mixture densities (seed 000, eq. 1 and Section 3).

    .. math::
        L_2^2(P,Q) = \\sum_{nn'}\\alpha_n\\alpha_{n'}A_{nn'} + \\sum_{mm'}\\beta_m\\beta_{m'}B_{mm'}
        - 2\\sum_{nm}\\alpha_n\\beta_m C_{nm}

    The three sums are log-sum-exps, combined after factoring out the largest. The result is
    clamped at 0 (values below the round-off of the terms become exactly 0), so ``P = Q`` gives
    0 with a zero gradient. In high dimension the *value* itself can fall outside the
    floating-point range: it scales like :math:`(4\\pi\\sigma^2)^{-d/2}`, so at ``d = 128`` it
    is about ``1e-80`` for unit covariances (it underflows float32 to 0, and its gradient with
    it) and about ``1e+100`` for variances ``1e-3`` (it overflows). The computation itself
    never produces NaN. Use :func:`log_l2_distance_squared` (finite, accurate to ~1e-4 relative
    in float32 up to ``d = 128``) or the scale-free :func:`cauchy_schwarz_divergence` there.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> float(l2_distance_squared(p, p))
        0.0
    """
    m, s = _scaled_l2(p, q)
    return jnp.exp(m) * s


def log_l2_distance_squared(p: GMM, q: GMM) -> jax.Array:
    """:math:`\\log L_2^2(P,Q)`, finite wherever :func:`l2_distance_squared` would under/overflow.

    ``-inf`` when ``P = Q`` (to round-off). Same formula as :func:`l2_distance_squared` (seed
    000), kept in log space.
    """
    m, s = _scaled_l2(p, q)
    safe = jnp.where(s > 0, s, 1.0)
    return jnp.where(s > 0, m + jnp.log(safe), -jnp.inf)


@jax.custom_jvp
def _sqrt_zero_subgradient(x: jax.Array) -> jax.Array:
    return jnp.sqrt(x)


@_sqrt_zero_subgradient.defjvp
def _sqrt_zero_subgradient_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (dx,) = primals, tangents
    y = jnp.sqrt(x)
    safe = jnp.where(x > 0, y, 1.0)
    return y, jnp.where(x > 0, dx / (2.0 * safe), 0.0)


def l2_distance(p: GMM, q: GMM) -> jax.Array:
    """L2 distance :math:`L_2(P,Q) = \\{\\int (p - q)^2\\}^{1/2}` (seed 000, eq. 1).

    The square root of :func:`l2_distance_squared`, with the same floating-point range (see
    there; :func:`log_l2_distance_squared` is ``2 log L2``). At ``P = Q`` the distance is not
    differentiable (it behaves like ``|x|``); the gradient returned there is the zero
    subgradient, never NaN or inf.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> q = GMM.univariate([1.0], [1.0], [1.0])
        >>> round(float(l2_distance(p, q)), 6)
        0.353268
    """
    return _sqrt_zero_subgradient(l2_distance_squared(p, q))


def cauchy_schwarz_divergence(p: GMM, q: GMM) -> jax.Array:
    """Cauchy–Schwarz divergence between mixtures, entirely in log space.

    .. math::
        D_{CS}(P,Q) = -\\log\\frac{\\langle p,q\\rangle}{\\sqrt{\\langle p,p\\rangle
        \\langle q,q\\rangle}}
        = -\\log\\langle p,q\\rangle + \\tfrac12\\log\\langle p,p\\rangle
          + \\tfrac12\\log\\langle q,q\\rangle

    with each inner product a log-sum-exp over the Gram matrices of seed 000. Scale-free, so
    it stays finite and accurate in float32 at ``d = 128`` with tiny or huge covariances,
    where L2 itself leaves the floating-point range. ``>= 0`` (Cauchy–Schwarz) with equality
    iff ``P = Q``; clamped at 0 against round-off.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> float(cauchy_schwarz_divergence(p, p))
        0.0
    """
    log_pp, log_qq, log_pq, _ = _l2_parts(p, q)
    return cs_from_logs(log_pp, log_qq, log_pq)
