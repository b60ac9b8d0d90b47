"""Optional dependencies of the command line, checked before any work is done.

The core library needs only JAX, optax, OTT, NumPy and SciPy. Figures need matplotlib
(``pip install 'gmmjax[plot]'``) and reading a scikit-learn model saved with joblib needs
scikit-learn and joblib (``pip install 'gmmjax[sklearn]'``). :func:`require` imports such a
module or raises :class:`MissingDependencyError`, whose message is one line naming the extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingDependencyError", "require"]

EXTRAS: dict[str, tuple[str, str]] = {
    # importable module: (distribution to install, gmmjax extra that brings it)
    "matplotlib": ("matplotlib", "plot"),
    "sklearn": ("scikit-learn", "sklearn"),
    "joblib": ("joblib", "sklearn"),
}


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message is one line naming the extra."""


def require(module: str, purpose: str) -> ModuleType:
    """Import the optional ``module`` needed for ``purpose``, or raise a one-line error.

    Args:
        module: a key of :data:`EXTRAS`, e.g. ``"matplotlib"``.
        purpose: what needs it, as the start of the message, e.g. ``"gmmjax demo"``.

    Raises:
        MissingDependencyError: ``module`` (or one of its own dependencies) cannot be imported.
    """
    distribution, extra = EXTRAS[module]
    try:
        return importlib.import_module(module)
    except ImportError:
        message = f"{purpose} needs {distribution}; install it with: pip install 'gmmjax[{extra}]'"
        raise MissingDependencyError(message) from None
