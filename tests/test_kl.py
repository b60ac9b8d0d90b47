"""KL divergences: Gaussians in closed form (seed 002), mixtures approximated.

References: an independent numpy closed form (inverse and slogdet, not Cholesky), seed 002's
eq. 4 and eq. 5 written out, scipy's entropy, and large-sample Monte Carlo estimates drawn
with numpy and evaluated with scipy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DTYPE, needs_x64, random_gmm_arrays, random_spd, tol
from jax.test_util import check_grads
from scipy import stats

import gmmjax as gj


def full(c: np.ndarray) -> np.ndarray:
    return np.diag(c) if c.ndim == 1 else c


def numpy_kl(m0, c0, m1, c1) -> float:
    c0, c1 = full(c0), full(c1)
    inv1 = np.linalg.inv(c1)
    diff = m1 - m0
    return 0.5 * (
        np.trace(inv1 @ c0)
        + diff @ inv1 @ diff
        - len(m0)
        + np.linalg.slogdet(c1)[1]
        - np.linalg.slogdet(c0)[1]
    )


def gauss(m, c) -> gj.Gaussian:
    return gj.Gaussian(jnp.asarray(m, DTYPE), jnp.asarray(c, DTYPE))


def as_gmm(w, m, c) -> gj.GMM:
    return gj.GMM(jnp.asarray(w, DTYPE), jnp.asarray(m, DTYPE), jnp.asarray(c, DTYPE))


# ---------------------------------------------------------------- Gaussian closed form
@pytest.mark.parametrize(
    ("diag0", "diag1"), [(False, False), (True, True), (True, False), (False, True)]
)
def test_kl_gaussian_matches_numpy(rng, diag0, diag1):
    d = 4
    m0, m1 = rng.standard_normal(d), rng.standard_normal(d)
    c0 = rng.uniform(0.3, 2.0, d) if diag0 else random_spd(rng, d, 20.0)
    c1 = rng.uniform(0.3, 2.0, d) if diag1 else random_spd(rng, d, 20.0)
    got = gj.kl_gaussian(gauss(m0, c0), gauss(m1, c1))
    np.testing.assert_allclose(got, numpy_kl(m0, c0, m1, c1), rtol=tol(1e-10, 1e-4))


# Variance ratios r = Sigma_0 / Sigma_1 (in scale): the contract's range in each precision.
RATIOS = np.array(
    [1e-16, 1e-12, 1e-8, 1e-4, 0.25, 4.0, 1e4, 1e8, 1e12, 1e16]
    if DTYPE == jnp.float64
    else [1e-12, 1e-8, 1e-4, 0.25, 4.0, 1e4, 1e8, 1e12]
)


def _scaled_pair(rng, d: int = 2):
    """Two unit-scale SPD shapes ``B0``, ``B1`` and the KL terms that do not scale."""
    b0, b1 = random_spd(rng, d, 10.0), random_spd(rng, d, 10.0)
    trace = np.trace(np.linalg.solve(b1, b0))
    logdets = np.linalg.slogdet(b1)[1] - np.linalg.slogdet(b0)[1]
    return b0, b1, trace, logdets


@pytest.mark.parametrize("kind", ["full", "diag", "diag-full"])
def test_kl_gaussian_at_extreme_scale_ratios(rng, kind):
    """KL(N(0, r B0) || N(0, B1)) = (r tr(B1^-1 B0) - d - d log r + log|B1| - log|B0|) / 2.

    The scale factors out exactly, so the reference is exact at any ``r``; before,
    ``x - 1 - log x`` was evaluated as ``u - log1p(u)``, ``u = x - 1``, which loses ``log x``
    where ``x`` is below ``eps`` (``KL(N(0, 1e-8 I) || N(0, 1e8 I))`` was 35.737, not 35.841).
    """
    d = 2
    if kind == "full":
        b0, b1, trace, logdets = _scaled_pair(rng, d)
    else:
        b0, b1 = rng.uniform(0.5, 2.0, d), rng.uniform(0.5, 2.0, d)
        trace, logdets = np.sum(b0 / b1), np.sum(np.log(b1) - np.log(b0))
        b1 = np.diag(b1) if kind == "diag-full" else b1
    # Powers of two near r, so the scaled inputs are exact in both precisions.
    r = np.ldexp(1.0, np.round(np.log2(RATIOS)).astype(int))
    want = 0.5 * (r * trace - d - d * np.log(r) + logdets)
    c0 = r[:, None] * b0.reshape(1, -1)
    g0 = gj.Gaussian(jnp.zeros((len(r), d), DTYPE), jnp.asarray(c0.reshape(-1, *b0.shape), DTYPE))
    g1 = gauss(np.zeros(d), b1)
    got = np.asarray(gj.kl_gaussian(g0, g1), np.float64)
    np.testing.assert_allclose(got, want, rtol=tol(1e-10, 1e-4))


def test_kl_of_tiny_variances_matches_the_closed_form():
    """The issue's cases: finite and exact in both precisions (float32 gave inf)."""
    tiny = gj.GMM.univariate(jnp.ones(1, DTYPE), jnp.zeros(1, DTYPE), jnp.full(1, 1e-8, DTYPE))
    unit = gj.GMM.univariate(jnp.ones(1, DTYPE), jnp.zeros(1, DTYPE), jnp.ones(1, DTYPE))
    want = 0.5 * (float(DTYPE(1e-8)) - 1.0 - np.log(float(DTYPE(1e-8))))
    assert float(gj.kl_divergence(tiny, unit)) == pytest.approx(want, rel=tol(1e-12, 1e-6))
    g0, g1 = gauss(np.zeros(2), 1e-8 * np.eye(2)), gauss(np.zeros(2), 1e8 * np.eye(2))
    want = 1e-16 - 1.0 + np.log(1e16)  # 35.8413614879...
    assert float(gj.kl_gaussian(g0, g1)) == pytest.approx(want, rel=tol(1e-12, 1e-6))


