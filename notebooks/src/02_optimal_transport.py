# %% [markdown]
# # 02 · Optimal transport for Gaussian mixtures (Chen, Georgiou & Tannenbaum 2019)
#
# Chen, Georgiou & Tannenbaum (2019) restrict optimal transport to mixtures: the distance
# $d(\mu_0,\mu_1)^2 = \min_{\pi}\sum_{ij}\pi_{ij}W_2(\nu_0^i,\nu_1^j)^2$ is a discrete OT problem
# between components with the Gaussian $W_2^2$ as ground cost (eqs. 9–10). This notebook
# reproduces the examples of §V: Fig. 1 ($d$ vs $W_2$), Figs. 2–7 (geodesics in 1-D and 2-D,
# against the standard displacement interpolation), Figs. 8–10 (barycenters).
#
# The parameters of the 2-D example (Figs. 5–7) are not printed in the paper; we choose our own.

# %%
import jax

jax.config.update("jax_enable_x64", True)
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm

import gmmjax as gj
import gmmjax.plot as gplot

x = np.linspace(-1.2, 1.2, 2001)


def pdf(g, grid=x):
    return np.asarray(g.prob(grid[:, None]))


QUANTILE_GRID = np.linspace(-12, 12, 200_001)
u = (np.arange(200_000) + 0.5) / 200_000  # levels of the quantile functions


def _arrays(g):
    return (np.asarray(a, dtype=np.float64).ravel() for a in (g.weights, g.means, g.covs))


def quantile_function(g, u, grid=QUANTILE_GRID):
    """Inverse CDF of a 1-D mixture, by inverting its CDF on a fine grid."""
    w, m, v = _arrays(g)
    cdf = np.sum(w * norm.cdf(grid[:, None], m, np.sqrt(v)), axis=1)
    return np.interp(u, cdf, grid)


def quantile_average(gs, lam):
    """Density of the 1-D measure whose quantile function is sum_k lam_k Q_k (standard OMT).

    With two measures and lam = (1 - t, t) this is the displacement interpolation at time t,
    with more it is the Wasserstein barycenter. At x(u) = sum_k lam_k Q_k(u) the density is
    1 / x'(u) = 1 / sum_k lam_k / f_k(Q_k(u)): exact, no histogram.
    """
    qs = [quantile_function(g, u) for g in gs]
    slope = sum(l / np.asarray(g.prob(q[:, None])) for l, g, q in zip(lam, gs, qs, strict=True))
    return sum(l * q for l, q in zip(lam, qs, strict=True)), 1 / slope


def w2_1d(g0, g1):
    """W2 between 1-D mixtures from quantile functions: (∫ (Q0(u) - Q1(u))^2 du)^1/2."""
    return np.sqrt(np.mean((quantile_function(g0, u) - quantile_function(g1, u)) ** 2))


# %% [markdown]
# ## Fig. 1 — $d$ vs $W_2$
#
# $\mu_0 = \mathcal N(0,1)$, $\mu_1 = \tfrac12\mathcal N(-\Delta,1) + \tfrac12\mathcal N(\Delta,1)$.
# The paper notes $d = \Delta$ exactly, and $d \ge W_2$.

# %%
deltas = np.linspace(0, 3, 13)
mu0 = gj.GMM.univariate([1.0], [0.0], [1.0])
d_vals, w_vals = [], []
for delta in deltas:
    mu1 = gj.GMM.univariate([0.5, 0.5], [-delta, delta], [1.0, 1.0])
    d_vals.append(float(gj.mw2_distance(mu0, mu1)))
    w_vals.append(w2_1d(mu0, mu1))
print(" Δ      d        W2")
for row in zip(deltas, d_vals, w_vals, strict=True):
    print(" {:.2f}  {:.6f}  {:.6f}".format(*row))
assert np.allclose(d_vals, deltas, atol=1e-9)
assert np.all(np.array(d_vals) >= np.array(w_vals) - 1e-4)
plt.plot(deltas, d_vals, label="d")
plt.plot(deltas, w_vals, label="$W_2$")
plt.xlabel("Δ")
plt.ylabel("distance between $\\mu_0$ and $\\mu_1$")
plt.legend()
plt.title("Fig. 1: d vs $W_2$")
plt.show()
# %% [markdown]
# ## Figs. 2–4 — geodesic between 1-D mixtures
#
# §V.B: $\mu_0$ has means 0.5, 0.1 and variances 0.01, 0.05; $\mu_1$ has means 0, −0.35 and
# variances 0.02, 0.02; equal weights. Standard OMT (the displacement interpolation) moves mass
# by the monotone rearrangement: its quantile function is $Q_t = (1-t)Q_0 + tQ_1$, and its
# density at $Q_t(u)$ is $1/\big((1-t)/f_0(Q_0(u)) + t/f_1(Q_1(u))\big)$. The mixture geodesic
# of eq. 11 moves each component of $\mu_0$ along the Gaussian geodesic to its partner in
# $\mu_1$, so every intermediate density is again a two-component mixture.

