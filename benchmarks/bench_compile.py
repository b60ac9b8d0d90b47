"""First-call and second-call time of every public function, each in a fresh process.

Question: where does a user's first second go? For every public function of gmmjax (and the
methods ``GMM.log_prob`` and ``GMM.sample``) at a typical size, how long do ``import gmmjax``,
building the arguments, the first call (trace + compile + run) and the second call (same
arguments; a second call about as slow as the first means the function compiles again on
every eager call) take, in float32 and in float64? And do the functions named by
the project's targets stay within them (first call <= 1.0 s for ``l2_distance``,
``cauchy_schwarz_divergence``, ``kl_divergence`` (variational), ``w2_gaussian`` and
``mw2_distance`` (exact) at K = d = 8; <= 3 s for ``pairwise_distances(metric="l2")`` on
100 x 100 mixtures and for ``fit_weights`` on 1-D data with the default options)?

Method: every row is its own Python process (``--child``), started one after another, with
``JAX_ENABLE_X64`` = 0 or 1 in its environment before JAX is imported, so that the first call
really compiles. The child times, in this order: ``import gmmjax`` (JAX included);
constructing the arguments from NumPy arrays generated beforehand (``GMM(...)`` and
``Gaussian(...)`` check their values eagerly; functions that take no mixture get their data
as device arrays; the first device array also starts JAX's CPU backend, so that start-up is
in this column); the first call; the second call. Every result is waited for with
``block_until_ready``. The default size is K = 8 components, d = 8 dimensions, full random
covariances (``A A^T / d + 0.3 I``); the "call" column gives the size where it differs.
"meets" compares the first call alone with the target (import and construction excluded).
``--quick`` shrinks the collections and the 1-D data (the targets of those rows then do not
apply) and runs float32 only unless ``--precisions`` says otherwise. ``--only`` takes
function names (all their rows) or row names such as ``kl_divergence:mc``.

Usage: python benchmarks/bench_compile.py [--quick] [--only NAME,...] [--precisions 32,64]
"""

from __future__ import annotations

# No module-level import of JAX, gmmjax or _timing: the child times ``import gmmjax`` itself.
import argparse
import dataclasses
import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

K, D = 8, 8
MIX = f"p, q: K={K}, d={D}, full"
GAUSS = f"two Gaussians, d={D}, full"
ONE_GAUSS = f"one Gaussian, d={D}, full"
EACH = f"K={K}, d={D}, full"
HEADERS = ["function", "call", "precision", "import s", "construct s", "first call s",
           "second call s", "target s", "meets"]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Case:
    """One row: ``run(gj, args)`` with ``args`` built by the input builder named ``inputs``.

    ``name`` is ``function`` or ``function:variant``; ``--only`` takes either.
    """

    name: str
    call: str
    inputs: str
    run: Callable[[Any, tuple], Any]
    target: float | None = None

    @property
    def function(self) -> str:
        return self.name.split(":")[0]


@functools.cache
def _checked_l2(gj: Any) -> Callable[..., Any]:
    """One wrapper, made on the first call and reused, as a user would hold on to it."""
    return gj.checked(gj.l2_distance)


def sizes(quick: bool) -> dict[str, int]:
    """Collection sizes, 1-D sample size, basis size and point count (smaller with --quick)."""
    if quick:
        return {"pairs": 10, "mw2_pairs": 4, "data": 500, "basis": 50, "points": 100}
    return {"pairs": 100, "mw2_pairs": 20, "data": 5000, "basis": 200, "points": 1000}


