"""Derivatives on the sphere: gradient in metres, divergence, vorticity, Laplacian.

On a latitude-longitude grid (φ latitude, λ longitude in radians, R the
radius):

.. code-block:: text


    ∂f/∂x = ∂f/∂λ / (R cos φ)                    ∂f/∂y = ∂f/∂φ / R
    div   = [∂u/∂λ + ∂(v cos φ)/∂φ] / (R cos φ)
    vort  = [∂v/∂λ - ∂(u cos φ)/∂φ] / (R cos φ)
    ∇²f   = ∂²f/∂λ² / (R² cos² φ) + (∂²f/∂φ² - tan φ ∂f/∂φ) / R²

Every derivative is :func:`xgradient.gradient` or
:func:`xgradient.second_derivative` along one dim, and the metric terms are
float64 functions of the coordinate applied with xarray's arithmetic, so
the results are lazy on Dask, bit-identical to the eager ones and
independent of the chunking.  A longitude that covers the globe is
periodic (the halo crosses the seam); latitude always has one-sided ends.

A grid row at a pole (``|φ| = 90°``) is a point: there ``∂f/∂x`` is NaN, while
the divergence, the vorticity and the Laplacian are the limits of their
means over the polar cap bounded by the next rows (Gauss and Stokes: the
flux or circulation through the cap's rim over its area), see
:func:`_cap_coefficients`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from .arrays import is_pint
from .compat import wrapped_data
from .derivatives import gradient, second_derivative
from .kernels import Engine, check_engine
from .latlon import LatLon, find_lat_lon
from .masking import NanPolicy, apply_mask, check_nan_policy
from .metadata import _describe, per_metre

__all__ = ["EARTH_RADIUS", "divergence", "laplacian", "spherical_gradient", "vorticity"]

#: The mean radius of the Earth in metres (IUGG: (2a + b) / 3 of WGS 84).
EARTH_RADIUS = 6_371_008.8

T = TypeVar("T", xr.DataArray, xr.Dataset)


@dataclass(frozen=True)
class _Sphere:
    """A grid, the sphere's radius and the stencil options of one call."""

    grid: LatLon
    radius: float
    accuracy: int
    edge_order: int
    lon_boundary: str
    engine: str = "auto"
    nan_policy: str = "propagate"

    @property
    def phi(self) -> np.ndarray:
        return np.deg2rad(self.grid.lat)

    @property
    def pole(self) -> np.ndarray:
        return np.abs(np.abs(self.grid.lat) - 90.0) <= 1e-9

    @property
    def cos(self) -> np.ndarray:
        """cos φ in float64, exactly 0 at a pole row (not cos(π/2) = 6e-17)."""
        return np.where(self.pole, 0.0, np.cos(self.phi))

    def along_lat(self, values: np.ndarray, like: xr.DataArray) -> xr.DataArray:
        """A float64 metric term as a DataArray along latitude, in ``like``'s precision."""
        dtype = np.finfo(like.dtype).dtype if like.dtype.kind in "fc" else np.float64
        return xr.DataArray(values.astype(dtype), dims=(self.grid.lat_dim,))

    def inverse_r_cos(self, like: xr.DataArray, power: int = 1) -> xr.DataArray:
        """``1 / (R cos φ) ** power``, NaN at a pole row."""
        with np.errstate(divide="ignore"):
            values = np.where(self.pole, np.nan, 1.0 / (self.radius * self.cos) ** power)
        return self.along_lat(values, like)

    def derivative(self, f: T, dim: Hashable, order: int = 1, edge_order: int | None = None) -> T:
        """``∂f/∂λ`` or ``∂f/∂φ`` (per radian), first or second."""
        if dim == self.grid.lon_dim:
            positions = np.deg2rad(self.grid.lon)
            boundary = self.lon_boundary
        else:
            positions, boundary = self.phi, "edge"
        period = None
        if boundary == "periodic" and self.grid.periodic:
            period = {dim: 2 * math.pi}
        kwargs: dict[str, Any] = {
            "spacing": {dim: positions},
            "accuracy": self.accuracy,
            "boundary": {dim: boundary},
            "period": period,
            "engine": self.engine,
            "nan_policy": self.nan_policy,
        }
        if order == 2:
            return second_derivative(f, dim, **kwargs)
        return gradient(f, dim, edge_order=edge_order or self.edge_order, **kwargs)


