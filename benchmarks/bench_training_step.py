"""A jitted optax training step whose loss is a mixture distance: compile time and step time.

Question: how fast is one training step of a small network that predicts a Gaussian mixture
and is trained with a gmmjax distance, both the first call (trace + compile + first run, in a
fresh process) and the steady time per step, and how does it compare with the same step
written with OTT-JAX (Sinkhorn between the mixtures) and with POT (``ot.gmm.gmm_ot_loss``)?

The step. A two-layer MLP (plain JAX, tanh, hidden width ``--hidden``, weights drawn once from
``jax.random.key(0)``) maps a fixed random feature vector per example to the logits ``(K,)``,
means ``(K, d)`` and a lower-triangular factor per component (softplus diagonal) of a
``K``-component mixture; the covariances are ``L L^T + 1e-3 I``, so always SPD, and the
mixture is ``GMM.from_logits(logits, means, covs, validate=False)``. The targets are ``B``
fixed random mixtures (Dirichlet weights, full covariances ``A A^T / d + 0.3 I``) built once
with NumPy. The loss is the batch mean of the distance between each predicted mixture and its
target, the optimiser ``optax.adam(1e-3)``, and the step ``jax.jit`` of
``(params, opt_state) -> (params, opt_state, loss)`` through ``jax.value_and_grad``.

Losses: ``l2_squared``, ``cs`` (Cauchy-Schwarz), ``kl`` (the variational approximation of
Hershey & Olsen, which is not a bound and can be slightly negative), ``kl_upper_bound``
(Durrieu, Thiran & Kelly), ``mw2_exact`` and ``mw2_sinkhorn`` (the mixture Wasserstein distance
of Chen, Georgiou & Tannenbaum, not squared). Routes: ``paired`` is
``gmmjax.paired_distances(ps, qs, metric=...)`` on the batched mixtures, ``vmap`` is
``jax.vmap`` of the single-pair public function. Peers: ``ott_implicit`` / ``ott_unrolled``
(``mw2_sinkhorn`` only) build OTT-JAX ``GaussianMixture`` objects, take the Bures cost matrix
of a ``GaussianMixturePair`` and solve it with ``ott.solvers.linear.sinkhorn`` (implicit
differentiation, OTT's default, or unrolled iterations), vmapped, loss
:math:`\\sqrt{\\langle C, \\pi_\\varepsilon\\rangle}`; ``pot`` (``mw2_exact`` only) calls
``ot.gmm.gmm_ot_loss`` on JAX arrays, which cannot be traced, so its row reports the error and
the eager value on the first example instead of times.

Epsilon: by default every Sinkhorn row uses gmmjax's per-pair default
(``gmmjax._src.ot.sinkhorn.default_epsilon``: 5% of the pair's centred cost spread); the OTT
rows compute the same rule on OTT's own cost matrix, so both solve the same problem, with the
same threshold and iteration cap. ``--epsilon`` fixes one value for all of them.

Columns. "first call s": wall time of the first call of the jitted step in a fresh process
(imports and data set-up excluded, no persistent compilation cache), "of which compile s" the
XLA backend compile time inside it (``jax.monitoring``). "steady ms/step": best of
``max(--steps, 20)`` consecutive training steps after the first. "step / value": that time over
the best time of the jitted loss value alone at the initial parameters (the step also runs
the Adam update, negligible for this MLP). "loss at start": the batch loss at the initial
parameters. "peer agreement": ``mw2_exact`` rows, relative difference of the squared distance
of the first example to POT's ``gmm_ot_loss`` (computed eagerly); ``mw2_sinkhorn`` rows, the
absolute difference of the start loss between gmmjax and OTT (unrolled row; OTT rows against
gmmjax's ``paired`` row), when both ran. "recompiles": XLA compilations during those steps
(should be 0) and the growth of the step's jit cache. "fit": with ``--fit``, the loss after
``--fit-steps`` more steps and whether it went down. Every row runs in its own process,
one after another, in float32 (``JAX_ENABLE_X64=0``) or float64 (``=1``); a row whose step
raises (while tracing, compiling or running, e.g. a solver's runtime check) shows the
exception instead of times.

Usage: python benchmarks/bench_training_step.py [--losses cs,mw2_exact] [--routes paired,vmap]
    [--ds 2,8] [--dtypes float32,float64] [--batch 256] [--steps 20] [--fit]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(__file__))

from _timing import add_row, best_time, block, emit, machine, run_child, table

ALL_LOSSES = (
    "l2_squared",
    "cs",
    "kl",
    "kl_upper_bound",
    "kl_ot_bound",
    "mw2_exact",
    "mw2_sinkhorn",
)
ALL_ROUTES = ("paired", "vmap", "ott", "pot")
JITTER = 1e-3
SEED = 0

HEADERS = [
    "loss", "route", "d", "dtype", "first call s", "of which compile s", "steady ms/step",
    "step / value", "loss at start", "peer agreement", "recompiles", "fit", "note",
]  # fmt: skip


# --------------------------------------------------------------------------- problem
def targets(b: int, k: int, d: int):
    """``B`` fixed target mixtures as NumPy float64 arrays ``(weights, means, covs)``."""
    import numpy as np

    rng = np.random.default_rng([SEED, d])
    weights = rng.dirichlet(np.ones(k), b)
    means = 1.5 * rng.standard_normal((b, k, d))
    a = rng.standard_normal((b, k, d, d))
    covs = a @ np.swapaxes(a, -1, -2) / d + 0.3 * np.eye(d)
    return weights, means, covs


def features(b: int, n_in: int, d: int):
    """Fixed random per-example inputs ``(B, n_in)``, float64."""
    import numpy as np

    return np.random.default_rng([SEED + 1, d]).standard_normal((b, n_in))


def init_mlp(n_in: int, hidden: int, k: int, d: int, dtype):
    """Two-layer MLP parameters from ``jax.random.key(0)`` (float32 draws, cast to ``dtype``).

    Drawing in float32 and casting gives the same starting point in both precisions.
    """
    import jax
    import jax.numpy as jnp

    n_out = k + k * d + k * d * (d + 1) // 2
    k1, k2 = jax.random.split(jax.random.key(0))
    w1 = jax.random.normal(k1, (n_in, hidden), jnp.float32) / jnp.sqrt(n_in)
    w2 = 0.5 * jax.random.normal(k2, (hidden, n_out), jnp.float32) / jnp.sqrt(hidden)
    params = {"w1": w1, "b1": jnp.zeros(hidden), "w2": w2, "b2": jnp.zeros(n_out)}
    return jax.tree_util.tree_map(lambda x: x.astype(dtype), params)


def mixture_parameters(params, x, k: int, d: int):
    """The MLP's ``(logits (B, K), means (B, K, d), covs (B, K, d, d))`` for inputs ``x``."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    b = x.shape[0]
    out = jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]
    logits = out[:, :k]
    means = out[:, k : k + k * d].reshape(b, k, d)
    raw = out[:, k + k * d :].reshape(b, k, -1)
    rows, cols = np.tril_indices(d)
    tril = jnp.zeros((b, k, d, d), out.dtype).at[..., rows, cols].set(raw)
    eye = jnp.eye(d, dtype=out.dtype)
    diag = jax.nn.softplus(jnp.diagonal(tril, axis1=-2, axis2=-1))
    factor = jnp.tril(tril, -1) + diag[..., None] * eye
    covs = factor @ jnp.swapaxes(factor, -1, -2) + JITTER * eye
    return logits, means, covs


