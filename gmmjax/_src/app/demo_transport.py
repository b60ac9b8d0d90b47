"""Seed 001's numerical examples (§V): Fig. 1 table, geodesics and barycenters as PNG files.

``run(out_dir)`` is called by ``gmmjax demo``; it writes the figures into ``out_dir`` and
returns one ``(quantity, value, seconds)`` row per result for the printed summary. The
standard-OT references for 1-D mixtures (``W_2``, displacement interpolation, barycenter)
are computed independently from quantile functions.
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from gmmjax._src.distances.barycenter import mw2_barycenter
from gmmjax._src.core.mixture import GMM
from gmmjax._src.core.stacking import stack
from gmmjax._src.distances.transport import geodesic, mw2_distance

__all__ = ["run"]

Row = tuple[str, str, float]


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


# --------------------------------------------------------------------------- helpers
def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - start


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _density_1d(gmm: GMM, x: np.ndarray) -> np.ndarray:
    return np.asarray(jax.jit(lambda g, x: g.prob(x))(gmm, jnp.asarray(x)[:, None]))


# --------------------------------------------------------------------------- Fig. 1
def _fig1(out_dir: pathlib.Path) -> list[Row]:
    deltas = np.linspace(0.0, 3.0, 31)
    mu0 = stack([GMM.univariate([1.0], [0.0], [1.0])] * len(deltas))
    mu1 = stack([GMM.univariate([0.5, 0.5], [-dl, dl], [1.0, 1.0]) for dl in deltas])
    d, secs = _timed(lambda: jax.jit(mw2_distance)(mu0, mu1))
    d = np.asarray(d)
    w2 = np.array([_w2_1d(mu0[0], mu1[i]) for i in range(len(deltas))])
    lines = ["delta,d,W2"] + [
        f"{a:.2f},{b:.6f},{c:.6f}" for a, b, c in zip(deltas, d, w2, strict=True)
    ]
    (out_dir / "fig1_d_vs_w2.csv").write_text("\n".join(lines) + "\n")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot(deltas, d, label="$d$ (mixture OT, eq. 10)")
    ax.plot(deltas, w2, "--", label="$W_2$ (quantile functions)")
    ax.set_xlabel(r"$\Delta$")
    ax.legend()
    ax.set_title(r"Fig. 1: $d$ vs $W_2$")
    fig.tight_layout()
    fig.savefig(out_dir / "fig1_d_vs_w2.png", dpi=120)
    plt.close(fig)
    rows = [
        (
            "Fig. 1: max |d - Delta| over Delta in [0, 3]",
            f"{np.max(np.abs(d - deltas)):.1e}",
            secs,
        ),
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


def _geodesic_1d(out_dir: pathlib.Path) -> list[Row]:
    mu0, mu1 = _vb_mixtures()
    times = np.linspace(0.0, 1.0, 5)
    along = jax.jit(jax.vmap(geodesic, in_axes=(None, None, 0)))
    path, secs = _timed(lambda: along(mu0, mu1, jnp.asarray(times)))
    x = np.linspace(-1.0, 1.0, 600)
    u = _u_grid(3000)
    q0, q1 = _quantiles(mu0, u), _quantiles(mu1, u)
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), sharey=True)
    for t in times:
        xs, rho = _displacement_density([q0, q1], np.array([1 - t, t]), [mu0, mu1])
        axes[0].plot(xs, rho, label=f"t={t:.2f}")
    for i, t in enumerate(times):
        g = path[i]
        axes[1].plot(x, _density_1d(g, x), label=f"t={t:.2f}")
        for k in range(g.n_components):
            if float(g.weights[k]) > 0:
                single = GMM._unchecked(g.weights[k : k + 1], g.means[k : k + 1], g.covs[k : k + 1])
                axes[2].plot(x, _density_1d(single, x), color=f"C{i}")
    axes[0].set_title("standard OMT interpolation (Fig. 3)")
    axes[1].set_title("mixture geodesic, eq. 11 (Fig. 3)")
    axes[2].set_title("its weighted components (Fig. 4)")
    axes[0].legend(fontsize=7)
    for ax in axes:
        ax.set_xlim(-1, 1)
    fig.tight_layout()
    fig.savefig(out_dir / "geodesic_1d.png", dpi=120)
    plt.close(fig)
    d01 = float(mw2_distance(mu0, mu1))
    mid = path[2]
    half = float(mw2_distance(mu0, mid))
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
    along = jax.jit(jax.vmap(geodesic, in_axes=(None, None, 0)))
    path, secs = _timed(lambda: along(mu0, mu1, jnp.asarray(times)))
    g = np.linspace(-3.0, 3.5, 120)
    xx, yy = np.meshgrid(g, g)
    pts = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], -1))
    dens = np.asarray(jax.jit(jax.vmap(lambda m: m.prob(pts)))(path)).reshape(len(times), *xx.shape)
    plt = _plt()
    fig, axes = plt.subplots(1, len(times), figsize=(3 * len(times), 3), sharey=True)
    for ax, t, z in zip(axes, times, dens, strict=True):
        ax.contour(xx, yy, z, levels=8)
        ax.set_title(f"t={t:.2f}")
        ax.set_aspect("equal")
    fig.suptitle("2-D mixture geodesic (eq. 11, cf. Fig. 7)")
    fig.tight_layout()
    fig.savefig(out_dir / "geodesic_2d.png", dpi=110)
    plt.close(fig)
    d01 = float(mw2_distance(mu0, mu1))
    return [
        ("Geodesic 2-D: d(mu0, mu1), 4 components/time", f"{d01:.6f}", secs),
        ("Geodesic 2-D plot", "geodesic_2d.png", 0.0),
    ]


# --------------------------------------------------------------------------- §V.C barycenters
def _barycenters(out_dir: pathlib.Path) -> list[Row]:
    gmms = [
        GMM.univariate([0.5, 0.5], [0.5, 0.1], [0.01, 0.05]),
        GMM.univariate([0.5, 0.5], [0.0, -0.35], [0.02, 0.02]),
        GMM.univariate([0.5, 0.5], [0.4, -0.45], [0.025, 0.021]),
    ]
    x = np.linspace(-1.0, 1.0, 600)
    u = _u_grid(3000)
    quantiles = [_quantiles(g, u) for g in gmms]
    plt = _plt()
    rows: list[Row] = []
    lams = [np.full(3, 1 / 3), np.array([0.25, 0.25, 0.5])]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for i, g in enumerate(gmms):
        axes[0].plot(x, _density_1d(g, x), label=f"$\\mu_{i + 1}$")
    axes[0].set_title("inputs (Fig. 8)")
    axes[0].legend(fontsize=7)
    for ax, lam, fig_no in zip(axes[1:], lams, (9, 10), strict=True):
        (bary, info), secs = _timed(
            lambda lam=lam: mw2_barycenter(gmms, jnp.asarray(lam), return_info=True)
        )
        xs, rho = _displacement_density(quantiles, lam, gmms)
        ax.plot(xs, rho, "--", label="standard OMT")
        ax.plot(x, _density_1d(bary, x), label="mixture barycenter (eq. 19)")
        ax.set_xlim(-1, 1)
        ax.set_title(f"Fig. {fig_no}: lambda = {np.round(lam, 2).tolist()}")
        ax.legend(fontsize=7)
        used = int(np.sum(np.asarray(bary.weights) > 1e-12))
        rows.append(
            (
                f"Barycenter (V.C) lambda={np.round(lam, 2).tolist()}: eq. 17 objective",
                f"{float(info.cost):.6f} ({used} comps)",
                secs,
            )
        )
    fig.tight_layout()
    fig.savefig(out_dir / "barycenters.png", dpi=120)
    plt.close(fig)
    rows.append(("Barycenter plot", "barycenters.png", 0.0))
    return rows


def run(out_dir: pathlib.Path) -> list[Row]:
    """Reproduce seed 001 §V into ``out_dir``; return ``(quantity, value, seconds)`` rows.

    Seconds are wall time of the timed call (first call, compilation included).
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for part in (_fig1, _geodesic_1d, _geodesic_2d, _barycenters):
        rows.extend(part(out_dir))
    return rows
