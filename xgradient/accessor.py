"""The ``.grad`` accessor: a stateless front door to :mod:`xgradient.derivatives`
and :mod:`xgradient.sphere`.

It only parses arguments and delegates; every behaviour lives in public
functions that can be called directly.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Generic, TypeVar

import xarray as xr

from .derivatives import BoundaryArg, Period, gradient, second_derivative
from .kernels import Engine
from .masking import NanPolicy
from .positions import Spacing
from .sphere import EARTH_RADIUS, divergence, laplacian, spherical_gradient, vorticity

__all__ = ["DataArrayGradAccessor", "DatasetGradAccessor"]

T = TypeVar("T", xr.DataArray, xr.Dataset)


class _GradAccessor(Generic[T]):
    def __init__(self, obj: T) -> None:
        self._obj = obj

    def __call__(
        self,
        dim: Hashable | Sequence[Hashable] | None = None,
        *,
        spacing: Spacing = None,
        edge_order: int = 1,
        accuracy: int = 2,
        boundary: BoundaryArg = "edge",
        period: Period = None,
        datetime_unit: str | None = None,
        engine: Engine = "auto",
        nan_policy: NanPolicy = "propagate",
        mask: xr.DataArray | None = None,
    ) -> Any:
        """Derivative along ``dim``: see :func:`xgradient.gradient`.

        Examples
        --------
        >>> import xarray as xr
        >>> import xgradient
        >>> da = xr.DataArray([0.0, 1.0, 4.0, 9.0], dims="x")
        >>> da.grad("x").values
        array([1., 2., 4., 5.])
        """
        return gradient(
            self._obj,
            dim,
            spacing=spacing,
            edge_order=edge_order,
            accuracy=accuracy,
            boundary=boundary,
            period=period,
            datetime_unit=datetime_unit,
            engine=engine,
            nan_policy=nan_policy,
            mask=mask,
        )

    def second(
        self,
        dim: Hashable | Sequence[Hashable] | None = None,
        *,
        spacing: Spacing = None,
        accuracy: int = 2,
        boundary: BoundaryArg = "edge",
        period: Period = None,
        datetime_unit: str | None = None,
        engine: Engine = "auto",
        nan_policy: NanPolicy = "propagate",
        mask: xr.DataArray | None = None,
    ) -> Any:
        """Second derivative along ``dim``: see :func:`xgradient.second_derivative`.

        Examples
        --------
        >>> import xarray as xr
        >>> import xgradient
        >>> da = xr.DataArray([0.0, 1.0, 4.0, 9.0, 16.0], dims="x")
        >>> da.grad.second("x").values.round(12)
        array([2., 2., 2., 2., 2.])
        """
        return second_derivative(
            self._obj,
            dim,
            spacing=spacing,
            accuracy=accuracy,
            boundary=boundary,
            period=period,
            datetime_unit=datetime_unit,
            engine=engine,
            nan_policy=nan_policy,
            mask=mask,
        )

    def spherical(
        self,
        *,
        lat: Hashable | None = None,
        lon: Hashable | None = None,
        radius: float = EARTH_RADIUS,
        accuracy: int = 2,
        edge_order: int = 1,
        boundary: Any = None,
        engine: Engine = "auto",
        nan_policy: NanPolicy = "propagate",
        mask: xr.DataArray | None = None,
    ) -> tuple[T, T]:
        """Eastward and northward derivatives in metres: see :func:`xgradient.spherical_gradient`.

        Examples
        --------
        >>> import numpy as np
        >>> import xarray as xr
        >>> import xgradient
        >>> lat, lon = [-10.0, 0.0, 10.0], np.arange(0.0, 360.0, 90.0)
        >>> t = xr.DataArray(np.zeros((3, 4)), coords={"lat": lat, "lon": lon}, dims=("lat", "lon"))
        >>> dx, dy = t.grad.spherical()
        >>> dx.dims, float(dy.max())
        (('lat', 'lon'), 0.0)
        """
        return spherical_gradient(
            self._obj,
            lat=lat,
            lon=lon,
            radius=radius,
            accuracy=accuracy,
            edge_order=edge_order,
            boundary=boundary,
            engine=engine,
            nan_policy=nan_policy,
            mask=mask,
        )

    def laplacian(
        self,
        *,
        lat: Hashable | None = None,
        lon: Hashable | None = None,
        radius: float = EARTH_RADIUS,
        accuracy: int = 2,
        boundary: Any = None,
        engine: Engine = "auto",
        nan_policy: NanPolicy = "propagate",
        mask: xr.DataArray | None = None,
    ) -> T:
        """Laplacian on the sphere: see :func:`xgradient.laplacian`.

        Examples
        --------
        >>> import numpy as np
        >>> import xarray as xr
        >>> import xgradient
        >>> lat, lon = [-20.0, -10.0, 0.0, 10.0], np.arange(0.0, 360.0, 90.0)
        >>> t = xr.DataArray(np.ones((4, 4)), coords={"lat": lat, "lon": lon}, dims=("lat", "lon"))
        >>> float(abs(t.grad.laplacian()).max()) < 1e-20
        True
        """
        return laplacian(
            self._obj,
            lat=lat,
            lon=lon,
            radius=radius,
            accuracy=accuracy,
            boundary=boundary,
            engine=engine,
            nan_policy=nan_policy,
            mask=mask,
        )


@xr.register_dataarray_accessor("grad")
class DataArrayGradAccessor(_GradAccessor[xr.DataArray]):
    """``DataArray.grad``: derivatives of a DataArray along named dims."""


@xr.register_dataset_accessor("grad")
class DatasetGradAccessor(_GradAccessor[xr.Dataset]):
    """``Dataset.grad``: derivatives of every numeric data variable along named dims."""

    def divergence(
        self,
        u: Hashable,
        v: Hashable,
        *,
        lat: Hashable | None = None,
        lon: Hashable | None = None,
        radius: float = EARTH_RADIUS,
        accuracy: int = 2,
        edge_order: int = 1,
        boundary: Any = None,
        engine: Engine = "auto",
        nan_policy: NanPolicy = "propagate",
        mask: xr.DataArray | None = None,
    ) -> xr.DataArray:
        """Divergence of the variables ``u`` and ``v``: see :func:`xgradient.divergence`.

        Examples
        --------
        >>> import numpy as np
        >>> import xarray as xr
        >>> import xgradient
        >>> lat, lon = [-10.0, 0.0, 10.0], np.arange(0.0, 360.0, 90.0)
        >>> wind = xr.Dataset(
        ...     {"u": (("lat", "lon"), np.ones((3, 4))), "v": (("lat", "lon"), np.zeros((3, 4)))},
        ...     coords={"lat": lat, "lon": lon},
        ... )
        >>> float(abs(wind.grad.divergence("u", "v")).max())
        0.0
        """
        ds = self._obj
        return divergence(
            ds[u],
            ds[v],
            lat=lat,
            lon=lon,
            radius=radius,
            accuracy=accuracy,
            edge_order=edge_order,
            boundary=boundary,
            engine=engine,
            nan_policy=nan_policy,
            mask=mask,
        )

    def vorticity(
        self,
        u: Hashable,
        v: Hashable,
        *,
        lat: Hashable | None = None,
        lon: Hashable | None = None,
        radius: float = EARTH_RADIUS,
        accuracy: int = 2,
        edge_order: int = 1,
        boundary: Any = None,
        engine: Engine = "auto",
        nan_policy: NanPolicy = "propagate",
        mask: xr.DataArray | None = None,
    ) -> xr.DataArray:
        """Relative vorticity of the variables ``u`` and ``v``: see :func:`xgradient.vorticity`.

        Examples
        --------
        >>> import numpy as np
        >>> import xarray as xr
        >>> import xgradient
        >>> lat, lon = [-10.0, 0.0, 10.0], np.arange(0.0, 360.0, 90.0)
        >>> wind = xr.Dataset(
        ...     {"u": (("lat", "lon"), np.zeros((3, 4))), "v": (("lat", "lon"), np.ones((3, 4)))},
        ...     coords={"lat": lat, "lon": lon},
        ... )
        >>> float(abs(wind.grad.vorticity("u", "v")).max())
        0.0
        """
        ds = self._obj
        return vorticity(
            ds[u],
            ds[v],
            lat=lat,
            lon=lon,
            radius=radius,
            accuracy=accuracy,
            edge_order=edge_order,
            boundary=boundary,
            engine=engine,
            nan_policy=nan_policy,
            mask=mask,
        )
