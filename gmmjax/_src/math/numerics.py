"""Small numerical building blocks: constants, a weighted log-sum-exp, a safe square root.

Each exists because the obvious JAX expression has the wrong derivative somewhere the
library needs the right one (a zero weight, a zero distance).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["LOG_2PI", "matrix_transpose", "safe_sqrt", "symmetrize", "weighted_logsumexp"]

#: :math:`\log 2\pi`, the constant of every Gaussian log density.
LOG_2PI = float(np.log(2.0 * np.pi))


def matrix_transpose(x: jax.Array) -> jax.Array:
    """Swap the last two axes of ``(..., m, n)`` arrays."""
    return jnp.swapaxes(x, -1, -2)


def symmetrize(x: jax.Array) -> jax.Array:
    """:math:`(X + X^T)/2` over the last two axes."""
    return 0.5 * (x + matrix_transpose(x))


def weighted_logsumexp(a: jax.Array, w: jax.Array, axis: int | tuple[int, ...] | None = None):
    """:math:`\\log\\sum_j w_j e^{a_j}` with the correct gradient at zero weights.

    ``jax.nn.logsumexp(a, b=w)`` drops the entries with ``w == 0`` before differentiating, so
    the derivative with respect to a zero weight comes out as 0 instead of
    :math:`e^{a_j}/\\sum_k w_k e^{a_k}`; a weight that reaches zero (a padding component, a
    projected simplex step) would then never move again. The value here is that of
    ``jax.nn.logsumexp`` (as fast), and the JVP is written out,

    .. math::
        d\\,\\mathrm{out} = \\sum_j e^{a_j - \\mathrm{out}}\\,(w_j\\,da_j + dw_j),

    with the exponent of a zero-weight entry capped so that it can neither overflow nor turn
    ``0 * inf`` into NaN.

    Args:
        a: log terms.
        w: non-negative weights, broadcastable against ``a``.
        axis: axis or axes to reduce (all when None).

    Returns:
        The reduced log-sum-exp; ``-inf`` when every weight is zero.

    Example:
        >>> import jax.numpy as jnp
        >>> round(float(weighted_logsumexp(jnp.array([0.0, 5.0]), jnp.array([1.0, 0.0]))), 6)
        0.0
        >>> a, w = jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0])
        >>> [round(float(v), 6) for v in jax.grad(weighted_logsumexp, argnums=1)(a, w)]
        [1.0, 2.718282]
    """
    a, w = jnp.broadcast_arrays(jnp.asarray(a), jnp.asarray(w, dtype=jnp.result_type(a)))
    axes = tuple(range(a.ndim)) if axis is None else tuple(np.atleast_1d(axis) % max(a.ndim, 1))
    return _weighted_logsumexp(a, w, axes)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _weighted_logsumexp(a: jax.Array, w: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    return jax.nn.logsumexp(a, axis=axes, b=w)


@_weighted_logsumexp.defjvp
def _weighted_logsumexp_jvp(axes: tuple[int, ...], primals: tuple, tangents: tuple):
    (a, w), (da, dw) = primals, tangents
    out = _weighted_logsumexp(a, w, axes)
    centre = jnp.expand_dims(jnp.where(jnp.isfinite(out), out, 0.0), axes)
    cap = 0.5 * float(np.log(jnp.finfo(a.dtype).max))
    ratio = jnp.exp(jnp.minimum(a - centre, cap))  # e^{a_j - out}
    return out, jnp.sum(ratio * (w * da + dw), axis=axes)


@jax.custom_jvp
def safe_sqrt(x: jax.Array) -> jax.Array:
    """:math:`\\sqrt{\\max(x, 0)}` whose derivative at 0 is 0 (the subgradient of a norm at 0).

    Distances are square roots of squared distances that reach 0 at ``P = Q``; there the plain
    square root has an infinite derivative (NaN after the chain rule).

    Example:
        >>> float(jax.grad(safe_sqrt)(0.0)), float(jax.grad(safe_sqrt)(4.0))
        (0.0, 0.25)
    """
    return jnp.sqrt(jnp.maximum(x, 0.0))


@safe_sqrt.defjvp
def _safe_sqrt_jvp(primals: tuple[jax.Array], tangents: tuple[jax.Array]):
    (x,), (dx,) = primals, tangents
    y = safe_sqrt(x)
    positive = y > 0
    slope = jnp.where(positive, 0.5 / jnp.where(positive, y, 1.0), 0.0)
    return y, slope * dx
