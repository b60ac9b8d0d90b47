"""Demo sections for seeds 000 (L2 between mixtures) and 002 (KL divergence).

Each ``run_*`` function writes its figures into ``out_dir`` and returns summary rows
``(quantity, value, seconds)`` for the ``gmmjax demo`` table.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate, stats

import gmmjax as gj

Row = tuple[str, str, float]


def example_mixtures() -> tuple[gj.GMM, gj.GMM]:
    """Two 2-D mixtures in the style of seed 000's setting (N = 3 and M = 2 components)."""
    p = gj.GMM(
        [0.5, 0.3, 0.2],
        [[0.0, 0.0], [2.0, 1.0], [-1.5, 2.0]],
        [[[1.0, 0.3], [0.3, 0.6]], [[0.5, 0.0], [0.0, 0.8]], [[0.7, -0.2], [-0.2, 0.4]]],
    )
    q = gj.GMM(
        [0.6, 0.4],
        [[0.5, 0.3], [-1.0, 1.5]],
        [[[1.2, 0.1], [0.1, 0.9]], [[0.6, 0.2], [0.2, 0.7]]],
    )
    return p, q


def _timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    jax.block_until_ready(value)
    return value, time.perf_counter() - start


def _grid_l2_squared(p: gj.GMM, q: gj.GMM, lim: float = 9.0, n: int = 801) -> float:
    axis = np.linspace(-lim, lim, n)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    pts = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], -1))
    diff = np.asarray(p.prob(pts) - q.prob(pts)).reshape(n, n)
    return float(integrate.simpson(integrate.simpson(diff**2, x=axis), x=axis))


def run_l2(out_dir: Path) -> list[Row]:
    """Seed 000: closed-form L2 against numerical integration, 1-D and 2-D, with a figure."""
    rows: list[Row] = []
    p1 = gj.GMM.univariate([0.4, 0.6], [-1.0, 1.5], [0.5, 0.8])
    q1 = gj.GMM.univariate([0.7, 0.3], [0.0, 2.5], [1.0, 0.3])
    closed, seconds = _timed(jax.jit(gj.l2_distance_squared), p1, q1)

    def density(g: gj.GMM, x: float) -> float:
        w, m, v = (np.asarray(a, float).ravel() for a in (g.weights, g.means, g.covs))
        return float(np.sum(w * stats.norm.pdf(x, m, np.sqrt(v))))

    def integrand(x: float) -> float:
        return (density(p1, x) - density(q1, x)) ** 2

    quad = integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)[0]
    rel = abs(float(closed) - quad) / quad
    rows.append(("seed 000: L2^2 1-D, closed form", f"{float(closed):.10f}", seconds))
    rows.append(("seed 000: L2^2 1-D, rel. err vs quad", f"{rel:.1e}", 0.0))

    p, q = example_mixtures()
    closed2, seconds = _timed(jax.jit(gj.l2_distance_squared), p, q)
    grid = _grid_l2_squared(p, q)
    rel2 = abs(float(closed2) - grid) / grid
    rows.append(("seed 000: L2^2 2-D, closed form", f"{float(closed2):.10f}", seconds))
    rows.append(("seed 000: L2^2 2-D, rel. err vs grid", f"{rel2:.1e}", 0.0))
    cs, seconds = _timed(jax.jit(gj.cauchy_schwarz_divergence), p, q)
    rows.append(("Cauchy-Schwarz divergence 2-D", f"{float(cs):.6f}", seconds))

    rng = np.random.default_rng(0)
    d = 128
    hp = gj.GMM(np.full(4, 0.25), 0.1 * rng.standard_normal((4, d)), np.full((4, d), 1e-3))
    hq_means = np.asarray(hp.means) + 0.02 * rng.standard_normal((4, d))
    hq = gj.GMM(np.full(4, 0.25), hq_means, np.full((4, d), 1.5e-3))
    hp32, hq32 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), (hp, hq))
    cs32 = float(gj.cauchy_schwarz_divergence(hp32, hq32))
    cs64 = float(gj.cauchy_schwarz_divergence(hp, hq))
    l2_32 = float(gj.l2_distance_squared(hp32, hq32))
    log_l2 = float(gj.log_l2_distance_squared(hp32, hq32))
    rows.append(("d=128, var 1e-3: CS float32 / float64", f"{cs32:.6g} / {cs64:.6g}", 0.0))
    rows.append(("d=128, var 1e-3: L2^2 float32 (log)", f"{l2_32:.3g} ({log_l2:.1f})", 0.0))

    _plot_l2(out_dir, p1, q1, p, q)
    return rows


