"""Cost of ``jax.value_and_grad`` relative to the value alone.

Question: how much does differentiating a batched GMM loss cost, per metric? Each row times
the jitted value ``sum(f(ps, qs))`` and the jitted ``value_and_grad`` of it with respect to
the weights (as logits), means and covariances of ``ps`` (all in one call), same inputs, same
process. Reverse-mode theory says the ratio should be a small constant (about 2-4) for
closed forms; solvers called through callbacks or implicit differentiation can cost more.
The "grad finite" column checks that no gradient entry is NaN or inf.

Usage: JAX_ENABLE_X64=1 python benchmarks/bench_grad_overhead.py
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("JAX_ENABLE_X64", "1")

from _timing import add_row, best_time, machine, table


def collection(rng, b: int, k: int, d: int):
    import numpy as np

    a = rng.standard_normal((b, k, d, d))
    covs = a @ np.swapaxes(a, -1, -2) / d + 0.3 * np.eye(d)
    return rng.standard_normal((b, k)), rng.standard_normal((b, k, d)), covs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np

    from gmmjax import GMM, bures_cost_matrix, paired_distances, pairwise_distances

    rng = np.random.default_rng(0)
    print(f"machine: {machine()}\n")

    def case(name, b, k, d, fn):
        logits, means, covs = (jnp.asarray(x) for x in collection(rng, b, k, d))
        _, qm, qc = (jnp.asarray(x) for x in collection(rng, b, k, d))
        qs = GMM(jnp.full((b, k), 1.0 / k), qm, qc, validate=False)

        def loss(params):
            lg, m, c = params
            ps = GMM.from_logits(lg, m, c, validate=False)
            return jnp.sum(fn(ps, qs))

        value = jax.jit(loss)
        both = jax.jit(jax.value_and_grad(loss))
        params = (logits, means, covs)
        t_val, _ = best_time(lambda: value(params), repeat=args.repeat)
        t_both, (_, grads) = best_time(lambda: both(params), repeat=args.repeat)
        finite = all(bool(jnp.all(jnp.isfinite(g))) for g in grads)
        return (name, b, k, d, t_val, t_both, t_both / t_val, finite)

    cases = [
        ("pairwise l2 (B x B)", 200, 8, 8, lambda p, q: pairwise_distances(p, q, metric="l2")),
        ("pairwise cs (B x B)", 200, 8, 8, lambda p, q: pairwise_distances(p, q, metric="cs")),
        ("paired l2", 2000, 8, 8, lambda p, q: paired_distances(p, q, metric="l2")),
        ("paired kl (variational)", 2000, 8, 8, lambda p, q: paired_distances(p, q, metric="kl")),
        ("paired mw2 exact", 300, 8, 8, lambda p, q: paired_distances(p, q, metric="mw2")),
        (
            "paired mw2 sinkhorn",
            300, 8, 8,
            lambda p, q: paired_distances(p, q, metric="mw2_sinkhorn", epsilon=0.05),
        ),
        ("bures_cost_matrix", 1, 64, 8, lambda p, q: bures_cost_matrix(p[0], q[0])),
        ("bures_cost_matrix", 1, 64, 32, lambda p, q: bures_cost_matrix(p[0], q[0])),
    ]  # fmt: skip
    headers = ["function", "B", "K", "d", "value s", "value_and_grad s", "ratio", "grad finite"]
    print(table(headers, []), flush=True)
    rows = []
    for name, b, k, d, fn in cases:
        row = case(name, b, k, d, fn)
        add_row(headers, rows, row)
    print()
    print(table(headers, rows))


if __name__ == "__main__":
    main()
