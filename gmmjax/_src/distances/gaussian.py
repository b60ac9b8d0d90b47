"""Wasserstein-2 geometry of Gaussians (Chen, Georgiou & Tannenbaum 2019, §II.A and §IV).

The public face of :mod:`gmmjax._src.kernels.bures` and
:mod:`gmmjax._src.kernels.gaussian_barycenter`: argument checks and batch lifting around the
kernels, which hold the formulas and their derivatives.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gmmjax._src.core.arguments import check_gaussian_pair, check_gmm_pair, require_dense
from gmmjax._src.core.checks import check_choice, check_simplex
from gmmjax._src.core.lift import map_pairs
from gmmjax._src.core.mixture import GMM, Gaussian
from gmmjax._src.core.scalars import check_real
from gmmjax._src.kernels.bures import bures_cost, interpolate, transport_map
from gmmjax._src.kernels.gaussian_barycenter import (
    ITERATIONS,
    GaussianBarycenterInfo,
    barycenter_covariance,
)
from gmmjax._src.math.numerics import safe_sqrt

__all__ = [
    "GaussianBarycenterInfo",
    "bures_cost_matrix",
    "gaussian_barycenter",
    "gaussian_interpolate",
    "gaussian_transport_map",
    "w2_gaussian",
]


def _w2_pair(a: Gaussian, b: Gaussian) -> jax.Array:
    return safe_sqrt(bures_cost(a.as_gmm(), b.as_gmm())[0, 0])


def _interpolate_pair(a: Gaussian, b: Gaussian, t: jax.Array) -> Gaussian:
    parts = interpolate(a.mean, a.cov, a.is_diagonal, b.mean, b.cov, b.is_diagonal, t)
    return Gaussian._unchecked(*parts)


def _transport_map_pair(a: Gaussian, b: Gaussian) -> tuple[jax.Array, jax.Array]:
    return transport_map(a.mean, a.cov, a.is_diagonal, b.mean, b.cov, b.is_diagonal)


def bures_cost_matrix(p: GMM, q: GMM) -> jax.Array:
    """Squared Wasserstein-2 distances between all components of ``p`` and ``q``.

    .. math::
        C_{ij} = W_2(\\nu_p^i, \\nu_q^j)^2 = \\|m_i - m_j\\|^2 + \\operatorname{tr}\\Sigma_i
        + \\operatorname{tr}\\Sigma_j - 2\\,\\|\\Sigma_i^{1/2}\\Sigma_j^{1/2}\\|_*

    (Chen et al. 2019, the cost :math:`c(i, j)` of eq. 9 and its closed form of §II.A; singular
    covariances need no special case, see the module docstring on eq. 8). One square root per
    component, one SVD per pair; no iteration, so the
    result is exact to round-off (OTT's ``costs.Bures`` truncates a Newton–Schulz iteration).
    Diagonal covariances use :math:`\\sum_l(\\sigma_{il}-\\sigma_{jl})^2` with no matrices.
    Clamped at 0. Batch axes broadcast.

    Args:
        p, q: GMMs of the same dimension ``d`` (``K_p`` and ``K_q`` components), or
            :class:`~gmmjax.Gaussian` objects (one component of weight 1); batch axes
            broadcast.

    Returns:
        ``batch_shape + (K_p, K_q)``.

    Example:
        >>> p = GMM.univariate([0.5, 0.5], [0.0, 1.0], [1.0, 4.0])
        >>> [[round(c, 6) for c in row] for row in bures_cost_matrix(p, p).tolist()]
        [[0.0, 2.0], [2.0, 0.0]]
    """
    p, q = check_gmm_pair(p, q)
    return map_pairs(bures_cost, p, q)


def w2_gaussian(g0: Gaussian, g1: Gaussian) -> jax.Array:
    """Wasserstein-2 distance between Gaussians (Chen, Georgiou & Tannenbaum 2019, §II.A).

    .. math::
        W_2^2 = \\|m_0-m_1\\|^2 + \\operatorname{tr}\\big(\\Sigma_0+\\Sigma_1
        - 2(\\Sigma_0^{1/2}\\Sigma_1\\Sigma_0^{1/2})^{1/2}\\big)

    (equations 6–8 of the paper). Singular covariances use the same formula (see the module
    docstring on eq. 8); with
    :math:`\\Sigma_0=\\Sigma_1=0` this is
    :math:`\\|m_0-m_1\\|`. Returns the distance (not squared); its derivative at
    :math:`g_0 = g_1` is taken as 0 (the subgradient of a norm at 0), so it is never NaN.

    Args:
        g0: the first :class:`~gmmjax.Gaussian`, mean ``(..., d)``, covariance
            ``(..., d, d)`` (PSD, singular allowed) or diagonal variances ``(..., d)``.
        g1: the second Gaussian, of the same dimension ``d``; batch axes broadcast against
            those of ``g0``.

    Returns:
        :math:`W_2 \\ge 0`: a scalar, or the broadcast batch shape.

    Example:
        >>> g0 = Gaussian(jnp.zeros(2), jnp.eye(2))
        >>> g1 = Gaussian(jnp.array([3.0, 4.0]), jnp.eye(2))
        >>> round(float(w2_gaussian(g0, g1)), 6)
        5.0
    """
    check_gaussian_pair(g0, g1)
    return map_pairs(_w2_pair, g0, g1)


def gaussian_interpolate(g0: Gaussian, g1: Gaussian, t: Any) -> Gaussian:
    """McCann's displacement interpolation between Gaussians (Chen, Georgiou & Tannenbaum 2019).

    .. math::
        m_t = (1-t)m_0 + t m_1, \\qquad
        \\Sigma_t = \\Sigma_0^{-1/2}\\big((1-t)\\Sigma_0 + t(\\Sigma_0^{1/2}\\Sigma_1
        \\Sigma_0^{1/2})^{1/2}\\big)^2\\Sigma_0^{-1/2}

    This is equation 7 of the paper. Computed without inverses as :math:`\\Sigma_t = G_tG_t^T`,
    :math:`G_t = (1-t)\\Sigma_0^{1/2} + t\\,\\Sigma_1^{1/2}W^T` with :math:`W` the polar factor of
    :math:`\\Sigma_0^{1/2}\\Sigma_1^{1/2}`; equal to eq. 7 for nonsingular :math:`\\Sigma_0` and
    valid (PSD, a geodesic) for singular ones. Two diagonal Gaussians interpolate their
    standard deviations linearly and stay diagonal.

    Args:
        g0, g1: :class:`~gmmjax.Gaussian` objects of one dimension ``d`` (full or diagonal
            covariances); batch axes broadcast.
        t: time in ``[0, 1]``, a real scalar or an array broadcasting against the batch
            shape: checked eagerly when concrete, by a checkify check inside
            :func:`gmmjax.checked` when traced, and otherwise an invalid traced ``t`` makes
            the result NaN.

    Raises:
        TypeError: ``t`` not a real number (``bool``, ``str``, complex, ``None``).
        ValueError: when a concrete ``t`` lies outside ``[0, 1]`` (or is NaN).

    Example:
        >>> g0, g1 = Gaussian(jnp.zeros(1), jnp.ones(1)), Gaussian(jnp.ones(1), 9 * jnp.ones(1))
        >>> gt = gaussian_interpolate(g0, g1, 0.5)
        >>> float(gt.mean[0]), float(gt.cov[0])
        (0.5, 4.0)
    """
    check_gaussian_pair(g0, g1)
    require_dense("gaussian_interpolate", g0=g0, g1=g1)
    t = check_real("t", t, low=0.0, high=1.0, scalar=False)
    t = jnp.asarray(t, jnp.result_type(g0.mean, g1.mean))
    return map_pairs(_interpolate_pair, g0, g1, t)


def gaussian_transport_map(g0: Gaussian, g1: Gaussian) -> tuple[jax.Array, jax.Array]:
    """Optimal (Brenier) map :math:`T(x) = Ax + b` that pushes ``g0`` forward to ``g1``.

    .. math::
        A = \\Sigma_0^{-1/2}(\\Sigma_0^{1/2}\\Sigma_1\\Sigma_0^{1/2})^{1/2}\\Sigma_0^{-1/2},
        \\qquad b = m_1 - A m_0

    (Chen, Georgiou & Tannenbaum 2019, §II.A.)
    :math:`A` is symmetric PSD with :math:`A\\Sigma_0A = \\Sigma_1`, so that eq. 7 reads
    :math:`\\Sigma_t = ((1-t)I + tA)\\Sigma_0((1-t)I + tA)`. For singular :math:`\\Sigma_0` the
    inverse root is a pseudo-inverse (the map is then defined on the support of ``g0``).
    Two diagonal Gaussians give ``A`` as its diagonal ``(..., d)``.

    Args:
        g0: the source :class:`~gmmjax.Gaussian`, mean ``(..., d)``, covariance
            ``(..., d, d)`` or diagonal variances ``(..., d)``.
        g1: the target Gaussian, of the same dimension ``d``; batch axes broadcast against
            those of ``g0``.

    Returns:
        ``(A, b)`` with shapes ``(..., d, d)`` (or ``(..., d)`` diagonal) and ``(..., d)``.

    Example:
        >>> g0, g1 = Gaussian(jnp.zeros(1), jnp.ones(1)), Gaussian(jnp.ones(1), 4 * jnp.ones(1))
        >>> a, b = gaussian_transport_map(g0, g1)
        >>> float(a[0]), float(b[0])
        (2.0, 1.0)
    """
    check_gaussian_pair(g0, g1)
    require_dense("gaussian_transport_map", g0=g0, g1=g1)
    return map_pairs(_transport_map_pair, g0, g1)


#: Compiled once per shape and options: an eager call runs one program.
_barycenter_covariance = jax.jit(barycenter_covariance, static_argnums=(2, 3, 4))


def gaussian_barycenter(
    gaussians: Gaussian,
    weights: Any,
    *,
    iteration: str = "alvarez-esteban",
    tol: float | None = None,
    max_iter: int = 100,
    return_info: bool = False,
) -> Gaussian | tuple[Gaussian, GaussianBarycenterInfo]:
    """Wasserstein barycenter of Gaussians (Chen, Georgiou & Tannenbaum 2019).

    .. math::
        m = \\sum_k\\lambda_k m_k, \\qquad
        \\Sigma = \\sum_k\\lambda_k(\\Sigma^{1/2}\\Sigma_k\\Sigma^{1/2})^{1/2}

    These are equations 14–16 of the paper. The covariance is the fixed point of eq. 16,
    found by either iteration of the paper
    (Álvarez-Esteban et al. 2016), started from :math:`\\sum_k\\lambda_k\\Sigma_k`:

    - ``"alvarez-esteban"`` (default, proven to converge):
      :math:`\\Sigma \\leftarrow \\Sigma^{-1/2}\\big(\\sum_k\\lambda_k(\\Sigma^{1/2}\\Sigma_k
      \\Sigma^{1/2})^{1/2}\\big)^2\\Sigma^{-1/2}`;
    - ``"averaging"``: :math:`\\Sigma \\leftarrow \\sum_k\\lambda_k(\\Sigma^{1/2}\\Sigma_k
      \\Sigma^{1/2})^{1/2}` (works in practice, no proof).

    Iteration stops when the relative eq. 16 residual is at most ``tol`` or after
    ``max_iter`` steps; ``return_info=True`` reports which. Gradients use the implicit
    function theorem at the fixed point (``lax.custom_root``), not the unrolled loop.
    Diagonal covariances are embedded as full matrices; the result is full.

    Args:
        gaussians: a :class:`~gmmjax.Gaussian` with one batch axis of length ``L`` (the
            inputs: means ``(L, d)``, covariances ``(L, d, d)`` or variances ``(L, d)``).
        weights: ``(L,)`` probability vector :math:`\\lambda` (>= 0, summing to 1).
        iteration: ``"alvarez-esteban"`` (default) or ``"averaging"``.
        tol: relative residual target, a float > 0 (default ``None``: ``100 * eps`` of the
            dtype).
        max_iter: iteration cap, an int >= 1 (default 100).
        return_info: also return a ``GaussianBarycenterInfo`` (default ``False``).

    Returns:
        The barycenter, an unbatched :class:`~gmmjax.Gaussian` with a full covariance, or
        ``(barycenter, info)`` with ``return_info``.

    Example:
        >>> gs = Gaussian(jnp.array([[0.0], [2.0]]), jnp.array([[[1.0]], [[9.0]]]))
        >>> bary = gaussian_barycenter(gs, jnp.array([0.5, 0.5]))
        >>> round(float(bary.mean[0]), 6), round(float(bary.cov[0, 0]), 6)
        (1.0, 4.0)
    """
    if not isinstance(gaussians, Gaussian):
        raise TypeError(f"gaussians must be a Gaussian with a batch axis; got {type(gaussians)}")
    if len(gaussians.batch_shape) != 1:
        raise ValueError(
            f"gaussians must have exactly one batch axis (L,); got {gaussians.batch_shape}"
        )
    check_choice("iteration", iteration, ITERATIONS)
    dtype = gaussians.mean.dtype
    weights = jnp.asarray(weights, dtype)
    if weights.shape != gaussians.batch_shape:
        raise ValueError(f"weights must have shape {gaussians.batch_shape}; got {weights.shape}")
    check_simplex("weights", weights)
    tol = 100.0 * float(jnp.finfo(dtype).eps) if tol is None else float(tol)
    mean = weights @ gaussians.mean
    cov, info = _barycenter_covariance(gaussians.full_cov(), weights, iteration, tol, int(max_iter))
    out = Gaussian._unchecked(mean, cov)
    return (out, info) if return_info else out
