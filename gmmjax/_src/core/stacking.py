"""Collections of mixtures: checking a sequence of single GMMs and stacking it with padding."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from gmmjax._src.core.arguments import as_gmm
from gmmjax._src.core.low_rank import LowRankCovariance
from gmmjax._src.core.mixture import GMM, float_dtype

__all__ = ["pad_batch", "single_gmms", "stack"]


def single_gmms(gmms: Any, name: str = "gmms") -> list[GMM]:
    """Check a non-empty collection (any iterable) of unbatched GMMs of one dimension.

    Returns:
        The GMMs as a list.

    Raises:
        ValueError: an empty or non-iterable argument, a batched GMM, or mixed dimensions.
        TypeError: an item that is not a GMM.
    """
    out = [] if isinstance(gmms, (str, GMM)) or not isinstance(gmms, Iterable) else list(gmms)
    if not out:
        raise ValueError(f"{name} must be a non-empty sequence of GMMs; got {gmms!r:.60}")
    out = [as_gmm(f"{name}[{i}]", g) for i, g in enumerate(out)]  # a Gaussian: K = 1
    for i, g in enumerate(out):
        if g.batch_shape:
            raise ValueError(f"{name}[{i}] must be a single GMM; got batch_shape {g.batch_shape}")
    dims = sorted({g.dim for g in out})
    if len(dims) > 1:
        raise ValueError(f"{name} must share one dimension; got dimensions {dims}")
    return out


def stack(gmms: Sequence[GMM], n_components: int | None = None) -> GMM:
    """Stack mixtures into one batched GMM with a leading axis, padding with zero weights.

    Shorter mixtures are padded up to ``n_components`` (default: the largest count) with
    copies of their own first component carrying weight 0, so every distance gives the same
    value as on the unpadded mixture and the padded parameters stay finite. If the inputs mix
    diagonal and full covariances, all become full. Low-rank mixtures (:meth:`GMM.low_rank
    <gmmjax.GMM.low_rank>`) stay low rank when all inputs are, their factors padded with zero
    columns to the largest rank (the covariances are unchanged); mixed with other kinds they
    become full.

    Args:
        gmms: a non-empty sequence of unbatched GMMs of one dimension.
        n_components: padded component count, at least the largest input count.

    Returns:
        A GMM with ``batch_shape == (len(gmms),)``.

    Example:
        >>> a = GMM.univariate([1.0], [0.0], [1.0])
        >>> b = GMM.univariate([0.5, 0.5], [-1.0, 1.0], [1.0, 1.0])
        >>> stack([a, b]).weights.tolist()
        [[1.0, 0.0], [0.5, 0.5]]
    """
    gmms = single_gmms(gmms)
    longest = max(g.n_components for g in gmms)
    k = longest if n_components is None else int(n_components)
    if k < longest:
        raise ValueError(f"n_components={k} is smaller than the largest mixture ({longest})")
    diagonal = all(g.is_diagonal for g in gmms)
    dtype = float_dtype(*[g.means for g in gmms])
    if all(g.is_low_rank for g in gmms):
        return _stack_low_rank(gmms, k, dtype)

    def padded(g: GMM) -> tuple[jax.Array, jax.Array, jax.Array]:
        covs = g.covs if diagonal else g.full_covs()
        extra = k - g.n_components
        w = jnp.concatenate([g.weights, jnp.zeros(extra, g.weights.dtype)])
        m = jnp.concatenate([g.means, jnp.repeat(g.means[:1], extra, axis=0)])
        c = jnp.concatenate([covs, jnp.repeat(covs[:1], extra, axis=0)])
        return w.astype(dtype), m.astype(dtype), c.astype(dtype)

    parts = [padded(g) for g in gmms]
    return GMM._unchecked(*(jnp.stack(leaf) for leaf in zip(*parts, strict=True)))


def _stack_low_rank(gmms: list[GMM], k: int, dtype: Any) -> GMM:
    """:func:`stack` for low-rank mixtures: zero factor columns up to the largest rank."""
    rank = max(g.covs.rank for g in gmms)

    def padded(g: GMM) -> GMM:
        f = g.covs.factors
        f = jnp.concatenate([f, jnp.zeros((*f.shape[:-1], rank - f.shape[-1]), f.dtype)], -1)
        g = GMM._unchecked(g.weights, g.means, LowRankCovariance(f, g.covs.noise))
        extra = k - g.n_components
        w = jnp.concatenate([g.weights, jnp.zeros(extra, g.weights.dtype)])

        def grow(leaf: jax.Array) -> jax.Array:
            return jnp.concatenate([leaf, jnp.repeat(leaf[:1], extra, axis=0)]).astype(dtype)

        rest = jax.tree_util.tree_map(grow, (g.means, g.covs))
        return GMM._unchecked(w.astype(dtype), *rest)

    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *map(padded, gmms))


def pad_batch(g: GMM, size: int) -> GMM:
    """Grow the leading batch axis to ``size`` with copies of the first mixture.

    Used to fill the last block or device shard of a collection; the copies are sliced off
    the result.
    """
    extra = size - g.batch_shape[0]
    if extra == 0:
        return g

    def grow(leaf: jax.Array) -> jax.Array:
        return jnp.concatenate([leaf, jnp.repeat(leaf[:1], extra, axis=0)])

    return jax.tree_util.tree_map(grow, g)
