"""Every loss in a jitted optax training step: it compiles once and it trains.

The step of ``benchmarks/bench_training_step.py`` at a size the suite can afford: a small MLP
maps a feature vector to a mixture (``GMM.from_logits``), the loss is the mean of
``paired_distances`` to fixed target mixtures, optax Adam updates the network.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import DTYPE

import gmmjax as gj

B, K, D, HIDDEN, FEATURES = 6, 3, 2, 16, 4
LOSSES = (
    "l2_squared",
    "cs",
    "kl_ot_bound",
    "mw2_exact",
    "mw2_sinkhorn",
)


def _problem():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((B, K, D, D))
    targets = gj.GMM(
        jnp.asarray(rng.dirichlet(np.ones(K), B), DTYPE),
        jnp.asarray(2.0 * rng.standard_normal((B, K, D)), DTYPE),
        jnp.asarray(0.2 * a @ np.swapaxes(a, -1, -2) + 0.2 * np.eye(D), DTYPE),
    )
    features = jnp.asarray(rng.standard_normal((B, FEATURES)), DTYPE)
    k1, k2 = jax.random.split(jax.random.key(0))
    n_out = K + K * D + K * D * (D + 1) // 2
    params = {
        "w1": jax.random.normal(k1, (FEATURES, HIDDEN), DTYPE) / 2.0,
        "b1": jnp.zeros(HIDDEN, DTYPE),
        "w2": jax.random.normal(k2, (HIDDEN, n_out), DTYPE) * 0.1,
        "b2": jnp.zeros(n_out, DTYPE),
    }
    return targets, features, params


def _mixtures(params, features):
    rows, cols = np.tril_indices(D)
    out = jnp.tanh(features @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]
    logits, means = out[:, :K], out[:, K : K + K * D].reshape(B, K, D)
    lower = (
        jnp.zeros((B, K, D, D), DTYPE)
        .at[:, :, rows, cols]
        .set(out[:, K + K * D :].reshape(B, K, -1))
    )
    diag = jax.nn.softplus(jnp.diagonal(lower, axis1=-2, axis2=-1)) + 0.05
    chol = jnp.tril(lower, -1) + diag[..., None] * jnp.eye(D, dtype=DTYPE)
    return gj.GMM.from_logits(logits, means, chol @ jnp.swapaxes(chol, -1, -2), validate=False)


@pytest.mark.parametrize("metric", LOSSES)
def test_training_step_compiles_once_and_fits(metric):
    targets, features, params = _problem()
    opt = optax.adam(0.02)

    def loss(p):
        return jnp.mean(gj.paired_distances(_mixtures(p, features), targets, metric=metric))

    @jax.jit
    def step(p, state):
        value, grads = jax.value_and_grad(loss)(p)
        updates, state = opt.update(grads, state, p)
        return optax.apply_updates(p, updates), state, value

    state = opt.init(params)
    params, state, first = step(params, state)
    compiled = step._cache_size()
    values = [first]
    for _ in range(199):
        params, state, value = step(params, state)
        values.append(value)
    values = np.asarray(values)
    assert step._cache_size() == compiled, "the step recompiled"
    assert np.all(np.isfinite(values)), f"{metric}: non-finite loss"
    assert values[-1] <= 0.5 * values[0], f"{metric}: {values[0]:.4g} -> {values[-1]:.4g}"
    assert values.min() >= 0.0
