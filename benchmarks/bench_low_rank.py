"""Low-rank-plus-isotropic mixtures against the same mixtures with dense covariances.

Question: how much faster, and how much smaller, are the distances between mixtures whose
covariances are :math:`F_kF_k^T + s_kI` (``GMM.low_rank``: Woodbury identity and determinant
lemma, no ``d x d`` matrix) than the same computation on the dense ``full_covs()``, as the
dimension grows?

Rows: ``K = 8`` components per mixture, ``r = 8`` factor columns (16 at ``d = 4096``), random
factors of scale ``1/sqrt(r)`` and noise in ``[0.5, 1.5]``; ``d`` in 64, 256, 1024, 4096 (dense
only up to 1024: at 4096 one mixture's covariances alone take 1 GiB, and the L2 kernel's
``(2K)^2`` pair sums 32 GiB). Functions: ``l2_distance``, ``kl_divergence``
(``method="variational"``) and ``mw2_distance`` (exact solver), each jitted; beside
``mw2_distance``, POT's ``ot.gaussian.bures_wasserstein_distance_hd`` (the same reduction to
the span of the factors, one pair per call, NumPy; up to ``d = 256``) over the ``K^2``
component pairs, its last
column the largest relative difference from our ``bures_cost_matrix``. Dense rows at
``d = 1024`` time one later call instead of the best of three (each takes tens of seconds).
Columns: "first s" is the first call in a fresh process (tracing and compilation
included), "second ms" the best of three later calls, "peak
MiB" the process's peak resident memory (``ru_maxrss``: one child process per row, so the
number belongs to that row alone; it includes about 250 MiB of JAX itself), "max rel diff"
the relative difference between the two paths' values (dense rows only).

Run: ``.venv/bin/python benchmarks/bench_low_rank.py`` (float64 by default; ``--x64 0`` for
float32).
"""

from __future__ import annotations

import argparse
import sys
import time

from _timing import add_row, best_time, block, emit, machine, peak_rss_mib, run_child

DIMS = (64, 256, 1024, 4096)
DENSE_MAX_DIM = 1024
POT_MAX_DIM = 256  # POT's function takes 20 s for the 64 pairs at d = 256
FUNCTIONS = ("l2_distance", "kl_divergence")


def _mixtures(d: int, k: int, r: int, dense: bool):
    import numpy as np

    from gmmjax import GMM

    def one(seed: int):
        rng = np.random.default_rng(seed)
        g = GMM.low_rank(
            rng.dirichlet(np.ones(k)),
            0.3 * rng.standard_normal((k, d)),
            rng.standard_normal((k, d, r)) / np.sqrt(r),
            rng.uniform(0.5, 1.5, k),
        )
        return g.to_dense() if dense else g

    return one(0), one(1)


def _pot_costs(p, q):
    """POT's ``bures_wasserstein_distance_hd`` squared for every component pair (a loop)."""
    import numpy as np
    import ot

    def hd(g, k):  # F = U diag(sqrt(l)): U orthonormal, l the principal variances
        u, sv, _ = np.linalg.svd(np.asarray(g.covs.factors[k]), full_matrices=False)
        return np.asarray(g.means[k]), u, sv**2, np.asarray(float(g.covs.noise[k]))

    ps = [hd(p, i) for i in range(p.n_components)]
    qs = [hd(q, j) for j in range(q.n_components)]
    bures = ot.gaussian.bures_wasserstein_distance_hd

    def run():
        rows = [[bures(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]) for b in qs] for a in ps]
        return np.array(rows) ** 2

    return run


def child(fn_name: str, d: int, r: int, structure: str) -> None:
    import jax
    import numpy as np

    import gmmjax as gj

    p, q = _mixtures(d, 8, r, structure == "dense")
    block((p, q))
    if structure == "pot":  # the Bures cost matrix only: POT has no mixture distance on it
        call = _pot_costs(p, q)
    else:
        fn = {
            "l2_distance": gj.l2_distance,
            "kl_divergence": lambda p, q: gj.kl_divergence(p, q, method="variational"),
            "mw2_distance": gj.mw2_distance,
        }[fn_name]
        jitted = jax.jit(fn)

        def call():
            return jitted(p, q)

    start = time.perf_counter()
    value = block(call())
    first = time.perf_counter() - start
    repeat = 1 if structure == "dense" and d >= DENSE_MAX_DIM else 3
    second, _ = best_time(call, repeat=repeat, warmup=0)
    if structure == "pot":
        ours = np.asarray(gj.bures_cost_matrix(p, q))
        value = np.max(np.abs(value - ours) / np.abs(ours))
    emit({"first": first, "second": second, "value": float(value), "rss": peak_rss_mib()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, metavar=("FN", "D", "R", "STRUCTURE"))
    parser.add_argument("--x64", type=int, default=1)
    parser.add_argument("--dims", type=int, nargs="+", default=list(DIMS))
    args = parser.parse_args()
    if args.child:
        fn, d, r, structure = args.child
        child(fn, int(d), int(r), structure)
        return
    print(machine(), f"(children with x64={bool(args.x64)})")
    headers = [
        "function",
        "d",
        "r",
        "structure",
        "first s",
        "second ms",
        "peak MiB",
        "speed-up",
        "max rel diff",
    ]
    rows: list = []
    for fn in FUNCTIONS:
        for d in args.dims:
            r = 16 if d >= 4096 else 8
            low = run_child(__file__, ["--child", fn, str(d), str(r), "low_rank"], bool(args.x64))
            dense = None
            if d <= DENSE_MAX_DIM:
                dense = run_child(
                    __file__, ["--child", fn, str(d), str(r), "dense"], bool(args.x64)
                )
                diff = abs(low["value"] - dense["value"]) / abs(dense["value"])
                add_row(
                    headers,
                    rows,
                    [
                        fn,
                        d,
                        r,
                        "dense",
                        dense["first"],
                        1e3 * dense["second"],
                        dense["rss"],
                        "",
                        "",
                    ],
                )
            speed = "" if dense is None else f"{dense['second'] / low['second']:.0f}x"
            add_row(
                headers,
                rows,
                [
                    fn,
                    d,
                    r,
                    "low_rank",
                    low["first"],
                    1e3 * low["second"],
                    low["rss"],
                    speed,
                    "" if dense is None else f"{diff:.1e}",
                ],
            )
            if fn == "mw2_distance" and d <= POT_MAX_DIM:
                pot = run_child(__file__, ["--child", fn, str(d), str(r), "pot"], bool(args.x64))
                name = "POT bures_wasserstein_distance_hd (costs only)"
                add_row(
                    headers,
                    rows,
                    [
                        name,
                        d,
                        r,
                        "low_rank",
                        pot["first"],
                        1e3 * pot["second"],
                        pot["rss"],
                        "",
                        f"{pot['value']:.1e} (costs)",
                    ],
                )
    print(f"load average at the end: {__import__('os').getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
