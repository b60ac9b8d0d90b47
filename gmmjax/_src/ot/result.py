"""What every discrete OT solver returns, and the checked form of a problem's inputs."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gmmjax._src.core.checks import is_concrete
from gmmjax._src.core.rules import marginal_rules, raise_eagerly

__all__ = ["OTResult", "as_problem"]


class OTResult(NamedTuple):
    """Output of a discrete OT solver.

    Attributes:
        cost: transport cost :math:`\\langle C, \\pi\\rangle` of the returned plan.
        plan: ``(n, m)`` coupling :math:`\\pi`.
        f, g: dual potentials (``exact_ot``: LP duals with :math:`f_i+g_j\\le C_{ij}`,
            equality on the support, gauge ``mean(f) = 0``; ``sinkhorn_ot``: OTT's entropic
            potentials).
        converged: the solver reached optimality (exact) or its threshold (Sinkhorn).
        n_iters: Sinkhorn iterations or shortest-path phases; ``-1`` for POT's network
            simplex, which does not report its pivot count.
    """

    cost: jax.Array
    plan: jax.Array
    f: jax.Array
    g: jax.Array
    converged: jax.Array
    n_iters: jax.Array


def _check_problem(a: jax.Array, b: jax.Array, c: jax.Array) -> None:
    if c.ndim != 2:
        raise ValueError(f"cost_matrix must have shape (n, m); got {c.shape}")
    if a.shape != c.shape[:1]:
        raise ValueError(f"a must have shape {c.shape[:1]} to match cost_matrix; got {a.shape}")
    if b.shape != c.shape[1:]:
        raise ValueError(f"b must have shape {c.shape[1:]} to match cost_matrix; got {b.shape}")


def _valid_marginal(w: jax.Array) -> jax.Array:
    return jnp.all(jnp.isfinite(w)) & jnp.all(w >= 0) & (jnp.sum(w) > 0)


def as_problem(a: Any, b: Any, cost_matrix: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Marginals and cost as arrays of one floating dtype, with their shapes and values checked.

    The marginals must be finite and non-negative with a positive sum (the solvers
    renormalise them): concrete ones that are not raise a ``ValueError`` naming ``a`` or
    ``b``; traced ones make the cost matrix NaN, so every solver returns NaN and
    ``converged = False`` instead of a plan for clipped weights.
    """
    c = jnp.asarray(cost_matrix)
    if not jnp.issubdtype(c.dtype, jnp.floating):
        c = c.astype(jnp.result_type(float))
    a = jnp.asarray(a, c.dtype)
    b = jnp.asarray(b, c.dtype)
    _check_problem(a, b, c)
    if is_concrete(a, b):
        raise_eagerly("a", a, marginal_rules())
        raise_eagerly("b", b, marginal_rules())
        return a, b, c
    valid = _valid_marginal(a) & _valid_marginal(b)
    return a, b, jnp.where(valid, c, jnp.nan)
