"""The ``.grad`` accessor: a stateless front door to :mod:`xgradient.core`.

It only parses arguments and delegates; every behaviour lives in public
functions that can be called directly.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Generic, TypeVar

import xarray as xr

from .core import BoundaryArg, Period, gradient, second_derivative
from .positions import Spacing

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
        )


@xr.register_dataarray_accessor("grad")
class DataArrayGradAccessor(_GradAccessor[xr.DataArray]):
    """``DataArray.grad``: derivatives of a DataArray along named dims."""


@xr.register_dataset_accessor("grad")
class DatasetGradAccessor(_GradAccessor[xr.Dataset]):
    """``Dataset.grad``: derivatives of every numeric data variable along named dims."""
