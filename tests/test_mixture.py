"""GMM and Gaussian pytrees: densities, moments, sampling, interop, stacking.

References: ``scipy.stats.multivariate_normal`` for densities, scikit-learn's own
``score_samples`` for the interop round trip, and plain numpy for the moments.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DTYPE, random_gmm_arrays, tol
from scipy import stats

import gmmjax as gj


def scipy_log_prob(w: np.ndarray, m: np.ndarray, c: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Mixture log density with scipy, one component at a time (diagonal: variances)."""
    comps = []
    for k in range(len(w)):
        cov = np.diag(c[k]) if c.ndim == 2 else c[k]
        comps.append(np.log(w[k]) + stats.multivariate_normal(m[k], cov).logpdf(x))
    return np.logaddexp.reduce(np.stack(comps, -1), axis=-1)


def as_gmm(w: np.ndarray, m: np.ndarray, c: np.ndarray) -> gj.GMM:
    return gj.GMM(jnp.asarray(w, DTYPE), jnp.asarray(m, DTYPE), jnp.asarray(c, DTYPE))


@pytest.mark.peer
@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("d", [1, 3])
def test_log_prob_matches_scipy(rng, d, diagonal):
    w, m, c = random_gmm_arrays(rng, 4, d, diagonal=diagonal)
    x = rng.standard_normal((50, d)) * 2.0
    got = as_gmm(w, m, c).log_prob(jnp.asarray(x, DTYPE))
    np.testing.assert_allclose(got, scipy_log_prob(w, m, c, x), rtol=tol(1e-10, 1e-5), atol=0)


def test_log_prob_shapes_prob_and_gaussian(rng):
    w, m, c = random_gmm_arrays(rng, 3, 2)
    p = as_gmm(w, m, c)
    x = rng.standard_normal((4, 5, 2))
    lp = p.log_prob(jnp.asarray(x, DTYPE))
    assert lp.shape == (4, 5)
    np.testing.assert_allclose(p.prob(x), np.exp(lp), rtol=tol(1e-12, 1e-6))
    assert p.component_log_prob(x).shape == (4, 5, 3)
    g = gj.Gaussian(jnp.asarray(m[0], DTYPE), jnp.asarray(c[0], DTYPE))
    ref = stats.multivariate_normal(m[0], c[0]).logpdf(x)
    np.testing.assert_allclose(g.log_prob(x), ref, rtol=tol(1e-10, 1e-5))


def test_log_prob_far_from_every_component_is_finite():
    """Log-sum-exp: 1e3 sd away the density underflows but its log stays exact."""
    p = gj.GMM.univariate([0.5, 0.5], [0.0, 1.0], [1.0, 1.0])
    x = jnp.array([[1000.0]], DTYPE)
    expected = np.logaddexp(
        np.log(0.5) + stats.norm.logpdf(1000.0), np.log(0.5) + stats.norm.logpdf(999.0)
    )
    np.testing.assert_allclose(p.log_prob(x), [expected], rtol=tol(1e-12, 1e-6))


def test_batched_log_prob_matches_loop(rng):
    gmms = [as_gmm(*random_gmm_arrays(rng, k, 2)) for k in (1, 2, 3)]
    batch = gj.stack(gmms)
    x = jnp.asarray(rng.standard_normal((7, 2)), DTYPE)
    got = batch.log_prob(x)
    assert got.shape == (3, 7)
    for i, g in enumerate(gmms):
        np.testing.assert_allclose(got[i], g.log_prob(x), rtol=tol(1e-12, 1e-5))


