"""Many small EM fits in one call: ``jax.jit(jax.vmap(fit_em))`` vs a scikit-learn loop.

1,000 data sets of 500 points each (``--quick``: 100), each drawn from its own random
4-component mixture in 2-D. gmmjax fits them all in one jitted, vmapped call of
:func:`gmmjax.fit_em` (K = 4, full covariances, ``max_iter=100``, ``tol=1e-3``,
``reg_covar=1e-6``, k-means++ start); the first call (compilation included) and the second
call (same shapes, timed) are reported separately. scikit-learn fits the same data sets one
after the other in a Python loop, ``GaussianMixture(4, covariance_type="full", max_iter=100,
tol=1e-3, init_params=...)`` with ``"k-means++"`` (the start closest to ours) and
``"random"``. Reported: times, the ratio, and the mean log-likelihood per sample of the final
fits averaged over the data sets (each library from its own start, so these agree only on
average). ``--sklearn-sets M`` times the scikit-learn loop on the first ``M`` sets only and
scales its time to all of them (said in the output).

``--photos``: instead, best of three starts on real data. 20,000 pixels (a fixed random
subset, RGB scaled to [0, 1]) of each of scikit-learn's two sample photographs
(``load_sample_image("china.jpg")`` and ``"flower.jpg"``), K = 8, full covariances, float64:
``fit_em(x, 8, key, init="kmeans", n_init=3)`` (first call with compilation, then one timed
call per seed) against ``GaussianMixture(8, n_init=3, covariance_type="full",
random_state=seed)`` (its default k-means start), seeds ``0 .. --seeds - 1``; reported: wall
time and mean log-likelihood per sample of each, and their difference.

Run: ``python benchmarks/bench_em.py`` (float32, the JAX default; ``--x64`` for float64);
``python benchmarks/bench_em.py --photos`` (always float64).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_enable_concurrency_optimized_scheduler=false")

import numpy as np


def _data(n_sets: int, n: int, k: int, d: int, seed: int = 0) -> np.ndarray:
    """``(n_sets, n, d)`` points, each set from its own random mixture."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_sets, n, d))
    for s in range(n_sets):
        centres = rng.uniform(-6, 6, size=(k, d))
        scales = rng.uniform(0.3, 1.5, size=(k, d))
        idx = rng.choice(k, size=n, p=rng.dirichlet(np.full(k, 3.0)))
        out[s] = centres[idx] + rng.normal(size=(n, d)) * scales[idx]
    return out


def _photo_pixels(name: str, n: int = 20_000) -> np.ndarray:
    """``(n, 3)`` RGB pixels in [0, 1] of a scikit-learn sample photograph, a fixed subset."""
    from sklearn.datasets import load_sample_image

    pixels = load_sample_image(name).reshape(-1, 3) / 255.0
    return pixels[np.random.default_rng(0).choice(len(pixels), n, replace=False)]


