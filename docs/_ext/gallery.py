"""The gallery page's thumbnails, cut from the figures stored in the notebooks.

:func:`write_gallery` reads every ``notebooks/*.ipynb`` (stored executed, see
``notebooks/build.py``), writes one figure of each, shrunk, to ``docs/notebooks/thumbs/`` and a
MyST fragment ``docs/notebooks/gallery.inc`` (both git-ignored, as the notebook copies are)
that ``docs/gallery.md`` includes: a grid of thumbnails, each linking to its notebook. A
notebook without a stored figure gets a card without a picture.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import nbformat

# The figure shown for a notebook (its index among the notebook's stored figures); default 0.
PICKS = {"02_optimal_transport": 6, "04_fixed_basis_learner": 2}
THUMB_WIDTH = 480  # pixels


def _title(nb: nbformat.NotebookNode, stem: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return stem


def _figures(nb: nbformat.NotebookNode) -> list[bytes]:
    return [
        base64.b64decode(out.data["image/png"])
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]


def _thumbnail(png: bytes, target: Path) -> None:
    import matplotlib.image as mpimg

    image = mpimg.imread(io.BytesIO(png), format="png")
    scale = min(1.0, THUMB_WIDTH / image.shape[1])
    mpimg.thumbnail(io.BytesIO(png), str(target), scale=scale)


def write_gallery(notebooks: Path, docs: Path) -> list[str]:
    """Write the thumbnails and ``gallery.inc``; return the stems of the notebooks shown."""
    out = docs / "notebooks"
    thumbs = out / "thumbs"
    thumbs.mkdir(parents=True, exist_ok=True)
    cards = []
    stems = []
    for path in sorted(notebooks.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        figures = _figures(nb)
        lines = []
        if figures:
            png = figures[min(PICKS.get(path.stem, 0), len(figures) - 1)]
            target = thumbs / f"{path.stem}.png"
            if not target.exists() or target.stat().st_mtime < path.stat().st_mtime:
                _thumbnail(png, target)
            lines += [
                f"```{{image}} notebooks/thumbs/{path.stem}.png",
                f":target: notebooks/{path.stem}.html",
                f":alt: {_title(nb, path.stem)}",
                "```",
            ]
        lines.append(f"{{doc}}`notebooks/{path.stem}`")
        cards.append("\n".join(["````{container} gmmjax-gallery-card", "", *lines, "````"]))
        stems.append(path.stem)
    text = "\n".join(["`````{container} gmmjax-gallery", "", "\n\n".join(cards), "`````", ""])
    inc = out / "gallery.inc"
    if not inc.exists() or inc.read_text() != text:
        inc.write_text(text)
    return stems
