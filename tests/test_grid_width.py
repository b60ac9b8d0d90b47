"""The basis width chosen from the data: ``select_grid_width`` and ``grid_basis`` without ``t``.

One small 1-D data set and one grid size throughout, so the selection compiles once.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from conftest import tol
from scipy import stats

import gmmjax as gj
from gmmjax._src.learner.bandwidth import DEFAULT_WIDTHS

N_POINTS, N_GRID = 60, 8


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    rng = np.random.default_rng(5)
    return np.concatenate([rng.normal(-2.0, 0.4, 30), rng.normal(1.5, 0.7, 30)])


def reference_scores(x: np.ndarray, widths: np.ndarray, key: jax.Array) -> np.ndarray:
    """``(C, M)`` held-out log-densities at each width's best EM step, with numpy and scipy.

    The same split as the library (its documented key use); the EM, the densities and the
    early stopping are computed here independently.
    """
    n = x.shape[0]
    n_valid = math.ceil(0.2 * n)
    perm = np.asarray(jax.random.permutation(jax.random.split(key)[1], n))
    train, valid = x[perm[n_valid:]], x[perm[:n_valid]]
    lo, hi = x.min(), x.max()
    spacing = (hi - lo) / N_GRID
    means = lo + spacing * np.arange(N_GRID)
    out = []
    for t in widths:
        sd = t * spacing
        phi_train = stats.norm.pdf(train[:, None], means[None, :], sd)
        phi_valid = stats.norm.pdf(valid[:, None], means[None, :], sd)
        pi = np.full(N_GRID, 1.0 / N_GRID)
        best, best_points = -np.inf, None
        for _ in range(32):
            points = np.log(phi_valid @ pi)
            if points.mean() > best:
                best, best_points = points.mean(), points
            resp = phi_train * pi / (phi_train @ pi)[:, None]
            pi = resp.mean(axis=0)
        out.append(best_points)
    return np.array(out)


def test_scores_and_choice_match_an_independent_computation(data):
    choice = gj.select_grid_width(data, N_GRID)
    widths = np.asarray(DEFAULT_WIDTHS)
    np.testing.assert_array_equal(choice.widths, widths)
    points = reference_scores(data, widths, jax.random.key(0))
    np.testing.assert_allclose(choice.scores, points.mean(axis=1), rtol=tol(1e-9, 1e-4))
    best = int(np.argmax(points.mean(axis=1)))
    diff = points - points[best]
    errors = diff.std(axis=1, ddof=1) / np.sqrt(points.shape[1])
    np.testing.assert_allclose(choice.standard_errors, errors, rtol=tol(1e-7, 1e-2), atol=1e-6)
    # The one-standard-error rule: the widest width within one error of the best score.
    near = np.flatnonzero(points.mean(axis=1) >= points.mean(axis=1)[best] - errors)
    assert choice.t == widths[near[-1]]
    assert choice.n_points == N_POINTS
    assert choice.grid_too_coarse == (choice.t == widths[0])


def test_grid_basis_without_t_uses_the_chosen_width(data):
    chosen, record = gj.grid_basis(data, N_GRID, return_choice=True)
    assert isinstance(record, gj.WidthChoice)
    assert record.t == gj.select_grid_width(data, N_GRID).t
    spacing = (data.max() - data.min()) / N_GRID
    np.testing.assert_allclose(np.asarray(chosen.covs)[:, 0], (record.t * spacing) ** 2, rtol=1e-6)
    same = gj.grid_basis(data, N_GRID)  # the default key: the same width again
    np.testing.assert_array_equal(np.asarray(same.covs), np.asarray(chosen.covs))
    explicit, none = gj.grid_basis(data, N_GRID, 2.0, return_choice=True)
    assert none is None
    np.testing.assert_allclose(np.asarray(explicit.covs)[:, 0], (2.0 * spacing) ** 2, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(explicit.means), np.asarray(chosen.means))


def test_grid_basis_without_t_refuses_what_it_cannot_select_from(data):
    with pytest.raises(ValueError, match=r"at least 10 of them; x has 9 \(pass t\)"):
        gj.grid_basis(data[:9], 3)
    with pytest.raises(ValueError, match="needs concrete x; under jit pass t"):
        jax.jit(lambda x: gj.grid_basis(x, N_GRID).covs)(data)
    jitted = jax.jit(lambda x: gj.grid_basis(x, N_GRID, 1.5).covs)(data)  # explicit t: as before
    np.testing.assert_allclose(
        np.asarray(jitted), np.asarray(gj.grid_basis(data, N_GRID, 1.5).covs), rtol=1e-6
    )
