"""Sinkhorn values are never silently wrong, and scalar arguments are checked everywhere.

- The default ``epsilon`` is positive for every cost matrix (constant, zero, tiny, huge), so
  one-component and identical mixtures give the exact value with finite gradients.
- The entropic plan is rounded onto the couplings (Altschuler, Weed & Rigollet 2017,
  Algorithm 2): the Sinkhorn value is the cost of a feasible plan, never below the exact one,
  at any ``epsilon`` and iteration cap (property test at the end).
- ``epsilon``, ``t``, ``max_iter``, ``n_samples``, ``block_size``: wrong kinds are
  ``TypeError``; concrete bad values (also NumPy scalars, 0-d arrays) are ``ValueError``;
  traced bad values raise inside ``checked`` and give NaN under a plain ``jit``.

Both precisions: the rounding and the default ``epsilon`` must hold in float32 too. The
checks of scalar arguments, ``return_info`` and recompilation do not depend on the precision:
they run in the float32 run.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DTYPE, X64, only_float32_run, tol
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import mixture_specs

import gmmjax as gj
from gmmjax._src.ot.exact import exact_ot
from gmmjax._src.ot.sinkhorn import default_epsilon, round_to_polytope, sinkhorn_ot

EPS = float(jnp.finfo(DTYPE).eps)


def _gmm(w, m, c) -> gj.GMM:
    return gj.GMM(*(jnp.asarray(np.asarray(x, np.float64), DTYPE) for x in (w, m, c)))


P1 = _gmm([1.0], [[0.0]], [[1.0]])
Q1 = _gmm([1.0], [[5.0]], [[4.0]])
W2_P1_Q1 = float(np.sqrt(26.0))  # |0 - 5|^2 + (1 - 2)^2

RNG = np.random.default_rng(7)
P3 = _gmm(RNG.dirichlet(np.ones(3)), RNG.standard_normal((3, 2)), RNG.uniform(0.5, 2, (3, 2)))
Q4 = _gmm(RNG.dirichlet(np.ones(4)), RNG.standard_normal((4, 2)) + 1, RNG.uniform(0.5, 2, (4, 2)))


def _finite(tree) -> bool:
    return all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(tree))


# --------------------------------------------------------------------------- default epsilon
@pytest.mark.parametrize("solver", ["sinkhorn", "exact"])
def test_one_component_mixtures_are_w2_of_the_gaussians(solver):
    """Issue: the constant 1x1 cost gave epsilon = 0 and a distance of 0 (exact 5.099)."""
    got = float(gj.mw2_distance(P1, Q1, solver=solver))
    assert got == pytest.approx(W2_P1_Q1, rel=1e-6)
    plan = gj.mw2_plan(P1, Q1, solver=solver)
    assert float(plan[0, 0]) == pytest.approx(1.0, abs=4 * EPS)


def test_constant_cost_gradients_are_finite():
    def f(means, covs):
        return gj.mw2_distance(gj.GMM._unchecked(P1.weights, means, covs), Q1, solver="sinkhorn")

    grads = jax.grad(f, argnums=(0, 1))(P1.means, P1.covs)
    assert _finite(grads)
    exact = jax.grad(lambda m, c: gj.mw2_distance(gj.GMM._unchecked(P1.weights, m, c), Q1))
    np.testing.assert_allclose(grads[0], exact(P1.means, P1.covs), rtol=tol(1e-6, 1e-3))


@pytest.mark.parametrize("padded", [False, True], ids=["K=1", "stack-padded"])
def test_p_equals_p_is_zero_with_finite_gradients(padded):
    """Issue: P = P gave NaN and NaN gradients with the default epsilon."""
    p = gj.stack([P1], n_components=3)[0] if padded else P1

    def f(logits, means, covs):
        moved = gj.GMM._unchecked(jax.nn.softmax(logits), means, covs)
        return gj.mw2_distance(moved, p, solver="sinkhorn")

    logits = jnp.log(jnp.maximum(p.weights, 1e-30))
    value, grads = jax.value_and_grad(f, argnums=(0, 1, 2))(logits, p.means, p.covs)
    assert float(value) == pytest.approx(0.0, abs=tol(1e-7, 1e-3))
    assert _finite(grads)
    plan = gj.mw2_plan(p, p, solver="sinkhorn")
    np.testing.assert_allclose(plan, jnp.diag(p.weights), atol=tol(1e-9, 1e-5))
    mid = gj.geodesic(p, p, 0.5, solver="sinkhorn")
    assert _finite(mid.weights) and float(jnp.sum(mid.weights)) == pytest.approx(1.0, abs=1e-5)


def test_pairwise_sinkhorn_of_single_and_padded_mixtures():
    r3 = _gmm([0.2, 0.3, 0.5], [[-1.0], [0.5], [2.0]], [[1.0], [0.5], [2.0]])
    ps = gj.stack([P1, Q1, r3])  # P1 and Q1 padded to 3 components
    d = gj.pairwise_distances(ps, metric="mw2_sinkhorn", sharding=False)
    exact = gj.pairwise_distances(ps, metric="mw2", sharding=False)
    assert _finite(d)
    np.testing.assert_allclose(np.diag(d), 0.0, atol=2e-3)  # entropic blur of K = 3
    assert float(d[0, 1]) == pytest.approx(W2_P1_Q1, rel=1e-5)
    assert np.all(np.asarray(d) >= np.asarray(exact) - tol(1e-9, 1e-4))


@pytest.mark.parametrize("entry", [0.0, 3.0, 1e-30, 1e30], ids=["zero", "constant", "tiny", "huge"])
def test_default_epsilon_is_positive_and_scaled(entry):
    if not X64 and entry in (1e-30, 1e30):
        entry = {1e-30: 1e-15, 1e30: 1e15}[entry]  # within float32's range squared
    a = jnp.asarray([0.2, 0.3, 0.5], DTYPE)
    b = jnp.asarray([0.6, 0.4], DTYPE)
    c = jnp.full((3, 2), entry, DTYPE)
    eps = float(default_epsilon(a, b, c))
    assert eps > 0 and np.isfinite(eps)
    assert eps <= max(0.05, 0.05 * entry) * (1 + 4 * EPS)  # <= 5% of the cost (or 0.05)
    res = sinkhorn_ot(a, b, c)
    assert float(res.cost) == pytest.approx(entry, rel=1e-5)
    np.testing.assert_allclose(res.plan.sum(1), a, atol=4 * EPS)
    # A scaled problem gets a scaled epsilon: the plan does not depend on units.
    c2 = jnp.asarray([[0.0, 1.0], [1.0, 0.0], [2.0, 0.5]], DTYPE)
    for s in (1e-3, 1e3):
        assert float(default_epsilon(a, b, s * c2)) == pytest.approx(
            s * float(default_epsilon(a, b, c2)), rel=1e-5
        )


def test_default_epsilon_ignores_row_and_column_offsets():
    """Adding u_i + v_j to the cost changes no plan, and not the default epsilon either."""
    a = jnp.asarray([0.2, 0.3, 0.5], DTYPE)
    b = jnp.asarray([0.6, 0.4], DTYPE)
    c = jnp.asarray([[0.0, 1.0], [1.0, 0.0], [2.0, 0.5]], DTYPE)
    shifted = c + jnp.asarray([3.0, -1.0, 7.0], DTYPE)[:, None] + jnp.asarray([2.0, 5.0], DTYPE)
    assert float(default_epsilon(a, b, shifted)) == pytest.approx(
        float(default_epsilon(a, b, c)), rel=1e-5
    )


# --------------------------------------------------------------------------- rounding
def test_non_converged_sinkhorn_is_not_below_the_exact_value():
    """Issue: epsilon = 1e-4 stopped early returned 1.3298 against the LP's 1.4545."""
    exact = float(gj.mw2_distance(P3, Q4))
    for eps, max_iter in ((1e-4, 2000), (1e-4, 10), (10.0, 1), (1e-6, 1)):
        d, info = gj.mw2_distance(
            P3, Q4, solver="sinkhorn", epsilon=eps, max_iter=max_iter, return_info=True
        )
        assert float(d) >= exact * (1 - tol(1e-12, 1e-6)) - tol(1e-12, 1e-6), (eps, max_iter)
        np.testing.assert_allclose(info.plan.sum(1), P3.weights, atol=8 * EPS)
        np.testing.assert_allclose(info.plan.sum(0), Q4.weights, atol=8 * EPS)
        assert bool(jnp.all(info.plan >= 0))
        assert float(info.cost) == pytest.approx(float(d) ** 2, rel=tol(1e-12, 1e-6))
    _, info = gj.mw2_distance(P3, Q4, "sinkhorn", 1e-4, max_iter=10, return_info=True)
    assert not bool(info.converged) and int(info.n_iters) <= 10


