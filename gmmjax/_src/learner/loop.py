"""The compiled training run of the weight learner: one ``lax.scan`` over the steps.

:func:`train` optimises ``L`` stacked logit vectors (one per smoothing width) at once. At
every step it evaluates the held-out loss and keeps, per width, the best logits along the path
(early stopping; no patience rule is needed because the whole path is scanned). After the
scan it picks the best width, the stacking coefficients of the widths (likelihood only), and
optionally reruns every width on all points (refit). :func:`cross_validate` runs the same
scan on ``F`` folds, one after the other in the same program, and chooses the width and the
step on the held-out score summed over the folds. Everything static (the loss, the optimiser,
the number of steps...) is one hashable :class:`Schedule`, so a fit compiles once per static
configuration.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from gmmjax._src.core.mixture import GMM
from gmmjax._src.distances.l2 import log_gaussian_overlap
from gmmjax._src.learner.losses import LOSSES, Features, Problem
from gmmjax._src.learner.starts import smoothed_starts

__all__ = ["LoopInputs", "LoopOutput", "Schedule", "cross_validate", "stacking_weights", "train"]


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The static part of a fit (hashable): one compiled loop per distinct value.

    Attributes:
        loss: name of the training loss (a key of ``LOSSES``).
        optimizer: the optax transformation of the logits.
        steps: number of optimisation steps.
        batch_size: minibatch size, or ``None`` for full batch.
        log_every: print progress every this many steps (``None``/0: never).
        criterion: what the held-out points judge, ``"loss"`` or ``"l2"``.
        refit: rerun the selected number of steps on all points after the selection.
    """

    loss: str
    optimizer: optax.GradientTransformation
    steps: int
    batch_size: int | None
    log_every: int | None
    criterion: str
    refit: bool


class LoopInputs(NamedTuple):
    """The arrays a fit runs on (traced).

    Attributes:
        basis: the fixed basis.
        train: ``(N_train, d)`` training points.
        valid: ``(N_valid, d)`` held-out points (``N_valid`` may be 0).
        window: half-width of the binned windows.
        bandwidth: ``(d,)`` KDE bandwidth of the L2 loss.
        starts: ``(1, K)`` given starting logits, or ``None`` for the smoothed starts.
        widths: ``(L,)`` smoothing widths of the starts.
        fold: index of the cross-validation fold (only fold 0 prints progress), or ``None``.
    """

    basis: GMM
    train: jax.Array
    valid: jax.Array
    window: jax.Array
    bandwidth: jax.Array
    starts: jax.Array | None
    widths: jax.Array
    fold: jax.Array | None = None


class LoopOutput(NamedTuple):
    """What :func:`train` returns, per smoothing level ``L``.

    Attributes:
        logits: ``(L, K)`` selected (or refitted) logits.
        history: ``(steps, L)`` training loss at every step.
        validation_history: ``(steps, L)`` held-out loss at every step (NaN without).
        best_step: ``(L,)`` step of the selected logits.
        best_value: ``(L,)`` held-out loss of the selected logits (NaN without).
        level: index of the best level.
        stacking: ``(L,)`` stacking coefficients, or ``None`` when the fit does not stack.
    """

    logits: jax.Array
    history: jax.Array
    validation_history: jax.Array
    best_step: jax.Array
    best_value: jax.Array
    level: jax.Array
    stacking: jax.Array | None


class _Best(NamedTuple):
    """Best logits along the path so far, per level, with their held-out loss and step."""

    logits: jax.Array
    value: jax.Array
    step: jax.Array


class _Carry(NamedTuple):
    logits: jax.Array
    opt_state: Any
    best: _Best
    key: jax.Array


class _Judge(NamedTuple):
    """The held-out loss: a problem and its features on the held-out points."""

    problem: Problem
    rows: jax.Array
    extra: jax.Array


GradFn = Callable[[jax.Array, jax.Array, jax.Array], Any]