# --------------------------------------------------------------------------- losses
def gmmjax_per_example(loss: str, route: str, epsilon):
    """``f(ps, qs) -> (B,)`` distances of one gmmjax loss by one route."""
    import jax

    import gmmjax

    kw = {} if epsilon is None else {"epsilon": epsilon}
    metric, pair = {
        "l2_squared": ("l2_squared", gmmjax.l2_distance_squared),
        "cs": ("cs", gmmjax.cauchy_schwarz_divergence),
        "kl": ("kl", lambda p, q: gmmjax.kl_divergence(p, q, method="variational")),
        "kl_upper_bound": (
            "kl_upper_bound",
            lambda p, q: gmmjax.kl_divergence(p, q, method="upper_bound"),
        ),
        "kl_ot_bound": (
            "kl_ot_bound",
            lambda p, q: gmmjax.kl_divergence(p, q, method="ot_bound"),
        ),
        "mw2_exact": ("mw2", gmmjax.mw2_distance),
        "mw2_sinkhorn": (
            "mw2_sinkhorn",
            lambda p, q: gmmjax.mw2_distance(p, q, solver="sinkhorn", **kw),
        ),
    }[loss]
    if route == "paired":
        kwargs = kw if loss == "mw2_sinkhorn" else {}
        return lambda ps, qs: gmmjax.paired_distances(ps, qs, metric=metric, **kwargs)
    return jax.vmap(pair)


