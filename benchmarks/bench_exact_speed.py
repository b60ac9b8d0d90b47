"""Exact OT solve time: the device solver (successive shortest paths in JAX) against POT.

Question: from which problem size is POT's network simplex (``ot.emd``, C++, on the host)
faster than ``gmmjax.exact_ot(method="device")`` on this backend, for one problem and for a
``vmap`` over a batch? The answer sets ``gmmjax._src.ot.exact.HOST_ABOVE`` (the CPU fallback
of ``method="auto"``).

Problems: uniform random weights and squared distances between random points in 8-D (the
shape of a mixture distance's cost). Times are the best of ``--repeat`` calls after a warm-up
(compilation excluded); POT is called with ``log=True`` (it then also returns the duals, as
we do).

Usage: JAX_ENABLE_X64=1 python benchmarks/bench_exact_speed.py [--sizes 4,8,12,16,32,64]
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("JAX_ENABLE_X64", "1")

from _timing import best_time, machine, table


def problems(rng, batch: int, n: int):
    import numpy as np

    a = rng.random((batch, n)) + 0.1
    b = rng.random((batch, n)) + 0.1
    x, y = rng.standard_normal((batch, n, 8)), rng.standard_normal((batch, n, 8))
    c = np.sum((x[:, :, None] - y[:, None]) ** 2, axis=-1)
    return a / a.sum(1, keepdims=True), b / b.sum(1, keepdims=True), c


def pot_loop(a, b, c) -> float:
    import ot

    start = time.perf_counter()
    for i in range(len(c)):
        ot.emd(a[i], b[i], c[i], log=True)
    return time.perf_counter() - start


def main() -> None:
    import jax
    import numpy as np

    import gmmjax as gj

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="4,8,10,12,16,32,64")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    rng = np.random.default_rng(0)
    device = functools.partial(gj.exact_ot, method="device")
    one = jax.jit(lambda a, b, c: device(a, b, c).cost)
    many = jax.jit(jax.vmap(lambda a, b, c: device(a, b, c).cost))
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        a, b, c = problems(rng, args.batch, n)
        t_one, _ = best_time(lambda a=a, b=b, c=c: one(a[0], b[0], c[0]), repeat=args.repeat)
        pot_loop(a[:2], b[:2], c[:2])
        t_pot_one = min(pot_loop(a[:20], b[:20], c[:20]) for _ in range(3)) / 20
        batch_n = args.batch if n <= 16 else max(10, args.batch // 10)
        t_many, _ = best_time(lambda a=a, b=b, c=c, k=batch_n: many(a[:k], b[:k], c[:k]), repeat=2)
        t_pot_many = pot_loop(a[:batch_n], b[:batch_n], c[:batch_n])
        rows.append((n, n * n, t_one * 1e3, t_pot_one * 1e3, t_pot_one / t_one, batch_n,
                     t_many, t_pot_many, t_pot_many / t_many))  # fmt: skip
    print(table(["n = m", "n m", "device ms (one)", "POT ms (one)", "POT / device",
                 "batch", "device s (vmap)", "POT loop s", "POT / device"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
