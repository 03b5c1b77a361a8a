"""The xarray layer's front: differentiate DataArrays and Datasets along named dims.

Resolves dims to positions (:mod:`xgradient.positions`), chooses each dim's
plan once (:mod:`xgradient.stencils`), applies the block kernel
(:mod:`xgradient.kernels`) to in-memory data or, lazily, chunk by chunk
(:mod:`xgradient.chunked`), and wraps the result with its coordinates and
CF attributes (:mod:`xgradient.metadata`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

import numpy as np
import xarray as xr

from .arrays import is_dask, result_dtype, stays_as_it_is
from .chunked import apply_chunked, apply_in_memory
from .compat import dask_meta, data_array_like, dataset_like
from .kernels import (
    Engine,
    check_engine,
    mark_missing,
    numpy_gradient,
    omit_missing,
    weighted_stencil,
)
from .masking import NanPolicy, apply_mask, check_mask, check_nan_policy, mask_layouts
from .metadata import derivative_attrs, user_name
from .missing import MissingPlan, plan_missing
from .positions import Axis, Spacing, resolve_dims, resolve_positions
from .stencils import FirstDerivativePlan, plan_first_derivative, plan_weighted

__all__ = ["gradient", "second_derivative"]

T = TypeVar("T", xr.DataArray, xr.Dataset)
Boundary = Literal["edge", "periodic"]
BoundaryArg = Boundary | Mapping[Hashable, Boundary]
Period = Mapping[Hashable, float] | None


@dataclass(frozen=True)
class Options:
    """The validated stencil options of one call."""

    order: int
    edge_order: int
    accuracy: int
    boundary: BoundaryArg
    period: Mapping[Hashable, float]
    engine: str = "auto"
    nan_policy: str = "propagate"

    def boundary_for(self, dim: Hashable) -> str:
        if isinstance(self.boundary, Mapping):
            return self.boundary.get(dim, "edge")
        return self.boundary


def _option_key(d: Hashable, what: str, all_dims: Sequence[Hashable]) -> None:
    """A mapping key of ``boundary`` or ``period`` must be a dim of the object."""
    if d not in all_dims:
        raise ValueError(
            f"{what} given for dimension {d!r}, which is not a dimension of the object "
            f"({tuple(all_dims)})"
        )


def _positive_number(value: Any) -> float | None:
    """``value`` as a float if it is a finite positive number (0-d arrays too), else ``None``."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    number = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
    if not number or not np.isfinite(value) or value <= 0:
        return None
    return float(value)


def _check_options(
    dims: list[Hashable],
    order: int,
    edge_order: Any,
    accuracy: Any,
    boundary: Any,
    period: Any,
    all_dims: Sequence[Hashable] | None = None,
    engine: str = "auto",
    nan_policy: str = "propagate",
) -> Options:
    """Validate the options of one call differentiating ``dims``.

    A ``boundary`` or ``period`` mapping may name any of ``all_dims`` (the
    object's dims, default ``dims``): entries for dims not differentiated in
    this call are checked but not used, so one options dict serves every
    call; a key that is no dim of the object is an error.
    """
    all_dims = dims if all_dims is None else all_dims
    if isinstance(edge_order, bool) or edge_order not in (1, 2):
        raise ValueError(f"edge_order must be 1 or 2, got {edge_order!r}")
    if isinstance(accuracy, bool) or accuracy not in (2, 4):
        raise ValueError(f"accuracy must be 2 or 4, got {accuracy!r}")
    choices = ("edge", "periodic")
    if isinstance(boundary, Mapping):
        for d, b in boundary.items():
            _option_key(d, "boundary", all_dims)
            if b not in choices:
                raise ValueError(
                    f"boundary for dimension {d!r} must be one of {choices}, got {b!r}"
                )
    elif boundary not in choices:
        raise ValueError(f"boundary must be one of {choices} or a mapping, got {boundary!r}")
    if period is None:
        period = {}
    if not isinstance(period, Mapping):
        raise TypeError(f"period must be a mapping {{dim: period}}, got {type(period).__name__}")
    periods = {}
    for d, p in period.items():
        _option_key(d, "period", all_dims)
        value = _positive_number(p)
        if value is None:
            raise ValueError(f"period for dimension {d!r} must be a positive number, got {p!r}")
        if d not in dims:
            continue  # for another call
        periodic = boundary.get(d) if isinstance(boundary, Mapping) else boundary
        if periodic != "periodic":
            raise ValueError(
                f"period given for dimension {d!r}, whose boundary is not 'periodic'; "
                f"add boundary={{{d!r}: 'periodic'}} or drop the period"
            )
        periods[d] = value
    engine = check_engine(engine)
    return Options(order, int(edge_order), int(accuracy), boundary, periods, engine, nan_policy)


