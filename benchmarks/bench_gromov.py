"""Mixture Gromov–Wasserstein: our Frank–Wolfe against POT's on the same problems.

Question: does ``mixture_gromov_wasserstein`` (Salmona, Delon & Desolneux 2024) give POT's
value on the same intra-mixture :math:`W_2^2` matrices, how fast is it, and how often does the
non-convex solve miss the global optimum?

Part 1 (rows ``K``): two random mixtures of ``K`` components with full covariances, in
``d0 = 3`` and ``d1 = 2``, random weights. "ours first s": the first call of the discrete
solve on the two Bures cost matrices (tracing and compilation included); "ours ms" the best of
three later calls; "MGW ms" the whole ``mixture_gromov_wasserstein`` (the two Bures cost
matrices and the solve), jitted, second call; "POT ms" ``ot.gromov.gromov_wasserstein2`` on the
same float64 matrices (its conditional gradient with exact line search, the same algorithm),
best of three; "FW steps" ours; "rel diff" the relative difference of the two values.

Part 2: 40 problems with ``K = 4`` components of uniform weight and diagonal covariances, in
``d0 = 3`` and ``d1 = 2``: both cost matrices are then conditionally negative definite, so the
optimum is at a permutation (Maron & Lipman 2018) and brute force over the 24 gives it. The
table counts the problems where each solver's value exceeds it by more than ``1e-9``
relative (``1e-5`` in float32): from the independent start (ours, POT's), and ours with the
best of that start and four random permutation starts (``init=``).

Run: ``.venv/bin/python benchmarks/bench_gromov.py`` (float64 by default; ``--x64 0`` for
float32).
"""

from __future__ import annotations

import argparse
import itertools

import jax

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--x64", type=int, default=1, help="1: float64 (default), 0: float32")
jax.config.update("jax_enable_x64", bool(parser.parse_args().x64))

import numpy as np  # noqa: E402
import ot  # noqa: E402
from _timing import add_row, best_time, machine  # noqa: E402

import gmmjax  # noqa: E402
from gmmjax import GMM  # noqa: E402
from gmmjax._src.distances.mixture_gromov import gromov_wasserstein_costs  # noqa: E402


def _mixture(rng: np.random.Generator, k: int, d: int, diagonal: bool, uniform: bool) -> GMM:
    w = np.full(k, 1.0 / k) if uniform else rng.dirichlet(np.ones(k))
    means = 2.0 * rng.standard_normal((k, d))
    if diagonal:
        covs = rng.uniform(0.3, 2.0, (k, d))
    else:
        f = rng.standard_normal((k, d, d))
        covs = f @ f.transpose(0, 2, 1) + 0.1 * np.eye(d)
    return GMM(w, means, covs)


def _costs(g: GMM) -> np.ndarray:
    return np.asarray(gmmjax.bures_cost_matrix(g, g), np.float64)


def timing_rows() -> None:
    rng = np.random.default_rng(0)
    headers = ["K", "ours first s", "ours ms", "MGW ms", "POT ms", "FW steps", "rel diff"]
    rows: list = []
    print(" | ".join(headers))
    mgw = jax.jit(gmmjax.mixture_gromov_wasserstein)
    for k in (4, 8, 16, 32):
        p, q = _mixture(rng, k, 3, False, False), _mixture(rng, k, 2, False, False)
        c0, c1 = _costs(p), _costs(q)
        a, b = np.asarray(p.weights, np.float64), np.asarray(q.weights, np.float64)
        first, _ = best_time(lambda: gromov_wasserstein_costs(c0, c1, a, b), 1, 0)  # noqa: B023
        ours, res = best_time(lambda: gromov_wasserstein_costs(c0, c1, a, b))  # noqa: B023
        whole, _ = best_time(lambda: mgw(p, q))  # noqa: B023
        pot, theirs = best_time(lambda: ot.gromov.gromov_wasserstein2(c0, c1, a, b))  # noqa: B023
        diff = abs(float(res.cost) - theirs) / theirs
        row = [k, first, 1e3 * ours, 1e3 * whole, 1e3 * pot, int(res.n_iters), diff]
        add_row(headers, rows, row)


def optimum_misses(n: int = 40, k: int = 4) -> None:
    rng = np.random.default_rng(1)
    perms = [np.eye(k)[list(s)] / k for s in itertools.permutations(range(k))]
    u = np.full(k, 1.0 / k)
    rel = 1e-9 if jax.config.read("jax_enable_x64") else 1e-5
    misses = {"ours": 0, "POT": 0, "ours, best of 5 starts": 0}
    for _ in range(n):
        c0 = _costs(_mixture(rng, k, 3, True, True))
        c1 = _costs(_mixture(rng, k, 2, True, True))
        diff = c0[:, None, :, None] - c1[None, :, None, :]
        best = min(float(np.einsum("ijkl,ij,kl->", diff**2, s, s)) for s in perms)
        ours = float(gromov_wasserstein_costs(c0, c1, u, u).cost)
        starts = [perms[i] for i in rng.choice(len(perms), 4, replace=False)]
        restarts = [float(gromov_wasserstein_costs(c0, c1, u, u, init=s).cost) for s in starts]
        values = {
            "ours": ours,
            "POT": ot.gromov.gromov_wasserstein2(c0, c1, u, u),
            "ours, best of 5 starts": min([ours, *restarts]),
        }
        for name, value in values.items():
            misses[name] += value > best * (1 + rel)
    print(f"\nabove the brute-force optimum, of {n} problems (K = {k}):")
    for name, count in misses.items():
        print(f"| {name} | {count} |")


if __name__ == "__main__":
    print(machine())
    timing_rows()
    optimum_misses()
