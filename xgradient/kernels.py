"""Kernels: apply a block plan to one in-memory block.

Pure array functions, no xarray and no dask.  A kernel receives the block
(``center``) and, separately, the thin halo slices its stencil needs from the
neighbouring blocks (``left``, ``right``), so callers never have to glue a
block to its halo first.

:func:`first_derivative` dispatches to a compiled, fused kernel for NumPy
arrays (numba) and for float CuPy arrays (CUDA, :mod:`xgradient._cuda`) when
one is available, and to :func:`first_derivative_reference` otherwise.  The
reference kernel only uses slicing, arithmetic and ``concatenate``, so it
also runs on other array types.  All of them evaluate exactly
numpy.gradient's expressions, in the same order, so their results are
bit-identical to each other and to ``numpy.gradient``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .stencils import BlockPlan, WeightedBlockPlan

__all__ = [
    "first_derivative",
    "first_derivative_reference",
    "result_dtype",
    "step_range",
    "weighted_stencil",
    "weighted_stencil_reference",
]


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


def _namespace(x: Any) -> Any:
    """The array namespace of ``x`` (NumPy for NumPy arrays)."""
    if isinstance(x, np.ndarray):
        return np
    get = getattr(x, "__array_namespace__", None)
    if get is not None:
        return get()
    module = type(x).__module__.split(".")[0]
    if module == "cupy":  # older CuPy without __array_namespace__
        import cupy

        return cupy
    return np


def _take(f: Any, axis: int, start: int, stop: int | None) -> Any:
    index = [slice(None)] * f.ndim
    index[axis] = slice(start, stop)
    return f[tuple(index)]


def _as3d(x: Any, axis: int) -> Any:
    """``x`` seen as ``(pre, n, post)``: the axes before ``axis``, ``axis``, the axes after."""
    shape = x.shape
    return x.reshape(math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]))


def _shaped(w: Any, ndim: int, axis: int) -> Any:
    shape = [1] * ndim
    shape[axis] = -1
    return w.reshape(shape)


def first_derivative_reference(
    center: Any, axis: int, plan: BlockPlan, left: Any = None, right: Any = None
) -> Any:
    """numpy.gradient's first derivative of one block, written with plain array operations.

    Parameters
    ----------
    center
        The block, an array with ``center.shape[axis]`` points to differentiate.
    axis
        The axis to differentiate along.
    plan
        The block's slice of the dimension plan (:class:`~xgradient.stencils.BlockPlan`).
    left, right
        Halo cells before and after the block (``plan.left`` and ``plan.right``
        cells along ``axis``); ``None`` when the plan asks for none.

    Returns
    -------
    array
        Derivative at the block's points, of :func:`result_dtype`.

    Examples
    --------
    >>> from xgradient.stencils import plan_first_derivative
    >>> f = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    >>> plan = plan_first_derivative(5, step=1.0)
    >>> first_derivative_reference(f, 0, plan.block(0, 5))
    array([1. , 1.5, 2.5, 3.5, 4. ])
    """
    xp = _namespace(center)
    g = _extended(center, axis, left, right)
    size = center.shape[axis]
    length = g.shape[axis]
    # Interior points, in g's coordinates: [first, last).
    first = plan.left + (1 if plan.at_start else 0)
    last = plan.left + size - (1 if plan.at_end else 0)
    out = []
    if plan.at_start:
        out.append(_edge(_take(g, axis, 0, plan.edge_order + 1), axis, plan, start=True))
    if last > first:
        f_prev = _take(g, axis, first - 1, last - 1)
        f_here = _take(g, axis, first, last)
        f_next = _take(g, axis, first + 1, last + 1)
        if plan.positions is None:
            # np.float64 so that float32 data is divided in float64, as numpy
            # does when the step comes from a coordinate array.
            interior = (f_next - f_prev) / (2.0 * np.float64(plan.step))
        else:
            dx1 = plan.dx[first - 1 : last - 1]
            dx2 = plan.dx[first:last]
            a = -(dx2) / (dx1 * (dx1 + dx2))
            b = (dx2 - dx1) / (dx1 * dx2)
            c = dx1 / (dx2 * (dx1 + dx2))
            a, b, c = (_shaped(xp.asarray(w), g.ndim, axis) for w in (a, b, c))
            interior = a * f_prev + b * f_here + c * f_next
        out.append(interior.astype(g.dtype, copy=False))
    if plan.at_end:
        window = _take(g, axis, length - plan.edge_order - 1, length)
        out.append(_edge(window, axis, plan, start=False))
    return out[0] if len(out) == 1 else xp.concatenate(out, axis=axis)


def edge_coefficients(plan: BlockPlan, *, start: bool) -> tuple[np.float64, ...]:
    """numpy.gradient's one-sided formula at the dimension's first or last point.

    The formula acts on a window of ``edge_order + 1`` cells at that end.
    For ``edge_order=1`` it is ``(f[1] - f[0]) / h`` and the result is
    ``(h,)``; for ``edge_order=2`` it is ``a f[0] + b f[1] + c f[2]`` and the
    result is ``(a, b, c)``, computed exactly as numpy.gradient computes them.
    """
    x = plan.positions
    uniform = x is None
    # The end spacings from the positions, as np.diff computes them, without
    # the spacings of the whole block.
    if plan.edge_order == 1:
        h = plan.step if uniform else (x[1] - x[0] if start else x[-1] - x[-2])
        return (np.float64(h),)
    if uniform:
        h = np.float64(plan.step)
        return (-1.5 / h, 2.0 / h, -0.5 / h) if start else (0.5 / h, -2.0 / h, 1.5 / h)
    # In the positions' dtype, as numpy computes them (float64 from the
    # xarray layer; the Python constants do not promote a float32).
    if start:
        h1, h2 = x[1] - x[0], x[2] - x[1]
        a = -(2.0 * h1 + h2) / (h1 * (h1 + h2))
        b = (h1 + h2) / (h1 * h2)
        c = -h1 / (h2 * (h1 + h2))
    else:
        h1, h2 = x[-2] - x[-3], x[-1] - x[-2]
        a = (h2) / (h1 * (h1 + h2))
        b = -(h2 + h1) / (h1 * h2)
        c = (2.0 * h2 + h1) / (h2 * (h1 + h2))
    return np.float64(a), np.float64(b), np.float64(c)


def _edge(window: Any, axis: int, plan: BlockPlan, *, start: bool) -> Any:
    """The one-sided value at one end, from the ``edge_order + 1`` cells there (axis kept)."""
    coefficients = edge_coefficients(plan, start=start)
    rows = [_take(window, axis, k, k + 1) for k in range(plan.edge_order + 1)]
    if plan.edge_order == 1:
        val = (rows[1] - rows[0]) / coefficients[0]
    else:
        a, b, c = coefficients
        val = a * rows[0] + b * rows[1] + c * rows[2]
    return val.astype(window.dtype, copy=False)


def first_derivative(
    center: Any,
    axis: int,
    plan: BlockPlan,
    left: Any = None,
    right: Any = None,
    *,
    parallel: bool | None = None,
    out: Any = None,
) -> Any:
    """First derivative of one block: the fused compiled kernel where possible.

    Same parameters and result as :func:`first_derivative_reference`, which
    it falls back to where no fused kernel applies: arrays other than NumPy
    and float CuPy ones, or numba (for NumPy) not installed.
    ``parallel`` picks the threaded (``True``) or serial (``False``) compiled
    kernel; ``None`` threads large arrays, from the main thread only.  With
    ``out`` the result is written there and ``out`` is returned, as with a
    ufunc: it must have the block's shape and a dtype the result casts to
    under ``casting="same_kind"``, and it may overlap the input.

    Examples
    --------
    >>> from xgradient.stencils import plan_first_derivative
    >>> f = np.array([[0.0, 1.0, 4.0], [0.0, 2.0, 8.0]])
    >>> plan = plan_first_derivative(3, positions=np.array([0.0, 1.0, 2.0]))
    >>> first_derivative(f, 1, plan.block(0, 3))
    array([[1., 2., 3.],
           [2., 4., 6.]])
    """
    from . import _cuda

    axis = _check_axis(axis, center)
    _check_halos(center, axis, plan, left, right)
    _check_out(out, center)
    fast = None
    if isinstance(center, np.ndarray):  # the only blocks numba's kernels take
        # Imported here: numba costs a process ~140 MiB of resident memory,
        # which a Dask worker given CuPy (or other) blocks need not pay.
        from . import _compiled

        fast = _compiled.first_derivative(
            center, axis, plan, left, right, parallel=parallel, out=out
        )
    if fast is None:
        fast = _cuda.first_derivative(center, axis, plan, left, right, out=out)
    if fast is not None:
        return fast
    return _into(first_derivative_reference(center, axis, plan, left, right), out)


def _check_axis(axis: int, center: Any) -> int:
    """``axis`` as a non-negative index (negative counts from the end, as in numpy)."""
    ndim = center.ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for a block of {ndim} dimension(s)")
    return axis % ndim


def _check_halos(center: Any, axis: int, plan: Any, left: Any, right: Any) -> None:
    """The block and its halos must have the sizes the plan counts on (the kernels index them)."""
    size = center.shape[axis]
    planned = getattr(plan, "weights", None)  # a weighted plan: one row per point
    planned = (
        len(planned)
        if planned is not None
        else None
        if plan.positions is None
        else len(plan.positions) - plan.left - plan.right
    )
    if planned is not None and planned != size:
        raise ValueError(f"the block plan is for {planned} points along axis {axis}, got {size}")
    for side, halo, needed in (("left", left, plan.left), ("right", right, plan.right)):
        got = 0 if halo is None else halo.shape[axis]
        if got != needed:
            raise ValueError(
                f"the block plan needs {needed} {side} halo cell(s) along axis {axis}, got {got}"
            )
        if halo is not None:
            expected = (*center.shape[:axis], got, *center.shape[axis + 1 :])
            if tuple(halo.shape) != expected:
                raise ValueError(
                    f"the {side} halo has shape {tuple(halo.shape)}; a block of shape "
                    f"{tuple(center.shape)} needs {expected} (the block's shape but along "
                    f"axis {axis})"
                )


def _check_out(out: Any, center: Any) -> None:
    """``out`` must have the block's shape and take the result dtype (ufunc rules)."""
    if out is None:
        return
    if tuple(out.shape) != tuple(center.shape):
        raise ValueError(f"out has shape {tuple(out.shape)}, but the block has {center.shape}")
    dtype = result_dtype(center.dtype)
    if not np.can_cast(dtype, out.dtype, casting="same_kind"):
        raise TypeError(
            f"out has dtype {out.dtype}, which cannot hold the {dtype} result (casting='same_kind')"
        )


