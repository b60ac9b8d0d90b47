"""Low-rank-plus-isotropic covariances: every supported function equals its dense computation.

The references are independent of the Woodbury path: scipy's multivariate normal for log
densities, a NumPy closed form for the Gaussian KL, and the library's dense kernels on
``full_covs()`` (Cholesky / LDL^T of the d x d sums) for the mixture distances. Shapes are
small (d = 64, r = 4, K = 3) and each comparison is one compiled program reused across cases.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import ot
import pytest
import scipy.linalg
from conftest import DTYPE, X64, only_float32_run, tol
from scipy.stats import multivariate_normal

import gmmjax as gj
from gmmjax import GMM, Gaussian, stack

D, R, K = 64, 4, 3


def _arrays(seed: int, k: int = K, d: int = D, r: int = R, scale: float = 0.4):
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(k))
    m = 0.3 * rng.standard_normal((k, d))
    f = scale * rng.standard_normal((k, d, r))
    s = rng.uniform(0.5, 1.5, k)
    return w, m, f, s


def _low_rank(seed: int, **kw) -> GMM:
    return GMM.low_rank(*(np.asarray(a, DTYPE) for a in _arrays(seed, **kw)))


# ----------------------------------------------------------------------- structure


def test_construction_kind_dense_and_repr():
    w, m, f, s = _arrays(0)
    p = GMM.low_rank(w, m, f, s)
    assert p.is_low_rank and not p.is_diagonal
    assert (p.n_components, p.dim, p.covs.rank) == (K, D, R)
    dense = np.einsum("kia,kja->kij", f, f) + s[:, None, None] * np.eye(D)
    np.testing.assert_allclose(p.full_covs(), dense, rtol=tol(1e-12, 1e-5), atol=tol(0, 1e-6))
    np.testing.assert_allclose(p.covs.variances(), np.diagonal(dense, 0, 1, 2), rtol=tol(1e-12))
    assert "low_rank" in repr(p) and "low_rank" in repr(p.component(1))
    assert not p.to_dense().is_low_rank
    np.testing.assert_allclose(p.component(1).full_cov(), dense[1], atol=tol(1e-12, 1e-6))
    g = Gaussian.low_rank(m[0], f[0], s[0])
    assert g.is_low_rank and g.as_gmm().is_low_rank and g.as_gmm().covs.factors.shape == (1, D, R)
    np.testing.assert_allclose(g.full_cov(), dense[0], atol=tol(1e-12, 1e-6))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"f": np.ones((K, D + 1, R))}, "factors must have shape"),
        ({"f": np.ones((K, D, 0))}, "r >= 1"),
        ({"s": np.ones(K + 1)}, "noise must have shape"),
        ({"s": np.array([1.0, 0.0, 1.0])}, r"noise must be > 0; noise\[\(1,\)\] = 0"),
        ({"s": np.array([1.0, np.nan, 1.0])}, "noise must be finite"),
        ({"f": np.full((K, D, R), np.inf)}, "factors must be finite"),
        ({"w": np.array([0.5, 0.5, 0.5])}, "must sum to 1"),
    ],
)
def test_bad_inputs_name_the_argument(change, match):
    w, m, f, s = _arrays(0)
    args = {"w": w, "m": m, "f": f, "s": s, **change}
    with pytest.raises(ValueError, match=match):
        GMM.low_rank(args["w"], args["m"], args["f"], args["s"])


def test_gaussian_bad_noise_names_the_argument():
    with pytest.raises(ValueError, match="factor must have shape"):
        Gaussian.low_rank(np.zeros(3), np.ones((4, 1)), 1.0)
    with pytest.raises(ValueError, match="noise must be > 0"):
        Gaussian.low_rank(np.zeros(3), np.ones((3, 1)), -1.0)


def test_array_code_gets_a_clear_error():
    p = _low_rank(0)
    with pytest.raises(TypeError, match=r"to_dense\(\)"):
        p.covs.ndim  # noqa: B018


def test_pytree_jit_vmap_and_stack_padding():
    p, q = _low_rank(0), _low_rank(1, k=2, r=2)
    leaves = jax.tree_util.tree_leaves(p)
    assert len(leaves) == 4  # weights, means, factors, noise
    assert jax.jit(lambda g: g)(p).is_low_rank
    both = stack([p, q])
    assert both.is_low_rank and both.covs.factors.shape == (2, K, D, R)
    np.testing.assert_allclose(both[1].full_covs()[:2], q.full_covs(), rtol=tol(1e-12, 1e-5))
    np.testing.assert_array_equal(both.weights[1, 2], 0.0)
    x = jnp.asarray(np.random.default_rng(3).standard_normal((5, D)), DTYPE)
    batched = both.log_prob(x)  # vmap over the batch axis
    np.testing.assert_allclose(batched[1], q.log_prob(x), rtol=tol(1e-12, 1e-5))
    mixed = stack([p, GMM(q.weights, q.means, q.full_covs())])
    assert not mixed.is_low_rank and mixed.covs.shape == (2, K, D, D)


# ----------------------------------------------------------------------- densities


def test_log_prob_against_scipy_and_responsibilities():
    p = _low_rank(0)
    x = np.random.default_rng(4).standard_normal((7, D))
    want = np.log(
        sum(
            float(p.weights[k]) * multivariate_normal(p.means[k], p.full_covs()[k]).pdf(x)
            for k in range(K)
        )
    )
    np.testing.assert_allclose(p.log_prob(x), want, rtol=tol(1e-10, 1e-5))
    np.testing.assert_allclose(
        p.responsibilities(x), p.to_dense().responsibilities(x), atol=tol(1e-10, 1e-5)
    )


def test_sampling_moments_and_reparameterisation():
    p = _low_rank(0, d=4, r=2, scale=1.0)
    x = p.sample(jax.random.key(0), 20_000)
    assert x.shape == (20_000, 4)
    np.testing.assert_allclose(np.cov(np.asarray(x, np.float64).T), p.covariance(), atol=0.08)
    np.testing.assert_allclose(np.mean(np.asarray(x), 0), p.mean(), atol=0.03)
    assert p.component_sample(jax.random.key(2), 3).shape == (K, 3, 4)


# ----------------------------------------------------------------------- distances
# The reference: the same closed forms on the dense matrices, in NumPy float64 (slogdet and
# solve of the d x d sums), independent of the Woodbury path.


def _np_log_normal(x, cov):
    _, logdet = np.linalg.slogdet(cov)
    return -0.5 * (x @ np.linalg.solve(cov, x) + logdet + len(x) * np.log(2 * np.pi))


def _np_kl(m0, c0, m1, c1):
    z = m1 - m0
    inv = np.linalg.inv(c1)
    logdets = np.linalg.slogdet(c1)[1] - np.linalg.slogdet(c0)[1]
    return 0.5 * (np.trace(inv @ c0) + z @ inv @ z - len(z) + logdets)


def _np_bures(m0, c0, m1, c1):
    root = scipy.linalg.sqrtm(c0).real
    cross = scipy.linalg.sqrtm(root @ c1 @ root).real
    return np.sum((m0 - m1) ** 2) + np.trace(c0) + np.trace(c1) - 2 * np.trace(cross)


def _np_lse(a, w):
    top = np.max(a)
    return top + np.log(np.sum(w * np.exp(a - top)))


def _np_pairs(fn, ma, ca, mb, cb):
    return np.array(
        [[fn(a, s, b, t) for b, t in zip(mb, cb, strict=True)] for a, s in zip(ma, ca, strict=True)]
    )


def _np_values(pp, qq):
    """NumPy float64 values of :func:`_values` from ``(weights, means, covs)`` tuples."""
    (wp, mp, cp), (wq, mq, cq) = pp, qq

    def overlap(a, s, b, t):
        return _np_log_normal(a - b, s + t)

    def log_inner(wa, ma, ca, wb, mb, cb):
        logc = _np_pairs(overlap, ma, ca, mb, cb)
        return _np_lse(logc, wa[:, None] * wb[None, :]), logc

    lpp, _ = log_inner(wp, mp, cp, wp, mp, cp)
    lqq, _ = log_inner(wq, mq, cq, wq, mq, cq)
    lpq, logc = log_inner(wp, mp, cp, wq, mq, cq)
    l2sq = np.exp(lpp) + np.exp(lqq) - 2 * np.exp(lpq)
    kpp, kpq = _np_pairs(_np_kl, mp, cp, mp, cp), _np_pairs(_np_kl, mp, cp, mq, cq)
    per = [_np_lse(-kpp[i], wp) - _np_lse(-kpq[i], wq) for i in range(len(wp))]
    variational = np.sum(wp * np.array(per))
    cs = 0.5 * (lpp + lqq) - lpq
    w2sq = _np_pairs(_np_bures, mp, cp, mq, cq)
    mw2 = np.sqrt(ot.emd2(wp, wq, w2sq))
    return np.array(
        [
            *(np.sqrt(l2sq), l2sq, np.log(l2sq), cs, lpq, kpq[0, 1], variational, np.sum(logc)),
            *(np.sqrt(w2sq[0, 1]), mw2),
        ]
    )


_FUNCTIONS = (
    gj.l2_distance,
    gj.l2_distance_squared,
    gj.log_l2_distance_squared,
    gj.cauchy_schwarz_divergence,
    gj.log_inner_product,
    lambda p, q: gj.kl_gaussian(p.component(0), q.component(1)),
    lambda p, q: gj.kl_divergence(p, q, method="variational"),
    lambda p, q: jnp.sum(gj.log_gaussian_overlap(p, q)),
    lambda p, q: gj.w2_gaussian(p.component(0), q.component(1)),
    gj.mw2_distance,
)
#: One entry per formula (L2, CS, Gaussian KL, mixture KL, Bures): the others are functions
#: of the same kernels. Their gradients are compared, and the mixed pairs.
_CORE = (0, 3, 5, 6, 9)


def _values(p: GMM, q: GMM, rows: tuple[int, ...] = tuple(range(10))) -> jax.Array:
    """The distances of :data:`_FUNCTIONS` (those in ``rows``) as one vector.

    The other KL estimators (bounds, transport bound) combine the same kernel matrices as
    ``variational`` (the log overlaps, the component KL matrix, the entropy) and are left to
    the dense-path tests, for compile time.
    """
    return jnp.stack([_FUNCTIONS[i](p, q) for i in rows])


_VALUES = jax.jit(_values, static_argnums=2)


@functools.partial(jax.jit, static_argnums=2)
def _jacobian(pp, qq, dense: bool):
    """Jacobian of the gradient rows; ``dense``: of the dense path on ``full_covs()``."""

    def rows(pp, qq):
        p, q = (GMM.low_rank(*a, validate=False) for a in (pp, qq))
        if dense:
            p, q = p.to_dense(), q.to_dense()
        return _values(p, q, _CORE)

    return jax.jacrev(rows, argnums=(0, 1))(pp, qq)


def _params(g: GMM):
    arrays = (g.weights, g.means, g.covs.factors, g.covs.noise)
    return tuple(np.asarray(a, np.float64) for a in arrays)


def _dense_params(params):
    w, m, f, s = params
    return w, m, np.einsum("kia,kja->kij", f, f) + s[:, None, None] * np.eye(f.shape[-2])


def _close(a, b, rtol):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert np.all(np.abs(a - b) <= rtol * np.abs(b)), np.max(np.abs(a - b) / np.abs(b))


# The hard points: equal covariances (a shifted copy), linearly dependent factor columns,
# a small isotropic part.
def _pair(case: str) -> tuple[GMM, GMM]:
    p, q = _low_rank(0), _low_rank(1)
    if case == "equal_covariances":
        q = GMM.low_rank(p.weights, p.means + 0.1, p.covs.factors, p.covs.noise)
    elif case == "dependent_columns":
        f = p.covs.factors.at[..., 1].set(2.0 * p.covs.factors[..., 0])
        p = GMM.low_rank(p.weights, p.means, f, p.covs.noise)
    elif case == "small_noise":
        s = 1e-4 if X64 else 1e-2
        q = GMM.low_rank(q.weights, q.means, q.covs.factors, jnp.full(K, s, DTYPE))
    return p, q


CASES = ["random", "equal_covariances", "dependent_columns", "small_noise"]


@pytest.mark.parametrize("case", CASES)
def test_distances_equal_dense(case):
    p, q = _pair(case)
    want = _np_values(_dense_params(_params(p)), _dense_params(_params(q)))
    _close(_VALUES(p, q), want, tol(1e-9, 2e-3))


@pytest.mark.parametrize("case", CASES)
def test_gradients_equal_dense_and_finite(case):
    """Reverse-mode gradients w.r.t. weights, means, factors and noise of both sides equal
    those of the dense path (LDL^T / Cholesky of the d x d sums, autodiff through the dense
    matrices) to 1e-6; finite at the hard points in both precisions."""
    p, q = _pair(case)
    pp, qq = (tuple(jnp.asarray(a, DTYPE) for a in _params(g)) for g in (p, q))
    jac = _jacobian(pp, qq, False)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(jac))
    if not X64:
        return
    want = _jacobian(pp, qq, True)

    def row_max(x):
        return np.max(np.abs(np.asarray(x, np.float64).reshape(len(x), -1)), axis=1)

    # Relative to the largest derivative of each row in the group, or to 1e-6 of the row's
    # largest over all parameters where a group's derivatives vanish (equal covariances:
    # round-off in both paths).
    floor = 1e-6 * np.max([row_max(x) for x in jax.tree.leaves(want)], axis=0)
    for side in (0, 1):
        for group in range(4):  # weights, means, factors, noise
            a, b = (np.asarray(x[side][group], np.float64) for x in (jac, want))
            scale = np.maximum(row_max(b), floor)
            err = row_max(a - b) / scale
            assert np.all(err <= 1e-6), (side, group, err)


def test_equal_mixtures_give_zero():
    p = _low_rank(0)
    values = _VALUES(p, GMM.low_rank(p.weights, p.means, p.covs.factors, p.covs.noise))
    assert float(values[0]) == 0.0 and float(values[3]) == 0.0  # l2, cs
    assert float(values[9]) == 0.0  # mw2
    assert float(gj.w2_gaussian(p.component(1), p.component(1))) == 0.0
    assert abs(float(values[6])) < tol(1e-12, 1e-4)  # variational KL
    assert float(gj.kl_gaussian(p.component(0), p.component(0))) < tol(1e-12, 1e-4)


def test_entropy_against_scipy():
    g = _low_rank(0).component(0)
    want = multivariate_normal(np.zeros(D), np.asarray(g.full_cov(), np.float64)).entropy()
    np.testing.assert_allclose(gj.gaussian_entropy(g), want, rtol=tol(1e-12, 1e-5))


@pytest.mark.parametrize("other", ["full", "diagonal"])
def test_mixed_pairs_equal_dense(other):
    p, q = _low_rank(0), _low_rank(1)
    q = q.to_dense() if other == "full" else GMM(q.weights, q.means, q.covs.variances())
    dense_q = tuple(np.asarray(a, np.float64) for a in (q.weights, q.means, q.full_covs()))
    want = _np_values(_dense_params(_params(p)), dense_q)
    _close(_VALUES(p, q, _CORE), want[list(_CORE)], tol(1e-9, 2e-3))


def test_collections_equal_single_pairs():
    ps = stack([_low_rank(0), _low_rank(2)])
    qs = stack([_low_rank(1), _low_rank(3, r=2)])  # zero columns pad the rank to 4
    assert ps.is_low_rank and qs.covs.rank == R
    want = np.array([[float(_VALUES(a, b)[3]) for b in (qs[0], qs[1])] for a in (ps[0], ps[1])])
    _close(gj.pairwise_distances(ps, qs, metric="cs"), want, tol(1e-9, 1e-4))
    _close(gj.paired_distances(ps, qs, metric="cs"), np.diagonal(want), tol(1e-9, 1e-4))


@only_float32_run
def test_functions_without_a_low_rank_form_name_themselves_and_the_argument():
    """The interpolants and maps refuse low-rank covariances before any computation, naming
    the function, the argument and the conversion (they raised an unrelated indexing error)."""
    lr = Gaussian.low_rank(jnp.zeros(3), jnp.ones((3, 1)), 0.5)
    dense = lr.to_dense()
    p = GMM.low_rank(jnp.ones(1), jnp.zeros((1, 3)), jnp.ones((1, 3, 1)), jnp.ones(1))
    calls = {
        "geodesic": lambda: gj.geodesic(p.to_dense(), p, 0.5),
        "mw2_transport_map": lambda: gj.mw2_transport_map(p, p.to_dense(), jnp.zeros((1, 3))),
        "gaussian_interpolate": lambda: gj.gaussian_interpolate(dense, lr, 0.5),
        "gaussian_transport_map": lambda: gj.gaussian_transport_map(lr, dense),
    }
    for function, call in calls.items():
        with pytest.raises(TypeError, match=rf"^{function} does not take low-rank .*to_dense"):
            call()
