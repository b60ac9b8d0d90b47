"""Collections: pairwise/paired distance matrices, blocking, padding, the vectorised kernel."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import X64, needs_x64, only_float32_run, random_gmm_arrays, tol
from jax.test_util import check_grads
from scipy.stats import multivariate_normal

from gmmjax import (
    GMM,
    cauchy_schwarz_divergence,
    kl_divergence,
    l2_distance,
    l2_distance_squared,
    stack,
)
from gmmjax._src.core.mixture import GMM as _GMM
from gmmjax._src.distances.collections import PAIRWISE_METRICS, paired_distances, pairwise_distances
from gmmjax._src.distances.transport import mw2_distance
from gmmjax._src.kernels.overlap import (
    log_overlap_offset,
    reference_exponent,
    scaled_log_overlap,
)


@functools.partial(jax.jit, static_argnames="unroll_max_dim")
def cross_log_overlap(pm, pc, qm, qc, unroll_max_dim=8):
    """The log Gram kernel on bare component arrays (weights are not used); one program per
    shape (op-by-op dispatch compiled every primitive separately, several times slower)."""
    p = _GMM._unchecked(jnp.zeros(pm.shape[0]), pm, pc)
    q = _GMM._unchecked(jnp.zeros(qm.shape[0]), qm, qc)
    k = reference_exponent(p, q)
    offset = log_overlap_offset(p.dim, k, p.dtype)
    return scaled_log_overlap(p, q, k, unroll_max_dim) + offset


SINGLE = {
    "l2": l2_distance,
    "l2_squared": l2_distance_squared,
    "cs": cauchy_schwarz_divergence,
    "kl": kl_divergence,
    "kl_lower_bound": lambda p, q: kl_divergence(p, q, method="lower_bound"),
    "kl_upper_bound": lambda p, q: kl_divergence(p, q, method="upper_bound"),
}


def _mixtures(rng, counts, d, diagonal=False):
    return [GMM(*random_gmm_arrays(rng, k, d, diagonal)) for k in counts]


def _loop(fn, ps, qs):
    """Reference: the single-pair function on every pair of *unpadded* mixtures (jitted)."""
    fn = jax.jit(fn)
    return np.array([[float(fn(p, q)) for q in qs] for p in ps])


# --------------------------------------------------------------------------- kernel
@pytest.mark.parametrize(
    ("d", "diag_p", "diag_q"),
    [
        (1, False, False),
        (2, False, True),
        (3, True, True),
        (8, False, False),  # the largest unrolled dimension
        (11, False, True),
    ],
)
def test_cross_log_overlap_matches_scipy(rng, d, diag_p, diag_q):
    _, pm, pc = random_gmm_arrays(rng, 3, d, diag_p)
    _, qm, qc = random_gmm_arrays(rng, 4, d, diag_q)
    got = cross_log_overlap(*(jnp.asarray(x) for x in (pm, pc, qm, qc)))
    full = lambda c, diag: np.diag(c) if diag else c  # noqa: E731
    ref = np.array(
        [
            [
                multivariate_normal(qm[j], full(pc[i], diag_p) + full(qc[j], diag_q)).logpdf(pm[i])
                for j in range(4)
            ]
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(np.asarray(got), ref, rtol=tol(1e-11, 1e-4), atol=tol(1e-11, 1e-4))


def test_unrolled_and_lapack_paths_agree(rng):
    _, pm, pc = random_gmm_arrays(rng, 5, 6, cond=1e3)
    _, qm, qc = random_gmm_arrays(rng, 4, 6, cond=1e3)
    args = [jnp.asarray(x) for x in (pm, pc, qm, qc)]
    np.testing.assert_allclose(
        cross_log_overlap(*args, unroll_max_dim=8),
        cross_log_overlap(*args, unroll_max_dim=0),
        rtol=tol(1e-11, 1e-4),
        atol=tol(1e-11, 1e-4),
    )


# --------------------------------------------------------------------------- values, padding
@pytest.mark.parametrize(("d", "diagonal"), [(1, False), (3, True), (4, False)])
def test_pairwise_matches_single_pair_functions_on_unpadded_mixtures(rng, d, diagonal):
    plist = _mixtures(rng, (1, 3), d, diagonal)
    qlist = _mixtures(rng, (2,), d, diagonal)
    ps, qs = stack(plist), stack(qlist, n_components=4)
    assert ps.weights.shape == (2, 3)  # padded with zero weights
    # Every metric against its single-pair function: tests/test_collections_agree.py (float64).
    metrics = ("l2", "kl") if d == 4 else ("cs",)
    for metric in metrics:
        fn = SINGLE[metric]
        got = pairwise_distances(ps, qs, metric=metric, block_size=16)
        assert got.shape == (2, 1)
        ref = _loop(fn, plist, qlist)
        np.testing.assert_allclose(got, ref, rtol=tol(1e-9, 2e-3), atol=tol(1e-12, 1e-5))


def test_self_distances_are_zero_on_the_diagonal(rng):
    ps = stack(_mixtures(rng, (2, 3, 1, 3), 2))
    for metric in ("l2", "cs", "kl"):  # l2 is the square root of l2_squared
        diag = np.diag(np.asarray(pairwise_distances(ps, metric=metric)))
        np.testing.assert_allclose(diag, 0.0, atol=tol(1e-12, 1e-5))


def test_block_size_does_not_change_the_result(rng):
    ps = stack(_mixtures(rng, (2, 3, 1, 3, 2), 3))
    qs = stack(_mixtures(rng, (3, 1, 2), 3))
    # Blocking wraps every metric alike: all block sizes for l2, one for kl.
    for metric, block_sizes in (("l2", (1, 7)), ("kl", (7,))):
        ref = pairwise_distances(ps, qs, metric=metric, block_size=10**7)
        for block_size in block_sizes:
            got = pairwise_distances(ps, qs, metric=metric, block_size=block_size)
            np.testing.assert_allclose(got, ref, rtol=tol(1e-13, 1e-5), atol=0)


def test_callable_metric_and_paired_distances(rng):
    ps = stack(_mixtures(rng, (2, 3, 1), 2))
    qs = stack(_mixtures(rng, (1, 2, 3), 2))
    got = pairwise_distances(ps, qs, metric=lambda p, q: l2_distance(p, q) ** 2, block_size=5)
    np.testing.assert_allclose(got, pairwise_distances(ps, qs, metric="l2_squared"), rtol=tol())
    for metric in ("l2_squared", "kl"):
        paired = paired_distances(ps, qs, metric=metric, block_size=4)
        full = pairwise_distances(ps, qs, metric=metric)
        np.testing.assert_allclose(paired, np.diag(np.asarray(full)), rtol=tol(1e-12, 1e-5))


def test_kl_monte_carlo_takes_a_key(rng):
    ps = stack(_mixtures(rng, (2, 1), 2))
    with pytest.raises(ValueError, match="key"):
        pairwise_distances(ps, metric="kl_mc")
    key = jax.random.key(0)
    got = pairwise_distances(ps, metric="kl_mc", key=key, n_samples=64)
    ref = kl_divergence(ps[0], ps[1], method="mc", key=key, n_samples=64)
    np.testing.assert_allclose(got[0, 1], ref, rtol=tol(1e-9, 1e-4))


def test_mw2_metric_matches_mw2_distance_on_padded_collections(rng):
    plist = _mixtures(rng, (1, 3), 2)
    qlist = _mixtures(rng, (2,), 2)
    ps, qs = stack(plist), stack(qlist, n_components=4)
    exact = pairwise_distances(ps, qs, metric="mw2")
    np.testing.assert_allclose(
        exact, _loop(mw2_distance, plist, qlist), rtol=tol(1e-9, 1e-4), atol=tol()
    )
    # mw2_sinkhorn on padded collections: tests/test_sinkhorn_honest.py (both precisions,
    # against the closed form) and tests/test_collections_agree.py (float64, single pairs).


# --------------------------------------------------------------------------- gradients
@needs_x64
@pytest.mark.parametrize("metric", ["l2", "kl"])
def test_gradients_match_finite_differences(rng, metric):
    ps = stack(_mixtures(rng, (2, 3), 3))
    qs = stack(_mixtures(rng, (2, 1), 3))

    def f(means, covs):
        g = GMM._unchecked(ps.weights, means, covs)
        return jnp.sum(pairwise_distances(g, qs, metric=metric, block_size=8))

    check_grads(f, (ps.means, ps.covs), order=1, modes=["rev"], atol=1e-5, rtol=1e-5)


def test_gradient_is_finite_at_p_equals_q(rng):
    ps = stack(_mixtures(rng, (2, 3), 2))

    def f(means):
        g = GMM._unchecked(ps.weights, means, ps.covs)
        return jnp.sum(pairwise_distances(g, ps, metric="l2"))

    grad = jax.grad(f)(ps.means)
    assert bool(jnp.all(jnp.isfinite(grad)))


# --------------------------------------------------------------------------- memory, errors
def test_working_memory_does_not_grow_with_the_number_of_pairs():
    def temp_bytes(b):
        k, d = 4, 3
        g = GMM._unchecked(
            jnp.full((b, k), 1.0 / k),
            jnp.zeros((b, k, d)),
            jnp.broadcast_to(jnp.eye(d), (b, k, d, d)),
        )
        fn = jax.jit(lambda a: pairwise_distances(a, metric="l2", block_size=4096))
        return fn.lower(g).compile().memory_analysis().temp_size_in_bytes

    small, large = temp_bytes(64), temp_bytes(512)
    itemsize = 8 if X64 else 4
    result_growth = (512**2 - 64**2) * itemsize
    # Everything beyond the output-sized buffers is bounded by the block, not by B^2 K^2.
    assert large - small <= 3 * result_growth + 2**20, (small, large)
    assert large < 512**2 * 16 * itemsize  # far below one (B, B, K, K) array


@only_float32_run  # argument checks do not depend on the precision
def test_bad_inputs_raise_value_errors(rng):
    ps = stack(_mixtures(rng, (2, 1), 2))
    single = _mixtures(rng, (2,), 2)[0]
    with pytest.raises(ValueError, match="unknown metric"):
        pairwise_distances(ps, metric="l3")
    with pytest.raises(ValueError, match="one batch axis"):
        pairwise_distances(single)
    with pytest.raises(TypeError, match="GMM"):
        pairwise_distances(ps.weights)
    with pytest.raises(ValueError, match="dimension"):
        pairwise_distances(ps, stack(_mixtures(rng, (1,), 3)))
    with pytest.raises(ValueError, match="block_size"):
        pairwise_distances(ps, block_size=0)
    with pytest.raises(ValueError, match="keyword"):
        pairwise_distances(ps, metric="l2", epsilon=1.0)
    with pytest.raises(ValueError, match="same number"):
        paired_distances(ps, stack(_mixtures(rng, (1,), 2)))
    with pytest.raises(ValueError, match="sharding"):
        pairwise_distances(ps, sharding="everywhere")
    assert "mw2_sinkhorn" in PAIRWISE_METRICS
