"""Argument checks that know the mixture types: is this a GMM, a Gaussian, a matching pair.

The one place where a :class:`Gaussian` given for a mixture becomes one (:func:`as_gmm`):
every function that takes a GMM reads its mixture arguments through :func:`as_gmm`,
:func:`check_gmm_pair` or :func:`~gmmjax._src.core.stacking.single_gmms`, so each of them
accepts a Gaussian (a batch of them: a batch of one-component mixtures) as well.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gmmjax._src.core.checks import check_same_dim, is_concrete
from gmmjax._src.core.low_rank import eigenvalue_range, is_low_rank_cov
from gmmjax._src.core.mixture import GMM, Gaussian, degenerate_covariance

__all__ = ["as_gmm", "check_gaussian_pair", "check_gmm_pair", "require_definite", "require_type"]


def require_type(name: str, value: Any, cls: type) -> None:
    """Raise a ``TypeError`` naming ``name`` when ``value`` is not a ``cls``."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__}; got {type(value).__name__}")


def as_gmm(name: str, value: Any) -> GMM:
    """``value`` as a GMM: a :class:`Gaussian` becomes a one-component mixture of weight 1.

    Batch axes are kept: a Gaussian of batch shape ``(B,)`` becomes a GMM of batch shape
    ``(B,)`` with ``K = 1``. The promotion is a reshape (no copy of the values, no check
    repeated), so it also works on traced Gaussians under ``jit``, ``vmap`` and ``grad``.

    Raises:
        TypeError: naming ``name``, when ``value`` is neither a GMM nor a Gaussian.
    """
    if isinstance(value, Gaussian):
        return GMM.from_gaussian(value)
    if not isinstance(value, GMM):
        raise TypeError(f"{name} must be a GMM or a Gaussian; got {type(value).__name__}")
    return value


def check_gmm_pair(p: Any, q: Any, names: tuple[str, str] = ("p", "q")) -> tuple[GMM, GMM]:
    """Both arguments as GMMs of one dimension (``TypeError`` / ``ValueError`` otherwise).

    Returns:
        ``(p, q)``, each Gaussian promoted to a one-component mixture (:func:`as_gmm`).
    """
    p, q = (as_gmm(name, g) for name, g in zip(names, (p, q), strict=True))
    check_same_dim(p, q, names)
    return p, q


def check_gaussian_pair(g0: Any, g1: Any, names: tuple[str, str] = ("g0", "g1")) -> None:
    """Both arguments are Gaussians of one dimension (``TypeError`` / ``ValueError``)."""
    for name, g in zip(names, (g0, g1), strict=True):
        require_type(name, g, Gaussian)
    check_same_dim(g0, g1, names)


def require_dense(function: str, **arguments: Any) -> None:
    """Raise ``TypeError`` naming ``function`` and the argument when one is low rank.

    For the functions whose result has no low-rank form built yet (the interpolants and maps
    of Chen, Georgiou & Tannenbaum 2019 between two low-rank covariances need the span of
    both factors *and* a definite remainder there); the message says how to convert.
    """
    for name, g in arguments.items():
        if getattr(g, "is_low_rank", False):
            raise TypeError(
                f"{function} does not take low-rank covariances yet: {name} is low rank; pass "
                f"{name}.to_dense() (forms the d x d matrices)"
            )


def require_definite(name: str, g: Any, function: str) -> None:
    """Raise ``ValueError`` when a concrete covariance of ``g`` is singular to working precision.

    Density-based quantities (log densities, L2, Cauchy–Schwarz, KL) divide by the
    covariance: for a singular one they are infinite or undefined. A covariance counts as
    singular to working precision when its smallest eigenvalue is at most ``eps`` (of its
    dtype) times its largest, i.e. its condition number is at least ``1/eps`` (about 8e6 in
    float32, 4.5e15 in float64): then its rounding error can move the smallest eigenvalue
    to or below 0. The constructor accepts such covariances (the transport distances handle
    them); the density-based functions refuse them eagerly, naming the argument. A
    zero-weight (padding) component with a degenerate covariance (a diagonal entry that is
    not positive) is not checked: the callers replace it by the identity
    (:func:`~gmmjax._src.core.mixture.unit_padding`), so it changes no result. Traced
    values are not checked (see ``docs/numerics.md``). The eigenvalues come from numpy in
    float64 on the host, outside XLA.
    """
    covs = g.covs if isinstance(g, GMM) else g.cov
    if not is_concrete(covs):
        return
    if is_low_rank_cov(covs):  # s + eig(F^T F): an r x r problem per component
        c, (lo, hi) = covs.factors, eigenvalue_range(covs)
    else:
        c = np.asarray(covs)
        diagonal = g.is_diagonal
        lam = c.astype(np.float64) if diagonal else np.linalg.eigvalsh(c.astype(np.float64))
        lo, hi = lam.min(axis=-1), lam.max(axis=-1)
    eps = float(np.finfo(c.dtype).eps)
    bad = ~(lo > eps * hi)
    if isinstance(g, GMM) and is_concrete(g.weights):  # degenerate padding: replaced by I
        padding = (np.asarray(g.weights) == 0) & degenerate_covariance(covs, g.is_diagonal, np)
        bad = bad & ~padding
    if not np.any(bad):
        return
    index = tuple(int(i) for i in np.argwhere(np.atleast_1d(bad))[0])
    field = "covs" if isinstance(g, GMM) else "cov"
    where = f"{name}.{field}[{', '.join(map(str, index))}]" if bad.ndim else f"{name}.{field}"
    lo_v, hi_v = np.atleast_1d(lo)[index], np.atleast_1d(hi)[index]
    raise ValueError(
        f"{function}: {where} is singular to working precision ({c.dtype}): smallest "
        f"eigenvalue {lo_v:.3g} <= eps * largest = {eps * hi_v:.3g}, so the density is "
        "undefined or its value is not resolved. Use float64 (JAX_ENABLE_X64=1) for condition "
        "numbers up to about 1e15, or a transport distance (w2_gaussian, mw2_distance), "
        "which accepts singular covariances."
    )
