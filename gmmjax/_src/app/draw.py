"""Drawings of Gaussian mixtures on matplotlib Axes: the implementation of :mod:`gmmjax.plot`.

Densities are evaluated by gmmjax itself (``log_prob`` on a whole grid at once). matplotlib is
imported only when a drawing needs it, so importing this module never does; the public module
:mod:`gmmjax.plot` checks for it on import instead. Nothing here chooses a backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.app.optional import require
from gmmjax._src.core.mixture import GMM, component_variances
from gmmjax._src.distances.transport import geodesic

__all__ = [
    "Grid2D",
    "contours_2d",
    "coupling",
    "density",
    "density_1d",
    "geodesic_strip",
    "grid_2d",
    "mixture_path",
    "readable_ticks",
]

_PURPOSE = "gmmjax.plot"


# --------------------------------------------------------------------------- evaluation
def density(gmm: GMM, x: Any) -> np.ndarray:
    """The density of ``gmm`` at ``x`` as a NumPy array, from one batched ``log_prob`` call.

    ``x`` is ``(n, d)``, or ``(n,)`` for a 1-D mixture. A batched ``gmm`` gives
    ``batch_shape + (n,)``.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> [round(float(v), 4) for v in density(p, np.array([0.0, 1.0]))]
        [0.3989, 0.242]
    """
    x = _points(gmm, x)
    return np.asarray(jnp.exp(gmm.log_prob(x)))


def _weighted_components(gmm: GMM, x: Any) -> np.ndarray:
    """``w_k N(x | mu_k, Sigma_k)`` for the components of positive weight: ``(n, K+)``."""
    weights = np.asarray(gmm.weights)
    per_component = np.exp(np.asarray(gmm.component_log_prob(_points(gmm, x))))
    keep = weights > 0
    return per_component[:, keep] * weights[keep]


def _points(gmm: GMM, x: Any) -> jax.Array:
    x = jnp.asarray(x, gmm.dtype)
    return x[:, None] if x.ndim == 1 and gmm.dim == 1 else x


class Grid2D(NamedTuple):
    """A rectangular grid: ``xx``, ``yy`` of shape ``(n, n)`` and their ``(n * n, 2)`` points."""

    xx: np.ndarray
    yy: np.ndarray
    points: np.ndarray


def grid_2d(lo: Any, hi: Any, n: int) -> Grid2D:
    """An ``n`` x ``n`` grid over the box ``[lo, hi]`` (scalars or one bound per axis).

    Example:
        >>> grid_2d(0.0, [1.0, 2.0], 3).points[-1].tolist()
        [1.0, 2.0]
    """
    lo, hi = np.broadcast_to(lo, (2,)), np.broadcast_to(hi, (2,))
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    return Grid2D(xx, yy, np.stack([xx.ravel(), yy.ravel()], -1))


def _extent(gmm: GMM, data: Any = None, width: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis bounds covering ``width`` standard deviations of every used component and data.

    ``gmm`` may be a stacked collection; its batch axes are covered too.
    """
    used = np.asarray(gmm.weights) > 0
    means = np.asarray(gmm.means)[used]
    variances = np.asarray(component_variances(gmm))[used]
    spread = width * np.sqrt(variances)
    lo, hi = (means - spread).min(0), (means + spread).max(0)
    if data is not None:
        data = np.asarray(data, float).reshape(-1, gmm.dim)
        lo, hi = np.minimum(lo, data.min(0)), np.maximum(hi, data.max(0))
    return lo, hi


def _grid_1d(gmm: GMM, data: Any, n: int) -> np.ndarray:
    lo, hi = _extent(gmm, data)
    return np.linspace(lo[0], hi[0], n)


def _grid_for(gmm: GMM, bounds: Any, samples: Any, n: int) -> Grid2D:
    lo, hi = _extent(gmm, samples, width=3.0) if bounds is None else bounds
    return grid_2d(lo, hi, n)


def _require_dim(name: str, gmm: GMM, dims: Sequence[int]) -> None:
    if gmm.batch_shape:
        raise ValueError(f"{name} draws one mixture; got a collection of shape {gmm.batch_shape}")
    if gmm.dim not in dims:
        raise ValueError(f"{name} draws mixtures of dimension {dims}; got dimension {gmm.dim}")


