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
    x: Any, axis: int, stencil: Any, kernel: Kernel, dtype: np.dtype, *, what: str | None = None
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
    token = tokenize(x, axis, stencil, kernel, np.dtype(dtype))
    name = f"xgradient-{token}"
    halo_name = f"xgradient-halo-{token}"
    dsk = _graph(x, axis, stencil, kernel, dtype, name, halo_name, bounds)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[x])
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
) -> dict[Any, Any]:
    """The tasks of :func:`apply_chunked`: per chunk, its halo slices and its kernel call."""
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
        sides = []
        for side, pieces in enumerate((left, right)):
            keys = []
            for p, (k, where) in enumerate(pieces):
                src = (x.name, *idx[:axis], k, *idx[axis + 1 :])
                key = (halo_name, *idx, side, p)
                dsk[key] = (_halo_slice, src, where)
                keys.append(key)
            sides.append(keys)
        dsk[(name, *idx)] = (_run_block, kernel, axis, plan, sides[0], (x.name, *idx), sides[1])
    return dsk
