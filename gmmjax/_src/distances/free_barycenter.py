"""Free-support mixture barycenter with a chosen number of components, by fixed-point iteration.

The problem is eq. 17 of Chen, Georgiou & Tannenbaum (2019) restricted to mixtures of ``n``
components, the GMM-OT barycenter of Delon & Desolneux (2020, §5):

.. math::
    \\min_{p,\\ \\nu^1,\\dots,\\nu^n}\\ F = \\sum_{k=1}^L\\lambda_k\\,
    \\min_{\\pi_k\\in\\Pi(p,\\,p_k)}\\sum_{i,j}\\pi_k(i,j)\\,W_2^2(\\nu^i,\\nu_k^j).

Each iteration is a block-coordinate step (the fixed point of Tanguy, Delon & Gozlan 2024
for the Bures cost):

1. with the components fixed, the plans :math:`\\pi_k` solve the transport problems
   (eq. 9) and, in the second phase, the weights ``p`` the fixed-support LP (eq. 19);
2. with the plans fixed, every component moves to the barycentric projection of the plans:
   its mean is :math:`m^i = \\sum_{k,j}\\lambda_k\\,\\pi_k(i,j)/p_i\\; m_k^j` and its
   covariance is one of

   - ``"joint"`` (default): the Bures barycenter (eq. 16) of all input components with
     weights :math:`\\lambda_k\\pi_k(i,j)/p_i`: the exact minimiser of ``F`` over
     :math:`\\nu^i` at fixed plans, so with the exact solver ``F`` never increases;
   - ``"euclidean"`` (POT's default): the Bures barycenter over ``k`` (weights
     :math:`\\lambda_k`) of the averages :math:`\\sum_j\\pi_k(i,j)/p_i\\,\\Sigma_k^j`;
   - ``"bures"`` (POT's other choice): the same over ``k`` of the Bures barycenters of
     :math:`\\{\\Sigma_k^j\\}_j` with weights :math:`\\pi_k(i,j)/p_i`.

The first phase keeps the initial weights (POT's iteration); once ``F`` changes by at most
``rtol |F|`` between two iterations, the second phase (``update_weights=True``) also
optimises the weights, until ``F`` settles again. Optimising the weights from the start
converges to poor local minima: the LP empties the components that begin far from the
inputs before they move, so the weights wait for the components.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gmmjax._src.core.checks import check_choice, check_simplex
from gmmjax._src.core.mixture import GMM
from gmmjax._src.core.scalars import check_real, check_static_int
from gmmjax._src.distances.barycenter import _as_list
from gmmjax._src.distances.transport import mw2_distance
from gmmjax._src.kernels.bures import bures_cost
from gmmjax._src.kernels.gaussian_barycenter import barycenter_covariance
from gmmjax._src.ot.solvers import Solver, get_solver

__all__ = ["PROJECTIONS", "FreeSupportInfo", "mw2_barycenter_free_support"]

#: ``projection`` values of :func:`mw2_barycenter_free_support`.
PROJECTIONS = ("joint", "euclidean", "bures")

#: Fixed-point iterations of each Gaussian barycenter inside one step.
_INNER_ITERATIONS = 100


class FreeSupportInfo(NamedTuple):
    """Report of :func:`mw2_barycenter_free_support`.

    Attributes:
        cost: ``F`` at the returned mixture, :math:`\\sum_k\\lambda_k d(\\mu,\\mu_k)^2` with
            the exact ``d``; differentiable in the inputs at the returned mixture held
            fixed (the loop is not differentiated).
        history: ``(max_iter,)`` the objective at the start of every iteration (after the
            weight step), NaN after the last one run.
        n_iter: iterations run.
        converged: the stopping rule held before ``max_iter`` (and every Sinkhorn solve
            inside reached its threshold, for that solver).
    """

    cost: jax.Array
    history: jax.Array
    n_iter: jax.Array
    converged: jax.Array


def _default_init(gmms: list[GMM], lam: jax.Array, n: int) -> GMM:
    """The ``n`` input components of largest weight :math:`\\lambda_k p_k^j`, equal weights."""
    weights = jnp.concatenate([lam[k] * g.weights for k, g in enumerate(gmms)])
    means = jnp.concatenate([g.means for g in gmms])
    covs = jnp.concatenate([g.full_covs() for g in gmms])
    top = jnp.argsort(-weights)[:n]
    return GMM._unchecked(jnp.full(n, 1.0 / n, lam.dtype), means[top], covs[top])


def mw2_barycenter_free_support(
    gmms: Sequence[GMM] | GMM,
    weights: Any,
    n_components: int | None = None,
    *,
    init: GMM | None = None,
    projection: str = "joint",
    update_weights: bool = True,
    solver: str = "exact",
    epsilon: Any = None,
    max_iter: int = 100,
    rtol: float = 1e-10,
    return_info: bool = False,
) -> GMM | tuple[GMM, FreeSupportInfo]:
    """Barycenter of Gaussian mixtures with ``n_components`` free components (fixed point).

    .. math::
        \\mu^* \\approx \\arg\\min_{\\mu = \\sum_{i=1}^n p^i\\nu^i}\\
        \\sum_{k=1}^L\\lambda_k\\,d(\\mu,\\mu_k)^2

    A local method (Delon & Desolneux 2020; the fixed point of Tanguy, Delon & Gozlan
    2024), alternating the LP weights and transport plans with the barycentric projection
    of the components (module docstring). A separate function rather than a mode of
    :func:`gmmjax.mw2_barycenter`: that one returns the global optimum of eq. 17 over the
    eq. 18 candidates (or weights on a given, fixed support) in one LP, whereas this one is
    an iteration with a chosen size, an initial mixture and a convergence report.

    With ``projection="joint"`` and the exact solver every step decreases ``F``, so the
    result is never worse than its initial mixture (e.g. POT's
    ``ot.gmm.gmm_barycenter_fixed_point`` output). ``projection="euclidean"`` or
    ``"bures"`` with ``update_weights=False`` is the iteration of POT's function (which
    keeps uniform weights; POT's default is ``"euclidean"``). Runs under ``jit``
    (``lax.while_loop`` of fixed shapes).

    Args:
        gmms: ``L`` single mixtures of one dimension (a :class:`~gmmjax.Gaussian` counts as
            one component of weight 1), or one GMM (or Gaussian) stacked along ``(L,)``.
        weights: ``(L,)`` probability vector :math:`\\lambda` (>= 0, summing to 1).
        n_components: ``n``, an int >= 1; ``None`` (the default) takes ``init``'s count.
        init: initial mixture (any, of the inputs' dimension); ``None``: the ``n``
            input components of largest weight :math:`\\lambda_k p_k^j`, with equal
            weights.
        projection: ``"joint"`` (default), ``"euclidean"`` or ``"bures"`` (module
            docstring).
        update_weights: after the components settle, optimise the weights too (eq. 19)
            until ``F`` settles again (default ``True``); ``False`` keeps ``init``'s
            weights throughout.
        solver: the OT solver of every weight and plan step: ``"exact"`` (default),
            ``"exact_host"`` or ``"sinkhorn"``.
        epsilon: Sinkhorn regularisation > 0, or ``None`` (default: chosen from the cost
            for ``"sinkhorn"``; the exact solvers need ``None``).
        max_iter: iteration cap, an int >= 1 (default 100).
        rtol: stop when :math:`|F_{t-1} - F_t| \\le \\mathrm{rtol}\\,|F_t|`; a float >= 0
            (default 1e-10).
        return_info: also return a ``FreeSupportInfo`` (default ``False``).

    Returns:
        The barycenter (full covariances; diagonal when every input and ``init`` is), or
        ``(barycenter, info)``. Components left with weight 0 keep their last position.

    Raises:
        ValueError: both ``n_components`` and ``init`` missing, or disagreeing; ``init``
            batched or of another dimension; ``n_components`` above the inputs' total
            component count without ``init``; a bad ``weights``, ``projection``,
            ``solver``, ``epsilon``, ``max_iter`` or ``rtol``.
        TypeError: ``init`` not a GMM, ``n_components``/``max_iter`` not an int.

    Example:
        >>> p = GMM.univariate([0.5, 0.5], [-2.0, 2.0], [1.0, 1.0])
        >>> q = GMM.univariate([0.5, 0.5], [-4.0, 4.0], [1.0, 1.0])
        >>> bary = mw2_barycenter_free_support([p, q], [0.5, 0.5], 2)
        >>> sorted(bary.means[:, 0].tolist())
        [-3.0, 3.0]
    """
    gmms = _as_list(gmms)
    dtype = jnp.result_type(*[g.means for g in gmms])
    lam = jnp.asarray(weights, dtype)
    if lam.shape != (len(gmms),):
        raise ValueError(f"weights must have shape ({len(gmms)},); got {lam.shape}")
    check_simplex("weights", lam)
    check_choice("projection", projection, PROJECTIONS)
    ot_solver = get_solver(solver, epsilon, None)
    max_iter = check_static_int("max_iter", max_iter)
    rtol = check_real("rtol", rtol, low=0.0)
    n = check_static_int("n_components", n_components, allow_none=True)
    if init is None:
        if n is None:
            raise ValueError("pass n_components or an init mixture")
        total = sum(g.n_components for g in gmms)
        if n > total:
            raise ValueError(
                f"n_components={n} is more than the inputs' {total} components; pass an init"
            )
        init = _default_init(gmms, lam, n)
    else:
        if not isinstance(init, GMM):
            raise TypeError(f"init must be a GMM; got {type(init).__name__}")
        if init.batch_shape:
            raise ValueError(f"init must be a single GMM; got batch shape {init.batch_shape}")
        if init.dim != gmms[0].dim:
            raise ValueError(f"init has dim {init.dim}; gmms have dim {gmms[0].dim}")
        if n is not None and n != init.n_components:
            raise ValueError(f"n_components={n} but init has {init.n_components} components")
    diagonal = init.is_diagonal and all(g.is_diagonal for g in gmms)
    full = [GMM._unchecked(g.weights, g.means, g.full_covs()) for g in gmms]
    start = GMM._unchecked(
        jnp.asarray(init.weights, dtype), jnp.asarray(init.means, dtype), init.full_covs()
    )
    out, history, n_iter, ok = _iterate(
        jax.lax.stop_gradient(full),
        jax.lax.stop_gradient(lam),
        jax.lax.stop_gradient(start),
        ot_solver,
        projection=projection,
        update_weights=bool(update_weights),
        max_iter=max_iter,
        rtol=float(rtol),
    )
    out = jax.lax.stop_gradient(out)
    if diagonal:
        out = GMM._unchecked(out.weights, out.means, jnp.diagonal(out.covs, axis1=-2, axis2=-1))
    if not return_info:
        return out
    cost = sum(lam[k] * mw2_distance(out, g) ** 2 for k, g in enumerate(gmms))
    return out, FreeSupportInfo(cost, history, n_iter, ok)


def _projection(
    p: jax.Array,
    plans: list[jax.Array],
    gmms: list[GMM],
    lam: jax.Array,
    old: GMM,
    projection: str,
) -> tuple[jax.Array, jax.Array]:
    """The barycentric projection of the plans: new ``(means, covs)`` of the components."""
    dtype = p.dtype
    tol = 100.0 * float(jnp.finfo(dtype).eps)
    used = p > jnp.sqrt(jnp.finfo(dtype).tiny)
    cond = [plan / jnp.where(used, p, 1.0)[:, None] for plan in plans]  # rows sum to 1
    means = sum(lam[k] * c @ g.means for k, (c, g) in enumerate(zip(cond, gmms, strict=True)))
    bary = jax.vmap(
        lambda cs, w: barycenter_covariance(cs, w, "alvarez-esteban", tol, _INNER_ITERATIONS)[0]
    )
    if projection == "joint":
        covs_all = jnp.concatenate([g.covs for g in gmms])
        w_all = jnp.concatenate([lam[k] * c for k, c in enumerate(cond)], axis=1)
        covs = bary(jnp.broadcast_to(covs_all, (len(p), *covs_all.shape)), w_all)
    else:
        if projection == "euclidean":
            selected = [
                jnp.einsum("ij,jab->iab", c, g.covs) for c, g in zip(cond, gmms, strict=True)
            ]
        else:  # "bures"
            selected = [
                bary(jnp.broadcast_to(g.covs, (len(p), *g.covs.shape)), c)
                for c, g in zip(cond, gmms, strict=True)
            ]
        covs = bary(jnp.stack(selected, axis=1), jnp.broadcast_to(lam, (len(p), len(gmms))))
    means = jnp.where(used[:, None], means, old.means)
    covs = jnp.where(used[:, None, None], covs, old.covs)
    return means, covs


@functools.partial(jax.jit, static_argnames=("projection", "update_weights", "max_iter", "rtol"))
def _iterate(
    gmms: list[GMM],
    lam: jax.Array,
    start: GMM,
    ot_solver: Solver,
    *,
    projection: str,
    update_weights: bool,
    max_iter: int,
    rtol: float,
) -> tuple[GMM, jax.Array, jax.Array, jax.Array]:
    """The fixed-point loop of :func:`mw2_barycenter_free_support`, one compiled program."""
    marginals = [g.weights / jnp.sum(g.weights) for g in gmms]
    dtype = lam.dtype

    def settled(previous: jax.Array, objective: jax.Array) -> jax.Array:
        return jnp.abs(previous - objective) <= rtol * jnp.abs(objective)

    def step(state: tuple) -> tuple:
        mix, it, previous, objective, history, ok, weighted = state
        # Second phase: once the components settle at the initial weights, optimise those too.
        weighted = weighted | (update_weights & settled(previous, objective))
        costs = [bures_cost(mix, g) for g in gmms]
        if update_weights:
            p, ok_p = jax.lax.cond(
                weighted,
                lambda: ot_solver.fixed_barycenter(costs, marginals, lam)[:3:2],
                lambda: (mix.weights, jnp.asarray(True)),
            )
            ok = ok & ok_p
        else:
            p = mix.weights
        results = [ot_solver.transport(p, m, c) for m, c in zip(marginals, costs, strict=True)]
        new_objective = sum(lam[k] * r.cost for k, r in enumerate(results))
        ok = ok & jnp.all(jnp.stack([r.converged for r in results]))
        means, covs = _projection(p, [r.plan for r in results], gmms, lam, mix, projection)
        history = history.at[it].set(new_objective)
        mix = GMM._unchecked(p, means, covs)
        return mix, it + 1, objective, new_objective, history, ok, weighted

    def done(state: tuple) -> jax.Array:
        _, _, previous, objective, _, _, weighted = state
        return settled(previous, objective) & (weighted | (not update_weights))

    def keep_going(state: tuple) -> jax.Array:
        return (state[1] < max_iter) & ~done(state)

    start = GMM._unchecked(start.weights / jnp.sum(start.weights), start.means, start.covs)
    nan = jnp.asarray(jnp.nan, dtype)
    history = jnp.full(max_iter, jnp.nan, dtype)
    state = (start, jnp.asarray(0), nan, nan, history, jnp.asarray(True), jnp.asarray(False))
    state = jax.lax.while_loop(keep_going, step, step(state))
    mix, it, _, _, history, ok, _ = state
    return mix, history, it.astype(jnp.int32), done(state) & ok