# --------------------------------------------------------------------------- matplotlib
def _pyplot() -> Any:
    require("matplotlib", _PURPOSE)
    import matplotlib.pyplot as plt

    return plt


def _axes(ax: Any) -> Any:
    """``ax``, or the current Axes of pyplot when ``ax`` is ``None``."""
    return _pyplot().gca() if ax is None else ax


def readable_ticks(ax: Any, max_ticks: int, *, prune_x: str | None = None) -> None:
    """At most ``max_ticks`` (+1) ticks on each axis, at round numbers, so labels never touch.

    ``prune_x="both"`` drops the x ticks at the two ends, where the labels of panels side by
    side would meet.
    """
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=max_ticks, prune=prune_x))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=max_ticks))


# --------------------------------------------------------------------------- 1-D density
def density_1d(
    gmm: GMM,
    x: Any = None,
    *,
    ax: Any = None,
    components: bool = False,
    data: Any = None,
    bins: int | str = 50,
    n: int = 400,
    label: str | None = "mixture",
    xlabel: str = "x",
    ylabel: str = "density",
    **line_kwargs: Any,
) -> Any:
    """Draw the density of a 1-D mixture, optionally its weighted components and a histogram.

    Args:
        gmm: a single 1-D mixture.
        x: points to evaluate the density at; default ``n`` points spanning four standard
            deviations around every component (and ``data``).
        ax: the Axes to draw on; default the current Axes.
        components: also draw ``w_k N(x | mu_k, sigma_k^2)`` of every component of positive
            weight, dashed, in the mixture's colour.
        data: samples ``(m,)`` or ``(m, 1)`` to show as a density histogram under the curve.
        bins: histogram bins (as ``Axes.hist``).
        n: number of grid points when ``x`` is not given.
        label: legend label of the mixture curve (``None``: no label).
        xlabel, ylabel: axis labels.
        **line_kwargs: passed to ``Axes.plot`` for the mixture curve (``color``, ``lw``...).

    Returns:
        The Axes drawn on.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> from gmmjax import GMM
        >>> from gmmjax.plot import density_1d
        >>> fig, ax = plt.subplots()
        >>> p = GMM.univariate([0.3, 0.7], [-1.0, 2.0], [0.5, 1.0])
        >>> density_1d(p, components=True, ax=ax).get_ylabel()
        'density'
        >>> plt.close(fig)
    """
    _require_dim("density_1d", gmm, (1,))
    ax = _axes(ax)
    if data is not None:
        values = np.asarray(data, float).ravel()
        ax.hist(values, bins=bins, density=True, alpha=0.35, color="0.5", label="data")
    x = _grid_1d(gmm, data, n) if x is None else np.asarray(x, float).ravel()
    (line,) = ax.plot(x, density(gmm, x), label=label, **line_kwargs)
    if components:
        _draw_components(ax, gmm, x, line.get_color())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def _draw_components(ax: Any, gmm: GMM, x: np.ndarray, color: Any) -> None:
    curves = _weighted_components(gmm, x)
    for k in range(curves.shape[1]):
        label = "weighted components" if k == 0 else None
        ax.plot(x, curves[:, k], ls="--", lw=0.9, color=color, alpha=0.8, label=label)


