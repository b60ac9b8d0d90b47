"""The ``gmmjax`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np


def _demo(args: argparse.Namespace) -> int:
    import jax

    import gmmjax as gj

    rng = np.random.default_rng(0)
    d = 2
    p = gj.GMM(
        [0.3, 0.7],
        rng.standard_normal((2, d)),
        np.stack([np.eye(d), 0.5 * np.eye(d)]),
    )
    q = gj.GMM(
        [0.5, 0.25, 0.25],
        rng.standard_normal((3, d)),
        np.stack([np.eye(d), 2.0 * np.eye(d), [[1.0, 0.3], [0.3, 0.5]]]),
    )
    rows = []
    for name, fn in [
        ("L2 distance", gj.l2_distance),
        ("Cauchy-Schwarz divergence", gj.cauchy_schwarz_divergence),
        ("KL (variational)", gj.kl_divergence),
    ]:
        jitted = jax.jit(fn)
        start = time.perf_counter()
        value = float(jitted(p, q))
        first = time.perf_counter() - start
        start = time.perf_counter()
        jitted(p, q).block_until_ready()
        again = time.perf_counter() - start
        rows.append((name, value, first, again))
    print(f"{'quantity':<28}{'value':>14}{'1st call [s]':>14}{'jitted [s]':>14}")
    for name, value, first, again in rows:
        print(f"{name:<28}{value:>14.6g}{first:>14.3f}{again:>14.2e}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gmmjax", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="reproduce the papers' examples with timings")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
