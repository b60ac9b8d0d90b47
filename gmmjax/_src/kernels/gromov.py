"""Gromov–Wasserstein between Gaussians of different dimensions (Delon, Desolneux & Salmona 2022).

For :math:`\\mu_0 = \\mathcal N(m_0, \\Sigma_0)` on :math:`\\mathbb R^{d_0}` and
:math:`\\mu_1 = \\mathcal N(m_1, \\Sigma_1)` on :math:`\\mathbb R^{d_1}`, the Gromov–Wasserstein
problem with the squared Euclidean inner costs,

.. math::
    GW_2^2(\\mu_0, \\mu_1) = \\inf_{\\pi \\in \\Pi(\\mu_0, \\mu_1)} \\iint
    \\big(\\|x - x'\\|^2 - \\|y - y'\\|^2\\big)^2 \\, d\\pi(x, y)\\, d\\pi(x', y'),

restricted to Gaussian couplings :math:`\\pi` (the "Gaussian Gromov–Wasserstein" problem)
has the closed form of Delon, Desolneux & Salmona (2022, Theorem 4.1):

.. math::
    GGW_2^2(\\mu_0, \\mu_1) = 4\\,(\\operatorname{tr}\\Sigma_0 - \\operatorname{tr}\\Sigma_1)^2
    + 8\\,\\|\\bar\\lambda^0 - \\bar\\lambda^1\\|^2,

where :math:`\\bar\\lambda^0, \\bar\\lambda^1` are the eigenvalues of :math:`\\Sigma_0,
\\Sigma_1` in decreasing order, the shorter list padded with zeros to
:math:`\\max(d_0, d_1)`. With :math:`\\Sigma_0 = U_0 \\Lambda_0 U_0^T`, :math:`\\Sigma_1 = U_1
\\Lambda_1 U_1^T` (decreasing eigenvalues) and :math:`k = \\min(d_0, d_1)`, an optimal coupling
is :math:`y = A x + b + \\varepsilon` with

.. math::
    A = U_1^{(k)} \\big(\\Lambda_1^{(k)}\\big)^{1/2} \\big(\\Lambda_0^{(k)}\\big)^{-1/2}
    U_0^{(k)T}, \\qquad b = m_1 - A m_0,

(the first :math:`k` eigenpairs) and :math:`\\varepsilon \\sim \\mathcal N(0, \\Sigma_1 - A
\\Sigma_0 A^T)` independent of :math:`x`; the noise vanishes when :math:`d_0 \\ge d_1`, where
:math:`y = Ax + b` is a map with :math:`A\\Sigma_0A^T = \\Sigma_1`. Optimal couplings are not
unique: flipping the sign of an eigenvector pair, or rotating within a repeated eigenvalue's
eigenspace, gives another one.

The value depends only on the spectra, whose derivative is the matrix-product rule of
:func:`gmmjax._src.math.linalg.spectrum` (finite at repeated eigenvalues).

The discrete Gromov–Wasserstein objective with the square loss, for symmetric inner cost
matrices :math:`C^0` (``(n, n)``) and :math:`C^1` (``(m, m)``) and a coupling :math:`\\pi`
(``(n, m)``) with marginals :math:`r = \\pi 1`, :math:`s = \\pi^T 1`, is expanded as in Peyré,
Cuturi & Solomon (2016, Proposition 1) so that no ``(n, m, n, m)`` tensor is formed:

.. math::
    \\mathcal E(\\pi) = \\sum_{ijkl} (C^0_{ik} - C^1_{jl})^2\\,\\pi_{ij}\\pi_{kl}
    = r^T (C^0 \\odot C^0) r + s^T (C^1 \\odot C^1) s
    - 2\\,\\langle C^0 \\pi C^1, \\pi\\rangle .

It is the objective of the mixture Gromov–Wasserstein distance
(:mod:`gmmjax._src.distances.mixture_gromov`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gmmjax._src.math.linalg import eigh, spectrum
from gmmjax._src.math.numerics import safe_sqrt

__all__ = ["ggw_squared", "ggw_transport_map", "gw_gradient", "gw_line_search", "gw_objective"]


def _padded_spectra(
    cov0: jax.Array, diagonal0: bool, cov1: jax.Array, diagonal1: bool
) -> tuple[jax.Array, jax.Array]:
    """Decreasing spectra of both covariances, zero-padded to ``max(d0, d1)``."""
    spectra = [
        -jnp.sort(-c, axis=-1) if diagonal else spectrum(c)
        for c, diagonal in ((cov0, diagonal0), (cov1, diagonal1))
    ]
    n = max(s.shape[-1] for s in spectra)
    pad = [(0, 0)] * (spectra[0].ndim - 1)
    return tuple(jnp.pad(s, [*pad, (0, n - s.shape[-1])]) for s in spectra)


def ggw_squared(cov0: jax.Array, diagonal0: bool, cov1: jax.Array, diagonal1: bool) -> jax.Array:
    """:math:`GGW_2^2` of Delon, Desolneux & Salmona (2022, Theorem 4.1) from two covariances.

    Args:
        cov0: ``(d0, d0)`` covariance, or ``(d0,)`` variances when ``diagonal0``.
        diagonal0: whether ``cov0`` holds diagonal variances.
        cov1: ``(d1, d1)`` covariance, or ``(d1,)`` variances when ``diagonal1``.
        diagonal1: whether ``cov1`` holds diagonal variances.

    Returns:
        The scalar :math:`4(\\operatorname{tr}\\Sigma_0 - \\operatorname{tr}\\Sigma_1)^2
        + 8\\|\\bar\\lambda^0 - \\bar\\lambda^1\\|^2` (the module docstring), clamped at 0.
    """
    l0, l1 = _padded_spectra(cov0, diagonal0, cov1, diagonal1)
    gap = jnp.sum(l0 - l1, axis=-1)
    return jnp.maximum(4.0 * gap**2 + 8.0 * jnp.sum((l0 - l1) ** 2, axis=-1), 0.0)


def _eigenbasis(cov: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Eigenvalues (decreasing, clamped at 0) and eigenvectors with a fixed sign convention.

    Each eigenvector is flipped so that its entry of largest magnitude is positive: the map is
    then a function of the covariances (for simple spectra), not of LAPACK's sign choices.
    """
    w, v = eigh(cov)
    w, v = jnp.maximum(w[::-1], 0.0), v[:, ::-1]
    pivot = jnp.take_along_axis(v, jnp.argmax(jnp.abs(v), axis=0)[None], axis=0)
    return w, v * jnp.where(pivot < 0, -1.0, 1.0)


