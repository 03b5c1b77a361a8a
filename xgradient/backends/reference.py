"""The plain-array backend (``engine="numpy"``): the reference every other backend equals.

Only slicing, arithmetic and ``concatenate``, through the block's own array
namespace, so it runs on NumPy, CuPy and any array of the array API
standard, with any dtype numpy.gradient takes (complex included).  Its
expressions are numpy.gradient's, in numpy.gradient's order: the compiled
backends are tested bit for bit against it.

Every backend module has this interface (see :mod:`xgradient.backends`):
``takes(x)``, ``accepts(center, axis, plan, left, right)``, ``TAKES``,
``numpy_gradient(...)``, ``weighted_stencil(...)``, ``omit_missing(...)``
and ``mark_missing(...)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import deliver, extended_pieces, namespace, result_dtype, take, window
from ..missing import MissingGradientBlock, MissingStencilBlock
from ..stencils import BlockPlan, WeightedBlockPlan

__all__ = [
    "TAKES",
    "accepts",
    "mark_missing",
    "numpy_gradient",
    "omit_missing",
    "step_range",
    "takes",
    "trimmed_halos",
    "weighted_stencil",
]

TAKES = "any array"


def takes(x: Any) -> bool:
    """Every array: this is the backend of last resort."""
    return True


def accepts(center: Any, axis: int, plan: Any, left: Any, right: Any) -> bool:
    """Every block: this is the backend of last resort."""
    return True


def _shaped(w: Any, ndim: int, axis: int) -> Any:
    shape = [1] * ndim
    shape[axis] = -1
    return w.reshape(shape)


def _extended(center: Any, axis: int, left: Any, right: Any) -> Any:
    """The extended block as one array (a copy, unless there is no halo)."""
    pieces = extended_pieces(center, axis, left, right)
    return pieces[0] if len(pieces) == 1 else namespace(center).concatenate(pieces, axis=axis)


def numpy_gradient(
    center: Any,
    axis: int,
    plan: BlockPlan,
    left: Any = None,
    right: Any = None,
    *,
    parallel: bool | None = None,
    out: Any = None,
) -> Any:
    """numpy.gradient's first derivative of one block, with plain array operations.

    Parameters as :func:`xgradient.kernels.numpy_gradient` (already checked
    there); ``parallel`` is ignored.

    Examples
    --------
    >>> from xgradient.stencils import plan_first_derivative
    >>> f = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    >>> numpy_gradient(f, 0, plan_first_derivative(5, step=1.0).block(0, 5))
    array([1. , 1.5, 2.5, 3.5, 4. ])
    """
    xp = namespace(center)
    g = _extended(center, axis, left, right)
    size = center.shape[axis]
    length = g.shape[axis]
    # Interior points, in g's coordinates: [first, last).
    first = plan.left + (1 if plan.at_start else 0)
    last = plan.left + size - (1 if plan.at_end else 0)
    pieces = []
    if plan.at_start:
        pieces.append(_edge(take(g, axis, 0, plan.edge_order + 1), axis, plan, start=True))
    if last > first:
        f_prev = take(g, axis, first - 1, last - 1)
        f_here = take(g, axis, first, last)
        f_next = take(g, axis, first + 1, last + 1)
        if plan.positions is None:
            # np.float64 so that float32 data is divided in float64, as numpy
            # does when the step comes from a coordinate array.
            interior = (f_next - f_prev) / (2.0 * np.float64(plan.step))
        else:
            weights = plan.interior_weights(first - plan.left, last - plan.left)
            a, b, c = (_shaped(xp.asarray(w), g.ndim, axis) for w in weights)
            interior = a * f_prev + b * f_here + c * f_next
        pieces.append(interior.astype(g.dtype, copy=False))
    if plan.at_end:
        end = take(g, axis, length - plan.edge_order - 1, length)
        pieces.append(_edge(end, axis, plan, start=False))
    result = pieces[0] if len(pieces) == 1 else xp.concatenate(pieces, axis=axis)
    return deliver(result, out)


def _edge(cells: Any, axis: int, plan: BlockPlan, *, start: bool) -> Any:
    """The one-sided value at one end, from the ``edge_order + 1`` cells there (axis kept)."""
    coefficients = plan.edge_coefficients(start=start)
    rows = [take(cells, axis, k, k + 1) for k in range(plan.edge_order + 1)]
    if plan.edge_order == 1:
        val = (rows[1] - rows[0]) / coefficients[0]
    else:
        a, b, c = coefficients
        val = a * rows[0] + b * rows[1] + c * rows[2]
    return val.astype(cells.dtype, copy=False)


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
    """Apply per-point finite-difference weights to one block, with plain array operations.

    Each point's weighted sum is accumulated in stencil order, so a point's
    value never depends on which block it sits in.  Parameters as
    :func:`xgradient.kernels.weighted_stencil`; ``parallel`` is ignored.

    Examples
    --------
    >>> from xgradient.stencils import plan_weighted
    >>> f = np.arange(6.0) ** 2
    >>> plan = plan_weighted(np.arange(6.0), order=2)
    >>> weighted_stencil(f, 0, plan.block(0, 6)).round(12)
    array([2., 2., 2., 2., 2., 2.])
    """
    xp = namespace(center)
    g = _extended(center, axis, left, right)
    result = xp.empty(center.shape, dtype=result_dtype(center.dtype))
    first, last = plan.interior
    if last > first:
        acc = None
        for k in range(2 * plan.radius + 1):
            start = plan.left + first - plan.radius + k
            w = _shaped(xp.asarray(plan.weights[first:last, k]), g.ndim, axis)
            term = w * take(g, axis, start, start + last - first)
            acc = term if acc is None else acc + term
        index = [slice(None)] * g.ndim
        index[axis] = slice(first, last)
        result[tuple(index)] = acc
    _edge_rules([g], axis, plan, result)
    return deliver(result, out)


def _edge_rules(pieces: list[Any], axis: int, plan: WeightedBlockPlan, out: Any) -> None:
    """Write the one-sided points of ``plan.edges`` into ``out``.

    ``pieces`` together form the extended block (left halo, block, right
    halo); each rule's cells are cut from them as a thin window.
    """
    for i, start, weights in plan.edges:
        cells = window(pieces, axis, start, start + len(weights))
        acc = None
        for k, w in enumerate(weights):
            term = np.float64(w) * take(cells, axis, k, k + 1)
            acc = term if acc is None else acc + term
        index = [slice(None)] * out.ndim
        index[axis] = slice(i, i + 1)
        out[tuple(index)] = acc


def mark_missing(data: Any, valid: Any, *, parallel: bool | None = None) -> Any:
    """``data`` as :func:`~xgradient.arrays.result_dtype` with NaN where ``valid`` is False.

    ``valid`` (boolean) broadcasts against ``data``: a land-sea mask with
    size-1 axes where the data has more dims.  Parameters as
    :func:`xgradient.kernels.mark_missing`; ``parallel`` is ignored.

    Examples
    --------
    >>> mark_missing(np.array([[1, 2, 3]]), np.array([True, False, True]))
    array([[ 1., nan,  3.]])
    """
    xp = namespace(data)
    dtype = result_dtype(data.dtype)
    # The NaN as a 0-d array of the result dtype: a Python float would
    # promote float32 data to float64 under NumPy 1's value-based casting.
    nan = xp.asarray(np.nan, dtype=dtype)
    return xp.where(valid, data.astype(dtype, copy=False), nan)


def trimmed_halos(axis: int, plan: Any, left: Any, right: Any) -> tuple[Any, Any]:
    """The innermost halo cells of a missing-value plan's halos that its ``base`` plan needs."""
    base = plan.base
    inner_left = None if not base.left else take(left, axis, plan.left - base.left, plan.left)
    inner_right = None if not base.right else take(right, axis, 0, base.right)
    return inner_left, inner_right


