"""Gaussian and GMM pytrees: construction, validation, densities, sampling, interop.

Both classes are frozen dataclasses registered as JAX pytrees whose leaves are their arrays,
so they pass through ``jit``, ``vmap`` and ``grad`` unchanged. Leading axes before the
component axis are batch axes (a collection of mixtures); ``stack`` builds one.

Covariances are either full, ``(..., K, d, d)``, or diagonal variances, ``(..., K, d)``; the
kind is read from the ranks (``covs.ndim == means.ndim + 1`` means full), so it is static under
``jit`` and never stored as a flag that could disagree with the data. A third kind, low rank
plus isotropic (:math:`\\Sigma_k = F_kF_k^T + s_kI`, :meth:`GMM.low_rank`), is a small pytree
(:class:`~gmmjax._src.core.low_rank.LowRankCovariance`) in the same field: its kind is the
pytree structure, just as static.

Validation happens in the constructor. Shapes are always checked (they are static, also under
``jit``); values (finite, weights on the simplex, covariances symmetric PSD) are checked when
the arrays are concrete. Inside a jitted function the constructor receives tracers and the value
checks are skipped: invalid values then propagate as NaN/inf through the computation instead of
raising. Build mixtures outside ``jit`` (or pass ``validate=True`` arrays that were already
checked) to get the eager errors.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.core import rules
from gmmjax._src.core.checks import is_concrete
from gmmjax._src.core.densities import (
    component_log_densities,
    log_posteriors,
    low_rank_noise,
    noise_factor,
    scale_noise,
)
from gmmjax._src.core.interop import (
    ott_mixture,
    ott_parameters,
    sklearn_estimator,
    sklearn_parameters,
)
from gmmjax._src.core.low_rank import LowRankCovariance, check_low_rank, is_low_rank_cov
from gmmjax._src.core.scalars import sample_shape_tuple
from gmmjax._src.math.linalg import cholesky_and_inverse
from gmmjax._src.math.numerics import weighted_logsumexp

__all__ = [
    "GMM",
    "Gaussian",
    "component_variances",
    "degenerate_covariance",
    "float_dtype",
    "unit_padding",
]


_HALF_PRECISION = (jnp.float16, jnp.bfloat16)


def float_dtype(*arrays: Any) -> jnp.dtype:
    """The floating dtype parameters are stored in: the arrays' common dtype, floats only.

    Integers and booleans become the default float dtype (float32, or float64 with x64).
    """
    dtype = jnp.result_type(*arrays)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    return dtype


def _as_array(a: Any, name: str) -> jax.Array:
    """``a`` as a real, numeric JAX array, or a ``TypeError``/``ValueError`` naming ``name``."""
    if a is None:
        raise TypeError(f"{name} must be a numeric array; got None")
    try:
        arr = jnp.asarray(a)
    except TypeError as err:
        raise TypeError(f"{name} must be a numeric array; got {a!r:.80}") from err
    except ValueError as err:
        if "inhomogeneous" in str(err) or "sequence" in str(err):
            raise ValueError(
                f"{name} must be a rectangular array; its nested lists have different lengths"
            ) from None
        raise TypeError(f"{name} must be a numeric array; got {a!r:.80}") from err
    if jnp.issubdtype(arr.dtype, jnp.complexfloating):
        raise TypeError(f"{name} must be real; got {arr.dtype} (complex values are not supported)")
    if not (jnp.issubdtype(arr.dtype, jnp.number) or arr.dtype == jnp.bool_):
        raise TypeError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    if arr.dtype in _HALF_PRECISION:
        raise TypeError(
            f"{name} has dtype {arr.dtype}: half precision is not supported (the log densities "
            "and covariance factorisations need at least float32); cast with .astype(jnp.float32)"
        )
    return arr


def _as_float(*arrays: Any, names: Sequence[str] = ()) -> list[jax.Array]:
    names = [names[i] if i < len(names) else "argument" for i in range(len(arrays))]
    arrays = [_as_array(a, name) for a, name in zip(arrays, names, strict=True)]
    dtype = float_dtype(*arrays)
    return [a.astype(dtype) for a in arrays]


def _check_covs(covs: Any, diagonal: bool, name: str = "covs") -> None:
    rules.raise_eagerly(name, covs, rules.covariance_rules(diagonal))


def _check_weights(weights: jax.Array, normalize: bool) -> None:
    if not normalize:
        rules.raise_eagerly("weights", weights, rules.weight_rules(weights))
        return
    rules.raise_eagerly("weights", weights, (rules.FINITE,))
    w = np.asarray(weights, np.float64)  # the sum of huge float32 weights must not overflow
    if np.any(w < 0) or np.any(w.sum(axis=-1) <= 0):
        raise ValueError("normalize=True needs weights >= 0 with a positive sum")


def _pytree(cls: type) -> type:
    """Register ``cls`` (a frozen dataclass) as a pytree whose fields are all leaves.

    Unflattening bypasses ``__init__`` so transformations (which rebuild the object with
    tracers, batched arrays or sentinels) never trigger validation.
    """
    fields = tuple(f.name for f in dataclasses.fields(cls))

    def flatten_with_keys(obj: Any) -> tuple[list[tuple[Any, Any]], None]:
        return [(jax.tree_util.GetAttrKey(n), getattr(obj, n)) for n in fields], None

    def flatten(obj: Any) -> tuple[list[Any], None]:
        return [getattr(obj, n) for n in fields], None

    def unflatten(_: None, leaves: Sequence[Any]) -> Any:
        return cls._unchecked(*leaves)

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls


class _Shapes:
    """Shape properties shared by :class:`Gaussian` and :class:`GMM`.

    Subclasses return their location array, their covariance array and the number of event
    axes of the location (1 for a Gaussian's ``(..., d)`` mean, 2 for a mixture's
    ``(..., K, d)`` means).
    """

    def _location_and_scale(self) -> tuple[jax.Array, jax.Array, int]:
        raise NotImplementedError

    @property
    def dim(self) -> int:
        """Dimension ``d`` of the space."""
        return self._location_and_scale()[0].shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading batch axes (``()`` for a single distribution)."""
        loc, _, event = self._location_and_scale()
        return tuple(loc.shape[:-event])

    def _require_single(self, what: str) -> None:
        if self.batch_shape:
            raise ValueError(
                f"{what} needs a single {type(self).__name__}; this one has batch_shape "
                f"{self.batch_shape} (index it, or use jax.vmap)"
            )

    @property
    def is_diagonal(self) -> bool:
        """True when the covariances are stored as diagonal variances ``(..., d)``."""
        loc, scale, _ = self._location_and_scale()
        return not is_low_rank_cov(scale) and scale.ndim == loc.ndim

    @property
    def is_low_rank(self) -> bool:
        """True when the covariances are low rank plus isotropic, :math:`FF^T + sI`."""
        return is_low_rank_cov(self._location_and_scale()[1])

    def _kind(self) -> str:
        return "low_rank" if self.is_low_rank else "diagonal" if self.is_diagonal else "full"


