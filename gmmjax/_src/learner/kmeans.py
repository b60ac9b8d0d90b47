"""k-means clustering in fixed shapes: :math:`D^2` seeding, then Lloyd iterations.

The start of :func:`~gmmjax.fit_em` for ``init="kmeans"`` and ``"kmeans++"``. Every loop is a
bounded ``lax.fori_loop`` / ``lax.while_loop`` over ``(N, K)`` arrays (memory
:math:`O(NK + Nd)`), so the functions run under ``jit`` and ``vmap``.

References:
    D. Arthur, S. Vassilvitskii, "k-means++: the advantages of careful seeding" (SODA 2007):
    the :math:`D^2` seeding, and (their §6) the greedy variant that draws several candidates
    per centre and keeps the one that lowers the potential most.

    S. P. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28 (1982): the
    alternating assignment / centroid iteration.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["KMeansResult", "kmeans", "kmeans_plusplus", "lloyd", "nearest_centres"]


class KMeansResult(NamedTuple):
    """What :func:`kmeans` returns (a pytree).

    Attributes:
        centres: ``(K, d)`` cluster centres.
        labels: ``(N,)`` index of each point's nearest centre (int32).
        inertia: sum of squared distances of the points to their nearest centre.
        n_iter: Lloyd iterations run.
        converged: whether the labels stopped changing or the centres moved less than the
            tolerance before ``max_iter``.
    """

    centres: jax.Array
    labels: jax.Array
    inertia: jax.Array
    n_iter: jax.Array
    converged: jax.Array


def _sq_distances(x: jax.Array, centres: jax.Array) -> jax.Array:
    """``(N, K)`` squared distances :math:`\\|x\\|^2 - 2x^Tc + \\|c\\|^2`, floored at 0."""
    d2 = jnp.sum(x**2, axis=1)[:, None] - 2.0 * x @ centres.T + jnp.sum(centres**2, axis=1)
    return jnp.maximum(d2, 0.0)


def nearest_centres(x: jax.Array, centres: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(N,)`` labels of the nearest centres and ``(N,)`` squared distances to them."""
    d2 = _sq_distances(x, centres)
    labels = jnp.argmin(d2, axis=1).astype(jnp.int32)
    return labels, jnp.take_along_axis(d2, labels[:, None], axis=1)[:, 0]


