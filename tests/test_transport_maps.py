"""Maps of points along the mixture plan and the coupling they define (Delon & Desolneux §4).

Checked against POT's ``ot.gmm.gmm_ot_apply_map`` and ``ot.gmm.gmm_ot_plan_density`` on the
same inputs: the mean map and the coupling to 1e-10 in float64 (1-D and 2-D, full and
diagonal, ``K_p != K_q``, zero-weight components), the random map statistically. Bad inputs
are in ``tests/test_bad_inputs.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import needs_x64, random_gmm_arrays, tol
from jax.test_util import check_grads
from scipy import stats

import gmmjax as gj

# (d, diagonal): the shapes compared with POT; K_p = 3, K_q = 4 each time.
CASES = [(1, False), (2, False), (2, True)]


def _pair(d: int, diagonal: bool, seed: int = 0):
    """Two mixtures with K_p != K_q and a zero-weight component in each, plus POT's arrays."""
    rng = np.random.default_rng(seed)
    wp, mp, cp = random_gmm_arrays(rng, 3, d, diagonal)
    wq, mq, cq = random_gmm_arrays(rng, 4, d, diagonal, cond=5.0)
    wp[2], wq[1] = 0.0, 0.0
    wp, wq = wp / wp.sum(), wq / wq.sum()
    mp, mq = 2.0 * mp, 2.0 * mq
    full_p = np.stack([np.diag(c) for c in cp]) if diagonal else cp
    full_q = np.stack([np.diag(c) for c in cq]) if diagonal else cq
    p, q = gj.GMM(wp, mp, cp), gj.GMM(wq, mq, cq)
    return p, q, (mp, mq, full_p, full_q, wp, wq), rng


@pytest.mark.peer
@needs_x64
@pytest.mark.parametrize(("d", "diagonal"), CASES)
def test_mean_map_matches_pot(d, diagonal):
    ot_gmm = pytest.importorskip("ot.gmm")
    p, q, pot_args, rng = _pair(d, diagonal)
    x = 2.0 * rng.standard_normal((9, d))
    ours = np.asarray(gj.mw2_transport_map(p, q, x))
    ref = ot_gmm.gmm_ot_apply_map(x, *pot_args, method="bary")
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)
    # the same given plan (POT's) gives the same map
    plan = ot_gmm.gmm_ot_plan(*pot_args)
    np.testing.assert_allclose(gj.mw2_transport_map(p, q, x, plan=plan), ref, rtol=0, atol=1e-10)


@pytest.mark.peer
@needs_x64
@pytest.mark.parametrize(("d", "diagonal"), CASES)
def test_coupling_density_matches_pot(d, diagonal):
    ot_gmm = pytest.importorskip("ot.gmm")
    p, q, pot_args, rng = _pair(d, diagonal, seed=1)
    x = 1.5 * rng.standard_normal((6, d))
    # targets on the support (T_ij x for drawn pairs) and off it
    on = np.asarray(gj.mw2_transport_map(p, q, x, method="random", key=jax.random.key(3)))
    y = np.concatenate([on, on + 0.05, 2.0 * rng.standard_normal((4, d))])
    for atol in (1e-2, 0.3):
        ours = np.asarray(gj.mw2_coupling_density(p, q, x, y, atol=atol))
        ref = ot_gmm.gmm_ot_plan_density(x, y, *pot_args, atol=atol)
        assert ours.shape == ref.shape == (6, 16)
        assert np.count_nonzero(ref) >= 6  # the comparison sees the support
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


def _random_pair_1d():
    """Overlapping components, so that the random map really chooses among pairs."""
    p = gj.GMM.univariate([0.3, 0.7], [-0.5, 0.5], [1.0, 0.6])
    q = gj.GMM.univariate([0.2, 0.3, 0.5], [-3.0, 0.0, 4.0], [0.5, 2.0, 1.0])
    return p, q


def _conditional_pair_probabilities(p, q, plan, x0):
    """r_ij(x0) = plan_ij p_i(x0) / sum, in numpy (the formula of Delon & Desolneux §4.1)."""
    means, sds = np.asarray(p.means)[:, 0], np.sqrt(np.asarray(p.covs)[:, 0])
    pdf = stats.norm.pdf(x0, means, sds)
    r = np.asarray(plan) * pdf[:, None]
    return r / r.sum()


