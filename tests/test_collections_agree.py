"""Collections agree with the single-pair functions, in value and in gradient, for every metric.

``pairwise_distances`` and ``paired_distances`` evaluate the same kernels as the single-pair
public functions (one formula, one place). This suite checks it where batched paths used to
drift apart: zero-weight components (whose gradient a plain ``logsumexp(b=w)`` drops),
duplicated components, and the zero-weight padding that ``stack`` adds.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DTYPE, only_float64_run, random_spd, tol

import gmmjax as gj

# The batched and single-pair paths share their kernels in either precision: checked once,
# in the float64 run, to 1e-10 (tests/test_batch.py compares them in both precisions).
pytestmark = only_float64_run

KEY = jax.random.key(3)

# metric name -> (single-pair public function, keyword arguments of the collection call)
SINGLE = {
    "l2": (gj.l2_distance, {}),
    "l2_squared": (gj.l2_distance_squared, {}),
    "cs": (gj.cauchy_schwarz_divergence, {}),
    "mw2_exact": (gj.mw2_distance, {}),
    "mw2_exact_host": (lambda p, q: gj.mw2_distance(p, q, "exact_host"), {}),
    "mw2_sinkhorn": (lambda p, q: gj.mw2_distance(p, q, "sinkhorn", 0.5), {"epsilon": 0.5}),
    "kl_mc": (
        lambda p, q: gj.kl_divergence(p, q, "mc", KEY, n_samples=8),
        {"key": KEY, "n_samples": 8},
    ),
    **{
        f"kl_{m}": (lambda p, q, m=m: gj.kl_divergence(p, q, m), {})
        for m in ("variational", "lower_bound", "upper_bound", "ot_bound")
    },
}
ALIASES = {"kl": "kl_variational", "mw2": "mw2_exact"}


def _collections() -> tuple[gj.GMM, gj.GMM]:
    """Two collections of two 2-D mixtures: zero weights, duplicates, stack padding."""
    rng = np.random.default_rng(7)
    covs = np.stack([random_spd(rng, 2, 4.0) * s for s in (0.5, 1.0, 2.0)])
    means = rng.standard_normal((3, 2))
    # p0: component 1 has weight 0, component 2 duplicates component 0.
    p0 = gj.GMM([0.4, 0.0, 0.6], means[[0, 1, 0]], covs[[0, 1, 0]])
    p1 = gj.GMM([0.3, 0.7], means[1:] + 0.5, covs[1:])  # padded to 3
    q0 = gj.GMM([0.2, 0.5, 0.3], means[::-1] - 0.3, covs[::-1])
    q1 = gj.GMM([1.0], means[:1] * 2.0, covs[:1])  # padded to 3
    ps, qs = gj.stack([p0, p1]), gj.stack([q0, q1])
    cast = lambda g: jax.tree_util.tree_map(lambda x: jnp.asarray(x, DTYPE), g)  # noqa: E731
    return cast(ps), cast(qs)


PS, QS = _collections()
COEF = jnp.asarray([[1.0, -0.7], [0.4, 1.3]], DTYPE)  # weights the entries: no cancellation


def _single_sum(fn, ps, qs, paired):
    """The single-pair function on every pair, ``vmap``-ped (one copy of its program)."""
    pairs = [(a, a) for a in range(2)] if paired else [(a, b) for a in range(2) for b in range(2)]
    ia, ib = (np.array(i) for i in zip(*pairs, strict=True))
    take = lambda g, i: jax.tree_util.tree_map(lambda x: x[i], g)  # noqa: E731
    return jnp.sum(COEF[ia, ib] * jax.vmap(fn)(take(ps, ia), take(qs, ib)))


def _batched_sum(metric, kwargs, ps, qs, paired):
    if paired:
        return jnp.sum(jnp.diagonal(COEF) * gj.paired_distances(ps, qs, metric, **kwargs))
    return jnp.sum(COEF * gj.pairwise_distances(ps, qs, metric, **kwargs))


def _assert_close(got, want, what):
    leaves = zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True)
    for g, w in leaves:
        np.testing.assert_allclose(
            np.asarray(g), np.asarray(w), rtol=tol(1e-10, 1e-4), atol=tol(1e-12, 1e-5), err_msg=what
        )


def test_every_metric_is_covered():
    assert set(SINGLE) | set(ALIASES) == set(gj.PAIRWISE_METRICS)


@pytest.mark.parametrize("metric", sorted(SINGLE))
def test_batched_values_and_gradients_equal_the_single_pair_function(metric):
    fn, kwargs = SINGLE[metric]

    @jax.jit
    def both_ways(ps, qs):
        """Values and gradients, single-pair and batched, pairwise and paired: one program."""
        out = {}
        for paired in (False, True):
            single = functools.partial(_single_sum, fn, paired=paired)
            batched = functools.partial(_batched_sum, metric, kwargs, paired=paired)
            out[paired] = (
                jax.value_and_grad(single, (0, 1))(ps, qs),
                jax.value_and_grad(batched, (0, 1))(ps, qs),
            )
        return out

    for paired, ((v_single, g_single), (v_batched, g_batched)) in both_ways(PS, QS).items():
        what = f"{metric}, {'paired' if paired else 'pairwise'}"
        _assert_close(v_batched, v_single, what + ": value")
        _assert_close(g_batched, g_single, what + ": gradient")
        # The zero-weight component of p0 has a gradient, as for any other weight.
        assert np.all(np.isfinite(np.asarray(g_batched[0].weights))), what


@pytest.mark.parametrize(("alias", "metric"), sorted(ALIASES.items()))
def test_aliases_are_their_metric(alias, metric):
    got = gj.pairwise_distances(PS, QS, alias)
    np.testing.assert_array_equal(got, gj.pairwise_distances(PS, QS, metric))


def test_padded_values_equal_the_unpadded_mixtures():
    """Stack padding changes no value: the batched entry equals the unpadded single pair."""
    p1 = gj.GMM._unchecked(PS.weights[1, :2], PS.means[1, :2], PS.covs[1, :2])
    q1 = gj.GMM._unchecked(QS.weights[1, :1], QS.means[1, :1], QS.covs[1, :1])
    got = gj.pairwise_distances(PS, QS, "cs")[1, 1]
    np.testing.assert_allclose(got, gj.cauchy_schwarz_divergence(p1, q1), rtol=tol(1e-12, 1e-5))


def test_zero_weight_gradient_is_not_dropped():
    """The case that once differed: d CS / d w at a zero weight, single vs collections."""
    p = gj.GMM(jnp.asarray([1.0, 0.0], DTYPE), [[0.0], [3.0]], [[1.0], [0.5]])
    q = gj.GMM(jnp.asarray([0.5, 0.5], DTYPE), [[1.0], [-1.0]], [[1.0], [2.0]])

    def with_weights(g, w):
        return gj.GMM._unchecked(w, g.means, g.covs)

    single = jax.grad(lambda w: gj.cauchy_schwarz_divergence(with_weights(p, w), q))(p.weights)
    ps, qs = gj.stack([p]), gj.stack([q])
    paired = jax.grad(lambda w: gj.paired_distances(with_weights(ps, w), qs, "cs")[0])(ps.weights)
    assert abs(float(single[1])) > 0.01  # a real gradient, not the dropped 0
    np.testing.assert_allclose(paired[0], single, rtol=tol(1e-10, 1e-4))