def _variable_label(name: Hashable | None) -> str:
    name = user_name(name)
    return f"variable {name!r}" if name is not None else "the DataArray"


def _kernel_for(plan: Any, engine: str, **options: Any) -> Callable[..., Any]:
    if isinstance(plan, MissingPlan):
        kernel = omit_missing
    elif isinstance(plan, FirstDerivativePlan):
        kernel = numpy_gradient
    else:
        kernel = weighted_stencil
    return functools.partial(kernel, engine=engine, **options)


def _differentiate_variable(
    var: xr.Variable,
    name: Hashable | None,
    axis: Axis,
    plan: Any,
    options: Options,
    valid_of: Callable[[xr.Variable], Any] | None = None,
) -> xr.Variable:
    try:
        dtype = result_dtype(var.dtype)
    except TypeError:
        raise TypeError(
            f"cannot differentiate {_variable_label(name)}: its dtype {var.dtype} is not numeric"
        ) from None
    data = var.data
    ax = var.get_axis_num(axis.dim)
    if is_dask(data):
        # A named engine that cannot take the chunks says so now, not from a task.
        check_engine(options.engine, dask_meta(data, data.dtype))
        # Serial kernels in tasks: the scheduler already runs one per core,
        # whatever thread or process a task lands in.
        kernel = _kernel_for(plan, options.engine, parallel=False)
        what = f"{_variable_label(name)} along {axis.dim!r}"
        # A mask is applied by the kernel tasks themselves (see xgradient.masking).
        valid = None if valid_of is None else valid_of(var)
        mark = None
        if valid is not None:
            mark = functools.partial(mark_missing, engine=options.engine, parallel=False)
        out = apply_chunked(data, ax, plan, kernel, dtype, what=what, valid=valid, mark=mark)
    else:
        if not isinstance(data, np.ndarray) and not stays_as_it_is(data):
            data = np.asarray(data)
        out = apply_in_memory(data, ax, plan, _kernel_for(plan, options.engine))
    attrs = derivative_attrs(var.attrs, name, axis.dim, axis.units, order=options.order)
    return xr.Variable(var.dims, out, attrs=attrs)


def _period(axis: Axis, positions: np.ndarray, given: float | None) -> float:
    """The period of a periodic dim: given, or ``n * step`` for uniform positions."""
    span = abs(positions[-1] - positions[0])
    repeated = given if given is not None else (360.0 if axis.longitude else None)
    if repeated is not None and np.isclose(span, repeated, rtol=1e-9, atol=0):
        # e.g. longitudes -180 ... 180 inclusive: the seam point is stored twice.
        raise ValueError(
            f"periodic dimension {axis.dim!r}: its last point repeats its first one period "
            f"later (span {span:g}); drop the repeated point, e.g. "
            f".isel({axis.dim}=slice(None, -1))"
        )
    if given is not None:
        if given <= span:
            raise ValueError(
                f"period {given:g} for dimension {axis.dim!r} must exceed the span of its "
                f"positions ({span:g})"
            )
        return float(given)
    steps = np.diff(positions)
    if not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        raise ValueError(
            f"dimension {axis.dim!r} is periodic with non-uniform positions: "
            f"give its period explicitly, e.g. period={{{axis.dim!r}: 360.0}}"
        )
    period = span * len(positions) / (len(positions) - 1)
    if axis.longitude and not np.isclose(period, 360.0, rtol=1e-9, atol=0):
        raise ValueError(
            f"longitude dimension {axis.dim!r} spans {period:g} degrees with its seam, not 360: "
            f"give its period explicitly, e.g. period={{{axis.dim!r}: 360.0}}"
        )
    return float(period)


