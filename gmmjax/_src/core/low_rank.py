"""Low-rank-plus-isotropic covariances :math:`\\Sigma_k = F_kF_k^T + s_k I` as a small pytree.

The probabilistic-PCA form (Tipping and Bishop 1999): ``factors`` ``(..., K, d, r)`` and
``noise`` ``(..., K)`` with :math:`s_k > 0`. A :class:`~gmmjax.GMM` (or
:class:`~gmmjax.Gaussian`) holds one :class:`LowRankCovariance` in its ``covs`` (``cov``)
field, so the kind of covariance is the pytree's structure: static under ``jit``, and the
mixture keeps its three fields, so code that rebuilds a mixture from ``weights``, ``means``
and ``covs`` keeps the structure. The object deliberately has no ``ndim``/``shape``: code
written for dense covariance arrays fails with a message pointing at
:meth:`~gmmjax.GMM.to_dense` instead of misreading the factors.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gmmjax._src.core import rules

__all__ = ["LowRankCovariance", "check_low_rank", "is_low_rank_cov"]

_ARRAY_ATTRIBUTES = frozenset({"ndim", "shape", "size", "T", "reshape", "astype", "__array__"})

_POSITIVE = rules.Rule(lambda x, ns: (x > 0, x), "{name} must be > 0; {where} = {value}")


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class LowRankCovariance:
    """Covariances :math:`FF^T + sI`: ``factors`` ``(..., d, r)`` and ``noise`` ``(...)``.

    Build mixtures with :meth:`GMM.low_rank <gmmjax.GMM.low_rank>` and Gaussians with
    :meth:`Gaussian.low_rank <gmmjax.Gaussian.low_rank>`, which check the values; this
    container only holds them.

    Args:
        factors: ``(..., d, r)`` factors :math:`F`.
        noise: ``(...)`` isotropic variances :math:`s > 0`.
    """

    factors: jax.Array
    noise: jax.Array

    @property
    def dtype(self) -> jnp.dtype:
        """Floating dtype of the factors."""
        return self.factors.dtype

    @property
    def rank(self) -> int:
        """Number of factor columns ``r``."""
        return self.factors.shape[-1]

    def dense(self) -> jax.Array:
        """The ``(..., d, d)`` matrices :math:`F F^T + s I` (forms ``d x d`` arrays)."""
        f = self.factors
        eye = jnp.eye(f.shape[-2], dtype=f.dtype)
        return f @ jnp.swapaxes(f, -1, -2) + self.noise[..., None, None] * eye

    def variances(self) -> jax.Array:
        """The ``(..., d)`` diagonals :math:`\\sum_a F_{ia}^2 + s`."""
        return jnp.sum(self.factors**2, axis=-1) + self.noise[..., None]

    def scaled(self, factor_scale: Any, noise_scale: Any) -> LowRankCovariance:
        """Factors times ``factor_scale`` and noise times ``noise_scale`` (a rescaled space)."""
        return LowRankCovariance(self.factors * factor_scale, self.noise * noise_scale)

    def __getattr__(self, name: str) -> Any:
        if name in _ARRAY_ATTRIBUTES:
            raise TypeError(
                f"this function does not take low-rank covariances (it asked for .{name} of a "
                "covariance array); convert the mixture with .to_dense() first"
            )
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"LowRankCovariance(factors {self.factors.shape}, noise {self.noise.shape})"


def _flatten_with_keys(c: LowRankCovariance) -> tuple[list[tuple[Any, Any]], None]:
    keys = jax.tree_util.GetAttrKey
    return [(keys("factors"), c.factors), (keys("noise"), c.noise)], None


def _unflatten(_: None, leaves: Any) -> LowRankCovariance:
    obj = object.__new__(LowRankCovariance)
    object.__setattr__(obj, "factors", leaves[0])
    object.__setattr__(obj, "noise", leaves[1])
    return obj


jax.tree_util.register_pytree_with_keys(
    LowRankCovariance,
    _flatten_with_keys,
    _unflatten,
    lambda c: ([c.factors, c.noise], None),
)


def is_low_rank_cov(covs: Any) -> bool:
    """True when ``covs`` is a :class:`LowRankCovariance`."""
    return isinstance(covs, LowRankCovariance)


def check_low_rank(
    location: jax.Array,
    factors: jax.Array,
    noise: jax.Array,
    names: tuple[str, str, str],
    validate: bool = True,
) -> None:
    """Shape checks always; value checks (finite factors, finite noise > 0) when concrete.

    Args:
        location: ``(..., d)`` means of the components (``(..., K, d)`` for a mixture).
        factors: ``(..., d, r)`` factors, the leading axes those of ``location``.
        noise: the leading axes of ``location``.
        names: how the messages call ``location``, ``factors`` and ``noise``.
        validate: run the value checks (when the arrays are concrete).

    Raises:
        ValueError: naming the argument, for a shape mismatch, ``r < 1``, non-finite values
            or noise that is not positive.
    """
    loc_name, f_name, s_name = names
    if factors.ndim != location.ndim + 1 or factors.shape[:-1] != location.shape:
        raise ValueError(
            f"{f_name} must have shape {(*location.shape, 'r')} to match {loc_name} "
            f"{location.shape}; got {factors.shape}"
        )
    if factors.shape[-1] < 1:
        raise ValueError(f"{f_name} needs r >= 1 columns; got shape {factors.shape}")
    if noise.shape != location.shape[:-1]:
        raise ValueError(
            f"{s_name} must have shape {location.shape[:-1]} (one variance per component) to "
            f"match {loc_name} {location.shape}; got {noise.shape}"
        )
    if validate and not any(isinstance(a, jax.core.Tracer) for a in (factors, noise)):
        rules.raise_eagerly(f_name, factors, (rules.FINITE,))
        rules.raise_eagerly(s_name, noise, (rules.FINITE, _POSITIVE))


def eigenvalue_range(covs: LowRankCovariance) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest eigenvalues of concrete low-rank covariances, in float64 on the host.

    The eigenvalues of :math:`FF^T + sI` are :math:`s + \\lambda_a(F^TF)` on the span of
    :math:`F` and :math:`s` elsewhere, so an ``r x r`` problem per component suffices.
    """
    f = np.asarray(covs.factors, np.float64)
    s = np.asarray(covs.noise, np.float64)
    lam = np.linalg.eigvalsh(np.swapaxes(f, -1, -2) @ f)
    d, r = f.shape[-2:]
    low = np.maximum(lam[..., 0], 0.0) if r >= d else 0.0
    return s + low, s + np.maximum(lam[..., -1], 0.0)