def test_rounding_is_feasible_keeps_zero_rows_and_has_finite_gradients():
    rng = np.random.default_rng(1)
    a = jnp.asarray([0.3, 0.0, 0.7], DTYPE)
    b = jnp.asarray([0.5, 0.25, 0.0, 0.25], DTYPE)
    plan = jnp.asarray(rng.uniform(0, 0.3, (3, 4)), DTYPE).at[1].set(0.0)
    out = round_to_polytope(plan, a, b)
    np.testing.assert_allclose(out.sum(1), a, atol=4 * EPS)
    np.testing.assert_allclose(out.sum(0), b, atol=4 * EPS)
    assert bool(jnp.all(out >= 0)) and bool(jnp.all(out[1] == 0)) and bool(jnp.all(out[:, 2] == 0))
    feasible = jnp.outer(a, b)  # already on the polytope: unchanged, gradient finite
    np.testing.assert_allclose(round_to_polytope(feasible, a, b), feasible, atol=4 * EPS)
    grads = jax.grad(lambda f, a, b: jnp.sum(round_to_polytope(f, a, b) ** 2), (0, 1, 2))
    assert _finite(grads(feasible, a, b)) and _finite(grads(plan, a, b))


def test_sinkhorn_ot_with_zero_weights_and_early_stop():
    a = jnp.asarray([0.5, 0.0, 0.5], DTYPE)
    b = jnp.asarray([0.25, 0.75], DTYPE)
    c = jnp.asarray([[0.0, 4.0], [1.0, 1.0], [9.0, 1.0]], DTYPE)
    exact = float(exact_ot(a, b, c).cost)
    # Intermediate caps (10, and the zero weights of padded mixtures) are in the property test.
    for max_iter in (1, 2000):
        res = sinkhorn_ot(a, b, c, epsilon=1e-3, max_iter=max_iter)
        assert float(res.cost) >= exact - 8 * EPS * 9
        assert bool(jnp.all(res.plan[1] == 0))

    def f(c):
        return sinkhorn_ot(a, b, c, max_iter=3).cost

    assert _finite(jax.grad(f)(c))


