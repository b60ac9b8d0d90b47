"""Wasserstein-2 geometry of Gaussians (seed 001, §II.A and §IV): Bures cost, maps, geodesics.

Every quantity is computed from one symmetric square root per covariance,
:math:`F = \\Sigma^{1/2}`, and one small SVD per pair. The Bures trace term is a nuclear norm,

.. math::
    \\operatorname{tr}\\big((\\Sigma_0^{1/2}\\Sigma_1\\Sigma_0^{1/2})^{1/2}\\big)
    = \\|F_0 F_1\\|_*,

because :math:`(F_0F_1)(F_0F_1)^T = F_0\\Sigma_1F_0`. No iteration is stopped early: the result is
exact to round-off, also for ill-conditioned and singular covariances. Singular covariances
need no special case: with PSD square roots the formula above is the :math:`W_2` distance
between degenerate Gaussians too (Gelbrich's bound is attained). Seed 001's eq. 8 writes the
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

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._checks import check_choice, check_same_dim, check_unit_interval, is_concrete
from gmmjax._lift import map_pairs
from gmmjax._linalg import eigh, pinv, singular_values, svd
from gmmjax._linalg import solve as linear_solve
from gmmjax._mixture import GMM, Gaussian

__all__ = [
    "GaussianBarycenterInfo",
    "bures_cost_matrix",
    "gaussian_barycenter",
    "gaussian_interpolate",
    "gaussian_transport_map",
    "w2_gaussian",
]


def _mT(x: jax.Array) -> jax.Array:
    return jnp.swapaxes(x, -1, -2)


def _sym(x: jax.Array) -> jax.Array:
    return 0.5 * (x + _mT(x))


# --------------------------------------------------------------------------- primitives
@jax.custom_jvp
def safe_sqrt(x: jax.Array) -> jax.Array:
    """:math:`\\sqrt{\\max(x, 0)}` whose derivative at 0 is 0 (the subgradient of a norm at 0)."""
    return jnp.sqrt(jnp.maximum(x, 0.0))


@safe_sqrt.defjvp
def _safe_sqrt_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]) -> Any:
    (x,), (dx,) = primals, tangents
    y = safe_sqrt(x)
    positive = y > 0
    slope = jnp.where(positive, 0.5 / jnp.where(positive, y, 1.0), 0.0)
    return y, slope * dx


def _zero_tolerance(r: jax.Array) -> jax.Array:
    """Square roots of eigenvalues below this are round-off of an exact zero."""
    eps = jnp.finfo(r.dtype).eps
    return r.shape[-1] * jnp.sqrt(eps) * jnp.max(r, axis=-1, keepdims=True)


def _root_eigenvalues(w: jax.Array) -> jax.Array:
    """Square roots of eigenvalues; those within ``d * eps * max`` of 0 are round-off -> 0."""
    floor = w.shape[-1] * jnp.finfo(w.dtype).eps * jnp.max(jnp.abs(w), axis=-1, keepdims=True)
    return jnp.sqrt(jnp.where(w > floor, w, 0.0))


@jax.custom_jvp
def sqrtm_psd(s: jax.Array) -> jax.Array:
    """Symmetric PSD square root :math:`\\Sigma^{1/2}` of ``(..., d, d)`` matrices (via ``eigh``).

    Eigenvalues below ``d * eps * max|eigenvalue|`` are indistinguishable from round-off of an
    exact zero and are set to 0 (a singular covariance stays exactly singular).

    The JVP solves the Sylvester equation :math:`F\\,dF + dF\\,F = d\\Sigma` in the eigenbasis,
    :math:`dF_{ij} = d\\Sigma_{ij}/(\\sqrt{\\lambda_i}+\\sqrt{\\lambda_j})`, finite at repeated
    eigenvalues; directions where both roots are (numerically) zero get derivative 0.
    """
    w, v = eigh(s)
    r = _root_eigenvalues(w)
    return _sym((v * r[..., None, :]) @ _mT(v))


@sqrtm_psd.defjvp
def _sqrtm_psd_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]) -> Any:
    (s,), (ds,) = primals, tangents
    w, v = eigh(s)
    r = _root_eigenvalues(w)
    f = _sym((v * r[..., None, :]) @ _mT(v))
    den = r[..., :, None] + r[..., None, :]
    ok = den > _zero_tolerance(r)[..., None]
    inner = _mT(v) @ _sym(ds) @ v
    df = v @ jnp.where(ok, inner / jnp.where(ok, den, 1.0), 0.0) @ _mT(v)
    return f, df


@jax.custom_jvp
def nuclear_norm(m: jax.Array) -> jax.Array:
    """Sum of singular values of ``(..., d, d)`` matrices; JVP :math:`\\langle UV^T, dM\\rangle`.

    ``d = 1`` and ``d = 2`` use closed forms (no LAPACK call):
    :math:`s_1 + s_2 = \\sqrt{\\|M\\|_F^2 + 2|\\det M|}`, a sum of non-negative terms, so it
    is as accurate as the SVD.
    """
    d = m.shape[-1]
    if d == 1:
        return jnp.abs(m[..., 0, 0])
    if d == 2:
        det = m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
        return jnp.sqrt(jnp.sum(m**2, axis=(-2, -1)) + 2.0 * jnp.abs(det))
    return jnp.sum(singular_values(m), axis=-1)


@nuclear_norm.defjvp
def _nuclear_norm_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]) -> Any:
    (m,), (dm,) = primals, tangents
    u, _, vt = svd(m)
    return nuclear_norm(m), jnp.sum((u @ vt) * dm, axis=(-2, -1))


@jax.custom_jvp
def polar_factor(m: jax.Array) -> jax.Array:
    """Orthogonal polar factor :math:`W = UV^T` of ``M = U S V^T`` (``(..., d, d)``).

    JVP: :math:`dW = U\\,\\Omega\\,V^T` with :math:`\\Omega_{ij} = (X-X^T)_{ij}/(s_i+s_j)`,
    :math:`X = U^T dM\\,V`; finite for repeated singular values, 0 where both vanish.
    """
    u, _, vt = svd(m)
    return u @ vt


@polar_factor.defjvp
def _polar_factor_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]) -> Any:
    (m,), (dm,) = primals, tangents
    u, s, vt = svd(m)
    x = _mT(u) @ dm @ _mT(vt)
    den = s[..., :, None] + s[..., None, :]
    ok = den > _zero_tolerance(s)[..., None]
    omega = jnp.where(ok, (x - _mT(x)) / jnp.where(ok, den, 1.0), 0.0)
    return u @ vt, u @ omega @ vt


# --------------------------------------------------------------------------- kernels
def _full_factor(cov: jax.Array, diagonal: bool) -> jax.Array:
    """Symmetric square root of a full covariance (diagonal: embedded standard deviations)."""
    if diagonal:
        return safe_sqrt(cov)[..., :, None] * jnp.eye(cov.shape[-1], dtype=cov.dtype)
    return sqrtm_psd(cov)


def _trace(cov: jax.Array, diagonal: bool) -> jax.Array:
    return jnp.sum(cov, axis=-1) if diagonal else jnp.trace(cov, axis1=-2, axis2=-1)


def _bures_matrix_single(p: GMM, q: GMM) -> jax.Array:
    """``(K_p, K_q)`` matrix of :math:`W_2^2` between the components of two single mixtures."""
    diff = p.means[:, None, :] - q.means[None, :, :]
    mean_part = jnp.sum(diff**2, axis=-1)
    if p.is_diagonal and q.is_diagonal:
        sp, sq = safe_sqrt(p.covs), safe_sqrt(q.covs)
        cov_part = jnp.sum((sp[:, None, :] - sq[None, :, :]) ** 2, axis=-1)
        return mean_part + cov_part
    fp = _full_factor(p.covs, p.is_diagonal)  # (Kp, d, d)
    fq = _full_factor(q.covs, q.is_diagonal)  # (Kq, d, d)
    cross = nuclear_norm(fp[:, None] @ fq[None, :])
    tp = _trace(p.covs, p.is_diagonal)
    tq = _trace(q.covs, q.is_diagonal)
    return jnp.maximum(mean_part + tp[:, None] + tq[None, :] - 2.0 * cross, 0.0)


def _check_gmms(p: Any, q: Any) -> None:
    for name, g in (("p", p), ("q", q)):
        if not isinstance(g, GMM):
            raise TypeError(f"{name} must be a GMM; got {type(g).__name__}")
    check_same_dim(p, q)


def _check_gaussians(g0: Any, g1: Any) -> None:
    for name, g in (("g0", g0), ("g1", g1)):
        if not isinstance(g, Gaussian):
            raise TypeError(f"{name} must be a Gaussian; got {type(g).__name__}")
    check_same_dim(g0, g1, ("g0", "g1"))


def bures_cost_matrix(p: GMM, q: GMM) -> jax.Array:
    """Squared Wasserstein-2 distances between all components of ``p`` and ``q``.

    .. math::
        C_{ij} = W_2(\\nu_p^i, \\nu_q^j)^2 = \\|m_i - m_j\\|^2 + \\operatorname{tr}\\Sigma_i
        + \\operatorname{tr}\\Sigma_j - 2\\,\\|\\Sigma_i^{1/2}\\Sigma_j^{1/2}\\|_*

    (seed 001, the cost :math:`c(i, j)` of eq. 9 and its closed form of §II.A; singular
    covariances need no special case, see the module docstring on eq. 8). One square root per
    component, one SVD per pair; no iteration, so the
    result is exact to round-off (OTT's ``costs.Bures`` truncates a Newton–Schulz iteration).
    Diagonal covariances use :math:`\\sum_l(\\sigma_{il}-\\sigma_{jl})^2` with no matrices.
    Clamped at 0. Batch axes broadcast.

    Args:
        p, q: mixtures of the same dimension.

    Returns:
        ``batch_shape + (K_p, K_q)``.

    Example:
        >>> p = GMM.univariate([0.5, 0.5], [0.0, 1.0], [1.0, 4.0])
        >>> [[round(c, 6) for c in row] for row in bures_cost_matrix(p, p).tolist()]
        [[0.0, 2.0], [2.0, 0.0]]
    """
    _check_gmms(p, q)
    return map_pairs(_bures_matrix_single, p, q)


def _as_gmm(g: Gaussian) -> GMM:
    return g.as_gmm()


def w2_gaussian(g0: Gaussian, g1: Gaussian) -> jax.Array:
    """Wasserstein-2 distance between Gaussians (seed 001, §II.A, eqs. 6–8).

    .. math::
        W_2^2 = \\|m_0-m_1\\|^2 + \\operatorname{tr}\\big(\\Sigma_0+\\Sigma_1
        - 2(\\Sigma_0^{1/2}\\Sigma_1\\Sigma_0^{1/2})^{1/2}\\big)

    Singular covariances use the same formula (see the module docstring on eq. 8); with
    :math:`\\Sigma_0=\\Sigma_1=0` this is
    :math:`\\|m_0-m_1\\|`. Returns the distance (not squared); its derivative at
    :math:`g_0 = g_1` is taken as 0 (the subgradient of a norm at 0), so it is never NaN.

    Example:
        >>> g0 = Gaussian(jnp.zeros(2), jnp.eye(2))
        >>> g1 = Gaussian(jnp.array([3.0, 4.0]), jnp.eye(2))
        >>> round(float(w2_gaussian(g0, g1)), 6)
        5.0
    """
    _check_gaussians(g0, g1)

    def one(a: Gaussian, b: Gaussian) -> jax.Array:
        return safe_sqrt(_bures_matrix_single(_as_gmm(a), _as_gmm(b))[0, 0])

    return map_pairs(one, g0, g1)


def _coupling_factors(g0: Gaussian, g1: Gaussian) -> tuple[jax.Array, jax.Array]:
    """``(F_0, F_1 W^T)``: factors whose rows are the optimally coupled noise directions."""
    f0 = _full_factor(g0.cov, g0.is_diagonal)
    f1 = _full_factor(g1.cov, g1.is_diagonal)
    w = polar_factor(f0 @ f1)
    return f0, f1 @ _mT(w)


def _interpolate_single(g0: Gaussian, g1: Gaussian, t: jax.Array) -> Gaussian:
    mean = (1.0 - t) * g0.mean + t * g1.mean
    if g0.is_diagonal and g1.is_diagonal:
        sd = (1.0 - t) * safe_sqrt(g0.cov) + t * safe_sqrt(g1.cov)
        return Gaussian._unchecked(mean, sd**2)
    f0, f1w = _coupling_factors(g0, g1)
    g = (1.0 - t) * f0 + t * f1w
    return Gaussian._unchecked(mean, _sym(g @ _mT(g)))


def gaussian_interpolate(g0: Gaussian, g1: Gaussian, t: Any) -> Gaussian:
    """McCann's displacement interpolation between Gaussians (seed 001, eq. 7).

    .. math::
        m_t = (1-t)m_0 + t m_1, \\qquad
        \\Sigma_t = \\Sigma_0^{-1/2}\\big((1-t)\\Sigma_0 + t(\\Sigma_0^{1/2}\\Sigma_1
        \\Sigma_0^{1/2})^{1/2}\\big)^2\\Sigma_0^{-1/2}

    Computed without inverses as :math:`\\Sigma_t = G_tG_t^T`,
    :math:`G_t = (1-t)\\Sigma_0^{1/2} + t\\,\\Sigma_1^{1/2}W^T` with :math:`W` the polar factor of
    :math:`\\Sigma_0^{1/2}\\Sigma_1^{1/2}`; equal to eq. 7 for nonsingular :math:`\\Sigma_0` and
    valid (PSD, a geodesic) for singular ones. Two diagonal Gaussians interpolate their
    standard deviations linearly and stay diagonal.

    Args:
        g0, g1: Gaussians of one dimension; batch axes broadcast.
        t: time in ``[0, 1]`` (checked eagerly when concrete; under ``jit`` not checked).

    Raises:
        ValueError: when a concrete ``t`` lies outside ``[0, 1]``.

    Example:
        >>> g0, g1 = Gaussian(jnp.zeros(1), jnp.ones(1)), Gaussian(jnp.ones(1), 9 * jnp.ones(1))
        >>> gt = gaussian_interpolate(g0, g1, 0.5)
        >>> float(gt.mean[0]), float(gt.cov[0])
        (0.5, 4.0)
    """
    _check_gaussians(g0, g1)
    check_unit_interval("t", t)
    t = jnp.asarray(t, jnp.result_type(g0.mean, g1.mean))
    return map_pairs(lambda a, b: _interpolate_single(a, b, t), g0, g1)


def _transport_map_single(g0: Gaussian, g1: Gaussian) -> tuple[jax.Array, jax.Array]:
    if g0.is_diagonal and g1.is_diagonal:
        s0, s1 = safe_sqrt(g0.cov), safe_sqrt(g1.cov)
        ok = s0 > 0
        a = jnp.where(ok, s1 / jnp.where(ok, s0, 1.0), 0.0)
        return a, g1.mean - a * g0.mean
    f0, f1w = _coupling_factors(g0, g1)
    # A = F0^+ (F0 F1 W^T) F0^+ = F0^+ (F0 Sigma1 F0)^{1/2} F0^+
    f0_pinv = pinv(f0)
    a = _sym(f0_pinv @ (f0 @ f1w) @ f0_pinv)
    return a, g1.mean - a @ g0.mean


def gaussian_transport_map(g0: Gaussian, g1: Gaussian) -> tuple[jax.Array, jax.Array]:
    """Optimal (Brenier) map :math:`T(x) = Ax + b` from ``g0`` to ``g1`` (seed 001, §II.A).

    .. math::
        A = \\Sigma_0^{-1/2}(\\Sigma_0^{1/2}\\Sigma_1\\Sigma_0^{1/2})^{1/2}\\Sigma_0^{-1/2},
        \\qquad b = m_1 - A m_0

    :math:`A` is symmetric PSD with :math:`A\\Sigma_0A = \\Sigma_1`, so that eq. 7 reads
    :math:`\\Sigma_t = ((1-t)I + tA)\\Sigma_0((1-t)I + tA)`. For singular :math:`\\Sigma_0` the
    inverse root is a pseudo-inverse (the map is then defined on the support of ``g0``).
    Two diagonal Gaussians give ``A`` as its diagonal ``(..., d)``.

    Returns:
        ``(A, b)`` with shapes ``(..., d, d)`` (or ``(..., d)`` diagonal) and ``(..., d)``.

    Example:
        >>> g0, g1 = Gaussian(jnp.zeros(1), jnp.ones(1)), Gaussian(jnp.ones(1), 4 * jnp.ones(1))
        >>> a, b = gaussian_transport_map(g0, g1)
        >>> float(a[0]), float(b[0])
        (2.0, 1.0)
    """
    _check_gaussians(g0, g1)
    return map_pairs(_transport_map_single, g0, g1)


# --------------------------------------------------------------------------- barycenter
class GaussianBarycenterInfo(NamedTuple):
    """Convergence report of :func:`gaussian_barycenter`.

    Attributes:
        converged: the relative eq. 16 residual fell below ``tol``.
        n_iters: fixed-point iterations run.
        residual: :math:`\\|\\Sigma - \\sum_k\\lambda_k(\\Sigma^{1/2}\\Sigma_k
            \\Sigma^{1/2})^{1/2}\\|_F / \\|\\Sigma\\|_F` at the returned covariance.
    """

    converged: jax.Array
    n_iters: jax.Array
    residual: jax.Array


_ITERATIONS = ("alvarez-esteban", "averaging")


def _bary_average(s: jax.Array, factors: jax.Array, weights: jax.Array) -> tuple[Any, Any]:
    """``(S^{1/2}, sum_k lambda_k (S^{1/2} Sigma_k S^{1/2})^{1/2})``."""
    root = sqrtm_psd(s)
    inner = root[None] @ factors
    terms = sqrtm_psd(_sym(inner @ _mT(inner)))
    return root, jnp.einsum("k,kij->ij", weights, terms)


def _bary_step(s: jax.Array, factors: jax.Array, weights: jax.Array, iteration: str) -> Any:
    root, avg = _bary_average(s, factors, weights)
    if iteration == "averaging":
        return avg
    x = linear_solve(root, avg)  # S^{-1/2} R
    return _sym(x @ _mT(x))  # S^{-1/2} R^2 S^{-1/2}


def _bary_residual(s: jax.Array, factors: jax.Array, weights: jax.Array) -> jax.Array:
    _, avg = _bary_average(s, factors, weights)
    return avg - s


def _relative(residual: jax.Array, s: jax.Array) -> jax.Array:
    return jnp.linalg.norm(residual) / jnp.maximum(jnp.linalg.norm(s), jnp.finfo(s.dtype).tiny)


def _bary_cov(
    covs: jax.Array, weights: jax.Array, iteration: str, tol: float, max_iter: int
) -> tuple[jax.Array, GaussianBarycenterInfo]:
    factors = sqrtm_psd(covs)
    init = jnp.einsum("k,kij->ij", weights, covs)

    def solve(residual_fn: Any, s0: jax.Array) -> tuple[jax.Array, Any]:
        def cond(state: Any) -> jax.Array:
            _, it, res = state
            return (it < max_iter) & (res > tol)

        def body(state: Any) -> Any:
            s, it, _ = state
            s_next = _bary_step(s, factors, weights, iteration)
            res = _relative(residual_fn(s_next), s_next)
            return s_next, it + 1, res

        res0 = _relative(residual_fn(s0), s0)
        s, it, res = jax.lax.while_loop(cond, body, (s0, jnp.asarray(0), res0))
        # custom_root differentiates its auxiliary outputs too: keep them floating.
        return s, (it.astype(s.dtype), res)

    def tangent_solve(g: Any, y: jax.Array) -> jax.Array:
        # The dense (d^2, d^2) Jacobian is solved directly; custom_linear_solve supplies the
        # transpose that reverse mode needs, so the factorisation itself is never transposed.
        d = y.shape[-1]
        jac = jax.jacfwd(g)(y).reshape(d * d, d * d)
        return jax.lax.custom_linear_solve(
            lambda v: (jac @ v.reshape(-1)).reshape(d, d),
            y,
            solve=lambda _, b: linear_solve(jac, b.reshape(-1, 1)).reshape(d, d),
            transpose_solve=lambda _, b: linear_solve(jac.T, b.reshape(-1, 1)).reshape(d, d),
        )

    def residual(s: jax.Array) -> jax.Array:
        return _bary_residual(s, factors, weights)

    s, (it, res) = jax.lax.custom_root(residual, init, solve, tangent_solve, has_aux=True)
    it, res = jax.lax.stop_gradient((it, res))
    return s, GaussianBarycenterInfo(res <= tol, it.astype(jnp.int32), res)


def gaussian_barycenter(
    gaussians: Gaussian,
    weights: Any,
    *,
    iteration: str = "alvarez-esteban",
    tol: float | None = None,
    max_iter: int = 100,
    return_info: bool = False,
) -> Gaussian | tuple[Gaussian, GaussianBarycenterInfo]:
    """Wasserstein barycenter of Gaussians (seed 001, eqs. 14–16).

    .. math::
        m = \\sum_k\\lambda_k m_k, \\qquad
        \\Sigma = \\sum_k\\lambda_k(\\Sigma^{1/2}\\Sigma_k\\Sigma^{1/2})^{1/2}

    The covariance is the fixed point of eq. 16, found by either iteration of the paper
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
        gaussians: a Gaussian with one batch axis of length ``L`` (the inputs).
        weights: ``(L,)`` probability vector :math:`\\lambda`.
        iteration: ``"alvarez-esteban"`` or ``"averaging"``.
        tol: relative residual target (default ``100 * eps`` of the dtype).
        max_iter: iteration cap.
        return_info: also return a :class:`GaussianBarycenterInfo`.

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
    check_choice("iteration", iteration, _ITERATIONS)
    dtype = gaussians.mean.dtype
    weights = jnp.asarray(weights, dtype)
    if weights.shape != gaussians.batch_shape:
        raise ValueError(f"weights must have shape {gaussians.batch_shape}; got {weights.shape}")
    _check_simplex("weights", weights)
    tol = 100.0 * float(jnp.finfo(dtype).eps) if tol is None else float(tol)
    mean = weights @ gaussians.mean
    cov, info = _bary_cov(gaussians.full_cov(), weights, iteration, tol, int(max_iter))
    out = Gaussian._unchecked(mean, cov)
    return (out, info) if return_info else out


def _check_simplex(name: str, weights: jax.Array) -> None:
    if not is_concrete(weights):
        return
    w = np.asarray(weights, dtype=np.float64)
    if np.any(~np.isfinite(w)) or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-5:
        raise ValueError(f"{name} must be a probability vector (>= 0, sum 1); got {w.tolist()}")