def _into(result: Any, out: Any) -> Any:
    if out is None:
        return result
    out[...] = result
    return out


def step_range(positions: np.ndarray) -> tuple[float, float]:
    """The smallest and largest difference of consecutive 1-D positions.

    One compiled pass without temporaries where numba is available (a 1-D
    coordinate is as large as its data).  The differences are numpy.diff's
    values; the result is ``(nan, nan)`` if any of them is NaN, and
    ``(inf, -inf)`` for fewer than two positions.

    Examples
    --------
    >>> step_range(np.array([0.0, 1.0, 3.0, 6.0]))
    (1.0, 3.0)
    >>> step_range(np.array([0.0, np.nan, 1.0]))
    (nan, nan)
    """
    from . import _compiled

    fast = _compiled.step_range(positions)
    if fast is not None:
        return fast
    steps = positions[1:] - positions[:-1]
    if not steps.size:
        return (float("inf"), float("-inf"))
    if np.isnan(steps).any():
        return (float("nan"), float("nan"))
    return float(steps.min()), float(steps.max())


def extended_pieces(center: Any, axis: int, left: Any, right: Any) -> list[Any]:
    """The non-empty parts of the extended block (left halo, block, right halo).

    Converted to the result dtype (integers and booleans to float64), so
    that every kernel does its arithmetic on the same numbers.
    """
    otype = result_dtype(center.dtype)
    pieces = [p for p in (left, center, right) if p is not None and p.shape[axis] > 0]
    return [p if p.dtype == otype else p.astype(otype) for p in pieces]


