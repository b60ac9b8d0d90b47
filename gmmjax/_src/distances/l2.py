"""Gaussian product integrals and the distances built on them (You 2021).

Everything is computed in log space. The building block is the Gram entry

.. math::
    \\log \\int \\mathcal N(x\\mid\\mu_i,\\Sigma_i)\\,\\mathcal N(x\\mid\\eta_j,\\Lambda_j)\\,dx
    = \\log \\mathcal N(\\mu_i \\mid \\eta_j, \\Sigma_i + \\Lambda_j)

(You 2021, "Fact (*)", Matrix Cookbook §8.1.8), evaluated through a Cholesky factor of
:math:`\\Sigma_i+\\Lambda_j` (diagonal covariances: elementwise, no matrices). The mixture inner
products :math:`\\langle p, q\\rangle = \\sum_{ij} \\alpha_i\\beta_j C_{ij}` are log-sum-exps
of these entries with the weights as multipliers, so zero-weight (padding) components
contribute nothing and have finite gradients (a degenerate covariance there, even all
zero, is replaced by the identity first, :func:`~gmmjax._src.core.mixture.unit_padding`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gmmjax._src.core.arguments import check_gmm_pair, require_definite
from gmmjax._src.core.lift import map_pairs
from gmmjax._src.core.mixture import GMM, unit_padding
from gmmjax._src.core.stacking import stack
from gmmjax._src.kernels.overlap import (
    log_gram,
    log_inner_products,
    log_overlap_offset,
    reference_exponent,
)
from gmmjax._src.math.numerics import safe_sqrt

__all__ = [
    "FROM_LOG_INNER_PRODUCTS",
    "cauchy_schwarz_divergence",
    "gaussian_overlap",
    "inner_product",
    "l2_distance",
    "l2_distance_squared",
    "log_gaussian_overlap",
    "log_inner_product",
    "log_l2_distance_squared",
]


def _log_inner_single(p: GMM, q: GMM) -> jax.Array:
    p, q = unit_padding(p), unit_padding(q)
    k = reference_exponent(p, q)
    one = log_inner_products(_one(p), _one(q), k)[0, 0]
    return one + log_overlap_offset(p.dim, k, p.dtype)


def _one(g: GMM) -> GMM:
    """A single mixture as a collection of one."""
    return jax.tree_util.tree_map(lambda x: x[None], g)


def log_gaussian_overlap(p: GMM, q: GMM) -> jax.Array:
    """Log Gram matrix of Gaussian product integrals between the components of ``p`` and ``q``.

    .. math::
        \\log C_{ij} = \\log \\int p_i(x) q_j(x)\\,dx
        = \\log \\mathcal N(\\mu_i \\mid \\eta_j, \\Sigma_i + \\Lambda_j)

    (You 2021, Fact (*); ``C`` of the note, and ``A``/``B`` when ``q is p``). Computed via an
    :math:`LDL^T` (``d <= 8``) or Cholesky factor of :math:`\\Sigma_i+\\Lambda_j`, or
    elementwise when both mixtures are diagonal. Needs :math:`\\Sigma_i+\\Lambda_j` positive
    definite.

    Args:
        p: GMM with ``K_p`` components in dimension ``d``, or a :class:`~gmmjax.Gaussian`
            (promoted to one component of weight 1); batch axes broadcast against ``q``.
        q: GMM with ``K_q`` components (or a Gaussian) of the same dimension ``d``.

    Returns:
        ``batch + (K_p, K_q)`` array of log integrals.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [0.5])
        >>> float(jnp.exp(log_gaussian_overlap(p, p))[0, 0])  # N(0 | 0, 1)  # doctest: +ELLIPSIS
        0.398942...
    """
    p, q = check_gmm_pair(p, q)
    return map_pairs(log_gram, p, q)


def gaussian_overlap(p: GMM, q: GMM) -> jax.Array:
    """Gram matrix of Gaussian product integrals (You 2021, Fact (*)).

    .. math:: C_{ij} = \\int p_i q_j = \\mathcal N(\\mu_i\\mid\\eta_j,\\Sigma_i+\\Lambda_j)

    The exponential of :func:`log_gaussian_overlap` (You 2021). In high dimension the entries
    leave the floating-point range (they scale like :math:`(2\\pi\\sigma^2)^{-d/2}`: at
    ``d = 128`` they underflow float32 for unit variances and overflow it for variances 1e-3);
    use :func:`log_gaussian_overlap` there.

    Args:
        p: GMM with ``K_p`` components in dimension ``d``, or a :class:`~gmmjax.Gaussian`
            (promoted to one component of weight 1); batch axes broadcast against ``q``.
        q: GMM with ``K_q`` components (or a Gaussian) of the same dimension ``d``.

    Returns:
        ``batch + (K_p, K_q)`` array of integrals.
    """
    return jnp.exp(log_gaussian_overlap(p, q))


def log_inner_product(p: GMM, q: GMM) -> jax.Array:
    """:math:`\\log\\langle p, q\\rangle = \\log \\sum_{ij} \\alpha_i \\beta_j C_{ij}` (You 2021).

    A log-sum-exp over :func:`log_gaussian_overlap` with the weights as multipliers: finite
    wherever the overlaps are representable as logs, also when they under- or overflow.

    Args:
        p: GMM with ``K_p`` components in dimension ``d``, or a :class:`~gmmjax.Gaussian`
            (promoted to one component of weight 1); batch axes broadcast against ``q``.
        q: GMM with ``K_q`` components (or a Gaussian) of the same dimension ``d``.

    Returns:
        The log inner product: a scalar, or the broadcast batch shape.
    """
    p, q = check_gmm_pair(p, q)
    return map_pairs(_log_inner_single, p, q)


def inner_product(p: GMM, q: GMM) -> jax.Array:
    """Inner product of mixture densities (You 2021).

    .. math:: \\langle p, q\\rangle = \\int p(x) q(x)\\,dx = \\sum_{ij}\\alpha_i\\beta_j C_{ij}

    Like :func:`gaussian_overlap` it can underflow or overflow in high dimension (outside the
    floating-point range for float32 at ``d = 128``); :func:`log_inner_product` and
    :func:`cauchy_schwarz_divergence` stay finite there.

    Args:
        p: GMM with ``K_p`` components in dimension ``d``, or a :class:`~gmmjax.Gaussian`
            (promoted to one component of weight 1); batch axes broadcast against ``q``.
        q: GMM with ``K_q`` components (or a Gaussian) of the same dimension ``d``.

    Returns:
        The inner product: a scalar, or the broadcast batch shape.
    """
    return jnp.exp(log_inner_product(p, q))


def _l2_parts(a: GMM, b: GMM) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """``(log<p,p>, log<q,q>, log<p,q>)`` less a shared constant, and that constant.

    All three use one reference scale (:mod:`gmmjax._src.kernels.overlap`), so the constant
    cancels exactly in the Cauchy–Schwarz divergence and factors out of L2. They come from
    one Gram matrix over the components of both mixtures (the shorter one padded with zero
    weights): one copy of the kernel and its gradient rule per program, which keeps compile
    times down, at the price of a ``(K_p + K_q)^2`` Gram matrix instead of
    ``K_p^2 + K_q^2 + K_p K_q`` entries. :func:`~gmmjax.paired_distances` makes the other
    choice for batches (three kernel calls: 1.6x faster training steps, 1.3x longer to
    compile; ``benchmarks/RESULTS.md``, "Training steps").
    """
    k = reference_exponent(a, b)
    both = stack([a, b])
    logs = log_inner_products(both, both, k)
    return logs[0, 0], logs[1, 1], logs[0, 1], log_overlap_offset(a.dim, k, a.dtype)


def _scaled_l2(log_pp: jax.Array, log_qq: jax.Array, log_pq: jax.Array):
    """``(m, s)`` with ``L2^2 = exp(m) * s`` from the three log inner products (eq. 1).

    The largest log is factored out (held constant for differentiation); ``s`` is zeroed
    where it falls below the round-off of its terms, so ``P = Q`` gives exactly 0.
    """
    m = jax.lax.stop_gradient(jnp.maximum(jnp.maximum(log_pp, log_qq), log_pq))
    a, b, c = jnp.exp(log_pp - m), jnp.exp(log_qq - m), jnp.exp(log_pq - m)
    s = a + b - 2.0 * c
    noise = 8.0 * jnp.finfo(s.dtype).eps * (a + b)
    return m, jnp.where(s > noise, s, 0.0)


def _log_l2_squared(log_pp, log_qq, log_pq, offset):
    m, s = _scaled_l2(log_pp, log_qq, log_pq)
    return jnp.where(s > 0, m + offset + jnp.log(jnp.where(s > 0, s, 1.0)), -jnp.inf)


def _l2_squared(log_pp, log_qq, log_pq, offset):
    """``exp(log L2^2)``: finite wherever the square itself fits the dtype."""
    return jnp.exp(_log_l2_squared(log_pp, log_qq, log_pq, offset))


def _l2(log_pp, log_qq, log_pq, offset):
    """``exp(log L2^2 / 2)``, from the log: finite wherever the distance fits the dtype, also
    where its square over- or underflows (``d = 128``, small variances, float32). ``P = Q``
    gives exactly 0 with a zero gradient (the scale factor ``s`` enters through
    :func:`~gmmjax._src.math.numerics.safe_sqrt`)."""
    m, s = _scaled_l2(log_pp, log_qq, log_pq)
    return jnp.exp(0.5 * (m + offset)) * safe_sqrt(s)


def _cs(log_pp, log_qq, log_pq, offset):
    return jnp.maximum(0.5 * (log_pp + log_qq) - log_pq, 0.0)


#: Each overlap distance as a function of ``(log<p,p>, log<q,q>, log<p,q>)`` less a shared
#: constant, and that constant. Single pairs and collections both combine through this table.
FROM_LOG_INNER_PRODUCTS = {
    "l2": _l2,
    "l2_squared": _l2_squared,
    "log_l2_squared": _log_l2_squared,
    "cs": _cs,
}


def _overlap_distance_pair(p: GMM, q: GMM, *, name: str) -> jax.Array:
    p, q = unit_padding(p), unit_padding(q)  # degenerate zero-weight components
    return FROM_LOG_INNER_PRODUCTS[name](*_l2_parts(p, q))


_PUBLIC_NAMES = {
    "l2": "l2_distance",
    "l2_squared": "l2_distance_squared",
    "log_l2_squared": "log_l2_distance_squared",
    "cs": "cauchy_schwarz_divergence",
}


def _overlap_distance(name: str, p: GMM, q: GMM) -> jax.Array:
    p, q = check_gmm_pair(p, q)
    require_definite("p", p, _PUBLIC_NAMES[name])
    require_definite("q", q, _PUBLIC_NAMES[name])
    return map_pairs(_overlap_distance_pair, p, q, name=name)


def l2_distance_squared(p: GMM, q: GMM) -> jax.Array:
    """Squared L2 distance between mixture densities (You 2021, equation 1 and Section 3).

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

    Args:
        p: GMM with ``K_p`` components in dimension ``d``, or a :class:`~gmmjax.Gaussian`
            (promoted to one component of weight 1); batch axes broadcast against ``q``.
        q: GMM with ``K_q`` components (or a Gaussian) of the same dimension ``d``.

    Returns:
        :math:`L_2^2 \\ge 0`: a scalar, or the broadcast batch shape.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> float(l2_distance_squared(p, p))
        0.0
    """
    return _overlap_distance("l2_squared", p, q)


def log_l2_distance_squared(p: GMM, q: GMM) -> jax.Array:
    """:math:`\\log L_2^2(P,Q)`, finite wherever :func:`l2_distance_squared` would under/overflow.

    ``-inf`` when ``P = Q`` (to round-off). Same formula as :func:`l2_distance_squared` (You
    2021), kept in log space.

    Args:
        p: GMM with ``K_p`` components in dimension ``d``, or a :class:`~gmmjax.Gaussian`
            (promoted to one component of weight 1); batch axes broadcast against ``q``.
        q: GMM with ``K_q`` components (or a Gaussian) of the same dimension ``d``.

    Returns:
        :math:`\\log L_2^2`: a scalar, or the broadcast batch shape.
    """
    return _overlap_distance("log_l2_squared", p, q)


def l2_distance(p: GMM, q: GMM) -> jax.Array:
    """L2 distance :math:`L_2(P,Q) = \\{\\int (p - q)^2\\}^{1/2}` (You 2021, equation 1).

    The square root of :func:`l2_distance_squared`, with the same floating-point range (see
    there; :func:`log_l2_distance_squared` is ``2 log L2``). At ``P = Q`` the distance is not
    differentiable (it behaves like ``|x|``); the gradient returned there is the zero
    subgradient, never NaN or inf.

    Args:
        p: GMM with ``K_p`` components in dimension ``d``, or a :class:`~gmmjax.Gaussian`
            (promoted to one component of weight 1); batch axes broadcast against ``q``.
        q: GMM with ``K_q`` components (or a Gaussian) of the same dimension ``d``.

    Returns:
        :math:`L_2 \\ge 0`: a scalar, or the broadcast batch shape.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> q = GMM.univariate([1.0], [1.0], [1.0])
        >>> round(float(l2_distance(p, q)), 6)
        0.353268
    """
    return _overlap_distance("l2", p, q)


def cauchy_schwarz_divergence(p: GMM, q: GMM) -> jax.Array:
    """Cauchy–Schwarz divergence between mixtures, entirely in log space.

    .. math::
        D_{CS}(P,Q) = -\\log\\frac{\\langle p,q\\rangle}{\\sqrt{\\langle p,p\\rangle
        \\langle q,q\\rangle}}
        = -\\log\\langle p,q\\rangle + \\tfrac12\\log\\langle p,p\\rangle
          + \\tfrac12\\log\\langle q,q\\rangle

    with each inner product a log-sum-exp over the Gram matrices of You (2021). Scale-free, so
    it stays finite and accurate in float32 at ``d = 128`` with tiny or huge covariances,
    where L2 itself leaves the floating-point range. ``>= 0`` (Cauchy–Schwarz) with equality
    iff ``P = Q``; clamped at 0 against round-off.

    Args:
        p: GMM with ``K_p`` components in dimension ``d``, or a :class:`~gmmjax.Gaussian`
            (promoted to one component of weight 1); batch axes broadcast against ``q``.
        q: GMM with ``K_q`` components (or a Gaussian) of the same dimension ``d``.

    Returns:
        :math:`D_{CS} \\ge 0`: a scalar, or the broadcast batch shape.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> float(cauchy_schwarz_divergence(p, p))
        0.0
    """
    return _overlap_distance("cs", p, q)
