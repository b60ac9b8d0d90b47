"""Demo section for Chen, Georgiou & Tannenbaum (2019): their numerical examples (§V).

``run(out_dir)`` is called by ``gmmjax demo``; it writes the Fig. 1 table, geodesics and
barycenters as PNG files into ``out_dir`` and returns one ``(quantity, value, seconds)`` row per
result for the printed summary. The standard-OT references for 1-D mixtures (``W_2``,
displacement interpolation, barycenter) are computed independently from quantile functions.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from gmmjax import GMM, geodesic, mw2_barycenter, mw2_distance, stack
from gmmjax._src.app.draw import density_1d, geodesic_strip, readable_ticks
from gmmjax._src.app.plotting import figure
from gmmjax._src.app.report import Row, timed

__all__ = ["run"]

TITLE = "Chen, Georgiou & Tannenbaum (2019)"


# --------------------------------------------------------------------------- 1-D references
def _cdf_pdf(gmm: GMM, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(gmm.weights, np.float64)
    m = np.asarray(gmm.means, np.float64)[:, 0]
    s = np.sqrt(np.asarray(gmm.covs, np.float64).reshape(-1))
    z = (x[..., None] - m) / s
    return stats.norm.cdf(z) @ w, (stats.norm.pdf(z) / s) @ w


def _quantiles(gmm: GMM, u: np.ndarray) -> np.ndarray:
    """Quantile function of a 1-D mixture: interpolation on a grid, then Newton steps."""
    m = np.asarray(gmm.means, np.float64)[:, 0]
    s = np.sqrt(np.asarray(gmm.covs, np.float64).reshape(-1))
    grid = np.linspace((m - 12 * s).min(), (m + 12 * s).max(), 20001)
    cdf, _ = _cdf_pdf(gmm, grid)
    x = np.interp(u, cdf, grid)
    for _ in range(3):
        f, p = _cdf_pdf(gmm, x)
        x = x - (f - u) / np.maximum(p, 1e-300)
    return x


def _u_grid(n: int = 4000) -> np.ndarray:
    return (np.arange(n) + 0.5) / n


def _w2_1d(p: GMM, q: GMM) -> float:
    u = _u_grid()
    return float(np.sqrt(np.mean((_quantiles(p, u) - _quantiles(q, u)) ** 2)))


def _displacement_density(quantile_sets: list[np.ndarray], lam: np.ndarray, gmms: list[GMM]):
    """Density of the measure with quantile function sum_k lam_k Q_k, as a curve (x, rho)."""
    x = sum(lk * q for lk, q in zip(lam, quantile_sets, strict=True))
    dq = sum(
        lk / np.maximum(_cdf_pdf(g, q)[1], 1e-300)
        for lk, q, g in zip(lam, quantile_sets, gmms, strict=True)
    )
    return x, 1.0 / dq


def _geodesic_path(mu0: GMM, mu1: GMM, times: np.ndarray) -> tuple[GMM, float]:
    """The mixtures at ``times`` along the geodesic (eq. 11), stacked, and the seconds taken."""
    along = jax.jit(jax.vmap(geodesic, in_axes=(None, None, 0)))
    return timed(along, mu0, mu1, jnp.asarray(times))


# --------------------------------------------------------------------------- Fig. 1
def _fig1(out_dir: pathlib.Path) -> list[Row]:
    deltas = np.linspace(0.0, 3.0, 31)
    mu0 = stack([GMM.univariate([1.0], [0.0], [1.0])] * len(deltas))
    mu1 = stack([GMM.univariate([0.5, 0.5], [-dl, dl], [1.0, 1.0]) for dl in deltas])
    d, secs = timed(jax.jit(mw2_distance), mu0, mu1)
    d = np.asarray(d)
    w2 = np.array([_w2_1d(mu0[0], mu1[i]) for i in range(len(deltas))])
    lines = ["delta,d,W2"] + [
        f"{a:.2f},{b:.6f},{c:.6f}" for a, b, c in zip(deltas, d, w2, strict=True)
    ]
    (out_dir / "fig1_d_vs_w2.csv").write_text("\n".join(lines) + "\n")
    with figure(out_dir / "fig1_d_vs_w2.png", dpi=120, figsize=(4.5, 3.2)) as ax:
        ax.plot(deltas, d, label="$d$ (mixture OT, eq. 10)")
        ax.plot(deltas, w2, "--", label="$W_2$ (quantile functions)")
        ax.set_xlabel(r"$\Delta$ (half the distance between the two means of $\mu_1$)")
        ax.set_ylabel(r"distance between $\mu_0$ and $\mu_1$")
        ax.legend()
        ax.set_title(rf"{TITLE}, Fig. 1: $d$ vs $W_2$", fontsize=9)
    rows = [
        ("Fig. 1: max |d - Delta| over Delta in [0, 3]", f"{np.max(np.abs(d - deltas)):.1e}", secs),
        ("Fig. 1: min (d - W2) (>= 0)", f"{np.min(d - w2):.2e}", 0.0),
    ]
    for target in (1.0, 2.0, 3.0):
        i = int(np.argmin(np.abs(deltas - target)))
        rows.append((f"Fig. 1 Delta={deltas[i]:.0f}: d / W2", f"{d[i]:.4f} / {w2[i]:.4f}", 0.0))
    rows.append(("Fig. 1 plot + table", "fig1_d_vs_w2.png, .csv", 0.0))
    return rows


# --------------------------------------------------------------------------- §V.B geodesics
def _vb_mixtures() -> tuple[GMM, GMM]:
    mu0 = GMM.univariate([0.5, 0.5], [0.5, 0.1], [0.01, 0.05])
    mu1 = GMM.univariate([0.5, 0.5], [0.0, -0.35], [0.02, 0.02])
    return mu0, mu1


def _plot_geodesic_1d(path: pathlib.Path, mu0: GMM, mu1: GMM, times: np.ndarray) -> None:
    """Top row: the mixture geodesic and its weighted components; bottom: standard OMT."""
    u = _u_grid(3000)
    q0, q1 = _quantiles(mu0, u), _quantiles(mu1, u)
    title = f"{TITLE}, §V.B: a 1-D geodesic (Figs. 3-4)"
    size = (2.6 * len(times), 5.2)
    layout = {"nrows": 2, "ncols": len(times), "sharex": True, "sharey": True}
    with figure(path, title=title, dpi=120, figsize=size, **layout) as axes:
        geodesic_strip(mu0, mu1, times, axes=axes[0], components=True, n=600, xlabel="")
        axes[0, 0].set_ylabel("mixture geodesic\n(eq. 11) density")
        for ax, t in zip(axes[1], times, strict=True):
            xs, rho = _displacement_density([q0, q1], np.array([1 - t, t]), [mu0, mu1])
            ax.plot(xs, rho, color="C1")
            ax.set_xlabel("x")
        axes[1, 0].set_ylabel("standard OMT\ninterpolation density")
        axes[0, 0].set_xlim(-1.0, 1.0)


def _geodesic_1d(out_dir: pathlib.Path) -> list[Row]:
    mu0, mu1 = _vb_mixtures()
    times = np.linspace(0.0, 1.0, 5)
    along, secs = _geodesic_path(mu0, mu1, times)
    _plot_geodesic_1d(out_dir / "geodesic_1d.png", mu0, mu1, times)
    d01 = float(mw2_distance(mu0, mu1))
    half = float(mw2_distance(mu0, along[2]))
    return [
        ("Geodesic 1-D (V.B): d(mu0, mu1)", f"{d01:.6f}", secs),
        ("Geodesic 1-D: d(mu0, mu_.5) / d(mu0, mu1)", f"{half / d01:.9f}", 0.0),
        ("Geodesic 1-D plot", "geodesic_1d.png", 0.0),
    ]


def _geodesic_2d(out_dir: pathlib.Path) -> list[Row]:
    mu0 = GMM(
        [0.5, 0.5],
        [[-1.0, 0.0], [1.0, 1.5]],
        [[[0.30, 0.10], [0.10, 0.15]], [[0.10, -0.05], [-0.05, 0.40]]],
    )
    mu1 = GMM(
        [0.4, 0.6],
        [[1.5, -1.0], [-0.5, 1.5]],
        [[[0.15, 0.0], [0.0, 0.40]], [[0.35, 0.15], [0.15, 0.20]]],
    )
    times = np.linspace(0.0, 1.0, 5)
    _, secs = _geodesic_path(mu0, mu1, times)
    title = f"{TITLE}: a 2-D mixture geodesic (eq. 11, cf. Fig. 7)"
    size = (2.8 * len(times) + 1.0, 3.4)
    path = out_dir / "geodesic_2d.png"
    with figure(path, title=title, ncols=len(times), figsize=size, layout="constrained") as axes:
        geodesic_strip(mu0, mu1, times, axes=axes, n=120, levels=8)
    d01 = float(mw2_distance(mu0, mu1))
    return [
        ("Geodesic 2-D: d(mu0, mu1), 4 components/time", f"{d01:.6f}", secs),
        ("Geodesic 2-D plot", "geodesic_2d.png", 0.0),
    ]


# --------------------------------------------------------------------------- §V.C barycenters
def _barycenter_panel(ax: Any, fig_no: int, gmms: list[GMM], quantiles: list, lam: Any) -> Row:
    """Draw the mixture barycenter for weights ``lam`` next to the standard-OT one."""
    (bary, info), secs = timed(mw2_barycenter, gmms, jnp.asarray(lam), return_info=True)
    x = np.linspace(-1.0, 1.0, 600)
    xs, rho = _displacement_density(quantiles, lam, gmms)
    ax.plot(xs, rho, "--", label="standard OMT")
    density_1d(bary, x, ax=ax, label="mixture barycenter (eq. 19)")
    ax.set_xlim(-1, 1)
    readable_ticks(ax, 4)
    shown = np.round(lam, 2).tolist()
    ax.set_title(f"Fig. {fig_no}: lambda = {shown}")
    ax.legend(fontsize=7)
    used = int(np.sum(np.asarray(bary.weights) > 1e-12))
    name = f"Barycenter (V.C) lambda={shown}: eq. 17 objective"
    return (name, f"{float(info.cost):.6f} ({used} comps)", secs)


def _barycenters(out_dir: pathlib.Path) -> list[Row]:
    gmms = [
        GMM.univariate([0.5, 0.5], [0.5, 0.1], [0.01, 0.05]),
        GMM.univariate([0.5, 0.5], [0.0, -0.35], [0.02, 0.02]),
        GMM.univariate([0.5, 0.5], [0.4, -0.45], [0.025, 0.021]),
    ]
    x = np.linspace(-1.0, 1.0, 600)
    u = _u_grid(3000)
    quantiles = [_quantiles(g, u) for g in gmms]
    lams = [np.full(3, 1 / 3), np.array([0.25, 0.25, 0.5])]
    title = f"{TITLE}, §V.C: mixture barycenters"
    path = out_dir / "barycenters.png"
    with figure(path, title=title, dpi=120, ncols=3, figsize=(12, 3.4)) as axes:
        for i, g in enumerate(gmms):
            density_1d(g, x, ax=axes[0], label=f"$\\mu_{i + 1}$")
        axes[0].set_xlim(-1, 1)
        readable_ticks(axes[0], 4)
        axes[0].set_title("inputs (Fig. 8)")
        axes[0].legend(fontsize=7)
        rows = [
            _barycenter_panel(ax, fig_no, gmms, quantiles, lam)
            for ax, fig_no, lam in zip(axes[1:], (9, 10), lams, strict=True)
        ]
    rows.append(("Barycenter plot", "barycenters.png", 0.0))
    return rows


def run(out_dir: pathlib.Path) -> list[Row]:
    """Reproduce Chen, Georgiou & Tannenbaum (2019) §V into ``out_dir``; return the rows.

    Rows are ``(quantity, value, seconds)``; seconds are the wall time of the timed call (first
    call, compilation included).
    """
    out_dir = pathlib.Path(out_dir)
    rows: list[Row] = []
    for part in (_fig1, _geodesic_1d, _geodesic_2d, _barycenters):
        rows.extend(part(out_dir))
    return rows