def cases(quick: bool) -> list[Case]:
    """Every timed call; imports gmmjax (call it in the child only after timing the import)."""
    from gmmjax import KL_METHODS

    s = sizes(quick)
    n, pairs, mw2, data = s["basis"], s["pairs"], s["mw2_pairs"], s["data"]
    big = None if quick else 3.0  # the 3 s targets are stated for the full sizes only
    on_1d = f"1-D, {data} points, n={n}, t=2"
    dil_gmm = f"1-D GMM of {n} components"
    out = []
    for fn in ["l2_distance", "l2_distance_squared", "log_l2_distance_squared",
               "cauchy_schwarz_divergence", "inner_product", "log_inner_product",
               "gaussian_overlap", "log_gaussian_overlap", "bures_cost_matrix"]:  # fmt: skip
        target = 1.0 if fn in ("l2_distance", "cauchy_schwarz_divergence") else None
        out.append(Case(fn, MIX, "pair", lambda gj, a, fn=fn: getattr(gj, fn)(*a), target))
    for m in KL_METHODS:
        if m == "mc":
            call = f'method="mc", n_samples=1024 (default), key; {MIX}'
            run = lambda gj, a: gj.kl_divergence(a[0], a[1], "mc", a[2])  # noqa: E731
            out.append(Case("kl_divergence:mc", call, "pair_key", run))
        else:
            run = lambda gj, a, m=m: gj.kl_divergence(*a, method=m)  # noqa: E731
            target = 1.0 if m == "variational" else None
            out.append(Case(f"kl_divergence:{m}", f'method="{m}"; {MIX}', "pair", run, target))
    out += [
        Case("kl_gaussian", GAUSS, "gaussians", lambda gj, a: gj.kl_gaussian(*a)),
        Case("gaussian_entropy", ONE_GAUSS, "gaussian", lambda gj, a: gj.gaussian_entropy(*a)),
        Case("w2_gaussian", GAUSS, "gaussians", lambda gj, a: gj.w2_gaussian(*a), 1.0),
        Case("gaussian_interpolate", f"t=0.5; {GAUSS}", "gaussians",
             lambda gj, a: gj.gaussian_interpolate(*a, 0.5)),
        Case("gaussian_transport_map", GAUSS, "gaussians",
             lambda gj, a: gj.gaussian_transport_map(*a)),
        Case("gaussian_barycenter", f"{K} Gaussians (batched), d={D}, full, uniform weights",
             "gaussian_batch", lambda gj, a: gj.gaussian_barycenter(*a)),
        Case("mw2_distance:exact", f'solver="exact" (default); {MIX}', "pair",
             lambda gj, a: gj.mw2_distance(*a), 1.0),
        Case("mw2_distance:sinkhorn", f'solver="sinkhorn"; {MIX}', "pair",
             lambda gj, a: gj.mw2_distance(*a, solver="sinkhorn")),
        Case("mw2_plan", f'solver="exact" (default); {MIX}', "pair",
             lambda gj, a: gj.mw2_plan(*a)),
        Case("geodesic", f't=0.5, solver="exact"; {MIX}', "pair",
             lambda gj, a: gj.geodesic(*a, 0.5)),
        Case("mw2_barycenter", f"3 mixtures of K=3, d={D}, full, uniform weights (27 "
             "candidates)", "bary", lambda gj, a: gj.mw2_barycenter(*a)),
        Case("exact_ot", '8 x 8 random problem, method="auto"', "ot",
             lambda gj, a: gj.exact_ot(*a)),
        Case("paired_distances", f'{pairs} pairs, metric="l2"; {EACH}', "pairs",
             lambda gj, a: gj.paired_distances(*a, metric="l2")),
        Case("pairwise_distances:l2", f'{pairs} x {pairs} mixtures, metric="l2"; {EACH}',
             "pairs", lambda gj, a: gj.pairwise_distances(*a, metric="l2"), big),
        Case("pairwise_distances:mw2", f'{mw2} x {mw2} mixtures, metric="mw2"; {EACH}', "mw2_pairs",
             lambda gj, a: gj.pairwise_distances(*a, metric="mw2")),
        Case("fit_weights", f"1-D, {data} points, {n}-component grid basis (t=2), defaults",
             "fit", lambda gj, a: gj.fit_weights(*a), big),
        Case("paper_algorithm1", on_1d, "data", lambda gj, a: gj.paper_algorithm1(*a, n, 2.0)),
        Case("paper_algorithm2", on_1d, "data", lambda gj, a: gj.paper_algorithm2(*a, n, 2.0)),
        Case("grid_basis", on_1d, "data", lambda gj, a: gj.grid_basis(*a, n, 2.0)),
        Case("density_information_loss", f"{dil_gmm}, JAX target CDF, d=r/2", "dil",
             lambda gj, a: gj.density_information_loss(*a)),
        Case("empirical_density_information_loss", f"{dil_gmm}, {data} samples, d=r/2",
             "dil_samples", lambda gj, a: gj.empirical_density_information_loss(*a)),
        Case("dil_from_cdfs", f"four ({n},) CDF arrays", "cdfs",
             lambda gj, a: gj.dil_from_cdfs(*a)),
        Case("GMM.log_prob", f'{s["points"]} points; {EACH}', "points",
             lambda gj, a: a[0].log_prob(a[1])),
        Case("GMM.sample", f'{s["points"]} samples; {EACH}', "sample",
             lambda gj, a: a[0].sample(a[1], s["points"])),
        Case("stack", f"[K={K}, K=5] -> batch of 2, d={D}, full", "stack",
             lambda gj, a: gj.stack(list(a))),
        Case("validate", f"one GMM, K={K}, d={D}, full", "one", lambda gj, a: gj.validate(*a)),
        Case("checked", f"checked(l2_distance)(p, q); {MIX}", "pair",
             lambda gj, a: _checked_l2(gj)(*a)),
    ]  # fmt: skip
    return out


