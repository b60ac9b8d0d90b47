"""The work behind the ``gmmjax`` commands: checks first, then the computation, then the files.

:mod:`gmmjax.cli` parses the command line and hands the arguments here. Every function checks
its arguments, input files and output paths before it computes anything, and raises
:class:`~gmmjax._src.app.io.InputError` (one line) for a mistake; outputs are written by
:func:`~gmmjax._src.app.outputs.write_atomically` after ``checkpoint()`` has confirmed that no
Ctrl-C arrived during the work.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import jax
import numpy as np

import gmmjax as gj
from gmmjax._src.app import demo, io, plotting
from gmmjax._src.app.optional import require
from gmmjax._src.app.outputs import check_output_path, write_atomically
from gmmjax._src.learner.bandwidth import WidthChoice, select_grid_width
from gmmjax._src.learner.losses import LOSSES

MAX_COMPONENTS = 10_000  # total basis size `fit` accepts: (components per axis) ** d
MODEL_SUFFIXES = (".json", ".npz")
PLOT_SUFFIXES = (".png", ".pdf", ".svg")
METRICS = ("l2", "cs", "kl", "mw2")
FIT_LOSSES = tuple(LOSSES)
KL_SAMPLES = inspect.signature(gj.kl_divergence).parameters["n_samples"].default

Checkpoint = Callable[[], None]


def _refuse(message: str) -> NoReturn:
    raise io.InputError(message)


def _warn(message: str) -> None:
    sys.stderr.write(f"gmmjax: warning: {message}\n")


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary))
        return
    for key, value in summary.items():
        print(f"{key:<22}{value:.6g}" if isinstance(value, float) else f"{key:<22}{value}")


def default_steps() -> int:
    """The number of optimiser steps of a fit without ``--steps``."""
    return int(gj.FitOptions().steps)


def per_axis(text: str) -> tuple[int, ...]:
    """``"10"`` or ``"10,20"``: grid points per axis (an argparse ``type``)."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or one integer per axis (e.g. 10 or 10,20); got {text!r}"
        ) from None
    if any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError(f"every count must be >= 1; got {text!r}")
    return counts


# --------------------------------------------------------------------------- demo
def demo_command(args: argparse.Namespace, checkpoint: Checkpoint) -> int:
    """``gmmjax demo``: every section of the demo into ``--out``."""
    require("matplotlib", "gmmjax demo")  # before anything is changed or created
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        _refuse(f"--out {out}: exists and is not a folder")
    if not out.parent.is_dir():
        _refuse(f"--out {out}: folder {out.parent} does not exist")
    jax.config.update("jax_enable_x64", True)
    demo.run(out)
    return 0


# --------------------------------------------------------------------------- distance
_CLOSED_FORMS = {
    "l2": gj.l2_distance,
    "cs": gj.cauchy_schwarz_divergence,
}


def _check_distance_args(args: argparse.Namespace) -> None:
    """Refuse bad values; warn about options the chosen metric does not use."""
    if args.epsilon is not None and not (math.isfinite(args.epsilon) and args.epsilon > 0):
        _refuse(f"--epsilon must be a finite number > 0; got {args.epsilon}")
    if args.metric != "mw2":
        for option, value in (("--solver", args.solver), ("--epsilon", args.epsilon)):
            if value is not None:
                _warn(f"{option} applies only to --metric mw2; ignored with --metric {args.metric}")
    elif args.epsilon is not None and args.solver != "sinkhorn":
        _warn("--epsilon applies only to --solver sinkhorn; ignored with the exact solver")
    if args.kl_method is not None and args.metric != "kl":
        _warn(f"--kl-method applies only to --metric kl; ignored with --metric {args.metric}")
    if args.samples is not None and args.samples < 1:
        _refuse(f"--samples must be >= 1; got {args.samples}")
    monte_carlo = args.metric == "kl" and args.kl_method == "mc"
    for option, value in (("--samples", args.samples), ("--seed", args.seed)):
        if value is not None and not monte_carlo:
            _warn(f"{option} applies only to --metric kl --kl-method mc; ignored")


