"""Float32 robustness: d in {2, 16, 128}, covariance scales 1e-3 to 1e3.

Each quantity is computed from float32 inputs and compared with an independent float64 numpy
implementation (``slogdet``/``solve``, no shared code). Cauchy–Schwarz, log L2^2 and the
mixture KLs are well-conditioned and must agree to 1e-3 relative. L2^2 itself leaves the
float32 range at high dimension (for d = 128 and unit covariances it is ~1e-80): the test
checks that it does so without NaN, and that its docstring points to the quantities that work.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import only_float32_run

import gmmjax as gj

# The inputs are float32 arrays whatever the run's default precision: one run is enough, the
# float32 one (JAX_ENABLE_X64=0, what a float32 user runs).
pytestmark = only_float32_run

DIMS = (2, 16, 128)  # 64 lies between 16 and 128 and follows the same paths as 128
SCALES = (1e-3, 1.0, 1e3)


def _mixture(seed: int, k: int, d: int, scale: float, diagonal: bool) -> tuple[np.ndarray, ...]:
    r = np.random.default_rng(seed)
    w = r.dirichlet(np.ones(k))
    m = r.standard_normal((k, d)) * np.sqrt(scale)
    if diagonal:
        c = r.uniform(0.5, 2.0, (k, d)) * scale
    else:
        a = r.standard_normal((k, d, d)) / np.sqrt(d)
        c = (a @ np.swapaxes(a, -1, -2) + np.eye(d)) * scale
    return w, m, c


def _pair(d: int, scale: float, diagonal: bool, near: bool) -> tuple[tuple, tuple]:
    a = _mixture(1, 3, d, scale, diagonal)
    if near:  # the same mixture with shifted means: CS ~ 1e-2, the hard (cancelling) case
        return a, (a[0], a[1] + 0.05 * np.sqrt(scale), a[2])
    # Also three components: both pair kinds of a (d, kind) share one compiled program.
    return a, _mixture(2, 3, d, scale, diagonal)


def _full(c: np.ndarray) -> np.ndarray:
    return np.stack([np.diag(v) for v in c]) if c.ndim == 2 else c


def np_log_overlap(a: tuple, b: tuple) -> np.ndarray:
    _, m1, c1 = a
    _, m2, c2 = b
    c1, c2 = _full(c1), _full(c2)
    d = m1.shape[1]
    out = np.empty((len(m1), len(m2)))
    for i in range(len(m1)):
        for j in range(len(m2)):
            s = c1[i] + c2[j]
            diff = m1[i] - m2[j]
            out[i, j] = -0.5 * (
                diff @ np.linalg.solve(s, diff) + np.linalg.slogdet(s)[1] + d * np.log(2 * np.pi)
            )
    return out


def np_log_inner(a: tuple, b: tuple) -> float:
    return float(
        np.logaddexp.reduce(
            (np.log(a[0])[:, None] + np.log(b[0])[None, :] + np_log_overlap(a, b)).ravel()
        )
    )


def np_cs(a: tuple, b: tuple) -> float:
    return 0.5 * (np_log_inner(a, a) + np_log_inner(b, b)) - np_log_inner(a, b)


def np_log_l2(a: tuple, b: tuple) -> float:
    terms = np.array([np_log_inner(a, a), np_log_inner(b, b), np_log_inner(a, b)])
    top = terms.max()
    s = np.exp(terms[0] - top) + np.exp(terms[1] - top) - 2 * np.exp(terms[2] - top)
    return float(top + np.log(s))


def np_kl_gauss(m0, c0, m1, c1) -> float:
    inv = np.linalg.inv(c1)
    diff = m1 - m0
    return 0.5 * (
        np.trace(inv @ c0)
        + diff @ inv @ diff
        - len(m0)
        + np.linalg.slogdet(c1)[1]
        - np.linalg.slogdet(c0)[1]
    )


def np_kl_variational(a: tuple, b: tuple) -> float:
    (w, m, c), (wq, mq, cq) = a, b
    c, cq = _full(c), _full(cq)
    total = 0.0
    for i in range(len(w)):
        own = [np.log(w[k]) - np_kl_gauss(m[i], c[i], m[k], c[k]) for k in range(len(w))]
        other = [np.log(wq[k]) - np_kl_gauss(m[i], c[i], mq[k], cq[k]) for k in range(len(wq))]
        total += w[i] * (np.logaddexp.reduce(own) - np.logaddexp.reduce(other))
    return total


def f32(arrays: tuple) -> gj.GMM:
    return gj.GMM(*(jnp.asarray(x, jnp.float32) for x in arrays))


@jax.jit
def _quantities(p: gj.GMM, q: gj.GMM) -> dict[str, jax.Array]:
    return {
        "cs": gj.cauchy_schwarz_divergence(p, q),
        "log_l2": gj.log_l2_distance_squared(p, q),
        "kl": gj.kl_divergence(p, q),
        "l2_squared": gj.l2_distance_squared(p, q),
        "l2": gj.l2_distance(p, q),
        "log_overlap": gj.log_gaussian_overlap(p, q),
    }


_GRADIENTS = [
    jax.jit(jax.grad(lambda p, q, fn=fn: fn(p, q)))
    for fn in (gj.cauchy_schwarz_divergence, gj.kl_divergence, gj.log_l2_distance_squared)
]


def _gradients(p: gj.GMM, q: gj.GMM) -> list:
    return [grad(p, q) for grad in _GRADIENTS]


CASES = [(d, diagonal) for d in DIMS for diagonal in (True, False)]


@pytest.mark.parametrize(
    ("d", "diagonal"), CASES, ids=[f"{d}-{'diag' if g else 'full'}" for d, g in CASES]
)
def test_float32_distances_match_float64(d, diagonal):
    """All scales and both pair kinds for one (d, kind): one compilation, 6 comparisons."""
    worst = {"cs": 0.0, "log_l2": 0.0, "kl": 0.0}
    for scale in SCALES:
        for near in (True, False):
            a, b = _pair(d, scale, diagonal, near)
            p, q = f32(a), f32(b)
            assert p.dtype == jnp.float32
            out = _quantities(p, q)
            assert out["cs"].dtype == jnp.float32
            for name in ("cs", "log_l2", "kl", "log_overlap"):
                assert bool(jnp.all(jnp.isfinite(out[name]))), (name, scale, near)
            ref = {"cs": np_cs(a, b), "log_l2": np_log_l2(a, b), "kl": np_kl_variational(a, b)}
            for name, value in ref.items():
                rel = abs(float(out[name]) - value) / abs(value)
                worst[name] = max(worst[name], rel)
                assert rel < 1e-3, (name, scale, near, float(out[name]), value)
            np.testing.assert_allclose(out["log_overlap"], np_log_overlap(a, b), rtol=1e-5)
            # L2 itself: finite (possibly 0 or a huge number), never NaN.
            assert not bool(jnp.isnan(out["l2_squared"])) and not bool(jnp.isnan(out["l2"]))
            grads = _gradients(p, q)
            for leaf in jax.tree_util.tree_leaves(grads):
                assert bool(jnp.all(jnp.isfinite(leaf))), (scale, near)
    print(f"d={d} {'diag' if diagonal else 'full'} worst float32 relative errors: {worst}")


@pytest.mark.parametrize("d", [2, 16])
def test_float32_l2_matches_where_representable(d):
    """Where L2^2 is a normal float32 number (low d, unit scale) it is accurate to 1e-3."""
    a, b = _pair(d, 1.0, True, near=False)
    out = _quantities(f32(a), f32(b))
    expected = np.exp(np_log_l2(a, b))
    assert np.finfo(np.float32).tiny < expected < np.finfo(np.float32).max
    np.testing.assert_allclose(out["l2_squared"], expected, rtol=1e-3)
    np.testing.assert_allclose(out["l2"], np.sqrt(expected), rtol=1e-3)


def test_float32_l2_underflow_is_documented():
    """d = 128: L2^2 ~ 1e-87 underflows float32 to 0 while log L2^2 and CS stay exact."""
    a, b = _pair(128, 1.0, True, near=False)
    out = _quantities(f32(a), f32(b))
    assert np_log_l2(a, b) < np.log(np.finfo(np.float32).tiny)
    assert float(out["l2_squared"]) == 0.0
    assert abs(float(out["log_l2"]) - np_log_l2(a, b)) < 1e-3 * abs(np_log_l2(a, b))
    for fn in (gj.l2_distance_squared, gj.gaussian_overlap, gj.inner_product):
        doc = fn.__doc__
        assert "log" in doc and ("underflow" in doc or "floating-point range" in doc), fn.__name__
    assert "log_l2_distance_squared" in gj.l2_distance_squared.__doc__
    assert "cauchy_schwarz_divergence" in gj.l2_distance_squared.__doc__
    assert "float32" in gj.cauchy_schwarz_divergence.__doc__


def test_float32_extreme_scale_ratio():
    """One mixture at variance 1e-3, the other at 1e3, d = 64: CS is large and exact."""
    a = _mixture(1, 2, 64, 1e-3, True)
    b = _mixture(2, 2, 64, 1e3, True)
    out = _quantities(f32(a), f32(b))
    np.testing.assert_allclose(out["cs"], np_cs(a, b), rtol=1e-5)
    np.testing.assert_allclose(out["kl"], np_kl_variational(a, b), rtol=1e-4)
