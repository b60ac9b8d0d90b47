"""gmmjax: Gaussian mixture models as differentiable JAX objects.

Closed-form distances between mixtures (L2, Cauchy–Schwarz, KL), optimal transport between
mixtures, and a fixed-basis density learner. Every function is a pure JAX function: jit-able,
vmap-able and differentiable. Importing gmmjax disables XLA's concurrency-optimised CPU
scheduler when no JAX backend has started yet (see ``gmmjax._src.xla_flags``; opt out with
``GMMJAX_KEEP_XLA_FLAGS=1``).

The public names are loaded on first use (PEP 562), so ``import gmmjax`` itself is instant
and imports JAX only when a function or class is first touched; ``gmmjax.cli`` relies on this
to install its Ctrl-C handling before JAX starts.
"""

from typing import TYPE_CHECKING

from gmmjax._src.xla_flags import disable_cpu_concurrency_scheduler as _guard

_guard()

__version__ = "0.1.0"

# Each public name and the module that defines it: loaded by ``__getattr__`` on first use.
_EXPORTS: dict[str, str] = {
    "GMM": "gmmjax._src.core.mixture",
    "Gaussian": "gmmjax._src.core.mixture",
    "stack": "gmmjax._src.core.stacking",
    "checked": "gmmjax._src.core.validation",
    "validate": "gmmjax._src.core.validation",
    "mw2_barycenter": "gmmjax._src.distances.barycenter",
    "mw2_barycenter_free_support": "gmmjax._src.distances.free_barycenter",
    "PAIRWISE_METRICS": "gmmjax._src.distances.collections",
    "paired_distances": "gmmjax._src.distances.collections",
    "pairwise_distances": "gmmjax._src.distances.collections",
    "bures_cost_matrix": "gmmjax._src.distances.gaussian",
    "gaussian_barycenter": "gmmjax._src.distances.gaussian",
    "gaussian_interpolate": "gmmjax._src.distances.gaussian",
    "gaussian_transport_map": "gmmjax._src.distances.gaussian",
    "w2_gaussian": "gmmjax._src.distances.gaussian",
    "KL_METHODS": "gmmjax._src.distances.kl",
    "gaussian_entropy": "gmmjax._src.distances.kl",
    "kl_divergence": "gmmjax._src.distances.kl",
    "kl_gaussian": "gmmjax._src.distances.kl",
    "cauchy_schwarz_divergence": "gmmjax._src.distances.l2",
    "gaussian_overlap": "gmmjax._src.distances.l2",
    "inner_product": "gmmjax._src.distances.l2",
    "l2_distance": "gmmjax._src.distances.l2",
    "l2_distance_squared": "gmmjax._src.distances.l2",
    "log_gaussian_overlap": "gmmjax._src.distances.l2",
    "log_inner_product": "gmmjax._src.distances.l2",
    "log_l2_distance_squared": "gmmjax._src.distances.l2",
    "gaussian_gromov_wasserstein": "gmmjax._src.distances.gromov",
    "gaussian_gromov_wasserstein_map": "gmmjax._src.distances.gromov",
    "mixture_gromov_wasserstein": "gmmjax._src.distances.mixture_gromov",
    "geodesic": "gmmjax._src.distances.transport",
    "mw2_distance": "gmmjax._src.distances.transport",
    "mw2_plan": "gmmjax._src.distances.transport",
    "mw2_coupling_density": "gmmjax._src.distances.transport_maps",
    "mw2_transport_map": "gmmjax._src.distances.transport_maps",
    "density_information_loss": "gmmjax._src.learner.dil",
    "dil_from_cdfs": "gmmjax._src.learner.dil",
    "empirical_density_information_loss": "gmmjax._src.learner.dil",
    "WidthChoice": "gmmjax._src.learner.bandwidth",
    "select_grid_width": "gmmjax._src.learner.bandwidth",
    "EMResult": "gmmjax._src.learner.em",
    "fit_em": "gmmjax._src.learner.em",
    "FitResult": "gmmjax._src.learner.fit",
    "fit_weights": "gmmjax._src.learner.fit",
    "grid_basis": "gmmjax._src.learner.grid",
    "FitOptions": "gmmjax._src.learner.options",
    "paper_algorithm1": "gmmjax._src.learner.paper",
    "paper_algorithm2": "gmmjax._src.learner.paper",
    "exact_ot": "gmmjax._src.ot.exact",
    "OTResult": "gmmjax._src.ot.result",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gmmjax' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the same names, eagerly, for type checkers and editors
    from gmmjax._src.core.mixture import GMM, Gaussian
    from gmmjax._src.core.stacking import stack
    from gmmjax._src.core.validation import checked, validate
    from gmmjax._src.distances.barycenter import mw2_barycenter
    from gmmjax._src.distances.collections import (
        PAIRWISE_METRICS,
        paired_distances,
        pairwise_distances,
    )
    from gmmjax._src.distances.free_barycenter import mw2_barycenter_free_support
    from gmmjax._src.distances.gaussian import (
        bures_cost_matrix,
        gaussian_barycenter,
        gaussian_interpolate,
        gaussian_transport_map,
        w2_gaussian,
    )
    from gmmjax._src.distances.gromov import (
        gaussian_gromov_wasserstein,
        gaussian_gromov_wasserstein_map,
    )
    from gmmjax._src.distances.kl import KL_METHODS, gaussian_entropy, kl_divergence, kl_gaussian
    from gmmjax._src.distances.l2 import (
        cauchy_schwarz_divergence,
        gaussian_overlap,
        inner_product,
        l2_distance,
        l2_distance_squared,
        log_gaussian_overlap,
        log_inner_product,
        log_l2_distance_squared,
    )
    from gmmjax._src.distances.mixture_gromov import mixture_gromov_wasserstein
    from gmmjax._src.distances.transport import geodesic, mw2_distance, mw2_plan
    from gmmjax._src.distances.transport_maps import mw2_coupling_density, mw2_transport_map
    from gmmjax._src.learner.bandwidth import WidthChoice, select_grid_width
    from gmmjax._src.learner.dil import (
        density_information_loss,
        dil_from_cdfs,
        empirical_density_information_loss,
    )
    from gmmjax._src.learner.em import EMResult, fit_em
    from gmmjax._src.learner.fit import FitResult, fit_weights
    from gmmjax._src.learner.grid import grid_basis
    from gmmjax._src.learner.options import FitOptions
    from gmmjax._src.learner.paper import paper_algorithm1, paper_algorithm2
    from gmmjax._src.ot.exact import exact_ot
    from gmmjax._src.ot.result import OTResult

__all__ = [
    "GMM",
    "KL_METHODS",
    "PAIRWISE_METRICS",
    "EMResult",
    "FitOptions",
    "FitResult",
    "Gaussian",
    "OTResult",
    "WidthChoice",
    "bures_cost_matrix",
    "cauchy_schwarz_divergence",
    "checked",
    "density_information_loss",
    "dil_from_cdfs",
    "empirical_density_information_loss",
    "exact_ot",
    "fit_em",
    "fit_weights",
    "gaussian_barycenter",
    "gaussian_entropy",
    "gaussian_gromov_wasserstein",
    "gaussian_gromov_wasserstein_map",
    "gaussian_interpolate",
    "gaussian_overlap",
    "gaussian_transport_map",
    "geodesic",
    "grid_basis",
    "inner_product",
    "kl_divergence",
    "kl_gaussian",
    "l2_distance",
    "l2_distance_squared",
    "log_gaussian_overlap",
    "log_inner_product",
    "log_l2_distance_squared",
    "mixture_gromov_wasserstein",
    "mw2_barycenter",
    "mw2_barycenter_free_support",
    "mw2_coupling_density",
    "mw2_distance",
    "mw2_plan",
    "mw2_transport_map",
    "paired_distances",
    "pairwise_distances",
    "paper_algorithm1",
    "paper_algorithm2",
    "select_grid_width",
    "stack",
    "validate",
    "w2_gaussian",
]
