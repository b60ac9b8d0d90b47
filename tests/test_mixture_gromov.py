"""Mixture Gromov–Wasserstein (Salmona, Delon & Desolneux 2024): the discrete problem against
POT and against the brute-force optimum over permutations, isometry invariance, closed forms
of one-component mixtures, convergence reporting, gradients against finite differences."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import X64, needs_x64, random_gmm_arrays, tol

import gmmjax
from gmmjax import GMM
from gmmjax._src.distances.mixture_gromov import gromov_wasserstein_costs


def _gmm(rng, k, d, diagonal=False, uniform=False):
    w, m, c = random_gmm_arrays(rng, k, d, diagonal)
    return GMM(np.full(k, 1.0 / k) if uniform else w, 2.0 * m, c)


def _costs(g):
    return np.asarray(gmmjax.bures_cost_matrix(g, g), np.float64)


def _objective(c0, c1, plan):
    """The four-index sum, formed in full (numpy, float64)."""
    diff = c0[:, None, :, None] - c1[None, :, None, :]
    return float(np.einsum("ijkl,ij,kl->", diff**2, plan, plan))


def _isometry(rng, g, d_out):
    """``g`` pushed by x -> U x + t with U (d_out, d) orthonormal columns (a reflection too)."""
    u, _ = np.linalg.qr(rng.standard_normal((d_out, d_out)))
    u = u[:, : g.dim] * np.where(np.arange(g.dim) == 0, -1.0, 1.0)
    covs = np.einsum("ab,kbc,dc->kad", u, np.asarray(g.covs, np.float64), u)
    means = np.asarray(g.means, np.float64) @ u.T + rng.standard_normal(d_out)
    return GMM(g.weights, means, covs)


@pytest.mark.peer
def test_discrete_problem_equals_pot():
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(0)
    for _ in range(4):  # the shapes of the permutation test below: one compiled program
        p, q = _gmm(rng, 4, 3), _gmm(rng, 4, 2)
        c0, c1 = _costs(p), _costs(q)
        a, b = np.asarray(p.weights, np.float64), np.asarray(q.weights, np.float64)
        res = gromov_wasserstein_costs(c0, c1, a, b)
        theirs = ot.gromov.gromov_wasserstein2(c0, c1, a, b)
        assert bool(res.converged)
        np.testing.assert_allclose(float(res.cost), theirs, rtol=tol(1e-9, 1e-4))
        plan = np.asarray(res.plan, np.float64)
        np.testing.assert_allclose(plan.sum(1), a, atol=tol(1e-12, 1e-6))
        np.testing.assert_allclose(plan.sum(0), b, atol=tol(1e-12, 1e-6))
        np.testing.assert_allclose(float(res.cost), _objective(c0, c1, plan), rtol=tol(1e-9, 1e-4))


def _gradient(c0, c1, plan):
    """The gradient of the four-index sum, formed in full (numpy, float64)."""
    diff = c0[:, None, :, None] - c1[None, :, None, :]
    return 2.0 * np.einsum("ijkl,kl->ij", diff**2, plan)


def _diagonal_w2(rng, k, d):
    """W2^2 between k random diagonal Gaussians: |m - m'|^2 + |sqrt(v) - sqrt(v')|^2 (numpy)."""
    points = np.concatenate([2.0 * rng.standard_normal((k, d)), rng.uniform(0.5, 1.4, (k, d))], 1)
    return np.sum((points[:, None] - points[None]) ** 2, axis=-1)


def test_stationary_against_every_permutation_and_global_from_the_best_one():
    # Diagonal covariances: W2^2 is the squared Euclidean distance between (m, sqrt(var)),
    # so both cost matrices are conditionally negative definite and the minimum over the
    # couplings is attained at a permutation (Maron & Lipman 2018): brute force over 4!
    # gives the global optimum. From the independent start Frank-Wolfe (ours and POT's) may
    # stop at a local minimum above it (GW is not convex); its stationarity is checked
    # against every vertex, and started at the best permutation it stays there.
    rng = np.random.default_rng(1)
    k = 4
    perms = [np.eye(k)[list(s)] / k for s in itertools.permutations(range(k))]
    u = np.full(k, 1.0 / k)
    for _ in range(4):
        c0, c1 = _diagonal_w2(rng, k, 3), _diagonal_w2(rng, k, 2)
        values = [_objective(c0, c1, perm) for perm in perms]
        best = int(np.argmin(values))
        res = gromov_wasserstein_costs(c0, c1, u, u)
        assert bool(res.converged)
        assert float(res.cost) >= values[best] * (1 - tol(1e-9, 1e-4))
        plan = np.asarray(res.plan, np.float64)
        grad = _gradient(c0, c1, plan)
        gaps = [np.sum(grad * (plan - perm)) for perm in perms]
        assert max(gaps) <= tol(1e-9, 1e-4) * np.max(np.abs(grad))
        from_best = gromov_wasserstein_costs(c0, c1, u, u, init=perms[best])
        assert bool(from_best.converged)
        np.testing.assert_allclose(float(from_best.cost), values[best], rtol=tol(1e-9, 1e-4))


def test_isometry_invariance_and_zero_for_an_isometric_copy():
    rng = np.random.default_rng(2)
    p, q = _gmm(rng, 3, 2), _gmm(rng, 3, 3)
    value = gmmjax.mixture_gromov_wasserstein(p, q)
    assert value.dtype == (jnp.float64 if X64 else jnp.float32)
    d = float(value)
    moved_p, moved_q = _isometry(rng, p, 2), _isometry(rng, q, 3)
    np.testing.assert_allclose(
        float(gmmjax.mixture_gromov_wasserstein(moved_p, moved_q)), d, rtol=tol(1e-8, 1e-3)
    )
    # p and an isometric copy of it in R^3 (singular covariances: the copy is flat).
    copy = _isometry(rng, p, 3)
    zero, info = gmmjax.mixture_gromov_wasserstein(p, copy, return_info=True)
    assert bool(info.converged)
    scale = float(np.max(_costs(p)))
    assert float(zero) <= tol(1e-6, 3e-2) * scale
    np.testing.assert_allclose(np.asarray(info.plan), np.diag(np.asarray(p.weights)), atol=1e-6)
    assert d > 0.1 * scale


def test_one_component_closed_forms():
    rng = np.random.default_rng(3)
    q = _gmm(rng, 3, 2)
    single = gmmjax.Gaussian(np.zeros(3), np.eye(3))
    b, c1 = np.asarray(q.weights, np.float64), _costs(q)
    expected = np.sqrt(b @ c1**2 @ b)
    np.testing.assert_allclose(
        float(gmmjax.mixture_gromov_wasserstein(single, q)), expected, rtol=tol(1e-9, 1e-4)
    )


def test_unconverged_is_nan_and_says_so():
    rng = np.random.default_rng(0)
    p, q = _gmm(rng, 4, 3), _gmm(rng, 4, 2)
    c0, c1 = _costs(p), _costs(q)
    res = gromov_wasserstein_costs(c0, c1, p.weights, q.weights, max_iter=1)
    assert not bool(res.converged)
    assert np.isnan(float(res.cost))
    np.testing.assert_allclose(np.asarray(res.plan).sum(0), np.asarray(q.weights), atol=1e-6)


def test_bad_arguments():
    p = GMM.univariate([0.5, 0.5], [0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="max_iter"):
        gmmjax.mixture_gromov_wasserstein(p, p, max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        gmmjax.mixture_gromov_wasserstein(p, p, tol=-1.0)
    with pytest.raises(TypeError, match="q must be a GMM"):
        gmmjax.mixture_gromov_wasserstein(p, np.zeros(3))
    with pytest.raises(ValueError, match="init must be a coupling"):
        gmmjax.mixture_gromov_wasserstein(p, p, init=np.eye(2))
    with pytest.raises(ValueError, match="init must have shape"):
        gmmjax.mixture_gromov_wasserstein(p, p, init=np.ones((2, 3)) / 6)
    with pytest.raises(ValueError, match="c0 must be a square"):
        gromov_wasserstein_costs(np.zeros((2, 3)), np.zeros((2, 2)), [1, 1], [1, 1])


def _value(weights, means, covs, q):
    return gmmjax.mixture_gromov_wasserstein(GMM(weights, means, covs), q)


_grad = jax.jit(jax.grad(_value, argnums=(0, 1, 2)))


@needs_x64
def test_gradients_match_finite_differences():
    rng = np.random.default_rng(4)
    p, q = _gmm(rng, 3, 2), _gmm(rng, 3, 3)
    args = (jnp.asarray(p.weights), jnp.asarray(p.means), jnp.asarray(p.covs))
    grads = _grad(*args, q)
    value = _value
    h = 1e-6
    sym = np.zeros((3, 2, 2))
    sym[1] = [[0.3, 0.1], [0.1, -0.2]]
    directions = [
        np.array([1.0, -1.0, 0.0]),  # stays on the simplex
        rng.standard_normal((3, 2)),
        sym,
    ]
    for i, (g, v) in enumerate(zip(grads, directions, strict=True)):
        assert np.all(np.isfinite(np.asarray(g)))
        lo = list(args)
        hi = list(args)
        lo[i], hi[i] = args[i] - h * v, args[i] + h * v
        fd = (float(value(*hi, q)) - float(value(*lo, q))) / (2 * h)
        np.testing.assert_allclose(float(jnp.sum(g * v)), fd, rtol=1e-5, atol=1e-7)


def test_gradient_finite_at_zero_distance():
    rng = np.random.default_rng(5)
    p = _gmm(rng, 3, 2)
    q = _isometry(rng, p, 3)
    grads = _grad(p.weights, p.means, p.covs, q)
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g)))
