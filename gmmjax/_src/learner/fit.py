"""The fixed-basis weight learner: optax on softmax logits, one compiled ``lax.scan``.

The basis (means and covariances) stays fixed, as in Lu et al. (2023); only the weights
:math:`\\pi = \\mathrm{softmax}(\\theta)` are learned. This module is the public entry point:
it checks the inputs, splits the data and hands the arrays to the compiled run. The pieces
live next to it: the losses (``LOSSES``) in :mod:`.losses`, the options in :mod:`.options`,
the starting logits in :mod:`.starts` and the scan with its selection in :mod:`.loop`.

Generalisation: by default 10% of the points (a random split fixed by ``key``) are held out.
Several runs start from differently smoothed weights (a leading axis of the logits), the
held-out loss is evaluated at every step, and the best weights along the paths are returned
(early stopping; no patience rule is needed because the whole path is scanned), or, for the
likelihood, their held-out-optimal convex combination (see :func:`fit_weights`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.core.arguments import require_type
from gmmjax._src.core.checks import is_concrete
from gmmjax._src.core.mixture import GMM
from gmmjax._src.learner.grid import as_points, basis_spacing
from gmmjax._src.learner.loop import LoopInputs, LoopOutput, Schedule, train
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
def _check_basis(basis: Any, pts: jax.Array, loss: str) -> None:
    require_type("basis", basis, GMM)
    if basis.batch_shape:
        raise ValueError(f"basis must be a single GMM; got batch_shape {basis.batch_shape}")
    if basis.dim != pts.shape[1]:
        raise ValueError(f"x has dimension {pts.shape[1]} but the basis has dim {basis.dim}")
    if LOSSES[loss].one_dimensional and (basis.dim != 1 or not basis.is_diagonal):
        raise ValueError(
            f"loss={loss!r} (Eq. 5 of Lu et al. (2023)) is 1-D only; the basis has dim {basis.dim}"
        )


def _split(pts: jax.Array, fraction: float, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Training and held-out points: a random ``fraction`` (rounded up) is held out."""
    n = pts.shape[0]
    n_valid = math.ceil(float(fraction) * n) if fraction > 0 else 0
    if n_valid >= n:
        raise ValueError(f"validation_fraction={fraction} leaves no training points")
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


def _loss_scales(basis: GMM, options: FitOptions) -> tuple[jax.Array, jax.Array]:
    """The binned window ``w`` and the ``(d,)`` L2 bandwidth ``h``, defaults resolved."""
    sd0 = jnp.sqrt(basis.covs[0, 0] if basis.is_diagonal else basis.covs[0, 0, 0])
    window = options.window
    win = jnp.asarray(sd0 / 4.0 if window is None else window, basis.dtype)
    if options.bandwidth is None:
        bw = 0.5 * basis_spacing(basis)
    else:
        bw = jnp.asarray(options.bandwidth, basis.dtype)
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
        criterion=options.criterion,
        refit=bool(options.refit),
    )


# --------------------------------------------------------------------------- result
def _result(basis: GMM, options: FitOptions, widths: np.ndarray, out: LoopOutput) -> FitResult:
    """The returned weights (stacked or the best level) and their record."""
    level = int(out.level)
    if options.combine == "stack" and out.stacking is not None and len(widths) > 1:
        pi = out.stacking @ jax.nn.softmax(out.logits, axis=-1)
        chosen = jnp.log(jnp.maximum(pi, jnp.finfo(pi.dtype).tiny))
    else:
        chosen = out.logits[level]
    gmm = GMM._unchecked(jax.nn.softmax(chosen), basis.means, basis.covs)
    return FitResult(
        gmm=gmm,
        logits=chosen,
        history=out.history[:, level],
        validation_history=out.validation_history[:, level],
        best_step=int(out.best_step[level]),
        steps=int(options.steps),
        validation_loss=float(out.best_value[level]),
        loss=options.loss,
        smoothing=float(widths[level]),
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
    pts = pts.astype(basis.dtype)
    key = jax.random.key(0) if key is None else key
    split_key, loop_key = jax.random.split(key)
    train_pts, valid_pts = _split(pts, options.validation_fraction, split_key)
    starts, widths = _starts(basis, options)
    window, bandwidth = _loss_scales(basis, options)
    widths_arr = jnp.asarray(widths, basis.dtype)
    inputs = LoopInputs(basis, train_pts, valid_pts, window, bandwidth, starts, widths_arr)
    out = train(inputs, loop_key, _schedule(options))
    return _result(basis, options, widths, out)
