"""Demo section for Lu et al. (2023): our weight learner against their Algorithms 1 and 2.

One Table 2 style target (8 normal / Student t / uniform components), 5,000 points, a grid
basis of 200 components with sigma = 2r; every method is scored by the density information
loss (Eq. 9, d = r/2, exact target CDF) and by the log-likelihood of 20,000 fresh points.
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np

import gmmjax as gj
from gmmjax._src.app.draw import density_1d
from gmmjax._src.app.plotting import figure
from gmmjax._src.app.report import Row, timed
from gmmjax.targets import MIXED, RandomTarget

__all__ = ["run"]


def run(out_dir: Path) -> list[Row]:
    """Fit one random target three ways; return ``(quantity, value, seconds)`` rows.

    Writes ``learner_fit.png`` (the target density and the three fits) into ``out_dir``.
    """
    rng = np.random.default_rng(3)
    target = RandomTarget(rng, MIXED)
    x = target.sample(5000, rng)
    test = target.sample(20_000, rng)
    n, t = 200, 2.0
    basis = gj.grid_basis(x, n, t)
    centers = np.asarray(basis.means[:, 0], dtype=np.float64)
    d = (centers[1] - centers[0]) / 2
    fits = {
        "Algorithm 1": timed(gj.paper_algorithm1, x, n, t),
        "Algorithm 2": timed(gj.paper_algorithm2, x, n, t),
        "fit_weights (nll)": timed(lambda: gj.fit_weights(basis, x).gmm),
    }
    rows: list[Row] = []
    for name, (gmm, seconds) in fits.items():
        dil = float(gj.density_information_loss(gmm, target.cdf, d, centers=centers))
        ll = float(jnp.mean(gmm.log_prob(jnp.asarray(test, gmm.dtype)[:, None])))
        rows.append((f"DIL (Eq. 9), {name}", f"{dil:.4f}", seconds))
        rows.append((f"held-out log-likelihood, {name}", f"{ll:.4f}", 0.0))
    _plot(Path(out_dir) / "learner_fit.png", target, x, {k: g for k, (g, _) in fits.items()})
    return rows


def _plot(path: Path, target: RandomTarget, x: np.ndarray, fits: dict[str, gj.GMM]) -> None:
    grid = np.linspace(x.min(), x.max(), 1500)
    with figure(path, figsize=(9, 4)) as ax:
        ax.plot(grid, target.pdf(grid), color="black", lw=2, label="target")
        for name, gmm in fits.items():
            density_1d(gmm, grid, ax=ax, lw=1.2, label=name)
        ax.set_title("Lu et al. (2023): 200-component grid basis, sigma = 2r, 5,000 points")
        ax.legend()
