"""The ``gmmjax`` command line: ``demo``, ``distance`` and ``fit``.

Errors in files, values or options print one line on stderr (``gmmjax: error: ...``) and exit
with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"gmmjax: error: {message}\n")
    raise SystemExit(EXIT_USAGE)


# --------------------------------------------------------------------------- demo
_DEMO_SECTIONS: list[tuple[str, str, str]] = [
    ("seed 000: L2 and Cauchy-Schwarz between mixtures", "gmmjax._demo_foundation", "run_l2"),
    ("seed 002: KL divergences", "gmmjax._demo_foundation", "run_kl"),
    ("seed 001: optimal transport between mixtures", "gmmjax._demo_transport", "run"),
    ("seed 003: fixed-basis learner vs Algorithms 1-2", "gmmjax._demo_learner", "run"),
]


def _demo_section(module: str, function: str) -> Callable[[Path], list[tuple[str, str, float]]]:
    return getattr(importlib.import_module(module), function)


def _cmd_demo(args: argparse.Namespace) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, float]] = []
    total = time.perf_counter()
    for i, (title, module, function) in enumerate(_DEMO_SECTIONS, 1):
        print(f"[{i}/{len(_DEMO_SECTIONS)}] {title} ...", flush=True)
        start = time.perf_counter()
        try:
            section = _demo_section(module, function)
        except (ImportError, AttributeError):
            print("      not available in this version, skipped", flush=True)
            continue
        rows.extend(section(out))
        print(f"      done in {time.perf_counter() - start:.1f} s", flush=True)
    elapsed = time.perf_counter() - total
    table = _format_table(rows)
    print()
    print(table)
    print(f"\ntotal {elapsed:.1f} s; figures and report.md in {out.resolve()}")
    _write_report(out, table, elapsed)
    return 0


def _format_table(rows: list[tuple[str, str, float]]) -> str:
    width = max([len(r[0]) for r in rows] + [8])
    vwidth = max([len(r[1]) for r in rows] + [5])
    lines = [f"{'quantity':<{width}}  {'value':>{vwidth}}  {'time [s]':>9}"]
    lines.append("-" * len(lines[0]))
    for name, value, seconds in rows:
        shown = f"{seconds:9.3f}" if seconds else f"{'':9}"
        lines.append(f"{name:<{width}}  {value:>{vwidth}}  {shown}")
    return "\n".join(lines)


def _write_report(out: Path, table: str, elapsed: float) -> None:
    figures = sorted(p.name for p in out.glob("*.png"))
    parts = [
        "# gmmjax demo report",
        "",
        "Values computed by `gmmjax demo` in float64; times include compilation on first call.",
        "",
        "```",
        table,
        "```",
        "",
        f"Total time: {elapsed:.1f} s.",
        "",
        "## Figures",
        "",
    ]
    parts += [f"![{name}]({name})" for name in figures]
    (out / "report.md").write_text("\n".join(parts) + "\n")


# --------------------------------------------------------------------------- distance
_METRICS = ("l2", "cs", "kl", "mw2")


def _distance_value(p: Any, q: Any, metric: str, solver: str, epsilon: float | None) -> float:
    import gmmjax as gj

    if metric == "l2":
        return float(gj.l2_distance(p, q))
    if metric == "cs":
        return float(gj.cauchy_schwarz_divergence(p, q))
    if metric == "kl":
        return float(gj.kl_divergence(p, q))
    mw2 = getattr(gj, "mw2_distance", None)
    if mw2 is None:
        _fail("metric 'mw2' is not available in this version")
    return float(mw2(p, q, solver=solver, epsilon=epsilon))


def _cmd_distance(args: argparse.Namespace) -> int:
    from gmmjax._src.app.io import load_gmm

    if args.epsilon is not None and args.epsilon <= 0:
        _fail(f"--epsilon must be > 0; got {args.epsilon}")
    p, q = load_gmm(args.a), load_gmm(args.b)
    if p.dim != q.dim:
        _fail(f"dimension mismatch: {args.a} has dim {p.dim} but {args.b} has dim {q.dim}")
    value = _distance_value(p, q, args.metric, args.solver, args.epsilon)
    if args.json:
        print(json.dumps({"metric": args.metric, "solver": args.solver, "value": value}))
    else:
        print(f"{value:.12g}")
    return 0


# --------------------------------------------------------------------------- fit
def _cmd_fit(args: argparse.Namespace) -> int:
    from gmmjax._src.app.io import load_data, save_gmm

    if args.components < 1:
        _fail(f"--components must be >= 1; got {args.components}")
    if args.t <= 0:
        _fail(f"--t must be > 0; got {args.t}")
    if args.steps is not None and args.steps < 1:
        _fail(f"--steps must be >= 1; got {args.steps}")
    try:
        import gmmjax as gj

        grid_basis, fit_weights = gj.grid_basis, gj.fit_weights
    except AttributeError:
        _fail("the fit command is not available in this version")
    import numpy as np

    x = load_data(args.data)
    basis = grid_basis(x, args.components, args.t)
    start = time.perf_counter()
    options = {} if args.steps is None else {"steps": args.steps}
    result = fit_weights(basis, x, loss=args.loss, **options)
    seconds = time.perf_counter() - start
    gmm = result.gmm

    mean_loglik = float(np.mean(np.asarray(gmm.log_prob(x))))
    summary = {
        "n_samples": int(x.shape[0]),
        "dim": int(x.shape[1]),
        "n_components": int(gmm.n_components),
        "loss": args.loss,
        "mean_log_likelihood": mean_loglik,
        "seconds": seconds,
    }
    if x.shape[1] == 1:
        window = float(np.sqrt(np.asarray(basis.covs).ravel()[0])) / 4.0  # d = sigma / 4
        dil = gj.empirical_density_information_loss(gmm, x[:, 0], window)
        summary["dil_empirical"] = float(dil)
    save_gmm(gmm, args.out)
    for key, value in summary.items():
        shown = f"{value:.6g}" if isinstance(value, float) else value
        print(f"{key:<22}{shown}")
    print(f"{'written':<22}{args.out}")
    if args.plot:
        _plot_fit(x, gmm, Path(args.plot))
        print(f"{'plot':<22}{args.plot}")
    return 0


def _plot_fit(x: Any, gmm: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 4))
    if x.shape[1] == 1:
        grid = np.linspace(x.min(), x.max(), 500)
        ax.hist(x[:, 0], bins=60, density=True, alpha=0.4, label="data")
        ax.plot(grid, np.asarray(gmm.prob(grid[:, None])), label="fitted GMM")
        ax.legend()
    else:
        lo, hi = x[:, :2].min(0), x[:, :2].max(0)
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 150), np.linspace(lo[1], hi[1], 150))
        pts = np.stack([gx.ravel(), gy.ravel()], -1)
        if x.shape[1] > 2:
            ax.set_title("first two coordinates")
        else:
            ax.contour(gx, gy, np.asarray(gmm.prob(pts)).reshape(gx.shape))
        ax.scatter(x[:2000, 0], x[:2000, 1], s=2, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gmmjax`` command."""
    parser = _Parser(
        prog="gmmjax",
        description="Gaussian mixture models as differentiable JAX objects.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="reproduce the papers' examples: figures, report, timings")
    demo.add_argument("--out", default="gmmjax-demo", help="output folder (default ./gmmjax-demo)")
    demo.set_defaults(func=_cmd_demo)

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
    fit.add_argument("--plot", default=None, help="also write a PNG plot of the fit")
    fit.set_defaults(func=_cmd_fit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from gmmjax._src.app.io import InputError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except InputError as err:
        _fail(str(err))
    except (ValueError, TypeError) as err:
        _fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    except KeyboardInterrupt:
        _fail("interrupted")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
