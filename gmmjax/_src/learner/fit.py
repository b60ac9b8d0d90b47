"""The fixed-basis weight learner: optax on softmax logits, one compiled ``lax.scan``.

The basis (means and covariances) stays fixed, as in Lu et al. (2023); only the weights
:math:`\\pi = \\mathrm{softmax}(\\theta)` are learned. This module is the public entry point:
it checks the inputs, splits the data and hands the arrays to the compiled run. The pieces
live next to it: the losses (``LOSSES``) in :mod:`.losses`, the options in :mod:`.options`,
the starting logits in :mod:`.starts` and the scan with its selection in :mod:`.loop`.

Generalisation: several runs start from differently smoothed weights (a leading axis of the
logits), a held-out score is evaluated at every step, and the width and number of steps with
the best score are chosen (early stopping along the paths; no patience rule is needed because
the whole path is scanned). By default the score is the least-squares (L2) cross-validation
score summed over 5 folds (a random split fixed by ``key``), and the chosen width and step
count are then run on all the points; ``validation_fraction`` selects the earlier single
held-out split instead (see :func:`fit_weights`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.core.arguments import require_definite, require_type
from gmmjax._src.core.checks import is_concrete
from gmmjax._src.core.mixture import GMM
from gmmjax._src.learner.grid import as_points, basis_spacing
from gmmjax._src.learner.loop import LoopInputs, Schedule, cross_validate, train
from gmmjax._src.learner.losses import LOSSES, default_optimizer
from gmmjax._src.learner.optimizers import scale_by_inverse_weights
from gmmjax._src.learner.options import FitOptions, resolve_options

__all__ = [
    "LOSSES",
    "FitOptions",
    "FitResult",
    "default_optimizer",
    "fit_weights",
    "scale_by_inverse_weights",
]


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


# --------------------------------------------------------------------------- inputs
def _check_basis_covariances(basis: GMM) -> None:
    """Concrete basis covariances must be positive definite: a zero variance has no density
    (its log-density terms are NaN and so would be the fitted weights)."""
    if basis.is_diagonal and is_concrete(basis.covs):
        var = np.asarray(basis.covs)
        if not np.all(var > 0):
            k, a = (int(i) for i in np.argwhere(~(var > 0))[0])
            raise ValueError(
                f"fit_weights: basis.covs[{k}, {a}] = {var[k, a]}; every variance of the basis "
                "must be > 0 (grid_basis gives (t r)^2 > 0)"
            )
    elif not basis.is_diagonal:
        require_definite("basis", basis, "fit_weights")


def _check_basis(basis: Any, pts: jax.Array, loss: str) -> None:
    require_type("basis", basis, GMM)
    if basis.batch_shape:
        raise ValueError(f"basis must be a single GMM; got batch_shape {basis.batch_shape}")
    if basis.dim != pts.shape[1]:
        raise ValueError(f"x has dimension {pts.shape[1]} but the basis has dim {basis.dim}")
    _check_basis_covariances(basis)
    if LOSSES[loss].one_dimensional and (basis.dim != 1 or not basis.is_diagonal):
        raise ValueError(
            f"loss={loss!r} (Eq. 5 of Lu et al. (2023)) is 1-D only; the basis has dim {basis.dim}"
        )


def _held_out_count(n: int, options: FitOptions) -> tuple[int, int | None]:
    """Points held out by a single split (a share, rounded up) and the folds (or ``None``)."""
    if options.cross_validates:
        if n < 2 * options.folds:
            raise ValueError(f"folds={options.folds} needs at least {2 * options.folds} points")
        return 0, int(options.folds)
    fraction = options.held_out_fraction()
    n_valid = math.ceil(fraction * n) if fraction > 0 else 0
    if n_valid >= n:
        raise ValueError(f"validation_fraction={fraction} leaves no training points")
    return n_valid, None


def _split(pts: jax.Array, n_valid: int, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Training and held-out points: a random ``n_valid`` of them are held out."""
    n = pts.shape[0]
    perm = jax.random.permutation(key, n) if n_valid else jnp.arange(n)
    return pts[perm[n_valid:]], pts[perm[:n_valid]]


def _starts(basis: GMM, options: FitOptions) -> tuple[jax.Array | None, np.ndarray]:
    """Given ``(1, K)`` starting logits (or ``None``) and the ``(L,)`` smoothing widths."""
    if options.init_logits is None:
        return None, options.smoothing_widths()
    k = basis.n_components
    starts = jnp.asarray(options.init_logits, basis.dtype)
    if starts.shape != (k,):
        raise ValueError(f"init_logits must have shape ({k},); got {starts.shape}")
    if is_concrete(starts) and not np.all(np.isfinite(np.asarray(starts))):
        raise ValueError("init_logits must be finite")
    return starts[None], np.zeros(1)