def _extended(center: Any, axis: int, left: Any, right: Any) -> Any:
    """The extended block as one array (a copy, unless there is no halo)."""
    pieces = extended_pieces(center, axis, left, right)
    return pieces[0] if len(pieces) == 1 else _namespace(center).concatenate(pieces, axis=axis)


def weighted_stencil_reference(
    center: Any, axis: int, plan: WeightedBlockPlan, left: Any = None, right: Any = None
) -> Any:
    """Apply per-point finite-difference weights to one block, with plain array operations.

    The kernel for :class:`~xgradient.stencils.WeightedPlan` (periodic dims,
    fourth-order stencils, second derivatives).  Same calling convention as
    :func:`first_derivative_reference`.  Each point's weighted sum is
    accumulated in stencil order, so a point's value never depends on which
    block it sits in.

    Examples
    --------
    >>> from xgradient.stencils import plan_weighted
    >>> f = np.arange(6.0) ** 2
    >>> plan = plan_weighted(np.arange(6.0), order=2)
    >>> weighted_stencil_reference(f, 0, plan.block(0, 6)).round(12)
    array([2., 2., 2., 2., 2., 2.])
    """
    xp = _namespace(center)
    otype = result_dtype(center.dtype)
    g = _extended(center, axis, left, right)
    out = xp.empty(center.shape, dtype=otype)
    first, last = plan.interior
    if last > first:
        acc = None
        for k in range(2 * plan.radius + 1):
            start = plan.left + first - plan.radius + k
            w = _shaped(xp.asarray(plan.weights[first:last, k]), g.ndim, axis)
            term = w * _take(g, axis, start, start + last - first)
            acc = term if acc is None else acc + term
        index = [slice(None)] * g.ndim
        index[axis] = slice(first, last)
        out[tuple(index)] = acc
    _edge_rules([g], axis, plan, out)
    return out


