"""xgradient: numpy.gradient on named xarray dimensions, eager and lazy.

Importing the package registers the ``grad`` accessor on
:class:`xarray.DataArray` and :class:`xarray.Dataset`.
"""

from __future__ import annotations

from . import accessor as _accessor  # noqa: F401  (registers .grad)
from .core import gradient, second_derivative

__all__ = ["__version__", "gradient", "second_derivative"]

__version__ = "0.1.0"
