"""The plain-array backend (``engine="numpy"``): the reference every other backend equals.

Only slicing, arithmetic and ``concatenate``, through the block's own array
namespace, so it runs on NumPy, CuPy and any array of the array API
standard, with any dtype numpy.gradient takes (complex included).  Its
expressions are numpy.gradient's, in numpy.gradient's order: the compiled
backends are tested bit for bit against it.

Every backend module has this interface (see :mod:`xgradient.backends`):
``takes(x)``, ``accepts(center, axis, plan, left, right)``, ``TAKES``,
``numpy_gradient(...)`` and ``weighted_stencil(...)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import deliver, extended_pieces, namespace, result_dtype, take, window
from ..stencils import BlockPlan, WeightedBlockPlan

__all__ = ["TAKES", "accepts", "numpy_gradient", "step_range", "takes", "weighted_stencil"]

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
