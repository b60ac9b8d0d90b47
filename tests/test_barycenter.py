"""Mixture barycenters (seed 001, §IV, eqs. 17–20)."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import needs_x64, only_float32_run, random_gmm_arrays, tol
from scipy.optimize import linprog

import gmmjax as gj


def _section_vc() -> list[gj.GMM]:
    """The three 1-D mixtures of seed 001 §V.C (equal component weights)."""
    return [
        gj.GMM.univariate([0.5, 0.5], [0.5, 0.1], [0.01, 0.05]),
        gj.GMM.univariate([0.5, 0.5], [0.0, -0.35], [0.02, 0.02]),
        gj.GMM.univariate([0.5, 0.5], [0.4, -0.45], [0.025, 0.021]),
    ]


def _objective(bary: gj.GMM, gmms: list[gj.GMM], lam) -> float:
    """Eq. 17 evaluated independently of the LP: sum_k lambda_k d(mu, mu_k)^2."""
    return float(sum(lk * gj.mw2_distance(bary, g) ** 2 for lk, g in zip(lam, gmms, strict=True)))


def _mmot_value(gmms: list[gj.GMM], lam) -> float:
    """Multi-marginal formulation: min over couplings of the tuple costs (scipy HiGHS)."""
    sizes = [g.n_components for g in gmms]
    tuples = list(itertools.product(*[range(s) for s in sizes]))
    idx = np.array(tuples)
    means = jnp.stack([g.means[idx[:, k]] for k, g in enumerate(gmms)], axis=1)
    covs = jnp.stack([g.full_covs()[idx[:, k]] for k, g in enumerate(gmms)], axis=1)
    lam = jnp.asarray(lam)

    @jax.jit
    @jax.vmap
    def tuple_cost(m, c):
        comps = gj.Gaussian._unchecked(m, c)
        center = gj.gaussian_barycenter(comps, lam)
        centers = jax.tree_util.tree_map(
            lambda x: jnp.broadcast_to(x, m.shape[:1] + x.shape), center
        )
        return jnp.sum(lam * jax.vmap(gj.w2_gaussian)(centers, comps) ** 2)

    cost = np.asarray(tuple_cost(means, covs), np.float64)
    rows, rhs = [], []
    for k, g in enumerate(gmms):
        for j in range(sizes[k]):
            rows.append([1.0 if t[k] == j else 0.0 for t in tuples])
            rhs.append(float(g.weights[j]))
    res = linprog(cost, A_eq=np.array(rows), b_eq=np.array(rhs), method="highs")
    return float(res.fun)


@pytest.mark.parametrize("lam", [(1 / 3, 1 / 3, 1 / 3), (0.25, 0.25, 0.5)])
def test_section_vc_lp_barycenter(lam):
    gmms = _section_vc()
    bary, info = gj.mw2_barycenter(gmms, jnp.asarray(lam), return_info=True)
    assert bary.n_components == 8 and bool(info.converged)
    np.testing.assert_allclose(float(jnp.sum(bary.weights)), 1.0, atol=tol(1e-12, 1e-5))
    objective = _objective(bary, gmms, lam)
    assert float(info.cost) == pytest.approx(objective, rel=tol(1e-8, 1e-3))
    assert objective == pytest.approx(_mmot_value(gmms, lam), rel=tol(1e-8, 1e-3))


@pytest.mark.peer
@needs_x64
@pytest.mark.parametrize("lam", [(1 / 3, 1 / 3, 1 / 3), (0.25, 0.25, 0.5)])
def test_no_worse_than_pot_fixed_point(lam):
    ot_gmm = pytest.importorskip("ot.gmm")
    gmms = _section_vc()
    means = [np.asarray(g.means, np.float64) for g in gmms]
    covs = [np.asarray(g.full_covs(), np.float64) for g in gmms]
    ws = [np.asarray(g.weights, np.float64) for g in gmms]
    pm, pc = ot_gmm.gmm_barycenter_fixed_point(
        means, covs, ws, means[0].copy(), covs[0].copy(), np.asarray(lam), iterations=200
    )
    theirs = gj.GMM(np.full(2, 0.5), pm, pc)
    ours = gj.mw2_barycenter(gmms, jnp.asarray(lam))
    assert _objective(ours, gmms, lam) <= _objective(theirs, gmms, lam) + 1e-12


@needs_x64
def test_full_covariance_barycenter_matches_multimarginal(rng):
    gmms = [gj.GMM(*random_gmm_arrays(rng, k, 2)) for k in (2, 3)]
    lam = np.array([0.4, 0.6])
    bary, info = gj.mw2_barycenter(gmms, lam, return_info=True)
    assert bary.n_components == 6
    assert float(info.cost) == pytest.approx(_mmot_value(gmms, lam), rel=1e-8)
    assert float(info.cost) == pytest.approx(_objective(bary, gmms, lam), rel=1e-8)


def test_extreme_weights_return_the_input():
    gmms = _section_vc()[:2]
    bary = gj.mw2_barycenter(gmms, jnp.array([1.0, 0.0]))
    assert float(gj.mw2_distance(bary, gmms[0])) ** 2 <= tol(1e-12, 1e-5)


def test_fixed_support_lp_and_sinkhorn():
    gmms = _section_vc()
    lam = jnp.array([0.25, 0.25, 0.5])
    free, free_info = gj.mw2_barycenter(gmms, lam, return_info=True)
    _, same_info = gj.mw2_barycenter(gmms, lam, support=free, return_info=True)
    assert float(same_info.cost) == pytest.approx(float(free_info.cost), rel=tol(1e-8, 1e-3))
    small = gj.GMM.univariate([0.5, 0.5], [0.3, -0.3], [0.02, 0.02])
    fixed, fixed_info = gj.mw2_barycenter(gmms, lam, support=small, return_info=True)
    assert fixed.n_components == 2
    assert float(fixed_info.cost) >= float(free_info.cost) - tol(1e-10, 1e-5)
    sk, sk_info = gj.mw2_barycenter(
        gmms, lam, support=small, solver="sinkhorn", epsilon=1e-3, return_info=True
    )
    assert bool(sk_info.converged) and int(sk_info.n_iters) > 0
    np.testing.assert_allclose(sk.weights, fixed.weights, atol=0.05)
    assert float(sk_info.cost) == pytest.approx(float(fixed_info.cost), rel=0.05)


@only_float32_run
def test_candidate_limit_is_a_clear_error(rng):
    gmms = [gj.GMM(*random_gmm_arrays(rng, 4, 1, diagonal=True)) for _ in range(3)]
    with pytest.raises(ValueError, match="max_candidates"):
        gj.mw2_barycenter(gmms, np.full(3, 1 / 3), max_candidates=50)
    with pytest.raises(ValueError, match="weights must have shape"):
        gj.mw2_barycenter(gmms, np.full(2, 0.5))
    with pytest.raises(ValueError, match="probability vector"):
        gj.mw2_barycenter(gmms, np.array([0.5, 0.6, -0.1]))


@only_float32_run
def test_jit_and_vmap_over_stacked_batches():
    gmms = _section_vc()
    stacked = gj.stack(gmms)  # batch (L,)
    lam = jnp.full(3, 1 / 3)
    one = gj.mw2_barycenter(stacked, lam)
    jitted = jax.jit(gj.mw2_barycenter)(stacked, lam)
    np.testing.assert_allclose(jitted.weights, one.weights, atol=tol(1e-9, 1e-5))
    batch = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), stacked)  # batch (2, L)
    lams = jnp.stack([lam, jnp.array([0.25, 0.25, 0.5])])
    out = jax.jit(jax.vmap(gj.mw2_barycenter))(batch, lams)
    assert out.weights.shape == (2, 8)
    second = gj.mw2_barycenter(gmms, lams[1])
    np.testing.assert_allclose(out.weights[1], second.weights, atol=tol(1e-9, 1e-5))
    np.testing.assert_allclose(out.means[1], second.means, atol=tol(1e-12, 1e-6))


def test_components_are_differentiable(rng):
    gmms = [gj.GMM(*random_gmm_arrays(rng, 2, 2)) for _ in range(2)]

    def f(means):
        moved = gj.GMM._unchecked(gmms[0].weights, means, gmms[0].covs)
        bary = gj.mw2_barycenter([moved, gmms[1]], jnp.array([0.5, 0.5]))
        return jnp.sum(bary.weights[:, None] * bary.means)

    g = jax.grad(f)(gmms[0].means)
    assert g.shape == (2, 2) and np.all(np.isfinite(np.asarray(g)))


def _random_full_gmms(rng, sizes, d=2):
    return [gj.GMM(*random_gmm_arrays(rng, k, d)) for k in sizes]


def _directional(f, x, direction, h):
    """Central finite difference of ``f`` at ``x`` along ``direction``."""
    return (float(f(x + h * direction)) - float(f(x - h * direction))) / (2 * h)


@needs_x64
@pytest.mark.parametrize("fixed_support", [False, True])
def test_exact_cost_gradient_matches_finite_differences(rng, fixed_support):
    """The LP's envelope: weights (centred duals), means and lambda, against the full pipeline.

    The input-weight derivative was silently 0 before: the objective was differentiated
    through the pairwise plans at frozen barycenter weights, whose duals are degenerate.
    """
    gmms = _random_full_gmms(rng, (2, 3))
    support = gj.GMM(*random_gmm_arrays(rng, 4, 2)) if fixed_support else None
    lam = jnp.array([0.3, 0.7])

    def cost(weights=None, means=None, lam=lam):
        moved = gj.GMM._unchecked(
            gmms[1].weights if weights is None else weights,
            gmms[1].means if means is None else means,
            gmms[1].covs,
        )
        _, info = gj.mw2_barycenter([gmms[0], moved], lam, support, return_info=True)
        return info.cost

    tangent = jnp.array([1.0, -0.3, -0.7])  # the weights live on the simplex
    grad_w = jax.grad(lambda w: cost(weights=w))(gmms[1].weights)
    fd_w = _directional(lambda w: cost(weights=w), gmms[1].weights, tangent, 1e-6)
    assert abs(fd_w) > 1e-3
    assert float(grad_w @ tangent) == pytest.approx(fd_w, rel=1e-6, abs=1e-9)

    direction = jnp.asarray(rng.normal(size=(3, 2)))
    grad_m = jax.grad(lambda m: cost(means=m))(gmms[1].means)
    fd_m = _directional(lambda m: cost(means=m), gmms[1].means, direction, 1e-6)
    assert float(jnp.sum(grad_m * direction)) == pytest.approx(fd_m, rel=1e-6, abs=1e-9)

    grad_l = jax.grad(lambda t: cost(lam=jnp.stack([t, 1 - t])))(jnp.asarray(0.3))
    fd_l = _directional(lambda t: cost(lam=jnp.stack([t, 1 - t])), jnp.asarray(0.3), 1.0, 1e-6)
    assert float(grad_l) == pytest.approx(fd_l, rel=1e-6, abs=1e-9)


def test_cost_gradient_is_nonzero_in_the_input_weights(rng):
    """Both precisions: the derivative in the input weights reaches the caller."""
    gmms = _random_full_gmms(rng, (2, 2))

    def cost(w):
        moved = gj.GMM._unchecked(w, gmms[0].means, gmms[0].covs)
        return gj.mw2_barycenter([moved, gmms[1]], jnp.array([0.5, 0.5]), return_info=True)[1].cost

    g = jax.grad(cost)(gmms[0].weights)
    assert np.all(np.isfinite(np.asarray(g))) and float(jnp.abs(g[0] - g[1])) > 1e-3


def test_sinkhorn_cost_gradient_is_the_recomputed_objectives(rng):
    """Sinkhorn: differentiable (it raised before), and equal to the derivative of eq. 17
    recomputed with ``mw2_distance`` at the returned weights held fixed."""
    gmms = _random_full_gmms(rng, (2, 3))
    support = gj.GMM(*random_gmm_arrays(rng, 4, 2))
    lam = jnp.array([0.3, 0.7])

    def run(means):
        moved = gj.GMM._unchecked(gmms[1].weights, means, gmms[1].covs)
        return gj.mw2_barycenter(
            [gmms[0], moved], lam, support, solver="sinkhorn", epsilon=1e-2, return_info=True
        )

    bary, info = run(gmms[1].means)
    assert bool(info.converged)

    def recomputed(means):
        moved = gj.GMM._unchecked(gmms[1].weights, means, gmms[1].covs)
        return lam[0] * gj.mw2_distance(bary, gmms[0]) ** 2 + lam[1] * (
            gj.mw2_distance(bary, moved) ** 2
        )

    assert float(info.cost) == pytest.approx(float(recomputed(gmms[1].means)), rel=tol(1e-12, 1e-5))
    grad = jax.grad(lambda m: run(m)[1].cost)(gmms[1].means)
    direction = jnp.asarray(rng.normal(size=(3, 2)))
    fd = _directional(recomputed, gmms[1].means, direction, tol(1e-6, 1e-2))
    assert abs(fd) > 1e-3
    assert float(jnp.sum(grad * direction)) == pytest.approx(fd, rel=tol(1e-6, 2e-2))
