"""The tutorial notebooks: stored executed, in step with their sources, runnable from ``docs``.

``notebooks/*.ipynb`` are generated from ``notebooks/src/*.py`` by ``notebooks/build.py``, which
executes them and stores their outputs. The checks of what is stored are cheap and do not depend
on the precision (float64 run); executing every notebook is slow and runs once, in the float32
run (the notebooks choose their own precision).
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest
from conftest import X64, only_float64_run

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOURCES = sorted((ROOT / "notebooks" / "src").glob("*.py"))
nbformat = pytest.importorskip("nbformat")

# What a figure method returns, shown when it ends a cell: `Text(0.5, 1.0, 'title')`,
# `<matplotlib.legend.Legend at 0x...>`, `[<matplotlib.lines.Line2D at 0x...>]`, ...
STRAY_REPR = re.compile(r"^\[?(Text\(|<matplotlib|<Legend|<Figure|<Axes|<mpl_toolkits)")


def _builder():
    spec = importlib.util.spec_from_file_location("notebook_build", ROOT / "notebooks" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _code_outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from cell.outputs


@only_float64_run
def test_every_source_has_a_notebook():
    assert [p.stem for p in SOURCES] == [p.stem for p in NOTEBOOKS]


@only_float64_run
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_holds_the_cells_of_its_source(path):
    source = ROOT / "notebooks" / "src" / f"{path.stem}.py"
    expected = _builder().build(source)
    stored = nbformat.read(path, as_version=4)
    assert [(c.cell_type, c.source) for c in stored.cells] == [
        (c.cell_type, c.source) for c in expected.cells
    ], f"{path.name} is out of date: run python notebooks/build.py {source.relative_to(ROOT)}"


@only_float64_run
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_executed_with_a_figure(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{path.name}: not executed"
    outputs = list(_code_outputs(nb))
    assert not [o for o in outputs if o.output_type == "error"], f"{path.name}: a cell failed"
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert figures, f"{path.name} holds no figure"
    stray = [
        o.data["text/plain"]
        for o in outputs
        if o.output_type == "execute_result" and STRAY_REPR.match(o.data.get("text/plain", ""))
    ]
    assert not stray, f"{path.name}: figure objects printed as cell results: {stray}"


def _requirement_names(requirements, extras):
    """Distribution names of ``requirements``, with ``gmmjax[...]`` expanded from ``extras``."""
    names = set()
    for requirement in requirements:
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[([^\]]*)\])?", requirement)
        name, inner = match.group(1), match.group(2)
        if name == "gmmjax":
            for extra in inner.split(","):
                names |= _requirement_names(extras[extra.strip()], extras)
        else:
            names.add(re.sub(r"[-_.]+", "-", name).lower())
    return names


@only_float64_run
def test_the_docs_extra_installs_every_notebook_import():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    installed = _requirement_names(project["dependencies"] + extras["docs"], extras)
    assert {"nbclient", "ipykernel", "pot"} <= installed  # the runner, and notebook 02's POT
    owners = importlib.metadata.packages_distributions()
    missing = set()
    for source in SOURCES:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                modules = [node.module]
            else:
                continue
            for top in {m.split(".")[0] for m in modules}:
                if top in sys.stdlib_module_names or top == "gmmjax":
                    continue
                dists = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(top, [top])}
                if not dists & installed:
                    missing.add(f"{source.name}: {top}")
    assert not missing, f"imports no dependency of gmmjax[docs] provides: {sorted(missing)}"


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(X64, reason="notebooks choose their own precision; executed in the float32 run")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
