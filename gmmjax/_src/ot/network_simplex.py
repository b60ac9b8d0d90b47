"""Exact discrete optimal transport on the host: POT's network simplex through a callback.

The explicit alternative to :mod:`gmmjax._src.ot.shortest_paths` (the default), and the
fallback on CPU above the size where the device solver is slower
(:data:`gmmjax._src.ot.exact.HOST_ABOVE`). POT's ``ot.emd`` (C++, float64) is called through
``jax.pure_callback``: it runs under ``jit`` and ``vmap`` (a batch is one callback that loops in
NumPy), but every call is a device -> host -> device round trip. Needs the ``pot`` extra.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["pot_available", "solve_network_simplex"]


def pot_available() -> bool:
    """POT can be imported (the ``pot`` extra is installed)."""
    try:
        import ot  # noqa: F401
    except ImportError:
        return False
    return True


def _emd_batch(a: np.ndarray, b: np.ndarray, c: np.ndarray, max_iter: int) -> tuple:
    """Network simplex over every leading index, in float64; returns float64/int arrays."""
    import ot

    batch = c.shape[:-2]
    n, m = c.shape[-2:]
    plan = np.zeros((*batch, n, m))
    f = np.zeros((*batch, n))
    g = np.zeros((*batch, m))
    cost = np.zeros(batch)
    ok = np.zeros(batch, dtype=bool)
    for idx in np.ndindex(*batch):
        ai = np.asarray(a[idx], np.float64)
        bi = np.asarray(b[idx], np.float64)
        ci = np.ascontiguousarray(c[idx], np.float64)
        if not (np.all(np.isfinite(ci)) and np.all(np.isfinite(ai)) and np.all(np.isfinite(bi))):
            plan[idx], cost[idx] = np.nan, np.nan
            continue
        ai = np.maximum(ai, 0.0)
        bi = np.maximum(bi, 0.0)
        ai = ai / ai.sum()
        bi = bi / bi.sum()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, log = ot.emd(ai, bi, ci, numItermax=max_iter, log=True, check_marginals=False)
        plan[idx] = p
        shift = np.mean(log["u"])  # gauge: mean(f) = 0, f_i + g_j unchanged
        f[idx] = log["u"] - shift
        g[idx] = log["v"] + shift
        cost[idx] = np.sum(p * ci)
        ok[idx] = log["result_code"] == 1
    return cost, plan, f, g, ok


def solve_network_simplex(a: jax.Array, b: jax.Array, c: jax.Array, max_iter: int) -> tuple:
    """``(cost, plan, f, g, converged, -1)`` from POT's ``ot.emd`` in one host callback.

    Works on any leading batch axes (``vmap`` adds them: one callback loops over the batch).
    """
    dtype = c.dtype
    batch = c.shape[:-2]
    n, m = c.shape[-2:]
    shapes = (
        jax.ShapeDtypeStruct(batch, dtype),
        jax.ShapeDtypeStruct((*batch, n, m), dtype),
        jax.ShapeDtypeStruct((*batch, n), dtype),
        jax.ShapeDtypeStruct((*batch, m), dtype),
        jax.ShapeDtypeStruct(batch, jnp.bool_),
    )

    def host(a_: Any, b_: Any, c_: Any) -> tuple:
        out = _emd_batch(np.asarray(a_), np.asarray(b_), np.asarray(c_), max_iter)
        return tuple(np.asarray(x, s.dtype) for x, s in zip(out, shapes, strict=True))

    out = jax.pure_callback(host, shapes, a, b, c, vmap_method="broadcast_all")
    return (*out, jnp.full(batch, -1, jnp.int32))
