"""gmmjax: Gaussian mixture models as differentiable JAX objects.

Closed-form distances between mixtures (L2, Cauchy–Schwarz, KL), optimal transport between
mixtures, and a fixed-basis density learner. Every function is a pure JAX function: jit-able,
vmap-able and differentiable. Importing gmmjax disables XLA's concurrency-optimised CPU
scheduler when no JAX backend has started yet (see ``gmmjax._src.xla_flags``; opt out with
``GMMJAX_KEEP_XLA_FLAGS=1``).
"""

from gmmjax._src.xla_flags import disable_cpu_concurrency_scheduler as _guard

_guard()

# ruff: noqa: E402
from gmmjax._src.core.mixture import GMM, Gaussian
from gmmjax._src.core.stacking import stack
from gmmjax._src.core.validation import checked, validate
from gmmjax._src.distances.barycenter import mw2_barycenter
from gmmjax._src.distances.collections import (
    PAIRWISE_METRICS,
    paired_distances,
    pairwise_distances,
)
from gmmjax._src.distances.gaussian import (
    bures_cost_matrix,
    gaussian_barycenter,
    gaussian_interpolate,
    gaussian_transport_map,
    w2_gaussian,
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
from gmmjax._src.distances.transport import geodesic, mw2_distance, mw2_plan
from gmmjax._src.learner.dil import (
    density_information_loss,
    dil_from_cdfs,
    empirical_density_information_loss,
)
from gmmjax._src.learner.fit import FitResult, fit_weights
from gmmjax._src.learner.grid import grid_basis
from gmmjax._src.learner.options import FitOptions
from gmmjax._src.learner.paper import paper_algorithm1, paper_algorithm2
from gmmjax._src.ot.exact import exact_ot
from gmmjax._src.ot.result import OTResult

__version__ = "0.1.0"

__all__ = [
    "GMM",
    "KL_METHODS",
    "PAIRWISE_METRICS",
    "FitOptions",
    "FitResult",
    "Gaussian",
    "OTResult",
    "bures_cost_matrix",
    "cauchy_schwarz_divergence",
    "checked",
    "density_information_loss",
    "dil_from_cdfs",
    "empirical_density_information_loss",
    "exact_ot",
    "fit_weights",
    "gaussian_barycenter",
    "gaussian_entropy",
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
    "mw2_barycenter",
    "mw2_distance",
    "mw2_plan",
    "paired_distances",
    "pairwise_distances",
    "paper_algorithm1",
    "paper_algorithm2",
    "stack",
    "validate",
    "w2_gaussian",
]
