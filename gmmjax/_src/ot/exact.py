"""Exact discrete optimal transport (the LP of Chen, Georgiou & Tannenbaum 2019, eq. 9).

.. math::
    \\min_{\\pi \\ge 0,\\ \\pi 1 = a,\\ \\pi^T 1 = b} \\sum_{ij} C_{ij}\\pi_{ij}

Two solvers return the same :class:`OTResult`: successive shortest paths written in JAX
(:mod:`gmmjax._src.ot.shortest_paths`, the default: it runs on the device that holds the
arrays, under ``jit`` and ``vmap``, with no host round trip) and POT's network simplex on the
host (:mod:`gmmjax._src.ot.network_simplex`). Both are differentiable through one
``custom_vjp``:

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
from typing import Any

import jax
import jax.numpy as jnp

from gmmjax._src.core.checks import check_choice
from gmmjax._src.core.scalars import check_static_int
from gmmjax._src.math.linalg import pinv
from gmmjax._src.ot.network_simplex import pot_available, solve_network_simplex
from gmmjax._src.ot.result import OTResult, as_problem
from gmmjax._src.ot.shortest_paths import default_max_phases, solve_shortest_paths

__all__ = ["HOST_ABOVE", "METHODS", "exact_ot", "uses_host"]

#: ``method`` values of :func:`exact_ot`.
METHODS = ("auto", "device", "host")

#: On a CPU backend, ``method="auto"`` hands problems with more than this many cost entries
#: (``n * m``) to POT's network simplex when POT is installed. Measured on 2 CPU cores
#: (``benchmarks/bench_exact_speed.py``): for a ``vmap`` over 1,000 problems the device solver
#: is 2.8x faster than a loop over POT at 8 x 8, even at 10 x 10 and 12 x 12, and 5x slower at
#: 16 x 16; for one problem POT is faster from 8 x 8. On GPU and TPU the device solver is always
#: used.
HOST_ABOVE = 100

_HOST_MAX_ITER = 100_000


def uses_host(n: int, m: int, method: str = "auto") -> bool:
    """Whether :func:`exact_ot` solves an ``(n, m)`` problem on the host with this method."""
    if method != "auto":
        return method == "host"
    return jax.default_backend() == "cpu" and n * m > HOST_ABOVE and pot_available()


def _solve(a: jax.Array, b: jax.Array, c: jax.Array, max_iter: int | None, host: bool) -> tuple:
    if host:
        return solve_network_simplex(a, b, c, _HOST_MAX_ITER if max_iter is None else max_iter)
    cap = default_max_phases(*c.shape[-2:]) if max_iter is None else max_iter
    return solve_shortest_paths(a, b, c, cap)


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


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _exact_core(a: jax.Array, b: jax.Array, c: jax.Array, max_iter: Any, host: bool) -> tuple:
    return _solve(a, b, c, max_iter, host)


def _exact_fwd(a: Any, b: Any, c: Any, max_iter: Any, host: bool) -> tuple:
    # symbolic_zeros=True: the primals arrive wrapped, with their value in ``.value``.
    out = _solve(a.value, b.value, c.value, max_iter, host)
    _, plan, f, g, _, _ = out
    return out, (plan, f, g)


def _exact_bwd(max_iter: Any, host: bool, res: tuple, cts: tuple) -> tuple:
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

#: Compiled once per shape and options: an eager call runs one program.
_exact_compiled = jax.jit(_exact_core, static_argnums=(3, 4))


def exact_ot(
    a: Any, b: Any, cost_matrix: Any, *, max_iter: int | None = None, method: str = "auto"
) -> OTResult:
    """Exact discrete optimal transport between two weight vectors, certified by its duals.

    .. math::
        \\pi^* = \\arg\\min_{\\pi\\in\\Pi(a, b)} \\langle C, \\pi\\rangle, \\qquad
        \\nabla_C = \\pi^*,\\quad \\nabla_a = f - \\bar f,\\quad \\nabla_b = g - \\bar g

    (the linear program of Chen, Georgiou & Tannenbaum 2019, equation 9.)

    Both marginals are renormalised to sum 1 before solving, so round-off in the weights is
    harmless. Zero weights are allowed; their duals are the cheapest feasible value
    :math:`\\min_j C_{ij} - g_j`. Works under ``jit`` and ``vmap`` (call it on single problems
    and ``vmap`` over batches) and under ``grad`` (see the module docstring).

    Args:
        a: ``(n,)`` source weights, finite and >= 0 with a positive sum.
        b: ``(m,)`` target weights, finite and >= 0 with a positive sum.
        cost_matrix: ``(n, m)`` finite costs (its dtype is the device solver's).
        max_iter: iteration cap: augmenting phases of the device solver (default
            ``20 (n + m) + 100``; every observed problem needs fewer than ``2 (n + m)``) or
            network simplex pivots on the host (default 100,000); an int >= 1, or ``None``
            (the default) for those defaults. When it is hit, ``converged`` is False.
        method: ``"device"`` (successive shortest paths in JAX, in the dtype of
            ``cost_matrix``, no host callback), ``"host"`` (POT's network simplex in float64
            through a callback; needs the ``pot`` extra) or ``"auto"`` (default): the device solver,
            except on a CPU backend for more than :data:`HOST_ABOVE` cost entries when POT is
            installed.

    Returns:
        An :class:`OTResult`. ``converged`` is True only when the duals certify the plan
        (device: feasible and tight on the support to ``16 (n+m) eps max|C|``, marginals to
        ``8 (n+m) eps``) or POT reports optimality; ``n_iters`` counts the phases (device) or
        is ``-1`` (host, not reported).

    Example:
        >>> res = exact_ot(jnp.array([0.5, 0.5]), jnp.array([0.5, 0.5]),
        ...                jnp.array([[0.0, 1.0], [1.0, 0.0]]))
        >>> float(res.cost), res.plan.tolist(), bool(res.converged)
        (0.0, [[0.5, 0.0], [0.0, 0.5]], True)
    """
    a, b, c = as_problem(a, b, cost_matrix)
    check_choice("method", method, METHODS)
    host = uses_host(*c.shape, method)
    if host and not pot_available():
        raise ImportError('method="host" needs POT: pip install "gmmjax[pot]"')
    cap = check_static_int("max_iter", max_iter, allow_none=True)
    cost, plan, f, g, ok, n_iters = _exact_compiled(a, b, c, cap, host)
    return OTResult(cost, plan, f, g, ok, n_iters)
