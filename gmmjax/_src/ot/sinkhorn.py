"""Entropic optimal transport by Sinkhorn's iterations (Cuturi 2013), made honest.

Balanced problems are solved here, by log-stabilised scaling iterations (Schmitzer 2019:
matrix-vector products, one ``exp`` of the cost every 10 iterations) differentiated by the
implicit function theorem at the fixed point (:func:`_plan_vjp`), not through the iterations;
unbalanced transport (``tau < 1``) and ``implicit_diff=True`` use OTT-JAX's log-domain solver.
Two additions make every Sinkhorn value safe to use as it is:

- a default regularisation :func:`default_epsilon` that is positive and on the scale of the
  cost for every cost matrix (constant, zero, tiny or huge entries);
- the entropic plan is rounded onto the transport polytope (:func:`round_to_polytope`,
  Altschuler, Weed & Rigollet 2017, Algorithm 2), so the returned cost is the cost of a
  feasible plan and never falls below the exact optimum, whatever ``epsilon`` and however
  few iterations ran.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp

from gmmjax._src.core.scalars import check_real, check_static_int
from gmmjax._src.ot.result import OTResult, as_problem

__all__ = [
    "DEFAULT_EPSILON_FRACTION",
    "default_epsilon",
    "default_threshold",
    "round_to_polytope",
    "sinkhorn_ot",
    "solve_sinkhorn",
]

#: ``epsilon=None`` is this fraction of the cost scale of :func:`default_epsilon`.
DEFAULT_EPSILON_FRACTION = 0.05

#: OTT checks the marginal error every this many iterations (fewer when ``max_iter`` is less).
_INNER_ITERATIONS = 10


def default_threshold(dtype: Any) -> float:
    """Marginal-error target for Sinkhorn: ``1e-6`` in float64, ``1e-4`` in float32."""
    return 1e-6 if jnp.finfo(dtype).bits >= 64 else 1e-4


def _weighted_mean(x: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    """:math:`a^T x\\, b` (``a``, ``b`` summing to 1): matrix products only."""
    return a @ x @ b


def default_epsilon(a: jax.Array, b: jax.Array, cost: jax.Array) -> jax.Array:
    """The regularisation used when ``epsilon=None``: 5% of a shift-invariant cost scale.

    .. math::
        \\varepsilon = 0.05\\max\\big(s,\\ \\sqrt{\\mathrm{eps}}\\max_{a_ib_j>0}|C_{ij}|\\big),
        \\qquad s = \\sum_{ij} a_i b_j\\,\\big|C_{ij} - \\bar C_{i\\cdot} - \\bar C_{\\cdot j}
        + \\bar C\\big|,

    with :math:`\\bar C_{i\\cdot}`, :math:`\\bar C_{\\cdot j}`, :math:`\\bar C` the means of
    row ``i``, column ``j`` and the whole cost under the marginals, and ``eps`` the machine
    epsilon of the dtype; :math:`\\varepsilon = 0.05` when both terms are 0.

    Why this rule: adding :math:`u_i + v_j` to the cost changes neither the optimal plan nor
    the entropic one, so the scale ``s`` is measured after removing row and column means
    (a global offset, e.g. two mixtures far apart, does not blur the plan). ``s = 0`` means
    every coupling costs the same (a constant or a zero cost, one-component mixtures, ``P = P``
    with one component): any ``epsilon`` gives the exact value, and the floor keeps it
    positive. The floor :math:`\\sqrt{\\mathrm{eps}}\\max|C|` keeps
    :math:`C/\\varepsilon` representable with about half the digits of the dtype, so the
    log-domain iterations do not lose the plan to cancellation. Only entries with
    :math:`a_ib_j > 0` count (zero-weight padding does not change the default). The value is
    not differentiated (a hyperparameter, as in OTT).

    (OTT's own default, 5% of the standard deviation of all entries, is 0 for a constant
    cost, where its Sinkhorn returns 0 or NaN.)

    Args:
        a, b: marginals (non-negative; they are normalised here).
        cost: ``(n, m)`` cost matrix.

    Returns:
        A positive scalar of the cost's dtype.
    """
    a, b, c = (jax.lax.stop_gradient(x) for x in (a, b, cost))
    a = a / jnp.where(jnp.sum(a) > 0, jnp.sum(a), 1.0)
    b = b / jnp.where(jnp.sum(b) > 0, jnp.sum(b), 1.0)
    support = (a[:, None] > 0) & (b[None, :] > 0)
    c = jnp.where(support, c, 0.0)
    rows, cols, mean = c @ b, a @ c, _weighted_mean(c, a, b)
    spread = _weighted_mean(jnp.abs(c - rows[:, None] - cols[None, :] + mean), a, b)
    floor = jnp.sqrt(jnp.finfo(c.dtype).eps) * jnp.max(jnp.abs(c))
    scale = jnp.maximum(spread, floor)
    scale = jnp.where(scale > 0, scale, 1.0)  # every plan is optimal: any positive value
    return DEFAULT_EPSILON_FRACTION * scale


def _negligible(x: jax.Array) -> jax.Array:
    r"""Below :math:`\sqrt{\mathrm{tiny}}`: too small to divide by (``1/x^2`` in the gradient
    would overflow), and too small to matter in a mass that sums to 1."""
    return x < jnp.sqrt(jnp.finfo(x.dtype).tiny)


def _ratio_at_most_one(target: jax.Array, current: jax.Array) -> jax.Array:
    """``min(target / current, 1)``; 1 where ``current`` is negligible (double ``where``)."""
    small = _negligible(current)
    return jnp.where(small, 1.0, jnp.minimum(target / jnp.where(small, 1.0, current), 1.0))


def round_to_polytope(plan: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    """Round a non-negative plan onto :math:`\\Pi(a, b)` (Altschuler et al. 2017, Algorithm 2).

    .. math::
        F' = \\mathrm{diag}(x)F,\\ x = \\min(a / F1, 1);\\quad
        F'' = F'\\mathrm{diag}(y),\\ y = \\min(b / F'^T1, 1);\\quad
        G = F'' + \\frac{e_a e_b^T}{\\|e_a\\|_1},\\ e_a = a - F''1,\\ e_b = b - F''^T1.

    Scaling rows and columns down leaves non-negative deficits :math:`e_a`, :math:`e_b`
    of equal mass, which the rank-one term refills, so :math:`G\\ge 0` has marginals ``a``
    and ``b`` (to round-off, and to :math:`|\\sum a - \\sum b|` when the totals differ), and
    :math:`\\|G - F\\|_1 \\le 2(\\|F1 - a\\|_1 + \\|F^T1 - b\\|_1)` (Lemma 7). Rows and columns
    with zero weight end at zero. The divisions are guarded by a double ``where`` (a row,
    column or deficit below :math:`\\sqrt{\\mathrm{tiny}}` of the dtype is left as it is), so
    the gradient stays finite at convergence (:math:`e_a = 0`) and with zero or tiny weights.

    Args:
        plan: ``(n, m)`` non-negative matrix (the entropic plan).
        a, b: target marginals.

    Returns:
        The rounded ``(n, m)`` plan.
    """
    plan = plan * _ratio_at_most_one(a, jnp.sum(plan, axis=1))[:, None]
    plan = plan * _ratio_at_most_one(b, jnp.sum(plan, axis=0))[None, :]
    err_a = jnp.maximum(a - jnp.sum(plan, axis=1), 0.0)
    err_b = jnp.maximum(b - jnp.sum(plan, axis=0), 0.0)
    mass = jnp.sum(err_a)
    small = _negligible(mass)  # converged, or exactly feasible: nothing to refill
    refill = jnp.outer(err_a, err_b) / jnp.where(small, 1.0, mass)
    return plan + jnp.where(small, 0.0, refill)


def check_tau(tau: Any) -> float:
    """``tau`` as a Python float in ``(0, 1]``: it configures the solver, so it is static.

    Raises:
        TypeError: ``tau`` is not a real number, or is a traced value.
        ValueError: ``tau`` outside ``(0, 1]``.
    """
    if isinstance(tau, jax.core.Tracer):
        raise TypeError("tau must be a concrete number (it configures the solver); got a tracer")
    tau = check_real("tau", tau, low=0.0, high=1.0, low_open=True)
    return float(tau)


def marginal_penalty(epsilon: Any, tau: float) -> jax.Array:
    """:math:`\\rho = \\varepsilon\\,\\tau / (1 - \\tau)`, the weight of the marginal KL terms.

    OTT-JAX's parameterisation of unbalanced Sinkhorn (Chizat, Peyré, Schmitzer & Vialard
    2018): ``tau`` -> 1 is balanced transport, ``tau`` -> 0 lets the marginals go.
    """
    return epsilon * tau / (1.0 - tau)


def unbalanced_objective(
    plan: jax.Array, a: jax.Array, b: jax.Array, cost: jax.Array, rho: Any
) -> jax.Array:
    """Unbalanced transport objective of a plan, without the entropy term.

    .. math::
        \\langle C, \\pi\\rangle + \\rho\\,\\mathrm{KL}(\\pi 1 \\,|\\, a)
        + \\rho\\,\\mathrm{KL}(\\pi^T 1 \\,|\\, b), \\qquad
        \\mathrm{KL}(x|y) = \\sum_i x_i \\log\\frac{x_i}{y_i} - x_i + y_i

    (the generalised KL of non-negative measures; Chizat et al. 2018). Entries with
    :math:`x_i = 0` contribute :math:`y_i`.
    """
    return jnp.sum(plan * cost) + rho * (
        _kl_measures(plan.sum(1), a) + _kl_measures(plan.sum(0), b)
    )


def _kl_measures(x: jax.Array, y: jax.Array) -> jax.Array:
    positive = x > 0
    safe_x = jnp.where(positive, x, 1.0)
    safe_y = jnp.where(positive, jnp.maximum(y, jnp.finfo(y.dtype).tiny), 1.0)
    return jnp.sum(jnp.where(positive, x * jnp.log(safe_x / safe_y), 0.0) - x + y)


#: Scaling iterations between two absorptions of the scalings into the potentials.
_BLOCK = 10


def _clip_log(dtype: Any) -> float:
    """Largest ``|log u|`` a scaling may reach within a block: a quarter of the dtype's range."""
    return math.log(float(jnp.finfo(dtype).max)) / 4


