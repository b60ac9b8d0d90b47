"""Build a notebook (outputs stripped) from a plain Python file with ``# %%`` cell markers.

Usage: python notebooks/build.py            (rebuilds every notebooks/src/*.py)

The ``.py`` sources are what we edit and review; the ``.ipynb`` files are generated from them.

Cells starting with ``# %% [markdown]`` become markdown (leading ``# `` removed from each line).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def build(source: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kernelspec"] = kernel
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


def main() -> None:
    here = Path(__file__).parent
    sources = [Path(a) for a in sys.argv[1:]] or sorted((here / "src").glob("*.py"))
    for source in sources:
        target = here / f"{source.stem}.ipynb"
        nbformat.write(build(source), target)
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