def _plain_kl_2d(m0, c0, m1, c1):
    """The textbook closed form with the 2 x 2 inverse and determinants written out."""
    det0 = c0[0, 0] * c0[1, 1] - c0[0, 1] * c0[1, 0]
    det1 = c1[0, 0] * c1[1, 1] - c1[0, 1] * c1[1, 0]
    inv1 = jnp.array([[c1[1, 1], -c1[0, 1]], [-c1[1, 0], c1[0, 0]]]) / det1
    diff = m1 - m0
    return 0.5 * (jnp.trace(inv1 @ c0) + diff @ inv1 @ diff - 2 + jnp.log(det1) - jnp.log(det0))


@pytest.mark.parametrize("ratio", [1e-3, 0.3, 0.9, 3.0])
def test_kl_gaussian_gradient_matches_the_plain_formula(rng, ratio):
    """Both branches of ``x - 1 - log x`` give the textbook gradient at moderate values."""
    b0, b1, _, _ = _scaled_pair(rng)
    args = tuple(
        jnp.asarray(x, DTYPE) for x in (rng.standard_normal(2), ratio * b0, np.zeros(2), b1)
    )

    def ours(m0, c0, m1, c1):
        return gj.kl_gaussian(gj.Gaussian._unchecked(m0, c0), gj.Gaussian._unchecked(m1, c1))

    grads = jax.grad(ours, argnums=(0, 1, 2, 3))(*args)
    plain = jax.grad(_plain_kl_2d, argnums=(0, 1, 2, 3))(*args)
    for got, want in zip(grads, plain, strict=True):
        # Both are gradients of a symmetric input: compare the symmetrised parts.
        if got.ndim == 2:
            got, want = 0.5 * (got + got.T), 0.5 * (want + want.T)
        np.testing.assert_allclose(got, want, rtol=tol(1e-9, 2e-3), atol=tol(1e-12, 1e-5))


def test_kl_gaussian_gradient_is_finite_at_extreme_ratios():
    d, r = 2, float(RATIOS[0])
    grads = jax.grad(
        lambda c0, c1: gj.kl_gaussian(
            gj.Gaussian._unchecked(jnp.zeros(d, DTYPE), c0),
            gj.Gaussian._unchecked(jnp.zeros(d, DTYPE), c1),
        ),
        argnums=(0, 1),
    )(jnp.asarray(r * np.eye(d), DTYPE), jnp.eye(d, dtype=DTYPE))
    # d/dSigma_0 = (Sigma_1^-1 - Sigma_0^-1) / 2 on the diagonal: -1 / (2 r), and (1 - r) / 2.
    np.testing.assert_allclose(np.diag(grads[0]), -0.5 / r + 0.5, rtol=tol(1e-12, 1e-6))
    np.testing.assert_allclose(np.diag(grads[1]), 0.5 * (1 - r), rtol=tol(1e-12, 1e-6))