def _distance_summary(p: gj.GMM, q: gj.GMM, args: argparse.Namespace) -> dict[str, Any]:
    summary: dict[str, Any] = {"metric": args.metric}
    if args.metric == "mw2":
        solver = args.solver or "exact"
        epsilon = args.epsilon if solver == "sinkhorn" else None
        value, info = gj.mw2_distance(p, q, solver, epsilon, return_info=True)
        converged = bool(info.converged)
        summary.update(solver=solver, value=float(value))
        summary.update(converged=converged, n_iters=int(info.n_iters))
        if not converged:
            _warn(f"the {solver} solver did not converge; the value is not trustworthy")
    elif args.metric == "kl":
        method = args.kl_method or "variational"
        options: dict[str, Any] = {}
        if method == "mc":
            samples = KL_SAMPLES if args.samples is None else args.samples
            seed = 0 if args.seed is None else args.seed
            options = {"key": jax.random.key(seed), "n_samples": samples}
            summary.update(samples=samples, seed=seed)
        summary.update(method=method, value=float(gj.kl_divergence(p, q, method, **options)))
    else:
        summary["value"] = float(_CLOSED_FORMS[args.metric](p, q))
    return summary


def distance_command(args: argparse.Namespace, checkpoint: Checkpoint) -> int:
    """``gmmjax distance``: one distance between two GMM files, printed."""
    _check_distance_args(args)
    p = io.load_gmm(args.a, normalize=args.normalize)
    q = io.load_gmm(args.b, normalize=args.normalize)
    if p.dim != q.dim:
        _refuse(f"dimension mismatch: {args.a} has dim {p.dim} but {args.b} has dim {q.dim}")
    summary = _distance_summary(p, q, args)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['value']:.12g}")
    return 0