# %%
mu0 = gj.GMM.univariate([0.5, 0.5], [0.5, 0.1], [0.01, 0.05])
mu1 = gj.GMM.univariate([0.5, 0.5], [0.0, -0.35], [0.02, 0.02])
fig, ax = plt.subplots(figsize=(7, 3.5))
for g, name in ((mu0, "$\\mu_0$"), (mu1, "$\\mu_1$")):
    gplot.density_1d(g, x, ax=ax, label=name, components=True)
ax.legend()
ax.set_title("Fig. 2: the marginals and their weighted components")
plt.show()


def interpolations(mu0, mu1, times, title):
    """Rows t: displacement interpolation (left) and the mixture geodesic (right)."""
    fig, axes = plt.subplots(len(times), 2, figsize=(11, 1.9 * len(times)), sharex=True)
    gaps = []
    for row, t in zip(axes, times, strict=True):
        xt, density = quantile_average((mu0, mu1), (1 - t, t))
        geo = gj.geodesic(mu0, mu1, t)
        gaps.append(np.max(np.abs(np.interp(x, xt, density) - pdf(geo))))
        row[0].plot(xt, density, color="C1")
        row[0].plot(x, pdf(geo), color="k", lw=1, ls=":", zorder=3)
        gplot.density_1d(geo, x, ax=row[1], color="k", components=True, label=None)
        for ax in row:
            ax.set_xlim(x[0], x[-1])
            ax.set_ylabel(f"t = {t:g}")
            ax.set_xlabel("")
        row[0].set_ylim(row[1].get_ylim())
    axes[0, 0].set_title("standard OMT (displacement interpolation)")
    axes[0, 1].set_title("mixture geodesic, eq. 11 (components dashed)")
    axes[-1, 0].set_xlabel("x")
    axes[-1, 1].set_xlabel("x")
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()
    for t, gap in zip(times, gaps, strict=True):
        print(f"t = {t:4.2f}: largest |OMT - geodesic| = {gap:.3f}")


times = (0.0, 0.25, 0.5, 0.75, 1.0)
interpolations(mu0, mu1, times, "Fig. 3: the paper's mixtures (dotted: the geodesic)")

# %% [markdown]
# With the paper's parameters the two interpolations are close, and it is worth saying why:
# both mixtures carry equal weights and list their components in the same order along the
# line, so the monotone rearrangement sends (almost all of) each component of $\mu_0$ to the
# component of $\mu_1$ that the mixture plan pairs it with. The largest difference, at
# $t = 0.5$, is about 0.05 against a peak of 1.8: the OMT density is not a two-component
# mixture (the overlapping tails are rearranged), but the difference is hard to see at the
# scale of the figure.
#
# The two differ where the monotone rearrangement must cut components apart. Below, $\mu_0$
# is a narrow peak on a wide base at 0 (variances 0.002 and 0.1) and $\mu_1$ two bumps at
# −0.5 and 0.4 (variance 0.01). Standard OMT sends the left half of everything to the left
# bump: the peak is split in two, and each half slides away carrying half of the base. The
# mixture geodesic pairs the peak with one bump and the base with the other and moves each as
# a whole Gaussian.

# %%
peak_on_base = gj.GMM.univariate([0.5, 0.5], [0.0, 0.0], [0.002, 0.1])
two_bumps = gj.GMM.univariate([0.5, 0.5], [-0.5, 0.4], [0.01, 0.01])
interpolations(peak_on_base, two_bumps, times, "where the mixture structure is lost")

# %% [markdown]
# Fig. 4: the geodesic is a mixture whose components move along the optimal coupling of the
# components of $\mu_0$ and $\mu_1$. Left, the coupling (line width: the plan's mass);
# right, the mixture at five times with its weighted components (dashed).

