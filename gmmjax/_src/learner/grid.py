"""The fixed grid basis of Lu et al. (2023), §2.1.

Means sit on an evenly spaced grid spanning the data, every component shares one width
``sigma = t * r`` tied to the grid spacing ``r``, and the weights start uniform. Only the weights
are learned afterwards (:func:`gmmjax.fit_weights`, :func:`gmmjax.paper_algorithm1`). Without
``t`` the width is chosen from the data by :func:`gmmjax.select_grid_width`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.core.checks import is_concrete
from gmmjax._src.core.mixture import GMM

if TYPE_CHECKING:
    from gmmjax._src.learner.bandwidth import WidthChoice

__all__ = ["as_points", "basis_spacing", "grid_basis", "grid_spacing"]


def as_points(x: Any, name: str = "x") -> jnp.ndarray:
    """``x`` as a float ``(N, d)`` array: 1-D input ``(N,)`` becomes ``(N, 1)``.

    Raises ``ValueError`` (naming ``name``) for a wrong rank, no points, or non-finite values
    (value check only when ``x`` is concrete).
    """
    arr = jnp.asarray(x)
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.result_type(float))
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N,) or (N, d) with N >= 1; got {arr.shape}")
    if is_concrete(arr):
        values = np.asarray(arr)
        if not np.all(np.isfinite(values)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
            raise ValueError(f"{name} must be finite; {name}[{bad}] = {values[bad]}")
    return arr


def _per_axis(n_components: int | Sequence[int], d: int) -> tuple[int, ...]:
    counts = (n_components,) * d if np.ndim(n_components) == 0 else tuple(n_components)
    if len(counts) != d:
        raise ValueError(f"n_components needs one count per axis ({d}); got {n_components!r}")
    for c in counts:
        if isinstance(c, bool) or int(c) != c or int(c) < 1:
            raise ValueError(f"n_components must be positive integers; got {n_components!r}")
    return tuple(int(c) for c in counts)


def grid_spacing(x: Any, n_components: int | Sequence[int]) -> jnp.ndarray:
    """Grid spacing :math:`r = (\\max X - \\min X)/n` per axis (Lu et al. 2023, §2.1), ``(d,)``."""
    pts = as_points(x)
    counts = jnp.asarray(_per_axis(n_components, pts.shape[1]), pts.dtype)
    return (jnp.max(pts, axis=0) - jnp.min(pts, axis=0)) / counts


def basis_spacing(basis: GMM) -> jnp.ndarray:
    """Spacing of a basis's means per axis: the smallest non-zero gap along it, ``(d,)``.

    For a grid basis this is the grid spacing ``r`` of every axis, so grid neighbours are one
    spacing apart whatever the data scale. An axis on which all means coincide gets ``1``.

    Example:
        >>> basis_spacing(grid_basis(jnp.array([0.0, 1.0, 4.0]), 4, 1.0)).tolist()
        [1.0]
    """
    gaps = jnp.abs(basis.means[:, None, :] - basis.means[None, :, :])
    spacing = jnp.min(jnp.where(gaps > 0, gaps, jnp.inf), axis=(0, 1))
    return jnp.where(jnp.isfinite(spacing), spacing, 1.0)


def grid_basis(
    x: Any,
    n_components: int | Sequence[int],
    t: float | None = None,
    *,
    key: jax.Array | None = None,
    return_choice: bool = False,
) -> GMM | tuple[GMM, WidthChoice | None]:
    """The fixed-basis mixture of Lu, Ding, Wu & Yuan (2023, §2.1), laid over the data ``x``.

    For 1-D data with :math:`n` components,

    .. math::
        r = \\frac{\\max X - \\min X}{n}, \\qquad \\mu_i = \\min X + i\\,r
        \\quad (i = 0, \\dots, n-1), \\qquad \\sigma = t\\,r, \\qquad \\pi_i = 1/n,

    so the first mean is the smallest data point and the last is :math:`\\max X - r` (the
    paper's :math:`\\mu_i = \\min(X) + i\\times r` read with :math:`i` counted from 0, which
    gives exactly :math:`n` components). ``sigma`` is a standard deviation: the components'
    variances are :math:`(t r)^2`. For ``d``-dimensional data the basis is the tensor grid:
    axis ``a`` gets its own spacing :math:`r_a` and ``n_a`` means, every component has the
    diagonal covariance :math:`\\mathrm{diag}((t r_a)^2)`, and there are :math:`\\prod_a n_a`
    components ordered with the last axis fastest (``numpy.meshgrid(..., indexing="ij")``).

    Without ``t`` the width is chosen from the data: the candidate of
    :func:`gmmjax.select_grid_width` with the best held-out likelihood (within one standard
    error, the widest), which resolves the structure the grid can show instead of blurring
    it (a fixed ``t`` that is too wide turns two clusters into one blob). That needs concrete
    data with at least 10 points, so under ``jit`` pass ``t``. An explicit ``t`` is used as
    given.

    Args:
        x: data, ``(N,)`` or ``(N, d)``.
        n_components: components per axis (an int, or one int per axis).
        t: width of every component in grid spacings, ``> 0`` (the paper uses 1 to 5);
            default ``None``: chosen from the data by :func:`gmmjax.select_grid_width`.
        key: PRNG key of the held-out split when ``t`` is ``None`` (ignored otherwise);
            default ``jax.random.key(0)``, so the same data give the same width.
        return_choice: also return how ``t`` was set: the :class:`gmmjax.WidthChoice` of
            the selection (chosen ``t``, every candidate's held-out score), or ``None`` for
            an explicit ``t``. Default ``False``.

    Returns:
        A GMM with uniform weights, ``(K, d)`` means and ``(K, d)`` diagonal variances; with
        ``return_choice=True``, the pair ``(basis, choice)``.

    Raises:
        ValueError: for data that are not finite, an axis with fewer than two distinct values
            (``r = 0``), non-positive or infinite ``t``, or a bad ``n_components``; without
            ``t``, for fewer than 10 points or data under ``jit``. Under ``jit`` only the
            structural checks run.

    Example:
        >>> basis = grid_basis(jnp.array([0.0, 1.0, 4.0]), 4, t=2.0)
        >>> basis.means[:, 0].tolist(), basis.covs[:, 0].tolist()
        ([0.0, 1.0, 2.0, 3.0], [4.0, 4.0, 4.0, 4.0])
    """
    pts = as_points(x)
    d = pts.shape[1]
    counts = _per_axis(n_components, d)
    choice = None
    if t is None:
        choice = _chosen_width(pts, counts, key)
        t = choice.t
    elif is_concrete(t) and not (math.isfinite(float(t)) and float(t) > 0.0):
        raise ValueError(f"t must be > 0 and finite; got {t!r}")
    lo = jnp.min(pts, axis=0)
    hi = jnp.max(pts, axis=0)
    if is_concrete(pts):
        flat = np.asarray(hi - lo)
        if np.any(flat <= 0):
            axis = int(np.argmax(flat <= 0))
            raise ValueError(
                f"x needs at least two distinct values on every axis; axis {axis} is constant"
            )
    r = (hi - lo) / jnp.asarray(counts, pts.dtype)
    axes = [lo[a] + jnp.arange(counts[a], dtype=pts.dtype) * r[a] for a in range(d)]
    mesh = jnp.meshgrid(*axes, indexing="ij")
    means = jnp.stack([m.reshape(-1) for m in mesh], axis=-1)
    k = means.shape[0]
    variances = jnp.broadcast_to((jnp.asarray(t, pts.dtype) * r) ** 2, (k, d))
    weights = jnp.full((k,), 1.0 / k, pts.dtype)
    basis = GMM._unchecked(weights, means, variances)
    return (basis, choice) if return_choice else basis


def _chosen_width(pts: jnp.ndarray, counts: tuple[int, ...], key: Any) -> WidthChoice:
    """The :func:`~gmmjax.select_grid_width` choice for ``grid_basis`` without ``t``."""
    if not is_concrete(pts):
        raise ValueError(
            "grid_basis without t chooses the width from the data, which needs concrete x; "
            "under jit pass t"
        )
    if pts.shape[0] < 10:
        raise ValueError(
            "grid_basis without t chooses the width on held-out points and needs at least "
            f"10 of them; x has {pts.shape[0]} (pass t)"
        )
    from gmmjax._src.learner.bandwidth import select_grid_width  # it builds grid bases itself

    return select_grid_width(pts, counts, key=key)
