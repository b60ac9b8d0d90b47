"""The ``gmmjax`` command line: ``demo``, ``distance`` and ``fit``.

Every argument, input file and output path is checked before any computation starts. A
mistake prints the usage line of the command (for a malformed command line) or one line
``gmmjax: error: ...`` (for a file or a value), on stderr, and exits with status 2, without a
traceback. So does a missing optional dependency: ``demo`` and ``fit --plot`` need matplotlib
(``pip install 'gmmjax[plot]'``), reading a ``.joblib`` model needs scikit-learn
(``pip install 'gmmjax[sklearn]'``). Outputs are written to a temporary file in the same
folder and renamed into place when everything has succeeded, so a failed or interrupted run
(Ctrl-C exits with status 130) leaves existing files as they were.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import jax
import numpy as np

import gmmjax as gj
from gmmjax._src.app import demo, io, plotting
from gmmjax._src.app.optional import MissingDependencyError, require
from gmmjax._src.app.outputs import check_output_path, write_atomically

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
MAX_COMPONENTS = 10_000  # total basis size `fit` accepts: (components per axis) ** d
MODEL_SUFFIXES = (".json", ".npz")
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are the usage line and one error line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.format_usage()}{self.prog}: error: {message}\n")


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"gmmjax: error: {message}\n")
    raise SystemExit(EXIT_USAGE)


def _warn(message: str) -> None:
    sys.stderr.write(f"gmmjax: warning: {message}\n")


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary))
        return
    for key, value in summary.items():
        print(f"{key:<22}{value:.6g}" if isinstance(value, float) else f"{key:<22}{value}")


# --------------------------------------------------------------------------- demo
def _cmd_demo(args: argparse.Namespace) -> int:
    require("matplotlib", "gmmjax demo")  # before anything is changed or created
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        _fail(f"--out {out}: exists and is not a folder")
    if not out.parent.is_dir():
        _fail(f"--out {out}: folder {out.parent} does not exist")
    jax.config.update("jax_enable_x64", True)
    demo.run(out)
    return 0


# --------------------------------------------------------------------------- distance
_METRICS = ("l2", "cs", "kl", "mw2")
_CLOSED_FORMS = {
    "l2": gj.l2_distance,
    "cs": gj.cauchy_schwarz_divergence,
}


def _check_distance_args(args: argparse.Namespace) -> None:
    """Refuse bad values; warn about options the chosen metric does not use."""
    if args.epsilon is not None and not (math.isfinite(args.epsilon) and args.epsilon > 0):
        _fail(f"--epsilon must be a finite number > 0; got {args.epsilon}")
    if args.metric != "mw2":
        for option, value in (("--solver", args.solver), ("--epsilon", args.epsilon)):
            if value is not None:
                _warn(f"{option} applies only to --metric mw2; ignored with --metric {args.metric}")
    elif args.epsilon is not None and args.solver != "sinkhorn":
        _warn("--epsilon applies only to --solver sinkhorn; ignored with the exact solver")
    if args.kl_method is not None and args.metric != "kl":
        _warn(f"--kl-method applies only to --metric kl; ignored with --metric {args.metric}")


def _distance_summary(p: gj.GMM, q: gj.GMM, args: argparse.Namespace) -> dict[str, Any]:
    summary: dict[str, Any] = {"metric": args.metric}
    if args.metric == "mw2":
        solver = args.solver or "exact"
        epsilon = args.epsilon if solver == "sinkhorn" else None
        _, info = gj.mw2_plan(p, q, solver=solver, epsilon=epsilon, return_info=True)
        converged = bool(info.converged)
        summary.update(solver=solver, value=math.sqrt(max(float(info.cost), 0.0)))
        summary.update(converged=converged, n_iters=int(info.n_iters))
        if not converged:
            _warn(f"the {solver} solver did not converge; the value is not trustworthy")
    elif args.metric == "kl":
        method = args.kl_method or "variational"
        summary.update(method=method, value=float(gj.kl_divergence(p, q, method=method)))
    else:
        summary["value"] = float(_CLOSED_FORMS[args.metric](p, q))
    return summary


def _cmd_distance(args: argparse.Namespace) -> int:
    _check_distance_args(args)
    for path in (args.a, args.b):
        io.check_input_file(path, "GMM")
        io.require_reader(path)
    p = io.load_gmm(args.a, normalize=args.normalize)
    q = io.load_gmm(args.b, normalize=args.normalize)
    if p.dim != q.dim:
        _fail(f"dimension mismatch: {args.a} has dim {p.dim} but {args.b} has dim {q.dim}")
    summary = _distance_summary(p, q, args)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['value']:.12g}")
    return 0


# --------------------------------------------------------------------------- fit
def _per_axis(text: str) -> tuple[int, ...]:
    """``"10"`` or ``"10,20"``: grid points per axis (argparse type)."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or one integer per axis (e.g. 10 or 10,20); got {text!r}"
        ) from None
    if any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError(f"every count must be >= 1; got {text!r}")
    return counts


