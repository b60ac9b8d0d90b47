"""Unbalanced mixture transport (``tau < 1``) against OTT-JAX's unbalanced Sinkhorn."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DTYPE, needs_x64

import gmmjax as gj
from gmmjax._src.ot.sinkhorn import default_threshold

P = gj.GMM.univariate(
    jnp.array([0.2, 0.5, 0.3], DTYPE),
    jnp.array([-1.0, 0.5, 2.0], DTYPE),
    jnp.array([1.0, 0.5, 2.0]),
)
Q = gj.GMM.univariate(jnp.array([0.7, 0.3], DTYPE), jnp.array([0.0, 3.0], DTYPE), jnp.ones(2))
EPSILON, TAU = 0.05, 0.7


def generalised_kl(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(np.sum(np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0) / y), 0.0) - x + y))


@needs_x64
@pytest.mark.peer
def test_unbalanced_plan_and_objective_match_ott():
    from ott.geometry import geometry
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import sinkhorn

    plan, info = gj.mw2_plan(P, Q, "sinkhorn", EPSILON, tau=TAU, return_info=True)
    cost = gj.bures_cost_matrix(P, Q)
    problem = linear_problem.LinearProblem(
        geometry.Geometry(cost_matrix=cost, epsilon=EPSILON),
        P.weights,
        Q.weights,
        tau_a=TAU,
        tau_b=TAU,
    )
    out = sinkhorn.Sinkhorn(threshold=default_threshold(cost.dtype), max_iterations=2000)(problem)
    np.testing.assert_allclose(plan, out.matrix, rtol=1e-10, atol=1e-14)
    assert bool(info.converged) and bool(out.converged)
    ours = np.asarray(out.matrix)
    rho = EPSILON * TAU / (1 - TAU)
    expected = float(np.sum(ours * np.asarray(cost)))
    expected += rho * (
        generalised_kl(ours.sum(1), P.weights) + generalised_kl(ours.sum(0), Q.weights)
    )
    assert float(info.cost) == pytest.approx(expected, rel=1e-10)
    # The marginals are relaxed, and the objective is below the balanced optimum.
    assert not np.allclose(ours.sum(1), np.asarray(P.weights), atol=1e-6)
    assert float(info.cost) <= float(gj.mw2_distance(P, Q)) ** 2


def test_tau_one_is_the_balanced_solver():
    balanced = gj.mw2_distance(P, Q, "sinkhorn", EPSILON)
    assert float(gj.mw2_distance(P, Q, "sinkhorn", EPSILON, tau=1.0)) == float(balanced)


def test_unbalanced_distance_and_pairwise_report_convergence():
    value, info = gj.mw2_distance(P, Q, "sinkhorn", EPSILON, tau=TAU, return_info=True)
    assert float(value) == pytest.approx(float(jnp.sqrt(info.cost)), rel=1e-6)
    assert info.converged.dtype == jnp.bool_ and int(info.n_iters) > 0
    _, short = gj.mw2_distance(P, Q, "sinkhorn", 0.01, tau=0.95, max_iter=2, return_info=True)
    assert not bool(short.converged)
    pair = gj.pairwise_distances(gj.stack([P, Q]), metric="mw2_sinkhorn", epsilon=EPSILON, tau=TAU)
    assert float(pair[0, 1]) == pytest.approx(float(value), rel=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"solver": "sinkhorn", "tau": 0.0}, ValueError, "tau"),
        ({"solver": "sinkhorn", "tau": 1.5}, ValueError, "tau"),
        ({"solver": "sinkhorn", "tau": "0.5"}, TypeError, "tau"),
        ({"solver": "exact", "tau": 0.5}, ValueError, "tau \\(unbalanced transport\\) needs"),
    ],
)
def test_bad_tau_names_the_argument(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        gj.mw2_distance(P, Q, **kwargs)
