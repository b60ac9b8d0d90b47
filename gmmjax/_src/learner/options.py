"""The options of :func:`gmmjax.fit_weights`, in one frozen, self-checking object."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

import numpy as np
import optax

from gmmjax._src.core.checks import check_choice, check_positive
from gmmjax._src.learner.losses import LOSSES

__all__ = [
    "COMBINES",
    "CRITERIA",
    "DEFAULT_FOLDS",
    "DEFAULT_SMOOTHING",
    "DEFAULT_VALIDATION_FRACTION",
    "FitOptions",
    "resolve_options",
]

DEFAULT_SMOOTHING = (0.0, 1.0, 2.0, 4.0, 8.0)
DEFAULT_FOLDS = 5
DEFAULT_VALIDATION_FRACTION = 0.1
COMBINES = ("stack", "select")
CRITERIA = ("auto", "loss", "l2")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FitOptions:
    """Options of :func:`gmmjax.fit_weights`: what is minimised, how, from where, and judged how.

    Frozen and checked on construction (a bad value raises ``ValueError`` at once). Derive a
    variant with :func:`dataclasses.replace`; ``fit_weights(basis, x, options, steps=50)``
    does the same for one call. Options holding only scalars, strings, tuples and ``None`` are
    hashable (an array in ``init_logits``, ``bandwidth`` or ``smoothing`` is not).

    Attributes:
        loss: what is minimised: ``"nll"`` (default), ``"binned"`` (1-D), ``"l2"``
            (see ``LOSSES``).
        window: half-width ``w`` of the binned windows; default ``sigma/4`` of the first
            component (the ``d`` of Lu et al. (2023)).
        bandwidth: KDE bandwidth ``h`` for ``"l2"`` (per axis, ``>= 0``); default half the
            smallest spacing of the basis means per axis.
        optimizer: any optax transformation of the logits; default the loss's own
            (``default_optimizer``): exponentiated-gradient steps for ``"nll"``, Adam for
            the others. Static: one compiled loop per optimiser object.
        steps: number of optimisation steps (static: one compiled loop per value).
        batch_size: minibatch size (drawn with replacement each step); ``None``: full batch.
        log_every: print the step, the training and the held-out loss (the best over the
            smoothing widths) every this many steps (under cross-validation: of the first
            fold); off by default.
        smoothing: width(s) of the smoothing of the start, in grid spacings (``>= 0``);
            ``"auto"`` is ``(0, 1, 2, 4, 8)`` with held-out points, ``0`` without.
        init_logits: ``(K,)`` starting logits; replaces the smoothed starts (one run).
        validation_fraction: ``None`` (default): ``folds``-fold cross-validation for a
            full-batch fit, a held-out share of 0.1 with ``batch_size``. A number in
            ``[0, 1)``: that share of the points is held out once (``0`` trains on everything,
            from the unsmoothed start, and returns the last step).
        folds: number of cross-validation folds (``>= 2``, default 5) when
            ``validation_fraction`` is ``None`` and the fit is full batch. Every smoothing
            width is run on each fold's complement, one fold after the other in the same
            compiled program; the held-out score of every width and step is summed over the
            folds, so every point judges once; the width and number of steps with the best total are
            then run on all the points (the returned weights). ``folds`` times the work of a
            single split, and a far less noisy choice: the points that judge are all ``N``
            instead of ``N/10``.
        combine: ``"stack"`` (default for ``"nll"`` with a single held-out split and
            ``criterion="loss"``): the returned weights are the convex combination of the
            best fit of every smoothing width whose coefficients maximise the held-out
            likelihood (EM on ``L`` coefficients); ``"select"``: the single fit with the
            lowest held-out loss. Other losses, the ``"l2"`` criterion and cross-validation
            always select.
        criterion: what the held-out points judge: ``"auto"`` (default): ``"l2"`` under
            cross-validation, ``"loss"`` with a single split; ``"loss"``: the training loss;
            ``"l2"``: the unbiased estimate
            :math:`\\int g^2 - \\frac2M\\sum_{j} g(x^{val}_j)` of
            :math:`\\|g - f\\|_2^2 - \\|f\\|_2^2` (least-squares cross-validation, through
            the overlaps of You (2021)), which weights errors by mass rather than by
            log-density (as the density information loss of Lu et al. (2023), Eq. 9, does)
            and so tolerates smoother fits where the data are thin.
        refit: after a single held-out split, rerun every smoothing level on all the points
            (training and held out) from the same kind of start for the number of steps
            chosen on the held-out points, and return those weights (combined as selected).
            Full batch only (ignored with ``batch_size``). The reported held-out losses are
            those of the selection run. Cross-validation always ends with that run.

    Raises:
        ValueError: for an unknown ``loss``/``combine``/``criterion``, or a bad
            ``steps``/``batch_size``/``validation_fraction``/``window``/``bandwidth``/
            ``smoothing``/``folds`` (several widths need held-out points).

    Example:
        >>> options = FitOptions(loss="l2", steps=50)
        >>> dataclasses.replace(options, steps=80).steps, options.smoothing_widths().tolist()
        (80, [0.0, 1.0, 2.0, 4.0, 8.0])
    """

    # what is minimised
    loss: str = "nll"
    window: float | None = None
    bandwidth: Any = None
    # how
    optimizer: optax.GradientTransformation | None = None
    steps: int = 300
    batch_size: int | None = None
    log_every: int | None = None
    # where the runs start
    smoothing: Any = "auto"
    init_logits: Any = None
    # how the result is chosen on held-out points
    validation_fraction: float | None = None
    folds: int = DEFAULT_FOLDS
    combine: str = "stack"
    criterion: str = "auto"
    refit: bool = True

    def __post_init__(self) -> None:
        check_choice("loss", self.loss, LOSSES)
        check_choice("combine", self.combine, COMBINES)
        check_choice("criterion", self.criterion, CRITERIA)
        _check_counts(self.steps, self.batch_size)
        fraction = self.validation_fraction
        if fraction is not None and not 0.0 <= float(fraction) < 1.0:
            raise ValueError(f"validation_fraction must lie in [0, 1) or be None; got {fraction!r}")
        if isinstance(self.folds, bool) or int(self.folds) != self.folds or self.folds < 2:
            raise ValueError(f"folds must be an integer >= 2; got {self.folds!r}")
        check_positive("window", self.window)
        if self.bandwidth is not None and not np.all(np.asarray(self.bandwidth, float) >= 0):
            raise ValueError(f"bandwidth must be >= 0; got {self.bandwidth!r}")
        self.smoothing_widths()

    @property
    def holds_out(self) -> bool:
        """Whether some points are held out (cross-validation or ``validation_fraction > 0``)."""
        return self.validation_fraction is None or self.validation_fraction > 0

    @property
    def cross_validates(self) -> bool:
        """Whether the fit cross-validates: ``validation_fraction=None`` and full batch."""
        return self.validation_fraction is None and self.batch_size is None

    def held_out_fraction(self) -> float:
        """The share held out by a single split (0 under cross-validation, which has none)."""
        if self.validation_fraction is None:
            return 0.0 if self.cross_validates else DEFAULT_VALIDATION_FRACTION
        return float(self.validation_fraction)

    def judged_by(self) -> str:
        """The criterion, ``"auto"`` resolved: ``"l2"`` under cross-validation, else ``"loss"``."""
        if self.criterion != "auto":
            return self.criterion
        return "l2" if self.cross_validates else "loss"

    def smoothing_widths(self) -> np.ndarray:
        """The ``(L,)`` smoothing widths the runs start from, ``"auto"`` resolved.

        Raises:
            ValueError: for a width that is negative or not finite, an unknown string, or
                several widths without a held-out set.
        """
        smoothing = self.smoothing
        if isinstance(smoothing, str):
            if smoothing != "auto":
                raise ValueError(
                    f'smoothing must be "auto", a number or a sequence; got {smoothing!r}'
                )
            return np.asarray(DEFAULT_SMOOTHING if self.holds_out else (0.0,))
        widths = np.atleast_1d(np.asarray(smoothing, dtype=float))
        if widths.ndim != 1 or widths.size < 1 or not np.all(np.isfinite(widths)):
            raise ValueError(f"smoothing must be finite and >= 0; got {smoothing!r}")
        if np.any(widths < 0):
            raise ValueError(f"smoothing must be finite and >= 0; got {smoothing!r}")
        if widths.size > 1 and not self.holds_out:
            raise ValueError("several smoothing widths need validation_fraction > 0 to choose one")
        return widths


def _check_counts(steps: Any, batch_size: Any) -> None:
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or None; got {batch_size!r}")


OPTION_NAMES = tuple(field.name for field in dataclasses.fields(FitOptions))


def resolve_options(
    options: FitOptions | None, keywords: Mapping[str, Any], caller: str = "fit_weights"
) -> FitOptions:
    """``options`` (default ``FitOptions()``) with the option ``keywords`` applied on top.

    Raises:
        TypeError: when ``options`` is not a :class:`FitOptions`, or for a keyword that
            names no option (the message names it, and the closest option if any).
        ValueError: for a bad option value (see :class:`FitOptions`).
    """
    if options is None:
        options = FitOptions()
    elif not isinstance(options, FitOptions):
        raise TypeError(f"options must be a FitOptions or None; got {type(options).__name__}")
    for name in keywords:
        if name not in OPTION_NAMES:
            close = difflib.get_close_matches(name, OPTION_NAMES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; options: {OPTION_NAMES}"
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}{hint}")
    return dataclasses.replace(options, **keywords) if keywords else options