# %%
fig, ax = plt.subplots(figsize=(5, 3))
gplot.coupling(mu0, mu1, gj.mw2_plan(mu0, mu1), ax=ax, labels=("$\\mu_0$", "$\\mu_1$"))
ax.set_title("the optimal coupling of the components")
axes = gplot.geodesic_strip(mu0, mu1, 5, components=True)
axes[0].figure.suptitle("Fig. 4: the geodesic and its weighted components")
axes[0].figure.tight_layout()
d01 = float(gj.mw2_distance(mu0, mu1))
for s, t in ((0.0, 0.3), (0.2, 0.9), (0.5, 1.0)):
    dst = float(gj.mw2_distance(gj.geodesic(mu0, mu1, s), gj.geodesic(mu0, mu1, t)))
    print(f"d(mu_{s}, mu_{t}) = {dst:.10f}   (t - s) d(mu_0, mu_1) = {(t - s) * d01:.10f}")

# %% [markdown]
# ## Figs. 5–7 — a 2-D geodesic
#
# Standard OMT between the two densities is approximated by exact discrete OT between 1,500
# samples of each (POT's `ot.emd`, from the `pot` extra: at this size the host network simplex
# is the right tool), with particles moving along straight lines.

# %%
import ot

mu0 = gj.GMM(
    [0.5, 0.5], [[-1.0, 0.0], [1.0, 1.0]], [[[0.3, 0.1], [0.1, 0.2]], [[0.2, -0.1], [-0.1, 0.4]]]
)
mu1 = gj.GMM(
    [0.5, 0.5], [[0.0, -1.5], [0.5, 1.5]], [[[0.5, 0.0], [0.0, 0.1]], [[0.1, 0.0], [0.0, 0.3]]]
)
n = 1500
xs = np.asarray(mu0.sample(jax.random.key(0), n))
ys = np.asarray(mu1.sample(jax.random.key(1), n))
plan = ot.emd(np.full(n, 1 / n), np.full(n, 1 / n), ot.dist(xs, ys))
match = plan.argmax(axis=1)
times = np.linspace(0, 1, 5)
frames = [(1 - t) * xs + t * ys[match] for t in times]
edges = np.linspace(-3, 3, 51)
peak = max(np.histogram2d(*f.T, bins=[edges, edges])[0].max() for f in frames)
fig, axes = plt.subplots(2, 5, figsize=(18, 7.5), layout="constrained")
for i, (t, particles) in enumerate(zip(times, frames, strict=True)):
    *_, image = axes[0, i].hist2d(*particles.T, bins=[edges, edges], vmin=0, vmax=peak)
    axes[0, i].set_title(f"OMT (Fig. 6), t = {t:.2f}")
    axes[0, i].set_xlabel("$x_1$")
    axes[0, i].set_ylabel("$x_2$")
fig.colorbar(image, ax=axes[0], label="particles per bin")
gplot.geodesic_strip(mu0, mu1, 5, axes=axes[1], n=120, levels=20)
for ax in axes[1]:
    ax.set_title(f"eq. 11 (Fig. 7), {ax.get_title()}")

# %% [markdown]
# ## Figs. 8–10 — barycenters of three 1-D mixtures
#
# Our barycenter solves the LP of eq. 19 over the Gaussian barycenters of eq. 18; the
# "traditional" OMT barycenter of 1-D densities averages quantile functions.

# %%
mus = [
    gj.GMM.univariate([0.5, 0.5], [0.5, 0.1], [0.01, 0.05]),
    gj.GMM.univariate([0.5, 0.5], [0.0, -0.35], [0.02, 0.02]),
    gj.GMM.univariate([0.5, 0.5], [0.4, -0.45], [0.025, 0.021]),
]
fig, axes = plt.subplots(1, 3, figsize=(18, 4))
for i, g in enumerate(mus):
    gplot.density_1d(g, x, ax=axes[0], label=f"$\\mu_{i + 1}$")
axes[0].legend()
axes[0].set_title("Fig. 8: marginals")
for ax, lam, fig_no in ((axes[1], [1 / 3, 1 / 3, 1 / 3], 9), (axes[2], [0.25, 0.25, 0.5], 10)):
    bary, info = gj.mw2_barycenter(mus, lam, return_info=True)
    xb, density = quantile_average(mus, lam)
    ax.plot(xb, density, color="C1", label="OMT barycenter")
    ax.set_xlim(x[0], x[-1])
    gplot.density_1d(bary, x, ax=ax, color="k", label="ours (eq. 19)")
    ax.legend()
    ax.set_title(
        f"Fig. {fig_no}: λ = {np.round(lam, 3).tolist()}, eq. 17 objective {float(info.cost):.4f}"
    )