@pytest.mark.parametrize("diagonal", [False, True])
def test_mean_and_covariance_match_numpy(rng, diagonal):
    w, m, c = random_gmm_arrays(rng, 3, 2, diagonal=diagonal)
    p = as_gmm(w, m, c)
    full = np.stack([np.diag(v) for v in c]) if diagonal else c
    mean = w @ m
    cov = sum(wk * (ck + np.outer(mk, mk)) for wk, mk, ck in zip(w, m, full, strict=True))
    cov = cov - np.outer(mean, mean)
    np.testing.assert_allclose(p.mean(), mean, rtol=tol(1e-12, 1e-5), atol=tol(1e-14, 1e-6))
    np.testing.assert_allclose(p.covariance(), cov, rtol=tol(1e-12, 1e-5), atol=tol(1e-14, 1e-6))


@pytest.mark.parametrize("diagonal", [False, True])
def test_sample_moments(rng, diagonal):
    """200k samples: mean and covariance within a few standard errors of the formulas."""
    w, m, c = random_gmm_arrays(rng, 3, 2, diagonal=diagonal)
    p = as_gmm(w, m, c)
    n = 200_000
    x = np.asarray(p.sample(jax.random.key(1), n), np.float64)
    assert x.shape == (n, 2)
    sd = np.sqrt(np.diag(np.asarray(p.covariance(), np.float64)))
    np.testing.assert_allclose(x.mean(0), p.mean(), atol=float(5 * sd.max() / np.sqrt(n)))
    np.testing.assert_allclose(
        np.cov(x.T), p.covariance(), atol=float(6 * sd.max() ** 2 / np.sqrt(n))
    )
    ks = stats.kstest(
        x[:, 0],
        lambda t: sum(
            wk * stats.norm.cdf(t, mk[0], np.sqrt(ck[0] if diagonal else ck[0, 0]))
            for wk, mk, ck in zip(w, m, c, strict=True)
        ),
    )
    assert ks.pvalue > 1e-4


def test_sample_is_reparameterised(rng):
    """Gradient of E[x] w.r.t. the means is the weight of the sampled component."""
    w, m, c = random_gmm_arrays(rng, 2, 2)
    p = as_gmm(w, m, c)

    def mean_of_samples(means):
        return gj.GMM._unchecked(p.weights, means, p.covs).component_sample(jax.random.key(0), 8)

    jac = jax.jacobian(lambda mu: mean_of_samples(mu).mean(axis=1))(p.means)
    np.testing.assert_allclose(jac, np.einsum("kl,ij->kilj", np.eye(2), np.eye(2)), atol=1e-6)


def test_singular_covariance_samples_are_finite():
    p = gj.GMM(
        jnp.ones(1, DTYPE), jnp.zeros((1, 2), DTYPE), jnp.array([[[1.0, 1.0], [1.0, 1.0]]], DTYPE)
    )
    x = p.sample(jax.random.key(0), 100)
    assert bool(jnp.all(jnp.isfinite(x)))
    np.testing.assert_allclose(x[:, 0], x[:, 1], atol=tol(1e-5, 2e-2))


@pytest.mark.peer
@pytest.mark.parametrize("kind", ["full", "diag", "tied", "spherical"])
def test_sklearn_round_trip(rng, kind):
    pytest.importorskip("sklearn")
    from sklearn.mixture import GaussianMixture

    data = np.concatenate(
        [rng.standard_normal((150, 3)), 3.0 + 0.5 * rng.standard_normal((150, 3))]
    )
    est = GaussianMixture(3, covariance_type=kind, random_state=0).fit(data)
    p = gj.GMM.from_sklearn(est)
    assert p.n_components == 3 and p.dim == 3
    assert p.is_diagonal == (kind in ("diag", "spherical"))
    x = rng.standard_normal((40, 3)) * 2.0
    np.testing.assert_allclose(
        p.log_prob(jnp.asarray(x, DTYPE)), est.score_samples(x), rtol=tol(1e-10, 1e-5)
    )
    back = p.to_sklearn()
    np.testing.assert_allclose(back.score_samples(x), est.score_samples(x), rtol=tol(1e-10, 1e-5))
    np.testing.assert_allclose(back.predict_proba(x), est.predict_proba(x), atol=tol(1e-10, 1e-4))


