"""xgradient: numpy.gradient on named xarray dimensions, eager and lazy.

Importing the package registers the ``grad`` accessor on
:class:`xarray.DataArray` and :class:`xarray.Dataset`.
"""

from __future__ import annotations

from . import accessor as _accessor  # noqa: F401  (registers .grad)
from .derivatives import gradient, second_derivative
from .sphere import EARTH_RADIUS, divergence, laplacian, spherical_gradient, vorticity

__all__ = [
    "EARTH_RADIUS",
    "__version__",
    "divergence",
    "gradient",
    "laplacian",
    "second_derivative",
    "spherical_gradient",
    "vorticity",
]

__version__ = "0.1.0"
