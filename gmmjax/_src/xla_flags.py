"""Guard against an intermittent deadlock of XLA's CPU scheduler.

With jaxlib 0.10.x, XLA's concurrency-optimised CPU scheduler can deadlock (0% CPU, threads
waiting on a futex) when one jitted program runs several independent batched linear-algebra
calls, which is exactly what a vmapped distance between mixtures compiles to. Disabling that
scheduler removes most of these hangs at no measured cost (the rest came from jaxlib's LAPACK
kernels waiting on the thread pool; :mod:`gmmjax._linalg` avoids those). XLA reads
``XLA_FLAGS`` once, when the first backend starts, so ``import gmmjax`` adds the flag only if no
backend is running yet.

Opt out by setting ``GMMJAX_KEEP_XLA_FLAGS=1`` (gmmjax then leaves ``XLA_FLAGS`` untouched), or
set the flag yourself to any value.
"""

from __future__ import annotations

import os
import sys
import warnings

SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
_FLAG_NAME = "xla_cpu_enable_concurrency_optimized_scheduler"
OPT_OUT_VARIABLE = "GMMJAX_KEEP_XLA_FLAGS"


def _backends_started() -> bool:
    """Whether a JAX backend runs already (without importing JAX when it is not loaded)."""
    xla_bridge = sys.modules.get("jax._src.xla_bridge")
    if xla_bridge is None:  # JAX not imported yet, or a future layout: no backend
        return False
    return bool(xla_bridge.backends_are_initialized())


def disable_cpu_concurrency_scheduler() -> bool:
    """Add the scheduler flag to ``XLA_FLAGS`` when it can still take effect.

    Returns:
        True when the flag is (now) in ``XLA_FLAGS`` and no backend had started before it was
        set, False when the user opted out or a backend was already running.
    """
    if os.environ.get(OPT_OUT_VARIABLE, "") not in ("", "0"):
        return False
    flags = os.environ.get("XLA_FLAGS", "")
    if _FLAG_NAME in flags:
        return True
    if _backends_started():
        warnings.warn(
            "gmmjax was imported after JAX started its backend, so it could not disable XLA's "
            f"concurrency-optimised CPU scheduler; on CPU set XLA_FLAGS={SCHEDULER_FLAG} "
            "before importing jax to avoid rare hangs in batched linear algebra.",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    os.environ["XLA_FLAGS"] = f"{flags} {SCHEDULER_FLAG}".strip()
    return True
