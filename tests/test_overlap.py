"""Gaussian product integrals, L2, inner product and Cauchy–Schwarz (seed 000).

Independent references: ``scipy.stats.multivariate_normal`` for every Gram entry,
``scipy.integrate.quad`` in 1-D and a fine tensor grid in 2-D for the integrals themselves.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DTYPE, X64, needs_x64, random_gmm_arrays, tol
from jax.test_util import check_grads
from scipy import integrate, stats

import gmmjax as gj


def as_gmm(w, m, c) -> gj.GMM:
    return gj.GMM(jnp.asarray(w, DTYPE), jnp.asarray(m, DTYPE), jnp.asarray(c, DTYPE))


def full(c: np.ndarray) -> np.ndarray:
    return np.stack([np.diag(v) for v in c]) if c.ndim == 2 else c


# ---------------------------------------------------------------- Gram matrix vs scipy
@pytest.mark.peer
@pytest.mark.parametrize(("diag_p", "diag_q"), [(False, False), (True, True), (True, False)])
def test_overlap_matches_scipy(rng, diag_p, diag_q):
    wp, mp, cp = random_gmm_arrays(rng, 3, 3, diagonal=diag_p)
    wq, mq, cq = random_gmm_arrays(rng, 4, 3, diagonal=diag_q)
    expected = np.array(
        [
            [
                stats.multivariate_normal(mq[j], full(cp)[i] + full(cq)[j]).logpdf(mp[i])
                for j in range(4)
            ]
            for i in range(3)
        ]
    )
    p, q = as_gmm(wp, mp, cp), as_gmm(wq, mq, cq)
    got = gj.log_gaussian_overlap(p, q)
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got, expected, rtol=tol(1e-11, 1e-5))
    np.testing.assert_allclose(gj.gaussian_overlap(p, q), np.exp(expected), rtol=tol(1e-11, 1e-5))
    inner = wp @ np.exp(expected) @ wq
    np.testing.assert_allclose(gj.inner_product(p, q), inner, rtol=tol(1e-11, 1e-5))
    np.testing.assert_allclose(gj.log_inner_product(p, q), np.log(inner), rtol=tol(1e-11, 1e-5))


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_log_overlap_in_high_dimension_is_exact_where_exp_underflows(scale):
    """d = 128: overlaps of ~1e-100 (or 1e+100) are exact in log space, in both precisions."""
    d = 128
    rng = np.random.default_rng(3)
    m = rng.standard_normal((2, d)) * np.sqrt(scale)
    v = rng.uniform(0.5, 2.0, (2, d)) * scale
    p = as_gmm([0.5, 0.5], m, v)
    s = v[:, None, :] + v[None, :, :]
    diff = m[:, None, :] - m[None, :, :]
    expected = -0.5 * (np.sum(diff**2 / s + np.log(2 * np.pi * s), axis=-1))
    np.testing.assert_allclose(gj.log_gaussian_overlap(p, p), expected, rtol=tol(1e-12, 1e-6))
    full_p = as_gmm([0.5, 0.5], m, full(v))
    np.testing.assert_allclose(gj.log_gaussian_overlap(full_p, p), expected, rtol=tol(1e-12, 1e-6))


# ---------------------------------------------------------------- integrals
def _l2_1d_quad(wp, mp, vp, wq, mq, vq):
    def dens(x, w, m, v):
        return np.sum(w * stats.norm.pdf(x, m, np.sqrt(v)))

    lo = min(mp.min(), mq.min()) - 12 * np.sqrt(max(vp.max(), vq.max()))
    hi = max(mp.max(), mq.max()) + 12 * np.sqrt(max(vp.max(), vq.max()))
    points = np.concatenate([mp, mq])
    val, _ = integrate.quad(
        lambda x: (dens(x, wp, mp, vp) - dens(x, wq, mq, vq)) ** 2,
        lo,
        hi,
        points=points,
        epsabs=1e-15,
        epsrel=1e-13,
        limit=500,
    )
    inner, _ = integrate.quad(
        lambda x: dens(x, wp, mp, vp) * dens(x, wq, mq, vq),
        lo,
        hi,
        points=points,
        epsabs=1e-15,
        epsrel=1e-13,
        limit=500,
    )
    return val, inner


@pytest.mark.peer
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_l2_squared_1d_matches_quadrature(seed):
    r = np.random.default_rng(seed)
    wp, wq = r.dirichlet(np.ones(3)), r.dirichlet(np.ones(2))
    mp, mq = r.normal(0, 2, 3), r.normal(0, 2, 2)
    vp, vq = r.uniform(0.2, 3.0, 3), r.uniform(0.2, 3.0, 2)
    expected, inner = _l2_1d_quad(wp, mp, vp, wq, mq, vq)
    p = gj.GMM.univariate(jnp.asarray(wp, DTYPE), mp, vp)
    q = gj.GMM.univariate(jnp.asarray(wq, DTYPE), mq, vq)
    np.testing.assert_allclose(gj.l2_distance_squared(p, q), expected, rtol=tol(1e-8, 2e-4))
    np.testing.assert_allclose(gj.l2_distance(p, q), np.sqrt(expected), rtol=tol(1e-8, 1e-4))
    np.testing.assert_allclose(gj.inner_product(p, q), inner, rtol=tol(1e-8, 1e-5))
    pp = _l2_1d_quad(wp, mp, vp, wp, mp, vp)[1]
    qq = _l2_1d_quad(wq, mq, vq, wq, mq, vq)[1]
    cs = -np.log(inner / np.sqrt(pp * qq))
    np.testing.assert_allclose(gj.cauchy_schwarz_divergence(p, q), cs, rtol=tol(1e-8, 1e-4))
    np.testing.assert_allclose(
        gj.log_l2_distance_squared(p, q), np.log(expected), rtol=tol(1e-9, 1e-5)
    )


@pytest.mark.peer
@needs_x64
@pytest.mark.parametrize("diagonal", [False, True])
def test_l2_squared_2d_matches_fine_grid(rng, diagonal):
    """Trapezoid rule, step 0.1 on [-40, 40]^2: spectrally accurate for these integrands."""
    wp, mp, cp = random_gmm_arrays(rng, 3, 2, diagonal=diagonal)
    wq, mq, cq = random_gmm_arrays(rng, 2, 2, diagonal=diagonal)
    p, q = as_gmm(wp, mp, cp), as_gmm(wq, mq, cq)
    axis = np.linspace(-40.0, 40.0, 801)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    pts = np.stack([xx.ravel(), yy.ravel()], -1)
    diff = np.asarray(p.prob(pts) - q.prob(pts))
    h = axis[1] - axis[0]
    grid = float(np.sum(diff**2) * h * h)  # the boundary terms are ~0: trapezoid == sum
    # The grid uses scipy's densities as a cross-check of the integrand itself.
    dens_p = sum(
        wk * stats.multivariate_normal(mk, ck).pdf(pts)
        for wk, mk, ck in zip(wp, mp, full(cp), strict=True)
    )
    np.testing.assert_allclose(np.asarray(p.prob(pts)), dens_p, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(float(gj.l2_distance_squared(p, q)), grid, rtol=1e-8)


@jax.jit
def _overlap_quantities(p: gj.GMM, q: gj.GMM) -> dict[str, jax.Array]:
    """Every overlap quantity of one pair in one program (one compilation per pair kind)."""
    fns = (
        gj.log_gaussian_overlap,
        gj.log_inner_product,
        gj.l2_distance_squared,
        gj.l2_distance,
        gj.cauchy_schwarz_divergence,
        gj.log_l2_distance_squared,
    )
    return {fn.__name__: fn(p, q) for fn in fns}


def test_diagonal_path_equals_full_path(rng):
    wp, mp, cp = random_gmm_arrays(rng, 3, 4, diagonal=True)
    wq, mq, cq = random_gmm_arrays(rng, 2, 4, diagonal=True)
    pd, qd = as_gmm(wp, mp, cp), as_gmm(wq, mq, cq)
    pf, qf = as_gmm(wp, mp, full(cp)), as_gmm(wq, mq, full(cq))
    r = tol(1e-12, 2e-5)
    ref = _overlap_quantities(pf, qf)
    for p, q in ((pd, qd), (pd, qf), (pf, qd)):
        for name, value in _overlap_quantities(p, q).items():
            np.testing.assert_allclose(value, ref[name], rtol=r, err_msg=name)


def test_diagonal_path_builds_no_matrices():
    """The diagonal kernel's jaxpr has no (d, d)-shaped value and no Cholesky."""
    d = 37
    p = gj.GMM(jnp.ones(1), jnp.zeros((1, d)), jnp.ones((1, d)))
    for fn in (gj.cauchy_schwarz_divergence, gj.l2_distance_squared):
        jaxpr = jax.make_jaxpr(fn)(p, p)
        text = str(jaxpr)
        assert "cholesky" not in text
        assert f"{d},{d}]" not in text.replace(" ", "")


