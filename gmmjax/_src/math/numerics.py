"""Small numerical building blocks: constants, a weighted log-sum-exp, a safe square root.

Each exists because the obvious JAX expression has the wrong derivative somewhere the
library needs the right one (a zero weight, a zero distance).
"""

from __future__ import annotations

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
    projected simplex step) would then never move again. Here the shift is the maximum over
    the positive-weight entries (held constant for differentiation, which changes nothing
    mathematically), and the exponent of a zero-weight entry is capped so that it can neither
    overflow the value nor turn ``0 * inf`` into NaN.

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
    """
    a, w = jnp.broadcast_arrays(jnp.asarray(a), jnp.asarray(w, dtype=jnp.result_type(a)))
    shift = jnp.max(jnp.where(w > 0, a, -jnp.inf), axis=axis, keepdims=True)
    shift = jax.lax.stop_gradient(jnp.where(jnp.isfinite(shift), shift, 0.0))
    cap = 0.5 * float(np.log(jnp.finfo(a.dtype).max))
    total = jnp.sum(w * jnp.exp(jnp.minimum(a - shift, cap)), axis=axis, keepdims=True)
    out = jnp.log(total) + shift
    if axis is None:
        return out.reshape(())
    return jnp.squeeze(out, axis=axis)


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