def ott_per_example(implicit: bool, epsilon, dtype):
    """``f(w, m, c, tw, tm, tc) -> (B,)`` OTT-JAX Sinkhorn mixture distances, vmapped."""
    import jax
    import jax.numpy as jnp
    from ott.solvers.linear import implicit_differentiation
    from ott.tools.gaussian_mixture.gaussian_mixture import GaussianMixture
    from ott.tools.gaussian_mixture.gaussian_mixture_pair import GaussianMixturePair

    from gmmjax._src.ot.sinkhorn import default_epsilon, default_threshold

    options = {
        "threshold": default_threshold(dtype),
        "max_iterations": 2000,
        "inner_iterations": 10,
        "implicit_diff": implicit_differentiation.ImplicitDiff() if implicit else None,
    }

    def one(w, m, c, tw, tm, tc):
        gp = GaussianMixture.from_mean_cov_component_weights(m, c, w)
        gq = GaussianMixture.from_mean_cov_component_weights(tm, tc, tw)
        cost = GaussianMixturePair(gp, gq).get_cost_matrix()
        eps = default_epsilon(w, tw, cost) if epsilon is None else epsilon
        out = GaussianMixturePair(gp, gq, epsilon=eps, tau=1.0).get_sinkhorn(cost, **options)
        return jnp.sqrt(jnp.sum(out.matrix * cost))

    return jax.vmap(one)


def pot_per_example():
    """``f(w, m, c, tw, tm, tc) -> (B,)`` POT mixture distances, one call per example."""
    import jax.numpy as jnp
    import ot

    def batch(w, m, c, tw, tm, tc):
        values = [
            ot.gmm.gmm_ot_loss(m[i], tm[i], c[i], tc[i], w[i], tw[i]) for i in range(w.shape[0])
        ]
        return jnp.sqrt(jnp.stack(values))

    return batch


# --------------------------------------------------------------------------- child
class CompileCounter:
    """Counts XLA backend compilations and their seconds, through ``jax.monitoring``."""

    def __init__(self) -> None:
        import jax

        self.count, self.seconds = 0, 0.0
        jax.monitoring.register_event_duration_secs_listener(self)

    def __call__(self, event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            self.count += 1
            self.seconds += duration


def describe(err: BaseException) -> str:
    """``Type in file:function: first line of the message``, the frames outside JAX.

    An error raised inside a host callback (e.g. a solver's runtime check) reaches the caller
    as JAX's ``CpuCallback error``; the inner exception's own line is the useful one.
    """
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if not any(s in f.filename for s in ("/jax/", "/jaxlib/", "bench_training_step"))
        and not f.name.startswith("<")  # comprehensions
    ]
    where = " > ".join(f"{f.filename.split('site-packages/')[-1]}:{f.name}" for f in frames[-3:])
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    message = lines[0] if lines else ""
    if "CpuCallback error" in message:
        inner = [line for line in lines if re.match(r"^[\w.]*(Error|Exception): ", line)]
        message = f"in a host callback, {inner[-1]}" if inner else message
    return f"{type(err).__name__}{' in ' + where if where else ''}: {message[:160]}"