# --------------------------------------------------------------------------- set-up
def _problem(inputs: LoopInputs, schedule: Schedule) -> Problem:
    """The training problem, with the basis Gram matrix when a loss in use needs it."""
    loss = LOSSES[schedule.loss]
    basis = inputs.basis
    need_gram = loss.needs_gram or schedule.criterion == "l2"
    self_overlap = jnp.exp(log_gaussian_overlap(basis, basis)) if need_gram else None
    return Problem(loss, basis, inputs.window, inputs.bandwidth, self_overlap)


def _judge(problem: Problem, held_out: Features, schedule: Schedule, valid: jax.Array) -> _Judge:
    """The held-out loss: the training loss, or the L2 score (bandwidth 0) of ``criterion``."""
    if schedule.criterion == "l2" and schedule.loss != "l2":
        zero = jnp.zeros_like(problem.bandwidth)
        judge = dataclasses.replace(problem, loss=LOSSES["l2"], bandwidth=zero)
        return _Judge(judge, *judge.features(valid))
    return _Judge(problem, *held_out)


def _start(inputs: LoopInputs, points: jax.Array) -> jax.Array:
    """``(L, K)`` starting logits: the given ones, or the smoothed cell counts of ``points``."""
    if inputs.starts is None:
        return smoothed_starts(inputs.basis, points, inputs.widths)
    return inputs.starts


def _gradient(problem: Problem) -> GradFn:
    """``(logits, rows, extra) -> ((total, per-level losses), gradient)``."""

    def objective(logits: jax.Array, rows: jax.Array, extra: jax.Array) -> tuple:
        data = problem.value(logits, rows, extra)
        return jnp.sum(data), data

    return jax.value_and_grad(objective, has_aux=True)


def _batches(
    problem: Problem, train: jax.Array, batch_size: int | None
) -> Callable[[jax.Array], Features]:
    """``key -> (rows, extra)`` of one step: the full batch, or a minibatch drawn with ``key``."""
    train_extra = problem.extras(train, train)
    if batch_size is None:
        full = problem.reduced(*problem.rows(train, train_extra))
        return lambda key: full

    def draw(key: jax.Array) -> Features:
        idx = jax.random.randint(key, (batch_size,), 0, train.shape[0])
        return problem.rows(train[idx], train_extra[idx])

    return draw


def _held_out_loss(judge: _Judge | None, n_levels: int, dtype: Any) -> Callable:
    """``logits -> (L,)`` held-out losses (NaN without held-out points)."""
    if judge is None:
        return lambda logits: jnp.full((n_levels,), jnp.nan, dtype)
    return lambda logits: judge.problem.value(logits, judge.rows, judge.extra)


# --------------------------------------------------------------------------- loop
_LOG_CLOCK = [0.0]  # when step 0 of the running loop was logged


def _log_line(step: Any, loss: Any, held_out: Any, fold: Any = None, *, total: int) -> None:
    """Print one progress line: step, losses and the seconds since step 0 (host callback).

    Under cross-validation only fold 0 prints (the folds run one after the other, each as
    long as the first).
    """
    if fold is not None and int(fold) != 0:
        return
    now = time.perf_counter()
    if int(step) == 0:
        _LOG_CLOCK[0] = now
    line = f"fit_weights step {int(step):6d}/{total}  loss {float(loss): .6f}"
    print(f"{line}  held-out {float(held_out): .6f}  {now - _LOG_CLOCK[0]:7.2f} s", flush=True)


def _keep_better(
    best: _Best, logits: jax.Array, value: jax.Array, step: Any, better: jax.Array
) -> _Best:
    """Per level, replace the best logits, loss and step where ``better``."""
    return _Best(
        jnp.where(better[:, None], logits, best.logits),
        jnp.where(better, value, best.value),
        jnp.where(better, step, best.step),
    )