def test_kl_gaussian_seed002_eq4_and_eq5(rng):
    """Eq. 4 (diagonal) and eq. 5 (VAE: q = N(mu, sigma^2), p = N(0, I)) written out."""
    d = 6
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = rng.uniform(0.2, 2.0, d), rng.uniform(0.2, 2.0, d)
    eq4 = -0.5 * np.sum(np.log(s1 / s2) - s1 / s2 - (mu1 - mu2) ** 2 / s2 + 1)
    np.testing.assert_allclose(
        gj.kl_gaussian(gauss(mu1, s1), gauss(mu2, s2)), eq4, rtol=tol(1e-12, 1e-5)
    )
    eq5 = -0.5 * np.sum(1 + np.log(s1) - mu1**2 - s1)
    got = gj.kl_gaussian(gauss(mu1, s1), gauss(np.zeros(d), np.ones(d)))
    np.testing.assert_allclose(got, eq5, rtol=tol(1e-12, 1e-5))


def test_kl_gaussian_batched_and_self(rng):
    d = 3
    means = rng.standard_normal((5, d))
    covs = np.stack([random_spd(rng, d) for _ in range(5)])
    g = gauss(means, covs)
    single = gauss(means[0], covs[0])
    got = gj.kl_gaussian(g, single)
    assert got.shape == (5,)
    for i in range(5):
        np.testing.assert_allclose(
            got[i],
            numpy_kl(means[i], covs[i], means[0], covs[0]),
            rtol=tol(1e-9, 1e-3),
            atol=tol(1e-12, 1e-5),
        )
    np.testing.assert_allclose(gj.kl_gaussian(g, g), 0.0, atol=tol(1e-12, 1e-5))


@pytest.mark.peer
def test_kl_gaussian_matches_large_monte_carlo(rng):
    """E_{x ~ g0}[log g0(x) - log g1(x)] with 400k draws, within 5 standard errors."""
    d = 3
    m0, m1 = rng.standard_normal(d), rng.standard_normal(d)
    c0, c1 = random_spd(rng, d), random_spd(rng, d)
    x = rng.multivariate_normal(m0, c0, size=400_000)
    ratio = stats.multivariate_normal(m0, c0).logpdf(x) - stats.multivariate_normal(m1, c1).logpdf(
        x
    )
    se = ratio.std() / np.sqrt(len(x))
    got = float(gj.kl_gaussian(gauss(m0, c0), gauss(m1, c1)))
    assert abs(got - ratio.mean()) < 5 * se


@pytest.mark.peer
@pytest.mark.parametrize("diagonal", [False, True])
def test_gaussian_entropy_matches_scipy(rng, diagonal):
    d = 4
    c = rng.uniform(0.3, 2.0, d) if diagonal else random_spd(rng, d)
    expected = stats.multivariate_normal(np.zeros(d), full(c)).entropy()
    np.testing.assert_allclose(
        gj.gaussian_entropy(gauss(np.zeros(d), c)), expected, rtol=tol(1e-12, 1e-5)
    )


# ---------------------------------------------------------------- mixtures
def _reference_mc(w, m, c, wq, mq, cq, n, seed=0):
    """Plain Monte Carlo of KL(P||Q) with numpy sampling and scipy densities: (mean, se)."""
    r = np.random.default_rng(seed)
    idx = r.choice(len(w), size=n, p=w)
    draws = np.empty((n, m.shape[1]))
    for k in range(len(w)):
        sel = idx == k
        draws[sel] = r.multivariate_normal(m[k], full(c[k]), size=int(sel.sum()))

    def logpdf(w_, m_, c_):
        return np.logaddexp.reduce(
            [
                np.log(w_[k]) + stats.multivariate_normal(m_[k], full(c_[k])).logpdf(draws)
                for k in range(len(w_))
            ],
            axis=0,
        )

    ratio = logpdf(w, m, c) - logpdf(wq, mq, cq)
    return ratio.mean(), ratio.std() / np.sqrt(n)