def test_unconverged_gradient_is_the_linear_programs_at_the_returned_plan():
    """A solve stopped by max_iter is not the fixed point the implicit gradient assumes: its
    cost-matrix gradient is the returned plan (envelope theorem), never an arbitrary vector."""
    a = jnp.asarray([0.2, 0.3, 0.5], DTYPE)
    b = jnp.asarray([0.25, 0.25, 0.5], DTYPE)
    c = jnp.asarray([[0.0, 4.0, 1.0], [1.0, 0.5, 3.0], [9.0, 1.0, 0.2]], DTYPE)

    def cost(c, eps, max_iter):
        return sinkhorn_ot(a, b, c, epsilon=eps, max_iter=max_iter).cost

    res = sinkhorn_ot(a, b, c, epsilon=1e-3, max_iter=3)
    assert not bool(res.converged)
    np.testing.assert_allclose(jax.grad(cost)(c, 1e-3, 3), res.plan, atol=tol(1e-12, 1e-6))
    # Converged: the implicit gradient, which carries the entropic plan's own dependence on C.
    converged = sinkhorn_ot(a, b, c, epsilon=0.5)
    assert bool(converged.converged)
    grad = jax.grad(cost)(c, 0.5, 2000)
    assert _finite(grad) and not np.allclose(grad, converged.plan, atol=1e-3)


