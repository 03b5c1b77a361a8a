"""Attributes of a derivative: ``units`` and ``long_name``."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from typing import Any

__all__ = ["derivative_attrs", "per_unit"]

# A single unit symbol without exponent, safe to suffix with "-1".
_SIMPLE_UNIT = re.compile(r"^[A-Za-z_%]+$")


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
    label = attrs.get("long_name") or attrs.get("standard_name") or name
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
