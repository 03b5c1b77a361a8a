"""The Dask halo exchange: apply a block kernel to every chunk of a dask array.

Each output block is one task.  It receives its input block untouched plus the
thin halo slices its stencil needs, cut from the neighbouring blocks by small
tasks, so no block is ever copied just to attach a halo and only
halo cells (not whole neighbours) travel between workers.  The halo is taken
along the differentiated axis only, and it may span several neighbouring
blocks when those are smaller than the stencil (chunks of a single element
are fine).  Halo slices are copies, not views, so a task holds exactly the
memory Dask accounts for and can spill: a view would pin its whole neighbour
block.  Every block gets its own slice of the dimension plan, so the graph
embeds coordinates block by block, never whole.

Data with a validity mask (``mask=``) is marked inside the same tasks: each
takes its block of the mask and the mask's halo slices beside the data's,
and marks block and halos before the kernel runs, so the marked copy never
becomes a task output of its own.

The same gathering runs on in-memory arrays (:func:`apply_in_memory`), which
is just the one-block case: the eager and the lazy paths share every formula.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .arrays import namespace
from .compat import dask_meta

__all__ = ["apply_chunked", "apply_in_memory", "halo_pieces"]

Kernel = Callable[..., Any]


def halo_pieces(bounds: Sequence[int], lo: int, hi: int) -> Iterator[tuple[int, int, int]]:
    """Split the global index range ``[lo, hi)`` into per-block slices.

    ``bounds`` are the block boundaries along the axis (``0, ..., n``).
    Indices outside ``[0, n)`` wrap around (periodic dimensions), so a range
    may start in the last block and continue in the first.

    Yields
    ------
    (block, start, stop)
        The block index and the local slice of that block, in order.

    Examples
    --------
    >>> list(halo_pieces([0, 1, 2, 5], 0, 3))
    [(0, 0, 1), (1, 0, 1), (2, 0, 1)]
    >>> list(halo_pieces([0, 3, 6], -2, 0))  # wraps to the end
    [(1, 1, 3)]
    """
    n = bounds[-1]
    g = lo
    while g < hi:
        wrapped = g % n
        # bisect, not np.searchsorted: the latter converts ``bounds`` to an
        # array on every call, quadratic in the number of chunks.
        block = bisect.bisect_right(bounds, wrapped) - 1
        # Stop at the end of this block, of the range, or at the seam.
        run = min(bounds[block + 1] - wrapped, hi - g)
        yield block, wrapped - bounds[block], wrapped - bounds[block] + run
        g += run


def _join(pieces: list[Any], axis: int) -> Any:
    if not pieces:
        return None
    if len(pieces) == 1:
        return pieces[0]
    return namespace(pieces[0]).concatenate(pieces, axis=axis)


def _halo_slice(block: Any, where: tuple[slice, ...]) -> Any:
    """A copy of ``block[where]``: the thin halo slice, owning its memory.

    A view would keep the whole neighbour block alive for as long as the
    halo waits for its consumer, while Dask's ``sizeof`` (``nbytes`` of the
    view) counts only the slice: memory a worker could neither see nor spill.
    """
    return block[where].copy()


def _run_block(
    kernel: Kernel, axis: int, plan: Any, left: list[Any], center: Any, right: list[Any]
) -> Any:
    return kernel(center, axis, plan, _join(left, axis), _join(right, axis))


def _run_masked_block(
    kernel: Kernel,
    mark: Kernel,
    axis: int,
    plan: Any,
    left: list[Any],
    center: Any,
    right: list[Any],
    valid_left: list[Any] | None,
    valid: Any,
    valid_right: list[Any] | None,
) -> Any:
    # valid_left/right None: the mask lacks the axis, and its block (size 1
    # along it) serves the halos too.
    halos = []
    for pieces, valid_pieces in ((left, valid_left), (right, valid_right)):
        halo = _join(pieces, axis)
        if halo is not None:
            halo = mark(halo, valid if valid_pieces is None else _join(valid_pieces, axis))
        halos.append(halo)
    return kernel(mark(center, valid), axis, plan, *halos)


def _empty_result(block: Any, dtype: np.dtype) -> Any:
    return block.astype(dtype)


def _axis_slice(ndim: int, axis: int, start: int, stop: int) -> tuple[slice, ...]:
    index = [slice(None)] * ndim
    index[axis] = slice(start, stop)
    return tuple(index)


def apply_in_memory(x: Any, axis: int, stencil: Any, kernel: Kernel) -> Any:
    """Apply ``kernel`` with ``stencil``'s plan to a whole in-memory array.

    Examples
    --------
    >>> from xgradient.kernels import numpy_gradient
    >>> from xgradient.stencils import plan_first_derivative
    >>> x = np.array([0.0, 1.0, 4.0, 9.0])
    >>> apply_in_memory(x, 0, plan_first_derivative(4, step=1.0), numpy_gradient)
    array([1., 2., 4., 5.])
    """
    n = x.shape[axis]
    lo, hi = stencil.support(0, n)
    bounds = [0, n]
    left = [x[_axis_slice(x.ndim, axis, a, b)] for _, a, b in halo_pieces(bounds, lo, 0)]
    right = [x[_axis_slice(x.ndim, axis, a, b)] for _, a, b in halo_pieces(bounds, n, hi)]
    # Computed at once: the plan may share the caller's positions.
    return _run_block(kernel, axis, stencil.block(0, n, copy=False), left, x, right)


def apply_chunked(
    x: Any,
    axis: int,
    stencil: Any,
    kernel: Kernel,
    dtype: np.dtype,
    *,
    what: str | None = None,
    valid: Any = None,
    mark: Kernel | None = None,
) -> Any:
    """Apply ``kernel`` block by block to a dask array, with halos along ``axis`` only.

    Builds the graph without computing anything.  The result has ``x``'s
    chunks and is identical, bit for bit, to :func:`apply_in_memory` on the
    computed array, whatever the chunking.

    Parameters
    ----------
    x
        A dask array with known chunks.
    axis
        The axis to differentiate along.
    stencil
        A dimension plan (see :mod:`xgradient.stencils`): ``support`` gives the
        halo each block needs, ``block`` the block's slice of the plan.
    kernel
        ``kernel(center, axis, block_plan, left, right)`` on in-memory blocks.
    dtype
        The result's dtype.
    what
        What is differentiated, for error messages (default: "along axis N").
    valid, mark
        A validity mask: a dask array of ``x``'s number of dimensions, with
        ``x``'s chunks along each axis, or size 1 (one chunk) along the axes
        it broadcasts along; and ``mark(block, valid_block)``, which every
        task applies to its block and halos before ``kernel`` (see
        :func:`xgradient.masking.valid_for`).

    Examples
    --------
    >>> import dask.array as da
    >>> from xgradient.kernels import numpy_gradient
    >>> from xgradient.stencils import plan_first_derivative
    >>> x = da.from_array(np.array([0.0, 1.0, 4.0, 9.0, 16.0]), chunks=2)
    >>> y = apply_chunked(x, 0, plan_first_derivative(5, step=1.0), numpy_gradient, x.dtype)
    >>> y.chunks, y.compute()
    (((2, 2, 1),), array([1., 2., 4., 6., 7.]))
    """
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    chunks = x.chunks[axis]
    if any(math.isnan(c) for c in chunks):
        raise ValueError(
            f"cannot differentiate {what or f'along axis {axis}'}: its chunk sizes along that "
            "axis are unknown; call .compute_chunk_sizes() on the dask array first"
        )
    bounds = [0, *itertools.accumulate(chunks)]
    masked = valid is not None
    if masked:
        _check_valid(x, valid)
    token = tokenize(x, axis, stencil, kernel, np.dtype(dtype), valid, mark)
    name = f"xgradient-{token}"
    halo_name = f"xgradient-halo-{token}"
    marking = (valid, mark, f"xgradient-valid-halo-{token}") if masked else None
    dsk = _graph(x, axis, stencil, kernel, dtype, name, halo_name, bounds, marking)
    dependencies = [x, valid] if masked else [x]
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=dependencies)
    return da.Array(graph, name, x.chunks, dtype=dtype, meta=dask_meta(x, np.dtype(dtype)))


def _graph(
    x: Any,
    axis: int,
    stencil: Any,
    kernel: Kernel,
    dtype: np.dtype,
    name: str,
    halo_name: str,
    bounds: list[int],
    marking: tuple[Any, Kernel, str] | None = None,
) -> dict[Any, Any]:
    """The tasks of :func:`apply_chunked`: per chunk, its halo slices and its kernel call.

    ``marking``: the mask, ``mark`` and a name for the mask's halo tasks,
    see :func:`_masked_task`.
    """
    chunks = x.chunks[axis]
    dsk: dict[Any, Any] = {}
    # Plans and halo layouts depend only on the block's position along `axis`.
    layouts = []
    for j in range(len(chunks)):
        start, stop = bounds[j], bounds[j + 1]
        if start == stop:
            layouts.append(None)
            continue
        lo, hi = stencil.support(start, stop)
        # (neighbour block, the halo's slice of it), built once per position.
        left = [(k, _axis_slice(x.ndim, axis, a, b)) for k, a, b in halo_pieces(bounds, lo, start)]
        right = [(k, _axis_slice(x.ndim, axis, a, b)) for k, a, b in halo_pieces(bounds, stop, hi)]
        layouts.append((stencil.block(start, stop), left, right))
    for idx in itertools.product(*(range(len(c)) for c in x.chunks)):
        if chunks[idx[axis]] == 0:
            # An empty block has no points to differentiate (and no edge).
            dsk[(name, *idx)] = (_empty_result, (x.name, *idx), np.dtype(dtype))
            continue
        plan, left, right = layouts[idx[axis]]
        sides = [
            _halo_tasks(dsk, x.name, halo_name, idx, axis, side, pieces)
            for side, pieces in enumerate((left, right))
        ]
        task = (_run_block, kernel, axis, plan, sides[0], (x.name, *idx), sides[1])
        if marking is not None:
            task = _masked_task(dsk, task, idx, axis, (left, right), *marking)
        dsk[(name, *idx)] = task
    return dsk


def _halo_tasks(
    dsk: dict[Any, Any],
    source: str,
    halo_name: str,
    idx: tuple[int, ...],
    axis: int,
    side: int,
    pieces: list[tuple[int, tuple[slice, ...]]],
) -> list[Any]:
    """Tasks cutting block ``idx``'s halo on ``side`` (0 left, 1 right) from ``source``; their keys."""
    keys = []
    for p, (k, where) in enumerate(pieces):
        key = (halo_name, *idx, side, p)
        dsk[key] = (_halo_slice, (source, *idx[:axis], k, *idx[axis + 1 :]), where)
        keys.append(key)
    return keys


