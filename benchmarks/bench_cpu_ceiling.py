"""The ceiling of a matrix-product Bures cost matrix on this CPU, against the peers' times.

Question: the Newton–Schulz route takes every nuclear norm :math:`\\|F_iF_j\\|_*` of the cost
matrix from batched ``d x d`` products over all component pairs. How fast does XLA's CPU code run
those products here, next to one large product on the same cores, and which speed-ups over POT
and OTT does that rate leave within reach?

Measured in one process, float64:

* ``GEMM GFLOP/s``: one ``2048 x 2048`` by ``2048 x 512`` product (what the cores reach).
* ``pass s``: one product ``X <- X Y`` over all pairs, run as the iteration runs it (cache-sized
  blocks in :func:`jax.lax.map`, seven products in a loop, time / 7), batched ``matmul`` or, for
  ``d <= 8``, the pair-last unrolled products of :mod:`gmmjax._src.math.polar`, whichever is
  faster; ``pass GFLOP/s`` its rate.
* ``gmmjax s``, ``steps``: the default cost matrix and its Newton–Schulz steps (two products
  each, plus one to form :math:`F_iF_j`). ``NS s``: those ``2 steps + 1`` products at the
  pass rate alone (no square roots, no elementwise work, no LPs); ``NS ratio``: peer s / NS s,
  the most this iteration could reach here. The step count is already the least for a
  composition of odd cubic polynomials (Chen & Chow's scaling is the minimax cubic on
  :math:`[\\ell, 1]`), and composed optimal quintics need as many products from
  :math:`\\ell_0 = 0.1` (15 against 14).
* ``floor passes``: products per pair that any polynomial iteration needs to reach round-off
  from the singular-value bounds the kernel has (ratio :math:`\\ell_0` of the median pair):
  :math:`\\operatorname{tr}(X^TX)^{1/2}` needs a polynomial approximation of :math:`t^{-1/2}` on
  :math:`[\\ell_0^2, 1]` to :math:`\\varepsilon`, of degree at least
  :math:`n = \\ln(2/\\varepsilon)/\\ln\\rho` with :math:`\\rho = (1+\\ell_0)/(1-\\ell_0)`
  (Bernstein's ellipse; Trefethen, *Approximation Theory and Approximation Practice*, ch. 8),
  and ``m`` products reach degree at most :math:`2^{m}` (the last one for free, as a
  Frobenius inner product): :math:`\\lceil\\log_2(n+1)\\rceil` passes, forming
  :math:`F_iF_j` not counted. ``floor s`` = floor passes x pass s.
* ``needed s``: the peer's time divided by the asked ratio; ``best ratio`` = peer s / floor s.

Rows: the issue's CPU targets (Bures K = 64 at d = 32 against OTT and POT, at d = 8 against OTT;
1,000 exact mixture distances, K = d = 8, against a loop over POT's ``gmm_ot_loss``; for the
batch the floor counts the Bures products only, not the square roots or the LPs).

A ceiling study, so it reaches inside the library where no user would: it times the
Newton–Schulz products on their own (the block size and the pair-last unrolled products of
``gmmjax._src.math.polar``) and reads the step count and singular-value bounds of the
iteration (``gmmjax._src.kernels.bures._ns_inputs``); the public ``bures_cost_matrix`` gives
neither.

Usage: JAX_ENABLE_X64=1 python benchmarks/bench_cpu_ceiling.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("JAX_ENABLE_X64", "1")

from _timing import best_time, machine, table

HEADERS = ["target", "peer s", "asked", "needed s", "gmmjax s", "ratio now", "steps",
           "pass s", "pass GFLOP/s", "NS s", "NS ratio", "floor passes", "floor s",
           "best ratio"]  # fmt: skip
STEPS_TIMED = 7


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pot-pairs", type=int, default=100, help="POT loop length timed")
    return parser.parse_args()


def gemm_rate(repeat: int) -> float:
    """GFLOP/s of one large float64 product."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones((2048, 2048)) / 2048
    b = jnp.ones((2048, 512)) / 2048
    t, _ = best_time(lambda: jax.jit(jnp.matmul)(a, b), repeat=repeat)
    return 2 * 2048 * 2048 * 512 / t / 1e9