MIXTURE_CASES = {
    "moderate": (
        np.array([0.3, 0.7]),
        np.array([[-2.0, 0.0], [2.0, 1.0]]),
        np.array([[1.0, 0.5], [0.6, 1.2]]),
        np.array([0.5, 0.2, 0.3]),
        np.array([[-1.5, 0.5], [1.0, 1.0], [3.0, -1.0]]),
        np.array([[1.5, 1.0], [0.8, 0.8], [1.0, 2.0]]),
    ),
    "overlapping": (
        np.array([0.5, 0.5]),
        np.array([[0.0, 0.0], [0.5, 0.0]]),
        np.array([[1.0, 1.0], [1.0, 1.0]]),
        np.array([1.0]),
        np.array([[1.0, 0.5]]),
        np.array([[2.0, 0.5]]),
    ),
    # Components 12 sd apart and matched one to one: the variational value is nearly exact.
    "separated": (
        np.array([0.4, 0.6]),
        np.array([[-6.0, 0.0], [6.0, 0.0]]),
        np.array([[0.25, 0.25], [0.25, 0.25]]),
        np.array([0.5, 0.5]),
        np.array([[-5.8, 0.1], [6.0, -0.2]]),
        np.array([[0.3, 0.2], [0.25, 0.3]]),
    ),
}


def numpy_variational(w, m, c, wq, mq, cq) -> float:
    """Hershey & Olsen's variational approximation, written independently."""
    total = 0.0
    for a in range(len(w)):
        own = [np.log(w[k]) - numpy_kl(m[a], c[a], m[k], c[k]) for k in range(len(w))]
        other = [np.log(wq[k]) - numpy_kl(m[a], c[a], mq[k], cq[k]) for k in range(len(wq))]
        total += w[a] * (np.logaddexp.reduce(own) - np.logaddexp.reduce(other))
    return total


@pytest.mark.peer
@pytest.mark.parametrize("case", list(MIXTURE_CASES))
def test_mixture_kl_bounds_bracket_monte_carlo(case):
    w, m, c, wq, mq, cq = MIXTURE_CASES[case]
    ref, se = _reference_mc(w, m, c, wq, mq, cq, n=200_000)
    p, q = as_gmm(w, m, c), as_gmm(wq, mq, cq)
    lower = float(gj.kl_divergence(p, q, "lower_bound"))
    upper = float(gj.kl_divergence(p, q, "upper_bound"))
    variational = float(gj.kl_divergence(p, q, "variational"))
    mc = float(gj.kl_divergence(p, q, "mc", key=jax.random.key(0), n_samples=50_000))
    assert lower <= ref + 5 * se
    assert ref - 5 * se <= upper
    assert lower <= variational <= upper
    # Our stratified, reparameterised estimator agrees with plain Monte Carlo.
    assert abs(mc - ref) < 6 * se + tol(0.0, 1e-4) * abs(ref)
    expected = numpy_variational(w, m, c, wq, mq, cq)
    np.testing.assert_allclose(variational, expected, rtol=tol(1e-10, 1e-4))
    if case == "separated":  # its bias comes from overlapping components only
        assert abs(variational - ref) < 5 * se + 0.01 * ref


def test_variational_is_exact_for_single_gaussians(rng):
    m0, m1 = rng.standard_normal(3), rng.standard_normal(3)
    c0, c1 = random_spd(rng, 3), random_spd(rng, 3)
    p = as_gmm([1.0], m0[None], c0[None])
    q = as_gmm([1.0], m1[None], c1[None])
    exact = numpy_kl(m0, c0, m1, c1)
    np.testing.assert_allclose(gj.kl_divergence(p, q, "variational"), exact, rtol=tol(1e-10, 1e-4))
    mc = float(gj.kl_divergence(p, q, "mc", key=jax.random.key(1), n_samples=100_000))
    assert abs(mc - exact) < 0.02 * exact + 0.01


@pytest.mark.parametrize("method", ["variational", "mc"])
def test_kl_of_p_with_itself_is_zero(rng, method):
    p = as_gmm(*random_gmm_arrays(rng, 3, 2))
    got = gj.kl_divergence(p, p, method, key=jax.random.key(0), n_samples=64)
    np.testing.assert_allclose(got, 0.0, atol=tol(1e-12, 1e-5))


def test_bounds_at_p_equals_q_have_the_documented_sign(rng):
    p = as_gmm(*random_gmm_arrays(rng, 3, 2))
    assert float(gj.kl_divergence(p, p, "lower_bound")) <= 0.0
    assert float(gj.kl_divergence(p, p, "upper_bound")) >= 0.0


def test_mc_estimator_is_unbiased_in_expectation(rng):
    """Mean of 40 independent MC estimates (256 draws each) within 4 standard errors."""
    w, m, c, wq, mq, cq = MIXTURE_CASES["moderate"]
    p, q = as_gmm(w, m, c), as_gmm(wq, mq, cq)
    keys = jax.random.split(jax.random.key(7), 40)
    est = jax.vmap(lambda k: gj.kl_divergence(p, q, "mc", key=k, n_samples=256))(keys)
    ref, _ = _reference_mc(w, m, c, wq, mq, cq, n=200_000, seed=3)
    assert abs(float(est.mean()) - ref) < 4 * float(est.std()) / np.sqrt(40) + 5e-3


