"""Figures of Gaussian mixtures with matplotlib: densities, contours, couplings, geodesics.

Not imported by ``import gmmjax``; import it explicitly (``import gmmjax.plot``). It needs
matplotlib (``pip install 'gmmjax[plot]'``); without it the import fails with a one-line
:class:`ImportError` naming that extra.

Every function draws on a matplotlib ``Axes`` (``ax=None`` draws on the current one), sets
axis labels, and returns what it drew. Densities are evaluated by gmmjax on a whole grid at
once. No backend is chosen here.

- :func:`density_1d`: a 1-D mixture's density, its weighted components, a data histogram.
- :func:`contours_2d`: filled or line contours of a 2-D density, with a colorbar.
- :func:`coupling`: the components of two mixtures joined by the mass of a transport plan.
- :func:`geodesic_strip`: a row of densities along the mixture geodesic of
  Chen, Georgiou & Tannenbaum (2019).
"""

from gmmjax._src.app.optional import require as _require

_require("matplotlib", "gmmjax.plot")

# ruff: noqa: E402
from gmmjax._src.app.draw import contours_2d, coupling, density_1d, geodesic_strip

__all__ = ["contours_2d", "coupling", "density_1d", "geodesic_strip"]
