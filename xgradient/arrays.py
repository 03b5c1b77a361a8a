"""Leaf helpers on array blocks: what kind of array a block is, and how to cut it.

Every module that asks "is this a Dask array?", "which namespace does this
array come from?" or "write this result into ``out``" asks here, so the
answer is given once.  No xarray and no dask imports: a block may be a
NumPy array, a CuPy array or any array of the array API standard.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "as3d",
    "deliver",
    "extended_pieces",
    "is_cftime",
    "is_cupy",
    "is_dask",
    "is_pint",
    "namespace",
    "result_dtype",
    "stays_as_it_is",
    "take",
    "window",
]


def _top_module(x: Any) -> str:
    return type(x).__module__.split(".")[0]


def is_dask(x: Any) -> bool:
    """Whether ``x`` is a Dask collection with chunks (checked without importing dask).

    Examples
    --------
    >>> is_dask(np.zeros(3))
    False
    """
    return _top_module(x) == "dask" and hasattr(x, "chunks")


def is_cupy(x: Any) -> bool:
    """Whether ``x`` is a CuPy array (checked without importing CuPy).

    Examples
    --------
    >>> is_cupy(np.zeros(3)), is_cupy(None)
    (False, False)
    """
    return x is not None and _top_module(x) == "cupy"


def is_pint(x: Any) -> bool:
    """Whether ``x`` is a pint quantity (checked without importing pint).

    Examples
    --------
    >>> is_pint(np.zeros(3))
    False
    """
    return _top_module(x) == "pint" and hasattr(x, "units")


def is_cftime(value: Any) -> bool:
    """Whether ``value`` is a cftime date (checked without importing cftime).

    Examples
    --------
    >>> import datetime
    >>> is_cftime(datetime.datetime(2000, 1, 1))
    False
    """
    return _top_module(value) == "cftime"


def stays_as_it_is(x: Any) -> bool:
    """Whether in-memory data is differentiated as it is rather than as a NumPy array.

    CuPy arrays (which refuse implicit conversion to NumPy) and arrays of the
    array API stay on their device; other wrappers are converted to NumPy.

    Examples
    --------
    >>> stays_as_it_is(np.zeros(3)), stays_as_it_is([1.0, 2.0])
    (True, False)
    """
    return hasattr(x, "__array_namespace__") or is_cupy(x)


def namespace(x: Any) -> Any:
    """The array namespace of ``x`` (NumPy for NumPy arrays and anything unknown).

    Examples
    --------
    >>> namespace(np.zeros(3)) is np
    True
    """
    if isinstance(x, np.ndarray):
        return np
    get = getattr(x, "__array_namespace__", None)
    if get is not None:
        return get()
    if is_cupy(x):  # older CuPy without __array_namespace__
        import cupy

        return cupy
    return np


def result_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype numpy.gradient returns for data of ``dtype``.

    Floating and complex data keep their dtype; integers and booleans give
    float64.

    Examples
    --------
    >>> result_dtype(np.dtype("int16")), result_dtype(np.dtype("float32"))
    (dtype('float64'), dtype('float32'))
    """
    dtype = np.dtype(dtype)
    # By kind, not issubdtype: numpy counts timedelta64 as an integer type,
    # and differentiating raw tick counts would silently depend on the unit.
    if dtype.kind in "fc":
        return dtype.newbyteorder("=")  # results are computed in native order
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(f"cannot differentiate data of dtype {dtype}")


def take(f: Any, axis: int, start: int, stop: int | None) -> Any:
    """``f[..., start:stop, ...]`` along ``axis`` (a view).

    Examples
    --------
    >>> take(np.arange(6).reshape(2, 3), 1, 1, 3)
    array([[1, 2],
           [4, 5]])
    """
    index = [slice(None)] * f.ndim
    index[axis] = slice(start, stop)
    return f[tuple(index)]


def as3d(x: Any, axis: int) -> Any:
    """``x`` seen as ``(pre, n, post)``: the axes before ``axis``, ``axis``, the axes after.

    Examples
    --------
    >>> as3d(np.zeros((2, 3, 4, 5)), 1).shape
    (2, 3, 20)
    """
    shape = x.shape
    return x.reshape(math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]))


def extended_pieces(center: Any, axis: int, left: Any, right: Any) -> list[Any]:
    """The non-empty parts of the extended block (left halo, block, right halo).

    Converted to the result dtype (integers and booleans to float64), so
    that every kernel does its arithmetic on the same numbers.

    Examples
    --------
    >>> [p.tolist() for p in extended_pieces(np.array([1, 2]), 0, None, np.array([3]))]
    [[1.0, 2.0], [3.0]]
    """
    otype = result_dtype(center.dtype)
    pieces = [p for p in (left, center, right) if p is not None and p.shape[axis] > 0]
    return [p if p.dtype == otype else p.astype(otype) for p in pieces]


def window(pieces: list[Any], axis: int, start: int, stop: int) -> Any:
    """Cells ``[start, stop)`` of the concatenation of ``pieces``, without concatenating it all.

    Examples
    --------
    >>> window([np.array([0, 1]), np.array([2, 3, 4])], 0, 1, 3)
    array([1, 2])
    """
    taken = []
    offset = 0
    for p in pieces:
        n = p.shape[axis]
        a, b = max(start - offset, 0), min(stop - offset, n)
        if b > a:
            taken.append(take(p, axis, a, b))
        offset += n
    return taken[0] if len(taken) == 1 else namespace(taken[0]).concatenate(taken, axis=axis)


def deliver(result: Any, out: Any) -> Any:
    """Return ``result``, or write it into ``out`` and return ``out`` (as a ufunc does).

    Examples
    --------
    >>> out = np.zeros(2)
    >>> deliver(np.ones(2), out) is out, out
    (True, array([1., 1.]))
    """
    if out is None or result is out:
        return result
    out[...] = result
    return out
