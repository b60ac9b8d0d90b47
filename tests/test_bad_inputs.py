"""The bad-input catalogue: one case per bad input, each error naming the argument.

Every row is (what is wrong, the call, the exception type, a pattern the message must match).
The same table, with the messages, is in ``docs/bad_inputs.md``. Inside ``jit`` the value checks
cannot run; ``test_checkify.py`` covers the checked mode that reports them there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gmmjax as gj

W = np.array([0.5, 0.5])
M = np.array([[0.0, 0.0], [1.0, 1.0]])
C = np.stack([np.eye(2), 2.0 * np.eye(2)])
P = gj.GMM(W, M, C)
Q = gj.GMM(np.array([1.0]), np.array([[0.5, 0.0]]), np.array([[1.0, 1.0]]))
R3 = gj.GMM(np.array([1.0]), np.zeros((1, 3)), np.ones((1, 3)))
G = gj.Gaussian(np.zeros(2), np.eye(2))
G3 = gj.Gaussian(np.zeros(3), np.ones(3))


def _unfitted_sklearn() -> Any:
    mixture = pytest.importorskip("sklearn.mixture")
    return mixture.GaussianMixture(2)


def covs_with(entry: Any) -> np.ndarray:
    c = C.copy()
    c[1] = entry
    return c


# (id, call, exception, message pattern)
CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # --- GMM construction
    (
        "covs not symmetric",
        lambda: gj.GMM(W, M, covs_with([[1.0, 0.5], [0.0, 1.0]])),
        ValueError,
        r"covs\[\(1,\)\] is not symmetric",
    ),
    (
        "covs not PSD",
        lambda: gj.GMM(W, M, covs_with([[1.0, 2.0], [2.0, 1.0]])),
        ValueError,
        r"covs\[\(1,\)\] is not positive semi-definite",
    ),
    (
        "covs NaN",
        lambda: gj.GMM(W, M, covs_with([[np.nan, 0.0], [0.0, 1.0]])),
        ValueError,
        r"covs must be finite.*nan",
    ),
    (
        "covs inf",
        lambda: gj.GMM(W, M, covs_with([[np.inf, 0.0], [0.0, 1.0]])),
        ValueError,
        r"covs must be finite.*inf",
    ),
    (
        "diagonal covs negative",
        lambda: gj.GMM(W, M, np.array([[1.0, 1.0], [1.0, -1.0]])),
        ValueError,
        r"diagonal covs \(variances\) must be >= 0",
    ),
    (
        "covs subnormal (float32)",
        lambda: gj.GMM(
            W.astype(np.float32), M.astype(np.float32), np.array([[1e-40, 1.0], [1.0, 1.0]], "f4")
        ),
        ValueError,
        r"covs\[\(0, 0\)\]: variance 1e-40 is below the smallest normal float32",
    ),
    (
        "means NaN",
        lambda: gj.GMM(W, np.array([[0.0, np.nan], [1.0, 1.0]]), C),
        ValueError,
        r"means must be finite",
    ),
    (
        "means inf",
        lambda: gj.GMM(W, np.array([[0.0, -np.inf], [1.0, 1.0]]), C),
        ValueError,
        r"means must be finite",
    ),
    (
        "weights negative",
        lambda: gj.GMM(np.array([1.5, -0.5]), M, C),
        ValueError,
        r"weights must be >= 0",
    ),
    (
        "weights NaN",
        lambda: gj.GMM(np.array([np.nan, 0.5]), M, C),
        ValueError,
        r"weights must be finite",
    ),
    (
        "weights not summing to 1",
        lambda: gj.GMM(np.array([0.5, 0.6]), M, C),
        ValueError,
        r"weights must sum to 1.*normalize=True",
    ),
    (
        "normalize with zero sum",
        lambda: gj.GMM(np.zeros(2), M, C, normalize=True),
        ValueError,
        r"normalize=True needs weights >= 0 with a positive sum",
    ),
    (
        "means of rank 1",
        lambda: gj.GMM(np.array([1.0]), np.zeros(2), np.ones(2)),
        ValueError,
        r"means must have shape \(\.\.\., K, d\)",
    ),
    (
        "weights of wrong shape",
        lambda: gj.GMM(np.ones(3) / 3, M, C),
        ValueError,
        r"weights must have shape \(2,\)",
    ),
    (
        "covs of wrong rank",
        lambda: gj.GMM(W, M, np.ones((2, 2, 2, 2))),
        ValueError,
        r"covs must have shape \(2, 2, 2\) \(full\) or \(2, 2\) \(diagonal\)",
    ),
    (
        "covs of wrong size",
        lambda: gj.GMM(W, M, np.ones((3, 2))),
        ValueError,
        r"covs must have shape",
    ),
    (
        "empty mixture",
        lambda: gj.GMM(np.zeros(0), np.zeros((0, 2)), np.zeros((0, 2))),
        ValueError,
        r"at least one component",
    ),
    (
        "zero-dimensional space",
        lambda: gj.GMM(np.ones(1), np.zeros((1, 0)), np.zeros((1, 0))),
        ValueError,
        r"d >= 1",
    ),
    (
        "non-numeric weights",
        lambda: gj.GMM(["a", "b"], M, C),
        TypeError,
        r"weights must be a numeric array",
    ),
    (
        "univariate with NaN variance",
        lambda: gj.GMM.univariate([1.0], [0.0], [np.nan]),
        ValueError,
        r"covs must be finite",
    ),
    # --- Gaussian construction
    (
        "Gaussian cov not symmetric",
        lambda: gj.Gaussian(np.zeros(2), np.array([[1.0, 2.0], [0.0, 1.0]])),
        ValueError,
        r"cov is not symmetric",
    ),
    (
        "Gaussian cov not PSD",
        lambda: gj.Gaussian(np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]])),
        ValueError,
        r"cov is not positive semi-definite",
    ),
    (
        "Gaussian mean NaN",
        lambda: gj.Gaussian(np.array([np.nan, 0.0]), np.eye(2)),
        ValueError,
        r"mean must be finite",
    ),
    (
        "Gaussian cov wrong shape",
        lambda: gj.Gaussian(np.zeros(2), np.eye(3)),
        ValueError,
        r"cov must have shape \(2, 2\) \(full\) or \(2,\) \(diagonal\)",
    ),
    (
        "Gaussian scalar mean",
        lambda: gj.Gaussian(np.float64(0.0), np.float64(1.0)),
        ValueError,
        r"mean must have shape \(\.\.\., d\)",
    ),
    # --- stack
    (
        "stack of nothing",
        lambda: gj.stack([]),
        ValueError,
        r"^gmms must be a non-empty sequence of GMMs",
    ),
    ("stack of a non-GMM", lambda: gj.stack([P, "x"]), TypeError, r"^gmms\[1\] must be a GMM"),
    (
        "stack of different dims",
        lambda: gj.stack([P, R3]),
        ValueError,
        r"^gmms must share one dimension; got dimensions \[2, 3\]",
    ),
    (
        "stack with too few components",
        lambda: gj.stack([P], n_components=1),
        ValueError,
        r"n_components=1 is smaller",
    ),
    (
        "stack of batched GMMs",
        lambda: gj.stack([gj.stack([P])]),
        ValueError,
        r"^gmms\[0\] must be a single GMM; got batch_shape \(1,\)",
    ),
    # --- what the constructor refuses outright
    (
        "means None",
        lambda: gj.GMM(W, None, C),
        TypeError,
        r"^means must be a numeric array; got None",
    ),
    (
        "ragged means",
        lambda: gj.GMM(W, [[0.0, 0.0], [1.0]], C),
        ValueError,
        r"^means must be a rectangular array",
    ),
    (
        "complex means",
        lambda: gj.GMM(W, M + 1j, C),
        TypeError,
        r"^means must be real; got complex",
    ),
    (
        "float16 parameters",
        lambda: gj.GMM(W.astype(np.float16), M.astype(np.float16), C.astype(np.float16)),
        TypeError,
        r"^weights has dtype float16: half precision is not supported",
    ),
    (
        "bfloat16 parameters",
        lambda: gj.GMM(jnp.asarray(W, jnp.bfloat16), M, C),
        TypeError,
        r"^weights has dtype bfloat16: half precision is not supported",
    ),
    (
        "unfitted sklearn estimator",
        lambda: gj.GMM.from_sklearn(_unfitted_sklearn()),
        ValueError,
        r"^estimator is a GaussianMixture that is not fitted yet; call its fit\(X\) first",
    ),
    # --- densities and sampling
    (
        "log_prob with wrong x dim",
        lambda: P.log_prob(np.zeros(3)),
        ValueError,
        r"x must have shape \(\.\.\., 2\)",
    ),
    (
        "sample from a batch",
        lambda: gj.stack([P, P]).sample(jax.random.key(0), 3),
        ValueError,
        r"sample needs a single GMM",
    ),
    (
        "sample with a negative size",
        lambda: P.sample(jax.random.key(0), -1),
        ValueError,
        r"^sample_shape must hold sizes >= 0; got -1",
    ),
    (
        "sample with a float size",
        lambda: P.sample(jax.random.key(0), 2.5),
        TypeError,
        r"^sample_shape must be an int or a tuple of ints; got 2.5",
    ),
    (
        "to_sklearn of a batch",
        lambda: gj.stack([P, P]).to_sklearn(),
        ValueError,
        r"to_sklearn needs a single GMM",
    ),
    # --- distances
    (
        "dimension mismatch p/q (L2)",
        lambda: gj.l2_distance(P, R3),
        ValueError,
        r"dimension mismatch: p has dim 2 but q has dim 3",
    ),
    (
        "dimension mismatch p/q (CS)",
        lambda: gj.cauchy_schwarz_divergence(P, R3),
        ValueError,
        r"dimension mismatch: p has dim 2",
    ),
    (
        "dimension mismatch p/q (overlap)",
        lambda: gj.log_gaussian_overlap(P, R3),
        ValueError,
        r"dimension mismatch",
    ),
    (
        "dimension mismatch p/q (KL)",
        lambda: gj.kl_divergence(P, R3),
        ValueError,
        r"dimension mismatch",
    ),
    (
        "dimension mismatch g0/g1",
        lambda: gj.kl_gaussian(G, G3),
        ValueError,
        r"g0 has dim 2 but g1 has dim 3",
    ),
    (
        "batch shapes that do not broadcast",
        lambda: gj.l2_distance(gj.stack([P, P]), gj.stack([P, P, P])),
        ValueError,
        r"batch shapes \(2,\) and \(3,\) do not broadcast",
    ),
    (
        "a string where a GMM is expected",
        lambda: gj.l2_distance("P", P),
        TypeError,
        r"^p must be a GMM or a Gaussian; got str",
    ),
    (
        "an array where a GMM is expected",
        lambda: gj.cauchy_schwarz_divergence(P, M),
        TypeError,
        r"^q must be a GMM or a Gaussian; got ndarray",
    ),
    (
        "a GMM where a Gaussian is expected",
        lambda: gj.kl_gaussian(G, P),
        TypeError,
        r"g1 must be a Gaussian",
    ),
    ("entropy of a GMM", lambda: gj.gaussian_entropy(P), TypeError, r"g must be a Gaussian"),
    (
        "unknown KL method",
        lambda: gj.kl_divergence(P, Q, method="exact"),
        ValueError,
        r"unknown method 'exact'; expected one of",
    ),
    (
        "KL method not a string",
        lambda: gj.kl_divergence(P, Q, method=3),
        TypeError,
        r"method must be a string",
    ),
    (
        "Monte Carlo KL without key",
        lambda: gj.kl_divergence(P, Q, method="mc"),
        ValueError,
        r'method="mc"\) needs a PRNG key',
    ),
    (
        "validate a non-distribution",
        lambda: gj.validate(M),
        TypeError,
        r"validate expects a GMM or a Gaussian",
    ),
]

# --- transport, barycenter and learner (issues 3-5): the same rules for their arguments.
TRANSPORT_CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("geodesic t > 1", lambda: gj.geodesic(P, Q, 1.5), ValueError, r"t must lie in \[0, 1\]"),
    ("geodesic t < 0", lambda: gj.geodesic(P, Q, -0.1), ValueError, r"t must lie in \[0, 1\]"),
    (
        "geodesic t NaN",
        lambda: gj.geodesic(P, Q, float("nan")),
        ValueError,
        r"t must lie in \[0, 1\]",
    ),
    (
        "interpolate t > 1",
        lambda: gj.gaussian_interpolate(G, G, 2.0),
        ValueError,
        r"t must lie in \[0, 1\]",
    ),
    (
        "epsilon = 0",
        lambda: gj.mw2_distance(P, Q, solver="sinkhorn", epsilon=0.0),
        ValueError,
        r"epsilon must be > 0",
    ),
    (
        "epsilon < 0",
        lambda: gj.mw2_distance(P, Q, solver="sinkhorn", epsilon=-1.0),
        ValueError,
        r"epsilon must be > 0",
    ),
    (
        "epsilon inf",
        lambda: gj.mw2_distance(P, Q, solver="sinkhorn", epsilon=float("inf")),
        ValueError,
        r"epsilon must be > 0 and finite; got inf",
    ),
    (
        "epsilon a string",
        lambda: gj.mw2_distance(P, Q, solver="sinkhorn", epsilon="0.1"),
        TypeError,
        r"epsilon must be a real number; got '0.1' \(str\)",
    ),
    (
        "epsilon a NumPy scalar < 0",
        lambda: gj.mw2_plan(P, Q, solver="sinkhorn", epsilon=np.float32(-1)),
        ValueError,
        r"epsilon must be > 0 and finite; got -1.0",
    ),
    (
        "pairwise epsilon a 0-d array < 0",
        lambda: gj.pairwise_distances(
            gj.stack([P]), metric="mw2_sinkhorn", epsilon=jnp.array(-1.0)
        ),
        ValueError,
        r"epsilon must be > 0 and finite; got -1.0",
    ),
    (
        "exact max_iter < 1",
        lambda: gj.mw2_distance(P, Q, max_iter=-5),
        ValueError,
        r"max_iter must be an int >= 1; got -5",
    ),
    (
        "Sinkhorn max_iter = 0",
        lambda: gj.mw2_distance(P, Q, solver="sinkhorn", max_iter=0),
        ValueError,
        r"max_iter must be an int >= 1; got 0",
    ),
    (
        "max_iter a float",
        lambda: gj.mw2_distance(P, Q, solver="sinkhorn", max_iter=10.0),
        TypeError,
        r"max_iter must be an int >= 1; got 10.0 \(float\)",
    ),
    (
        "Monte Carlo KL n_samples = 0",
        lambda: gj.kl_divergence(P, Q, method="mc", key=jax.random.key(0), n_samples=0),
        ValueError,
        r"n_samples must be an int >= 1; got 0",
    ),
    (
        "geodesic t None",
        lambda: gj.geodesic(P, Q, None),
        TypeError,
        r"t must be a real number; got None \(NoneType\)",
    ),
    (
        "pairwise block_size a bool",
        lambda: gj.pairwise_distances(gj.stack([P]), block_size=True),
        TypeError,
        r"block_size must be an int >= 1; got True \(bool\)",
    ),
    (
        "unknown solver",
        lambda: gj.mw2_distance(P, Q, solver="simplex"),
        ValueError,
        r"unknown solver 'simplex'",
    ),
    (
        "unknown exact OT method",
        lambda: gj.exact_ot(P.weights, Q.weights, np.ones((len(W), 1)), method="gpu"),
        ValueError,
        r"unknown method 'gpu'",
    ),
    (
        "exact OT negative marginal",
        lambda: gj.exact_ot(np.array([1.5, -0.5]), W, np.ones((2, 2))),
        ValueError,
        r"^a must be >= 0; a\[\(1,\)\] = -0\.5",
    ),
    (
        "exact OT marginal NaN",
        lambda: gj.exact_ot(W, np.array([np.nan, 1.0]), np.ones((2, 2))),
        ValueError,
        r"^b must be finite; b\[\(0,\)\] = nan",
    ),
    (
        "exact OT marginal all zero",
        lambda: gj.exact_ot(W, np.zeros(2), np.ones((2, 2)), method="host"),
        ValueError,
        r"^b must have a positive sum; got 0\.0",
    ),
    (
        "epsilon given to the exact host solver",
        lambda: gj.mw2_distance(P, Q, solver="exact_host", epsilon=0.1),
        ValueError,
        r"epsilon is only used by entropic solvers",
    ),
    (
        "pairwise of an empty collection",
        lambda: gj.pairwise_distances(gj.stack([P, P])[:0], gj.stack([P])),
        ValueError,
        r"^ps is an empty collection \(batch size 0\)",
    ),
    (
        "pairwise callable returning a vector",
        lambda: gj.pairwise_distances(gj.stack([P]), metric=lambda p, q: p.weights),
        ValueError,
        r"^metric must return a scalar for one pair of mixtures; it returned shape \(2,\)",
    ),
    (
        "unbalanced tau outside (0, 1]",
        lambda: gj.mw2_distance(P, Q, "sinkhorn", tau=1.5),
        ValueError,
        r"^tau must",
    ),
    (
        "unbalanced tau with the exact solver",
        lambda: gj.mw2_distance(P, Q, tau=0.5),
        ValueError,
        r'^tau \(unbalanced transport\) needs solver="sinkhorn"; got "exact"',
    ),
    (
        "unknown pairwise metric",
        lambda: gj.pairwise_distances(gj.stack([P]), metric="hellinger"),
        ValueError,
        r"metric",
    ),
    (
        "negative barycenter weights",
        lambda: gj.mw2_barycenter([P, Q], np.array([1.5, -0.5])),
        ValueError,
        r"weights",
    ),
    (
        "barycenter weights of wrong length",
        lambda: gj.mw2_barycenter([P, Q], np.ones(3) / 3),
        ValueError,
        r"weights must have shape \(2,\)",
    ),
    (
        "free-support barycenter without a size",
        lambda: gj.mw2_barycenter_free_support([P, Q], W),
        ValueError,
        r"n_components or an init",
    ),
    (
        "free-support barycenter size above the inputs'",
        lambda: gj.mw2_barycenter_free_support([P, Q], W, 4),
        ValueError,
        r"n_components=4 is more than the inputs' 3 components",
    ),
    (
        "free-support barycenter init of another size",
        lambda: gj.mw2_barycenter_free_support([P, Q], W, 1, init=P),
        ValueError,
        r"n_components=1 but init has 2 components",
    ),
    (
        "free-support barycenter init of another dimension",
        lambda: gj.mw2_barycenter_free_support([P, Q], W, init=R3),
        ValueError,
        r"init has dim 3",
    ),
    (
        "free-support barycenter init not a GMM",
        lambda: gj.mw2_barycenter_free_support([P, Q], W, init=G),
        TypeError,
        r"init must be a GMM",
    ),
    (
        "unknown barycentric projection",
        lambda: gj.mw2_barycenter_free_support([P, Q], W, 2, projection="mean"),
        ValueError,
        r"unknown projection 'mean'",
    ),
    (
        "free-support barycenter negative rtol",
        lambda: gj.mw2_barycenter_free_support([P, Q], W, 2, rtol=-1.0),
        ValueError,
        r"rtol",
    ),
    (
        "free-support barycenter n_components a float",
        lambda: gj.mw2_barycenter_free_support([P, Q], W, 2.0),
        TypeError,
        r"n_components must be an int",
    ),
    ("dimension mismatch (W2)", lambda: gj.mw2_distance(P, R3), ValueError, r"dimension mismatch"),
    (
        "transport map x of wrong dimension",
        lambda: gj.mw2_transport_map(P, Q, np.zeros((4, 3))),
        ValueError,
        r"x must have shape \(\.\.\., 2\)",
    ),
    (
        "transport map x NaN",
        lambda: gj.mw2_transport_map(P, Q, np.array([[0.0, np.nan]])),
        ValueError,
        r"x must be finite; x\[\(0, 1\)\] = nan",
    ),
    (
        "transport map unknown method",
        lambda: gj.mw2_transport_map(P, Q, np.zeros((4, 2)), method="bary"),
        ValueError,
        r"unknown method 'bary'",
    ),
    (
        "random transport map without key",
        lambda: gj.mw2_transport_map(P, Q, np.zeros((4, 2)), method="random"),
        ValueError,
        r"needs a PRNG key",
    ),
    (
        "transport map plan of wrong shape",
        lambda: gj.mw2_transport_map(P, Q, np.zeros((4, 2)), plan=np.full((2, 2), 0.25)),
        ValueError,
        r"plan must have shape \(K_p, K_q\) = \(2, 1\)",
    ),
    (
        "transport map negative plan",
        lambda: gj.mw2_transport_map(P, Q, np.zeros((4, 2)), plan=np.array([[1.5], [-0.5]])),
        ValueError,
        r"plan must be finite and >= 0",
    ),
    (
        "transport map of a batch",
        lambda: gj.mw2_transport_map(gj.stack([P, P]), Q, np.zeros((4, 2))),
        ValueError,
        r"needs single mixtures; p has batch_shape \(2,\)",
    ),
    (
        "coupling density y of wrong dimension",
        lambda: gj.mw2_coupling_density(P, Q, np.zeros((4, 2)), np.zeros(3)),
        ValueError,
        r"y must have shape \(\.\.\., 2\)",
    ),
    (
        "coupling density atol = 0",
        lambda: gj.mw2_coupling_density(P, Q, np.zeros((4, 2)), np.zeros((4, 2)), atol=0.0),
        ValueError,
        r"atol must be > 0 and finite",
    ),
    (
        "learner data with NaN",
        lambda: gj.fit_weights(
            gj.grid_basis(np.linspace(0, 1, 20), 5, t=1.0), np.array([0.0, np.nan, 1.0]), steps=2
        ),
        ValueError,
        r"x must be finite",
    ),
    ("grid basis on constant data", lambda: gj.grid_basis(np.ones(10), 5), ValueError, r"x"),
    (
        "grid basis on NaN data",
        lambda: gj.grid_basis(np.array([0.0, np.nan, 1.0]), 5),
        ValueError,
        r"x must be finite",
    ),
    (
        "grid basis t infinite",
        lambda: gj.grid_basis(np.array([0.0, 1.0]), 4, t=np.inf),
        ValueError,
        r"t must be > 0 and finite; got inf",
    ),
    (
        "learner basis with a zero variance",
        lambda: gj.fit_weights(
            gj.GMM(W, M, np.array([[1.0, 1.0], [0.0, 1.0]])), np.array([[0.0, 0.0], [1.0, 1.0]])
        ),
        ValueError,
        r"fit_weights: basis.covs\[1, 0\] = 0.0; every variance of the basis must be > 0",
    ),
    (
        "EM data with NaN",
        lambda: gj.fit_em(np.array([0.0, np.nan, 1.0]), 2, jax.random.key(0)),
        ValueError,
        r"^x must be finite; x\[\(1, 0\)\] = nan",
    ),
    (
        "EM data of rank 3",
        lambda: gj.fit_em(np.zeros((2, 2, 2)), 1, jax.random.key(0)),
        ValueError,
        r"^x must have shape \(N,\) or \(N, d\)",
    ),
    (
        "EM n_components = 0",
        lambda: gj.fit_em(np.arange(5.0), 0, jax.random.key(0)),
        ValueError,
        r"^n_components must be an int >= 1; got 0",
    ),
    (
        "EM more components than points",
        lambda: gj.fit_em(np.arange(5.0), 6, jax.random.key(0)),
        ValueError,
        r"^n_components must be <= the number of points \(5\); got 6",
    ),
    (
        "EM n_components a float",
        lambda: gj.fit_em(np.arange(5.0), 2.0, jax.random.key(0)),
        TypeError,
        r"^n_components must be an int >= 1; got 2.0 \(float\)",
    ),
    (
        "EM unknown covariance_type",
        lambda: gj.fit_em(np.arange(5.0), 2, jax.random.key(0), covariance_type="tied"),
        ValueError,
        r"^unknown covariance_type 'tied'; expected one of \('full', 'diag'\)",
    ),
    (
        "EM max_iter = 0",
        lambda: gj.fit_em(np.arange(5.0), 2, jax.random.key(0), max_iter=0),
        ValueError,
        r"^max_iter must be an int >= 1; got 0",
    ),
    (
        "EM tol = 0",
        lambda: gj.fit_em(np.arange(5.0), 2, jax.random.key(0), tol=0.0),
        ValueError,
        r"^tol must be > 0 and finite; got 0.0",
    ),
    (
        "EM reg_covar < 0",
        lambda: gj.fit_em(np.arange(5.0), 2, jax.random.key(0), reg_covar=-1e-6),
        ValueError,
        r"^reg_covar must be >= 0 and finite; got -1e-06",
    ),
    (
        "EM unknown init",
        lambda: gj.fit_em(np.arange(5.0), 2, jax.random.key(0), init="k-means"),
        ValueError,
        r"^unknown init 'k-means'; expected one of \('kmeans', 'kmeans\+\+', 'random'\)",
    ),
    (
        "EM init GMM of another size",
        lambda: gj.fit_em(np.arange(5.0), 3, None, init=gj.GMM.univariate([1.0], [0.0], [1.0])),
        ValueError,
        r"^init must have n_components=3 and dim=1",
    ),
    (
        "EM without a key",
        lambda: gj.fit_em(np.arange(5.0), 2, None),
        ValueError,
        r'^fit_em\(init="kmeans\+\+"\) needs a PRNG key',
    ),
]


def _run(call: Callable[[], Any], exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize(("what", "call", "exc", "pattern"), CASES, ids=[c[0] for c in CASES])
def test_foundation_bad_input(what, call, exc, pattern):
    _run(call, exc, pattern)


@pytest.mark.parametrize(
    ("what", "call", "exc", "pattern"), TRANSPORT_CASES, ids=[c[0] for c in TRANSPORT_CASES]
)
def test_transport_and_learner_bad_input(what, call, exc, pattern):
    _run(call, exc, pattern)


def test_messages_name_the_offending_value():
    """Values, not only names: the sum, the eigenvalue, the index."""
    with pytest.raises(ValueError, match=r"got a sum of 1\.1"):
        gj.GMM(np.array([0.5, 0.6]), M, C)
    with pytest.raises(ValueError, match=r"smallest eigenvalue -1"):
        gj.GMM(W, M, covs_with([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match=r"means\[\(0, 1\)\] = nan"):
        gj.GMM(W, np.array([[0.0, np.nan], [1.0, 1.0]]), C)


def test_weight_tolerance_is_dtype_aware():
    """float32 weights off by a few ulps are accepted; an error of 1e-3 never is."""
    w32 = np.array([0.1] * 10, np.float32)  # sums to 1 + 1e-7 in float32
    gj.GMM(w32, np.zeros((10, 1), np.float32), np.ones((10, 1), np.float32))
    with pytest.raises(ValueError, match="weights must sum to 1"):
        gj.GMM(np.array([0.5, 0.501]), M, C)


def test_shapes_are_checked_under_jit_values_are_not():
    """Documented behaviour: inside jit only shapes raise; bad values propagate as NaN."""

    @jax.jit
    def build(w, m, c):
        return gj.l2_distance(gj.GMM(w, m, c), gj.GMM(w, m, c))

    with pytest.raises(ValueError, match="weights must have shape"):
        build(jnp.ones(3) / 3, jnp.asarray(M), jnp.asarray(C))
    bad = jnp.asarray(covs_with([[1.0, 2.0], [2.0, 1.0]]))
    out = jax.jit(
        lambda c: gj.cauchy_schwarz_divergence(P, gj.GMM(jnp.asarray(W), jnp.asarray(M), c))
    )(bad)
    assert not np.isfinite(float(out))  # no exception: NaN, as the docstrings say


def test_sanity_valid_inputs_pass():
    """Guard against a catalogue whose calls would fail for any input."""
    assert P.n_components == 2 and Q.dim == 2 and R3.dim == 3 and G3.dim == 3
    assert np.isfinite(float(gj.l2_distance(P, Q)))
    assert np.isfinite(float(gj.kl_divergence(P, Q, method="mc", key=jax.random.key(0))))
    assert np.isfinite(float(gj.mw2_distance(P, Q)))
    assert gj.geodesic(P, Q, 0.5).dim == 2


def test_every_case_is_in_the_docs_table():
    from pathlib import Path

    table = (Path(__file__).parents[1] / "docs" / "bad_inputs.md").read_text()
    for what, *_ in CASES + TRANSPORT_CASES:
        assert f"| {what} |" in table, what


# --- low-rank-plus-isotropic covariances (GMM.low_rank, Gaussian.low_rank).
_LW, _LM = np.array([0.5, 0.5]), np.zeros((2, 3))
_LF, _LS = np.ones((2, 3, 1)), np.ones(2)

LOW_RANK_CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    (
        "low-rank factors of wrong shape",
        lambda: gj.GMM.low_rank(_LW, _LM, np.ones((2, 4, 1)), _LS),
        ValueError,
        r"factors must have shape \(2, 3, 'r'\) to match means \(2, 3\); got \(2, 4, 1\)",
    ),
    (
        "low-rank factors without columns",
        lambda: gj.GMM.low_rank(_LW, _LM, np.ones((2, 3, 0)), _LS),
        ValueError,
        r"factors needs r >= 1 columns",
    ),
    (
        "low-rank factors NaN",
        lambda: gj.GMM.low_rank(_LW, _LM, np.full((2, 3, 1), np.nan), _LS),
        ValueError,
        r"factors must be finite; factors\[\(0, 0, 0\)\] = nan",
    ),
    (
        "low-rank noise zero",
        lambda: gj.GMM.low_rank(_LW, _LM, _LF, np.array([1.0, 0.0])),
        ValueError,
        r"noise must be > 0; noise\[\(1,\)\] = 0",
    ),
    (
        "low-rank noise of wrong shape",
        lambda: gj.GMM.low_rank(_LW, _LM, _LF, np.ones(3)),
        ValueError,
        r"noise must have shape \(2,\) \(one variance per component\)",
    ),
    (
        "Gaussian low-rank noise negative",
        lambda: gj.Gaussian.low_rank(np.zeros(3), np.ones((3, 1)), -1.0),
        ValueError,
        r"noise must be > 0; noise = -1",
    ),
    (
        "low-rank mixture in a transport map",
        lambda: gj.mw2_transport_map(
            *[gj.GMM.low_rank(_LW, _LM, _LF, _LS)] * 2, jnp.zeros((2, _LM.shape[-1]))
        ),
        TypeError,
        r"does not take low-rank covariances.*to_dense\(\)",
    ),
]


@pytest.mark.parametrize(
    ("what", "call", "exc", "pattern"), LOW_RANK_CASES, ids=[c[0] for c in LOW_RANK_CASES]
)
def test_low_rank_bad_input(what, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_every_low_rank_case_is_in_the_docs_table():
    from pathlib import Path

    table = (Path(__file__).parents[1] / "docs" / "bad_inputs.md").read_text()
    for what, *_ in LOW_RANK_CASES:
        assert f"| {what} |" in table, what
