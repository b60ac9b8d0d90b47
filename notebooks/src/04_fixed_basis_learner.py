# %% [markdown]
# # 04 · The fixed-basis π-learner (Lu et al. 2023)
#
# Lu, Ding, Wu & Yuan (2023) fix the means and widths of a large Gaussian basis on a grid over the data (§2.1),
#
# $$r = \frac{\max X - \min X}{n},\qquad \mu_i = \min X + i\,r,\qquad \sigma = t\,r,$$
#
# and learn only the weights $\pi$. They score a fit by the *density information loss* (Eq. 9), the summed
# absolute differences of the probabilities the target and the mixture put on the windows $\mu_i \pm d$ and on the two tails.
#
# This notebook reproduces the paper's Figures 3–7 and small versions of Tables 1–3 with
#
# * `gmmjax.grid_basis` — the basis,
# * `gmmjax.paper_algorithm1` / `paper_algorithm2` — the paper's two learning rules (§2.4), as faithful baselines,
# * `gmmjax.fit_weights` — our learner: optax on softmax logits in one compiled `lax.scan`, with held-out early stopping over smoothed starts,
# * `gmmjax.density_information_loss` — Eq. 9 against the exact target CDF.
#
# The full tables (20–30 repetitions, with the histogram, each loss and scikit-learn) are produced by `benchmarks/learner_tables.py`; see `benchmarks/RESULTS.md`.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import gmmjax
import gmmjax.plot as gplot
from gmmjax.targets import GAUSSIAN, MIXED, RandomTarget

# %% [markdown]
# ## Figure 3 · two random targets
#
# Target 1 mixes 8 Gaussians; target 2 mixes normal, Student *t* and uniform components (locations in U(−10, 10), scales in U(0.5, 2), Dirichlet weights). 5,000 points are drawn from each.

# %%
targets = {
    "target 1 (8 Gaussians)": RandomTarget(np.random.default_rng(1), GAUSSIAN),
    "target 2 (normal / t / uniform)": RandomTarget(np.random.default_rng(7), MIXED),
}
data = {name: tg.sample(5000, np.random.default_rng(11)) for name, tg in targets.items()}

fig, axes = plt.subplots(2, 1, figsize=(9, 5.5))
for ax, (name, tg) in zip(axes, targets.items(), strict=True):
    x = data[name]
    grid = np.linspace(x.min(), x.max(), 1200)
    ax.hist(x, bins=120, density=True, color="0.85", label="5,000 samples")
    ax.plot(grid, tg.pdf(grid), "k", lw=2, label="target density")
    ax.set_title(name)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.legend()
fig.tight_layout()

# %% [markdown]
# ## Figure 4 · the initial mixture
#
# 200 components, $\sigma = 2r$, uniform weights: before learning the mixture is almost flat over the data range.

# %%
n, t = 200, 2.0
fig, axes = plt.subplots(2, 1, figsize=(9, 5.5))
for ax, (name, tg) in zip(axes, targets.items(), strict=True):
    x = data[name]
    basis = gmmjax.grid_basis(x, n, t)
    grid = np.linspace(x.min(), x.max(), 1200)
    ax.plot(grid, tg.pdf(grid), "k", lw=2, label="target")
    gplot.density_1d(basis, grid, ax=ax, label="initial GMM (uniform π)")
    r = float(basis.means[1, 0] - basis.means[0, 0])
    ax.set_title(f"{name}: r = {r:.3f}, σ = {t:g} r")
    ax.legend()
fig.tight_layout()

# %% [markdown]
# ## Figures 5 and 6 · trained mixtures against the targets
#
# Algorithm 1, Algorithm 2 and `fit_weights` on the same basis. DIL uses $d = r/2$ (the windows then tile the grid) and the exact target CDF.
#
# Algorithm 2 is implemented as the text states: each point adds $\widetilde{dL}$ to its own component and subtracts $\widetilde{dL}/n$ from all others. Over 5,000 points this drives the weight of every cell with fewer than about $N/(n+1)$ points negative; such weights are set to 0 before the final renormalisation (the smallest change that gives a mixture), so the fit loses the sparse regions. The paper reports Algorithm 2 close to Algorithm 1, which the literal rule cannot reproduce; see the docstring of `paper_algorithm2`.


