"""Gromov–Wasserstein between Gaussians living in spaces of different dimensions.

The public face of :mod:`gmmjax._src.kernels.gromov` (Delon, Desolneux & Salmona 2022): argument
checks and batch lifting around the closed forms.
"""

from __future__ import annotations

import jax

from gmmjax._src.core.arguments import require_type
from gmmjax._src.core.lift import map_pairs
from gmmjax._src.core.mixture import Gaussian
from gmmjax._src.kernels.gromov import ggw_squared, ggw_transport_map
from gmmjax._src.math.numerics import safe_sqrt

__all__ = ["gaussian_gromov_wasserstein", "gaussian_gromov_wasserstein_map"]


def _check(g0: object, g1: object) -> None:
    require_type("g0", g0, Gaussian)
    require_type("g1", g1, Gaussian)


def _distance_pair(a: Gaussian, b: Gaussian) -> jax.Array:
    return safe_sqrt(ggw_squared(a.cov, a.is_diagonal, b.cov, b.is_diagonal))


def _map_pair(a: Gaussian, b: Gaussian) -> tuple[jax.Array, jax.Array]:
    return ggw_transport_map(a.mean, a.full_cov(), b.mean, b.full_cov())


def gaussian_gromov_wasserstein(g0: Gaussian, g1: Gaussian) -> jax.Array:
    """Gaussian Gromov–Wasserstein distance between Gaussians of any two dimensions.

    The Gromov–Wasserstein problem with squared Euclidean inner costs, restricted to Gaussian
    couplings, in the closed form of Delon, Desolneux & Salmona (2022, Theorem 4.1):

    .. math::
        GGW_2(\\mu_0, \\mu_1) = \\Big(4\\,(\\operatorname{tr}\\Sigma_0
        - \\operatorname{tr}\\Sigma_1)^2
        + 8\\,\\|\\bar\\lambda^0 - \\bar\\lambda^1\\|^2\\Big)^{1/2},

    with :math:`\\bar\\lambda^i` the eigenvalues of :math:`\\Sigma_i` in decreasing order, the
    shorter list padded with zeros. It compares shapes, not positions: it is invariant to
    translations and rotations of either space, and ``g0`` and ``g1`` may have different
    dimensions. The same quantity as POT's ``ot.gaussian.gaussian_gromov_wasserstein_distance``.
    The derivative (with respect to the covariances; the means do not enter) needs no
    eigenvector derivative, so it is finite at repeated eigenvalues; at
    :math:`GGW_2 = 0` it is taken as 0.

    Args:
        g0: Gaussian on :math:`\\mathbb R^{d_0}` (full or diagonal covariance); batch axes
            broadcast against ``g1``'s.
        g1: Gaussian on :math:`\\mathbb R^{d_1}`, ``d_1`` independent of ``d_0``.

    Returns:
        The distance (not squared), of shape the broadcast batch shape.

    Raises:
        TypeError: when ``g0`` or ``g1`` is not a :class:`Gaussian`.

    Example:
        >>> import jax.numpy as jnp
        >>> g0 = Gaussian(jnp.zeros(2), jnp.diag(jnp.array([2.0, 1.0])))
        >>> g1 = Gaussian(jnp.zeros(1), jnp.array([[2.0]]))
        >>> round(float(gaussian_gromov_wasserstein(g0, g1)), 6)  # sqrt(4 + 8)
        3.464102
    """
    _check(g0, g1)
    return map_pairs(_distance_pair, g0, g1)


def gaussian_gromov_wasserstein_map(g0: Gaussian, g1: Gaussian) -> tuple[jax.Array, jax.Array]:
    """Affine map :math:`T(x) = Ax + b` of an optimal Gaussian Gromov–Wasserstein coupling.

    From Delon, Desolneux & Salmona (2022, Theorem 4.1), with :math:`\\Sigma_i = U_i\\Lambda_i
    U_i^T` (decreasing eigenvalues) and :math:`k = \\min(d_0, d_1)`:

    .. math::
        A = U_1^{(k)}\\big(\\Lambda_1^{(k)}\\big)^{1/2}\\big(\\Lambda_0^{(k)}\\big)^{-1/2}
        U_0^{(k)T}, \\qquad b = m_1 - A m_0.

    When :math:`d_0 \\ge d_1`, :math:`(x, T(x))` is an optimal coupling and
    :math:`A\\Sigma_0A^T = \\Sigma_1` (``T`` pushes ``g0`` onto ``g1``). When :math:`d_0 < d_1`
    no map is optimal: an optimal coupling is :math:`y = T(x) + \\varepsilon` with independent
    :math:`\\varepsilon \\sim \\mathcal N(0, \\Sigma_1 - A\\Sigma_0A^T)`, and ``T`` is its
    conditional mean. Optimal couplings are unique only up to reflections of eigenvectors
    (and rotations within repeated eigenvalues); the one returned fixes each eigenvector's
    sign by making its largest entry positive. Differentiable where both spectra are simple
    (eigenvector derivatives divide by eigenvalue gaps).

    Args:
        g0: source Gaussian on :math:`\\mathbb R^{d_0}`; batch axes broadcast against ``g1``'s.
        g1: target Gaussian on :math:`\\mathbb R^{d_1}`.

    Returns:
        ``(A, b)`` with shapes ``batch + (d1, d0)`` and ``batch + (d1,)``, the convention of
        :func:`gmmjax.gaussian_transport_map` (POT's mapping returns :math:`A^T`).

    Raises:
        TypeError: when ``g0`` or ``g1`` is not a :class:`Gaussian`.

    Example:
        >>> import jax.numpy as jnp
        >>> g0 = Gaussian(jnp.zeros(2), jnp.diag(jnp.array([4.0, 1.0])))
        >>> g1 = Gaussian(jnp.ones(1), jnp.array([[9.0]]))
        >>> a, b = gaussian_gromov_wasserstein_map(g0, g1)
        >>> a.round(6).tolist(), b.tolist()
        ([[1.5, 0.0]], [1.0])
    """
    _check(g0, g1)
    return map_pairs(_map_pair, g0, g1)