def _soft_min_rows(z: jax.Array, weights: jax.Array) -> jax.Array:
    """:math:`-\\log\\sum_j w_j e^{-z_{ij}}`, stable (``w >= 0``; ``+inf`` rows give ``+inf``)."""
    m = jnp.min(jnp.where(weights[None, :] > 0, z, jnp.inf), axis=1)
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    return m - jnp.log(jnp.sum(weights[None, :] * jnp.exp(m[:, None] - z), axis=1))


def _sinkhorn_iterate(
    a: jax.Array, b: jax.Array, c: jax.Array, eps: jax.Array, threshold: float, max_iter: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]:
    """Balanced Sinkhorn by log-stabilised scaling (Schmitzer 2019, Algorithm 2).

    .. math::
        K = e^{(f\\oplus g - C)/\\varepsilon},\\qquad
        u \\leftarrow a \\oslash K v,\\quad v \\leftarrow b \\oslash K^T u
        \\quad(\\text{Sinkhorn 1967, Cuturi 2013}),

    with the scalings absorbed into the potentials, :math:`f \\mathrel{+}= \\varepsilon\\log u`,
    :math:`g \\mathrel{+}= \\varepsilon\\log v`, and :math:`K` rebuilt, every :data:`_BLOCK`
    iterations: one ``exp`` of the cost per block, matrix-vector products in between (the
    log-domain updates of OTT-JAX take two ``exp`` per iteration). The potentials start at
    one log-domain update (:math:`f_i = \\varepsilon\\log a_i - \\varepsilon\\log\\sum_j
    b_j e^{-C_{ij}/\\varepsilon}` and the same for ``g``), so every row and column of the first
    :math:`K` has its mass; the scalings are clipped to :math:`e^{\\pm L}`, :math:`L` a quarter
    of the log-range of the dtype, so no product overflows whatever ``epsilon``. The error is
    :math:`\\|P1 - a\\|_1` after a column update (:math:`P^T1 = b` exactly), checked once
    per block, as OTT does every 10 iterations.

    Returns:
        ``(plan, f, g, converged, n_iters)`` with the unrounded plan
        :math:`\\mathrm{diag}(u)K\\mathrm{diag}(v)`.
    """
    block = min(_BLOCK, max_iter)
    n_blocks = max_iter // block
    limit = _clip_log(c.dtype)
    pos_a, pos_b = a > 0, b > 0
    log_a = jnp.log(jnp.where(pos_a, a, 1.0))
    log_b = jnp.log(jnp.where(pos_b, b, 1.0))
    z = c / eps
    f = jnp.where(pos_a, log_a + _soft_min_rows(z, b), 0.0)  # potentials in units of eps
    g = jnp.where(pos_b, log_b + _soft_min_rows((z - f[:, None]).T, a), 0.0)

    def scale(target: jax.Array, pos: jax.Array, mass: jax.Array) -> jax.Array:
        ratio = target / jnp.where(mass > 0, mass, 1.0)
        ratio = jnp.where(mass > 0, ratio, jnp.exp(limit))
        return jnp.where(pos, jnp.clip(ratio, jnp.exp(-limit), jnp.exp(limit)), 0.0)

    def kernel(f: jax.Array, g: jax.Array) -> jax.Array:
        k = jnp.exp(f[:, None] + g[None, :] - z)
        return jnp.where(pos_a[:, None] & pos_b[None, :], k, 0.0)

    def one_block(state: tuple) -> tuple:
        f, g, _, it = state
        k = kernel(f, g)
        v = pos_b.astype(c.dtype)
        u = v[:1]  # placeholder, overwritten
        for _ in range(block):
            u = scale(a, pos_a, jnp.sum(k * v[None, :], axis=1))
            v = scale(b, pos_b, jnp.sum(k * u[:, None], axis=0))
        err = jnp.sum(jnp.abs(u * jnp.sum(k * v[None, :], axis=1) - a))
        f = jnp.where(pos_a, f + jnp.log(jnp.where(pos_a, u, 1.0)), f)
        g = jnp.where(pos_b, g + jnp.log(jnp.where(pos_b, v, 1.0)), g)
        return f, g, err, it + block

    def going(state: tuple) -> jax.Array:
        _, _, err, it = state
        return (err > threshold) & (it < n_blocks * block)

    inf = jnp.asarray(jnp.inf, c.dtype)
    f, g, err, it = jax.lax.while_loop(going, one_block, (f, g, inf, jnp.asarray(0, jnp.int32)))
    plan = kernel(f, g)
    return plan, eps * f, eps * g, err <= threshold, it