# ---------------------------------------------------------------- identities
def test_identities(rng):
    p = as_gmm(*random_gmm_arrays(rng, 3, 2))
    q = as_gmm(*random_gmm_arrays(rng, 2, 2))
    assert float(gj.l2_distance_squared(p, p)) == 0.0
    assert float(gj.l2_distance(p, p)) == 0.0
    assert float(gj.cauchy_schwarz_divergence(p, p)) == pytest.approx(0.0, abs=tol(1e-12, 1e-6))
    assert float(gj.log_l2_distance_squared(p, p)) == -np.inf
    l2sq = gj.l2_distance_squared(p, q)
    expected = gj.inner_product(p, p) + gj.inner_product(q, q) - 2 * gj.inner_product(p, q)
    np.testing.assert_allclose(l2sq, expected, rtol=tol(1e-10, 1e-4))
    np.testing.assert_allclose(gj.l2_distance(p, q) ** 2, l2sq, rtol=tol(1e-12, 1e-5))
    np.testing.assert_allclose(
        jnp.exp(gj.log_l2_distance_squared(p, q)), l2sq, rtol=tol(1e-12, 1e-5)
    )
    np.testing.assert_allclose(gj.l2_distance(p, q), gj.l2_distance(q, p), rtol=tol(1e-12, 1e-6))
    np.testing.assert_allclose(
        gj.cauchy_schwarz_divergence(p, q),
        gj.cauchy_schwarz_divergence(q, p),
        rtol=tol(1e-12, 1e-6),
    )


