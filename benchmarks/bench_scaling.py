"""How the cost of the batched distances grows with K, d and B (measured curves).

Question: for ``pairwise_distances(metric="l2")`` (float32) and the batch of exact mixture
distances ``paired_distances(metric="mw2_exact")`` (float64), how does the time grow with the
number of mixtures B, components K and the dimension d, and what dominates?

Each curve varies one parameter with the others fixed; the slope is the least-squares
exponent of time ~ parameter^slope over the curve. Times are CPU seconds of this process
(all threads; steadier than wall time on a shared machine) for the best of ``--repeat`` runs
after a warm-up. For mw2 the "Bures share" column is the CPU time of the batched Bures cost
matrices alone divided by the whole call: the rest is the network-simplex LP on the host.

Usage: python benchmarks/bench_scaling.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from _timing import best_wall_and_cpu, machine, run_child, table


def collection(rng, b: int, k: int, d: int, dtype):
    import numpy as np

    from gmmjax import GMM

    a = rng.standard_normal((b, k, d, d))
    covs = a @ np.swapaxes(a, -1, -2) / d + 0.3 * np.eye(d)
    w = rng.dirichlet(np.ones(k), b)
    return GMM(*(x.astype(dtype) for x in (w, rng.standard_normal((b, k, d)), covs)))


def child(args: argparse.Namespace) -> None:
    import jax
    import numpy as np
    from _timing import emit

    from gmmjax import bures_cost_matrix, paired_distances, pairwise_distances

    dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
    rng = np.random.default_rng(0)
    ps = collection(rng, args.b, args.k, args.d, dtype)
    qs = collection(rng, args.b, args.k, args.d, dtype)
    out = {}
    if args.what == "l2":
        fn = jax.jit(lambda p, q: pairwise_distances(p, q, metric="l2", sharding=False))
        out["wall"], out["cpu"], _ = best_wall_and_cpu(lambda: fn(ps, qs), args.repeat)
    else:
        fn = jax.jit(lambda p, q: paired_distances(p, q, metric="mw2", sharding=False))
        out["wall"], out["cpu"], _ = best_wall_and_cpu(lambda: fn(ps, qs), args.repeat)
        bures = jax.jit(jax.vmap(bures_cost_matrix))
        _, out["cpu_bures"], _ = best_wall_and_cpu(lambda: bures(ps, qs), args.repeat)
    emit(out)


def slope(xs, ys) -> float:
    import numpy as np

    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--what", default="l2")
    parser.add_argument("--b", type=int, default=100)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--d", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    q = args.quick
    curves = [
        ("l2", "B", [100, 200, 400] if q else [100, 200, 400, 800], dict(k=8, d=8)),
        ("l2", "K", [2, 4, 8] if q else [2, 4, 8, 16], dict(b=200, d=8)),
        ("l2", "d", [2, 4, 8, 16] if q else [2, 4, 8, 16, 32], dict(b=100, k=8)),
        ("mw2", "B", [50, 100, 200] if q else [100, 300, 1000], dict(k=8, d=8)),
        ("mw2", "K", [4, 8, 16] if q else [4, 8, 16, 32], dict(b=100, d=8)),
        ("mw2", "d", [2, 8, 16] if q else [2, 8, 16, 32], dict(b=100, k=8)),
    ]
    print(f"machine: {machine()}\n")
    headers = ["function", "vary", "value", "fixed", "CPU s", "wall s", "Bures share"]
    print(table(headers, []), flush=True)
    rows, summary = [], []
    for what, name, values, fixed in curves:
        cpus = []
        for v in values:
            params = {"b": 100, "k": 8, "d": 8, **fixed, name.lower(): v}
            flags = [
                "--child",
                f"--what={what}",
                *(f"--{key}={val}" for key, val in params.items()),
            ]
            res = run_child(__file__, flags, x64=what == "mw2")
            share = res["cpu_bures"] / res["cpu"] if "cpu_bures" in res else float("nan")
            label = "pairwise l2 f32" if what == "l2" else "paired mw2 exact f64"
            fixed_s = ", ".join(f"{key.upper()}={val}" for key, val in fixed.items())
            row = (label, name, v, fixed_s, res["cpu"], res["wall"], share)
            rows.append(row)
            cpus.append(res["cpu"])
            print(table(headers, [row]).splitlines()[-1], flush=True)
        summary.append((label, name, f"{values[0]}..{values[-1]}", slope(values, cpus)))
    print()
    print(table(headers, rows))
    print()
    print(table(["function", "vary", "range", "measured exponent"], summary))


if __name__ == "__main__":
    main()