def _check_fit_args(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """Check the values and every path before the data are read; return the output paths."""
    if not (math.isfinite(args.t) and args.t > 0):
        _fail(f"--t must be a finite number > 0; got {args.t}")
    if args.steps is not None and args.steps < 1:
        _fail(f"--steps must be >= 1; got {args.steps}")
    io.check_input_file(args.data, "data")
    out = check_output_path(args.out, "--out", MODEL_SUFFIXES)
    plot = None
    if args.plot is not None:
        require("matplotlib", "gmmjax fit --plot")
        plot = check_output_path(args.plot, "--plot", PLOT_SUFFIXES)
        if plot.resolve() == out.resolve():
            _fail(f"--plot and --out name the same file {out}")
    return out, plot


def _grid_counts(per_axis: tuple[int, ...], dim: int) -> tuple[int, ...]:
    """Per-axis counts for ``dim``-dimensional data, refused above :data:`MAX_COMPONENTS`."""
    if len(per_axis) not in (1, dim):
        _fail(f"--components-per-axis gives {len(per_axis)} counts for {dim}-D data")
    counts = per_axis * dim if len(per_axis) == 1 else per_axis
    total = math.prod(counts)
    if total > MAX_COMPONENTS:
        grid = " x ".join(map(str, counts))
        _fail(
            f"--components-per-axis {','.join(map(str, per_axis))} in {dim}-D gives a grid of "
            f"{grid} = {total:,} components; at most {MAX_COMPONENTS:,} are accepted "
            "(use fewer per axis)"
        )
    return counts


def _fit(args: argparse.Namespace, x: np.ndarray, counts: tuple[int, ...]) -> gj.FitResult:
    basis = gj.grid_basis(x, counts, args.t)
    options: dict[str, Any] = {} if args.steps is None else {"steps": args.steps}
    steps = args.steps or gj.FitOptions().steps
    if not args.quiet:
        sys.stderr.write(
            f"gmmjax: fitting {basis.n_components:,} weights to {x.shape[0]:,} points in "
            f"{x.shape[1]}-D (loss {args.loss}, {steps} steps)\n"
        )
        options["log_every"] = max(1, steps // 10)
    # The progress lines of fit_weights go to stderr, so that stdout holds only the result.
    with contextlib.redirect_stdout(sys.stderr):
        return gj.fit_weights(basis, x, loss=args.loss, **options)


def _fit_summary(x: np.ndarray, gmm: gj.GMM, args: argparse.Namespace) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "n_samples": int(x.shape[0]),
        "dim": int(x.shape[1]),
        "n_components": int(gmm.n_components),
        "loss": args.loss,
        "mean_log_likelihood": float(np.mean(np.asarray(gmm.log_prob(x)))),
    }
    if x.shape[1] == 1:
        window = float(np.sqrt(np.asarray(gmm.covs).ravel()[0])) / 4.0  # d = sigma / 4
        dil = gj.empirical_density_information_loss(gmm, x[:, 0], window)
        summary["dil_empirical"] = float(dil)
    return summary


def _cmd_fit(args: argparse.Namespace) -> int:
    out, plot = _check_fit_args(args)
    x = io.load_data(args.data)
    counts = _grid_counts(args.components, x.shape[1])
    start = time.perf_counter()
    gmm = _fit(args, x, counts).gmm
    seconds = time.perf_counter() - start
    parameters = [np.asarray(a) for a in (gmm.weights, gmm.means, gmm.covs)]
    if not all(np.all(np.isfinite(a)) for a in parameters):
        span = float(np.max(np.ptp(x, axis=0)))
        _fail(f"the fit gave non-finite weights (the data span {span:.3g}); nothing was written")
    summary = _fit_summary(x, gmm, args)
    summary["seconds"] = seconds
    outputs = [(out, lambda path: io.save_gmm(gmm, path))]
    if plot is not None:
        outputs.append((plot, lambda path: plotting.plot_fit(path, x, gmm)))
    write_atomically(outputs)
    summary["written"] = str(out)
    if plot is not None:
        summary["plot"] = str(plot)
    _print_summary(summary, args.json)
    return 0


# --------------------------------------------------------------------------- parser
def _add_distance(sub: Any) -> None:
    dist = sub.add_parser("distance", help="distance between two GMM files (JSON, NPZ, joblib)")
    dist.add_argument("a", help="first GMM file")
    dist.add_argument("b", help="second GMM file")
    dist.add_argument("--metric", choices=_METRICS, default="l2", help="default: l2")
    dist.add_argument(
        "--solver",
        choices=("exact", "sinkhorn"),
        default=None,
        help="transport solver for --metric mw2 (default: exact)",
    )
    dist.add_argument(
        "--epsilon", type=float, default=None, help="Sinkhorn regularisation (--solver sinkhorn)"
    )
    dist.add_argument(
        "--kl-method",
        choices=tuple(gj.KL_METHODS),
        default=None,
        help="approximation for --metric kl (default: variational)",
    )
    dist.add_argument(
        "--normalize",
        action="store_true",
        help="divide each file's weights by their sum instead of requiring them to sum to 1",
    )
    dist.add_argument(
        "--json",
        action="store_true",
        help="print a JSON object (with the solver's converged and n_iters for mw2)",
    )
    dist.set_defaults(func=_cmd_distance)


def _add_fit(sub: Any) -> None:
    fit = sub.add_parser(
        "fit",
        help="fit the weights of a fixed grid of Gaussians to data (CSV or NPY)",
        description=(
            "Fit the weights of a fixed grid of Gaussians (Lu et al. 2023) to data. The grid "
            "has the given number of points on every axis, so in d dimensions it holds "
            f"(points per axis)^d components; at most {MAX_COMPONENTS:,} are accepted."
        ),
    )
    fit.add_argument("data", help="samples, .npy (n,) / (n, d) or .csv one row per sample")
    fit.add_argument(
        "--components-per-axis",
        "--components",
        dest="components",
        type=_per_axis,
        required=True,
        metavar="N[,N...]",
        help=(
            "grid points per axis: one count for every axis, or one per axis (10,20); "
            f"d-D data get N^d components, at most {MAX_COMPONENTS:,}"
        ),
    )
    fit.add_argument("--t", type=float, default=2.0, help="basis width sigma = t * spacing")
    fit.add_argument("--loss", choices=("nll", "binned", "l2"), default="nll")
    fit.add_argument("--steps", type=int, default=None, help="optimiser steps (default: 300)")
    fit.add_argument("--out", required=True, help="where to write the fitted GMM (.json/.npz)")
    fit.add_argument(
        "--plot", default=None, help="also write a plot of the fit (.png/.pdf/.svg; matplotlib)"
    )
    fit.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    fit.add_argument("--json", action="store_true", help="print the summary as a JSON object")
    fit.set_defaults(func=_cmd_fit)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gmmjax`` command."""
    parser = _Parser(
        prog="gmmjax",
        description="Gaussian mixture models as differentiable JAX objects.",
    )
    parser.add_argument("--version", action="version", version=f"gmmjax {gj.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo_cmd = sub.add_parser(
        "demo", help="reproduce the papers' examples: figures, report, timings (needs matplotlib)"
    )
    demo_cmd.add_argument(
        "--out", default="gmmjax-demo", help="output folder (default ./gmmjax-demo)"
    )
    demo_cmd.set_defaults(func=_cmd_demo)
    _add_distance(sub)
    _add_fit(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except (io.InputError, MissingDependencyError) as err:
        _fail(str(err))
    except (ValueError, TypeError) as err:
        _fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    except OSError as err:
        _fail(f"{err.filename or 'output'}: {err.strerror or err}")
    except KeyboardInterrupt:
        sys.stderr.write("gmmjax: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
