"""Discrete OT layers: the exact LP against POT's ``ot.emd``, and the OTT Sinkhorn wrapper."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import needs_x64, only_float32_run, tol

from gmmjax._src.ot.exact import exact_ot
from gmmjax._src.ot.sinkhorn import sinkhorn_ot

ot = pytest.importorskip("ot")


def _problem(rng, n, m, zeros=()):
    a = rng.dirichlet(np.ones(n))
    a[list(zeros)] = 0.0
    a /= a.sum()
    b = rng.dirichlet(np.ones(m))
    c = rng.random((n, m)) * 3.0
    return a, b, c


@pytest.mark.peer
@pytest.mark.parametrize("method", ["device", "host"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (12, 9)])
def test_exact_matches_pot(rng, shape, method):
    a, b, c = _problem(rng, *shape)
    res = exact_ot(a, b, c, method=method)
    plan = ot.emd(a, b, c)
    assert float(res.cost) == pytest.approx(float(np.sum(plan * c)), abs=tol(1e-12, 1e-5))
    np.testing.assert_allclose(res.plan, plan, atol=tol(1e-12, 1e-6))
    assert bool(res.converged)
    assert int(res.n_iters) == -1 if method == "host" else 1 <= int(res.n_iters) <= 2 * sum(shape)
    # marginals and dual feasibility: f_i + g_j <= C_ij, with equality on the support
    np.testing.assert_allclose(res.plan.sum(1), a, atol=tol(1e-12, 1e-6))
    slack = np.asarray(c - res.f[:, None] - res.g[None, :])
    assert slack.min() >= -tol(1e-9, 1e-4)
    assert np.abs(slack[np.asarray(res.plan) > 0]).max() <= tol(1e-9, 1e-4)


@pytest.mark.peer
def test_zero_weights_change_nothing(rng):
    a, b, c = _problem(rng, 6, 5, zeros=(1, 4))
    res = exact_ot(a, b, c)
    keep = a > 0
    small = ot.emd(a[keep], b, c[keep])
    assert float(res.cost) == pytest.approx(float(np.sum(small * c[keep])), abs=tol(1e-12, 1e-5))
    np.testing.assert_allclose(res.plan[keep], small, atol=tol(1e-12, 1e-6))
    assert np.all(np.asarray(res.plan)[~keep] == 0.0)
    assert np.all(np.isfinite(jax.grad(lambda a: exact_ot(a, b, c).cost)(jnp.asarray(a))))


@only_float32_run
def test_jit_and_vmap_match_single_problems(rng):
    probs = [_problem(rng, 4, 5) for _ in range(3)]
    a, b, c = (np.stack(x) for x in zip(*probs, strict=True))
    out = jax.jit(jax.vmap(exact_ot))(a, b, c)
    shared = jax.vmap(exact_ot, in_axes=(None, None, 0))(a[0], b[0], c)
    for i in range(3):
        one = exact_ot(a[i], b[i], c[i])
        np.testing.assert_allclose(out.plan[i], one.plan, atol=tol(1e-12, 1e-6))
        assert float(out.cost[i]) == pytest.approx(float(one.cost), abs=tol(1e-12, 1e-5))
    assert shared.plan.shape == (3, 4, 5) and out.converged.shape == (3,)


@needs_x64
def test_exact_gradients_envelope_theorem(rng):
    a, b, c = _problem(rng, 5, 6)
    res = exact_ot(a, b, c)
    ga, gb, gc = jax.grad(lambda a, b, c: exact_ot(a, b, c).cost, argnums=(0, 1, 2))(a, b, c)
    np.testing.assert_allclose(gc, res.plan, atol=1e-14)
    np.testing.assert_allclose(ga, res.f, atol=1e-14)
    assert abs(float(jnp.sum(ga))) < 1e-12 and abs(float(jnp.sum(gb))) < 1e-12
    h = 1e-6
    for grad, which in ((ga, 0), (gb, 1)):
        direction = rng.standard_normal(grad.shape)
        direction -= direction.mean()
        args = [a, b, c]

        def at(x, which=which, direction=direction, args=args):
            shifted = list(args)
            shifted[which] = args[which] + x * direction
            return float(exact_ot(*shifted).cost)

        fd = (at(h) - at(-h)) / (2 * h)
        assert float(grad @ direction) == pytest.approx(fd, rel=1e-6, abs=1e-9)
    direction = rng.standard_normal(c.shape)
    fd = (
        float(exact_ot(a, b, c + h * direction).cost)
        - float(exact_ot(a, b, c - h * direction).cost)
    ) / (2 * h)
    assert float(jnp.sum(gc * direction)) == pytest.approx(fd, rel=1e-6)


@needs_x64
def test_exact_plan_gradient_in_weights(rng):
    a, b, c = _problem(rng, 4, 5)
    w = rng.standard_normal((4, 5))

    def f(a):
        return jnp.sum(w * exact_ot(a, b, c).plan)

    g = jax.grad(f)(jnp.asarray(a))
    direction = rng.standard_normal(4)
    direction -= direction.mean()
    h = 1e-7
    fd = (f(a + h * direction) - f(a - h * direction)) / (2 * h)
    assert float(g @ direction) == pytest.approx(float(fd), rel=1e-6)


@only_float32_run
@pytest.mark.parametrize("method", ["device", "host"])
def test_exact_failure_is_flagged(rng, method):
    a, b, c = _problem(rng, 30, 30)
    res = exact_ot(a, b, c, max_iter=2, method=method)
    assert not bool(res.converged)


@only_float32_run
def test_bad_shapes_are_value_errors():
    with pytest.raises(ValueError, match="a must have shape"):
        exact_ot(jnp.ones(3) / 3, jnp.ones(2) / 2, jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="cost_matrix must have shape"):
        sinkhorn_ot(jnp.ones(2) / 2, jnp.ones(2) / 2, jnp.ones(2))


@only_float32_run
@pytest.mark.parametrize("method", ["device", "host"])
def test_invalid_marginals_are_nan_under_jit(method):
    """Negative or all-zero marginals: a plan for clipped weights would be a silent wrong value."""
    good, c = jnp.array([0.5, 0.5]), jnp.array([[0.0, 1.0], [1.0, 0.0]])
    solve = jax.jit(lambda a, b: exact_ot(a, b, c, method=method))
    for a, b in [(jnp.array([1.5, -0.5]), good), (good, jnp.array([0.0, 0.0]))]:
        res = solve(a, b)
        assert np.isnan(float(res.cost)) and not bool(res.converged)
    res = jax.jit(lambda a: sinkhorn_ot(a, good, c, epsilon=0.1))(jnp.array([1.5, -0.5]))
    assert np.isnan(float(res.cost)) and not bool(res.converged)
    res = solve(good, good)  # the check can fail: valid marginals solve
    assert float(res.cost) == 0.0 and bool(res.converged)


@needs_x64
def test_sinkhorn_tends_to_exact_and_reports(rng):
    a, b, c = _problem(rng, 5, 4)
    exact = float(exact_ot(a, b, c).cost)
    res = sinkhorn_ot(a, b, c, epsilon=1e-2)
    assert bool(res.converged) and 0 < int(res.n_iters) < 2000
    assert exact - 1e-6 <= float(res.cost) <= exact + 5e-2
    stopped = sinkhorn_ot(a, b, c, epsilon=1e-4, max_iter=10)
    assert not bool(stopped.converged) and int(stopped.n_iters) <= 10


@needs_x64
def test_sinkhorn_gradient_finite_differences(rng):
    a, b, c = _problem(rng, 4, 4)

    @jax.jit
    def f(c):
        return sinkhorn_ot(a, b, c, epsilon=0.1).cost

    g = jax.grad(f)(jnp.asarray(c))
    direction = rng.standard_normal(c.shape)
    h = 1e-5
    fd = (f(c + h * direction) - f(c - h * direction)) / (2 * h)
    assert float(jnp.sum(g * direction)) == pytest.approx(float(fd), rel=1e-4)
    out = jax.vmap(f)(np.stack([c, 2 * c]))
    assert float(out[0]) == pytest.approx(float(f(c)), rel=1e-9)