def kmeans_plusplus(
    x: jax.Array, k: int, key: jax.Array, n_local_trials: int | None = None
) -> jax.Array:
    """``(K, d)`` centres by greedy :math:`D^2` seeding (Arthur and Vassilvitskii 2007).

    The first centre is a uniformly drawn point; each next one is drawn from the points with
    probability proportional to :math:`D(x)^2`, the squared distance to the nearest centre so
    far. With ``n_local_trials = L > 1``, ``L`` candidates are drawn and the one minimising
    the potential :math:`\\sum_n \\min(D(x_n)^2, \\|x_n - c\\|^2)` is kept.

    Args:
        x: ``(N, d)`` points.
        k: number of centres (static).
        key: PRNG key.
        n_local_trials: candidates per centre (static); ``None``: ``2 + floor(log k)``, the
            choice of Arthur and Vassilvitskii's experiments and of scikit-learn.
    """
    n = x.shape[0]
    trials = 2 + int(math.log(k)) if n_local_trials is None else n_local_trials
    keys = jax.random.split(key, k)
    first = x[jax.random.randint(keys[0], (), 0, n)]
    centres = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(first)
    d2 = jnp.sum((x - first) ** 2, axis=1)

    def pick(j: int, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        centres, d2 = carry
        total = jnp.sum(d2)
        p = jnp.where(total > 0, d2 / jnp.where(total > 0, total, 1.0), 1.0 / n)
        if trials == 1:
            c = x[jax.random.choice(keys[j], n, p=p)]
            return centres.at[j].set(c), jnp.minimum(d2, jnp.sum((x - c) ** 2, axis=1))
        cand = x[jax.random.choice(keys[j], n, (trials,), p=p)]  # (L, d)
        new_d2 = jnp.minimum(d2[None, :], _sq_distances(x, cand).T)  # (L, N)
        best = jnp.argmin(jnp.sum(new_d2, axis=1))
        return centres.at[j].set(cand[best]), new_d2[best]

    return jax.lax.fori_loop(1, k, pick, (centres, d2))[0]


def _centroids(x: jax.Array, labels: jax.Array, dist2: jax.Array, old: jax.Array) -> jax.Array:
    """Means of the clusters; an empty cluster moves to one of the points farthest from theirs.

    The ``j``-th empty cluster takes the ``j``-th farthest point (by ``dist2``, the squared
    distance to the assigned centre), so a cluster never stays empty while points are
    poorly served.
    """
    k = old.shape[0]
    one_hot = jax.nn.one_hot(labels, k, dtype=x.dtype)  # (N, K)
    counts = jnp.sum(one_hot, axis=0)
    sums = one_hot.T @ x
    empty = counts == 0
    far = jax.lax.top_k(dist2, min(k, x.shape[0]))[1]
    rank = jnp.clip(jnp.cumsum(empty) - 1, 0, far.shape[0] - 1)
    means = sums / jnp.where(empty, 1.0, counts)[:, None]
    return jnp.where(empty[:, None], x[far[rank]], means)


def lloyd(
    x: jax.Array, centres: jax.Array, *, max_iter: int = 300, tol: float = 1e-4
) -> KMeansResult:
    """Lloyd's iterations (Lloyd 1982) from ``centres``, in one bounded ``lax.while_loop``.

    Each iteration assigns every point to its nearest centre and moves each centre to the
    mean of its points. The loop stops when no label changes, or when the total squared
    centre shift :math:`\\sum_k \\|c_k' - c_k\\|^2` falls to ``tol`` times the mean per-axis
    variance of ``x`` (scikit-learn's ``KMeans`` rule), or after ``max_iter`` iterations. The
    returned labels are those of the returned centres.

    Args:
        x: ``(N, d)`` points.
        centres: ``(K, d)`` starting centres.
        max_iter: maximum number of iterations (static, >= 1).
        tol: relative tolerance on the centre shift.
    """
    tol_abs = jnp.asarray(tol, x.dtype) * jnp.mean(jnp.var(x, axis=0))

    def keep_going(carry: tuple) -> jax.Array:
        i, _, _, done = carry
        return (i < max_iter) & ~done

    def step(carry: tuple) -> tuple:
        i, c, old_labels, _ = carry
        labels, dist2 = nearest_centres(x, c)
        new = _centroids(x, labels, dist2, c)
        same = jnp.all(labels == old_labels)
        shift = jnp.sum((new - c) ** 2)
        return i + 1, new, labels, same | (shift <= tol_abs)

    start = (jnp.asarray(0), centres, jnp.full(x.shape[0], -1, jnp.int32), jnp.asarray(False))
    n_iter, centres, _, converged = jax.lax.while_loop(keep_going, step, start)
    labels, dist2 = nearest_centres(x, centres)
    return KMeansResult(centres, labels, jnp.sum(dist2), n_iter, converged)


def kmeans(
    x: jax.Array,
    k: int,
    key: jax.Array,
    *,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_local_trials: int | None = None,
) -> KMeansResult:
    """k-means: :func:`kmeans_plusplus` seeding followed by :func:`lloyd` iterations.

    Minimises the within-cluster sum of squares :math:`\\sum_n \\min_k \\|x_n - c_k\\|^2`
    locally; the defaults are those of scikit-learn's ``KMeans(n_init=1)``.
    """
    seeds = kmeans_plusplus(x, k, key, n_local_trials)
    return lloyd(x, seeds, max_iter=max_iter, tol=tol)