def pot_check(params, data, k: int, d: int) -> dict:
    """POT through ``jit`` and ``grad`` (expected to fail) and its eager first-example value."""
    import jax
    import jax.numpy as jnp

    x, tw, tm, tc = data
    pot = pot_per_example()

    def loss(p):
        logits, means, covs = mixture_parameters(p, x, k, d)
        return jnp.mean(pot(jax.nn.softmax(logits), means, covs, tw, tm, tc))

    errors = {}
    for name, fn in (
        ("jit(value_and_grad)", jax.jit(jax.value_and_grad(loss))),
        ("grad without jit", jax.grad(loss)),
    ):
        try:
            block(fn(params))
            errors[name] = "ok"
        except Exception as err:
            text = describe(err)
            errors[name] = "the same" if text in errors.values() else text
    logits, means, covs = mixture_parameters(params, x, k, d)
    weights = jax.nn.softmax(logits)
    pot(weights[:1], means[:1], covs[:1], tw[:1], tm[:1], tc[:1])  # POT's first-call set-up
    t_eager, value = best_time(
        lambda: jnp.mean(pot(weights, means, covs, tw, tm, tc)), repeat=1, warmup=0
    )
    notes = [f"{name}: {text}" for name, text in errors.items()]
    notes.append(f"eager value alone (no grad) {1e3 * t_eager:.0f} ms/batch")
    return {
        "loss_start": float(value),
        "agreement": pot_relative_difference(params, data, k, d),
        "note": "; ".join(notes),
    }


def pot_relative_difference(params, data, k: int, d: int) -> float:
    """Eager ``|mw2(p0, q0)^2 - gmm_ot_loss(p0, q0)| / gmm_ot_loss`` on the first example."""
    import jax
    import ot

    import gmmjax

    x, tw, tm, tc = data
    logits, means, covs = mixture_parameters(params, x[:1], k, d)
    w = jax.nn.softmax(logits)
    pot0 = float(ot.gmm.gmm_ot_loss(means[0], tm[0], covs[0], tc[0], w[0], tw[0]))
    q0 = gmmjax.GMM(tw[0], tm[0], tc[0])
    ours0 = float(gmmjax.mw2_distance(gmmjax.GMM(w[0], means[0], covs[0]), q0) ** 2)
    return abs(ours0 - pot0) / pot0


def child(args: argparse.Namespace) -> None:
    """Measure one row and print it as a ``JSON`` line."""
    loss_name, route, d, dtype_name = args.one
    d = int(d)
    result = {"loss": loss_name, "route": route, "d": d, "dtype": dtype_name}
    try:
        result.update(measure(args, loss_name, route, d))
    except Exception as err:
        result["error"] = describe(err)
    emit(result)


