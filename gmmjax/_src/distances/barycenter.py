"""Barycenters of Gaussian mixtures in the mixture distance (Chen et al. 2019, §IV, eqs. 17–20).

.. math::
    \\min_{\\mu\\in M(\\mathbb R^n)} \\sum_{k=1}^L \\lambda_k\\, d(\\mu, \\mu_k)^2 \\qquad (17)

The barycenter is supported on Gaussians of the form of eq. 18, the Wasserstein barycenters
:math:`\\nu^i` of one component from every input, and its weights solve the LP of eq. 19
with costs :math:`c_k(i,j) = W_2(\\nu^i,\\nu_k^j)^2` (eq. 20):

.. math::
    \\min_{\\pi_k\\ge 0}\\sum_{k,i,j}\\lambda_k c_k(i,j)\\pi_k(i,j)
    \\quad\\text{s.t.}\\quad \\sum_i\\pi_k(i,j) = p_k^j,\\quad
    \\sum_j\\pi_1(i,j) = \\dots = \\sum_j\\pi_L(i,j) = p^i.

The number of candidates is :math:`N = N_1\\cdots N_L`; past ``max_candidates`` a fixed
``support`` is required (the variant after eq. 20), which solves the same LP over given
components, exactly or with OTT's entropic fixed-support barycenter solver for large sizes.
The LP runs on the host (HiGHS dual simplex through ``scipy.optimize.linprog``, float64,
tolerances 1e-10) via ``jax.pure_callback``, so it works under ``jit`` and ``vmap``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.core.arguments import as_gmm
from gmmjax._src.core.checks import check_simplex
from gmmjax._src.core.mixture import GMM, Gaussian
from gmmjax._src.core.stacking import single_gmms
from gmmjax._src.distances.transport import mw2_distance
from gmmjax._src.kernels.bures import bures_cost
from gmmjax._src.kernels.gaussian_barycenter import barycenter_covariance
from gmmjax._src.math.numerics import safe_sqrt
from gmmjax._src.ot.solvers import Solver, get_solver

__all__ = ["BarycenterInfo", "mw2_barycenter"]

#: Default cap on the number of candidate components ``N_1 * ... * N_L`` of eq. 18.
MAX_CANDIDATES = 4096


class BarycenterInfo(NamedTuple):
    """Report of :func:`mw2_barycenter`.

    Attributes:
        cost: the objective of eq. 17, :math:`\\sum_k\\lambda_k d(\\mu,\\mu_k)^2`, evaluated
            at the returned mixture with the exact ``d``; differentiable in every input
            (exact LP: the derivative of the optimal value, by the LP's plans and duals;
            Sinkhorn: at the returned weights held fixed).
        converged: the LP reached optimality / Sinkhorn reached its threshold.
        n_iters: Sinkhorn iterations (``-1`` for the LP, which does not report them).
    """

    cost: jax.Array
    converged: jax.Array
    n_iters: jax.Array


# --------------------------------------------------------------------------- driver
def _as_list(gmms: Any) -> list[GMM]:
    if isinstance(gmms, GMM | Gaussian):
        gmms = as_gmm("gmms", gmms)
        if len(gmms.batch_shape) != 1:
            raise ValueError(
                f"a stacked gmms must have one batch axis (L,); got {gmms.batch_shape}"
            )
        return [gmms[k] for k in range(gmms.batch_shape[0])]
    return single_gmms(gmms)


def _candidates(gmms: list[GMM], lam: jax.Array, tol: float, max_iter: int) -> GMM:
    """The Gaussians of eq. 18: barycenters of one component from every input."""
    grid = np.array(list(itertools.product(*[range(g.n_components) for g in gmms])))
    means = jnp.stack([g.means[grid[:, k]] for k, g in enumerate(gmms)], axis=1)  # (N, L, d)
    mean = jnp.einsum("l,nld->nd", lam, means)
    diagonal = all(g.is_diagonal for g in gmms)
    if diagonal or gmms[0].dim == 1:
        # Commuting covariances: the barycenter averages standard deviations.
        sds = jnp.stack(
            [safe_sqrt(g.covs[grid[:, k]]) for k, g in enumerate(gmms)], axis=1
        )  # (N, L, d) or (N, L, 1, 1)
        sd = jnp.einsum("l,nl...->n...", lam, sds)
        return GMM._unchecked(jnp.zeros(len(grid), mean.dtype), mean, sd**2)
    covs = jnp.stack([g.full_covs()[grid[:, k]] for k, g in enumerate(gmms)], axis=1)
    cov, _ = jax.vmap(lambda c: barycenter_covariance(c, lam, "alvarez-esteban", tol, max_iter))(
        covs
    )
    return GMM._unchecked(jnp.zeros(len(grid), mean.dtype), mean, cov)


def _common_kind(gmms: list[GMM], support: GMM | None) -> tuple[list[GMM], GMM | None]:
    """Make every mixture full when any is full, so the cost kernels see one kind."""
    everyone = [*gmms, *([support] if support is not None else [])]
    if all(g.is_diagonal for g in everyone) or not any(g.is_diagonal for g in everyone):
        return gmms, support

    def full(g: GMM) -> GMM:
        return GMM._unchecked(g.weights, g.means, g.full_covs())

    return [full(g) for g in gmms], (full(support) if support is not None else None)


def mw2_barycenter(
    gmms: Sequence[GMM] | GMM,
    weights: Any,
    support: GMM | None = None,
    *,
    solver: str = "exact",
    epsilon: float | None = None,
    max_candidates: int = MAX_CANDIDATES,
    max_iter: int = 2000,
    return_info: bool = False,
) -> GMM | tuple[GMM, BarycenterInfo]:
    """Barycenter of Gaussian mixtures for the mixture Wasserstein distance ``d``.

    .. math::
        \\mu^* = \\arg\\min_{\\mu = \\sum_i p^i\\nu^i}\\ \\sum_{k=1}^L\\lambda_k\\,d(\\mu,\\mu_k)^2

    (Chen, Georgiou & Tannenbaum 2019, equations 17–20.)

    - ``support=None``: the components :math:`\\nu^i` are the eq. 18 candidates (Gaussian
      barycenters, eqs. 15–16, of every tuple of one component per input;
      ``N = N_1 * ... * N_L`` of them, in ``itertools.product`` order) and ``p`` solves
      the LP of eq. 19. Candidates the LP leaves unused keep weight 0, so the output shape
      is static. Needs ``N <= max_candidates`` (default 4096).
    - ``support`` given: its components are fixed (its weights are ignored) and only ``p``
      is optimised (the variant after eq. 20), by the same LP or, with
      ``solver="sinkhorn"``, by OTT's entropic fixed-support barycenter
      (``ott.solvers.linear.discrete_barycenter``), for sizes where the LP is too large.

    Derivatives flow to the candidate components (through the Gaussian barycenters); the
    weights ``p`` themselves are not differentiated. ``info.cost`` is differentiable in
    every input with every solver: with the exact LP its derivative is that of the optimum
    of eq. 19 (envelope theorem: :math:`\\lambda_k\\pi_k` in the costs, the centred duals of
    the marginal constraints in the input weights), with Sinkhorn that of eq. 17 at the
    returned ``p`` held fixed.

    Args:
        gmms: ``L`` single mixtures of one dimension (any component counts; a
            :class:`~gmmjax.Gaussian` counts as one component of weight 1), or one GMM (or
            Gaussian) stacked along a leading axis ``(L,)``.
        weights: ``(L,)`` probability vector :math:`\\lambda` (>= 0, summing to 1).
        support: optional unbatched GMM whose components are the barycenter's support
            (default ``None``: the eq. 18 candidates).
        solver: ``"exact"`` (default, LP) or ``"sinkhorn"`` (needs ``support`` or small
            ``N``).
        epsilon: Sinkhorn regularisation > 0 (default ``None``: OTT's default).
        max_candidates: cap on ``N`` for ``support=None``, an int (default 4096).
        max_iter: Sinkhorn iteration cap, an int >= 1 (default 2000).
        return_info: also return a ``BarycenterInfo`` (objective, converged, n_iters);
            default ``False``.

    Returns:
        The barycenter, an unbatched :class:`~gmmjax.GMM` with ``N`` (or the support's)
        components, or ``(barycenter, info)`` with ``return_info``.

    Raises:
        ValueError: on inconsistent inputs, or ``N > max_candidates`` without ``support``.

    Example:
        >>> p = GMM.univariate([1.0], [0.0], [1.0])
        >>> q = GMM.univariate([1.0], [2.0], [9.0])
        >>> bary = mw2_barycenter([p, q], [0.5, 0.5])
        >>> bary.means[0, 0].tolist(), bary.covs[0, 0].tolist()
        (1.0, 4.0)
    """
    gmms = _as_list(gmms)
    ot_solver = get_solver(solver, epsilon, max_iter)
    dtype = jnp.result_type(*[g.means for g in gmms])
    lam = jnp.asarray(weights, dtype)
    if lam.shape != (len(gmms),):
        raise ValueError(f"weights must have shape ({len(gmms)},); got {lam.shape}")
    check_simplex("weights", lam)
    gmms, support = _common_kind(gmms, support)
    return _barycenter(
        gmms, lam, support, ot_solver, max_candidates=int(max_candidates), info=bool(return_info)
    )


@functools.partial(jax.jit, static_argnames=("max_candidates", "info"))
def _barycenter(
    gmms: list[GMM],
    lam: jax.Array,
    support: GMM | None,
    ot_solver: Solver,
    *,
    max_candidates: int,
    info: bool,
) -> GMM | tuple[GMM, BarycenterInfo]:
    """The checked problem of :func:`mw2_barycenter`, as one compiled program."""
    support = _support(gmms, lam, support, max_candidates)
    costs = [bures_cost(support, g) for g in gmms]
    marginals = [g.weights for g in gmms]
    p, _, ok, n_iters, plans, duals = ot_solver.fixed_barycenter(
        costs, marginals, jax.lax.stop_gradient(lam)
    )
    out = GMM._unchecked(p.astype(lam.dtype), support.means, support.covs)
    if not info:
        return out
    return out, BarycenterInfo(_objective(out, gmms, lam, costs, plans, duals), ok, n_iters)


def _objective(
    out: GMM,
    gmms: list[GMM],
    lam: jax.Array,
    costs: list[jax.Array],
    plans: list[jax.Array] | None,
    duals: list[jax.Array] | None,
) -> jax.Array:
    """Eq. 17 at the returned mixture, :math:`\\sum_k\\lambda_k d(\\mu,\\mu_k)^2`, differentiable.

    The value is always computed with the exact ``d``. Its derivative:

    - exact solvers (``plans`` given): the derivative of the LP optimum of eq. 19 by the
      envelope theorem, :math:`\\lambda_k\\pi_k` in the costs :math:`c_k` (and through
      them in the support and the inputs' components), :math:`\\langle c_k,\\pi_k\\rangle`
      in :math:`\\lambda_k`, and the centred duals :math:`y_k - \\bar y_k` of the marginal
      constraints in the input weights (weights live on the simplex; the convention of
      :func:`~gmmjax._src.ot.exact.exact_ot`). The weights ``p`` move with the inputs, and
      the duals account for that; the pairwise plans of ``d(mu, mu_k)`` at a fixed ``p``
      would not (their duals are degenerate exactly where ``p`` is optimal).
    - entropic solvers: the derivative of the same expression with the returned weights
      ``p`` held fixed (they are not differentiated), through the exact pairwise problems.
    """
    if plans is None:
        return sum(lam[k] * mw2_distance(out, g) ** 2 for k, g in enumerate(gmms))
    value = jax.lax.stop_gradient(
        sum(lam[k] * mw2_distance(out, g) ** 2 for k, g in enumerate(gmms))
    )
    linear = 0.0
    for k, g in enumerate(gmms):
        y = jax.lax.stop_gradient(duals[k] - jnp.mean(duals[k]))
        linear = linear + lam[k] * jnp.sum(costs[k] * jax.lax.stop_gradient(plans[k]))
        linear = linear + jnp.sum(y * g.weights)
    return value + (linear - jax.lax.stop_gradient(linear))


def _support(gmms: list[GMM], lam: jax.Array, support: GMM | None, max_candidates: int) -> GMM:
    """The given support, checked, or the eq. 18 candidates (at most ``max_candidates``)."""
    if support is not None:
        if not isinstance(support, GMM) or support.batch_shape:
            raise ValueError("support must be a single GMM (its components are the support)")
        if support.dim != gmms[0].dim:
            raise ValueError(f"support has dim {support.dim}; gmms have dim {gmms[0].dim}")
        return support
    n = int(np.prod([g.n_components for g in gmms]))
    if n > max_candidates:
        counts = " * ".join(str(g.n_components) for g in gmms)
        raise ValueError(
            f"the free-support barycenter has N = {counts}"
            f" = {n} candidate components, more than max_candidates={max_candidates}; pass "
            "a fixed `support` GMM (optionally with solver='sinkhorn'), or raise "
            "max_candidates"
        )
    tol = 100.0 * float(jnp.finfo(lam.dtype).eps)
    return _candidates(gmms, jax.lax.stop_gradient(lam), tol, 100)