@_pytree
@dataclasses.dataclass(frozen=True, eq=False, init=False, repr=False)
class Gaussian(_Shapes):
    """A Gaussian distribution :math:`\\mathcal N(\\mu, \\Sigma)` (or a batch of them).

    Args:
        mean: ``(..., d)`` mean vector.
        cov: ``(..., d, d)`` covariance matrix (symmetric positive semi-definite) or
            ``(..., d)`` diagonal variances (>= 0).
        validate: check values eagerly when the arrays are concrete (default True).

    Raises:
        ValueError: on inconsistent shapes, non-finite values, or a covariance that is not
            symmetric PSD (diagonal: negative variance).

    Example:
        >>> g = Gaussian(jnp.zeros(2), jnp.eye(2))
        >>> g.dim
        2
    """

    mean: jax.Array
    cov: jax.Array

    def __init__(self, mean: Any, cov: Any, *, validate: bool = True) -> None:
        if is_low_rank_cov(cov):
            mean, factor, noise = _as_float(mean, cov.factors, cov.noise, names=_LOW_RANK_1)
            if mean.ndim < 1 or mean.shape[-1] < 1:
                raise ValueError(f"mean must have shape (..., d) with d >= 1; got {mean.shape}")
            check_low_rank(mean, factor, noise, _LOW_RANK_1, validate)
            if validate and is_concrete(mean):
                rules.raise_eagerly("mean", mean, (rules.FINITE,))
            object.__setattr__(self, "mean", mean)
            object.__setattr__(self, "cov", LowRankCovariance(factor, noise))
            return
        mean, cov = _as_float(mean, cov, names=("mean", "cov"))
        if mean.ndim < 1 or mean.shape[-1] < 1:
            raise ValueError(f"mean must have shape (..., d) with d >= 1; got {mean.shape}")
        d = mean.shape[-1]
        if cov.shape not in (mean.shape, (*mean.shape, d)):
            raise ValueError(
                f"cov must have shape {(*mean.shape, d)} (full) or {mean.shape} (diagonal) "
                f"to match mean {mean.shape}; got {cov.shape}"
            )
        if validate and is_concrete(mean, cov):
            rules.raise_eagerly("mean", mean, (rules.FINITE,))
            _check_covs(cov, diagonal=cov.ndim == mean.ndim, name="cov")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)

    @classmethod
    def _unchecked(cls, mean: Any, cov: Any) -> Gaussian:
        obj = object.__new__(cls)
        object.__setattr__(obj, "mean", mean)
        object.__setattr__(obj, "cov", cov)
        return obj

    @classmethod
    def low_rank(cls, mean: Any, factor: Any, noise: Any, *, validate: bool = True) -> Gaussian:
        """A Gaussian with covariance :math:`\\Sigma = FF^T + sI` (probabilistic PCA).

        Tipping and Bishop (1999). Nothing of size ``d x d`` is stored; log densities,
        overlaps and KL divergences use the Woodbury identity and the matrix determinant
        lemma (``docs/guide/high_dimension.md``).

        Args:
            mean: ``(..., d)`` mean vector.
            factor: ``(..., d, r)`` factor :math:`F`, ``r >= 1``.
            noise: ``(...)`` isotropic variance :math:`s > 0`.
            validate: check values eagerly when the arrays are concrete (default True).

        Raises:
            ValueError: naming the argument, for mismatched shapes, non-finite values or
                ``noise <= 0``.

        Example:
            >>> g = Gaussian.low_rank(jnp.zeros(3), jnp.ones((3, 1)), 0.5)
            >>> g.is_low_rank, g.full_cov()[0].tolist()
            (True, [1.5, 1.0, 1.0])
        """
        mean, factor, noise = _as_float(mean, factor, noise, names=_LOW_RANK_1)
        return cls(mean, LowRankCovariance(factor, noise), validate=validate)

    def _location_and_scale(self) -> tuple[jax.Array, jax.Array, int]:
        return self.mean, self.cov, 1

    def full_cov(self) -> jax.Array:
        """The covariance as a ``(..., d, d)`` matrix (diagonal and low-rank ones are formed)."""
        if self.is_low_rank:
            return self.cov.dense()
        return _embed_diagonal(self.cov) if self.is_diagonal else self.cov

    def to_dense(self) -> Gaussian:
        """The same Gaussian with its covariance as a full ``(..., d, d)`` matrix."""
        return Gaussian._unchecked(self.mean, self.full_cov())

    def as_gmm(self) -> GMM:
        """This Gaussian as a one-component mixture."""
        w = jnp.ones((*self.batch_shape, 1), self.mean.dtype)
        axis = self.mean.ndim - 1
        cov = jax.tree_util.tree_map(lambda c: jnp.expand_dims(c, axis), self.cov)
        return GMM._unchecked(w, self.mean[..., None, :], cov)

    def log_prob(self, x: Any) -> jax.Array:
        """Log density at ``x`` of shape ``(..., d)``; see :meth:`GMM.log_prob`.

        Args:
            x: points of shape ``(..., d)``, converted to the dtype of the parameters.

        Returns:
            ``(...)`` for a single Gaussian; ``batch_shape + (...)`` for a batch.
        """
        return self.as_gmm().log_prob(x)

    def sample(self, key: jax.Array, sample_shape: int | Sequence[int] = ()) -> jax.Array:
        """Samples of shape ``(*sample_shape, d)``; see :meth:`GMM.sample`.

        Args:
            key: a JAX PRNG key.
            sample_shape: an int ``n`` (``n`` draws) or a tuple of sizes; default ``()``,
                one point of shape ``(d,)``.
        """
        return self.as_gmm().sample(key, sample_shape)

    def to_z(self, x: Any) -> jax.Array:
        """Whitened coordinates :math:`z = L^{-1}(x - \\mu)` of points ``x`` of shape ``(..., d)``.

        :math:`L` is the lower Cholesky factor, :math:`\\Sigma = LL^T` (the standard
        deviations for diagonal covariances), as OTT-JAX's ``Gaussian.to_z``: if ``x`` is
        distributed as this Gaussian, ``z`` is standard normal. Needs a positive-definite
        covariance (NaN otherwise); unbatched Gaussians only.

        Args:
            x: points of shape ``(..., d)``.

        Example:
            >>> g = Gaussian(jnp.array([1.0, 0.0]), jnp.array([4.0, 1.0]))
            >>> g.to_z(jnp.array([3.0, 1.0])).tolist()
            [1.0, 1.0]
        """
        self._require_single("to_z")
        x = _points(x, self.dim, self.mean.dtype)
        if self.is_diagonal:
            return (x - self.mean) / jnp.sqrt(self.cov)
        _, inverse = cholesky_and_inverse(self.full_cov())  # low rank: forms d x d
        return (x - self.mean) @ inverse.T

    def from_z(self, z: Any) -> jax.Array:
        """Points :math:`x = \\mu + L z` from whitened coordinates: the inverse of :meth:`to_z`.

        Args:
            z: whitened coordinates of shape ``(..., d)``.

        Example:
            >>> g = Gaussian(jnp.array([1.0, 0.0]), jnp.array([4.0, 1.0]))
            >>> g.from_z(jnp.array([1.0, 1.0])).tolist()
            [3.0, 1.0]
        """
        self._require_single("from_z")
        z = _points(z, self.dim, self.mean.dtype)
        if self.is_diagonal:
            return self.mean + z * jnp.sqrt(self.cov)
        factor, _ = cholesky_and_inverse(self.full_cov())
        return self.mean + z @ factor.T

    def __repr__(self) -> str:
        return (
            f"Gaussian(dim={self.dim}, cov={self._kind()}, batch_shape={self.batch_shape}, "
            f"dtype={self.mean.dtype})"
        )


