"""Distances over collections of mixtures: pairwise matrices in bounded memory, on many devices.

A collection is a GMM with one leading batch axis (``stack`` builds one, padding shorter
mixtures with zero-weight components). :func:`pairwise_distances` returns the ``(B_p, B_q)``
matrix of a metric between every mixture of ``ps`` and every mixture of ``qs``;
:func:`paired_distances` returns the ``(B,)`` vector ``metric(ps[i], qs[i])`` (a loss over a
batch).

Memory. The work is cut into blocks evaluated one after another with ``lax.map``; peak memory
is proportional to ``block_size`` (component pairs per block), never to
``B_p * B_q * K_p * K_q``.

Overlap metrics (L2, squared L2, Cauchy–Schwarz) take a fast path. All three are functions of
the log inner products :math:`\\log\\langle p,p\\rangle`, :math:`\\log\\langle q,q\\rangle`,
:math:`\\log\\langle p,q\\rangle` (seed 000): the two self terms are computed once per mixture
(``B_p + B_q`` of them, not ``B_p * B_q``), and the cross terms once per *component* pair of
the flattened collections, with the pair axis vectorised (``gmmjax._smalld``).

Devices. When JAX sees more than one device (several GPUs, a TPU slice, or CPU devices forced
with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``), the rows of the result are split
across a one-dimensional ``jax.sharding.Mesh`` with ``jax.shard_map``: each device evaluates
its block of rows of ``ps`` against all of ``qs`` with the same blocked program, so the result
equals the single-device one. See ``docs/scaling.md`` for multi-host use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from gmmjax._checks import check_same_dim
from gmmjax._kl import KL_METHODS
from gmmjax._mixture import GMM, stack  # noqa: F401 (stack: doctests)
from gmmjax._overlap import _sqrt_zero_subgradient, cs_from_logs, scaled_l2_from_logs
from gmmjax._smalld import UNROLL_MAX_DIM, cross_log_overlap

__all__ = ["DEFAULT_BLOCK_SIZE", "PAIRWISE_METRICS", "paired_distances", "pairwise_distances"]

#: Default number of component pairs evaluated at once (one block of the ``lax.map``) for
#: ``d <= 8``; above, the default shrinks as ``2**22 / d**2`` so that a block's ``d x d``
#: matrices stay about the same size in memory.
DEFAULT_BLOCK_SIZE = 2**16

_OVERLAP_METRICS = ("l2", "l2_squared", "cs")
_KL_METRICS = tuple(f"kl_{m}" for m in ("variational", "lower_bound", "upper_bound", "mc"))
_MW2_METRICS = ("mw2_exact", "mw2_sinkhorn")

#: Names accepted by ``metric`` (``"kl"`` is ``"kl_variational"``, ``"mw2"`` is ``"mw2_exact"``).
PAIRWISE_METRICS = (*_OVERLAP_METRICS, "kl", *_KL_METRICS, "mw2", *_MW2_METRICS)

_ALIASES = {"kl": "kl_variational", "mw2": "mw2_exact"}


# --------------------------------------------------------------------------- inputs
def _check_collection(name: str, g: Any) -> None:
    if not isinstance(g, GMM):
        raise TypeError(f"{name} must be a GMM collection; got {type(g).__name__}")
    if len(g.batch_shape) != 1:
        raise ValueError(
            f"{name} must be a collection with exactly one batch axis (use gmmjax.stack); "
            f"got batch_shape {g.batch_shape}"
        )


def _resolve_metric(metric: Any) -> str | Callable[..., Any]:
    if callable(metric):
        return metric
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a string or a callable; got {type(metric).__name__}")
    name = _ALIASES.get(metric, metric)
    if name not in PAIRWISE_METRICS:
        raise ValueError(
            f"unknown metric {metric!r}; expected one of {PAIRWISE_METRICS} or a callable"
        )
    return name


def _check_block_size(block_size: Any, d: int) -> int:
    if block_size is None:
        return DEFAULT_BLOCK_SIZE if d <= 8 else max(256, 2**22 // d**2)
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int; got {block_size!r}")
    return block_size


def _pad_batch(g: GMM, size: int) -> GMM:
    """Grow the batch axis to ``size`` with copies of the first mixture (sliced off later)."""
    extra = size - g.batch_shape[0]
    if extra == 0:
        return g

    def grow(leaf: jax.Array) -> jax.Array:
        return jnp.concatenate([leaf, jnp.repeat(leaf[:1], extra, axis=0)])

    return jax.tree_util.tree_map(grow, g)


def _tiles(g: GMM, tile: int) -> GMM:
    """``(B, ...)`` -> ``(B / tile, tile, ...)`` (``B`` a multiple of ``tile``)."""
    return jax.tree_util.tree_map(lambda x: x.reshape(-1, tile, *x.shape[1:]), g)


# --------------------------------------------------------------------------- overlap path
def _log_inner_tile(p: GMM, q: GMM, unroll: int) -> jax.Array:
    """``(t_p, t_q)`` log inner products between two tiles of mixtures."""
    tp, kp, _ = p.means.shape
    tq, kq, _ = q.means.shape
    flat = lambda x: x.reshape(-1, *x.shape[2:])  # noqa: E731
    logc = cross_log_overlap(
        flat(p.means), flat(p.covs), flat(q.means), flat(q.covs), unroll_max_dim=unroll
    )
    logc = logc.reshape(tp, kp, tq, kq)
    b = p.weights[:, :, None, None] * q.weights[None, None, :, :]
    return jax.nn.logsumexp(logc, axis=(1, 3), b=b)


def _self_log_inner(g: GMM, block: int, unroll: int) -> jax.Array:
    """``(B,)`` vector of :math:`\\log\\langle g_b, g_b\\rangle`, ``block`` mixtures at a time."""

    @jax.checkpoint
    def one(m: GMM) -> jax.Array:
        single = jax.tree_util.tree_map(lambda x: x[None], m)
        return _log_inner_tile(single, single, unroll)[0, 0]

    return jax.lax.map(one, g, batch_size=block)


def _tile_sizes(bp: int, bq: int, kp: int, kq: int, block_size: int) -> tuple[int, int]:
    """Tiles of ``t_p`` x ``t_q`` mixtures with ``t_p t_q K_p K_q <= block_size``.

    Whole rows first (``t_q = B_q`` when it fits): long, flat tiles keep the vectorised kernel
    busy and the inner loop short; measured 2.5x faster than square tiles on CPU.
    """
    mixtures = max(1, block_size // (kp * kq))
    tq = min(bq, mixtures)
    tp = min(bp, max(1, mixtures // tq))
    return tp, tq


def _cross_log_inner(ps: GMM, qs: GMM, block_size: int, unroll: int) -> jax.Array:
    """``(B_p, B_q)`` :math:`\\log\\langle p_a, q_b\\rangle`, one tile of mixtures at a time."""
    bp, kp = ps.weights.shape
    bq, kq = qs.weights.shape
    tp, tq = _tile_sizes(bp, bq, kp, kq, block_size)
    np_, nq = -(-bp // tp), -(-bq // tq)
    p_tiles = _tiles(_pad_batch(ps, np_ * tp), tp)
    q_tiles = _tiles(_pad_batch(qs, nq * tq), tq)

    # Recomputed in the backward pass instead of storing every tile's intermediates: keeps
    # the memory of a gradient bounded by the block too, and is faster than reading them back.
    tile = jax.checkpoint(lambda a, b: _log_inner_tile(a, b, unroll))

    def row(p_tile: GMM) -> jax.Array:
        return jax.lax.map(lambda q_tile: tile(p_tile, q_tile), q_tiles)

    out = jax.lax.map(row, p_tiles)  # (np, nq, tp, tq)
    out = jnp.swapaxes(out, 1, 2).reshape(np_ * tp, nq * tq)
    return out[:bp, :bq]


def _combine_overlaps(metric: str, log_pp: jax.Array, log_qq: jax.Array, log_pq: jax.Array):
    """L2, squared L2 or CS from the three log inner products (seed 000, eq. 1)."""
    if metric == "cs":
        return cs_from_logs(log_pp, log_qq, log_pq)
    m, s = scaled_l2_from_logs(log_pp, log_qq, log_pq)
    sq = jnp.exp(m) * s
    return sq if metric == "l2_squared" else _sqrt_zero_subgradient(sq)


def _rescale(ps: GMM, qs: GMM) -> tuple[GMM, GMM, jax.Array]:
    """Express both collections in units of ``2**k``, ``4**k`` near their typical variance.

    Dividing means by ``2**k`` and covariances by ``4**k`` is exact in floating point and adds
    ``d k log 2`` to every log overlap; the log-determinants then stay of order one, which
    keeps the cancellations of the Cauchy–Schwarz divergence accurate in float32. ``k`` is
    held constant for differentiation. Returns the rescaled collections and the shift to add
    back to the log inner products.
    """
    tiny = jnp.finfo(ps.dtype).tiny

    def mean_log2_var(g: GMM) -> jax.Array:
        var = g.covs if g.is_diagonal else jnp.diagonal(g.covs, axis1=-2, axis2=-1)
        return jnp.mean(jnp.log2(jnp.maximum(var, tiny)))

    k = jnp.round(0.25 * (mean_log2_var(ps) + mean_log2_var(qs)))
    k = jax.lax.stop_gradient(jnp.where(jnp.isfinite(k), k, 0.0)).astype(jnp.int32)
    one = jnp.ones((), ps.dtype)
    sd, var = jnp.ldexp(one, -k), jnp.ldexp(one, -2 * k)

    def scaled(g: GMM) -> GMM:
        return GMM._unchecked(g.weights, g.means * sd, g.covs * var)

    shift = (-np.log(2.0) * ps.dim * k).astype(ps.dtype)
    return scaled(ps), scaled(qs), shift


def _overlap_pairwise(ps: GMM, qs: GMM, metric: str, block_size: int, unroll: int):
    ps, qs, shift = _rescale(ps, qs)
    self_block = max(1, block_size // (ps.n_components**2))
    log_pp = _self_log_inner(ps, self_block, unroll)
    log_qq = _self_log_inner(qs, max(1, block_size // (qs.n_components**2)), unroll)
    log_pq = _cross_log_inner(ps, qs, block_size, unroll)
    logs = (log_pp[:, None] + shift, log_qq[None, :] + shift, log_pq + shift)
    return _combine_overlaps(metric, *logs)


def _overlap_paired(ps: GMM, qs: GMM, metric: str, block_size: int, unroll: int):
    ps, qs, shift = _rescale(ps, qs)
    block = max(1, block_size // (max(ps.n_components, qs.n_components) ** 2))

    @jax.checkpoint
    def one(pair: tuple[GMM, GMM]) -> jax.Array:
        p, q = (jax.tree_util.tree_map(lambda x: x[None], g) for g in pair)
        logs = [_log_inner_tile(a, b, unroll)[0, 0] + shift for a, b in ((p, p), (q, q), (p, q))]
        return _combine_overlaps(metric, *logs)

    return jax.lax.map(one, (ps, qs), batch_size=block)


# --------------------------------------------------------------------------- generic path
def _pair_kernel(metric: str | Callable[..., Any], kwargs: dict[str, Any]):
    """A function of two single mixtures returning a scalar."""
    if callable(metric):
        return lambda p, q: metric(p, q, **kwargs)
    if metric in _KL_METRICS:
        estimator = KL_METHODS[metric[3:]]
        key, n_samples = kwargs.get("key"), kwargs.get("n_samples", 1024)
        if metric == "kl_mc" and key is None:
            raise ValueError('metric="kl_mc" needs a PRNG key: pass key=jax.random.key(0)')
        return lambda p, q: estimator(p, q, key, n_samples)
    if metric in _MW2_METRICS:
        from gmmjax._transport import mw2_distance

        solver = metric[4:]
        return lambda p, q: mw2_distance(p, q, solver=solver, **kwargs)
    raise AssertionError(metric)  # pragma: no cover


def _gather(g: GMM, idx: jax.Array) -> GMM:
    return jax.tree_util.tree_map(lambda x: x[idx], g)


def _generic_pairwise(kernel, ps: GMM, qs: GMM, block: int) -> jax.Array:
    """``kernel`` over all ``B_p * B_q`` pairs, ``block`` pairs per ``lax.map`` step."""
    bp, bq = ps.batch_shape[0], qs.batch_shape[0]
    n = bp * bq
    block = min(block, n)
    total = -(-n // block) * block
    flat = jnp.minimum(jnp.arange(total), n - 1).reshape(-1, block)

    def step(idx: jax.Array) -> jax.Array:
        return jax.vmap(kernel)(_gather(ps, idx // bq), _gather(qs, idx % bq))

    return jax.lax.map(step, flat).reshape(-1)[:n].reshape(bp, bq)


# --------------------------------------------------------------------------- devices
def _default_mesh() -> Mesh | None:
    devices = jax.devices()
    if len(devices) < 2:
        return None
    return Mesh(devices, ("batch",))


def _resolve_mesh(sharding: Any) -> Mesh | None:
    if sharding is None or sharding is True or sharding == "auto":
        return _default_mesh()
    if sharding is False:
        return None
    if isinstance(sharding, Mesh):
        return sharding if sharding.size > 1 else None
    raise ValueError(f"sharding must be 'auto', False or a jax.sharding.Mesh; got {sharding!r}")


def _over_mesh(fn: Callable[..., jax.Array], mesh: Mesh | None, ps: GMM, *shared: Any):
    """Run ``fn(ps_rows, *shared)`` with the rows of ``ps`` split across ``mesh``."""
    if mesh is None:
        return fn(ps, *shared)
    b = ps.batch_shape[0]
    padded = _pad_batch(ps, -(-b // mesh.size) * mesh.size)
    rows = PartitionSpec(mesh.axis_names)
    replicated = PartitionSpec()
    mapped = jax.shard_map(
        fn,
        mesh=mesh,
        in_specs=(rows, *(replicated for _ in shared)),
        out_specs=rows,
        check_vma=False,
    )
    return mapped(padded, *shared)[:b]


# --------------------------------------------------------------------------- public API
@functools.partial(jax.jit, static_argnames=("metric", "block_size", "unroll", "mesh", "kw"))
def _pairwise_jit(ps, qs, metric, block_size, unroll, mesh, kw, kw_arrays):
    kwargs = dict(zip(kw, kw_arrays, strict=True))
    if isinstance(metric, str) and metric in _OVERLAP_METRICS:
        fn = lambda a, b: _overlap_pairwise(a, b, metric, block_size, unroll)  # noqa: E731
    else:
        kernel = _pair_kernel(metric, kwargs)
        kp, kq = ps.n_components, qs.n_components
        block = max(1, block_size // (kp * kq))
        fn = lambda a, b: _generic_pairwise(kernel, a, b, block)  # noqa: E731
    return _over_mesh(fn, mesh, ps, qs)


@functools.partial(jax.jit, static_argnames=("metric", "block_size", "unroll", "mesh", "kw"))
def _paired_jit(ps, qs, metric, block_size, unroll, mesh, kw, kw_arrays):
    kwargs = dict(zip(kw, kw_arrays, strict=True))
    if isinstance(metric, str) and metric in _OVERLAP_METRICS:
        fn = lambda a, b: _overlap_paired(a, b, metric, block_size, unroll)  # noqa: E731
    else:
        kernel = _pair_kernel(metric, kwargs)
        block = max(1, block_size // (ps.n_components * qs.n_components))
        fn = lambda a, b: jax.lax.map(lambda pq: kernel(*pq), (a, b), batch_size=block)  # noqa: E731
    if mesh is None:
        return fn(ps, qs)
    b = ps.batch_shape[0]
    size = -(-b // mesh.size) * mesh.size
    both = (_pad_batch(ps, size), _pad_batch(qs, size))
    rows = PartitionSpec(mesh.axis_names)
    mapped = jax.shard_map(
        lambda pq: fn(*pq), mesh=mesh, in_specs=(rows,), out_specs=rows, check_vma=False
    )
    return mapped(both)[:b]


def _split_kwargs(kwargs: dict[str, Any]) -> tuple[tuple[str, ...], tuple[Any, ...], dict]:
    """Array-valued keyword arguments are traced; the others are static configuration."""
    arrays = {k: v for k, v in kwargs.items() if isinstance(v, jax.Array)}
    static = {k: v for k, v in kwargs.items() if k not in arrays}
    return tuple(arrays), tuple(arrays.values()), static


def _prepare(ps, qs, metric, block_size, unroll_max_dim, sharding, kwargs):
    _check_collection("ps", ps)
    qs = ps if qs is None else qs
    _check_collection("qs", qs)
    check_same_dim(ps, qs, ("ps", "qs"))
    metric = _resolve_metric(metric)
    block_size = _check_block_size(block_size, ps.dim)
    if not isinstance(unroll_max_dim, int) or unroll_max_dim < 0:
        raise ValueError(f"unroll_max_dim must be an int >= 0; got {unroll_max_dim!r}")
    mesh = _resolve_mesh(sharding)
    names, arrays, static = _split_kwargs(kwargs)
    if kwargs and metric in _OVERLAP_METRICS:
        raise ValueError(f"metric {metric!r} takes no keyword arguments; got {sorted(kwargs)}")
    if static:
        base = metric
        metric = _StaticKwargs(base, tuple(sorted(static.items())))
    return ps, qs, metric, block_size, mesh, names, arrays


class _StaticKwargs:
    """A metric with hashable static keyword arguments bound (hashable, so usable by ``jit``)."""

    def __init__(self, metric: Any, items: tuple[tuple[str, Any], ...]) -> None:
        self.metric, self.items = metric, items

    def __hash__(self) -> int:
        return hash((self.metric, self.items))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _StaticKwargs) and (self.metric, self.items) == (
            other.metric,
            other.items,
        )

    def __call__(self, p: GMM, q: GMM, **kwargs: Any) -> jax.Array:
        kernel = _pair_kernel(self.metric, {**dict(self.items), **kwargs})
        return kernel(p, q)


def pairwise_distances(
    ps: GMM,
    qs: GMM | None = None,
    metric: str | Callable[..., Any] = "l2",
    *,
    block_size: int | None = None,
    sharding: Any = "auto",
    unroll_max_dim: int = UNROLL_MAX_DIM,
    **metric_kwargs: Any,
) -> jax.Array:
    """Matrix of distances between every mixture of ``ps`` and every mixture of ``qs``.

    .. math:: D_{ab} = \\mathrm{metric}(P_a, Q_b),\\qquad a < B_p,\\ b < B_q

    Metrics (``metric``):

    - ``"l2"``, ``"l2_squared"``, ``"cs"``: :func:`~gmmjax.l2_distance`,
      :func:`~gmmjax.l2_distance_squared`, :func:`~gmmjax.cauchy_schwarz_divergence`
      (seed 000). Fast path: the self inner products
      :math:`\\langle p,p\\rangle`, :math:`\\langle q,q\\rangle` once per mixture, the cross
      Gram entries once per component pair, vectorised across pairs.
    - ``"kl"`` (= ``"kl_variational"``), ``"kl_lower_bound"``, ``"kl_upper_bound"``,
      ``"kl_mc"`` (needs ``key=``): :func:`~gmmjax.kl_divergence` with that method.
    - ``"mw2"`` (= ``"mw2_exact"``), ``"mw2_sinkhorn"``: ``mw2_distance`` (seed 001, eq. 10)
      with the exact LP or Sinkhorn solver; ``metric_kwargs`` go to it (e.g. ``epsilon``).
    - a callable ``metric(p, q, **metric_kwargs)`` of two single mixtures returning a scalar.

    Zero-weight components (the padding added by :func:`~gmmjax.stack`) do not change any
    value, so collections may mix component counts.

    Memory: the pairs are evaluated in blocks of at most ``block_size`` component pairs
    (``lax.map`` over blocks), so the peak working memory is about
    ``block_size * (d + 1) * (d + 2) / 2`` floats for the overlap metrics (each live entry of
    the unrolled factorisation is one array over the block), plus the ``(B_p, B_q)`` result and
    the inputs; for the other metrics one block holds ``block_size // (K_p * K_q)`` mixture
    pairs of the per-pair kernel. It never grows with ``B_p * B_q * K_p * K_q``.

    Devices: with more than one device (``sharding="auto"``, the default) or a given
    one-dimensional ``jax.sharding.Mesh``, rows are split across the devices with
    ``jax.shard_map``; the result equals the single-device one. ``sharding=False`` keeps
    everything on the default device.

    Args:
        ps: collection of ``B_p`` mixtures (batch shape ``(B_p,)``).
        qs: collection of ``B_q`` mixtures of the same dimension; ``None`` means ``ps``.
        metric: a name from :data:`PAIRWISE_METRICS` or a callable (see above).
        block_size: component pairs per block (default :data:`DEFAULT_BLOCK_SIZE` for
            ``d <= 8``, ``2**22 // d**2`` above).
        sharding: ``"auto"``, ``False``, or a ``jax.sharding.Mesh``.
        unroll_max_dim: largest dimension for which the per-pair factorisation of the overlap
            metrics is unrolled across pairs (above it a batched Cholesky is used).
        **metric_kwargs: forwarded to the metric (arrays are traced, others static).

    Returns:
        ``(B_p, B_q)`` array of distances.

    Raises:
        ValueError: on an unknown metric, a non-collection input, mismatched dimensions or a
            bad ``block_size``.

    Example:
        >>> a = GMM.univariate([1.0], [0.0], [1.0])
        >>> b = GMM.univariate([0.5, 0.5], [-1.0, 1.0], [1.0, 1.0])
        >>> d = pairwise_distances(stack([a, b]), metric="cs")
        >>> [[round(float(x), 4) for x in r] for r in d]
        [[0.0, 0.0601], [0.0601, 0.0]]
    """
    ps, qs, metric, block_size, mesh, names, arrays = _prepare(
        ps, qs, metric, block_size, unroll_max_dim, sharding, metric_kwargs
    )
    return _pairwise_jit(ps, qs, metric, block_size, unroll_max_dim, mesh, names, arrays)


def paired_distances(
    ps: GMM,
    qs: GMM,
    metric: str | Callable[..., Any] = "l2",
    *,
    block_size: int | None = None,
    sharding: Any = "auto",
    unroll_max_dim: int = UNROLL_MAX_DIM,
    **metric_kwargs: Any,
) -> jax.Array:
    """Distances between matching mixtures, :math:`d_a = \\mathrm{metric}(P_a, Q_a)`.

    The batched loss of a training step (a predicted and a target mixture per example),
    evaluated in blocks and split across devices like :func:`pairwise_distances`, whose
    metrics, arguments and guarantees it shares. Differentiable; its gradient is the batched
    gradient of the metric.

    Args:
        ps: collection of ``B`` mixtures.
        qs: collection of ``B`` mixtures of the same dimension.
        metric: a name from :data:`PAIRWISE_METRICS` or a callable of two single mixtures.
        block_size: component pairs per block (default :data:`DEFAULT_BLOCK_SIZE` for
            ``d <= 8``, ``2**22 // d**2`` above).
        sharding: ``"auto"``, ``False``, or a ``jax.sharding.Mesh``.
        unroll_max_dim: see :func:`pairwise_distances`.
        **metric_kwargs: forwarded to the metric.

    Returns:
        ``(B,)`` array.

    Example:
        >>> a = GMM.univariate([1.0], [0.0], [1.0])
        >>> b = GMM.univariate([1.0], [1.0], [1.0])
        >>> [round(float(x), 6) for x in paired_distances(stack([a, a]), stack([a, b]))]
        [0.0, 0.353268]
    """
    ps, qs, metric, block_size, mesh, names, arrays = _prepare(
        ps, qs, metric, block_size, unroll_max_dim, sharding, metric_kwargs
    )
    if ps.batch_shape != qs.batch_shape:
        raise ValueError(
            f"ps and qs must hold the same number of mixtures; got {ps.batch_shape[0]} "
            f"and {qs.batch_shape[0]}"
        )
    return _paired_jit(ps, qs, metric, block_size, unroll_max_dim, mesh, names, arrays)
