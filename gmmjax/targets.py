"""Random target densities for benchmarking density estimators (Lu et al. 2023, §3.1).

Lu, Ding, Wu & Yuan (2023) score their fixed-basis learner on random one-dimensional targets:
mixtures of 8 components, each with a location drawn from U(-10, 10) and a scale from
U(0.5, 2), mixed with Dirichlet(1, ..., 1) weights. Their Table 1 uses normal components only
(:data:`GAUSSIAN`); Tables 2 and 3 draw each component's kind from normal, Student t (df in
{3, ..., 10}) and uniform (with that standard deviation) (:data:`MIXED`).

:class:`RandomTarget` draws such a target from a NumPy generator. Its ``cdf`` and ``pdf`` are
exact (SciPy), so :func:`gmmjax.density_information_loss` of a fit against
``target.cdf`` carries no sampling error; ``sample`` draws data to fit.

Example:
    >>> import numpy as np
    >>> import gmmjax as gj
    >>> from gmmjax.targets import MIXED, RandomTarget
    >>> target = RandomTarget(np.random.default_rng(0), MIXED)
    >>> x = target.sample(2000, np.random.default_rng(1))
    >>> basis = gj.grid_basis(x, 50, 2.0)
    >>> fit = gj.fit_weights(basis, x, steps=50).gmm
    >>> r = float(basis.means[1, 0] - basis.means[0, 0])
    >>> 0.0 <= float(gj.density_information_loss(fit, target.cdf, r / 2)) <= 2.0
    True

``GAUSSIAN`` and ``MIXED`` are the tuples of component kinds for the two families.
"""

from gmmjax._src.learner.targets import GAUSSIAN, MIXED, RandomTarget

__all__ = ["GAUSSIAN", "MIXED", "RandomTarget"]
