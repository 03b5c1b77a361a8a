"""Dimensions and coordinates → positions along each differentiated dimension.

This is where xarray meets the stencil plans: which dims to differentiate,
where each dim's points lie (scalar step, explicit positions, a coordinate
variable, or unit spacing), what units those positions carry, and every check
on them.  Every error names the dimension it is about.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .arrays import is_cftime
from .kernels import step_range
from .latlon import cf_dim, is_latitude_coord
from .metadata import user_name

__all__ = ["TIME_UNITS", "Axis", "check_datetime_unit", "resolve_dims", "resolve_positions"]

Spacing = float | Sequence[Any] | Mapping[Hashable, Any] | None


@dataclass(frozen=True)
class Axis:
    """Where the points of one dimension lie.

    Exactly one of ``step`` and ``positions`` is set.  ``units`` are the
    positions' units when known (for example ``"m"``, or ``"s"`` for a time
    axis), ``None`` otherwise.
    """

    dim: Hashable
    step: float | None = None
    positions: np.ndarray | None = None
    units: str | None = None
    longitude: bool = False
    #: Whether the coordinate is marked as a latitude (a periodic one is refused).
    latitude: bool = False
    #: The smallest and largest of ``positions``' differences, found while
    #: validating them (equal for uniform positions).
    step_range: tuple[float, float] | None = None

    def as_positions(self, n: int) -> np.ndarray:
        """Positions of the ``n`` points (``index * step`` for a uniform step)."""
        if self.positions is not None:
            return self.positions
        return np.arange(n, dtype=np.float64) * self.step


# datetime_unit -> (numpy unit, CF/UDUNITS symbol for the units attribute).
TIME_UNITS = {
    "W": ("W", "week"),
    "D": ("D", "d"),
    "h": ("h", "h"),
    "m": ("m", "min"),
    "s": ("s", "s"),
    "ms": ("ms", "ms"),
    "us": ("us", "us"),
    "ns": ("ns", "ns"),
}

_LONGITUDE_UNITS = {"degrees_east", "degree_east", "degrees_e", "degree_e", "degreese", "degreee"}


def check_datetime_unit(datetime_unit: str | None) -> str:
    """Validate ``datetime_unit`` (``None`` means seconds)."""
    if datetime_unit is None:
        return "s"
    if datetime_unit not in TIME_UNITS:
        raise ValueError(f"datetime_unit must be one of {list(TIME_UNITS)}, got {datetime_unit!r}")
    return datetime_unit


def _is_longitude(var: Any) -> bool:
    attrs = getattr(var, "attrs", None) or {}
    units = str(attrs.get("units", "")).strip().lower()
    return units in _LONGITUDE_UNITS or attrs.get("standard_name") == "longitude"


def resolve_dims(obj: xr.DataArray | xr.Dataset, dim: Any) -> tuple[list[Hashable], bool]:
    """The dims to differentiate, and whether the caller asked for a single one.

    A name that is no dim may be a CF axis (``"X"``, ``"Y"``, ``"Z"``,
    ``"T"``) or a coordinate's ``standard_name``: it stands for that
    coordinate's dim (:func:`xgradient.latlon.cf_dim`).

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"))
    >>> resolve_dims(da, "x"), resolve_dims(da, None)
    ((['x'], True), (['y', 'x'], False))
    """
    if dim is None:
        dims = list(obj.dims)
        single = False
    elif isinstance(dim, str) or not isinstance(dim, Sequence):
        dims = [dim]
        single = True
    else:
        dims = list(dim)
        single = False
    for i, d in enumerate(dims):
        if d in obj.dims:
            continue
        found = cf_dim(obj, d)  # a CF axis ("X", ...) or a standard name
        if found is None:
            axis = f", nor a coordinate on CF axis {d}" if d in ("X", "Y", "Z", "T") else ""
            raise ValueError(
                f"dimension {d!r} not found: {type(obj).__name__} has dimensions "
                f"{tuple(obj.dims)}{axis}"
            )
        dims[i] = found
    if len(set(dims)) != len(dims):
        raise ValueError(f"dimensions listed more than once in dim={list(dims)}")
    return dims, single


def _time_unit(units: str) -> str | None:
    """The unit of a CF ``"<unit> since <date>"`` string, else ``None``."""
    match = re.match(r"^\s*(\w+)\s+since\s", units)
    if match is None:
        return None
    word = match.group(1).lower()
    aliases = {
        "seconds": "s",
        "second": "s",
        "secs": "s",
        "sec": "s",
        "s": "s",
        "minutes": "min",
        "minute": "min",
        "mins": "min",
        "min": "min",
        "hours": "h",
        "hour": "h",
        "hrs": "h",
        "hr": "h",
        "h": "h",
        "days": "d",
        "day": "d",
        "d": "d",
    }
    return aliases.get(word, word)


def _units_of(var: Any) -> str | None:
    attrs = getattr(var, "attrs", None) or {}
    units = attrs.get("units")
    if not isinstance(units, str) or not units.strip():
        return None
    return _time_unit(units) or units


def _as_positions(
    values: Any, dim: Hashable, what: str, time_unit: str = "s"
) -> tuple[np.ndarray, str | None]:
    """Convert 1-D values to float64 positions; times become ``time_unit``s since the first."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{what} for dimension {dim!r} must be 1-D, got {values.ndim}-D")
    unit, symbol = TIME_UNITS[time_unit]
    kind = values.dtype.kind
    if kind in "mM":
        if np.isnat(values).any():
            raise ValueError(f"{what} for dimension {dim!r} contains NaT")
        offset = values[0] if kind == "M" else np.timedelta64(0, "ns")
        return ((values - offset) / np.timedelta64(1, unit)).astype(np.float64), symbol
    if kind == "O" and values.size and is_cftime(values[0]):
        # cftime dates (any CF calendar): differences are datetime.timedelta.
        try:
            deltas = np.asarray(values - values[0]).astype("timedelta64[us]")
        except (TypeError, ValueError):
            raise TypeError(
                f"{what} for dimension {dim!r} mixes dates of different calendars"
            ) from None
        return (deltas / np.timedelta64(1, unit)).astype(np.float64), symbol
    if kind not in "iuf":
        raise TypeError(
            f"{what} for dimension {dim!r} must be numeric, datetime64 or cftime, "
            f"got dtype {values.dtype}"
        )
    positions = values.astype(np.float64, copy=False)  # never written to
    if kind in "iu" and values.size > 1:
        _check_exact_integers(values, positions, dim, what)
    return positions, None


