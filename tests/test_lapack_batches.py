"""No LAPACK call of ours is large enough for jaxlib to split it across threads.

jaxlib 0.10's CPU LAPACK kernels split a call whose batch carries enough work across XLA's
intra-op thread pool and block until the pieces finish; two such calls running at once on a
2-thread pool deadlock (seen at d = 128 as both pool threads in ``BlockingCounter::Wait``
under ``lapack_strsm_ffi``). ``gmmjax._src.math.linalg`` hands each LAPACK routine at most its
``WORK_BUDGETS`` units (``batch * d**3``) per call. This test reads the lowered program of
every public function, its gradient, and its ``vmap``-ped gradient, and checks every LAPACK
custom call in it, so it fails deterministically, without needing the race to happen.
The last test shows that the check itself catches an unprotected call.
"""

from __future__ import annotations

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import only_float64_run

import gmmjax as gj
from gmmjax._src.math.linalg import WORK_BUDGETS

# The batch bounds are counted in d^3 units, the same for both precisions.
pytestmark = only_float64_run

CALL = re.compile(r"custom_call @(lapack_\w+)\((.*?)\)\s*\{?.*?:\s*\((.*?)\)\s*->")
SHAPE = re.compile(r"tensor<([0-9x]+)x(?:f32|f64)>")
D = 48


def lapack_calls(fn, *args) -> list[tuple[str, int, int]]:
    """``(target, batch, d)`` of every LAPACK custom call in the lowered ``jit(fn)(*args)``."""
    calls = []
    for line in jax.jit(fn).lower(*args).as_text().splitlines():
        match = CALL.search(line)
        if match:
            dims = [int(v) for v in SHAPE.search(match.group(3)).group(1).split("x")]
            calls.append((match.group(1), math.prod(dims[:-2]), dims[-1]))
    return calls


def _budget(target: str) -> int:
    """The routine's budget (``lapack_spotrf_ffi`` -> ``potrf``); the smallest for others."""
    routine = target.removeprefix("lapack_")[1:].removesuffix("_ffi")
    return WORK_BUDGETS.get(routine, min(WORK_BUDGETS.values()))


def oversized(calls: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    return [c for c in calls if c[1] > 1 and c[1] * c[2] ** 3 > _budget(c[0])]


def _gmm(rng, batch: tuple[int, ...], k: int, d: int) -> gj.GMM:
    w = rng.dirichlet(np.ones(k), size=batch)
    m = rng.standard_normal((*batch, k, d))
    a = rng.standard_normal((*batch, k, d, d))
    return gj.GMM(w, m, a @ np.swapaxes(a, -1, -2) / d + np.eye(d))


def _gauss(rng, batch: tuple[int, ...], d: int) -> gj.Gaussian:
    a = rng.standard_normal((*batch, d, d))
    return gj.Gaussian(rng.standard_normal((*batch, d)), a @ np.swapaxes(a, -1, -2) / d + np.eye(d))


def _scalar(x) -> jax.Array:
    return sum(jnp.sum(leaf) for leaf in jax.tree_util.tree_leaves(x))


MIXTURE_LOSSES = {
    "l2_distance": gj.l2_distance,
    "log_l2_distance_squared": gj.log_l2_distance_squared,
    "cauchy_schwarz_divergence": gj.cauchy_schwarz_divergence,
    "kl variational": gj.kl_divergence,
    "kl upper_bound": lambda p, q: gj.kl_divergence(p, q, method="upper_bound"),
    "kl lower_bound": lambda p, q: gj.kl_divergence(p, q, method="lower_bound"),
    "bures_cost_matrix": lambda p, q: _scalar(gj.bures_cost_matrix(p, q)),
    "mw2_distance": gj.mw2_distance,
    "log_prob": lambda p, q: _scalar(p.log_prob(q.means)),
    "geodesic": lambda p, q: _scalar(gj.geodesic(p, q, 0.3).covs),
}

GAUSSIAN_LOSSES = {
    "w2_gaussian": gj.w2_gaussian,
    "kl_gaussian": gj.kl_gaussian,
    "gaussian_entropy": lambda g0, g1: gj.gaussian_entropy(g0),
    "gaussian_interpolate": lambda g0, g1: _scalar(gj.gaussian_interpolate(g0, g1, 0.3).cov),
    "gaussian_transport_map": lambda g0, g1: _scalar(gj.gaussian_transport_map(g0, g1)),
}


@pytest.mark.parametrize("name", sorted(MIXTURE_LOSSES))
def test_mixture_functions_hand_lapack_small_batches(name):
    rng = np.random.default_rng(0)
    loss = MIXTURE_LOSSES[name]
    p, q = _gmm(rng, (), 3, D), _gmm(rng, (), 2, D)
    ps, qs = _gmm(rng, (4,), 3, D), _gmm(rng, (4,), 3, D)
    grad = jax.grad(loss)
    calls = lapack_calls(loss, p, q) + lapack_calls(grad, p, q)
    calls += lapack_calls(jax.vmap(grad), ps, qs)
    assert calls, "expected LAPACK calls at d = 48 (full covariances)"
    assert not oversized(calls)


@pytest.mark.parametrize("name", sorted(GAUSSIAN_LOSSES))
def test_gaussian_functions_hand_lapack_small_batches(name):
    rng = np.random.default_rng(1)
    loss = GAUSSIAN_LOSSES[name]
    g0, g1 = _gauss(rng, (5,), D), _gauss(rng, (5,), D)
    batched = jax.vmap(jax.grad(lambda a, b: _scalar(loss(a, b))))
    calls = lapack_calls(lambda a, b: _scalar(loss(a, b)), g0, g1)
    calls += lapack_calls(batched, g0, g1)
    assert calls
    assert not oversized(calls)


def test_batched_barycenter_and_pairwise_hand_lapack_small_batches():
    rng = np.random.default_rng(2)
    gs = _gauss(rng, (4,), D)
    lam = jnp.full((4,), 0.25)
    bary = lambda m, c: _scalar(gj.gaussian_barycenter(gj.Gaussian._unchecked(m, c), lam).cov)  # noqa: E731
    calls = lapack_calls(jax.grad(bary, argnums=1), gs.mean, gs.cov)
    many = _gauss(rng, (3, 4), 6)  # vmapped: the implicit-gradient solve is (3, 36, 36)
    calls += lapack_calls(jax.vmap(jax.grad(bary, argnums=1)), many.mean, many.cov)
    ps = _gmm(rng, (3,), 2, D)
    calls += lapack_calls(lambda a, b: gj.pairwise_distances(a, b, metric="cs"), ps, ps)
    assert calls
    assert not oversized(calls)


def test_the_check_sees_an_unprotected_batched_call():
    """Negative control: a plain batched Cholesky of 4 matrices in d = 48 is flagged."""
    calls = lapack_calls(jnp.linalg.cholesky, jnp.broadcast_to(jnp.eye(D), (4, D, D)))
    assert oversized(calls) == [(calls[0][0], 4, D)]
