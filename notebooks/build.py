"""Build the notebooks from plain Python files with ``# %%`` cell markers, executed.

Usage::

    python notebooks/build.py                  # every notebooks/src/*.py, executed
    python notebooks/build.py notebooks/src/02_optimal_transport.py
    python notebooks/build.py --no-execute     # cells only, no outputs (a quick check)

The ``.py`` sources are what we edit and review; the ``.ipynb`` files are generated from them
and stored with their outputs (figures included), so that they show on a code host or in
Jupyter before anyone runs them, and the documentation site renders them as stored.
``tests/test_notebooks.py`` checks that every stored notebook holds the cells of its source
and at least one figure.

Cells starting with ``# %% [markdown]`` become markdown (leading ``# `` removed from each line).
Execution uses the ``python3`` Jupyter kernel (the ``docs`` extra installs it) in a temporary
folder, with this checkout first on ``PYTHONPATH`` and matplotlib's inline backend; a cell that
raises stops the build of that notebook and leaves its stored version untouched. Cell ids are
numbered and no timing metadata is kept, so rebuilding an unchanged source changes only what its
computation prints.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TIMEOUT_S = 900  # per cell


def build(source: Path) -> nbformat.NotebookNode:
    """The notebook of ``source``, without outputs."""
    nb = nbformat.v4.new_notebook()
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kernelspec"] = kernel
    nb.metadata["language_info"] = {"name": "python"}
    chunks = source.read_text().split("# %%")
    for chunk in chunks[1:]:
        header, _, body = chunk.partition("\n")
        body = body.strip("\n")
        if header.strip() == "[markdown]":
            lines = [
                line[2:] if line.startswith("# ") else line.lstrip("#")
                for line in body.splitlines()
            ]
            nb.cells.append(nbformat.v4.new_markdown_cell("\n".join(lines)))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(body))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb


def execute(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel and keep the outputs."""
    import nbclient

    env = {
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        "XLA_FLAGS": os.environ.get(
            "XLA_FLAGS", "--xla_cpu_enable_concurrency_optimized_scheduler=false"
        ),
    }
    saved = {k: os.environ.get(k) for k in (*env, "MPLBACKEND")}
    os.environ.update(env)
    os.environ.pop("MPLBACKEND", None)  # Agg would draw nothing inline
    try:
        with tempfile.TemporaryDirectory() as cwd:
            client = nbclient.NotebookClient(
                nb,
                timeout=TIMEOUT_S,
                kernel_name="python3",
                record_timing=False,
                resources={"metadata": {"path": cwd}},
            )
            client.execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    nb.metadata.pop("widgets", None)
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("sources", nargs="*", type=Path, help="default: notebooks/src/*.py")
    parser.add_argument("--no-execute", action="store_true", help="store the cells only")
    args = parser.parse_args(argv)
    sources = args.sources or sorted((HERE / "src").glob("*.py"))
    failed = []
    for source in sources:
        target = HERE / f"{source.stem}.ipynb"
        start = time.perf_counter()
        nb = build(source)
        if not args.no_execute:
            try:
                nb = execute(nb)
            except Exception as err:  # report and go on with the other notebooks
                failed.append(source.name)
                first = str(err).strip().splitlines()
                print(f"FAILED {source.name}: {first[-1] if first else type(err).__name__}")
                continue
        nbformat.write(nb, target)
        print(f"wrote {target.relative_to(ROOT)} ({time.perf_counter() - start:.0f} s)")
    if failed:
        print(f"not executed (stored versions kept): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