def test_sample_shape_follows_distrax(rng):
    """``sample_shape`` is an int or a tuple: draws of shape ``(*sample_shape, d)``."""
    w, m, c = random_gmm_arrays(rng, 2, 3)
    p, key = as_gmm(w, m, c), jax.random.key(3)
    assert p.sample(key).shape == (3,)
    assert p.sample(key, np.int64(4)).shape == (4, 3)
    assert p.sample(key, (2, 0)).shape == (2, 0, 3)
    # The same draws as the flat call, in the requested layout.
    np.testing.assert_array_equal(p.sample(key, (2, 3)), p.sample(key, 6).reshape(2, 3, 3))
    assert p.component(0).sample(key, (2, 2)).shape == (2, 2, 3)


@pytest.mark.parametrize(
    ("shape", "error"),
    [
        (-1, ValueError),
        ((2, -3), ValueError),
        (2.5, TypeError),
        (True, TypeError),
        ("3", TypeError),
    ],
)
def test_sample_shape_errors_name_the_argument(shape, error):
    p = gj.GMM.univariate([1.0], [0.0], [1.0])
    with pytest.raises(error, match="sample_shape"):
        p.sample(jax.random.key(0), shape)


@pytest.mark.peer
def test_sklearn_estimator_errors():
    pytest.importorskip("sklearn")
    from sklearn.mixture import GaussianMixture

    with pytest.raises(ValueError, match="not fitted yet; call its fit"):
        gj.GMM.from_sklearn(GaussianMixture(2))
    with pytest.raises(TypeError, match="estimator must be a sklearn"):
        gj.GMM.from_sklearn(np.zeros(3))


@pytest.mark.peer
@pytest.mark.parametrize("diagonal", [False, True])
def test_ott_round_trip(rng, diagonal):
    """OTT-JAX's GaussianMixture: same log density both ways, also under ``jit``."""
    w, m, c = random_gmm_arrays(rng, 3, 2, diagonal=diagonal)
    p = as_gmm(w, m, c)
    mixture = p.to_ott()
    x = jnp.asarray(rng.standard_normal((20, 2)), DTYPE)
    np.testing.assert_allclose(mixture.log_prob(x), p.log_prob(x), rtol=tol(1e-12, 1e-5))
    back = jax.jit(gj.GMM.from_ott)(mixture)
    assert not back.is_diagonal
    np.testing.assert_allclose(back.log_prob(x), p.log_prob(x), rtol=tol(1e-12, 1e-5))
    np.testing.assert_allclose(back.full_covs(), p.full_covs(), rtol=tol(1e-12, 1e-5))
    with pytest.raises(TypeError, match="mixture must be an ott"):
        gj.GMM.from_ott(p)


def test_univariate_logits_and_normalize():
    p = gj.GMM.univariate([0.25, 0.75], [0.0, 1.0], [1.0, 4.0])
    assert (p.n_components, p.dim, p.is_diagonal) == (2, 1, True)
    np.testing.assert_allclose(p.covs[:, 0], [1.0, 4.0])
    q = gj.GMM.from_logits(jnp.log(jnp.array([1.0, 3.0])), p.means, p.covs)
    np.testing.assert_allclose(q.weights, [0.25, 0.75], rtol=tol(1e-12, 1e-6))
    r = gj.GMM(jnp.array([1.0, 3.0]), p.means, p.covs, normalize=True)
    np.testing.assert_allclose(r.weights, [0.25, 0.75], rtol=tol(1e-12, 1e-6))
    g = gj.Gaussian(jnp.zeros(2), jnp.ones(2))
    assert gj.GMM.from_gaussian(g).n_components == 1


