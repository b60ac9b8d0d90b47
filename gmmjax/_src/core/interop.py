"""Conversion to and from scikit-learn's and OTT-JAX's ``GaussianMixture``.

scikit-learn is an optional dependency, imported only by :func:`sklearn_estimator` and only
when it is called. OTT-JAX is a dependency of gmmjax; its mixture class is imported lazily too,
so that importing gmmjax does not load OTT's tools.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ott_mixture", "ott_parameters", "sklearn_estimator", "sklearn_parameters"]


def sklearn_parameters(estimator: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(weights, means, covs)`` of a fitted ``sklearn.mixture.GaussianMixture``.

    ``full`` and ``tied`` covariances become full ``(K, d, d)``; ``diag`` and ``spherical``
    become diagonal ``(K, d)``.

    Raises:
        TypeError: ``estimator`` is not a scikit-learn Gaussian mixture.
        ValueError: the estimator is not fitted yet, or has an unknown ``covariance_type``.
    """
    if not hasattr(estimator, "covariance_type") or not hasattr(estimator, "fit"):
        raise TypeError(
            "estimator must be a sklearn.mixture.GaussianMixture (or BayesianGaussianMixture); "
            f"got {type(estimator).__name__}"
        )
    fitted = ("weights_", "means_", "covariances_")
    if not all(hasattr(estimator, name) for name in fitted):
        raise ValueError(
            f"estimator is a {type(estimator).__name__} that is not fitted yet; call its "
            "fit(X) first"
        )
    kind = estimator.covariance_type
    means = np.asarray(estimator.means_)
    k, d = means.shape
    cov = np.asarray(estimator.covariances_)
    if kind in ("full", "diag"):
        covs = cov
    elif kind == "tied":
        covs = np.broadcast_to(cov, (k, d, d))
    elif kind == "spherical":
        covs = np.broadcast_to(cov[:, None], (k, d))
    else:
        raise ValueError(f"unsupported sklearn covariance_type {kind!r}")
    return np.asarray(estimator.weights_), means, np.array(covs)


def sklearn_estimator(weights: Any, means: Any, covs: Any) -> Any:
    """A ``GaussianMixture`` holding one mixture's parameters, ready for ``score_samples``."""
    try:
        from sklearn.mixture import GaussianMixture
    except ImportError as err:
        raise ImportError(
            "GMM.to_sklearn needs scikit-learn; install it with: pip install 'gmmjax[sklearn]'"
        ) from err

    weights = np.asarray(weights, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    covs = np.asarray(covs, dtype=np.float64)
    diagonal = covs.ndim == means.ndim
    est = GaussianMixture(n_components=len(weights), covariance_type="diag" if diagonal else "full")
    est.weights_, est.means_, est.covariances_ = weights, means, covs
    if diagonal:
        est.precisions_cholesky_ = 1.0 / np.sqrt(covs)
        est.precisions_ = 1.0 / covs
    else:
        inv_chol = np.linalg.inv(np.linalg.cholesky(covs))
        est.precisions_cholesky_ = np.swapaxes(inv_chol, -1, -2)
        est.precisions_ = np.swapaxes(inv_chol, -1, -2) @ inv_chol
    est.converged_, est.n_iter_, est.lower_bound_ = True, 0, -np.inf
    est.n_features_in_ = means.shape[-1]
    return est


def ott_parameters(mixture: Any) -> tuple[Any, Any, Any]:
    """``(weights, means, covs)`` of an OTT-JAX ``GaussianMixture``, covariances full.

    Raises:
        TypeError: ``mixture`` is not an OTT-JAX ``GaussianMixture``.
    """
    from ott.tools.gaussian_mixture.gaussian_mixture import GaussianMixture

    if not isinstance(mixture, GaussianMixture):
        raise TypeError(
            "mixture must be an ott.tools.gaussian_mixture.gaussian_mixture.GaussianMixture; "
            f"got {type(mixture).__name__}"
        )
    return mixture.component_weights, mixture.loc, mixture.covariance


def ott_mixture(weights: Any, means: Any, covs: Any) -> Any:
    """An OTT-JAX ``GaussianMixture`` holding one mixture with full ``(K, d, d)`` covariances."""
    from ott.tools.gaussian_mixture.gaussian_mixture import GaussianMixture

    return GaussianMixture.from_mean_cov_component_weights(
        mean=means, cov=covs, component_weights=weights
    )
