"""Lift kernels written for one pair of distributions over leading batch axes, compiled once.

Every public distance is a kernel for one pair of distributions (a pure function of two
``GMM`` or ``Gaussian`` objects) lifted here over the broadcast batch axes with ``vmap`` and
compiled with ``jit``. The compiled function is cached per kernel and call structure, so a
public function called eagerly runs one XLA program (compiled on its first call for a shape,
then reused) instead of dispatching every operation on its own: the first call of
``l2_distance`` compiles one program instead of dozens, and later calls skip the tracing.
Inside a user's ``jit``, ``vmap`` or ``grad`` the inner ``jit`` is inlined.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
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


@functools.lru_cache(maxsize=512)
def _lifted(
    kernel: Callable[..., Any],
    n_batch: int,
    batched: tuple[bool, bool],
    n_operands: int,
    static: tuple[tuple[str, Hashable], ...],
) -> Callable[..., Any]:
    """``jit(vmap^n_batch(kernel))`` with shared operands and static keyword arguments."""
    options = dict(static)

    def call(p: Any, q: Any, *operands: Any) -> Any:
        return kernel(p, q, *operands, **options)

    in_axes = tuple(0 if b else None for b in batched) + (None,) * n_operands
    fn = call
    for _ in range(n_batch):
        fn = jax.vmap(fn, in_axes=in_axes)
    return jax.jit(fn)


def map_pairs(kernel: Callable[..., Any], p: Any, q: Any, *operands: Any, **static: Any) -> Any:
    """Evaluate ``kernel(p, q, *operands, **static)`` for single distributions, over batch axes.

    ``p`` and ``q`` are ``GMM`` or ``Gaussian`` objects with batch shapes that broadcast
    (equal, or one of them unbatched). An unbatched argument is shared, not copied.
    ``operands`` (pytrees of arrays, shared by every pair) are traced; ``static`` keyword
    values must be hashable and are compiled in. ``kernel`` should be a module-level function
    (the compiled program is cached per kernel object).
    """
    bp, bq = tuple(p.batch_shape), tuple(q.batch_shape)
    try:
        shape = tuple(jnp.broadcast_shapes(bp, bq))
    except ValueError as err:
        raise ValueError(f"batch shapes {bp} and {bq} do not broadcast") from err
    if bp and bp != shape:
        p = _broadcast_batch(p, shape)
    if bq and bq != shape:
        q = _broadcast_batch(q, shape)
    fn = _lifted(kernel, len(shape), (bool(bp), bool(bq)), len(operands), tuple(static.items()))
    return fn(p, q, *operands)