def _check_number(value: Any, what: str) -> float:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    if not number or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def _lon_boundary(grid: LatLon, boundary: Any, dims: tuple[Hashable, ...]) -> str:
    """The longitude's boundary; refuses a periodic latitude.

    A mapping may name the latitude and longitude (by dim or coordinate
    name) and any other dim of the object, whose entry is checked but not
    used (as in :func:`xgradient.gradient`).
    """
    choices = ("edge", "periodic")
    if boundary is None:
        return "periodic" if grid.periodic else "edge"
    if isinstance(boundary, Mapping):
        known = {grid.lat_dim, grid.lon_dim, grid.lat_name, grid.lon_name, *dims}
        unknown = [k for k in boundary if k not in known]
        if unknown:
            raise ValueError(
                f"boundary given for {unknown}, which are not dimensions of the object "
                f"({dims}) nor its latitude {grid.lat_name!r} or longitude {grid.lon_name!r}"
            )
        for k, b in boundary.items():
            if b not in choices:
                raise ValueError(f"boundary for {k!r} must be one of {choices}, got {b!r}")
        lat = boundary.get(grid.lat_dim, boundary.get(grid.lat_name, "edge"))
        lon = boundary.get(grid.lon_dim, boundary.get(grid.lon_name))
        lon = lon if lon is not None else ("periodic" if grid.periodic else "edge")
    else:
        lat = lon = boundary
    for b in (lat, lon):
        if b not in choices:
            raise ValueError(f"boundary must be one of {choices} or a mapping, got {b!r}")
    if lat == "periodic":
        raise ValueError(
            f"latitude {grid.lat_dim!r} cannot be periodic: that would join the North Pole "
            "to the South Pole; give the longitude alone, "
            f"boundary={{{grid.lon_dim!r}: 'periodic'}}"
        )
    return lon


def _sphere(
    obj: xr.DataArray | xr.Dataset,
    lat: Hashable | None,
    lon: Hashable | None,
    radius: Any,
    accuracy: Any,
    edge_order: Any,
    boundary: Any,
    engine: str = "auto",
    nan_policy: str = "propagate",
    mask: Any = None,
) -> _Sphere:
    if isinstance(accuracy, bool) or accuracy not in (2, 4):
        raise ValueError(f"accuracy must be 2 or 4, got {accuracy!r}")
    if isinstance(edge_order, bool) or edge_order not in (1, 2):
        raise ValueError(f"edge_order must be 1 or 2, got {edge_order!r}")
    radius = _check_number(radius, "radius")
    grid = find_lat_lon(obj, lat, lon)
    lon_boundary = _lon_boundary(grid, boundary, tuple(obj.dims))
    nan_policy = check_nan_policy(nan_policy, mask)
    return _Sphere(
        grid, radius, int(accuracy), int(edge_order), lon_boundary, check_engine(engine), nan_policy
    )


def _check_field(f: Any, sphere: _Sphere, what: str) -> xr.DataArray:
    if not isinstance(f, xr.DataArray):
        raise TypeError(f"{what} must be a DataArray, got {type(f).__name__}")
    for dim in (sphere.grid.lat_dim, sphere.grid.lon_dim):
        if dim not in f.dims:
            raise ValueError(f"{what} has no dimension {dim!r}: its dims are {f.dims}")
    if f.dtype.kind not in "biufc":
        raise TypeError(f"{what} must be numeric, got dtype {f.dtype}")
    return f


# --- pole rows --------------------------------------------------------------


def _weighted_zonal_means(rows: np.ndarray, coefficients: tuple[float, ...]) -> np.ndarray:
    """``sum_k c_k * mean(rows[..., k, :])``, in float64.

    The same arithmetic on the same values whatever the chunking: each row
    is summed along its own contiguous copy.
    """
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    means = np.add.reduce(rows, axis=-1) / rows.shape[-1]
    total = means[..., 0] * coefficients[0]
    for k in range(1, len(coefficients)):
        total = total + means[..., k] * coefficients[k]
    return total