def ggw_transport_map(
    mean0: jax.Array, cov0: jax.Array, mean1: jax.Array, cov1: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """The affine part :math:`(A, b)` of an optimal Gaussian Gromov–Wasserstein coupling.

    Args:
        mean0: ``(d0,)`` mean of the source.
        cov0: ``(d0, d0)`` covariance of the source.
        mean1: ``(d1,)`` mean of the target.
        cov1: ``(d1, d1)`` covariance of the target.

    Returns:
        ``A`` of shape ``(d1, d0)`` and ``b`` of shape ``(d1,)`` (the module docstring).
        Directions where :math:`\\Sigma_0` has a zero eigenvalue map to 0 (a pseudo-inverse).
    """
    w0, v0 = _eigenbasis(cov0)
    w1, v1 = _eigenbasis(cov1)
    k = min(w0.shape[-1], w1.shape[-1])
    positive = w0[:k] > w0[0] * jnp.finfo(w0.dtype).eps
    scale = jnp.where(positive, safe_sqrt(w1[:k] / jnp.where(positive, w0[:k], 1.0)), 0.0)
    a = (v1[:, :k] * scale) @ v0[:, :k].T
    return a, mean1 - a @ mean0


def gw_objective(c0: jax.Array, c1: jax.Array, plan: jax.Array) -> jax.Array:
    """:math:`\\mathcal E(\\pi)` of the module docstring (symmetric ``c0``, ``c1``)."""
    r, s = jnp.sum(plan, axis=1), jnp.sum(plan, axis=0)
    cross = jnp.sum((c0 @ plan @ c1) * plan)
    return r @ (c0**2) @ r + s @ (c1**2) @ s - 2.0 * cross


def gw_gradient(c0: jax.Array, c1: jax.Array, plan: jax.Array) -> jax.Array:
    """:math:`\\nabla\\mathcal E(\\pi) = 2\\big((C^0\\odot C^0)r\\,1^T + 1\\,((C^1\\odot C^1)s)^T
    - 2\\,C^0\\pi C^1\\big)` (symmetric ``c0``, ``c1``)."""
    r, s = jnp.sum(plan, axis=1), jnp.sum(plan, axis=0)
    return 2.0 * (((c0**2) @ r)[:, None] + ((c1**2) @ s)[None, :] - 2.0 * c0 @ plan @ c1)


def gw_line_search(
    c0: jax.Array, c1: jax.Array, direction: jax.Array, slope: jax.Array
) -> jax.Array:
    """Exact minimiser over :math:`t \\in [0, 1]` of :math:`\\mathcal E(\\pi + tD)`.

    :math:`\\mathcal E(\\pi + tD) = \\mathcal E(\\pi) + t\\,\\langle\\nabla\\mathcal E(\\pi),
    D\\rangle + t^2\\,\\mathcal E(D)`, a parabola: ``slope`` is the middle coefficient; the
    vertex when the curvature :math:`\\mathcal E(D)` is positive, else the better end.
    """
    curvature = gw_objective(c0, c1, direction)
    vertex = jnp.clip(-slope / (2.0 * jnp.where(curvature > 0, curvature, 1.0)), 0.0, 1.0)
    end = jnp.where(curvature + slope < 0, 1.0, 0.0)
    return jnp.where(curvature > 0, vertex, end)
