"""Figures of ``gmmjax demo`` and ``gmmjax fit --plot``, written as PNG files.

matplotlib is optional (``pip install 'gmmjax[plot]'``): it is imported, with the
non-interactive Agg backend, only when a figure is made, so importing this module never needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from gmmjax._src.app.optional import require
from gmmjax._src.core.mixture import GMM

__all__ = ["Grid2D", "contour", "density", "figure", "grid_2d", "plot_fit", "pyplot"]


def pyplot(purpose: str = "plotting") -> Any:
    """``matplotlib.pyplot`` on the Agg backend; a one-line error names the extra if absent."""
    matplotlib = require("matplotlib", purpose)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def figure(
    path: str | Path, *, title: str | None = None, dpi: int = 110, **subplots: Any
) -> Iterator[Any]:
    """Yield the axes of ``plt.subplots(**subplots)``; on exit lay out, save to ``path``, close.

    ``title`` becomes the figure's suptitle. The figure is closed even if drawing fails.
    """
    plt = pyplot()
    fig, axes = plt.subplots(**subplots)
    try:
        yield axes
        if title is not None:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)


def density(gmm: GMM, x: Any) -> np.ndarray:
    """The density of ``gmm`` at ``x`` as a NumPy array.

    ``x`` is ``(n, d)``, or ``(n,)`` for a 1-D mixture. A batched ``gmm`` gives
    ``batch_shape + (n,)``.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> [round(float(v), 4) for v in density(p, np.array([0.0, 1.0]))]
        [0.3989, 0.242]
    """
    x = jnp.asarray(x, gmm.dtype)
    if x.ndim == 1 and gmm.dim == 1:
        x = x[:, None]
    return np.asarray(gmm.prob(x))


class Grid2D(NamedTuple):
    """A square grid: ``xx``, ``yy`` of shape ``(n, n)`` and their ``(n * n, 2)`` points."""

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


def contour(ax: Any, gmm: GMM, grid: Grid2D, **kwargs: Any) -> None:
    """Contour lines of a 2-D mixture's density over ``grid`` (``kwargs`` go to ``contour``)."""
    ax.contour(grid.xx, grid.yy, density(gmm, grid.points).reshape(grid.xx.shape), **kwargs)


def plot_fit(path: str | Path, x: np.ndarray, gmm: GMM) -> None:
    """The figure of ``gmmjax fit --plot``: the data ``x`` ``(n, d)`` and the fitted mixture.

    1-D: histogram and density. 2-D: scatter and density contours. More dimensions: the first
    two coordinates of the data only.
    """
    with figure(path, figsize=(6, 4)) as ax:
        if x.shape[1] == 1:
            grid = np.linspace(x.min(), x.max(), 500)
            ax.hist(x[:, 0], bins=60, density=True, alpha=0.4, label="data")
            ax.plot(grid, density(gmm, grid), label="fitted GMM")
            ax.legend()
        else:
            if x.shape[1] == 2:
                contour(ax, gmm, grid_2d(x.min(0), x.max(0), 150))
            else:
                ax.set_title("first two coordinates")
            ax.scatter(x[:2000, 0], x[:2000, 1], s=2, alpha=0.3)
