"""Dense factorisations that cannot deadlock XLA's CPU runtime.

jaxlib 0.10's CPU LAPACK kernels (Cholesky, triangular solve, ``eigh``, SVD, ...) split a
batched call whose total work is large enough into pieces, schedule the pieces on XLA's
intra-op thread pool and block until they are done. The same pool runs the independent
operations of a compiled program concurrently, so when as many such calls start at once as
the pool has threads, every thread waits for work queued behind itself and the program hangs
forever (seen with ``gdb`` on a 2-core machine: both pool threads in
``BlockingCounter::Wait`` under ``lapack_strsm_ffi``, for the jitted gradient of a
Cauchy–Schwarz + KL + log-L2 loss between full-covariance mixtures in ``d = 128``). Whether a
call is split depends on its batch size times the cost of one matrix, so it happens for large
``d`` with any batch and for small ``d`` with very large batches.

This module never hands LAPACK a batch that it would split: on the CPU backend, when a batch
carries more ``batch * d^3`` units of work than the routine's entry in :data:`WORK_BUDGETS`,
the matrices go through :func:`jax.lax.map` in chunks of ``max(1, budget // d^3)``, one chunk
after the other. The smallest batches that jaxlib 0.10.2 splits (read off the arguments of
its ``ParallelBatchMap`` with ``gdb``, for ``d`` from 2 to 128) carry about 20,000 units for
the SVD (``gesdd``), 33,000 to 40,000 for ``eigh`` (``syevd``), 200,000 for a triangular
solve with ``d`` right-hand sides (``trsm``) and 600,000 for Cholesky (``potrf``); the budgets
stay 2.4 to 9 times below.
A ``custom_vmap`` rule folds ``vmap``-ped axes into the same batch, so a user's ``vmap`` over
our distances cannot bring the split back. Other backends call LAPACK (or cuSOLVER) directly.

The decompositions here are used for their values only: every caller differentiates through a
``custom_jvp`` whose tangent part is made of matrix products (``cholesky_and_inverse`` below,
``sqrtm_psd`` / ``nuclear_norm`` / ``polar_factor`` in
:mod:`gmmjax._src.math.matfuncs`), so reverse mode
never differentiates a LAPACK call either.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gmmjax._src.math.numerics import matrix_transpose, symmetrize

__all__ = [
    "WORK_BUDGETS",
    "cholesky_and_inverse",
    "eigh",
    "eigvalsh",
    "logdet_and_mahalanobis",
    "pinv",
    "singular_values",
    "solve",
    "spectrum",
    "svd",
]

WORK_BUDGETS = {"gesdd": 8192, "syevd": 8192, "getrf": 8192, "potrf": 65536, "trsm": 65536}
"""Largest ``batch * d^3`` handed to one call of each LAPACK routine on CPU.

The LU factorisation (``getrf``, behind :func:`solve`) was not measured; it gets the
smallest budget of the measured routines."""


def _chunk_size(batch: int, d: int, budget: int) -> int | None:
    """Matrices per LAPACK call, or ``None`` when the whole batch can go in one call."""
    if batch <= 1 or jax.default_backend() != "cpu" or batch * d**3 <= budget:
        return None
    return max(1, budget // d**3)


def _in_chunks(fn: Callable[..., Any], args: tuple[jax.Array, ...], budget: int) -> Any:
    """``fn(*args)`` over the leading batch axes, in safe chunks.

    ``args[0]`` is ``(..., d, d)``; the other arguments share its batch axes.
    """
    x = args[0]
    batch_shape, d = x.shape[:-2], x.shape[-1]
    batch = math.prod(batch_shape)
    chunk = _chunk_size(batch, d, budget)
    if chunk is None:
        return fn(*args)
    nb = len(batch_shape)
    flat = tuple(a.reshape((batch, *a.shape[nb:])) for a in args)
    out = jax.lax.map(lambda t: fn(*t), flat, batch_size=chunk if chunk > 1 else None)
    return jax.tree_util.tree_map(lambda o: o.reshape(batch_shape + o.shape[1:]), out)


def _lapack_safe(fn: Callable[..., Any], *routines: str) -> Callable[..., Any]:
    """Wrap a batch-polymorphic decomposition ``fn`` (calling ``routines``) so no call is split.

    The first argument of ``fn`` is the ``(..., d, d)`` matrix; further arguments share its
    batch axes.
    """
    budget = min(WORK_BUDGETS[r] for r in routines)

    @jax.custom_batching.custom_vmap
    def safe(*args: jax.Array) -> Any:
        return _in_chunks(fn, args, budget)

    @safe.def_vmap
    def _rule(axis_size: int, in_batched: list[bool], *args: jax.Array) -> tuple[Any, Any]:
        args = tuple(
            a if batched else jnp.broadcast_to(a, (axis_size, *a.shape))
            for a, batched in zip(args, in_batched, strict=True)
        )
        out = safe(*args)
        return out, jax.tree_util.tree_map(lambda _: True, out)

    safe.__doc__ = fn.__doc__
    return safe


def _eigh(s: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Eigenvalues (ascending) and eigenvectors of symmetric ``(..., d, d)`` matrices."""
    return jnp.linalg.eigh(s)


