"""The numerics contract of ``docs/numerics.md``: its reproductions and a few of its cells."""

from __future__ import annotations

import importlib.util
import math
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DTYPE, X64, random_spd

import gmmjax as gj

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_self_distance_is_exactly_zero():
    """W2(g, g) was 0.0028 at d = 32 in float32, mw2(p, p) 1e-3 of d(p, q)."""
    rng = np.random.default_rng(0)
    g = gj.Gaussian(jnp.asarray(rng.standard_normal(32), DTYPE), random_spd(rng, 32, 1e3))
    g = gj.Gaussian(g.mean, jnp.asarray(g.cov, DTYPE))
    assert float(gj.w2_gaussian(g, g)) == 0.0
    grad = jax.grad(lambda m: gj.w2_gaussian(gj.Gaussian(m, g.cov), g))(g.mean)
    assert bool(jnp.all(grad == 0))
    covs = np.stack([random_spd(rng, 8, 1e3), random_spd(rng, 8, 10.0)])
    p = gj.GMM(jnp.asarray([0.3, 0.7], DTYPE), rng.standard_normal((2, 8)), covs)
    assert float(gj.mw2_distance(p, p)) == 0.0


@pytest.mark.parametrize("d", [1, 2])
def test_w2_huge_variances_small_dimension(d):
    """d = 2, variances 1e20 in float32 gave W2 = 0 for a shifted pair (squares overflowed)."""
    g0 = gj.Gaussian(jnp.zeros(d, DTYPE), 1e20 * jnp.eye(d, dtype=DTYPE))
    g1 = gj.Gaussian(jnp.full(d, 1e10, DTYPE), 4e20 * jnp.eye(d, dtype=DTYPE))
    want = math.sqrt(d * (1e20 + 1e20))  # mean part d * 1e20, covariance part d * 1e20
    np.testing.assert_allclose(float(gj.w2_gaussian(g0, g1)), want, rtol=1e-6)
    np.testing.assert_allclose(float(gj.mw2_distance(g0.as_gmm(), g1.as_gmm())), want, rtol=1e-6)


def test_l2_distance_finite_where_it_fits():
    """d = 128, variances 1e-2: L2 ~ 1e29 fits float32, its square does not (was inf)."""
    d = 128
    p = gj.GMM(jnp.ones(1, DTYPE), jnp.zeros((1, d), DTYPE), jnp.full((1, d), 1e-2, DTYPE))
    q = gj.GMM(jnp.ones(1, DTYPE), jnp.full((1, d), 0.1, DTYPE), jnp.full((1, d), 1e-2, DTYPE))
    dist = float(gj.l2_distance(p, q))
    log_sq = float(gj.log_l2_distance_squared(p, q))
    assert math.isfinite(dist)
    np.testing.assert_allclose(math.log(dist), 0.5 * log_sq, rtol=1e-6)
    assert float(gj.l2_distance(p, p)) == 0.0  # was NaN (inf * 0)


def _singular_pair():
    p = gj.GMM(jnp.ones(1, DTYPE), jnp.zeros((1, 2), DTYPE), jnp.array([[[1.0, 0], [0, 0]]], DTYPE))
    q = gj.GMM(jnp.ones(1, DTYPE), jnp.ones((1, 2), DTYPE), jnp.eye(2, dtype=DTYPE)[None])
    return p, q


@pytest.mark.parametrize(
    "name", ["l2_distance", "log_l2_distance_squared", "cauchy_schwarz_divergence", "kl_divergence"]
)
def test_density_functions_refuse_singular_covariances(name):
    p, q = _singular_pair()
    with pytest.raises(ValueError, match=re.escape(f"{name}: p.covs[0] is singular")):
        getattr(gj, name)(p, q)
    with pytest.raises(ValueError, match=r"self.covs\[0\] is singular"):
        p.log_prob(jnp.zeros(2, DTYPE))
    diag = gj.GMM(jnp.ones(1, DTYPE), jnp.zeros((1, 2), DTYPE), jnp.array([[1.0, 0.0]], DTYPE))
    with pytest.raises(ValueError, match=r"g0.cov is singular"):
        gj.kl_gaussian(diag.component(0), q.component(0))


def test_transport_accepts_singular_and_jit_gives_nan():
    p, q = _singular_pair()
    np.testing.assert_allclose(float(gj.mw2_distance(p, q)), math.sqrt(3.0), rtol=1e-6)
    assert math.isnan(float(jax.jit(gj.cauchy_schwarz_divergence)(p, q)))


def _contract_bounds() -> dict[str, tuple[float, float]]:
    """``function -> (float64 bound, float32 bound)`` from the contract table of the docs."""
    text = (ROOT / "docs" / "numerics.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| ([0-9.e+-]+) \| ([0-9.e+-]+) \|", text, re.M)
    return {name: (float(b64), float(b32)) for name, b64, b32 in rows}


@pytest.mark.parametrize("name", ["cauchy_schwarz_divergence", "w2_gaussian", "kl_gaussian"])
def test_documented_cells(name):
    """A few cells of the measured table stay within the bound ``docs/numerics.md`` states."""
    pytest.importorskip("mpmath")
    if not X64:
        pytest.skip("the script passes float32 inputs explicitly: runs in the float64 run")
    spec = importlib.util.spec_from_file_location(
        "numerics_contract", ROOT / "benchmarks" / "numerics_contract.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    import mpmath

    mpmath.mp.dps = script.DPS
    bound64, bound32 = _contract_bounds()[name]
    calls = {name: script.library_calls()[name]}
    for dtype, bound in (("float64", bound64), ("float32", bound32)):
        res = script.measure(dtype, (2,), (1e3,), (1e-20, 1e20), (name,), calls)
        for err, ratio in res[name, 2].values():
            assert err is not None and err <= bound, (dtype, err, bound)
            assert ratio is not None and ratio <= 1e-12  # d(p, p) = 0 to round-off