# --------------------------------------------------------------------------- scalar checks
@only_float32_run
def test_checked_mode_checks_traced_scalars():
    with pytest.raises(ValueError, match=r"epsilon must be > 0 and finite; got -1"):
        gj.checked(gj.mw2_distance)(P3, Q4, solver="sinkhorn", epsilon=np.float32(-1))
    with pytest.raises(ValueError, match=r"epsilon must be > 0"):
        gj.checked(gj.mw2_distance)(P3, Q4, solver="sinkhorn", epsilon=np.float32(0))
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]; got 1.5"):
        gj.checked(gj.geodesic)(P3, Q4, np.float32(1.5))
    g = gj.Gaussian(jnp.zeros(2, DTYPE), jnp.ones(2, DTYPE))
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]"):
        gj.checked(gj.gaussian_interpolate)(g, g, jnp.asarray(-0.5))
    # A valid traced value passes, and the program traced in checked mode leaves the plain
    # one usable (no checkify check leaks into a cached trace). (``checked`` of
    # ``pairwise_distances(metric="mw2_sinkhorn")`` is refused by checkify itself: it does
    # not support the batched while loop of the Sinkhorn iterations.)
    d = gj.checked(gj.mw2_distance)(P3, Q4, solver="sinkhorn", epsilon=np.float32(0.5))
    assert float(d) == pytest.approx(float(gj.mw2_distance(P3, Q4, "sinkhorn", 0.5)), rel=1e-5)


@only_float32_run
def test_traced_bad_scalars_give_nan_under_jit():
    dist = jax.jit(lambda e: gj.mw2_distance(P3, Q4, solver="sinkhorn", epsilon=e))
    assert np.isnan(float(dist(-1.0))) and np.isnan(float(dist(0.0)))
    assert np.isnan(float(dist(jnp.inf)))
    assert np.isfinite(float(dist(0.5)))
    geo = jax.jit(lambda t: gj.geodesic(P3, Q4, t))(1.5)
    assert bool(jnp.all(jnp.isnan(geo.means)))
    ps = gj.stack([P3, Q4])
    d = jax.jit(
        lambda e: gj.pairwise_distances(ps, metric="mw2_sinkhorn", epsilon=e, sharding=False)
    )(-1.0)
    assert bool(jnp.all(jnp.isnan(d)))


@only_float32_run
def test_concrete_numpy_and_0d_scalars_are_checked_eagerly():
    cases = [
        lambda: gj.mw2_distance(P3, Q4, solver="sinkhorn", epsilon=np.float32(-1)),
        lambda: gj.mw2_distance(P3, Q4, solver="sinkhorn", epsilon=np.array(0.0)),
        lambda: gj.mw2_plan(P3, Q4, solver="sinkhorn", epsilon=jnp.asarray(np.nan)),
        lambda: gj.geodesic(P3, Q4, np.float64(2.0)),
        lambda: gj.geodesic(P3, Q4, jnp.asarray(-0.5)),
        lambda: gj.pairwise_distances(gj.stack([P3]), metric="mw2_sinkhorn", epsilon=-1.0),
        lambda: gj.mw2_barycenter([P3, Q4], [0.5, 0.5], solver="sinkhorn", epsilon=-1.0),
        lambda: gj.mw2_distance(P3, Q4, max_iter=np.int64(0)),
        lambda: sinkhorn_ot(jnp.ones(2) / 2, jnp.ones(2) / 2, jnp.eye(2), epsilon=-1.0),
    ]
    for call in cases:
        with pytest.raises(ValueError, match=r"(epsilon|t|max_iter) must"):
            call()


@only_float32_run
@pytest.mark.parametrize(
    "call",
    [
        lambda: gj.mw2_distance(P3, Q4, solver="sinkhorn", epsilon=True),
        lambda: gj.mw2_distance(P3, Q4, solver="sinkhorn", epsilon=1j),
        lambda: gj.mw2_distance(P3, Q4, solver="sinkhorn", epsilon=np.complex64(1)),
        lambda: gj.geodesic(P3, Q4, None),
        lambda: gj.geodesic(P3, Q4, "0.5"),
        lambda: gj.mw2_distance(P3, Q4, max_iter=2.5),
        lambda: gj.mw2_distance(P3, Q4, solver="sinkhorn", max_iter=True),
        lambda: gj.kl_divergence(P3, Q4, "mc", jax.random.key(0), n_samples=2.0),
        lambda: gj.pairwise_distances(gj.stack([P3]), block_size=True),
    ],
    ids=[
        "eps bool",
        "eps complex",
        "eps np.complex64",
        "t None",
        "t str",
        "max_iter float",
        "max_iter bool",
        "n_samples float",
        "block_size bool",
    ],
)
def test_wrong_kinds_are_type_errors_naming_the_argument(call):
    with pytest.raises(TypeError, match=r"^(epsilon|t|max_iter|n_samples|block_size) must be"):
        call()


# --------------------------------------------------------------------------- property
K_PAD, DIM = 3, 2
MAX_ITERS = (1, 10, 1000)


