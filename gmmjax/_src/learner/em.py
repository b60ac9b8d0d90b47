"""Maximum-likelihood mixtures by expectation–maximisation, one compiled ``lax.while_loop``.

References:
    A. P. Dempster, N. M. Laird, D. B. Rubin, "Maximum likelihood from incomplete data via
    the EM algorithm", J. R. Stat. Soc. B 39 (1977): the algorithm and its monotone
    likelihood.

    C. M. Bishop, *Pattern Recognition and Machine Learning* (2006), §9.2.2: the E and M steps
    for Gaussian mixtures (Eqs. 9.23–9.27).

    D. Arthur, S. Vassilvitskii, "k-means++: the advantages of careful seeding" (SODA 2007),
    and S. P. Lloyd, "Least squares quantization in PCM" (1982): the k-means starts
    (:mod:`gmmjax._src.learner.kmeans`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.core.checks import check_choice
from gmmjax._src.core.densities import component_log_densities, log_posteriors
from gmmjax._src.core.mixture import GMM
from gmmjax._src.core.scalars import check_real, check_static_int
from gmmjax._src.learner.grid import as_points
from gmmjax._src.learner.kmeans import kmeans, kmeans_plusplus, nearest_centres

__all__ = ["COVARIANCE_TYPES", "EMResult", "fit_em"]

COVARIANCE_TYPES = ("full", "diag")
_INITS = ("kmeans", "kmeans++", "random")


class EMResult(NamedTuple):
    """What :func:`fit_em` returns (a pytree: it passes through ``jit`` and ``vmap``).

    With ``n_init > 1`` every field but ``start_log_likelihoods`` describes the winning start.

    Attributes:
        gmm: the fitted mixture (the parameters after the last M step).
        log_likelihood: ``(max_iter,)`` mean log-likelihood per sample, entry ``i`` for the
            parameters after ``i`` M steps (entry 0: the initial parameters), computed by the
            E step of iteration ``i + 1``; NaN after the iterations that were run.
        n_iter: number of EM iterations run (int array).
        converged: whether two successive entries of ``log_likelihood`` came within ``tol``
            (bool array).
        mean_log_likelihood: the mean log-likelihood per sample of ``gmm`` itself (after the
            last M step; what scikit-learn's ``GaussianMixture.score`` reports).
        best_start: index of the winning start in ``0 .. n_init - 1`` (int array).
        start_log_likelihoods: ``(n_init,)`` final mean log-likelihood of every start.
    """

    gmm: GMM
    log_likelihood: jax.Array
    n_iter: jax.Array
    converged: jax.Array
    mean_log_likelihood: jax.Array
    best_start: jax.Array
    start_log_likelihoods: jax.Array


def _m_step(
    x: jax.Array, resp: jax.Array, reg_covar: jax.Array, diagonal: bool
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Weights, means and (floored) covariances from ``(N, K)`` responsibilities.

    Memory :math:`O(NKd)`: the centred points are weighted first, then contracted over ``N``.
    """
    nk = jnp.sum(resp, axis=0) + 10.0 * jnp.finfo(x.dtype).eps  # an empty component stays finite
    weights = nk / jnp.sum(nk)
    means = (resp.T @ x) / nk[:, None]
    diff = x[:, None, :] - means[None, :, :]  # (N, K, d)
    weighted = resp[:, :, None] * diff
    if diagonal:
        return weights, means, jnp.sum(weighted * diff, axis=0) / nk[:, None] + reg_covar
    covs = jnp.einsum("nki,nkj->kij", weighted, diff) / nk[:, None, None]
    return weights, means, covs + reg_covar * jnp.eye(x.shape[1], dtype=x.dtype)


def _e_step(x: jax.Array, params: tuple[jax.Array, ...]) -> tuple[jax.Array, jax.Array]:
    """``(N, K)`` responsibilities and the mean log-likelihood per sample."""
    weights, means, covs = params
    log_r, log_p = log_posteriors(component_log_densities(x, means, covs), weights)
    return jnp.exp(log_r), jnp.mean(log_p)


def initial_parameters(
    x: jax.Array, k: int, key: jax.Array, init: str, reg_covar: Any, diagonal: bool
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The start of :func:`fit_em` for a string ``init``: one M step from starting responsibilities.

    ``"random"``: uniform random responsibilities, normalised per point. ``"kmeans++"``: hard
    assignments to the nearest of ``k`` centres drawn by plain :math:`D^2` seeding
    (:func:`~gmmjax._src.learner.kmeans.kmeans_plusplus` with one candidate per centre).
    ``"kmeans"``: hard assignments of a full k-means run (greedy seeding, then Lloyd
    iterations; :func:`~gmmjax._src.learner.kmeans.kmeans`), scikit-learn's default start.
    """
    if init == "random":
        r = jax.random.uniform(key, (x.shape[0], k), x.dtype)
        resp = r / jnp.sum(r, axis=1, keepdims=True)
    else:
        if init == "kmeans":
            labels = kmeans(x, k, key).labels
        else:
            labels = nearest_centres(x, kmeans_plusplus(x, k, key, n_local_trials=1))[0]
        resp = jax.nn.one_hot(labels, k, dtype=x.dtype)
    return _m_step(x, resp, jnp.asarray(reg_covar, x.dtype), diagonal)


def _print_progress(iteration: Any, log_likelihood: Any) -> None:
    """The ``verbose=True`` progress line: iteration and every start's mean log-likelihood."""
    values = " ".join(f"{v:.6f}" for v in np.atleast_1d(np.asarray(log_likelihood)))
    print(f"EM iteration {int(iteration)}: mean log-likelihood {values}", flush=True)


def _select(tree: Any, index: jax.Array) -> Any:
    return jax.tree_util.tree_map(lambda a: a[index], tree)


@functools.partial(jax.jit, static_argnames=("k", "diagonal", "max_iter", "init", "callbacks"))
def _fit(
    x: jax.Array,
    keys: jax.Array,
    start: tuple[jax.Array, ...] | None,
    tol: jax.Array,
    reg_covar: jax.Array,
    *,
    k: int,
    diagonal: bool,
    max_iter: int,
    init: str,
    callbacks: tuple[Callable[..., Any], ...],
) -> EMResult:
    tol = jnp.asarray(tol, x.dtype)
    reg_covar = jnp.asarray(reg_covar, x.dtype)
    if start is None:
        start = jax.vmap(lambda key: initial_parameters(x, k, key, init, reg_covar, diagonal))(keys)
    else:
        start = jax.tree_util.tree_map(lambda a: a[None], start)
    n_starts = start[0].shape[0]
    e_step = jax.vmap(_e_step, in_axes=(None, 0))
    m_step = jax.vmap(_m_step, in_axes=(None, 0, None, None))

    def keep_going(carry: tuple) -> jax.Array:
        i, _, _, done, _, _ = carry
        return (i < max_iter) & ~jnp.all(done)

    def step(carry: tuple) -> tuple:
        i, params, previous, done, n_iter, history = carry
        resp, ll = e_step(x, params)
        new = m_step(x, resp, reg_covar, diagonal)
        active = ~done  # a converged start keeps its parameters while the others go on
        params = jax.tree_util.tree_map(
            lambda old, upd: jnp.where(active.reshape((-1,) + (1,) * (old.ndim - 1)), upd, old),
            params,
            new,
        )
        ll = jnp.where(active, ll, jnp.nan)
        for callback in callbacks:
            jax.debug.callback(callback, i + 1, ll)
        done = done | (jnp.abs(ll - previous) < tol)
        return (
            i + 1,
            params,
            jnp.where(active, ll, previous),
            done,
            n_iter + active,
            history.at[:, i].set(ll),
        )

    carry = (
        jnp.asarray(0),
        start,
        jnp.full((n_starts,), -jnp.inf, x.dtype),
        jnp.zeros((n_starts,), bool),
        jnp.zeros((n_starts,), jnp.int32),
        jnp.full((n_starts, max_iter), jnp.nan, x.dtype),
    )
    _, params, _, converged, n_iter, history = jax.lax.while_loop(keep_going, step, carry)
    final = e_step(x, params)[1]
    best = jnp.argmax(jnp.where(jnp.isnan(final), -jnp.inf, final))
    gmm = GMM._unchecked(*_select(params, best))
    return EMResult(gmm, history[best], n_iter[best], converged[best], final[best], best, final)


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
    n_init: int = 1,
    callback: Callable[[Any, Any], Any] | None = None,
    verbose: bool = False,
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
    :math:`|\\ell_i - \\ell_{i-1}| <` ``tol`` (scikit-learn's rule and default ``tol``: the
    change of the mean log-likelihood per sample between two E steps).

    The start: ``"kmeans"`` (scikit-learn's default start) runs k-means, greedy :math:`D^2`
    seeding (Arthur and Vassilvitskii 2007) then Lloyd (1982) iterations until no label
    changes, and takes one M step from the hard assignments; ``"kmeans++"`` assigns every
    point to the nearest of ``n_components`` centres drawn by plain :math:`D^2` seeding and
    takes one M step from these hard responsibilities (no Lloyd iterations); ``"random"``
    takes one M step from uniform random responsibilities (normalised per point); a
    :class:`~gmmjax.GMM` is used as the start itself (its covariance kind must match
    ``covariance_type``). With ``n_init > 1``, ``n_init`` starts drawn from
    ``jax.random.split(key, n_init)`` run side by side in the same compiled loop (each stops
    updating when it converges) and the one with the highest final mean log-likelihood is
    returned. The default start stays ``"kmeans++"`` with one start, the fastest; pass
    ``init="kmeans", n_init=3`` for fits on a par with ``GaussianMixture(n_init=3)``.

    Everything runs in one compiled ``lax.while_loop`` with fixed shapes (memory
    :math:`O(n_\\text{init} N K d)`, nothing of size :math:`N d^2`), so ``fit_em`` works
    under ``jax.jit`` and ``jax.vmap``: ``jax.vmap(lambda x, k: fit_em(x, 4, k))(xs, keys)``
    fits many data sets at once. ``n_components``, ``covariance_type``, ``max_iter``,
    ``n_init``, ``callback``, ``verbose`` and a string ``init`` are static; ``x``, ``key``,
    ``tol``, ``reg_covar`` and a GMM ``init`` may be traced. Under a transformation the value
    checks cannot run: non-finite data give NaN parameters, an invalid ``tol`` never
    converges, an invalid ``reg_covar`` gives NaN.

    Args:
        x: ``(N,)`` or ``(N, d)`` finite data.
        n_components: number of components ``K``, ``1 <= K <= N``.
        key: PRNG key for the starts; ignored (may be None) when ``init`` is a GMM.
        covariance_type: ``"full"`` (``(K, d, d)``) or ``"diag"`` (``(K, d)`` variances).
        max_iter: maximum number of EM iterations (>= 1; the length of the history).
        tol: stop once the mean log-likelihood per sample changes by less (> 0).
        reg_covar: added to the diagonal of every covariance in every M step (>= 0).
        init: ``"kmeans"``, ``"kmeans++"``, ``"random"`` or a starting :class:`~gmmjax.GMM`.
        n_init: number of starts (>= 1; 1 when ``init`` is a GMM).
        callback: called after every E step as ``callback(iteration, log_likelihood)`` with
            the iteration (1-based) and the ``(n_init,)`` mean log-likelihoods (NaN for
            starts that have converged), through ``jax.debug.callback``, so also under
            ``jit``; a new function object recompiles.
        verbose: print that progress line after every E step.

    Returns:
        :class:`EMResult` with ``.gmm``, ``.log_likelihood`` (``(max_iter,)``, NaN-padded),
        ``.n_iter``, ``.converged``, ``.mean_log_likelihood``, ``.best_start`` and
        ``.start_log_likelihoods``.

    Raises:
        TypeError: ``n_components``, ``max_iter`` or ``n_init`` not an int, ``tol`` or
            ``reg_covar`` not a real number, ``covariance_type`` or ``init`` of the wrong
            kind, ``callback`` not callable.
        ValueError: ``x`` not finite or of the wrong rank, ``n_components`` out of range, an
            unknown ``covariance_type`` or ``init``, ``max_iter < 1``, ``n_init < 1`` (or
            ``> 1`` with a GMM ``init``), ``tol <= 0``, ``reg_covar < 0``, a missing
            ``key``, or an ``init`` GMM that does not match.

    Example:
        >>> x = jnp.concatenate([jnp.zeros(50) - 2.0, jnp.zeros(50) + 2.0])
        >>> x = x + 0.1 * jax.random.normal(jax.random.key(0), (100,))
        >>> fit = fit_em(x, 2, jax.random.key(1), max_iter=20)
        >>> sorted(fit.gmm.means[:, 0].round(1).tolist()), bool(fit.converged)
        ([-2.0, 2.0], True)
        >>> best = fit_em(x, 2, jax.random.key(1), init="kmeans", n_init=3)
        >>> best.start_log_likelihoods.shape, bool(best.converged)
        ((3,), True)
    """
    x = as_points(x)
    n, d = x.shape
    k = check_static_int("n_components", n_components)
    if k > n:
        raise ValueError(f"n_components must be <= the number of points ({n}); got {k}")
    diagonal = check_choice("covariance_type", covariance_type, COVARIANCE_TYPES) == "diag"
    max_iter = check_static_int("max_iter", max_iter)
    n_init = check_static_int("n_init", n_init)
    tol = check_real("tol", tol, low=0.0, low_open=True)
    reg_covar = check_real("reg_covar", reg_covar, low=0.0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None; got {type(callback).__name__}")
    callbacks = ((_print_progress,) if verbose else ()) + (
        (callback,) if callback is not None else ()
    )
    start = None
    if isinstance(init, GMM):
        if n_init != 1:
            raise ValueError(f"n_init must be 1 when init is a GMM (one start); got {n_init}")
        start = _start_from(init, k, d, diagonal, x.dtype)
        init_name = "kmeans++"
    else:
        init_name = check_choice("init", init, _INITS)
        if key is None:
            raise ValueError(f'fit_em(init="{init_name}") needs a PRNG key: pass jax.random.key(0)')
    if key is None:
        key = jax.random.key(0)
    keys = key[None] if n_init == 1 else jax.random.split(key, n_init)
    return _fit(
        x,
        keys,
        start,
        tol,
        reg_covar,
        k=k,
        diagonal=diagonal,
        max_iter=max_iter,
        init=init_name,
        callbacks=callbacks,
    )
