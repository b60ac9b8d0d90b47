"""The fixed grid basis of Lu et al. (2023), §2.1."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tol

from gmmjax import grid_basis


def test_1d_layout_matches_section_2_1(rng):
    x = rng.normal(size=500) * 3.0 + 1.0
    n, t = 25, 2.5
    basis = grid_basis(x, n, t)
    lo, hi = float(np.min(x)), float(np.max(x))
    r = (hi - lo) / n
    np.testing.assert_allclose(
        np.asarray(basis.means[:, 0]),
        lo + np.arange(n) * r,
        rtol=tol(1e-12, 1e-5),
        atol=tol(1e-12, 1e-5),
    )
    np.testing.assert_allclose(np.asarray(basis.covs[:, 0]), (t * r) ** 2, rtol=tol(1e-12, 1e-5))
    np.testing.assert_allclose(np.asarray(basis.weights), 1.0 / n, rtol=tol(1e-12, 1e-6))
    assert basis.n_components == n and basis.dim == 1 and basis.is_diagonal
    # the first mean is the minimum and the spacing is constant
    assert float(basis.means[0, 0]) == pytest.approx(lo)
    np.testing.assert_allclose(np.diff(np.asarray(basis.means[:, 0])), r, rtol=tol(1e-9, 1e-4))


def test_column_and_flat_input_agree(rng):
    x = rng.uniform(-2, 5, size=100)
    a = grid_basis(x, 10, 1.0)
    b = grid_basis(x[:, None], 10, 1.0)
    np.testing.assert_array_equal(np.asarray(a.means), np.asarray(b.means))
    np.testing.assert_array_equal(np.asarray(a.covs), np.asarray(b.covs))


def test_2d_tensor_grid(rng):
    x = np.stack([rng.uniform(0, 4, 300), rng.uniform(-1, 1, 300)], axis=1)
    x[0], x[1] = [0.0, -1.0], [4.0, 1.0]  # exact extremes
    basis = grid_basis(x, (4, 5), t=2.0)
    assert basis.n_components == 20 and basis.dim == 2 and basis.is_diagonal
    gx = np.arange(4) * 1.0
    gy = -1.0 + np.arange(5) * 0.4
    expected = np.stack(np.meshgrid(gx, gy, indexing="ij"), -1).reshape(-1, 2)
    np.testing.assert_allclose(np.asarray(basis.means), expected, atol=tol(1e-12, 1e-5))
    np.testing.assert_allclose(
        np.asarray(basis.covs), np.broadcast_to([4.0, 0.64], (20, 2)), rtol=tol(1e-12, 1e-5)
    )


def test_square_grid_from_one_count(rng):
    x = rng.normal(size=(200, 2))
    assert grid_basis(x, 7, 1.0).n_components == 49


def test_works_under_jit(rng):
    x = jnp.asarray(rng.normal(size=50))
    eager = grid_basis(x, 8, 1.5)
    jitted = jax.jit(lambda v: grid_basis(v, 8, 1.5))(x)
    np.testing.assert_allclose(np.asarray(jitted.means), np.asarray(eager.means), rtol=1e-6)


@pytest.mark.parametrize(
    ("x", "n", "t", "match"),
    [
        (np.array([0.0, np.nan, 1.0]), 4, 1.0, "finite"),
        (np.array([0.0, np.inf, 1.0]), 4, 1.0, "finite"),
        (np.array([2.0, 2.0, 2.0]), 4, 1.0, "two distinct"),
        (np.array([[0.0, 1.0], [1.0, 1.0]]), 4, 1.0, "axis 1"),
        (np.array([0.0, 1.0]), 4, 0.0, "t must be > 0"),
        (np.array([0.0, 1.0]), 4, -1.0, "t must be > 0"),
        (np.array([0.0, 1.0]), 0, 1.0, "n_components"),
        (np.array([0.0, 1.0]), 2.5, 1.0, "n_components"),
        (np.zeros((2, 2, 2)), 4, 1.0, "shape"),
        (np.zeros((0,)), 4, 1.0, "shape"),
        (np.array([[0.0, 1.0], [1.0, 2.0]]), (3,), 1.0, "one count per axis"),
    ],
)
def test_bad_input_raises(x, n, t, match):
    with pytest.raises(ValueError, match=match):
        grid_basis(x, n, t)
