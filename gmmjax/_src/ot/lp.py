"""Discrete optimal transport layers: an exact LP and entropic Sinkhorn (seed 001, eq. 9).

.. math::
    \\min_{\\pi \\ge 0,\\ \\pi 1 = a,\\ \\pi^T 1 = b} \\sum_{ij} C_{ij}\\pi_{ij}

:func:`exact_ot` solves the LP exactly with a network simplex (POT's ``ot.emd``, C++), called
through ``jax.pure_callback``: it runs under ``jit`` and ``vmap`` (a batch is one callback that
loops in NumPy, in float64) and is differentiable through a ``custom_vjp``:

- the cost :math:`\\langle C, \\pi^*\\rangle` has gradient :math:`\\pi^*` in ``C`` and the
  centred dual potentials :math:`f - \\bar f`, :math:`g - \\bar g` in ``a`` and ``b`` (envelope
  theorem; the weights live on the simplex, so only centred directions matter);
- the plan is piecewise constant in ``C`` (derivative 0) and piecewise linear in ``(a, b)``:
  on the support :math:`S` of :math:`\\pi^*` it is fixed by the marginals, and a cotangent
  :math:`\\bar\\pi` pulls back to the potentials :math:`(u, v)` solving
  :math:`u_i + v_j = \\bar\\pi_{ij}` on :math:`S` (least squares, minimum norm).

:func:`sinkhorn_ot` is the entropic solver of OTT-JAX (``ott.solvers.linear.sinkhorn``),
differentiated implicitly by OTT. Both return an :class:`OTResult` carrying ``converged`` and
``n_iters`` so that a caller can tell a solver failure from a result.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._linalg import pinv

__all__ = ["OTResult", "exact_ot", "sinkhorn_ot"]


class OTResult(NamedTuple):
    """Output of a discrete OT solver.

    Attributes:
        cost: transport cost :math:`\\langle C, \\pi\\rangle` of the returned plan.
        plan: ``(n, m)`` coupling :math:`\\pi`.
        f, g: dual potentials (``exact_ot``: LP duals with :math:`f_i+g_j\\le C_{ij}`,
            equality on the support, gauge ``mean(f) = 0``; ``sinkhorn_ot``: OTT's entropic
            potentials).
        converged: the solver reached optimality (exact) or its threshold (Sinkhorn).
        n_iters: Sinkhorn iterations; ``-1`` for the network simplex, which does not report
            its pivot count.
    """

    cost: jax.Array
    plan: jax.Array
    f: jax.Array
    g: jax.Array
    converged: jax.Array
    n_iters: jax.Array


# --------------------------------------------------------------------------- exact LP
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


def _check_problem(a: jax.Array, b: jax.Array, c: jax.Array) -> None:
    if c.ndim != 2:
        raise ValueError(f"cost_matrix must have shape (n, m); got {c.shape}")
    if a.shape != c.shape[:1]:
        raise ValueError(f"a must have shape {c.shape[:1]} to match cost_matrix; got {a.shape}")
    if b.shape != c.shape[1:]:
        raise ValueError(f"b must have shape {c.shape[1:]} to match cost_matrix; got {b.shape}")


def _as_problem(a: Any, b: Any, cost_matrix: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Marginals and cost as arrays of one floating dtype, with their shapes checked."""
    c = jnp.asarray(cost_matrix)
    if not jnp.issubdtype(c.dtype, jnp.floating):
        c = c.astype(jnp.result_type(float))
    a = jnp.asarray(a, c.dtype)
    b = jnp.asarray(b, c.dtype)
    _check_problem(a, b, c)
    return a, b, c


def exact_ot(a: Any, b: Any, cost_matrix: Any, *, max_iter: int = 100_000) -> OTResult:
    """Exact discrete optimal transport (LP of seed 001, eq. 9) by network simplex.

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
    a, b, c = _as_problem(a, b, cost_matrix)
    cost, plan, f, g, ok = _exact_core(a, b, c, int(max_iter))
    n_iters = jnp.full(ok.shape, -1, jnp.int32)
    return OTResult(cost, plan, f, g, ok, n_iters)


# --------------------------------------------------------------------------- Sinkhorn
def default_threshold(dtype: Any) -> float:
    """Marginal-error target for Sinkhorn: ``1e-6`` in float64, ``1e-4`` in float32."""
    return 1e-6 if jnp.finfo(dtype).bits >= 64 else 1e-4


def sinkhorn_ot(
    a: Any,
    b: Any,
    cost_matrix: Any,
    *,
    epsilon: float | None = None,
    threshold: float | None = None,
    max_iter: int = 2000,
    implicit_diff: bool = False,
) -> OTResult:
    """Entropic optimal transport through OTT-JAX's Sinkhorn solver (Cuturi 2013).

    .. math::
        \\pi_\\varepsilon = \\arg\\min_{\\pi\\in\\Pi(a,b)} \\langle C,\\pi\\rangle
        - \\varepsilon H(\\pi)

    Log-domain iterations of ``ott.solvers.linear.sinkhorn.Sinkhorn`` on a
    ``ott.geometry.geometry.Geometry`` built from ``cost_matrix``. Gradients are by
    differentiation of the unrolled iterations (default), or by OTT's implicit
    differentiation with ``implicit_diff=True``; the implicit linear system becomes singular
    when the plan is close to a permutation (e.g. at ``P = Q`` with a small ``epsilon``),
    where OTT's solver raises, so it is opt-in. ``cost`` is the transport cost of the entropic plan,
    :math:`\\langle C, \\pi_\\varepsilon\\rangle` (an upper bound on the exact cost that
    tends to it as :math:`\\varepsilon\\to 0`).

    Args:
        a, b, cost_matrix: as in :func:`exact_ot`.
        epsilon: entropic regularisation; ``None`` uses OTT's default (5% of the mean cost).
        threshold: marginal-error target (default :func:`default_threshold`).
        max_iter: iteration cap; ``converged`` is False when it is reached first.
        implicit_diff: use OTT's implicit differentiation instead of unrolling.

    Example:
        >>> res = sinkhorn_ot(jnp.array([0.5, 0.5]), jnp.array([0.5, 0.5]),
        ...                   jnp.array([[0.0, 1.0], [1.0, 0.0]]), epsilon=1e-2)
        >>> round(float(res.cost), 4), bool(res.converged)
        (0.0, True)
    """
    from ott.geometry import geometry
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import implicit_differentiation, sinkhorn

    a, b, c = _as_problem(a, b, cost_matrix)
    threshold = default_threshold(c.dtype) if threshold is None else float(threshold)
    geom = geometry.Geometry(cost_matrix=c, epsilon=epsilon)
    problem = linear_problem.LinearProblem(geom, a, b)
    solver = sinkhorn.Sinkhorn(
        threshold=threshold,
        max_iterations=int(max_iter),
        implicit_diff=implicit_differentiation.ImplicitDiff() if implicit_diff else None,
    )
    out = solver(problem)
    plan = out.matrix
    cost = jnp.sum(plan * c)
    return OTResult(
        cost, plan, out.f, out.g, jnp.asarray(out.converged), jnp.asarray(out.n_iters, jnp.int32)
    )
