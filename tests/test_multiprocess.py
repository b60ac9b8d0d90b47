"""Two processes on one machine: ``pairwise_distances`` over ``jax.distributed``.

``docs/scaling.md`` says a multi-host run is JAX's multi-controller runtime over the same
``shard_map`` program; this starts two processes on 127.0.0.1 (gloo CPU collectives, two
forced CPU devices each, so the rows are split over four devices in two processes), gathers
the matrix and checks it equals the single-process one exactly.

Precision-independent (the subject is the collective path, not the arithmetic): it runs in the
float64 run only, which also makes "exactly equal" the stricter statement.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import only_float64_run

import gmmjax as gj

pytestmark = only_float64_run

_NO_COLLECTIVES = 77  # the worker's exit code where the platform has no CPU collectives

_WORKER = textwrap.dedent(
    """
    import sys
    import jax

    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except Exception as err:  # an option this jaxlib does not know
        print(err, file=sys.stderr)
        sys.exit({no_collectives})
    port, rank, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{{port}}", num_processes=2, process_id=rank
    )
    assert jax.device_count() == 4 and jax.local_device_count() == 2
    import numpy as np
    from jax.experimental import multihost_utils

    sys.path.insert(0, {tests!r})
    from test_multiprocess import collections, matrix

    d = matrix(*collections())
    assert not d.is_fully_addressable  # each process holds only its devices' rows
    d = multihost_utils.process_allgather(d, tiled=True)
    if rank == 0:
        np.save(out, np.asarray(d))
    """
)


def matrix(ps: gj.GMM, qs: gj.GMM, **kwargs) -> jax.Array:
    return gj.pairwise_distances(ps, qs, metric="l2", **kwargs)


def collections() -> tuple[gj.GMM, gj.GMM]:
    """Seven and five 3-component mixtures in 2-D (seven rows: four devices need padding)."""
    rng = np.random.default_rng(0)

    def one() -> gj.GMM:
        w = rng.dirichlet(np.ones(3))
        return gj.GMM(w, rng.standard_normal((3, 2)), rng.uniform(0.3, 2.0, (3, 2)))

    return gj.stack([one() for _ in range(7)]), gj.stack([one() for _ in range(5)])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_give_the_single_process_matrix(tmp_path: Path):
    tests = str(Path(__file__).parent)
    script = _WORKER.format(no_collectives=_NO_COLLECTIVES, tests=tests)
    flags = os.environ.get("XLA_FLAGS", "")
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"{flags} --xla_force_host_platform_device_count=2 "
        "--xla_cpu_enable_concurrency_optimized_scheduler=false",
    )
    port, out = str(_free_port()), str(tmp_path / "d.npy")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, port, str(rank), out],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    try:
        results = [p.communicate(timeout=90) for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail("the two-process run did not finish within 90 s")
    codes = [p.returncode for p in procs]
    if _NO_COLLECTIVES in codes:
        pytest.skip(f"no CPU collectives on this platform: {results[0][1].strip()[-200:]}")
    assert codes == [0, 0], [err[-2000:] for _, err in results]
    want = np.asarray(matrix(*collections(), sharding=False))
    got = np.load(out)
    assert got.shape == (7, 5)
    np.testing.assert_array_equal(got, want)