def _cg_psd(matrix: jax.Array, rhs: jax.Array, n_steps: int) -> jax.Array:
    """Jacobi-preconditioned conjugate gradients (Hestenes & Stiefel 1952) from 0.

    For a symmetric positive semi-definite ``matrix`` and ``rhs`` in its range: the minimum-norm
    direction is approached within the range (the iterates never leave it). Matrix products
    only; divisions by a vanishing curvature or residual are guarded, so the result is finite.
    """
    diag = jnp.diagonal(matrix)
    inv_diag = jnp.where(diag > 0, 1.0 / jnp.where(diag > 0, diag, 1.0), 0.0)
    eps = jnp.finfo(rhs.dtype).eps
    # Relative guards: a step along a direction of curvature below round-off of the matrix's
    # scale, or once the residual is at round-off of the right side, only amplifies noise
    # (directions near the null space of a nearly singular complement gave 1e27 gradients).
    scale = jnp.max(jnp.abs(diag))
    z0 = inv_diag * rhs
    rz0 = rhs @ z0
    r_floor = eps**2 * rz0

    def step(_: int, state: tuple) -> tuple:
        x, r, p, rz = state
        sp = matrix @ p
        curv = p @ sp
        ok = (curv > 4 * eps * scale * (p @ p)) & (rz > r_floor)
        alpha = jnp.where(ok, rz / jnp.where(ok, curv, 1.0), 0.0)
        x, r = x + alpha * p, r - alpha * sp
        z = inv_diag * r
        rz_new = r @ z
        beta = jnp.where(ok, rz_new / jnp.where(ok, rz, 1.0), 0.0)
        return x, r, z + beta * p, jnp.where(ok, rz_new, rz)

    x0 = jnp.zeros_like(rhs)
    return jax.lax.fori_loop(0, n_steps, step, (x0, rhs, z0, rz0))[0]


