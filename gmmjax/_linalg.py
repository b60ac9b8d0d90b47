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
carries more than :data:`WORK_BUDGET` ``d^3`` units of work, the matrices go through
:func:`jax.lax.map` in chunks of ``max(1, WORK_BUDGET // d^3)``, one chunk after the other.
The smallest batch that jaxlib 0.10.2 splits carries about 20,000 units (SVD, for every ``d``
from 2 to 16; ``eigh`` from above 32,768, Cholesky from about 600,000; read off the arguments
of its ``ParallelBatchMap`` with ``gdb``), so the budget of 8,192 keeps a margin of 2.4.
A ``custom_vmap`` rule folds ``vmap``-ped axes into the same batch, so a user's ``vmap`` over
our distances cannot bring the split back. Other backends call LAPACK (or cuSOLVER) directly.

The decompositions here are used for their values only: every caller differentiates through a
``custom_jvp`` whose tangent part is made of matrix products (``cholesky_and_inverse`` below,
``sqrtm_psd`` / ``nuclear_norm`` / ``polar_factor`` in :mod:`gmmjax._bures`), so reverse mode
never differentiates a LAPACK call either.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["WORK_BUDGET", "cholesky_and_inverse", "eigh", "pinv", "singular_values", "svd"]

WORK_BUDGET = 8192
"""Largest ``batch * d^3`` handed to one LAPACK call on CPU."""


def _chunk_size(batch: int, d: int) -> int | None:
    """Matrices per LAPACK call, or ``None`` when the whole batch can go in one call."""
    if batch <= 1 or jax.default_backend() != "cpu" or batch * d**3 <= WORK_BUDGET:
        return None
    return max(1, WORK_BUDGET // d**3)


def _in_chunks(fn: Callable[[jax.Array], Any], x: jax.Array) -> Any:
    """``fn`` over the leading batch axes of ``(..., d, d)`` ``x``, in safe chunks."""
    batch_shape, d = x.shape[:-2], x.shape[-1]
    batch = math.prod(batch_shape)
    chunk = _chunk_size(batch, d)
    if chunk is None:
        return fn(x)
    flat = x.reshape((batch, *x.shape[-2:]))
    out = jax.lax.map(fn, flat, batch_size=chunk if chunk > 1 else None)
    return jax.tree_util.tree_map(lambda o: o.reshape(batch_shape + o.shape[1:]), out)


def _lapack_safe(fn: Callable[[jax.Array], Any]) -> Callable[[jax.Array], Any]:
    """Wrap a batch-polymorphic decomposition ``fn`` so that no call to it is split."""

    @jax.custom_batching.custom_vmap
    def safe(x: jax.Array) -> Any:
        return _in_chunks(fn, x)

    @safe.def_vmap
    def _rule(axis_size: int, in_batched: list[bool], x: jax.Array) -> tuple[Any, Any]:
        if not in_batched[0]:
            x = jnp.broadcast_to(x, (axis_size, *x.shape))
        out = safe(x)
        return out, jax.tree_util.tree_map(lambda _: True, out)

    safe.__doc__ = fn.__doc__
    return safe


def _eigh(s: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Eigenvalues (ascending) and eigenvectors of symmetric ``(..., d, d)`` matrices."""
    return jnp.linalg.eigh(s)


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


eigh = _lapack_safe(_eigh)
singular_values = _lapack_safe(_singular_values)
svd = _lapack_safe(_svd)
_safe_chol_inv = _lapack_safe(_chol_inv)


def _mT(x: jax.Array) -> jax.Array:
    return jnp.swapaxes(x, -1, -2)


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
    return _safe_chol_inv(0.5 * (s + _mT(s)))


@cholesky_and_inverse.defjvp
def _cholesky_and_inverse_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]) -> Any:
    (s,), (ds,) = primals, tangents
    chol, inv = cholesky_and_inverse(s)
    x = inv @ (0.5 * (ds + _mT(ds))) @ _mT(inv)
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
    return (_mT(vt) * s_inv[..., None, :]) @ _mT(u)


@pinv.defjvp
def _pinv_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]) -> Any:
    (a,), (da,) = primals, tangents
    p = pinv(a)
    eye = jnp.eye(a.shape[-1], dtype=a.dtype)
    dp = -p @ da @ p
    dp = dp + p @ _mT(p) @ _mT(da) @ (eye - a @ p)
    dp = dp + (eye - p @ a) @ _mT(da) @ _mT(p) @ p
    return p, dp