def _cap_coefficients(sphere: _Sphere, kind: str, pole: int) -> tuple[list[int], list[float]]:
    """Rows and weights of the value at a pole row, from the polar caps next to it.

    With ``h = 1 - cos θ`` (θ the angle from the pole: the cap's area is
    ``2 π R² h``), the mean of a smooth field over a cap is a smooth function
    of ``h`` whose value at ``h = 0`` is the value at the pole:

    * vorticity: Stokes, the circulation along the rim (row ``k``) over the
      area, ``s sin θ_k mean(u_k) / (R h_k)`` (``s = ±1`` at the North/South
      Pole); divergence: Gauss, ``-s sin θ_k mean(v_k) / (R h_k)``.  With
      ``accuracy=2`` the cap of the next row; with ``accuracy=4`` the
      straight line in ``h`` through the caps of the next two rows, taken
      at ``h = 0`` (error O(h²) = O(Δφ⁴)).
    * Laplacian: the zonal mean ``g(h)`` of ``f`` near a pole is
      ``g0 + a h + ...`` and ``∇²f = 2 a / R²`` there (the flux of the
      gradient through a small cap over its area); ``a`` from the pole row
      and the next row (``accuracy=2``) or a parabola through the next two
      rows (``accuracy=4``).

    Zonal means are exact line integrals (the trapezoidal rule on a whole
    circle), so only the cap's extent limits the accuracy.
    """
    n = sphere.grid.lat.size
    step = 1 if pole == 0 else -1
    rows = [pole + step, pole + 2 * step]
    if max(rows) >= n or min(rows) < 0:
        raise ValueError(
            f"latitude {sphere.grid.lat_dim!r} has too few rows next to its pole row "
            "for a polar cap (at least 3 are needed)"
        )
    sign = 1.0 if sphere.grid.lat[pole] > 0 else -1.0
    theta = np.deg2rad(90.0 - sign * sphere.grid.lat[rows])
    h = 2.0 * np.sin(theta / 2.0) ** 2
    r = sphere.radius
    if kind == "laplacian":
        if sphere.accuracy == 2:
            c1 = 2.0 / (r**2 * h[0])
            return [pole, rows[0]], [-c1, c1]
        h1, h2 = h
        d = h1 * h2 * (h2 - h1)
        c1, c2 = 2.0 * h2**2 / (d * r**2), -2.0 * h1**2 / (d * r**2)
        return [pole, *rows], [-(c1 + c2), c1, c2]
    orientation = sign if kind == "vorticity" else -sign
    cap = orientation * np.sin(theta) / (r * h)  # cap mean per unit of zonal mean
    if sphere.accuracy == 2:
        return rows[:1], [float(cap[0])]
    h1, h2 = h
    return rows, [float(cap[0] * h2 / (h2 - h1)), float(-cap[1] * h1 / (h2 - h1))]


def _fill_poles(result: xr.DataArray, field: xr.DataArray, sphere: _Sphere, kind: str):
    """``result`` with its pole rows set from ``field``'s polar caps (or NaN)."""
    pole_rows = np.flatnonzero(sphere.pole)
    if pole_rows.size == 0:
        return result
    lat_dim, lon_dim = sphere.grid.lat_dim, sphere.grid.lon_dim
    if sphere.lon_boundary != "periodic" or not sphere.grid.periodic:
        return result  # no cap without the whole circle: the NaN stays
    for pole in pole_rows:
        rows, weights = _cap_coefficients(sphere, kind, int(pole))
        selected = field.isel({lat_dim: rows})
        if selected.chunks is not None:
            selected = selected.chunk({lat_dim: -1, lon_dim: -1})
        value = xr.apply_ufunc(
            _weighted_zonal_means,
            selected,
            input_core_dims=[[lat_dim, lon_dim]],
            kwargs={"coefficients": tuple(weights)},
            dask="parallelized",
            output_dtypes=[np.float64],
            keep_attrs=False,
        ).astype(result.dtype)
        at_pole = xr.DataArray(np.arange(sphere.grid.lat.size) == pole, dims=(lat_dim,))
        result = result.where(~at_pole, value)
    return result


# --- pint quantities ----------------------------------------------------------


