"""W2^2 (Bures) cost matrix between the components of two mixtures, against POT and OTT.

Question: how fast is ``gmmjax.bures_cost_matrix`` compared with POT's
``ot.gmm.dist_bures_squared`` and OTT's ``PointCloud(cost_fn=costs.Bures(d)).cost_matrix``,
and how accurate are all three against SciPy?

All three run in float64 on the same random full covariances (condition number 10) in the
same process; times are the best of ``--repeat`` runs after one warm-up (JAX compilation
excluded; POT is NumPy, no compilation). The reference is
:math:`\\|m_i-m_j\\|^2+\\operatorname{tr}\\Sigma_i+\\operatorname{tr}\\Sigma_j
-2\\operatorname{tr}(\\Sigma_i^{1/2}\\Sigma_j\\Sigma_i^{1/2})^{1/2}` with
``scipy.linalg.sqrtm`` on the first ``--ref-rows`` rows (all columns); the error column is
the max absolute error on those rows divided by the largest entry of the matrix. POT is skipped
(``nan``) where ``K^2 d^4 > --pot-budget``: its ``einsum("ikl,jlm,imn->ijkn")`` runs as a
naive loop, about 40 s already at K = 64, d = 32 here.

``gmmjax`` is the default route of ``bures_cost_matrix``: on CPU for ``3 <= d <= 64`` the
nuclear norms of all pairs come from the Newton–Schulz polar iteration (matrix products only,
``gmmjax._src.math.polar``), for larger ``d`` from one LAPACK SVD per pair
(``gmmjax._src.kernels.bures.NS_MAX_D_CPU``). The ``gmmjax SVD`` column always times the
SVD route (``--no-svd`` skips it), with the same square roots; ``bures_cost_matrix`` has no
public switch between its routes, so that column calls the kernel's private
``gmmjax._src.kernels.bures._bures_cost(p, q, "svd")``.

Usage: JAX_ENABLE_X64=1 python benchmarks/bench_bures_cost.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("JAX_ENABLE_X64", "1")

from _timing import add_row, best_time, machine, table


def random_components(rng, k: int, d: int):
    import numpy as np

    q, _ = np.linalg.qr(rng.standard_normal((k, d, d)))
    eig = np.geomspace(1.0, 10.0, d) * rng.uniform(0.3, 2.0, (k, 1))
    covs = np.einsum("kij,kj,klj->kil", q, eig, q)
    covs = 0.5 * (covs + np.swapaxes(covs, -1, -2))
    return rng.standard_normal((k, d)), covs


def scipy_reference(ms, cs, mt, ct, rows: int):
    import numpy as np
    from scipy.linalg import sqrtm

    out = np.empty((rows, len(mt)))
    for i in range(rows):
        s12 = np.real(sqrtm(cs[i]))
        for j in range(len(mt)):
            cross = np.real(sqrtm(s12 @ ct[j] @ s12))
            out[i, j] = (
                np.sum((ms[i] - mt[j]) ** 2) + np.trace(cs[i]) + np.trace(ct[j])
                - 2.0 * np.trace(cross)
            )  # fmt: skip
    return out


HEADERS = ["K", "d", "gmmjax s", "gmmjax SVD s", "OTT s", "POT s", "OTT / gmmjax",
           "POT / gmmjax", "err gmmjax", "err SVD", "err OTT", "err POT"]  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="K in {16, 64}, d in {2, 8, 32}")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ref-rows", type=int, default=2)
    parser.add_argument("--ks", default="16,64,256")
    parser.add_argument(
        "--pot-budget", type=float, default=5e9, help="skip POT when K^2 d^4 exceeds this"
    )
    parser.add_argument("--ds", default="2,8,32,64")
    parser.add_argument("--no-svd", action="store_true", help="skip the SVD-route column")
    return parser.parse_args()


def ott_cost(d: int):
    import jax
    from ott.geometry import costs, pointcloud

    fn = costs.Bures(dimension=d)

    @jax.jit
    def run(x, y):
        return pointcloud.PointCloud(x, y, cost_fn=fn).cost_matrix

    return run


def measure(rng, k: int, d: int, args: argparse.Namespace) -> tuple:
    """One row of the table: times and errors of the three implementations at (K, d)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import ot

    from gmmjax import GMM, bures_cost_matrix
    from gmmjax._src.kernels import bures

    ms, cs = random_components(rng, k, d)
    mt, ct = random_components(rng, k, d)
    w = np.full(k, 1.0 / k)
    p, q = GMM(w, ms, cs), GMM(w, mt, ct)
    repeat = args.repeat if k * k * d**3 < 2e9 else 1
    ours = jax.jit(bures_cost_matrix)
    t_ours, c_ours = best_time(lambda: ours(p, q), repeat=repeat)
    if args.no_svd:
        t_svd, c_svd = float("nan"), np.full((k, k), np.nan)
    else:
        svd_route = jax.jit(lambda a, b: bures._bures_cost(a, b, "svd"))
        t_svd, c_svd = best_time(lambda: svd_route(p, q), repeat=repeat)
    x = jnp.concatenate([jnp.asarray(ms), jnp.asarray(cs).reshape(k, -1)], axis=1)
    y = jnp.concatenate([jnp.asarray(mt), jnp.asarray(ct).reshape(k, -1)], axis=1)
    ott_fn = ott_cost(d)
    t_ott, c_ott = best_time(lambda: ott_fn(x, y), repeat=repeat)
    if k * k * d**4 <= args.pot_budget:
        t_pot, c_pot = best_time(
            lambda: ot.gmm.dist_bures_squared(ms, mt, cs, ct), repeat=repeat, warmup=0
        )
    else:  # POT's three-operand einsum is O(K^2 d^4) in a naive loop: minutes here
        t_pot, c_pot = float("nan"), np.full((k, k), np.nan)
    r = args.ref_rows
    ref = scipy_reference(ms, cs, mt, ct, r)
    scale = float(np.max(ref))

    def err(c):
        return float(np.max(np.abs(np.asarray(c)[:r] - ref)) / scale)

    return (k, d, t_ours, t_svd, t_ott, t_pot, t_ott / t_ours, t_pot / t_ours,
            err(c_ours), err(c_svd), err(c_ott), err(c_pot))  # fmt: skip


def main() -> None:
    args = parse_args()

    import jax
    import numpy as np

    assert jax.config.read("jax_enable_x64"), "run with JAX_ENABLE_X64=1"
    ks = [16, 64] if args.quick else [int(x) for x in args.ks.split(",")]
    ds = [2, 8, 32] if args.quick else [int(x) for x in args.ds.split(",")]
    print(f"machine: {machine()}\n")
    print(table(HEADERS, []), flush=True)
    rows = []
    rng = np.random.default_rng(0)
    for k in ks:
        for d in ds:
            add_row(HEADERS, rows, measure(rng, k, d, args))
    print()
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()
