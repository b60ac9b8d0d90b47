"""Starting logits of the weight learner: soft cell counts smoothed over the grid."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gmmjax._src.core.mixture import GMM
from gmmjax._src.learner.grid import basis_spacing

__all__ = ["scaled_sq_distances", "smoothed_starts"]


def scaled_sq_distances(basis: GMM) -> jax.Array:
    """``(K, K)`` squared distances between the means in units of the grid spacing per axis.

    The spacing of an axis is :func:`~gmmjax._src.learner.grid.basis_spacing`, so grid
    neighbours are at distance 1 whatever the data scale.
    """
    mu = basis.means
    diff = mu[:, None, :] - mu[None, :, :]
    return jnp.sum((diff / basis_spacing(basis)) ** 2, axis=-1)


def smoothed_starts(basis: GMM, train: jax.Array, widths: jax.Array) -> jax.Array:
    """``(L, K)`` starting logits: soft cell counts smoothed over ``widths`` grid spacings.

    The soft counts are the mean responsibilities of the training points under uniform
    weights (one EM step from the uniform start of Lu et al. (2023)); width ``w`` convolves
    them with ``exp(-D^2 / 2w^2)`` over the means (``w = 0``: no smoothing).

    Args:
        basis: the fixed basis.
        train: ``(N, d)`` training points.
        widths: ``(L,)`` smoothing widths in grid spacings, ``>= 0``.

    Returns:
        ``(L, K)`` logits (log weights with a floor of ``1e-6 / K``).
    """
    log_phi = basis.component_log_prob(train)
    counts = jnp.mean(jax.nn.softmax(log_phi, axis=1), axis=0)  # (K,)
    d2 = scaled_sq_distances(basis)
    safe = jnp.where(widths > 0, widths, 1.0)[:, None, None]
    kernel = jnp.where(
        widths[:, None, None] > 0, jnp.exp(-0.5 * d2 / safe**2), jnp.eye(d2.shape[0])
    )
    pi = jnp.einsum("lkm,m->lk", kernel, counts)
    pi = pi / jnp.sum(pi, axis=1, keepdims=True)
    floor = 1e-6 / basis.n_components
    return jnp.log(pi + floor)
