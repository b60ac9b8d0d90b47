"""Gradients of the learner's losses (``nll``, ``binned``, ``l2``) at their hard points.

The losses are functions of the logits ``theta`` (weights ``softmax(theta)``) for a fixed
basis and data. Hard points: uniform weights (the paper's start); a component whose weight is
exactly zero in floating point (logit -1e4); two identical basis components; a data point 200
grid spacings outside the basis (its features underflow); a near-singular basis (sigma =
1e-4 spacings, features one-hot to round-off); and, for the binned loss, a point exactly at a
kink of its absolute value. Gradients are finite in both precisions and, in float64, agree
with finite differences wherever the loss is differentiable (forward and reverse mode).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DTYPE, X64
from jax.test_util import check_grads

from gmmjax import GMM, grid_basis, log_gaussian_overlap
from gmmjax._src.learner.grid import basis_spacing
from gmmjax._src.learner.losses import LOSSES, Problem

N_COMPONENTS = 12


def _data(point: str) -> np.ndarray:
    x = np.random.default_rng(3).normal(size=200)
    if point == "far_point":
        spacing = (x.max() - x.min()) / N_COMPONENTS
        x = np.append(x, x.max() + 200.0 * spacing)
    return x


def _basis(point: str, x: np.ndarray) -> GMM:
    if point == "far_point":  # the basis covers the bulk only; the last point lies far outside
        basis = grid_basis(x[:-1], N_COMPONENTS, 1.0)
    else:
        basis = grid_basis(x, N_COMPONENTS, 1e-4 if point == "near_singular" else 1.0)
    if point == "duplicate_components":
        means = basis.means.at[1].set(basis.means[0])
        basis = GMM._unchecked(basis.weights, means, basis.covs)
    return basis


def _logits(point: str) -> jnp.ndarray:
    theta = jnp.asarray(np.random.default_rng(4).normal(size=N_COMPONENTS), DTYPE)
    if point == "uniform":
        return jnp.zeros(N_COMPONENTS, DTYPE)
    if point == "zero_weight":
        return theta.at[2].set(-1e4)
    return theta


def loss_of_logits(loss: str, point: str):
    """``theta -> loss`` for one hard point, with the features precomputed as in the fit."""
    x = _data(point)
    basis = _basis(point, x)
    pts = jnp.asarray(x, DTYPE)[:, None]
    sd = jnp.sqrt(basis.covs[0, 0])
    gram = jnp.exp(log_gaussian_overlap(basis, basis)) if loss == "l2" else None
    problem = Problem(LOSSES[loss], basis, sd / 4.0, 0.5 * basis_spacing(basis), gram)
    rows, extra = problem.rows(pts, problem.extras(pts, pts))
    return lambda theta: problem.value(theta[None], rows, extra)[0]


POINTS = ["uniform", "zero_weight", "duplicate_components", "far_point", "near_singular"]


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("loss", LOSSES)
def test_learner_loss_gradient_at_hard_point(loss, point):
    f = loss_of_logits(loss, point)
    theta = _logits(point)
    value, grad = jax.value_and_grad(f)(theta)
    assert bool(jnp.isfinite(value)), (loss, point, value)
    assert bool(jnp.all(jnp.isfinite(grad))), (loss, point, grad)
    if point == "zero_weight":  # d pi_k / d theta_k = pi_k (1 - pi_k) = 0 in floating point
        assert float(grad[2]) == 0.0
    if X64:
        # near-singular nll: the value carries a theta-independent log-density of order -1e8,
        # so the finite-difference step must be large enough to rise above its round-off.
        eps = 1e-3 if point == "near_singular" else 1e-6
        check_grads(f, (theta,), order=1, modes=("fwd", "rev"), eps=eps, atol=1e-5, rtol=1e-5)


def test_binned_loss_at_a_kink_has_a_finite_subgradient():
    """|P_f - P_g| = 0 for one window: the derivative there is the 0 subgradient, finite."""
    x = _data("uniform")
    basis = _basis("uniform", x)
    pts = jnp.asarray(x, DTYPE)[:, None]
    problem = Problem(LOSSES["binned"], basis, jnp.sqrt(basis.covs[0, 0]) / 4.0)
    rows, extra = problem.rows(pts, problem.extras(pts, pts))
    theta = jnp.zeros(N_COMPONENTS, DTYPE)
    extra = extra.at[0].set(problem.value(theta[None], rows[:1], jnp.zeros(1, DTYPE))[0])
    grad = jax.grad(lambda t: problem.value(t[None], rows, extra)[0])(theta)
    assert bool(jnp.all(jnp.isfinite(grad)))