def _padded(spec) -> gj.GMM:
    return gj.stack([spec.gmm(DTYPE)], n_components=K_PAD)[0]


@jax.jit
def _exact_value(p: gj.GMM, q: gj.GMM) -> tuple[jax.Array, jax.Array]:
    return gj.mw2_distance(p, q), jnp.max(gj.bures_cost_matrix(p, q))


def _sinkhorn_program(max_iter: int):
    def value(means, covs, weights, q, rel_eps):
        p = gj.GMM._unchecked(weights, means, covs)
        scale = jax.lax.stop_gradient(jnp.mean(gj.bures_cost_matrix(p, q))) + 1e-3
        return gj.mw2_distance(p, q, "sinkhorn", rel_eps * scale, max_iter=max_iter)

    return jax.jit(jax.value_and_grad(value, argnums=(0, 1, 2)))


_SINKHORN = {m: _sinkhorn_program(m) for m in MAX_ITERS}

specs = mixture_specs(d=DIM, max_components=K_PAD, diagonal=False)
single = mixture_specs(d=DIM, max_components=1, diagonal=False)


@settings(max_examples=25, deadline=None)
@given(
    specs,
    specs,
    st.floats(-6.0, 1.0),
    st.sampled_from(MAX_ITERS),
)
def test_property_sinkhorn_is_an_upper_bound_with_finite_gradients(sp, sq, log_eps, max_iter):
    p, q = _padded(sp), _padded(sq)
    exact, c_max = (float(x) for x in _exact_value(p, q))
    value, grads = _SINKHORN[max_iter](p.means, p.covs, p.weights, q, 10.0**log_eps)
    value = float(value)
    assert np.isfinite(value) and _finite(grads)
    # Squared: the cost of a feasible plan is >= the LP optimum, up to the round-off of
    # both solvers on costs of size max C.
    assert value**2 >= exact**2 - 64 * (2 * K_PAD) * EPS * c_max


@jax.jit
def _single_values(p: gj.GMM, q: gj.GMM) -> jax.Array:
    g0, g1 = gj.Gaussian(p.means[0], p.covs[0]), gj.Gaussian(q.means[0], q.covs[0])
    return jnp.stack(
        [gj.w2_gaussian(g0, g1), gj.mw2_distance(p, q), gj.mw2_distance(p, q, "sinkhorn")]
    )


@settings(max_examples=30, deadline=None)
@given(single, single)
def test_property_one_component_mixtures_give_w2_with_either_solver(sp, sq):
    p, q = sp.gmm(DTYPE), sq.gmm(DTYPE)
    w2, exact, sinkhorn = (float(x) for x in _single_values(p, q))
    assert exact == pytest.approx(w2, rel=1e-6, abs=1e-30)
    assert sinkhorn == pytest.approx(w2, rel=1e-6, abs=1e-30)


@only_float32_run
def test_pairwise_and_paired_report_every_pairs_solver():
    """``return_info``: each pair's ``converged``/``n_iters`` as its single-pair call says."""
    a = gj.GMM.univariate([1.0], [0.0], [1.0])
    b = gj.GMM.univariate([0.2, 0.3, 0.5], [0.0, 1.0, 2.0], [1.0, 0.5, 2.0])
    c = gj.GMM.univariate([0.6, 0.3, 0.1], [0.5, 1.5, -1.0], [1.0, 1.0, 1.0])
    ps, qs = gj.stack([a, b]), gj.stack([c, a, b])
    options = {"epsilon": 1e-3, "max_iter": 2}
    values, info = gj.pairwise_distances(ps, qs, "mw2_sinkhorn", return_info=True, **options)
    assert values.shape == info.converged.shape == info.n_iters.shape == (2, 3)
    assert info.plan.shape == (2, 3, 3, 3)
    plain = gj.pairwise_distances(ps, qs, "mw2_sinkhorn", **options)
    np.testing.assert_allclose(values, plain, rtol=4 * EPS)  # two programs: fused differently
    for i, p in enumerate([a, b]):
        for j, q in enumerate([c, a, b]):
            _, single = gj.mw2_distance(p, q, "sinkhorn", return_info=True, **options)
            assert bool(info.converged[i, j]) == bool(single.converged)
            assert int(info.n_iters[i, j]) == int(single.n_iters)
    assert not bool(jnp.all(info.converged))  # two iterations: b to c is not there yet
    paired, paired_info = gj.paired_distances(ps, gj.stack([c, b]), "mw2", return_info=True)
    assert paired.shape == paired_info.converged.shape == (2,)
    assert bool(jnp.all(paired_info.converged))
    with pytest.raises(ValueError, match="return_info needs a transport metric"):
        gj.pairwise_distances(ps, qs, "cs", return_info=True)


