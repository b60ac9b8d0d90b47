"""gmmjax: Gaussian mixture models as differentiable JAX objects.

Closed-form distances between mixtures (L2, Cauchy–Schwarz, KL), optimal transport between
mixtures, and a fixed-basis density learner. Every function is a pure JAX function: jit-able,
vmap-able and differentiable. Importing gmmjax disables XLA's concurrency-optimised CPU
scheduler when no JAX backend has started yet (see ``gmmjax._xla_flags``; opt out with
``GMMJAX_KEEP_XLA_FLAGS=1``).
"""

from gmmjax._xla_flags import disable_cpu_concurrency_scheduler as _guard

_guard()

# ruff: noqa: E402
from gmmjax._barycenter import mw2_barycenter
from gmmjax._batch import PAIRWISE_METRICS, paired_distances, pairwise_distances
from gmmjax._bures import (
    bures_cost_matrix,
    gaussian_barycenter,
    gaussian_interpolate,
    gaussian_transport_map,
    w2_gaussian,
)
from gmmjax._checkify import checked, validate
from gmmjax._dil import density_information_loss, empirical_density_information_loss
from gmmjax._grid import grid_basis
from gmmjax._kl import KL_METHODS, gaussian_entropy, kl_divergence, kl_gaussian
from gmmjax._learner import FitResult, fit_weights
from gmmjax._mixture import GMM, Gaussian, stack
from gmmjax._overlap import (
    cauchy_schwarz_divergence,
    gaussian_overlap,
    inner_product,
    l2_distance,
    l2_distance_squared,
    log_gaussian_overlap,
    log_inner_product,
    log_l2_distance_squared,
)
from gmmjax._paper import paper_algorithm1, paper_algorithm2
from gmmjax._transport import geodesic, mw2_distance, mw2_plan

__version__ = "0.1.0"

__all__ = [
    "GMM",
    "KL_METHODS",
    "PAIRWISE_METRICS",
    "FitResult",
    "Gaussian",
    "bures_cost_matrix",
    "cauchy_schwarz_divergence",
    "checked",
    "density_information_loss",
    "empirical_density_information_loss",
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