def test_two_gaussians_closed_form():
    """Single Gaussians: L2^2 = (4 pi)^-1/2 (1/s_p + 1/s_q) - 2 N(m_p | m_q, s_p^2 + s_q^2)."""
    sp, sq, dm = 0.7, 1.3, 0.9
    p = gj.GMM.univariate([1.0], [0.0], [sp**2])
    q = gj.GMM.univariate([1.0], [dm], [sq**2])
    expected = (1 / sp + 1 / sq) / np.sqrt(4 * np.pi) - 2 * stats.norm.pdf(dm, 0, np.hypot(sp, sq))
    np.testing.assert_allclose(gj.l2_distance_squared(p, q), expected, rtol=tol(1e-12, 1e-5))
    cs = -np.log(stats.norm.pdf(dm, 0, np.hypot(sp, sq))) + 0.5 * np.log(1 / (4 * np.pi * sp * sq))
    np.testing.assert_allclose(gj.cauchy_schwarz_divergence(p, q), cs, rtol=tol(1e-12, 1e-5))


def test_far_apart_components_are_finite():
    """Components 200 sd apart: the cross overlap underflows, its log does not."""
    p = gj.GMM.univariate([0.5, 0.5], [0.0, 1.0], [1.0, 1.0])
    q = gj.GMM.univariate([0.5, 0.5], [200.0, 201.0], [1.0, 1.0])
    cs = gj.cauchy_schwarz_divergence(p, q)
    log_pq = gj.log_inner_product(p, q)
    pair_logs = [
        np.log(0.25) + stats.norm.logpdf(dm, 0, np.sqrt(2)) for dm in (200.0, 201.0, 199.0, 200.0)
    ]
    expected_log_pq = np.logaddexp.reduce(pair_logs)
    np.testing.assert_allclose(log_pq, expected_log_pq, rtol=tol(1e-12, 1e-6))
    log_pp = np.logaddexp.reduce(
        [np.log(0.25) + stats.norm.logpdf(dm, 0, np.sqrt(2)) for dm in (0, 1, 1, 0)]
    )
    np.testing.assert_allclose(cs, log_pp - expected_log_pq, rtol=tol(1e-12, 1e-6))
    assert float(cs) > 9e3
    np.testing.assert_allclose(
        gj.l2_distance_squared(p, q),
        gj.inner_product(p, p) + gj.inner_product(q, q),
        rtol=tol(1e-12, 1e-6),
    )


