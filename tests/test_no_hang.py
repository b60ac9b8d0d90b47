"""No hangs: vmapped distances in fresh processes that set no XLA flags themselves.

jaxlib 0.10.x's concurrency-optimised CPU scheduler can deadlock on jitted programs with
independent batched linear algebra (a vmapped Cauchy–Schwarz divergence over 50 x 50 mixtures
hung in 3 of 4 runs without the flag). ``import gmmjax`` disables that scheduler before JAX
starts its backend, and ``gmmjax._src.math.linalg`` keeps every LAPACK batch small enough
that jaxlib never splits it across the thread pool (the cause of the hangs that remained
with the flag).
Each run here is a fresh interpreter whose environment has *no* ``XLA_FLAGS``, so only the
import can protect it, and each runs under a timeout so that a hang fails the test instead of
stalling CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import only_float32_run

# The LAPACK batch bounds and the scheduler flag are the same in both precisions.
pytestmark = only_float32_run

SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "GMMJAX_KEEP_XLA_FLAGS")}
    env.update(extra)
    return env


def _run(code: str, timeout: float, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=_clean_env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


VMAPPED_DISTANCES = """
import os
import numpy as np
import jax, jax.numpy as jnp
import gmmjax as gj

assert "concurrency_optimized_scheduler=false" in os.environ["XLA_FLAGS"], os.environ["XLA_FLAGS"]
rng = np.random.default_rng({seed})
B, K, d = 50, 50, 2


def batch():
    w = rng.dirichlet(np.ones(K), size=B)
    m = rng.standard_normal((B, K, d))
    a = rng.standard_normal((B, K, d, d))
    c = a @ np.swapaxes(a, -1, -2) / d + 0.5 * np.eye(d)
    return gj.GMM(w, m, c)


programs = [
    jax.jit(jax.vmap(gj.cauchy_schwarz_divergence)),
    jax.jit(jax.vmap(gj.l2_distance)),
    jax.jit(jax.vmap(lambda p, q: gj.kl_divergence(p, q))),
]
for _ in range({runs}):  # new data, the same compiled programs: another chance to hang
    ps, qs = batch(), batch()
    cs, l2, kl = (program(ps, qs) for program in programs)
    assert cs.shape == (B,) and bool(jnp.all(jnp.isfinite(cs))), cs
    assert bool(jnp.all(jnp.isfinite(l2))) and bool(jnp.all(jnp.isfinite(kl)))
print("ok", float(cs.sum()))
"""


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", range(2))
def test_vmapped_distances_finish_in_fresh_processes(seed):
    """2 fresh processes, each jitting vmapped CS, L2 and KL over 50 pairs of 50-component GMMs
    and running them on 2 batches (4 executions in all, as 4 processes of one run each did;
    the compilations, which cannot hang, are what a fresh process costs)."""
    try:
        res = _run(VMAPPED_DISTANCES.format(seed=seed, runs=2), timeout=240)
    except subprocess.TimeoutExpired:  # pragma: no cover - the failure this test exists for
        pytest.fail("vmapped distances did not finish within 240 s in a fresh process (hang)")
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.startswith("ok")


HIGH_DIM_GRADIENT = """
import numpy as np
import jax, jax.numpy as jnp
import gmmjax as gj

rng = np.random.default_rng({seed})
d = 128


def mixture(k):
    a = rng.standard_normal((k, d, d))
    covs = a @ np.swapaxes(a, -1, -2) / d + np.eye(d)
    return gj.GMM(np.full(k, 1.0 / k), rng.standard_normal((k, d)), covs)


p, q = mixture(3), mixture(2)


def loss(p):
    cs = gj.cauchy_schwarz_divergence(p, q)
    return cs + gj.kl_divergence(p, q) + gj.log_l2_distance_squared(p, q)


grad = jax.jit(jax.grad(loss))
for _ in range(5):
    g = grad(p)
assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(g))
print("ok")
"""


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", range(2))
def test_high_dimensional_gradient_finishes_in_fresh_processes(seed):
    """The jitted gradient of CS + KL + log-L2 between full-covariance mixtures in d = 128.

    2 fresh processes, 5 executions each (10 in all; the earlier 3 processes ran 3 each).

    Before ``gmmjax._src.math.linalg`` bounded the LAPACK batches, this hung in 3 of 3 runs on the
    2-core machine even with the scheduler flag (jaxlib splits a batched factorisation of
    128 x 128 matrices across the intra-op pool and waits; two at once deadlock the pool).
    """
    try:
        res = _run(HIGH_DIM_GRADIENT.format(seed=seed), timeout=240)
    except subprocess.TimeoutExpired:  # pragma: no cover - the failure this test exists for
        pytest.fail("the d = 128 gradient did not finish within 240 s in a fresh process (hang)")
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.startswith("ok")


def test_import_adds_the_flag_and_keeps_user_flags():
    code = """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
    import gmmjax
    print(os.environ["XLA_FLAGS"])
    """
    res = _run(code, timeout=120)
    assert res.returncode == 0, res.stderr
    flags = res.stdout.strip().split()
    assert "--xla_force_host_platform_device_count=1" in flags
    assert SCHEDULER_FLAG in flags


def test_import_sets_the_flag_from_a_clean_environment():
    res = _run("import os, gmmjax; print(os.environ.get('XLA_FLAGS', ''))", timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == SCHEDULER_FLAG


def test_opt_out_leaves_xla_flags_alone():
    res = _run(
        "import os, gmmjax; print(repr(os.environ.get('XLA_FLAGS')))",
        timeout=120,
        GMMJAX_KEEP_XLA_FLAGS="1",
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "None"


def test_user_setting_of_the_flag_wins():
    res = _run(
        "import os, gmmjax; print(os.environ['XLA_FLAGS'])",
        timeout=120,
        XLA_FLAGS="--xla_cpu_enable_concurrency_optimized_scheduler=true",
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "--xla_cpu_enable_concurrency_optimized_scheduler=true"


def test_import_after_backend_start_warns():
    code = """
    import warnings
    import jax, jax.numpy as jnp
    jnp.ones(1).block_until_ready()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import gmmjax
    print(any("could not disable" in str(w.message) for w in caught))
    """
    res = _run(code, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "True"


def test_every_test_runs_under_a_timeout():
    """pytest-timeout is configured for the whole suite, so a hang fails fast."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    section = text.split("[tool.pytest.ini_options]", 1)[1].split("\n[", 1)[0]
    timeout = re.search(r"^timeout\s*=\s*(\d+)", section, re.MULTILINE)
    assert timeout is not None and 0 < int(timeout.group(1)) <= 600
    pytest.importorskip("pytest_timeout")
