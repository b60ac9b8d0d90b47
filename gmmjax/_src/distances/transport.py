"""Optimal transport between Gaussian mixtures (Chen et al. 2019, §III): distance, plan, geodesic.

A mixture :math:`\\mu = \\sum_i p^i\\nu^i` is read as a discrete measure on the Wasserstein
space of Gaussians. The distance of Chen et al. (2019) is the discrete OT problem (eq. 9) with the
Bures cost :math:`c(i,j) = W_2(\\nu_0^i, \\nu_1^j)^2` (:func:`gmmjax.bures_cost_matrix`):

.. math::
    d(\\mu_0,\\mu_1)^2 = \\min_{\\pi\\in\\Pi(p_0,p_1)} \\sum_{ij} c(i,j)\\,\\pi(i,j)
    \\qquad\\text{(eq. 10)},

a metric (Theorem 1) whose geodesics stay mixtures (eq. 11, Theorem 2). The cost matrix is
the Bures kernel (:mod:`gmmjax._src.kernels.bures`); the LP goes to a solver of
:mod:`gmmjax._src.ot.solvers`, exact or entropic (OTT).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gmmjax._src.core.arguments import check_gmm_pair, require_dense
from gmmjax._src.core.lift import map_pairs
from gmmjax._src.core.mixture import GMM
from gmmjax._src.core.scalars import check_real
from gmmjax._src.kernels.bures import bures_cost, interpolate
from gmmjax._src.math.numerics import safe_sqrt
from gmmjax._src.ot.result import OTResult
from gmmjax._src.ot.solvers import Solver, get_solver

__all__ = ["geodesic", "mw2_distance", "mw2_plan"]


def _plan_pair(p: GMM, q: GMM, solver: Solver) -> OTResult:
    return solver.transport(p.weights, q.weights, bures_cost(p, q))


def _distance_pair(p: GMM, q: GMM, solver: Solver) -> tuple[OTResult, jax.Array]:
    res = _plan_pair(p, q, solver)
    return res, solver.trusted(res, safe_sqrt(res.cost))


def _solve(p: GMM, q: GMM, solver: Solver) -> tuple[OTResult, jax.Array]:
    """The checked pair's OT problems and distances over the batch axes; failures raise.

    One compiled program, shared by :func:`mw2_plan` and :func:`mw2_distance`.
    """
    p, q = check_gmm_pair(p, q)
    res, distance = map_pairs(_distance_pair, p, q, solver)
    solver.raise_if_failed(res)
    return res, distance


def mw2_plan(
    p: GMM,
    q: GMM,
    solver: str = "exact",
    epsilon: float | None = None,
    *,
    max_iter: int | None = None,
    tau: float | None = None,
    return_info: bool = False,
) -> jax.Array | tuple[jax.Array, OTResult]:
    """Optimal coupling :math:`\\pi^*` of the components of two mixtures.

    .. math::
        \\pi^* = \\arg\\min_{\\pi\\in\\Pi(p_0,p_1)}\\sum_{ij}
        W_2(\\nu_0^i,\\nu_1^j)^2\\,\\pi(i,j)

    (Chen, Georgiou & Tannenbaum 2019, equation 9.)

    Args:
        p, q: GMMs of one dimension ``d`` (``K_p`` and ``K_q`` components), or
            :class:`~gmmjax.Gaussian` objects (one component of weight 1); batch axes
            broadcast. Zero-weight (padding) components get zero rows/columns and change
            nothing else.
        solver: ``"exact"`` (default; exact LP by successive shortest paths on the device; on a CPU
            backend POT's network simplex above 100 component pairs, see
            :func:`gmmjax.exact_ot`), ``"exact_host"`` (POT's network simplex, always) or
            ``"sinkhorn"`` (OTT, entropic, then rounded onto the couplings: the plan is
            feasible at any ``epsilon`` and ``max_iter``; see
            :func:`~gmmjax._src.ot.sinkhorn.sinkhorn_ot`).
        epsilon: Sinkhorn regularisation, a finite number > 0, or ``None``: 5% of the cost's
            spread after removing row and column means (weighted by the two mixtures'
            weights), at least :math:`\\sqrt{\\mathrm{eps}}\\max|C|`, and 0.05 when every
            coupling costs the same (:func:`~gmmjax._src.ot.sinkhorn.default_epsilon`;
            positive for every cost, also one-component and identical mixtures). Must be
            ``None`` (the default) for the exact solvers.
        max_iter: solver iteration cap, an int >= 1 (default ``None``: ``20 (K_p + K_q) +
            100`` phases exact, 2000 Sinkhorn).
        tau: unbalanced transport (``solver="sinkhorn"`` only), a number in ``(0, 1]``
            (OTT-JAX's ``tau_a = tau_b``; ``1`` or ``None``, the default, is balanced). The
            marginal
            constraints become KL penalties of weight
            :math:`\\rho = \\varepsilon\\tau/(1-\\tau)` (Chizat et al. 2018): the plan's
            marginals may differ from the weights, it is not rounded, and ``info.cost`` is
            the unbalanced objective :math:`\\langle C,\\pi\\rangle + \\rho\\,KL(\\pi 1|p)
            + \\rho\\,KL(\\pi^T 1|q)` (:func:`~gmmjax._src.ot.sinkhorn.unbalanced_objective`),
            which is at most the balanced optimum up to the entropic blur.
        return_info: also return the solver's :class:`~gmmjax.OTResult` (``cost``,
            ``converged``, ``n_iters``, potentials); default ``False``.

    Returns:
        ``batch_shape + (K_p, K_q)``, or ``(plan, info)``.

    Raises:
        TypeError: ``epsilon`` not a real number, ``max_iter`` not an int.
        ValueError: unknown ``solver``, ``epsilon`` given to the exact solver or not finite
            and > 0, ``max_iter < 1``. A traced ``epsilon`` is checked inside
            :func:`gmmjax.checked`; elsewhere an invalid one makes the result NaN.
        RuntimeError: when the exact solver stops at ``max_iter`` (eagerly; under ``jit``
            read ``info.converged``).

    Example:
        >>> p = GMM.univariate([0.5, 0.5], [0.0, 5.0], [1.0, 1.0])
        >>> q = GMM.univariate([0.5, 0.5], [5.0, 0.0], [1.0, 1.0])
        >>> mw2_plan(p, q).tolist()
        [[0.0, 0.5], [0.5, 0.0]]
    """
    res, _ = _solve(p, q, get_solver(solver, epsilon, max_iter, tau))
    return (res.plan, res) if return_info else res.plan


def mw2_distance(
    p: GMM,
    q: GMM,
    solver: str = "exact",
    epsilon: Any = None,
    *,
    max_iter: int | None = None,
    tau: float | None = None,
    return_info: bool = False,
) -> jax.Array | tuple[jax.Array, OTResult]:
    """Mixture Wasserstein distance :math:`d(\\mu_0,\\mu_1)` between two Gaussian mixtures.

    .. math::
        d(\\mu_0,\\mu_1) = \\Big(\\min_{\\pi\\in\\Pi(p_0,p_1)}\\sum_{ij}
        W_2(\\nu_0^i,\\nu_1^j)^2\\,\\pi(i,j)\\Big)^{1/2} \\;\\ge\\; W_2(\\mu_0, \\mu_1)

    (Chen, Georgiou & Tannenbaum 2019, equations 9–10.) A metric on mixtures (Theorem 1);
    equal to :math:`W_2` between single Gaussians. Returns
    the distance, not its square. Gradients: the plan in the cost matrix, the centred dual
    potentials in the weights (exact LP), the implicit function theorem at the fixed point of
    the iterations (Sinkhorn, see :func:`~gmmjax._src.ot.sinkhorn.sinkhorn_ot`); at
    :math:`\\mu_0=\\mu_1` the derivative of the square root is taken as 0, never NaN. With
    ``"sinkhorn"`` the value is :math:`\\sqrt{\\langle C,\\hat\\pi_\\varepsilon\\rangle}` with
    :math:`\\hat\\pi_\\varepsilon` the entropic plan rounded onto the couplings
    (Altschuler, Weed & Rigollet 2017, Algorithm 2): the cost of a feasible plan, so an
    upper bound on ``d`` at any ``epsilon`` and ``max_iter``, tending to ``d`` as
    ``epsilon`` -> 0 and the iterations converge (``info.converged`` says whether they did).
    Mixtures of one component give exactly :math:`W_2` of the two Gaussians with either
    solver.

    Args:
        p, q: GMMs of one dimension ``d``, or :class:`~gmmjax.Gaussian` objects (one
            component of weight 1); batch axes broadcast. Zero-weight (padding) components
            change nothing.
        solver: ``"exact"`` (default; exact LP on the device, POT's network simplex on a
            CPU backend above 100 component pairs), ``"exact_host"`` (POT, always) or
            ``"sinkhorn"`` (OTT, entropic, rounded onto the couplings).
        epsilon: Sinkhorn regularisation, a finite number > 0, or ``None`` (default: 5% of
            the centred cost's spread, see :func:`mw2_plan`). Must be ``None`` for the
            exact solvers.
        max_iter: solver iteration cap, an int >= 1 (default ``None``: ``20 (K_p + K_q) +
            100`` phases exact, 2000 Sinkhorn).
        tau: unbalanced transport (``solver="sinkhorn"`` only), a number in ``(0, 1]``
            (default ``None``: balanced); ``info.cost`` is then the unbalanced objective.
        return_info: also return the solver's :class:`~gmmjax.OTResult` (``converged``,
            ``n_iters``, ``cost`` = the squared distance, plan, potentials); default
            ``False``.

    Returns:
        A scalar, or ``batch_shape`` for batched mixtures; ``(distance, info)`` with
        ``return_info``. Under ``jit`` a failed exact solve (iteration cap) gives NaN; eagerly
        it raises ``RuntimeError``.

    Raises:
        TypeError, ValueError, RuntimeError: as in :func:`mw2_plan`.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> q = GMM.univariate([0.5, 0.5], [-2.0, 2.0], [1.0, 1.0])
        >>> round(float(mw2_distance(p, q)), 6)
        2.0
    """
    res, distance = _solve(p, q, get_solver(solver, epsilon, max_iter, tau))
    return (distance, res) if return_info else distance


def _geodesic_pair(p: GMM, q: GMM, t: jax.Array, solver: Solver) -> GMM:
    plan = _plan_pair(p, q, solver).plan
    kp, kq, d = p.n_components, q.n_components, p.dim
    covs_p, covs_q = p.covs[:, None], q.covs[None, :]
    means, covs = interpolate(
        p.means[:, None], covs_p, p.is_diagonal, q.means[None, :], covs_q, q.is_diagonal, t
    )
    means = jnp.broadcast_to(means, (kp, kq, d)).reshape(kp * kq, d)
    covs = covs.reshape(kp * kq, *covs.shape[2:])
    return GMM._unchecked(plan.reshape(kp * kq), means, covs)


def geodesic(
    p: GMM,
    q: GMM,
    t: Any,
    solver: str = "exact",
    epsilon: float | None = None,
    *,
    max_iter: int | None = None,
) -> GMM:
    """Point at time ``t`` on the mixture geodesic from ``p`` to ``q``.

    .. math::
        \\mu_t = \\sum_{i,j}\\pi^*(i,j)\\,\\nu_t^{ij}, \\qquad
        d(\\mu_s,\\mu_t) = (t-s)\\,d(\\mu_0,\\mu_1) \\quad\\text{(Theorem 2)}

    (Chen, Georgiou & Tannenbaum 2019, equation 11), with :math:`\\nu_t^{ij}` McCann's
    interpolation (eq. 7, :func:`gmmjax.gaussian_interpolate`) between component ``i`` of
    ``p`` and ``j`` of ``q``.
    The result has ``K_p * K_q`` components (row-major over ``(i, j)``); pairs the plan does
    not use keep weight 0, so shapes are static under ``jit``. Two diagonal mixtures give a
    diagonal one.

    Args:
        p, q: GMMs of one dimension ``d``, or :class:`~gmmjax.Gaussian` objects (one
            component of weight 1); batch axes broadcast.
        t: time in ``[0, 1]``, a real scalar.
        solver: the solver of the plan that weights the pairs: ``"exact"`` (default),
            ``"exact_host"`` or ``"sinkhorn"`` (see :func:`mw2_plan`).
        epsilon: Sinkhorn regularisation > 0, or ``None`` (default: chosen from the cost
            for ``"sinkhorn"``; the exact solvers need ``None``).
        max_iter: solver iteration cap, an int >= 1 (default ``None``: the solver's own).

    Returns:
        A :class:`~gmmjax.GMM` with ``K_p * K_q`` components and the broadcast batch shape.

    Raises:
        TypeError: ``t`` not a real number (and as in :func:`mw2_plan`).
        ValueError: a concrete ``t`` outside ``[0, 1]`` or not a scalar (and as in
            :func:`mw2_plan`). A traced ``t`` is checked inside :func:`gmmjax.checked`;
            elsewhere an invalid one makes the result NaN.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> q = GMM.univariate([1.0], [4.0], [9.0])
        >>> mid = geodesic(p, q, 0.5)
        >>> mid.means[0, 0].tolist(), mid.covs[0, 0].tolist()
        (2.0, 4.0)
    """
    p, q = check_gmm_pair(p, q)
    require_dense("geodesic", p=p, q=q)
    ot_solver = get_solver(solver, epsilon, max_iter)
    if getattr(t, "ndim", 0):
        raise ValueError(f"t must be a scalar; got shape {t.shape} (vmap over times instead)")
    t = jnp.asarray(check_real("t", t, low=0.0, high=1.0), jnp.result_type(p.means, q.means))
    return map_pairs(_geodesic_pair, p, q, t, ot_solver)
