# %% [markdown]
# # 05 · GMM distances as training losses
#
# Every distance in gmmjax is differentiable, so a mixture can be fitted to another one by
# gradient descent. Here a 6-component 2-D mixture (the student) is fitted to a 4-component
# target (the teacher) with optax, once per loss: L2² (You 2021), Cauchy–Schwarz, and the
# mixture Wasserstein distance d of Chen, Georgiou & Tannenbaum (2019) (exact LP, differentiated through the plan).
# The student is parameterised without constraints: weights by logits, covariances by a
# Cholesky factor with a softplus diagonal.

# %%
import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import gmmjax as gj
import gmmjax.plot as gplot

teacher = gj.GMM(
    [0.4, 0.3, 0.2, 0.1],
    [[-2.0, 0.0], [2.0, 0.5], [0.0, 2.5], [0.5, -2.5]],
    [
        [[0.6, 0.2], [0.2, 0.4]],
        [[0.3, 0.0], [0.0, 0.9]],
        [[0.5, -0.2], [-0.2, 0.3]],
        0.2 * np.eye(2),
    ],
)

# %%
K, d = 6, 2
key = jax.random.key(0)
init = {
    "logits": jnp.zeros(K),
    "means": jax.random.normal(key, (K, d)),
    "raw_chol": jnp.zeros((K, d, d)),
}


def student(params):
    tril = jnp.tril(params["raw_chol"], -1)
    diag = jax.nn.softplus(jnp.diagonal(params["raw_chol"], axis1=1, axis2=2)) + 1e-3
    chol = tril + jax.vmap(jnp.diag)(diag)
    covs = chol @ jnp.swapaxes(chol, 1, 2)
    return gj.GMM.from_logits(params["logits"], params["means"], covs, validate=False)


def fit(loss_fn, steps=300, lr=0.05):
    opt = optax.adam(lr)

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(lambda p: loss_fn(student(p), teacher))(params)
        updates, state = opt.update(grads, state)
        return optax.apply_updates(params, updates), state, loss

    params, state, history = init, opt.init(init), []
    for _ in range(steps):
        params, state, loss = step(params, state)
        history.append(float(loss))
    return student(params), np.array(history)


losses = {
    "L2²": gj.l2_distance_squared,
    "Cauchy–Schwarz": gj.cauchy_schwarz_divergence,
    "mixture W2 (d, exact)": gj.mw2_distance,
}
fits = {name: fit(fn) for name, fn in losses.items()}

# %%
fig, axes = plt.subplots(1, 4, figsize=(18, 3.8))
for ax, (name, (gmm, history)) in zip(axes[:-1], fits.items(), strict=True):
    box = {"bounds": (-4, 4), "n": 150, "filled": False}
    gplot.contours_2d(teacher, ax=ax, colors="k", alpha=0.4, **box)
    gplot.contours_2d(gmm, ax=ax, cmap="viridis", colorbar_label="student density", **box)
    ax.set_title(f"{name} (teacher in grey)")
    axes[3].semilogy(history - history.min() + 1e-12, label=name)
axes[3].set_title("loss - min")
axes[3].set_xlabel("step")
axes[3].set_ylabel("loss - min (log scale)")
axes[3].legend()
fig.tight_layout()
for name, (gmm, _) in fits.items():
    print(
        f"{name:<24} L2 to teacher {float(gj.l2_distance(gmm, teacher)):.4f}  "
        f"CS {float(gj.cauchy_schwarz_divergence(gmm, teacher)):.4f}  "
        f"d {float(gj.mw2_distance(gmm, teacher)):.4f}"
    )
