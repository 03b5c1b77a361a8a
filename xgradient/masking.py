"""``nan_policy`` and ``mask=``: which points of the data count as missing.

With ``nan_policy="omit"`` the stencils stop at missing values
(:mod:`xgradient.missing`); a ``mask`` (True where valid) marks points as
missing whatever the data holds there, by turning them into NaN before the
stencils run (one compiled pass per block, :func:`xgradient.kernels.mark_missing`).
In-memory data is marked once, before all its derivatives
(:func:`apply_mask`); Dask data block by block inside each derivative's
kernel tasks (:func:`valid_for` lays the mask out for them), so that the
marked copy is never a task output of its own (a task layer costs about
what copying the data does).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any, Literal, TypeVar

import numpy as np
import xarray as xr

from .arrays import result_dtype
from .kernels import mark_missing
from .missing import NAN_POLICIES

__all__ = ["NanPolicy", "apply_mask", "check_mask", "check_nan_policy", "mask_layouts", "valid_for"]

T = TypeVar("T", xr.DataArray, xr.Dataset)
NanPolicy = Literal["propagate", "omit"]


def check_nan_policy(nan_policy: Any, mask: Any = None) -> str:
    """``nan_policy`` checked; a ``mask`` makes it ``"omit"``.

    Examples
    --------
    >>> check_nan_policy("propagate"), check_nan_policy("propagate", mask=True)
    ('propagate', 'omit')
    >>> check_nan_policy("ignore")
    Traceback (most recent call last):
    ...
    ValueError: nan_policy must be one of 'propagate', 'omit', got 'ignore'
    """
    if not isinstance(nan_policy, str) or nan_policy not in NAN_POLICIES:
        choices = ", ".join(repr(c) for c in NAN_POLICIES)
        raise ValueError(f"nan_policy must be one of {choices}, got {nan_policy!r}")
    return "omit" if mask is not None else nan_policy


def _check_mask(mask: Any, dims: tuple[Hashable, ...], sizes: Any, indexes: Any) -> None:
    """The mask must be a boolean DataArray on dims of the data, with the data's coordinates."""
    if not isinstance(mask, xr.DataArray):
        raise TypeError(
            f"mask must be a boolean xarray.DataArray (True where the data is valid), "
            f"got {type(mask).__name__}"
        )
    if mask.dtype != bool:
        raise TypeError(
            f"mask must be boolean (True where the data is valid), got dtype {mask.dtype}; "
            "compare it first, e.g. mask=(land_fraction < 0.5)"
        )
    for d in mask.dims:
        if d not in dims:
            raise ValueError(
                f"mask has dimension {d!r}, which the data does not have (its dims: {dims})"
            )
        if mask.sizes[d] != sizes[d]:
            raise ValueError(
                f"mask has {mask.sizes[d]} points along dimension {d!r}, the data {sizes[d]}"
            )
        if d in mask.indexes and d in indexes and not mask.indexes[d].equals(indexes[d]):
            raise ValueError(
                f"mask's coordinate {d!r} differs from the data's: the mask must be on the "
                "same grid (reindex it first, e.g. mask.reindex_like(data, method='nearest'))"
            )


def check_mask(obj: xr.DataArray | xr.Dataset, mask: Any) -> xr.DataArray | None:
    """``mask`` checked against ``obj`` (see :func:`apply_mask`), without its non-dim coordinates.

    Examples
    --------
    >>> f = xr.DataArray([1.0, 2.0], dims="x")
    >>> check_mask(f, xr.DataArray([True, False], dims="x", coords={"c": 1})).coords
    Coordinates:
        *empty*
    >>> check_mask(f, xr.DataArray([1, 0], dims="x"))
    Traceback (most recent call last):
    ...
    TypeError: mask must be boolean (True where the data is valid), got dtype int64; compare it first, e.g. mask=(land_fraction < 0.5)
    """
    if mask is None:
        return None
    _check_mask(mask, tuple(obj.dims), obj.sizes, obj.indexes)
    return mask.drop_vars([c for c in mask.coords if c not in mask.dims])


def _takes_mask(var: xr.Variable, mask: xr.DataArray) -> bool:
    # Which variables of a Dataset a mask applies to: see apply_mask.
    return set(mask.dims) <= set(var.dims) and var.dtype.kind in "biufc"


