"""The package's layers: every module imports only from its own layer or the layers below.

Reads the imports of every module of ``gmmjax`` (``ast``, nothing is executed) and fails when
a module imports from a layer above its own, or imports a private (underscore) name from a
module of another layer. The order, bottom first, is the one ``gmmjax/_src/__init__.py``
documents; the public namespace ``gmmjax`` sits above the learner, and the demos and the
command line above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gmmjax"
LAYERS = (
    "xla_flags",
    "math",
    "core",
    "kernels",
    "ot",
    "distances",
    "learner",
    "public",
    "app",
    "cli",
)
TOP_LEVEL = {"gmmjax": "public", "gmmjax.targets": "public", "gmmjax.cli": "cli"}
TOP_LEVEL["gmmjax.__main__"] = "cli"
TOP_LEVEL["gmmjax.plot"] = "app"  # public, but built on the optional-dependency check of app


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    """The layer of a module of the package (``gmmjax._src.<layer>...`` or a top-level one)."""
    if module in TOP_LEVEL:
        return TOP_LEVEL[module]
    parts = module.split(".")
    if parts[:2] == ["gmmjax", "_src"] and len(parts) > 2:
        return parts[2]
    if module == "gmmjax._src":
        return LAYERS[0]
    raise AssertionError(f"{module} belongs to no layer; add it to LAYERS or TOP_LEVEL")


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """``(module, names, line)`` of every import of a ``gmmjax`` module in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [alias.name for alias in node.names]
            if node.module.split(".")[0] == "gmmjax":
                found.append((node.module, names, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "gmmjax":
                    found.append((alias.name, [], node.lineno))
    return found


def _violations(path: Path) -> list[str]:
    importer = _module_name(path)
    own = LAYERS.index(_layer(importer))
    problems = []
    for module, names, line in _imports(path):
        layer = LAYERS.index(_layer(module))
        where = f"{path.relative_to(PACKAGE.parent)}:{line}"
        if layer > own:
            problems.append(f"{where} ({LAYERS[own]}) imports {module} ({LAYERS[layer]})")
        private = [n for n in names if n.startswith("_")]
        if private and layer != own:
            problems.append(f"{where} imports private {private} from {module} (another layer)")
    return problems


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) for p in MODULES])
def test_imports_respect_the_layers(path):
    assert not _violations(path)


def test_the_check_sees_a_violation(monkeypatch):
    """Negative control: a math module importing the distances layer is reported."""
    fake = PACKAGE / "_src" / "math" / "upward.py"
    source = "from gmmjax._src.distances.l2 import _l2_parts\n"
    monkeypatch.setattr(Path, "read_text", lambda self: source)
    problems = _violations(fake)
    assert len(problems) == 2
    assert "imports gmmjax._src.distances.l2 (distances)" in problems[0]
    assert "private ['_l2_parts']" in problems[1]
