"""Log-determinants and Mahalanobis forms of many small SPD matrices, unrolled across them.

A batched LAPACK call per 8x8 matrix is slow (call overhead, no vectorisation across
matrices). Here the factorisation is written out entry by entry: an :math:`LDL^T`
decomposition without square roots, unrolled over the static dimension, where every scalar of
the textbook algorithm is an array holding that scalar for *all* matrices. XLA turns the whole
thing into a few fused elementwise loops over the matrix axis. The program grows as
:math:`d^3`, so it pays only for small ``d`` (:data:`UNROLL_MAX_DIM`); callers fall back to
:func:`gmmjax._src.math.linalg.logdet_and_mahalanobis` above it.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["UNROLL_MAX_DIM", "ldl_logdet_maha", "log_normal_of_sum", "unrolled_sum"]

#: Largest dimension for which the factorisation is unrolled across pairs.
UNROLL_MAX_DIM = 8


def _factor(s_entry, d: int) -> tuple[dict, list, list]:
    """The unrolled :math:`LDL^T`: ``L`` below the diagonal, the pivots ``D`` and ``1 / D``."""
    lower: dict[tuple[int, int], jax.Array] = {}
    pivots: list[jax.Array] = []
    inv_pivots: list[jax.Array] = []
    for j in range(d):
        acc = s_entry(j, j)
        for k in range(j):
            acc = acc - lower[j, k] * lower[j, k] * pivots[k]
        pivots.append(acc)
        inv_pivots.append(1.0 / acc)
        for i in range(j + 1, d):
            acc = s_entry(i, j)
            for k in range(j):
                acc = acc - lower[i, k] * lower[j, k] * pivots[k]
            lower[i, j] = acc * inv_pivots[j]
    return lower, pivots, inv_pivots


def _forward_solve(lower: dict, diff_entry, d: int) -> list[jax.Array]:
    """``y`` with :math:`L y = r` (``L`` unit lower triangular)."""
    ys: list[jax.Array] = []
    for i in range(d):
        y = diff_entry(i)
        for k in range(i):
            y = y - lower[i, k] * ys[k]
        ys.append(y)
    return ys


def _logdet_maha(pivots: list, inv_pivots: list, ys: list) -> tuple[jax.Array, jax.Array]:
    logdet = functools.reduce(jnp.add, [jnp.log(p) for p in pivots])
    maha = functools.reduce(jnp.add, [y * y * ip for y, ip in zip(ys, inv_pivots, strict=True)])
    return logdet, maha


def ldl_logdet_maha(s_entry, diff_entry, d: int) -> tuple[jax.Array, jax.Array]:
    """``(log det S, r^T S^{-1} r)`` for many SPD matrices ``S``, from an unrolled LDL^T.

    .. math::
        S = L D L^T,\\quad \\log\\det S = \\sum_k \\log D_k,\\quad
        r^T S^{-1} r = \\sum_k y_k^2 / D_k,\\quad L y = r.

    Only the entries on and below the diagonal of ``S`` are read.

    Args:
        s_entry: ``s_entry(a, b)`` returns the array of entries ``S[a, b]`` (``a >= b``) for
            all matrices; arrays from different calls must broadcast together.
        diff_entry: ``diff_entry(a)`` returns the array of ``r[a]``.
        d: the (static) matrix size.

    Returns:
        Two arrays of the broadcast shape of the entries.
    """
    lower, pivots, inv_pivots = _factor(s_entry, d)
    return _logdet_maha(pivots, inv_pivots, _forward_solve(lower, diff_entry, d))


@jax.custom_jvp
def log_normal_of_sum(x: jax.Array, a: jax.Array, y: jax.Array, b: jax.Array) -> jax.Array:
    """:math:`-\\tfrac12[r^T S^{-1} r + \\log\\det S]`, ``S = A + B``, ``r = x - y``, unrolled.

    This is :math:`\\log\\mathcal N(x\\mid y, A + B) + \\tfrac d2\\log 2\\pi` for many
    pairs at once, in the entry-major layout of this module: ``x`` and ``y`` are ``(d, ...)``,
    ``a`` and ``b`` are ``(d, d, ...)``, and their trailing axes broadcast together (e.g.
    ``(d, d, N, 1)`` against ``(d, d, 1, M)`` for all ``N x M`` pairs). Only the entries on and
    below the diagonal of ``a`` and ``b`` are read.

    Differentiation uses the closed forms (Matrix Cookbook §2.2, §8.1.1)

    .. math::
        \\frac{\\partial}{\\partial r} = -v,\\qquad
        \\frac{\\partial}{\\partial S} = \\tfrac12\\big(v v^T - S^{-1}\\big),\\qquad
        v = S^{-1} r,

    with ``v`` and :math:`S^{-1} = L^{-T}D^{-1}L^{-1}` computed from the same factors as the
    value, so a gradient costs one factorisation, one inverse and a few elementwise passes;
    reverse mode never runs through the unrolled factorisation. Higher derivatives
    differentiate the rule itself.

    Args:
        x: ``(d, ...)`` first points (``d <= UNROLL_MAX_DIM`` keeps the program small).
        a: ``(d, d, ...)`` first matrices.
        y: ``(d, ...)`` second points.
        b: ``(d, d, ...)`` second matrices; ``A + B`` must be positive definite.

    Returns:
        The array of the broadcast trailing shape.

    Example:
        >>> x, y = jnp.zeros((2, 1)), jnp.ones((2, 1))
        >>> a = b = jnp.eye(2)[:, :, None] / 2
        >>> round(float(log_normal_of_sum(x, a, y, b)[0]), 6)  # -(1 + 1 + 0) / 2
        -1.0
    """
    d = x.shape[0]
    logdet, maha = ldl_logdet_maha(lambda i, j: a[i, j] + b[i, j], lambda i: x[i] - y[i], d)
    return -0.5 * (maha + logdet)


def _is_zero(t: Any) -> bool:
    return isinstance(t, jax.custom_derivatives.SymbolicZero)


@functools.partial(log_normal_of_sum.defjvp, symbolic_zeros=True)
def _log_normal_of_sum_jvp(primals: tuple, tangents: tuple) -> tuple[jax.Array, jax.Array]:
    x, a, y, b = primals
    dx, da, dy, db = tangents
    d = x.shape[0]
    lower, pivots, inv_pivots = _factor(lambda i, j: a[i, j] + b[i, j], d)
    r = _forward_solve(lower, lambda i: x[i] - y[i], d)
    logdet, maha = _logdet_maha(pivots, inv_pivots, r)
    out = -0.5 * (maha + logdet)
    # Rows of W = L^{-1} as (d, ...) arrays: W_k = e_k - sum_{i<k} L_ki W_i. Then
    # S^{-1} = W^T D^{-1} W is a sum of d rank-one terms and v = S^{-1} r = W^T D^{-1} y:
    # a few operations on whole (d, d, ...) arrays instead of d^3 / 6 scalar ones, which
    # compiles 2.5x faster than the scalar recursion (benchmarks/RESULTS.md, "Training steps").
    eye = jnp.eye(d, dtype=out.dtype).reshape(d, d, *([1] * out.ndim))
    rows: list[jax.Array] = []
    for k in range(d):
        row = eye[k]
        for i in range(k):
            row = row - lower[k, i] * rows[i]
        rows.append(row)
    scaled = [ip * w for ip, w in zip(inv_pivots, rows, strict=True)]
    vs = functools.reduce(jnp.add, [y * w for y, w in zip(r, scaled, strict=True)])
    inv = functools.reduce(
        jnp.add, [w[:, None] * sw[None, :] for w, sw in zip(rows, scaled, strict=True)]
    )
    # d out = -v . (dx - dy) + sum_{i >= j} c_ij dS_ij with c = (v v^T - S^{-1}) / 2 on the
    # diagonal and twice that below it (the lower triangle stands for both triangles of the
    # symmetric S): one product and one reduction per operand.
    weight = jnp.tril(jnp.ones((d, d), out.dtype), -1) + 0.5 * jnp.eye(d, dtype=out.dtype)
    coef = weight.reshape(d, d, *([1] * out.ndim)) * (vs[:, None] * vs[None, :] - inv)
    zero = jnp.zeros_like(out)
    tangent = zero
    for t, sign in ((dx, -1.0), (dy, 1.0)):
        if not _is_zero(t):
            tangent = tangent + sign * jnp.sum(vs * t, axis=0)
    for t in (da, db):
        if not _is_zero(t):
            tangent = tangent + jnp.sum(coef * t, axis=(0, 1))
    return out, tangent


def unrolled_sum(term, d: int) -> jax.Array:
    """``term(0) + ... + term(d - 1)``, written out for ``d <= UNROLL_MAX_DIM``.

    Summing ``d`` arrays term by term keeps every term an array over the pair (or point) axis,
    which XLA vectorises; a reduction over a short last axis of length ``d`` runs several
    times slower on CPU (14.8 vs 2.3 ms for the Mahalanobis distances of 4,096 points to 400
    components in 2-D). Above ``UNROLL_MAX_DIM`` the caller should reduce an array instead.
    """
    out = term(0)
    for a in range(1, d):
        out = out + term(a)
    return out
