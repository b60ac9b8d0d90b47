"""Mixture distance, plan and geodesic (seed 001, §III) and the OT upper bound on the KL."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import X64, needs_x64, only_float32_run, random_gmm_arrays, tol
from scipy import stats

import gmmjax as gj


def _fig1_pair(delta: float) -> tuple[gj.GMM, gj.GMM]:
    """Seed 001 §V.A: N(0, 1) against 0.5 N(-delta, 1) + 0.5 N(delta, 1)."""
    mu0 = gj.GMM.univariate([1.0], [0.0], [1.0])
    mu1 = gj.GMM.univariate([0.5, 0.5], [-delta, delta], [1.0, 1.0])
    return mu0, mu1


def _w2_1d_quantiles(delta: float, n: int = 20000) -> float:
    """W2 between N(0,1) and the Fig. 1 mixture from quantile functions (midpoint rule)."""
    u = (np.arange(n) + 0.5) / n
    q0 = stats.norm.ppf(u)
    x = np.linspace(-15.0, 15.0, 300001)
    cdf = 0.5 * (stats.norm.cdf(x + delta) + stats.norm.cdf(x - delta))
    q1 = np.interp(u, cdf, x)
    for _ in range(3):  # Newton polish of the inverse CDF
        f = 0.5 * (stats.norm.cdf(q1 + delta) + stats.norm.cdf(q1 - delta)) - u
        q1 -= f / (0.5 * (stats.norm.pdf(q1 + delta) + stats.norm.pdf(q1 - delta)))
    return float(np.sqrt(np.mean((q0 - q1) ** 2)))


def test_fig1_d_equals_delta_and_bounds_w2():
    deltas = np.linspace(0.0, 3.0, 7)
    pairs = [_fig1_pair(delta) for delta in deltas]
    mu0 = gj.stack([a for a, _ in pairs])
    mu1 = gj.stack([b for _, b in pairs])
    d = np.asarray(jax.jit(gj.mw2_distance)(mu0, mu1))
    np.testing.assert_allclose(d, deltas, atol=tol(1e-12, 1e-5))
    for delta, dk in zip(deltas, d, strict=True):
        w2 = _w2_1d_quantiles(delta)
        assert dk >= w2 - 1e-6
        if delta > 0.5:
            assert dk > w2 + 1e-3  # strictly larger once the components separate
    assert _w2_1d_quantiles(0.0) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.peer
@needs_x64
def test_matches_pot_gmm_ot(rng):
    ot_gmm = pytest.importorskip("ot.gmm")
    wp, mp, cp = random_gmm_arrays(rng, 3, 3)
    wq, mq, cq = random_gmm_arrays(rng, 4, 3, cond=100.0)
    p, q = gj.GMM(wp, mp, cp), gj.GMM(wq, mq, cq)
    loss = ot_gmm.gmm_ot_loss(mp, mq, cp, cq, wp, wq)
    plan = ot_gmm.gmm_ot_plan(mp, mq, cp, cq, wp, wq)
    assert float(gj.mw2_distance(p, q)) ** 2 == pytest.approx(float(loss), rel=1e-10)
    np.testing.assert_allclose(gj.mw2_plan(p, q), plan, atol=1e-12)


def test_triangle_inequality_theorem1(rng):
    """Theorem 1 on random triples, evaluated as one batched call."""
    n = 8
    mk = [[gj.GMM(*random_gmm_arrays(rng, k, 2)) for k in (1, 2, 3)] for _ in range(n)]
    a, b, c = (gj.stack([t[i] for t in mk], n_components=3) for i in range(3))
    dist = jax.jit(gj.mw2_distance)
    ab, bc, ac = dist(a, b), dist(b, c), dist(a, c)
    assert ab.shape == (n,)
    assert np.all(np.asarray(ac) <= np.asarray(ab + bc) + tol(1e-12, 1e-5))
    assert np.all(np.asarray(dist(a, a)) ** 2 <= tol(1e-12, 1e-4))


@needs_x64
def test_geodesic_theorem2(rng):
    p = gj.GMM(*random_gmm_arrays(rng, 2, 2))
    q = gj.GMM(*random_gmm_arrays(rng, 3, 2, cond=50.0))
    d01 = float(gj.mw2_distance(p, q))
    geo = jax.jit(gj.geodesic)
    for s, t in [(0.0, 1.0), (0.0, 0.3), (0.25, 0.75), (0.6, 1.0)]:
        ms, mt = geo(p, q, s), geo(p, q, t)
        assert ms.n_components == 6
        assert float(gj.mw2_distance(ms, mt)) == pytest.approx((t - s) * d01, abs=1e-8)
    assert float(gj.mw2_distance(geo(p, q, 0.0), p)) == pytest.approx(0.0, abs=1e-6)


def test_geodesic_diagonal_and_t_checks(rng):
    p = gj.GMM(*random_gmm_arrays(rng, 2, 3, diagonal=True))
    q = gj.GMM(*random_gmm_arrays(rng, 2, 3, diagonal=True))
    mid = gj.geodesic(p, q, 0.5)
    assert mid.is_diagonal and mid.n_components == 4
    np.testing.assert_allclose(mid.weights.reshape(2, 2), gj.mw2_plan(p, q), atol=tol())
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="t must lie in"):
            gj.geodesic(p, q, bad)


def test_zero_weight_padding_changes_nothing(rng):
    p = gj.GMM(*random_gmm_arrays(rng, 2, 2))
    q = gj.GMM(*random_gmm_arrays(rng, 3, 2))
    padded = gj.stack([p], n_components=5)[0]
    assert float(gj.mw2_distance(padded, q)) == pytest.approx(
        float(gj.mw2_distance(p, q)), abs=tol(1e-12, 1e-5)
    )
    plan = gj.mw2_plan(padded, q)
    np.testing.assert_allclose(plan[:2], gj.mw2_plan(p, q), atol=tol(1e-12, 1e-6))
    assert np.all(np.asarray(plan[2:]) == 0.0)
    sk = gj.mw2_distance(padded, q, solver="sinkhorn", epsilon=0.05)
    assert float(sk) == pytest.approx(
        float(gj.mw2_distance(p, q, solver="sinkhorn", epsilon=0.05)), rel=tol(1e-8, 1e-4)
    )


@needs_x64
def test_sinkhorn_solver_and_info(rng):
    p = gj.GMM(*random_gmm_arrays(rng, 3, 2))
    q = gj.GMM(*random_gmm_arrays(rng, 2, 2))
    exact = float(gj.mw2_distance(p, q))
    plan, info = gj.mw2_plan(p, q, solver="sinkhorn", epsilon=1e-2, return_info=True)
    assert plan.shape == (3, 2) and bool(info.converged) and int(info.n_iters) > 0
    assert float(info.cost) == pytest.approx(exact**2, abs=0.05)
    _, info = gj.mw2_plan(p, q, return_info=True)
    assert bool(info.converged) and float(info.cost) == pytest.approx(exact**2, rel=1e-12)


def _fd(f, x, direction, h=1e-6):
    return (f(x + h * direction) - f(x - h * direction)) / (2 * h)


@needs_x64
def test_exact_distance_gradient_finite_differences(rng):
    wp, mp, cp = random_gmm_arrays(rng, 3, 2)
    q = gj.GMM(*random_gmm_arrays(rng, 2, 2))
    logits = np.log(wp)

    def f(logits, means, covs):
        return gj.mw2_distance(gj.GMM.from_logits(logits, means, covs, validate=False), q)

    grads = jax.grad(f, argnums=(0, 1, 2))(logits, mp, cp)
    args = [logits, mp, cp]
    for i, g in enumerate(grads):
        direction = rng.standard_normal(args[i].shape)
        if i == 2:
            direction = direction + np.swapaxes(direction, -1, -2)

        def along(x, i=i):
            shifted = list(args)
            shifted[i] = x
            return float(f(*shifted))

        assert float(jnp.sum(g * direction)) == pytest.approx(
            _fd(along, args[i], direction), rel=1e-6, abs=1e-9
        )


@needs_x64
def test_sinkhorn_distance_gradient_finite_differences(rng):
    p = gj.GMM(*random_gmm_arrays(rng, 2, 2))
    q = gj.GMM(*random_gmm_arrays(rng, 3, 2))

    @jax.jit
    def f(means):
        moved = gj.GMM._unchecked(p.weights, means, p.covs)
        return gj.mw2_distance(moved, q, solver="sinkhorn", epsilon=0.5)

    g = jax.grad(f)(p.means)
    direction = rng.standard_normal(p.means.shape)
    assert float(jnp.sum(g * direction)) == pytest.approx(
        float(_fd(f, p.means, direction, 1e-5)), rel=1e-4
    )


def test_gradients_finite_at_p_equals_q(rng):
    w, m, c = random_gmm_arrays(rng, 2, 2)
    w, m, c = (x.astype(np.float64 if X64 else np.float32) for x in (w, m, c))

    for solver, eps in (("exact", None), ("sinkhorn", 0.1)):

        def f(logits, means, covs, solver=solver, eps=eps):
            p = gj.GMM.from_logits(logits, means, covs, validate=False)
            return gj.mw2_distance(p, gj.GMM(w, m, c), solver=solver, epsilon=eps)

        grads = jax.grad(f, argnums=(0, 1, 2))(np.log(w), m, c)
        assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


@only_float32_run
def test_jit_and_vmap_plans_and_geodesics(rng):
    ps = gj.stack([gj.GMM(*random_gmm_arrays(rng, 2, 2)) for _ in range(3)])
    qs = gj.stack([gj.GMM(*random_gmm_arrays(rng, 3, 2)) for _ in range(3)])
    plans = jax.jit(jax.vmap(gj.mw2_plan))(ps, qs)
    assert plans.shape == (3, 2, 3)
    np.testing.assert_allclose(plans[1], gj.mw2_plan(ps[1], qs[1]), atol=tol(1e-12, 1e-6))
    geo = jax.jit(jax.vmap(lambda a, b: gj.geodesic(a, b, 0.5)))(ps, qs)
    assert geo.batch_shape == (3,) and geo.n_components == 6
    d = jax.vmap(lambda a, b: gj.mw2_distance(a, b, solver="sinkhorn", epsilon=0.1))(ps, qs)
    assert d.shape == (3,)


@only_float32_run
def test_argument_errors(rng):
    p = gj.GMM(*random_gmm_arrays(rng, 2, 2))
    with pytest.raises(ValueError, match="unknown solver"):
        gj.mw2_distance(p, p, solver="simplex")
    with pytest.raises(ValueError, match="epsilon is only used"):
        gj.mw2_distance(p, p, epsilon=0.1)
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        gj.mw2_distance(p, p, solver="sinkhorn", epsilon=-1.0)
    with pytest.raises(ValueError, match="dimension mismatch"):
        gj.mw2_distance(p, gj.GMM(*random_gmm_arrays(rng, 2, 3)))


@only_float32_run
def test_exact_failure_raises_eagerly_and_is_nan_under_jit(rng):
    p = gj.GMM(*random_gmm_arrays(rng, 30, 1, diagonal=True))
    q = gj.GMM(*random_gmm_arrays(rng, 30, 1, diagonal=True))
    with pytest.raises(RuntimeError, match="iteration limit"):
        gj.mw2_distance(p, q, max_iter=2)
    assert np.isnan(float(jax.jit(lambda a, b: gj.mw2_distance(a, b, max_iter=2))(p, q)))


@pytest.mark.peer
def test_kl_ot_bound(rng):
    ot = pytest.importorskip("ot")
    p = gj.GMM(*random_gmm_arrays(rng, 3, 2))
    q = gj.GMM(*random_gmm_arrays(rng, 2, 2))
    bound = float(gj.kl_divergence(p, q, method="ot_bound"))
    from gmmjax._src.kernels.kl import component_kl_matrix

    cost = np.asarray(component_kl_matrix(p, q), np.float64)
    want = ot.emd2(np.asarray(p.weights, np.float64), np.asarray(q.weights, np.float64), cost)
    assert bound == pytest.approx(float(want), rel=tol(1e-10, 1e-4))
    mc = float(gj.kl_divergence(p, q, method="mc", key=jax.random.key(0), n_samples=2000))
    assert bound >= mc - 0.05
    assert float(gj.kl_divergence(p, p, method="ot_bound")) == pytest.approx(0.0, abs=tol())
    g0, g1 = p.component(0), q.component(1)
    single = gj.kl_divergence(g0.as_gmm(), g1.as_gmm(), method="ot_bound")
    assert float(single) == pytest.approx(float(gj.kl_gaussian(g0, g1)), rel=tol(1e-12, 1e-5))


def test_kl_ot_bound_batched(rng):
    ps = gj.stack([gj.GMM(*random_gmm_arrays(rng, 2, 2)) for _ in range(2)])
    q = gj.GMM(*random_gmm_arrays(rng, 3, 2))
    both = jax.jit(lambda a, b: gj.kl_divergence(a, b, method="ot_bound"))(ps, q)
    assert both.shape == (2,)
    single = gj.kl_divergence(ps[1], q, method="ot_bound")
    assert float(both[1]) == pytest.approx(float(single), rel=tol(1e-12, 1e-5))


@pytest.mark.skipif(X64, reason="the demo runs once, in the default precision")
def test_demo_writes_figures_and_rows(tmp_path):
    from gmmjax._src.app.demo_transport import run

    rows = run(tmp_path)
    assert all(isinstance(r[0], str) and isinstance(r[1], str) for r in rows)
    assert all(isinstance(r[2], float) and r[2] >= 0 for r in rows)
    for name in ("fig1_d_vs_w2.png", "geodesic_1d.png", "geodesic_2d.png", "barycenters.png"):
        assert (tmp_path / name).stat().st_size > 1000
    fig1 = dict((r[0], r[1]) for r in rows)
    assert float(fig1["Fig. 1: max |d - Delta| over Delta in [0, 3]"]) < 1e-4
