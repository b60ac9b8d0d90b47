"""Random discrete OT problems of every awkward kind, for the exact solver's agreement checks.

Shared by ``tests/test_exact_device.py`` (a few hundred cases) and
``benchmarks/bench_exact_agreement.py`` (10,000 cases); :func:`mixture_collection` gives the
mixture batches of the transport benchmarks. Each problem of size ``(n, m)`` is
padded to a fixed ``(size, size)`` with zero weights and random costs, so that one compiled
solver serves every size (zero-weight rows and columns must change nothing).
"""

from __future__ import annotations

import numpy as np

KINDS = ("random", "ties", "zero_weights", "one_point", "degenerate", "constant")


def one_problem(rng: np.random.Generator, kind: str, max_size: int) -> tuple:
    """``(a, b, c)`` of one problem of the given kind, float64, sizes ``1..max_size``."""
    n, m = (int(x) for x in rng.integers(1, max_size + 1, 2))
    if kind == "one_point":
        n, m = (1, m) if rng.random() < 0.5 else (n, 1)
    if kind == "degenerate":  # equal marginals and a permutation-structured cost
        m = n
    a = rng.dirichlet(np.ones(n))
    b = rng.dirichlet(np.ones(m))
    c = rng.random((n, m)) * rng.choice([1.0, 10.0, 1e3])
    if kind == "ties":
        c = np.round(c / c.max() * 3.0)
    elif kind == "zero_weights":
        a[rng.random(n) < 0.3] = 0.0
        b[rng.random(m) < 0.3] = 0.0
        a[rng.integers(n)] += 0.5
        b[rng.integers(m)] += 0.5
    elif kind == "degenerate":
        a = b = np.full(n, 1.0 / n)
        c = np.round(3.0 * (1.0 - np.eye(n)[rng.permutation(n)]) + rng.integers(0, 2, (n, n)))
    elif kind == "constant":
        c = np.full((n, m), float(rng.random()))
    return a / a.sum(), b / b.sum(), c


def pad(problems: list, size: int, rng: np.random.Generator) -> tuple:
    """Stack problems into ``(count, size)`` weights and ``(count, size, size)`` costs.

    Padding rows and columns get weight 0 and random costs on the scale of the problem's own.
    """
    count = len(problems)
    pa, pb = np.zeros((count, size)), np.zeros((count, size))
    pc = rng.random((count, size, size))
    for t, (a, b, c) in enumerate(problems):
        n, m = c.shape
        pc[t] *= max(1.0, float(c.max()))
        pa[t, :n], pb[t, :m], pc[t, :n, :m] = a, b, c
    return pa, pb, pc


def padded_batch(rng: np.random.Generator, count: int, size: int) -> tuple:
    """``count`` problems of every kind in turn, sizes up to ``size``, padded to it.

    Returns ``(a, b, c, problems)``: the padded arrays and the list of unpadded ``(a, b, c)``.
    """
    problems = [one_problem(rng, KINDS[t % len(KINDS)], size) for t in range(count)]
    return (*pad(problems, size, rng), problems)


def mixture_collection(rng: np.random.Generator, b: int, k: int, d: int) -> tuple:
    """Weights ``(b, k)``, means ``(b, k, d)`` and SPD covariances ``(b, k, d, d)``, float64."""
    a = rng.standard_normal((b, k, d, d))
    covs = a @ np.swapaxes(a, -1, -2) / d + 0.3 * np.eye(d)
    means = 2.0 * rng.standard_normal((b, k, d))
    weights = rng.dirichlet(np.ones(k), b)
    return weights, means, covs