def test_kl_methods_registry_is_documented():
    foundation = ("variational", "mc", "lower_bound", "upper_bound")
    assert set(gj.KL_METHODS) >= set(foundation)
    for name in foundation:
        assert f'"{name}"' in gj.kl_divergence.__doc__


# ---------------------------------------------------------------- gradients
KL_LOSSES = {
    "variational": lambda p, q: gj.kl_divergence(p, q, "variational"),
    "mc": lambda p, q: gj.kl_divergence(p, q, "mc", key=jax.random.key(0), n_samples=32),
    "lower_bound": lambda p, q: gj.kl_divergence(p, q, "lower_bound"),
    "upper_bound": lambda p, q: gj.kl_divergence(p, q, "upper_bound"),
}


@needs_x64
@pytest.mark.parametrize("method", list(KL_LOSSES))
@pytest.mark.parametrize("diagonal", [False, True])
def test_check_grads_mixture_kl(rng, method, diagonal):
    """Gradients w.r.t. weights, means and covariances of both arguments."""
    a = tuple(jnp.asarray(x) for x in random_gmm_arrays(rng, 3, 2, diagonal=diagonal))
    b = tuple(jnp.asarray(x) for x in random_gmm_arrays(rng, 2, 2, diagonal=diagonal))

    def loss(w, m, c, w2, m2, c2):
        return KL_LOSSES[method](gj.GMM._unchecked(w, m, c), gj.GMM._unchecked(w2, m2, c2))

    check_grads(jax.jit(loss), a + b, order=1, modes=["fwd", "rev"], eps=1e-6)


@needs_x64
@pytest.mark.parametrize(("diag0", "diag1"), [(False, False), (True, True), (True, False)])
def test_check_grads_kl_gaussian(rng, diag0, diag1):
    d = 3
    m0, m1 = rng.standard_normal(d), rng.standard_normal(d)
    c0 = rng.uniform(0.3, 2.0, d) if diag0 else random_spd(rng, d)
    c1 = rng.uniform(0.3, 2.0, d) if diag1 else random_spd(rng, d)

    def loss(m0, c0, m1, c1):
        return gj.kl_gaussian(gj.Gaussian._unchecked(m0, c0), gj.Gaussian._unchecked(m1, c1))

    args = tuple(jnp.asarray(x) for x in (m0, c0, m1, c1))
    check_grads(jax.jit(loss), args, order=1, modes=["fwd", "rev"], eps=1e-6)


@pytest.mark.parametrize("method", list(KL_LOSSES))
def test_kl_gradient_at_p_equals_q_is_finite(rng, method):
    w, m, c = (jnp.asarray(x, DTYPE) for x in random_gmm_arrays(rng, 3, 2))
    q = gj.GMM(w, m, c)
    grads = jax.jit(
        jax.grad(
            lambda w, m, c: KL_LOSSES[method](gj.GMM._unchecked(w, m, c), q), argnums=(0, 1, 2)
        )
    )(w, m, c)
    for g in grads:
        assert bool(jnp.all(jnp.isfinite(g)))


@pytest.mark.parametrize("method", ["variational", "ot_bound"])
def test_kl_of_a_mixture_with_itself_is_never_negative(rng, method):
    """Full covariances of condition ~1e3: the closed forms cancel to 0, not to -1e-8."""
    w, m, c = random_gmm_arrays(rng, 3, 4)
    c = c + np.diag(np.geomspace(1e-3, 1.0, 4))
    p = gj.GMM(jnp.asarray(w, DTYPE), jnp.asarray(m, DTYPE), jnp.asarray(c, DTYPE))
    value = float(gj.kl_divergence(p, p, method=method))
    assert 0.0 <= value <= tol(1e-12, 1e-5)
    per_pair = gj.kl_gaussian(p.component(0), p.component(0))
    assert float(per_pair) >= 0.0


# ---------------------------------------------------------------- training losses
TRAINING_KL = ("ot_bound", "upper_bound")  # the estimators kl_divergence recommends as losses


