"""Lift kernels written for one pair of distributions over leading batch axes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["map_pairs"]


def _broadcast_batch(obj: Any, batch_shape: tuple[int, ...]) -> Any:
    own = obj.batch_shape

    def grow(leaf: jax.Array) -> jax.Array:
        event = leaf.shape[len(own) :]
        return jnp.broadcast_to(leaf, (*batch_shape, *event))

    return jax.tree_util.tree_map(grow, obj)


def map_pairs(kernel: Callable[..., Any], p: Any, q: Any) -> Any:
    """Evaluate ``kernel(p, q)`` for single distributions, broadcasting over batch axes.

    ``p`` and ``q`` are ``GMM`` or ``Gaussian`` objects with batch shapes that broadcast
    (equal, or one of them unbatched). An unbatched argument is shared, not copied.
    """
    bp, bq = tuple(p.batch_shape), tuple(q.batch_shape)
    try:
        shape = tuple(jnp.broadcast_shapes(bp, bq))
    except ValueError as err:
        raise ValueError(f"batch shapes {bp} and {bq} do not broadcast") from err
    axes_p = 0 if bp else None
    axes_q = 0 if bq else None
    if bp and bp != shape:
        p = _broadcast_batch(p, shape)
    if bq and bq != shape:
        q = _broadcast_batch(q, shape)
    fn = kernel
    for _ in shape:
        fn = jax.vmap(fn, in_axes=(axes_p, axes_q))
    return fn(p, q)