def _plan(obj: xr.DataArray | xr.Dataset, axis: Axis, options: Options) -> Any:
    # Validated positions have the dim's length (obj.sizes costs ~10 us).
    n = len(axis.positions) if axis.positions is not None else obj.sizes[axis.dim]
    periodic = options.boundary_for(axis.dim) == "periodic"
    if periodic and axis.latitude:
        raise ValueError(
            f"dimension {axis.dim!r} is a latitude: a periodic boundary would join the North "
            "Pole to the South Pole; use boundary='edge' for it (or xgradient.spherical_gradient)"
        )
    numpy_formulas = options.order == 1 and options.accuracy == 2 and not periodic
    if numpy_formulas:
        needed, why = options.edge_order + 1, f"edge_order={options.edge_order}"
    elif periodic:
        needed, why = options.accuracy + 1, f"a periodic accuracy={options.accuracy} stencil"
    else:
        needed = options.accuracy + options.order
        what = "derivative" if options.order == 1 else "second derivative"
        why = f"an accuracy={options.accuracy} {what}"
    if n < needed:
        raise ValueError(
            f"dimension {axis.dim!r} has {n} point(s), too few for {why}: "
            f"at least {needed} are needed"
        )
    if numpy_formulas:
        # numpy.gradient's own formulas, bit for bit.
        plan = plan_first_derivative(
            n,
            step=axis.step,
            positions=axis.positions,
            step_range=axis.step_range,
            edge_order=options.edge_order,
        )
        return plan_missing(plan) if options.nan_policy == "omit" else plan
    positions = axis.as_positions(n)
    period = _period(axis, positions, options.period.get(axis.dim)) if periodic else None
    plan = plan_weighted(
        positions,
        order=options.order,
        accuracy=options.accuracy,
        periodic=periodic,
        period=period,
        step=axis.step,
    )
    if options.nan_policy != "omit":
        return plan
    return plan_missing(
        plan, positions, order=options.order, accuracy=options.accuracy, period=period
    )


def _differentiate(
    obj: T, axis: Axis, options: Options, valid_of: Callable[[xr.Variable], Any] | None = None
) -> T:
    plan = _plan(obj, axis, options)
    if isinstance(obj, xr.DataArray):
        var = _differentiate_variable(obj.variable, obj.name, axis, plan, options, valid_of)
        return data_array_like(obj, var)
    data_vars = {
        name: _differentiate_variable(var, name, axis, plan, options, valid_of)
        for name, var in obj.data_vars.variables.items()
        if axis.dim in var.dims and _is_numeric(var.dtype)
    }
    return dataset_like(obj, data_vars)


def _is_numeric(dtype: np.dtype) -> bool:
    return dtype.kind in "biufc"


def _derivatives(
    obj: T,
    dim: Any,
    *,
    order: int,
    spacing: Spacing,
    edge_order: int,
    accuracy: int,
    boundary: Any,
    period: Any,
    datetime_unit: str | None,
    engine: str,
    nan_policy: str = "propagate",
    mask: xr.DataArray | None = None,
) -> T | tuple[T, ...]:
    dims, single = resolve_dims(obj, dim)
    all_dims = tuple(obj.dims)
    nan_policy = check_nan_policy(nan_policy, mask)
    options = _check_options(
        dims, order, edge_order, accuracy, boundary, period, all_dims, engine, nan_policy
    )
    axes = resolve_positions(obj, dims, spacing, datetime_unit)
    mask = check_mask(obj, mask)
    # In-memory variables are marked once, for every dim; Dask ones by each
    # derivative's kernel tasks (see xgradient.masking).
    obj = apply_mask(obj, mask, engine, include_dask=False)
    valid_of = mask_layouts(mask) if mask is not None else None
    results = tuple(_differentiate(obj, axis, options, valid_of) for axis in axes)
    return results[0] if single else results