# --------------------------------------------------------------------------- compilation, info
_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@only_float32_run
def test_a_new_epsilon_does_not_recompile():
    """Issue: every new ``epsilon`` of ``paired_distances`` compiled a new program."""
    from jax._src import monitoring

    compiles = []

    def listen(name, duration, **kwargs):
        if name == _COMPILE_EVENT:
            compiles.append(duration)

    ps, qs = gj.stack([P1, Q1]), gj.stack([Q1, P1])
    gj.paired_distances(ps, qs, "mw2_sinkhorn", epsilon=0.5)  # compiled here
    gj.mw2_distance(P3, Q4, "sinkhorn", epsilon=0.5)
    epsilons = (0.25, 0.125, np.float64(0.3), jnp.asarray(0.7))
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        for eps in epsilons:
            gj.paired_distances(ps, qs, "mw2_sinkhorn", epsilon=eps)
            gj.mw2_distance(P3, Q4, "sinkhorn", epsilon=eps)
    finally:
        monitoring.unregister_event_duration_listener(listen)
    assert compiles == []
    for bad in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="epsilon"):
            gj.paired_distances(ps, qs, "mw2_sinkhorn", epsilon=bad)


@only_float32_run
def test_return_info_inside_jit_and_value_and_grad():
    """A training loop sees which pairs stopped at ``max_iter`` (``has_aux``)."""
    ps, qs = gj.stack([P3, P3]), gj.stack([Q4, P3])

    @jax.jit
    def step(means):
        def loss(means):
            moved = gj.GMM._unchecked(ps.weights, means, ps.covs)
            d, info = gj.paired_distances(
                moved, qs, "mw2_sinkhorn", epsilon=1e-3, max_iter=20, return_info=True
            )
            return jnp.mean(d), info

        return jax.value_and_grad(loss, has_aux=True)(means)

    (value, info), grad = step(ps.means)
    assert info.converged.shape == info.n_iters.shape == (2,)
    assert not bool(info.converged[0]) and int(info.n_iters[0]) == 20
    assert np.isfinite(float(value)) and _finite(grad)


@pytest.mark.skipif(not X64, reason="gradient comparison in float64")
def test_gradients_match_ott_unrolled_at_convergence():
    """The implicit-function VJP equals OTT's unrolled autodiff once the iterations converge.

    Value (cost of the rounded plan), cost gradient (plan in ``C``, weights' directions that
    keep the total mass) and a cotangent of the plan itself (what a geodesic differentiates).
    """
    from gmmjax._src.ot.sinkhorn import _ott_sinkhorn, solve_sinkhorn

    rng = np.random.default_rng(3)
    a, b = jnp.asarray(rng.dirichlet(np.ones(3))), jnp.asarray(rng.dirichlet(np.ones(4)))
    c, eps = jnp.asarray(rng.uniform(0, 2, (3, 4))), jnp.asarray(0.1)

    def ours(a, b, c):
        res = solve_sinkhorn(a, b, c, epsilon=eps, threshold=1e-12)
        return res.cost, jnp.sum(res.plan**2)

    def ott(a, b, c):
        res = _ott_sinkhorn(a, b, c, eps, 1e-12, 5000, False, 1.0)
        return res.cost, jnp.sum(res.plan**2)

    for k in (0, 1):
        mine = jax.jit(jax.value_and_grad(lambda *x, k=k: ours(*x)[k], (0, 1, 2)))(a, b, c)
        ref = jax.jit(jax.value_and_grad(lambda *x, k=k: ott(*x)[k], (0, 1, 2)))(a, b, c)
        np.testing.assert_allclose(mine[0], ref[0], rtol=1e-10)
        for g, r in zip(mine[1][:2], ref[1][:2], strict=True):  # tangent to the simplex
            np.testing.assert_allclose(g - g.mean(), r - r.mean(), atol=1e-8)
        np.testing.assert_allclose(mine[1][2], ref[1][2], atol=1e-8)
