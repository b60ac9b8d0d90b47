"""The public namespace is the documented contract, and every public symbol is documented."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import gmmjax

# DESIGN.md's public API contract.
CONTRACT = {
    "Gaussian", "GMM", "stack",
    "log_gaussian_overlap", "gaussian_overlap", "l2_distance", "l2_distance_squared",
    "cauchy_schwarz_divergence",
    "kl_gaussian", "kl_divergence",
    "w2_gaussian", "bures_cost_matrix", "gaussian_interpolate", "gaussian_transport_map",
    "gaussian_barycenter",
    "mw2_distance", "mw2_plan", "geodesic", "mw2_barycenter",
    "grid_basis", "fit_weights", "FitOptions", "paper_algorithm1", "paper_algorithm2",
    "density_information_loss",
    "pairwise_distances",
}  # fmt: skip


def test_contract_names_are_exported():
    missing = sorted(CONTRACT - set(gmmjax.__all__))
    assert not missing, f"missing from gmmjax.__all__: {missing}"


def test_all_names_exist_and_are_unique():
    for name in gmmjax.__all__:
        assert hasattr(gmmjax, name), name
    assert len(set(gmmjax.__all__)) == len(gmmjax.__all__)


def test_every_public_symbol_has_a_docstring():
    undocumented = []
    for name in gmmjax.__all__:
        obj = getattr(gmmjax, name)
        if isinstance(obj, dict):  # registries such as KL_METHODS are documented in place
            continue
        doc = inspect.getdoc(obj)
        if not doc or len(doc) < 40:
            undocumented.append(name)
    assert not undocumented, f"public names without a real docstring: {undocumented}"


def test_readme_example_runs():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    block = re.search(r"## Ten lines\s+```python\n(.*?)```", readme, re.S)
    assert block, "README lost its example"
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 12
    exec(compile(code, "README.md", "exec"), {})


def test_lazy_exports_match_all_and_the_type_checking_imports():
    """``gmmjax/__init__.py`` names each public symbol three times; the three must agree."""
    import ast

    source = Path(gmmjax.__file__).read_text()
    tree = ast.parse(source)
    checked_imports = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                for alias in getattr(stmt, "names", []):
                    module = stmt.module
                    checked_imports.add((alias.asname or alias.name, module))
    assert set(gmmjax._EXPORTS.items()) == checked_imports
    assert set(gmmjax._EXPORTS) == set(gmmjax.__all__)


def test_import_gmmjax_does_not_load_jax():
    """The command line relies on it to install its Ctrl-C handler before JAX loads."""
    import subprocess
    import sys

    code = "import sys, gmmjax; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# ---------------------------------------------------------------- a Gaussian is a mixture
def _gaussians():
    import jax.numpy as jnp

    g0 = gmmjax.Gaussian(jnp.array([0.0, 1.0]), jnp.array([[2.0, 0.3], [0.3, 1.0]]))
    g1 = gmmjax.Gaussian(jnp.array([1.0, -0.5]), jnp.array([[1.0, -0.2], [-0.2, 0.5]]))
    return g0, g1


def _arrays(g):
    import numpy as np

    return np.asarray(g.mean, np.float64), np.asarray(g.cov, np.float64)


def _l2_reference(g0, g1) -> float:
    """L2 between two Gaussians from scipy's densities: <a, b> = N(m_a | m_b, C_a + C_b)."""
    import numpy as np
    from scipy.stats import multivariate_normal as mvn

    (m0, c0), (m1, c1) = _arrays(g0), _arrays(g1)
    sq = mvn(m0, 2 * c0).pdf(m0) + mvn(m1, 2 * c1).pdf(m1) - 2 * mvn(m1, c0 + c1).pdf(m0)
    return float(np.sqrt(max(sq, 0.0)))


def test_l2_takes_gaussians_and_mixes_them_with_mixtures():
    import jax.numpy as jnp
    import numpy as np
    from conftest import tol

    g0, g1 = _gaussians()
    expected = _l2_reference(g0, g1)
    assert np.isclose(gmmjax.l2_distance(g0, g1), expected, rtol=tol(1e-12, 1e-5))
    by_hand = gmmjax.GMM(jnp.ones(1), g0.mean[None], g0.cov[None])  # not the promotion
    assert np.isclose(gmmjax.l2_distance(by_hand, g1), expected, rtol=tol(1e-12, 1e-5))


def test_kl_and_mw2_take_gaussians():
    """Against the Gaussian closed forms, in numpy/scipy (both estimators are exact here)."""
    import numpy as np
    from conftest import tol
    from scipy.linalg import sqrtm

    g0, g1 = _gaussians()
    (m0, c0), (m1, c1) = _arrays(g0), _arrays(g1)
    inv1, dm = np.linalg.inv(c1), m1 - m0
    kl = 0.5 * (
        np.trace(inv1 @ c0) + dm @ inv1 @ dm - 2 + np.log(np.linalg.det(c1) / np.linalg.det(c0))
    )
    assert np.isclose(gmmjax.kl_divergence(g0, g1), kl, rtol=tol(1e-12, 1e-5))
    r0 = sqrtm(c0).real
    w2_sq = dm @ dm + np.trace(c0 + c1 - 2 * sqrtm(r0 @ c1 @ r0).real)
    assert np.isclose(gmmjax.mw2_distance(g0, g1), np.sqrt(w2_sq), rtol=tol(1e-10, 1e-5))
    assert gmmjax.mw2_plan(g0, g1).tolist() == [[1.0]]  # the same compiled program


def test_batched_gaussians_are_batches_of_one_component_mixtures():
    import jax.numpy as jnp
    import numpy as np
    from conftest import tol

    g0, g1 = _gaussians()
    means, covs = (
        jnp.stack([g0.mean, g1.mean, g0.mean + 1]),
        jnp.stack([g0.cov, g1.cov, 2 * g0.cov]),
    )
    batch = gmmjax.Gaussian(means, covs)
    expected = [_l2_reference(gmmjax.Gaussian(m, c), g1) for m, c in zip(means, covs, strict=True)]
    assert expected[1] == 0.0
    np.testing.assert_allclose(gmmjax.l2_distance(batch, g1), expected, rtol=tol(1e-12, 1e-5))
    table = gmmjax.pairwise_distances(batch, metric="l2")
    np.testing.assert_allclose(table[:, 1], expected, rtol=tol(1e-9, 1e-4), atol=tol(1e-12, 1e-6))
    assert gmmjax.stack([g0, g1]).batch_shape == (2,)


def test_a_non_mixture_is_refused_naming_the_argument():
    import pytest

    g0, _ = _gaussians()
    with pytest.raises(TypeError, match=r"^q must be a GMM or a Gaussian; got str"):
        gmmjax.l2_distance(g0, "x")
    with pytest.raises(TypeError, match=r"^p must be a GMM or a Gaussian; got str"):
        gmmjax.mixture_gromov_wasserstein("x", g0)
