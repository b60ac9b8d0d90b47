"""The ``gmmjax`` command line: ``demo``, ``distance`` and ``fit``.

Errors in files, values or options print one line on stderr (``gmmjax: error: ...``) and exit
with status 2, without a traceback. So does a missing optional dependency, checked before any
work is done: ``demo`` and ``fit --plot`` need matplotlib (``pip install 'gmmjax[plot]'``),
reading a ``.joblib`` model needs scikit-learn (``pip install 'gmmjax[sklearn]'``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import jax
import numpy as np

import gmmjax as gj
from gmmjax._src.app import demo, io, plotting
from gmmjax._src.app.optional import MissingDependencyError, require

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"gmmjax: error: {message}\n")
    raise SystemExit(EXIT_USAGE)


# --------------------------------------------------------------------------- demo
def _cmd_demo(args: argparse.Namespace) -> int:
    require("matplotlib", "gmmjax demo")  # before anything is changed or created
    jax.config.update("jax_enable_x64", True)
    demo.run(Path(args.out))
    return 0


# --------------------------------------------------------------------------- distance
_METRICS = ("l2", "cs", "kl", "mw2")


def _distance_value(p: gj.GMM, q: gj.GMM, args: argparse.Namespace) -> float:
    if args.metric == "mw2":
        return float(gj.mw2_distance(p, q, solver=args.solver, epsilon=args.epsilon))
    closed_forms = {
        "l2": gj.l2_distance,
        "cs": gj.cauchy_schwarz_divergence,
        "kl": gj.kl_divergence,
    }
    return float(closed_forms[args.metric](p, q))


def _cmd_distance(args: argparse.Namespace) -> int:
    if args.epsilon is not None and args.epsilon <= 0:
        _fail(f"--epsilon must be > 0; got {args.epsilon}")
    for path in (args.a, args.b):
        io.require_reader(path)
    p, q = io.load_gmm(args.a), io.load_gmm(args.b)
    if p.dim != q.dim:
        _fail(f"dimension mismatch: {args.a} has dim {p.dim} but {args.b} has dim {q.dim}")
    value = _distance_value(p, q, args)
    if args.json:
        print(json.dumps({"metric": args.metric, "solver": args.solver, "value": value}))
    else:
        print(f"{value:.12g}")
    return 0


# --------------------------------------------------------------------------- fit
def _check_fit_args(args: argparse.Namespace) -> None:
    if args.components < 1:
        _fail(f"--components must be >= 1; got {args.components}")
    if args.t <= 0:
        _fail(f"--t must be > 0; got {args.t}")
    if args.steps is not None and args.steps < 1:
        _fail(f"--steps must be >= 1; got {args.steps}")
    if args.plot:
        require("matplotlib", "gmmjax fit --plot")


def _cmd_fit(args: argparse.Namespace) -> int:
    _check_fit_args(args)
    x = io.load_data(args.data)
    basis = gj.grid_basis(x, args.components, args.t)
    start = time.perf_counter()
    options = {} if args.steps is None else {"steps": args.steps}
    gmm = gj.fit_weights(basis, x, loss=args.loss, **options).gmm
    seconds = time.perf_counter() - start
    summary: dict[str, object] = {
        "n_samples": int(x.shape[0]),
        "dim": int(x.shape[1]),
        "n_components": int(gmm.n_components),
        "loss": args.loss,
        "mean_log_likelihood": float(np.mean(np.asarray(gmm.log_prob(x)))),
        "seconds": seconds,
    }
    if x.shape[1] == 1:
        window = float(np.sqrt(np.asarray(basis.covs).ravel()[0])) / 4.0  # d = sigma / 4
        dil = gj.empirical_density_information_loss(gmm, x[:, 0], window)
        summary["dil_empirical"] = float(dil)
    io.save_gmm(gmm, args.out)
    summary["written"] = args.out
    if args.plot:
        plotting.plot_fit(args.plot, x, gmm)
        summary["plot"] = args.plot
    for key, value in summary.items():
        print(f"{key:<22}{value:.6g}" if isinstance(value, float) else f"{key:<22}{value}")
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gmmjax`` command."""
    parser = _Parser(
        prog="gmmjax",
        description="Gaussian mixture models as differentiable JAX objects.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo_cmd = sub.add_parser(
        "demo", help="reproduce the papers' examples: figures, report, timings (needs matplotlib)"
    )
    demo_cmd.add_argument(
        "--out", default="gmmjax-demo", help="output folder (default ./gmmjax-demo)"
    )
    demo_cmd.set_defaults(func=_cmd_demo)

    dist = sub.add_parser("distance", help="distance between two GMM files (JSON, NPZ, joblib)")
    dist.add_argument("a", help="first GMM file")
    dist.add_argument("b", help="second GMM file")
    dist.add_argument("--metric", choices=_METRICS, default="l2")
    dist.add_argument(
        "--solver",
        choices=("exact", "sinkhorn"),
        default="exact",
        help="transport solver for --metric mw2",
    )
    dist.add_argument("--epsilon", type=float, default=None, help="Sinkhorn regularisation")
    dist.add_argument("--json", action="store_true", help="print a JSON object")
    dist.set_defaults(func=_cmd_distance)

    fit = sub.add_parser("fit", help="fit a fixed-basis GMM to data (CSV or NPY)")
    fit.add_argument("data", help="samples, .npy (n,) / (n, d) or .csv one row per sample")
    fit.add_argument("--components", type=int, required=True, help="grid points per axis")
    fit.add_argument("--t", type=float, default=2.0, help="basis width sigma = t * r")
    fit.add_argument("--loss", choices=("nll", "binned", "l2"), default="nll")
    fit.add_argument("--steps", type=int, default=None, help="optimiser steps (default: library's)")
    fit.add_argument("--out", required=True, help="where to write the fitted GMM (.json/.npz)")
    fit.add_argument(
        "--plot", default=None, help="also write a PNG plot of the fit (needs matplotlib)"
    )
    fit.set_defaults(func=_cmd_fit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (io.InputError, MissingDependencyError) as err:
        _fail(str(err))
    except (ValueError, TypeError) as err:
        _fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    except KeyboardInterrupt:
        _fail("interrupted")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
