# %% [markdown]
# # 06 · Sampling new digits through a fixed-basis GMM latent space (Lu et al. 2023, §3.2)
#
# Lu et al. (2023, §3.2.1) train an autoencoder on handwritten digits, fit one of their fixed-basis
# mixtures per class to the 2-D latent codes, and decode samples from those mixtures into new
# digits. We do the same at notebook scale: scikit-learn's bundled 8×8 digits (`load_digits`,
# 1,797 images, no download), a small MLP autoencoder in JAX + optax, then per class a
# `gmmjax.grid_basis` of 10×10 components on the latent codes with weights from
# `gmmjax.fit_weights`, and finally `GMM.sample` → decoder → an image grid.
#
# (The paper's model is a convolutional autoencoder with an adversarial term, Eq. 10; a plain
# reconstruction loss is enough to show the mechanism here.)

# %%
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from sklearn.datasets import load_digits

import gmmjax
import gmmjax.plot as gplot

digits = load_digits()
images = (digits.data / 16.0).astype(np.float32)  # (1797, 64) in [0, 1]
labels = digits.target
print(images.shape, np.bincount(labels))

# %% [markdown]
# ## The autoencoder
#
# 64 → 128 → 2 → 128 → 64 with `tanh` hidden layers and a sigmoid output, trained on the binary
# cross-entropy of the pixels by Adam, full batch, in one `lax.scan`.


# %%
def init_layer(key, n_in, n_out):
    return {"w": jax.random.normal(key, (n_in, n_out)) * np.sqrt(1.0 / n_in), "b": jnp.zeros(n_out)}


def init_params(key):
    k = jax.random.split(key, 4)
    return {
        "enc1": init_layer(k[0], 64, 128),
        "enc2": init_layer(k[1], 128, 2),
        "dec1": init_layer(k[2], 2, 128),
        "dec2": init_layer(k[3], 128, 64),
    }


def encode(p, x):
    h = jnp.tanh(x @ p["enc1"]["w"] + p["enc1"]["b"])
    return h @ p["enc2"]["w"] + p["enc2"]["b"]


def decode_logits(p, z):
    h = jnp.tanh(z @ p["dec1"]["w"] + p["dec1"]["b"])
    return h @ p["dec2"]["w"] + p["dec2"]["b"]


def loss_fn(p, x):
    logits = decode_logits(p, encode(p, x))
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, x))


opt = optax.adam(3e-3)


@jax.jit
def train(p, x):
    def step(carry, _):
        p, s = carry
        value, g = jax.value_and_grad(loss_fn)(p, x)
        updates, s = opt.update(g, s, p)
        return (optax.apply_updates(p, updates), s), value

    (p, _), history = jax.lax.scan(step, (p, opt.init(p)), None, length=2000)
    return p, history


start = time.perf_counter()
params, history = train(init_params(jax.random.key(0)), jnp.asarray(images))
print(
    f"trained in {time.perf_counter() - start:.1f} s; reconstruction BCE {float(history[-1]):.4f}"
)
latent = np.asarray(encode(params, jnp.asarray(images)))

# %%
fig, ax = plt.subplots(figsize=(6, 5))
sc = ax.scatter(latent[:, 0], latent[:, 1], c=labels, cmap="tab10", s=5)
fig.colorbar(sc, ax=ax, label="digit")
ax.set_xlabel("$z_1$")
ax.set_ylabel("$z_2$")
ax.set_title("2-D latent codes")
plt.show()
# %% [markdown]
# ## One fixed-basis mixture per class
#
# For each digit: a 10×10 tensor grid over that class's codes with σ = 1.5 r per axis
# (`grid_basis`), weights by `fit_weights` (maximum likelihood with held-out early stopping).
# Every class uses its first 174 codes (the smallest class size), so all ten fits share one
# compiled loop.

# %%
start = time.perf_counter()
class_gmms = {}
per_class = min(np.bincount(labels))  # same number of points per class: one compiled loop
for c in range(10):
    z = latent[labels == c][:per_class]
    basis = gmmjax.grid_basis(z, 10, 1.5)
    class_gmms[c] = gmmjax.fit_weights(basis, z, steps=150).gmm
print(
    f"10 class mixtures of {class_gmms[0].n_components} components in {time.perf_counter() - start:.1f} s"
)

fig, axes = plt.subplots(2, 5, figsize=(17, 6), layout="constrained")
for c, ax in zip(range(10), axes.ravel(), strict=True):
    z = latent[labels == c]
    bounds = (z.min(0) - 0.5, z.max(0) + 0.5)
    gplot.contours_2d(
        class_gmms[c],
        ax=ax,
        bounds=bounds,
        n=80,
        levels=12,
        cmap="Blues",
        samples=z,
        xlabel="$z_1$",
        ylabel="$z_2$",
    )
    ax.set_title(f"digit {c}")

# %% [markdown]
# ## New digits
#
# Ten samples from each class mixture, decoded. Each row is one class.

# %%
rows = []
for c in range(10):
    z = class_gmms[c].sample(jax.random.key(100 + c), 10)
    rows.append(np.asarray(jax.nn.sigmoid(decode_logits(params, z))).reshape(10, 8, 8))
fig, axes = plt.subplots(10, 10, figsize=(7, 7))
for c in range(10):
    for j in range(10):
        axes[c, j].imshow(rows[c][j], cmap="gray_r", vmin=0, vmax=1)
        axes[c, j].axis("off")
fig.suptitle("decoded samples from the per-class fixed-basis mixtures")
fig.tight_layout()

# %% [markdown]
# ## Mixing classes (the paper's Figure 10)
#
# Samples from an equal mixture of two class mixtures blend the two digits' features.

# %%
pairs = [(0, 6), (1, 7), (3, 8), (4, 9)]
fig, axes = plt.subplots(len(pairs), 8, figsize=(7, 3.6))
for i, (a, b) in enumerate(pairs):
    za = class_gmms[a].sample(jax.random.key(7 * i), 4)
    zb = class_gmms[b].sample(jax.random.key(7 * i + 1), 4)
    mixed = 0.5 * (za + zb)
    imgs = np.asarray(jax.nn.sigmoid(decode_logits(params, mixed))).reshape(4, 8, 8)
    for j in range(4):
        axes[i, j].imshow(
            np.asarray(jax.nn.sigmoid(decode_logits(params, za[j]))).reshape(8, 8), cmap="gray_r"
        )
        axes[i, 4 + j].imshow(imgs[j], cmap="gray_r")
    for ax in axes[i]:
        ax.axis("off")
    axes[i, 0].set_title(f"{a}", fontsize=8)
    axes[i, 4].set_title(f"{a}+{b}", fontsize=8)
fig.tight_layout()