def _plan_vjp(plan: jax.Array, eps: jax.Array, plan_bar: jax.Array) -> tuple:
    """Pull a cotangent of the entropic plan back to ``(a, b, C, epsilon)``: implicit function.

    At the fixed point :math:`P = e^{(f\\oplus g - C)/\\varepsilon}`, :math:`P1 = a`,
    :math:`P^T1 = b`, a perturbation gives
    :math:`dP = P\\odot(df\\oplus dg - dC)/\\varepsilon` with
    :math:`H\\,(df, dg) = \\varepsilon(da, db) + ((P\\odot dC)1, (P\\odot dC)^T1)`,
    :math:`H = \\begin{pmatrix}D_a & P\\\\ P^T & D_b\\end{pmatrix}` (the implicit
    differentiation of Sinkhorn of Luise et al. 2018 and Eisenberger et al. 2022). For a
    cotangent :math:`\\bar P`, with :math:`W = P\\odot\\bar P` and
    :math:`(x, y) = H^+(W1, W^T1)`:

    .. math::
        \\bar a = x,\\quad \\bar b = y,\\quad
        \\bar C = P\\odot(x\\oplus y - \\bar P)/\\varepsilon,\\quad
        \\bar\\varepsilon = -\\langle \\bar C, C\\rangle/\\varepsilon

    (:math:`P` depends on ``C`` and ``epsilon`` through :math:`C/\\varepsilon`). ``y`` is
    eliminated, :math:`y = D_b^{-1}(W^T1 - P^Tx)`, and ``x`` solves the Schur complement
    :math:`(D_a - PD_b^{-1}P^T)x = W1 - PD_b^{-1}W^T1` by conjugate gradients (matrix products
    only; the complement is PSD with the null vector 1, and the right side sums to 0). The
    constant :math:`(t, -t)` left free by :math:`H` does not change ``C``'s cotangent; the
    caller centres the weights' cotangents. Zero rows and columns get zero cotangents.
    """
    cols = jnp.sum(plan, axis=0)
    inv_cols = jnp.where(cols > 0, 1.0 / jnp.where(cols > 0, cols, 1.0), 0.0)
    w = plan * plan_bar
    w_r, w_c = jnp.sum(w, axis=1), jnp.sum(w, axis=0)
    scaled = plan * inv_cols[None, :]
    # D_a - P D_b^-1 P^T is the Laplacian of M = P D_b^-1 P^T (its rows sum to those of P):
    # the diagonal is summed from the off-diagonal entries instead of subtracting two nearly
    # equal numbers (in float32 the difference lost the gradient to ~15 % at small epsilon).
    off = scaled @ plan.T
    off = off * (1.0 - jnp.eye(off.shape[0], dtype=off.dtype))
    schur = jnp.diag(jnp.sum(off, axis=1)) - off
    x = _cg_psd(schur, w_r - scaled @ w_c, 2 * plan.shape[0] + 2)
    y = inv_cols * (w_c - plan.T @ x)
    c_bar = plan * (x[:, None] + y[None, :] - plan_bar) / eps
    return x, y, c_bar


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _balanced(a, b, c, eps, threshold: float, max_iter: int) -> tuple:
    return _balanced_fwd(a, b, c, eps, threshold, max_iter)[0]


