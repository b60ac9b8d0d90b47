"""Demo sections for the closed forms: L2 between mixtures (You 2021) and KL divergences.

``run_l2`` checks You (2021)'s closed-form L2 distance against numerical integration;
``run_kl`` checks the Gaussian KL of the note by jojonki (2018) against Monte Carlo and
compares the mixture KL approximation of Hershey & Olsen (2007) and the bounds of Durrieu,
Thiran & Kelly (2012) with Monte Carlo. Each ``run_*`` function
writes its figure into ``out_dir`` and returns rows ``(quantity, value, seconds)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate, stats

import gmmjax as gj
from gmmjax._src.app.draw import contours_2d, density, density_1d, grid_2d
from gmmjax._src.app.plotting import figure
from gmmjax._src.app.report import Row, timed

__all__ = ["example_mixtures", "run_kl", "run_l2"]


def example_mixtures() -> tuple[gj.GMM, gj.GMM]:
    """Two 2-D mixtures with N = 3 and M = 2 full-covariance components."""
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


def _example_mixtures_1d() -> tuple[gj.GMM, gj.GMM]:
    p = gj.GMM.univariate([0.4, 0.6], [-1.0, 1.5], [0.5, 0.8])
    q = gj.GMM.univariate([0.7, 0.3], [0.0, 2.5], [1.0, 0.3])
    return p, q


def _quad_l2_squared(p: gj.GMM, q: gj.GMM) -> float:
    """Squared L2 distance of two 1-D mixtures by adaptive quadrature (SciPy densities)."""

    def scipy_density(g: gj.GMM, x: float) -> float:
        w, m, v = (np.asarray(a, float).ravel() for a in (g.weights, g.means, g.covs))
        return float(np.sum(w * stats.norm.pdf(x, m, np.sqrt(v))))

    def integrand(x: float) -> float:
        return (scipy_density(p, x) - scipy_density(q, x)) ** 2

    return integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)[0]


def _grid_l2_squared(p: gj.GMM, q: gj.GMM, lim: float = 9.0, n: int = 801) -> float:
    """Squared L2 distance of two 2-D mixtures by Simpson's rule on an ``n`` x ``n`` grid."""
    grid = grid_2d(-lim, lim, n)
    diff = (density(p, grid.points) - density(q, grid.points)).reshape(n, n)
    axis = grid.xx[0]
    return float(integrate.simpson(integrate.simpson(diff**2, x=axis), x=axis))


def _closed_form_vs(name: str, p: gj.GMM, q: gj.GMM, reference: float, method: str) -> list[Row]:
    closed, seconds = timed(jax.jit(gj.l2_distance_squared), p, q)
    rel = abs(float(closed) - reference) / reference
    return [
        (f"L2^2 {name}, closed form", f"{float(closed):.10f}", seconds),
        (f"L2^2 {name}, rel. err vs {method}", f"{rel:.1e}", 0.0),
    ]


def _high_dimension_rows() -> list[Row]:
    """Narrow components in d = 128: the log-domain forms keep float32 meaningful."""
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
    return [
        ("d=128, var 1e-3: CS float32 / float64", f"{cs32:.6g} / {cs64:.6g}", 0.0),
        ("d=128, var 1e-3: L2^2 float32 (log)", f"{l2_32:.3g} ({log_l2:.1f})", 0.0),
    ]


def run_l2(out_dir: Path) -> list[Row]:
    """You (2021): closed-form L2 against numerical integration, 1-D and 2-D, with a figure."""
    p1, q1 = _example_mixtures_1d()
    p, q = example_mixtures()
    rows = _closed_form_vs("1-D", p1, q1, _quad_l2_squared(p1, q1), "quad")
    rows += _closed_form_vs("2-D", p, q, _grid_l2_squared(p, q), "grid")
    cs, seconds = timed(jax.jit(gj.cauchy_schwarz_divergence), p, q)
    rows.append(("Cauchy-Schwarz divergence 2-D", f"{float(cs):.6f}", seconds))
    rows += _high_dimension_rows()
    _plot_l2(Path(out_dir) / "l2_mixtures.png", (p1, q1), (p, q))
    return rows


def _plot_l2(path: Path, pair_1d: tuple[gj.GMM, gj.GMM], pair_2d: tuple[gj.GMM, gj.GMM]) -> None:
    title = "L2 distance between Gaussian mixtures (You 2021)"
    with figure(path, title=title, ncols=2, figsize=(10, 4)) as axes:
        _plot_l2_1d(axes[0], *pair_1d)
        _plot_l2_2d(axes[1], *pair_2d)


def _plot_l2_1d(ax: Any, p: gj.GMM, q: gj.GMM) -> None:
    """Both densities and the squared difference whose integral is L2^2."""
    x = np.linspace(-4, 5, 600)
    for g, name in ((p, "p"), (q, "q")):
        density_1d(g, x, ax=ax, label=name)
    ax.fill_between(x, (density(p, x) - density(q, x)) ** 2, alpha=0.4, label="$(p - q)^2$")
    ax.set_title(f"1-D: L2 = {float(gj.l2_distance(p, q)):.4f}")
    ax.legend()


