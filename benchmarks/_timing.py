"""Shared helpers for the benchmark scripts: timing, peak memory, machine line, tables."""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_enable_concurrency_optimized_scheduler=false")

import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax


def block(x: Any) -> Any:
    """Wait for every array in ``x`` (a pytree) to be computed."""
    return jax.tree_util.tree_map(
        lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, x
    )


def best_time(fn: Callable[[], Any], repeat: int = 3, warmup: int = 1) -> tuple[float, Any]:
    """Best wall time of ``fn()`` over ``repeat`` runs after ``warmup`` runs (compilation)."""
    out = None
    for _ in range(warmup):
        out = block(fn())
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = block(fn())
        best = min(best, time.perf_counter() - start)
    return best, out


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def best_wall_and_cpu(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, float, Any]:
    """Like :func:`best_time`, also returning the CPU seconds (all threads) of the best run.

    On a machine shared with other work, wall time mixes in the other processes; the CPU time
    of this process does not, so throughput per CPU-second is the steadier number.
    """
    out = block(fn())
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        start, cpu0 = time.perf_counter(), cpu_seconds()
        out = block(fn())
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
        best = min(best, (wall, cpu))
    return best[0], best[1], out


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux ``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_child(script: str, args: Sequence[str], x64: bool = False, env: dict | None = None):
    """Run ``python script args`` in a fresh process and parse the last ``JSON`` line it prints.

    A fresh process per configuration gives an honest peak-RSS for that configuration alone.
    """
    full_env = dict(os.environ)
    full_env["JAX_ENABLE_X64"] = "1" if x64 else "0"
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, script, *args], env=full_env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{proc.stderr[-3000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("JSON ")][-1]
    return json.loads(line[5:])


def emit(result: dict) -> None:
    """Print a child's result for :func:`run_child`."""
    print("JSON " + json.dumps(result), flush=True)


def machine() -> str:
    """One line naming the machine and the software measured."""
    load = os.getloadavg()
    dev = jax.devices()[0]
    return (
        f"{platform.machine()} {dev.platform.upper()} ({dev.device_kind}), nproc={os.cpu_count()}, "
        f"jax {jax.__version__}, x64={jax.config.read('jax_enable_x64')}, "
        f"load average {load[0]:.1f} at start"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; floats get 3 significant digits."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def add_row(headers: Sequence[str], rows: list, row: Sequence[Any]) -> None:
    """Append ``row`` to ``rows`` and print it at once as a line of the final table."""
    rows.append(row)
    print(table(headers, [row]).splitlines()[-1], flush=True)