def _units_of(f: xr.DataArray) -> Any:
    """The pint units of a quantified DataArray (pint-xarray), else ``None``."""
    data = wrapped_data(f)  # no conversion of wrapped arrays
    return data.units if is_pint(data) else None


def _plain(f: xr.DataArray, units: Any = None) -> xr.DataArray:
    """``f`` without pint (its magnitude, in ``units`` if given), ``units`` in its attrs."""
    own = _units_of(f)
    if own is None:
        return f
    quantity = f.data if units is None else f.data.to(units)
    out = f.copy(data=quantity.magnitude)
    out.attrs = {**f.attrs, "units": format(quantity.units, "~")}
    return out


def _quantified(result: xr.DataArray, units: Any, power: int) -> xr.DataArray:
    """``result`` as a pint quantity in ``units`` per metre ** ``power``, if ``units``."""
    if units is None:
        return result
    out_units = units / units._REGISTRY.m**power
    out = result.copy(data=units._REGISTRY.Quantity(result.data, out_units))
    out.attrs = {k: v for k, v in result.attrs.items() if k != "units"}
    return out


def _finish(result: xr.DataArray, like: xr.DataArray, name: Hashable, attrs: dict) -> xr.DataArray:
    result = result.transpose(*like.dims)
    result.name = name
    if "grid_mapping" in like.attrs:
        attrs["grid_mapping"] = like.attrs["grid_mapping"]
    result.attrs = {k: v for k, v in attrs.items() if v is not None}
    result.encoding = {}
    return result


# --- the operators ----------------------------------------------------------


def _gradient_of(f: xr.DataArray, sphere: _Sphere) -> tuple[xr.DataArray, xr.DataArray]:
    units = _units_of(f)
    if units is not None:
        dx, dy = _gradient_of(_plain(f), sphere)
        return _quantified(dx, units, 1), _quantified(dy, units, 1)
    grid = sphere.grid
    dlam = sphere.derivative(f, grid.lon_dim)
    dphi = sphere.derivative(f, grid.lat_dim)
    dx = dlam * sphere.inverse_r_cos(dlam)
    dy = dphi * sphere.along_lat(np.full(grid.lat.size, 1.0 / sphere.radius), dphi)
    what = _describe(f.attrs, f.name)
    units = per_metre(f.attrs.get("units"))
    return (
        _finish(dx, f, f.name, {"long_name": f"eastward derivative of {what}", "units": units}),
        _finish(dy, f, f.name, {"long_name": f"northward derivative of {what}", "units": units}),
    )


def _numeric_with(ds: xr.Dataset, sphere: _Sphere) -> list[Hashable]:
    dims = {sphere.grid.lat_dim, sphere.grid.lon_dim}
    return [
        name
        for name, var in ds.data_vars.items()
        if dims <= set(var.dims) and var.dtype.kind in "biufc"
    ]


def _over_dataset(ds: xr.Dataset, results: dict[Hashable, xr.DataArray]) -> xr.Dataset:
    out = xr.Dataset(results, attrs=dict(ds.attrs))
    return out.assign_coords({k: v for k, v in ds.coords.items() if k not in out.coords})


