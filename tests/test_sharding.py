"""Multi-device execution: 8 forced CPU devices in a subprocess give the single-device result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from conftest import X64, only_float64_run

# Splitting a collection over devices does not depend on the precision; float64 gives the
# tighter comparison.
pytestmark = only_float64_run

SCRIPT = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import Mesh
    from gmmjax import GMM, stack
    from gmmjax._src.distances.collections import paired_distances, pairwise_distances

    assert jax.device_count() == 8, jax.devices()
    rng = np.random.default_rng(0)

    def mixture(k, d):
        a = rng.standard_normal((k, d, d))
        covs = a @ np.swapaxes(a, -1, -2) / d + 0.5 * np.eye(d)
        return GMM(rng.dirichlet(np.ones(k)), rng.standard_normal((k, d)), covs)

    ps = stack([mixture(int(k), 3) for k in rng.integers(1, 4, 13)])  # 13: not a multiple of 8
    qs = stack([mixture(int(k), 3) for k in rng.integers(1, 4, 6)])
    out = {}
    for metric in ("l2", "kl"):
        one = pairwise_distances(ps, qs, metric=metric, block_size=64, sharding=False)
        many = pairwise_distances(ps, qs, metric=metric, block_size=64)
        out[metric] = float(jnp.max(jnp.abs(one - many)))
        out[metric + "_scale"] = float(jnp.max(jnp.abs(one)))
    one = paired_distances(ps[:6], qs, metric="l2", sharding=False)
    many = paired_distances(ps[:6], qs, metric="l2")
    out["paired"] = float(jnp.max(jnp.abs(one - many)))
    mesh = Mesh(np.array(jax.devices()[:4]), ("rows",))
    four = pairwise_distances(ps, qs, metric="l2", sharding=mesh)
    out["mesh4"] = float(jnp.max(jnp.abs(four - pairwise_distances(ps, qs, sharding=False))))

    def loss(means):
        g = GMM._unchecked(ps.weights, means, ps.covs)
        return jnp.sum(pairwise_distances(g, qs, metric="l2"))

    def loss_one(means):
        g = GMM._unchecked(ps.weights, means, ps.covs)
        return jnp.sum(pairwise_distances(g, qs, metric="l2", sharding=False))

    out["grad"] = float(jnp.max(jnp.abs(jax.grad(loss)(ps.means) - jax.grad(loss_one)(ps.means))))
    hlo = jax.jit(lambda a, b: pairwise_distances(a, b)).lower(ps, qs).as_text()
    out["manual_sharding"] = ("manual" in hlo.lower()) and ("8" in hlo)
    print("RESULT " + json.dumps(out))
    """
)


def test_eight_cpu_devices_reproduce_the_single_device_result():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        "--xla_force_host_platform_device_count=8 "
        "--xla_cpu_enable_concurrency_optimized_scheduler=false"
    )
    env["JAX_ENABLE_X64"] = "1" if X64 else "0"
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    out = json.loads(line[len("RESULT ") :])
    tight = 1e-12 if X64 else 1e-5
    for metric in ("l2", "kl"):
        assert out[metric] <= tight * max(1.0, out[metric + "_scale"]), (metric, out)
    assert out["paired"] <= tight
    assert out["mesh4"] <= tight
    assert out["grad"] <= tight * 10
    assert out["manual_sharding"], "the program was not split across devices"
