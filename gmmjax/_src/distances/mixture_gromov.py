"""Mixture Gromov–Wasserstein: GW between the components of two mixtures (Salmona et al. 2024).

A mixture :math:`\\mu_0 = \\sum_i a_i\\nu_0^i` on :math:`\\mathbb R^{d_0}` is read, as in the
mixture Wasserstein distance (:mod:`gmmjax._src.distances.transport`), as a discrete measure
on the Wasserstein space of Gaussians; :math:`\\mu_1 = \\sum_j b_j\\nu_1^j` lives on
:math:`\\mathbb R^{d_1}`, possibly :math:`d_1 \\ne d_0`. Salmona, Delon & Desolneux (2024,
"Gromov–Wasserstein-like distances in the Gaussian mixture models space", arXiv:2310.11256,
their definition of :math:`MGW_2`) compare the two discrete measures by Gromov–Wasserstein
with the squared :math:`W_2` distances between components of one mixture as inner costs, as
GW compares point clouds with squared Euclidean distances:

.. math::
    MGW_2^2(\\mu_0, \\mu_1) = \\min_{\\pi\\in\\Pi(a, b)} \\sum_{i,k=1}^{K_0}\\sum_{j,l=1}^{K_1}
    \\big(W_2^2(\\nu_0^i, \\nu_0^k) - W_2^2(\\nu_1^j, \\nu_1^l)\\big)^2\\,\\pi_{ij}\\,\\pi_{kl}.

The inner costs are squared :math:`W_2` distances (as in the authors' code release), the
Bures cost matrices :math:`C^0 = (W_2^2(\\nu_0^i, \\nu_0^k))_{ik}`
and :math:`C^1` (:func:`gmmjax.bures_cost_matrix` of each mixture with itself).

The objective :math:`\\mathcal E(\\pi)` (:func:`~gmmjax._src.kernels.gromov.gw_objective`) is
a non-convex quadratic function of the coupling. The problem is solved by
Frank–Wolfe (conditional gradient) from the independent coupling :math:`ab^T`, with the
exact line search of the quadratic and one exact LP (:func:`gmmjax.exact_ot`) per step, the
algorithm of POT's ``ot.gromov.gromov_wasserstein``. It stops when the Frank–Wolfe gap
:math:`\\langle\\nabla\\mathcal E(\\pi), \\pi - \\pi_{LP}\\rangle` and the decrease of
:math:`\\mathcal E` along the line-searched step towards :math:`\\pi_{LP}` are both below
``tol`` times :math:`\\max|\\nabla\\mathcal E(\\pi)|`: then :math:`\\pi` is a stationary
point that the step cannot improve, not necessarily the global minimum.

When both inner cost matrices are conditionally negative definite (squared Euclidean
distance matrices, e.g. components with commuting covariances), the objective is concave on
the affine hull of :math:`\\Pi(a, b)`, so its minimum is attained at a vertex of the
transport polytope — a permutation for uniform weights and :math:`K_0 = K_1` (Maron &
Lipman 2018); the tests check the stationarity of the returned coupling against every
vertex, and the solver against that brute-force optimum.

Derivatives (envelope theorem at the returned stationary point :math:`\\pi^*`): in the
inner costs, those of :math:`\\mathcal E(\\pi^*)` at fixed :math:`\\pi^*`; in the weights, the
centred dual potentials of the linear program :math:`\\min_{\\pi\\in\\Pi(a,b)}
\\langle\\nabla\\mathcal E(\\pi^*), \\pi\\rangle`, of which :math:`\\pi^*` is a solution.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.core.arguments import as_gmm
from gmmjax._src.core.checks import is_concrete
from gmmjax._src.core.lift import map_pairs
from gmmjax._src.core.mixture import GMM
from gmmjax._src.core.scalars import check_real, check_static_int
from gmmjax._src.kernels.bures import bures_cost
from gmmjax._src.kernels.gromov import gw_gradient, gw_line_search, gw_objective
from gmmjax._src.math.numerics import safe_sqrt
from gmmjax._src.ot.exact import exact_ot
from gmmjax._src.ot.result import OTResult

__all__ = ["gromov_wasserstein_costs", "mixture_gromov_wasserstein"]

_DEFAULT_MAX_ITER = 100


def _default_tol(n: int, m: int, dtype: Any) -> float:
    """Frank–Wolfe gap tolerance relative to ``max|grad|``: the LP's own certificate width."""
    return 16.0 * (n + m) * float(jnp.finfo(dtype).eps)


