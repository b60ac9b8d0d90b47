"""The ``gmmjax`` command line: ``demo``, ``distance`` and ``fit``.

Every argument, input file and output path is checked before any computation starts. A
malformed command line prints the command's usage and one error line; a bad file or value
prints one line ``gmmjax: error: ...``; both on stderr, with exit status 2 and no traceback.
So does a missing optional dependency: ``demo`` and ``fit --plot`` need matplotlib
(``pip install 'gmmjax[plot]'``), reading a ``.joblib`` model needs scikit-learn
(``pip install 'gmmjax[sklearn]'``).

Outputs are written to a temporary file in the same folder and renamed into place when
everything has succeeded. Ctrl-C at any moment exits with status 130 and leaves existing files
as they were: the handler is installed before JAX is imported (``import gmmjax`` loads
nothing heavy) and also records the interrupt, because JAX can swallow a ``KeyboardInterrupt``
that arrives inside one of its garbage-collector callbacks; the command checks the record
before it replaces any file. The work itself is in :mod:`gmmjax._src.app.commands`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import gmmjax
from gmmjax._src.app.optional import MissingDependencyError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are the usage line and one error line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.format_usage()}{self.prog}: error: {message}\n")


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"gmmjax: error: {message}\n")
    raise SystemExit(EXIT_USAGE)


class _Interrupts:
    """A SIGINT handler that raises ``KeyboardInterrupt`` and remembers that it did."""

    def __init__(self) -> None:
        self.received = 0

    def __call__(self, signum: int, frame: Any) -> None:
        self.received += 1
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C arrived, even if the first one was swallowed."""
        if self.received:
            raise KeyboardInterrupt


# JAX logs every exception raised inside a host callback (the progress lines of a fit run in
# one) with its traceback, then re-raises it; for a Ctrl-C that is our interrupt, not an error.
_CALLBACK_LOGGERS = ("jax._src.debugging", "jax._src.callback")


def _not_an_interrupt(record: logging.LogRecord) -> bool:
    """Logging filter: drop the records that carry a ``KeyboardInterrupt``."""
    return not (record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt))


@contextlib.contextmanager
def _trap_interrupts() -> Iterator[_Interrupts]:
    """Install :class:`_Interrupts` for the duration of a command.

    Only Python's default handler is replaced: a process started with SIGINT ignored (a
    background job of a script) keeps ignoring it, and a caller's own handler is kept. While
    it is installed JAX's callback loggers do not print the interrupt as a callback failure.
    """
    trap = _Interrupts()
    on_main_thread = threading.current_thread() is threading.main_thread()
    replace = on_main_thread and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    previous = signal.signal(signal.SIGINT, trap) if replace else None
    loggers = [logging.getLogger(name) for name in _CALLBACK_LOGGERS] if replace else []
    for logger in loggers:
        logger.addFilter(_not_an_interrupt)
    try:
        yield trap
    finally:
        for logger in loggers:
            logger.removeFilter(_not_an_interrupt)
        if replace:
            signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------- parser