def _window(pieces: list[Any], axis: int, start: int, stop: int) -> Any:
    """Cells ``[start, stop)`` of the concatenation of ``pieces``, without concatenating it all."""
    taken = []
    offset = 0
    for p in pieces:
        n = p.shape[axis]
        a, b = max(start - offset, 0), min(stop - offset, n)
        if b > a:
            taken.append(_take(p, axis, a, b))
        offset += n
    return taken[0] if len(taken) == 1 else _namespace(taken[0]).concatenate(taken, axis=axis)


def _edge_rules(pieces: list[Any], axis: int, plan: WeightedBlockPlan, out: Any) -> None:
    """Write the one-sided points of ``plan.edges`` into ``out``.

    ``pieces`` together form the extended block (left halo, block, right
    halo); each rule's cells are cut from them as a thin window.
    """
    for i, start, weights in plan.edges:
        window = _window(pieces, axis, start, start + len(weights))
        acc = None
        for k, w in enumerate(weights):
            term = np.float64(w) * _take(window, axis, k, k + 1)
            acc = term if acc is None else acc + term
        index = [slice(None)] * out.ndim
        index[axis] = slice(i, i + 1)
        out[tuple(index)] = acc


def weighted_stencil(
    center: Any,
    axis: int,
    plan: WeightedBlockPlan,
    left: Any = None,
    right: Any = None,
    *,
    parallel: bool | None = None,
    out: Any = None,
) -> Any:
    """Weighted stencil on one block: a fused kernel where possible, else the reference.

    The fused kernels are numba's for NumPy arrays and CUDA's for float CuPy
    arrays (:mod:`xgradient._cuda`).

    ``parallel`` and ``out`` as in :func:`first_derivative`.

    Examples
    --------
    >>> from xgradient.stencils import plan_weighted
    >>> plan = plan_weighted(np.arange(4.0), order=1, periodic=True, period=4.0)
    >>> f = np.array([0.0, 1.0, 0.0, -1.0])
    >>> halo_left, halo_right = f[-1:], f[:1]  # periodic: the halos wrap around
    >>> weighted_stencil(f, 0, plan.block(0, 4), halo_left, halo_right)
    array([ 1.,  0., -1.,  0.])
    """
    from . import _cuda

    axis = _check_axis(axis, center)
    _check_halos(center, axis, plan, left, right)
    _check_out(out, center)
    fast = None
    if isinstance(center, np.ndarray):  # the only blocks numba's kernels take
        # Imported here: numba costs a process ~140 MiB of resident memory,
        # which a Dask worker given CuPy (or other) blocks need not pay.
        from . import _compiled

        fast = _compiled.weighted_stencil(
            center, axis, plan, left, right, parallel=parallel, out=out
        )
    if fast is None:
        fast = _cuda.weighted_stencil(center, axis, plan, left, right, out=out)
    if fast is not None:
        return fast
    return _into(weighted_stencil_reference(center, axis, plan, left, right), out)