def test_recommended_kl_losses_stay_nonnegative_where_variational_goes_negative():
    """50 Adam steps on the variational value drive it below 0; the upper bounds stay >= 0.

    One program (a ``lax.scan`` over the steps, compiled once) fits two copies of a 1-D
    two-component ``Q`` to a fixed, overlapping ``P``: one by ``"variational"``, one by
    ``"ot_bound"``, and records every estimator along both paths.
    """
    optax = pytest.importorskip("optax")
    target = as_gmm([0.5, 0.5], [[-0.4], [0.4]], [[0.5], [0.5]])
    init = {
        "logits": jnp.zeros(2, DTYPE),
        "means": jnp.asarray([-1.0, 1.5], DTYPE),
        "raw": jnp.asarray([0.5, 0.5], DTYPE),
    }
    opt = optax.adam(0.05)

    def model(params):
        var = jax.nn.softplus(params["raw"]) + 1e-3
        means, covs = params["means"][:, None], var[:, None]
        return gj.GMM.from_logits(params["logits"], means, covs, validate=False)

    def values(params):
        q = model(params)
        return jnp.stack([gj.kl_divergence(target, q, m) for m in ("variational", *TRAINING_KL)])

    def step(carry, _):
        out = []
        for i, (params, state) in enumerate(carry):  # 0: variational, 1: ot_bound
            vals, vjp = jax.vjp(values, params)
            (grads,) = vjp(jnp.zeros(3, DTYPE).at[i].set(1.0))
            updates, state = opt.update(grads, state)
            out.append(((optax.apply_updates(params, updates), state), vals))
        return tuple(c for c, _ in out), jnp.stack([v for _, v in out])

    start = tuple((init, opt.init(init)) for _ in range(2))
    (final, _), trace = jax.jit(lambda s: jax.lax.scan(step, s, None, length=50))(start)
    trace = np.asarray(trace)  # (step, path, [variational, ot_bound, upper_bound])
    assert trace[0, 0, 0] > 0.5 and trace[:, 0, 0].min() < -0.1  # the exploit
    assert (trace[:, :, 1:] >= 0.0).all()  # never below 0, on either path
    # As a function of Q, upper_bound - variational is a constant (the same Q-dependent
    # term): the same gradients, so the variational path is the upper bound's path too.
    gap = trace[:, 0, 2] - trace[:, 0, 0]
    np.testing.assert_allclose(gap, gap[0], atol=tol(1e-9, 1e-5))
    # Trained on ot_bound, Q goes to P and the loss towards its minimum, 0.
    assert trace[-1, 1, 1] < 0.01 * trace[0, 1, 1]
    # The true KL at the end of the variational path: small and positive.
    mc = gj.kl_divergence(target, model(final[0]), "mc", key=jax.random.key(0), n_samples=4096)
    assert 0.0 < float(mc) < 0.01


def _stratified_mc(p: gj.GMM, q: gj.GMM, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """The ``"mc"`` estimate of KL(P||Q) and its standard error (draws per component)."""
    x = p.component_sample(key, n)  # (K, n, d)
    ratio = p.log_prob(x) - q.log_prob(x)  # (K, n)
    mean = jnp.sum(p.weights * ratio.mean(-1))
    se = jnp.sqrt(jnp.sum(p.weights**2 * ratio.var(-1)) / n)
    return mean, se


def test_recommended_kl_losses_are_nonnegative_upper_bounds(rng):
    """On random pairs (and P = Q), each training estimator is >= 0 and >= MC - 4 se."""
    pairs = [(random_gmm_arrays(rng, 3, 2), random_gmm_arrays(rng, 3, 2)) for _ in range(4)]
    pairs.append((pairs[0][0], pairs[0][0]))
    ps, qs = ([as_gmm(*pair[i]) for pair in pairs] for i in (0, 1))
    p_batch, q_batch = gj.stack(ps), gj.stack(qs)
    keys = jax.random.split(jax.random.key(3), len(pairs))
    mc, se = jax.jit(jax.vmap(lambda p, q, k: _stratified_mc(p, q, k, 2048)))(
        p_batch, q_batch, keys
    )
    bounds = {  # through the metric names that a batched loss uses
        method: np.asarray(gj.paired_distances(p_batch, q_batch, metric=f"kl_{method}"))
        for method in TRAINING_KL
    }
    for method, bound in bounds.items():
        assert (bound >= 0.0).all(), (method, bound)
        assert (bound >= np.asarray(mc - 4 * se)).all(), (method, bound, mc, se)
    assert bounds["ot_bound"][-1] <= tol(1e-12, 1e-6)  # P = Q: 0, up to the component KLs