def _balanced_fwd(a, b, c, eps, threshold: float, max_iter: int) -> tuple:
    entropic, f, g, ok, n_iters = _sinkhorn_iterate(a, b, c, eps, threshold, max_iter)
    plan = round_to_polytope(entropic, a, b)
    cost = jnp.sum(plan * c)
    return (cost, plan, f, g, ok, n_iters), (entropic, plan, c, eps, f, g, ok)


def _balanced_bwd(threshold: float, max_iter: int, res: tuple, cts: tuple) -> tuple:
    """The implicit-function VJP at a converged fixed point; the envelope VJP otherwise.

    An iterate stopped by ``max_iter`` is not the fixed point the implicit function theorem
    differentiates, and the implicit gradient can then point anywhere (it disagreed with finite
    differences of the returned value by an order of magnitude and stalled training). Such a
    problem gets the gradient of the linear program at the returned plan instead (Danskin's
    envelope theorem, as for the exact solver): :math:`\\bar C = \\bar c\\,P`, the weights'
    cotangents from the potentials, no dependence through ``epsilon`` or the plan output.
    """
    entropic, plan, c, eps, f, g, ok = res
    cost_bar, plan_bar = cts[0], cts[1]
    x, y, c_bar = _plan_vjp(entropic, eps, cost_bar * c + plan_bar)
    x = jnp.where(ok, x, cost_bar * f)
    y = jnp.where(ok, y, cost_bar * g)
    c_bar = jnp.where(ok, c_bar, 0.0)
    eps_bar = -jnp.sum(c_bar * c) / eps
    a_bar = jnp.where(jnp.sum(entropic, axis=1) > 0, x, 0.0)
    b_bar = jnp.where(jnp.sum(entropic, axis=0) > 0, y, 0.0)
    # The weights live on the simplex: centred, as the exact solver's duals.
    a_bar, b_bar = a_bar - jnp.mean(a_bar), b_bar - jnp.mean(b_bar)
    return a_bar, b_bar, c_bar + cost_bar * plan, eps_bar


