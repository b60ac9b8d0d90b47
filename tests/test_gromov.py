"""Gaussian Gromov–Wasserstein (Delon, Desolneux & Salmona 2022): values against POT, the
coupling's objective against the generic moments of a Gaussian quadratic form, gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import X64, tol
from jax.test_util import check_grads

import gmmjax
from gmmjax import Gaussian

DIMS = [(3, 2), (2, 4), (5, 5), (1, 3)]


def _spd(rng, d):
    f = rng.normal(size=(d, d))
    return f @ f.T + 0.1 * np.eye(d)


def _pair(rng, d0, d1):
    return Gaussian(rng.normal(size=d0), _spd(rng, d0)), Gaussian(
        rng.normal(size=d1), _spd(rng, d1)
    )


def _coupling_objective(c0, a, noise):
    """E[(|x - x'|^2 - |y - y'|^2)^2] for y = A x + b + eps, eps ~ N(0, noise), all Gaussian.

    With w = (x - x', eps - eps') ~ N(0, 2 diag(C0, noise)) the difference is the quadratic
    form w^T Q w, Q = [[I - A^T A, -A^T], [-A, -I]], whose second moment is
    (tr QC)^2 + 2 tr((QC)^2).
    """
    d0, d1 = c0.shape[0], noise.shape[0]
    q = np.block([[np.eye(d0) - a.T @ a, -a.T], [-a, -np.eye(d1)]])
    c = 2 * np.block([[c0, np.zeros((d0, d1))], [np.zeros((d1, d0)), noise]])
    qc = q @ c
    return np.trace(qc) ** 2 + 2 * np.trace(qc @ qc)


@pytest.mark.peer
def test_distance_equals_pot():
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(0)
    for d0, d1 in DIMS:
        g0, g1 = _pair(rng, d0, d1)
        ours = float(gmmjax.gaussian_gromov_wasserstein(g0, g1))
        c0, c1 = np.asarray(g0.cov, np.float64), np.asarray(g1.cov, np.float64)
        theirs = float(ot.gaussian.gaussian_gromov_wasserstein_distance(c0, c1))
        np.testing.assert_allclose(ours, theirs, rtol=tol(1e-10, 1e-4))


def test_coupling_is_optimal_and_pushes_forward():
    rng = np.random.default_rng(1)
    for d0, d1 in DIMS:
        g0, g1 = _pair(rng, d0, d1)
        a, b = (np.asarray(x, np.float64) for x in gmmjax.gaussian_gromov_wasserstein_map(g0, g1))
        c0, c1 = np.asarray(g0.cov, np.float64), np.asarray(g1.cov, np.float64)
        assert a.shape == (d1, d0) and b.shape == (d1,)
        np.testing.assert_allclose(a @ np.asarray(g0.mean) + b, g1.mean, atol=tol(1e-12, 1e-5))
        noise = c1 - a @ c0 @ a.T
        if d0 >= d1:  # a map: A C0 A^T = C1
            np.testing.assert_allclose(noise, 0.0, atol=tol(1e-10, 1e-4) * np.abs(c1).max())
        else:  # a map plus independent noise, which must be a covariance
            assert np.linalg.eigvalsh(noise).min() > -tol(1e-10, 1e-4)
        squared = float(gmmjax.gaussian_gromov_wasserstein(g0, g1)) ** 2
        np.testing.assert_allclose(_coupling_objective(c0, a, noise), squared, rtol=tol(1e-9, 1e-3))


def test_diagonal_equals_dense_and_batches_broadcast():
    rng = np.random.default_rng(2)
    v0, v1 = rng.uniform(0.5, 2.0, size=(4, 3)), rng.uniform(0.5, 2.0, size=2)
    diag = gmmjax.gaussian_gromov_wasserstein(
        Gaussian(np.zeros((4, 3)), v0), Gaussian(np.ones(2), v1)
    )
    dense = gmmjax.gaussian_gromov_wasserstein(
        Gaussian(np.zeros((4, 3)), jax.vmap(jnp.diag)(jnp.asarray(v0))),
        Gaussian(np.ones(2), np.diag(v1)),
    )
    assert diag.shape == (4,)
    np.testing.assert_allclose(diag, dense, rtol=tol(1e-12, 1e-5))
    a, b = gmmjax.gaussian_gromov_wasserstein_map(
        Gaussian(np.zeros((4, 3)), v0), Gaussian(np.ones(2), v1)
    )
    assert a.shape == (4, 2, 3) and b.shape == (4, 2)


def test_invariant_to_rotations_and_translations_zero_on_itself():
    rng = np.random.default_rng(3)
    g0, _ = _pair(rng, 3, 3)
    rot, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    moved = Gaussian(np.asarray(g0.mean) + 5.0, rot @ np.asarray(g0.cov) @ rot.T)
    assert float(gmmjax.gaussian_gromov_wasserstein(g0, moved)) < tol(1e-6, 2e-2)
    grad = jax.grad(lambda c: gmmjax.gaussian_gromov_wasserstein(Gaussian(g0.mean, c), g0))(g0.cov)
    assert np.all(np.isfinite(grad))


def test_gradients_match_finite_differences_also_at_repeated_eigenvalues():
    if not X64:
        pytest.skip("finite differences need float64")
    rng = np.random.default_rng(4)
    f0, f1 = rng.normal(size=(3, 3)), rng.normal(size=(2, 2))

    def distance(f0, f1):
        g0 = Gaussian(jnp.zeros(3), f0 @ f0.T + 0.1 * jnp.eye(3), validate=False)
        g1 = Gaussian(jnp.zeros(2), f1 @ f1.T + 0.1 * jnp.eye(2), validate=False)
        return gmmjax.gaussian_gromov_wasserstein(g0, g1)

    check_grads(distance, (f0, f1), order=1, modes=("rev",), atol=1e-6, rtol=1e-6)
    iso = jax.grad(distance, argnums=(0, 1))(jnp.eye(3), 2.0 * jnp.eye(2))  # repeated spectra
    assert all(np.all(np.isfinite(g)) for g in iso)


def test_refuses_mixtures():
    g = Gaussian(np.zeros(2), np.eye(2))
    with pytest.raises(TypeError, match="g1 must be a Gaussian"):
        gmmjax.gaussian_gromov_wasserstein(g, gmmjax.GMM([1.0], [[0.0, 0.0]], [np.eye(2)]))
