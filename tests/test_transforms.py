"""jit, vmap over stacked batches, grad, and no retracing, for every public function.

Each function is run four ways and compared: eagerly on single mixtures, under ``jax.jit``,
under ``jax.vmap`` over a stacked (padded) batch, and through the library's own broadcasting
over batch axes; its gradient must be finite with respect to every leaf.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DTYPE, only_float32_run, random_gmm_arrays, tol

import gmmjax as gj

# jit, vmap, grad and retracing do not depend on the precision: checked once, in the default
# (float32) run; the values of every function are tested in both precisions by its own module.
pytestmark = only_float32_run

KEY = jax.random.key(0)


def make(rng: np.random.Generator, k: int, diagonal: bool = False) -> gj.GMM:
    return gj.GMM(*(jnp.asarray(a, DTYPE) for a in random_gmm_arrays(rng, k, 2, diagonal=diagonal)))


# name -> f(p, q) returning an array; every public function of the foundation that takes mixtures.
PAIR_FUNCTIONS: dict[str, Callable[[gj.GMM, gj.GMM], Any]] = {
    "log_gaussian_overlap": gj.log_gaussian_overlap,
    "gaussian_overlap": gj.gaussian_overlap,
    "log_inner_product": gj.log_inner_product,
    "inner_product": gj.inner_product,
    "l2_distance_squared": gj.l2_distance_squared,
    "l2_distance": gj.l2_distance,
    "log_l2_distance_squared": gj.log_l2_distance_squared,
    "cauchy_schwarz_divergence": gj.cauchy_schwarz_divergence,
    "kl_variational": lambda p, q: gj.kl_divergence(p, q, "variational"),
    "kl_mc": lambda p, q: gj.kl_divergence(p, q, "mc", key=KEY, n_samples=16),
    "kl_lower_bound": lambda p, q: gj.kl_divergence(p, q, "lower_bound"),
    "kl_upper_bound": lambda p, q: gj.kl_divergence(p, q, "upper_bound"),
    "kl_gaussian": lambda p, q: gj.kl_gaussian(p.component(0), q.component(1)),
    "gaussian_entropy": lambda p, q: gj.gaussian_entropy(p.component(0)),
    "log_prob": lambda p, q: p.log_prob(q.means),
    "prob": lambda p, q: p.prob(q.means),
    "mean": lambda p, q: p.mean(),
    "covariance": lambda p, q: p.covariance(),
    "component_log_prob": lambda p, q: p.component_log_prob(q.means),
    "sample": lambda p, q: p.sample(KEY, 4),
}
# Checked mode wraps its own jit; grad/vmap through it are not part of its contract.
DIFFERENTIABLE = [n for n in PAIR_FUNCTIONS if n != "sample"]


@pytest.fixture(scope="module")
def mixtures():
    rng = np.random.default_rng(11)
    ps = [make(rng, k) for k in (2, 3, 3)]
    qs = [make(rng, k) for k in (2, 2, 1)]
    return ps, qs, gj.stack(ps), gj.stack(qs)


@pytest.mark.parametrize("name", list(PAIR_FUNCTIONS))
def test_jit_and_vmap_match_eager(mixtures, name):
    fn = PAIR_FUNCTIONS[name]
    _, _, bp, bq = mixtures
    r = tol(1e-10, 1e-4)
    # Padded mixtures, so that the vmapped results compare entry by entry.
    jitted = jax.jit(fn)
    singles = [jitted(bp[i], bq[i]) for i in range(3)]
    np.testing.assert_allclose(singles[0], fn(bp[0], bq[0]), rtol=r, atol=r)
    vmapped = jax.jit(jax.vmap(fn))(bp, bq)
    np.testing.assert_allclose(vmapped, np.stack(singles), rtol=r, atol=r)


DISTANCES = [
    n
    for n in PAIR_FUNCTIONS
    if n.startswith(("log_", "gaussian_o", "inner", "l2", "cauchy", "kl_"))
]


@pytest.mark.parametrize("name", [n for n in DISTANCES if n not in ("kl_gaussian", "log_prob")])
def test_builtin_batch_broadcasting_matches_loop(mixtures, name):
    """Distances broadcast over batch axes themselves: batch x batch and batch x single."""
    fn = PAIR_FUNCTIONS[name]
    _, qs, bp, bq = mixtures
    r = tol(1e-10, 1e-4)
    both = fn(bp, bq)
    one_side = fn(bp, qs[0])
    jitted = jax.jit(fn)
    for i in range(3):
        np.testing.assert_allclose(both[i], jitted(bp[i], bq[i]), rtol=r, atol=r)
        np.testing.assert_allclose(one_side[i], jitted(bp[i], qs[0]), rtol=r, atol=r)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_grad_is_finite_for_every_leaf(mixtures, name):
    fn = PAIR_FUNCTIONS[name]
    ps, qs, _, _ = mixtures

    def loss(p, q):
        return jnp.sum(fn(p, q))

    gp, gq = jax.jit(jax.grad(loss, argnums=(0, 1)))(ps[1], qs[1])
    assert isinstance(gp, gj.GMM) and isinstance(gq, gj.GMM)
    for leaf in jax.tree_util.tree_leaves((gp, gq)):
        assert bool(jnp.all(jnp.isfinite(leaf))), name
    # And the gradient is not trivially zero for the leaves the function depends on.
    assert float(sum(jnp.sum(jnp.abs(leaf)) for leaf in jax.tree_util.tree_leaves(gp))) > 0


def test_vmap_of_grad_over_a_stacked_batch(mixtures):
    _, _, bp, bq = mixtures
    grads = jax.jit(jax.vmap(jax.grad(gj.cauchy_schwarz_divergence)))(bp, bq)
    assert grads.means.shape == bp.means.shape
    for i in range(3):
        single = jax.jit(jax.grad(gj.cauchy_schwarz_divergence))(bp[i], bq[i])
        np.testing.assert_allclose(
            grads.means[i], single.means, rtol=tol(1e-9, 1e-3), atol=tol(1e-12, 1e-5)
        )
    # Padding components get a zero gradient for their means and covariances.
    np.testing.assert_allclose(grads.means[0, 2:], 0.0, atol=0)


def test_diagonal_mixtures_under_every_transform():
    rng = np.random.default_rng(2)
    ps = gj.stack([make(rng, 2, True), make(rng, 3, True)])
    qs = gj.stack([make(rng, 1, True), make(rng, 2, True)])
    for fn in (gj.cauchy_schwarz_divergence, gj.l2_distance_squared, gj.kl_divergence):
        out = jax.jit(jax.vmap(jax.value_and_grad(fn)))(ps, qs)
        assert bool(jnp.all(jnp.isfinite(out[0])))
        assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(out[1]))


def test_nothing_retraces_for_new_values_of_the_same_shapes():
    """A trace counter: two calls with new values (built differently) trace once."""
    traces = []

    @jax.jit
    def everything(p, q):
        traces.append(1)
        return {name: fn(p, q) for name, fn in PAIR_FUNCTIONS.items()}

    rng = np.random.default_rng(0)
    p1, q1 = make(rng, 3), make(rng, 2)
    everything(p1, q1)
    w, m, c = random_gmm_arrays(rng, 3, 2)
    p2 = gj.GMM(np.asarray(w, DTYPE), np.asarray(m, DTYPE), np.asarray(c, DTYPE))  # numpy leaves
    q2 = gj.GMM.from_logits(
        jnp.zeros(2, DTYPE), jnp.zeros((2, 2), DTYPE), jnp.stack([jnp.eye(2, dtype=DTYPE)] * 2)
    )
    out = everything(p2, q2)
    assert len(traces) == 1
    assert everything._cache_size() == 1
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in out.values())


def test_public_functions_do_not_retrace_when_jitted_directly():
    rng = np.random.default_rng(1)
    for fn in (gj.l2_distance, gj.cauchy_schwarz_divergence, gj.log_gaussian_overlap):
        jitted = jax.jit(fn)  # the jit cache is shared with other jax.jit(fn) wrappers
        jitted(make(rng, 2), make(rng, 3))
        size = jitted._cache_size()
        for _ in range(3):
            jitted(make(rng, 2), make(rng, 3))
        assert jitted._cache_size() == size, fn.__name__


def test_checked_mode_on_repeated_calls():
    rng = np.random.default_rng(3)
    cs = gj.checked(gj.cauchy_schwarz_divergence)
    a = float(cs(make(rng, 2), make(rng, 2)))
    b = float(cs(make(rng, 2), make(rng, 2)))
    assert np.isfinite(a) and np.isfinite(b) and a != b


def test_pytree_leaves_are_arrays_and_nothing_is_static():
    """Every leaf is an array; the treedef carries no values (so no value can force a retrace)."""
    rng = np.random.default_rng(4)
    p = make(rng, 3)
    leaves, treedef = jax.tree_util.tree_flatten(p)
    assert all(isinstance(x, jax.Array) for x in leaves)
    assert treedef == jax.tree_util.tree_structure(make(rng, 3))
    g = p.component(1)
    assert jax.tree_util.tree_structure(g) == jax.tree_util.tree_structure(
        make(rng, 2).component(0)
    )