def measure(args: argparse.Namespace, loss_name: str, route: str, d: int) -> dict:
    """Build the problem, then time the first call, the steady steps and the value alone."""
    import jax

    jax.config.update("jax_enable_compilation_cache", False)
    import jax.numpy as jnp
    import numpy as np
    import optax

    import gmmjax

    # The peers (and OTT, which gmmjax's Sinkhorn imports when first traced) are imported
    # before the first call is timed: import time is not compile time.
    if route.startswith("ott") or loss_name == "mw2_sinkhorn":
        import ott.solvers.linear.sinkhorn
        import ott.tools.gaussian_mixture.gaussian_mixture_pair  # noqa: F401
    if route == "pot":
        import ot  # noqa: F401

    dtype = jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32
    b, k = args.batch, args.k
    tw, tm, tc = (jnp.asarray(a, dtype) for a in targets(b, k, d))
    x = jnp.asarray(features(b, args.n_in, d), dtype)
    data = (x, tw, tm, tc)
    params = init_mlp(args.n_in, args.hidden, k, d, dtype)
    if route == "pot":
        return pot_check(params, data, k, d)

    if route.startswith("ott"):
        per_example = ott_per_example(route == "ott_implicit", args.epsilon, dtype)

        def loss(p):
            logits, means, covs = mixture_parameters(p, x, k, d)
            return jnp.mean(per_example(jax.nn.softmax(logits), means, covs, tw, tm, tc))

    else:
        per_example = gmmjax_per_example(loss_name, route, args.epsilon)
        qs = gmmjax.GMM(tw, tm, tc)  # checked eagerly, once

        def loss(p):
            ps = gmmjax.GMM.from_logits(*mixture_parameters(p, x, k, d), validate=False)
            return jnp.mean(per_example(ps, qs))

    opt = optax.adam(1e-3)

    @jax.jit
    def step(p, state):
        value, grads = jax.value_and_grad(loss)(p)
        updates, state = opt.update(grads, state, p)
        return optax.apply_updates(p, updates), state, value

    state = block(opt.init(params))
    params0 = params
    compiles = CompileCounter()
    start = time.perf_counter()
    params, state, value = block(step(params, state))
    first_s = time.perf_counter() - start
    compile_s = compiles.seconds
    loss_start = float(value)

    n = max(args.steps, 20)
    count0, cache0 = compiles.count, step._cache_size()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        params, state, value = block(step(params, state))
        times.append(time.perf_counter() - start)
    recompiles = compiles.count - count0
    cache_growth = step._cache_size() - cache0

    value_fn = jax.jit(loss)
    t_value, _ = best_time(lambda: value_fn(params0), repeat=n)
    out = {
        "first_s": first_s,
        "compile_s": compile_s,
        "steady_ms": 1e3 * min(times),
        "median_ms": 1e3 * float(np.median(times)),
        "ratio": min(times) / t_value,
        "loss_start": loss_start,
        "recompiles": recompiles,
        "cache_growth": cache_growth,
        "n_steps": n,
        "finite": bool(np.isfinite(float(value))),
    }
    if args.fit:
        for _ in range(args.fit_steps):
            params, state, value = step(params, state)
        out["loss_fit"] = float(block(value))
    if loss_name == "mw2_exact":
        out["agreement"] = pot_relative_difference(params0, data, k, d)
    return out


# --------------------------------------------------------------------------- parent
def cases(args: argparse.Namespace) -> list[tuple[str, str, int, str]]:
    """Every (loss, route, d, dtype) row the options ask for, peers only where they apply."""
    rows = []
    for dtype in args.dtypes:
        for d in args.ds:
            for loss in args.losses:
                for route in args.routes:
                    if route in ("paired", "vmap"):
                        rows.append((loss, route, d, dtype))
                    elif route == "ott" and loss == "mw2_sinkhorn":
                        rows += [(loss, "ott_implicit", d, dtype), (loss, "ott_unrolled", d, dtype)]
                    elif route == "pot" and loss == "mw2_exact":
                        rows.append((loss, "pot", d, dtype))
    return rows


def pass_through(args: argparse.Namespace) -> list[str]:
    """The options a child needs, as command-line arguments."""
    out = ["--batch", str(args.batch), "--k", str(args.k), "--steps", str(args.steps)]
    out += ["--hidden", str(args.hidden), "--n-in", str(args.n_in)]
    out += ["--fit-steps", str(args.fit_steps)] + (["--fit"] if args.fit else [])
    return out + ([] if args.epsilon is None else ["--epsilon", str(args.epsilon)])


def run_case(script: str, case: tuple, args: argparse.Namespace) -> dict:
    """One row in a fresh process; a crashed child becomes a row with its last error line."""
    loss, route, d, dtype = case
    try:
        return run_child(
            script,
            ["--one", loss, route, str(d), dtype, *pass_through(args)],
            x64=dtype == "float64",
        )
    except (RuntimeError, IndexError) as err:
        lines = [s for s in str(err).splitlines() if s.strip()]
        return {"loss": loss, "route": route, "d": d, "dtype": dtype,
                "error": f"child failed: {lines[-1][:200] if lines else err}"}  # fmt: skip


def peer_agreement(res: dict, done: list[dict]) -> str | float:
    """The agreement cell: from the child (POT), or against the OTT/gmmjax row already run."""
    if "agreement" in res:
        return res["agreement"]
    if res["loss"] != "mw2_sinkhorn" or "loss_start" not in res:
        return "-"
    peer = "paired" if res["route"].startswith("ott") else "ott_unrolled"
    for other in done:
        same = all(other[key] == res[key] for key in ("loss", "d", "dtype"))
        if same and other["route"] == peer and "loss_start" in other:
            return abs(res["loss_start"] - other["loss_start"])
    return "-"


