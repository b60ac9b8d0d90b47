# %% [markdown]
# # 03 · KL divergences (jojonki 2018; Hershey & Olsen 2007 for mixtures)
#
# jojonki's note (2018) derives $D_{KL}$ between diagonal Gaussians (its eq. 4) and the VAE special case
# (eq. 5). gmmjax has the closed form for full covariances too, and four estimators between
# mixtures, which have no closed form.

# %%
import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import gmmjax as gj

# %% [markdown]
# ## Eq. 4 and eq. 5

# %%
mu1, var1 = np.array([0.0, 1.0, -1.0]), np.array([1.0, 0.5, 2.0])
mu2, var2 = np.array([0.5, 0.0, 0.0]), np.array([0.8, 1.0, 1.5])
eq4 = -0.5 * np.sum(np.log(var1 / var2) - var1 / var2 - (mu1 - mu2) ** 2 / var2 + 1)
ours = float(gj.kl_gaussian(gj.Gaussian(mu1, var1), gj.Gaussian(mu2, var2)))
print(f"eq. 4 {eq4:.12f}   gmmjax {ours:.12f}")
eq5 = -0.5 * np.sum(1 + np.log(var1) - var1 - mu1**2)
vae = float(gj.kl_gaussian(gj.Gaussian(mu1, var1), gj.Gaussian(np.zeros(3), np.ones(3))))
print(f"eq. 5 {eq5:.12f}   gmmjax {vae:.12f}")
assert abs(eq4 - ours) < 1e-12 and abs(eq5 - vae) < 1e-12

# %% [markdown]
# ## Full covariance against Monte Carlo

# %%
g0 = gj.Gaussian([0.0, 1.0], [[1.0, 0.6], [0.6, 0.8]])
g1 = gj.Gaussian([0.5, 0.0], [[0.7, -0.2], [-0.2, 1.2]])
exact = float(gj.kl_gaussian(g0, g1))
mc = float(gj.kl_divergence(g0.as_gmm(), g1.as_gmm(), "mc", jax.random.key(0), n_samples=400_000))
print(f"closed form {exact:.5f}, Monte Carlo {mc:.5f}")

# %% [markdown]
# ## Between mixtures: approximations and bounds vs Monte Carlo
#
# `lower_bound` ≤ KL ≤ `upper_bound` always; `variational` (Hershey & Olsen) is exact at P = Q
# but neither bound; `mc` is unbiased.

# %%
P = gj.GMM(
    [0.5, 0.3, 0.2],
    [[0.0, 0.0], [2.0, 1.0], [-1.5, 2.0]],
    [[[1.0, 0.3], [0.3, 0.6]], [[0.5, 0.0], [0.0, 0.8]], [[0.7, -0.2], [-0.2, 0.4]]],
)
shifts = np.linspace(0.0, 3.0, 7)
methods = ["lower_bound", "variational", "upper_bound"]
curves = {m: [] for m in [*methods, "mc"]}
for s in shifts:
    Q = gj.GMM(P.weights, P.means + jnp.array([s, 0.0]), P.covs * 1.3)
    for m in methods:
        curves[m].append(float(gj.kl_divergence(P, Q, m)))
    curves["mc"].append(float(gj.kl_divergence(P, Q, "mc", jax.random.key(1), n_samples=20_000)))
for m, values in curves.items():
    plt.plot(shifts, values, "o-" if m != "mc" else "k--", label=m)
plt.xlabel("shift of Q along x")
plt.ylabel("KL(P || Q)")
plt.legend()
assert all(lo <= mc + 0.02 for lo, mc in zip(curves["lower_bound"], curves["mc"], strict=True))
assert all(hi >= mc - 0.02 for hi, mc in zip(curves["upper_bound"], curves["mc"], strict=True))
