"""The training losses of the weight learner: one object per loss, looked up in ``LOSSES``.

Every loss is an average over data points of a function of one row of per-point features
(``(K,)`` numbers that depend on the point and the basis only), so a step on a minibatch needs
the features of the batch alone and a full-batch fit computes them once, before the loop.
The weights are :math:`\\pi = \\mathrm{softmax}(\\theta)`.

``"nll"`` (:class:`NLLLoss`)
    :math:`-\\frac1N\\sum_j \\log\\sum_k \\pi_k \\phi_k(x_j)`: maximum likelihood over the
    weights, a convex problem in :math:`\\pi`.
``"binned"`` (:class:`BinnedLoss`)
    Eq. 5 of Lu et al. (2023), :math:`\\frac1N\\sum_j |P_f\\{x_j\\pm w\\} - P_g\\{x_j\\pm w\\}|`,
    with :math:`P_f` the fraction of the training points in the window and :math:`P_g` the
    model's mass there (Gaussian CDFs), differentiable in :math:`\\pi` (a subgradient at 0).
    1-D only.
``"l2"`` (:class:`L2Loss`)
    :math:`\\int g_\\pi^2 - 2\\int g_\\pi \\hat f_h`, the squared L2 distance to the Gaussian
    kernel density estimate :math:`\\hat f_h` of the data up to the data-only constant
    :math:`\\int \\hat f_h^2`; both integrals come from :func:`gmmjax.log_gaussian_overlap`
    (You 2021). It is an unbiased estimate of
    :math:`\\|g_\\pi - f * K_h\\|_2^2 - \\|f * K_h\\|_2^2` (``bandwidth=0``: the least-squares
    cross-validation criterion). The default ``h`` is half the basis spacing: a KDE that
    resolves what the basis can, the regularisation being left to the held-out selection.

A loss is a :class:`Loss`: ``extras`` (data-only numbers per point), ``rows`` (the features
of a batch), ``value`` (the ``(L,)`` losses of ``L`` stacked logit vectors) and ``reduced``
(the full-batch features, averaged when the loss is linear in them), plus its default
optimiser. Adding a loss is one subclass and one entry of ``LOSSES``.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import optax

from gmmjax._src.core.checks import check_choice
from gmmjax._src.core.mixture import GMM
from gmmjax._src.distances.l2 import log_gaussian_overlap
from gmmjax._src.learner.dil import empirical_cdf
from gmmjax._src.learner.optimizers import scale_by_inverse_weights

__all__ = ["LOSSES", "BinnedLoss", "L2Loss", "Loss", "NLLLoss", "Problem", "default_optimizer"]

Features = tuple[jax.Array, jax.Array]


@dataclasses.dataclass(frozen=True)
class Problem:
    """One loss bound to one basis and the data-independent numbers its features need.

    The methods delegate to :attr:`loss`; ``value`` takes stacked logits ``(L, K)`` (one row
    per smoothing level) and returns the ``(L,)`` losses.

    Attributes:
        loss: the :class:`Loss` (an entry of ``LOSSES``).
        basis: the fixed basis.
        window: half-width ``w`` of the binned windows (scalar).
        bandwidth: ``(d,)`` KDE bandwidth ``h`` of the L2 loss.
        self_overlap: ``(K, K)`` Gram matrix :math:`\\int \\phi_k \\phi_m` of the basis, or
            ``None`` when no loss in use needs it.
    """

    loss: Loss
    basis: GMM
    window: jax.Array | None = None
    bandwidth: jax.Array | None = None
    self_overlap: jax.Array | None = None

    def extras(self, reference: jax.Array, pts: jax.Array) -> jax.Array:
        """``(B,)`` data-only numbers of ``pts``, measured on the ``reference`` sample."""
        return self.loss.extras(self, reference, pts)

    def rows(self, pts: jax.Array, extra: jax.Array) -> Features:
        """``(B, K)`` features and ``(B,)`` extras of the points ``pts``."""
        return self.loss.rows(self, pts, extra)

    def value(self, logits: jax.Array, rows: jax.Array, extra: jax.Array) -> jax.Array:
        """``(L,)`` losses of the ``(L, K)`` logits on the given features."""
        return self.loss.value(self, logits, rows, extra)

    def reduced(self, rows: jax.Array, extra: jax.Array) -> Features:
        """Full-batch features, averaged when the loss is linear in them."""
        return self.loss.reduced(rows, extra)

    def features(self, pts: jax.Array) -> Features:
        """Reduced features of ``pts``, their extras measured on ``pts`` themselves."""
        return self.reduced(*self.rows(pts, self.extras(pts, pts)))


def _mixture(logits: jax.Array, rows: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(L, K)`` weights of the logits and ``(B, L)`` mixture features of the batch."""
    pi = jax.nn.softmax(logits, axis=-1)
    return pi, rows @ pi.T


