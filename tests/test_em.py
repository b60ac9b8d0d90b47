"""Component posteriors and the EM fitter, against scikit-learn from the same start."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DTYPE, X64, random_gmm_arrays, tol

import gmmjax as gj
from gmmjax._src.learner.em import initial_parameters

mixture = pytest.importorskip("sklearn.mixture")


def _data(d: int, seed: int, n: int = 300, k: int = 3) -> np.ndarray:
    """``n`` points from a random ``k``-component mixture in ``d`` dimensions, well separated."""
    rng = np.random.default_rng(seed)
    w, m, c = random_gmm_arrays(rng, k, d)
    p = gj.GMM(w, 3.0 * m, c)
    return np.asarray(p.sample(jax.random.key(seed), n), np.float64)


# ------------------------------------------------------------------ responsibilities
@pytest.mark.parametrize("diagonal", [False, True])
def test_responsibilities_match_sklearn_predict_proba(rng, diagonal):
    w, m, c = random_gmm_arrays(rng, 3, 2, diagonal=diagonal)
    p = gj.GMM(w, m, c)
    x = rng.standard_normal((50, 2)) * 2.0
    ours = np.asarray(p.responsibilities(jnp.asarray(x, DTYPE)))
    ref = p.to_sklearn().predict_proba(x)
    np.testing.assert_allclose(ours, ref, atol=tol(1e-10, 1e-5))
    log_r = np.asarray(p.log_responsibilities(jnp.asarray(x, DTYPE)))
    np.testing.assert_allclose(np.exp(log_r), ours, rtol=tol(1e-12, 1e-6))


def test_responsibilities_far_points_and_zero_weights():
    p = gj.GMM(
        jnp.array([0.5, 0.5, 0.0], DTYPE),
        jnp.array([[0.0, 0.0], [3.0, 0.0], [1e4, 0.0]], DTYPE),
        jnp.ones((3, 2), DTYPE),
    )
    x = jnp.array([[1e4, 0.0], [-1e4, 5e3], [1.5, 0.0]], DTYPE)  # 1e8 in squared units away
    r = np.asarray(p.responsibilities(x))
    assert np.all(np.isfinite(r))
    np.testing.assert_allclose(r.sum(axis=-1), 1.0, atol=4 * np.finfo(r.dtype).eps)
    assert np.all(r[:, 2] == 0.0)  # the zero-weight component, even at its own mean
    assert r[0, 1] == 1.0 and r[1, 0] == 1.0  # the nearer component takes everything
    np.testing.assert_allclose(r[2, :2], [0.5, 0.5], atol=tol(1e-12, 1e-6))
    assert p.responsibilities(x[0]).shape == (3,)
    with pytest.raises(ValueError, match="log_responsibilities needs a single GMM"):
        gj.stack([p, p]).responsibilities(x)


# ------------------------------------------------------------------ EM against scikit-learn
def _sklearn_from(start: gj.GMM, covariance_type: str, **kw):
    w, m, c = (np.asarray(a, np.float64) for a in (start.weights, start.means, start.covs))
    precisions = 1.0 / c if covariance_type == "diag" else np.linalg.inv(c)
    return mixture.GaussianMixture(
        len(w),
        covariance_type=covariance_type,
        weights_init=w / w.sum(),
        means_init=m,
        precisions_init=precisions,
        **kw,
    )


# Five data sets, 1-D to 5-D, each fitted with full and diagonal covariances.
CASES = [(d, ct) for d in (1, 2, 3, 4, 5) for ct in ("full", "diag")]


@pytest.mark.parametrize(("d", "covariance_type"), CASES)
def test_em_reaches_sklearn_log_likelihood(d, covariance_type):
    x = _data(d, seed=d)
    k, key = 3, jax.random.key(d)
    xj = jnp.asarray(x, DTYPE)
    diagonal = covariance_type == "diag"
    start = gj.GMM(*initial_parameters(xj, k, key, "kmeans++", 1e-6, diagonal))
    ours = gj.fit_em(xj, k, None, covariance_type=covariance_type, init=start)
    ref = _sklearn_from(start, covariance_type, max_iter=100, tol=1e-3, reg_covar=1e-6).fit(x)
    ll_ours = float(jnp.mean(ours.gmm.log_prob(xj)))
    ll_ref = ref.score(x)
    assert bool(ours.converged) and ref.converged_
    # measured: about 1e-15 (float64) and 1e-6 (float32); the target is 1e-3 per sample
    assert abs(ll_ours - ll_ref) < tol(1e-8, 1e-3)
    if X64:
        assert int(ours.n_iter) == ref.n_iter_
        np.testing.assert_allclose(ours.log_likelihood[int(ours.n_iter) - 1], ref.lower_bound_)


def test_string_init_is_the_documented_start_and_history():
    x = jnp.asarray(_data(2, seed=7), DTYPE)
    key = jax.random.key(3)
    fit = gj.fit_em(x, 3, key, max_iter=50)
    start = gj.GMM(*initial_parameters(x, 3, key, "kmeans++", 1e-6, False))
    again = gj.fit_em(x, 3, None, init=start, max_iter=50)
    np.testing.assert_allclose(fit.gmm.means, again.gmm.means, rtol=tol(1e-12, 1e-5))
    n = int(fit.n_iter)
    assert bool(fit.converged) and 1 < n < 50 and fit.log_likelihood.shape == (50,)
    hist = np.asarray(fit.log_likelihood)
    assert np.all(np.isfinite(hist[:n])) and np.all(np.isnan(hist[n:]))
    assert np.all(np.diff(hist[:n]) > -tol(1e-10, 1e-4))  # EM never lowers the likelihood
    assert abs(hist[n - 1] - hist[n - 2]) < 1e-3
    short = gj.fit_em(x, 3, key, max_iter=1)
    assert int(short.n_iter) == 1 and not bool(short.converged)


def test_random_init_and_diag_fit_run():
    x = jnp.asarray(_data(3, seed=11), DTYPE)
    fit = gj.fit_em(x, 3, jax.random.key(0), covariance_type="diag", init="random")
    assert fit.gmm.covs.shape == (3, 3) and bool(fit.converged)
    assert np.all(np.asarray(fit.gmm.covs) >= 1e-6 * (1 - 1e-6))


def test_vmapped_fit_equals_single_fits():
    xs = jnp.stack([jnp.asarray(_data(2, seed=s, n=200), DTYPE) for s in range(3)])
    keys = jax.random.split(jax.random.key(0), 3)
    batched = jax.jit(jax.vmap(lambda x, k: gj.fit_em(x, 3, k, max_iter=60)))(xs, keys)
    for i in range(3):
        single = gj.fit_em(xs[i], 3, keys[i], max_iter=60)
        assert int(batched.n_iter[i]) == int(single.n_iter)
        np.testing.assert_allclose(
            batched.gmm.covs[i], single.gmm.covs, rtol=tol(1e-9, 1e-3), atol=tol(1e-12, 1e-5)
        )
        np.testing.assert_allclose(
            batched.log_likelihood[i], single.log_likelihood, rtol=tol(1e-10, 1e-5)
        )


def test_covariance_floor_keeps_duplicate_points_finite():
    x = jnp.concatenate([jnp.zeros((20, 2)), jnp.ones((20, 2))]).astype(DTYPE)
    fit = gj.fit_em(x, 2, jax.random.key(0), reg_covar=1e-3)
    assert np.all(np.isfinite(np.asarray(fit.gmm.covs)))
    lam = np.linalg.eigvalsh(np.asarray(fit.gmm.covs, np.float64))
    assert lam.min() >= 1e-3 * (1 - 1e-4)


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"x": np.array([0.0, np.nan, 1.0])}, ValueError, r"x must be finite"),
        ({"x": np.zeros((2, 2, 2))}, ValueError, r"x must have shape"),
        ({"n_components": 0}, ValueError, r"n_components must be an int >= 1"),
        ({"n_components": 11}, ValueError, r"n_components must be <= the number of points"),
        ({"n_components": 2.0}, TypeError, r"n_components must be an int"),
        ({"covariance_type": "tied"}, ValueError, r"unknown covariance_type 'tied'"),
        ({"max_iter": 0}, ValueError, r"max_iter must be an int >= 1"),
        ({"tol": 0.0}, ValueError, r"tol must be > 0"),
        ({"reg_covar": -1.0}, ValueError, r"reg_covar must be >= 0"),
        ({"init": "k-means"}, ValueError, r"unknown init 'k-means'"),
        ({"init": 3}, TypeError, r"init must be a string"),
        ({"n_init": 0}, ValueError, r"n_init must be an int >= 1"),
        ({"callback": 1}, TypeError, r"callback must be callable"),
        ({"key": None}, ValueError, r"needs a PRNG key"),
    ],
)
def test_fit_em_bad_inputs(kwargs, exc, pattern):
    call = {"x": np.linspace(0.0, 1.0, 10), "n_components": 2, "key": jax.random.key(0)}
    call.update(kwargs)
    with pytest.raises(exc, match=pattern):
        gj.fit_em(call.pop("x"), call.pop("n_components"), call.pop("key"), **call)


def test_fit_em_init_gmm_must_match():
    x = np.linspace(0.0, 1.0, 10)
    p = gj.GMM.univariate([0.5, 0.5], [0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"init must have n_components=3"):
        gj.fit_em(x, 3, None, init=p)
    with pytest.raises(ValueError, match=r"init has diagonal covariances"):
        gj.fit_em(x, 2, None, init=p)
    assert gj.fit_em(x, 2, None, init=p, covariance_type="diag").gmm.is_diagonal


# ------------------------------------------------------------------ best of several k-means starts
# d = 3 (float64): the data have two optima, -7.2245 and -7.1339 per sample; 1 in 8 k-means
# starts of either library reaches the higher one (measured over 8 keys and 8 random states),
# scikit-learn's three starts of random_state=3 do, ours of key(3) do not.
_LOTTERY = pytest.mark.xfail(X64, reason="both libraries: 1 in 8 starts finds it", strict=True)


@pytest.mark.peer
@pytest.mark.slow
@pytest.mark.parametrize("d", [1, 2, pytest.param(3, marks=_LOTTERY), 5])
def test_kmeans_starts_reach_sklearn_n_init(d):
    """``init="kmeans", n_init=3`` against ``GaussianMixture(n_init=3)`` (its default start)."""
    x = _data(d, seed=d)
    xj = jnp.asarray(x, DTYPE)
    fit = gj.fit_em(xj, 3, jax.random.key(d), init="kmeans", n_init=3)
    ref = mixture.GaussianMixture(3, n_init=3, covariance_type="full", random_state=d).fit(x)
    ll = float(jnp.mean(fit.gmm.log_prob(xj)))
    starts = np.asarray(fit.start_log_likelihoods)
    assert starts.shape == (3,) and int(fit.best_start) == int(np.argmax(starts))
    np.testing.assert_allclose(float(fit.mean_log_likelihood), ll, rtol=tol(1e-12, 1e-5))
    assert bool(fit.converged) and ll >= ref.score(x) - 1e-3


@pytest.mark.peer
def test_lloyd_matches_sklearn_kmeans_from_the_same_centres():
    from sklearn.cluster import KMeans

    from gmmjax._src.learner.kmeans import lloyd

    x = _data(2, seed=4, n=200)
    seeds = x[:4]
    ours = lloyd(jnp.asarray(x, DTYPE), jnp.asarray(seeds, DTYPE))
    ref = KMeans(4, init=seeds, n_init=1).fit(x)
    assert bool(ours.converged) and int(ours.n_iter) <= ref.n_iter_ + 1
    np.testing.assert_array_equal(np.asarray(ours.labels), ref.labels_)
    np.testing.assert_allclose(ours.centres, ref.cluster_centers_, rtol=tol(1e-12, 1e-5))
    np.testing.assert_allclose(float(ours.inertia), ref.inertia_, rtol=tol(1e-10, 1e-4))


def test_lloyd_moves_an_empty_cluster_to_the_farthest_point():
    from gmmjax._src.learner.kmeans import lloyd

    x = jnp.array([[0.0], [0.1], [0.2], [5.0]], DTYPE)
    out = lloyd(x, jnp.array([[0.1], [100.0]], DTYPE))  # the second centre starts empty
    np.testing.assert_allclose(np.sort(np.asarray(out.centres)[:, 0]), [0.1, 5.0], rtol=1e-6)
    assert np.asarray(out.labels).tolist() in ([0, 0, 0, 1], [1, 1, 1, 0])


@pytest.mark.slow
def test_n_init_callback_and_vmap_over_data_sets():
    xs = jnp.stack([jnp.asarray(_data(1, seed=s, n=120), DTYPE) for s in (2, 6)])
    key = jax.random.key(0)
    calls = []

    def record(i, ll):
        calls.append((i, ll))

    single = gj.fit_em(xs[0], 2, key, init="kmeans", n_init=2, callback=record)
    jax.effects_barrier()
    best, n = int(single.best_start), int(single.n_iter)
    assert [int(i) for i, _ in calls] == list(range(1, len(calls) + 1)) and len(calls) >= n
    np.testing.assert_array_equal([ll[best] for _, ll in calls[:n]], single.log_likelihood[:n])
    assert float(single.mean_log_likelihood) == float(np.max(single.start_log_likelihoods))
    batched = jax.jit(jax.vmap(lambda x: gj.fit_em(x, 2, key, init="kmeans", n_init=2)))(xs)
    np.testing.assert_allclose(
        batched.start_log_likelihoods[0], single.start_log_likelihoods, rtol=tol(1e-10, 1e-5)
    )
    assert int(batched.best_start[0]) == best and batched.start_log_likelihoods.shape == (2, 2)
