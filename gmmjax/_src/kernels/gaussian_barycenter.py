"""The Wasserstein barycenter covariance of Gaussians (Chen, Georgiou & Tannenbaum 2019, eq. 16).

.. math:: \\Sigma = \\sum_k\\lambda_k(\\Sigma^{1/2}\\Sigma_k\\Sigma^{1/2})^{1/2}

found by the fixed-point iterations of Álvarez-Esteban et al. (2016) and differentiated at
the fixed point by the implicit function theorem (``lax.custom_root``), not through the loop.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gmmjax._src.math.linalg import solve as linear_solve
from gmmjax._src.math.matfuncs import sqrtm_psd
from gmmjax._src.math.numerics import matrix_transpose, symmetrize

__all__ = ["ITERATIONS", "GaussianBarycenterInfo", "barycenter_covariance"]


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


ITERATIONS = ("alvarez-esteban", "averaging")


def _bary_average(s: jax.Array, factors: jax.Array, weights: jax.Array) -> tuple[Any, Any]:
    """``(S^{1/2}, sum_k lambda_k (S^{1/2} Sigma_k S^{1/2})^{1/2})``."""
    root = sqrtm_psd(s)
    inner = root[None] @ factors
    terms = sqrtm_psd(symmetrize(inner @ matrix_transpose(inner)))
    return root, jnp.einsum("k,kij->ij", weights, terms)


def _bary_step(s: jax.Array, factors: jax.Array, weights: jax.Array, iteration: str) -> Any:
    root, avg = _bary_average(s, factors, weights)
    if iteration == "averaging":
        return avg
    x = linear_solve(root, avg)  # S^{-1/2} R
    return symmetrize(x @ matrix_transpose(x))  # S^{-1/2} R^2 S^{-1/2}


def _bary_residual(s: jax.Array, factors: jax.Array, weights: jax.Array) -> jax.Array:
    _, avg = _bary_average(s, factors, weights)
    return avg - s


def _relative(residual: jax.Array, s: jax.Array) -> jax.Array:
    return jnp.linalg.norm(residual) / jnp.maximum(jnp.linalg.norm(s), jnp.finfo(s.dtype).tiny)


def barycenter_covariance(
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
