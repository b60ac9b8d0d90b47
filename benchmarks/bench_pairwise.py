"""Throughput and peak memory of ``pairwise_distances`` over large collections.

Question: how many component pairs per second does ``pairwise_distances(metric="l2")`` reach
on 1,000 x 1,000 mixtures (K = 8, d = 8, full covariances, float32), what is the peak memory,
and how does that change with d and with the fast paths switched off?

Each configuration runs in a fresh process (``--child``) so that its peak RSS is its own.
"Before" rows are the same computation without the fast paths: the per-pair kernel lifted
with ``vmap`` (one LAPACK Cholesky per component pair, self terms recomputed per pair), i.e.
``jax.vmap(jax.vmap(gmmjax.l2_distance))``, measured on a 200 x 200 subset and blocked the
same way. The error column is the max relative error of a 64 x 64 sample of the result
against an independent float64 NumPy evaluation of You (2021)'s closed form (``slogdet`` and
``solve`` per component pair).

Usage: python benchmarks/bench_pairwise.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from _timing import add_row, best_wall_and_cpu, emit, machine, peak_rss_mib, run_child, table

COMPONENT_PAIRS = "component pairs"


def make(b: int, k: int, d: int, diagonal: bool, seed: int, dtype):
    import numpy as np

    from gmmjax import GMM

    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(k), b)
    m = rng.standard_normal((b, k, d))
    if diagonal:
        c = rng.uniform(0.3, 2.0, (b, k, d))
    else:
        a = rng.standard_normal((b, k, d, d))
        c = a @ np.swapaxes(a, -1, -2) / d + 0.3 * np.eye(d)
    return GMM(*(x.astype(dtype) for x in (w, m, c)), validate=False)


def numpy_l2(ps, qs, n: int = 64):
    """Independent float64 NumPy L2 distances (You 2021, eq. 1) for the first ``n`` x ``n``."""
    import numpy as np

    def full(g):
        c = np.asarray(g.covs[:n], np.float64)
        return c[..., :, None] * np.eye(c.shape[-1]) if g.is_diagonal else c

    def log_inner(wa, ma, ca, wb, mb, cb):
        # all (a, i) x (b, j): S = C_ai + C_bj, log N(m_ai | m_bj, S)
        s = ca[:, None, :, None] + cb[None, :, None, :]  # (A, B, Ka, Kb, d, d)
        diff = ma[:, None, :, None] - mb[None, :, None, :]
        _, logdet = np.linalg.slogdet(s)
        maha = np.einsum("...i,...i->...", diff, np.linalg.solve(s, diff[..., None])[..., 0])
        d = ma.shape[-1]
        logc = -0.5 * (maha + logdet + d * np.log(2 * np.pi))
        w = wa[:, None, :, None] * wb[None, :, None, :]
        top = logc.max(axis=(2, 3), keepdims=True)
        return np.log(np.sum(w * np.exp(logc - top), axis=(2, 3))) + top[..., 0, 0]

    wp, mp, cp = (
        np.asarray(ps.weights[:n], np.float64),
        np.asarray(ps.means[:n], np.float64),
        full(ps),
    )
    wq, mq, cq = (
        np.asarray(qs.weights[:n], np.float64),
        np.asarray(qs.means[:n], np.float64),
        full(qs),
    )
    idx = np.arange(n)
    pp = log_inner(wp, mp, cp, wp, mp, cp)[idx, idx]
    qq = log_inner(wq, mq, cq, wq, mq, cq)[idx, idx]
    pq = log_inner(wp, mp, cp, wq, mq, cq)
    return np.sqrt(np.maximum(np.exp(pp)[:, None] + np.exp(qq)[None, :] - 2 * np.exp(pq), 0.0))


def reference_error(ps, qs, dist, n: int = 64) -> float:
    """Max relative error of the first ``n`` x ``n`` block against :func:`numpy_l2`."""
    import numpy as np

    ref = numpy_l2(ps, qs, n)
    got = np.asarray(dist[:n, :n], dtype=np.float64)
    return float(np.max(np.abs(got - ref) / np.abs(ref)))


def child(args: argparse.Namespace) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from gmmjax import l2_distance, pairwise_distances

    dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
    b, k, d = args.b, args.k, args.d
    ps = make(b, k, d, args.diagonal, 0, dtype)
    qs = make(b, k, d, args.diagonal, 1, dtype)
    if args.mode == "before":
        pair = jax.vmap(l2_distance, in_axes=(None, 0))
        fn = jax.jit(lambda a, c: jax.lax.map(lambda row: pair(row, c), a, batch_size=8))
        call = lambda: fn(ps, qs)  # noqa: E731
    else:
        unroll = args.unroll
        call = lambda: pairwise_distances(  # noqa: E731
            ps, qs, metric="l2", block_size=args.block_size, unroll_max_dim=unroll
        )
    seconds, cpu, dist = best_wall_and_cpu(call, repeat=args.repeat)
    rss = peak_rss_mib()  # before the reference check, which needs memory of its own
    err = reference_error(ps, qs, dist, 64 if d <= 16 else 16) if b >= 64 else float("nan")
    emit(
        {
            "seconds": seconds,
            "pairs_per_s": b * b * k * k / seconds,
            "pairs_per_cpu_s": b * b * k * k / cpu,
            "rss_mib": rss,
            "finite": bool(jnp.all(jnp.isfinite(dist))),
            "err": err,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--b", type=int, default=1000)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--d", type=int, default=8)
    parser.add_argument("--diagonal", action="store_true")
    parser.add_argument("--mode", default="fast", choices=["fast", "lapack", "before"])
    parser.add_argument("--block-size", type=int, default=None)
    parser.add_argument("--unroll", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    big = 300 if args.quick else 1000
    configs = [
        # (B, K, d, covs, path, unroll_max_dim)
        (big, 8, 8, "full", "fast", 8),
        (big, 8, 8, "diagonal", "fast", 8),
        (200, 8, 8, "full", "fast", 8),
        (200, 8, 8, "full", "lapack", 0),
        (200, 8, 8, "full", "before", 0),
        (big // 4, 8, 16, "full", "fast", 16),
        (big // 4, 8, 16, "full", "lapack", 0),
        (big // 10, 8, 32, "full", "lapack", 0),
        (big, 8, 64, "diagonal", "fast", 8),
    ]
    headers = ["mixtures", "K", "d", "covs", "path", COMPONENT_PAIRS, "s", "M pairs/s",
               "M pairs/CPU-s", "peak RSS MiB", "max rel err"]  # fmt: skip
    print(f"machine: {machine()}\n")
    print(table(headers, []))
    rows = []
    for b, k, d, kind, mode, unroll in configs:
        flags = ["--child", f"--b={b}", f"--k={k}", f"--d={d}", f"--mode={mode}",
                 f"--unroll={unroll}", f"--repeat={args.repeat}"]  # fmt: skip
        if kind == "diagonal":
            flags.append("--diagonal")
        res = run_child(__file__, flags, x64=False)
        path = f"{mode} (unroll<={unroll})" if mode == "fast" else mode
        rate, cpu_rate = res["pairs_per_s"] / 1e6, res["pairs_per_cpu_s"] / 1e6
        row = (f"{b} x {b}", k, d, kind, path, b * b * k * k, res["seconds"], rate, cpu_rate,
               res["rss_mib"], res["err"])  # fmt: skip
        add_row(headers, rows, row)
    print()
    print(table(headers, rows))


if __name__ == "__main__":
    main()
