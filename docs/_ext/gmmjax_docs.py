"""Sphinx helpers for the gmmjax site: MathML formulas, the CLI's help, a complete API.

* ``html_math_renderer = "mathml"``: every ``:math:`` role, ``.. math::`` block and ``$...$`` of
  the notebooks is converted to MathML when the page is written, with the LaTeX-to-MathML
  converter that ships with docutils. Browsers draw MathML natively, so the site needs no
  JavaScript, no web fonts and no network to show its formulas, and a formula the converter
  cannot read is a build warning (an error under ``-W``) instead of raw LaTeX on a page.
* ``.. gmmjax-cli-help::`` prints the ``--help`` of ``gmmjax`` and of each sub-command, taken
  from the parser itself, so the command-line page follows the code.
* Autosummary's tables show each name's first sentence, cut at the first ". " unless the text
  before it ends in one of Sphinx's few known abbreviations ("et al.", "e.g.", "i.e.",
  "vs."). :data:`ABBREVIATIONS` adds the ones our docstrings cite with ("eq.", "Fig.", "cf.",
  ...), so a summary never stops at "(Chen et al. 2019, eq." but at the sentence's end.
* After reading, every public module (``gmmjax`` and each public submodule with an
  ``__all__``, the command line aside) and every name in its ``__all__`` must have a generated
  page under ``api/generated/``; a missing one is a warning.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html
import importlib
import inspect
import os
import pkgutil
import re
import sys
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.utils.math import MathError, latex2mathml
from sphinx.application import Sphinx
from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

#: Abbreviations that do not end a sentence (compared as written and capitalised).
ABBREVIATIONS = (
    "eq.", "eqs.", "et al.", "e.g.", "i.e.", "vs.", "cf.", "fig.", "figs.", "resp.", "sec.",
    "approx.", "thm.", "alg.",
)  # fmt: skip


def teach_autosummary_abbreviations() -> tuple[str, ...]:
    """Make autosummary's first-sentence rule skip :data:`ABBREVIATIONS`; returns its tuple.

    ``sphinx.ext.autosummary.extract_summary`` reads the module-level tuple
    ``WELL_KNOWN_ABBREVIATIONS`` when it runs, so extending that tuple is enough.
    """
    from sphinx.ext import autosummary

    known = autosummary.WELL_KNOWN_ABBREVIATIONS
    ours = [form for word in ABBREVIATIONS for form in (word, word[0].upper() + word[1:])]
    autosummary.WELL_KNOWN_ABBREVIATIONS = tuple(dict.fromkeys((*known, *ours)))
    return autosummary.WELL_KNOWN_ABBREVIATIONS


# Standard LaTeX that docutils' converter does not read, rewritten to forms it does. Sized
# delimiters without a side (\big( ... \big)) take the side from the delimiter.
_OPENING = r"(\(|\[|\\\{|\\langle|\\lVert|\\lvert)"
_CLOSING = r"(\)|\]|\\\}|\\rangle|\\rVert|\\rvert)"
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\\(big|Big|bigg|Bigg)\s*" + _OPENING), r"\\\1l\2"),
    (re.compile(r"\\(big|Big|bigg|Bigg)\s*" + _CLOSING), r"\\\1r\2"),
    (re.compile(r"\\(big|Big|bigg|Bigg)(?![a-zA-Z])\s*"), r"\\\1l"),  # |, \| and the like
    (re.compile(r"\\dots(?![a-zA-Z])"), r"\\ldots"),
    (re.compile(r"\\math(?:rel|bin|op|ord)\{([^{}]*)\}"), r"\1"),
    # TeX reads one digit as an unbraced argument (\tfrac12 is 1/2, x^12 is x^1 2); the
    # converter reads a run of digits.
    (re.compile(r"\\([dt]?frac|[dt]?binom)\s*(\d)\s*(\d)"), r"\\\1{\2}{\3}"),
    (re.compile(r"([\^_])\s*(\d)(?=\d)"), r"\1{\2}"),
)


def normalise_latex(tex: str) -> str:
    """Rewrite the few standard LaTeX commands that docutils' converter lacks."""
    for pattern, replacement in _REWRITES:
        tex = pattern.sub(replacement, tex)
    return tex


def latex_to_mathml(tex: str, block: bool) -> str:
    """MathML for one formula; raises ``docutils.utils.math.MathError`` if it cannot."""
    return latex2mathml.tex2mathml(normalise_latex(tex.strip()), as_block=block)


def _fallback(translator: Any, node: nodes.Element, tex: str, error: Exception) -> str:
    logger.warning("cannot render formula %r: %s", tex, error, location=node)
    return f'<code class="math-error">{html.escape(tex)}</code>'


def visit_math(translator: Any, node: nodes.math) -> None:
    tex = node.astext()
    try:
        markup = latex_to_mathml(tex, block=False)
    except (MathError, ValueError, KeyError, IndexError) as error:
        markup = _fallback(translator, node, tex, error)
    translator.body.append(translator.starttag(node, "span", "", CLASS="math notranslate"))
    translator.body.append(markup + "</span>")
    raise nodes.SkipNode