# %%
def fit_all(x, n, t):
    basis = gmmjax.grid_basis(x, n, t)
    fits = {
        "Algorithm 1": gmmjax.paper_algorithm1(x, n, t),
        "Algorithm 2": gmmjax.paper_algorithm2(x, n, t),
        "fit_weights": gmmjax.fit_weights(basis, x).gmm,
    }
    centers = np.asarray(basis.means[:, 0], dtype=np.float64)
    return basis, centers, fits


def dil(gmm, tg, centers):
    d = (centers[1] - centers[0]) / 2
    return float(gmmjax.density_information_loss(gmm, tg.cdf, d, centers=centers))


fig, axes = plt.subplots(2, 1, figsize=(9, 6))
for ax, (name, tg) in zip(axes, targets.items(), strict=True):
    x = data[name]
    basis, centers, fits = fit_all(x, n, t)
    grid = np.linspace(x.min(), x.max(), 1200)
    ax.plot(grid, tg.pdf(grid), "k", lw=2.5, label="target")
    for label, g in fits.items():
        gplot.density_1d(g, grid, ax=ax, lw=1.2, label=f"{label}: DIL {dil(g, tg, centers):.4f}")
    ax.set_title(name)
    ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ### What the learner did
#
# `fit_weights` returns the loss history, the held-out score along the path, the step and the smoothing width it chose. By default the score is the least-squares cross-validation score $\int g^2 - \frac2M\sum_j g(x_j)$ averaged over 5 folds: it weights errors by probability mass, as DIL does, and every point judges once. The chosen width and number of steps are then run on all the points.

# %%
x = data["target 2 (normal / t / uniform)"]
res = gmmjax.fit_weights(gmmjax.grid_basis(x, n, t), x)
print(
    f"best step {res.best_step} of {res.steps}, start smoothed over {res.smoothing:g} grid spacings"
)
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3))
ax.plot(np.asarray(res.history))
ax.set_title("training NLL (fold average)")
ax2.plot(np.asarray(res.validation_history))
ax2.set_title("held-out L2 score (5-fold average)")
for a in (ax, ax2):
    a.axvline(res.best_step, color="0.5", ls="--")
    a.set_xlabel("step")
fig.tight_layout()
plt.show()
# %% [markdown]
# ## Figure 7 · more examples at σ = 1r, 2r, 3r
#
# Larger σ gives smoother mixtures; with uniform components (bottom row) sharp edges need small σ.

# %%
fig, axes = plt.subplots(2, 3, figsize=(12, 5.5))
for row, kinds in enumerate((GAUSSIAN, MIXED)):
    tg = RandomTarget(np.random.default_rng(100 + row), kinds)
    x = tg.sample(5000, np.random.default_rng(5))
    grid = np.linspace(x.min(), x.max(), 1000)
    for col, tt in enumerate((1.0, 2.0, 3.0)):
        basis = gmmjax.grid_basis(x, n, tt)
        centers = np.asarray(basis.means[:, 0], dtype=np.float64)
        g = gmmjax.fit_weights(basis, x).gmm
        a1 = gmmjax.paper_algorithm1(x, n, tt)
        ax = axes[row, col]
        ax.plot(grid, tg.pdf(grid), "k", lw=2)
        gplot.density_1d(a1, grid, ax=ax, lw=1, label=f"Alg. 1 {dil(a1, tg, centers):.3f}")
        gplot.density_1d(g, grid, ax=ax, lw=1, label=f"ours {dil(g, tg, centers):.3f}")
        ax.set_title(f"σ = {tt:g} r")
        ax.legend(fontsize=7)
fig.tight_layout()

# %% [markdown]
# ## Tables 1 and 2, small
#
# Mean DIL ($d = r/2$) over 2 repetitions, to keep the notebook quick (the paper uses 20; `python benchmarks/learner_tables.py --reps 20` runs 20). Published values (their $d$ is not stated) are printed beside ours.

