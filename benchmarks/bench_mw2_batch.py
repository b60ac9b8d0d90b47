"""A batch of mixture Wasserstein distances in one call, against POT and OTT.

Question 1 (exact): how long do ``B`` exact mixture distances :math:`d(\\mu_0,\\mu_1)^2`
(Chen, Georgiou & Tannenbaum 2019, eq. 10; K = 8 components, d = 8, full covariances,
float64) take in one call of ``gmmjax.paired_distances(metric="mw2_exact")`` (squared),
compared with a Python loop over POT's ``ot.gmm.gmm_ot_loss`` (the same quantity: Bures cost
matrix + network simplex)?

Question 2 (Sinkhorn): the same batch with the entropic solver, against OTT used directly: a
``jax.vmap`` over ``sinkhorn.Sinkhorn()(LinearProblem(Geometry(cost_matrix=C), a, b))`` with
``C = PointCloud(x, y, cost_fn=costs.Bures(d)).cost_matrix`` (the cost computed once, not
inside every iteration), same epsilon, reporting :math:`\\langle C, \\pi_\\varepsilon\\rangle`.

Errors: exact, max relative difference to POT (the reference LP); Sinkhorn, max relative
difference to OTT and to the exact value.

Usage: JAX_ENABLE_X64=1 python benchmarks/bench_mw2_batch.py [--batch 300,1000]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("JAX_ENABLE_X64", "1")

from _timing import best_time, machine, table
from ot_problems import mixture_collection as collection


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", default="300,1000")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--d", type=int, default=8)
    parser.add_argument("--epsilon", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pot-pairs", type=int, default=200, help="POT loop length timed")
    return parser.parse_args()


def ours(metric: str, **kw):
    """Our batched squared distance, jitted, without sharding."""
    import jax

    from gmmjax import paired_distances

    return jax.jit(lambda p, q: paired_distances(p, q, metric=metric, sharding=False, **kw) ** 2)


def ott_sinkhorn_batch(d: int, eps: float):
    """OTT used directly: Bures cost once, then Sinkhorn, vmapped over the batch."""
    import jax
    import jax.numpy as jnp
    from ott.geometry import costs, geometry, pointcloud
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import sinkhorn

    bures = costs.Bures(dimension=d)
    solver = sinkhorn.Sinkhorn(threshold=1e-3, max_iterations=2000)

    def one(x1, y1, a1, b1):
        cost = pointcloud.PointCloud(x1, y1, cost_fn=bures).cost_matrix
        geom = geometry.Geometry(cost_matrix=cost, epsilon=eps)
        out = solver(linear_problem.LinearProblem(geom, a1, b1))
        return jnp.sum(out.matrix * cost)

    return jax.jit(jax.vmap(one))


def pot_loop(p_data, q_data, n: int):
    """POT's exact mixture OT loss for the first ``n`` pairs, one call per pair."""
    import numpy as np
    import ot

    (wp, mp, cp), (wq, mq, cq) = p_data, q_data
    return np.array(
        [ot.gmm.gmm_ot_loss(mp[i], mq[i], cp[i], cq[i], wp[i], wq[i]) for i in range(n)]
    )


def exact_row(b: int, p_data, q_data, args: argparse.Namespace):
    """Times and error of the exact distances; also returns our values."""
    import numpy as np

    from gmmjax import GMM

    ps, qs = GMM(*p_data), GMM(*q_data)
    exact_fn = ours("mw2_exact")
    t_ours, v_ours = best_time(lambda: exact_fn(ps, qs), repeat=args.repeat)
    n_pot = min(b, args.pot_pairs)
    pot_loop(p_data, q_data, 2)  # first calls import and set up POT's backend
    t_pot, v_pot = best_time(lambda: pot_loop(p_data, q_data, n_pot), repeat=1, warmup=0)
    t_pot *= b / n_pot  # the loop is linear in B: timed on n_pot pairs, scaled to B
    v_ours = np.asarray(v_ours)
    err = float(np.max(np.abs(v_ours[:n_pot] - v_pot) / v_pot))
    return (b, args.k, args.d, t_ours, t_pot, t_pot / t_ours, err), v_ours


def sinkhorn_row(b: int, p_data, q_data, v_exact, args: argparse.Namespace):
    """Times of our Sinkhorn batch and OTT's, differences to OTT and to the exact values."""
    import jax.numpy as jnp
    import numpy as np

    from gmmjax import GMM

    (wp, mp, cp), (wq, mq, cq) = p_data, q_data
    k, d, eps = args.k, args.d, args.epsilon
    ps, qs = GMM(*p_data), GMM(*q_data)
    sink_fn = ours("mw2_sinkhorn", epsilon=eps)
    t_sink, v_sink = best_time(lambda: sink_fn(ps, qs), repeat=args.repeat)
    x = jnp.concatenate([mp, cp.reshape(b, k, -1)], axis=-1)
    y = jnp.concatenate([mq, cq.reshape(b, k, -1)], axis=-1)
    ott_batch = ott_sinkhorn_batch(d, eps)
    t_ott, v_ott = best_time(lambda: ott_batch(x, y, wp, wq), repeat=args.repeat)
    v_sink, v_ott = np.asarray(v_sink), np.asarray(v_ott)
    return (b, k, d, eps, t_sink, t_ott, t_ott / t_sink,
            float(np.max(np.abs(v_sink - v_ott) / v_ott)),
            float(np.max(np.abs(v_sink - v_exact) / v_exact)))  # fmt: skip


def main() -> None:
    args = parse_args()

    import jax
    import numpy as np

    assert jax.config.read("jax_enable_x64"), "run with JAX_ENABLE_X64=1"
    print(f"machine: {machine()}\n")
    rng = np.random.default_rng(0)
    rows_exact, rows_sink = [], []
    for b in (int(x) for x in args.batch.split(",")):
        p_data = collection(rng, b, args.k, args.d)
        q_data = collection(rng, b, args.k, args.d)
        row, v_exact = exact_row(b, p_data, q_data, args)
        rows_exact.append(row)
        rows_sink.append(sinkhorn_row(b, p_data, q_data, v_exact, args))
        print(f"B={b} done", flush=True)

    print("\nExact mixture distances (squared), one call vs a loop over ot.gmm.gmm_ot_loss")
    print(
        table(["B", "K", "d", "gmmjax s", f"POT loop s (timed on {args.pot_pairs}, scaled)",
               "POT / gmmjax", "max rel diff vs POT"], rows_exact)
    )  # fmt: skip
    print("\nSinkhorn, one call vs OTT vmapped directly")
    print(
        table(["B", "K", "d", "epsilon", "gmmjax s", "OTT s", "OTT / gmmjax",
               "max rel diff vs OTT", "max rel diff vs exact"], rows_sink)
    )  # fmt: skip


if __name__ == "__main__":
    main()
