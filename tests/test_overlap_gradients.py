"""The closed-form gradient rule of the overlap kernel against autodiff of the plain formula.

``log_normal_of_sum`` (the unrolled log N(x | y, A + B) behind every overlap distance for
``d <= 8``) is differentiated by its own rule (-S^{-1} r and (v v^T - S^{-1}) / 2). The
reference here is JAX's autodiff through the same unrolled LDL^T without the rule, and
``scipy``-free: a dense ``slogdet`` / ``solve`` formula for the hard inputs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DTYPE, X64, random_spd, tol
from jax.test_util import check_grads

import gmmjax as gj
from gmmjax._src.math.ldl import ldl_logdet_maha, log_normal_of_sum


def _plain(x, a, y, b):
    d = x.shape[0]
    logdet, maha = ldl_logdet_maha(lambda i, j: a[i, j] + b[i, j], lambda i: x[i] - y[i], d)
    return -0.5 * (maha + logdet)


def _dense(x, a, y, b):
    """The same entries from dense matrices (lower triangles mirrored, as the kernel reads)."""

    def one(xi, ai, yj, bj):
        s = jnp.tril(ai + bj) + jnp.tril(ai + bj, -1).T
        _, logdet = jnp.linalg.slogdet(s)
        r = xi - yj
        return -0.5 * (r @ jnp.linalg.solve(s, r) + logdet)

    xs, as_ = jnp.moveaxis(x[:, :, 0], 0, -1), jnp.moveaxis(a[:, :, :, 0], -1, 0)
    ys, bs = jnp.moveaxis(y[:, 0, :], 0, -1), jnp.moveaxis(b[:, :, 0, :], -1, 0)
    return jax.vmap(lambda xi, ai: jax.vmap(lambda yj, bj: one(xi, ai, yj, bj))(ys, bs))(xs, as_)


def _operands(rng, n, m, d, cond=10.0, same=False):
    x = rng.standard_normal((d, n))
    a = np.stack([random_spd(rng, d, cond) for _ in range(n)], axis=-1)
    if same:
        y, b = x.copy(), a.copy()
    else:
        y = rng.standard_normal((d, m))
        b = np.stack([random_spd(rng, d, cond) for _ in range(m)], axis=-1)
    x, a, y, b = (jnp.asarray(v, DTYPE) for v in (x, a, y, b))
    return x[:, :, None], a[:, :, :, None], y[:, None, :], b[:, :, None, :]


@jax.jit
def _both_gradients(args, weights):
    def loss(fn):
        return lambda *ops: jnp.sum(weights * fn(*ops))

    rule = jax.grad(loss(log_normal_of_sum), argnums=(0, 1, 2, 3))(*args)
    plain = jax.grad(loss(_plain), argnums=(0, 1, 2, 3))(*args)
    return rule, plain


CASES = {
    "random": {"cond": 10.0},
    "ill-conditioned": {"cond": 1e4},
    "equal operands (P = Q)": {"same": True},
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_rule_equals_autodiff_of_the_unrolled_formula(rng, case):
    args = _operands(rng, 3, 3, 4, **CASES[case])
    weights = jnp.asarray(rng.standard_normal((3, 3)), DTYPE)
    rule, plain = _both_gradients(args, weights)
    for got, want in zip(rule, plain, strict=True):
        assert bool(jnp.all(jnp.isfinite(got)))
        scale = float(jnp.max(jnp.abs(want))) + 1.0
        assert float(jnp.max(jnp.abs(got - want))) <= tol(1e-10, 2e-4) * scale * (
            1.0 if CASES[case].get("cond", 10.0) < 100 else 1e3
        )


def test_rule_equals_dense_formula_with_repeated_and_tiny_covariances(rng):
    """Identical components (repeated eigenvalues) and a near-singular sum S."""
    d = 3
    x = np.zeros((d, 2))
    a = np.stack([np.eye(d), np.diag([1e-4, 1.0, 1.0])], axis=-1)
    x, a = jnp.asarray(x, DTYPE), jnp.asarray(a, DTYPE)
    args = (x[:, :, None], a[:, :, :, None], x[:, None, :], a[:, :, None, :])
    got = jax.grad(lambda *o: jnp.sum(log_normal_of_sum(*o)), argnums=(0, 1, 2, 3))(*args)
    want = jax.grad(lambda *o: jnp.sum(_dense(*o)), argnums=(0, 1, 2, 3))(*args)
    for g, w in zip(got, want, strict=True):
        # The dense reference is differentiated through the mirrored lower triangle, so both
        # gradients live on the lower triangle only.
        np.testing.assert_allclose(
            np.asarray(g), np.asarray(w), rtol=tol(1e-9, 1e-3), atol=tol(1e-9, 1e-2)
        )


@pytest.mark.skipif(not X64, reason="finite differences need float64")
def test_check_grads_and_hessian(rng):
    """Forward and reverse mode of order 2 (the rule is itself differentiable)."""
    args = _operands(rng, 2, 2, 3)
    check_grads(lambda *o: jnp.sum(log_normal_of_sum(*o)), args, order=2, modes=["fwd", "rev"])


@pytest.mark.skipif(not X64, reason="compares with float64 autodiff")
def test_hessian_of_l2_distance_through_the_rule(rng):
    """``jax.hessian`` of a mixture distance goes through the rule and is symmetric."""
    p = gj.GMM([0.4, 0.6], [[0.0, 0.0], [1.0, 0.5]], [np.eye(2), [[1.0, 0.3], [0.3, 0.5]]])
    q = gj.GMM([1.0], [[0.5, -0.5]], [[[0.8, 0.1], [0.1, 0.6]]])

    def f(means):
        return gj.l2_distance_squared(gj.GMM(p.weights, means, p.covs, validate=False), q)

    h = jax.hessian(f)(p.means).reshape(4, 4)
    assert bool(jnp.all(jnp.isfinite(h)))
    np.testing.assert_allclose(np.asarray(h), np.asarray(h).T, atol=1e-12)
    eps = 1e-5
    e = jnp.zeros(4).at[1].set(eps).reshape(2, 2)
    fd = (jax.grad(f)(p.means + e) - jax.grad(f)(p.means - e)).reshape(4) / (2 * eps)
    np.testing.assert_allclose(np.asarray(h[1]), np.asarray(fd), rtol=1e-6, atol=1e-9)
