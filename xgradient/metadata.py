"""Attributes of a derivative: ``units`` and ``long_name``."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from typing import Any

__all__ = ["derivative_attrs", "per_metre", "per_unit", "user_name"]

# A single unit symbol without exponent, safe to suffix with "-1".
_SIMPLE_UNIT = re.compile(r"^[A-Za-z_%]+$")
# A Dask key ("array-<token>", "getitem-<token>", ...): xarray names a
# DataArray built from a bare Dask array after it.
_DASK_KEY = re.compile(r"^[\w.-]+-[0-9a-f]{32}$")


def user_name(name: Hashable | None) -> Hashable | None:
    """``name``, or ``None`` when it is a Dask key rather than a name the user gave.

    ``xr.DataArray(dask_array)`` takes the array's key (``"array-<token>"``)
    as its name; messages and long names say "the DataArray" instead.

    Examples
    --------
    >>> user_name("t"), user_name("getitem-0123456789abcdef0123456789abcdef"), user_name(None)
    ('t', None, None)
    """
    if isinstance(name, str) and _DASK_KEY.match(name):
        return None
    return name


def per_unit(units: str) -> str:
    """``units`` raised to the power -1, in UDUNITS/CF syntax.

    Examples
    --------
    >>> per_unit("m"), per_unit("degrees_north"), per_unit("m s-1"), per_unit("m2")
    ('m-1', 'degrees_north-1', '(m s-1)-1', '(m2)-1')
    """
    units = units.strip()
    if _SIMPLE_UNIT.match(units):
        return f"{units}-1"
    return f"({units})-1"


def _describe(attrs: Mapping[str, Any], name: Hashable | None) -> str:
    label = attrs.get("long_name") or attrs.get("standard_name") or user_name(name)
    return str(label) if label is not None else "data"


def derivative_attrs(
    attrs: Mapping[str, Any],
    name: Hashable | None,
    dim: Hashable,
    coord_units: str | None,
    order: int = 1,
) -> dict[str, Any]:
    """Attributes for the derivative of a variable along ``dim``.

    ``units`` is ``"<data units> <coordinate units>-1"`` when both are known
    and is left out otherwise; ``long_name`` says which derivative it is.  The
    other attributes of the input (``standard_name``, ``valid_range``, ...)
    describe the input, not its derivative, and are not carried over, except
    ``grid_mapping``, which still holds.

    Examples
    --------
    >>> derivative_attrs({"units": "K", "long_name": "air temperature"}, "t", "x", "m")
    {'long_name': 'derivative of air temperature with respect to x', 'units': 'K m-1'}
    >>> derivative_attrs({"units": "K"}, "t", "x", None)
    {'long_name': 'derivative of t with respect to x'}
    """
    what = "derivative" if order == 1 else "second derivative"
    out: dict[str, Any] = {"long_name": f"{what} of {_describe(attrs, name)} with respect to {dim}"}
    data_units = attrs.get("units")
    if isinstance(data_units, str) and data_units.strip() and coord_units == "1":
        # A dimensionless coordinate: the derivative has the data's units.
        out["units"] = data_units.strip()
    elif isinstance(data_units, str) and data_units.strip() and coord_units:
        # per_unit ends in "-1"; a second derivative is per unit squared.
        power = per_unit(coord_units)[:-1] + str(order)
        out["units"] = f"{data_units.strip()} {power}"
    if "grid_mapping" in attrs:
        out["grid_mapping"] = attrs["grid_mapping"]
    return out


def _simplified(units: str) -> str | None:
    """``units`` in cf-xarray's canonical CF form, when pint and cf-xarray are installed."""
    try:
        from cf_xarray.units import units as registry  # optional; ~1 s on first import
    except ImportError:
        return None
    try:
        quantity = registry.Quantity(1.0, units)
    except Exception:  # pint raises several types for strings it cannot parse
        return None
    if quantity.magnitude != 1.0:  # an offset or a scale (degC, km m-1 reduced): no
        return None
    return format(quantity.units, "cf")


def per_metre(units: Any, power: int = 1) -> str | None:
    """``units`` times ``m-<power>``: the units of a derivative in metres, or ``None``.

    A single symbol other than ``m`` keeps today's plain form (``K m-1``);
    anything else is composed and simplified by pint through cf-xarray's
    CF registry when both are installed (``m s-1`` per metre is ``s-1``),
    and written ``(<units>) m-<power>`` otherwise.

    Examples
    --------
    >>> per_metre("K"), per_metre("K", 2), per_metre("degC"), per_metre(None)
    ('K m-1', 'K m-2', 'degC m-1', None)
    """
    if not isinstance(units, str) or not units.strip():
        return None
    units = units.strip()
    if _SIMPLE_UNIT.match(units) and units != "m":
        return f"{units} m-{power}"
    return _simplified(f"({units}) m-{power}") or f"({units}) m-{power}"