_balanced.defvjp(_balanced_fwd, _balanced_bwd)


def solve_sinkhorn(a, b, cost_matrix, *, epsilon=None, threshold=None, **options) -> OTResult:
    """:func:`sinkhorn_ot` without its scalar checks: the core every Sinkhorn path calls.

    For callers that checked ``epsilon`` and ``max_iter`` already (:func:`get_solver`); it
    emits no checkify check, so its traces can be cached and shared. ``options``:
    ``max_iter`` (default 2000), ``implicit_diff`` (False) and ``tau`` (1), as in
    :func:`sinkhorn_ot`.
    """
    max_iter = options.pop("max_iter", 2000)
    implicit_diff = options.pop("implicit_diff", False)
    tau = options.pop("tau", 1.0)
    if options:
        raise TypeError(f"solve_sinkhorn got unexpected keyword arguments {sorted(options)}")
    a, b, c = as_problem(a, b, cost_matrix)
    threshold = default_threshold(c.dtype) if threshold is None else float(threshold)
    eps = default_epsilon(a, b, c) if epsilon is None else jnp.asarray(epsilon, c.dtype)
    if tau >= 1.0 and not implicit_diff:
        a, b = jnp.where(a > 0, a, 0.0), jnp.where(b > 0, b, 0.0)
        cost, plan, f, g, ok, n_iters = _balanced(a, b, c, eps, threshold, max_iter)
        f, g = jax.lax.stop_gradient(f), jax.lax.stop_gradient(g)
        return OTResult(cost, plan, f, g, ok, n_iters)
    return _ott_sinkhorn(a, b, c, eps, threshold, max_iter, implicit_diff, tau)


def _ott_sinkhorn(a, b, c, eps, threshold: float, max_iter: int, implicit_diff: bool, tau: float):
    """OTT-JAX's log-domain solver: unbalanced transport, and OTT's implicit differentiation."""
    # OTT takes seconds to import: it is imported when a Sinkhorn solve is first traced.
    from ott.geometry import geometry
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import implicit_differentiation, sinkhorn

    # OTT's log-domain backward pass gives NaN for exactly-zero weights; routing them through
    # ``where`` keeps the value and zeroes that cotangent.
    a, b = jnp.where(a > 0, a, 0.0), jnp.where(b > 0, b, 0.0)
    geom = geometry.Geometry(cost_matrix=c, epsilon=eps)
    problem = linear_problem.LinearProblem(geom, a, b, tau_a=tau, tau_b=tau)
    solver = sinkhorn.Sinkhorn(
        threshold=threshold,
        max_iterations=max_iter,
        inner_iterations=min(_INNER_ITERATIONS, max_iter),
        implicit_diff=implicit_differentiation.ImplicitDiff() if implicit_diff else None,
    )
    out = solver(problem)
    if tau < 1.0:
        plan = out.matrix
        cost = unbalanced_objective(plan, a, b, c, marginal_penalty(eps, tau))
    else:
        plan = round_to_polytope(out.matrix, a, b)
        cost = jnp.sum(plan * c)
    return OTResult(
        cost, plan, out.f, out.g, jnp.asarray(out.converged), jnp.asarray(out.n_iters, jnp.int32)
    )


