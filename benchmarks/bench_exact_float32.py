"""Does the device exact solver in float32 ever certify a plan that costs less than the optimum?

Random ``100 x 100`` problems (costs ``U(0, 10)``, Dirichlet marginals with concentrations
1, 0.3 and 3, a third each, from ``numpy.random.default_rng(seed)``) are solved by
``exact_ot(..., method="device")`` in float32, ``vmap`` over batches, and by POT's ``ot.emd2``
in float64 on the same rounded (and renormalised) inputs. Reported: how many report
``converged``, the worst relative error of the certified costs, the worst one *below* POT's
(the silent wrong value this script guards against), and the marginal errors of the plans.

Usage::

    python benchmarks/bench_exact_float32.py [--problems 1000] [--size 100] [--batch 50]
"""

from __future__ import annotations

import argparse
import functools
import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_enable_concurrency_optimized_scheduler=false")

import jax
import numpy as np
import ot

import gmmjax as gj

#: The float32 bound of ``mw2_distance`` in ``docs/numerics.md`` is 1e-5 on the distance,
#: so 2e-5 on the cost it is the square root of.
COST_BOUND = 2e-5


def problems(rng: np.random.Generator, count: int, size: int) -> tuple:
    alphas = np.resize([1.0, 0.3, 3.0], count)
    c = rng.uniform(0.0, 10.0, (count, size, size)).astype(np.float32)
    a = np.stack([rng.dirichlet(np.full(size, al)) for al in alphas]).astype(np.float32)
    b = np.stack([rng.dirichlet(np.full(size, al)) for al in alphas]).astype(np.float32)
    return a, b, c


def pot_costs(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    out = []
    for ai, bi, ci in zip(a, b, c, strict=True):
        ai, bi = ai.astype(np.float64), bi.astype(np.float64)
        out.append(ot.emd2(ai / ai.sum(), bi / bi.sum(), ci.astype(np.float64), numItermax=10**7))
    return np.asarray(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    solve = jax.jit(jax.vmap(functools.partial(gj.exact_ot, method="device")))
    rng = np.random.default_rng(args.seed)
    conv, rel, row_err, col_err = [], [], [], []
    t0 = time.perf_counter()
    for start in range(0, args.problems, args.batch):
        a, b, c = problems(rng, min(args.batch, args.problems - start), args.size)
        res = solve(a, b, c)
        ref = pot_costs(a, b, c)
        plan = np.asarray(res.plan, np.float64)
        conv.append(np.asarray(res.converged))
        rel.append((np.asarray(res.cost, np.float64) - ref) / ref)
        an = a / a.sum(1, keepdims=True, dtype=np.float64)
        bn = b / b.sum(1, keepdims=True, dtype=np.float64)
        row_err.append(np.abs(plan.sum(2) - an).sum(1))
        col_err.append(np.abs(plan.sum(1) - bn).sum(1))
    seconds = time.perf_counter() - t0
    conv, rel = np.concatenate(conv), np.concatenate(rel)
    row_err, col_err = np.concatenate(row_err), np.concatenate(col_err)
    certified = rel[conv]
    below = -certified.min(initial=0.0)
    print(f"{args.problems} problems {args.size} x {args.size}, float32, {seconds:.0f} s")
    print(f"converged: {conv.sum()} / {conv.size}")
    print(f"certified: max |relative cost error| {np.abs(certified).max(initial=0.0):.2e}")
    print(f"certified: worst relative cost below POT's {below:.2e} (bound {COST_BOUND:.0e})")
    print(f"certified below POT's by more than the bound: {(certified < -COST_BOUND).sum()}")
    print(f"plans: max L1 marginal error rows {row_err.max():.2e}, columns {col_err.max():.2e}")


if __name__ == "__main__":
    main()