def test_pytree_round_trip_and_static_structure(rng):
    p = as_gmm(*random_gmm_arrays(rng, 3, 2))
    leaves, treedef = jax.tree_util.tree_flatten(p)
    assert len(leaves) == 3
    q = jax.tree_util.tree_unflatten(treedef, leaves)
    assert isinstance(q, gj.GMM)
    # Same shapes, different values: same tree structure (nothing value-dependent is static).
    p2 = as_gmm(*random_gmm_arrays(np.random.default_rng(5), 3, 2))
    assert jax.tree_util.tree_structure(p2) == treedef
    g = gj.Gaussian(jnp.zeros(2), jnp.eye(2))
    assert len(jax.tree_util.tree_leaves(g)) == 2


def test_component_indexing_and_len(rng):
    p = as_gmm(*random_gmm_arrays(rng, 3, 2))
    c = p.component(1)
    np.testing.assert_allclose(c.mean, p.means[1])
    batch = gj.stack([p, p])
    assert len(batch) == 2 and batch[1].n_components == 3
    with pytest.raises(IndexError, match="no batch axis"):
        p[0]
    with pytest.raises(TypeError, match="n_components"):
        len(p)


# ------------------------------------------------------------------------ stack / padding
def _padded_pair(rng, diagonal=False):
    small = as_gmm(*random_gmm_arrays(rng, 2, 2, diagonal=diagonal))
    big = as_gmm(*random_gmm_arrays(rng, 4, 2, diagonal=diagonal))
    return small, big, gj.stack([small, big], n_components=5)


@jax.jit
def _all_results(p: gj.GMM, q: gj.GMM, x: jax.Array) -> dict[str, jax.Array]:
    """Every foundation quantity of ``p`` (possibly batched) against a single ``q``."""
    out = {"log_prob": p.log_prob(x), "mean": p.mean(), "covariance": p.covariance()}
    for name, fn in (
        ("l2", gj.l2_distance_squared),
        ("cs", gj.cauchy_schwarz_divergence),
        ("inner", gj.log_inner_product),
    ):
        out[name + "_pq"], out[name + "_qp"] = fn(p, q), fn(q, p)
    for method in ("variational", "lower_bound", "upper_bound"):
        out[method + "_pq"] = gj.kl_divergence(p, q, method)
        out[method + "_qp"] = gj.kl_divergence(q, p, method)
    return out


@pytest.mark.parametrize("diagonal", [False, True])
def test_stack_padding_changes_no_result(rng, diagonal):
    small, big, batch = _padded_pair(rng, diagonal)
    assert batch.batch_shape == (2,) and batch.n_components == 5
    np.testing.assert_array_equal(batch.weights[0, 2:], 0.0)
    q = as_gmm(*random_gmm_arrays(rng, 3, 2, diagonal=diagonal))
    x = jnp.asarray(rng.standard_normal((10, 2)), DTYPE)
    batched = _all_results(batch, q, x)
    for i, g in enumerate((small, big)):
        single = _all_results(g, q, x)
        for name, value in single.items():
            np.testing.assert_allclose(
                batched[name][i], value, rtol=tol(1e-10, 1e-4), atol=tol(1e-12, 1e-5), err_msg=name
            )


def _density_sum(p: gj.GMM, q: gj.GMM) -> jax.Array:
    return gj.l2_distance(p, q) + gj.kl_divergence(p, q)