def _plot_l2(out_dir: Path, p1: gj.GMM, q1: gj.GMM, p: gj.GMM, q: gj.GMM) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    x = np.linspace(-4, 5, 600)
    fp, fq = np.asarray(p1.prob(x[:, None])), np.asarray(q1.prob(x[:, None]))
    axes[0].plot(x, fp, label="p")
    axes[0].plot(x, fq, label="q")
    axes[0].fill_between(x, (fp - fq) ** 2, alpha=0.4, label="(p - q)^2")
    axes[0].set_title(f"1-D: L2 = {float(gj.l2_distance(p1, q1)):.4f}")
    axes[0].legend()
    axis = np.linspace(-4, 4.5, 200)
    xx, yy = np.meshgrid(axis, axis)
    pts = np.stack([xx.ravel(), yy.ravel()], -1)
    axes[1].contour(xx, yy, np.asarray(p.prob(pts)).reshape(xx.shape), colors="C0")
    axes[1].contour(xx, yy, np.asarray(q.prob(pts)).reshape(xx.shape), colors="C1")
    axes[1].set_title(f"2-D: L2 = {float(gj.l2_distance(p, q)):.4f} (p blue, q orange)")
    fig.suptitle("L2 distance between Gaussian mixtures (seed 000)")
    fig.tight_layout()
    fig.savefig(out_dir / "l2_mixtures.png", dpi=110)
    plt.close(fig)


def run_kl(out_dir: Path) -> list[Row]:
    """Seed 002: Gaussian KL in closed form vs Monte Carlo; mixture KL estimators vs MC."""
    rows: list[Row] = []
    g0 = gj.Gaussian([0.0, 1.0, -1.0], [1.0, 0.5, 2.0])
    g1 = gj.Gaussian([0.5, 0.0, 0.0], [0.8, 1.0, 1.5])
    closed, seconds = _timed(jax.jit(gj.kl_gaussian), g0, g1)
    mc = float(
        gj.kl_divergence(g0.as_gmm(), g1.as_gmm(), "mc", jax.random.key(0), n_samples=200_000)
    )
    rows.append(("seed 002 eq. 4: KL diagonal Gaussians", f"{float(closed):.6f}", seconds))
    rows.append(("  same, Monte Carlo (2e5 draws)", f"{mc:.6f}", 0.0))

    p, q = example_mixtures()
    values = {}
    for method in ("lower_bound", "variational", "upper_bound"):
        value, seconds = _timed(jax.jit(gj.kl_divergence, static_argnames="method"), p, q, method)
        values[method] = float(value)
        rows.append((f"KL(P||Q) mixtures, {method}", f"{float(value):.6f}", seconds))
    mc_mix = float(gj.kl_divergence(p, q, "mc", jax.random.key(1), n_samples=100_000))
    values["mc"] = mc_mix
    rows.append(("KL(P||Q) mixtures, Monte Carlo (1e5/comp.)", f"{mc_mix:.6f}", 0.0))
    _plot_kl(out_dir, values)
    return rows


def _plot_kl(out_dir: Path, values: dict[str, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = list(values)
    ax.bar(names, [values[n] for n in names], color=["C2", "C0", "C3", "C7"][: len(names)])
    ax.axhline(values["mc"], color="k", ls="--", lw=1, label="Monte Carlo")
    ax.set_ylabel("KL(P || Q)")
    ax.set_title("Mixture KL: bounds and approximations (seed 002 extended)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "kl_mixtures.png", dpi=110)
    plt.close(fig)
