"""A checked mode: the constructor's value checks, also inside ``jit``.

``GMM(...)`` and ``Gaussian(...)`` check their values eagerly, but inside a jitted function the
arrays are tracers and only shapes can be checked: an invalid value (a NaN mean, weights that do
not sum to 1, a covariance that is not positive semi-definite) then travels through the
computation and shows up as NaN or as a silently wrong number. This module turns those value
checks into ``jax.experimental.checkify`` checks, which are compiled into the program and
reported after it runs:

- :func:`validate` checks one mixture or Gaussian: it raises ``ValueError`` at once when the
  arrays are concrete and adds checkify checks when they are traced;
- :func:`checked` wraps a function so that every ``GMM``/``Gaussian`` argument is validated
  (named after the parameter it was passed as), the function runs jitted, and the first failed
  check raises ``ValueError`` (``checkify.JaxRuntimeError``) after the call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import jax
import numpy as np
from jax.experimental import checkify

from gmmjax._src.core import rules
from gmmjax._src.core.checks import is_concrete
from gmmjax._src.core.mixture import GMM, Gaussian
from gmmjax._src.core.scalars import traced_checks

__all__ = ["checked", "validate"]

T = TypeVar("T", GMM, Gaussian)


def _is_distribution(x: Any) -> bool:
    return isinstance(x, (GMM, Gaussian))


def _eager(obj: T) -> T:
    if isinstance(obj, GMM):
        GMM(obj.weights, obj.means, obj.covs)
    else:
        Gaussian(obj.mean, obj.cov)
    return obj


def _traced(obj: T, name: str) -> T:
    """The constructor's rules (:mod:`gmmjax._src.core.rules`) as checkify checks."""
    if isinstance(obj, Gaussian):
        fields = {"mean": (obj.mean, (rules.FINITE,))}
        fields["cov"] = (obj.cov, rules.covariance_rules(obj.is_diagonal))
    else:
        fields = {"weights": (obj.weights, rules.weight_rules(obj.weights))}
        fields["means"] = (obj.means, (rules.FINITE,))
        fields["covs"] = (obj.covs, rules.covariance_rules(obj.is_diagonal))
    for field, (x, field_rules) in fields.items():
        rules.check_traced(f"{name}.{field}", x, field_rules)
    return obj


def validate(obj: T, name: str | None = None) -> T:
    """Check the values of a ``GMM`` or ``Gaussian``, also inside ``jit``.

    The checks are the constructor's: finite values, weights >= 0 summing to 1 (a tolerance of
    ``64 eps K``), covariances symmetric positive semi-definite (diagonal: variances >= 0).
    With concrete arrays a failure raises ``ValueError`` immediately. With traced arrays
    (inside ``jit``/``vmap``/``grad``) the checks become ``jax.experimental.checkify`` checks:
    run the enclosing function through ``checkify.checkify`` (or use :func:`checked`) to have
    them reported; under a plain ``jit`` checkify refuses to trace them.

    Args:
        obj: the mixture or Gaussian to check.
        name: how the messages call it (default ``"gmm"``/``"gaussian"``).

    Returns:
        ``obj`` itself, so that ``p = validate(p)`` reads naturally.

    Raises:
        TypeError: if ``obj`` is neither a ``GMM`` nor a ``Gaussian``.
        ValueError: for concrete invalid values.

    Example:
        >>> import jax.numpy as jnp
        >>> p = GMM(jnp.array([0.5, 0.5]), jnp.zeros((2, 1)), jnp.ones((2, 1)))
        >>> validate(p) is p
        True
    """
    if not _is_distribution(obj):
        raise TypeError(f"validate expects a GMM or a Gaussian; got {type(obj).__name__}")
    if name is None:
        name = "gmm" if isinstance(obj, GMM) else "gaussian"
    if is_concrete(obj):
        return _eager(obj)
    return _traced(obj, name)


F = TypeVar("F", bound=Callable[..., Any])