@pytest.mark.parametrize("diagonal", [False, True])
def test_zero_weight_component_with_zero_covariance_changes_no_result(rng, diagonal):
    """A padding component with an all-zero covariance gives the values of one with any
    other covariance (which are the unpadded ones: ``test_stack_padding_changes_no_result``),
    eagerly, and finite gradients (traced: no value check). It raised eagerly; KL was NaN."""
    w, m, c = random_gmm_arrays(rng, 3, 2, diagonal=diagonal)
    w = np.append(w[:2] / w[:2].sum(), 0.0)
    reference = as_gmm(w, m, c)  # the same shapes: every compiled program is reused
    padded = as_gmm(w, m, c.copy() * np.array([1.0, 1.0, 0.0]).reshape(-1, *[1] * (c.ndim - 1)))
    q = as_gmm(*random_gmm_arrays(rng, 2, 2, diagonal=diagonal))
    x = jnp.asarray(rng.standard_normal((4, 2)), DTYPE)
    close = dict(rtol=tol(1e-12, 1e-5), atol=tol(1e-14, 1e-6))
    np.testing.assert_allclose(gj.l2_distance(padded, q), gj.l2_distance(reference, q), **close)
    np.testing.assert_allclose(gj.kl_divergence(padded, q), gj.kl_divergence(reference, q), **close)
    np.testing.assert_allclose(padded.log_prob(x), reference.log_prob(x), **close)
    grads = jax.grad(_density_sum)(padded, q)  # jitted inside: the traced path
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(grads))


def test_stack_mixed_diagonal_and_full_becomes_full(rng):
    a = as_gmm(*random_gmm_arrays(rng, 2, 2, diagonal=True))
    b = as_gmm(*random_gmm_arrays(rng, 3, 2))
    batch = gj.stack([a, b])
    assert not batch.is_diagonal and batch.covs.shape == (2, 3, 2, 2)
    np.testing.assert_allclose(batch[0].covs[:2], a.full_covs())


def test_repr_mentions_shape(rng):
    p = as_gmm(*random_gmm_arrays(rng, 3, 2))
    assert "n_components=3" in repr(p) and "dim=2" in repr(p)
    assert "Gaussian(dim=2" in repr(gj.Gaussian(jnp.zeros(2), jnp.ones(2)))


def test_normalize_huge_and_tiny_weights():
    """The sum of float32 weights near the largest float must not overflow to [0, 0]."""
    big = np.array([3e38, 3e38], np.float32)
    p = gj.GMM(big, np.zeros((2, 1), np.float32), np.ones((2, 1), np.float32), normalize=True)
    np.testing.assert_array_equal(p.weights, [0.5, 0.5])
    small = np.array([1e-30, 3e-30], DTYPE)
    q = gj.GMM(small, np.zeros((2, 1), DTYPE), np.ones((2, 1), DTYPE), normalize=True)
    np.testing.assert_allclose(q.weights, [0.25, 0.75], rtol=tol(1e-15, 1e-7))


@pytest.mark.parametrize("diagonal", [False, True])
def test_to_z_whitens_and_from_z_inverts(rng, diagonal):
    """``to_z`` maps draws of the Gaussian to standard normal draws; ``from_z`` undoes it."""
    w, m, c = random_gmm_arrays(rng, 1, 3, diagonal=diagonal)
    g = as_gmm(w, m, c).component(0)
    x = g.sample(jax.random.key(2), 20_000)
    z = np.asarray(g.to_z(x), np.float64)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.05)
    np.testing.assert_allclose(np.cov(z.T), np.eye(3), atol=0.05)
    np.testing.assert_allclose(g.from_z(g.to_z(x[:10])), x[:10], rtol=tol(1e-10, 1e-4), atol=1e-5)


@pytest.mark.peer
def test_to_z_matches_ott(rng):
    from ott.tools.gaussian_mixture.gaussian import Gaussian as OTTGaussian

    _, m, c = random_gmm_arrays(rng, 1, 3)
    g = gj.Gaussian(jnp.asarray(m[0], DTYPE), jnp.asarray(c[0], DTYPE))
    theirs = OTTGaussian.from_mean_and_cov(g.mean, g.cov)
    x = jnp.asarray(rng.standard_normal((5, 3)), DTYPE)
    np.testing.assert_allclose(g.to_z(x), theirs.to_z(x), rtol=tol(1e-10, 1e-4), atol=1e-6)
    np.testing.assert_allclose(g.from_z(x), theirs.from_z(x), rtol=tol(1e-10, 1e-4), atol=1e-6)
