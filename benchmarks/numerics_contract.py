"""Measure the accuracy of every public distance over the inputs the constructor accepts.

For each function, dimension ``d``, variance scale ``s`` and condition number ``c`` the script
builds two 2-component mixtures ``p`` and ``q`` (full covariances with eigenvalues
geometrically spaced over ``[1, c]``, normalised to geometric mean 1, random rotations) and
scales them by a power of two near ``s`` (``4**k`` for the covariances, ``2**k`` for the means),
which is exact in floating point. The reference is computed once per ``(d, c, dtype)`` from
the *rounded* unit-scale inputs, in mpmath at 40 digits for ``d <= 8`` and in float64 numpy
/ scipy above (a cross-check, accurate to about ``1e-16 * c``), and carried to scale ``s`` by
the exact scaling laws (W2 scales like ``2**k``, KL and Cauchy–Schwarz are invariant,
``L2**2`` scales like ``2**(-k d)``).

Errors: relative error for distances; for logarithms (``log_prob``,
``log_l2_distance_squared``) the absolute error divided by ``max(1, |value|)``. ``refused``: the
density-based functions raise ``ValueError`` eagerly (a covariance with condition number
``>= 1/eps`` after rounding; the jitted calls measured here skip that check). Cells whose
rounded input is not positive definite have no defined density-based value: they show what
the function returned (``undef: NaN`` or ``undef: finite!``). A cell whose exact value
lies outside the dtype's range is not counted (``n/r``). ``self`` is ``d(p, p) / d(p, q)``
(0 is exact). Prints markdown tables.

Usage::

    JAX_ENABLE_X64=1 python benchmarks/numerics_contract.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_enable_concurrency_optimized_scheduler=false")

import jax
import mpmath
import numpy as np
import scipy.linalg

import gmmjax as gj

DPS = 40
CONDS = (1.0, 1e3, 1e6, 1e9, 1e12)
SCALES = {"float64": (1e-20, 1e-10, 1.0, 1e10, 1e20), "float32": (1e-20, 1e-10, 1.0, 1e10, 1e20)}
DIMS = (1, 2, 8, 32)
L2_DIMS = (1, 2, 8, 32, 128)
LOG_FUNCTIONS = ("log_prob", "log_l2_distance_squared")
FUNCTIONS = (
    "l2_distance",
    "l2_distance_squared",
    "log_l2_distance_squared",
    "cauchy_schwarz_divergence",
    "kl_gaussian",
    "kl_divergence",
    "w2_gaussian",
    "mw2_distance",
    "log_prob",
)
L2_FAMILY = FUNCTIONS[:4]
LN2 = math.log(2.0)


# ----------------------------------------------------------------------------- inputs


def unit_inputs(d: int, cond: float, seed: int = 0):
    """Weights, means and covariances of ``p`` and ``q`` at unit scale, and 4 points."""
    rng = np.random.default_rng(seed + 1000 * d)
    eig = np.geomspace(1.0, cond, d) / math.sqrt(cond) if d > 1 else np.ones(1)

    def cov(flip: bool):
        qm, _ = np.linalg.qr(rng.standard_normal((d, d)))
        m = (qm * (eig[::-1] if flip else eig)) @ qm.T
        return 0.5 * (m + m.T)

    wp, wq = np.array([0.3, 0.7]), np.array([0.6, 0.4])
    mp_ = rng.standard_normal((2, d))
    mq = mp_ + rng.standard_normal((2, d))
    cp = np.stack([cov(False), cov(True)])
    cq = np.stack([cov(False), cov(True)])
    x = mp_[0] + rng.standard_normal((4, d))
    return (wp, mp_, cp), (wq, mq, cq), x


def rounded(arrays, dtype):
    return tuple(np.asarray(a, dtype).astype(np.float64) for a in arrays)


def scale_exponent(scale: float) -> int:
    return round(0.25 * math.log2(scale))


# ------------------------------------------------------------------------- references


def _mp(a):
    a = np.atleast_2d(a)
    return mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in a])


def _mp_sqrtm(a):
    e, v = mpmath.eigsy(a)
    n = a.rows
    r = mpmath.matrix(n, n)
    for i in range(n):
        r[i, i] = mpmath.sqrt(max(e[i], 0))
    return v * r * v.T


def _mp_trace(a):
    return mpmath.fsum(a[i, i] for i in range(a.rows))


class MpGauss:
    """A Gaussian for the mpmath reference (``d <= 8``)."""

    def __init__(self, mean, cov):
        self.m, self.c, self.d = _mp(mean.reshape(-1, 1)), _mp(cov), len(mean)
        self.root = _mp_sqrtm(self.c)

    def w2sq(self, o):
        dm = self.m - o.m
        cross = _mp_sqrtm(self.root * o.c * self.root)
        val = (dm.T * dm)[0] + _mp_trace(self.c) + _mp_trace(o.c) - 2 * _mp_trace(cross)
        return max(val, mpmath.mpf(0))

    def kl(self, o):
        inv = o.c**-1
        dm = o.m - self.m
        t = _mp_trace(inv * self.c) + (dm.T * inv * dm)[0] - self.d
        return 0.5 * (t + mpmath.log(mpmath.det(o.c)) - mpmath.log(mpmath.det(self.c)))

    def log_overlap(self, o):
        s, r = self.c + o.c, self.m - o.m
        maha = (r.T * s**-1 * r)[0]
        return -0.5 * (maha + mpmath.log(mpmath.det(s)) + self.d * mpmath.log(2 * mpmath.pi))

    def log_density(self, x):
        r = _mp(x.reshape(-1, 1)) - self.m
        maha = (r.T * self.c**-1 * r)[0]
        return -0.5 * (maha + mpmath.log(mpmath.det(self.c)) + self.d * mpmath.log(2 * mpmath.pi))


class NpGauss:
    """The float64 cross-check reference (``d > 8``)."""

    def __init__(self, mean, cov):
        self.m, self.c, self.d = mean, cov, len(mean)
        self.root = np.real(scipy.linalg.sqrtm(cov))

    def w2sq(self, o):
        cross = np.real(scipy.linalg.sqrtm(self.root @ o.c @ self.root))
        dm = self.m - o.m
        return max(dm @ dm + np.trace(self.c) + np.trace(o.c) - 2 * np.trace(cross), 0.0)

    def kl(self, o):
        dm = o.m - self.m
        t = np.trace(np.linalg.solve(o.c, self.c)) + dm @ np.linalg.solve(o.c, dm) - self.d
        return 0.5 * (t + np.linalg.slogdet(o.c)[1] - np.linalg.slogdet(self.c)[1])

    def log_overlap(self, o):
        s, r = self.c + o.c, self.m - o.m
        return -0.5 * (
            r @ np.linalg.solve(s, r) + np.linalg.slogdet(s)[1] + self.d * np.log(2 * np.pi)
        )

    def log_density(self, x):
        r = x - self.m
        return -0.5 * (
            r @ np.linalg.solve(self.c, r)
            + np.linalg.slogdet(self.c)[1]
            + self.d * np.log(2 * np.pi)
        )


def _lse(vals, weights):
    top = max(vals)
    return top + mpmath.log(
        mpmath.fsum(w * mpmath.exp(v - top) for v, w in zip(vals, weights, strict=True))
    )


def _is_pd(cov) -> bool:
    return bool(np.all(np.linalg.eigvalsh(cov) > 0))


def reference(p, q, x, wanted):
    """Unit-scale reference values (mpmath numbers or floats) for the ``wanted`` functions."""
    (wp, mp_, cp), (wq, mq, cq) = p, q
    d = mp_.shape[1]
    cls = MpGauss if d <= 8 else NpGauss
    gp = [cls(mp_[i], cp[i]) for i in range(2)]
    gq = [cls(mq[i], cq[i]) for i in range(2)]
    wp_, wq_ = [mpmath.mpf(float(w)) for w in wp], [mpmath.mpf(float(w)) for w in wq]
    pd = all(_is_pd(c) for c in (*cp, *cq))
    out = {}
    if pd and any(f in wanted for f in L2_FAMILY):

        def inner(a, wa, b, wb):
            vals = [a[i].log_overlap(b[j]) for i in range(2) for j in range(2)]
            return _lse(vals, [wa[i] * wb[j] for i in range(2) for j in range(2)])

        lpp, lqq, lpq = inner(gp, wp_, gp, wp_), inner(gq, wq_, gq, wq_), inner(gp, wp_, gq, wq_)
        l2sq = mpmath.exp(lpp) + mpmath.exp(lqq) - 2 * mpmath.exp(lpq)
        out["log_l2_distance_squared"] = mpmath.log(l2sq)
        out["cauchy_schwarz_divergence"] = -lpq + 0.5 * (lpp + lqq)
    if pd and "kl_gaussian" in wanted:
        out["kl_gaussian"] = gp[0].kl(gq[0])
    if pd and "kl_divergence" in wanted:
        total = 0
        for i in range(2):
            num = _lse([-gp[i].kl(gp[j]) for j in range(2)], wp_)
            den = _lse([-gp[i].kl(gq[j]) for j in range(2)], wq_)
            total += wp_[i] * (num - den)
        out["kl_divergence"] = total
    if "w2_gaussian" in wanted or "mw2_distance" in wanted:
        cost = [[gp[i].w2sq(gq[j]) for j in range(2)] for i in range(2)]
        out["w2_gaussian"] = mpmath.sqrt(cost[0][0])
        # 2x2 transport: pi_00 = t on [max(0, a0 - b1), min(a0, b0)], cost linear in t.
        a0, b0, b1 = wp_[0], wq_[0], wq_[1]

        def plan_cost(t):
            pi = [[t, a0 - t], [b0 - t, 1 - a0 - b0 + t]]
            return mpmath.fsum(pi[i][j] * cost[i][j] for i in range(2) for j in range(2))

        lo, hi = max(mpmath.mpf(0), a0 - b1), min(a0, b0)
        out["mw2_distance"] = mpmath.sqrt(min(plan_cost(lo), plan_cost(hi)))
    if pd and "log_prob" in wanted:
        out["log_prob"] = [_lse([g.log_density(xi) for g in gp], wp_) for xi in x]
    return out


def scaled_reference(name, ref, k, d):
    """The reference at scale ``4**k`` (exact scaling laws), as a float."""
    if name == "log_prob":
        return [float(v - d * k * LN2) for v in ref]
    if name == "log_l2_distance_squared":
        return float(ref - d * k * LN2)
    if name == "l2_distance_squared":
        return float(mpmath.exp(ref["log"] - d * k * LN2))
    if name == "l2_distance":
        return float(mpmath.exp(0.5 * (ref["log"] - d * k * LN2)))
    if name in ("w2_gaussian", "mw2_distance"):
        return float(ref * mpmath.mpf(2) ** k)
    return float(ref)


# --------------------------------------------------------------------------- library


def library_calls():
    """``name -> jitted f(p, q, x)`` for mixtures ``p``, ``q`` and points ``x``."""

    def g0(g):
        return gj.Gaussian(g.means[0], g.covs[0], validate=False)

    table = {
        "l2_distance": lambda p, q, x: gj.l2_distance(p, q),
        "l2_distance_squared": lambda p, q, x: gj.l2_distance_squared(p, q),
        "log_l2_distance_squared": lambda p, q, x: gj.log_l2_distance_squared(p, q),
        "cauchy_schwarz_divergence": lambda p, q, x: gj.cauchy_schwarz_divergence(p, q),
        "kl_gaussian": lambda p, q, x: gj.kl_gaussian(g0(p), g0(q)),
        "kl_divergence": lambda p, q, x: gj.kl_divergence(p, q, method="variational"),
        "w2_gaussian": lambda p, q, x: gj.w2_gaussian(g0(p), g0(q)),
        "mw2_distance": lambda p, q, x: gj.mw2_distance(p, q),
        "log_prob": lambda p, q, x: p.log_prob(x),
    }
    return {k: jax.jit(v) for k, v in table.items()}


def make_gmm(arrays, k, dtype):
    w, m, c = arrays
    return gj.GMM(
        np.asarray(w, dtype),
        np.ldexp(np.asarray(m, dtype), k),
        np.ldexp(np.asarray(c, dtype), 2 * k),
    )


def accepted(arrays, k, dtype) -> bool:
    try:
        make_gmm(arrays, k, dtype)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------- measuring


def error(name, got, want, dtype):
    got = np.atleast_1d(np.asarray(got, np.float64))
    want = np.atleast_1d(np.asarray(want, np.float64))
    info = np.finfo(dtype)
    if name not in LOG_FUNCTIONS and np.any(
        (np.abs(want) > float(info.max)) | ((want != 0) & (np.abs(want) < float(info.tiny)))
    ):
        return None  # the exact value is not representable in this dtype
    if not np.all(np.isfinite(got)):
        return math.inf
    if name in LOG_FUNCTIONS:
        return float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
    return float(np.max(np.abs(got - want) / np.abs(want)))


def _outcome(call, p, q, x):
    """What a function returns where the exact value is undefined (a covariance that is not
    positive definite after rounding): ``"raises"`` (eager ``ValueError``), ``"NaN"`` or
    ``"finite!"`` (a silent wrong answer), each under ``jit``."""
    try:
        got = np.asarray(call(p, q, x))
    except ValueError:
        return "raises"
    return "undef: NaN" if np.any(np.isnan(got)) else "undef: finite!"


def _refuses(p, q) -> bool:
    """Whether the density-based functions refuse ``p`` or ``q`` eagerly (the jitted calls
    measured here skip that check)."""
    try:  # the public check: any density-based function called eagerly
        gj.cauchy_schwarz_divergence(p, q)
    except ValueError:
        return True
    return False


def measure(dtype_name, dims, conds, scales, functions, calls):
    """``{(name, d): {(scale, cond): (error, self_ratio)}}``."""
    dtype = np.dtype(dtype_name)
    results = {}
    for d in dims:
        names = [f for f in functions if d <= 32 or f in L2_FAMILY]
        for cond in conds if d > 1 else (1.0,):
            p_u, q_u, x_u = unit_inputs(d, cond)
            p_r, q_r = rounded(p_u, dtype), rounded(q_u, dtype)
            x_r = np.asarray(x_u, dtype).astype(np.float64)
            ref = reference(p_r, q_r, x_r, names)
            if "log_l2_distance_squared" in ref:
                ref["l2"] = {"log": ref["log_l2_distance_squared"]}
            for scale in scales:
                k = scale_exponent(scale)
                if not (accepted(p_r, k, dtype) and accepted(q_r, k, dtype)):
                    for name in names:
                        results.setdefault((name, d), {})[scale, cond] = ("refused", None)
                    continue
                p, q = make_gmm(p_r, k, dtype), make_gmm(q_r, k, dtype)
                x = np.ldexp(np.asarray(x_r, dtype), k)
                for name in names:
                    key = "l2" if name in ("l2_distance", "l2_distance_squared") else name
                    if name not in ("w2_gaussian", "mw2_distance") and _refuses(p, q):
                        results.setdefault((name, d), {})[scale, cond] = ("refused", None)
                        continue
                    if key not in ref:
                        results.setdefault((name, d), {})[scale, cond] = (
                            _outcome(calls[name], p, q, x),
                            None,
                        )
                        continue
                    want = scaled_reference(name, ref[key], k, d)
                    got = calls[name](p, q, x)
                    err = error(name, got, want, dtype)
                    if key == "l2":
                        half = 0.5 if name == "l2_distance" else 1.0
                        log_want = float(half * (ref["l2"]["log"] - d * k * LN2))
                        info = np.finfo(dtype)
                        if not math.log(info.tiny) < log_want < math.log(info.max):
                            err = None  # the exact value is outside the dtype's range
                    self_ratio = None
                    if name != "log_prob":
                        same = float(calls[name](p, p, x))
                        if name == "log_l2_distance_squared":
                            self_ratio = 0.0 if same == -math.inf else math.exp(same - want)
                        elif want and math.isfinite(want):
                            self_ratio = abs(same) / abs(want)
                    results.setdefault((name, d), {})[scale, cond] = (err, self_ratio)
    return results


# --------------------------------------------------------------------------- tables


def _fmt(v):
    if v is None:
        return "n/r"
    if isinstance(v, str):
        return v
    if v == math.inf or (isinstance(v, float) and math.isnan(v)):
        return "**inf/NaN**"
    return "0" if v == 0 else f"{v:.1e}"


def summary(results, conds, scales):
    """One row per (function, d): worst error and worst ``d(p,p)/d(p,q)`` over the grid."""
    lines = [
        "| function | d | max error | worst cell (scale, cond) | max d(p,p)/d(p,q) | not finite |"
    ]
    lines.append("|---|---|---|---|---|---|")
    for (name, d), cells in results.items():
        errs = [(e, key) for key, (e, _) in cells.items() if isinstance(e, float)]
        bad = [key for e, key in errs if not math.isfinite(e)]
        finite = [(e, key) for e, key in errs if math.isfinite(e)]
        worst = max(finite, default=(None, None))
        ratios = [r for _, r in cells.values() if r is not None]
        where = f"{worst[1][0]:.0e}, {worst[1][1]:.0e}" if worst[1] else "-"
        bad_txt = ", ".join(f"({s:.0e}, {c:.0e})" for s, c in bad) or "none"
        ratio = _fmt(max(ratios)) if ratios else "-"
        lines.append(f"| {name} | {d} | {_fmt(worst[0])} | {where} | {ratio} | {bad_txt} |")
    return "\n".join(lines)


def grid(results, name, d, conds, scales):
    """Error per (scale, cond) for one function and dimension."""
    cells = results[name, d]
    lines = ["| scale \\ cond | " + " | ".join(f"{c:.0e}" for c in conds) + " |"]
    lines.append("|---" * (len(conds) + 1) + "|")
    for s in scales:
        row = [_fmt(cells.get((s, c), ("-", None))[0]) for c in conds]
        lines.append(f"| {s:.0e} | " + " | ".join(row) + " |")
    return "\n".join(lines)


RATIOS = {
    "float64": (1e-16, 1e-12, 1e-8, 1e-4, 1e4, 1e8, 1e12, 1e16),
    "float32": (1e-12, 1e-8, 1e-4, 1e4, 1e8, 1e12),
}


def kl_scale_ratios(dtype_name, d=3):
    """``kl_gaussian(N(0, r B0), N(0, B1))`` against mpmath, full and diagonal, per ratio ``r``.

    The grid above scales ``p`` and ``q`` together; this measures the ratio of their scales,
    where ``x - 1 - log x`` of the closed form must keep ``log x`` for tiny ``x``.
    """
    dtype = np.dtype(dtype_name)
    (_, _, cp), (_, _, cq), _ = unit_inputs(d, 1e3)
    b0, b1 = (np.asarray(c[0], dtype) for c in (cp, cq))
    rows = ["| structure | " + " | ".join(f"r = {r:.0e}" for r in RATIOS[dtype_name]) + " |"]
    rows.append("|---" * (len(RATIOS[dtype_name]) + 1) + "|")
    kl = jax.jit(gj.kl_gaussian)
    for structure in ("full", "diagonal"):
        errs = []
        for r in RATIOS[dtype_name]:
            k = round(math.log2(r))
            c0 = np.ldexp(b0, k) if structure == "full" else np.ldexp(np.diag(b0).copy(), k)
            c1 = b1 if structure == "full" else np.diag(b1).copy()
            zero = np.zeros(d, dtype)
            want = MpGauss(zero, np.atleast_2d(np.diag(c0) if c0.ndim == 1 else c0)).kl(
                MpGauss(zero, np.atleast_2d(np.diag(c1) if c1.ndim == 1 else c1))
            )
            got = float(kl(gj.Gaussian(zero, c0), gj.Gaussian(zero, c1)))
            errs.append(error("kl_gaussian", got, float(want), dtype))
        rows.append(f"| {structure} | " + " | ".join(_fmt(e) for e in errs) + " |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="d <= 8, three scales, three conds")
    parser.add_argument("--dtype", choices=("both", "float32", "float64"), default="both")
    parser.add_argument("--functions", nargs="*", default=list(FUNCTIONS))
    parser.add_argument("--json", help="also write the raw cells here")
    args = parser.parse_args(argv)
    if not jax.config.read("jax_enable_x64"):
        sys.exit("run with JAX_ENABLE_X64=1 (float32 inputs are passed explicitly)")
    mpmath.mp.dps = DPS
    conds = (1.0, 1e6, 1e12) if args.quick else CONDS
    dims = (1, 2, 8) if args.quick else L2_DIMS
    calls = library_calls()
    dtypes = ("float64", "float32") if args.dtype == "both" else (args.dtype,)
    print(f"# gmmjax numerics contract, {platform.machine()} CPU, jax {jax.__version__}\n")
    raw = {}
    for dtype in dtypes:
        scales = SCALES[dtype][1:-1] if args.quick else SCALES[dtype]
        t0 = time.perf_counter()
        res = measure(dtype, dims, conds, scales, args.functions, calls)
        print(f"## {dtype} ({time.perf_counter() - t0:.0f} s)\n")
        print(summary(res, conds, scales) + "\n")
        for name, d in res:
            if d in (2, 32) or (name in L2_FAMILY and d == 128):
                print(f"### {dtype}: {name}, d = {d}\n")
                print(grid(res, name, d, conds, scales) + "\n")
        if "kl_gaussian" in args.functions:
            print(f"### {dtype}: kl_gaussian at scale ratios (d = 3, cond 1e3)\n")
            print(kl_scale_ratios(dtype) + "\n")
        raw[dtype] = {
            f"{n}|{d}|{s:g}|{c:g}": v
            for (n, d), cells in res.items()
            for (s, c), v in cells.items()
        }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