def _eigvalsh(s: jax.Array) -> jax.Array:
    """Eigenvalues (ascending) of symmetric ``(..., d, d)`` matrices, without eigenvectors."""
    return jnp.linalg.eigvalsh(s)


def _singular_values(m: jax.Array) -> jax.Array:
    """Singular values of ``(..., d, d)`` matrices."""
    return jnp.linalg.svd(m, compute_uv=False)


def _svd(m: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Thin SVD ``(U, s, V^T)`` of ``(..., d, d)`` matrices."""
    return jnp.linalg.svd(m, full_matrices=False)


def _chol_inv(s: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Lower Cholesky factor ``L`` of ``s`` and its inverse, for ``(..., d, d)`` matrices."""
    chol = jnp.linalg.cholesky(s)
    eye = jnp.broadcast_to(jnp.eye(s.shape[-1], dtype=s.dtype), s.shape)
    inv = jax.lax.linalg.triangular_solve(chol, eye, left_side=True, lower=True)
    return chol, inv


def _logdet_maha(s: jax.Array, r: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``log det S`` and ``r^T S^{-1} r`` from a Cholesky factor and one triangular solve."""
    chol = jnp.linalg.cholesky(s)
    z = jax.lax.linalg.triangular_solve(chol, r[..., None], left_side=True, lower=True)[..., 0]
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return logdet, jnp.sum(z**2, axis=-1)


def _solve(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a^{-1} b`` for square ``(..., d, d)`` matrices ``a`` and ``(..., d, m)`` ``b``."""
    return jnp.linalg.solve(a, b)


eigh = _lapack_safe(_eigh, "syevd")
eigvalsh = _lapack_safe(_eigvalsh, "syevd")
solve = _lapack_safe(_solve, "getrf", "trsm")
singular_values = _lapack_safe(_singular_values, "gesdd")
svd = _lapack_safe(_svd, "gesdd")
_safe_chol_inv = _lapack_safe(_chol_inv, "potrf", "trsm")
_safe_logdet_maha = _lapack_safe(_logdet_maha, "potrf", "trsm")


@jax.custom_jvp
def cholesky_and_inverse(s: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Cholesky factor :math:`L` (lower, :math:`S = LL^T`) and :math:`L^{-1}` of SPD matrices.

    ``(..., d, d)`` in, two ``(..., d, d)`` arrays out (NaN where ``s`` is not positive
    definite, as :func:`jax.numpy.linalg.cholesky`). Only the lower triangle of ``s`` is read
    after symmetrisation, so the derivative is that of :math:`(S + S^T)/2`.

    JVP, with :math:`X = L^{-1}\\,\\mathrm{sym}(dS)\\,L^{-T}` and :math:`\\Phi(X)` its lower
    triangle with the diagonal halved: :math:`dL = L\\,\\Phi(X)` and
    :math:`d(L^{-1}) = -\\Phi(X)\\,L^{-1}`; matrix products only, so reverse mode needs no
    triangular solve.

    Example:
        >>> chol, inv = cholesky_and_inverse(jnp.array([[4.0, 2.0], [2.0, 5.0]]))
        >>> chol.tolist(), (inv @ chol).round(6).tolist()
        ([[2.0, 0.0], [1.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]])
    """
    return _safe_chol_inv(symmetrize(s))


@cholesky_and_inverse.defjvp
def _cholesky_and_inverse_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]) -> Any:
    (s,), (ds,) = primals, tangents
    chol, inv = cholesky_and_inverse(s)
    x = inv @ symmetrize(ds) @ matrix_transpose(inv)
    d = s.shape[-1]
    lower = jnp.tril(jnp.ones((d, d), dtype=bool), -1)
    phi = jnp.where(lower, x, 0.0) + 0.5 * jnp.eye(d, dtype=s.dtype) * x
    return (chol, inv), (chol @ phi, -(phi @ inv))


@jax.custom_jvp
def pinv(a: jax.Array) -> jax.Array:
    """Moore–Penrose pseudo-inverse of square ``(..., d, d)`` matrices (through :func:`svd`).

    Singular values below ``10 d eps`` times the largest are treated as zero, as in
    :func:`jax.numpy.linalg.pinv`. JVP (Golub and Pereyra), with :math:`P = A^+`:
    :math:`dP = -P\\,dA\\,P + PP^T dA^T (I - AP) + (I - PA)\\,dA^T P^T P`.

    Example:
        >>> pinv(jnp.array([[2.0, 0.0], [0.0, 0.0]])).tolist()
        [[0.5, 0.0], [0.0, 0.0]]
    """
    u, s, vt = svd(a)
    cutoff = 10.0 * a.shape[-1] * jnp.finfo(a.dtype).eps * jnp.max(s, axis=-1, keepdims=True)
    s_inv = jnp.where(s > cutoff, 1.0 / jnp.where(s > cutoff, s, 1.0), 0.0)
    return (matrix_transpose(vt) * s_inv[..., None, :]) @ matrix_transpose(u)


@pinv.defjvp
def _pinv_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]) -> Any:
    (a,), (da,) = primals, tangents
    p = pinv(a)
    eye = jnp.eye(a.shape[-1], dtype=a.dtype)
    dp = -p @ da @ p
    dp = dp + p @ matrix_transpose(p) @ matrix_transpose(da) @ (eye - a @ p)
    dp = dp + (eye - p @ a) @ matrix_transpose(da) @ matrix_transpose(p) @ p
    return p, dp


@jax.custom_jvp
def logdet_and_mahalanobis(s: jax.Array, r: jax.Array) -> tuple[jax.Array, jax.Array]:
    """:math:`\\log\\det S` and :math:`r^T S^{-1} r` for SPD ``(..., d, d)`` matrices ``s``.

    The values need one Cholesky factor and one triangular solve per matrix; the JVP,
    with :math:`u = S^{-1} r` and :math:`S^{-1} = L^{-T}L^{-1}` from
    :func:`cholesky_and_inverse`, is :math:`d\\log\\det S = \\operatorname{tr}(S^{-1} dS)` and
    :math:`d(r^T S^{-1} r) = 2u^T dr - u^T dS\\,u` (matrix products only). ``s`` is
    symmetrised first, as in :func:`cholesky_and_inverse`; ``r`` is ``(..., d)`` with the batch
    axes of ``s``.

    Example:
        >>> logdet, maha = logdet_and_mahalanobis(jnp.diag(jnp.array([4.0, 1.0])), jnp.ones(2))
        >>> round(float(jnp.exp(logdet)), 4), round(float(maha), 4)
        (4.0, 1.25)
    """
    return _safe_logdet_maha(symmetrize(s), r)


@logdet_and_mahalanobis.defjvp
def _logdet_and_mahalanobis_jvp(primals: tuple, tangents: tuple) -> Any:
    (s, r), (ds, dr) = primals, tangents
    chol, inv = cholesky_and_inverse(s)
    z = jnp.einsum("...ij,...j->...i", inv, r)  # L^{-1} r
    u = jnp.einsum("...ji,...j->...i", inv, z)  # S^{-1} r
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    ds = symmetrize(ds)
    dlogdet = jnp.sum(inv * (inv @ ds), axis=(-2, -1))  # tr(L^{-1} dS L^{-T})
    dmaha = 2.0 * jnp.sum(u * dr, axis=-1) - jnp.einsum("...i,...ij,...j->...", u, ds, u)
    return (logdet, jnp.sum(z**2, axis=-1)), (dlogdet, dmaha)


@jax.custom_jvp
def spectrum(s: jax.Array) -> jax.Array:
    """Eigenvalues of symmetric ``(..., d, d)`` matrices in decreasing order, differentiably.

    First-order perturbation theory gives the JVP
    :math:`d\\lambda_i = u_i^T\\,\\mathrm{sym}(dS)\\,u_i` (matrix products only); at a
    repeated eigenvalue it is one directional derivative of the spectrum (any orthonormal basis
    of the eigenspace), so it never divides by an eigenvalue gap.

    Example:
        >>> spectrum(jnp.array([[2.0, 1.0], [1.0, 2.0]])).round(6).tolist()
        [3.0, 1.0]
    """
    return eigvalsh(symmetrize(s))[..., ::-1]


@spectrum.defjvp
def _spectrum_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]) -> Any:
    (s,), (ds,) = primals, tangents
    w, v = eigh(symmetrize(s))
    dw = jnp.einsum("...ji,...jk,...ki->...i", v, symmetrize(ds), v)
    return w[..., ::-1], dw[..., ::-1]
