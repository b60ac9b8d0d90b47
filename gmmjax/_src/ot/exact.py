"""Exact discrete optimal transport (the LP of Chen, Georgiou & Tannenbaum 2019, eq. 9).

.. math::
    \\min_{\\pi \\ge 0,\\ \\pi 1 = a,\\ \\pi^T 1 = b} \\sum_{ij} C_{ij}\\pi_{ij}

The LP is solved exactly with a network simplex (POT's ``ot.emd``, C++), called
through ``jax.pure_callback``: it runs under ``jit`` and ``vmap`` (a batch is one callback that
loops in NumPy, in float64) and is differentiable through a ``custom_vjp``:

- the cost :math:`\\langle C, \\pi^*\\rangle` has gradient :math:`\\pi^*` in ``C`` and the
  centred dual potentials :math:`f - \\bar f`, :math:`g - \\bar g` in ``a`` and ``b`` (envelope
  theorem; the weights live on the simplex, so only centred directions matter);
- the plan is piecewise constant in ``C`` (derivative 0) and piecewise linear in ``(a, b)``:
  on the support :math:`S` of :math:`\\pi^*` it is fixed by the marginals, and a cotangent
  :math:`\\bar\\pi` pulls back to the potentials :math:`(u, v)` solving
  :math:`u_i + v_j = \\bar\\pi_{ij}` on :math:`S` (least squares, minimum norm).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.math.linalg import pinv
from gmmjax._src.ot.result import OTResult, as_problem

__all__ = ["exact_ot"]


def _emd_batch(a: np.ndarray, b: np.ndarray, c: np.ndarray, max_iter: int) -> tuple:
    """Network simplex over every leading index, in float64; returns float64/int arrays."""
    import ot

    batch = c.shape[:-2]
    n, m = c.shape[-2:]
    plan = np.zeros((*batch, n, m))
    f = np.zeros((*batch, n))
    g = np.zeros((*batch, m))
    cost = np.zeros(batch)
    ok = np.zeros(batch, dtype=bool)
    for idx in np.ndindex(*batch):
        ai = np.asarray(a[idx], np.float64)
        bi = np.asarray(b[idx], np.float64)
        ci = np.ascontiguousarray(c[idx], np.float64)
        if not (np.all(np.isfinite(ci)) and np.all(np.isfinite(ai)) and np.all(np.isfinite(bi))):
            plan[idx], cost[idx] = np.nan, np.nan
            continue
        ai = np.maximum(ai, 0.0)
        bi = np.maximum(bi, 0.0)
        ai = ai / ai.sum()
        bi = bi / bi.sum()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, log = ot.emd(ai, bi, ci, numItermax=max_iter, log=True, check_marginals=False)
        plan[idx] = p
        shift = np.mean(log["u"])  # gauge: mean(f) = 0, f_i + g_j unchanged
        f[idx] = log["u"] - shift
        g[idx] = log["v"] + shift
        cost[idx] = np.sum(p * ci)
        ok[idx] = log["result_code"] == 1
    return cost, plan, f, g, ok


def _exact_callback(a: jax.Array, b: jax.Array, c: jax.Array, max_iter: int) -> tuple:
    dtype = c.dtype
    batch = c.shape[:-2]
    n, m = c.shape[-2:]
    shapes = (
        jax.ShapeDtypeStruct(batch, dtype),
        jax.ShapeDtypeStruct((*batch, n, m), dtype),
        jax.ShapeDtypeStruct((*batch, n), dtype),
        jax.ShapeDtypeStruct((*batch, m), dtype),
        jax.ShapeDtypeStruct(batch, jnp.bool_),
    )

    def host(a_: Any, b_: Any, c_: Any) -> tuple:
        out = _emd_batch(np.asarray(a_), np.asarray(b_), np.asarray(c_), max_iter)
        return tuple(np.asarray(x, s.dtype) for x, s in zip(out, shapes, strict=True))

    return jax.pure_callback(host, shapes, a, b, c, vmap_method="broadcast_all")


def _support_potentials(plan: jax.Array, cot: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Minimum-norm ``(u, v)`` with ``u_i + v_j = cot_ij`` on the support of ``plan``."""
    n = plan.shape[0]
    mask = (plan > 0).astype(cot.dtype)
    system = jnp.block(
        [[jnp.diag(mask.sum(1)), mask], [mask.T, jnp.diag(mask.sum(0))]],
    )
    rhs = jnp.concatenate([(mask * cot).sum(1), (mask * cot).sum(0)])
    x = pinv(system) @ rhs
    u, v = x[:n], x[n:]
    return u - jnp.mean(u), v - jnp.mean(v)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _exact_core(a: jax.Array, b: jax.Array, c: jax.Array, max_iter: int) -> tuple:
    return _exact_callback(a, b, c, max_iter)


