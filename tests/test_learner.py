"""The fixed-basis weight learner: loss definitions, recovery of known weights, held-out fit."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import tol
from scipy import stats

from gmmjax import GMM, FitOptions, fit_weights, grid_basis, inner_product, l2_distance_squared
from gmmjax._src.learner.loop import train


def _basis_1d(k=8, spacing=1.0, sd=0.5):
    means = np.arange(k) * spacing
    return GMM.univariate(np.full(k, 1.0 / k), means, np.full(k, sd**2))


def _sample(gmm, n, seed):
    return np.asarray(gmm.sample(jax.random.key(seed), n))


def _em_weights(x, means, sds, iters=3000):
    """Independent maximum-likelihood weights of fixed 1-D components (numpy EM, float64)."""
    phi = stats.norm.pdf(x[:, None], means[None, :], sds[None, :])
    w = np.full(len(means), 1.0 / len(means))
    for _ in range(iters):
        resp = phi * w
        resp /= resp.sum(axis=1, keepdims=True)
        w = resp.mean(axis=0)
    return w, -np.mean(np.log(phi @ w))


def test_recovers_known_weights_from_basis_samples():
    basis = _basis_1d()
    true_w = np.array([0.05, 0.2, 0.1, 0.0, 0.25, 0.15, 0.05, 0.2])
    x = _sample(GMM(true_w, basis.means, basis.covs), 40_000, 0)
    fit = fit_weights(basis, x, validation_fraction=0.0, steps=400)
    np.testing.assert_allclose(np.asarray(fit.gmm.weights), true_w, atol=0.015)


@pytest.mark.parametrize("loss", ["binned", "l2"])
def test_other_losses_recover_known_weights(loss):
    basis = _basis_1d(k=6, sd=0.4)
    true_w = np.array([0.3, 0.05, 0.15, 0.2, 0.0, 0.3])
    x = _sample(GMM(true_w, basis.means, basis.covs), 20_000, 1)
    kw = {"bandwidth": 0.0} if loss == "l2" else {}
    fit = fit_weights(basis, x, loss=loss, validation_fraction=0.0, steps=400, **kw)
    np.testing.assert_allclose(np.asarray(fit.gmm.weights), true_w, atol=0.03)


def test_recovers_2d_weights_on_a_tensor_grid(rng):
    x0 = rng.uniform(0, 4, size=(200, 2))
    basis = grid_basis(np.vstack([x0, [[0, 0], [4, 4]]]), 4, 0.5)
    true_w = rng.dirichlet(np.ones(16))
    x = _sample(GMM(true_w, basis.means, basis.covs), 30_000, 2)
    fit = fit_weights(basis, x, validation_fraction=0.0, steps=400)
    np.testing.assert_allclose(np.asarray(fit.gmm.weights), true_w, atol=0.02)


def test_nll_reaches_the_em_optimum():
    """Full-batch, no hold-out: the weights maximise the likelihood (checked against EM)."""
    basis = _basis_1d(k=10, sd=0.8)
    x = np.random.default_rng(5).normal(4.0, 2.0, size=3000)
    fit = fit_weights(basis, x, validation_fraction=0.0, steps=600)
    w_em, nll_em = _em_weights(x, np.arange(10.0), np.full(10, 0.8))
    ours = -np.mean(np.asarray(fit.gmm.log_prob(x[:, None]), dtype=np.float64))
    assert ours == pytest.approx(nll_em, abs=tol(2e-5, 2e-4))
    np.testing.assert_allclose(np.asarray(fit.gmm.weights), w_em, atol=0.02)


def test_loss_values_at_the_start_match_independent_formulas(rng):
    basis = _basis_1d(k=5, sd=0.7)
    x = rng.normal(2.0, 1.0, size=400)
    logits = rng.normal(size=5)
    g = GMM(jax.nn.softmax(jnp.asarray(logits)), basis.means, basis.covs)
    w = np.asarray(g.weights, dtype=np.float64)
    means, sds = np.arange(5.0), np.full(5, 0.7)
    common = {
        "validation_fraction": 0.0,
        "steps": 1,
        "init_logits": logits,
        "key": jax.random.key(3),
    }

    nll = fit_weights(basis, x, loss="nll", **common).history[0]
    ref = -np.mean(np.log(stats.norm.pdf(x[:, None], means, sds) @ w))
    assert float(nll) == pytest.approx(ref, rel=tol(1e-9, 1e-5))

    win = 0.3
    binned = fit_weights(basis, x, loss="binned", window=win, **common).history[0]
    emp = np.array([np.mean((x > v - win) & (x <= v + win)) for v in x])
    model = (
        stats.norm.cdf(x[:, None] + win, means, sds) - stats.norm.cdf(x[:, None] - win, means, sds)
    ) @ w
    assert float(binned) == pytest.approx(np.mean(np.abs(emp - model)), rel=tol(1e-9, 1e-4))

    h = 0.25
    l2 = fit_weights(basis, x, loss="l2", bandwidth=h, **common).history[0]
    kde = GMM.univariate(np.full(400, 1 / 400), x, np.full(400, h**2))
    ref = float(l2_distance_squared(g, kde)) - float(inner_product(kde, kde))
    assert float(l2) == pytest.approx(ref, rel=tol(1e-7, 1e-3), abs=tol(1e-10, 1e-5))


def test_default_generalises_better_than_the_unregularised_optimum():
    """Few points, fine basis: the maximum-likelihood weights overfit; the default does not."""
    rng = np.random.default_rng(11)
    x = rng.standard_t(5, size=600)
    test = rng.standard_t(5, size=20_000)
    basis = grid_basis(x, 120, 1.0)
    default = fit_weights(basis, x)
    mle = fit_weights(basis, x, validation_fraction=0.0, steps=600)
    held_out = lambda g: -float(jnp.mean(g.log_prob(jnp.asarray(test)[:, None])))  # noqa: E731
    assert held_out(default.gmm) < held_out(mle.gmm) - 0.01
    assert 0 <= default.best_step <= default.steps
    assert default.smoothing in (0.0, 1.0, 2.0, 4.0, 8.0)
    assert np.isfinite(default.validation_loss)


def test_l2_criterion_is_the_held_out_least_squares_score(rng):
    """validation_loss = int g^2 - 2 mean g(x_val) on the held-out split (rebuilt here)."""
    x = rng.standard_t(5, size=600)
    basis = grid_basis(x, 60, 1.0)
    key = jax.random.key(4)
    fit = fit_weights(
        basis, x, criterion="l2", steps=100, key=key, validation_fraction=0.1, refit=False
    )
    split_key, _ = jax.random.split(key)
    valid = x[np.asarray(jax.random.permutation(split_key, 600))[:60]]
    g = fit.gmm
    score = float(inner_product(g, g)) - 2 * float(jnp.mean(g.prob(jnp.asarray(valid)[:, None])))
    assert fit.validation_loss == pytest.approx(score, rel=tol(1e-8, 1e-4), abs=tol(1e-10, 1e-5))
    assert fit.validation_loss <= float(np.nanmin(np.asarray(fit.validation_history))) + 1e-6


def test_refit_uses_all_points_and_keeps_the_selection(rng):
    x = rng.standard_t(5, size=800)
    basis = grid_basis(x, 40, 1.5)
    with_refit = fit_weights(basis, x, steps=60, validation_fraction=0.1)
    without = fit_weights(basis, x, steps=60, validation_fraction=0.1, refit=False)
    assert with_refit.best_step == without.best_step
    assert with_refit.validation_loss == without.validation_loss
    assert with_refit.smoothing == without.smoothing
    w1, w0 = np.asarray(with_refit.gmm.weights), np.asarray(without.gmm.weights)
    assert np.all(w1 >= 0) and w1.sum() == pytest.approx(1.0, abs=tol(1e-12, 1e-5))
    assert not np.allclose(w1, w0)  # the held-out points changed the fit
    # refit on all points: its training likelihood on all of x is at least as good
    ll = lambda g: float(jnp.mean(g.log_prob(jnp.asarray(x)[:, None])))  # noqa: E731
    assert ll(with_refit.gmm) > ll(without.gmm) - 0.01


def test_history_minibatch_and_custom_optimizer(rng):
    x = rng.normal(size=3000)
    basis = grid_basis(x, 30, 2.0)
    full = fit_weights(basis, x, steps=200, validation_fraction=0.0)
    assert full.history.shape == (200,) and np.all(np.isfinite(np.asarray(full.history)))
    assert float(full.history[-1]) < float(full.history[0])
    assert np.all(np.isnan(np.asarray(full.validation_history)))
    batched = fit_weights(basis, x, steps=300, batch_size=256, optimizer=optax.adam(0.05))
    gap = float(
        jnp.mean(full.gmm.log_prob(x[:, None])) - jnp.mean(batched.gmm.log_prob(x[:, None]))
    )
    assert abs(gap) < 0.05
    w = np.asarray(batched.gmm.weights)
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0, abs=tol(1e-12, 1e-5))


def test_log_every_prints(capsys, rng):
    x = rng.normal(size=200)
    fit_weights(grid_basis(x, 10, 1.0), x, steps=20, log_every=10, validation_fraction=0.1)
    fit_weights(grid_basis(x, 10, 1.0), x, steps=20, log_every=10, folds=3)
    jax.effects_barrier()
    out = capsys.readouterr().out
    assert out.count("fit_weights step") == 4  # cross-validation: fold 0 speaks for all


def test_bad_inputs_raise(rng):
    x = rng.normal(size=100)
    basis = grid_basis(x, 10, 1.0)
    cases = [
        ({"loss": "kl"}, "unknown loss"),
        ({"steps": 0}, "steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"validation_fraction": -0.1}, "validation_fraction"),
        ({"smoothing": -1.0}, "smoothing"),
        ({"smoothing": "wide"}, "smoothing"),
        ({"smoothing": (0.0, 2.0), "validation_fraction": 0.0}, "validation_fraction > 0"),
        ({"init_logits": np.zeros(3)}, "init_logits"),
        ({"window": 0.0}, "window must be > 0"),
        ({"bandwidth": -1.0}, "bandwidth"),
        ({"combine": "mean"}, "combine"),
        ({"criterion": "kl"}, "criterion"),
        ({"folds": 1}, "folds"),
        ({"folds": 60}, "folds=60 needs at least 120 points"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            fit_weights(basis, x, **kwargs)
    with pytest.raises(ValueError, match="finite"):
        fit_weights(basis, np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="dimension"):
        fit_weights(basis, rng.normal(size=(50, 2)))
    basis2 = grid_basis(rng.normal(size=(50, 2)), 3, 1.0)
    with pytest.raises(ValueError, match="1-D only"):
        fit_weights(basis2, rng.normal(size=(50, 2)), loss="binned")
    with pytest.raises(TypeError, match="GMM"):
        fit_weights("basis", x)


def test_options_object_keywords_and_both_give_the_same_fit(rng):
    x = rng.normal(size=400)
    basis = grid_basis(x, 12, 1.0)
    by_keywords = fit_weights(basis, x, loss="l2", steps=30, batch_size=32)
    options = FitOptions(loss="l2", steps=30, batch_size=32)
    by_object = fit_weights(basis, x, options)
    base = FitOptions(loss="nll", steps=7, smoothing=0.0)
    on_top = fit_weights(
        basis, x, options=base, loss="l2", steps=30, batch_size=32, smoothing="auto"
    )
    for fit in (by_object, on_top):
        np.testing.assert_array_equal(np.asarray(fit.logits), np.asarray(by_keywords.logits))
        np.testing.assert_array_equal(np.asarray(fit.history), np.asarray(by_keywords.history))
        assert fit.loss == "l2" and fit.steps == 30
    assert base.steps == 7  # keywords do not change the object passed in


def test_options_are_frozen_hashable_and_compile_once(rng):
    options = FitOptions(steps=25, smoothing=(0.0, 2.0))
    assert hash(options) == hash(FitOptions(steps=25, smoothing=(0.0, 2.0)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.steps = 3
    x = rng.normal(size=300)
    basis = grid_basis(x, 10, 1.0)
    fit_weights(basis, x, options)
    before = train._cache_size()
    fit_weights(basis, x, dataclasses.replace(options, window=0.5, bandwidth=0.1))
    fit_weights(basis, x, steps=25, smoothing=(0.0, 2.0), key=jax.random.key(9))
    assert train._cache_size() == before


def test_unknown_option_keyword_raises_type_error_naming_it(rng):
    x = rng.normal(size=50)
    basis = grid_basis(x, 5, 1.0)
    with pytest.raises(TypeError, match=r"'step'.*did you mean 'steps'"):
        fit_weights(basis, x, step=10)
    with pytest.raises(TypeError, match="'frobnicate'"):
        fit_weights(basis, x, FitOptions(), frobnicate=True)
    with pytest.raises(TypeError, match="FitOptions"):
        fit_weights(basis, x, {"steps": 10})
    with pytest.raises(TypeError):
        FitOptions("nll")  # keyword-only
    with pytest.raises(ValueError, match="steps"):
        FitOptions(steps=0)  # checked on construction