# --------------------------------------------------------------------------- fit
def _check_fit_args(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """Check the values and the output paths before any work; return the output paths.

    The data file is checked by :func:`~gmmjax._src.app.io.load_data`, right after.
    """
    if args.t is not None and not (math.isfinite(args.t) and args.t > 0):
        _refuse(f"--t must be a finite number > 0; got {args.t}")
    if args.steps is not None and args.steps < 1:
        _refuse(f"--steps must be >= 1; got {args.steps}")
    out = check_output_path(args.out, "--out", MODEL_SUFFIXES)
    plot = None
    if args.plot is not None:
        require("matplotlib", "gmmjax fit --plot")
        plot = check_output_path(args.plot, "--plot", PLOT_SUFFIXES)
        if plot.resolve() == out.resolve():
            _refuse(f"--plot and --out name the same file {out}")
    return out, plot


def _grid_counts(per_axis: tuple[int, ...], dim: int) -> tuple[int, ...]:
    """Per-axis counts for ``dim``-dimensional data, refused above :data:`MAX_COMPONENTS`."""
    if len(per_axis) not in (1, dim):
        _refuse(f"--components gives {len(per_axis)} counts for {dim}-D data")
    counts = per_axis * dim if len(per_axis) == 1 else per_axis
    total = math.prod(counts)
    if total > MAX_COMPONENTS:
        grid = " x ".join(map(str, counts))
        _refuse(
            f"--components {','.join(map(str, per_axis))} in {dim}-D gives a grid of "
            f"{grid} = {total:,} components; at most {MAX_COMPONENTS:,} are accepted "
            "(use fewer per axis)"
        )
    return counts


def _check_loss(loss: str, dim: int) -> None:
    """Refuse a loss that cannot be fitted to ``dim``-dimensional data, before any work."""
    if LOSSES[loss].one_dimensional and dim != 1:
        _refuse(
            f"--loss {loss} (Eq. 5 of Lu et al. 2023) needs 1-D data; the data are {dim}-D "
            "(use --loss nll or --loss l2)"
        )


def _choose_width(
    args: argparse.Namespace, x: np.ndarray, counts: tuple[int, ...]
) -> tuple[float, WidthChoice | None]:
    """``--t``, or the width chosen on held-out points (reported on stderr) and its record."""
    if args.t is not None:
        return float(args.t), None
    choice = select_grid_width(x, counts)
    if not args.quiet:
        tried = ", ".join(f"{t:g}" for t in choice.widths)
        sys.stderr.write(
            f"gmmjax: basis width t = {choice.t:g} grid spacings, chosen by held-out "
            f"likelihood over t = {tried} (pass --t to set it)\n"
        )
    if choice.grid_too_coarse:
        finer = tuple(2 * n for n in counts)
        advice = ""
        if math.prod(finer) <= MAX_COMPONENTS:
            advice = f" (e.g. --components {','.join(map(str, finer))})"
        _warn(
            "the grid is too coarse for the data: the held-out likelihood is best at the "
            f"narrowest width tried (t = {choice.t:g}) and still rising; use more "
            f"--components{advice}"
        )
    return choice.t, choice


def _fit(
    args: argparse.Namespace, x: np.ndarray, counts: tuple[int, ...], t: float
) -> gj.FitResult:
    basis = gj.grid_basis(x, counts, t)
    options: dict[str, Any] = {} if args.steps is None else {"steps": args.steps}
    steps = args.steps or default_steps()
    if not args.quiet:
        sys.stderr.write(
            f"gmmjax: fitting {basis.n_components:,} weights to {x.shape[0]:,} points in "
            f"{x.shape[1]}-D (loss {args.loss}, t = {t:g}, {steps} steps)\n"
        )
        options["log_every"] = max(1, steps // 10)
    # The progress lines of fit_weights go to stderr, so that stdout holds only the result.
    with contextlib.redirect_stdout(sys.stderr):
        return gj.fit_weights(basis, x, loss=args.loss, **options)


def _width_summary(t: float, choice: WidthChoice | None) -> dict[str, Any]:
    """``t`` and how it was set: ``"t_source"`` is ``"--t"`` or ``"held-out likelihood"``."""
    if choice is None:
        return {"t": t, "t_source": "--t"}
    return {
        "t": choice.t,
        "t_source": "held-out likelihood",
        "grid_too_coarse": choice.grid_too_coarse,
    }


def _fit_summary(
    x: np.ndarray, gmm: gj.GMM, args: argparse.Namespace, t: float, choice: WidthChoice | None
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "n_samples": int(x.shape[0]),
        "dim": int(x.shape[1]),
        "n_components": int(gmm.n_components),
        "loss": args.loss,
        **_width_summary(t, choice),
        "mean_log_likelihood": float(np.mean(np.asarray(gmm.log_prob(x)))),
    }
    if x.shape[1] == 1:
        window = float(np.sqrt(np.asarray(gmm.covs).ravel()[0])) / 4.0  # d = sigma / 4
        dil = gj.empirical_density_information_loss(gmm, x[:, 0], window)
        summary["dil_empirical"] = float(dil)
    return summary


def fit_command(args: argparse.Namespace, checkpoint: Checkpoint) -> int:
    """``gmmjax fit``: fit the weights of a grid basis, write the model (and a plot)."""
    out, plot = _check_fit_args(args)
    x = io.load_data(args.data)
    _check_loss(args.loss, x.shape[1])
    counts = _grid_counts(args.components, x.shape[1])
    start = time.perf_counter()
    t, choice = _choose_width(args, x, counts)
    gmm = _fit(args, x, counts, t).gmm
    seconds = time.perf_counter() - start
    parameters = [np.asarray(a) for a in (gmm.weights, gmm.means, gmm.covs)]
    if not all(np.all(np.isfinite(a)) for a in parameters):
        span = float(np.max(np.ptp(x, axis=0)))
        _refuse(f"the fit gave non-finite weights (the data span {span:.3g}); nothing was written")
    summary = _fit_summary(x, gmm, args, t, choice)
    summary["seconds"] = seconds
    outputs = [(out, lambda path: io.save_gmm(gmm, path))]
    if plot is not None:
        outputs.append((plot, lambda path: plotting.plot_fit(path, x, gmm)))
    checkpoint()  # a Ctrl-C that JAX swallowed during the fit still stops us here
    write_atomically(outputs, before_replacing=checkpoint)
    summary["written"] = str(out)
    if plot is not None:
        summary["plot"] = str(plot)
    _print_summary(summary, args.json)
    return 0
