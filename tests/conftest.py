"""Shared test configuration.

The suite runs twice (``make test``): with ``JAX_ENABLE_X64=0`` and ``=1``. JAX reads that
variable itself; tests that need float64 use the ``x64`` fixture or skip via ``needs_x64``.
Tolerances are keyed by dtype through :func:`tol`.
"""

from __future__ import annotations

import gc
import os

# Before JAX starts a backend: avoid the CPU scheduler deadlock (gmmjax also sets this).
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_enable_concurrency_optimized_scheduler=false")
# One OpenBLAS thread per process (also set by the Makefile): several test workers share the
# cores, and spinning BLAS threads made the NumPy references 75x slower (see the Makefile).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

X64 = bool(jax.config.read("jax_enable_x64"))
DTYPE = jnp.float64 if X64 else jnp.float32

needs_x64 = pytest.mark.skipif(not X64, reason="needs JAX_ENABLE_X64=1")

# Modules whose subject does not depend on the default precision run in one of the two runs
# of ``make test`` (each says why with its ``pytestmark``): explicit float32 inputs, JAX
# transformations, checked mode, hang checks, the command line, sharding, LAPACK batch
# bounds, the mathematical properties, collections against single pairs. Every public
# function is still tested in both precisions by the module of its kernel.
only_float32_run = pytest.mark.skipif(X64, reason="precision-independent: in the float32 run")
only_float64_run = pytest.mark.skipif(not X64, reason="precision-independent: in the float64 run")


def tol(float64: float = 1e-9, float32: float = 1e-4) -> float:
    """The tolerance for the precision this run uses."""
    return float64 if X64 else float32


def random_spd(rng: np.random.Generator, d: int, cond: float = 10.0) -> np.ndarray:
    """A random symmetric positive-definite matrix with the given condition number."""
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eig = np.geomspace(1.0, cond, d) if d > 1 else np.ones(1)
    m = (q * eig) @ q.T
    return 0.5 * (m + m.T)


def random_gmm_arrays(
    rng: np.random.Generator, k: int, d: int, diagonal: bool = False, cond: float = 10.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights, means and covariances of a random mixture (numpy float64)."""
    w = rng.dirichlet(np.ones(k))
    m = rng.standard_normal((k, d))
    if diagonal:
        c = rng.uniform(0.3, 2.0, (k, d))
    else:
        c = np.stack([random_spd(rng, d, cond) * rng.uniform(0.3, 2.0) for _ in range(k)])
    return w, m, c


def pytest_collection_modifyitems(config, items):
    """Docstring examples run once, in the default precision (the float32 run)."""
    if not X64:
        return
    skip = pytest.mark.skip(reason="docstring examples run in the float32 (default) run")
    for item in items:
        if type(item).__name__ == "DoctestItem":
            item.add_marker(skip)


def _memory_mappings() -> tuple[int, int] | None:
    """``(mappings of this process, the kernel's limit)``, or ``None`` where unknown."""
    try:
        with open("/proc/self/maps", "rb") as maps:
            count = sum(1 for _ in maps)
        with open("/proc/sys/vm/max_map_count") as limit:
            return count, int(limit.read())
    except (OSError, ValueError):
        return None


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after a test module when they near the mapping limit.

    XLA's CPU backend maps the code of every compiled program into memory (about three
    mappings each); one pytest process that compiles thousands of programs reaches the
    kernel's limit (``vm.max_map_count``, 65,530 by default) and then crashes inside the
    compiler. ``jax.clear_caches`` releases them once half the limit is in use (always, where
    the counts cannot be read); until then later modules reuse the programs compiled before.
    """
    yield
    counts = _memory_mappings()
    if counts is None or counts[0] > counts[1] // 2:
        jax.clear_caches()
        gc.collect()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
