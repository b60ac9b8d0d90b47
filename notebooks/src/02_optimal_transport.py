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

import gmmjax as gj
import gmmjax.plot as gplot

x = np.linspace(-1.2, 1.2, 2001)


def pdf(g, grid=x):
    return np.asarray(g.prob(grid[:, None]))


QUANTILE_GRID = np.linspace(-12, 12, 200_001)


def quantile_function(g, u, grid=QUANTILE_GRID):
    """Inverse CDF of a 1-D mixture, by inverting its CDF on a fine grid."""
    from scipy.stats import norm

    w, m, v = (np.asarray(a).ravel() for a in (g.weights, g.means, g.covs))
    cdf = np.sum(w * norm.cdf(grid[:, None], m, np.sqrt(v)), axis=1)
    return np.interp(u, cdf, grid)


u = (np.arange(200_000) + 0.5) / 200_000


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
# %% [markdown]
# ## Figs. 2–4 — geodesic between 1-D mixtures
#
# $\mu_0$: means 0.5, 0.1, variances 0.01, 0.05; $\mu_1$: means 0, −0.35, variances 0.02, 0.02;
# equal weights. Standard OMT interpolates quantile functions, $Q_t = (1-t)Q_0 + tQ_1$, whose
# density loses the mixture structure; eq. 11 keeps it.

# %%
mu0 = gj.GMM.univariate([0.5, 0.5], [0.5, 0.1], [0.01, 0.05])
mu1 = gj.GMM.univariate([0.5, 0.5], [0.0, -0.35], [0.02, 0.02])
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for g, name in ((mu0, "$\\mu_0$"), (mu1, "$\\mu_1$")):
    gplot.density_1d(g, x, ax=axes[0], label=name)
axes[0].legend()
axes[0].set_title("Fig. 2: marginals")
q0, q1 = quantile_function(mu0, u), quantile_function(mu1, u)
times = np.linspace(0, 1, 6)
for t in times:
    qt = (1 - t) * q0 + t * q1
    hist, edges = np.histogram(qt, bins=400, range=(-1.2, 1.2), density=True)
    axes[1].plot(0.5 * (edges[1:] + edges[:-1]), hist + 4 * t, color="C1", lw=1)
    axes[1].plot(x, pdf(gj.geodesic(mu0, mu1, t)) + 4 * t, color="k", lw=1)
axes[1].set_title("Fig. 3: OMT interpolation (orange) vs eq. 11 (black), offset by t")
axes[1].set_xlabel("x")
axes[1].set_ylabel("density + 4 t")

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
    quantiles = sum(l * quantile_function(g, u) for l, g in zip(lam, mus, strict=True))
    hist, edges = np.histogram(quantiles, bins=400, range=(-1.2, 1.2), density=True)
    ax.plot(0.5 * (edges[1:] + edges[:-1]), hist, color="C1", label="OMT barycenter")
    gplot.density_1d(bary, x, ax=ax, color="k", label="ours (eq. 19)")
    ax.legend()
    ax.set_title(
        f"Fig. {fig_no}: λ = {np.round(lam, 3).tolist()}, eq. 17 objective {float(info.cost):.4f}"
    )
