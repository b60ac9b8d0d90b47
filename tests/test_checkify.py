"""Checked mode: ``gmmjax.validate`` and ``gmmjax.checked`` report bad values inside jit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DTYPE, only_float32_run, tol
from jax.experimental import checkify

import gmmjax as gj

# Checked mode wraps the same value rules in either precision (tests/test_bad_inputs.py runs
# the rules in both): checked once, in the default (float32) run.
pytestmark = only_float32_run

W = jnp.array([0.5, 0.5], DTYPE)
M = jnp.array([[0.0, 0.0], [1.0, 1.0]], DTYPE)
C = jnp.stack([jnp.eye(2, dtype=DTYPE), 2.0 * jnp.eye(2, dtype=DTYPE)])
P = gj.GMM(W, M, C)


def bad(w=W, m=M, c=C) -> gj.GMM:
    """A mixture built without checks, as happens inside jitted code."""
    return gj.GMM._unchecked(jnp.asarray(w, DTYPE), jnp.asarray(m, DTYPE), jnp.asarray(c, DTYPE))


BAD_MIXTURES = [
    ("weights not summing to 1", bad(w=[0.5, 0.6]), r"q\.weights must sum to 1"),
    ("negative weights", bad(w=[1.5, -0.5]), r"q\.weights must be >= 0"),
    ("NaN weights", bad(w=[jnp.nan, 0.5]), r"q\.weights must be finite"),
    ("NaN means", bad(m=[[0.0, jnp.nan], [1.0, 1.0]]), r"q\.means must be finite"),
    ("inf covs", bad(c=C.at[0, 0, 0].set(jnp.inf)), r"q\.covs must be finite"),
    ("non-symmetric covs", bad(c=C.at[1, 0, 1].set(0.5)), r"q\.covs\[\(1,\)\] is not symmetric"),
    (
        "non-PSD covs",
        bad(c=C.at[1].set(jnp.array([[1.0, 2.0], [2.0, 1.0]]))),
        r"q\.covs\[\(1,\)\] is not positive semi-definite",
    ),
    (
        "negative variances",
        bad(c=jnp.array([[1.0, 1.0], [1.0, -1.0]])),
        r"diagonal q\.covs \(variances\) must be >= 0",
    ),
]


@pytest.mark.parametrize(("what", "q", "pattern"), BAD_MIXTURES, ids=[b[0] for b in BAD_MIXTURES])
def test_checked_raises_naming_the_argument(what, q, pattern):
    cs = gj.checked(gj.cauchy_schwarz_divergence)
    with pytest.raises(ValueError, match=pattern):
        cs(P, q)
    # The unchecked function, jitted, gives no error: that is what the checked mode is for.
    jax.jit(gj.cauchy_schwarz_divergence)(P, q)


def test_checked_passes_valid_inputs_and_matches():
    rng = np.random.default_rng(0)
    # Shaped as the bad mixtures above, so that the checked CS program compiled there is
    # reused: the valid inputs pass through the very program that raised.
    q = gj.GMM(
        jnp.asarray([0.3, 0.7], DTYPE),
        jnp.asarray(rng.standard_normal((2, 2)), DTYPE),
        jnp.stack([jnp.eye(2, dtype=DTYPE), jnp.array([[1.0, 0.3], [0.3, 0.5]], DTYPE)]),
    )
    # The checked call is jitted and the plain one runs op by op, so XLA may fuse and
    # reorder differently: in float32 CS, a difference of O(1) log terms, then differs
    # by an ulp of those terms (~1e-7 absolute), not of the small result. (L2 shares CS's
    # overlap kernel and the checked wrapper is the same for every function.)
    for fn in (gj.cauchy_schwarz_divergence, gj.kl_divergence):
        np.testing.assert_allclose(
            gj.checked(fn)(P, q), fn(P, q), rtol=tol(1e-12, 1e-6), atol=tol(0.0, 1e-6)
        )


def test_checked_handles_static_arguments_and_keywords():
    kl = gj.checked(gj.kl_divergence)
    v = kl(P, P, method="mc", key=jax.random.key(0), n_samples=8)
    assert abs(float(v)) < tol(1e-12, 1e-5)
    with pytest.raises(ValueError, match=r"^p\.weights must sum to 1"):
        kl(bad(w=[0.2, 0.2]), P, "upper_bound")


def test_checked_names_nested_arguments():
    fn = gj.checked(lambda gmms: gj.l2_distance(gmms["first"], gmms["second"]))
    with pytest.raises(ValueError, match=r"gmms\['second'\]\.means must be finite"):
        fn({"first": P, "second": bad(m=[[0.0, jnp.nan], [1.0, 1.0]])})


def test_checked_gaussians():
    g = gj.Gaussian(jnp.zeros(2, DTYPE), jnp.eye(2, dtype=DTYPE))
    g_bad = gj.Gaussian._unchecked(jnp.array([0.0, jnp.nan], DTYPE), jnp.eye(2, dtype=DTYPE))
    kl = gj.checked(gj.kl_gaussian)
    assert float(kl(g, g)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match=r"g1\.mean must be finite"):
        kl(g, g_bad)


def test_checked_batched_mixtures():
    batch = gj.GMM._unchecked(
        jnp.stack([W, jnp.array([0.3, 0.3], DTYPE)]), jnp.stack([M, M]), jnp.stack([C, C])
    )
    with pytest.raises(ValueError, match=r"p\.weights\[\(1,\)\] must sum to 1"):
        gj.checked(gj.l2_distance)(batch, P)


def test_checked_float_checks_catch_nans_produced_inside():
    """With float_checks enabled, a NaN created by fn itself is reported too."""

    def f(p, scale):
        return gj.cauchy_schwarz_divergence(p, p) + jnp.log(scale)

    guarded = gj.checked(f, errors=checkify.user_checks | checkify.float_checks)
    assert np.isfinite(float(guarded(P, jnp.asarray(1.0, DTYPE))))
    with pytest.raises(ValueError, match="nan"):
        guarded(P, jnp.asarray(-1.0, DTYPE))


def test_validate_eager_and_traced():
    assert gj.validate(P) is P
    with pytest.raises(ValueError, match="weights must sum to 1"):
        gj.validate(bad(w=[0.5, 0.6]))

    @jax.jit
    def program(w):
        p = gj.validate(gj.GMM(w, M, C), name="model")
        return gj.l2_distance(p, P)

    checked_program = checkify.checkify(program)
    err, out = checked_program(W)
    err.throw()
    assert float(out) == 0.0
    err, _ = checked_program(jnp.array([0.9, 0.9], DTYPE))
    with pytest.raises(ValueError, match=r"model\.weights must sum to 1"):
        err.throw()


def test_validate_without_checkify_under_jit_is_refused_not_silent():
    """A traced validate() outside checkify fails loudly at trace time."""

    @jax.jit
    def program(w):
        return gj.l2_distance(gj.validate(gj.GMM(w, M, C)), P)

    with pytest.raises(Exception, match="checkify"):
        program(W)