def row_of(res: dict, done: list[dict]) -> list:
    """A table row from a child's result."""
    head = [res["loss"], res["route"], res["d"], res["dtype"]]
    note = res.get("note", res.get("error", "")).replace("|", "/")
    if "first_s" not in res:
        value = f"{res['loss_start']:.5g}" if "loss_start" in res else "-"
        return [*head, "-", "-", "-", "-", value, peer_agreement(res, done), "-", "-", note]
    recompiles = f"{res['recompiles']} in {res['n_steps']} steps"
    if res["cache_growth"]:
        recompiles += f" (cache +{res['cache_growth']})"
    fit = "-"
    if "loss_fit" in res:
        down = "down" if res["loss_fit"] < res["loss_start"] else "NOT down"
        fit = f"{res['loss_fit']:.4g} ({down})"
        if res["loss_fit"] < 0:
            note = (note + "; " if note else "") + "fitted loss < 0: not a divergence"
    if not res["finite"]:
        note = (note + "; " if note else "") + "non-finite loss after the steps"
    if res["route"] == "vmap":
        paired = [o for o in done if o.get("route") == "paired" and "loss_start" in o
                  and all(o[key] == res[key] for key in ("loss", "d", "dtype"))]  # fmt: skip
        if paired:
            diff = abs(res["loss_start"] - paired[-1]["loss_start"])
            note = (note + "; " if note else "") + f"vmap vs paired: diff {diff:.2g}"
    start = f"{res['loss_start']:.5g}"
    return [*head, res["first_s"], res["compile_s"], res["steady_ms"], res["ratio"], start,
            peer_agreement(res, done), recompiles, fit, note]  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (comma-separated lists for the grid)."""

    def names(allowed):
        def parse(text: str) -> list[str]:
            out = [s.strip() for s in text.split(",") if s.strip()]
            bad = [s for s in out if s not in allowed]
            if bad:
                raise argparse.ArgumentTypeError(f"unknown {bad}; expected some of {allowed}")
            return out

        return parse

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--losses", type=names(ALL_LOSSES), default=list(ALL_LOSSES))
    parser.add_argument("--routes", type=names(ALL_ROUTES), default=list(ALL_ROUTES))
    parser.add_argument("--ds", type=lambda s: [int(v) for v in s.split(",")], default=[2, 8])
    parser.add_argument(
        "--dtypes", type=names(("float32", "float64")), default=["float32", "float64"]
    )
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="timed steps (at least 20 run)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--n-in", type=int, default=8, help="input features per example")
    parser.add_argument(
        "--epsilon", type=float, default=None, help="fixed Sinkhorn epsilon (default: per pair)"
    )
    parser.add_argument("--fit", action="store_true", help="also run --fit-steps more steps")
    parser.add_argument("--fit-steps", type=int, default=200)
    parser.add_argument("--one", nargs=4, metavar=("LOSS", "ROUTE", "D", "DTYPE"), help="child")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.one:
        child(args)
        return
    print(f"machine: {machine()} (x64 of this parent; each row sets its own)")
    eps = "gmmjax default per pair" if args.epsilon is None else args.epsilon
    print(f"B = {args.batch}, K = {args.k}, MLP {args.n_in} -> {args.hidden} (tanh), "
          f"adam(1e-3), Sinkhorn epsilon: {eps}\n")  # fmt: skip
    print(table(HEADERS, []), flush=True)
    done, rows = [], []
    for case in cases(args):
        res = run_case(os.path.abspath(__file__), case, args)
        done.append(res)
        add_row(HEADERS, rows, row_of(res, done))
    # Rebuilt once all rows ran: a row's peer may have run after it.
    print()
    print(table(HEADERS, [row_of(res, done) for res in done]))


if __name__ == "__main__":
    main()