@pytest.mark.peer
@needs_x64
def test_random_map_pair_frequencies_match_pot():
    """At one point, both random maps choose pairs with the probabilities r_ij(x0)."""
    ot_gmm = pytest.importorskip("ot.gmm")
    p, q = _random_pair_1d()
    plan = np.asarray(gj.mw2_plan(p, q))
    x0, n = 0.2, 4000
    r = _conditional_pair_probabilities(p, q, plan, x0)
    used = r.reshape(-1) > 0
    x = np.full((n, 1), x0)
    ours = np.asarray(gj.mw2_transport_map(p, q, x, method="random", key=jax.random.key(0)))
    args = (np.asarray(p.means), np.asarray(q.means), np.asarray(p.full_covs()))
    args += (np.asarray(q.full_covs()), np.asarray(p.weights), np.asarray(q.weights))
    ref = ot_gmm.gmm_ot_apply_map(x, *args, plan=plan, method="rand", seed=0)
    a, b = jax.vmap(jax.vmap(gj.gaussian_transport_map, (None, 0)), (0, None))(
        gj.Gaussian(p.means, p.covs), gj.Gaussian(q.means, q.covs)
    )
    values = (np.asarray(a)[..., 0] * x0 + np.asarray(b)[..., 0]).reshape(-1)  # T_ij(x0)
    assert len(np.unique(np.round(values[used], 6))) == used.sum()  # pairs are identifiable
    expected = n * r.reshape(-1)[used]
    for sample in (ours[:, 0], ref[:, 0]):
        pair = np.argmin(np.abs(sample[:, None] - values[None, used]), axis=1)
        assert np.allclose(sample, values[used][pair], atol=1e-10)  # every output is a T_ij(x0)
        counts = np.bincount(pair, minlength=used.sum())
        assert stats.chisquare(counts, expected).pvalue > 1e-3


@pytest.mark.peer
@needs_x64
def test_random_map_pushes_p_onto_q_like_pot():
    """For x ~ p, T_rand(x) ~ q: mean and variance of both maps' outputs agree with q's."""
    ot_gmm = pytest.importorskip("ot.gmm")
    p, q = _random_pair_1d()
    n = 4000
    x = np.asarray(p.sample(jax.random.key(1), n))
    ours = np.asarray(gj.mw2_transport_map(p, q, x, method="random", key=jax.random.key(2)))
    args = (np.asarray(p.means), np.asarray(q.means), np.asarray(p.full_covs()))
    args += (np.asarray(q.full_covs()), np.asarray(p.weights), np.asarray(q.weights))
    ref = ot_gmm.gmm_ot_apply_map(x, *args, method="rand", seed=2)
    mean_q, var_q = float(q.mean()[0]), float(q.covariance()[0, 0])
    se_mean = np.sqrt(var_q / n)
    fourth = float(
        np.sum(
            np.asarray(q.weights)
            * stats.norm(np.asarray(q.means)[:, 0], np.sqrt(np.asarray(q.covs)[:, 0])).moment(4)
        )
    )
    se_var = np.sqrt(fourth / n)  # generous: the raw fourth moment bounds the central one
    for sample in (ours[:, 0], ref[:, 0]):
        assert abs(sample.mean() - mean_q) < 4 * se_mean
        assert abs(sample.var() - var_q) < 4 * se_var
    assert abs(ours.mean() - ref.mean()) < 4 * np.sqrt(2) * se_mean
    assert stats.ks_2samp(ours[:, 0], ref[:, 0]).pvalue > 1e-3


def test_mean_map_of_p_onto_itself_is_the_identity(rng):
    w, m, c = random_gmm_arrays(rng, 3, 2)
    p = gj.GMM(w, 3.0 * m, c)
    x = np.asarray(p.sample(jax.random.key(0), 7))
    np.testing.assert_allclose(gj.mw2_transport_map(p, p, x), x, atol=tol(1e-10, 1e-4))
    pd = gj.GMM(w, 3.0 * m, np.stack([np.diag(ck) for ck in c]))
    np.testing.assert_allclose(gj.mw2_transport_map(pd, pd, x), x, atol=tol(1e-10, 1e-4))


def test_single_gaussians_give_the_brenier_map(rng):
    """One component each: both maps are the Gaussian map A x + b."""
    _, m, c = random_gmm_arrays(rng, 2, 2)
    p, q = gj.GMM(np.ones(1), m[:1], c[:1]), gj.GMM(np.ones(1), m[1:], c[1:])
    a, b = gj.gaussian_transport_map(gj.Gaussian(m[0], c[0]), gj.Gaussian(m[1], c[1]))
    x = rng.standard_normal((5, 2))
    expected = x @ np.asarray(a).T + np.asarray(b)
    key = jax.random.key(0)
    for method in ("mean", "random"):
        out = gj.mw2_transport_map(p, q, x, method=method, key=key)
        np.testing.assert_allclose(out, expected, atol=tol(1e-10, 1e-4))