def sinkhorn_ot(
    a: Any,
    b: Any,
    cost_matrix: Any,
    *,
    epsilon: Any = None,
    threshold: float | None = None,
    max_iter: int = 2000,
    implicit_diff: bool = False,
    tau: float = 1.0,
) -> OTResult:
    """Entropic optimal transport (Cuturi 2013) by OTT-JAX, rounded to a feasible plan.

    .. math::
        \\pi_\\varepsilon = \\arg\\min_{\\pi\\in\\Pi(a,b)} \\langle C,\\pi\\rangle
        - \\varepsilon H(\\pi), \\qquad
        \\mathrm{cost} = \\langle C, \\mathrm{round}(\\pi_\\varepsilon)\\rangle
        \\;\\ge\\; \\min_{\\pi\\in\\Pi(a,b)}\\langle C,\\pi\\rangle

    Balanced problems: log-stabilised scaling iterations (:func:`_sinkhorn_iterate`,
    Schmitzer 2019), matrix products only between absorptions. The plan the iterations
    reach is rounded onto the transport polytope (:func:`round_to_polytope`, Altschuler,
    Weed & Rigollet 2017, Algorithm 2): ``plan`` is always a coupling of ``a`` and ``b``
    (to round-off) and ``cost`` is its transport cost, an upper bound on the exact optimum
    at any ``epsilon`` and any iteration cap; it tends to the optimum as
    :math:`\\varepsilon\\to 0` and the iterations converge. ``converged`` says whether the
    marginal error :math:`\\|\\pi 1 - a\\|_1` of the unrounded plan reached ``threshold``
    (checked every 10 iterations, so ``n_iters`` is a multiple of ``min(10, max_iter)``).

    Gradients (balanced): the derivative of the returned ``cost`` and ``plan`` at the fixed
    point of the iterations, by the implicit function theorem (:func:`_plan_vjp`; matrix
    products only, nothing is stored per iteration). In ``C`` the cost's gradient is the
    rounded plan plus the plan's own change, :math:`\\hat\\pi + (\\partial\\pi/\\partial C)^T C`;
    in the weights it is centred (they live on the simplex), as for the exact solver. This
    is the derivative of the value returned, not the envelope gradient
    :math:`\\pi_\\varepsilon` of the regularised objective
    :math:`\\langle C,\\pi\\rangle - \\varepsilon H(\\pi)`, which differs from it by
    :math:`O(\\varepsilon)`. The rounding is taken as the identity (it moves the plan by at
    most twice the marginal error, Altschuler et al., Lemma 7), so the gradient is exact to
    about ``threshold`` once ``converged``; before convergence it is the same formula at the
    reached iterate, finite but approximate, and a near-permutation plan (tiny ``epsilon``)
    makes the linear system ill-conditioned (the conjugate gradients stop after ``2 n + 2``
    steps; the result stays finite). ``f`` and ``g`` are returned without gradient. With
    ``implicit_diff=True`` OTT's solver and implicit differentiation are used instead (its
    linear system is singular when the plan is close to a permutation, where OTT raises);
    unbalanced problems differentiate OTT's unrolled iterations.

    Args:
        a, b, cost_matrix: as in :func:`exact_ot`.
        epsilon: entropic regularisation, a finite number > 0; ``None`` uses
            :func:`default_epsilon` (5% of the cost's spread after removing row and column
            means, with a floor, so it is positive for every cost matrix).
        threshold: marginal-error target (default :func:`default_threshold`), > 0.
        max_iter: iteration cap, an int >= 1; ``converged`` is False when it is reached
            first (the plan is still rounded to a feasible one).
        implicit_diff: solve with OTT-JAX and differentiate by OTT's implicit
            differentiation (the route of earlier versions, kept as a reference).
        tau: ``1`` (default) for balanced transport; ``tau`` in ``(0, 1)`` relaxes both
            marginals (unbalanced transport, OTT's ``tau_a = tau_b = tau``, see
            :func:`unbalanced_objective`): the plan is not rounded and ``cost`` is the
            unbalanced objective.

    Raises:
        TypeError: ``epsilon`` or ``threshold`` not a real number, ``max_iter`` not an int.
        ValueError: ``epsilon``/``threshold`` not finite and > 0, ``max_iter < 1``. A traced
            ``epsilon`` is checked inside :func:`gmmjax.checked` and otherwise makes the
            result NaN where it is invalid.

    Example:
        >>> res = sinkhorn_ot(jnp.array([0.5, 0.5]), jnp.array([0.5, 0.5]),
        ...                   jnp.array([[0.0, 1.0], [1.0, 0.0]]), epsilon=1e-2)
        >>> round(float(res.cost), 4), bool(res.converged)
        (0.0, True)
    """
    epsilon = check_real("epsilon", epsilon, low=0.0, low_open=True, allow_none=True)
    check_real("threshold", threshold, low=0.0, low_open=True, allow_none=True)
    max_iter = check_static_int("max_iter", max_iter)
    tau = check_tau(tau)
    return solve_sinkhorn(
        a,
        b,
        cost_matrix,
        epsilon=epsilon,
        threshold=threshold,
        max_iter=max_iter,
        implicit_diff=implicit_diff,
        tau=tau,
    )