_LOW_RANK_1 = ("mean", "factor", "noise")
_LOW_RANK_K = ("means", "factors", "noise")


def _points(x: Any, dim: int, dtype: Any) -> jax.Array:
    """``x`` in ``dtype``, checked to be ``(..., dim)``."""
    x = jnp.asarray(x, dtype)
    if x.shape[-1:] != (dim,):
        raise ValueError(f"x must have shape (..., {dim}); got {x.shape}")
    return x


def _embed_diagonal(variances: jax.Array) -> jax.Array:
    return variances[..., :, None] * jnp.eye(variances.shape[-1], dtype=variances.dtype)


@_pytree
@dataclasses.dataclass(frozen=True, eq=False, init=False, repr=False)
class GMM(_Shapes):
    """A Gaussian mixture :math:`p(x) = \\sum_k w_k\\, \\mathcal N(x \\mid \\mu_k, \\Sigma_k)`.

    Args:
        weights: ``(..., K)`` mixture weights, >= 0 and summing to 1 along the last axis.
            Zero weights are allowed (padding components change no result).
        means: ``(..., K, d)`` component means.
        covs: ``(..., K, d, d)`` full covariances (symmetric PSD) or ``(..., K, d)`` diagonal
            variances (>= 0).
        normalize: divide ``weights`` by their sum instead of requiring it to be 1. Never done
            implicitly.
        validate: check values eagerly when the arrays are concrete (default True). Under
            ``jit`` the arrays are tracers and only the shapes are checked; invalid values then
            show up as NaN in results.

    Raises:
        ValueError: naming the field, the shapes and the offending value, for inconsistent
            shapes, an empty mixture, non-finite values, negative weights, weights that do not
            sum to 1, or covariances that are not symmetric PSD.

    Example:
        >>> p = GMM(jnp.array([0.3, 0.7]), jnp.array([[0.0], [2.0]]), jnp.array([[1.0], [0.5]]))
        >>> p.n_components, p.dim, p.is_diagonal
        (2, 1, True)
    """

    weights: jax.Array
    means: jax.Array
    covs: jax.Array

    def __init__(
        self,
        weights: Any,
        means: Any,
        covs: Any,
        *,
        normalize: bool = False,
        validate: bool = True,
    ) -> None:
        low_rank = is_low_rank_cov(covs)
        if low_rank:
            weights, means, factors, noise = _as_float(
                weights, means, covs.factors, covs.noise, names=("weights", *_LOW_RANK_K)
            )
            covs = LowRankCovariance(factors, noise)
        else:
            names = ("weights", "means", "covs")
            weights, means, covs = _as_float(weights, means, covs, names=names)
        if means.ndim < 2:
            raise ValueError(f"means must have shape (..., K, d); got {means.shape}")
        k, d = means.shape[-2:]
        if k < 1 or d < 1:
            raise ValueError(f"a GMM needs at least one component and d >= 1; means {means.shape}")
        if weights.shape != means.shape[:-1]:
            raise ValueError(
                f"weights must have shape {means.shape[:-1]} to match means {means.shape}; "
                f"got {weights.shape}"
            )
        if low_rank:
            check_low_rank(means, covs.factors, covs.noise, _LOW_RANK_K, validate)
        elif covs.shape not in (means.shape, (*means.shape, d)):
            raise ValueError(
                f"covs must have shape {(*means.shape, d)} (full) or {means.shape} (diagonal) "
                f"to match means {means.shape}; got {covs.shape}"
            )
        if validate and is_concrete(weights, means, covs):
            _check_weights(weights, normalize)
            rules.raise_eagerly("means", means, (rules.FINITE,))
            if not low_rank:
                _check_covs(covs, diagonal=covs.ndim == means.ndim)
        if normalize:
            # Scaled by a power of two first (exact), so that the largest weight lies in
            # [0.5, 1): the sum cannot overflow and the division stays in the normal range.
            _, exponent = jnp.frexp(jnp.max(weights, axis=-1, keepdims=True))
            weights = jnp.ldexp(weights, -exponent)
            weights = weights / jnp.sum(weights, axis=-1, keepdims=True)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "covs", covs)

    @classmethod
    def _unchecked(cls, weights: Any, means: Any, covs: Any) -> GMM:
        obj = object.__new__(cls)
        object.__setattr__(obj, "weights", weights)
        object.__setattr__(obj, "means", means)
        object.__setattr__(obj, "covs", covs)
        return obj

    # ----------------------------------------------------------------- constructors
    @classmethod
    def univariate(cls, weights: Any, means: Any, variances: Any, **kwargs: Any) -> GMM:
        """A 1-D mixture from ``(..., K)`` weights, means and variances.

        Args:
            weights: ``(..., K)`` mixture weights, >= 0 and summing to 1.
            means: ``(..., K)`` component means.
            variances: ``(..., K)`` component variances (>= 0).
            **kwargs: ``normalize`` and ``validate``, as for :class:`GMM`.

        Example:
            >>> GMM.univariate([0.5, 0.5], [-1.0, 1.0], [0.25, 0.25]).dim
            1
        """
        weights, means, variances = _as_float(
            weights, means, variances, names=("weights", "means", "variances")
        )
        return cls(weights, means[..., None], variances[..., None], **kwargs)

    @classmethod
    def low_rank(cls, weights: Any, means: Any, factors: Any, noise: Any, **kwargs: Any) -> GMM:
        """A mixture with low-rank-plus-isotropic covariances :math:`\\Sigma_k = F_kF_k^T + s_kI`.

        The covariances of a mixture of probabilistic PCA models (Tipping and Bishop 1999):
        ``d r + 1`` numbers per component instead of ``d (d + 1) / 2``. The log densities,
        overlaps (L2, Cauchy–Schwarz) and KL divergences never form a ``d x d`` matrix: they
        use the Woodbury identity and the matrix determinant lemma, :math:`O(d r^2 + r^3)`
        per component pair (``docs/guide/high_dimension.md`` lists which functions take this
        structure and which convert it to dense matrices first).

        Args:
            weights: ``(..., K)`` mixture weights, as for :class:`GMM`.
            means: ``(..., K, d)`` component means.
            factors: ``(..., K, d, r)`` factors :math:`F_k`, ``r >= 1`` (rank-deficient
                factors are fine).
            noise: ``(..., K)`` isotropic variances :math:`s_k > 0`.
            **kwargs: ``normalize`` and ``validate``, as for :class:`GMM`.

        Raises:
            ValueError: naming the argument, for mismatched shapes, non-finite values,
                ``noise <= 0``, or weights that :class:`GMM` refuses.

        Example:
            >>> w, m = jnp.ones(2) / 2, jnp.zeros((2, 5))
            >>> p = GMM.low_rank(w, m, jnp.ones((2, 5, 1)), jnp.ones(2))
            >>> p.is_low_rank, p.covs.rank, p.full_covs().shape
            (True, 1, (2, 5, 5))
        """
        weights, means, factors, noise = _as_float(
            weights, means, factors, noise, names=("weights", *_LOW_RANK_K)
        )
        return cls(weights, means, LowRankCovariance(factors, noise), **kwargs)

    @classmethod
    def from_logits(cls, logits: Any, means: Any, covs: Any, **kwargs: Any) -> GMM:
        """A mixture whose weights are ``softmax(logits)``: the usual trainable parameterisation.

        Args:
            logits: ``(..., K)`` unnormalised log weights (any finite reals).
            means: ``(..., K, d)`` component means.
            covs: ``(..., K, d, d)`` full covariances or ``(..., K, d)`` diagonal variances.
            **kwargs: ``normalize`` and ``validate``, as for :class:`GMM`.

        Example:
            >>> GMM.from_logits(jnp.zeros(2), jnp.zeros((2, 1)), jnp.ones((2, 1))).weights.tolist()
            [0.5, 0.5]
        """
        (logits,) = _as_float(logits)
        return cls(jax.nn.softmax(logits, axis=-1), means, covs, **kwargs)

    @classmethod
    def from_gaussian(cls, gaussian: Gaussian) -> GMM:
        """A one-component mixture holding ``gaussian``.

        Every function that takes a GMM does this itself when given a :class:`Gaussian`.

        Args:
            gaussian: a :class:`Gaussian`; its batch axes become the mixture's, with
                ``K = 1`` and weight 1.
        """
        return gaussian.as_gmm()

    @classmethod
    def from_sklearn(cls, estimator: Any) -> GMM:
        """Convert a fitted ``sklearn.mixture.GaussianMixture``.

        ``full`` and ``tied`` covariances become full ``(K, d, d)``; ``diag`` and ``spherical``
        become diagonal ``(K, d)``.

        Args:
            estimator: a fitted ``sklearn.mixture.GaussianMixture`` (or
                ``BayesianGaussianMixture``).

        Raises:
            TypeError: ``estimator`` is not a scikit-learn Gaussian mixture.
            ValueError: the estimator is not fitted yet.
        """
        return cls(*sklearn_parameters(estimator))

    @classmethod
    def from_ott(cls, mixture: Any) -> GMM:
        """Convert an OTT-JAX ``ott.tools.gaussian_mixture.gaussian_mixture.GaussianMixture``.

        The covariances become full ``(K, d, d)`` matrices. The values are checked like any
        constructor input when they are concrete.

        Args:
            mixture: an OTT-JAX ``GaussianMixture``.

        Raises:
            TypeError: ``mixture`` is not an OTT-JAX ``GaussianMixture``.

        Example:
            >>> p = GMM.univariate([0.25, 0.75], [-1.0, 1.0], [0.5, 2.0])
            >>> GMM.from_ott(p.to_ott()).covs.shape
            (2, 1, 1)
        """
        return cls(*ott_parameters(mixture))

    def to_ott(self) -> Any:
        """An OTT-JAX ``GaussianMixture`` with these parameters (unbatched GMMs only).

        OTT stores full covariances, so diagonal variances are embedded. OTT's class is a
        pytree, so the conversion also works under ``jit``.
        """
        self._require_single("to_ott")
        return ott_mixture(self.weights, self.means, self.full_covs())

    def to_sklearn(self) -> Any:
        """A ``sklearn.mixture.GaussianMixture`` with these parameters (unbatched GMMs only).

        The estimator is ready for ``score_samples``, ``predict_proba`` and ``sample``.
        """
        self._require_single("to_sklearn")
        covs = self.full_covs() if self.is_low_rank else self.covs
        return sklearn_estimator(self.weights, self.means, covs)

    # ----------------------------------------------------------------- structure
    @property
    def n_components(self) -> int:
        """Number of components ``K`` (padding components included)."""
        return self.means.shape[-2]

    def _location_and_scale(self) -> tuple[jax.Array, jax.Array, int]:
        return self.means, self.covs, 2

    @property
    def dtype(self) -> jnp.dtype:
        """Floating dtype of the parameters."""
        return self.means.dtype

    def full_covs(self) -> jax.Array:
        """Covariances as ``(..., K, d, d)`` matrices (diagonal and low-rank ones are formed)."""
        if self.is_low_rank:
            return self.covs.dense()
        return _embed_diagonal(self.covs) if self.is_diagonal else self.covs

    def to_dense(self) -> GMM:
        """The same mixture with full ``(..., K, d, d)`` covariance matrices."""
        return GMM._unchecked(self.weights, self.means, self.full_covs())

    def component(self, k: int) -> Gaussian:
        """Component ``k`` as a :class:`Gaussian` (batch axes kept).

        Args:
            k: component index, an int in ``[-K, K)``.
        """
        if self.is_low_rank:
            cov = LowRankCovariance(self.covs.factors[..., k, :, :], self.covs.noise[..., k])
        else:
            cov = self.covs[..., k, :] if self.is_diagonal else self.covs[..., k, :, :]
        return Gaussian._unchecked(self.means[..., k, :], cov)

    def __getitem__(self, index: Any) -> GMM:
        """Index the batch axes: ``gmms[i]`` is the ``i``-th mixture of a stacked collection."""
        if not self.batch_shape:
            raise IndexError("a single GMM has no batch axis to index; use .component(k)")
        return jax.tree_util.tree_map(lambda leaf: leaf[index], self)

    def __len__(self) -> int:
        if not self.batch_shape:
            raise TypeError("a single GMM has no length; use .n_components")
        return self.batch_shape[0]

    def __repr__(self) -> str:
        return (
            f"GMM(n_components={self.n_components}, dim={self.dim}, covs={self._kind()}, "
            f"batch_shape={self.batch_shape}, dtype={self.dtype})"
        )

    # ----------------------------------------------------------------- densities
    def component_log_prob(self, x: Any) -> jax.Array:
        """``log N(x | mu_k, Sigma_k)`` for every component: ``(..., K)`` for ``x`` ``(..., d)``.

        Unbatched mixtures only (``vmap`` over batched ones).

        Args:
            x: points of shape ``(..., d)``, converted to the dtype of the parameters.
        """
        self._require_single("component_log_prob")
        x = self._points(x)
        out = component_log_densities(x.reshape(-1, self.dim), self.means, self.covs)
        return out.reshape(*x.shape[:-1], self.n_components)

    def log_responsibilities(self, x: Any) -> jax.Array:
        """Log component posteriors :math:`\\log p(k\\mid x)`, ``(..., K)`` for ``x`` ``(..., d)``.

        :math:`\\log w_k + \\log\\mathcal N(x\\mid\\mu_k,\\Sigma_k) - \\log p(x)` (Bishop 2006,
        Eq. 9.23), in log space: finite for points far from every component; ``-inf`` for a
        zero-weight component. Unbatched mixtures only (``vmap`` over batched ones).

        Args:
            x: points of shape ``(..., d)``, converted to the dtype of the parameters.
        """
        self._require_single("log_responsibilities")
        return _log_responsibilities(self, self._points(x))

    def responsibilities(self, x: Any) -> jax.Array:
        """Component posteriors :math:`p(k\\mid x)`, ``(..., K)``, summing to 1 over ``K``.

        The exponential of :meth:`log_responsibilities`; a zero-weight component gets 0.

        Args:
            x: points of shape ``(..., d)``, converted to the dtype of the parameters.

        Example:
            >>> p = GMM.univariate([0.5, 0.5], [-1.0, 1.0], [1.0, 1.0])
            >>> p.responsibilities(jnp.array([[0.0], [1e4]])).round(6).tolist()
            [[0.5, 0.5], [0.0, 1.0]]
        """
        return jnp.exp(self.log_responsibilities(x))

    def log_prob(self, x: Any) -> jax.Array:
        """Log density :math:`\\log \\sum_k w_k \\mathcal N(x\\mid\\mu_k,\\Sigma_k)` (log-sum-exp).

        Args:
            x: points of shape ``(..., d)``.

        Returns:
            ``(...)`` for a single mixture; ``batch_shape + (...)`` for a stacked collection.

        Example:
            >>> p = GMM.univariate([1.0], [0.0], [1.0])
            >>> float(p.log_prob(jnp.zeros(1)))  # doctest: +ELLIPSIS
            -0.918938...
        """
        from gmmjax._src.core.arguments import require_definite  # imports this module

        require_definite("self", self, "log_prob")  # singular: no density (docs/numerics.md)
        if self.batch_shape:
            return _map_batch(lambda g: g.log_prob(x), self)
        return _log_prob(self, self._points(x))

    def prob(self, x: Any) -> jax.Array:
        """Density at ``x`` (the exponential of :meth:`log_prob`).

        Args:
            x: points of shape ``(..., d)``, converted to the dtype of the parameters.
        """
        return jnp.exp(self.log_prob(x))

    def mean(self) -> jax.Array:
        """Mixture mean :math:`\\sum_k w_k \\mu_k`, shape ``(..., d)``."""
        return jnp.einsum("...k,...kd->...d", self.weights, self.means)

    def covariance(self) -> jax.Array:
        """Mixture covariance, ``(..., d, d)`` (a dense matrix for every kind of covariance).

        .. math:: \\sum_k w_k(\\Sigma_k + \\mu_k\\mu_k^T) - m m^T
        """
        m = self.mean()
        centred = self.means - m[..., None, :]
        second = jnp.einsum("...k,...ki,...kj->...ij", self.weights, centred, centred)
        return second + jnp.einsum("...k,...kij->...ij", self.weights, self.full_covs())

    # ----------------------------------------------------------------- sampling
    def component_sample(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` reparameterised draws from every component: shape ``(K, n, d)``.

        ``x = mu_k + L_k eps`` with ``L_k`` the Cholesky factor, so the draws are differentiable
        with respect to means and covariances.

        Args:
            key: a JAX PRNG key.
            n: draws per component, an int >= 0.
        """
        self._require_single("component_sample")
        if self.is_low_rank:
            shape = (self.n_components, n, self.dim + self.covs.rank)
            eps = jax.random.normal(key, shape, self.dtype)
            covs = jax.tree_util.tree_map(lambda c: c[:, None], self.covs)
            return self.means[:, None, :] + low_rank_noise(covs.factors, covs.noise, eps)
        eps = jax.random.normal(key, (self.n_components, n, self.dim), self.dtype)
        factor = noise_factor(self.covs, self.is_diagonal)[:, None]
        return self.means[:, None, :] + scale_noise(factor, eps, self.is_diagonal)

    def sample(self, key: jax.Array, sample_shape: int | Sequence[int] = ()) -> jax.Array:
        """Draws from the mixture, shape ``(*sample_shape, d)``.

        Components are drawn with probabilities ``weights``; the draw within a component is
        reparameterised (differentiable in means and covariances, not in the weights).

        Args:
            key: a JAX PRNG key.
            sample_shape: an int ``n`` (``n`` draws, shape ``(n, d)``) or a tuple of sizes,
                as in distrax, numpyro and TensorFlow Probability; ``()`` draws one point of
                shape ``(d,)``. One compiled program per total number of draws.

        Raises:
            TypeError: ``sample_shape`` is not an int or a tuple of ints.
            ValueError: a size in ``sample_shape`` is negative.

        Example:
            >>> p = GMM.univariate([0.5, 0.5], [-1.0, 1.0], [0.1, 0.1])
            >>> p.sample(jax.random.key(0), 5).shape
            (5, 1)
            >>> p.sample(jax.random.key(0), (2, 3)).shape
            (2, 3, 1)
        """
        self._require_single("sample")
        shape = sample_shape_tuple("sample_shape", sample_shape)
        return _sample(self, key, math.prod(shape)).reshape(*shape, self.dim)

    def _points(self, x: Any) -> jax.Array:
        """``x`` in this mixture's dtype, checked to be ``(..., d)``."""
        return _points(x, self.dim, self.dtype)


def unit_padding(g: GMM) -> GMM:
    """``g`` with the covariance of every degenerate zero-weight component replaced by ``I``.

    A zero-weight (padding) component changes no density-based value, but its covariance
    still enters the arithmetic: an all-zero one makes log-determinants ``-inf`` and
    Mahalanobis terms ``0 * inf``, and the weight of 0 cannot cancel a NaN. A zero-weight
    component whose covariance has a diagonal entry (low rank: noise) that is not positive
    and finite is *degenerate*; its covariance is replaced by :math:`I` (diagonal: unit
    variances; low rank: :math:`F = 0`, :math:`s = 1`) with ``jnp.where``, which leaves every
    weighted sum unchanged and keeps gradients finite (the replaced entries get a zero
    cotangent). Any other zero-weight component is kept as it is, so the derivative with
    respect to its weight stays the true one, :math:`\\partial/\\partial w_j` of the weighted
    sum through its own density. Batch axes are kept.
    """
    padding = (g.weights == 0) & degenerate_covariance(g.covs, g.is_diagonal)

    def unit(leaf: jax.Array, value: Any) -> jax.Array:
        mask = padding.reshape(padding.shape + (1,) * (leaf.ndim - padding.ndim))
        return jnp.where(mask, jnp.asarray(value, leaf.dtype), leaf)

    if g.is_low_rank:
        covs = LowRankCovariance(unit(g.covs.factors, 0.0), unit(g.covs.noise, 1.0))
    else:
        covs = unit(g.covs, 1.0 if g.is_diagonal else jnp.eye(g.dim))
    return GMM._unchecked(g.weights, g.means, covs)


def component_variances(g: GMM) -> jax.Array:
    """The ``(..., K, d)`` diagonals of the component covariances, for every structure."""
    if g.is_low_rank:
        return g.covs.variances()
    return g.covs if g.is_diagonal else jnp.diagonal(g.covs, axis1=-2, axis2=-1)


def degenerate_covariance(covs: Any, diagonal: bool, xp: Any = jnp) -> Any:
    """Per component: a diagonal entry (low rank: the noise) that is not positive and finite.

    Such a covariance has no density (necessary condition for positive definiteness).
    ``xp`` is ``jax.numpy`` (traced use) or ``numpy`` (the eager argument checks).
    """
    if is_low_rank_cov(covs):
        d = xp.asarray(covs.noise)[..., None]
    else:
        c = xp.asarray(covs)
        d = c if diagonal else xp.diagonal(c, axis1=-2, axis2=-1)
    return xp.any(~(xp.isfinite(d) & (d > 0)), axis=-1)


def _map_batch(fn: Any, gmm: GMM) -> jax.Array:
    """Apply ``fn`` to every mixture of a batched GMM (any number of batch axes)."""
    for _ in gmm.batch_shape:
        fn = jax.vmap(fn)
    return fn(gmm)


# One compiled program per shape for the eager methods (inlined under a caller's ``jit``).
@jax.jit
def _log_prob(g: GMM, x: jax.Array) -> jax.Array:
    g = unit_padding(g)  # degenerate zero-weight components: no effect
    return weighted_logsumexp(g.component_log_prob(x), g.weights, axis=-1)


@jax.jit
def _log_responsibilities(g: GMM, x: jax.Array) -> jax.Array:
    g = unit_padding(g)
    return log_posteriors(g.component_log_prob(x), g.weights)[0]


@functools.partial(jax.jit, static_argnums=2)
def _sample(g: GMM, key: jax.Array, n: int) -> jax.Array:
    k_idx, k_eps = jax.random.split(key)
    idx = jax.random.choice(k_idx, g.n_components, (n,), p=g.weights)
    if g.is_low_rank:
        eps = jax.random.normal(k_eps, (n, g.dim + g.covs.rank), g.dtype)
        return g.means[idx] + low_rank_noise(g.covs.factors[idx], g.covs.noise[idx], eps)
    eps = jax.random.normal(k_eps, (n, g.dim), g.dtype)
    return g.means[idx] + scale_noise(noise_factor(g.covs, g.is_diagonal)[idx], eps, g.is_diagonal)
