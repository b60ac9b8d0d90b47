"""Wall-clock time of :func:`gmmjax.fit_weights` on 50,000 points (the scale of Lu et al. 2023).

Two fits with the default settings (loss ``"nll"``, 300 steps, five smoothing widths run
together, 10% held out): a 1-D basis of 200 components and a 2-D tensor basis of 20 x 20
components. Each is timed twice: the first call includes compilation, the second reuses the
compiled loop (same shapes); both are repeated with minibatches of 4,096 points
(``batch_size=4096``: the features of a batch are computed inside the loop).
scikit-learn's ``GaussianMixture`` on the same data is timed
beside them (1-D: 8 components; 2-D: 16 components, full covariances, one initialisation).

Run: ``python benchmarks/learner_speed.py`` (float32, the JAX default).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_enable_concurrency_optimized_scheduler=false")

import jax
import numpy as np

from gmmjax import fit_weights, grid_basis


def _data(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    centres = rng.uniform(-5, 5, size=(6, d))
    idx = rng.integers(6, size=n)
    return centres[idx] + rng.normal(size=(n, d)) * rng.uniform(0.3, 1.5, size=(6, d))[idx]


def _time_fit(basis, x, **kwargs) -> tuple[float, float, float]:
    times = []
    for _ in range(2):
        start = time.perf_counter()
        fit = fit_weights(basis, x, **kwargs)
        jax.block_until_ready(fit.logits)
        times.append(time.perf_counter() - start)
    return times[0], times[1], float(fit.validation_loss)


def _time_sklearn(x, k) -> float:
    from sklearn.mixture import GaussianMixture

    start = time.perf_counter()
    GaussianMixture(k, random_state=0).fit(x)
    return time.perf_counter() - start


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    x1 = _data(rng, 50_000, 1)
    b1 = grid_basis(x1, 200, 2.0)
    first, second, _ = _time_fit(b1, x1)
    rows.append(("1-D, 200 components, 50,000 points", first, second, _time_sklearn(x1, 8)))
    first, second, _ = _time_fit(b1, x1, batch_size=4096)
    rows.append(("same, minibatches of 4,096", first, second, float("nan")))
    x2 = _data(rng, 50_000, 2)
    b2 = grid_basis(x2, 20, 2.0)
    first, second, _ = _time_fit(b2, x2)
    rows.append(("2-D, 20x20 components, 50,000 points", first, second, _time_sklearn(x2, 16)))
    first, second, _ = _time_fit(b2, x2, batch_size=4096)
    rows.append(("same, minibatches of 4,096", first, second, float("nan")))
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, {os.cpu_count()} CPUs")
    print("| fit | first call (with compile) [s] | second call [s] | sklearn GaussianMixture [s] |")
    print("| --- | --- | --- | --- |")
    for name, a, b, c in rows:
        print(f"| {name} | {a:.2f} | {b:.2f} | {c:.2f} |")


if __name__ == "__main__":
    main()
