"""Maximum-likelihood mixtures by expectation–maximisation, one compiled ``lax.while_loop``.

References:
    A. P. Dempster, N. M. Laird, D. B. Rubin, "Maximum likelihood from incomplete data via
    the EM algorithm", J. R. Stat. Soc. B 39 (1977): the algorithm and its monotone
    likelihood.

    C. M. Bishop, *Pattern Recognition and Machine Learning* (2006), §9.2.2: the E and M steps
    for Gaussian mixtures (Eqs. 9.23–9.27).

    D. Arthur, S. Vassilvitskii, "k-means++: the advantages of careful seeding" (SODA 2007):
    the :math:`D^2` seeding of the means.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gmmjax._src.core.checks import check_choice
from gmmjax._src.core.densities import component_log_densities, log_posteriors
from gmmjax._src.core.mixture import GMM
from gmmjax._src.core.scalars import check_real, check_static_int
from gmmjax._src.learner.grid import as_points

__all__ = ["COVARIANCE_TYPES", "EMResult", "fit_em"]

COVARIANCE_TYPES = ("full", "diag")
_INITS = ("kmeans++", "random")


class EMResult(NamedTuple):
    """What :func:`fit_em` returns (a pytree: it passes through ``jit`` and ``vmap``).

    Attributes:
        gmm: the fitted mixture (the parameters after the last M step).
        log_likelihood: ``(max_iter,)`` mean log-likelihood per sample, entry ``i`` for the
            parameters after ``i`` M steps (entry 0: the initial parameters), computed by the
            E step of iteration ``i + 1``; NaN after the iterations that were run.
        n_iter: number of EM iterations run (int array).
        converged: whether two successive entries of ``log_likelihood`` came within ``tol``
            (bool array).
    """

    gmm: GMM
    log_likelihood: jax.Array
    n_iter: jax.Array
    converged: jax.Array


def _m_step(
    x: jax.Array, resp: jax.Array, reg_covar: jax.Array, diagonal: bool
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Weights, means and (floored) covariances from ``(N, K)`` responsibilities."""
    nk = jnp.sum(resp, axis=0) + 10.0 * jnp.finfo(x.dtype).eps  # an empty component stays finite
    weights = nk / jnp.sum(nk)
    means = (resp.T @ x) / nk[:, None]
    diff = x[:, None, :] - means[None, :, :]  # (N, K, d)
    eye = jnp.eye(x.shape[1], dtype=x.dtype)
    if diagonal:
        covs = jnp.einsum("nk,nkd->kd", resp, diff**2) / nk[:, None] + reg_covar
    else:
        covs = jnp.einsum("nk,nki,nkj->kij", resp, diff, diff) / nk[:, None, None]
        covs = covs + reg_covar * eye
    return weights, means, covs


def _e_step(x: jax.Array, params: tuple[jax.Array, ...]) -> tuple[jax.Array, jax.Array]:
    """``(N, K)`` responsibilities and the mean log-likelihood per sample."""
    weights, means, covs = params
    log_r, log_p = log_posteriors(component_log_densities(x, means, covs), weights)
    return jnp.exp(log_r), jnp.mean(log_p)