class Loss:
    """A training loss: the mean over points of a function of one row of features.

    Subclasses implement :meth:`rows` and :meth:`value`; the defaults of the other methods
    suit a loss without data-only extras that is not linear in its features.

    Attributes:
        one_dimensional: the loss needs a 1-D (diagonal) basis.
        needs_gram: :meth:`value` reads ``problem.self_overlap``.
        stackable: held-out fits of several smoothing widths may be stacked: mixed with the
            convex coefficients that maximise the held-out likelihood of the features.
    """

    one_dimensional: bool = False
    needs_gram: bool = False
    stackable: bool = False

    def default_optimizer(self) -> optax.GradientTransformation:
        """Adam with step 0.05: its per-coordinate step is bounded whatever the gradient scale."""
        return optax.adam(0.05)

    def extras(self, problem: Problem, reference: jax.Array, pts: jax.Array) -> jax.Array:
        """Data-only numbers per point (none by default: zeros)."""
        del problem, reference
        return jnp.zeros(pts.shape[0], pts.dtype)

    def rows(self, problem: Problem, pts: jax.Array, extra: jax.Array) -> Features:
        """``(B, K)`` features and ``(B,)`` extras of a batch."""
        raise NotImplementedError

    def value(
        self, problem: Problem, logits: jax.Array, rows: jax.Array, extra: jax.Array
    ) -> jax.Array:
        """``(L,)`` losses of ``(L, K)`` logits."""
        raise NotImplementedError

    def reduced(self, rows: jax.Array, extra: jax.Array) -> Features:
        """Full-batch features (unchanged by default)."""
        return rows, extra

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NLLLoss(Loss):
    """``"nll"``: :math:`-\\frac1N\\sum_j \\log\\sum_k \\pi_k \\phi_k(x_j)`.

    The features are the component densities scaled by their largest value per point
    (``exp(log phi - top)``); the extra is that ``top``, added back in log space.
    """

    stackable = True

    def default_optimizer(self) -> optax.GradientTransformation:
        """Exponentiated-gradient steps: ``chain(scale_by_inverse_weights(), scale(-0.2))``.

        For the likelihood they are damped EM steps on the weights: each sharpens the mixture
        a little, coarse structure first, which is what makes early stopping on the held-out
        likelihood a smoothing-parameter choice. Step 0.2 keeps the path fine enough to stop
        at the right place and reaches the maximum-likelihood weights of a few hundred
        components in a few hundred steps. Adam, by contrast, moves every logit at the same
        rate, fine detail included, and its early-stopped fits are rougher
        (benchmarks/RESULTS.md).
        """
        return optax.chain(scale_by_inverse_weights(), optax.scale(-0.2))

    def rows(self, problem: Problem, pts: jax.Array, extra: jax.Array) -> Features:
        """Scaled component densities ``(B, K)`` and the log scale ``top`` ``(B,)``."""
        del extra
        log_phi = problem.basis.component_log_prob(pts)
        top = jnp.max(log_phi, axis=1)
        return jnp.exp(log_phi - top[:, None]), top

    def value(
        self, problem: Problem, logits: jax.Array, rows: jax.Array, extra: jax.Array
    ) -> jax.Array:
        """Mean negative log-likelihood per logit row."""
        _, mix = _mixture(logits, rows)
        tiny = jnp.finfo(mix.dtype).tiny
        return -jnp.mean(extra[:, None] + jnp.log(jnp.maximum(mix, tiny)), axis=0)