def pass_time(pairs: int, d: int, repeat: int) -> float:
    """Seconds of one product over ``pairs`` ``d x d`` matrices, blocked as the iteration is."""
    import jax
    import jax.numpy as jnp

    from gmmjax._src.math import polar

    size = polar._block_size(d, pairs)
    blocks = -(-pairs // size)
    x = jnp.broadcast_to(jnp.eye(d) * 0.5, (blocks, size, d, d))
    y = x + 0.5

    def run(mul, xs, ys):
        def block(pair):
            return jax.lax.fori_loop(0, STEPS_TIMED, lambda _, v: mul(v, pair[1]), pair[0])

        return jax.lax.map(block, (xs, ys))

    batched = jax.jit(lambda xs, ys: run(jnp.matmul, xs, ys))
    best, _ = best_time(lambda: batched(x, y), repeat=repeat)
    if d <= polar._UNROLL_MAX_D:
        _, mul = polar._products(pair_last=True)
        unrolled = jax.jit(lambda xs, ys: run(mul, xs, ys))
        xl, yl = jnp.moveaxis(x, 1, -1), jnp.moveaxis(y, 1, -1)
        best = min(best, best_time(lambda: unrolled(xl, yl), repeat=repeat)[0])
    return best / STEPS_TIMED


def floor_passes(ell0: float, eps: float) -> int:
    """Fewest products per pair for a polynomial to reach ``eps`` from the ratio ``ell0``."""
    rho = (1.0 + ell0) / (1.0 - ell0)
    degree = math.log(2.0 / eps) / math.log(rho)
    return math.ceil(math.log2(degree + 1.0))


def ns_steps_and_ratio(p, q) -> tuple[int, float]:
    """Newton–Schulz steps for a cost matrix (or a batch), and the median bound ratio.

    The ratio is the kernel's bound on ``sigma_min / sigma_max`` of ``F_i F_j``, over pairs.
    """
    import jax
    import jax.numpy as jnp

    from gmmjax._src.kernels import bures
    from gmmjax._src.math.polar import polar_ns

    def run(a, b):
        inputs = bures._ns_inputs if jnp.ndim(a.weights) == 1 else jax.vmap(bures._ns_inputs)
        m, upper, lower = inputs(a, b)
        return polar_ns(m, upper, lower)[1].n_iter, jnp.median(lower)

    steps, ratio = jax.jit(run)(p, q)
    return int(steps), float(ratio)


def row(name, peer_s, asked, ours_s, steps, pairs, d, ell0, args, eps):
    t_pass = pass_time(pairs, d, args.repeat)
    passes = floor_passes(ell0, eps)
    floor = passes * t_pass
    ns = (2 * steps + 1) * t_pass
    return (name, peer_s, asked, peer_s / asked, ours_s, peer_s / ours_s, steps, t_pass,
            2 * d**3 * pairs / t_pass / 1e9, ns, peer_s / ns, passes, floor,
            peer_s / floor)  # fmt: skip


def bures_times(rng, k: int, d: int, with_pot: bool, repeat: int) -> tuple:
    """``(gmmjax s, {peer: s}, steps, ell0)`` for a ``(K, K)`` Bures cost matrix at ``d``."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import ot
    from bench_bures_cost import ott_cost, random_components

    from gmmjax import GMM, bures_cost_matrix

    ms, cs = random_components(rng, k, d)
    mt, ct = random_components(rng, k, d)
    w = np.full(k, 1.0 / k)
    p, q = GMM(w, ms, cs), GMM(w, mt, ct)
    ours = jax.jit(bures_cost_matrix)
    t_ours, _ = best_time(lambda: ours(p, q), repeat=repeat)
    x = jnp.concatenate([jnp.asarray(ms), jnp.asarray(cs).reshape(k, -1)], axis=1)
    y = jnp.concatenate([jnp.asarray(mt), jnp.asarray(ct).reshape(k, -1)], axis=1)
    ott_fn = ott_cost(d)
    times = {"OTT": best_time(lambda: ott_fn(x, y), repeat=repeat)[0]}
    if with_pot:
        pot = best_time(lambda: ot.gmm.dist_bures_squared(ms, mt, cs, ct), repeat=1, warmup=0)
        times["POT"] = pot[0]
    return t_ours, times, *ns_steps_and_ratio(p, q)


def bures_rows(args, eps):
    import numpy as np

    rows = []
    rng = np.random.default_rng(0)
    k = 64
    for d, peers in ((32, (("OTT", 5.0), ("POT", 50.0))), (8, (("OTT", 3.0),))):
        with_pot = any(name == "POT" for name, _ in peers)
        t_ours, times, steps, ell0 = bures_times(rng, k, d, with_pot, args.repeat)
        for name, asked in peers:
            label = f"Bures K = {k}, d = {d} vs {name}"
            rows.append(row(label, times[name], asked, t_ours, steps, k * k, d, ell0, args, eps))
            print(table(HEADERS, rows[-1:]).splitlines()[-1], flush=True)
    return rows


def batch_row(args, eps):
    import numpy as np
    from bench_mw2_batch import collection, ours, pot_loop

    from gmmjax import GMM

    b, k, d = 1000, 8, 8
    rng = np.random.default_rng(0)
    p_data, q_data = collection(rng, b, k, d), collection(rng, b, k, d)
    ps, qs = GMM(*p_data), GMM(*q_data)
    exact_fn = ours("mw2_exact")
    t_ours, _ = best_time(lambda: exact_fn(ps, qs), repeat=args.repeat)
    pot_loop(p_data, q_data, 2)  # first calls import and set up POT's backend
    n = args.pot_pairs
    t_pot = best_time(lambda: pot_loop(p_data, q_data, n), repeat=1, warmup=0)[0] * b / n
    steps, ell0 = ns_steps_and_ratio(ps, qs)
    label = f"{b} exact mw2, K = d = {k} vs POT loop"
    return row(label, t_pot, 20.0, t_ours, steps, b * k * k, d, ell0, args, eps)


def main() -> None:
    args = parse_args()

    import jax
    import jax.numpy as jnp

    assert jax.config.read("jax_enable_x64"), "run with JAX_ENABLE_X64=1"
    eps = float(jnp.finfo(jnp.float64).eps)
    print(f"machine: {machine()}")
    print(f"GEMM (2048 x 2048 x 512): {gemm_rate(args.repeat):.1f} GFLOP/s\n")
    print(table(HEADERS, []), flush=True)
    rows = bures_rows(args, eps)
    rows.append(batch_row(args, eps))
    print(table(HEADERS, rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()
