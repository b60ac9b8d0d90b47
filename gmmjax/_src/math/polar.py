"""Nuclear norms of many small matrices by a scaled Newton–Schulz polar iteration.

The Bures trace term of Gaussian optimal transport is a nuclear norm,
:math:`\\operatorname{tr}(\\Sigma_0^{1/2}\\Sigma_1\\Sigma_0^{1/2})^{1/2} = \\|F_0F_1\\|_*` with
:math:`F = \\Sigma^{1/2}` (Chen, Georgiou & Tannenbaum 2019, §II.A). For an
``(K_p, K_q)`` cost matrix that is one nuclear norm per pair of components: an SVD per pair is
one LAPACK call per small matrix (call overhead, batches bounded by
:mod:`gmmjax._src.math.linalg`, host-bound on accelerators). Here the orthogonal polar factor
:math:`W = UV^T` of :math:`A = USV^T` comes from matrix products only, vectorised over all
pairs, and :math:`\\|A\\|_* = \\langle W, A\\rangle_F`.

The iteration is the cubic Newton–Schulz map :math:`f(x) = (3x - x^3)/2` applied to the
singular values, :math:`X_{k+1} = \\tfrac{\\alpha_k}{2}(3I - \\alpha_k^2X_kX_k^T)X_k`, started at
:math:`X_0 = A/u` with :math:`u \\ge \\sigma_{\\max}(A)`, so every singular value lies in
:math:`[\\ell_0, 1]` where :math:`\\ell_0` is a lower bound on :math:`\\sigma_{\\min}(A)/u`. The
scaling :math:`\\alpha_k = \\sqrt{3/(1+\\ell_k+\\ell_k^2)}` equi-oscillates on the current interval,
:math:`f(\\alpha_k\\ell_k) = f(\\alpha_k)` (Chen & Chow 2014, "A stable scaling of Newton–Schulz
for improving the sign function computation of a Hermitian matrix"), and the interval moves to
:math:`[\\ell_{k+1}, 1]` with :math:`\\ell_{k+1} = f(\\alpha_k\\ell_k)`: small singular values grow
by :math:`\\tfrac32\\sqrt3\\approx 2.6` per step instead of 1.5, and the gap :math:`1-\\ell`
then shrinks quadratically. :math:`\\ell` inside :math:`\\alpha` is capped below at
``1e-3``: as :math:`\\alpha\\to\\sqrt3` the largest singular values are mapped to
:math:`f(\\sqrt3)=0` by cancellation in :math:`3-\\alpha^2x^2`; with the cap they keep
:math:`f(\\alpha) \\approx 2.6\\cdot10^{-3}` and the growth factor of tiny ones is unchanged.

Stopping: after the step :math:`k\\to k+1`, when the tracked bound says every singular value inside
it has converged, :math:`1-\\ell_{k+1} \\le \\tau = 64\\,\\varepsilon`, and the step changed the
estimate :math:`\\langle X, A/u\\rangle` of every pair by at most :math:`\\sqrt\\tau` (near 1 the
error squares at every step, :math:`1-x \\to \\tfrac32(1-x)^2`, so the new estimate is then within
about :math:`\\tau` of its limit; this catches singular values that round-off or a wrong bound left
below :math:`\\ell`; the change is weighted by :math:`A` so that singular values below the floor,
which contribute at most :math:`\\varepsilon u`, do not keep the loop going: unweighted, a
rank-deficient pair took about 75 steps instead of 43 in float64). A small step alone would not do:
for :math:`\\alpha_k > 1` the scaled map has a fixed point below 1. Singular values below the floor
:math:`\\ell_0 \\ge \\varepsilon` (singular :math:`A`) need not converge: each contributes an error
of at most :math:`\\sigma_i \\le \\varepsilon u` to :math:`\\langle X, A\\rangle`, so the nuclear
norm is exact to about :math:`d\\,\\varepsilon u`. For such :math:`A` the iterate is a partial
isometry with singular values in :math:`[0, 1]` on the null space, a subgradient of the nuclear
norm, which is the derivative used. On CPU the estimate is only formed once the bound is within
:math:`\\sqrt{8\\tau}` of 1 (a step maps the gap :math:`e` to about :math:`0.375e^2`, so no
earlier step can stop), which saves a pass over the pairs per step.

Pairs are processed in blocks of about :math:`2^{18}/d^2` (:func:`jax.lax.map`), small enough
to stay in the CPU caches; each block stops as soon as all its pairs have converged. Other
backends use one block. For ``d <= 8`` and at least 256 pairs every entry of a product is
written out as a sum of products of arrays over the pairs (pair axis last: the step is one
vectorised elementwise loop, about twice the speed of batched ``matmul`` at ``d = 8`` on CPU);
smaller problems and larger ``d`` use batched ``matmul``, which compiles much faster. On CPU,
fewer than 128 pairs in all (after ``vmap`` has folded its axis into the pairs) take one LAPACK
SVD per pair instead: as fast at that size, and half the compile time of the iteration.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.math.matfuncs import polar_factor

__all__ = ["PolarInfo", "nuclear_norm_ns", "polar_ns"]

MAX_ITER = 100
"""Most Newton–Schulz steps per block (a floor of ``eps`` needs about 40 in float64)."""

_TOL = 64.0  # convergence tolerance in units of eps (see the module docstring)
_L_SAFE = 1e-3  # floor of l inside the scaling alpha (see the module docstring)
_CACHE_ENTRIES = 2**18  # matrix entries per block on CPU
_UNROLL_MAX_D = 8  # largest d with unrolled pair-last products (measured, float64, 2 cores)
# Fewest pairs for the unrolled products: they run about 2x faster than batched matmul at
# d = 8, but compile for seconds (d^3 scalar operations per product); a small cost matrix
# takes the batched matmul, which compiles in a fraction of a second.
_UNROLL_MIN_PAIRS = 256
# On CPU, fewer pairs than this (counted after vmap folds its axis in) take one LAPACK SVD per
# pair: as fast as the iteration at this size (0.58 vs 0.52 ms for 64 pairs, d = 8) and it
# compiles in half the time, which is most of a first call.
_SVD_BELOW_PAIRS = 128


class PolarInfo(NamedTuple):
    """Diagnostics of :func:`polar_ns`: most steps taken by a block, whether all converged."""

    n_iter: jax.Array
    converged: jax.Array


def _products(pair_last: bool) -> tuple[Any, Any]:
    """``(X X^T, X Y)`` for stacks of matrices, in the chosen layout.

    ``pair_last``: arrays are ``(d, d, B)`` and every entry of a product is written out as a
    sum of ``d`` products of ``(B,)`` arrays (the Gram matrix's upper triangle only), so the
    whole step is elementwise over the pairs and XLA vectorises it as one loop over them.
    Otherwise ``(B, d, d)`` and batched ``matmul``. The Gram matrix is :math:`XX^T`, not
    :math:`X^TX`: XLA's CPU batched product with a transposed left operand took 2.2 times as
    long as a plain one at ``d = 32`` (1.2 times with a transposed right one).
    """
    if not pair_last:
        return (lambda x: x @ jnp.swapaxes(x, -1, -2)), (lambda x, y: x @ y)

    def gram(x: jax.Array) -> jax.Array:
        d = x.shape[0]
        upper = {
            (i, j): sum(x[i, k] * x[j, k] for k in range(d)) for i in range(d) for j in range(i, d)
        }
        rows = [[upper[min(i, j), max(i, j)] for j in range(d)] for i in range(d)]
        return jnp.stack([jnp.stack(r) for r in rows])

    def mul(x: jax.Array, y: jax.Array) -> jax.Array:
        d = x.shape[0]
        rows = [[sum(x[i, k] * y[k, j] for k in range(d)) for j in range(d)] for i in range(d)]
        return jnp.stack([jnp.stack(r) for r in rows])

    return gram, mul


def _block(
    a: jax.Array, upper: jax.Array, lower: jax.Array, pair_last: bool, want_x: bool
) -> tuple:
    """One block ``(B, d, d)``: ``(X or None, nuclear norms, steps, converged)``."""
    dtype = a.dtype
    eps = float(jnp.finfo(dtype).eps)
    d = a.shape[-1]
    gram, mul = _products(pair_last)
    x0 = a / upper[:, None, None]
    if pair_last:
        x0 = jnp.moveaxis(x0, 0, -1)
        three = 3.0 * jnp.eye(d, dtype=dtype)[:, :, None]
        per_pair = lambda v: v  # noqa: E731
        inner = lambda u, v: jnp.sum(u * v, axis=(0, 1))  # noqa: E731
    else:
        three = 3.0 * jnp.eye(d, dtype=dtype)
        per_pair = lambda v: v[:, None, None]  # noqa: E731
        inner = lambda u, v: jnp.sum(u * v, axis=(-2, -1))  # noqa: E731
    l0 = jnp.clip(lower, eps, 1.0)
    # From here on the steps compute the estimate (CPU). Near 1 a step maps the gap e = 1 - l
    # to about 0.375 e^2, so a gap above sqrt(8 tau) cannot reach tau in one step.
    near = np.sqrt(8.0 * _TOL * eps)
    lazy = jax.default_backend() == "cpu"

    def cond(state: tuple) -> jax.Array:
        _, _, _, k, done = state
        return jnp.logical_and(~done, k < MAX_ITER)

    def body(state: tuple) -> tuple:
        x, ell, estimate, k, _ = state
        le = jnp.maximum(ell, _L_SAFE)
        alpha = jnp.sqrt(3.0 / (1.0 + le + le * le))
        # alpha X in a pass of its own: with the per-pair factor inside the product fusions
        # XLA's CPU code for them ran 2-3 times slower (measured, d = 8, float64).
        y = jax.lax.optimization_barrier(per_pair(alpha) * x)
        x_new = 0.5 * mul(three - gram(y), y)  # X p(X^T X) = p(X X^T) X
        ell_new = jnp.minimum(0.5 * alpha * ell * (3.0 - (alpha * ell) ** 2), 1.0)
        gap = 1.0 - jnp.min(ell_new)
        # On CPU the estimate <X, A/u> per pair (a full pass over X and A) only near the end:
        # until then the test below fails on the bound alone. Where the previous step did not
        # compute it, it is inf and the step cannot stop (at most one extra step). Elsewhere a
        # conditional costs a device-host round trip per step, more than the pass.
        if lazy:
            new_estimate = jax.lax.cond(
                gap <= near,
                lambda: inner(x_new, x0),
                lambda: jnp.full_like(estimate, jnp.inf),
            )
        else:
            new_estimate = inner(x_new, x0)
        change = jnp.max(jnp.abs(new_estimate - estimate))
        done = (gap <= _TOL * eps) & (change <= np.sqrt(_TOL * eps))
        return x_new, ell_new, new_estimate, k + 1, done

    inf = jnp.full(x0.shape[-1] if pair_last else x0.shape[0], jnp.inf, dtype)
    init = (x0, l0, inf, jnp.zeros((), jnp.int32), jnp.zeros((), bool))
    x, _, _, k, done = jax.lax.while_loop(cond, body, init)
    norms = upper * inner(x, x0)  # <X, A>, formed here so that X need not leave the block
    if not want_x:
        return None, norms, k, done
    if pair_last:
        x = jnp.moveaxis(x, -1, 0)
    return x, norms, k, done


def _block_size(d: int, n: int) -> int:
    if jax.default_backend() != "cpu":
        return n
    return max(1, min(n, _CACHE_ENTRIES // (d * d)))


def _polar_blocks(a: jax.Array, upper: jax.Array, lower: jax.Array, want_x: bool) -> tuple:
    """``(X or None, nuclear norms, steps, converged)`` for ``(P, d, d)``, cache-sized blocks.

    Without ``want_x`` the polar factors stay inside their blocks: on CPU writing them all out
    (and reading them back for the norms) cost 10-20% of the whole iteration.
    """
    n, d = a.shape[0], a.shape[-1]
    steps, converged = jnp.zeros((), jnp.int32), jnp.ones((), bool)
    if n == 0:
        return jnp.zeros_like(a) if want_x else None, jnp.zeros(0, a.dtype), steps, converged
    if n < _SVD_BELOW_PAIRS and jax.default_backend() == "cpu":
        x = polar_factor(a)
        return x if want_x else None, jnp.sum(x * a, axis=(-2, -1)), steps, converged
    ok = upper > 0
    upper = jnp.where(ok, upper * (1.0 + 4.0 * d * jnp.finfo(a.dtype).eps), 1.0)
    lower = jnp.where(ok, lower, 1.0)
    size = _block_size(d, n)
    pair_last = d <= _UNROLL_MAX_D and n >= _UNROLL_MIN_PAIRS
    if size >= n:
        return _block(a, upper, lower, pair_last, want_x)
    nb = -(-n // size)
    pad = nb * size - n
    eye = jnp.broadcast_to(jnp.eye(d, dtype=a.dtype), (pad, d, d))
    a_p = jnp.concatenate([a, eye]).reshape(nb, size, d, d)
    u_p = jnp.concatenate([upper, jnp.ones(pad, a.dtype)]).reshape(nb, size)
    l_p = jnp.concatenate([lower, jnp.ones(pad, a.dtype)]).reshape(nb, size)
    x, norms, k, done = jax.lax.map(lambda t: _block(*t, pair_last, want_x), (a_p, u_p, l_p))
    if want_x:
        x = x.reshape(nb * size, d, d)[:n]
    return x, norms.reshape(-1)[:n], jnp.max(k), jnp.all(done)


def _over_leading_axes(want_x: bool) -> Any:
    """:func:`_polar_blocks` over any leading axes, which ``vmap`` extends (no batched loops).

    Under ``vmap`` the mapped axis joins the pair axis, so a batch of cost matrices is still
    cut into cache-sized blocks instead of running one loop over every pair of every problem.
    Returns ``(X, steps, converged)`` with ``want_x``, else ``(nuclear norms, ...)``.
    """

    @jax.custom_batching.custom_vmap
    def run(a: jax.Array, upper: jax.Array, lower: jax.Array) -> tuple:
        d = a.shape[-1]
        x, norms, k, done = _polar_blocks(
            a.reshape(-1, d, d), upper.reshape(-1), lower.reshape(-1), want_x
        )
        return (x.reshape(a.shape) if want_x else norms.reshape(a.shape[:-2])), k, done

    @run.def_vmap
    def _rule(axis_size: int, in_batched: list, *args: jax.Array) -> tuple:
        args = tuple(
            x if batched else jnp.broadcast_to(x, (axis_size, *x.shape))
            for x, batched in zip(args, in_batched, strict=True)
        )
        out, k, done = run(*args)
        k, done = jnp.broadcast_to(k, (axis_size,)), jnp.broadcast_to(done, (axis_size,))
        return (out, k, done), (True, True, True)

    return run


_polar_batched = _over_leading_axes(want_x=True)
_norms_batched = _over_leading_axes(want_x=False)


def polar_ns(a: jax.Array, upper: jax.Array, lower: jax.Array) -> tuple[jax.Array, PolarInfo]:
    """Orthogonal polar factors of ``(P, d, d)`` matrices by scaled Newton–Schulz.

    Matrix products only, except on CPU for fewer than 128 pairs (one SVD each, see the
    module docstring).

    Args:
        a: ``(P, d, d)`` matrices :math:`A`.
        upper: ``(P,)`` upper bounds :math:`u \\ge \\sigma_{\\max}(A)` (0 only for :math:`A=0`).
        lower: ``(P,)`` lower bounds on :math:`\\sigma_{\\min}(A)/u`, clipped to
            :math:`[\\varepsilon, 1]`.

    Returns:
        ``(X, info)``: :math:`X \\approx UV^T` (a partial isometry where :math:`A` is singular)
        and :class:`PolarInfo` with the most steps any block took and whether all converged
        within :data:`MAX_ITER`. Not differentiable; see :func:`nuclear_norm_ns`.
    """
    a, upper, lower = (jax.lax.stop_gradient(v) for v in (a, upper, lower))
    x, k, done = _polar_batched(a, upper, lower)
    return x, PolarInfo(k, done)


@jax.custom_jvp
def nuclear_norm_ns(a: jax.Array, upper: jax.Array, lower: jax.Array) -> jax.Array:
    """Nuclear norms :math:`\\|A\\|_* = \\langle W, A\\rangle_F` of ``(P, d, d)`` matrices.

    :math:`W` is the polar factor from :func:`polar_ns` (same bounds ``upper`` / ``lower``);
    the sum of the elementwise product equals :math:`\\sum_i\\sigma_i x_i` with
    :math:`x_i \\to 1`, exact to about :math:`d\\,\\varepsilon\\,u`. JVP:
    :math:`\\langle W, dA\\rangle` (the derivative of the nuclear norm, a subgradient where
    :math:`A` is singular); ``upper`` and ``lower`` are not differentiated and the
    iteration is never differentiated through.

    Example:
        >>> a = jnp.array([[[3.0, 0.0], [0.0, -4.0]]])
        >>> round(float(nuclear_norm_ns(a, jnp.array([4.0]), jnp.array([0.75]))[0]), 6)
        7.0
    """
    a, upper, lower = (jax.lax.stop_gradient(v) for v in (a, upper, lower))
    return _norms_batched(a, upper, lower)[0]


@nuclear_norm_ns.defjvp
def _nuclear_norm_ns_jvp(primals: tuple, tangents: tuple) -> Any:
    (a, upper, lower), (da, _, _) = primals, tangents
    x, _ = polar_ns(a, upper, lower)
    return jnp.sum(x * a, axis=(-2, -1)), jnp.sum(x * da, axis=(-2, -1))