class BinnedLoss(Loss):
    """``"binned"``: Eq. 5 of Lu et al. (2023), window masses of the data against the model.

    The features are the component masses on :math:`(x_j - w, x_j + w]`; the extra is the
    fraction of the reference (training) points in that window. 1-D only.
    """

    one_dimensional = True

    def extras(self, problem: Problem, reference: jax.Array, pts: jax.Array) -> jax.Array:
        """Fraction of ``reference`` points in ``(x - w, x + w]`` for every point ``x``."""
        x = pts[:, 0]
        ref = reference[:, 0]
        return empirical_cdf(ref, x + problem.window) - empirical_cdf(ref, x - problem.window)

    def rows(self, problem: Problem, pts: jax.Array, extra: jax.Array) -> Features:
        """Component masses on the window around every point ``(B, K)``, extras unchanged."""
        basis = problem.basis
        mu = basis.means[:, 0]
        sd = jnp.sqrt(basis.covs[:, 0])
        x = pts[:, :1]
        hi = jax.scipy.special.ndtr((x + problem.window - mu) / sd)
        lo = jax.scipy.special.ndtr((x - problem.window - mu) / sd)
        return hi - lo, extra

    def value(
        self, problem: Problem, logits: jax.Array, rows: jax.Array, extra: jax.Array
    ) -> jax.Array:
        """Mean absolute difference of the data and model window masses."""
        _, mix = _mixture(logits, rows)
        return jnp.mean(jnp.abs(extra[:, None] - mix), axis=0)


def _kde(pts: jax.Array, bandwidth: jax.Array) -> GMM:
    """The Gaussian kernel density estimate of ``pts`` with per-axis ``bandwidth``."""
    n, d = pts.shape
    w = jnp.full((n,), 1.0 / n, pts.dtype)
    return GMM._unchecked(w, pts, jnp.broadcast_to(bandwidth**2, (n, d)))


class L2Loss(Loss):
    """``"l2"``: :math:`\\int g_\\pi^2 - 2\\int g_\\pi \\hat f_h` (You 2021 overlaps).

    The features of a point are the overlaps :math:`\\int \\phi_k\\,\\mathcal N(x_j, h^2)`;
    the loss is linear in them, so a full batch reduces to their mean.
    """

    needs_gram = True

    def rows(self, problem: Problem, pts: jax.Array, extra: jax.Array) -> Features:
        """Overlaps of every component with a kernel on every point ``(B, K)``."""
        log_c = log_gaussian_overlap(problem.basis, _kde(pts, problem.bandwidth))  # (K, B)
        return jnp.exp(log_c).T, extra

    def value(
        self, problem: Problem, logits: jax.Array, rows: jax.Array, extra: jax.Array
    ) -> jax.Array:
        """:math:`\\pi^T G \\pi - 2` mean overlap, per logit row."""
        pi, mix = _mixture(logits, rows)
        quad = jnp.einsum("lk,km,lm->l", pi, problem.self_overlap, pi)
        return quad - 2.0 * jnp.mean(mix, axis=0)

    def reduced(self, rows: jax.Array, extra: jax.Array) -> Features:
        """The mean feature row (the loss is linear in the rows)."""
        return jnp.mean(rows, axis=0, keepdims=True), extra[:1]


LOSSES: dict[str, Loss] = {"nll": NLLLoss(), "binned": BinnedLoss(), "l2": L2Loss()}


@functools.lru_cache(maxsize=16)
def default_optimizer(loss: str = "nll") -> optax.GradientTransformation:
    """The default optimiser of :func:`gmmjax.fit_weights` for ``loss`` (cached: one compile).

    ``"nll"``: exponentiated-gradient steps (:meth:`NLLLoss.default_optimizer`); ``"binned"``
    and ``"l2"``: Adam with step 0.05. Their gradients have no likelihood scale (0.1 for
    window masses, ``1/sigma`` for L2), and Adam's per-coordinate step is bounded by the
    learning rate whatever the gradient scale. The same object is returned for the same name,
    so the compiled training loop (static in its optimiser) is reused.

    Raises:
        ValueError: for a name not in ``LOSSES``.
    """
    check_choice("loss", loss, LOSSES)
    return LOSSES[loss].default_optimizer()