def _scan(
    problem: Problem,
    batches: Callable[[jax.Array], Features],
    judge: _Judge | None,
    start: jax.Array,
    key: jax.Array,
    schedule: Schedule,
    fold: jax.Array | None = None,
) -> tuple[_Carry, jax.Array, jax.Array]:
    """Run the steps; return the final carry and the training and held-out histories."""
    optimizer, log_every = schedule.optimizer, schedule.log_every
    n_levels = start.shape[0]
    held_out = _held_out_loss(judge, n_levels, start.dtype)
    grad_fn = _gradient(problem)

    def body(carry: _Carry, step: jax.Array) -> tuple:
        key, sub = jax.random.split(carry.key)
        (_, value), grad = grad_fn(carry.logits, *batches(sub))
        val = held_out(carry.logits)
        better = val < carry.best.value if judge is not None else jnp.ones((n_levels,), bool)
        best = _keep_better(carry.best, carry.logits, val, step, better)
        if log_every:
            jax.lax.cond(
                step % log_every == 0,
                lambda: jax.debug.callback(
                    functools.partial(_log_line, total=schedule.steps),
                    step,
                    jnp.min(value),
                    jnp.min(val),
                    fold,
                ),
                lambda: None,
            )
        updates, opt_state = optimizer.update(grad, carry.opt_state, carry.logits)
        logits = optax.apply_updates(carry.logits, updates)
        return _Carry(logits, opt_state, best, key), (value, val)

    inf = jnp.full((n_levels,), jnp.inf, start.dtype)
    zero = jnp.zeros((n_levels,), jnp.int32)
    carry = _Carry(start, optimizer.init(start), _Best(start, inf, zero), key)
    steps = jnp.arange(schedule.steps, dtype=jnp.int32)
    carry, (history, valid_history) = jax.lax.scan(body, carry, steps)
    return carry, history, valid_history


# --------------------------------------------------------------------------- after the path
def stacking_weights(logits: jax.Array, rows: jax.Array) -> jax.Array:
    """Convex weights of the ``L`` fitted mixtures that maximise the held-out likelihood (EM).

    Args:
        logits: ``(L, K)`` logits of the fitted mixtures.
        rows: ``(B, K)`` likelihood features of the held-out points (component densities,
            each row scaled by a positive constant, which does not change the maximiser).

    Returns:
        ``(L,)`` coefficients on the simplex (200 EM iterations from uniform).
    """
    dens = rows @ jax.nn.softmax(logits, axis=-1).T  # (B, L)
    dens = dens / jnp.max(dens, axis=1, keepdims=True)
    n_levels = logits.shape[0]

    def em(_: Any, alpha: jax.Array) -> jax.Array:
        mix = dens @ alpha
        return alpha * jnp.mean(dens / mix[:, None], axis=0)

    return jax.lax.fori_loop(0, 200, em, jnp.full((n_levels,), 1.0 / n_levels, dens.dtype))


def _refit(
    problem: Problem,
    inputs: LoopInputs,
    optimizer: optax.GradientTransformation,
    stops: jax.Array,
) -> jax.Array:
    """Rerun every smoothing level on all points for its selected number of steps."""
    full = jnp.concatenate([inputs.train, inputs.valid])
    rows, extra = problem.features(full)
    start = _start(inputs, full)
    n_levels = start.shape[0]
    grad_fn = _gradient(problem)

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


def _select(
    problem: Problem,
    inputs: LoopInputs,
    schedule: Schedule,
    final: tuple[jax.Array, jax.Array, _Best],
    held_out: Features,
) -> tuple[jax.Array, _Best, jax.Array, jax.Array | None]:
    """With held-out points: the last step joins the path, then level, stacking and refit."""
    logits, final_val, best = final
    best = _keep_better(best, logits, final_val, schedule.steps, final_val < best.value)
    level = jnp.argmin(best.value)
    stacks = problem.loss.stackable and schedule.criterion == "loss"
    stack_w = stacking_weights(best.logits, held_out[0]) if stacks else None
    chosen = best.logits
    if schedule.refit and schedule.batch_size is None:
        chosen = _refit(problem, inputs, schedule.optimizer, best.step)
    return chosen, best, level, stack_w