def _loss_scales(basis: GMM, window: Any, bandwidth: Any) -> tuple[jax.Array, jax.Array]:
    """The binned window ``w`` and the ``(d,)`` L2 bandwidth ``h``, defaults resolved."""
    sd0 = jnp.sqrt(basis.covs[0, 0] if basis.is_diagonal else basis.covs[0, 0, 0])
    win = jnp.asarray(sd0 / 4.0 if window is None else window, basis.dtype)
    if bandwidth is None:
        bw = 0.5 * basis_spacing(basis)
    else:
        bw = jnp.asarray(bandwidth, basis.dtype)
    return win, jnp.broadcast_to(bw, (basis.dim,)).astype(basis.dtype)


def _schedule(options: FitOptions) -> Schedule:
    """The static configuration of the compiled loop."""
    optimizer = options.optimizer
    return Schedule(
        loss=options.loss,
        optimizer=default_optimizer(options.loss) if optimizer is None else optimizer,
        steps=int(options.steps),
        batch_size=None if options.batch_size is None else int(options.batch_size),
        log_every=options.log_every,
        criterion=options.judged_by(),
        refit=bool(options.refit),
    )


# --------------------------------------------------------------------------- compiled
class _Chosen(NamedTuple):
    """The returned weights and the record of the level they came from."""

    logits: jax.Array
    weights: jax.Array
    history: jax.Array
    validation_history: jax.Array
    level: jax.Array
    best_step: jax.Array
    best_value: jax.Array


@functools.partial(jax.jit, static_argnames=("schedule", "n_valid", "folds", "stack"))
def _fit(
    basis: GMM,
    pts: jax.Array,
    key: jax.Array | None,
    starts: jax.Array | None,
    widths: jax.Array,
    scales: tuple[Any, Any],
    *,
    schedule: Schedule,
    n_valid: int,
    folds: int | None,
    stack: bool,
) -> _Chosen:
    """Split, train and choose, as one program.

    Everything from the checked inputs to the returned weights is compiled together, so a
    call runs one XLA program (the first call of a shape compiles it once) instead of
    dispatching the split, the scales and the final choice operation by operation.
    """
    pts = pts.astype(basis.dtype)
    key = jax.random.key(0) if key is None else key
    split_key, loop_key = jax.random.split(key)
    train_pts, valid_pts = _split(pts, n_valid, split_key)
    window, bandwidth = _loss_scales(basis, *scales)
    inputs = LoopInputs(basis, train_pts, valid_pts, window, bandwidth, starts, widths)
    if folds is None:
        out = train(inputs, loop_key, schedule)
    else:
        out = cross_validate(inputs, key, schedule, folds)
    level = out.level
    if stack and out.stacking is not None:
        pi = out.stacking @ jax.nn.softmax(out.logits, axis=-1)
        chosen = jnp.log(jnp.maximum(pi, jnp.finfo(pi.dtype).tiny))
    else:
        chosen = out.logits[level]
    return _Chosen(
        chosen,
        jax.nn.softmax(chosen),
        out.history[:, level],
        out.validation_history[:, level],
        level,
        out.best_step[level],
        out.best_value[level],
    )


def _result(basis: GMM, options: FitOptions, widths: np.ndarray, out: _Chosen) -> FitResult:
    """The :class:`FitResult` of the compiled fit."""
    level, best_step, best_value = jax.device_get((out.level, out.best_step, out.best_value))
    return FitResult(
        gmm=GMM._unchecked(out.weights, basis.means, basis.covs),
        logits=out.logits,
        history=out.history,
        validation_history=out.validation_history,
        best_step=int(best_step),
        steps=int(options.steps),
        validation_loss=float(best_value),
        loss=options.loss,
        smoothing=float(widths[int(level)]),
    )