def omit_missing(
    center: Any,
    axis: int,
    plan: MissingGradientBlock | MissingStencilBlock,
    left: Any = None,
    right: Any = None,
    *,
    parallel: bool | None = None,
    out: Any = None,
) -> Any:
    """A block's derivative whose stencils stop at missing values, with plain array operations.

    The rule of :mod:`xgradient.missing`, written as directly as it reads:
    count each point's valid neighbours on both sides, evaluate every
    formula the rule may pick for every point, and select.  The compiled
    backends are tested bit for bit against it.  Parameters as
    :func:`xgradient.kernels.omit_missing`; ``parallel`` is ignored.

    Examples
    --------
    >>> from xgradient.missing import plan_missing
    >>> from xgradient.stencils import plan_first_derivative
    >>> f = np.array([1.0, 2.0, np.nan, 4.0, 6.0, 9.0])
    >>> plan = plan_missing(plan_first_derivative(6, step=1.0))
    >>> omit_missing(f, 0, plan.block(0, 6))
    array([1. , 1. , nan, 2. , 2.5, 3. ])
    """
    xp = namespace(center)
    gradient = isinstance(plan, MissingGradientBlock)
    kernel = numpy_gradient if gradient else weighted_stencil
    result = kernel(center, axis, plan.base, *trimmed_halos(axis, plan, left, right))
    if center.dtype.kind in "biu":
        return deliver(result, out)  # integers are never missing
    g = _padded(center, axis, plan, left, right)
    m = center.shape[axis]
    with np.errstate(all="ignore"):  # formulas evaluated where the rule does not pick them
        dl, dr = _valid_run(g, axis, plan.reach, m, xp)
        if gradient:
            result = _gradient_rule(g, axis, plan, result, dl, dr, xp)
        else:
            result = _stencil_rule(g, axis, plan, result, dl, dr, xp)
        here = take(g, axis, plan.reach, plan.reach + m)
        result = xp.where(xp.isnan(here), xp.asarray(np.nan, dtype=result.dtype), result)
    return deliver(result, out)


