"""Without POT, ``solver="exact_host"`` stops at once with a message naming that solver."""

from __future__ import annotations

import pytest
from conftest import only_float64_run

import gmmjax as gj
from gmmjax._src.ot import solvers

pytestmark = only_float64_run


def test_exact_host_without_pot_names_the_solver(monkeypatch):
    monkeypatch.setattr(solvers, "pot_available", lambda: False)
    p = gj.GMM.univariate([1.0], [0.0], [1.0])
    with pytest.raises(ImportError, match=r'^solver="exact_host" needs POT: pip install'):
        gj.mw2_distance(p, p, solver="exact_host")