def _kmeans_plusplus(x: jax.Array, k: int, key: jax.Array) -> jax.Array:
    """``(K, d)`` centres by :math:`D^2` seeding (Arthur and Vassilvitskii 2007)."""
    n = x.shape[0]
    keys = jax.random.split(key, k)
    first = x[jax.random.randint(keys[0], (), 0, n)]
    centres = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(first)
    d2 = jnp.sum((x - first) ** 2, axis=1)

    def pick(j: int, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        centres, d2 = carry
        total = jnp.sum(d2)
        p = jnp.where(total > 0, d2 / jnp.where(total > 0, total, 1.0), 1.0 / n)
        c = x[jax.random.choice(keys[j], n, p=p)]
        return centres.at[j].set(c), jnp.minimum(d2, jnp.sum((x - c) ** 2, axis=1))

    return jax.lax.fori_loop(1, k, pick, (centres, d2))[0]


def initial_parameters(
    x: jax.Array, k: int, key: jax.Array, init: str, reg_covar: Any, diagonal: bool
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The start of :func:`fit_em` for a string ``init``: one M step from starting responsibilities.

    ``"random"``: uniform random responsibilities, normalised per point. ``"kmeans++"``: hard
    assignments to the nearest of ``k`` centres seeded by :func:`_kmeans_plusplus`.
    """
    if init == "random":
        r = jax.random.uniform(key, (x.shape[0], k), x.dtype)
        resp = r / jnp.sum(r, axis=1, keepdims=True)
    else:
        centres = _kmeans_plusplus(x, k, key)
        d2 = jnp.sum(x**2, axis=1)[:, None] - 2.0 * x @ centres.T + jnp.sum(centres**2, axis=1)
        resp = jax.nn.one_hot(jnp.argmin(d2, axis=1), k, dtype=x.dtype)
    return _m_step(x, resp, jnp.asarray(reg_covar, x.dtype), diagonal)


@functools.partial(jax.jit, static_argnames=("k", "diagonal", "max_iter", "init"))
def _fit(
    x: jax.Array,
    key: jax.Array,
    start: tuple[jax.Array, ...] | None,
    tol: jax.Array,
    reg_covar: jax.Array,
    *,
    k: int,
    diagonal: bool,
    max_iter: int,
    init: str,
) -> EMResult:
    tol = jnp.asarray(tol, x.dtype)
    reg_covar = jnp.asarray(reg_covar, x.dtype)
    if start is None:
        start = initial_parameters(x, k, key, init, reg_covar, diagonal)

    def keep_going(carry: tuple) -> jax.Array:
        i, _, _, converged, _ = carry
        return (i < max_iter) & ~converged

    def step(carry: tuple) -> tuple:
        i, params, previous, _, history = carry
        resp, ll = _e_step(x, params)
        params = _m_step(x, resp, reg_covar, diagonal)
        return i + 1, params, ll, jnp.abs(ll - previous) < tol, history.at[i].set(ll)

    history = jnp.full((max_iter,), jnp.nan, x.dtype)
    carry = (jnp.asarray(0), start, jnp.asarray(-jnp.inf, x.dtype), jnp.asarray(False), history)
    n_iter, params, _, converged, history = jax.lax.while_loop(keep_going, step, carry)
    return EMResult(GMM._unchecked(*params), history, n_iter, converged)


def _start_from(init: GMM, k: int, d: int, diagonal: bool, dtype: Any) -> tuple[jax.Array, ...]:
    if init.batch_shape:
        raise ValueError(f"init must be a single GMM; got batch_shape {init.batch_shape}")
    if init.n_components != k or init.dim != d:
        raise ValueError(
            f"init must have n_components={k} and dim={d} to match the call; "
            f"got n_components={init.n_components}, dim={init.dim}"
        )
    if init.is_diagonal != diagonal:
        kind = "diagonal" if init.is_diagonal else "full"
        raise ValueError(f"init has {kind} covariances but covariance_type is not {kind!r}")
    return tuple(a.astype(dtype) for a in (init.weights, init.means, init.covs))


def fit_em(
    x: Any,
    n_components: int,
    key: jax.Array | None,
    *,
    covariance_type: str = "full",
    max_iter: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    init: str | GMM = "kmeans++",
) -> EMResult:
    """Fit a Gaussian mixture by expectation–maximisation (Dempster, Laird and Rubin 1977).

    Each iteration alternates the two steps of Bishop (2006), §9.2.2. E step: the
    responsibilities and the mean log-likelihood under the current parameters,

    .. math::
        r_{nk} = \\frac{w_k\\,\\mathcal N(x_n\\mid\\mu_k,\\Sigma_k)}
            {\\sum_j w_j\\,\\mathcal N(x_n\\mid\\mu_j,\\Sigma_j)}, \\qquad
        \\ell = \\frac1N \\sum_n \\log \\sum_j w_j\\,\\mathcal N(x_n\\mid\\mu_j,\\Sigma_j)

    (in log space, see :meth:`GMM.log_responsibilities <gmmjax.GMM.log_responsibilities>`).
    M step: with :math:`N_k = \\sum_n r_{nk}`,

    .. math::
        w_k = \\frac{N_k}{N}, \\qquad \\mu_k = \\frac1{N_k}\\sum_n r_{nk} x_n, \\qquad
        \\Sigma_k = \\frac1{N_k}\\sum_n r_{nk}(x_n-\\mu_k)(x_n-\\mu_k)^T + \\lambda I

    (diagonal: only the diagonal of the sum), where :math:`\\lambda` = ``reg_covar`` is a floor
    that keeps every covariance positive definite (as in scikit-learn's ``GaussianMixture``,
    whose fits this reproduces from the same start). :math:`N_k` gets ``10 * eps`` added so an
    empty component stays finite. The loop stops after ``max_iter`` iterations or once
    :math:`|\\ell_i - \\ell_{i-1}| <` ``tol``.

    The start: ``"kmeans++"`` seeds ``n_components`` centres by :math:`D^2` sampling (Arthur
    and Vassilvitskii 2007), assigns every point to its nearest centre and takes one M step
    from these hard responsibilities; ``"random"`` takes one M step from uniform random
    responsibilities (normalised per point); a :class:`~gmmjax.GMM` is used as the start
    itself (its covariance kind must match ``covariance_type``).

    Everything runs in one compiled ``lax.while_loop`` with fixed shapes, so ``fit_em`` works
    under ``jax.jit`` and ``jax.vmap``: ``jax.vmap(lambda x, k: fit_em(x, 4, k))(xs, keys)``
    fits many data sets at once (each stops updating when it converges). ``n_components``,
    ``covariance_type``, ``max_iter`` and a string ``init`` are static; ``x``, ``key``,
    ``tol``, ``reg_covar`` and a GMM ``init`` may be traced. Under a transformation the value
    checks cannot run: non-finite data give NaN parameters, an invalid ``tol`` never
    converges, an invalid ``reg_covar`` gives NaN.

    Args:
        x: ``(N,)`` or ``(N, d)`` finite data.
        n_components: number of components ``K``, ``1 <= K <= N``.
        key: PRNG key for the start; ignored (may be None) when ``init`` is a GMM.
        covariance_type: ``"full"`` (``(K, d, d)``) or ``"diag"`` (``(K, d)`` variances).
        max_iter: maximum number of EM iterations (>= 1; the length of the history).
        tol: stop once the mean log-likelihood per sample changes by less (> 0).
        reg_covar: added to the diagonal of every covariance in every M step (>= 0).
        init: ``"kmeans++"``, ``"random"`` or a starting :class:`~gmmjax.GMM`.

    Returns:
        :class:`EMResult` with ``.gmm``, ``.log_likelihood`` (``(max_iter,)``, NaN-padded),
        ``.n_iter`` and ``.converged``.

    Raises:
        TypeError: ``n_components`` or ``max_iter`` not an int, ``tol`` or ``reg_covar`` not
            a real number, ``covariance_type`` or ``init`` of the wrong kind.
        ValueError: ``x`` not finite or of the wrong rank, ``n_components`` out of range, an
            unknown ``covariance_type`` or ``init``, ``max_iter < 1``, ``tol <= 0``,
            ``reg_covar < 0``, a missing ``key``, or an ``init`` GMM that does not match.

    Example:
        >>> x = jnp.concatenate([jnp.zeros(50) - 2.0, jnp.zeros(50) + 2.0])
        >>> x = x + 0.1 * jax.random.normal(jax.random.key(0), (100,))
        >>> fit = fit_em(x, 2, jax.random.key(1), max_iter=20)
        >>> sorted(fit.gmm.means[:, 0].round(1).tolist()), bool(fit.converged)
        ([-2.0, 2.0], True)
    """
    x = as_points(x)
    n, d = x.shape
    k = check_static_int("n_components", n_components)
    if k > n:
        raise ValueError(f"n_components must be <= the number of points ({n}); got {k}")
    diagonal = check_choice("covariance_type", covariance_type, COVARIANCE_TYPES) == "diag"
    max_iter = check_static_int("max_iter", max_iter)
    tol = check_real("tol", tol, low=0.0, low_open=True)
    reg_covar = check_real("reg_covar", reg_covar, low=0.0)
    start = None
    if isinstance(init, GMM):
        start = _start_from(init, k, d, diagonal, x.dtype)
        init_name = "kmeans++"
    else:
        init_name = check_choice("init", init, _INITS)
        if key is None:
            raise ValueError(f'fit_em(init="{init_name}") needs a PRNG key: pass jax.random.key(0)')
    if key is None:
        key = jax.random.key(0)
    return _fit(
        x, key, start, tol, reg_covar, k=k, diagonal=diagonal, max_iter=max_iter, init=init_name
    )
