"""The fixed-basis weight learner: optax on softmax logits, one compiled ``lax.scan``.

The basis (means and covariances) stays fixed, as in seed 003; only the weights
:math:`\\pi = \\mathrm{softmax}(\\theta)` are learned. Every loss is an average over data points
of a function of one row of per-point features (``(K,)`` numbers that depend on the point and
the basis only), so a step on a minibatch needs the features of the batch alone and a
full-batch fit computes them once, before the loop.

Losses (``LOSSES``):

``"nll"``
    :math:`-\\frac1N\\sum_j \\log\\sum_k \\pi_k \\phi_k(x_j)`: maximum likelihood over the
    weights, a convex problem in :math:`\\pi`.
``"binned"``
    Eq. 5 of seed 003, :math:`\\frac1N\\sum_j |P_f\\{x_j\\pm w\\} - P_g\\{x_j\\pm w\\}|`, with
    :math:`P_f` the fraction of the training points in the window and :math:`P_g` the model's
    mass there (Gaussian CDFs), differentiable in :math:`\\pi` (a subgradient at 0). 1-D only.
``"l2"``
    :math:`\\int g_\\pi^2 - 2\\int g_\\pi \\hat f_h`, the squared L2 distance to the Gaussian
    kernel density estimate :math:`\\hat f_h` of the data up to the data-only constant
    :math:`\\int \\hat f_h^2`; both integrals come from :func:`gmmjax.log_gaussian_overlap`
    (seed 000). It is an unbiased estimate of :math:`\\|g_\\pi - f * K_h\\|_2^2 - \\|f * K_h\\|_2^2`
    (``bandwidth=0``: the least-squares cross-validation criterion). The default ``h`` is half
    the basis spacing: a KDE that resolves what the basis can, the regularisation being left
    to the held-out selection below.

Generalisation: by default 10% of the points (a random split fixed by ``key``) are held out.
Several runs start from differently smoothed weights (a leading axis of the logits), the
held-out loss is evaluated at every step, and the best weights along the paths are returned
(early stopping; no patience rule is needed because the whole path is scanned), or, for the
likelihood, their held-out-optimal convex combination (see :func:`fit_weights`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gmmjax._src.core.checks import check_choice, check_positive, is_concrete
from gmmjax._src.learner.dil import empirical_cdf
from gmmjax._src.learner.grid import as_points
from gmmjax._src.core.mixture import GMM
from gmmjax._src.distances.l2 import log_gaussian_overlap

__all__ = ["LOSSES", "FitResult", "default_optimizer", "fit_weights", "scale_by_inverse_weights"]

LOSSES = ("nll", "binned", "l2")


def scale_by_inverse_weights() -> optax.GradientTransformation:
    """Divide the logit gradient by the weights: exponentiated-gradient (mirror) steps.

    For :math:`\\pi = \\mathrm{softmax}(\\theta)`, :math:`\\partial_\\theta L = \\pi \\odot
    (\\nabla_\\pi L - \\langle \\pi, \\nabla_\\pi L\\rangle)`, so
    dividing by :math:`\\pi` and stepping with ``optax.scale(-eta)`` gives the multiplicative
    update :math:`\\pi_k \\propto \\pi_k e^{-\\eta \\partial_{\\pi_k} L}` (mirror descent with the
    KL geometry of the simplex). For the NLL this is, to first order, one EM step on the
    weights when ``eta = 1``.
    """

    def init(params: Any) -> optax.EmptyState:
        del params
        return optax.EmptyState()

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        pi = jax.nn.softmax(params, axis=-1)
        floor = jnp.finfo(pi.dtype).tiny
        return updates / jnp.maximum(pi, floor), state

    return optax.GradientTransformation(init, update)


@functools.lru_cache(maxsize=16)
def default_optimizer(loss: str = "nll") -> optax.GradientTransformation:
    """The default optimiser of :func:`fit_weights` for ``loss`` (cached: one compile).

    ``"nll"``: exponentiated-gradient steps, ``chain(scale_by_inverse_weights(),
    scale(-0.2))``. For the likelihood they are damped EM steps on the weights: each sharpens
    the mixture a little, coarse structure first, which is what makes early stopping on the
    held-out likelihood a smoothing-parameter choice. Step 0.2 keeps the path fine enough to
    stop at the right place and reaches the maximum-likelihood weights of a few hundred
    components in a few hundred steps. Adam, by contrast, moves every logit at the same
    rate, fine detail included, and its early-stopped fits are rougher (RESULTS.md).

    ``"binned"`` and ``"l2"``: Adam with step 0.05. Their gradients have no likelihood
    scale (0.1 for windows masses, ``1/sigma`` for L2), and Adam's per-coordinate step is
    bounded by the learning rate whatever the gradient scale.
    """
    check_choice("loss", loss, LOSSES)
    if loss == "nll":
        return optax.chain(scale_by_inverse_weights(), optax.scale(-0.2))
    return optax.adam(0.05)


@dataclasses.dataclass(frozen=True)
class FitResult:
    """Result of :func:`fit_weights`.

    Attributes:
        gmm: the fitted mixture (the basis with weights ``softmax(logits)``).
        logits: ``(K,)`` the returned logits (those of ``best_step``).
        history: ``(steps,)`` training loss at every step (the minibatch loss when batched).
        validation_history: ``(steps,)`` held-out loss at every step (NaN without a held-out
            set).
        best_step: step whose logits are returned (lowest held-out loss; the last step when
            nothing is held out).
        steps: number of optimisation steps run.
        validation_loss: held-out loss of the returned weights (NaN without a held-out set).
        loss: the loss name.
        smoothing: the smoothing width (grid spacings) of the start the returned weights
            came from (chosen on the held-out points when several were tried).
    """

    gmm: GMM
    logits: jax.Array
    history: jax.Array
    validation_history: jax.Array
    best_step: int
    steps: int
    validation_loss: float
    loss: str
    smoothing: float


# --------------------------------------------------------------------------- features
def _binned_rows(basis: GMM, pts: jax.Array, window: jax.Array) -> jax.Array:
    mu = basis.means[:, 0]
    sd = jnp.sqrt(basis.covs[:, 0])
    x = pts[:, :1]
    hi = jax.scipy.special.ndtr((x + window - mu) / sd)
    lo = jax.scipy.special.ndtr((x - window - mu) / sd)
    return hi - lo


def _window_fraction(reference: jax.Array, pts: jax.Array, window: jax.Array) -> jax.Array:
    """Fraction of ``reference`` points in ``(x - w, x + w]`` for every point ``x``."""
    x = pts[:, 0]
    return empirical_cdf(reference, x + window) - empirical_cdf(reference, x - window)


def _kde(pts: jax.Array, bandwidth: jax.Array) -> GMM:
    n, d = pts.shape
    w = jnp.full((n,), 1.0 / n, pts.dtype)
    return GMM._unchecked(w, pts, jnp.broadcast_to(bandwidth**2, (n, d)))


def _scaled_sq_distances(basis: GMM) -> jax.Array:
    """``(K, K)`` squared distances between the means in units of the grid spacing per axis.

    The spacing ``s_a`` of axis ``a`` is the smallest non-zero gap between means along it, so
    grid neighbours are at distance 1 whatever the data scale.
    """
    mu = basis.means
    diff = mu[:, None, :] - mu[None, :, :]
    gaps = jnp.abs(diff)
    spacing = jnp.min(jnp.where(gaps > 0, gaps, jnp.inf), axis=(0, 1))
    spacing = jnp.where(jnp.isfinite(spacing), spacing, 1.0)
    return jnp.sum((diff / spacing) ** 2, axis=-1)


def _smoothed_starts(basis: GMM, train: jax.Array, widths: jax.Array) -> jax.Array:
    """``(L, K)`` starting logits: soft cell counts smoothed over ``widths`` grid spacings.

    The soft counts are the mean responsibilities of the training points under uniform
    weights (one EM step from the paper's uniform start); width ``w`` convolves them with
    ``exp(-D^2 / 2w^2)`` over the means (``w = 0``: no smoothing).
    """
    log_phi = basis.component_log_prob(train)
    counts = jnp.mean(jax.nn.softmax(log_phi, axis=1), axis=0)  # (K,)
    d2 = _scaled_sq_distances(basis)
    safe = jnp.where(widths > 0, widths, 1.0)[:, None, None]
    kernel = jnp.where(
        widths[:, None, None] > 0, jnp.exp(-0.5 * d2 / safe**2), jnp.eye(d2.shape[0])
    )
    pi = jnp.einsum("lkm,m->lk", kernel, counts)
    pi = pi / jnp.sum(pi, axis=1, keepdims=True)
    floor = 1e-6 / basis.n_components
    return jnp.log(pi + floor)


@dataclasses.dataclass(frozen=True)
class _Problem:
    """Per-point features and the loss on them, for one loss and one basis.

    ``value`` takes stacked logits ``(L, K)`` (one row per smoothness level) and returns the
    ``(L,)`` losses.
    """

    loss: str
    basis: GMM
    window: jax.Array
    bandwidth: jax.Array
    self_overlap: jax.Array | None

    def rows(self, pts: jax.Array, extra: jax.Array) -> tuple[jax.Array, jax.Array]:
        if self.loss == "nll":
            log_phi = self.basis.component_log_prob(pts)
            top = jnp.max(log_phi, axis=1)
            return jnp.exp(log_phi - top[:, None]), top
        if self.loss == "binned":
            return _binned_rows(self.basis, pts, self.window), extra
        log_c = log_gaussian_overlap(self.basis, _kde(pts, self.bandwidth))  # (K, B)
        return jnp.exp(log_c).T, extra

    def value(self, logits: jax.Array, rows: jax.Array, extra: jax.Array) -> jax.Array:
        pi = jax.nn.softmax(logits, axis=-1)  # (L, K)
        mix = rows @ pi.T  # (B, L)
        if self.loss == "nll":
            tiny = jnp.finfo(mix.dtype).tiny
            return -jnp.mean(extra[:, None] + jnp.log(jnp.maximum(mix, tiny)), axis=0)
        if self.loss == "binned":
            return jnp.mean(jnp.abs(extra[:, None] - mix), axis=0)
        quad = jnp.einsum("lk,km,lm->l", pi, self.self_overlap, pi)
        return quad - 2.0 * jnp.mean(mix, axis=0)

    def reduced(self, rows: jax.Array, extra: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Full-batch rows, averaged when the loss is linear in them (L2)."""
        if self.loss == "l2":
            return jnp.mean(rows, axis=0, keepdims=True), extra[:1]
        return rows, extra


def _extras(problem: _Problem, reference: jax.Array, pts: jax.Array) -> jax.Array:
    if problem.loss == "binned":
        return _window_fraction(reference[:, 0], pts, problem.window)
    return jnp.zeros(pts.shape[0], pts.dtype)


# --------------------------------------------------------------------------- loop
def _log_line(step: Any, loss: Any, held_out: Any) -> None:
    line = f"fit_weights step {int(step):6d}  loss {float(loss): .6f}"
    print(f"{line}  held-out {float(held_out): .6f}", flush=True)


@functools.partial(
    jax.jit,
    static_argnames=("loss", "optimizer", "steps", "batch_size", "log_every", "criterion", "refit"),
)
def _train(
    basis: GMM,
    train: jax.Array,
    valid: jax.Array,
    key: jax.Array,
    window: jax.Array,
    bandwidth: jax.Array,
    starts: jax.Array | None,
    widths: jax.Array,
    *,
    loss: str,
    optimizer: optax.GradientTransformation,
    steps: int,
    batch_size: int | None,
    log_every: int | None,
    criterion: str = "loss",
    refit: bool = False,
) -> tuple:
    need_gram = loss == "l2" or criterion == "l2"
    self_overlap = jnp.exp(log_gaussian_overlap(basis, basis)) if need_gram else None
    problem = _Problem(loss, basis, window, bandwidth, self_overlap)
    start = _smoothed_starts(basis, train, widths) if starts is None else starts
    train_extra = _extras(problem, train, train)
    has_valid = valid.shape[0] > 0
    n_levels = start.shape[0]
    if has_valid:
        v_rows, v_extra = problem.reduced(*problem.rows(valid, _extras(problem, valid, valid)))
        judge = problem
        j_rows, j_extra = v_rows, v_extra
        if criterion == "l2" and loss != "l2":
            zero = jnp.zeros_like(bandwidth)
            judge = _Problem("l2", basis, window, zero, self_overlap)
            j_rows, j_extra = judge.reduced(*judge.rows(valid, _extras(judge, valid, valid)))
    if batch_size is None:
        t_rows, t_extra = problem.reduced(*problem.rows(train, train_extra))

    def batch(k: jax.Array) -> tuple[jax.Array, jax.Array]:
        if batch_size is None:
            return t_rows, t_extra
        idx = jax.random.randint(k, (batch_size,), 0, train.shape[0])
        return problem.rows(train[idx], train_extra[idx])

    def held_out(logits: jax.Array) -> jax.Array:
        if not has_valid:
            return jnp.full((n_levels,), jnp.nan, train.dtype)
        return judge.value(logits, j_rows, j_extra)

    def objective(logits: jax.Array, rows: jax.Array, extra: jax.Array) -> tuple:
        data = problem.value(logits, rows, extra)
        return jnp.sum(data), data

    grad_fn = jax.value_and_grad(objective, has_aux=True)

    def body(carry: tuple, step: jax.Array) -> tuple:
        logits, opt_state, best, best_val, best_step, k = carry
        k, sub = jax.random.split(k)
        rows, extra = batch(sub)
        (_, value), grad = grad_fn(logits, rows, extra)
        val = held_out(logits)
        better = val < best_val if has_valid else jnp.ones((n_levels,), bool)
        best = jnp.where(better[:, None], logits, best)
        best_val = jnp.where(better, val, best_val)
        best_step = jnp.where(better, step, best_step)
        if log_every:
            jax.lax.cond(
                step % log_every == 0,
                lambda: jax.debug.callback(_log_line, step, jnp.min(value), jnp.min(val)),
                lambda: None,
            )
        updates, opt_state = optimizer.update(grad, opt_state, logits)
        logits = optax.apply_updates(logits, updates)
        return (logits, opt_state, best, best_val, best_step, k), (value, val)

    inf = jnp.full((n_levels,), jnp.inf, train.dtype)
    zero = jnp.zeros((n_levels,), jnp.int32)
    carry = (start, optimizer.init(start), start, inf, zero, key)
    carry, (history, valid_history) = jax.lax.scan(body, carry, jnp.arange(steps, dtype=jnp.int32))
    logits, _, best, best_val, best_step, _ = carry
    final_val = held_out(logits)
    if has_valid:
        take_final = final_val < best_val
        best = jnp.where(take_final[:, None], logits, best)
        best_val = jnp.where(take_final, final_val, best_val)
        best_step = jnp.where(take_final, steps, best_step)
        level = jnp.argmin(best_val)
        stack_w = (
            _stacking_weights(problem, best, v_rows, v_extra)
            if loss == "nll" and criterion == "loss"
            else None
        )
        if refit and batch_size is None:
            best = _refit(
                problem, optimizer, grad_fn, basis, train, valid, starts, widths, best_step
            )
    else:
        best, best_step = logits, jnp.full((n_levels,), steps, jnp.int32)
        level = jnp.argmin(history[-1])
        stack_w = None
    return best, history, valid_history, best_step, best_val, level, stack_w


def _refit(problem, optimizer, grad_fn, basis, train, valid, starts, widths, stops) -> jax.Array:
    """Rerun every smoothing level on all points for its selected number of steps."""
    full = jnp.concatenate([train, valid])
    rows, extra = problem.reduced(*problem.rows(full, _extras(problem, full, full)))
    start = _smoothed_starts(basis, full, widths) if starts is None else starts
    n_levels = start.shape[0]

    def mask(go: jax.Array, new: jax.Array, old: jax.Array) -> jax.Array:
        if new.ndim >= 1 and new.shape[0] == n_levels:
            return jnp.where(go.reshape(go.shape + (1,) * (new.ndim - 1)), new, old)
        return new

    def body(i: jax.Array, carry: tuple) -> tuple:
        logits, state = carry
        _, grad = grad_fn(logits, rows, extra)
        updates, new_state = optimizer.update(grad, state, logits)
        go = i < stops
        logits = jnp.where(go[:, None], optax.apply_updates(logits, updates), logits)
        state = jax.tree_util.tree_map(lambda a, b: mask(go, a, b), new_state, state)
        return logits, state

    logits, _ = jax.lax.fori_loop(0, jnp.max(stops), body, (start, optimizer.init(start)))
    return logits


def _stacking_weights(
    problem: _Problem, logits: jax.Array, rows: jax.Array, top: jax.Array
) -> jax.Array:
    """Convex weights of the ``L`` fitted mixtures that maximise the held-out likelihood (EM)."""
    dens = rows @ jax.nn.softmax(logits, axis=-1).T  # (B, L), scaled by exp(-top)
    dens = dens / jnp.max(dens, axis=1, keepdims=True)
    n_levels = logits.shape[0]

    def em(_: Any, alpha: jax.Array) -> jax.Array:
        mix = dens @ alpha
        return alpha * jnp.mean(dens / mix[:, None], axis=0)

    return jax.lax.fori_loop(0, 200, em, jnp.full((n_levels,), 1.0 / n_levels, dens.dtype))


# --------------------------------------------------------------------------- public
def _half_spacing(basis: GMM) -> jax.Array:
    """Half the smallest non-zero gap between the basis means, per axis."""
    gaps = jnp.abs(basis.means[:, None, :] - basis.means[None, :, :])
    spacing = jnp.min(jnp.where(gaps > 0, gaps, jnp.inf), axis=(0, 1))
    return 0.5 * jnp.where(jnp.isfinite(spacing), spacing, 1.0)


DEFAULT_SMOOTHING = (0.0, 1.0, 2.0, 4.0, 8.0)


def _smoothing_widths(smoothing: Any, has_valid: bool) -> np.ndarray:
    if isinstance(smoothing, str):
        if smoothing != "auto":
            raise ValueError(f'smoothing must be "auto", a number or a sequence; got {smoothing!r}')
        return np.asarray(DEFAULT_SMOOTHING if has_valid else (0.0,))
    widths = np.atleast_1d(np.asarray(smoothing, dtype=float))
    if widths.ndim != 1 or widths.size < 1 or not np.all(np.isfinite(widths)) or np.any(widths < 0):
        raise ValueError(f"smoothing must be finite and >= 0; got {smoothing!r}")
    if widths.size > 1 and not has_valid:
        raise ValueError("several smoothing widths need validation_fraction > 0 to choose one")
    return widths


def _check_basis(basis: Any, pts: jax.Array, loss: str) -> None:
    if not isinstance(basis, GMM):
        raise TypeError(f"basis must be a GMM; got {type(basis).__name__}")
    if basis.batch_shape:
        raise ValueError(f"basis must be a single GMM; got batch_shape {basis.batch_shape}")
    if basis.dim != pts.shape[1]:
        raise ValueError(f"x has dimension {pts.shape[1]} but the basis has dim {basis.dim}")
    if loss == "binned" and (basis.dim != 1 or not basis.is_diagonal):
        raise ValueError(
            f'loss="binned" (seed 003, Eq. 5) is 1-D only; the basis has dim {basis.dim}'
        )


def fit_weights(
    basis: GMM,
    x: Any,
    *,
    loss: str = "nll",
    optimizer: optax.GradientTransformation | None = None,
    steps: int = 300,
    batch_size: int | None = None,
    key: jax.Array | None = None,
    validation_fraction: float = 0.1,
    smoothing: Any = "auto",
    init_logits: Any = None,
    window: float | None = None,
    bandwidth: float | None = None,
    combine: str = "stack",
    criterion: str = "loss",
    refit: bool = True,
    log_every: int | None = None,
) -> FitResult:
    """Learn the weights of a fixed basis from data: optax on softmax logits in one ``lax.scan``.

    Minimises over :math:`\\theta \\in \\mathbb R^K` the chosen loss of
    :math:`g_\\theta = \\sum_k \\mathrm{softmax}(\\theta)_k\\,\\phi_k` (means and covariances of
    ``basis`` fixed, seed 003 §2.1):

    .. math::
        \\mathcal L_{nll} = -\\frac1N\\sum_j \\log g_\\theta(x_j), \\quad
        \\mathcal L_{binned} = \\frac1N\\sum_j \\big|\\hat P\\{x_j \\pm w\\}
            - P_{g_\\theta}\\{x_j \\pm w\\}\\big|, \\quad
        \\mathcal L_{l2} = \\int g_\\theta^2 - 2\\int g_\\theta \\hat f_h

    (the binned loss is Eq. 5 of seed 003; the L2 loss uses the Gaussian product integrals of
    seed 000 through :func:`gmmjax.log_gaussian_overlap`).

    Regularisation (the default generalises instead of interpolating the sample): a random
    ``validation_fraction`` of the points is held out. The optimisation starts from smoothed
    weights: the soft cell counts of the training points (one EM step from the paper's uniform
    start) convolved over the basis means with Gaussians of ``smoothing`` grid spacings. One
    run per width goes on in the same scan (the widths are a leading axis of the logits), and
    for every width the step with the lowest held-out loss is kept. The default optimiser for
    ``"nll"`` makes multiplicative (EM-like) steps, which sharpen the smooth start towards the
    maximum-likelihood weights from coarse to fine detail, so the held-out loss picks the
    amount of smoothing (early stopping along a smoothing path). For the likelihood the kept
    fits of all widths are then mixed with the convex coefficients that maximise the held-out
    likelihood (``combine="stack"``, stacked density estimation: smooth fits where the data
    are smooth, sharp ones near edges); otherwise the single best fit is taken. Finally
    (``refit=True``) every width is rerun on all the points for its selected number of steps,
    so the held-out points are not lost to the fit.

    Args:
        basis: a single GMM (e.g. :func:`gmmjax.grid_basis`); its weights are ignored.
        x: ``(N,)`` or ``(N, d)`` finite data.
        loss: one of ``"nll"`` (default), ``"binned"`` (1-D), ``"l2"``.
        optimizer: any optax transformation of the logits; default
            :func:`default_optimizer` for the loss.
        steps: number of optimisation steps (static: one compiled loop per value).
        batch_size: minibatch size (drawn with replacement each step); ``None``: full batch.
        key: PRNG key for the split and the minibatches; default ``jax.random.key(0)``.
        validation_fraction: share of the points held out, in ``[0, 1)``; ``0`` trains on
            everything, from the unsmoothed start, and returns the last step.
        smoothing: width(s) of the smoothing of the start, in grid spacings (``>= 0``);
            ``"auto"`` is ``(0, 1, 2, 4, 8)`` with a held-out set, ``0`` without.
        init_logits: ``(K,)`` starting logits; replaces the smoothed starts (one run).
        window: half-width ``w`` of the binned windows; default ``sigma/4`` of the first
            component (the paper's ``d``).
        bandwidth: KDE bandwidth ``h`` for ``"l2"`` (per axis, ``>= 0``); default half the
            smallest spacing of the basis means per axis.
        combine: ``"stack"`` (default for ``"nll"``): the returned weights are the convex
            combination of the best fit of every smoothing width whose coefficients maximise
            the held-out likelihood (EM on ``L`` coefficients); ``"select"``: the single fit
            with the lowest held-out loss. Other losses always select.
        criterion: what the held-out points judge: ``"loss"`` (default, the training loss)
            or ``"l2"``, the unbiased estimate
            :math:`\\int g^2 - \\frac2M\\sum_{j} g(x^{val}_j)` of
            :math:`\\|g - f\\|_2^2 - \\|f\\|_2^2` (least-squares cross-validation, through
            the overlaps of seed 000), which weights errors by mass rather than by log-density
            and so tolerates smoother fits; selects without stacking.
        refit: after the selection, rerun every smoothing level on all the points (training
            and held out) from the same kind of start for the number of steps chosen on the
            held-out points, and return those weights (combined as selected). Uses the 10%
            held out for fitting too; full batch only (ignored with ``batch_size``). The
            reported held-out losses are those of the selection run.
        log_every: print the step, the training and the held-out loss (the best over the
            smoothing widths) every this many steps; off by default.

    Returns:
        :class:`FitResult` with ``.gmm``, ``.history``, ``.validation_history``,
        ``.best_step``, ``.smoothing`` and ``.logits``.

    Raises:
        ValueError: for an unknown loss, non-finite data, data whose dimension differs from the
            basis, bad ``steps``/``batch_size``/``validation_fraction``/``smoothing``/
            ``window``/``bandwidth``/``init_logits``, an empty split, or ``"binned"`` in more
            than one dimension.

    Example:
        >>> from gmmjax import grid_basis
        >>> x = jax.random.normal(jax.random.key(1), (1000,))
        >>> fit = fit_weights(grid_basis(x, 20, 1.0), x, steps=50)
        >>> fit.gmm.n_components, fit.history.shape
        (20, (50,))
    """
    check_choice("loss", loss, LOSSES)
    check_choice("combine", combine, ("stack", "select"))
    check_choice("criterion", criterion, ("loss", "l2"))
    pts = as_points(x)
    _check_basis(basis, pts, loss)
    pts = pts.astype(basis.dtype)
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or None; got {batch_size!r}")
    if not 0.0 <= float(validation_fraction) < 1.0:
        raise ValueError(f"validation_fraction must lie in [0, 1); got {validation_fraction!r}")
    check_positive("window", window)
    if bandwidth is not None and not np.all(np.asarray(bandwidth, dtype=float) >= 0):
        raise ValueError(f"bandwidth must be >= 0; got {bandwidth!r}")
    key = jax.random.key(0) if key is None else key
    split_key, loop_key = jax.random.split(key)
    n = pts.shape[0]
    n_valid = math.ceil(float(validation_fraction) * n) if validation_fraction > 0 else 0
    if n_valid >= n:
        raise ValueError(f"validation_fraction={validation_fraction} leaves no training points")
    perm = jax.random.permutation(split_key, n) if n_valid else jnp.arange(n)
    valid, train = pts[perm[:n_valid]], pts[perm[n_valid:]]
    k = basis.n_components
    widths = _smoothing_widths(smoothing, n_valid > 0)
    starts = None
    if init_logits is not None:
        starts = jnp.asarray(init_logits, basis.dtype)
        if starts.shape != (k,):
            raise ValueError(f"init_logits must have shape ({k},); got {starts.shape}")
        if is_concrete(starts) and not np.all(np.isfinite(np.asarray(starts))):
            raise ValueError("init_logits must be finite")
        starts, widths = starts[None], np.zeros(1)
    sd0 = jnp.sqrt(basis.covs[0, 0] if basis.is_diagonal else basis.covs[0, 0, 0])
    win = jnp.asarray(sd0 / 4.0 if window is None else window, basis.dtype)
    bw = _half_spacing(basis) if bandwidth is None else jnp.asarray(bandwidth, basis.dtype)
    bw = jnp.broadcast_to(bw, (basis.dim,)).astype(basis.dtype)
    best, history, valid_history, best_step, best_val, level, stack_w = _train(
        basis,
        train,
        valid,
        loop_key,
        win,
        bw,
        starts,
        jnp.asarray(widths, basis.dtype),
        loss=loss,
        optimizer=default_optimizer(loss) if optimizer is None else optimizer,
        steps=int(steps),
        batch_size=None if batch_size is None else int(batch_size),
        log_every=log_every,
        criterion=criterion,
        refit=bool(refit),
    )
    level = int(level)
    if combine == "stack" and stack_w is not None and len(widths) > 1:
        pi = stack_w @ jax.nn.softmax(best, axis=-1)
        chosen = jnp.log(jnp.maximum(pi, jnp.finfo(pi.dtype).tiny))
    else:
        chosen = best[level]
    gmm = GMM._unchecked(jax.nn.softmax(chosen), basis.means, basis.covs)
    return FitResult(
        gmm=gmm,
        logits=chosen,
        history=history[:, level],
        validation_history=valid_history[:, level],
        best_step=int(best_step[level]),
        steps=int(steps),
        validation_loss=float(best_val[level]),
        loss=loss,
        smoothing=float(widths[level]),
    )
