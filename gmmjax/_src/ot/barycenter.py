"""Discrete barycenter problems on a fixed support (Chen, Georgiou & Tannenbaum 2019, eq. 19).

.. math::
    \\min_{\\pi_k\\ge 0}\\sum_{k,i,j}\\lambda_k c_k(i,j)\\pi_k(i,j)
    \\quad\\text{s.t.}\\quad \\sum_i\\pi_k(i,j) = p_k^j,\\quad
    \\sum_j\\pi_1(i,j) = \\dots = \\sum_j\\pi_L(i,j) = p^i.

Solved exactly on the host (HiGHS dual simplex through ``scipy.optimize.linprog``, float64,
tolerances 1e-10, via ``jax.pure_callback``, so it works under ``jit`` and ``vmap``), or
entropically with OTT's fixed-support barycenter solver for sizes where the LP is too large.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.ot.sinkhorn import default_epsilon, default_threshold

__all__ = ["exact_fixed_barycenter", "sinkhorn_fixed_barycenter"]


def _lp19_numpy(costs: list[np.ndarray], marginals: list[np.ndarray], lam: np.ndarray) -> tuple:
    """Solve eq. 19 for one problem; returns (p, objective, success)."""
    from scipy import sparse
    from scipy.optimize import linprog

    n = costs[0].shape[0]
    sizes = [c.shape[1] for c in costs]
    offsets = np.cumsum([0] + [n * s for s in sizes])
    n_var = int(offsets[-1])
    objective = np.concatenate([lk * c.ravel() for lk, c in zip(lam, costs, strict=True)])
    rows, cols, vals, rhs = [], [], [], []
    row = 0
    for k, s in enumerate(sizes):  # (19b) column sums of pi_k equal p_k
        for j in range(s):
            rows += [row] * n
            cols += list(offsets[k] + np.arange(n) * s + j)
            vals += [1.0] * n
            rhs.append(marginals[k][j])
            row += 1
    for k in range(1, len(sizes)):  # (19c) row sums of pi_k equal those of pi_1
        for i in range(n):
            rows += [row] * (sizes[0] + sizes[k])
            cols += list(offsets[0] + i * sizes[0] + np.arange(sizes[0]))
            cols += list(offsets[k] + i * sizes[k] + np.arange(sizes[k]))
            vals += [1.0] * sizes[0] + [-1.0] * sizes[k]
            rhs.append(0.0)
            row += 1
    a_eq = sparse.csr_matrix((vals, (rows, cols)), shape=(row, n_var))
    res = linprog(
        objective,
        A_eq=a_eq,
        b_eq=np.asarray(rhs),
        bounds=(0, None),
        method="highs-ds",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status != 0:
        nan_plans = [np.full((n, s), np.nan) for s in sizes]
        return np.full(n, np.nan), np.nan, False, nan_plans, np.full(sum(sizes), np.nan)
    x = np.maximum(res.x, 0.0)
    plans = [x[offsets[k] : offsets[k + 1]].reshape(n, s) for k, s in enumerate(sizes)]
    p = plans[0].sum(axis=1)
    # HiGHS' equality marginals are d(objective)/d(rhs): the first sum(N_k) rows are (19b).
    duals = np.asarray(res.eqlin.marginals[: sum(sizes)], np.float64)
    return p / p.sum(), float(objective @ x), True, plans, duals


def exact_fixed_barycenter(
    costs: list[jax.Array], marginals: list[jax.Array], lam: jax.Array
) -> tuple:
    """Weights ``p`` of eq. 19 on a fixed support, with the LP's plans and duals, by HiGHS.

    The plans :math:`\\pi_k` and the duals :math:`y_k` of the marginal constraints (19b) give
    the derivative of the optimal value :math:`V` (envelope theorem, as for
    :func:`~gmmjax._src.ot.exact.exact_ot`):

    .. math::
        \\partial V/\\partial c_k = \\lambda_k\\pi_k,\\qquad
        \\partial V/\\partial\\lambda_k = \\langle c_k, \\pi_k\\rangle,\\qquad
        \\partial V/\\partial p_k = y_k .

    Args:
        costs: ``L`` arrays ``(N, N_k)`` of :math:`W_2^2` between support and input components.
        marginals: the ``L`` input weight vectors ``(N_k,)`` (normalised to sum 1 here).
        lam: ``(L,)`` barycenter weights.

    Returns:
        ``(p, objective, ok, plans, duals)``: ``plans`` the ``L`` arrays ``(N, N_k)``,
        ``duals`` the ``L`` vectors ``(N_k,)`` (NaN where HiGHS failed). None of them is
        differentiated here: the caller builds the value's derivative from them.
    """
    costs = [jax.lax.stop_gradient(c) for c in costs]
    marginals = [jax.lax.stop_gradient(m) for m in marginals]
    lam = jax.lax.stop_gradient(lam)
    dtype = costs[0].dtype
    n = costs[0].shape[-2]
    batch = costs[0].shape[:-2]
    sizes = [c.shape[-1] for c in costs]
    shapes = (
        jax.ShapeDtypeStruct((*batch, n), dtype),
        jax.ShapeDtypeStruct(batch, dtype),
        jax.ShapeDtypeStruct(batch, jnp.bool_),
        *[jax.ShapeDtypeStruct((*batch, n, s), dtype) for s in sizes],
        *[jax.ShapeDtypeStruct((*batch, s), dtype) for s in sizes],
    )
    n_meas = len(costs)
    splits = np.cumsum(sizes)[:-1]

    def host(*args: Any) -> tuple:
        cs = [np.asarray(c, np.float64) for c in args[:n_meas]]
        ms = [np.asarray(m, np.float64) for m in args[n_meas : 2 * n_meas]]
        lam_ = np.asarray(args[-1], np.float64)
        bshape = cs[0].shape[:-2]
        p = np.zeros((*bshape, n))
        obj = np.zeros(bshape)
        ok = np.zeros(bshape, dtype=bool)
        plans = [np.zeros((*bshape, n, s)) for s in sizes]
        duals = [np.zeros((*bshape, s)) for s in sizes]
        for idx in np.ndindex(*bshape):
            p[idx], obj[idx], ok[idx], plans_i, duals_i = _lp19_numpy(
                [c[idx] for c in cs], [m[idx] / m[idx].sum() for m in ms], lam_[idx]
            )
            for k, (plan_k, dual_k) in enumerate(
                zip(plans_i, np.split(duals_i, splits), strict=True)
            ):
                plans[k][idx], duals[k][idx] = plan_k, dual_k
        cast = [x.astype(dtype) for x in (*plans, *duals)]
        return (p.astype(dtype), obj.astype(dtype), ok, *cast)

    out = jax.pure_callback(host, shapes, *costs, *marginals, lam, vmap_method="broadcast_all")
    p, objective, ok = out[:3]
    return p, objective, ok, list(out[3 : 3 + n_meas]), list(out[3 + n_meas :])


def sinkhorn_fixed_barycenter(
    costs: list[jax.Array],
    marginals: list[jax.Array],
    lam: jax.Array,
    epsilon: float | None,
    max_iter: int,
) -> tuple:
    """Weights ``p`` of eq. 19 on a fixed support by OTT's entropic barycenter solver.

    ``epsilon=None`` takes :func:`~gmmjax._src.ot.sinkhorn.default_epsilon` of the stacked
    costs (input weights against a uniform support), the rule of :func:`sinkhorn_ot`.

    Returns:
        ``(p, converged, n_iters)``; ``p`` is not differentiated.
    """
    from ott.geometry import geometry  # imported on first use: OTT takes seconds to import
    from ott.problems.linear import barycenter_problem
    from ott.solvers.linear import discrete_barycenter

    # OTT's fixed-point loop has its own custom VJP that cannot see closed-over tracers; the
    # weights are not differentiated (the caller differentiates the objective at fixed p).
    costs = [jax.lax.stop_gradient(c) for c in costs]
    marginals = [jax.lax.stop_gradient(m) for m in marginals]
    lam = jax.lax.stop_gradient(lam)
    sizes = [c.shape[1] for c in costs]
    offsets = np.cumsum([0, *sizes])
    cost_all = jnp.concatenate([c.T for c in costs], axis=0)  # (sum N_k, N)
    hist = jnp.zeros((len(costs), int(offsets[-1])), cost_all.dtype)
    for k, m in enumerate(marginals):
        hist = hist.at[k, offsets[k] : offsets[k + 1]].set(m)
    if epsilon is None:  # the rule of the transport problems, for the stacked inputs
        support = jnp.full(cost_all.shape[1], 1.0 / cost_all.shape[1], cost_all.dtype)
        epsilon = default_epsilon(hist.sum(axis=0), support, cost_all)
    geom = geometry.Geometry(cost_matrix=cost_all, epsilon=epsilon)
    problem = barycenter_problem.FixedBarycenterProblem(geom, hist, lam)
    threshold = default_threshold(cost_all.dtype)
    solver = discrete_barycenter.FixedBarycenter(threshold=threshold, max_iterations=max_iter)
    out = solver(problem)
    p = out.histogram
    errors = out.errors.reshape(-1)
    done = errors >= 0
    last = jnp.where(jnp.any(done), errors[jnp.maximum(jnp.sum(done) - 1, 0)], jnp.inf)
    n_iters = (jnp.sum(done) * solver.inner_iterations).astype(jnp.int32)
    return jax.lax.stop_gradient(p / jnp.sum(p)), last < threshold, n_iters
