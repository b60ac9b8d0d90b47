"""``gmmjax demo``: reproduce the papers' examples as figures, a report and timings.

Every section checks one paper's formulas against an independent computation and writes its
figures; :func:`run` runs them all into one folder and writes ``report.md`` there.
matplotlib is required (``pip install 'gmmjax[plot]'``) and checked before anything is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from gmmjax._src.app import demo_foundation, demo_learner, demo_transport
from gmmjax._src.app.optional import require
from gmmjax._src.app.report import Row, format_table, write_report

__all__ = ["SECTIONS", "Section", "run"]


class Section(NamedTuple):
    """One part of the demo: its title, ``run(out_dir) -> rows`` and the papers it follows."""

    title: str
    run: Callable[[Path], list[Row]]
    papers: tuple[str, ...]


SECTIONS: tuple[Section, ...] = (
    Section(
        "You (2021): L2 and Cauchy-Schwarz between mixtures",
        demo_foundation.run_l2,
        ("K. You, *L2 distance between Gaussian Mixture Models*, 2021.",),
    ),
    Section(
        "KL divergences: jojonki (2018) for Gaussians, Hershey & Olsen (2007) for mixtures",
        demo_foundation.run_kl,
        (
            "jojonki, *KL divergence between two multivariate Gaussians*, 2018.",
            "J. R. Hershey, P. A. Olsen, *Approximating the Kullback Leibler divergence between "
            "Gaussian mixture models*, ICASSP 2007.",
            "J.-L. Durrieu, J.-P. Thiran, F. Kelly, *Lower and upper bounds for approximation of "
            "the Kullback-Leibler divergence between Gaussian mixture models*, ICASSP 2012.",
        ),
    ),
    Section(
        "Chen, Georgiou & Tannenbaum (2019): optimal transport between mixtures",
        demo_transport.run,
        (
            "Y. Chen, T. T. Georgiou, A. Tannenbaum, *Optimal transport for Gaussian mixture "
            "models*, IEEE Access 7, 2019.",
        ),
    ),
    Section(
        "Lu et al. (2023): fixed-basis learner vs their Algorithms 1-2",
        demo_learner.run,
        (
            "W. Lu, D. Ding, F. Wu, G. Yuan, *An efficient Gaussian mixture model and its "
            "application to neural network*, 2023.",
        ),
    ),
)


def _echo(line: str) -> None:
    print(line, flush=True)


def run(out: str | Path, log: Callable[[str], object] = _echo) -> Path:
    """Run every section into the folder ``out``; return the path of the report written there.

    ``log`` receives the progress lines and, at the end, the summary table.

    Raises:
        MissingDependencyError: matplotlib is not installed (nothing is created then).
    """
    require("matplotlib", "gmmjax demo")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: list[tuple[str, list[Row]]] = []
    total = time.perf_counter()
    for i, section in enumerate(SECTIONS, 1):
        log(f"[{i}/{len(SECTIONS)}] {section.title} ...")
        start = time.perf_counter()
        results.append((section.title, section.run(out)))
        log(f"      done in {time.perf_counter() - start:.1f} s")
    elapsed = time.perf_counter() - total
    table = format_table(results)
    papers = [paper for section in SECTIONS for paper in section.papers]
    report = write_report(out, papers, table, elapsed)
    log(f"\n{table}\n\ntotal {elapsed:.1f} s; figures and report.md in {out.resolve()}")
    return report
