"""Scalar arguments (``epsilon``, ``t``, ``max_iter``, ``n_samples``, block sizes), checked once.

A scalar argument can arrive in four forms, and each gets the strongest check it allows:

- the wrong kind of object (``bool``, ``str``, ``complex``, ``None`` where it is not allowed,
  a float where an int is needed): ``TypeError`` naming the argument, always;
- a concrete number (Python, NumPy scalar, 0-d array): ``ValueError`` naming the argument and
  the value when it is out of range or not finite;
- a traced number inside :func:`gmmjax.checked`: a ``jax.experimental.checkify`` check with
  the same message, reported after the program runs;
- a traced number anywhere else (a plain ``jit``, ``vmap``, ``grad``): the value is replaced
  by NaN where it is invalid, so the result is NaN, never a plausible wrong number.

``checkify`` checks may only be emitted while :func:`gmmjax.checked` traces its function
(under a plain ``jit`` checkify refuses them): :func:`traced_checks` marks that span, and
functions whose compiled traces are cached and shared between checked and unchecked callers
turn it off for their bodies.

Integer arguments that fix the size or the loop count of a compiled program (``max_iter``,
``n_samples``, block sizes) are static: they must be concrete ints, and a traced value is a
``TypeError``.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

__all__ = [
    "check_real",
    "check_static_int",
    "in_checked_mode",
    "sample_shape_tuple",
    "traced_checks",
]

_CHECKED_MODE = contextvars.ContextVar("gmmjax_checked_mode", default=False)


def in_checked_mode() -> bool:
    """True while :func:`gmmjax.checked` traces its function (checkify checks are allowed)."""
    return _CHECKED_MODE.get()


@contextlib.contextmanager
def traced_checks(enabled: bool) -> Iterator[None]:
    """Allow (``True``) or forbid (``False``) checkify checks of traced scalars in this span."""
    token = _CHECKED_MODE.set(enabled)
    try:
        yield
    finally:
        _CHECKED_MODE.reset(token)


def _describe(value: Any) -> str:
    return f"{value!r:.60} ({type(value).__name__})"


def _numeric_dtype(name: str, value: Any, expected: str) -> tuple[Any, tuple[int, ...]]:
    """The dtype and shape of a real number or array, or a ``TypeError`` naming ``name``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be {expected}; got {_describe(value)}")
    if isinstance(value, (int, float)):
        return np.dtype(type(value)), ()
    if isinstance(value, (jax.Array, np.ndarray, np.generic)):
        dtype = value.dtype
        if jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating):
            return dtype, tuple(value.shape)
    raise TypeError(f"{name} must be {expected}; got {_describe(value)}")


def _range_text(low: float | None, high: float | None, low_open: bool) -> str:
    if low is not None and high is not None:
        return f"lie in {'(' if low_open else '['}{low:g}, {high:g}]"
    if low is not None:
        return f"be {'>' if low_open else '>='} {low:g} and finite"
    return f"be <= {high:g}" if high is not None else "be finite"


def _in_range(x: Any, xp: Any, low: float | None, high: float | None, low_open: bool) -> Any:
    ok = xp.isfinite(x)
    if low is not None:
        ok = ok & ((x > low) if low_open else (x >= low))
    if high is not None:
        ok = ok & (x <= high)
    return ok


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    allow_none: bool = False,
    scalar: bool = True,
) -> Any:
    """Check a real argument: finite and within ``[low, high]`` (``(low, ...`` if ``low_open``).

    Args:
        name: how messages call the argument.
        value: a Python int/float, a NumPy scalar, or an array (0-d when ``scalar``).
        low, high: bounds (``None``: unbounded on that side).
        low_open: exclude ``low`` itself (``epsilon > 0``).
        allow_none: ``None`` is a valid value (a default chosen later) and is returned as is.
        scalar: require a 0-d value.

    Returns:
        ``value`` unchanged when it is concrete (or ``None``); a traced ``value`` with NaN
        where it is invalid (after a checkify check inside :func:`gmmjax.checked`).

    Raises:
        TypeError: ``bool``, ``str``, ``complex``, ``None`` (unless allowed) or any other
            non-real object.
        ValueError: a concrete value out of range or not finite, or of the wrong shape.
    """
    if value is None and allow_none:
        return None
    rule = _range_text(low, high, low_open)
    _, shape = _numeric_dtype(name, value, "a real number")
    if scalar and shape:
        raise ValueError(f"{name} must be a scalar; got shape {shape}")
    if not isinstance(value, jax.core.Tracer):
        arr = np.asarray(value, dtype=np.float64)
        if not np.all(_in_range(arr, np, low, high, low_open)):
            raise ValueError(f"{name} must {rule}; got {arr.tolist()}")
        return value
    ok = _in_range(value, jnp, low, high, low_open)
    if in_checked_mode():
        first = jnp.argmin(ok.reshape(-1))
        message = f"{name} must {rule}; got {{value}}"
        checkify.check(jnp.all(ok), message, value=value.reshape(-1)[first])
    return jnp.where(ok, value, jnp.nan)


def _is_int(value: Any) -> bool:
    """A 0-d integer (Python, NumPy or JAX, traced or not); ``bool`` does not count."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, int):
        return True
    kind = getattr(value, "dtype", None)
    if kind is None or not jnp.issubdtype(kind, jnp.integer):
        return False
    return not getattr(value, "shape", ())


def check_static_int(name: str, value: Any, *, low: int = 1, allow_none: bool = False) -> Any:
    """A concrete int ``>= low`` (Python, NumPy or 0-d integer array) as a Python ``int``.

    Raises:
        TypeError: not an int (``bool``, float, ``str``, ``None`` unless allowed), or traced.
        ValueError: smaller than ``low``.
    """
    if value is None and allow_none:
        return None
    expected = f"an int >= {low}"
    if not _is_int(value):
        raise TypeError(f"{name} must be {expected}; got {_describe(value)}")
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{name} must be a concrete int (it fixes the compiled program); got a traced value"
        )
    number = int(value)
    if number < low:
        raise ValueError(f"{name} must be {expected}; got {number}")
    return number


def sample_shape_tuple(name: str, value: Any) -> tuple[int, ...]:
    """``value`` (a concrete int or a sequence of them, each >= 0) as a tuple of ints.

    The ints are those of :func:`check_static_int`: Python, NumPy and 0-d integer arrays;
    ``True``/``False`` and floats do not count.

    Raises:
        TypeError: an entry that is not a concrete int.
        ValueError: a negative entry.
    """
    entries = value if isinstance(value, (tuple, list)) else (value,)
    shape = []
    for entry in entries:
        if not _is_int(entry) or isinstance(entry, jax.core.Tracer):
            raise TypeError(
                f"{name} must be an int or a tuple of ints; got {value!r:.80} "
                f"({type(entry).__name__})"
            )
        if int(entry) < 0:
            raise ValueError(f"{name} must hold sizes >= 0; got {value!r:.80}")
        shape.append(int(entry))
    return tuple(shape)