@functools.partial(jax.jit, static_argnames=("schedule",))
def train(inputs: LoopInputs, key: jax.Array, schedule: Schedule) -> LoopOutput:
    """Fit ``L`` logit vectors along one scan; select, stack and refit on the held-out points.

    Args:
        inputs: the basis, the split data and the loss parameters (traced).
        key: PRNG key of the minibatches.
        schedule: the static configuration (one compilation per distinct value).

    Returns:
        A :class:`LoopOutput`. Without held-out points the last step of every level is
        returned and the level with the lowest final training loss is chosen.
    """
    problem = _problem(inputs, schedule)
    start = _start(inputs, inputs.train)
    judge = held_out = None
    if inputs.valid.shape[0] > 0:
        held_out = problem.features(inputs.valid)
        judge = _judge(problem, held_out, schedule, inputs.valid)
    batches = _batches(problem, inputs.train, schedule.batch_size)
    carry, history, valid_history = _scan(
        problem, batches, judge, start, key, schedule, inputs.fold
    )
    if judge is None:
        steps = jnp.full((start.shape[0],), schedule.steps, jnp.int32)
        level = jnp.argmin(history[-1])
        out = (carry.logits, history, valid_history, steps, carry.best.value, level, None)
        return LoopOutput(*out)
    final_val = _held_out_loss(judge, start.shape[0], start.dtype)(carry.logits)
    final = (carry.logits, final_val, carry.best)
    chosen, best, level, stack_w = _select(problem, inputs, schedule, final, held_out)
    return LoopOutput(chosen, history, valid_history, best.step, best.value, level, stack_w)


def _fold_inputs(inputs: LoopInputs, order: jax.Array, fold: jax.Array, size: int) -> LoopInputs:
    """Fold ``fold``: ``size`` points of ``order`` held out, all the others trained on."""
    n = order.shape[0]
    idx = order[(jnp.arange(n) + fold * size) % n]
    pts = inputs.train
    return inputs._replace(train=pts[idx[size:]], valid=pts[idx[:size]], fold=fold)


@functools.partial(jax.jit, static_argnames=("schedule", "folds"))
def cross_validate(
    inputs: LoopInputs, key: jax.Array, schedule: Schedule, folds: int
) -> LoopOutput:
    """``folds``-fold cross-validation of the width and the step, then one run on all points.

    The points (``inputs.train``; ``inputs.valid`` is ignored) are shuffled with ``key`` and
    cut into ``folds`` folds of :math:`m = \\lfloor N/F \\rfloor` points (the
    :math:`N - Fm` left over are always trained on). Fold ``f`` trains every smoothing level on
    the other points and scores every step on its own; with the score :math:`S_f(\\ell, s)` of
    level :math:`\\ell` after :math:`s` steps, the choice is

    .. math::
        (\\ell^*, s^*) = \\arg\\min_{\\ell, s} \\frac1F \\sum_{f=1}^F S_f(\\ell, s),

    the cross-validation estimate of the expected held-out score (Stone 1974). Every level is
    then run on all points for its own best number of steps, and level :math:`\\ell^*` is
    the result.

    Returns:
        A :class:`LoopOutput` whose ``validation_history`` is the fold-averaged score
        ``(steps, L)``, ``history`` the fold-averaged training loss, ``best_value`` the best
        averaged score per level and ``logits`` the runs on all points (no stacking).
    """
    split_key, loop_key = jax.random.split(key)
    n = inputs.train.shape[0]
    order = jax.random.permutation(split_key, n)
    size = n // folds
    per_fold = dataclasses.replace(schedule, refit=False)

    def one(fold: jax.Array) -> LoopOutput:
        return train(_fold_inputs(inputs, order, fold, size), loop_key, per_fold)

    outs = jax.lax.map(one, jnp.arange(folds))
    score = jnp.mean(outs.validation_history, axis=0)  # (steps, L)
    best_step = jnp.argmin(score, axis=0).astype(jnp.int32)
    best_value = jnp.min(score, axis=0)
    problem = _problem(inputs, schedule)
    empty = inputs.train[:0]
    logits = _refit(problem, inputs._replace(valid=empty), schedule.optimizer, best_step)
    history = jnp.mean(outs.history, axis=0)
    level = jnp.argmin(best_value)
    return LoopOutput(logits, history, score, best_step, best_value, level, None)