# --------------------------------------------------------------------------- public
def fit_weights(
    basis: GMM,
    x: Any,
    options: FitOptions | None = None,
    *,
    key: jax.Array | None = None,
    **option_keywords: Any,
) -> FitResult:
    """Learn the weights of a fixed basis from data: optax on softmax logits in one ``lax.scan``.

    Minimises over :math:`\\theta \\in \\mathbb R^K` the chosen loss of
    :math:`g_\\theta = \\sum_k \\mathrm{softmax}(\\theta)_k\\,\\phi_k` (means and covariances of
    ``basis`` fixed, Lu et al. (2023), §2.1):

    .. math::
        \\mathcal L_{nll} = -\\frac1N\\sum_j \\log g_\\theta(x_j), \\quad
        \\mathcal L_{binned} = \\frac1N\\sum_j \\big|\\hat P\\{x_j \\pm w\\}
            - P_{g_\\theta}\\{x_j \\pm w\\}\\big|, \\quad
        \\mathcal L_{l2} = \\int g_\\theta^2 - 2\\int g_\\theta \\hat f_h

    (the binned loss is Eq. 5 of Lu et al. (2023); the L2 loss uses the Gaussian product
    integrals of You (2021) through :func:`gmmjax.log_gaussian_overlap`).

    Regularisation (the default generalises instead of interpolating the sample): the
    optimisation starts from smoothed weights: the soft cell counts of the training points (one
    EM step from the paper's uniform start) convolved over the basis means with Gaussians of
    ``smoothing`` grid spacings. One run per width goes on in the same scan (the widths are a
    leading axis of the logits). The default optimiser for ``"nll"`` makes multiplicative
    (EM-like) steps, which sharpen the smooth start towards the maximum-likelihood weights from
    coarse to fine detail, so choosing the width and the number of steps on held-out points
    chooses the amount of smoothing (early stopping along a smoothing path).

    How the held-out points choose (default, ``validation_fraction=None``): ``folds``-fold
    cross-validation (5 folds; a 10% split with ``batch_size``). Every width runs on each
    fold's complement in the same compiled program, every step is scored on the fold's points
    by the least-squares criterion

    .. math::
        \\mathrm{CV}(\\ell, s) = \\frac1F\\sum_{f=1}^F\\Big(\\int g_{f,\\ell,s}^2
            - \\frac{2}{|V_f|}\\sum_{x \\in V_f} g_{f,\\ell,s}(x)\\Big),

    the cross-validation estimate of :math:`\\|g - f\\|_2^2 - \\|f\\|_2^2` (through the
    overlaps of You (2021)), and the width :math:`\\ell` and step count :math:`s` that minimise
    it are run on all the points. The criterion weights errors by probability mass, as the
    density information loss of Lu et al. (2023), Eq. 9, does (the likelihood weights them by
    log-density and favours fits that are smooth where the data are thin), and summing over
    the folds makes every point judge once, so the choice is far less noisy than one 10%
    split. With an explicit ``validation_fraction`` the earlier rule applies: that share is
    held out once, the training loss judges (``criterion="loss"``), for the likelihood the kept
    fits of all widths are mixed with the convex coefficients that maximise the held-out
    likelihood (``combine="stack"``, stacked density estimation), and (``refit=True``) every
    width is rerun on all the points for its selected number of steps.

    The options (loss, optimiser, steps, batch size, held-out share, smoothing, ...) are the
    fields of :class:`FitOptions`, documented there. Pass them as keywords
    (``fit_weights(basis, x, loss="l2", steps=50)``), as one object (``fit_weights(basis, x,
    FitOptions(loss="l2"))``), or both: the keywords then replace fields of the object.

    Args:
        basis: a single GMM (e.g. :func:`gmmjax.grid_basis`); its weights are ignored.
        x: ``(N,)`` or ``(N, d)`` finite data.
        options: a :class:`FitOptions`; default ``FitOptions()``.
        key: PRNG key for the split and the minibatches; default ``jax.random.key(0)``.
        **option_keywords: fields of :class:`FitOptions` that override ``options``.

    Returns:
        :class:`FitResult` with ``.gmm``, ``.history``, ``.validation_history``,
        ``.best_step``, ``.smoothing`` and ``.logits``.

    Raises:
        TypeError: for a keyword that is no field of :class:`FitOptions`, ``options`` of
            another type, or a ``basis`` that is not a GMM.
        ValueError: for a bad option (see :class:`FitOptions`), non-finite data, data whose
            dimension differs from the basis, an empty split, ``init_logits`` of the wrong
            shape, or ``"binned"`` in more than one dimension.

    Example:
        >>> from gmmjax import grid_basis
        >>> x = jax.random.normal(jax.random.key(1), (1000,))
        >>> fit = fit_weights(grid_basis(x, 20, 1.0), x, steps=50)
        >>> fit.gmm.n_components, fit.history.shape
        (20, (50,))
        >>> fit_weights(grid_basis(x, 20, 1.0), x, FitOptions(loss="l2"), steps=5).loss
        'l2'
    """
    options = resolve_options(options, option_keywords)
    pts = as_points(x)
    _check_basis(basis, pts, options.loss)
    n_valid, folds = _held_out_count(pts.shape[0], options)
    starts, widths = _starts(basis, options)
    out = _fit(
        basis,
        pts,
        key,
        starts,
        np.asarray(widths, basis.dtype),
        (options.window, options.bandwidth),
        schedule=_schedule(options),
        n_valid=n_valid,
        folds=folds,
        stack=options.combine == "stack" and len(widths) > 1 and folds is None,
    )
    return _result(basis, options, widths, out)