def spherical_gradient(
    obj: T,
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
    """The eastward and northward derivatives of ``obj`` in metres on a sphere.

    ``∂f/∂x = ∂f/∂λ / (R cos φ)`` and ``∂f/∂y = ∂f/∂φ / R``, with the
    stencils of :func:`xgradient.gradient` along latitude and longitude.

    Parameters
    ----------
    obj
        A DataArray, or a Dataset (every numeric data variable with both
        dims), on a latitude-longitude grid.
    lat, lon
        Names of the 1-D latitude and longitude coordinates (degrees, or
        radians if their ``units`` say so), or ``None`` to find them from CF
        metadata (:func:`xgradient.latlon.find_lat_lon`).
    radius
        The sphere's radius in metres (default: the Earth's mean radius).
    accuracy, edge_order
        As in :func:`xgradient.gradient`; ``edge_order`` applies at
        non-periodic ends only.
    boundary
        ``None`` (default): longitude is periodic when it covers the globe
        (uniform, ``n * step = 360``, no repeated seam point), else
        one-sided at its ends; latitude is always one-sided.  ``"edge"``,
        ``"periodic"`` or ``{dim: ...}`` override it; a periodic latitude is
        refused.
    engine
        Which kernels compute the derivatives: see :func:`xgradient.gradient`.
    nan_policy, mask
        As in :func:`xgradient.gradient`: with ``"omit"`` (or a land-sea
        ``mask``, True where valid) every derivative stops at missing values
        instead of spreading them, so that points next to a coast get a
        value from one-sided stencils.  A row at a pole takes its value from
        the whole polar cap, and is NaN if a point of the cap is missing.

    Returns
    -------
    (DataArray, DataArray) or (Dataset, Dataset)
        Eastward and northward derivatives, per metre (``units`` ``"K m-1"``
        for a field in ``K``).  The eastward derivative is NaN on a row at a
        pole, where east is undefined.

    Examples
    --------
    >>> import numpy as np
    >>> import xarray as xr
    >>> import xgradient
    >>> lat = np.arange(-80.0, 81.0, 20.0)
    >>> lon = np.arange(0.0, 360.0, 30.0)
    >>> t = xr.DataArray(
    ...     np.sin(np.deg2rad(lat))[:, None] * np.ones(lon.size),
    ...     dims=("lat", "lon"),
    ...     coords={"lat": lat, "lon": lon},
    ...     attrs={"units": "K"},
    ... )
    >>> dx, dy = xgradient.spherical_gradient(t)
    >>> float(abs(dx).max()) < 1e-20, dy.attrs["units"]
    (True, 'K m-1')
    >>> exact = np.cos(np.deg2rad(lat)) / xgradient.EARTH_RADIUS
    >>> bool(np.allclose(dy.isel(lon=0)[1:-1], exact[1:-1], rtol=0.03))
    True
    """
    sphere = _sphere(
        obj, lat, lon, radius, accuracy, edge_order, boundary, engine, nan_policy, mask
    )
    obj = apply_mask(obj, mask, engine)
    if isinstance(obj, xr.Dataset):
        pairs = {k: _gradient_of(obj[k], sphere) for k in _numeric_with(obj, sphere)}
        return (
            _over_dataset(obj, {k: p[0] for k, p in pairs.items()}),
            _over_dataset(obj, {k: p[1] for k, p in pairs.items()}),
        )
    return _gradient_of(_check_field(obj, sphere, "the DataArray"), sphere)


def _pair(u: Any, v: Any, sphere: _Sphere) -> tuple[xr.DataArray, xr.DataArray]:
    u = _check_field(u, sphere, "u")
    v = _check_field(v, sphere, "v")
    try:
        xr.align(u, v, join="exact")
    except ValueError:
        raise ValueError("u and v must lie on the same grid (their coordinates differ)") from None
    return u, v


def _flow_attrs(u: xr.DataArray, v: xr.DataArray, kind: str) -> dict[str, Any]:
    units_u, units_v = u.attrs.get("units"), v.attrs.get("units")
    if units_u is not None and units_v is not None and units_u != units_v:
        raise ValueError(f"u and v have different units ({units_u!r} and {units_v!r})")
    winds = (u.attrs.get("standard_name"), v.attrs.get("standard_name")) == (
        "eastward_wind",
        "northward_wind",
    )
    what = f"({_describe(u.attrs, u.name)}, {_describe(v.attrs, v.name)})"
    if kind == "vorticity":
        long_name, standard_name = f"relative vorticity of {what}", "atmosphere_relative_vorticity"
    else:
        long_name, standard_name = f"divergence of {what}", "divergence_of_wind"
    return {
        "long_name": long_name,
        "standard_name": standard_name if winds else None,
        "units": per_metre(units_u if units_u is not None else units_v),
    }


def _flow(u: Any, v: Any, kind: str, options: dict[str, Any]) -> xr.DataArray:
    if not isinstance(u, xr.DataArray):
        raise TypeError(f"u must be a DataArray, got {type(u).__name__}")
    sphere = _sphere(u, **options)
    u, v = _pair(u, v, sphere)
    units = _units_of(u)
    if units is not None or _units_of(v) is not None:
        if units is None or _units_of(v) is None:
            raise TypeError("u and v must both be pint quantities, or neither")
        return _quantified(_flow(_plain(u), _plain(v, units), kind, options), units, 1)
    mask, engine = options["mask"], options["engine"]
    u, v = apply_mask(u, mask, engine), apply_mask(v, mask, engine)
    grid = sphere.grid
    if kind == "divergence":
        along, across = u, v  # div = [∂u/∂λ + ∂(v cos φ)/∂φ] / (R cos φ)
    else:
        along, across = v, u  # vort = [∂v/∂λ - ∂(u cos φ)/∂φ] / (R cos φ)
    dlam = sphere.derivative(along, grid.lon_dim)
    weighted = across * sphere.along_lat(sphere.cos, across)
    dphi = sphere.derivative(weighted, grid.lat_dim)
    total = dlam + dphi if kind == "divergence" else dlam - dphi
    result = total * sphere.inverse_r_cos(total)
    result = _fill_poles(result, across, sphere, kind)
    return _finish(result, u, kind, _flow_attrs(u, v, kind))


def divergence(
    u: xr.DataArray,
    v: xr.DataArray,
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
    """Horizontal divergence of the eastward and northward components ``u``, ``v``.

    ``[∂u/∂λ + ∂(v cos φ)/∂φ] / (R cos φ)``; on a row at a pole of a global
    grid, the outward flux through the polar cap's rim over its area,
    extrapolated to the pole (see :func:`_cap_coefficients`); NaN there on a
    regional grid.  Options as in :func:`spherical_gradient`.

    Returns
    -------
    DataArray
        Named ``"divergence"``, units per metre of ``u``'s (``s-1`` for
        ``m s-1``), ``standard_name`` ``divergence_of_wind`` when ``u`` and
        ``v`` are ``eastward_wind`` and ``northward_wind``.

    Examples
    --------
    >>> import numpy as np
    >>> import xarray as xr
    >>> import xgradient
    >>> lat, lon = np.arange(-90.0, 91.0, 10.0), np.arange(0.0, 360.0, 10.0)
    >>> coords = {"lat": lat, "lon": lon}
    >>> v = xr.DataArray(
    ...     np.outer(np.cos(np.deg2rad(lat)), np.ones(lon.size)),
    ...     dims=("lat", "lon"),
    ...     coords=coords,
    ...     attrs={"units": "m s-1"},
    ... )
    >>> div = xgradient.divergence(0 * v, v, radius=1.0)
    >>> exact = -2 * np.sin(np.deg2rad(lat))  # div of (0, cos φ) on the unit sphere
    >>> float(abs(div.isel(lon=0) - exact).max()) < 0.05, div.attrs["units"]
    (True, 's-1')
    """
    options = {"lat": lat, "lon": lon, "radius": radius, "accuracy": accuracy, "engine": engine}
    options.update(edge_order=edge_order, boundary=boundary, nan_policy=nan_policy, mask=mask)
    return _flow(u, v, "divergence", options)


def vorticity(
    u: xr.DataArray,
    v: xr.DataArray,
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
    """Vertical component of the curl (relative vorticity) of ``u``, ``v``.

    ``[∂v/∂λ - ∂(u cos φ)/∂φ] / (R cos φ)``; on a row at a pole of a global
    grid, the circulation along the polar cap's rim over its area,
    extrapolated to the pole; NaN there on a regional grid.  Options as in
    :func:`spherical_gradient`.

    Returns
    -------
    DataArray
        Named ``"vorticity"``, units per metre of ``u``'s (``s-1``),
        ``standard_name`` ``atmosphere_relative_vorticity`` for winds.

    Examples
    --------
    Solid-body rotation, ``u = U cos φ``, has vorticity ``2 U sin φ / R``,
    poles included:

    >>> import numpy as np
    >>> import xarray as xr
    >>> import xgradient
    >>> lat, lon = np.arange(-90.0, 91.0, 2.5), np.arange(0.0, 360.0, 2.5)
    >>> u = xr.DataArray(
    ...     np.outer(10.0 * np.cos(np.deg2rad(lat)), np.ones(lon.size)),
    ...     dims=("lat", "lon"),
    ...     coords={"lat": lat, "lon": lon},
    ...     attrs={"units": "m s-1", "standard_name": "eastward_wind"},
    ... )
    >>> v = (0 * u).assign_attrs(units="m s-1", standard_name="northward_wind")
    >>> zeta = xgradient.vorticity(u, v)
    >>> exact = 2 * 10.0 * np.sin(np.deg2rad(lat)) / xgradient.EARTH_RADIUS
    >>> float(abs(zeta.isel(lon=0) - exact).max() / exact.max()) < 2e-3
    True
    >>> zeta.attrs["standard_name"], zeta.attrs["units"]
    ('atmosphere_relative_vorticity', 's-1')
    """
    options = {"lat": lat, "lon": lon, "radius": radius, "accuracy": accuracy, "engine": engine}
    options.update(edge_order=edge_order, boundary=boundary, nan_policy=nan_policy, mask=mask)
    return _flow(u, v, "vorticity", options)


def _laplacian_of(f: xr.DataArray, sphere: _Sphere) -> xr.DataArray:
    units = _units_of(f)
    if units is not None:
        return _quantified(_laplacian_of(_plain(f), sphere), units, 2)
    grid = sphere.grid
    f_ll = sphere.derivative(f, grid.lon_dim, order=2)
    f_pp = sphere.derivative(f, grid.lat_dim, order=2)
    f_p = sphere.derivative(f, grid.lat_dim, edge_order=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        tan = np.where(sphere.pole, np.nan, np.sin(sphere.phi) / sphere.cos)
    inv_r2 = sphere.along_lat(np.full(grid.lat.size, 1.0 / sphere.radius**2), f_pp)
    result = (
        f_ll * sphere.inverse_r_cos(f_ll, power=2)
        + (f_pp - f_p * sphere.along_lat(tan, f_p)) * inv_r2
    )
    result = _fill_poles(result, f, sphere, "laplacian")
    attrs = {
        "long_name": f"Laplacian of {_describe(f.attrs, f.name)}",
        "units": per_metre(f.attrs.get("units"), 2),
    }
    return _finish(result, f, f.name, attrs)


def laplacian(
    f: T,
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
    """The Laplacian of ``f`` on a sphere, with compact second-derivative stencils.

    ``∂²f/∂λ² / (R² cos² φ) + (∂²f/∂φ² - tan φ ∂f/∂φ) / R²``, each second
    derivative by :func:`xgradient.second_derivative` (three or five points,
    not the divergence of the gradient), ``∂f/∂φ`` second-order at
    one-sided ends.  On a row at a pole of a global grid, from the zonal
    means of the rows next to it (the flux of the gradient through the
    polar cap, see :func:`_cap_coefficients`); NaN there on a regional grid.
    Options as in :func:`spherical_gradient`.

    Returns
    -------
    DataArray or Dataset
        Units per square metre (``K m-2`` for ``K``).

    Examples
    --------
    ``sin φ`` is a spherical harmonic of degree 1: its Laplacian is
    ``-2 sin φ / R²``, poles included:

    >>> import numpy as np
    >>> import xarray as xr
    >>> import xgradient
    >>> lat, lon = np.arange(-90.0, 91.0, 2.0), np.arange(0.0, 360.0, 5.0)
    >>> f = xr.DataArray(
    ...     np.outer(np.sin(np.deg2rad(lat)), np.ones(lon.size)),
    ...     dims=("lat", "lon"),
    ...     coords={"lat": lat, "lon": lon},
    ...     attrs={"units": "K"},
    ... )
    >>> lap = xgradient.laplacian(f, radius=1.0, accuracy=4)
    >>> float(abs(lap.isel(lon=0) + 2 * np.sin(np.deg2rad(lat))).max()) < 1e-6
    True
    >>> lap.attrs["units"]
    'K m-2'
    """
    sphere = _sphere(f, lat, lon, radius, accuracy, 2, boundary, engine, nan_policy, mask)
    f = apply_mask(f, mask, engine)
    if isinstance(f, xr.Dataset):
        return _over_dataset(f, {k: _laplacian_of(f[k], sphere) for k in _numeric_with(f, sphere)})
    return _laplacian_of(_check_field(f, sphere, "the DataArray"), sphere)