def _padded(center: Any, axis: int, plan: Any, left: Any, right: Any) -> Any:
    """The extended block with ``reach`` cells each side: NaN beyond the dimension's ends."""
    xp = namespace(center)
    pieces = extended_pieces(center, axis, left, right)
    dtype = pieces[0].dtype
    for side, have in ((0, plan.left), (1, plan.right)):
        missing = plan.reach - have
        if missing:
            shape = list(center.shape)
            shape[axis] = missing
            pad = xp.full(tuple(shape), np.nan, dtype=dtype)
            pieces = [pad, *pieces] if side == 0 else [*pieces, pad]
    return xp.concatenate(pieces, axis=axis)


def _valid_run(g: Any, axis: int, reach: int, m: int, xp: Any) -> tuple[Any, Any]:
    """Valid cells following one another left (``dl``) and right (``dr``) of each point."""
    valid = ~xp.isnan(g)
    counts = []
    for sign in (-1, 1):
        alive = None
        count = xp.zeros(take(g, axis, 0, m).shape, dtype=np.int64)
        for k in range(1, reach + 1):
            start = reach + sign * k
            cell = take(valid, axis, start, start + m)
            alive = cell if alive is None else alive & cell
            count = count + alive
        counts.append(count)
    return counts[0], counts[1]


def _cells(g: Any, axis: int, reach: int, m: int, shift: int) -> Any:
    """Each block point's cell ``shift`` cells away, from the padded block ``g``."""
    return take(g, axis, reach + shift, reach + shift + m)


def _along(table: Any, ndim: int, axis: int, xp: Any) -> Any:
    """A per-point 1-D table shaped to broadcast along ``axis``."""
    return _shaped(xp.asarray(table), ndim, axis)


def _gradient_rule(
    g: Any, axis: int, plan: MissingGradientBlock, central: Any, dl: Any, dr: Any, xp: Any
) -> Any:
    """numpy.gradient's formulas at every point as the rule picks them (central: ``central``)."""
    m, reach, order = plan.size, plan.reach, plan.edge_order
    nan = xp.asarray(np.nan, dtype=central.dtype)
    result = xp.where((dl >= 1) & (dr >= 1), central, nan)
    for table, sign, pick in (
        (plan.first, 1, (dl == 0) & (dr >= order)),
        (plan.last, -1, (dr == 0) & (dl >= order)),
    ):
        f = [_cells(g, axis, reach, m, sign * k) for k in range(order + 1)]
        coefficient = [_along(table[:, j], g.ndim, axis, xp) for j in range(3)]
        if order == 1:  # (f[1] - f[0]) / h, from the run's end inwards
            value = (f[1] - f[0]) / coefficient[0] if sign > 0 else (f[0] - f[1]) / coefficient[0]
        elif sign > 0:
            value = coefficient[0] * f[0] + coefficient[1] * f[1] + coefficient[2] * f[2]
        else:
            value = coefficient[0] * f[2] + coefficient[1] * f[1] + coefficient[2] * f[0]
        result = xp.where(pick, value.astype(central.dtype, copy=False), result)
    return result


def _stencil_rule(
    g: Any, axis: int, plan: MissingStencilBlock, centred: Any, dl: Any, dr: Any, xp: Any
) -> Any:
    """The weighted stencils at every point as the rule picks them (centred: ``centred``)."""
    m, reach, r, width = plan.size, plan.reach, plan.radius, plan.width
    nan = xp.asarray(np.nan, dtype=centred.dtype)
    # A run shorter than the one-sided stencils is NaN, even where the
    # centred one fits (2r + 1 points, for a second derivative).
    long_enough = dl + dr + 1 >= width
    result = xp.where((dl >= r) & (dr >= r) & long_enough, centred, nan)
    for k in range(r):
        for table, first_cell, pick in (
            (plan.first, -k, (dl == k) & long_enough),
            (plan.last, k - width + 1, (dr == k) & long_enough),
        ):
            acc = None
            for j in range(width):
                w = _along(table[:, k, j], g.ndim, axis, xp)
                term = w * _cells(g, axis, reach, m, first_cell + j)
                acc = term if acc is None else acc + term
            result = xp.where(pick, acc.astype(centred.dtype, copy=False), result)
    return result


def step_range(positions: np.ndarray) -> tuple[float, float]:
    """The smallest and largest difference of consecutive 1-D positions.

    As :func:`xgradient.kernels.step_range`, with array operations.

    Examples
    --------
    >>> step_range(np.array([0.0, 1.0, 3.0, 6.0]))
    (1.0, 3.0)
    """
    steps = positions[1:] - positions[:-1]
    if not steps.size:
        return (float("inf"), float("-inf"))
    if np.isnan(steps).any():
        return (float("nan"), float("nan"))
    return float(steps.min()), float(steps.max())
