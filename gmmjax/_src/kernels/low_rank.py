r"""Overlap, KL and entropy kernels for low-rank-plus-isotropic covariances, in :math:`O(dr^2)`.

Components :math:`\mathcal N(\mu_i, F_iF_i^T + s_iI)` and :math:`\mathcal N(\eta_j,
G_jG_j^T + t_jI)` (:meth:`GMM.low_rank <gmmjax.GMM.low_rank>`; ``r_p`` and ``r_q`` columns).
No ``d x d`` matrix is formed: every quantity reduces to Gram matrices of the factors and
``(r_p + r_q)``-sized Cholesky factors (:mod:`gmmjax._src.math.woodbury`).

Overlap (You 2021, "Fact (*)"): :math:`S_{ij} = \Sigma_i + \Lambda_j = U_{ij}U_{ij}^T +
(s_i + t_j)I` with :math:`U_{ij} = [F_i\; G_j]`, so

.. math::
    \log\mathcal N(\mu_i\mid\eta_j, S_{ij}) = -\tfrac12\Big[\frac{\|r\|^2}{c}
    - \frac{\|L^{-1}U^Tr\|^2}{c^2} + d\log c + \log\det C + d\log 2\pi\Big],
    \quad C = I + U^TU/c = LL^T,\; c = s_i + t_j,

where :math:`U^TU` has the blocks :math:`F_i^TF_i`, :math:`F_i^TG_j`, :math:`G_j^TG_j`.

KL (closed form; Woodbury for :math:`\Sigma_1^{-1}`, determinant lemma for the log
determinants), for :math:`\Sigma_0 = FF^T + sI`, :math:`\Sigma_1 = GG^T + tI` and
:math:`C_0 = I + F^TF/s`, :math:`C_1 = I + G^TG/t = L_1L_1^T`, :math:`z = \mu_1 - \mu_0`:

.. math::
    2D_{KL} = d\,\big(\tfrac st - 1 - \log\tfrac st\big)
    + \frac{\|F\|_F^2}{t} - \frac{\|L_1^{-1}G^TF\|_F^2}{t^2}
    - \frac st\big(r_1 - \|L_1^{-1}\|_F^2\big)
    + \log\det C_1 - \log\det C_0 + z^T\Sigma_1^{-1}z,

the first term (the isotropic parts) non-negative and computed without cancellation; the
rest vanishes at :math:`\Sigma_0 = \Sigma_1` to round-off, and the sum is clamped at 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gmmjax._src.core.low_rank import LowRankCovariance
from gmmjax._src.math.numerics import LOG_2PI
from gmmjax._src.math.woodbury import capacitance, woodbury_mahalanobis

__all__ = [
    "low_rank_bures_cost",
    "low_rank_entropy",
    "low_rank_kl",
    "low_rank_kl_matrix",
    "low_rank_scaled_log_overlap",
]


def _gram(f: jax.Array) -> jax.Array:
    return jnp.einsum("...da,...db->...ab", f, f)


def low_rank_scaled_log_overlap(
    pm: jax.Array, pc: LowRankCovariance, qm: jax.Array, qc: LowRankCovariance
) -> jax.Array:
    """``(N_p, N_q)`` entries ``-(r^T S^{-1} r + log det S) / 2`` of the overlap, no ``2 pi``.

    Args:
        pm: ``(N_p, d)`` means of the first side.
        pc: their covariances, factors ``(N_p, d, r_p)`` and noise ``(N_p,)``.
        qm: ``(N_q, d)`` means of the second side.
        qc: their covariances, factors ``(N_q, d, r_q)`` and noise ``(N_q,)``.

    Returns:
        The log overlaps less ``-d log(2 pi) / 2`` (the module's formula).
    """
    f, g = pc.factors, qc.factors
    d = pm.shape[-1]
    diff = pm[:, None, :] - qm[None, :, :]  # (N_p, N_q, d)
    c = pc.noise[:, None] + qc.noise[None, :]
    gram, _ = _pair_gram(f, g)
    projection = jnp.concatenate(
        [jnp.einsum("ida,ijd->ija", f, diff), jnp.einsum("jdb,ijd->ijb", g, diff)], axis=-1
    )
    logdet_c, inverse = capacitance(gram, c)
    maha = woodbury_mahalanobis(jnp.sum(diff**2, axis=-1), projection, c, inverse)
    return -0.5 * (maha + d * jnp.log(c) + logdet_c)


def _pair_gram(f: jax.Array, g: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(N_p, N_q, m, m)`` Gram matrices of ``U = [F_i G_j]``, and the blocks ``F_i^T G_j``."""
    n_p, n_q, r_p, r_q = f.shape[0], g.shape[0], f.shape[-1], g.shape[-1]
    cross = jnp.einsum("ida,jdb->ijab", f, g)
    ff = jnp.broadcast_to(_gram(f)[:, None], (n_p, n_q, r_p, r_p))
    gg = jnp.broadcast_to(_gram(g)[None], (n_p, n_q, r_q, r_q))
    top = jnp.concatenate([ff, cross], axis=-1)
    bottom = jnp.concatenate([jnp.swapaxes(cross, -1, -2), gg], axis=-1)
    return jnp.concatenate([top, bottom], axis=-2), cross


#: Coupled Newton–Schulz iterations for the trace square root in :func:`low_rank_bures_cost`:
#: each multiplies the smallest normalised eigenvalue by about 1.5 until it nears 1, then
#: converges quadratically, so 60 cover condition numbers up to about ``1e9``.
NS_ITERATIONS = 60


def _trace_sqrt(m: jax.Array) -> jax.Array:
    r""":math:`\operatorname{tr} M^{1/2}` for ``(..., n, n)`` matrices with real eigenvalues > 0.

    Coupled Newton–Schulz (Higham 2008, Functions of Matrices, eq. 6.35) on :math:`M/c`,
    :math:`c = \operatorname{tr}M`: every iterate is a polynomial in :math:`M`, so on a
    diagonalisable :math:`M` with eigenvalues in :math:`(0, c]` it is the scalar iteration on
    each eigenvalue, which converges for :math:`\lambda/c \in (0, 3)`; matrix products only,
    so the derivative is the derivative of the iteration (finite everywhere).
    """
    n = m.shape[-1]
    c = jnp.trace(m, axis1=-2, axis2=-1)[..., None, None]
    eye = jnp.broadcast_to(jnp.eye(n, dtype=m.dtype), m.shape)

    def step(_, yz):
        y, z = yz
        t = 0.5 * (3.0 * eye - z @ y)
        return y @ t, t @ z

    y, _ = jax.lax.fori_loop(0, NS_ITERATIONS, step, (m / c, eye))
    return jnp.sqrt(c[..., 0, 0]) * jnp.trace(y, axis1=-2, axis2=-1)


def low_rank_bures_cost(
    pm: jax.Array, pc: LowRankCovariance, qm: jax.Array, qc: LowRankCovariance
) -> jax.Array:
    r"""``(N_p, N_q)`` squared Bures–Wasserstein distances :math:`W_2^2` between components.

    With :math:`\Sigma = FF^T + sI`, :math:`\Lambda = GG^T + tI`, :math:`U = [F\;G]`
    (``m = r_p + r_q`` columns), :math:`\Sigma\Lambda = st\,I + UBU^T` with
    :math:`B = \begin{pmatrix} tI & F^TG \\ 0 & sI\end{pmatrix}`, so the eigenvalues of
    :math:`\Sigma\Lambda` are :math:`st` (``d - m`` times, the complement of the span of
    :math:`U`, where both are isotropic) and those of the ``m x m`` matrix
    :math:`M = st\,I + BU^TU` (all real and :math:`\ge st`). Hence

    .. math::
        W_2^2 = \|\mu - \eta\|^2 + (d - m)(\sqrt s - \sqrt t)^2 + m(s + t)
            + \|F\|_F^2 + \|G\|_F^2 - 2\operatorname{tr}M^{1/2}

    (the reduction to the span of both factors that POT's ``bures_wasserstein_distance_hd``
    also makes; Chen, Georgiou and Tannenbaum 2019 for the closed form), with
    :math:`\operatorname{tr}M^{1/2}` by :func:`_trace_sqrt`. :math:`M`'s eigenvalues stay
    :math:`\ge st > 0` for rank-deficient or equal factors, so the value and its gradient are
    finite there. Equal covariances (entry for entry) get a covariance part of exactly 0, as
    in the dense kernel. Clamped at 0.

    Args:
        pm: ``(N_p, d)`` means of the first side.
        pc: their covariances, factors ``(N_p, d, r_p)`` and noise ``(N_p,)``.
        qm: ``(N_q, d)`` means of the second side.
        qc: their covariances, factors ``(N_q, d, r_q)`` and noise ``(N_q,)``.
    """
    f, g, s, t = pc.factors, qc.factors, pc.noise[:, None], qc.noise[None, :]
    d, r_p, r_q = pm.shape[-1], f.shape[-1], g.shape[-1]
    m = r_p + r_q
    gram, cross = _pair_gram(f, g)
    n_p, n_q = gram.shape[:2]
    zeros = jnp.zeros((n_p, n_q, r_q, r_p), f.dtype)
    eye_p, eye_q = jnp.eye(r_p, dtype=f.dtype), jnp.eye(r_q, dtype=f.dtype)
    ss, tt = (jnp.broadcast_to(x, (n_p, n_q))[..., None, None] for x in (s, t))
    b = jnp.concatenate(
        [jnp.concatenate([tt * eye_p, cross], -1), jnp.concatenate([zeros, ss * eye_q], -1)],
        axis=-2,
    )
    st = (s * t)[..., None, None] * jnp.eye(m, dtype=f.dtype)
    root = _trace_sqrt(st + b @ gram)
    sq_f, sq_g = jnp.sum(f**2, axis=(-2, -1)), jnp.sum(g**2, axis=(-2, -1))
    cov = (d - m) * (jnp.sqrt(s) - jnp.sqrt(t)) ** 2 + m * (s + t)
    cov = cov + sq_f[:, None] + sq_g[None, :] - 2.0 * root
    if r_p == r_q:
        same = jnp.all(f[:, None] == g[None, :], axis=(-2, -1)) & (s == t)
        cov = jnp.where(same, 0.0, cov)
    mean = jnp.sum((pm[:, None, :] - qm[None, :, :]) ** 2, axis=-1)
    return jnp.maximum(mean + cov, 0.0)


def _excess_ratio(s: jax.Array, t: jax.Array) -> jax.Array:
    """:math:`s/t - 1 - \\log(s/t) \\ge 0` as ``u - log1p(u)`` with ``u = (s - t)/t``."""
    u = (s - t) / t
    return u - jnp.log1p(u)


def _kl_pair(
    m0: jax.Array,
    f0: jax.Array,
    s0: jax.Array,
    logdet0: jax.Array,
    m1: jax.Array,
    g1: jax.Array,
    t1: jax.Array,
    logdet1: jax.Array,
    inv1: jax.Array,
) -> jax.Array:
    """:math:`D_{KL}` of one pair, from each side's capacitance (module formula)."""
    d, r1 = g1.shape
    z = m1 - m0
    a = inv1 @ (g1.T @ f0)  # L_1^{-1} G^T F
    span = (
        jnp.sum(f0**2) / t1
        - jnp.sum(a**2) / t1**2
        - (s0 / t1) * (r1 - jnp.sum(inv1**2))
        + logdet1
        - logdet0
    )
    maha = woodbury_mahalanobis(jnp.sum(z**2), g1.T @ z, t1, inv1)
    return jnp.maximum(0.5 * (d * _excess_ratio(s0, t1) + span + maha), 0.0)


def _capacitances(c: LowRankCovariance) -> tuple[jax.Array, jax.Array]:
    return capacitance(_gram(c.factors), c.noise)


def low_rank_kl(m0: jax.Array, c0: LowRankCovariance, m1: jax.Array, c1: LowRankCovariance):
    """:math:`D_{KL}(\\mathcal N(m_0, \\Sigma_0)\\|\\mathcal N(m_1, \\Sigma_1))` of one pair.

    Args:
        m0: ``(d,)`` first mean.
        c0: its covariance, factor ``(d, r_0)`` and scalar noise.
        m1: ``(d,)`` second mean.
        c1: its covariance, factor ``(d, r_1)`` and scalar noise.

    Returns:
        The scalar divergence (module formula), ``>= 0``.
    """
    logdet0, _ = _capacitances(c0)
    logdet1, inv1 = _capacitances(c1)
    return _kl_pair(m0, c0.factors, c0.noise, logdet0, m1, c1.factors, c1.noise, logdet1, inv1)


def low_rank_kl_matrix(
    pm: jax.Array, pc: LowRankCovariance, qm: jax.Array, qc: LowRankCovariance
) -> jax.Array:
    """``(K_p, K_q)`` matrix of :math:`D_{KL}(p_i\\|q_j)`; each component factored once.

    Args:
        pm: ``(K_p, d)`` means of ``p``.
        pc: covariances of ``p``, factors ``(K_p, d, r_p)`` and noise ``(K_p,)``.
        qm: ``(K_q, d)`` means of ``q``.
        qc: covariances of ``q``, factors ``(K_q, d, r_q)`` and noise ``(K_q,)``.
    """
    logdet_p, _ = _capacitances(pc)
    logdet_q, inv_q = _capacitances(qc)
    one = jax.vmap(_kl_pair, in_axes=(None,) * 4 + (0,) * 5)
    rows = jax.vmap(one, in_axes=(0,) * 4 + (None,) * 5)
    return rows(pm, pc.factors, pc.noise, logdet_p, qm, qc.factors, qc.noise, logdet_q, inv_q)


def low_rank_entropy(covs: LowRankCovariance) -> jax.Array:
    """Differential entropies :math:`\\tfrac12(d\\log s + \\log\\det C + d(1 + \\log 2\\pi))`.

    Args:
        covs: factors ``(..., d, r)`` and noise ``(...)``.
    """
    d = covs.factors.shape[-2]
    logdet_c, _ = _capacitances(covs)
    return 0.5 * (d * jnp.log(covs.noise) + logdet_c + d * (1.0 + LOG_2PI))