def _frank_wolfe(c0, c1, a, b, init, max_iter: jax.Array, tol: jax.Array) -> tuple:
    """``(plan, f, g, converged, n_iters)``: Frank–Wolfe from ``init`` (no derivatives)."""
    a, b = a / jnp.sum(a), b / jnp.sum(b)
    n, m = c0.shape[0], c1.shape[0]

    def step(state):
        plan, _, _, _, _, it = state
        grad = gw_gradient(c0, c1, plan)
        lp = exact_ot(a, b, grad)
        direction = lp.plan - plan
        gap = -jnp.sum(grad * direction)
        t = gw_line_search(c0, c1, direction, -gap)
        moved = plan + t * direction
        # Stop at first-order stationarity unless the step still lowers the objective: the
        # independent start of a symmetric problem is stationary but not a minimum.
        threshold = tol * jnp.max(jnp.abs(grad))
        gain = gw_objective(c0, c1, plan) - gw_objective(c0, c1, moved)
        stationary = (gap <= threshold) & (gain <= threshold)
        plan = jnp.where(stationary, plan, moved)
        done = stationary | ~lp.converged
        return plan, lp.f, lp.g, stationary & lp.converged, done, it + 1

    def running(state):
        return ~state[4] & (state[5] < max_iter)

    start = (init / jnp.sum(init), jnp.zeros(n, c0.dtype), jnp.zeros(m, c0.dtype))
    state = (*start, jnp.array(False), jnp.array(False), jnp.array(0))
    plan, f, g, converged, _, n_iters = jax.lax.while_loop(running, step, state)
    return plan, f, g, converged, n_iters


@jax.jit
def _costs_problem(c0, c1, a, b, init, max_iter: jax.Array, tol: jax.Array) -> OTResult:
    """The problem, compiled once per shape (``max_iter`` and ``tol`` are traced)."""
    c0, c1 = 0.5 * (c0 + c0.T), 0.5 * (c1 + c1.T)
    stop = jax.lax.stop_gradient
    init = jnp.outer(a, b) if init is None else init
    plan, f, g, converged, n_iters = _frank_wolfe(
        *(stop(x) for x in (c0, c1, a, b, init)), max_iter, tol
    )
    plan, f, g = stop(plan), stop(f - jnp.mean(f)), stop(g - jnp.mean(g))
    # The value at the fixed plan, plus the envelope terms of the weights (zero valued).
    value = gw_objective(c0, c1, plan) + jnp.sum(f * (a - stop(a))) + jnp.sum(g * (b - stop(b)))
    value = jnp.where(converged, jnp.maximum(value, 0.0), jnp.nan)
    return OTResult(value, plan, f, g, converged, n_iters)


def _check_init(init: Any, a: jax.Array, b: jax.Array) -> jax.Array | None:
    """``init`` in the weights' dtype; its shape, and (when concrete) its marginals, checked."""
    if init is None:
        return None
    init = jnp.asarray(init, a.dtype)
    if init.shape != a.shape + b.shape:
        raise ValueError(f"init must have shape {a.shape + b.shape}; got {init.shape}")
    if is_concrete(init, a, b):
        x, wa, wb = (np.asarray(v, np.float64) for v in (init, a, b))
        close = np.allclose(x.sum(1), wa / wa.sum(), atol=1e-5) and np.allclose(
            x.sum(0), wb / wb.sum(), atol=1e-5
        )
        if not (np.all(x >= 0) and close):
            raise ValueError("init must be a coupling: >= 0, with the weights as marginals")
    return init