def _check_exact_integers(values: np.ndarray, positions: np.ndarray, dim: Hashable, what: str):
    """Refuse distinct integers that float64 makes equal (beyond 2**53 it has gaps)."""
    limit = 2**53
    if -limit <= int(values.min()) and int(values.max()) <= limit:
        return  # every such integer is a float64
    merged = (positions[1:] == positions[:-1]) & (values[1:] != values[:-1])
    if merged.any():
        i = int(np.flatnonzero(merged)[0])
        raise ValueError(
            f"{what} for dimension {dim!r} has distinct integers {int(values[i])} and "
            f"{int(values[i + 1])} (indices {i} and {i + 1}) that the conversion to float64 "
            f"made equal (float64 holds integers exactly only up to 2**53); subtract an "
            "offset first (the first value, say)"
        )


def _check_positions(
    positions: np.ndarray, dim: Hashable, n: int, what: str
) -> tuple[float, float]:
    """Validate 1-D positions; return the smallest and largest step."""
    if positions.shape[0] != n:
        raise ValueError(
            f"{what} for dimension {dim!r} has {positions.shape[0]} values, "
            f"but the dimension has length {n}"
        )
    # The usual case in one pass without temporaries (a 1-D coordinate is
    # as large as its data): strictly monotonic steps between finite ends
    # leave no room for a NaN or an infinity inside.
    lo, hi = step_range(positions)
    ends_finite = n > 0 and math.isfinite(positions[0]) and math.isfinite(positions[-1])
    if ends_finite and (n < 2 or lo > 0 or hi < 0):
        return lo, hi
    if not np.isfinite(positions).all():
        raise ValueError(f"{what} for dimension {dim!r} contains NaN or infinite values")
    steps = positions[1:] - positions[:-1]
    if (steps == 0).any():
        i = int(np.flatnonzero(steps == 0)[0])
        raise ValueError(
            f"{what} for dimension {dim!r} has repeated values "
            f"(position {float(positions[i])!r} at indices {i} and {i + 1})"
        )
    if not ((steps > 0).all() or (steps < 0).all()):
        raise ValueError(
            f"{what} for dimension {dim!r} must be strictly increasing or strictly decreasing"
        )
    return lo, hi


def _check_step(step: Any, dim: Hashable) -> float:
    if isinstance(step, (bool, np.bool_)) or getattr(step, "dtype", None) == np.bool_:
        raise TypeError(f"spacing for dimension {dim!r} must be a number, got {step!r}")
    try:
        value = float(step)
    except (TypeError, ValueError):
        raise TypeError(
            f"spacing for dimension {dim!r} must be a number, got {type(step).__name__}"
        ) from None
    if not np.isfinite(value) or value == 0:
        raise ValueError(f"spacing for dimension {dim!r} must be finite and non-zero, got {step!r}")
    return value


def _aligned(obj: Any, dim: Hashable, entry: xr.DataArray) -> xr.DataArray:
    """``entry`` in the order of ``obj``'s labels along ``dim``, when both are labelled.

    Like any xarray operation, labels rather than positions decide which
    value goes where; labels that do not match are an error, not NaNs.
    """
    if dim not in entry.indexes or dim not in obj.indexes:
        return entry
    mine, theirs = obj.indexes[dim], entry.indexes[dim]
    if mine.equals(theirs):
        return entry
    if len(mine) != len(theirs) or not mine.isin(theirs).all() or theirs.has_duplicates:
        raise ValueError(
            f"spacing for dimension {dim!r} is labelled with other {dim!r} values than the data"
        )
    return entry.sel({dim: mine})


