"""Every public docstring has a whole-sentence summary and documents exactly its parameters.

The API reference shows each name's first sentence in its summary tables (Sphinx's
autosummary cuts the first paragraph at the first ". "), so that sentence must end with a
period and not with an abbreviation such as "eq." or "et al.". Each function's ``Args:``
section (Google style) must name exactly the parameters of its signature, in its own words:
no entry that only points to another function's docstring.

The public names are those of ``gmmjax.__all__`` and of the ``__all__`` of each public
module documented in ``docs/api`` (``gmmjax.plot``, ``gmmjax.targets``), with the public
methods and properties of the classes among them. Static text only: nothing is compiled.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import gmmjax

ROOT = Path(__file__).resolve().parent.parent

# Endings that make autosummary (or a reader) stop the first sentence too early.
ABBREVIATIONS = ("eq.", "eqs.", "et al.", "e.g.", "i.e.", "vs.", "cf.", "fig.", "figs.", "resp.")
_SENTENCE_END = re.compile(r"(?<=\.)\s+")  # autosummary's own rule for the end of a sentence
_SECTION = re.compile(r"^(Args|Arguments|Parameters|Attributes):\s*$")
_ALIASES = {"Arguments": "Args", "Parameters": "Args"}
_ENTRY = re.compile(r"^(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?:\([^)]*\))?\s*:(?:\s|$)")
# An entry whose whole text sends the reader elsewhere ("as in :func:`mw2_plan`").
_ONLY_A_REFERENCE = re.compile(r"^(as in|see|same as)\s+:(func|meth|class):", re.I)
# Modules documented under docs/api besides the namespace itself.
_MODULES = ("gmmjax.plot", "gmmjax.targets")


def _module_names() -> Iterator[tuple[str, Any]]:
    for name in gmmjax.__all__:
        yield f"gmmjax.{name}", getattr(gmmjax, name)
    for module_name in _MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # an optional extra that is not installed
            continue
        for name in module.__all__:
            yield f"{module_name}.{name}", getattr(module, name)


def _public_members(cls: type) -> Iterator[tuple[str, Any]]:
    """Methods and properties that the class page lists (defined in gmmjax, not inherited)."""
    for klass in cls.__mro__:
        if not klass.__module__.startswith("gmmjax"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_"):
                continue
            if isinstance(value, (classmethod, staticmethod)):
                value = value.__func__
            if isinstance(value, property) or inspect.isfunction(value):
                yield name, value


def _documented_objects() -> list[tuple[str, Any]]:
    out, seen = [], set()
    for qualname, obj in _module_names():
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue  # constants are documented by their comment (see docs/_ext)
        out.append((qualname, obj))
        if inspect.isclass(obj):
            for name, member in _public_members(obj):
                key = (obj, name)
                if key not in seen:
                    seen.add(key)
                    out.append((f"{qualname}.{name}", member))
    return out


OBJECTS = _documented_objects()
IDS = [name for name, _ in OBJECTS]


def summary(doc: str) -> str:
    """The first sentence of the first paragraph, as autosummary reads it."""
    paragraph = " ".join(doc.strip().split("\n\n", 1)[0].split())
    return _SENTENCE_END.split(paragraph, maxsplit=1)[0].rstrip() if paragraph else ""


def documented_parameters(doc: str, sections: tuple[str, ...] = ("Args",)) -> dict[str, str]:
    """Parameter name -> its text, from the Google-style sections named ``sections``."""
    lines = doc.splitlines()
    found: dict[str, str] = {}
    i = 0
    while i < len(lines):
        match = _SECTION.match(lines[i])
        i += 1
        if not match or _ALIASES.get(match.group(1), match.group(1)) not in sections:
            continue
        indent, current = None, None
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
            line = lines[i]
            i += 1
            if not line.strip():
                continue
            width = len(line) - len(line.lstrip())
            indent = width if indent is None else indent
            entry = _ENTRY.match(line.strip()) if width == indent else None
            if entry:
                current = [n.strip().lstrip("*") for n in entry.group(1).split(",")]
                text = line.strip()[entry.end() :].strip()
                for name in current:
                    found[name] = text
            elif current:
                for name in current:
                    found[name] = f"{found[name]} {line.strip()}".strip()
    return found


def signature_parameters(obj: Any) -> list[str] | None:
    target = obj.fget if isinstance(obj, property) else obj
    if isinstance(obj, property):
        return []
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    names = list(sig.parameters)
    if names and names[0] in ("self", "cls") and not inspect.isclass(obj):
        names = names[1:]
    return names


def test_the_list_of_public_objects_is_not_empty():
    names = set(IDS)
    assert {"gmmjax.l2_distance", "gmmjax.GMM", "gmmjax.GMM.log_prob"} <= names
    assert len(OBJECTS) > 60


@pytest.mark.parametrize(("name", "obj"), OBJECTS, ids=IDS)
def test_summary_is_one_whole_sentence(name: str, obj: Any) -> None:
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    first = summary(doc)
    assert first.endswith("."), f"{name}: the summary {first!r} does not end with a period"
    assert not first.lower().endswith(ABBREVIATIONS), (
        f"{name}: the summary is cut at an abbreviation: {first!r} (rephrase, e.g. "
        "'equation (10)', or move the citation out of the first sentence)"
    )


def _expected(obj: Any) -> list[str] | None:
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and "__init__" not in vars(obj):
        return [f.name for f in dataclasses.fields(obj) if f.init]
    return signature_parameters(obj)


@pytest.mark.parametrize(("name", "obj"), OBJECTS, ids=IDS)
def test_args_section_names_exactly_the_signature(name: str, obj: Any) -> None:
    expected = _expected(obj)
    if expected is None:
        pytest.skip("no signature")
    doc = inspect.getdoc(obj) or ""
    sections = ("Args", "Attributes") if inspect.isclass(obj) else ("Args",)
    documented = documented_parameters(doc, sections)
    if inspect.isclass(obj) and not expected:
        return
    missing = [p for p in expected if p not in documented]
    extra = [p for p in documented if p not in expected]
    if inspect.isclass(obj):
        extra = []  # a result container may also document read-only attributes
    assert not missing, f"{name}: parameters without an Args entry: {missing}"
    assert not extra, f"{name}: Args entries that are not parameters: {extra}"
    for param in expected:
        text = documented[param]
        assert text, f"{name}: the entry of {param!r} is empty"
        assert not _ONLY_A_REFERENCE.match(text), (
            f"{name}: the entry of {param!r} only points elsewhere ({text!r}); say it here"
        )


def test_the_parser_reads_google_sections():
    doc = """Summary line.

    Args:
        p, q: two mixtures
            of one dimension.
        t (float): a time.
        **kwargs: passed on.

    Returns:
        x: not a parameter.
    """
    params = documented_parameters(inspect.cleandoc(doc))
    assert set(params) == {"p", "q", "t", "kwargs"}
    assert params["p"] == "two mixtures of one dimension."
    assert summary("Distance (Chen et al. 2019, eq. 10). More.") == "Distance (Chen et al."
    assert summary("One line\nstill the first. Second.") == "One line still the first."
    assert _ONLY_A_REFERENCE.match("as in :func:`mw2_plan`.")
    assert not _ONLY_A_REFERENCE.match("``exact`` or ``sinkhorn``, as in :func:`mw2_plan`.")


@pytest.fixture(scope="module")
def docs_extension():
    """``docs/_ext/gmmjax_docs.py`` (needs Sphinx, the ``docs`` extra)."""
    pytest.importorskip("sphinx")
    spec = importlib.util.spec_from_file_location(
        "gmmjax_docs", ROOT / "docs" / "_ext" / "gmmjax_docs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _constants(extension) -> Iterator[tuple[str, list[str]]]:
    """Each public constant and the docstring lines its page gets (the extension's hook)."""
    for module_name in extension.public_modules():
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isroutine(obj) or inspect.isclass(obj) or inspect.ismodule(obj)):
                lines: list[str] = []
                extension.document_data(None, "data", f"{module_name}.{name}", obj, None, lines)
                yield f"{module_name}.{name}", lines


