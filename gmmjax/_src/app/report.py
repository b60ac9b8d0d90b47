"""Rows, timings and the summary table of ``gmmjax demo``.

Each demo section returns rows ``(quantity, value, seconds)``; ``seconds`` is the wall time of
the timed call (first call, compilation included), 0 when nothing was timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax

__all__ = ["Row", "format_table", "timed", "write_report"]

Row = tuple[str, str, float]


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and the seconds it took until its arrays were ready."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args, **kwargs))
    return out, time.perf_counter() - start


def format_table(sections: Sequence[tuple[str, Sequence[Row]]]) -> str:
    """A plain-text table: one heading line per section, then its rows, indented.

    Example:
        >>> print(format_table([("Section", [("a", "1.5", 0.25), ("bb", "2", 0.0)])]))
        quantity  value   time [s]
        --------------------------
        Section
          a         1.5      0.250
          bb          2
    """
    rows = [row for _, section_rows in sections for row in section_rows]
    width = max([len(name) + 2 for name, _, _ in rows] + [8])
    vwidth = max([len(value) for _, value, _ in rows] + [5])
    header = f"{'quantity':<{width}}  {'value':>{vwidth}}  {'time [s]':>9}"
    lines = [header, "-" * len(header)]
    for title, section_rows in sections:
        lines.append(title)
        for name, value, seconds in section_rows:
            shown = f"{seconds:9.3f}" if seconds else ""
            lines.append(f"{'  ' + name:<{width}}  {value:>{vwidth}}  {shown}".rstrip())
    return "\n".join(lines)


def write_report(out: Path, papers: Sequence[str], table: str, elapsed: float) -> Path:
    """Write ``out/report.md``: the papers, the table and every PNG figure in ``out``."""
    figures = sorted(p.name for p in out.glob("*.png"))
    parts = [
        "# gmmjax demo report",
        "",
        "Values computed by `gmmjax demo` in float64; times include compilation on first call.",
        "",
        "## Papers",
        "",
        *[f"- {paper}" for paper in papers],
        "",
        "## Results",
        "",
        "```",
        table,
        "```",
        "",
        f"Total time: {elapsed:.1f} s.",
        "",
        "## Figures",
        "",
        *[f"![{name}]({name})" for name in figures],
    ]
    path = out / "report.md"
    path.write_text("\n".join(parts) + "\n")
    return path
