"""Figure files of ``gmmjax demo`` and ``gmmjax fit --plot``, drawn with :mod:`gmmjax.plot`.

matplotlib is optional (``pip install 'gmmjax[plot]'``): it is imported, with the
non-interactive Agg backend, only when a figure is made, so importing this module never needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from gmmjax._src.app.draw import contours_2d, density_1d
from gmmjax._src.app.optional import require
from gmmjax._src.core.mixture import GMM

__all__ = ["figure", "plot_fit", "pyplot"]


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
        if fig.get_layout_engine() is None:
            fig.tight_layout()
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)


def _marginal_2d(gmm: GMM) -> GMM:
    """The mixture of the first two coordinates (means and covariances restricted to them)."""
    if gmm.is_low_rank:  # F F^T + s I restricted to two coordinates: F[:2] F[:2]^T + s I
        factors = gmm.covs.factors[..., :2, :]
        return GMM.low_rank(gmm.weights, gmm.means[..., :2], factors, gmm.covs.noise)
    covs = gmm.covs[..., :2] if gmm.is_diagonal else gmm.covs[..., :2, :2]
    return GMM(gmm.weights, gmm.means[..., :2], covs)


def plot_fit(path: str | Path, x: np.ndarray, gmm: GMM) -> None:
    """The figure of ``gmmjax fit --plot``: the data ``x`` ``(n, d)`` and the fitted mixture.

    1-D: histogram, density and weighted components. 2-D: density contours with a colorbar
    and the data. More dimensions: the same for the first two coordinates (the fitted
    mixture's marginal).
    """
    title = f"fitted mixture, {gmm.n_components} components"
    with figure(path, title=title, figsize=(6.4, 4.4)) as ax:
        if x.shape[1] == 1:
            density_1d(gmm, ax=ax, data=x[:, 0], components=True, label="fitted mixture")
            ax.legend(fontsize="small")
            return
        shown = gmm if x.shape[1] == 2 else _marginal_2d(gmm)
        sample = x[:2000, :2]
        bounds = (sample.min(0), sample.max(0))
        contours_2d(shown, ax=ax, bounds=bounds, n=150, levels=12, samples=sample, alpha=0.85)
        if x.shape[1] > 2:
            ax.set_title(f"first two of {x.shape[1]} coordinates", fontsize="medium")
