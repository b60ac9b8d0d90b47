"""The device exact OT solver against POT's ``ot.emd`` on 10,000 awkward problems.

Question: does ``gmmjax.exact_ot(method="device")`` (successive shortest paths in JAX) return
POT's optimal cost on every kind of problem, with plans that meet their marginals and are
non-negative, and duals that certify them?

Problems (``benchmarks/ot_problems.py``): sizes ``n != m`` drawn from 1..``--max-size``, in
turn random costs on three scales, integer costs with ties, 30% zero weights, one-point
marginals, degenerate plans (equal uniform marginals, permutation-structured integer costs)
and constant costs. They are grouped by size into padded buckets (8, 16, 32, 64; padding has
zero weight) and each bucket is solved by one ``jit(vmap(exact_ot))`` call per chunk.

Usage: JAX_ENABLE_X64=1 python benchmarks/bench_exact_agreement.py [--count 10000]
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("JAX_ENABLE_X64", "1")

from _timing import machine
from ot_problems import KINDS, one_problem, pad

BUCKETS = (8, 16, 32, 64)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--max-size", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def check(res, t: int, problem: tuple) -> dict:
    """Errors of one solved (padded) problem against ``ot.emd``."""
    import numpy as np
    import ot

    a, b, c = problem
    n, m = c.shape
    scale = max(float(np.abs(c).max()), 1e-300)
    plan = np.asarray(res.plan[t], np.float64)
    f, g = np.asarray(res.f[t])[:n], np.asarray(res.g[t])[:m]
    slack = c - f[:, None] - g[None, :]
    inner = plan[:n, :m]
    return {
        "cost": abs(float(res.cost[t]) - float(np.sum(ot.emd(a, b, c) * c))) / scale,
        "marginal": max(np.abs(inner.sum(1) - a).max(), np.abs(inner.sum(0) - b).max()),
        "negative": max(0.0, -float(plan.min())),
        "padding": float(np.abs(plan[n:]).sum() + np.abs(plan[:, m:]).sum()),
        "infeasible": max(0.0, -float(slack.min())) / scale,
        "slack": float(np.abs(slack[inner > 0]).max(initial=0.0)) / scale,
        "converged": bool(res.converged[t]),
        "phases": int(res.n_iters[t]),
        "n+m": n + m,
    }


def main() -> None:
    import jax
    import numpy as np

    import gmmjax as gj

    args = parse_args()
    rng = np.random.default_rng(args.seed)
    solve = jax.jit(jax.vmap(functools.partial(gj.exact_ot, method="device")))
    by_bucket = collections.defaultdict(list)
    for t in range(args.count):
        kind = KINDS[t % len(KINDS)]
        problem = one_problem(rng, kind, args.max_size)
        size = next(s for s in BUCKETS if s >= max(problem[2].shape))
        by_bucket[size].append((kind, problem))
    rows = []
    start = time.perf_counter()
    for size in sorted(by_bucket):
        items = by_bucket[size]
        for lo in range(0, len(items), args.chunk):
            chunk = items[lo : lo + args.chunk]
            res = solve(*pad([p for _, p in chunk], size, rng))
            rows += [(kind, check(res, t, p)) for t, (kind, p) in enumerate(chunk)]
    elapsed = time.perf_counter() - start
    print(f"{len(rows)} problems, sizes 1..{args.max_size}, {elapsed:.1f} s; {machine()}")
    print("| kind | problems | max cost error / max C | max marginal error | most negative "
          "entry | max infeasibility / max C | max slack on support / max C | converged "
          "| max phases / (n+m) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in (*KINDS, "all"):
        sel = [r for k, r in rows if kind in (k, "all")]
        print(
            f"| {kind} | {len(sel)} | {max(r['cost'] for r in sel):.2e} "
            f"| {max(r['marginal'] for r in sel):.2e} | {max(r['negative'] for r in sel):.1e} "
            f"| {max(r['infeasible'] for r in sel):.2e} | {max(r['slack'] for r in sel):.2e} "
            f"| {sum(r['converged'] for r in sel)}/{len(sel)} "
            f"| {max(r['phases'] / r['n+m'] for r in sel):.2f} |"
        )
    assert all(r["padding"] == 0.0 for _, r in rows), "padding received mass"


if __name__ == "__main__":
    main()
