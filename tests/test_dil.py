"""Density information loss, Lu et al. (2023) Eq. 9, against an independent numpy/scipy result."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import needs_x64, tol
from scipy import stats

from gmmjax import GMM, density_information_loss, empirical_density_information_loss
from gmmjax._src.learner.dil import mixture_cdf


def _numpy_dil(w, m, sd, target_cdf, centers, d):
    """Eq. 9 term by term: left tail, every window (mu_i - d, mu_i + d], right tail."""

    def gmm_mass(a, b):
        return float(
            sum(
                wk * (stats.norm.cdf(b, mk, sk) - stats.norm.cdf(a, mk, sk))
                for wk, mk, sk in zip(w, m, sd, strict=True)
            )
        )

    def target_mass(a, b):
        return float(target_cdf(b) - target_cdf(a))

    c = np.sort(centers)
    total = abs(target_mass(-np.inf, c[0] - d) - gmm_mass(-np.inf, c[0] - d))
    for ci in c:
        total += abs(target_mass(ci - d, ci + d) - gmm_mass(ci - d, ci + d))
    total += abs(target_mass(c[-1] + d, np.inf) - gmm_mass(c[-1] + d, np.inf))
    return total


def _random_gmm(rng, k):
    w = rng.dirichlet(np.ones(k))
    m = np.sort(rng.uniform(-4, 4, k))
    sd = rng.uniform(0.2, 1.0, k)
    return w, m, sd


@pytest.mark.parametrize("d", [0.05, 0.2, 0.7])
def test_matches_numpy_against_scipy_target(rng, d):
    w, m, sd = _random_gmm(rng, 12)
    target = stats.t(df=4, loc=0.3, scale=1.5)
    gmm = GMM.univariate(w, m, sd**2)
    ours = float(density_information_loss(gmm, target.cdf, d))
    ref = _numpy_dil(w, m, sd, target.cdf, m, d)
    assert ours == pytest.approx(ref, rel=tol(1e-9, 1e-4), abs=tol(1e-12, 1e-5))


def test_explicit_centers_and_overlapping_windows(rng):
    w, m, sd = _random_gmm(rng, 6)
    gmm = GMM.univariate(w, m, sd**2)
    target = stats.norm(0.5, 2.0)
    centers = rng.uniform(-3, 3, 9)
    ours = float(density_information_loss(gmm, target.cdf, 1.3, centers=centers))
    ref = _numpy_dil(w, m, sd, target.cdf, centers, 1.3)
    assert ours == pytest.approx(ref, rel=tol(1e-9, 1e-4))


def test_zero_for_identical_and_bounded_by_two(rng):
    w, m, sd = _random_gmm(rng, 5)
    gmm = GMM.univariate(w, m, sd**2)
    same = float(density_information_loss(gmm, lambda x: mixture_cdf(gmm, x), 0.3))
    assert same == pytest.approx(0.0, abs=tol(1e-12, 1e-6))
    # a target far to the right and windows tiling the mixture's support: L reaches 2
    grid = np.linspace(-8, 8, 65)
    far = float(density_information_loss(gmm, stats.norm(1e3, 1.0).cdf, 0.125, centers=grid))
    assert far == pytest.approx(2.0, abs=tol(1e-9, 1e-5))


def test_tiling_windows_give_cell_total_variation(rng):
    """d = r/2 on an evenly spaced grid: L = sum over the grid cells and tails of |mass diff|."""
    w, m, sd = _random_gmm(rng, 4)
    gmm = GMM.univariate(w, m, sd**2)
    target = stats.logistic(0.0, 0.8)
    centers = np.linspace(-3, 3, 13)
    r = centers[1] - centers[0]
    edges = np.concatenate([[-np.inf], centers - r / 2, [centers[-1] + r / 2, np.inf]])
    comps = list(zip(w, m, sd, strict=True))
    fg = np.array([sum(wk * stats.norm.cdf(e, mk, sk) for wk, mk, sk in comps) for e in edges])
    ft = target.cdf(edges)
    ref = np.sum(np.abs(np.diff(ft) - np.diff(fg)))
    ours = float(density_information_loss(gmm, target.cdf, r / 2, centers=centers))
    assert ours == pytest.approx(ref, rel=tol(1e-9, 1e-4))


def test_empirical_matches_numpy_counts(rng):
    w, m, sd = _random_gmm(rng, 7)
    gmm = GMM.univariate(w, m, sd**2)
    samples = rng.standard_t(3, size=2001)
    d = 0.25

    def ecdf(x):
        return np.mean(samples[:, None] <= np.atleast_1d(x)[None, :], axis=0)

    ours = float(empirical_density_information_loss(gmm, samples, d))
    ref = _numpy_dil(w, m, sd, lambda x: ecdf(x)[0] if np.isfinite(x) else float(x > 0), m, d)
    assert ours == pytest.approx(ref, rel=tol(1e-9, 1e-4))


def test_empirical_converges_to_exact():
    gmm = GMM.univariate([0.4, 0.6], [-1.0, 1.5], [0.3, 0.5])
    target = stats.norm(0.2, 1.3)
    samples = target.rvs(size=200_000, random_state=np.random.default_rng(3))
    exact = float(density_information_loss(gmm, target.cdf, 0.5))
    emp = float(empirical_density_information_loss(gmm, samples, 0.5))
    assert emp == pytest.approx(exact, abs=0.01)


@needs_x64
def test_gradient_finite_and_matches_finite_differences():
    target = jax.jit(lambda x: jax.scipy.stats.norm.cdf(x, 0.1, 1.2))

    def loss(mu):
        return density_information_loss(GMM.univariate([0.3, 0.7], mu, [0.4, 0.6]), target, 0.4)

    mu = jnp.array([-0.8, 0.9])
    g = jax.grad(loss)(mu)
    assert np.all(np.isfinite(np.asarray(g)))
    eps = 1e-6
    for i in range(2):
        e = jnp.zeros(2).at[i].set(eps)
        fd = (loss(mu + e) - loss(mu - e)) / (2 * eps)
        assert float(g[i]) == pytest.approx(float(fd), rel=1e-5, abs=1e-8)


@needs_x64
def test_check_grads_in_weights_means_and_variances():
    from jax.test_util import check_grads

    target = jax.jit(lambda x: jax.scipy.stats.logistic.cdf(x / 0.7))

    def dil(w, mu, var):
        g = GMM._unchecked(w, mu[:, None], var[:, None])
        return density_information_loss(g, target, 0.35, centers=jnp.linspace(-2.0, 2.0, 9))

    args = (jnp.array([0.2, 0.5, 0.3]), jnp.array([-1.1, 0.2, 1.3]), jnp.array([0.3, 0.5, 0.2]))
    check_grads(dil, args, order=1, modes=("rev", "fwd"), eps=1e-6)


def test_jit_with_jax_target():
    gmm = GMM.univariate([0.5, 0.5], [-1.0, 1.0], [0.2, 0.2])
    target = stats.norm(0.0, 1.0)
    eager = float(density_information_loss(gmm, target.cdf, 0.3))
    jitted = jax.jit(lambda g: density_information_loss(g, jax.scipy.stats.norm.cdf, 0.3))(gmm)
    assert float(jitted) == pytest.approx(eager, rel=tol(1e-9, 1e-4))


def test_bad_inputs_raise():
    gmm = GMM.univariate([1.0], [0.0], [1.0])
    two_d = GMM(jnp.ones(1), jnp.zeros((1, 2)), jnp.ones((1, 2)))
    cdf = stats.norm().cdf
    with pytest.raises(ValueError, match="1-D"):
        density_information_loss(two_d, cdf, 0.1)
    with pytest.raises(ValueError, match="d must be > 0"):
        density_information_loss(gmm, cdf, 0.0)
    with pytest.raises(ValueError, match="one value per point"):
        density_information_loss(gmm, lambda x: 0.5, 0.1)
    with pytest.raises(ValueError, match="finite"):
        density_information_loss(gmm, cdf, 0.1, centers=[0.0, np.nan])
    with pytest.raises(ValueError, match="finite"):
        empirical_density_information_loss(gmm, np.array([0.0, np.inf]), 0.1)
    with pytest.raises(ValueError, match="shape"):
        empirical_density_information_loss(gmm, np.zeros((3, 2)), 0.1)
    with pytest.raises(TypeError, match="GMM"):
        density_information_loss("not a gmm", cdf, 0.1)