def _from_entry(obj: Any, dim: Hashable, entry: Any, n: int, time_unit: str) -> Axis:
    """An :class:`Axis` from one spacing entry: step, array, DataArray or coord name."""
    what = "spacing"
    units = None
    longitude = latitude = False
    if isinstance(entry, str):
        if entry not in obj.coords:
            raise ValueError(
                f"spacing for dimension {dim!r} names {entry!r}, which is not a coordinate"
            )
        entry = obj.coords[entry]
    if isinstance(entry, xr.DataArray):
        if entry.dims != (dim,):
            raise ValueError(
                f"spacing for dimension {dim!r} must be a 1-D variable along {dim!r}, "
                f"got dims {entry.dims}"
            )
        name = user_name(entry.name)
        what = f"coordinate {name!r}" if name is not None else "spacing"
        entry = _aligned(obj, dim, entry)
        units = _units_of(entry)
        longitude = _is_longitude(entry)
        latitude = is_latitude_coord(entry)
        entry = entry.to_numpy()  # also from GPU (CuPy) or Dask data
    if np.ndim(entry) == 0:
        return Axis(dim, step=_check_step(entry, dim), units=units)
    positions, time_units = _as_positions(entry, dim, what, time_unit)
    extremes = _check_positions(positions, dim, n, what)
    return Axis(
        dim,
        positions=positions,
        step_range=extremes,
        units=time_units or units,
        longitude=longitude,
        latitude=latitude,
    )


def _default(obj: Any, dim: Hashable, n: int, time_unit: str) -> Axis:
    """The dim's index coordinate if it has one, else unit spacing."""
    # The Variable, not obj.coords[dim]: building a DataArray for it costs
    # more than differentiating a small array.
    coord = obj.coords.variables.get(dim)
    if coord is not None and coord.dims == (dim,):
        what = f"coordinate {dim!r}"
        # to_numpy(), not .values: it also reads Dask or CuPy data (after
        # .drop_indexes()) and turns pandas' nullable Int64/Float64 indexes
        # into numbers rather than objects.
        positions, time_units = _as_positions(coord.to_numpy(), dim, what, time_unit)
        extremes = _check_positions(positions, dim, n, what)
        return Axis(
            dim,
            positions=positions,
            step_range=extremes,
            units=time_units or _units_of(coord),
            longitude=_is_longitude(coord),
            latitude=is_latitude_coord(coord),
        )
    return Axis(dim, step=1.0)


def resolve_positions(
    obj: xr.DataArray | xr.Dataset,
    dims: Sequence[Hashable],
    spacing: Spacing,
    datetime_unit: str | None = None,
) -> list[Axis]:
    """Where the points of each of ``dims`` lie, following the spacing rules.

    1. ``spacing`` a scalar ``h``: positions ``index * h`` on every dim;
    2. a list/tuple with one entry per dim: a scalar step or 1-D positions;
    3. a mapping ``{dim: scalar | 1-D array | DataArray | coordinate name}``,
       dims not in it falling back to 4;
    4. the dim's index coordinate (numeric, datetime64 or cftime), else unit
       spacing.

    Times become positions in ``datetime_unit`` (seconds by default) since
    the first point.

    Examples
    --------
    >>> da = xr.DataArray(np.zeros(3), dims="x", coords={"x": [0.0, 1.0, 3.0]})
    >>> resolve_positions(da, ["x"], None)[0].positions
    array([0., 1., 3.])
    >>> resolve_positions(da, ["x"], 0.5)[0].step
    0.5
    """
    sizes = obj.sizes
    unit = check_datetime_unit(datetime_unit)
    if spacing is None:
        return [_default(obj, d, sizes[d], unit) for d in dims]
    if isinstance(spacing, Mapping):
        # Entries for the object's other dims are for other calls: ignored.
        unknown = [k for k in spacing if k not in sizes]
        if unknown:
            raise ValueError(
                f"spacing given for {unknown}, which are not dimensions of the object "
                f"({tuple(obj.dims)})"
            )
        return [
            _from_entry(obj, d, spacing[d], sizes[d], unit)
            if d in spacing
            else _default(obj, d, sizes[d], unit)
            for d in dims
        ]
    if isinstance(spacing, str):
        raise TypeError(
            f"spacing must be a number, a list or a mapping, got the string {spacing!r}; "
            f"a coordinate name goes in a mapping: spacing={{{dims[0]!r}: {spacing!r}}}"
        )
    if not isinstance(spacing, (list, tuple)) and np.ndim(spacing) == 0:
        return [Axis(d, step=_check_step(spacing, d)) for d in dims]
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims):
            raise ValueError(
                f"spacing has {len(spacing)} entries but {len(dims)} dims are differentiated "
                f"({list(dims)}); give one entry per dim"
            )
        return [_from_entry(obj, d, s, sizes[d], unit) for d, s in zip(dims, spacing, strict=True)]
    if len(dims) == 1:
        # A bare array of positions for the single dim differentiated.
        return [_from_entry(obj, dims[0], spacing, sizes[dims[0]], unit)]
    raise TypeError(
        f"spacing must be a number, a list with one entry per dim ({list(dims)}) or a mapping, "
        f"got {type(spacing).__name__}"
    )
