"""Kullback–Leibler divergences: Gaussians in closed form, mixtures approximated.

Between two Gaussians the divergence is closed form; eq. 4 of the KL note of jojonki (2018)
is its diagonal case,

.. math::
    D_{KL}(\\mathcal N_0\\|\\mathcal N_1) = -\\tfrac12\\sum_j\\Big[\\log\\frac{\\sigma_{0j}^2}
    {\\sigma_{1j}^2} - \\frac{\\sigma_{0j}^2}{\\sigma_{1j}^2}
    - \\frac{(\\mu_{0j}-\\mu_{1j})^2}{\\sigma_{1j}^2} + 1\\Big],

and for full covariances

.. math::
    D_{KL} = \\tfrac12\\big[\\operatorname{tr}(\\Sigma_1^{-1}\\Sigma_0)
    + (\\mu_1-\\mu_0)^T\\Sigma_1^{-1}(\\mu_1-\\mu_0) - d
    + \\log\\det\\Sigma_1 - \\log\\det\\Sigma_0\\big].

Between mixtures there is no closed form; :func:`kl_divergence` offers approximations and
bounds, each documented with its bias.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from gmmjax._src.core.arguments import (
    check_gaussian_pair,
    check_gmm_pair,
    require_definite,
    require_type,
)
from gmmjax._src.core.checks import check_choice
from gmmjax._src.core.lift import map_pairs
from gmmjax._src.core.mixture import GMM, Gaussian, unit_padding
from gmmjax._src.core.scalars import check_static_int
from gmmjax._src.kernels.kl import component_kl_matrix, entropy, gaussian_kl
from gmmjax._src.kernels.overlap import log_gram
from gmmjax._src.math.numerics import weighted_logsumexp
from gmmjax._src.ot.exact import exact_ot

__all__ = ["KL_METHODS", "gaussian_entropy", "kl_divergence", "kl_gaussian"]


def kl_gaussian(g0: Gaussian, g1: Gaussian) -> jax.Array:
    """Closed-form :math:`D_{KL}(g_0\\|g_1)` between two Gaussians.

    .. math::
        D_{KL}(g_0\\|g_1) = \\tfrac12\\big(\\operatorname{tr}(\\Sigma_1^{-1}\\Sigma_0)
        + (\\mu_1-\\mu_0)^T\\Sigma_1^{-1}(\\mu_1-\\mu_0) - d
        + \\log\\det\\Sigma_1 - \\log\\det\\Sigma_0\\big)

    (jojonki 2018, equation 4 and the derivation above it). Diagonal covariances use eq. 4
    of jojonki (2018) elementwise; with ``g1 = N(0, I)`` it
    reduces to the VAE term of eq. 5. Full covariances go through Cholesky factors
    (:math:`\\operatorname{tr}(\\Sigma_1^{-1}\\Sigma_0) = \\|L_1^{-1}L_0\\|_F^2`). Batch axes
    broadcast. Both covariances must be positive definite to working precision (condition
    number below ``1/eps``): otherwise the KL is infinite or unresolved and a concrete call
    raises ``ValueError`` naming the argument (``docs/numerics.md``).

    Args:
        g0: the first :class:`~gmmjax.Gaussian`, mean ``(..., d)``, covariance
            ``(..., d, d)`` or diagonal variances ``(..., d)``.
        g1: the second Gaussian, of the same dimension ``d``; batch axes broadcast against
            those of ``g0``.

    Returns:
        :math:`D_{KL} \\ge 0`: a scalar, or the broadcast batch shape.

    Example:
        >>> g0 = Gaussian(jnp.zeros(2), jnp.ones(2))
        >>> g1 = Gaussian(jnp.ones(2), jnp.ones(2))
        >>> float(kl_gaussian(g0, g1))
        1.0
    """
    check_gaussian_pair(g0, g1)
    require_definite("g0", g0, "kl_gaussian")
    require_definite("g1", g1, "kl_gaussian")
    return map_pairs(gaussian_kl, g0, g1)


def gaussian_entropy(g: Gaussian) -> jax.Array:
    """Differential entropy :math:`H = \\tfrac12(\\log\\det\\Sigma + d(1 + \\log 2\\pi))`.

    Args:
        g: a :class:`~gmmjax.Gaussian` (batch axes allowed), covariance ``(..., d, d)`` or
            diagonal variances ``(..., d)``.

    Returns:
        The entropy in nats: a scalar, or ``g.batch_shape``.
    """
    require_type("g", g, Gaussian)
    return entropy(g.cov, g.is_diagonal)


def _weighted_lse(log_terms: jax.Array, weights: jax.Array) -> jax.Array:
    """Row-wise ``log sum_j w_j exp(log_terms[i, j])``."""
    return weighted_logsumexp(log_terms, weights[None, :], axis=-1)


def _kl_variational(p: GMM, q: GMM, key: jax.Array | None, n_samples: int) -> jax.Array:
    kl_pp = component_kl_matrix(p, p)
    kl_pq = component_kl_matrix(p, q)
    per_component = _weighted_lse(-kl_pp, p.weights) - _weighted_lse(-kl_pq, q.weights)
    return jnp.sum(p.weights * per_component)


def _kl_lower_bound(p: GMM, q: GMM, key: jax.Array | None, n_samples: int) -> jax.Array:
    log_t = log_gram(p, q)
    per_component = (
        _weighted_lse(-component_kl_matrix(p, p), p.weights)
        - entropy(p.covs, p.is_diagonal)
        - _weighted_lse(log_t, q.weights)
    )
    return jnp.sum(p.weights * per_component)


def _not_below_zero(value: jax.Array) -> jax.Array:
    """``value`` where it is >= 0, else 0: an upper bound on a KL, so round-off only.

    ``where`` rather than ``maximum``: at ``value == 0`` (``P = Q`` for ``"ot_bound"``) the
    gradient is the gradient of ``value`` itself, not half of it.
    """
    return jnp.where(value < 0, jnp.zeros_like(value), value)


def _kl_upper_bound(p: GMM, q: GMM, key: jax.Array | None, n_samples: int) -> jax.Array:
    """Durrieu, Thiran & Kelly (2012): Jensen on :math:`\\int f_a\\log p`, the variational bound
    of Hershey & Olsen (2007) on :math:`-\\int f_a\\log q`.

    Per component of :math:`P`: :math:`\\int f_a\\log p \\le \\log\\int f_a p =
    \\log\\sum_\\alpha\\pi_\\alpha z_{a\\alpha}` (concavity of log), and for any weights
    :math:`\\phi_b` on the components of :math:`Q`, :math:`\\log q \\ge \\sum_b\\phi_b
    \\log(\\omega_b g_b/\\phi_b)`, whose best choice gives :math:`-\\int f_a\\log q \\le H_a -
    \\log\\sum_b\\omega_b e^{-D(f_a\\|g_b)}`. The sum over :math:`a` is :math:`\\ge D_{KL} \\ge 0`;
    the computed value is a difference of log-sum-exps and entropies, so it is clamped at 0
    against round-off.
    """
    log_z = log_gram(p, p)
    per_component = (
        _weighted_lse(log_z, p.weights)
        + entropy(p.covs, p.is_diagonal)
        - _weighted_lse(-component_kl_matrix(p, q), q.weights)
    )
    return _not_below_zero(jnp.sum(p.weights * per_component))


def _kl_monte_carlo(p: GMM, q: GMM, key: jax.Array | None, n_samples: int) -> jax.Array:
    if key is None:
        raise ValueError('kl_divergence(method="mc") needs a PRNG key: pass key=jax.random.key(0)')
    x = p.component_sample(key, n_samples)  # (K, n, d)
    log_ratio = p.log_prob(x) - q.log_prob(x)  # (K, n)
    return jnp.sum(p.weights * jnp.mean(log_ratio, axis=-1))


def _kl_ot_bound(p: GMM, q: GMM, key: jax.Array | None, n_samples: int) -> jax.Array:
    """:math:`\\min_\\pi\\sum_{ij}\\pi_{ij}D_{KL}(p_i\\|q_j) \\ge D_{KL}(p\\|q)` by the exact LP.

    Joint convexity of KL (Cover & Thomas 2006, Theorem 2.7.2): for any coupling :math:`\\pi`
    of the weights, :math:`KL(\\sum\\pi_{ij}p_i\\|\\sum\\pi_{ij}q_j) \\le
    \\sum\\pi_{ij}KL(p_i\\|q_j)`, and the two mixtures on the left are :math:`P` and
    :math:`Q`. In floating point the value is a sum of products of plan entries (clamped at 0
    by the solver) and component KLs (written as sums of non-negative terms), so it is
    never negative; the clamp below only guards the host solver's path.
    """
    return _not_below_zero(exact_ot(p.weights, q.weights, component_kl_matrix(p, q)).cost)


_Method = Callable[[GMM, GMM, "jax.Array | None", int], jax.Array]

#: Mixture KL estimators by name: the one table of them.
KL_METHODS: dict[str, _Method] = {
    "variational": _kl_variational,
    "mc": _kl_monte_carlo,
    "lower_bound": _kl_lower_bound,
    "upper_bound": _kl_upper_bound,
    "ot_bound": _kl_ot_bound,
}


def kl_divergence(
    p: GMM,
    q: GMM,
    method: str = "variational",
    key: jax.Array | None = None,
    *,
    n_samples: int = 1024,
) -> jax.Array:
    """Approximate :math:`D_{KL}(P\\|Q) = \\int p\\log(p/q)` between Gaussian mixtures.

    With :math:`P=\\sum_a\\pi_a f_a`, :math:`Q=\\sum_b\\omega_b g_b`, component entropies
    :math:`H_a`, overlaps :math:`z_{a\\alpha}=\\int f_a f_\\alpha`, :math:`t_{ab}=\\int f_a g_b`
    (You 2021) and Gaussian KLs :math:`D(\\cdot\\|\\cdot)` (jojonki 2018):

    - ``"variational"`` (Hershey & Olsen 2007):
      :math:`\\sum_a\\pi_a\\log\\frac{\\sum_\\alpha\\pi_\\alpha e^{-D(f_a\\|f_\\alpha)}}
      {\\sum_b\\omega_b e^{-D(f_a\\|g_b)}}`. Deterministic, exactly 0 at ``P = Q``, exact for
      single Gaussians; neither an upper nor a lower bound, biased by the component overlap.
      It is negative wherever the denominator beats the numerator, which an optimiser of
      :math:`Q` finds (see the warning below).
    - ``"mc"``: :math:`\\sum_a\\pi_a\\,\\mathbb E_{x\\sim f_a}[\\log p(x)-\\log q(x)]` with
      ``n_samples`` reparameterised draws per component. Unbiased, differentiable in all
      parameters (weights included), variance ~ 1/n_samples; needs ``key``.
    - ``"lower_bound"`` (Durrieu, Thiran & Kelly 2012): Jensen bounds on both cross-entropies,
      :math:`\\sum_a\\pi_a[\\log\\sum_\\alpha\\pi_\\alpha e^{-D(f_a\\|f_\\alpha)} - H_a
      - \\log\\sum_b\\omega_b t_{ab}] \\le D_{KL}`. Can be loose (it is < 0 at ``P = Q``).
    - ``"upper_bound"`` (same paper):
      :math:`D_{KL} \\le \\sum_a\\pi_a[\\log\\sum_\\alpha\\pi_\\alpha z_{a\\alpha} + H_a
      - \\log\\sum_b\\omega_b e^{-D(f_a\\|g_b)}]`. Can be loose (it is > 0 at ``P = Q``).
      Smooth; clamped at 0 against round-off, so never negative.
    - ``"ot_bound"`` : the convexity upper bound (joint convexity of KL, Cover & Thomas 2006,
      Theorem 2.7.2)
      :math:`D_{KL} \\le \\min_{\\pi\\in\\Pi(\\pi,\\omega)}\\sum_{ab}\\pi_{ab}D(f_a\\|g_b)`,
      solved by the exact LP; 0 at ``P = Q``, exact for single Gaussians, never negative.

    Which one to train on. A training loss should be >= 0 and smallest at ``Q = P``. Only the
    two upper bounds are guaranteed >= 0: they are >= :math:`D_{KL}(P\\|Q)` >= 0 in exact
    arithmetic and clamped at 0 in floating point.

    - ``"ot_bound"`` is the one to train on. It is 0 at ``P = Q`` and > 0 wherever the
      densities differ (it is >= :math:`D_{KL}`), so its minimiser is ``P`` and its value
      reads as a divergence. Its gradient is the envelope gradient of the LP
      (:func:`~gmmjax.exact_ot`): exact, piecewise smooth, with kinks where the optimal
      plan changes. It matches components, so it is loose (but still a bound) when ``Q``
      represents a region of ``P`` with a different number of components.
    - ``"upper_bound"`` is smooth everywhere and needs no LP, but its value at ``P = Q`` is a
      positive floor that depends on ``P``, and its ``Q``-dependent part is that of
      ``"variational"``: as a function of ``Q`` the two differ by a constant, so they have the
      same gradient in ``Q`` and lead to the same fit, which need not be ``P`` when the
      components of ``P`` overlap. Use it where an honest, never negative value matters more
      than recovering ``P`` exactly.

    Warning:
        ``"variational"`` (the default, the best point estimate of the divergence) is not a
        divergence: it is not bounded below by 0, and gradient descent on ``Q`` drives it
        below 0 (a 1-D example in ``tests/test_kl.py`` goes from 0.57 to -0.12 in 50 Adam
        steps while the true KL falls to about 0.002); a negative value is the
        approximation's bias, not a fit better than exact. ``"lower_bound"`` is < 0 at
        ``P = Q``. ``"mc"`` is unbiased but not >= 0, and with a fixed ``key`` an optimiser can
        fit ``Q`` to the draws: draw a new key every step. Report these next to a training
        loss, not as one.

    Args:
        p, q: GMMs of the same dimension ``d``, or :class:`~gmmjax.Gaussian` objects
            (promoted to one component of weight 1); batch axes broadcast.
        method: one of :data:`KL_METHODS` (default ``"variational"``).
        key: JAX PRNG key, required by ``"mc"`` (default ``None``; ignored by the others).
        n_samples: draws per component for ``"mc"``, an int >= 1 (default 1024; ``TypeError``
            / ``ValueError`` otherwise).

    Returns:
        The estimate: a scalar, or the broadcast batch shape.

    Example:
        >>> p = GMM.univariate([0.5, 0.5], [-1.0, 1.0], [0.5, 0.5])
        >>> float(kl_divergence(p, p))
        0.0
    """
    check_choice("method", method, KL_METHODS)
    p, q = check_gmm_pair(p, q)
    require_definite("p", p, "kl_divergence")
    require_definite("q", q, "kl_divergence")
    if method == "mc" and key is None:
        raise ValueError('kl_divergence(method="mc") needs a PRNG key: pass key=jax.random.key(0)')
    n_samples = check_static_int("n_samples", n_samples)
    return map_pairs(_estimate, p, q, key, method=method, n_samples=n_samples)


def _estimate(p: GMM, q: GMM, key: jax.Array | None, *, method: str, n_samples: int):
    """One pair; degenerate zero-weight components (e.g. an all-zero covariance, which would
    make the arithmetic NaN) get the identity covariance, which changes no estimate."""
    return KL_METHODS[method](unit_padding(p), unit_padding(q), key, n_samples)