class _HelpFormatter(argparse.HelpFormatter):
    """Help text with every default shown and examples kept as written.

    An option's help gains ``(default: ...)`` unless it says its default itself or has none
    (``None``, or a flag that is off); paragraphs whose lines are indented (the examples of
    an epilog) are printed as they are, the others are wrapped.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, False, argparse.SUPPRESS):
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)"
        return text

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = text.strip("\n").split("\n\n")
        return "\n\n".join(
            paragraph
            if any(line.startswith("  ") for line in paragraph.splitlines())
            else super(_HelpFormatter, self)._fill_text(paragraph, width, indent)
            for paragraph in paragraphs
        )


def _subcommand(sub: Any, name: str, summary: str, description: str, examples: str) -> Any:
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"examples:\n{examples}",
        formatter_class=_HelpFormatter,
        allow_abbrev=False,
    )


_METRIC_HELP = (
    "l2: the L2 distance sqrt(integral of (a - b)^2) (closed form, You 2021); "
    "cs: the Cauchy-Schwarz divergence -log(<a,b> / (|a| |b|)), 0 for a = b; "
    "kl: the Kullback-Leibler divergence KL(a || b), approximated (see --kl-method); "
    "mw2: the mixture Wasserstein distance of Chen et al. (2019), optimal transport between "
    "the components with Gaussian W2^2 costs"
)
_KL_HELP = (
    "approximation of KL for --metric kl: variational (Hershey and Olsen 2007), mc (Monte "
    "Carlo with --samples draws per component and --seed), lower_bound / upper_bound "
    "(Durrieu et al. 2012), ot_bound (transport upper bound) (default: variational)"
)


def _add_distance(sub: Any) -> None:
    from gmmjax import KL_METHODS
    from gmmjax._src.app import commands

    dist = _subcommand(
        sub,
        "distance",
        "distance between two GMM files (JSON, NPZ, joblib)",
        "Compute one distance or divergence between the mixtures stored in two files and print "
        "it (with --json, a JSON object: metric, value and, for mw2, the solver's converged "
        "(true when the LP reached optimality or Sinkhorn its threshold) and n_iters (the "
        "LP's shortest-path phases or the Sinkhorn iterations; -1 where a solver does not "
        "count them)).",
        "  gmmjax distance a.json b.json\n"
        "  gmmjax distance a.json b.json --metric mw2 --solver sinkhorn --epsilon 0.01 --json\n"
        "  gmmjax distance a.json b.npz --metric kl --kl-method mc --samples 4096 --seed 1",
    )
    dist.add_argument("a", help="first GMM file")
    dist.add_argument("b", help="second GMM file")
    dist.add_argument("--metric", choices=commands.METRICS, default="l2", help=_METRIC_HELP)
    dist.add_argument(
        "--solver",
        choices=("exact", "sinkhorn"),
        default=None,
        help="transport solver for --metric mw2: the exact LP or entropic Sinkhorn "
        "(default: exact)",
    )
    dist.add_argument(
        "--epsilon",
        type=float,
        default=None,
        help="Sinkhorn regularisation for --solver sinkhorn (default: the solver's own)",
    )
    dist.add_argument("--kl-method", choices=tuple(KL_METHODS), default=None, help=_KL_HELP)
    dist.add_argument(
        "--samples",
        type=int,
        default=None,
        help=f"Monte Carlo draws per component for --kl-method mc (default: {commands.KL_SAMPLES})",
    )
    dist.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed of the Monte Carlo draws for --kl-method mc (default: 0)",
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
    dist.set_defaults(func=commands.distance_command)


def _add_fit(sub: Any) -> None:
    from gmmjax._src.app import commands
    from gmmjax._src.learner.bandwidth import DEFAULT_WIDTHS

    widths = ", ".join(f"{t:g}" for t in DEFAULT_WIDTHS)
    fit = _subcommand(
        sub,
        "fit",
        "fit the weights of a fixed grid of Gaussians to data (CSV or NPY)",
        "Fit the weights of a fixed grid of Gaussians (Lu et al. 2023) to data. The grid "
        "has the given number of points on every axis, so in d dimensions it holds "
        f"(points per axis)^d components; at most {commands.MAX_COMPONENTS:,} are accepted. "
        "Every component has the standard deviation t x (grid spacing) on each axis; "
        "without --t, t is chosen from the data by held-out likelihood (a warning says when "
        "the grid is too coarse for the data). The summary reports the chosen t, the mean "
        "log-likelihood of the data and, with --json, the same as a JSON object.",
        "  gmmjax fit x.csv --components 40 --out model.json\n"
        "  gmmjax fit x.npy --components 30,20 --out model.json --plot fit.png\n"
        "  gmmjax fit x.csv --components 40 --t 2 --loss l2 --steps 500 --out model.npz",
    )
    fit.add_argument("data", help="samples, .npy (n,) / (n, d) or .csv one row per sample")
    fit.add_argument(
        "--components",
        type=commands.per_axis,
        required=True,
        metavar="N[,N...]",
        help=(
            "grid points per axis: one count for every axis, or one per axis (10,20); "
            f"d-D data get N^d components, at most {commands.MAX_COMPONENTS:,} (required)"
        ),
    )
    fit.add_argument(
        "--t",
        type=float,
        default=None,
        help=(
            "width of every component in grid spacings (sigma = t x spacing per axis; Lu et "
            "al. use 1 to 5) (default: chosen from the data, the best held-out likelihood "
            f"over t = {widths})"
        ),
    )
    fit.add_argument(
        "--loss",
        choices=commands.FIT_LOSSES,
        default="nll",
        help=(
            "what the weights minimise: nll, the negative log-likelihood (maximum "
            "likelihood); binned, Eq. 5 of Lu et al. (2023) (1-D data only); l2, the "
            "integrated squared error to a kernel density estimate of the data"
        ),
    )
    fit.add_argument(
        "--steps",
        type=int,
        default=None,
        help="optimiser steps; the best step on held-out points is kept "
        f"(default: {commands.default_steps()})",
    )
    fit.add_argument(
        "--out", required=True, help="where to write the fitted GMM (.json/.npz) (required)"
    )
    fit.add_argument(
        "--plot",
        default=None,
        help="also write a plot of the fit (.png/.pdf/.svg; matplotlib) (default: no plot)",
    )
    fit.add_argument(
        "--quiet", action="store_true", help="no progress lines on stderr (warnings still)"
    )
    fit.add_argument("--json", action="store_true", help="print the summary as a JSON object")
    fit.set_defaults(func=commands.fit_command)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gmmjax`` command."""
    from gmmjax._src.app import commands  # imports JAX

    parser = _Parser(
        prog="gmmjax",
        description="Gaussian mixture models as differentiable JAX objects.",
        epilog="examples:\n"
        "  gmmjax demo --out gmmjax-demo\n"
        "  gmmjax fit x.csv --components 40 --out model.json --plot fit.png\n"
        "  gmmjax distance model.json other.json --metric mw2\n\n"
        "Run 'gmmjax COMMAND --help' for the options of a command.",
        formatter_class=_HelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"gmmjax {gmmjax.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo_cmd = _subcommand(
        sub,
        "demo",
        "reproduce the papers' examples: figures, report, timings (needs matplotlib)",
        "Reproduce the examples of the papers behind gmmjax (figures, a report and timings) "
        "into one folder. Needs matplotlib (pip install 'gmmjax[plot]').",
        "  gmmjax demo\n  gmmjax demo --out results/demo",
    )
    demo_cmd.add_argument("--out", default="gmmjax-demo", help="output folder")
    demo_cmd.set_defaults(func=commands.demo_command)
    _add_distance(sub)
    _add_fit(sub)
    return parser


def _one_line(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, OSError) and err.strerror:
        return f"{err.filename or 'output'}: {err.strerror}"
    return text.splitlines()[0] if text else type(err).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    with _trap_interrupts() as interrupts:
        try:
            args = build_parser().parse_args(argv)
            interrupts.check()
            return int(args.func(args, interrupts.check))
        except SystemExit:
            raise
        except BaseException as err:
            # A KeyboardInterrupt raised inside a JAX callback reaches us wrapped in another
            # exception: the record of the handler tells.
            if interrupts.received or isinstance(err, KeyboardInterrupt):
                sys.stderr.write("gmmjax: interrupted\n")
                return EXIT_INTERRUPTED
            if isinstance(err, (MissingDependencyError, ValueError, TypeError, OSError)):
                # InputError (a ValueError) and the library's argument errors: one line.
                _fail(_one_line(err))
            raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