def gromov_wasserstein_costs(
    c0: Any,
    c1: Any,
    a: Any,
    b: Any,
    *,
    init: Any = None,
    max_iter: int | None = None,
    tol: float | None = None,
) -> OTResult:
    """Discrete Gromov–Wasserstein with the square loss between two weighted cost matrices.

    .. math::
        \\min_{\\pi\\in\\Pi(a, b)} \\sum_{ijkl} (C^0_{ik} - C^1_{jl})^2\\,\\pi_{ij}\\pi_{kl}

    by Frank–Wolfe (the module docstring). The same quantity as POT's
    ``ot.gromov.gromov_wasserstein2(C0, C1, a, b)``.

    Args:
        c0: ``(n, n)`` symmetric inner costs (symmetrised if they are not).
        c1: ``(m, m)`` symmetric inner costs.
        a: ``(n,)`` weights, >= 0 with a positive sum (renormalised).
        b: ``(m,)`` weights.
        init: ``(n, m)`` starting coupling (marginals ``a`` and ``b``), or ``None`` (default):
            the independent coupling :math:`ab^T`, POT's default start.
        max_iter: Frank–Wolfe steps, an int >= 1 (default 100).
        tol: stationarity tolerance on the Frank–Wolfe gap relative to the largest entry of
            the gradient, a number > 0 (default ``16 (n + m) eps``).

    Returns:
        An :class:`~gmmjax.OTResult`: ``cost`` the objective at the returned coupling (NaN
        when not converged), ``plan`` the coupling (feasible even when not converged),
        ``f``/``g`` the centred duals of the last linearised LP, ``converged`` whether the
        gap reached ``tol`` (a stationary point, not certified global: the problem is not
        convex), ``n_iters`` the Frank–Wolfe steps.
    """
    c0, c1 = jnp.asarray(c0), jnp.asarray(c1)
    dtype = jnp.result_type(c0, c1, float)
    c0, c1, a, b = (jnp.asarray(x, dtype) for x in (c0, c1, a, b))
    for name, c, w in (("c0", c0, a), ("c1", c1, b)):
        if c.ndim != 2 or c.shape[0] != c.shape[1]:
            raise ValueError(f"{name} must be a square matrix; got shape {c.shape}")
        if w.shape != c.shape[:1]:
            raise ValueError(f"weights of {name} must have shape {c.shape[:1]}; got {w.shape}")
    cap = check_static_int("max_iter", _DEFAULT_MAX_ITER if max_iter is None else max_iter)
    tol = check_real("tol", tol, low=0.0, low_open=True, allow_none=True)
    tol = _default_tol(c0.shape[0], c1.shape[0], dtype) if tol is None else float(tol)
    init = _check_init(init, a, b)
    return _costs_problem(c0, c1, a, b, init, jnp.asarray(cap), jnp.asarray(tol, dtype))


def _pair(
    p: GMM, q: GMM, init: Any, *, max_iter: int, tol: float | None
) -> tuple[jax.Array, OTResult]:
    c0, c1 = bures_cost(p, p), bures_cost(q, q)
    res = gromov_wasserstein_costs(
        c0, c1, p.weights, q.weights, init=init, max_iter=max_iter, tol=tol
    )
    return safe_sqrt(res.cost), res