def test_shapes_jit_vmap_and_far_points():
    p = gj.GMM.univariate([0.5, 0.5], [-1.0, 1.0], [1.0, 0.5])
    q = gj.GMM.univariate([0.5, 0.5], [0.0, 5.0], [1.0, 2.0])
    x = jnp.linspace(-2.0, 2.0, 6).reshape(2, 3, 1)
    out = gj.mw2_transport_map(p, q, x)
    assert out.shape == (2, 3, 1) and out.dtype == p.dtype
    np.testing.assert_allclose(jax.jit(lambda z: gj.mw2_transport_map(p, q, z))(x), out, atol=0)
    per_point = jax.vmap(lambda z: gj.mw2_transport_map(p, q, z))(x.reshape(6, 1))
    np.testing.assert_allclose(per_point.reshape(x.shape), out, atol=tol(1e-12, 1e-6))
    keys = jax.random.split(jax.random.key(0), 4)
    draws = jax.vmap(lambda k: gj.mw2_transport_map(p, q, x, method="random", key=k))(keys)
    assert draws.shape == (4, 2, 3, 1) and bool(jnp.all(jnp.isfinite(draws)))
    # far in the tails every p_i(x) underflows; the map stays finite (the nearest pair wins)
    far = gj.mw2_transport_map(p, q, jnp.array([[-200.0], [300.0]]))
    assert bool(jnp.all(jnp.isfinite(far)))
    dens = gj.mw2_coupling_density(p, q, x, jnp.zeros((4, 1)))
    assert dens.shape == (2, 3, 4)


@needs_x64
def test_gradients_of_the_mean_map():
    """check_grads in x and in every parameter of both mixtures (symmetric covariances)."""
    rng = np.random.default_rng(5)
    wp, mp, cp = random_gmm_arrays(rng, 2, 2)
    wq, mq, cq = random_gmm_arrays(rng, 3, 2)
    plan = np.asarray(gj.mw2_plan(gj.GMM(wp, mp, cp), gj.GMM(wq, mq, cq)))
    x = rng.standard_normal((3, 2))

    def mean_map(x, mp, sp, mq, sq, given_plan):
        p = gj.GMM(wp, mp, sp @ jnp.swapaxes(sp, -1, -2) + 0.3 * jnp.eye(2))
        q = gj.GMM(wq, mq, sq @ jnp.swapaxes(sq, -1, -2) + 0.3 * jnp.eye(2))
        return gj.mw2_transport_map(p, q, x, plan=plan if given_plan else None)

    args = (x, mp, 0.7 * np.linalg.cholesky(cp), mq, 0.7 * np.linalg.cholesky(cq))
    check_grads(lambda *a: mean_map(*a, True), args, order=1, modes=["rev"], atol=1e-5)
    check_grads(lambda *a: mean_map(*a, False), args, order=1, modes=["rev"], atol=1e-5)
    # the weights of p enter through the plan given by the caller
    check_grads(
        lambda pl: gj.mw2_transport_map(gj.GMM(wp, mp, cp), gj.GMM(wq, mq, cq), x, plan=pl),
        (plan + 0.05,),
        order=1,
        modes=["rev"],
        atol=1e-5,
    )


@needs_x64
def test_gradients_of_the_random_map_and_density_in_x():
    rng = np.random.default_rng(6)
    p = gj.GMM(*random_gmm_arrays(rng, 2, 2, diagonal=True))
    q = gj.GMM(*random_gmm_arrays(rng, 3, 2))
    x = rng.standard_normal((4, 2))
    key = jax.random.key(0)
    check_grads(
        lambda z: gj.mw2_transport_map(p, q, z, method="random", key=key),
        (x,),
        order=1,
        modes=["rev"],
    )
    y = np.asarray(gj.mw2_transport_map(p, q, x, method="random", key=key))
    dens = gj.mw2_coupling_density(p, q, x, y, atol=0.1)
    assert np.count_nonzero(np.asarray(dens)) >= 4
    check_grads(
        lambda z: gj.mw2_coupling_density(p, q, z, y, atol=0.1), (x,), order=1, modes=["rev"]
    )
    # the indicator is piecewise constant: no derivative in y
    g = jax.grad(lambda t: jnp.sum(gj.mw2_coupling_density(p, q, x, t, atol=0.1)))(y)
    assert np.all(np.asarray(g) == 0.0)