def checked(
    fn: F, *, errors: frozenset[Any] = checkify.user_checks, jit: bool = True
) -> Callable[..., Any]:
    """Wrap ``fn`` so that invalid mixtures raise ``ValueError`` even though it runs jitted.

    Every ``GMM``/``Gaussian`` found in the arguments (also nested in lists, tuples or dicts) is
    checked with :func:`validate` inside the compiled program, under the name of the parameter
    it was passed as (``"q.covs is not positive semi-definite ..."``). Scalar arguments passed
    as arrays or NumPy scalars (traced here) are checked by the functions that take them
    (``epsilon > 0``, ``t`` in ``[0, 1]``, ...), with the messages of their eager errors.
    The wrapped function is ``jax.jit``-compiled once per shape (``jit=False`` to skip
    that); after it runs, the first failed check raises ``checkify.JaxRuntimeError``, a
    subclass of ``ValueError``. Pass
    ``errors=checkify.user_checks | checkify.float_checks`` to also catch NaNs produced
    inside ``fn`` itself.

    Call the wrapper outside your own ``jit``. To check inside a larger jitted program,
    call :func:`validate` there and run the whole program through ``checkify.checkify``.

    The checks cost roughly one eigenvalue decomposition per full covariance per call; use the
    unchecked functions in tight loops once the inputs are known to be valid.

    Args:
        fn: a function taking mixtures (and anything else) as arguments.
        errors: checkify error categories to enable (user checks, i.e. the value checks, by
            default).
        jit: compile the checked function with ``jax.jit``.

    Returns:
        A function with ``fn``'s signature and result.

    Example:
        >>> import jax.numpy as jnp
        >>> from gmmjax import cauchy_schwarz_divergence
        >>> cs = checked(cauchy_schwarz_divergence)
        >>> p = GMM(jnp.array([1.0]), jnp.zeros((1, 1)), jnp.ones((1, 1)))
        >>> float(cs(p, p))
        0.0
        >>> bad = GMM._unchecked(jnp.array([1.0]), jnp.zeros((1, 1)), -jnp.ones((1, 1)))
        >>> cs(p, bad)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        jax._src.checkify.JaxRuntimeError: diagonal q.covs (variances) must be >= 0; ...
    """
    try:
        return _checked_cached(fn, errors, jit)
    except TypeError:  # an unhashable callable: a wrapper of its own
        return _checked(fn, errors, jit)


def _checked(fn: F, errors: frozenset[Any], jit: bool) -> Callable[..., Any]:
    """The wrapper of :func:`checked`, built anew."""
    try:
        signature: inspect.Signature | None = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        signature = None

    def names_for(args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
        if signature is not None:
            try:
                bound = signature.bind(*args, **kwargs)
                return list(bound.arguments.items())
            except TypeError:
                pass
        return [(f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())

    def validating(*args: Any, **kwargs: Any) -> Any:
        for name, value in names_for(args, kwargs):
            leaves = jax.tree_util.tree_leaves_with_path(value, is_leaf=_is_distribution)
            for path, leaf in leaves:
                if _is_distribution(leaf):
                    _traced(leaf, name + jax.tree_util.keystr(path))
        with traced_checks(True):  # traced scalars (epsilon, t) get checkify checks too
            return fn(*args, **kwargs)

    program = checkify.checkify(validating, errors=errors)

    def run(dynamic: list[Any], static: tuple[Any, tuple[bool, ...], tuple[Any, ...]]) -> Any:
        treedef, mask, constants = static
        dyn, const = iter(dynamic), iter(constants)
        leaves = [next(dyn) if is_array else next(const) for is_array in mask]
        args, kwargs = jax.tree_util.tree_unflatten(treedef, leaves)
        return program(*args, **kwargs)

    compiled = jax.jit(run, static_argnums=1) if jit else run

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Arrays are traced; everything else (names, sizes, flags) is static configuration.
        leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
        mask = tuple(isinstance(x, (jax.Array, np.ndarray, np.generic)) for x in leaves)
        dynamic = [x for x, is_array in zip(leaves, mask, strict=True) if is_array]
        constants = tuple(x for x, is_array in zip(leaves, mask, strict=True) if not is_array)
        err, out = compiled(dynamic, (treedef, mask, constants))
        err.throw()
        return out

    return wrapper


#: ``checked(f)`` written inline (in a loop, in a notebook cell) reuses one compiled program.
_checked_cached = functools.lru_cache(maxsize=256)(_checked)