# ---------------------------------------------------------------- gradients
LOSSES = {
    "l2_squared": gj.l2_distance_squared,
    "l2": gj.l2_distance,
    "cs": gj.cauchy_schwarz_divergence,
    "log_l2_squared": gj.log_l2_distance_squared,
    "log_inner": gj.log_inner_product,
}


@needs_x64
@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("diagonal", [False, True])
def test_check_grads_weights_means_covs(rng, name, diagonal):
    fn = LOSSES[name]
    wp, mp, cp = random_gmm_arrays(rng, 3, 2, diagonal=diagonal)
    q = as_gmm(*random_gmm_arrays(rng, 2, 2, diagonal=diagonal))

    def loss(w, m, c):
        return fn(gj.GMM._unchecked(w, m, c), q)

    args = (jnp.asarray(wp), jnp.asarray(mp), jnp.asarray(cp))
    check_grads(jax.jit(loss), args, order=1, modes=["fwd", "rev"], eps=1e-6)


@pytest.mark.parametrize("name", ["l2_squared", "l2", "cs"])
def test_gradient_at_p_equals_q_is_zero(rng, name):
    """P = Q is the minimum: the gradient is 0 (L2: the zero subgradient), never NaN."""
    w, m, c = (jnp.asarray(a, DTYPE) for a in random_gmm_arrays(rng, 3, 2))
    q = gj.GMM(w, m, c)
    grads = jax.grad(
        lambda w, m, c: LOSSES[name](gj.GMM._unchecked(w, m, c), q), argnums=(0, 1, 2)
    )(w, m, c)
    for g in grads:
        assert bool(jnp.all(jnp.isfinite(g)))
        np.testing.assert_allclose(g, 0.0, atol=tol(1e-7, 1e-2))


def test_sqrt_zero_subgradient_is_finite_under_jit_and_vmap(rng):
    p = as_gmm(*random_gmm_arrays(rng, 2, 2))
    batch = gj.stack([p, p])
    g = jax.jit(jax.grad(lambda b: jnp.sum(gj.l2_distance(b, p)), allow_int=False))(batch)
    for leaf in jax.tree_util.tree_leaves(g):
        assert bool(jnp.all(jnp.isfinite(leaf)))
        np.testing.assert_allclose(leaf, 0.0, atol=tol(1e-9, 1e-4))


def test_dtype_is_preserved(rng):
    p = as_gmm(*random_gmm_arrays(rng, 2, 2))
    for fn in LOSSES.values():
        assert fn(p, p).dtype == (jnp.float64 if X64 else jnp.float32)