def mixture_gromov_wasserstein(
    p: GMM,
    q: GMM,
    *,
    init: Any = None,
    max_iter: int | None = None,
    tol: float | None = None,
    return_info: bool = False,
) -> jax.Array | tuple[jax.Array, OTResult]:
    """Mixture Gromov–Wasserstein distance :math:`MGW_2` between mixtures of any two dimensions.

    Salmona, Delon & Desolneux (2024, arXiv:2310.11256): the Gromov–Wasserstein distance
    between the two mixtures read as discrete measures on the space of Gaussians, with the
    squared :math:`W_2` distances between the components of each mixture as inner costs,

    .. math::
        MGW_2(\\mu_0, \\mu_1) = \\Big(\\min_{\\pi\\in\\Pi(a, b)} \\sum_{ikjl}
        \\big(W_2^2(\\nu_0^i, \\nu_0^k) - W_2^2(\\nu_1^j, \\nu_1^l)\\big)^2
        \\pi_{ij}\\pi_{kl}\\Big)^{1/2}.

    It compares the arrangement of the components, not their positions: it is invariant to
    isometries (rotations, reflections, translations) of either space, since they leave every
    :math:`W_2` between components unchanged, and 0 for a mixture and an isometric copy.
    It is a pseudo-distance: two single Gaussians are at distance 0, and a one-component
    :math:`\\mu_0` against :math:`\\mu_1` gives :math:`(\\sum_{jl} b_jb_l
    W_2^4(\\nu_1^j, \\nu_1^l))^{1/2}`.

    The minimisation is non-convex. Frank–Wolfe from the independent coupling (POT's
    algorithm, see :mod:`gmmjax._src.distances.mixture_gromov`) returns a stationary point
    that its own step cannot improve, usually a local minimum: its value is an upper bound
    on :math:`MGW_2`, not certified to equal it (``benchmarks/bench_gromov.py`` counts how
    often it misses the brute-force optimum on small problems). ``init`` starts it elsewhere;
    several starts, keeping the smallest converged value, look further. ``info.converged``
    says whether the stopping test was met; the distance is NaN where it was not. The
    independent start is itself stationary when the problem is symmetric (all
    :math:`\\sum_k a_k W_2^2(\\nu_0^i, \\nu_0^k)` equal, and likewise for :math:`\\mu_1`;
    e.g. two equal-weight components) without being a minimum: the solver stops only where
    the line-searched step no longer lowers the objective, so it leaves such points (POT
    stops there; elsewhere the two take the same steps). Gradients with respect to the
    means, covariances (through the Bures costs) and weights are those of the value at the
    returned coupling (envelope theorem; the weights' through the duals of the linearised
    problem), finite at :math:`MGW_2 = 0` (the square root's derivative is taken as 0
    there).

    Args:
        p: GMM (or :class:`~gmmjax.Gaussian`) on :math:`\\mathbb R^{d_0}`, full, diagonal
            or low-rank covariances; batch axes broadcast against ``q``'s. Zero-weight
            components change nothing.
        q: GMM on :math:`\\mathbb R^{d_1}`, ``d_1`` independent of ``d_0``.
        init: ``(K_0, K_1)`` starting coupling of the components (its marginals the two
            weight vectors; shared by every pair of a batch), or ``None`` (default): the
            independent coupling, POT's default start. Restarting from other couplings, and
            keeping the smallest converged value, is the way to look past a local minimum.
        max_iter: Frank–Wolfe steps, an int >= 1 (default 100; the small problems tried
            stop after fewer than 10).
        tol: stationarity tolerance, relative to the largest entry of the gradient, a number
            > 0 (default ``16 (K_0 + K_1)`` machine epsilons).
        return_info: also return the :class:`~gmmjax.OTResult` of the discrete problem
            (``cost`` = :math:`MGW_2^2`, ``plan`` the ``(K_0, K_1)`` component coupling,
            ``converged``, ``n_iters``, the centred duals ``f``, ``g``); default ``False``.

    Returns:
        The distance (not squared), of shape the broadcast batch shape, or
        ``(distance, info)``.

    Raises:
        TypeError: ``p`` or ``q`` not a GMM or Gaussian, ``max_iter`` not an int.
        ValueError: ``max_iter < 1``, ``tol`` not finite and > 0, ``init`` of the wrong
            shape or not a coupling of the weights.

    Example:
        >>> p = GMM.univariate([0.3, 0.7], [0.0, 3.0], [1.0, 1.0])
        >>> q = GMM([0.3, 0.7], [[1.0, 1.0], [1.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]])
        >>> float(mixture_gromov_wasserstein(p, q))  # an isometric copy, up to dimension
        0.0
        >>> p2 = GMM.univariate([0.5, 0.5], [0.0, 3.0], [1.0, 1.0])
        >>> q2 = GMM([0.5, 0.5], [[1.0, 1.0], [1.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]])
        >>> float(mixture_gromov_wasserstein(p2, q2))  # symmetric: the start is a saddle
        0.0
    """
    p, q = as_gmm("p", p), as_gmm("q", q)
    cap = check_static_int("max_iter", _DEFAULT_MAX_ITER if max_iter is None else max_iter)
    tol = check_real("tol", tol, low=0.0, low_open=True, allow_none=True)
    tol = None if tol is None else float(tol)
    if init is not None and not p.batch_shape and not q.batch_shape:
        init = _check_init(init, p.weights, q.weights)
    distance, res = map_pairs(_pair, p, q, init, max_iter=cap, tol=tol)
    return (distance, res) if return_info else distance
