r"""Gaussian terms of :math:`S = UU^T + cI` through the Woodbury identity and determinant lemma.

For :math:`U` of shape ``(d, m)`` with :math:`m \ll d` and :math:`c > 0`, with the
``m x m`` capacitance matrix :math:`C = I + U^TU/c = LL^T`,

.. math::
    \log\det S = d\log c + \log\det C, \qquad
    r^TS^{-1}r = \frac{\|r\|^2}{c} - \frac{\|L^{-1}U^Tr\|^2}{c^2}

(matrix determinant lemma and Woodbury identity; Petersen and Pedersen, *The Matrix
Cookbook*, §3.2.2 and §9.1.1). :math:`C \succeq I`, so its Cholesky factor exists for any
:math:`U`, rank-deficient ones included, and costs :math:`O(dm^2 + m^3)` instead of
:math:`O(d^3)`. The factorisation goes through
:func:`~gmmjax._src.math.linalg.cholesky_and_inverse` (LAPACK-safe batches, matrix-product
JVP). Nothing here knows about mixtures: callers pass norms, projections and Gram matrices.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gmmjax._src.math.linalg import cholesky_and_inverse

__all__ = ["capacitance", "woodbury_mahalanobis"]


def capacitance(gram: jax.Array, noise: jax.Array) -> tuple[jax.Array, jax.Array]:
    r""":math:`\log\det C` and :math:`L^{-1}` for :math:`C = I + G/c = LL^T`.

    Args:
        gram: ``(..., m, m)`` Gram matrices :math:`G = U^TU`.
        noise: ``(...)`` isotropic variances :math:`c > 0`.

    Returns:
        ``(logdet, inverse)``: ``(...)`` and ``(..., m, m)``.

    Example:
        >>> logdet, inv = capacitance(jnp.array([[3.0]]), jnp.array(1.0))
        >>> round(float(jnp.exp(logdet)), 6), round(float(inv[0, 0]), 6)
        (4.0, 0.5)
    """
    eye = jnp.eye(gram.shape[-1], dtype=gram.dtype)
    chol, inverse = cholesky_and_inverse(eye + gram / noise[..., None, None])
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return logdet, inverse


def woodbury_mahalanobis(
    sq_norm: jax.Array, projection: jax.Array, noise: jax.Array, inverse: jax.Array
) -> jax.Array:
    r""":math:`r^T(UU^T + cI)^{-1}r = \|r\|^2/c - \|L^{-1}U^Tr\|^2/c^2`.

    Args:
        sq_norm: ``(...)`` squared norms :math:`\|r\|^2`.
        projection: ``(..., m)`` projections :math:`U^Tr`.
        noise: ``(...)`` isotropic variances :math:`c`.
        inverse: ``(..., m, m)`` :math:`L^{-1}` from :func:`capacitance` (broadcasts).

    Returns:
        ``(...)`` squared Mahalanobis distances (clamped at 0 against round-off).
    """
    z = jnp.einsum("...ij,...j->...i", inverse, projection)
    return jnp.maximum(sq_norm / noise - jnp.sum(z**2, axis=-1) / noise**2, 0.0)