def valid_for(var: xr.Variable, mask: xr.DataArray | None) -> Any:
    """``mask`` laid out for a Dask-backed ``var``: its dims, its chunks; ``None`` if it does not apply.

    An array of ``var``'s number of dimensions, of size 1 (one chunk) along
    the dims the mask lacks, with ``var``'s chunks along the others: block
    ``i`` of the data takes block ``i`` of it (0 along a size-1 dim), so a
    kernel task marks its block and halos itself (see
    :func:`xgradient.chunked.apply_chunked`).  ``None`` for a variable the
    mask does not apply to (see :func:`apply_mask`) or that lacks chunks.

    Examples
    --------
    >>> f = xr.Variable(("t", "x"), np.zeros((2, 4))).chunk({"t": 1, "x": 2})
    >>> v = valid_for(f, xr.DataArray([True, False, True, True], dims="x"))
    >>> v.shape, v.chunks
    ((1, 4), ((1,), (2, 2)))
    """
    if mask is None or var.chunks is None or not _takes_mask(var, mask):
        return None
    import dask.array as da

    order = [d for d in var.dims if d in mask.dims]
    data = mask.variable.transpose(*order).data
    shape = tuple(var.sizes[d] if d in mask.dims else 1 for d in var.dims)
    chunks = tuple(c if d in mask.dims else (1,) for d, c in zip(var.dims, var.chunks, strict=True))
    if isinstance(data, da.Array):
        return data.reshape(shape).rechunk(chunks)
    return da.from_array(np.reshape(data, shape), chunks=chunks)


def mask_layouts(mask: xr.DataArray | None) -> Callable[[xr.Variable], Any]:
    """:func:`valid_for` with ``mask``, laid out once per dims and chunks.

    The variables of a Dataset usually share their dims and chunks; each
    layout of a NumPy mask hashes the mask (for its Dask name), so one
    per variable and dim would cost milliseconds each.

    Examples
    --------
    >>> f = xr.Variable("x", np.zeros(4)).chunk({"x": 2})
    >>> layout = mask_layouts(xr.DataArray([True, False, True, True], dims="x"))
    >>> layout(f) is layout(f.copy())
    True
    """
    layouts: dict[Any, Any] = {}

    def layout(var: xr.Variable) -> Any:
        key = (var.dims, var.chunks, mask is not None and _takes_mask(var, mask))
        if key not in layouts:
            layouts[key] = valid_for(var, mask)
        return layouts[key]

    return layout


def apply_mask(
    obj: T, mask: xr.DataArray | None, engine: str = "auto", *, include_dask: bool = True
) -> T:
    """``obj`` with NaN where ``mask`` is False (lazily on Dask data); ``obj`` if no mask.

    On a Dataset, the numeric data variables that have all the mask's dims
    are masked; the others (a time series beside a map, say) are left as
    they are.  Names and attributes are kept; integers become float64, as
    their derivatives are.  ``engine`` as for the derivatives.  With
    ``include_dask=False``, Dask-backed variables are left as they are, for
    the derivatives' kernel tasks to mark (see :func:`valid_for`).

    Examples
    --------
    >>> import numpy as np
    >>> f = xr.DataArray([1, 2, 3, 4], dims="x", attrs={"units": "K"})
    >>> masked = apply_mask(f, xr.DataArray([True, True, False, True], dims="x"))
    >>> masked.values, masked.attrs
    (array([ 1.,  2., nan,  4.]), {'units': 'K'})
    """
    mask = check_mask(obj, mask)
    if mask is None:
        return obj
    if isinstance(obj, xr.DataArray):
        return _masked(obj, mask, engine) if include_dask or obj.chunks is None else obj
    masked = {
        name: _masked(var, mask, engine)
        for name, var in obj.data_vars.items()
        if _takes_mask(var.variable, mask) and (include_dask or var.chunks is None)
    }
    return obj.assign(masked)


def _masked(da: xr.DataArray, mask: xr.DataArray, engine: str) -> xr.DataArray:
    if da.chunks is not None:
        # A mask chunked otherwise would give the data its chunks too.
        mask = mask.chunk({d: da.chunksizes[d] for d in mask.dims})
    # Not `da.where(mask)`: NumPy's where with a broadcast mask took 3x a
    # plain copy of the data; the kernel takes about one.
    masked = xr.apply_ufunc(
        functools.partial(mark_missing, engine=engine),
        da.variable,
        mask.variable,
        dask="parallelized",
        output_dtypes=[result_dtype(da.dtype)],
    )
    # Variables broadcast with the data's dims first, but keep its order exact.
    return da.copy(data=masked.transpose(*da.dims).data, deep=False)