# --------------------------------------------------------------------------- inputs
def _mixture(rng, batch: tuple[int, ...], k: int, d: int) -> tuple:
    import numpy as np

    w = rng.dirichlet(np.ones(k), batch or None)
    a = rng.standard_normal((*batch, k, d, d))
    return w, rng.standard_normal((*batch, k, d)), a @ np.swapaxes(a, -1, -2) / d + 0.3 * np.eye(d)


def _data_1d(rng, n: int):
    """A three-component 1-D sample (the kind of data the density learner is made for)."""
    import numpy as np

    centres, scales = np.array([-3.0, 0.0, 2.5]), np.array([0.5, 1.0, 0.7])
    idx = rng.choice(3, size=n, p=[0.3, 0.5, 0.2])
    return centres[idx] + scales[idx] * rng.standard_normal(n), (centres, scales)


def _grid(x, n: int, t: float = 2.0) -> tuple:
    """The arrays of ``grid_basis(x, n, t)`` in NumPy (so its compilation stays out of it)."""
    import numpy as np

    r = (x.max() - x.min()) / n
    means = x.min() + r * np.arange(n)
    return np.full(n, 1.0 / n), means[:, None], np.full((n, 1), (t * r) ** 2), r


def builder(kind: str, gj: Any, dtype: Any, quick: bool) -> Callable[[], tuple]:
    """Generate NumPy data now; return the (timed) construction of the call's arguments."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    rng = np.random.default_rng(0)
    s = sizes(quick)

    def cast(arrays) -> list:
        return [np.asarray(a, dtype) for a in arrays]

    def gmm(arrays):
        return gj.GMM(*cast(arrays))

    if kind in ("pair", "pair_key", "one", "points", "sample", "stack"):
        p, q = _mixture(rng, (), K, D), _mixture(rng, (), 5 if kind == "stack" else K, D)
        x = cast([rng.standard_normal((s["points"], D))])[0]
        return {
            "pair": lambda: (gmm(p), gmm(q)),
            "pair_key": lambda: (gmm(p), gmm(q), jax.random.key(0)),
            "one": lambda: (gmm(p),),
            "points": lambda: (gmm(p), jnp.asarray(x)),
            "sample": lambda: (gmm(p), jax.random.key(0)),
            "stack": lambda: (gmm(p), gmm(q)),
        }[kind]
    if kind in ("gaussian", "gaussians", "gaussian_batch"):
        _, means, covs = cast(_mixture(rng, (), K if kind == "gaussian_batch" else 2, D))
        if kind == "gaussian_batch":
            lam = np.full(K, 1.0 / K, dtype)
            return lambda: (gj.Gaussian(means, covs), jnp.asarray(lam))
        n = 1 if kind == "gaussian" else 2
        return lambda: tuple(gj.Gaussian(means[i], covs[i]) for i in range(n))
    if kind == "bary":
        mixtures = [_mixture(rng, (), 3, D) for _ in range(3)]
        lam = np.full(3, 1.0 / 3, dtype)
        return lambda: ([gmm(m) for m in mixtures], jnp.asarray(lam))
    if kind == "ot":
        a, b = rng.dirichlet(np.ones(8)), rng.dirichlet(np.ones(8))
        u, v = rng.standard_normal((8, D)), rng.standard_normal((8, D))
        c = np.sum((u[:, None] - v[None]) ** 2, axis=-1)
        arrays = cast([a, b, c])
        return lambda: tuple(jnp.asarray(z) for z in arrays)
    if kind in ("pairs", "mw2_pairs"):
        b = s[kind]
        ps, qs = _mixture(rng, (b,), K, D), _mixture(rng, (b,), K, D)
        return lambda: (gmm(ps), gmm(qs))
    x, (centres, scales) = _data_1d(rng, s["data"])
    *basis, r = _grid(x, s["basis"])
    x = cast([x])[0]
    if kind == "data":
        return lambda: (jnp.asarray(x),)
    if kind == "fit":
        return lambda: (gmm(basis), jnp.asarray(x))
    model = (rng.dirichlet(np.full(s["basis"], 5.0)), basis[1], basis[2])
    if kind == "dil":
        weights = np.array([0.3, 0.5, 0.2])

        def target_cdf(t):
            z = (t[..., None] - centres) / scales
            return jnp.sum(weights * jax.scipy.stats.norm.cdf(z), axis=-1)

        return lambda: (gmm(model), target_cdf, float(r / 2))
    if kind == "dil_samples":
        return lambda: (gmm(model), jnp.asarray(x), float(r / 2))
    if kind == "cdfs":
        ends = np.sort(x)
        lo, hi = basis[1][:, 0] - r / 2, basis[1][:, 0] + r / 2
        ecdf = [np.searchsorted(ends, e, side="right") / ends.size for e in (lo, hi)]
        model_cdf = [np.clip(e + 0.01 * rng.standard_normal(e.shape), 0, 1) for e in ecdf]
        arrays = cast([*ecdf, *model_cdf])
        return lambda: tuple(jnp.asarray(z) for z in arrays)
    raise ValueError(f"unknown inputs {kind!r}")


# --------------------------------------------------------------------------- processes
def _is_function(obj: Any) -> bool:
    import inspect

    return callable(obj) and not inspect.isclass(obj)


def child(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    import gmmjax as gj

    import_s = time.perf_counter() - start

    import dataclasses as dc

    import jax
    import numpy as np
    from _timing import block, emit

    def wait(out: Any) -> Any:
        # FitResult is a plain dataclass (no pytree): wait for its fields.
        if dc.is_dataclass(out) and not isinstance(out, type):
            out = [getattr(out, f.name) for f in dc.fields(out)]
        return block(out)

    case = {c.name: c for c in cases(args.quick)}[args.case]
    dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
    construct = builder(case.inputs, gj, dtype, args.quick)
    start = time.perf_counter()
    inputs = wait(construct())
    construct_s = time.perf_counter() - start
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        wait(case.run(gj, inputs))
        seconds.append(time.perf_counter() - start)
    emit({"import_s": import_s, "construct_s": construct_s, "first_s": seconds[0],
          "second_s": seconds[1]})  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--case", help="(child) the case to time")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated functions or case names")
    parser.add_argument("--precisions", default=None, help="32, 64 or 32,64 (default 32,64)")
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from _timing import add_row, machine, run_child, table

    import gmmjax

    precisions = [int(p) for p in (args.precisions or ("32" if args.quick else "32,64")).split(",")]
    if not set(precisions) <= {32, 64}:
        parser.error(f"--precisions takes 32 and/or 64; got {args.precisions}")
    selected = cases(args.quick)
    public = {n for n in gmmjax.__all__ if _is_function(getattr(gmmjax, n))}
    missing = sorted(public - {c.function for c in selected})
    if args.only:
        wanted = {w.strip() for w in args.only.split(",") if w.strip()}
        known = {c.name for c in selected} | {c.function for c in selected}
        if wanted - known:
            parser.error(f"--only: unknown {sorted(wanted - known)}; known: {sorted(known)}")
        selected = [c for c in selected if c.name in wanted or c.function in wanted]

    print(f"machine: {machine()}")
    if missing:
        print(f"public functions without a row: {', '.join(missing)}")
    print()
    print(table(HEADERS, []))
    rows, failures = [], []
    start = time.perf_counter()
    for case in selected:
        for bits in precisions:
            flags = ["--child", f"--case={case.name}"] + (["--quick"] if args.quick else [])
            try:
                res = run_child(__file__, flags, x64=bits == 64)
                times = [res["import_s"], res["construct_s"], res["first_s"], res["second_s"]]
            except (RuntimeError, IndexError) as err:
                failures.append((case.name, bits, str(err)))
                times = ["error"] * 4
            target = f"{case.target:.1f}" if case.target is not None else ""
            meets = ""
            if case.target is not None and not isinstance(times[2], str):
                meets = "yes" if times[2] <= case.target else "no"
            row = (case.function, case.call, f"float{bits}", *times, target, meets)
            add_row(HEADERS, rows, row)
    print(f"\n{len(rows)} processes in {time.perf_counter() - start:.0f} s\n")
    print(table(HEADERS, rows))
    for name, bits, err in failures:
        print(f"\nFAILED {name} (float{bits}):\n{err}")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
