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
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from gmmjax._checks import is_concrete
from gmmjax._linalg import eigvalsh
from gmmjax._mixture import GMM, Gaussian, _weight_tolerance

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


def _check_finite(name: str, x: jax.Array) -> None:
    checkify.check(jnp.all(jnp.isfinite(x)), f"{name} must be finite; it holds NaN or inf")


def _check_covariances(name: str, covs: jax.Array, diagonal: bool) -> None:
    _check_finite(name, covs)
    if diagonal:
        low = jnp.min(covs)
        checkify.check(low >= 0, f"diagonal {name} (variances) must be >= 0; got min {{v}}", v=low)
        return
    rtol = float(np.sqrt(jnp.finfo(covs.dtype).eps))
    scale = jnp.max(jnp.abs(covs), axis=(-2, -1)) + jnp.finfo(covs.dtype).tiny
    asym = jnp.max(jnp.abs(covs - jnp.swapaxes(covs, -1, -2)), axis=(-2, -1))
    checkify.check(
        jnp.all(asym <= rtol * scale),
        f"{name} is not symmetric (max |C - C^T| = {{v}})",
        v=jnp.max(asym),
    )
    sym = 0.5 * (covs + jnp.swapaxes(covs, -1, -2))
    eig_min = eigvalsh(sym)[..., 0]
    checkify.check(
        jnp.all(eig_min >= -rtol * scale),
        f"{name} is not positive semi-definite (smallest eigenvalue {{v}})",
        v=jnp.min(eig_min),
    )


def _traced(obj: T, name: str) -> T:
    if isinstance(obj, Gaussian):
        _check_finite(f"{name}.mean", obj.mean)
        _check_covariances(f"{name}.cov", obj.cov, obj.is_diagonal)
        return obj
    w = obj.weights
    _check_finite(f"{name}.weights", w)
    checkify.check(jnp.all(w >= 0), f"{name}.weights must be >= 0; got min {{v}}", v=jnp.min(w))
    error = jnp.abs(jnp.sum(w, axis=-1) - 1.0)
    tol = _weight_tolerance(w.dtype, obj.n_components)
    checkify.check(
        jnp.all(error <= tol),
        f"{name}.weights must sum to 1 (tolerance {tol:.1e}); off by {{v}}. Normalise them "
        "(GMM(..., normalize=True) or GMM.from_logits)",
        v=jnp.max(error),
    )
    _check_finite(f"{name}.means", obj.means)
    _check_covariances(f"{name}.covs", obj.covs, obj.is_diagonal)
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
    it was passed as (``"q.covs is not positive semi-definite ..."``). The wrapped function is
    ``jax.jit``-compiled once per shape (``jit=False`` to skip that); after it runs, the first
    failed check raises ``checkify.JaxRuntimeError``, a subclass of ``ValueError``. Pass
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
        jax._src.checkify.JaxRuntimeError: diagonal q.covs (variances) must be >= 0; got min -1.0...
    """
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
