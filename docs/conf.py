"""Sphinx configuration of the gmmjax documentation (``make docs``).

Choices:

* Sphinx, because autodoc + napoleon read the Google-style docstrings the code already has,
  with their ``:math:`` roles, and MyST-NB renders the Markdown pages and executes the
  notebooks. Theme: Furo.
* Formulas are converted to MathML at build time (``docs/_ext/gmmjax_docs.py``, with the
  converter docutils ships). We looked at the alternatives: sphinxcontrib-katex bundles
  ``katex.min.js`` but loads KaTeX's stylesheet and fonts from a CDN, and MathJax (Sphinx's
  default) is loaded from a CDN too; offline, both leave raw LaTeX or unstyled glyphs on the
  page. The PyPI packages that bundle MathJax whole are unmaintained and add about 24 MB. MathML
  needs no script, web font or network in current browsers (Chromium 109+, Firefox, Safari),
  adds no dependency beyond docutils, and a formula that cannot be converted fails the build.
  How it looks depends on the reader's math font (``_static/gmmjax.css`` lists the common ones).
* Notebooks: ``notebooks/*.ipynb`` are stored executed, with their figures
  (``python notebooks/build.py`` generates and runs them from ``notebooks/src/``;
  ``tests/test_notebooks.py`` keeps them in step with their sources and executes them). The
  site renders the stored outputs and executes nothing, so ``make docs`` takes seconds, not
  minutes, and shows what the repository holds. They are copied into ``docs/notebooks/``
  (git-ignored; copies rather than links, which not every checkout or OS keeps) when the build
  starts, with the gallery's thumbnails (``docs/_ext/gallery.py``). To execute them during the
  build instead: ``sphinx-build -D nb_execution_mode=cache ...`` (cached under
  ``docs/_build/``, so a rebuild re-runs only the notebooks that changed).
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))
# The notebook kernels run in child processes: they import the same gmmjax as autodoc does,
# and draw their figures with the inline backend (MPLBACKEND=Agg would draw nothing).
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
)
os.environ.pop("MPLBACKEND", None)
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_enable_concurrency_optimized_scheduler=false")

from gallery import write_gallery  # noqa: E402

import gmmjax  # noqa: E402

project = "gmmjax"
author = "the gmmjax authors"
copyright = "the gmmjax authors"
release = version = gmmjax.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_nb",
    "gmmjax_docs",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["gmmjax.css"]
html_theme = "furo"
html_title = f"gmmjax {release}"
html_math_renderer = "mathml"

# API reference: one generated page per public name (docs/api/).
autosummary_generate = True
autosummary_ignore_module_all = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = False  # the annotations would print private module paths
add_module_names = False

# Markdown pages and notebooks.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # the stored outputs (see above)
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

suppress_warnings = ["mystnb.unknown_mime_type"]


def _copy_notebooks() -> None:
    """Mirror ``notebooks/*.ipynb`` into ``docs/notebooks/`` (copies touched only if changed)."""
    target = DOCS / "notebooks"
    target.mkdir(exist_ok=True)
    sources = {p.name: p for p in (ROOT / "notebooks").glob("*.ipynb")}
    for stale in target.glob("*.ipynb"):
        if stale.name not in sources:
            stale.unlink()
    for name, source in sources.items():
        copy = target / name
        if not copy.exists() or not filecmp.cmp(source, copy, shallow=False):
            shutil.copyfile(source, copy)


_copy_notebooks()
write_gallery(ROOT / "notebooks", DOCS)
