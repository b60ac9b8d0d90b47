"""Small argument checks shared by the public functions.

Structural checks (shapes, ranks, names) always run, also under ``jit``, because shapes are
static. Value checks (finite, PSD, simplex, ranges) need concrete numbers: they run eagerly
when the argument is a concrete array and are skipped when it is a tracer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import numpy as np


def is_concrete(*values: Any) -> bool:
    """True when no value is a JAX tracer, so its numbers can be inspected eagerly."""
    return not any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(values))


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` when it is one of ``choices``, else raise a ``ValueError`` naming both."""
    choices = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {choices}; got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {choices}")
    return value


def check_positive(name: str, value: Any) -> None:
    """Raise a ``ValueError`` when a concrete ``value`` is not strictly positive (or is NaN)."""
    if value is None or not is_concrete(value):
        return
    arr = np.asarray(value, dtype=float)
    if not np.all(arr > 0.0):
        raise ValueError(f"{name} must be > 0; got {arr.tolist()}")


def check_same_dim(p: Any, q: Any, names: tuple[str, str] = ("p", "q")) -> None:
    """Raise a ``ValueError`` when two distributions live in spaces of different dimension."""
    if p.dim != q.dim:
        raise ValueError(
            f"dimension mismatch: {names[0]} has dim {p.dim} but {names[1]} has dim {q.dim}"
        )


def check_simplex(name: str, weights: Any) -> None:
    """Raise a ``ValueError`` when concrete ``weights`` are not a probability vector."""
    if not is_concrete(weights):
        return
    w = np.asarray(weights, dtype=np.float64)
    if np.any(~np.isfinite(w)) or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-5:
        raise ValueError(f"{name} must be a probability vector (>= 0, sum 1); got {w.tolist()}")
