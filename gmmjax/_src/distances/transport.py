"""Optimal transport between Gaussian mixtures (seed 001, §III): distance, plan, geodesic.

A mixture :math:`\\mu = \\sum_i p^i\\nu^i` is read as a discrete measure on the Wasserstein
space of Gaussians. The distance of seed 001 is the discrete OT problem (eq. 9) with the
Bures cost :math:`c(i,j) = W_2(\\nu_0^i, \\nu_1^j)^2` (:func:`gmmjax.bures_cost_matrix`):

.. math::
    d(\\mu_0,\\mu_1)^2 = \\min_{\\pi\\in\\Pi(p_0,p_1)} \\sum_{ij} c(i,j)\\,\\pi(i,j)
    \\qquad\\text{(eq. 10)},

a metric (Theorem 1) whose geodesics stay mixtures (eq. 11, Theorem 2). The LP is solved
exactly (:func:`gmmjax._lp.exact_ot`) or entropically through OTT (:func:`gmmjax._lp.sinkhorn_ot`).

This module also registers ``"ot_bound"`` in :data:`gmmjax.KL_METHODS`: the same LP with
Gaussian KL costs, an upper bound on the mixture KL.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gmmjax._bures import (
    _bures_matrix_single,
    _check_gmms,
    _full_factor,
    _mT,
    _sym,
    polar_factor,
    safe_sqrt,
)
from gmmjax._checks import check_choice, check_positive, check_unit_interval, is_concrete
from gmmjax._kl import KL_METHODS, component_kl_matrix
from gmmjax._lift import map_pairs
from gmmjax._lp import OTResult, exact_ot, sinkhorn_ot
from gmmjax._mixture import GMM

__all__ = ["geodesic", "mw2_distance", "mw2_plan"]

SOLVERS = ("exact", "sinkhorn")


def solve_ot(
    a: jax.Array,
    b: jax.Array,
    cost: jax.Array,
    solver: str,
    epsilon: float | None,
    max_iter: int | None,
) -> OTResult:
    """Run the chosen discrete OT solver on one problem (zero weights allowed)."""
    if solver == "exact":
        return exact_ot(a, b, cost, **({} if max_iter is None else {"max_iter": max_iter}))
    # Zero weights: OTT's log-domain backward pass produces NaN for the exactly-zero entries;
    # routing them through ``where`` keeps the forward value and zeroes that cotangent.
    a = jnp.where(a > 0, a, 0.0)
    b = jnp.where(b > 0, b, 0.0)
    return sinkhorn_ot(
        a, b, cost, epsilon=epsilon, **({} if max_iter is None else {"max_iter": max_iter})
    )


def _check_solver(solver: str, epsilon: Any) -> None:
    check_choice("solver", solver, SOLVERS)
    if solver == "exact" and epsilon is not None:
        raise ValueError('epsilon is only used by solver="sinkhorn"; leave it None for "exact"')
    check_positive("epsilon", epsilon)


def _plan_pair(
    p: GMM, q: GMM, solver: str, epsilon: float | None, max_iter: int | None
) -> OTResult:
    cost = _bures_matrix_single(p, q)
    return solve_ot(p.weights, q.weights, cost, solver, epsilon, max_iter)


def _raise_if_failed(res: OTResult, solver: str) -> None:
    if solver == "exact" and is_concrete(res.converged) and not bool(jnp.all(res.converged)):
        raise RuntimeError(
            "the exact OT solver hit its iteration limit before optimality; pass a larger max_iter"
        )


def mw2_plan(
    p: GMM,
    q: GMM,
    solver: str = "exact",
    epsilon: float | None = None,
    *,
    max_iter: int | None = None,
    return_info: bool = False,
) -> jax.Array | tuple[jax.Array, OTResult]:
    """Optimal coupling :math:`\\pi^*` of the components of two mixtures (seed 001, eq. 9).

    .. math::
        \\pi^* = \\arg\\min_{\\pi\\in\\Pi(p_0,p_1)}\\sum_{ij}
        W_2(\\nu_0^i,\\nu_1^j)^2\\,\\pi(i,j)

    Args:
        p, q: mixtures of one dimension; batch axes broadcast. Zero-weight (padding)
            components get zero rows/columns and change nothing else.
        solver: ``"exact"`` (network simplex, exact LP) or ``"sinkhorn"`` (OTT, entropic).
        epsilon: Sinkhorn regularisation (``None``: OTT's default); must be ``None`` for
            ``"exact"``.
        max_iter: solver iteration cap (default 100000 exact, 2000 Sinkhorn).
        return_info: also return the solver's :class:`~gmmjax._lp.OTResult` (``cost``,
            ``converged``, ``n_iters``, potentials).

    Returns:
        ``batch_shape + (K_p, K_q)``, or ``(plan, info)``.

    Raises:
        ValueError: unknown ``solver``, ``epsilon`` given to the exact solver or not > 0.
        RuntimeError: when the exact solver stops at ``max_iter`` (eagerly; under ``jit``
            read ``info.converged``).

    Example:
        >>> p = GMM.univariate([0.5, 0.5], [0.0, 5.0], [1.0, 1.0])
        >>> q = GMM.univariate([0.5, 0.5], [5.0, 0.0], [1.0, 1.0])
        >>> mw2_plan(p, q).tolist()
        [[0.0, 0.5], [0.5, 0.0]]
    """
    _check_gmms(p, q)
    _check_solver(solver, epsilon)
    res = map_pairs(lambda a, b: _plan_pair(a, b, solver, epsilon, max_iter), p, q)
    _raise_if_failed(res, solver)
    return (res.plan, res) if return_info else res.plan


def mw2_distance(
    p: GMM,
    q: GMM,
    solver: str = "exact",
    epsilon: float | None = None,
    *,
    max_iter: int | None = None,
) -> jax.Array:
    """Mixture Wasserstein distance :math:`d(\\mu_0,\\mu_1)` of seed 001 (eqs. 9–10).

    .. math::
        d(\\mu_0,\\mu_1) = \\Big(\\min_{\\pi\\in\\Pi(p_0,p_1)}\\sum_{ij}
        W_2(\\nu_0^i,\\nu_1^j)^2\\,\\pi(i,j)\\Big)^{1/2} \\;\\ge\\; W_2(\\mu_0, \\mu_1)

    A metric on mixtures (Theorem 1); equal to :math:`W_2` between single Gaussians. Returns
    the distance, not its square. Gradients: the plan in the cost matrix, the centred dual
    potentials in the weights (exact LP), OTT's implicit gradients (Sinkhorn); at
    :math:`\\mu_0=\\mu_1` the derivative of the square root is taken as 0, never NaN. With
    ``"sinkhorn"`` the value is :math:`\\sqrt{\\langle C,\\pi_\\varepsilon\\rangle}`, an upper
    bound that tends to ``d`` as ``epsilon`` -> 0.

    Args:
        p, q, solver, epsilon, max_iter: as in :func:`mw2_plan`.

    Returns:
        A scalar, or ``batch_shape`` for batched mixtures. Under ``jit`` a failed exact solve
        (iteration cap) gives NaN; eagerly it raises ``RuntimeError``.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> q = GMM.univariate([0.5, 0.5], [-2.0, 2.0], [1.0, 1.0])
        >>> round(float(mw2_distance(p, q)), 6)
        2.0
    """
    _, info = mw2_plan(p, q, solver, epsilon, max_iter=max_iter, return_info=True)
    d = safe_sqrt(info.cost)
    if solver == "exact":
        d = jnp.where(info.converged, d, jnp.nan)
    return d


def _geodesic_pair(
    p: GMM, q: GMM, t: jax.Array, solver: str, epsilon: float | None, max_iter: int | None
) -> GMM:
    plan = _plan_pair(p, q, solver, epsilon, max_iter).plan
    kp, kq, d = p.n_components, q.n_components, p.dim
    means = (1.0 - t) * p.means[:, None, :] + t * q.means[None, :, :]
    if p.is_diagonal and q.is_diagonal:
        sd = (1.0 - t) * safe_sqrt(p.covs)[:, None, :] + t * safe_sqrt(q.covs)[None, :, :]
        covs = (sd**2).reshape(kp * kq, d)
    else:
        fp = _full_factor(p.covs, p.is_diagonal)
        fq = _full_factor(q.covs, q.is_diagonal)
        f0 = jnp.broadcast_to(fp[:, None], (kp, kq, d, d))
        f1 = jnp.broadcast_to(fq[None, :], (kp, kq, d, d))
        w = polar_factor(f0 @ f1)
        g = (1.0 - t) * f0 + t * (f1 @ _mT(w))
        covs = _sym(g @ _mT(g)).reshape(kp * kq, d, d)
    return GMM._unchecked(plan.reshape(kp * kq), means.reshape(kp * kq, d), covs)


def geodesic(
    p: GMM,
    q: GMM,
    t: Any,
    solver: str = "exact",
    epsilon: float | None = None,
    *,
    max_iter: int | None = None,
) -> GMM:
    """Point at time ``t`` on the mixture geodesic from ``p`` to ``q`` (seed 001, eq. 11).

    .. math::
        \\mu_t = \\sum_{i,j}\\pi^*(i,j)\\,\\nu_t^{ij}, \\qquad
        d(\\mu_s,\\mu_t) = (t-s)\\,d(\\mu_0,\\mu_1) \\quad\\text{(Theorem 2)}

    with :math:`\\nu_t^{ij}` McCann's interpolation (eq. 7,
    :func:`gmmjax.gaussian_interpolate`) between component ``i`` of ``p`` and ``j`` of ``q``.
    The result has ``K_p * K_q`` components (row-major over ``(i, j)``); pairs the plan does
    not use keep weight 0, so shapes are static under ``jit``. Two diagonal mixtures give a
    diagonal one.

    Args:
        p, q: mixtures of one dimension; batch axes broadcast.
        t: time in ``[0, 1]``.
        solver, epsilon, max_iter: as in :func:`mw2_plan` (the plan used for the weights).

    Raises:
        ValueError: when a concrete ``t`` lies outside ``[0, 1]`` (not checked under
            ``jit``).

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> q = GMM.univariate([1.0], [4.0], [9.0])
        >>> mid = geodesic(p, q, 0.5)
        >>> mid.means[0, 0].tolist(), mid.covs[0, 0].tolist()
        (2.0, 4.0)
    """
    _check_gmms(p, q)
    _check_solver(solver, epsilon)
    check_unit_interval("t", t)
    t = jnp.asarray(t, jnp.result_type(p.means, q.means))
    if t.ndim:
        raise ValueError(f"t must be a scalar; got shape {t.shape} (vmap over times instead)")
    return map_pairs(lambda a, b: _geodesic_pair(a, b, t, solver, epsilon, max_iter), p, q)


def _kl_ot_bound(p: GMM, q: GMM, key: jax.Array | None, n_samples: int) -> jax.Array:
    """:math:`\\min_\\pi\\sum_{ij}\\pi_{ij}D_{KL}(p_i\\|q_j) \\ge D_{KL}(p\\|q)` by the exact LP."""
    cost = component_kl_matrix(p, q)
    return exact_ot(p.weights, q.weights, cost).cost


# Registered here so that ``kl_divergence(p, q, method="ot_bound")`` works once gmmjax is
# imported. The bound follows from the joint convexity of KL: for any coupling pi of the
# weights, KL(sum pi_ij p_i || sum pi_ij q_j) <= sum pi_ij KL(p_i || q_j).
KL_METHODS["ot_bound"] = _kl_ot_bound