def _plot_l2_2d(ax: Any, p: gj.GMM, q: gj.GMM) -> None:
    """Line contours of both densities; colour names the mixture, so no colorbar."""
    for g, name, color in ((p, "p", "C0"), (q, "q", "C1")):
        contours_2d(g, ax=ax, bounds=(-4.0, 4.5), n=200, filled=False, levels=6, colors=color)
        ax.plot([], [], color=color, label=name)  # contour sets have no legend entry
    ax.set_title(f"2-D: L2 = {float(gj.l2_distance(p, q)):.4f}")
    ax.set_aspect("equal")
    ax.legend(loc="upper right")


def run_kl(out_dir: Path) -> list[Row]:
    """KL divergences: Gaussian closed form vs Monte Carlo; mixture estimators vs Monte Carlo.

    The Gaussian closed form is eq. 4 of the note by jojonki (2018); the variational
    approximation is Hershey & Olsen (2007)'s, the bounds Durrieu, Thiran & Kelly (2012)'s.
    """
    g0 = gj.Gaussian([0.0, 1.0, -1.0], [1.0, 0.5, 2.0])
    g1 = gj.Gaussian([0.5, 0.0, 0.0], [0.8, 1.0, 1.5])
    closed, seconds = timed(jax.jit(gj.kl_gaussian), g0, g1)
    key = jax.random.key(0)
    mc = float(gj.kl_divergence(g0.as_gmm(), g1.as_gmm(), "mc", key, n_samples=200_000))
    rows: list[Row] = [
        ("KL diagonal Gaussians, closed form (jojonki eq. 4)", f"{float(closed):.6f}", seconds),
        ("KL diagonal Gaussians, Monte Carlo (2e5 draws)", f"{mc:.6f}", 0.0),
    ]
    p, q = example_mixtures()
    kl = jax.jit(gj.kl_divergence, static_argnames="method")
    values = {}
    for method in ("lower_bound", "variational", "upper_bound"):
        value, seconds = timed(kl, p, q, method)
        values[method] = float(value)
        rows.append((f"KL(P||Q) mixtures, {method}", f"{float(value):.6f}", seconds))
    mc, se = _kl_monte_carlo(p, q, jax.random.key(1), 100_000)
    rows.append(("KL(P||Q) mixtures, Monte Carlo (1e5/comp.)", f"{mc:.6f}", 0.0))
    rows.append(("KL(P||Q) mixtures, Monte Carlo standard error", f"{se:.6f}", 0.0))
    _plot_kl(Path(out_dir) / "kl_mixtures.png", values, mc, se)
    return rows


def _kl_monte_carlo(p: gj.GMM, q: gj.GMM, key: jax.Array, n: int) -> tuple[float, float]:
    """gmmjax's Monte Carlo KL and its standard error, from the same draws.

    The estimator averages ``log p - log q`` over ``n`` draws of every component and weights the
    averages, so its variance is ``sum_k w_k^2 Var_k / n``.
    """
    value = float(gj.kl_divergence(p, q, "mc", key, n_samples=n))
    draws = p.component_sample(key, n)  # the draws kl_divergence(..., "mc", key) makes
    log_ratio = np.asarray(p.log_prob(draws) - q.log_prob(draws), np.float64)
    weights = np.asarray(p.weights, np.float64)
    variance = np.sum(weights**2 * log_ratio.var(axis=1, ddof=1)) / n
    return value, float(np.sqrt(variance))


_KL_LABELS = {
    "lower_bound": "lower bound\n(Durrieu et al.)",
    "variational": "variational\n(Hershey & Olsen)",
    "upper_bound": "upper bound\n(Durrieu et al.)",
}


def _plot_kl(path: Path, values: dict[str, float], mc: float, se: float) -> None:
    """Bars for the closed-form estimators, Monte Carlo once as a point with a 2 s.e. bar.

    KL is never negative, so a negative lower bound is vacuous: its bar is left at 0 and its
    value written there instead of stretching the scale below 0.
    """
    title = "Mixture KL: Hershey & Olsen (2007), Durrieu et al. (2012) bounds"
    with figure(path, title=title, figsize=(6.8, 4.0)) as ax:
        names = list(_KL_LABELS)
        heights = [max(values[name], 0.0) for name in names]
        ax.bar(range(len(names)), heights, width=0.6, color=["C2", "C0", "C3"])
        for i, name in enumerate(names):
            note = f"{values[name]:.3f}" + ("\n< 0: vacuous" if values[name] < 0 else "")
            ax.annotate(
                note,
                (i, heights[i]),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize="small",
            )
        ax.errorbar(
            len(names),
            mc,
            yerr=2 * se,
            fmt="o",
            color="k",
            capsize=6,
            label="Monte Carlo ± 2 s.e.",
        )
        ax.annotate(
            f"{mc:.3f}",
            (len(names), mc),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
        ax.set_xticks(range(len(names) + 1), [*(_KL_LABELS[n] for n in names), "Monte Carlo"])
        ax.set_ylim(0.0, 1.2 * max(*heights, mc + 2 * se))
        ax.set_xlabel("estimator")
        ax.set_ylabel("KL(P || Q) [nats]")
        ax.legend(loc="upper left")