def photos(seeds: int) -> None:
    """Best of three k-means starts on photograph pixels, gmmjax and scikit-learn."""
    import jax
    import jax.numpy as jnp
    from sklearn.mixture import GaussianMixture

    import gmmjax as gj

    fit = jax.jit(lambda x, key: gj.fit_em(x, 8, key, init="kmeans", n_init=3))
    print(f"load average at start: {os.getloadavg()[0]:.2f}; nproc={os.cpu_count()}")
    print(
        "| photograph | seed | gmmjax time | gmmjax log-lik | iters | sklearn time "
        "| sklearn log-lik | iters | gmmjax - sklearn |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in ("china.jpg", "flower.jpg"):
        x_np = _photo_pixels(name)
        x = jnp.asarray(x_np, jnp.float64)
        t0 = time.perf_counter()
        jax.block_until_ready(fit(x, jax.random.key(seeds)))
        print(f"{name}: first call (compilation included) {time.perf_counter() - t0:.1f} s")
        for seed in range(seeds):
            t0 = time.perf_counter()
            out = jax.block_until_ready(fit(x, jax.random.key(seed)))
            ours = time.perf_counter() - t0
            t0 = time.perf_counter()
            ref = GaussianMixture(8, n_init=3, covariance_type="full", random_state=seed).fit(x_np)
            theirs = time.perf_counter() - t0
            ll, ll_ref = float(out.mean_log_likelihood), ref.score(x_np)
            print(
                f"| {name} | {seed} | {ours:.2f} s | {ll:.5f} | {int(out.n_iter)} | "
                f"{theirs:.2f} s | {ll_ref:.5f} | {ref.n_iter_} | {ll - ll_ref:+.1e} |",
                flush=True,
            )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 data sets instead of 1,000")
    parser.add_argument("--sets", type=int, default=None)
    parser.add_argument(
        "--sklearn-sets",
        type=int,
        default=None,
        help="time the scikit-learn loop on the first this many sets only and scale its time "
        "to all sets (default: all sets)",
    )
    parser.add_argument("--x64", action="store_true", help="float64 for gmmjax")
    parser.add_argument("--photos", action="store_true", help="the photograph comparison")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of --photos")
    args = parser.parse_args()
    if args.photos:
        os.environ["JAX_ENABLE_X64"] = "1"
        photos(args.seeds)
        return
    if args.x64:
        os.environ["JAX_ENABLE_X64"] = "1"
    import jax
    import jax.numpy as jnp
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    import gmmjax as gj

    n_sets = args.sets or (100 if args.quick else 1000)
    n, k, d = 500, 4, 2
    xs_np = _data(n_sets, n, k, d)
    print(f"load average at start: {os.getloadavg()[0]:.2f}; nproc={os.cpu_count()}")
    print(f"jax {jax.__version__}, x64={jax.config.read('jax_enable_x64')}")

    xs = jnp.asarray(xs_np)
    keys = jax.random.split(jax.random.key(0), n_sets)
    fit = jax.jit(jax.vmap(lambda x, key: gj.fit_em(x, k, key, max_iter=100, tol=1e-3)))
    t0 = time.perf_counter()
    jax.block_until_ready(fit(xs, keys))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = jax.block_until_ready(fit(xs, keys))
    second = time.perf_counter() - t0
    ll_ours = jax.vmap(lambda g, x: jnp.mean(g.log_prob(x)))(out.gmm, xs)
    print(
        f"gmmjax jit(vmap(fit_em)) on {n_sets} sets: first call {first:.2f} s, "
        f"second call {second:.3f} s; mean log-likelihood {float(jnp.mean(ll_ours)):.4f}; "
        f"converged {int(jnp.sum(out.converged))}/{n_sets}; mean n_iter "
        f"{float(jnp.mean(out.n_iter)):.1f}"
    )

    m = min(args.sklearn_sets or n_sets, n_sets)
    if m < n_sets:
        print(
            f"scikit-learn on the first {m} sets, time scaled by {n_sets / m:g}; gmmjax on the "
            f"same {m} sets: mean log-likelihood {float(jnp.mean(ll_ours[:m])):.4f}"
        )
    for init in ("k-means++", "random"):
        lls, iters, conv = [], [], 0
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for s in range(m):
                gm = GaussianMixture(
                    k,
                    covariance_type="full",
                    max_iter=100,
                    tol=1e-3,
                    init_params=init,
                    random_state=s,
                ).fit(xs_np[s])
                lls.append(gm.score(xs_np[s]))
                iters.append(gm.n_iter_)
                conv += gm.converged_
        loop = (time.perf_counter() - t0) * n_sets / m
        print(
            f"scikit-learn loop init_params={init!r}: {loop:.2f} s for {n_sets} sets; mean "
            f"log-likelihood {np.mean(lls):.4f}; converged {conv}/{m}; mean n_iter "
            f"{np.mean(iters):.1f}; "
            f"loop / gmmjax second call = {loop / second:.1f}x"
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
