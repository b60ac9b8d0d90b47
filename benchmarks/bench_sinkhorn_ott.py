"""Sinkhorn mixture distances against OTT's ``GaussianMixturePair``: values and a training step.

Question 1 (values, no gradient): ``B`` Sinkhorn mixture distances in one jitted call of
``gmmjax.paired_distances(metric="mw2_sinkhorn", epsilon=eps)`` against a ``jax.vmap`` over
OTT-JAX's own route for a pair of mixtures, ``GaussianMixturePair(gmm0, gmm1, epsilon=eps)``
(``get_cost_matrix()`` then ``get_sinkhorn(C)``, OTT's defaults), at the same ``epsilon``.
Both report :math:`\\langle C, \\pi\\rangle` (ours with the rounded plan).

Question 2 (training step): one jitted optax Adam step on ``B`` predicted mixtures (weights by
softmax, means, covariances :math:`LL^T + 0.1 I`) against fixed targets, with the loss
``mean(paired_distances(p, q, metric))`` for ``metric="mw2"`` (exact LP) and
``"mw2_sinkhorn"`` (default ``epsilon``, and a fixed ``epsilon``), and the same step with the
loss of OTT's ``GaussianMixturePair`` vmapped over the batch at the fixed ``epsilon``.

K = 8 components, d = 8, full covariances, float64, CPU. Usage:
``JAX_ENABLE_X64=1 python benchmarks/bench_sinkhorn_ott.py [--batch 1000,10000] [--train 256]``
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("JAX_ENABLE_X64", "1")

from _timing import best_time, machine, table
from ot_problems import mixture_collection as collection


def ott_pair_cost(eps: float):
    """OTT's own mixture route for one pair: GaussianMixturePair, Bures cost, Sinkhorn."""
    import jax.numpy as jnp
    from ott.tools.gaussian_mixture import gaussian_mixture, gaussian_mixture_pair

    def one(wp, mp, cp, wq, mq, cq):
        g0 = gaussian_mixture.GaussianMixture.from_mean_cov_component_weights(mp, cp, wp)
        g1 = gaussian_mixture.GaussianMixture.from_mean_cov_component_weights(mq, cq, wq)
        pair = gaussian_mixture_pair.GaussianMixturePair(g0, g1, epsilon=eps)
        cost = pair.get_cost_matrix()
        out = pair.get_sinkhorn(cost)
        return jnp.sum(out.matrix * cost), out.converged

    return one


def values_row(b: int, eps: float, args, rng):
    import jax
    import numpy as np

    from gmmjax import GMM, paired_distances

    p_data, q_data = collection(rng, b, args.k, args.d), collection(rng, b, args.k, args.d)
    ps, qs = GMM(*p_data), GMM(*q_data)

    @jax.jit
    def ours(ps, qs):
        d, info = paired_distances(
            ps, qs, metric="mw2_sinkhorn", epsilon=eps, sharding=False, return_info=True
        )
        return d**2, info.converged

    ott = jax.jit(jax.vmap(ott_pair_cost(eps)))
    t_ours, (v_ours, ok_ours) = best_time(lambda: ours(ps, qs), repeat=args.repeat)
    t_ott, (v_ott, ok_ott) = best_time(lambda: ott(*p_data, *q_data), repeat=args.repeat)
    v_ours, v_ott = np.asarray(v_ours), np.asarray(v_ott)
    rel = float(np.max(np.abs(v_ours - v_ott) / v_ott))
    return (b, eps, t_ours, t_ott, t_ott / t_ours, float(np.mean(ok_ours)),
            float(np.mean(ok_ott)), rel)  # fmt: skip


def train_step(loss_fn):
    import jax
    import optax

    opt = optax.adam(1e-2)

    @jax.jit
    def step(params, state, target):
        loss, grads = jax.value_and_grad(loss_fn)(params, target)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    return opt, step


def train_rows(b: int, eps: float, args, rng):
    import jax
    import jax.numpy as jnp

    from gmmjax import GMM, paired_distances

    k, d = args.k, args.d
    wq, mq, cq = collection(rng, b, k, d)
    _, mp, cp = collection(rng, b, k, d)
    params = {
        "logits": jnp.zeros((b, k)),
        "means": jnp.asarray(mp),
        "chol": jnp.asarray(jnp.linalg.cholesky(cp)),
    }
    target = (jnp.asarray(wq), jnp.asarray(mq), jnp.asarray(cq))

    def predicted(params):
        covs = params["chol"] @ jnp.swapaxes(params["chol"], -1, -2) + 0.1 * jnp.eye(d)
        return jax.nn.softmax(params["logits"], axis=-1), params["means"], covs

    def ours(metric, **kw):
        def loss(params, target):
            p, q = GMM(*predicted(params)), GMM(*target)
            return jnp.mean(paired_distances(p, q, metric=metric, sharding=False, **kw))

        return loss

    ott_one = ott_pair_cost(eps)

    def ott_loss(params, target):
        cost, _ = jax.vmap(ott_one)(*predicted(params), *target)
        return jnp.mean(jnp.sqrt(cost))

    rows = []
    cases = [("gmmjax mw2 (exact LP)", ours("mw2")),
             ("gmmjax mw2_sinkhorn, default epsilon", ours("mw2_sinkhorn")),
             (f"gmmjax mw2_sinkhorn, epsilon={eps:g}", ours("mw2_sinkhorn", epsilon=eps)),
             (f"OTT GaussianMixturePair, epsilon={eps:g}", ott_loss)]  # fmt: skip
    for name, loss in cases:
        opt, step = train_step(loss)
        state = opt.init(params)
        t, out = best_time(lambda: step(params, state, target), repeat=args.repeat)  # noqa: B023
        rows.append((name, b, t, float(out[2])))
    base = rows[0][2]
    return [(*r, r[2] / base) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", default="1000,10000", help="value batches ('' for none)")
    parser.add_argument("--train", default="256", help="training batches ('' for none)")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--d", type=int, default=8)
    parser.add_argument("--epsilon", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import jax
    import numpy as np

    assert jax.config.read("jax_enable_x64"), "run with JAX_ENABLE_X64=1"
    print(f"machine: {machine()}\n", flush=True)
    rng = np.random.default_rng(0)
    rows = [values_row(int(b), args.epsilon, args, rng) for b in args.batch.split(",") if b]
    if rows:
        print(f"Sinkhorn values, K = {args.k}, d = {args.d}: gmmjax vs OTT GaussianMixturePair")
        print(table(["B", "epsilon", "gmmjax s", "OTT s", "OTT / gmmjax", "gmmjax converged",
                     "OTT converged", "max rel diff"], rows))  # fmt: skip
    for b in (int(x) for x in args.train.split(",") if x):
        print(f"\nTraining step (value_and_grad + Adam), K = {args.k}, d = {args.d}")
        print(table(["loss", "B", "step s", "loss value", "/ exact step"],
                    train_rows(b, args.epsilon, args, rng)))  # fmt: skip


if __name__ == "__main__":
    main()
