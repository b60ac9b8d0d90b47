"""Gaussian W2 geometry (seed 001, §II.A and eqs. 15–16) against scipy, POT and closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg as sla
from conftest import DTYPE, X64, needs_x64, random_gmm_arrays, random_spd, tol
from jax.test_util import check_grads

import gmmjax as gj


def _sqrtm(a: np.ndarray) -> np.ndarray:
    return np.real(sla.sqrtm(a))


def _w2sq_scipy(m0, s0, m1, s1) -> float:
    """Seed 001's closed form evaluated with scipy's sqrtm."""
    r = _sqrtm(s0)
    return float(np.sum((m0 - m1) ** 2) + np.trace(s0 + s1 - 2 * _sqrtm(r @ s1 @ r)))


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _commuting_pair(rng, d, cond):
    """Covariances sharing eigenvectors: W2^2 = sum (sqrt a - sqrt b)^2 exactly."""
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    a = np.geomspace(1.0, 1.0 / cond, d)
    b = rng.permutation(np.geomspace(2.0, 2.0 / cond, d))
    return q, a, b, (q * a) @ q.T, (q * b) @ q.T


@pytest.mark.peer
@pytest.mark.parametrize("diagonal", [False, True])
def test_cost_matrix_matches_scipy_sqrtm(rng, diagonal):
    p = gj.GMM(*random_gmm_arrays(rng, 3, 4, diagonal=diagonal))
    q = gj.GMM(*random_gmm_arrays(rng, 5, 4, diagonal=diagonal, cond=1e3))
    got = np.asarray(gj.bures_cost_matrix(p, q))
    pc, qc = np.asarray(p.full_covs(), float), np.asarray(q.full_covs(), float)
    pm, qm = np.asarray(p.means, float), np.asarray(q.means, float)
    want = np.array([[_w2sq_scipy(pm[i], pc[i], qm[j], qc[j]) for j in range(5)] for i in range(3)])
    assert got.shape == (3, 5)
    np.testing.assert_allclose(got, want, rtol=tol(1e-10, 2e-4), atol=tol(1e-10, 2e-4))


@pytest.mark.peer
def test_cost_matrix_matches_pot(rng):
    ot_gmm = pytest.importorskip("ot.gmm")
    p = random_gmm_arrays(rng, 4, 3)
    q = random_gmm_arrays(rng, 2, 3)
    got = gj.bures_cost_matrix(gj.GMM(*p), gj.GMM(*q))
    want = ot_gmm.dist_bures_squared(p[1], q[1], p[2], q[2])
    np.testing.assert_allclose(np.asarray(got), want, rtol=tol(1e-9, 2e-4), atol=tol(1e-9, 2e-4))


def test_mixed_diagonal_and_full(rng):
    w, m, c = random_gmm_arrays(rng, 3, 2, diagonal=True)
    p_diag = gj.GMM(w, m, c)
    p_full = gj.GMM(w, m, np.stack([np.diag(v) for v in c]))
    q = gj.GMM(*random_gmm_arrays(rng, 2, 2))
    np.testing.assert_allclose(
        gj.bures_cost_matrix(p_diag, q), gj.bures_cost_matrix(p_full, q), rtol=tol(1e-12, 1e-5)
    )
    np.testing.assert_allclose(
        gj.bures_cost_matrix(p_diag, p_diag), gj.bures_cost_matrix(p_full, p_full), atol=tol()
    )


@needs_x64
@pytest.mark.parametrize("cond", [1e4, 1e8, 1e12])
def test_ill_conditioned_exact(rng, cond):
    """Against the exact commuting closed form: no truncated iteration, error ~ round-off."""
    _, a, b, s0, s1 = _commuting_pair(rng, 6, cond)
    m0, m1 = rng.standard_normal(6), rng.standard_normal(6)
    want = np.sum((m0 - m1) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = float(gj.w2_gaussian(gj.Gaussian(m0, s0), gj.Gaussian(m1, s1)) ** 2)
    assert abs(got - want) <= 1e-10 * (np.trace(s0) + np.trace(s1) + want)


@needs_x64
def test_singular_covariances(rng):
    """Rank-deficient covariances: exact commuting form and continuity from the regular case."""
    q, a, b, _, _ = _commuting_pair(rng, 5, 10.0)
    a[:2] = 0.0
    b[1:4] = 0.0
    s0, s1 = (q * a) @ q.T, (q * b) @ q.T
    m0, m1 = rng.standard_normal(5), rng.standard_normal(5)
    want = np.sum((m0 - m1) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = float(gj.w2_gaussian(gj.Gaussian(m0, s0), gj.Gaussian(m1, s1)) ** 2)
    assert got == pytest.approx(want, rel=1e-9)
    x, y = rng.standard_normal((4, 2)), rng.standard_normal((4, 3))
    s0, s1 = x @ x.T, y @ y.T  # ranks 2 and 3, not commuting
    m0, m1 = rng.standard_normal(4), rng.standard_normal(4)
    got = float(gj.w2_gaussian(gj.Gaussian(m0, s0), gj.Gaussian(m1, s1)) ** 2)
    # ||S0^1/2 S1^1/2||_* from singular values: no square root of a round-off eigenvalue
    cross = np.linalg.svd(_psd_sqrt(s0) @ _psd_sqrt(s1), compute_uv=False).sum()
    direct = np.sum((m0 - m1) ** 2) + np.trace(s0 + s1) - 2 * cross
    assert got == pytest.approx(direct, rel=1e-9)
    regular = _w2sq_scipy(m0, s0 + 1e-12 * np.eye(4), m1, s1 + 1e-12 * np.eye(4))
    assert got == pytest.approx(regular, rel=1e-6)
    back = float(gj.w2_gaussian(gj.Gaussian(m1, s1), gj.Gaussian(m0, s0)) ** 2)
    assert back == pytest.approx(got, rel=1e-9)


def test_dirac_gaussians_are_euclidean():
    """Eq. 8 with Sigma_0 = Sigma_1 = 0 gives ||m0 - m1||."""
    g0 = gj.Gaussian(jnp.array([1.0, 2.0]), jnp.zeros((2, 2)))
    g1 = gj.Gaussian(jnp.array([4.0, 6.0]), jnp.zeros((2, 2)))
    assert float(gj.w2_gaussian(g0, g1)) == pytest.approx(5.0, rel=tol(1e-14, 1e-6))
    d0 = gj.Gaussian(jnp.array([1.0, 2.0]), jnp.zeros(2))
    d1 = gj.Gaussian(jnp.array([4.0, 6.0]), jnp.zeros(2))
    assert float(gj.w2_gaussian(d0, d1)) == pytest.approx(5.0, rel=tol(1e-14, 1e-6))


def test_zero_distance_and_clamp(rng):
    s = random_spd(rng, 5, 1e3)
    g = gj.Gaussian(np.ones(5), s)
    value = float(gj.w2_gaussian(g, g))
    assert 0.0 <= value**2 <= tol(1e-12, 1e-5) * float(np.trace(s))
    p = gj.GMM(*random_gmm_arrays(rng, 3, 3))
    c = np.asarray(gj.bures_cost_matrix(p, p))
    assert np.all(c >= 0.0)
    assert np.all(np.abs(np.diag(c)) <= tol(1e-12, 1e-4))


def _w2sq(m0, s0, m1, s1):
    return gj.w2_gaussian(gj.Gaussian._unchecked(m0, s0), gj.Gaussian._unchecked(m1, s1)) ** 2


@needs_x64
def test_check_grads_generic(rng):
    s0, s1 = random_spd(rng, 3, 10), random_spd(rng, 3, 30)
    m0, m1 = rng.standard_normal(3), rng.standard_normal(3)
    check_grads(_w2sq, (m0, s0, m1, s1), order=1, modes=("fwd", "rev"), atol=1e-6, rtol=1e-6)


@needs_x64
@pytest.mark.parametrize(
    "case", ["p_equals_q", "same_cov", "both_scaled_identity", "identity_vs_spd"]
)
def test_check_grads_hard_points(rng, case):
    s = random_spd(rng, 3, 10)
    m0, m1 = rng.standard_normal(3), rng.standard_normal(3)
    if case == "p_equals_q":
        args = (m0, s, m0, s)
    elif case == "same_cov":
        args = (m0, s, m1, s)
    elif case == "both_scaled_identity":
        args = (m0, 2.0 * np.eye(3), m1, 2.0 * np.eye(3))
    else:
        args = (m0, 0.5 * np.eye(3), m1, s)
    check_grads(_w2sq, args, order=1, modes=("rev",), atol=1e-6, rtol=1e-6)


@needs_x64
def test_gradient_near_singular_matches_closed_form(rng):
    """Condition 1e8, commuting: dW2^2/dSigma_0 = Q diag(1 - sqrt(b/a)) Q^T exactly."""
    q, a, b, s0, s1 = _commuting_pair(rng, 4, 1e8)
    m = np.zeros(4)
    g0, g1 = jax.grad(_w2sq, argnums=(1, 3))(m, s0, m, s1)
    want0 = (q * (1.0 - np.sqrt(b / a))) @ q.T
    want1 = (q * (1.0 - np.sqrt(a / b))) @ q.T
    assert np.all(np.isfinite(g0)) and np.all(np.isfinite(g1))
    np.testing.assert_allclose(g0, want0, atol=1e-6 * np.abs(want0).max())
    np.testing.assert_allclose(g1, want1, atol=1e-6 * np.abs(want1).max())


def test_gradients_finite_at_every_hard_point(rng):
    s = random_spd(rng, 3, 10).astype(np.float32 if not X64 else np.float64)
    m = np.zeros(3, s.dtype)
    x = rng.standard_normal((3, 2))
    singular = (x @ x.T).astype(s.dtype)
    points = [
        (m, s, m, s),
        (m, 2.0 * np.eye(3, dtype=s.dtype), m + 1, 2.0 * np.eye(3, dtype=s.dtype)),
        (m, singular, m + 1, s),
        (m, singular, m, singular),
    ]
    for args in points:
        for fn in (
            _w2sq,
            lambda *a: gj.w2_gaussian(
                gj.Gaussian._unchecked(a[0], a[1]), gj.Gaussian._unchecked(a[2], a[3])
            ),
        ):
            grads = jax.grad(fn, argnums=(0, 1, 2, 3))(*args)
            assert all(np.all(np.isfinite(g)) for g in grads)


def test_w2_distance_gradient_is_zero_at_equal_gaussians(rng):
    s = random_spd(rng, 2, 5)
    g = jax.grad(lambda m: gj.w2_gaussian(gj.Gaussian(m, s), gj.Gaussian(jnp.zeros(2), s)))(
        jnp.zeros(2)
    )
    assert np.all(np.asarray(g) == 0.0)


@needs_x64
def test_transport_map(rng):
    s0, s1 = random_spd(rng, 4, 100), random_spd(rng, 4, 10)
    m0, m1 = rng.standard_normal(4), rng.standard_normal(4)
    a, b = gj.gaussian_transport_map(gj.Gaussian(m0, s0), gj.Gaussian(m1, s1))
    a, b = np.asarray(a), np.asarray(b)
    r = _sqrtm(s0)
    ri = np.linalg.inv(r)
    want = ri @ _sqrtm(r @ s1 @ r) @ ri
    np.testing.assert_allclose(a, want, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(a @ s0 @ a, s1, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(b, m1 - a @ m0, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(a) > 0)


def test_transport_map_diagonal():
    g0 = gj.Gaussian(jnp.array([1.0, 0.0]), jnp.array([4.0, 1.0]))
    g1 = gj.Gaussian(jnp.array([0.0, 2.0]), jnp.array([1.0, 9.0]))
    a, b = gj.gaussian_transport_map(g0, g1)
    np.testing.assert_allclose(a, [0.5, 3.0], rtol=tol(1e-14, 1e-6))
    np.testing.assert_allclose(b, [-0.5, 2.0], rtol=tol(1e-14, 1e-6))


@needs_x64
def test_interpolation_matches_eq7_and_is_a_geodesic(rng):
    s0, s1 = random_spd(rng, 3, 50), random_spd(rng, 3, 5)
    m0, m1 = rng.standard_normal(3), rng.standard_normal(3)
    g0, g1 = gj.Gaussian(m0, s0), gj.Gaussian(m1, s1)
    r = _sqrtm(s0)
    ri = np.linalg.inv(r)
    full = gj.w2_gaussian(g0, g1)
    for t in (0.0, 0.3, 1.0):
        gt = gj.gaussian_interpolate(g0, g1, t)
        inner = (1 - t) * s0 + t * _sqrtm(r @ s1 @ r)
        np.testing.assert_allclose(gt.cov, ri @ inner @ inner @ ri, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(gt.mean, (1 - t) * m0 + t * m1, atol=1e-14)
        # eq. 4: W2(mu_0, mu_t) = t W2(mu_0, mu_1)
        assert float(gj.w2_gaussian(g0, gt)) ** 2 == pytest.approx(
            t**2 * float(full) ** 2, abs=1e-9
        )


def test_interpolation_singular_and_diagonal(rng):
    x = rng.standard_normal((3, 1))
    g0 = gj.Gaussian(np.zeros(3), x @ x.T)  # rank 1
    g1 = gj.Gaussian(np.ones(3), random_spd(rng, 3, 5))
    gt = gj.gaussian_interpolate(g0, g1, 0.5)
    assert np.all(np.linalg.eigvalsh(np.asarray(gt.cov, float)) > -tol(1e-12, 1e-5))
    assert float(gj.w2_gaussian(g0, gt)) == pytest.approx(
        0.5 * float(gj.w2_gaussian(g0, g1)), rel=tol(1e-8, 1e-3)
    )
    d0 = gj.Gaussian(jnp.zeros(2), jnp.array([1.0, 4.0]))
    d1 = gj.Gaussian(jnp.ones(2), jnp.array([9.0, 0.0]))
    dt = gj.gaussian_interpolate(d0, d1, 0.5)
    assert dt.is_diagonal
    np.testing.assert_allclose(dt.cov, [4.0, 1.0], rtol=tol(1e-14, 1e-6))


@needs_x64
def test_interpolation_gradients_at_repeated_eigenvalues(rng):
    def f(s0, s1):
        gt = gj.gaussian_interpolate(
            gj.Gaussian._unchecked(jnp.zeros(3), s0), gj.Gaussian._unchecked(jnp.zeros(3), s1), 0.4
        )
        return jnp.sum(gt.cov * jnp.arange(9.0).reshape(3, 3))

    check_grads(f, (2.0 * np.eye(3), 2.0 * np.eye(3)), order=1, modes=("rev",), atol=1e-6)
    check_grads(f, (np.eye(3), random_spd(rng, 3, 4)), order=1, modes=("rev",), atol=1e-6)


def test_interpolate_rejects_t_outside_unit_interval():
    g = gj.Gaussian(jnp.zeros(1), jnp.ones(1))
    with pytest.raises(ValueError, match="t must lie in"):
        gj.gaussian_interpolate(g, g, 1.5)


def test_dimension_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="dimension mismatch"):
        gj.w2_gaussian(
            gj.Gaussian(jnp.zeros(1), jnp.ones(1)), gj.Gaussian(jnp.zeros(2), jnp.ones(2))
        )


@needs_x64
@pytest.mark.parametrize("iteration", ["alvarez-esteban", "averaging"])
def test_gaussian_barycenter_eq16_residual(rng, iteration):
    covs = np.stack([random_spd(rng, 3, c) for c in (3.0, 30.0, 300.0)])
    means = rng.standard_normal((3, 3))
    lam = np.array([0.2, 0.3, 0.5])
    bary, info = gj.gaussian_barycenter(
        gj.Gaussian(means, covs), lam, iteration=iteration, max_iter=2000, return_info=True
    )
    s = np.asarray(bary.cov)
    r = _sqrtm(s)
    fixed = sum(lk * _sqrtm(r @ c @ r) for lk, c in zip(lam, covs, strict=True))
    assert np.linalg.norm(s - fixed) / np.linalg.norm(s) <= 1e-8
    assert bool(info.converged) and int(info.n_iters) > 0
    np.testing.assert_allclose(bary.mean, lam @ means, atol=1e-14)


@needs_x64
@pytest.mark.peer
def test_gaussian_barycenter_matches_pot(rng):
    ot_gaussian = pytest.importorskip("ot.gaussian")
    covs = np.stack([random_spd(rng, 4, 20) for _ in range(4)])
    means = rng.standard_normal((4, 4))
    lam = rng.dirichlet(np.ones(4))
    mb, cb = ot_gaussian.bures_wasserstein_barycenter(means, covs, lam, num_iter=1000, eps=1e-14)
    bary = gj.gaussian_barycenter(gj.Gaussian(means, covs), lam)
    np.testing.assert_allclose(bary.cov, cb, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(bary.mean, mb, atol=1e-12)


@needs_x64
def test_gaussian_barycenter_implicit_gradient(rng):
    covs = np.stack([random_spd(rng, 2, 5) for _ in range(3)])
    means = rng.standard_normal((3, 2))
    lam = np.array([0.3, 0.3, 0.4])

    @jax.jit
    def f(c):
        return jnp.sum(gj.gaussian_barycenter(gj.Gaussian._unchecked(means, c), lam).cov ** 2)

    g = jax.jit(jax.grad(f))(covs)
    direction = rng.standard_normal(covs.shape)
    direction = direction + np.swapaxes(direction, -1, -2)
    h = 1e-6
    fd = (f(covs + h * direction) - f(covs - h * direction)) / (2 * h)
    assert float(jnp.sum(g * direction)) == pytest.approx(float(fd), rel=1e-6)


def test_gaussian_barycenter_reports_non_convergence(rng):
    covs = np.stack([random_spd(rng, 3, 100) for _ in range(3)])
    _, info = gj.gaussian_barycenter(
        gj.Gaussian(np.zeros((3, 3)), covs), np.full(3, 1 / 3), max_iter=1, return_info=True
    )
    assert not bool(info.converged) and int(info.n_iters) == 1


def test_jit_and_vmap_over_batches(rng):
    ps = gj.stack([gj.GMM(*random_gmm_arrays(rng, 2, 3)) for _ in range(3)])
    qs = gj.stack([gj.GMM(*random_gmm_arrays(rng, 4, 3)) for _ in range(3)])
    batched = jax.jit(gj.bures_cost_matrix)(ps, qs)
    mapped = jax.vmap(gj.bures_cost_matrix)(ps, qs)
    for i in range(3):
        one = gj.bures_cost_matrix(ps[i], qs[i])
        np.testing.assert_allclose(batched[i], one, rtol=tol(1e-12, 1e-5), atol=tol(1e-12, 1e-5))
        np.testing.assert_allclose(mapped[i], one, rtol=tol(1e-12, 1e-5), atol=tol(1e-12, 1e-5))
    g0 = gj.Gaussian(ps.means[:, 0], ps.covs[:, 0])
    g1 = gj.Gaussian(qs.means[:, 0], qs.covs[:, 0])
    w = jax.jit(jax.vmap(gj.w2_gaussian))(g0, g1)
    assert w.shape == (3,)
    a, _ = jax.vmap(gj.gaussian_transport_map)(g0, g1)
    gt = jax.jit(lambda x, y: gj.gaussian_interpolate(x, y, 0.5))(g0, g1)
    assert a.shape == (3, 3, 3) and gt.cov.shape == (3, 3, 3)
    bary = jax.jit(jax.vmap(lambda g: gj.gaussian_barycenter(g, jnp.full(2, 0.5))))(
        gj.Gaussian(ps.means, ps.covs)
    )
    assert bary.cov.shape == (3, 3, 3)
    np.testing.assert_allclose(
        bary.cov[1],
        gj.gaussian_barycenter(gj.Gaussian(ps.means[1], ps.covs[1]), [0.5, 0.5]).cov,
        rtol=tol(1e-10, 1e-4),
    )


# Newton–Schulz nuclear norms (the cost-matrix route for d >= 3) against the SVD route.


def _mixed_covariances(rng, d: int) -> np.ndarray:
    """Generic, condition 1e8, rank-deficient, scaled-identity and repeated covariances."""
    x = rng.standard_normal((d, d // 2))
    covs = [random_spd(rng, d, 10.0), random_spd(rng, d, 1e8) / 1e8, x @ x.T, 2.0 * np.eye(d)]
    return np.stack([*covs, covs[0]])


def _reference_cross(cp: np.ndarray, cq: np.ndarray) -> np.ndarray:
    """``||F_i F_j||_*`` with scipy roots (eigh roots for singular covariances) and numpy SVDs."""

    def root(c):
        if np.linalg.matrix_rank(c) == len(c):
            return _sqrtm(c)
        w, v = np.linalg.eigh(c)  # singular: eigenvalues at round-off level are exact zeros
        return (v * np.sqrt(np.where(w > len(c) * 1e-15 * w[-1], w, 0.0))) @ v.T

    fp, fq = [root(c) for c in cp], [root(c) for c in cq]
    return np.array([[np.linalg.svd(a @ b, compute_uv=False).sum() for b in fq] for a in fp])


@pytest.fixture(autouse=True, scope="module")
def _iterate_at_every_size():
    """The Newton–Schulz tests here use a few pairs: keep the iteration for them too.

    On CPU the polar iteration hands fewer than ``_SVD_BELOW_PAIRS`` pairs to LAPACK (faster
    to compile); the transport tests cover that route at their small sizes.
    """
    from gmmjax._src.math import polar

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(polar, "_SVD_BELOW_PAIRS", 0)
        yield
    jax.clear_caches()  # programs traced with the threshold at 0 must not serve later modules


@pytest.fixture(scope="module")
def cost_routes():
    """Jitted cost matrices by both routes and their gradients, compiled once per shape."""
    from gmmjax._src.kernels import bures

    def cost(method):
        return jax.jit(lambda p, q: bures._bures_cost(p, q, method))

    def grad(method):
        def loss(cp, cq, mp, mq):
            p = gj.GMM._unchecked(jnp.full(len(mp), 1.0 / len(mp)), mp, cp)
            q = gj.GMM._unchecked(jnp.full(len(mq), 1.0 / len(mq)), mq, cq)
            c = bures._bures_cost(p, q, method)
            return jnp.sum(c * jnp.arange(c.size, dtype=c.dtype).reshape(c.shape) / c.size)

        return jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))

    return {m: (cost(m), grad(m)) for m in ("ns", "svd")}


@pytest.mark.parametrize("d", [3, 8])
def test_newton_schulz_cost_matches_svd_and_scipy(rng, cost_routes, d):
    cp, cq = _mixed_covariances(rng, d), _mixed_covariances(rng, d)[::-1]
    mp, mq = rng.standard_normal((5, d)), rng.standard_normal((5, d))
    w = np.full(5, 0.2)
    p, q = gj.GMM(w, mp, cp), gj.GMM(w, mq, cq)
    ns, svd = (np.asarray(cost_routes[m][0](p, q), float) for m in ("ns", "svd"))
    want = (
        np.sum((mp[:, None] - mq[None]) ** 2, axis=-1)
        + np.trace(cp, axis1=1, axis2=2)[:, None]
        + np.trace(cq, axis1=1, axis2=2)[None]
        - 2.0 * _reference_cross(cp, cq)
    )
    scale = np.max(np.abs(want))
    assert np.max(np.abs(ns - svd)) <= tol(1e-12, 2e-6) * scale
    assert np.max(np.abs(ns - want)) <= tol(1e-12, 1e-4) * scale


def test_newton_schulz_reports_convergence_and_stops_early(rng, monkeypatch):
    from gmmjax._src.math import polar

    d = 4
    q = np.stack([np.linalg.qr(rng.standard_normal((d, d)))[0] for _ in range(2)])
    well = q[0] @ np.diag([1.0, 0.8, 0.6, 0.5]) @ q[1]
    ill = q[0] @ np.diag([1.0, 1e-2, 1e-4, 1e-6]) @ q[1]

    def run(a, lower):
        x, info = polar.polar_ns(jnp.asarray(a[None]), jnp.ones(1), jnp.full(1, lower))
        return np.asarray(x[0], float), int(info.n_iter), bool(info.converged)

    x_well, n_well, ok_well = run(well, 0.5)
    x_ill, n_ill, ok_ill = run(ill, 1e-6)
    assert ok_well and ok_ill
    assert 0 < n_well < n_ill < polar.MAX_ITER
    polar_ref = q[0] @ q[1]
    np.testing.assert_allclose(x_well, polar_ref, atol=tol(1e-13, 1e-5))
    np.testing.assert_allclose(x_ill, polar_ref, atol=tol(1e-9, 5e-2))
    monkeypatch.setattr(polar, "MAX_ITER", 2)
    _, n_cut, ok_cut = run(ill, 1e-6)
    assert n_cut == 2 and not ok_cut


def test_newton_schulz_gradient_matches_svd_route(rng, cost_routes):
    d = 3
    x = rng.standard_normal((d, 2))
    s = random_spd(rng, d, 10.0)
    cp = np.stack([s, 2.0 * np.eye(d), random_spd(rng, d, 1e3), random_spd(rng, d, 1e8)])
    cq = np.stack([s, 2.0 * np.eye(d), random_spd(rng, d, 30.0), x @ x.T])
    mp, mq = rng.standard_normal((4, d)), rng.standard_normal((4, d))
    args = tuple(jnp.asarray(v, DTYPE) for v in (cp, cq, mp, mq))
    for pair in (args, (args[0], args[0], args[2], args[2])):  # and P = Q
        g_ns, g_svd = (cost_routes[m][1](*pair) for m in ("ns", "svd"))
        # A singular component (the last of cq; condition 1e8 is singular in float32) has many
        # subgradients on its null space: both routes give one, compare the other components.
        keep = slice(None) if X64 and pair is not args else slice(0, 3)
        for a, b in zip(g_ns, g_svd, strict=True):
            assert np.all(np.isfinite(a))
            a, b = np.asarray(a, float), np.asarray(b, float)
            if a.ndim == 3:
                a, b = a[keep], b[keep]
            np.testing.assert_allclose(a, b, atol=tol(1e-8, 2e-3) * np.max(np.abs(b)))


def test_newton_schulz_unrolled_layout_matches_svd(rng):
    """Enough pairs for the unrolled (pair axis last) products, under vmap: polar factors."""
    from gmmjax._src.math.polar import polar_ns

    a = rng.standard_normal((2, 130, 3, 3))  # vmap joins the axes: 260 pairs in one call
    s = np.linalg.svd(a, compute_uv=False)
    upper, lower = s[..., 0] * 1.5, s[..., -1] / (s[..., 0] * 1.5)
    x, info = jax.vmap(polar_ns)(jnp.asarray(a, DTYPE), jnp.asarray(upper), jnp.asarray(lower))
    u, _, vt = np.linalg.svd(a)
    np.testing.assert_allclose(x, u @ vt, atol=tol(1e-11, 1e-4))
    assert bool(np.all(info.converged))