def test_constant_summaries_are_whole_sentences(docs_extension):
    constants = dict(_constants(docs_extension))
    assert {"gmmjax.KL_METHODS", "gmmjax.PAIRWISE_METRICS"} <= set(constants)
    for name, lines in constants.items():
        first = summary("\n".join(lines))
        assert first.endswith("."), f"{name}: the summary {first!r} does not end with a period"
        assert not first.lower().endswith(ABBREVIATIONS), f"{name}: {first!r}"


def test_autosummary_does_not_stop_at_an_abbreviation(docs_extension):
    """With the extension, Sphinx's own rule reads every public summary as this module does."""
    import docutils.frontend
    import docutils.parsers.rst
    from sphinx.ext import autosummary

    settings = docutils.frontend.get_default_settings(docutils.parsers.rst.Parser)
    cited = ["Distance (Chen et al. 2019, eq. 10). More."]
    assert set(ABBREVIATIONS) <= set(docs_extension.ABBREVIATIONS)
    known = autosummary.WELL_KNOWN_ABBREVIATIONS
    try:
        assert autosummary.extract_summary(cited, settings).endswith("eq.")  # Sphinx alone
        docs_extension.teach_autosummary_abbreviations()
        assert autosummary.extract_summary(cited, settings) == cited[0].rpartition(" ")[0]
        assert autosummary.extract_summary(["See Fig. 3, cf. eq. 9. Then."], settings) == (
            "See Fig. 3, cf. eq. 9."
        )
        for name, obj in OBJECTS:
            doc = (inspect.getdoc(obj) or "").splitlines()
            assert autosummary.extract_summary(doc, settings) == summary("\n".join(doc)), name
    finally:
        autosummary.WELL_KNOWN_ABBREVIATIONS = known


def test_generated_autosummary_tables_have_whole_sentences():
    """After ``make docs``: no summary in the built API tables ends in an abbreviation."""
    api = ROOT / "docs" / "_build" / "html" / "api"
    pages = sorted(api.glob("*.html")) + sorted(api.glob("generated/*.html"))
    if not (api / "gmmjax.html").exists():
        pytest.skip("the site is not built (make docs)")
    texts = []
    for page in pages:
        cells = re.findall(r"<td><p>(.*?)</p></td>", page.read_text(encoding="utf-8"), re.S)
        texts += [" ".join(re.sub(r"<[^>]+>", "", c).split()) for c in cells]
    assert len(texts) > 2 * len(gmmjax.__all__), "the autosummary tables were not found"
    bad = [t for t in texts if t.lower().endswith(ABBREVIATIONS)]
    assert not bad, f"summaries cut at an abbreviation in the built site: {bad}"
