"""Optimiser pieces for softmax logits: exponentiated-gradient (mirror) steps on the simplex."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = ["scale_by_inverse_weights"]


def scale_by_inverse_weights() -> optax.GradientTransformation:
    """Divide the logit gradient by the weights: exponentiated-gradient (mirror) steps.

    For :math:`\\pi = \\mathrm{softmax}(\\theta)`, :math:`\\partial_\\theta L = \\pi \\odot
    (\\nabla_\\pi L - \\langle \\pi, \\nabla_\\pi L\\rangle)`, so
    dividing by :math:`\\pi` and stepping with ``optax.scale(-eta)`` gives the multiplicative
    update :math:`\\pi_k \\propto \\pi_k e^{-\\eta \\partial_{\\pi_k} L}` (mirror descent with the
    KL geometry of the simplex). For the NLL this is, to first order, one EM step on the
    weights when ``eta = 1``.

    Returns:
        A stateless optax transformation; it needs the current logits as ``params``.

    Example:
        >>> opt = optax.chain(scale_by_inverse_weights(), optax.scale(-0.2))
        >>> theta = jnp.log(jnp.array([0.5, 0.25, 0.25]))
        >>> step, _ = opt.update(jnp.ones(3), opt.init(theta), theta)
        >>> [round(float(s), 3) for s in step]
        [-0.4, -0.8, -0.8]
    """

    def init(params: Any) -> optax.EmptyState:
        del params
        return optax.EmptyState()

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        pi = jax.nn.softmax(params, axis=-1)
        floor = jnp.finfo(pi.dtype).tiny
        return updates / jnp.maximum(pi, floor), state

    return optax.GradientTransformation(init, update)
