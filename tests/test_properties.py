"""Property-based tests: the mathematical facts every distance must satisfy.

Strategies (``tests/strategies.py``) draw valid mixtures of random size, dimension, covariance
kind, conditioning (up to 1e3) and weight balance. Profiles: ``ci`` (the default, sized for CI)
and ``dev`` (``HYPOTHESIS_PROFILE=dev``, 300 examples). Properties covered:

1-3. L2 is a metric: symmetry, identity, triangle inequality.
4-5. Cauchy–Schwarz: >= 0 with equality at P = Q; symmetric; invariant under x -> a x + b.
6. Invariance to permuting components (L2, CS, the KLs, mixture W2).
7. Invariance to splitting one component into two identical halves (L2, CS, KLs, mixture W2).
8. Translation invariance of L2, CS, KL, Gaussian W2 and the mixture distance d.
9-11. The mixture distance d is a metric (seed 001, Theorem 1).
12. Geodesics have constant speed: d(P, P_t) = t d(P, Q), d(P_t, Q) = (1 - t) d(P, Q)
    (seed 001, Theorem 2).
13. KL(P||P) = 0 for "variational" and "mc"; lower_bound <= variational <= upper_bound;
    KL between Gaussians >= 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import DTYPE, X64, only_float64_run
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import MixtureSpec, mixture_pairs, mixture_specs

import gmmjax as gj

# Mathematical facts, not precision: checked once, in the float64 run with tight tolerances
# (every function they use is also tested in both precisions by its own module).
pytestmark = only_float64_run

# Relative slack for inequalities and equalities of computed values in this precision.
RTOL = 1e-7 if X64 else 2e-3
ATOL = 1e-9 if X64 else 1e-5
# Transport properties solve an LP per evaluation: fewer examples.
FEW = settings(max_examples=max(5, settings.default.max_examples // 3))

l2 = jax.jit(gj.l2_distance)
l2sq = jax.jit(gj.l2_distance_squared)
cs = jax.jit(gj.cauchy_schwarz_divergence)
kl = jax.jit(gj.kl_divergence, static_argnames="method")
kl_mc_self = jax.jit(lambda p: gj.kl_divergence(p, p, "mc", key=jax.random.key(0), n_samples=8))
KL_DETERMINISTIC = ("variational", "lower_bound", "upper_bound")


@jax.jit
def everything(p: gj.GMM, q: gj.GMM) -> dict[str, jax.Array]:
    """L2^2, CS and the deterministic KLs both ways: one compilation per pair of shapes."""
    out = {"l2sq": gj.l2_distance_squared(p, q), "cs": gj.cauchy_schwarz_divergence(p, q)}
    for method in KL_DETERMINISTIC:
        out[method + "_pq"] = gj.kl_divergence(p, q, method)
        out[method + "_qp"] = gj.kl_divergence(q, p, method)
    return out


def all_close(a: dict, b: dict) -> None:
    for name in a:
        assert close(a[name], b[name]), (name, float(a[name]), float(b[name]))


def close(a, b, rtol=RTOL, atol=ATOL) -> bool:
    a, b = float(a), float(b)
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


# Every mixture is padded with zero-weight components to K_PAD (the largest drawn mixture, 3
# components, plus one for the split): the compiled programs then depend on the dimension and
# the covariance kinds only, so the examples reuse a handful of programs instead of compiling
# one per drawn shape. Zero-weight padding changes no value (tests/test_mixture.py,
# tests/test_collections_agree.py), and every property holds for the padded mixtures as well.
K_PAD = 4


def _padded(weights, means, covs) -> gj.GMM:
    g = gj.GMM(*(jnp.asarray(a, DTYPE) for a in (weights, means, covs)))
    return gj.stack([g], n_components=K_PAD)[0]


def as_gmm(spec: MixtureSpec) -> gj.GMM:
    return _padded(spec.weights, spec.means, spec.covs)


def permuted(spec: MixtureSpec, seed: int) -> gj.GMM:
    perm = np.random.default_rng(seed).permutation(len(spec.weights))
    return _padded(*(a[perm] for a in (spec.weights, spec.means, spec.covs)))


def split(spec: MixtureSpec, index: int) -> gj.GMM:
    i = index % len(spec.weights)
    w = np.concatenate([spec.weights, [spec.weights[i] / 2]])
    w[i] /= 2
    m = np.concatenate([spec.means, spec.means[i : i + 1]])
    c = np.concatenate([spec.covs, spec.covs[i : i + 1]])
    return _padded(w, m, c)


def translated(spec: MixtureSpec, shift: np.ndarray) -> gj.GMM:
    return _padded(spec.weights, spec.means + shift, spec.covs)


# ----------------------------------------------------------------------- L2 and CS
@given(mixture_pairs(count=3))
def test_l2_is_a_metric(specs):
    p, q, r = (as_gmm(s) for s in specs)
    d_pq, d_qp, d_qr, d_pr = l2(p, q), l2(q, p), l2(q, r), l2(p, r)
    assert float(l2(p, p)) == 0.0
    assert float(d_pq) >= 0.0
    assert close(d_pq, d_qp)
    assert float(d_pr) <= float(d_pq + d_qr) * (1 + RTOL) + ATOL


@given(mixture_pairs(count=2))
def test_cauchy_schwarz_nonnegative_symmetric_zero_on_diagonal(specs):
    p, q = (as_gmm(s) for s in specs)
    v = cs(p, q)
    assert float(v) >= 0.0
    assert close(v, cs(q, p))
    assert abs(float(cs(p, p))) <= ATOL * 10


@given(mixture_pairs(count=2), st.floats(0.1, 10.0), st.floats(-5.0, 5.0))
def test_cauchy_schwarz_is_affine_invariant(specs, a, b):
    """CS(P, Q) is unchanged by x -> a x + b applied to both (the Jacobians cancel)."""
    p, q = (as_gmm(s) for s in specs)

    def moved(s: MixtureSpec) -> gj.GMM:
        return _padded(s.weights, a * s.means + b, a * a * s.covs)

    assert close(cs(p, q), cs(moved(specs[0]), moved(specs[1])), rtol=10 * RTOL, atol=10 * ATOL)


@given(mixture_pairs(count=2), st.integers(0, 1000))
def test_permutation_invariance(specs, seed):
    p, q = (as_gmm(s) for s in specs)
    all_close(everything(p, q), everything(permuted(specs[0], seed), q))


@given(mixture_pairs(count=2), st.integers(0, 10))
def test_splitting_a_component_changes_nothing(specs, index):
    p, q = (as_gmm(s) for s in specs)
    all_close(everything(p, q), everything(split(specs[0], index), q))


@given(mixture_pairs(count=2), st.floats(-20.0, 20.0))
def test_translation_invariance_of_l2_cs_kl(specs, shift):
    p, q = (as_gmm(s) for s in specs)
    v = np.full(p.dim, shift)
    pt, qt = translated(specs[0], v), translated(specs[1], v)
    # Shifting the means by up to 20 adds round-off of ~20 eps to every difference.
    r = RTOL if X64 else 2e-2
    assert close(l2sq(p, q), l2sq(pt, qt), rtol=r)
    assert close(cs(p, q), cs(pt, qt), rtol=r, atol=r)
    assert close(kl(p, q), kl(pt, qt), rtol=r, atol=r)


# ----------------------------------------------------------------------- KL
@given(mixture_specs())
def test_kl_of_p_with_itself_is_zero(spec):
    p = as_gmm(spec)
    assert abs(float(kl(p, p, method="variational"))) <= ATOL * 10
    mc = kl_mc_self(p)
    assert abs(float(mc)) <= ATOL * 10


@given(mixture_pairs(count=2))
def test_kl_bounds_are_ordered(specs):
    p, q = (as_gmm(s) for s in specs)
    lower = float(kl(p, q, method="lower_bound"))
    var = float(kl(p, q, method="variational"))
    upper = float(kl(p, q, method="upper_bound"))
    slack = ATOL + RTOL * max(abs(lower), abs(upper), 1.0)
    assert lower <= var + slack
    assert var <= upper + slack


@given(mixture_pairs(count=2, max_components=1))
def test_kl_between_gaussians_is_nonnegative(specs):
    g0, g1 = (s.gmm(DTYPE).component(0) for s in specs)
    v = float(gj.kl_gaussian(g0, g1))
    assert v >= -ATOL * 10
    assert abs(float(gj.kl_gaussian(g0, g0))) <= ATOL * 10 * max(1.0, specs[0].cond)


# ----------------------------------------------------------------------- transport
mw2 = gj.mw2_distance


@FEW
@given(mixture_pairs(count=3, max_dim=2))
def test_mixture_distance_is_a_metric(specs):
    """Seed 001, Theorem 1: symmetry, identity and triangle inequality of d."""
    p, q, r = (as_gmm(s) for s in specs)
    d_pq, d_qp, d_qr, d_pr = mw2(p, q), mw2(q, p), mw2(q, r), mw2(p, r)
    scale = 1.0 + float(d_pq + d_qr)
    assert abs(float(mw2(p, p))) <= (1e-6 if X64 else 3e-3) * scale
    assert close(d_pq, d_qp, rtol=10 * RTOL, atol=10 * ATOL * scale)
    assert float(d_pr) <= float(d_pq + d_qr) + 10 * RTOL * scale


@FEW
@given(mixture_pairs(count=2, max_dim=2), st.integers(0, 1000), st.integers(0, 10))
def test_mixture_distance_permutation_and_split_invariance(specs, seed, index):
    p, q = (as_gmm(s) for s in specs)
    ref = mw2(p, q)
    tol_abs = 10 * ATOL * (1.0 + float(ref))
    assert close(ref, mw2(permuted(specs[0], seed), q), rtol=10 * RTOL, atol=tol_abs)
    assert close(ref, mw2(split(specs[0], index), q), rtol=10 * RTOL, atol=tol_abs)


@FEW
@given(mixture_pairs(count=2, max_dim=2), st.floats(-20.0, 20.0))
def test_translation_invariance_of_w2_and_d(specs, shift):
    p, q = (as_gmm(s) for s in specs)
    v = np.full(p.dim, shift)
    pt, qt = translated(specs[0], v), translated(specs[1], v)
    r = 1e-6 if X64 else 2e-2
    assert close(mw2(p, q), mw2(pt, qt), rtol=r, atol=r)
    g0, g1 = p.component(0), q.component(0)
    g0t, g1t = pt.component(0), qt.component(0)
    assert close(gj.w2_gaussian(g0, g1), gj.w2_gaussian(g0t, g1t), rtol=r, atol=r)


@FEW
@given(mixture_pairs(count=2, max_dim=2), st.floats(0.0, 1.0))
def test_geodesic_has_constant_speed(specs, t):
    """Seed 001, Theorem 2: d(P, P_t) = t d(P, Q) and d(P_t, Q) = (1 - t) d(P, Q)."""
    p, q = (as_gmm(s) for s in specs)
    total = float(mw2(p, q))
    mid = gj.geodesic(p, q, t)
    a = 1e-6 if X64 else 5e-3
    scale = 1.0 + total
    assert abs(float(mw2(p, mid)) - t * total) <= a * scale
    assert abs(float(mw2(mid, q)) - (1.0 - t) * total) <= a * scale
