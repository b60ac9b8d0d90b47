"""gmmjax.plot: every drawing once, on tiny grids, with the Agg backend."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
from conftest import only_float32_run

import gmmjax as gj

# Drawing does not depend on the default precision.
pytestmark = only_float32_run

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")
gplot = pytest.importorskip("gmmjax.plot")


@pytest.fixture
def ax():
    fig, axes = plt.subplots()
    yield axes
    plt.close(fig)


def _mixture_1d() -> gj.GMM:
    return gj.GMM.univariate([0.3, 0.7], [-1.0, 2.0], [0.5, 1.0])


def _mixture_2d() -> gj.GMM:
    return gj.GMM([0.5, 0.5], [[0.0, 0.0], [2.0, 1.0]], [[[1.0, 0.3], [0.3, 0.6]], np.eye(2)])


def test_density_1d_draws_mixture_components_and_histogram(ax):
    data = np.random.default_rng(0).normal(size=50)
    out = gplot.density_1d(_mixture_1d(), ax=ax, components=True, data=data, n=40)
    assert out is ax
    assert len(ax.lines) == 3  # the mixture and its two weighted components
    assert len(ax.patches) > 0  # the histogram
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "density")


def test_density_1d_uses_the_current_axes(ax):
    assert gplot.density_1d(_mixture_1d(), n=20) is ax


def test_contours_2d_has_labels_and_a_density_colorbar(ax):
    samples = np.zeros((5, 2))
    contour_set = gplot.contours_2d(_mixture_2d(), ax=ax, n=15, samples=samples)
    assert contour_set.colorbar is not None
    assert contour_set.colorbar.ax.get_ylabel() == "density"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$x_1$", "$x_2$")
    assert len(ax.collections) >= 2  # the contours and the samples


def test_contours_2d_single_colour_lines_have_no_colorbar(ax):
    contour_set = gplot.contours_2d(_mixture_2d(), ax=ax, n=15, filled=False, colors="C1")
    assert contour_set.colorbar is None


@pytest.mark.parametrize("dim", [1, 2])
def test_coupling_draws_one_line_per_positive_plan_entry(ax, dim):
    plan = np.array([[0.3, 0.0], [0.1, 0.6]])
    if dim == 1:
        p, q = _mixture_1d(), gj.GMM.univariate([0.4, 0.6], [0.0, 1.0], [1.0, 1.0])
    else:
        p, q = _mixture_2d(), gj.GMM([0.4, 0.6], [[1.0, 0.0], [0.0, 1.0]], np.ones((2, 2)))
    lines = gplot.coupling(p, q, plan, ax=ax)
    assert len(lines.get_segments()) == int(np.sum(plan > 0)) == 3
    widths = lines.get_linewidths()
    assert widths[np.argmax(plan[plan > 0])] == max(widths)  # the largest mass, the widest line
    assert ax.get_xlabel() and ax.get_ylabel()


def test_coupling_rejects_a_plan_of_the_wrong_shape(ax):
    with pytest.raises(ValueError, match="plan must have shape"):
        gplot.coupling(_mixture_1d(), _mixture_1d(), np.ones((2, 3)), ax=ax)


def test_geodesic_strip_1d_shares_limits_and_labels_times():
    mu0, mu1 = _mixture_1d(), gj.GMM.univariate([1.0], [3.0], [0.5])
    axes = gplot.geodesic_strip(mu0, mu1, 3, components=True, n=30)
    try:
        assert [ax.get_title() for ax in axes] == ["t = 0.00", "t = 0.50", "t = 1.00"]
        assert len({ax.get_xlim() for ax in axes}) == len({ax.get_ylim() for ax in axes}) == 1
        assert axes[0].get_ylabel() == "density" and all(ax.get_xlabel() for ax in axes)
        assert all(len(ax.xaxis.get_major_locator()()) <= 5 for ax in axes)
    finally:
        plt.close(axes[0].figure)


def test_geodesic_strip_2d_has_one_colorbar():
    mu0, mu1 = _mixture_2d(), gj.GMM([1.0], [[1.0, -1.0]], [[0.5, 0.5]])
    fig, axes = plt.subplots(1, 2)
    try:
        gplot.geodesic_strip(mu0, mu1, [0.0, 1.0], axes=axes, n=12, levels=4)
        assert len(fig.axes) == 3  # two panels and the colorbar
        assert fig.axes[-1].get_ylabel() == "density"
        assert axes[1].get_xlabel() == "$x_1$"
    finally:
        plt.close(fig)


def test_import_without_matplotlib_names_the_extra(monkeypatch):
    from gmmjax._src.app.optional import MissingDependencyError

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "gmmjax.plot")
    with pytest.raises(MissingDependencyError) as info:
        importlib.import_module("gmmjax.plot")
    message = str(info.value)
    assert "\n" not in message
    assert "gmmjax.plot needs matplotlib" in message and "pip install 'gmmjax[plot]'" in message
