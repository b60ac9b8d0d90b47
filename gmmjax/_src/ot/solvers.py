"""The discrete OT solvers behind one interface: a :class:`Solver` per name in :data:`SOLVERS`.

Every solver offers the two problems the mixture distances need — transport between two
weight vectors (eq. 9 of Chen, Georgiou & Tannenbaum 2019) and barycenter weights on a fixed
support (eq. 19) — and says how it reports failure. The distances look a solver up by name
(:func:`get_solver`); a new solver is added here, in one place.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.core.checks import check_choice, is_concrete
from gmmjax._src.core.scalars import check_real, check_static_int
from gmmjax._src.ot.barycenter import exact_fixed_barycenter, sinkhorn_fixed_barycenter
from gmmjax._src.ot.exact import exact_ot
from gmmjax._src.ot.network_simplex import pot_available
from gmmjax._src.ot.result import OTResult
from gmmjax._src.ot.sinkhorn import check_tau, solve_sinkhorn

__all__ = ["SOLVERS", "Solver", "get_solver"]


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["epsilon"],
    meta_fields=["name", "exact", "_transport", "_barycenter", "max_iter", "tau"],
)
@dataclasses.dataclass(frozen=True)
class Solver:
    """A discrete OT solver, configured.

    Attributes:
        name: the name users pass as ``solver=``.
        exact: the solver returns the LP optimum. A failed exact solve (iteration cap) makes
            distances NaN under ``jit`` and raises ``RuntimeError`` eagerly; an entropic
            solver reports ``converged`` and leaves the decision to the caller.
        epsilon: entropic regularisation (``None`` for exact solvers, or the default of
            :func:`~gmmjax._src.ot.sinkhorn.default_epsilon`); a traced value that was
            invalid is NaN here (see :func:`get_solver`).
        max_iter: iteration cap, an int >= 1 (``None``: the solver's default).
        tau: marginal relaxation of the entropic solver, in ``(0, 1]``; ``1`` is balanced
            transport, below it the transport is unbalanced (see
            :func:`~gmmjax._src.ot.sinkhorn.unbalanced_objective`).

    A pytree whose only leaf is ``epsilon``: a compiled distance takes the solver as an
    argument, so a new ``epsilon`` (or a traced one) reuses the program.
    """

    name: str
    exact: bool
    _transport: Callable[..., OTResult] = dataclasses.field(repr=False)
    _barycenter: Callable[..., tuple] = dataclasses.field(repr=False)
    epsilon: Any = None
    max_iter: int | None = None
    tau: float = 1.0

    def _options(self) -> dict[str, Any]:
        options = {} if self.max_iter is None else {"max_iter": self.max_iter}
        if not self.exact:
            options["epsilon"] = self.epsilon
            if self.tau < 1.0:
                options["tau"] = self.tau
        return options

    def transport(self, a: jax.Array, b: jax.Array, cost: jax.Array) -> OTResult:
        """Solve :math:`\\min_{\\pi\\in\\Pi(a,b)}\\langle C,\\pi\\rangle` (zero weights allowed)."""
        return self._transport(a, b, cost, **self._options())

    def fixed_barycenter(self, costs: list, marginals: list, lam: jax.Array) -> tuple:
        """Barycenter weights on a fixed support (eq. 19).

        Returns:
            ``(p, objective, converged, n_iters, plans, duals)``. Exact solvers: the LP
            optimum, its ``L`` plans :math:`\\pi_k` and the duals :math:`y_k` of the marginal
            constraints, which differentiate the optimal value (envelope theorem, see
            :func:`~gmmjax._src.ot.barycenter.exact_fixed_barycenter`); ``n_iters = -1``.
            Entropic solvers: ``objective`` is NaN (the caller evaluates the exact one) and
            ``plans``, ``duals`` are ``None``.
        """
        if self.exact:
            p, objective, ok, plans, duals = self._barycenter(costs, marginals, lam)
            return p, objective, ok, jnp.asarray(-1, jnp.int32), plans, duals
        max_iter = 2000 if self.max_iter is None else self.max_iter
        p, ok, n_iters = self._barycenter(costs, marginals, lam, self.epsilon, max_iter)
        return p, jnp.full((), jnp.nan, costs[0].dtype), ok, n_iters, None, None

    def trusted(self, res: OTResult, value: jax.Array) -> jax.Array:
        """``value`` where an exact solve reached optimality, NaN where it did not."""
        return jnp.where(res.converged, value, jnp.nan) if self.exact else value

    def raise_if_failed(self, res: OTResult) -> None:
        """Eagerly, raise ``RuntimeError`` when an exact solve stopped before optimality."""
        if self.exact and is_concrete(res.converged) and not np.all(np.asarray(res.converged)):
            raise RuntimeError(
                f"the {self.name} OT solver hit its iteration limit before optimality; "
                "pass a larger max_iter"
            )


_SOLVERS = (
    Solver("exact", True, exact_ot, exact_fixed_barycenter),
    Solver("exact_host", True, functools.partial(exact_ot, method="host"), exact_fixed_barycenter),
    Solver("sinkhorn", False, solve_sinkhorn, sinkhorn_fixed_barycenter),
)

#: The solvers by name.
SOLVERS: dict[str, Solver] = {s.name: s for s in _SOLVERS}


def get_solver(name: str, epsilon: Any = None, max_iter: Any = None, tau: Any = None) -> Solver:
    """The solver called ``name``, configured, with its arguments checked.

    ``epsilon`` must be a finite real number > 0 (or ``None``) and ``max_iter`` an int >= 1
    (or ``None``), checked by :mod:`gmmjax._src.core.scalars`: eagerly when concrete, by a
    checkify check inside :func:`gmmjax.checked`, and otherwise an invalid traced
    ``epsilon`` becomes NaN, so every value computed with it is NaN.

    Raises:
        TypeError: ``epsilon`` not a real number (``str``, ``bool``, complex) or ``max_iter``
            not an int.
        ValueError: an unknown name, ``epsilon`` or ``tau`` given to an exact solver,
            ``epsilon`` not finite and > 0, ``max_iter < 1``, or ``tau`` outside ``(0, 1]``.
        ImportError: ``"exact_host"`` without POT installed (the ``pot`` extra).
    """
    solver = SOLVERS[check_choice("solver", name, SOLVERS)]
    if name == "exact_host" and not pot_available():
        raise ImportError('solver="exact_host" needs POT: pip install "gmmjax[pot]"')
    if solver.exact and epsilon is not None:
        raise ValueError(f'epsilon is only used by entropic solvers; leave it None for "{name}"')
    epsilon = check_real("epsilon", epsilon, low=0.0, low_open=True, allow_none=True)
    if epsilon is not None and not isinstance(epsilon, jax.core.Tracer):
        epsilon = float(epsilon)  # one leaf type for every concrete value: no recompilation
    max_iter = check_static_int("max_iter", max_iter, allow_none=True)
    if tau is None:
        return dataclasses.replace(solver, epsilon=epsilon, max_iter=max_iter)
    if solver.exact:
        raise ValueError(f'tau (unbalanced transport) needs solver="sinkhorn"; got "{name}"')
    return dataclasses.replace(solver, epsilon=epsilon, max_iter=max_iter, tau=check_tau(tau))
