"""Argument checks that know the mixture types: is this a GMM, a Gaussian, a matching pair."""

from __future__ import annotations

from typing import Any

from gmmjax._src.core.checks import check_same_dim
from gmmjax._src.core.mixture import GMM, Gaussian

__all__ = ["check_gaussian_pair", "check_gmm_pair", "require_type"]


def require_type(name: str, value: Any, cls: type) -> None:
    """Raise a ``TypeError`` naming ``name`` when ``value`` is not a ``cls``."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__}; got {type(value).__name__}")


def check_gmm_pair(p: Any, q: Any, names: tuple[str, str] = ("p", "q")) -> None:
    """Both arguments are GMMs of one dimension (``TypeError`` / ``ValueError`` otherwise)."""
    for name, g in zip(names, (p, q), strict=True):
        require_type(name, g, GMM)
    check_same_dim(p, q, names)


def check_gaussian_pair(g0: Any, g1: Any, names: tuple[str, str] = ("g0", "g1")) -> None:
    """Both arguments are Gaussians of one dimension (``TypeError`` / ``ValueError``)."""
    for name, g in zip(names, (g0, g1), strict=True):
        require_type(name, g, Gaussian)
    check_same_dim(g0, g1, names)