# %%
paper = {
    "Table 1": {
        "Algorithm 1": (0.07099, 0.05091, 0.044296),
        "Algorithm 2": (0.06866, 0.05085, 0.04447),
    },
    "Table 2": {
        "Algorithm 1": (0.08912, 0.08738, 0.09432),
        "Algorithm 2": (0.08678, 0.08749, 0.09446),
    },
}
start = time.perf_counter()
for table, kinds in (("Table 1", GAUSSIAN), ("Table 2", MIXED)):
    scores = {m: np.zeros(3) for m in ("Algorithm 1", "Algorithm 2", "fit_weights")}
    reps = 2
    for rep in range(reps):
        rng = np.random.default_rng([int(table[-1]), rep])
        tg = RandomTarget(rng, kinds)
        x = tg.sample(5000, rng)
        for j, tt in enumerate((1.0, 2.0, 3.0)):
            basis, centers, fits = fit_all(x, 200, tt)
            for m, g in fits.items():
                scores[m][j] += dil(g, tg, centers) / reps
    print(f"{table}: mean DIL, sigma = 1r / 2r / 3r")
    for m, v in scores.items():
        pub = paper[table].get(m)
        extra = f"   (paper: {' / '.join(f'{p:.4f}' for p in pub)})" if pub else ""
        print(f"  {m:12s} {' / '.join(f'{s:.4f}' for s in v)}{extra}")
print(f"{time.perf_counter() - start:.1f} s")

# %% [markdown]
# ### Where Table 1 differs from the paper's, and why
#
# The paper's Table 1 improves as σ grows (Algorithm 1: 0.071, 0.051, 0.044 for σ = 1r, 2r, 3r). Our Algorithm 1 does not: it gets *worse* with σ (about 0.06 at 1r, 0.11 at 3r above), while `fit_weights` follows the paper's direction. Three things explain the difference.
#
# * **What Algorithm 1 computes.** Each point's update depends only on its grid cell, never on the current weights, so the weights are the cell counts spread over the components within about σ of each cell, and the mixture spreads them once more by its own width σ: the fit is the histogram blurred twice by σ. A wider σ averages away more of the sampling noise of about 25 points per cell (the plain histogram scores ≈ 0.10 in `benchmarks/RESULTS.md`) but flattens the target's peaks and edges by about √2 σ. On our targets (component scales from 0.5, a data range of about 25, so r ≈ 0.12 and 3r ≈ 0.37) the flattening wins beyond σ ≈ 1–2r. The paper's trend is what one gets when the noise dominates, i.e. targets that are wider relative to the grid spacing.
# * **Unstated details.** The paper states neither the window half-width d of Eq. 9 nor how its random targets are scaled against the data range; we use d = r/2 (the windows tile the grid) and the generator of `gmmjax.targets`. Both set where the noise–blur balance falls, so the published numbers are a reference, not something this text can reproduce.
# * **Why our learner does not degrade with σ.** `fit_weights` maximises the likelihood through the wide components instead of reading weights off the counts, so it partly undoes the blur (a deconvolution); a larger σ costs it only the detail that 200 components of that width cannot represent.
#
# Algorithm 2 as written is an order of magnitude worse than the paper reports (see above and its docstring); its small decrease with σ comes from wider components carrying some mass into the cells whose weights were clipped to 0.

# %% [markdown]
# ## Table 3, small
#
# Number of components against data size (target family of Table 2, σ = 3r), 2 repetitions. The paper compares 5,000 and 20,000 points; to keep the notebook quick we use 1,250 and 5,000 (the same factor 4; a fit on 20,000 points takes about ten times as long as one on 5,000). `python benchmarks/learner_tables.py --tables 3 --sizes 5000,20000` runs the paper's sizes. The paper reports for Algorithm 2 with 20,000 points: 0.710, 0.200, 0.0295 for n = 10, 50, 200.

# %%
ns = (10, 50, 200)
for size in (1250, 5000):
    rows = {m: [] for m in ("Algorithm 1", "Algorithm 2", "fit_weights")}
    for nn in ns:
        acc = {m: 0.0 for m in rows}
        for rep in range(2):
            rng = np.random.default_rng([3, rep])
            tg = RandomTarget(rng, MIXED)
            x = tg.sample(size, rng)
            basis, centers, fits = fit_all(x, nn, 3.0)
            for m, g in fits.items():
                acc[m] += dil(g, tg, centers) / 2
        for m in rows:
            rows[m].append(acc[m])
    print(f"data size {size}:  n = " + " / ".join(map(str, ns)))
    for m, v in rows.items():
        print(f"  {m:12s} " + " / ".join(f"{s:.4f}" for s in v))
