"""The documentation site builds without a warning and documents every public name.

Builds the whole site in a child process as ``make docs`` runs it, with warnings as errors; the
notebooks are rendered with their stored outputs, as ``make docs`` does. Every Python block of
the README runs on its own in a fresh interpreter, as a reader would paste it. Nothing here
depends on the precision: it runs in the float64 run only.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import only_float64_run

import gmmjax

pytestmark = only_float64_run
pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")
pytest.importorskip("furo")

ROOT = Path(__file__).resolve().parent.parent
MATHML = '<math xmlns="http://www.w3.org/1998/Math/MathML"'
README_BLOCKS = re.findall(
    r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S | re.M
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    html = out / "html"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        "html",
        "-d",
        str(out / "doctrees"),
        "-D",
        "nb_execution_mode=off",
        str(ROOT / "docs"),
        str(html),
    ]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, f"sphinx-build failed:\n{run.stdout}\n{run.stderr}"
    assert "WARNING" not in run.stderr and "ERROR" not in run.stderr, run.stderr
    return html


def _public_names() -> list[str]:
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        from gmmjax_docs import public_modules
    finally:
        sys.path.pop(0)
    modules = public_modules()
    assert {"gmmjax", "gmmjax.targets"} <= set(modules)
    return [f"{m}.{name}" for m in modules for name in importlib.import_module(m).__all__]


def test_every_public_name_has_a_page(site: Path) -> None:
    missing = []
    for name in _public_names():
        page = site / "api" / "generated" / f"{name}.html"
        if not page.exists() or f'id="{name}"' not in page.read_text(encoding="utf-8"):
            missing.append(name)
    assert not missing, f"no API entry for {missing}"
    index = (site / "api" / "gmmjax.html").read_text(encoding="utf-8")
    for name in gmmjax.__all__:
        assert f"generated/gmmjax.{name}.html" in index, f"{name} is not listed on api/gmmjax"


def test_formulas_are_rendered_as_mathml(site: Path) -> None:
    page = (site / "api" / "generated" / "gmmjax.l2_distance.html").read_text(encoding="utf-8")
    assert MATHML in page
    assert "<msup>" in page  # the exponent 1/2 of the formula in the summary line
    block = (site / "api" / "generated" / "gmmjax.l2_distance_squared.html").read_text("utf-8")
    assert f'{MATHML} display="block">' in block
    for html in (site / "api").rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert "math-error" not in text, f"a formula of {html.name} did not convert"
        assert ":math:" not in text, f"an unrendered role in {html.name}"


def test_readme_has_python_blocks() -> None:
    assert len(README_BLOCKS) >= 2  # "Ten lines" and "Plots"


@pytest.mark.slow  # each block compiles its own programs: 10-50 s in all, by the load
@pytest.mark.parametrize("index", range(len(README_BLOCKS)))
def test_readme_block_runs_on_its_own(index: int, tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("JAX_ENABLE_X64", None)  # a reader's default precision
    block = README_BLOCKS[index]
    run = subprocess.run(
        [sys.executable, "-c", block],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"README block {index + 1}:\n{block}\n{run.stderr[-2000:]}"


def test_citation_file_names_this_version_and_the_papers() -> None:
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == gmmjax.__version__
    assert cff["license"] == "Apache-2.0"
    assert cff["title"] and cff["authors"] == [{"name": "gmmjax developers"}]
    titles = {ref["title"] for ref in cff["references"]}
    assert {
        "L2 distance between Gaussian Mixture Models",
        "Optimal transport for Gaussian mixture models",
        "Approximating the Kullback Leibler divergence between Gaussian mixture models",
        "An Efficient Gaussian Mixture Model and Its Application to Neural Network",
    } <= titles