def _exact_fwd(a: Any, b: Any, c: Any, max_iter: int) -> tuple:
    # symbolic_zeros=True: the primals arrive wrapped, with their value in ``.value``.
    out = _exact_callback(a.value, b.value, c.value, max_iter)
    _, plan, f, g, _ = out
    return out, (plan, f, g)


def _exact_bwd(max_iter: int, res: tuple, cts: tuple) -> tuple:
    plan, f, g = res
    cost_bar, plan_bar = cts[0], cts[1]
    zero = jax.custom_derivatives.SymbolicZero
    if isinstance(cost_bar, zero):
        cost_bar = jnp.zeros(plan.shape[:-2], plan.dtype)
    f_c = f - jnp.mean(f, axis=-1, keepdims=True)
    g_c = g - jnp.mean(g, axis=-1, keepdims=True)
    a_bar = cost_bar[..., None] * f_c
    b_bar = cost_bar[..., None] * g_c
    if not isinstance(plan_bar, zero):  # the plan itself is differentiated: support solve
        u, v = _support_potentials(plan, plan_bar)
        a_bar, b_bar = a_bar + u, b_bar + v
    return a_bar, b_bar, cost_bar[..., None, None] * plan


_exact_core.defvjp(_exact_fwd, _exact_bwd, symbolic_zeros=True)


def exact_ot(a: Any, b: Any, cost_matrix: Any, *, max_iter: int = 100_000) -> OTResult:
    """Exact discrete optimal transport (LP of Chen et al. 2019, eq. 9) by network simplex.

    .. math::
        \\pi^* = \\arg\\min_{\\pi\\in\\Pi(a, b)} \\langle C, \\pi\\rangle, \\qquad
        \\nabla_C = \\pi^*,\\quad \\nabla_a = f - \\bar f,\\quad \\nabla_b = g - \\bar g

    Exact in float64 (the solver always works in float64; results are cast to the dtype of
    ``cost_matrix``). Both marginals are renormalised to sum 1 in float64 before solving, so
    float32 round-off in the weights is harmless. Zero weights are allowed; their duals are
    the cheapest feasible value :math:`\\min_j C_{ij} - g_j`. Works under ``jit`` and ``vmap``
    (call it on single problems and ``vmap`` over batches) and under ``grad`` (see the
    module docstring for the derivative).

    Args:
        a: ``(n,)`` source weights.
        b: ``(m,)`` target weights.
        cost_matrix: ``(n, m)`` costs.
        max_iter: network simplex iteration cap. When it is hit, ``converged`` is False and
            the plan is feasible but not optimal.

    Returns:
        An :class:`OTResult`; ``n_iters`` is ``-1`` (not reported by the solver).

    Example:
        >>> res = exact_ot(jnp.array([0.5, 0.5]), jnp.array([0.5, 0.5]),
        ...                jnp.array([[0.0, 1.0], [1.0, 0.0]]))
        >>> float(res.cost), res.plan.tolist(), bool(res.converged)
        (0.0, [[0.5, 0.0], [0.0, 0.5]], True)
    """
    a, b, c = as_problem(a, b, cost_matrix)
    cost, plan, f, g, ok = _exact_core(a, b, c, int(max_iter))
    n_iters = jnp.full(ok.shape, -1, jnp.int32)
    return OTResult(cost, plan, f, g, ok, n_iters)
