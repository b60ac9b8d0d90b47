"""The value rules of a mixture, written once, with two runners.

A valid :class:`~gmmjax.GMM` has finite parameters, weights that are non-negative and sum to
1 (within :func:`weight_tolerance`), and covariances that are symmetric positive
semi-definite (diagonal: non-negative variances). Each rule below computes, for an array, a
mask of the entries that pass and the values to report; a *runner* decides what a failure
does:

- :func:`raise_eagerly` (concrete arrays, the constructors): raise a ``ValueError`` naming
  the field, the index of the first failing entry and its value;
- :func:`check_traced` (traced arrays, :func:`gmmjax.checked`): a
  ``jax.experimental.checkify`` check with the same message, reported after the program runs.

The rules are written against an array namespace (NumPy eagerly, ``jax.numpy`` when traced),
so the two runners cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from gmmjax._src.math.linalg import eigvalsh

__all__ = [
    "Rule",
    "check_traced",
    "covariance_rules",
    "marginal_rules",
    "raise_eagerly",
    "weight_rules",
    "weight_tolerance",
]


@dataclasses.dataclass(frozen=True)
class _Namespace:
    xp: Any
    eigvalsh: Callable[[Any], Any]


_NUMPY = _Namespace(np, lambda c: np.linalg.eigvalsh(np.asarray(c, np.float64)))
_JAX = _Namespace(jnp, eigvalsh)


@dataclasses.dataclass(frozen=True)
class Rule:
    """One condition on an array.

    Attributes:
        test: ``test(x, ns) -> (ok, value)``: ``ok`` a boolean mask (one entry per element,
            matrix or mixture) and ``value`` what to report, of the same shape.
        message: format string with ``{where}`` (the field and the index of the first
            failure) and ``{value}`` (its value).
    """

    test: Callable[[Any, _Namespace], tuple[Any, Any]]
    message: str


def weight_tolerance(dtype: Any, n_components: int) -> float:
    """Accepted ``|sum(weights) - 1|``: ``64 eps K`` of the dtype."""
    return 64.0 * float(jnp.finfo(dtype).eps) * max(1, n_components)


def _finite(x: Any, ns: _Namespace) -> tuple[Any, Any]:
    return ns.xp.isfinite(x), x


def _non_negative(x: Any, ns: _Namespace) -> tuple[Any, Any]:
    return x >= 0, x


def _relative_tolerance(covs: Any, ns: _Namespace) -> tuple[Any, Any]:
    rtol = float(np.sqrt(np.finfo(covs.dtype).eps))
    scale = ns.xp.max(ns.xp.abs(covs), axis=(-2, -1)) + np.finfo(covs.dtype).tiny
    return rtol, scale


def _symmetric(covs: Any, ns: _Namespace) -> tuple[Any, Any]:
    rtol, scale = _relative_tolerance(covs, ns)
    asym = ns.xp.max(ns.xp.abs(covs - ns.xp.swapaxes(covs, -1, -2)), axis=(-2, -1))
    return asym <= rtol * scale, asym


def _psd(covs: Any, ns: _Namespace) -> tuple[Any, Any]:
    rtol, scale = _relative_tolerance(covs, ns)
    smallest = ns.eigvalsh(0.5 * (covs + ns.xp.swapaxes(covs, -1, -2)))[..., 0]
    return smallest >= -rtol * scale, smallest


def _normal_variances(covs: Any, ns: _Namespace, diagonal: bool) -> tuple[Any, Any]:
    var = covs if diagonal else ns.xp.diagonal(covs, axis1=-2, axis2=-1)
    return (var == 0) | (ns.xp.abs(var) >= np.finfo(covs.dtype).tiny), var


def _normal_rule(diagonal: bool) -> Rule:
    return Rule(
        lambda c, ns: _normal_variances(c, ns, diagonal),
        "{where}: variance {value:.3g} is below the smallest normal {dtype} "
        "(subnormal numbers lose precision and flush to zero on some devices); use 0 or "
        "rescale the data",
    )


FINITE = Rule(_finite, "{name} must be finite; {where} = {value}")
NON_NEGATIVE = Rule(_non_negative, "{name} must be >= 0; {where} = {value}")
VARIANCES = Rule(_non_negative, "diagonal {name} (variances) must be >= 0; {where} = {value}")
SYMMETRIC = Rule(_symmetric, "{where} is not symmetric (max |C - C^T| = {value:.3g})")
PSD = Rule(_psd, "{where} is not positive semi-definite (smallest eigenvalue {value:.3g})")


def _sums_to_one(tolerance: float, digits: int) -> Rule:
    def test(w: Any, ns: _Namespace) -> tuple[Any, Any]:
        total = ns.xp.sum(w, axis=-1)
        return ns.xp.abs(total - 1.0) <= tolerance, total

    dtype = "{dtype}"
    # ``digits`` significant digits tell the sum from 1 whenever the tolerance does.
    return Rule(
        test,
        f"{{where}} must sum to 1 (tolerance {tolerance:.1e} for {dtype}); got a sum of "
        f"{{value:.{digits}g}}. Normalise them: GMM(..., normalize=True) or GMM.from_logits",
    )


def _round_trip_digits(dtype: Any) -> int:
    """Significant digits that print every value of ``dtype`` distinctly (9 for float32)."""
    return int(np.ceil(1.0 + (jnp.finfo(dtype).nmant + 1) * np.log10(2.0)))


def weight_rules(weights: Any) -> tuple[Rule, ...]:
    """Finite, non-negative, summing to 1 along the last axis."""
    tolerance = weight_tolerance(weights.dtype, weights.shape[-1])
    return FINITE, NON_NEGATIVE, _sums_to_one(tolerance, _round_trip_digits(weights.dtype))


def _positive_total(w: Any, ns: _Namespace) -> tuple[Any, Any]:
    total = ns.xp.sum(w, axis=-1)
    return total > 0, total


POSITIVE_TOTAL = Rule(_positive_total, "{where} must have a positive sum; got {value}")


def marginal_rules() -> tuple[Rule, ...]:
    """Marginals of a transport problem (renormalised by the solvers): finite, >= 0, sum > 0."""
    return FINITE, NON_NEGATIVE, POSITIVE_TOTAL


def covariance_rules(diagonal: bool) -> tuple[Rule, ...]:
    """Finite and non-negative (diagonal variances), or finite, symmetric and PSD (full); the
    variances 0 or in the normal range of the dtype."""
    if diagonal:
        return FINITE, VARIANCES, _normal_rule(True)
    return FINITE, SYMMETRIC, PSD, _normal_rule(False)


def _index_text(index: tuple[Any, ...]) -> str:
    inner = ", ".join(str(i) for i in index)
    return f"({inner},)" if len(index) == 1 else f"({inner})"


def raise_eagerly(name: str, x: Any, rules: tuple[Rule, ...]) -> None:
    """Raise ``ValueError`` at the first rule a concrete ``x`` breaks (first entry, C order)."""
    x = np.asarray(x)
    for rule in rules:
        ok, value = rule.test(x, _NUMPY)
        ok = np.asarray(ok)
        if np.all(ok):
            continue
        index = tuple(int(i) for i in np.argwhere(~np.atleast_1d(ok))[0])[: ok.ndim]
        where = f"{name}[{_index_text(index)}]" if index else name
        shown = np.asarray(value)[index] if index else np.asarray(value)[()]
        raise ValueError(rule.message.format(name=name, where=where, value=shown, dtype=x.dtype))


def check_traced(name: str, x: Any, rules: tuple[Rule, ...]) -> None:
    """Add a ``checkify`` check per rule for a traced ``x``, with the eager messages."""
    for rule in rules:
        ok, value = rule.test(x, _JAX)
        ok, value = jnp.asarray(ok), jnp.asarray(value)
        first = jnp.argmin(ok.reshape(-1))  # the first False (0 when all pass)
        index = [f"{{i{a}}}" for a in range(ok.ndim)]
        where = f"{name}[{_index_text(index)}]" if index else name
        # checkify formats its arguments as strings: the value keeps no format spec here.
        plain = re.sub(r"\{value:[^}]*\}", "{value}", rule.message)
        message = plain.format(name=name, where=where, value="{value}", dtype=x.dtype)
        coords = jnp.unravel_index(first, ok.shape) if ok.ndim else ()
        kwargs = {f"i{a}": c for a, c in enumerate(coords)}
        checkify.check(jnp.all(ok), message, value=value.reshape(-1)[first], **kwargs)
