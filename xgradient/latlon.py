"""Finding the latitude and longitude of a field from its CF metadata.

A coordinate is taken as latitude (longitude) by the first of these rules
that matches exactly one 1-D coordinate:

1. ``standard_name`` ``latitude`` (``longitude``);
2. ``units`` ``degrees_north`` (``degrees_east``) or a CF variant of it
   (``degree_north``, ``degree_N``, ``degreesN``, ...), or
   ``_CoordinateAxisType`` ``Lat`` (``Lon``);
3. ``axis`` ``Y`` (``X``) on a coordinate in angular units (``degrees``,
   ``radians``);
4. the usual names: ``lat``, ``latitude``, ``nav_lat``, ... (``lon``, ...).

The attribute rules are those of the CF conventions, as cf-xarray
implements them (its ``coordinate_criteria`` and name patterns; the tests
check the two agree); they are written out here because they are a few
lines, cost microseconds, and need no extra dependency.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .arrays import is_cftime

__all__ = ["LatLon", "cf_dim", "find_lat_lon", "is_latitude_coord"]

_UNITS = {
    "latitude": {
        "degree_north",
        "degree_n",
        "degreen",
        "degrees_north",
        "degrees_n",
        "degreesn",
    },
    "longitude": {"degree_east", "degree_e", "degreee", "degrees_east", "degrees_e", "degreese"},
}
_CANONICAL = {"latitude": "degrees_north", "longitude": "degrees_east"}
_AXIS_TYPE = {"latitude": "Lat", "longitude": "Lon"}
_AXIS = {"latitude": "Y", "longitude": "X"}
_ANGULAR_DEGREES = {"degree", "degrees", "deg", "degs", "arc_degree", "angular_degree"}
_ANGULAR_RADIANS = {"radian", "radians", "rad"}
# cf-xarray's patterns for the usual names (cf_xarray.criteria.regex).
_NAMES = {
    "latitude": re.compile(r"y?(nav_lat|lat|gphi)[a-z0-9]*"),
    "longitude": re.compile(r"x?(nav_lon|lon|glam)[a-z0-9]*"),
}


def _units(var: Any) -> str:
    return str(var.attrs.get("units", "")).strip().lower()


def _rules(kind: str) -> list[tuple[str, Any]]:
    """``(description, predicate)`` for each rule, in order of priority."""
    angular = _ANGULAR_DEGREES | _ANGULAR_RADIANS
    return [
        (f"standard_name {kind!r}", lambda n, v: v.attrs.get("standard_name") == kind),
        (
            f"units {_CANONICAL[kind]!r} (or a CF variant), "
            f"or _CoordinateAxisType {_AXIS_TYPE[kind]!r}",
            lambda n, v: (
                _units(v) in _UNITS[kind] or v.attrs.get("_CoordinateAxisType") == _AXIS_TYPE[kind]
            ),
        ),
        (
            f"axis {_AXIS[kind]!r} with units in degrees or radians",
            lambda n, v: v.attrs.get("axis") == _AXIS[kind] and _units(v) in angular,
        ),
        (
            f"a name like {_NAMES[kind].pattern!r}",
            lambda n, v: isinstance(n, str) and _NAMES[kind].fullmatch(n.lower()) is not None,
        ),
    ]


def is_latitude_coord(var: Any) -> bool:
    """Whether a coordinate is marked as a latitude by its attributes (rules 1-3).

    Examples
    --------
    >>> lat = xr.Variable("y", [0.0, 1.0], {"units": "degrees_north"})
    >>> is_latitude_coord(lat), is_latitude_coord(xr.Variable("y", [0.0, 1.0]))
    (True, False)
    """
    attrs = getattr(var, "attrs", None)
    if attrs is None:
        return False
    return any(rule(None, var) for _, rule in _rules("latitude")[:3])


def _find(obj: xr.DataArray | xr.Dataset, kind: str) -> Hashable:
    tried = []
    for what, rule in _rules(kind):
        found = [name for name, var in obj.coords.variables.items() if rule(name, var)]
        found = [name for name in found if obj.coords.variables[name].ndim > 0]
        if len(found) > 1:
            raise ValueError(
                f"cannot tell which coordinate is the {kind}: {found} all match {what}; "
                f"name it, e.g. {kind[:3]}={found[0]!r}"
            )
        if found:
            return found[0]
        tried.append(what)
    raise ValueError(
        f"no {kind} coordinate found among {list(obj.coords)}; tried " + "; ".join(tried) + ". "
        f"Mark it (e.g. attrs standard_name={kind!r}) or name it: {kind[:3]}='...'"
    )


def _coordinate(obj: xr.DataArray | xr.Dataset, name: Hashable, kind: str) -> xr.Variable:
    """The coordinate variable called ``name``, or the one of the dim ``name``."""
    var = obj.coords.variables.get(name)
    if var is None:
        raise ValueError(
            f"{kind} {name!r} is neither a coordinate nor a dimension with one: "
            f"the coordinates are {list(obj.coords)}"
        )
    if var.ndim == 2:
        raise NotImplementedError(
            f"{kind} {name!r} is 2-D (a curvilinear grid): only 1-D latitude and longitude "
            "coordinates are supported yet"
        )
    if var.ndim != 1:
        raise ValueError(f"{kind} {name!r} must be a 1-D coordinate, it has {var.ndim} dims")
    return var


def _degrees(var: xr.Variable, name: Hashable, kind: str) -> np.ndarray:
    values = var.to_numpy()
    if values.dtype.kind not in "iuf":
        raise TypeError(f"{kind} {name!r} must be numeric, got dtype {values.dtype}")
    values = values.astype(np.float64)  # metric terms in float64 whatever the dtype
    if _units(var) in _ANGULAR_RADIANS:
        values = np.rad2deg(values)
    if not np.isfinite(values).all():
        raise ValueError(f"{kind} {name!r} contains NaN or infinite values")
    return values


@dataclass(frozen=True)
class LatLon:
    """The latitude and longitude of a field: their dims and values in degrees.

    ``lon`` is unwrapped (a grid stored from 180 to 360 then 0 to 180 runs
    on from 360 to 540) so that it is monotonic; ``periodic`` says whether
    it covers the globe: a uniform step with ``n * step == 360`` and no
    repeated seam point.
    """

    lat_dim: Hashable
    lon_dim: Hashable
    lat: np.ndarray
    lon: np.ndarray
    lat_name: Hashable
    lon_name: Hashable

    @property
    def periodic(self) -> bool:
        return covers_globe(self.lon)


def covers_globe(lon: np.ndarray) -> bool:
    """Whether longitudes in degrees are a whole circle: uniform, ``n * step == 360``.

    Examples
    --------
    >>> covers_globe(np.arange(0.0, 360.0, 2.5)), covers_globe(np.arange(-180.0, 180.1, 2.5))
    (True, False)
    >>> covers_globe(np.arange(0.0, 180.0, 2.5))
    False
    """
    n = lon.size
    if n < 3:
        return False
    steps = np.diff(lon)
    step = (lon[-1] - lon[0]) / (n - 1)
    uniform = bool(np.allclose(steps, step, rtol=1e-6, atol=0))
    return uniform and bool(np.isclose(abs(step) * n, 360.0, rtol=1e-6, atol=0))


def find_lat_lon(
    obj: xr.DataArray | xr.Dataset, lat: Hashable | None = None, lon: Hashable | None = None
) -> LatLon:
    """The latitude and longitude of ``obj``: given by name, or found from CF metadata.

    Parameters
    ----------
    obj
        A DataArray or Dataset on a latitude-longitude grid.
    lat, lon
        The name of a 1-D coordinate (or of a dim with an index coordinate),
        or ``None`` to find it by the rules of this module's docstring.

    Raises
    ------
    ValueError
        None or several coordinates match; the coordinate is not 1-D, has
        non-finite values, latitudes beyond ±90°, or lat and lon share a dim.
    NotImplementedError
        A 2-D (curvilinear) latitude or longitude.

    Examples
    --------
    >>> da = xr.DataArray(
    ...     np.zeros((3, 4)),
    ...     dims=("y", "x"),
    ...     coords={
    ...         "y": ("y", [-10.0, 0.0, 10.0], {"units": "degrees_north"}),
    ...         "x": ("x", [0.0, 90.0, 180.0, 270.0], {"standard_name": "longitude"}),
    ...     },
    ... )
    >>> grid = find_lat_lon(da)
    >>> grid.lat_dim, grid.lon_dim, grid.periodic
    ('y', 'x', True)
    >>> find_lat_lon(da.rename(x="i"), lat="y").lon_name
    'i'
    """
    names = {}
    for kind, given in (("latitude", lat), ("longitude", lon)):
        names[kind] = given if given is not None else _find(obj, kind)
    coords = {kind: _coordinate(obj, name, kind) for kind, name in names.items()}
    lat_var, lon_var = coords["latitude"], coords["longitude"]
    if lat_var.dims == lon_var.dims:
        raise ValueError(
            f"latitude {names['latitude']!r} and longitude {names['longitude']!r} lie along "
            f"the same dim {lat_var.dims[0]!r}: a latitude-longitude grid is needed"
        )
    lat_deg = _degrees(lat_var, names["latitude"], "latitude")
    if np.abs(lat_deg).max(initial=0.0) > 90.0 + 1e-9:
        raise ValueError(
            f"latitude {names['latitude']!r} has values beyond ±90 degrees "
            f"(from {lat_deg.min():g} to {lat_deg.max():g})"
        )
    lon_deg = np.unwrap(_degrees(lon_var, names["longitude"], "longitude"), period=360.0)
    return LatLon(
        lat_dim=lat_var.dims[0],
        lon_dim=lon_var.dims[0],
        lat=lat_deg,
        lon=lon_deg,
        lat_name=names["latitude"],
        lon_name=names["longitude"],
    )


# CF axes (cf-xarray's criteria, in short): the ``axis`` attribute first, then
# what marks a coordinate as one.
_TIME_UNITS = re.compile(r"^\s*\w+\s+since\s")
_VERTICAL = {
    "air_pressure",
    "altitude",
    "atmosphere_ln_pressure_coordinate",
    "atmosphere_sigma_coordinate",
    "atmosphere_hybrid_sigma_pressure_coordinate",
    "depth",
    "height",
    "height_above_geopotential_datum",
    "height_above_mean_sea_level",
    "height_above_reference_ellipsoid",
    "model_level_number",
    "ocean_sigma_coordinate",
    "ocean_s_coordinate",
    "ocean_s_coordinate_g1",
    "ocean_s_coordinate_g2",
}


def _axis_rules(axis: str) -> list[tuple[str, Any]]:
    """``(description, predicate)`` for the coordinates of a CF axis, by priority."""
    rules = [
        (
            f"axis {axis!r} (or _CoordinateAxisType)",
            lambda n, v: (
                v.attrs.get("axis") == axis
                or v.attrs.get("_CoordinateAxisType") == {"X": "GeoX", "Y": "GeoY"}.get(axis, axis)
            ),
        )
    ]
    if axis in ("X", "Y"):
        kind = "longitude" if axis == "X" else "latitude"
        projection = {"X": "projection_x_coordinate", "Y": "projection_y_coordinate"}[axis]
        grid = {"X": "grid_longitude", "Y": "grid_latitude"}[axis]
        rules.append(
            (
                f"standard_name {projection!r} or {grid!r}",
                lambda n, v: v.attrs.get("standard_name") in (projection, grid),
            )
        )
        rules.extend(_rules(kind)[:2])  # the longitude (latitude) by its attributes
    elif axis == "Z":
        rules.append(
            (
                "attribute positive 'up' or 'down', or a vertical standard_name",
                lambda n, v: (
                    str(v.attrs.get("positive", "")).lower() in ("up", "down")
                    or v.attrs.get("standard_name") in _VERTICAL
                ),
            )
        )
    else:
        rules.append(
            (
                "standard_name 'time', units '<unit> since <date>' or dates",
                lambda n, v: (
                    v.attrs.get("standard_name") == "time"
                    or bool(_TIME_UNITS.match(str(v.attrs.get("units", ""))))
                    or v.dtype.kind == "M"
                    or (v.dtype.kind == "O" and v.size > 0 and is_cftime(v.values.flat[0]))
                ),
            )
        )
    return rules


def cf_dim(obj: xr.DataArray | xr.Dataset, key: Hashable) -> Hashable | None:
    """The dim that a CF axis (``"X"``, ``"Y"``, ``"Z"``, ``"T"``) or a standard name stands for.

    The 1-D coordinate that is the axis (its ``axis`` attribute first, then
    what marks it: latitude/longitude units and standard names for ``Y`` and
    ``X``, ``positive`` or a vertical standard name for ``Z``, dates or
    ``"<unit> since <date>"`` units for ``T``), or the one whose
    ``standard_name`` is ``key``; ``None`` when none matches.  Only for a
    ``key`` that is not itself a dim.

    Raises
    ------
    ValueError
        Several coordinates along different dims match.

    Examples
    --------
    >>> da = xr.DataArray(
    ...     np.zeros((2, 3)),
    ...     dims=("level", "x"),
    ...     coords={
    ...         "level": ("level", [1000.0, 850.0], {"positive": "down", "units": "hPa"}),
    ...         "x": ("x", [0.0, 1.0, 2.0], {"standard_name": "longitude"}),
    ...     },
    ... )
    >>> cf_dim(da, "Z"), cf_dim(da, "X"), cf_dim(da, "longitude"), cf_dim(da, "T")
    ('level', 'x', 'x', None)
    """
    if not isinstance(key, str):
        return None
    if key in ("X", "Y", "Z", "T"):
        rules = _axis_rules(key)
    else:
        rules = [(f"standard_name {key!r}", lambda n, v: v.attrs.get("standard_name") == key)]
    variables = obj.coords.variables
    for what, rule in rules:
        found = [name for name, var in variables.items() if var.ndim == 1 and rule(name, var)]
        dims = list(dict.fromkeys(variables[name].dims[0] for name in found))
        if len(dims) > 1:
            raise ValueError(
                f"{key!r} is not a dimension, and the coordinates {found} along the dims "
                f"{dims} all match {what}: name the dim"
            )
        if dims:
            return dims[0]
    return None