# --------------------------------------------------------------------------- 2-D contours
def contours_2d(
    gmm: GMM,
    *,
    ax: Any = None,
    bounds: Any = None,
    n: int = 100,
    filled: bool = True,
    levels: Any = 10,
    samples: Any = None,
    colorbar: bool = True,
    colorbar_label: str = "density",
    xlabel: str = "$x_1$",
    ylabel: str = "$x_2$",
    **contour_kwargs: Any,
) -> Any:
    """Draw filled or line contours of a 2-D mixture's density, with a colorbar.

    Args:
        gmm: a single 2-D mixture.
        ax: the Axes to draw on; default the current Axes.
        bounds: ``(lo, hi)``, scalars or one value per axis; default three standard deviations
            around every component (and ``samples``).
        n: grid points per axis (the density is evaluated at ``n * n`` points in one call).
        filled: ``Axes.contourf`` when true, ``Axes.contour`` otherwise.
        levels: number of levels or their values (as matplotlib's ``levels``).
        samples: points ``(m, 2)`` to scatter over the contours.
        colorbar: add a colorbar for the density values. It is left out when ``colors`` fixes
            one colour for every line, since colour then carries no value.
        colorbar_label: the colorbar's label.
        xlabel, ylabel: axis labels.
        **contour_kwargs: passed to ``contourf`` / ``contour`` (``cmap``, ``colors``, ``alpha``...).

    Returns:
        The ``ContourSet``; its ``colorbar`` attribute holds the colorbar when one was added.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> from gmmjax import GMM
        >>> from gmmjax.plot import contours_2d
        >>> fig, ax = plt.subplots()
        >>> p = GMM([0.5, 0.5], [[0.0, 0.0], [2.0, 1.0]], [[1.0, 0.5], [0.3, 0.3]])
        >>> contours_2d(p, ax=ax, n=30).colorbar.ax.get_ylabel()
        'density'
        >>> plt.close(fig)
    """
    _require_dim("contours_2d", gmm, (2,))
    ax = _axes(ax)
    grid = _grid_for(gmm, bounds, samples, n)
    values = density(gmm, grid.points).reshape(grid.xx.shape)
    draw = ax.contourf if filled else ax.contour
    contour_set = draw(grid.xx, grid.yy, values, levels=levels, **contour_kwargs)
    if samples is not None:
        points = np.asarray(samples, float)
        ax.scatter(points[:, 0], points[:, 1], s=3, color="k", alpha=0.3, label="samples")
    if colorbar and "colors" not in contour_kwargs:
        ax.figure.colorbar(contour_set, ax=ax, label=colorbar_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return contour_set


# --------------------------------------------------------------------------- coupling
def coupling(
    p: GMM,
    q: GMM,
    plan: Any,
    *,
    ax: Any = None,
    min_mass: float = 0.0,
    max_width: float = 5.0,
    color: Any = "0.25",
    labels: tuple[str, str] = ("p", "q"),
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Any:
    """Draw the components of two mixtures and a line for every pair the plan couples.

    A line joins the means of component ``i`` of ``p`` and ``j`` of ``q`` when
    ``plan[i, j] > min_mass``; its width and opacity grow with the mass. Marker areas grow with
    the component weights. In 1-D the components of ``p`` sit on a row above those of ``q``
    (the horizontal axis is the component mean); in 2-D each component is also drawn as its
    one-standard-deviation ellipse.

    Args:
        p, q: single mixtures of dimension 1 or 2.
        plan: ``(K_p, K_q)`` transport plan, e.g. from :func:`gmmjax.mw2_plan`.
        ax: the Axes to draw on; default the current Axes.
        min_mass: entries of the plan at or below this are not drawn.
        max_width: line width of the largest mass.
        color: colour of the lines.
        labels: legend names of ``p`` and ``q``.
        xlabel, ylabel: axis labels; default ones name the coordinates.

    Returns:
        The ``LineCollection`` of the coupling lines, one segment per drawn plan entry.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> import gmmjax as gj
        >>> from gmmjax.plot import coupling
        >>> p = gj.GMM.univariate([0.5, 0.5], [-1.0, 1.0], [0.2, 0.2])
        >>> q = gj.GMM.univariate([1.0], [0.0], [1.0])
        >>> fig, ax = plt.subplots()
        >>> len(coupling(p, q, gj.mw2_plan(p, q), ax=ax).get_segments())
        2
        >>> plt.close(fig)
    """
    for name, gmm in (("p", p), ("q", q)):
        _require_dim(f"coupling ({name})", gmm, (1, 2))
    if p.dim != q.dim:
        raise ValueError(f"p and q must have one dimension; got {p.dim} and {q.dim}")
    plan = np.asarray(plan, float)
    if plan.shape != (p.n_components, q.n_components):
        expected = (p.n_components, q.n_components)
        raise ValueError(f"plan must have shape {expected}; got {plan.shape}")
    ax = _axes(ax)
    anchors = [_anchors(g, row) for g, row in ((p, 1.0), (q, 0.0))]
    lines = _coupling_lines(anchors[0], anchors[1], plan, min_mass, max_width, color)
    ax.add_collection(lines)
    for gmm, points, label, tone in zip((p, q), anchors, labels, ("C0", "C1"), strict=True):
        _draw_component_markers(ax, gmm, points, label, tone)
    _label_coupling_axes(ax, p.dim, labels, xlabel, ylabel)
    ax.autoscale_view()
    return lines


def _anchors(gmm: GMM, row: float) -> np.ndarray:
    """Where each component is drawn: its mean (2-D), or ``(mean, row)`` (1-D)."""
    means = np.asarray(gmm.means, float)
    return np.column_stack([means[:, 0], np.full(len(means), row)]) if gmm.dim == 1 else means


def _coupling_lines(
    a: np.ndarray, b: np.ndarray, plan: np.ndarray, min_mass: float, max_width: float, color: Any
) -> Any:
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgba

    rows, cols = np.nonzero(plan > min_mass)
    mass = plan[rows, cols]
    scale = mass / mass.max() if mass.size else mass
    segments = np.stack([a[rows], b[cols]], axis=1) if mass.size else np.zeros((0, 2, 2))
    colors = [to_rgba(color, 0.25 + 0.75 * s) for s in scale]
    widths = 0.5 + (max_width - 0.5) * scale
    return LineCollection(segments, colors=colors, linewidths=widths, zorder=1, label="plan mass")


def _draw_component_markers(ax: Any, gmm: GMM, points: np.ndarray, label: str, tone: str) -> None:
    weights = np.asarray(gmm.weights, float)
    used = weights > 0
    sizes = 20 + 300 * weights[used]
    ax.scatter(*points[used].T, s=sizes, color=tone, zorder=3, label=label, edgecolors="k")
    if gmm.dim == 2:
        for mean, cov in zip(points[used], np.asarray(gmm.full_covs())[used], strict=True):
            ax.add_patch(_ellipse(mean, cov, tone))


def _ellipse(mean: np.ndarray, cov: np.ndarray, color: str) -> Any:
    """The one-standard-deviation ellipse of ``N(mean, cov)`` in 2-D."""
    from matplotlib.patches import Ellipse

    eigvals, eigvecs = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(eigvecs[1, 1], eigvecs[0, 1]))
    width, height = 2 * np.sqrt(eigvals[::-1])
    return Ellipse(mean, width, height, angle=angle, fill=False, color=color, lw=1.2, zorder=2)


def _label_coupling_axes(
    ax: Any, dim: int, labels: tuple[str, str], xlabel: str | None, ylabel: str | None
) -> None:
    if dim == 1:
        ax.set_yticks([0.0, 1.0], [labels[1], labels[0]])
        ax.set_ylim(-0.5, 1.5)
        ax.set_xlabel("component mean" if xlabel is None else xlabel)
        ax.set_ylabel("mixture" if ylabel is None else ylabel)
    else:
        ax.set_xlabel("$x_1$" if xlabel is None else xlabel)
        ax.set_ylabel("$x_2$" if ylabel is None else ylabel)
    ax.legend(loc="best", fontsize="small")


# --------------------------------------------------------------------------- geodesic strip
def mixture_path(mu0: GMM, mu1: GMM, times: Any) -> GMM:
    """The mixtures at ``times`` along the geodesic from ``mu0`` to ``mu1``, stacked.

    One vectorised call of :func:`gmmjax.geodesic` over the times.

    Example:
        >>> mu0 = GMM.univariate([1.0], [0.0], [1.0])
        >>> mu1 = GMM.univariate([1.0], [2.0], [1.0])
        >>> mixture_path(mu0, mu1, np.array([0.0, 0.5])).means[:, 0, 0].tolist()
        [0.0, 1.0]
    """
    times = jnp.asarray(times, jnp.result_type(mu0.means, mu1.means))
    return jax.vmap(geodesic, in_axes=(None, None, 0))(mu0, mu1, times)


def geodesic_strip(
    mu0: GMM,
    mu1: GMM,
    times: int | Sequence[float] = 5,
    *,
    axes: Any = None,
    components: bool = False,
    n: int = 300,
    levels: int = 10,
    colorbar: bool = True,
    max_ticks: int = 4,
    xlabel: str | None = None,
    ylabel: str | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Draw a row of the densities along the displacement geodesic from ``mu0`` to ``mu1``.

    Each panel is titled with its time ``t``; all panels share their limits (and, in 2-D, one
    set of contour levels and one colorbar), only the first keeps its y tick labels, and each
    axis has at most ``max_ticks`` ticks, none at the ends of the x axis, so labels stay apart.

    Args:
        mu0, mu1: single mixtures of one dimension, 1 or 2.
        times: the number of equally spaced times in ``[0, 1]``, or the times themselves.
        axes: a sequence of Axes, one per time; default a new figure with one row of panels.
        components: 1-D only: also draw the weighted components of every mixture.
        n: grid points (per axis in 2-D).
        levels: 2-D only: number of contour levels shared by all panels.
        colorbar: 2-D only: add one colorbar labelled "density" for the row.
        max_ticks: the most ticks on each axis.
        xlabel, ylabel: axis labels; default "x" / "density" in 1-D, "$x_1$" / "$x_2$" in 2-D.
        **kwargs: passed to :func:`density_1d` (1-D) or :func:`contours_2d` (2-D).

    Returns:
        The Axes, as a NumPy array of one per time.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> from gmmjax import GMM
        >>> from gmmjax.plot import geodesic_strip
        >>> mu0 = GMM.univariate([0.5, 0.5], [-1.0, 1.0], [0.2, 0.3])
        >>> mu1 = GMM.univariate([1.0], [2.0], [0.5])
        >>> axes = geodesic_strip(mu0, mu1, 3, n=50)
        >>> [ax.get_title() for ax in axes]
        ['t = 0.00', 't = 0.50', 't = 1.00']
        >>> plt.close(axes[0].figure)
    """
    times = np.linspace(0.0, 1.0, times) if isinstance(times, int) else np.asarray(times, float)
    for name, gmm in (("mu0", mu0), ("mu1", mu1)):
        _require_dim(f"geodesic_strip ({name})", gmm, (1, 2))
    path = mixture_path(mu0, mu1, times)
    axes = _strip_axes(axes, len(times), mu0.dim)
    if mu0.dim == 1:
        _strip_1d(axes, path, components, n, xlabel, ylabel, kwargs)
    else:
        _strip_2d(axes, path, n, levels, colorbar, xlabel, ylabel, kwargs)
    for i, (ax, t) in enumerate(zip(axes, times, strict=True)):
        ax.set_title(f"t = {t:.2f}")
        readable_ticks(ax, max_ticks, prune_x="both")
        if i:
            ax.set_ylabel("")
            ax.tick_params(labelleft=False)
    return axes


def _strip_axes(axes: Any, count: int, dim: int) -> np.ndarray:
    if axes is not None:
        axes = np.asarray(axes, dtype=object).ravel()
        if axes.size != count:
            raise ValueError(f"geodesic_strip needs one Axes per time ({count}); got {axes.size}")
        return axes
    size = (2.4 * count + (1.0 if dim == 2 else 0.0), 2.6)
    _, axes = _pyplot().subplots(1, count, figsize=size, sharex=True, sharey=True, squeeze=False)
    return axes[0]


def _strip_1d(
    axes: np.ndarray,
    path: GMM,
    components: bool,
    n: int,
    xlabel: str | None,
    ylabel: str | None,
    kwargs: dict[str, Any],
) -> None:
    lo, hi = _extent(path)
    x = np.linspace(lo[0], hi[0], n)
    top = 0.0
    for i, ax in enumerate(axes):
        density_1d(
            path[i],
            x,
            ax=ax,
            components=components,
            xlabel="x" if xlabel is None else xlabel,
            ylabel="density" if ylabel is None else ylabel,
            **kwargs,
        )
        top = max(top, ax.get_ylim()[1])
    for ax in axes:
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(0.0, top)


def _strip_2d(
    axes: np.ndarray,
    path: GMM,
    n: int,
    levels: int,
    colorbar: bool,
    xlabel: str | None,
    ylabel: str | None,
    kwargs: dict[str, Any],
) -> None:
    lo, hi = _extent(path, width=3.0)
    grid = grid_2d(lo, hi, n)
    from matplotlib.ticker import MaxNLocator

    peak = float(density(path, grid.points).max())
    shared = MaxNLocator(levels).tick_values(0.0, peak)
    contour_set = None
    for i, ax in enumerate(axes):
        contour_set = contours_2d(
            path[i],
            ax=ax,
            bounds=(lo, hi),
            n=n,
            levels=shared,
            colorbar=False,
            xlabel="$x_1$" if xlabel is None else xlabel,
            ylabel="$x_2$" if ylabel is None else ylabel,
            **kwargs,
        )
        ax.set_aspect("equal")
    if colorbar and contour_set is not None and "colors" not in kwargs:
        axes[0].figure.colorbar(contour_set, ax=list(axes), label="density", shrink=0.9)