@overload
def gradient(
    obj: T,
    dim: str,
    *,
    spacing: Spacing = ...,
    edge_order: int = ...,
    accuracy: int = ...,
    boundary: BoundaryArg = ...,
    period: Period = ...,
    datetime_unit: str | None = ...,
    engine: Engine = ...,
    nan_policy: NanPolicy = ...,
    mask: xr.DataArray | None = ...,
) -> T: ...


@overload
def gradient(
    obj: T,
    dim: Sequence[Hashable] | None = ...,
    *,
    spacing: Spacing = ...,
    edge_order: int = ...,
    accuracy: int = ...,
    boundary: BoundaryArg = ...,
    period: Period = ...,
    datetime_unit: str | None = ...,
    engine: Engine = ...,
    nan_policy: NanPolicy = ...,
    mask: xr.DataArray | None = ...,
) -> tuple[T, ...]: ...


def gradient(
    obj: T,
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
) -> T | tuple[T, ...]:
    """Derivative of ``obj`` along named dimensions.

    By default numpy.gradient's formulas: second-order accurate central
    differences in the interior, on uniform or non-uniform positions, and
    one-sided differences of order ``edge_order`` at the two ends (the results
    equal ``numpy.gradient``'s bit for bit).  NumPy-backed data is
    differentiated eagerly; Dask-backed data lazily, chunk by chunk, with a
    halo along the differentiated dim only.

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
        (numeric; datetime64 or cftime as time since the first point), else
        unit spacing.
    edge_order
        1 or 2: order of the one-sided differences at the ends (``accuracy=2``
        on non-periodic dims only).
    accuracy
        2 (three-point stencils) or 4 (five-point stencils, fourth-order
        everywhere, with skewed five-point stencils at the ends; needs at
        least 5 points).  Weights are computed for the actual positions.
    boundary
        ``"edge"`` (one-sided stencils at the ends) or ``"periodic"`` (the
        neighbour of the last point is the first), or a mapping
        ``{dim: "edge" | "periodic"}``.
    period
        ``{dim: period}`` for periodic dims.  When missing it is inferred for
        uniform positions as ``n * step``; a longitude coordinate must then
        span exactly 360 degrees.
    datetime_unit
        Unit of time positions: ``"W"``, ``"D"``, ``"h"``, ``"m"`` (minutes),
        ``"s"`` (default), ``"ms"``, ``"us"`` or ``"ns"``.
    engine
        Which kernels compute each block: ``"auto"`` (numba's for NumPy data
        and CUDA's for CuPy data where they apply, the plain-array kernels
        otherwise), ``"numpy"``, ``"numba"`` or ``"cuda"``.  The engine never
        changes a result, only its speed; one that is not installed, or
        cannot take the data (``"numba"`` with complex data, say), is an
        error.
    nan_policy
        ``"propagate"`` (numpy.gradient's numbers: a NaN spreads to the
        points whose stencils reach it) or ``"omit"``: a missing value (NaN)
        is treated like the end of the domain.  On any 1-D line along the
        dim the result then equals these formulas applied separately to each
        maximal run of valid points, with runs too short for the stencil
        giving NaN; missing points stay NaN.  Lazily on Dask data too, with
        the wider halo the rule needs.
    mask
        A boolean DataArray, True where the data is valid (a land-sea mask,
        say), on dims of ``obj`` and broadcast against it: points where it
        is False count as missing whatever the data holds there (fill
        values, zeros) and are NaN in the result.  Implies
        ``nan_policy="omit"``.  On a Dataset it applies to the variables
        that have all its dims.

    Returns
    -------
    DataArray or Dataset, or a tuple of them
        Same dims, coords and name as ``obj``, with ``units`` (``"<data
        units> <coord units>-1"``, when both are known) and a ``long_name``.
        A Dataset keeps the numeric data variables that have the dim.

    Raises
    ------
    ValueError
        Unknown dim or engine; spacing of the wrong length; positions with NaN, repeated
        or non-monotonic values; a dim too short for the stencil; an option
        out of range; a periodic dim whose period cannot be inferred.
    TypeError
        Non-numeric data or positions.

    See Also
    --------
    second_derivative, numpy.gradient, xarray.DataArray.differentiate

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

    A missing value, with ``nan_policy="omit"``: each run of valid points is
    differentiated as numpy.gradient would differentiate it alone.

    >>> f = xr.DataArray([0.0, 1.0, 4.0, np.nan, 16.0, 25.0, 36.0], dims="x")
    >>> xgradient.gradient(f, "x").values
    array([ 1.,  2., nan,  6., nan, 10., 11.])
    >>> xgradient.gradient(f, "x", nan_policy="omit").values
    array([ 1.,  2.,  3., nan,  9., 10., 11.])

    A periodic dim, with fourth-order stencils:

    >>> lon = np.arange(0.0, 360.0, 30.0)
    >>> wave = xr.DataArray(np.sin(np.deg2rad(lon)), dims="lon", coords={"lon": lon})
    >>> dlon = np.deg2rad(30.0)
    >>> d = xgradient.gradient(wave, "lon", spacing=dlon, boundary="periodic", accuracy=4)
    >>> float(abs(d - np.cos(np.deg2rad(lon))).max()) < 3e-3
    True
    """
    return _derivatives(
        obj,
        dim,
        order=1,
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


@overload
def second_derivative(
    obj: T,
    dim: str,
    *,
    spacing: Spacing = ...,
    accuracy: int = ...,
    boundary: BoundaryArg = ...,
    period: Period = ...,
    datetime_unit: str | None = ...,
    engine: Engine = ...,
    nan_policy: NanPolicy = ...,
    mask: xr.DataArray | None = ...,
) -> T: ...


@overload
def second_derivative(
    obj: T,
    dim: Sequence[Hashable] | None = ...,
    *,
    spacing: Spacing = ...,
    accuracy: int = ...,
    boundary: BoundaryArg = ...,
    period: Period = ...,
    datetime_unit: str | None = ...,
    engine: Engine = ...,
    nan_policy: NanPolicy = ...,
    mask: xr.DataArray | None = ...,
) -> tuple[T, ...]: ...


def second_derivative(
    obj: T,
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
) -> T | tuple[T, ...]:
    """Second derivative of ``obj`` along named dimensions.

    Compact stencils on the actual (possibly non-uniform) positions: three
    points (``accuracy=2``) or five points (``accuracy=4``) in the interior,
    not the gradient of the gradient, which is wider and less accurate.  On
    non-periodic dims the points near each end use one-sided stencils of
    ``accuracy + 2`` points, which keep the order of accuracy.

    Parameters are those of :func:`gradient` (without ``edge_order``).

    Returns
    -------
    DataArray or Dataset, or a tuple of them
        As :func:`gradient`, with units ``"<data units> <coord units>-2"``.

    See Also
    --------
    gradient

    Examples
    --------
    >>> import numpy as np
    >>> import xarray as xr
    >>> import xgradient
    >>> x = np.array([0.0, 0.5, 1.5, 2.0, 3.0, 4.5])
    >>> f = xr.DataArray(x**2, dims="x", coords={"x": x})
    >>> xgradient.second_derivative(f, "x").values.round(12)
    array([2., 2., 2., 2., 2., 2.])
    """
    return _derivatives(
        obj,
        dim,
        order=2,
        spacing=spacing,
        edge_order=1,
        accuracy=accuracy,
        boundary=boundary,
        period=period,
        datetime_unit=datetime_unit,
        engine=engine,
        nan_policy=nan_policy,
        mask=mask,
    )
