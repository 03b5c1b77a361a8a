"""The xarray layer: differentiate DataArrays and Datasets along named dims."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, TypeVar, overload

import numpy as np
import xarray as xr

from .chunked import apply_chunked, apply_in_memory
from .kernels import first_derivative, result_dtype
from .metadata import derivative_attrs
from .positions import Axis, Spacing, resolve_dims, resolve_positions
from .stencils import plan_first_derivative

__all__ = ["gradient"]

T = TypeVar("T", xr.DataArray, xr.Dataset)


def _is_dask(data: Any) -> bool:
    return type(data).__module__.startswith("dask.") and hasattr(data, "chunks")


def _check_edge_order(edge_order: Any) -> int:
    if isinstance(edge_order, bool) or edge_order not in (1, 2):
        raise ValueError(f"edge_order must be 1 or 2, got {edge_order!r}")
    return int(edge_order)


def _variable_label(name: Hashable | None) -> str:
    return f"variable {name!r}" if name is not None else "the DataArray"


def _differentiate_variable(
    var: xr.Variable, name: Hashable | None, axis: Axis, plan: Any
) -> xr.Variable:
    try:
        dtype = result_dtype(var.dtype)
    except TypeError:
        raise TypeError(
            f"cannot differentiate {_variable_label(name)}: its dtype {var.dtype} is not numeric"
        ) from None
    data = var.data
    ax = var.get_axis_num(axis.dim)
    if _is_dask(data):
        out = apply_chunked(data, ax, plan, first_derivative, dtype)
    else:
        if not hasattr(data, "__array_namespace__") and not isinstance(data, np.ndarray):
            data = np.asarray(data)
        out = apply_in_memory(data, ax, plan, first_derivative)
    attrs = derivative_attrs(var.attrs, name, axis.dim, axis.units)
    return xr.Variable(var.dims, out, attrs=attrs)


def _plan(obj: xr.DataArray | xr.Dataset, axis: Axis, edge_order: int) -> Any:
    n = obj.sizes[axis.dim]
    if n < edge_order + 1:
        raise ValueError(
            f"dimension {axis.dim!r} has {n} point(s), too few for edge_order={edge_order}: "
            f"at least {edge_order + 1} are needed"
        )
    return plan_first_derivative(n, step=axis.step, positions=axis.positions, edge_order=edge_order)


def _differentiate(obj: T, axis: Axis, edge_order: int) -> T:
    plan = _plan(obj, axis, edge_order)
    if isinstance(obj, xr.DataArray):
        var = _differentiate_variable(obj.variable, obj.name, axis, plan)
        return xr.DataArray(var, coords=obj.coords, name=obj.name)
    data_vars = {
        name: _differentiate_variable(var.variable, name, axis, plan)
        for name, var in obj.data_vars.items()
        if axis.dim in var.dims and _is_numeric(var.dtype)
    }
    return xr.Dataset(data_vars, coords=obj.coords, attrs=obj.attrs)


def _is_numeric(dtype: np.dtype) -> bool:
    return dtype.kind in "biufc"


@overload
def gradient(obj: T, dim: str, *, spacing: Spacing = None, edge_order: int = 1) -> T: ...


@overload
def gradient(
    obj: T,
    dim: Sequence[Hashable] | None = None,
    *,
    spacing: Spacing = None,
    edge_order: int = 1,
) -> tuple[T, ...]: ...


def gradient(
    obj: T,
    dim: Hashable | Sequence[Hashable] | None = None,
    *,
    spacing: Spacing = None,
    edge_order: int = 1,
) -> T | tuple[T, ...]:
    """Derivative of ``obj`` along named dimensions, with numpy.gradient's formulas.

    Second-order accurate central differences in the interior, on uniform or
    non-uniform positions, and one-sided differences of order ``edge_order``
    at the two ends.  NumPy-backed data is differentiated eagerly; Dask-backed
    data lazily, chunk by chunk, with a one-cell halo along the dim.

    Parameters
    ----------
    obj
        The DataArray or Dataset to differentiate.
    dim
        A dimension name (returns one result), a sequence of names (returns a
        tuple in that order) or ``None`` (a tuple over all of ``obj.dims``).
    spacing
        Where the points of each dim lie.  A scalar ``h``: positions
        ``index * h`` on every dim, coordinates ignored.  A list/tuple with one
        entry per dim: a scalar step or a 1-D array of positions.  A mapping
        ``{dim: step | 1-D array | DataArray along dim | coordinate name}``.
        Dims without an entry use their index coordinate if they have one
        (numeric, or datetime64 in seconds), else unit spacing.
    edge_order
        1 or 2: order of the one-sided differences at the ends.

    Returns
    -------
    DataArray or Dataset, or a tuple of them
        Same dims, coords and name as ``obj``, with ``units`` (``"<data
        units> <coord units>-1"``, when both are known) and a ``long_name``.
        A Dataset keeps the numeric data variables that have the dim.

    Raises
    ------
    ValueError
        Unknown dim; spacing of the wrong length; positions with NaN, repeated
        or non-monotonic values; a dim shorter than ``edge_order + 1``;
        ``edge_order`` not 1 or 2.
    TypeError
        Non-numeric data or positions.

    Examples
    --------
    >>> import numpy as np
    >>> import xarray as xr
    >>> import xgradient
    >>> t = xr.DataArray(
    ...     [1.0, 2.0, 4.0, 7.0, 11.0],
    ...     dims="x",
    ...     coords={"x": ("x", [0.0, 1.0, 1.5, 3.5, 4.0], {"units": "m"})},
    ...     attrs={"units": "K"},
    ... )
    >>> d = xgradient.gradient(t, "x")
    >>> d.values
    array([1. , 3. , 3.5, 6.7, 8. ])
    >>> np.array_equal(d.values, np.gradient(t.values, t.x.values))
    True
    >>> d.attrs["units"]
    'K m-1'
    """
    edge_order = _check_edge_order(edge_order)
    dims, single = resolve_dims(obj, dim)
    axes = resolve_positions(obj, dims, spacing)
    results = tuple(_differentiate(obj, axis, edge_order) for axis in axes)
    return results[0] if single else results