def visit_math_block(translator: Any, node: nodes.math_block) -> None:
    translator.body.append(translator.starttag(node, "div", CLASS="math notranslate"))
    if node.get("number"):
        number = get_node_equation_number(translator, node)
        translator.body.append(f'<span class="eqno">({number})')
        translator.add_permalink_ref(node, "Link to this equation")
        translator.body.append("</span>")
    text = node.astext()
    # Blank lines separate equations (as in Sphinx's ``.. math::``); strip amsmath wrappers.
    text = re.sub(r"\\(begin|end)\{(equation|align|gather)\*?\}", "", text)
    for part in (p for p in text.split("\n\n") if p.strip()):
        try:
            translator.body.append(latex_to_mathml(part, block=True))
        except (MathError, ValueError, KeyError, IndexError) as error:
            translator.body.append(_fallback(translator, node, part, error))
    translator.body.append("</div>\n")
    raise nodes.SkipNode


class CliHelp(Directive):
    """``.. gmmjax-cli-help::``: the help of ``gmmjax`` and of each sub-command."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        import gmmjax.cli
        from gmmjax.cli import build_parser

        # Re-read the page when the command line changes.
        self.state.document.settings.record_dependencies.add(gmmjax.cli.__file__)

        with _terminal_width(88):
            parser = build_parser()
            parser.prog = "gmmjax"
            texts = [("gmmjax --help", parser.format_help())]
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for name, sub in action.choices.items():
                        texts.append((f"gmmjax {name} --help", sub.format_help()))
        result: list[nodes.Node] = []
        for command, text in texts:
            block = nodes.literal_block(text, f"$ {command}\n{text.rstrip()}")
            block["language"] = "text"
            result.append(block)
        return result


@contextlib.contextmanager
def _terminal_width(columns: int):
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def document_data(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Docs of a re-exported constant: its ``#:`` comment where it is defined, and its value.

    A constant has no ``__doc__`` of its own and autodoc looks for the comment only in the
    module it documents (``gmmjax``), not in the private module that defines the constant.
    """
    if what != "data":
        return
    attr = name.rpartition(".")[2]
    if "\n".join(lines).strip() == (inspect.getdoc(type(obj)) or "").strip():
        del lines[:]  # autodoc fell back to the docstring of the constant's type
    if not lines:
        for module in list(sys.modules.values()):
            module_name = getattr(module, "__name__", "")
            if module_name.startswith("gmmjax.") and getattr(module, attr, None) is obj:
                with contextlib.suppress(PycodeError):
                    docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
                    if ("", attr) in docs:
                        lines.extend(docs[("", attr)])
                        break
    if isinstance(obj, dict):
        lines.extend(["", "Keys: " + ", ".join(f"``{key!r}``" for key in obj) + "."])
    elif isinstance(obj, tuple | list | str | int | float):
        lines.extend(["", f"Value: ``{obj!r}``."])


def skip_documented_fields(
    app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any
) -> bool | None:
    """Leave out the data attributes of classes: their ``Attributes:`` section documents them.

    Napoleon turns that section into one entry per field of a dataclass or named tuple;
    autodoc would add a second one. Methods and properties stay.
    """
    if what != "class" or skip:
        return None
    descriptor = (property, classmethod, staticmethod, functools.cached_property)
    if inspect.isroutine(obj) or inspect.isclass(obj) or isinstance(obj, descriptor):
        return None
    return True


GENERATED = "api/generated/"
# Public modules documented elsewhere: the command line has its own page (guide/cli).
NOT_IN_API = ("gmmjax.cli",)


def public_modules() -> list[str]:
    """``gmmjax`` and each public submodule that declares ``__all__`` (and can be imported)."""
    import gmmjax

    names = ["gmmjax"]
    for info in pkgutil.iter_modules(gmmjax.__path__, "gmmjax."):
        if info.name.rpartition(".")[2].startswith("_") or info.name in NOT_IN_API:
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional dependency is missing
            continue
        if hasattr(module, "__all__"):
            names.append(info.name)
    return names


def check_api_complete(app: Sphinx, env: Any) -> None:
    """Warn for every public name of a public module that has no generated page."""
    found = {doc[len(GENERATED) :] for doc in env.found_docs if doc.startswith(GENERATED)}
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        if module_name != "gmmjax" and module_name not in found:
            logger.warning(
                "the API reference does not document the module %s: add it to docs/api/index.rst",
                module_name,
            )
            continue
        for name in module.__all__:
            if f"{module_name}.{name}" not in found:
                logger.warning(
                    "the API reference has no page for %s.%s: add it to docs/api/",
                    module_name,
                    name,
                )


def setup(app: Sphinx) -> dict[str, Any]:
    teach_autosummary_abbreviations()
    app.add_html_math_renderer(
        "mathml", inline_renderers=(visit_math, None), block_renderers=(visit_math_block, None)
    )
    app.add_directive("gmmjax-cli-help", CliHelp)
    app.connect("autodoc-process-docstring", document_data)
    app.connect("autodoc-skip-member", skip_documented_fields)
    app.connect("env-updated", check_api_complete)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
