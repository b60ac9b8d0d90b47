"""Colour transfer between two photographs: mixture transport (gmmjax) vs POT's sample-based maps.

The source is scikit-learn's ``china.jpg``, the target ``flower.jpg`` (both 427 x 640 pixels,
RGB scaled to [0, 1], no download). Each method maps every one of the source's 273,280 pixels.

* gmmjax (Delon & Desolneux 2020, §6): :func:`gmmjax.fit_em` with ``K`` full-covariance
  components on ALL pixels of each image, the mixture plan :func:`gmmjax.mw2_plan` (Chen,
  Georgiou & Tannenbaum 2019), then :func:`gmmjax.mw2_transport_map` on every source pixel,
  once with ``method="mean"`` and once with ``method="random"``. With ``--fit-pixels N`` the
  same pipeline also runs with EM on ``N`` random pixels of each image (still mapping every
  pixel), in the same process, as extra rows.
* POT, as its colour-adaptation example does it: ``ot.da.EMDTransport()`` and
  ``ot.da.SinkhornTransport(reg_e=1e-1)`` fitted on 1,000 pixels drawn from each image
  (``numpy.random.RandomState(seed).randint``), then ``transform(Xs=<all source pixels>)``
  (barycentric map of the sample plan, moved to every pixel by its nearest sampled pixel).
  POT's ``transform`` works in batches of 128 pixels and recomputes the normalised
  1,000 x 1,000 plan and its product with the target samples for every batch; the EMD row is
  also timed with ``batch_size=4096`` (the same result: the batches are independent).

Time: the whole pipeline, wall clock (fit both mixtures + plan + map every pixel; POT: fit on
the samples + transform of the image). gmmjax's first run in the process includes XLA
compilation and is reported on its own ("cold"); the other runs reuse the compiled programs.

Quality, on the full images, after clipping to [0, 1] (what is shown; POT's example clips the
same way): the sliced W2 distance between the transferred pixels and the target's pixels,
:math:`SW_2(\\mu,\\nu)^2 = \\frac1L\\sum_{l=1}^{L} W_2^2(\\theta_l^T\\mu, \\theta_l^T\\nu)` over
``L`` random directions :math:`\\theta_l` on the sphere. Both images have the same number of
pixels, so each 1-D :math:`W_2^2` is the mean squared difference of the sorted projections
(computed here, and checked once against ``ot.sliced_wasserstein_distance`` on the same
directions). Also: the error of the mean, :math:`\\|\\bar y - \\bar t\\|_2`, and the relative
error of the covariance, :math:`\\|\\mathrm{Cov}(y) - \\mathrm{Cov}(t)\\|_F /
\\|\\mathrm{Cov}(t)\\|_F`. Every figure is the mean over ``--seeds`` runs (EM keys, map keys
and POT's samples change with the seed), with the range in brackets.

Run: ``python benchmarks/bench_colour_transfer.py`` (gmmjax in float32, the JAX default;
``--x64`` for float64; POT works in float64 either way).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_enable_concurrency_optimized_scheduler=false")

import numpy as np


def _pixels(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    image = load_sample_image(name)
    return image.reshape(-1, 3).astype(np.float64) / 255.0


def sliced_w2(y: np.ndarray, t: np.ndarray, directions: np.ndarray, chunk: int = 32) -> float:
    """Sliced W2 between two point sets of the same size along the unit ``directions`` (d, L)."""
    if y.shape != t.shape:
        raise ValueError(f"sliced_w2 needs point sets of one shape; got {y.shape} and {t.shape}")
    total = 0.0
    for start in range(0, directions.shape[1], chunk):
        theta = directions[:, start : start + chunk]
        gap = np.sort(y @ theta, axis=0) - np.sort(t @ theta, axis=0)
        total += float(np.sum(np.mean(gap**2, axis=0)))
    return float(np.sqrt(total / directions.shape[1]))


def quality(y: np.ndarray, t: np.ndarray, directions: np.ndarray) -> tuple[float, float, float]:
    """``(sliced W2, mean error, relative covariance error)`` of ``clip(y)`` against ``t``."""
    y = np.clip(y, 0.0, 1.0)
    cov_t = np.cov(t, rowvar=False)
    mean_err = float(np.linalg.norm(y.mean(axis=0) - t.mean(axis=0)))
    cov_err = float(np.linalg.norm(np.cov(y, rowvar=False) - cov_t) / np.linalg.norm(cov_t))
    return sliced_w2(y, t, directions), mean_err, cov_err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=8, help="mixture components (default 8)")
    parser.add_argument("--init", default="kmeans++", help="fit_em's init (default kmeans++)")
    parser.add_argument("--n-init", type=int, default=1, help="fit_em's n_init (default 1)")
    parser.add_argument("--samples", type=int, default=1000, help="POT's pixels per image")
    parser.add_argument("--seeds", type=int, default=3, help="runs per method (default 3)")
    parser.add_argument("--directions", type=int, default=256, help="sliced W2 directions")
    parser.add_argument("--x64", action="store_true", help="float64 for gmmjax")
    parser.add_argument(
        "--fit-pixels",
        type=int,
        default=0,
        help="also fit the mixtures on this many random pixels of each image (every pixel is "
        "still mapped); 0 (default): all pixels only",
    )
    parser.add_argument("--no-pot", action="store_true", help="skip POT's rows (gmmjax only)")
    args = parser.parse_args()
    if args.x64:
        os.environ["JAX_ENABLE_X64"] = "1"
    import jax
    import jax.numpy as jnp
    import ot
    from _timing import machine, table

    import gmmjax as gj

    print(machine())
    source, target = _pixels("china.jpg"), _pixels("flower.jpg")
    n = source.shape[0]
    rng = np.random.default_rng(12345)
    directions = rng.normal(size=(3, args.directions))
    directions /= np.linalg.norm(directions, axis=0)
    print(
        f"{n} pixels each; K = {args.k}, fit_em(init={args.init!r}, n_init={args.n_init}); "
        f"POT on {args.samples} sampled pixels; sliced W2 over {args.directions} directions"
    )
    ours_sw = sliced_w2(source, target, directions)
    pot_sw = ot.sliced_wasserstein_distance(source, target, projections=directions)
    print(
        f"sliced W2(source, target): ours {ours_sw:.6f}, ot.sliced_wasserstein_distance "
        f"{float(pot_sw):.6f} (same directions)"
    )

    dtype = jnp.float64 if args.x64 else jnp.float32
    xs, xt = jnp.asarray(source, dtype), jnp.asarray(target, dtype)
    options = {"init": args.init}
    if args.n_init != 1:
        options["n_init"] = args.n_init

    def ours(seed: int, fit_pixels: int = 0) -> dict:
        keys = jax.random.split(jax.random.key(seed), 3)
        times = {}
        start = time.perf_counter()
        fit_xs, fit_xt = xs, xt
        if fit_pixels:  # the same random pixels of both images (they have the same size)
            picked = np.random.default_rng(seed).choice(n, fit_pixels, replace=False)
            fit_xs, fit_xt = xs[picked], xt[picked]
        fit_s = gj.fit_em(fit_xs, args.k, keys[0], **options)
        fit_t = gj.fit_em(fit_xt, args.k, keys[1], **options)
        jax.block_until_ready((fit_s.gmm, fit_t.gmm))
        times["fit"] = time.perf_counter() - start
        start = time.perf_counter()
        plan = jax.block_until_ready(gj.mw2_plan(fit_s.gmm, fit_t.gmm))
        times["plan"] = time.perf_counter() - start
        maps = {}
        for method in ("mean", "random"):
            start = time.perf_counter()
            y = gj.mw2_transport_map(
                fit_s.gmm, fit_t.gmm, xs, method=method, key=keys[2], plan=plan
            )
            maps[method] = np.asarray(jax.block_until_ready(y), np.float64)
            times[method] = time.perf_counter() - start
        iters = (int(fit_s.n_iter), int(fit_t.n_iter))
        return {"times": times, "maps": maps, "iters": iters}

    def pot(method: str, seed: int, batch_size: int = 128) -> tuple[float, np.ndarray]:
        draw = np.random.RandomState(seed)
        xs_s = source[draw.randint(n, size=args.samples)]
        xt_s = target[draw.randint(n, size=args.samples)]
        mapper = ot.da.EMDTransport() if method == "emd" else ot.da.SinkhornTransport(reg_e=1e-1)
        start = time.perf_counter()
        mapper.fit(Xs=xs_s, Xt=xt_s)
        y = mapper.transform(Xs=source, batch_size=batch_size)
        return time.perf_counter() - start, y

    peers = {"emd": ("emd", 128), "emd4096": ("emd", 4096), "sinkhorn": ("sinkhorn", 128)}
    if args.no_pot:
        peers = {}
    variants = {"": 0, "_sub": args.fit_pixels} if args.fit_pixels else {"": 0}
    ours_rows = [method + v for v in variants for method in ("mean", "random")]
    rows = {name: {"time": [], "q": []} for name in (*ours_rows, *peers)}
    cold = {}
    for seed in range(args.seeds):
        for variant, fit_pixels in variants.items():
            run = ours(seed, fit_pixels)
            cold.setdefault(variant, run["times"])
            t = run["times"]
            print(
                f"gmmjax seed {seed}, EM on {fit_pixels or n} pixels: fits {t['fit']:.2f} s (EM "
                f"iterations {run['iters']}), plan {t['plan']:.3f} s, mean map {t['mean']:.2f} s,"
                f" random map {t['random']:.2f} s"
                + (" (cold: compilation included)" if seed == 0 else "")
            )
            for method in ("mean", "random"):
                if seed > 0 or args.seeds == 1:
                    rows[method + variant]["time"].append(t["fit"] + t["plan"] + t[method])
                rows[method + variant]["q"].append(quality(run["maps"][method], target, directions))
        for name, (method, batch_size) in peers.items():
            elapsed, y = pot(method, seed, batch_size)
            print(f"POT {name} seed {seed}: fit + transform {elapsed:.2f} s")
            rows[name]["time"].append(elapsed)
            rows[name]["q"].append(quality(y, target, directions))

    def spread(values: list[float], digits: int = 3) -> str:
        v = np.asarray(values)
        if v.size == 1:
            return f"{v[0]:.{digits}g}"
        return f"{v.mean():.{digits}g} [{v.min():.{digits}g}, {v.max():.{digits}g}]"

    names = {
        "mean": "gmmjax mixture plan, mean map",
        "random": "gmmjax mixture plan, random map",
        "emd": "POT EMDTransport (1,000 samples)",
        "emd4096": "POT EMDTransport, transform(batch_size=4096)",
        "sinkhorn": "POT SinkhornTransport reg_e=0.1 (1,000 samples)",
    }
    for method in ("mean", "random"):
        names[method + "_sub"] = f"{names[method]}, EM on {args.fit_pixels:,} pixels"
    headers = ["method", "time (s)", "sliced W2", "mean error", "covariance error (rel.)"]
    body = []
    for key, row in rows.items():
        q = np.asarray(row["q"])
        body.append([names[key], spread(row["time"]), *(spread(list(q[:, i])) for i in range(3))])
    body.append(
        ["(source untouched)", "-", *(f"{v:.3g}" for v in quality(source, target, directions))]
    )
    for variant, times in cold.items():
        for method in ("mean", "random"):
            total = times["fit"] + times["plan"] + times[method]
            print(f"{names[method + variant]}, cold (compilation included): {total:.2f} s")
    print()
    print(table(headers, body))
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
