"""``gmmjax fit`` with its defaults against scikit-learn's best ``GaussianMixture``.

Four data sets, 5,000 training and 5,000 held-out points each, drawn with fixed random
generators: two blobs in 2-D (unit-variance Gaussians centred at :math:`(\\pm 3, 0)`), a ring
(radius :math:`3 + 0.3\\,\\varepsilon`, uniform angle), a uniform square :math:`[-1, 1]^2` and a
skewed 1-D density (Gamma with shape 2, scale 1).

Ours is what ``gmmjax fit DATA --components N`` does without ``--t``, ``--loss`` or
``--steps``: the width ``t`` is chosen by held-out likelihood, then the weights of
``grid_basis(x, N, t)`` are fitted with the ``nll`` loss and the default steps
(:func:`gmmjax.fit_weights`). ``--components`` has no default; each data set is run at the
per-axis count of the issue's example (10 in 2-D, 20 in 1-D) and one finer grid (20 in 2-D,
100 in 1-D). The width comes from :func:`gmmjax.select_grid_width`, the rule of the command
(calling the command's own helpers would also print its messages).

scikit-learn: ``GaussianMixture(k, covariance_type="full", n_init=1, random_state=0)`` for
``k = 1 .. 10``; the best held-out mean log-likelihood is reported with its ``k`` (a choice
made on the held-out points themselves, so it favours scikit-learn).

Reported: held-out mean log-likelihood per sample (nats) of each, their difference (ours
minus scikit-learn's; positive means ours is better), the chosen ``t``, whether the grid was
flagged too coarse, and wall times (ours: selection + fit, compilation included; scikit-learn:
all ten fits). Beside them, the same held-out mean of the true density's log (the expected
score of a perfect fit, up to sampling noise): no estimator can beat another by more than the
gap between that one and the truth.

Run: ``python benchmarks/bench_cli_defaults.py`` (float32, the JAX default).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_enable_concurrency_optimized_scheduler=false")

import numpy as np
from scipy import stats
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture

import gmmjax as gj

N_POINTS = 5_000


def two_blobs(rng: np.random.Generator, n: int) -> np.ndarray:
    side = np.where(rng.integers(0, 2, n) == 0, -3.0, 3.0)
    return rng.normal(size=(n, 2)) + np.stack([side, np.zeros(n)], axis=1)


def ring(rng: np.random.Generator, n: int) -> np.ndarray:
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    radius = 3.0 + 0.3 * rng.normal(size=n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def square(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, (n, 2))


def gamma(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.gamma(2.0, 1.0, (n, 1))


def two_blobs_log_density(x: np.ndarray) -> np.ndarray:
    parts = [stats.multivariate_normal([c, 0.0], np.eye(2)).logpdf(x) for c in (-3.0, 3.0)]
    return logsumexp(parts, axis=0) - np.log(2.0)


def ring_log_density(x: np.ndarray) -> np.ndarray:
    """Radius ``N(3, 0.3^2)``, uniform angle: ``N(r; 3, 0.3^2) / (2 pi r)`` (``r < 0`` ignored,
    a ten-sigma event)."""
    r = np.hypot(x[:, 0], x[:, 1])
    return stats.norm(3.0, 0.3).logpdf(r) - np.log(2.0 * np.pi * r)


def square_log_density(x: np.ndarray) -> np.ndarray:
    return np.where(np.all(np.abs(x) <= 1.0, axis=1), -np.log(4.0), -np.inf)


def gamma_log_density(x: np.ndarray) -> np.ndarray:
    return stats.gamma(2.0).logpdf(x[:, 0])


# name, sampler, true log-density, per-axis counts (the example first, then finer)
DATA_SETS = (
    ("two blobs (2-D)", two_blobs, two_blobs_log_density, (10, 20)),
    ("ring (2-D)", ring, ring_log_density, (10, 20)),
    ("uniform square (2-D)", square, square_log_density, (10, 20)),
    ("gamma(2) (1-D)", gamma, gamma_log_density, (20, 100)),
)


def ours(x: np.ndarray, x_test: np.ndarray, n: int) -> tuple[float, float, bool, float]:
    """Held-out score, chosen t, coarse flag and seconds of the ``gmmjax fit`` defaults."""
    start = time.perf_counter()
    choice = gj.select_grid_width(x, n)
    fit = gj.fit_weights(gj.grid_basis(x, n, choice.t), x, loss="nll")
    score = float(np.mean(np.asarray(fit.gmm.log_prob(x_test))))
    return score, choice.t, bool(choice.grid_too_coarse), time.perf_counter() - start


def sklearn_best(x: np.ndarray, x_test: np.ndarray) -> tuple[float, int, float]:
    """Best held-out score over 1..10 components, its count and the seconds of all fits."""
    start = time.perf_counter()
    scores = [
        GaussianMixture(k, covariance_type="full", n_init=1, random_state=0).fit(x).score(x_test)
        for k in range(1, 11)
    ]
    best = int(np.argmax(scores))
    return float(scores[best]), best + 1, time.perf_counter() - start


def main() -> None:
    print(
        "| data | grid | chosen t | coarse warning | ours (nats) | sklearn best (k) "
        "| ours - sklearn | true density (nats) | ours (s) | sklearn (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for index, (name, sampler, log_density, counts) in enumerate(DATA_SETS):
        rng = np.random.default_rng(index)
        x, x_test = sampler(rng, N_POINTS), sampler(rng, N_POINTS)
        truth = float(np.mean(log_density(x_test)))
        sk_score, sk_k, sk_seconds = sklearn_best(x, x_test)
        for n in counts:
            score, t, coarse, seconds = ours(x, x_test, n)
            grid = " x ".join([str(n)] * x.shape[1])
            print(
                f"| {name} | {grid} | {t:g} | {'yes' if coarse else 'no'} | {score:.3f} "
                f"| {sk_score:.3f} ({sk_k}) | {score - sk_score:+.3f} | {truth:.3f} "
                f"| {seconds:.1f} | {sk_seconds:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