def _masked_task(
    dsk: dict[Any, Any],
    task: tuple[Any, ...],
    idx: tuple[int, ...],
    axis: int,
    pieces: tuple[list[Any], list[Any]],
    valid: Any,
    mark: Kernel,
    halo_name: str,
) -> tuple[Any, ...]:
    """Block ``idx``'s kernel ``task``, made to mark its block and halos with ``valid`` first.

    The mask's halo slices are cut from the same neighbours as the data's
    (``pieces``: it has the data's chunks along the axis), unless the mask
    lacks the axis: then its block serves the halos too.  A block of the
    mask serves every data block along the axes it lacks.
    """
    _, kernel, _, plan, left, center, right = task
    vidx = tuple(i if n != 1 else 0 for i, n in zip(idx, valid.shape, strict=True))
    sides: list[list[Any] | None] = [None, None]
    if valid.shape[axis] != 1:
        for side in (0, 1):
            sides[side] = _halo_tasks(dsk, valid.name, halo_name, vidx, axis, side, pieces[side])
    return (
        _run_masked_block, kernel, mark, axis, plan, left, center, right,
        sides[0], (valid.name, *vidx), sides[1],
    )  # fmt: skip


def _check_valid(x: Any, valid: Any) -> None:
    """``valid`` has ``x``'s chunks, or one chunk of size 1, along every axis."""
    fits = valid.ndim == x.ndim and all(
        v == c or v == (1,) for v, c in zip(valid.chunks, x.chunks, strict=True)
    )
    if not fits:
        raise ValueError(
            f"the mask's chunks {valid.chunks} do not fit the data's {x.chunks}: along each "
            "axis they must be the data's, or one chunk of size 1"
        )
