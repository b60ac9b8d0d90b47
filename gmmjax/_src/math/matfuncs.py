"""Matrix functions of PSD matrices with derivatives that stay finite at repeated eigenvalues.

The symmetric square root, the nuclear norm and the orthogonal polar factor are the pieces
of Gaussian optimal transport (Chen, Georgiou & Tannenbaum 2019, §II.A). Their values come
from one LAPACK-safe ``eigh`` or SVD (:mod:`gmmjax._src.math.linalg`); their JVPs are matrix
products that divide by sums :math:`\\sqrt{\\lambda_i}+\\sqrt{\\lambda_j}` or :math:`s_i+s_j`,
never by the eigenvalue gaps of an eigenvector derivative, so they are finite at
:math:`\\Sigma = cI`, at :math:`\\Sigma_0 = \\Sigma_1` and for singular matrices. Nothing uses
``schur`` (which has no GPU lowering).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gmmjax._src.math.linalg import eigh, singular_values, svd
from gmmjax._src.math.numerics import matrix_transpose, symmetrize

__all__ = ["nuclear_norm", "polar_factor", "sqrtm_psd", "sqrtm_psd_and_roots"]

_mT = matrix_transpose


def _zero_tolerance(r: jax.Array) -> jax.Array:
    """Square roots of eigenvalues below this are round-off of an exact zero."""
    eps = jnp.finfo(r.dtype).eps
    return r.shape[-1] * jnp.sqrt(eps) * jnp.max(r, axis=-1, keepdims=True)


def _root_eigenvalues(w: jax.Array) -> jax.Array:
    """Square roots of eigenvalues; those within ``d * eps * max`` of 0 are round-off -> 0."""
    floor = w.shape[-1] * jnp.finfo(w.dtype).eps * jnp.max(jnp.abs(w), axis=-1, keepdims=True)
    return jnp.sqrt(jnp.where(w > floor, w, 0.0))


def _gap_quotient(x: jax.Array, roots: jax.Array) -> jax.Array:
    """:math:`X_{ij}/(r_i + r_j)`, 0 where both roots are (numerically) zero."""
    den = roots[..., :, None] + roots[..., None, :]
    ok = den > _zero_tolerance(roots)[..., None]
    return jnp.where(ok, x / jnp.where(ok, den, 1.0), 0.0)


@jax.custom_jvp
def sqrtm_psd(s: jax.Array) -> jax.Array:
    """Symmetric PSD square root :math:`\\Sigma^{1/2}` of ``(..., d, d)`` matrices (via ``eigh``).

    Eigenvalues below ``d * eps * max|eigenvalue|`` are indistinguishable from round-off of an
    exact zero and are set to 0 (a singular covariance stays exactly singular).

    The JVP solves the Sylvester equation :math:`F\\,dF + dF\\,F = d\\Sigma` in the eigenbasis,
    :math:`dF_{ij} = d\\Sigma_{ij}/(\\sqrt{\\lambda_i}+\\sqrt{\\lambda_j})`, finite at repeated
    eigenvalues; directions where both roots are (numerically) zero get derivative 0.

    Example:
        >>> sqrtm_psd(jnp.array([[4.0, 0.0], [0.0, 9.0]])).tolist()
        [[2.0, 0.0], [0.0, 3.0]]
    """
    return _root_and_eigen(s)[0]


def _root_and_eigen(s: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(F, r, V)``: the PSD root, root eigenvalues (ascending) and eigenvectors of ``s``."""
    w, v = eigh(s)
    r = _root_eigenvalues(w)
    return symmetrize((v * r[..., None, :]) @ _mT(v)), r, v


def _root_tangent(ds: jax.Array, r: jax.Array, v: jax.Array) -> jax.Array:
    """:math:`dF` solving :math:`F\\,dF + dF\\,F = d\\Sigma` in the eigenbasis ``v``."""
    return v @ _gap_quotient(_mT(v) @ symmetrize(ds) @ v, r) @ _mT(v)


@sqrtm_psd.defjvp
def _sqrtm_psd_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]) -> Any:
    (s,), (ds,) = primals, tangents
    f, r, v = _root_and_eigen(s)
    return f, _root_tangent(ds, r, v)


@jax.custom_jvp
def sqrtm_psd_and_roots(s: jax.Array) -> tuple[jax.Array, jax.Array]:
    """:func:`sqrtm_psd` and the square roots of the eigenvalues (ascending), one ``eigh``.

    The roots (eigenvalues of :math:`\\Sigma^{1/2}`, those below round-off set to 0) serve as
    bounds on singular values and are not differentiated (zero tangent); the root has
    :func:`sqrtm_psd`'s JVP.

    Example:
        >>> f, r = sqrtm_psd_and_roots(jnp.array([[9.0, 0.0], [0.0, 4.0]]))
        >>> f.tolist(), r.tolist()
        ([[3.0, 0.0], [0.0, 2.0]], [2.0, 3.0])
    """
    f, r, _ = _root_and_eigen(s)
    return f, r


@sqrtm_psd_and_roots.defjvp
def _sqrtm_psd_and_roots_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]) -> Any:
    (s,), (ds,) = primals, tangents
    f, r, v = _root_and_eigen(s)
    return (f, r), (_root_tangent(ds, r, v), jnp.zeros_like(r))


@jax.custom_jvp
def nuclear_norm(m: jax.Array) -> jax.Array:
    """Sum of singular values of ``(..., d, d)`` matrices; JVP :math:`\\langle UV^T, dM\\rangle`.

    ``d = 1`` and ``d = 2`` use closed forms (no LAPACK call):
    :math:`s_1 + s_2 = \\sqrt{\\|M\\|_F^2 + 2|\\det M|}`, a sum of non-negative terms, so it
    is as accurate as the SVD; evaluated for :math:`M/\\max_{ij}|M_{ij}|` and scaled back, so
    that it neither over- nor underflows where the norm itself fits the dtype.

    Example:
        >>> float(nuclear_norm(jnp.array([[3.0, 0.0], [0.0, -4.0]])))
        7.0
    """
    d = m.shape[-1]
    if d == 1:
        return jnp.abs(m[..., 0, 0])
    if d == 2:
        # Scaled by the largest entry first: the squares of entries above sqrt(max) (1e19 in
        # float32, variances 1e20 in W2) would overflow, those below sqrt(tiny) underflow.
        scale = jnp.max(jnp.abs(m), axis=(-2, -1))
        scale = jnp.where((scale > 0) & jnp.isfinite(scale), scale, 1.0)
        u = m / scale[..., None, None]
        det = u[..., 0, 0] * u[..., 1, 1] - u[..., 0, 1] * u[..., 1, 0]
        return scale * jnp.sqrt(jnp.sum(u**2, axis=(-2, -1)) + 2.0 * jnp.abs(det))
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

    Example:
        >>> polar_factor(jnp.array([[2.0, 0.0], [0.0, -3.0]])).tolist()
        [[1.0, 0.0], [0.0, -1.0]]
    """
    u, _, vt = svd(m)
    return u @ vt


@polar_factor.defjvp
def _polar_factor_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]) -> Any:
    (m,), (dm,) = primals, tangents
    u, s, vt = svd(m)
    x = _mT(u) @ dm @ _mT(vt)
    return u @ vt, u @ _gap_quotient(x - _mT(x), s) @ vt
