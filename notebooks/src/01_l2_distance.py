# %% [markdown]
# # 01 · L2 distance between Gaussian mixtures (You 2021)
#
# K. You's note (2021) derives the closed form
# $L_2^2(P,Q) = \sum_{nn'}\alpha_n\alpha_{n'}A_{nn'} + \sum_{mm'}\beta_m\beta_{m'}B_{mm'} - 2\sum_{nm}\alpha_n\beta_m C_{nm}$
# from the Gaussian product integral $\int \mathcal N(x|\mu,\Sigma)\mathcal N(x|\eta,\Lambda)dx = \mathcal N(\mu|\eta,\Sigma+\Lambda)$.
# Here we check it against numerical integration, then show why gmmjax works in log space.

# %%
import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from scipy import integrate, stats

import gmmjax as gj
import gmmjax.plot as gplot

# %% [markdown]
# ## 1-D: closed form vs adaptive quadrature

# %%
p = gj.GMM.univariate([0.4, 0.6], [-1.0, 1.5], [0.5, 0.8])
q = gj.GMM.univariate([0.7, 0.3], [0.0, 2.5], [1.0, 0.3])


def density(g, x):
    w, m, v = (np.asarray(a).ravel() for a in (g.weights, g.means, g.covs))
    return np.sum(w * stats.norm.pdf(x, m, np.sqrt(v)))


quad, _ = integrate.quad(
    lambda x: (density(p, x) - density(q, x)) ** 2, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-12
)
closed = float(gj.l2_distance_squared(p, q))
print(
    f"closed form {closed:.14f}\nquadrature  {quad:.14f}\nrelative error {abs(closed - quad) / quad:.1e}"
)
assert abs(closed - quad) / quad < 1e-8

# %% [markdown]
# The Gram matrices of the note: $A$ (P with itself), $B$ (Q with itself) and $C$ (P with Q).

# %%
A, B, C = gj.gaussian_overlap(p, p), gj.gaussian_overlap(q, q), gj.gaussian_overlap(p, q)
print("A =\n", np.asarray(A), "\nB =\n", np.asarray(B), "\nC =\n", np.asarray(C))
x = np.linspace(-4, 5, 500)
fig, ax = plt.subplots(figsize=(7, 4))
gplot.density_1d(p, x, ax=ax, label="p")
gplot.density_1d(q, x, ax=ax, label="q")
fp, fq = np.asarray(p.prob(x[:, None])), np.asarray(q.prob(x[:, None]))
ax.fill_between(x, (fp - fq) ** 2, alpha=0.4, label="$(p-q)^2$")
ax.legend()
ax.set_title(f"L2(P, Q) = {float(gj.l2_distance(p, q)):.5f}")
plt.show()
# %% [markdown]
# ## 2-D: closed form vs a fine grid

# %%
rng = np.random.default_rng(0)
P = gj.GMM(
    [0.5, 0.3, 0.2],
    rng.normal(size=(3, 2)),
    np.stack([np.eye(2), [[0.5, 0.2], [0.2, 0.4]], 0.3 * np.eye(2)]),
)
Q = gj.GMM(
    [0.6, 0.4], rng.normal(size=(2, 2)), np.stack([[[1.0, -0.3], [-0.3, 0.7]], 0.6 * np.eye(2)])
)
axis = np.linspace(-9, 9, 801)
xx, yy = np.meshgrid(axis, axis, indexing="ij")
pts = np.stack([xx.ravel(), yy.ravel()], -1)
diff2 = (np.asarray(P.prob(pts) - Q.prob(pts)).reshape(xx.shape)) ** 2
grid = integrate.simpson(integrate.simpson(diff2, x=axis), x=axis)
closed2 = float(gj.l2_distance_squared(P, Q))
print(f"closed {closed2:.12f} grid {grid:.12f} rel. error {abs(closed2 - grid) / grid:.1e}")
assert abs(closed2 - grid) / grid < 1e-8
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, g, name in zip(axes, (P, Q), ("P", "Q"), strict=True):
    gplot.contours_2d(g, ax=ax, bounds=(-4, 4), n=120)
    ax.set_title(name)
fig.tight_layout()

# %% [markdown]
# ## Why log space: dimension 128
#
# With $d = 128$ and variances $10^{-3}$ each Gram entry is about $e^{280}$, beyond float32.
# The L2 value overflows, but its logarithm and the Cauchy–Schwarz divergence (a ratio of
# inner products) are computed from log-sum-exps and stay accurate.

# %%
d = 128
m = 0.1 * rng.normal(size=(4, d))
P = gj.GMM(np.full(4, 0.25), m, np.full((4, d), 1e-3))
Q = gj.GMM(np.full(4, 0.25), m + 0.02 * rng.normal(size=(4, d)), np.full((4, d), 1.5e-3))
P32, Q32 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), (P, Q))
print("L2^2 float32:", float(gj.l2_distance_squared(P32, Q32)))
print(
    "log L2^2 float32 / float64:",
    float(gj.log_l2_distance_squared(P32, Q32)),
    float(gj.log_l2_distance_squared(P, Q)),
)
print(
    "CS float32 / float64:",
    float(gj.cauchy_schwarz_divergence(P32, Q32)),
    float(gj.cauchy_schwarz_divergence(P, Q)),
)

# %% [markdown]
# ## Differentiable and batched
#
# Every distance is a pure JAX function: gradients and `vmap` over a stacked collection.

# %%
grad = jax.grad(lambda mu: gj.l2_distance_squared(gj.GMM.univariate([1.0], mu, [1.0]), q))(
    jnp.array([0.0])
)
print("d L2^2 / d mu =", grad)
collection = gj.stack([p, q, gj.GMM.univariate([1.0], [0.0], [1.0])])
print("L2 from each mixture of the collection to q:", gj.l2_distance(collection, q))
