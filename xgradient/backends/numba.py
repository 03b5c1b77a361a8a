"""The numba backend (``engine="numba"``): fused compiled kernels for NumPy blocks.

Each kernel reads every input element once and writes every output element
once, with the block and its halo cells passed separately (no
concatenation).  The expressions are the reference backend's
(:mod:`xgradient.backends.reference`), evaluated in the same order and
without ``fastmath`` (no reassociation, no fused multiply-add), so results
are bit-identical to it.  numpy.gradient's non-uniform weights are
:func:`xgradient.stencils.gradient_weights` itself, compiled here.

Every kernel is compiled twice (:class:`Compiled`): serial, for Dask tasks,
whose scheduler already keeps the cores busy, and threaded, for large
in-memory arrays from the main thread.  Compiled code is cached on disk
(``cache=True``): the compile cost is paid once per machine.

A block is brought to the kernels' layout by :func:`_run`: a C-ordered
``(pre, m, post)`` view with the derivative along ``m`` (Fortran-ordered
blocks are seen transposed, subsets that do not merge are taken slab by
slab), then the row kernels (``post > 1``, tile by tile along ``post``)
or the last-axis kernels (``post == 1``) run on it.
"""

from __future__ import annotations

import itertools
import math
import threading
import types
from collections.abc import Callable
from typing import Any, NamedTuple

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from ..arrays import as3d, deliver, extended_pieces, result_dtype, take, window
from ..missing import MissingGradientBlock, MissingStencilBlock
from ..stencils import BlockPlan, WeightedBlockPlan, gradient_weights
from . import reference
from .reference import trimmed_halos

__all__ = [
    "PARALLEL_MIN_SIZE",
    "TAKES",
    "accepts",
    "mark_missing",
    "numpy_gradient",
    "omit_missing",
    "step_range",
    "takes",
    "weighted_stencil",
]

TAKES = "NumPy arrays of float32, float64, integer or boolean dtype in native byte order"
# Below this many elements, threads cost more than they save.
PARALLEL_MIN_SIZE = 1 << 18
# Slabs of a block taken one kernel call each (see `_by_slabs`) must be at
# least this large: a call costs about what copying 2**14 values does.
SLAB_MIN_SIZE = 1 << 15
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# No flags asked for (see _run).
_NO_FLAGS = np.zeros(0, dtype=np.uint8)
# Elements of a row processed together by the row kernels: three input tiles
# and one output tile (4 x 16 KiB in float32, 4 x 32 KiB in float64) fit in L2.
TILE = 4096
prange = numba.prange
# Inner loops run over unsigned indices: numba then knows an index cannot be
# negative, drops its wrap-around check, and LLVM vectorises the loop (6x
# faster for float32 rows, measured: the check alone kept it scalar).
_u = numba.uint64


def takes(x: Any) -> bool:
    """Whether the compiled kernels take arrays of ``x``'s type and dtype: see :data:`TAKES`."""
    if not isinstance(x, np.ndarray):
        return False
    if x.dtype.kind in "biu":
        return True  # computed as float64, as numpy.gradient does
    # ``isnative``, not ``byteorder == "="``: zarr v3 hands out explicitly
    # little-endian dtypes ("<f4"), native on most machines.
    return x.dtype in _DTYPES and x.dtype.isnative


def accepts(center: Any, axis: int, plan: Any, left: Any, right: Any) -> bool:
    """Whether the compiled kernels take this block: NumPy block and halos, see :func:`takes`."""
    halos_too = all(h is None or isinstance(h, np.ndarray) for h in (left, right))
    return takes(center) and halos_too


# -- compiling ---------------------------------------------------------------------


def _njit(**options: Any) -> Callable[[Any], Any]:
    # error_model="numpy": a division by zero gives inf or nan, as in
    # numpy.gradient (e.g. weights from spacings whose products underflow),
    # instead of raising ZeroDivisionError.
    return numba.njit(cache=True, nogil=True, error_model="numpy", **options)


def _inline(fn: Any) -> Any:
    return _njit(inline="always")(fn)


def _item(fn: Any) -> Any:
    # A parallel loop's body, compiled on its own (see gradient_gaps) and
    # serial: numba hands a caller's options on to the functions it calls
    # unless they set them, so without parallel=False the threaded kernel
    # would compile its own, parallel, copy of the body.  Its callers pass
    # the item's index as an int64: a parallel loop's index is unsigned, a
    # serial one's signed, and each type would compile a copy.
    return _njit(parallel=False)(fn)


class Compiled:
    """A kernel compiled twice: ``kernel[False]`` is serial, ``kernel[True]`` threaded.

    Each call's arguments are first brought to a few types (see
    :func:`_as_typed`), so that one compiled variant serves arrays that
    differ only in flags that do not change the machine code.
    """

    def __init__(self, fn: Any, writes: tuple[str, ...]) -> None:
        self.__doc__ = fn.__doc__
        names = fn.__code__.co_varnames[: fn.__code__.co_argcount]
        read = tuple(name not in writes for name in names)
        self._variants = {parallel: _variant(fn, parallel) for parallel in (False, True)}
        self._calls = {parallel: _typed_call(k, read) for parallel, k in self._variants.items()}

    @property
    def signatures(self) -> list[Any]:
        """The argument types compiled so far (or loaded from the cache), both variants."""
        return [sig for variant in self._variants.values() for sig in variant.signatures]

    def __getitem__(self, parallel: bool) -> Callable[..., Any]:
        return self._calls[bool(parallel)]


def _typed_call(kernel: Any, read: tuple[bool, ...]) -> Callable[..., Any]:
    """``kernel`` called with the arrays it only reads (``read``) through :func:`_as_typed`."""

    def call(*args: Any) -> Any:
        return kernel(*(_as_typed(a) if r else a for a, r in zip(args, read, strict=True)))

    return call


def compiled(*, writes: tuple[str, ...] = ()) -> Callable[[Any], Compiled]:
    """Decorator: a :class:`Compiled` kernel that writes the arrays named in ``writes``."""
    return lambda fn: Compiled(fn, writes)


# Arrays a kernel only reads, at most this large, are passed as C-ordered,
# writeable arrays (copied if need be): a copy of a few thousand values
# costs nothing next to a compile.
_SMALL_INPUT = 1 << 12


def _as_typed(x: Any) -> Any:
    """An array a kernel only reads: a small one as a C-ordered, writeable array.

    numba compiles a variant per argument type, and an array's type holds
    its layout (C, F or any) and whether it is writeable.  The small arrays
    (weights, positions, coefficients, thin blocks) are brought to one of
    each: a cached weight table (read-only) and a fresh one, or a small
    Dask chunk that is a view and one that is not, then share one variant.
    Each variant costs seconds to compile, and on a fresh machine compiling
    is most of the test suite's time.  Large arrays are passed as they are
    (typing them all read-only made some kernels slower, measured).
    """
    if (
        isinstance(x, np.ndarray)
        and x.size <= _SMALL_INPUT
        and not (x.flags.c_contiguous and x.flags.writeable)
    ):
        return np.array(x, order="C")
    return x


def _variant(fn: Any, parallel: bool) -> Any:
    # numba's on-disk cache is keyed by the function's qualified name and
    # source line, not by `parallel`: without distinct names the serial and
    # the threaded variant would load each other's code.
    name = f"{fn.__name__}_{'threaded' if parallel else 'serial'}"
    copy = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = name
    return _njit(parallel=parallel)(copy)


# -- compiled building blocks (inlined into the kernels) ----------------------------

_weights = _inline(gradient_weights)


@_inline
def _piece(lo, hi, part, parts):  # pragma: no cover - compiled
    # Piece `part` of `parts` of the index range [lo, hi): near-equal pieces
    # in order, empty ones at the end when the range is short.
    step = (hi - lo + parts - 1) // parts
    s0 = min(lo + part * step, hi)
    return s0, min(s0 + step, hi)


@_inline
def _tile(t, tiles, parts, post):  # pragma: no cover - compiled
    # Work item t of a row kernel: row p, piece `part` of the axis, and the
    # tile [q0, q1) along `post`.
    pt = t // parts
    q0 = (pt % tiles) * TILE
    return pt // tiles, t % parts, q0, min(q0 + TILE, post)


@_inline
def _weights_at(x, left, i, m, at_end):  # pragma: no cover - compiled
    # numpy.gradient's three weights for point i of a block, from the
    # extended block's positions x.  A point missing a neighbour (the
    # dimension's ends) gets a placeholder spacing repeating its other one,
    # so the discarded weights are finite; the edge formula replaces them.
    n = x.shape[0] - 1  # spacings
    k = left + i
    has1 = k >= 1
    has2 = k < n and not (at_end and i == m - 1)
    h1 = (x[k] - x[k - 1]) if has1 else ((x[k + 1] - x[k]) if has2 else 1.0)
    h2 = (x[k + 1] - x[k]) if has2 else h1
    return _weights(h1, h2)


# numpy.gradient's two expressions, each written once: a difference over a
# divisor (the uniform interior, the first-order ends) and three weights
# (the non-uniform interior, the second-order ends).


@_inline
def _difference(f0, f1, divisor):  # pragma: no cover - compiled
    return (f1 - f0) / divisor


@_inline
def _three(a, f0, b, f1, c, f2):  # pragma: no cover - compiled
    return a * f0 + b * f1 + c * f2


@_inline
def _edge_row(center, out, p, i, j0, width, a, b, c, q0, q1):  # pragma: no cover
    # numpy.gradient's one-sided formula for row i of tile [q0, q1) from
    # rows j0 .. j0 + width - 1: (f1 - f0) / a, or a f0 + b f1 + c f2.
    f0 = center[p, j0]
    f1 = center[p, j0 + 1]
    dst = out[p, i]
    bad = False
    if width == 2:
        for q in range(_u(q0), _u(q1)):
            v = _difference(f0[q], f1[q], a)
            dst[q] = v
            bad |= v != v
    else:
        f2 = center[p, j0 + 2]
        for q in range(_u(q0), _u(q1)):
            v = _three(a, f0[q], b, f1[q], c, f2[q])
            dst[q] = v
            bad |= v != v
    return bad


@_inline
def _neighbours(left, center, right, p, i):  # pragma: no cover - compiled
    # Rows i - 1 and i + 1 of row block p, from the halos at the block's ends.
    m = center.shape[1]
    prev = left[p, left.shape[1] - 1] if i == 0 else center[p, i - 1]
    nxt = right[p, 0] if i == m - 1 else center[p, i + 1]
    return prev, nxt


@_inline
def _row_ends(m, lo, hi, part, parts):  # pragma: no cover - compiled
    # For the last-axis kernels: whether this piece writes the row's first
    # and last points (whose neighbours may lie in the halos), and its range
    # of points with both neighbours in the row.
    first = lo == 0 and hi > 0
    start = 1 if first else lo
    last = hi == m and hi > start
    stop = m - 1 if last else hi
    s0, s1 = _piece(start, max(start, stop), part, parts)
    return first and part == 0, last and part == parts - 1, s0, s1


@_inline
def _first_neighbours(left, center, right, p):  # pragma: no cover - compiled
    # The cells either side of row p's first point: the left halo's last cell first.
    return left[p, left.shape[1] - 1], right[p, 0] if center.shape[1] == 1 else center[p, 1]


@_inline
def _last_neighbours(left, center, right, p):  # pragma: no cover - compiled
    # The cells either side of row p's last point: the right halo's first cell last.
    m = center.shape[1]
    return left[p, left.shape[1] - 1] if m == 1 else center[p, m - 2], right[p, 0]


# -- numpy.gradient's formulas --------------------------------------------------------


class EndRows(NamedTuple):
    """What the row kernels need to write the dimension's one-sided end rows themselves.

    The kernels unpack it before their parallel loops, which take no tuples.
    """

    width: int  # cells of the one-sided window: edge_order + 1
    at_start: bool  # the block holds the first point and its whole window
    start: tuple[Any, Any, Any]  # the first point's coefficients (see _edge_row)
    at_end: bool
    end: tuple[Any, Any, Any]


@compiled(writes=("out", "flags"))
def rows_gradient(
    left, center, right, out, flags, i0, i1, two_h, a, b, c, parts, ends
):  # pragma: no cover
    """numpy.gradient's interior on (pre, m, post) blocks, with the dimension's end rows.

    Uniform spacing (``(f[i+1] - f[i-1]) / two_h``) when ``a`` is empty,
    else the non-uniform weights ``a, b, c`` of each point.  Tile by tile
    along `post` and, within a tile, point by point along the axis: the
    input rows' tiles stay in cache between neighbouring points, so each
    input element comes from memory once.  `parts` also cuts the axis into
    pieces when there are few (row, tile) items (a 2-D field along its
    first axis), so that every thread gets work.  ``flags[0]`` is set when
    a result is NaN (if ``flags`` is not empty: see `omit_missing`).
    """
    pre, m, post = center.shape
    tiles = (post + TILE - 1) // TILE
    uniform = a.shape[0] == 0
    width, at_start, at_end = ends.width, ends.at_start, ends.at_end
    sa, sb, sc = ends.start
    ea, eb, ec = ends.end
    for t in prange(pre * tiles * parts):
        p, part, q0, q1 = _tile(t, tiles, parts, post)
        bad = False
        if at_start and part == 0:
            bad |= _edge_row(center, out, p, 0, 0, width, sa, sb, sc, q0, q1)
        if at_end and part == parts - 1:
            bad |= _edge_row(center, out, p, m - 1, m - width, width, ea, eb, ec, q0, q1)
        s0, s1 = _piece(i0, i1, part, parts)
        for i in range(s0, s1):
            prev, nxt = _neighbours(left, center, right, p, i)
            if uniform:
                bad |= _difference_row(prev, nxt, out[p, i], two_h, q0, q1)
            else:
                here = center[p, i]
                bad |= _weighted_row(prev, here, nxt, out[p, i], a[i], b[i], c[i], q0, q1)
        _flag(flags, bad)


@_inline
def _flag(flags, bad):  # pragma: no cover - compiled
    # Record that some result is NaN, for the missing-value rule (threads
    # may race here: they all write the same 1).
    if bad and flags.shape[0] > 0:
        flags[0] = 1


@_inline
def _difference_row(prev, nxt, dst, two_h, q0, q1):  # pragma: no cover - compiled
    bad = False
    for q in range(_u(q0), _u(q1)):
        v = _difference(prev[q], nxt[q], two_h)
        dst[q] = v
        bad |= v != v
    return bad


@_inline
def _weighted_row(prev, here, nxt, dst, wa, wb, wc, q0, q1):  # pragma: no cover - compiled
    bad = False
    for q in range(_u(q0), _u(q1)):
        v = _three(wa, prev[q], wb, here[q], wc, nxt[q])
        dst[q] = v
        bad |= v != v
    return bad


# The last-axis kernels index with unsigned integers too (`_u`): `i - 1`
# cannot then be negative.  With fewer rows
# than threads (1-D data) `parts` cuts each row into pieces; the first and
# the last piece also write the row's end points.  (One kernel with a
# branch per spacing kind between these loops crashed numba's threaded
# variant: three kernels, each formula still written once, in _difference
# and _three.)


@compiled(writes=("out", "flags"))
def last_uniform(left, center, right, out, flags, i0, i1, two_h, parts):  # pragma: no cover
    """numpy.gradient's uniform interior on (pre, m) blocks along the contiguous last axis."""
    pre, m = center.shape
    one = numba.uint64(1)
    for t in prange(pre * parts):
        p = t // parts
        part = t % parts
        row = center[p]
        dst = out[p]
        first, last, s0, s1 = _row_ends(m, i0, i1, part, parts)
        bad = False
        if first:
            prev, nxt = _first_neighbours(left, center, right, p)
            v = _difference(prev, nxt, two_h)
            dst[0] = v
            bad |= v != v
        if last:
            prev, nxt = _last_neighbours(left, center, right, p)
            v = _difference(prev, nxt, two_h)
            dst[m - 1] = v
            bad |= v != v
        for i in range(numba.uint64(s0), numba.uint64(s1)):
            v = _difference(row[i - one], row[i + one], two_h)
            dst[i] = v
            bad |= v != v
        _flag(flags, bad)


@compiled(writes=("out", "flags"))
def last_weighted(left, center, right, out, flags, i0, i1, a, b, c, parts):  # pragma: no cover
    """numpy.gradient's non-uniform interior along the last axis (weights a, b, c per point)."""
    pre, m = center.shape
    one = numba.uint64(1)
    for t in prange(pre * parts):
        p = t // parts
        part = t % parts
        row = center[p]
        dst = out[p]
        first, last, s0, s1 = _row_ends(m, i0, i1, part, parts)
        bad = False
        if first:
            prev, nxt = _first_neighbours(left, center, right, p)
            v = _three(a[0], prev, b[0], row[0], c[0], nxt)
            dst[0] = v
            bad |= v != v
        if last:
            prev, nxt = _last_neighbours(left, center, right, p)
            v = _three(a[m - 1], prev, b[m - 1], row[m - 1], c[m - 1], nxt)
            dst[m - 1] = v
            bad |= v != v
        for i in range(numba.uint64(s0), numba.uint64(s1)):
            v = _three(a[i], row[i - one], b[i], row[i], c[i], row[i + one])
            dst[i] = v
            bad |= v != v
        _flag(flags, bad)


@compiled(writes=("out", "flags"))
def last_positions(
    left, center, right, out, flags, i0, i1, x, offset, at_end, parts
):  # pragma: no cover
    """last_weighted for a single row, its weights computed on the fly from the positions x.

    A 1-D block's weights would be three arrays as large as the data,
    written and read back once: computing them in the loop is cheaper.
    """
    pre, m = center.shape
    one = numba.uint64(1)
    base = numba.uint64(offset)
    for t in prange(pre * parts):
        p = t // parts
        part = t % parts
        row = center[p]
        dst = out[p]
        first, last, s0, s1 = _row_ends(m, i0, i1, part, parts)
        bad = False
        if first:
            prev, nxt = _first_neighbours(left, center, right, p)
            a, b, c = _weights_at(x, offset, 0, m, at_end)
            v = _three(a, prev, b, row[0], c, nxt)
            dst[0] = v
            bad |= v != v
        if last:
            prev, nxt = _last_neighbours(left, center, right, p)
            a, b, c = _weights_at(x, offset, m - 1, m, at_end)
            v = _three(a, prev, b, row[m - 1], c, nxt)
            dst[m - 1] = v
            bad |= v != v
        for i in range(numba.uint64(s0), numba.uint64(s1)):
            h1 = x[base + i] - x[base + i - one]
            h2 = x[base + i + one] - x[base + i]
            a, b, c = _weights(h1, h2)
            v = _three(a, row[i - one], b, row[i], c, row[i + one])
            dst[i] = v
            bad |= v != v
        _flag(flags, bad)


@compiled()
def interior_weights(x, left, m, at_end):  # pragma: no cover - compiled
    """numpy.gradient's weights (a, b, c) of a block's m points, from the positions x.

    Point i of the block sits at index left + i of the extended block.  The
    points with both spacings go through a loop without branches (it
    vectorises, and threads for long 1-D blocks); the at most two others get
    placeholders (see _weights_at).
    """
    a = np.empty(m)
    b = np.empty(m)
    c = np.empty(m)
    n = x.shape[0] - 1  # spacings
    lo = max(0, 1 - left)
    hi = max(min(m - 1 if at_end else m, n - left), lo)
    for i in prange(lo, hi):
        a[i], b[i], c[i] = _weights(x[left + i] - x[left + i - 1], x[left + i + 1] - x[left + i])
    for i in range(lo):
        a[i], b[i], c[i] = _weights_at(x, left, i, m, at_end)
    for i in range(hi, m):
        a[i], b[i], c[i] = _weights_at(x, left, i, m, at_end)
    return a, b, c


@compiled(writes=("out", "flags"))
def edge_plane(center, out, flags, i, j0, width, coefficients):  # pragma: no cover - compiled
    """numpy.gradient's one-sided formula for point i of a (pre, m, post) block, in place."""
    pre, post = center.shape[0], center.shape[2]
    tiles = (post + TILE - 1) // TILE
    a, b, c = coefficients  # parallel loops take no tuples
    for t in prange(pre * tiles):
        p = t // tiles
        q0 = (t % tiles) * TILE
        _flag(flags, _edge_row(center, out, p, i, j0, width, a, b, c, q0, min(q0 + TILE, post)))


@_njit()
def _step_range(x):  # pragma: no cover - compiled
    lo = np.inf
    hi = -np.inf
    for i in range(1, x.shape[0]):
        d = x[i] - x[i - 1]  # np.diff's value
        if d != d:
            return np.nan, np.nan
        lo = min(lo, d)
        hi = max(hi, d)
    return lo, hi


# -- general weights --------------------------------------------------------------------


class EdgeRules(NamedTuple):
    """A weighted plan's one-sided points whose windows lie inside the block, as arrays."""

    index: np.ndarray  # the point
    first: np.ndarray  # the first block row of its window
    length: np.ndarray  # the window's length
    weights: np.ndarray  # its weights, zero-padded to the longest


@_inline
def _rule_rows(center, out, p, part, parts, i0, i1, rules, q0, acc):  # pragma: no cover
    # The one-sided points of tile [q0, q0 + acc.size), from the arrays of
    # EdgeRules `rules` (index, first, length, weights), accumulated in
    # float64 in stencil order, as the reference does.
    index, first, length, weights = rules
    u0 = _u(q0)
    size = _u(acc.shape[0])
    bad = False
    for e in range(index.shape[0]):
        ie = index[e]
        if not ((ie < i0 and part == 0) or (ie >= i1 and part == parts - 1)):
            continue
        for k in range(length[e]):
            src = center[p, first[e] + k]
            wk = weights[e, k]
            if k == 0:
                for q in range(size):
                    acc[q] = wk * src[u0 + q]
            else:
                for q in range(size):
                    acc[q] = acc[q] + wk * src[u0 + q]
        dst = out[p, ie]
        for q in range(size):
            dst[u0 + q] = acc[q]
            bad |= acc[q] != acc[q]
    return bad


@_inline
def _stencil_row_inside(center, dst, i, wt, q0, q1):  # pragma: no cover - compiled
    # Point i with a three- or five-point stencil inside the block: the sum
    # in stencil order as one expression, 1.5x faster than term by term.
    width = wt.shape[0]
    f1 = center[i - 1]
    f2 = center[i]
    f3 = center[i + 1]
    w1 = wt[0 if width == 3 else 1, i]
    w2 = wt[1 if width == 3 else 2, i]
    w3 = wt[2 if width == 3 else 3, i]
    bad = False
    if width == 3:
        for q in range(_u(q0), _u(q1)):
            v = w1 * f1[q] + w2 * f2[q] + w3 * f3[q]
            dst[q] = v
            bad |= v != v
    else:
        f0 = center[i - 2]
        f4 = center[i + 2]
        w0 = wt[0, i]
        w4 = wt[4, i]
        for q in range(_u(q0), _u(q1)):
            v = w0 * f0[q] + w1 * f1[q] + w2 * f2[q] + w3 * f3[q] + w4 * f4[q]
            dst[q] = v
            bad |= v != v
    return bad


@_inline
def _stencil_row_halo(left, center, right, dst, p, i, wt, q0, acc):  # pragma: no cover
    # Point i whose stencil reaches a halo (or is wider than five points),
    # accumulated in float64 term by term in stencil order.
    width = wt.shape[0]
    r = (width - 1) // 2
    m = center.shape[1]
    size = acc.shape[0]
    u0, n = _u(q0), _u(size)
    for k in range(width):
        j = i - r + k
        if j < 0:
            src = left[p, left.shape[1] + j, q0 : q0 + size]
        elif j >= m:
            src = right[p, j - m, q0 : q0 + size]
        else:
            src = center[p, j, q0 : q0 + size]
        wk = wt[k, i]
        if k == 0:
            for q in range(n):
                acc[q] = wk * src[q]
        else:
            for q in range(n):
                acc[q] = acc[q] + wk * src[q]
    bad = False
    for q in range(n):
        dst[u0 + q] = acc[q]
        bad |= acc[q] != acc[q]
    return bad


@compiled(writes=("out", "flags"))
def rows_stencil(left, center, right, out, flags, i0, i1, wt, parts, rules):  # pragma: no cover
    """General weights wt[k, i] on (pre, m, post) blocks, tile by tile like rows_gradient.

    Sums are accumulated in float64, term by term in stencil order, as the
    reference does, so float32 results match it bit for bit.  `rules`
    (EdgeRules) are the dimension's one-sided points, written tile by tile
    while their rows are in cache.
    """
    pre, m, post = center.shape
    width = wt.shape[0]
    r = (width - 1) // 2
    tiles = (post + TILE - 1) // TILE
    lo = min(max(i0, r), i1) if width == 3 or width == 5 else i1
    hi = max(min(i1, m - r), lo)
    index, first, length, weights = rules  # parallel loops take no tuples
    for t in prange(pre * tiles * parts):
        p, part, q0, q1 = _tile(t, tiles, parts, post)
        acc = np.empty(q1 - q0, dtype=np.float64)
        rules_ = (index, first, length, weights)
        bad = _rule_rows(center, out, p, part, parts, i0, i1, rules_, q0, acc)
        s0, s1 = _piece(i0, i1, part, parts)
        for i in range(s0, s1):
            if lo <= i < hi:
                bad |= _stencil_row_inside(center[p], out[p, i], i, wt, q0, q1)
            else:
                bad |= _stencil_row_halo(left, center, right, out[p, i], p, i, wt, q0, acc)
        _flag(flags, bad)


@compiled(writes=("out", "flags"))
def last_stencil(left, center, right, out, flags, i0, i1, wt, parts):  # pragma: no cover
    """General weights on (pre, m) blocks along the last axis (three or five points)."""
    pre, m = center.shape
    width = wt.shape[0]
    r = (width - 1) // 2
    hl = left.shape[1]
    one = numba.uint64(1)
    two = numba.uint64(2)
    # Points whose stencil stays inside the block take the fast loops.
    lo = min(max(i0, r), i1)
    hi = max(min(i1, m - r), lo)
    for t in prange(pre * parts):
        p = t // parts
        part = t % parts
        row = center[p]
        dst = out[p]
        # The points whose stencil reaches a halo, [i0, lo) and [hi, i1):
        # a few at most, by piece 0.
        slow = (lo - i0) + (i1 - hi) if part == 0 else 0
        bad = False
        for s in range(slow):
            i = i0 + s if s < lo - i0 else hi + s - (lo - i0)
            acc = 0.0
            for k in range(width):
                j = i - r + k
                v = left[p, hl + j] if j < 0 else right[p, j - m] if j >= m else row[j]
                acc = wt[k, i] * v if k == 0 else acc + wt[k, i] * v
            dst[i] = acc
            bad |= acc != acc
        w0 = wt[0]
        w1 = wt[1]
        w2 = wt[2]
        s0, s1 = _piece(lo, hi, part, parts)
        if width == 3:
            for i in range(numba.uint64(s0), numba.uint64(s1)):
                v = w0[i] * row[i - one] + w1[i] * row[i] + w2[i] * row[i + one]
                dst[i] = v
                bad |= v != v
        else:
            w3 = wt[3]
            w4 = wt[4]
            for i in range(numba.uint64(s0), numba.uint64(s1)):
                v = (
                    w0[i] * row[i - two]
                    + w1[i] * row[i - one]
                    + w2[i] * row[i]
                    + w3[i] * row[i + one]
                    + w4[i] * row[i + two]
                )
                dst[i] = v
                bad |= v != v
        _flag(flags, bad)


@compiled(writes=("dst", "flags"))
def edge_rule(cells, dst, flags, w):  # pragma: no cover - compiled
    """One one-sided point: dst[p, q] = sum_k w[k] cells[p, k, q], in float64, in order."""
    pre, length, post = cells.shape
    tiles = (post + TILE - 1) // TILE
    for t in prange(pre * tiles):
        p = t // tiles
        q0 = (t % tiles) * TILE
        bad = False
        for q in range(_u(q0), _u(min(q0 + TILE, post))):
            acc = w[0] * cells[p, 0, q]
            for k in range(1, length):
                acc = acc + w[k] * cells[p, k, q]
            dst[p, q] = acc
            bad |= acc != acc
        _flag(flags, bad)


# -- from a block to the kernels' layout -------------------------------------------------


class _Block(NamedTuple):
    """A block as given (``center``, ``axis``, halos, ``result`` to write) and as the kernels see it."""

    center: np.ndarray
    axis: int
    left: np.ndarray | None
    right: np.ndarray | None
    result: np.ndarray
    c3: np.ndarray  # (pre, m, post) views of the block, its halos and the result
    l3: np.ndarray
    r3: np.ndarray
    o3: np.ndarray
    parallel: bool
    flags: np.ndarray  # flags[0] set by the kernels if a result is NaN; empty: not asked

    @property
    def along_last(self) -> bool:
        return self.c3.shape[2] == 1

    def operands(self) -> list[np.ndarray]:
        """The halos, block and result (2-D ``(pre, m)`` for the last-axis kernels), the flags."""
        arrays = [self.l3, self.c3, self.r3, self.o3]
        if self.along_last:
            arrays = [a.reshape(a.shape[:2]) for a in arrays]
        return [*arrays, self.flags]


def numpy_gradient(
    center: np.ndarray,
    axis: int,
    plan: BlockPlan,
    left: np.ndarray | None = None,
    right: np.ndarray | None = None,
    *,
    parallel: bool | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Compiled numpy.gradient on one block.

    Parameters as :func:`xgradient.kernels.numpy_gradient` (checked there,
    with :func:`accepts`).  ``parallel=None`` uses threads for large blocks,
    but only from the main thread, so a Dask scheduler's parallelism is not
    oversubscribed.

    Examples
    --------
    >>> from xgradient.stencils import plan_first_derivative
    >>> f = np.array([[0.0, 1.0, 4.0], [0.0, 2.0, 8.0]])
    >>> numpy_gradient(f, 1, plan_first_derivative(3, step=1.0).block(0, 3))
    array([[1., 2., 3.],
           [2., 4., 6.]])
    """
    return _run(_gradient_3d, center, axis, plan, left, right, parallel, out, _NO_FLAGS)


def weighted_stencil(
    center: np.ndarray,
    axis: int,
    plan: WeightedBlockPlan,
    left: np.ndarray | None = None,
    right: np.ndarray | None = None,
    *,
    parallel: bool | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Compiled general weighted stencil on one block (three- or five-point interiors).

    Parameters as :func:`xgradient.kernels.weighted_stencil`.

    Examples
    --------
    >>> from xgradient.stencils import plan_weighted
    >>> plan = plan_weighted(np.arange(6.0), order=2)
    >>> weighted_stencil(np.arange(6.0) ** 2, 0, plan.block(0, 6)).round(12)
    array([2., 2., 2., 2., 2., 2.])
    """
    return _run(_stencil_3d, center, axis, plan, left, right, parallel, out, _NO_FLAGS)


def _run(
    apply: Callable[[_Block, Any], None],
    center: np.ndarray,
    axis: int,
    plan: Any,
    left: np.ndarray | None,
    right: np.ndarray | None,
    parallel: bool | None,
    out: np.ndarray | None,
    flags: np.ndarray,
) -> np.ndarray:
    """Bring a block to the kernels' layout, ``apply`` the kernels, deliver the result.

    The kernels set ``flags[0]`` if they write a NaN (unless ``flags`` is empty).
    """
    if center.dtype.kind in "biu":
        center = center.astype(np.float64)
    if center.ndim > 1 and center.flags.f_contiguous and not center.flags.c_contiguous:
        # A Fortran-ordered block is a C-ordered one with its axes reversed.
        flipped = (None if h is None else h.T for h in (left, right))
        target = None if out is None else out.T
        transposed = center.T, center.ndim - 1 - axis, plan, *flipped
        result = _run(apply, *transposed, parallel, target, flags)
        return out if out is not None else result.T
    parallel = _threads(center, parallel)
    order = _AxisOrder.of(center, axis)
    if order.by_slabs(center):
        return _slab_by_slab(apply, center, axis, plan, left, right, parallel, out, flags)
    c3, l3, r3 = order.operands(center, left, right)
    result = _target(out, center.shape, c3.dtype, (center, left, right))
    o3 = order.seen(result, c3.shape)
    apply(_Block(center, axis, left, right, result, c3, l3, r3, o3, parallel, flags), plan)
    return deliver(result, out)


def _threads(center: np.ndarray, parallel: bool | None) -> bool:
    if parallel is not None:
        return bool(parallel)
    # Threads only from the main thread: inside Dask tasks (or any other
    # pool) the scheduler already keeps the cores busy.
    return (
        center.size >= PARALLEL_MIN_SIZE and threading.current_thread() is threading.main_thread()
    )


def _slab_by_slab(
    apply: Callable[[_Block, Any], None],
    center: np.ndarray,
    axis: int,
    plan: Any,
    left: np.ndarray | None,
    right: np.ndarray | None,
    parallel: bool,
    out: np.ndarray | None,
    flags: np.ndarray,
) -> np.ndarray:
    """The block slab by slab along its first axis, each slab read where it lies."""
    result = _target(out, center.shape, center.dtype, (center, left, right))
    for k in range(center.shape[0]):
        halos = (None if h is None else h[k] for h in (left, right))
        _run(apply, center[k], axis - 1, plan, *halos, parallel, result[k], flags)
    return deliver(result, out)


class _AxisOrder:
    """The order in which the kernels see a block's axes, as ``(pre, m, post)``.

    Normally the block's own: ``pre`` is the axes before ``axis`` and
    ``post`` those after, merged.  A subset of a larger array differentiated
    along its first axis (``t[:, 10:50, 20:80]`` along time) has axes after
    ``axis`` that do not merge into one; then only their trailing run that
    does is ``post`` and the others become ``pre``, so the block is read
    where it lies instead of copied.  The (C-ordered) result is seen in the
    same order, which is a view only when no axis longer than 1 precedes
    ``axis``.
    """

    def __init__(self, axes: tuple[int, ...], axis: int) -> None:
        self.axes = axes
        self.axis = axis  # the differentiated axis's place in `axes`

    @classmethod
    def of(cls, x: np.ndarray, axis: int) -> _AxisOrder:
        k, run = x.ndim, x.itemsize
        while k - 1 > axis and (x.shape[k - 1] == 1 or x.strides[k - 1] == run):
            run *= x.shape[k - 1]
            k -= 1
        if k == axis + 1 or math.prod(x.shape[:axis]) != 1:
            return cls(tuple(range(x.ndim)), axis)
        axes = (*range(axis), *range(axis + 1, k), axis, *range(k, x.ndim))
        return cls(axes, axes.index(axis))

    def by_slabs(self, x: np.ndarray) -> bool:
        """Whether to take ``x`` slab by slab: seen whole, the kernels would need a copy.

        A subset differentiated along a later axis, ``(t, y[a:b], x[c:d])``
        along x: t and y do not merge.  Slab by slab along the first axis,
        each slab is read in place.
        """
        return (
            self.axes[self.axis] > 0
            and x.ndim > 2
            and x[0].size >= SLAB_MIN_SIZE
            and x.strides[-1] == x.itemsize
            and not self._merges(x)
        )

    def _merges(self, x: np.ndarray) -> bool:
        """Whether ``x.transpose(axes)`` is seen as ``(pre, m, post)`` without a copy."""
        shape = [x.shape[a] for a in self.axes]
        strides = [x.strides[a] for a in self.axes]
        for group in (range(self.axis), range(self.axis + 1, len(self.axes))):
            dims = [d for d in group if shape[d] != 1]
            if any(strides[a] != strides[b] * shape[b] for a, b in itertools.pairwise(dims)):
                return False
        return True

    def operands(self, center: np.ndarray, left: Any, right: Any) -> tuple[np.ndarray, ...]:
        """The block and its halos as ``(pre, m, post)``: the block in place when it can be.

        The kernels read a block where it lies when its innermost axis is
        contiguous, as in a subset of a larger array or Dask chunks that are
        views of one array: a copy would cost a pass and fresh pages (~2x
        the kernel).  Other layouts are copied, so the inner loops always
        see unit strides and vectorise.  Halos are thin: made contiguous,
        they cost nothing.
        """
        c3 = as3d(center.transpose(self.axes), self.axis)
        if not _inner_contiguous(c3):
            c3 = np.ascontiguousarray(c3)
        empty = np.empty((c3.shape[0], 0, c3.shape[2]), dtype=c3.dtype)
        halos = (
            empty
            if h is None
            else np.ascontiguousarray(as3d(h.transpose(self.axes), self.axis), dtype=c3.dtype)
            for h in (left, right)
        )
        return (c3, *halos)

    def seen(self, result: np.ndarray, shape3: tuple[int, ...]) -> np.ndarray:
        """``result`` seen as the block is, a view: the kernels write through it."""
        o3 = as3d(result.transpose(self.axes), self.axis)
        if o3.shape != shape3 or not np.may_share_memory(o3, result):
            raise AssertionError("the result cannot be seen as the block's (pre, m, post)")
        return o3


def _inner_contiguous(c3: np.ndarray) -> bool:
    """Whether the kernels' innermost loop runs over adjacent, aligned elements.

    That loop is along ``post`` (the row kernels), or along the
    differentiated axis when ``post`` is 1 (the last-axis kernels).
    """
    if c3.flags.c_contiguous:
        return True
    _, m, post = c3.shape
    inner = c3.strides[2] if post > 1 else c3.strides[1] if m > 1 else c3.itemsize
    return bool(c3.flags.aligned and inner == c3.itemsize)


def _target(
    out: np.ndarray | None, shape: tuple[int, ...], dtype: np.dtype, inputs: tuple[Any, ...]
) -> np.ndarray:
    """Where a kernel writes: ``out`` itself when the kernels can, else a new array.

    Not ``out`` when it may overlap an input: the kernels would overwrite
    cells they have yet to read (the result is then copied into ``out``,
    as numpy's ufuncs do).
    """
    if (
        out is not None
        and out.shape == shape
        and out.dtype == dtype
        and out.flags.c_contiguous
        and out.flags.writeable
        and not any(a is not None and np.may_share_memory(out, a) for a in inputs)
    ):
        return out
    return np.empty(shape, dtype=dtype)


def _parts(b: _Block, span: int) -> int:
    """How many pieces the kernels cut the axis into, so every thread has work.

    The row kernels' work items are (row, tile) pairs: a 2-D field
    differentiated along its first axis (pre = 1, fewer than TILE columns)
    has a single one.  The last-axis kernels' items are rows: 1-D data has
    one.  Pieces of the last axis are kept to TILE points or more.
    """
    if not b.parallel:
        return 1
    wanted = 4 * numba.get_num_threads()
    pre, _, post = b.c3.shape
    items = pre if b.along_last else pre * -(-post // TILE)
    if items >= wanted:
        return 1
    most = span // TILE if b.along_last else span
    return max(1, min(most, -(-wanted // items)))


# -- numpy.gradient's formulas on a block ---------------------------------------------------


def _gradient_3d(b: _Block, plan: BlockPlan) -> None:
    """numpy.gradient on a block in the kernels' layout: interior, then the end points."""
    m = b.c3.shape[1]
    i0 = 1 if plan.at_start else 0
    i1 = m - (1 if plan.at_end else 0)
    if i1 > i0 and b.along_last:
        _gradient_along_last(b, plan, i0, i1)
    elif i1 > i0:
        ends = _end_rows_of(plan, m, b.c3.dtype)
        _gradient_rows(b, plan, i0, i1, ends)
        if ends.at_start or ends.at_end:
            return  # the row kernel wrote them
    if plan.edge_order + 1 <= m:
        # The usual case: each end's window lies inside the block.
        _edge_planes(b, plan)
    elif plan.at_start or plan.at_end:
        _edges_from_halos(b, plan)


def _gradient_rows(b: _Block, plan: BlockPlan, i0: int, i1: int, ends: EndRows) -> None:
    parts = _parts(b, i1 - i0)
    if plan.positions is None:
        two_h = _divisor(2.0 * np.float64(plan.step), b.c3.dtype)
        weights = (np.empty(0),) * 3  # none: the uniform formula
    else:
        two_h = np.float64(1.0)  # unused
        weights = _interior_weights(plan, b.c3.shape[1], b.parallel)
    rows_gradient[b.parallel](*b.operands(), i0, i1, two_h, *weights, parts, ends)


def _gradient_along_last(b: _Block, plan: BlockPlan, i0: int, i1: int) -> None:
    parts = _parts(b, i1 - i0)
    if plan.positions is None:
        two_h = _divisor(2.0 * np.float64(plan.step), b.c3.dtype)
        last_uniform[b.parallel](*b.operands(), i0, i1, two_h, parts)
    elif b.c3.shape[0] == 1:
        # One row: weights used once cost less computed on the fly.
        x, offset = plan.positions, plan.left
        last_positions[b.parallel](*b.operands(), i0, i1, x, offset, plan.at_end, parts)
    else:
        weights = _interior_weights(plan, b.c3.shape[1], b.parallel)
        last_weighted[b.parallel](*b.operands(), i0, i1, *weights, parts)


def _interior_weights(
    plan: BlockPlan, m: int, parallel: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy.gradient's non-uniform weights for the block's points (index = block position)."""
    threads = parallel and m >= PARALLEL_MIN_SIZE  # long 1-D blocks: as costly as the data
    return interior_weights[threads](plan.positions, plan.left, m, plan.at_end)


def _coefficients(plan: BlockPlan, dtype: np.dtype, *, start: bool) -> tuple[Any, Any, Any]:
    """An end's one-sided coefficients as the kernels take them: always three."""
    coefficients = plan.edge_coefficients(start=start)
    if plan.edge_order == 1:  # (f[1] - f[0]) / h
        return (_divisor(coefficients[0], dtype), 0.0, 0.0)
    return tuple(np.float64(c) for c in coefficients)


def _end_rows_of(plan: BlockPlan, m: int, dtype: np.dtype) -> EndRows:
    """The block's end rows for the row kernels: off when their windows do not fit in it."""
    width = plan.edge_order + 1
    ends = []
    for present, start in ((plan.at_start, True), (plan.at_end, False)):
        on = bool(present and width <= m)
        # Placeholders of the same types when off: one compiled variant.
        placeholder = (_divisor(1.0, dtype), 0.0, 0.0) if plan.edge_order == 1 else (0.0,) * 3
        coefficients = _coefficients(plan, dtype, start=start) if on else placeholder
        ends.append((on, tuple(coefficients)))
    (s_on, s), (e_on, e) = ends
    return EndRows(width, s_on, s, e_on, e)


def _edge_planes(b: _Block, plan: BlockPlan) -> None:
    """The one-sided end points of a block holding its ends' whole windows."""
    m = b.c3.shape[1]
    width = plan.edge_order + 1
    for present, start, i, j0 in (
        (plan.at_start, True, 0, 0),
        (plan.at_end, False, m - 1, m - width),
    ):
        if present:
            coefficients = _coefficients(plan, b.c3.dtype, start=start)
            edge_plane[b.parallel](b.c3, b.o3, b.flags, i, j0, width, coefficients)


def _edges_from_halos(b: _Block, plan: BlockPlan) -> None:
    """The one-sided end points from a thin window at each end, reaching into the halos.

    With few points along the axis (e.g. 16 pressure levels) the two edge
    planes are a large share of the array, so they get a fused loop too.
    """
    axis = b.axis
    pieces = extended_pieces(b.center, axis, b.left, b.right)
    width = plan.edge_order + 1
    total = sum(p.shape[axis] for p in pieces)
    m = b.center.shape[axis]
    ends = ((plan.at_start, True, 0, 0), (plan.at_end, False, total - width, m - 1))
    for present, start, lo, i in ends:
        if not present:
            continue
        cells = window(pieces, axis, lo, lo + width)
        rows = np.stack([np.ravel(take(cells, axis, k, k + 1)) for k in range(width)])
        target = take(b.result, axis, i, i + 1)
        contiguous = target.flags.c_contiguous
        dst = target.reshape(-1) if contiguous else np.empty(target.size, b.result.dtype)
        coefficients = _coefficients(plan, b.result.dtype, start=start)
        # The window as one (pre=1, width, post) block, the point as its row 0.
        rows3, dst3 = rows.reshape(1, width, -1), dst.reshape(1, 1, -1)
        edge_plane[b.parallel](rows3, dst3, b.flags, 0, 0, width, coefficients)
        if not contiguous:
            target[...] = dst.reshape(target.shape)


def _divisor(value: float, dtype: np.dtype) -> np.floating:
    """A divisor of numpy.gradient's formulas, as a float32 where that is exact.

    numpy divides float32 differences by a float64 spacing in float64 and
    rounds the quotient to float32.  When the divisor is exactly a float32,
    dividing in float32 gives the same result bit for bit: the float64
    quotient rounded to float32 is the correctly rounded float32 quotient,
    because double rounding is innocuous for division when the wider format
    has at least 2p + 2 bits (53 >= 2 * 24 + 2; Figueroa, 1995).  On the CPUs
    measured a float32 division costs a third of the float64 one and the
    conversions disappear, which matters for float32 data, whose kernels are
    otherwise bound by the divisions.  The choice depends on the dimension's
    spacing and the dtype only, never on the block.
    """
    value = np.float64(value)
    if dtype == np.float32 and np.float32(value) == value:
        return np.float32(value)
    return value


# -- general weights on a block --------------------------------------------------------------


def _stencil_3d(b: _Block, plan: WeightedBlockPlan) -> None:
    """A weighted stencil on a block in the kernels' layout: interior, then the one-sided points."""
    i0, i1 = plan.interior
    if i1 > i0:
        wt = np.ascontiguousarray(plan.weights.T)
        parts = _parts(b, i1 - i0)
        if b.along_last:
            last_stencil[b.parallel](*b.operands(), i0, i1, wt, parts)
        else:
            rules = _edge_rules_of(plan, b.c3.shape[1])
            rows_stencil[b.parallel](*b.operands(), i0, i1, wt, parts, rules)
            if len(rules.index):
                return  # the row kernel wrote them
    if plan.edges:
        _rules_from_halos(b, plan)


def _edge_rules_of(plan: WeightedBlockPlan, m: int) -> EdgeRules:
    """The plan's one-sided points for ``rows_stencil``: all of them, or none.

    None unless every window lies inside the block (the caller then writes
    them from windows that take in the halos).
    """
    inside = [
        (i, start - plan.left, np.asarray(w, dtype=np.float64))
        for i, start, w in plan.edges
        if start - plan.left >= 0 and start - plan.left + len(w) <= m
    ]
    if len(inside) < len(plan.edges):
        inside = []
    longest = max((len(w) for _, _, w in inside), default=0)
    weights = np.zeros((len(inside), longest))
    for row, (_, _, w) in enumerate(inside):
        weights[row, : len(w)] = w
    return EdgeRules(
        index=np.array([i for i, _, _ in inside], dtype=np.int64),
        first=np.array([j for _, j, _ in inside], dtype=np.int64),
        length=np.array([len(w) for _, _, w in inside], dtype=np.int64),
        weights=weights,
    )


def _rules_from_halos(b: _Block, plan: WeightedBlockPlan) -> None:
    """The one-sided points of a weighted plan, compiled, each from a thin window."""
    pieces = extended_pieces(b.center, b.axis, b.left, b.right)
    for i, start, weights in plan.edges:
        cells = as3d(window(pieces, b.axis, start, start + len(weights)), b.axis)
        target = take(b.result, b.axis, i, i + 1)
        dst = target.reshape(cells.shape[0], cells.shape[2])
        edge_rule[b.parallel](cells, dst, b.flags, np.asarray(weights, dtype=np.float64))
        if not np.shares_memory(dst, b.result):  # reshape had to copy: write it back
            target[...] = dst.reshape(target.shape)


# -- stencils that stop at missing values ----------------------------------------------
#
# Where no missing value is within reach of a point, the rule picks the
# dimension's own formula (xgradient.missing): a block's "omit" result is
# then its "propagate" result.  So the propagate kernels run first and note,
# fused into their loops (see _flag), whether a result came out NaN: a
# stencil that reads a missing value gives NaN (a zero weight times NaN is
# NaN too).  Only a flagged block, or one too short to tell (see
# _unflagged_gaps_possible), is computed again, whole, by the rule's
# kernels (gradient_gaps, stencil_gaps).  When a sample of the block's
# cells already holds a missing value, those kernels run alone.  Their
# loops vectorise: they compute the centred formula everywhere, flagging the
# valid points it left NaN, and redo those alone with the whole rule (rows of
# the block, and the weighted stencils along a line), or pick each point's
# formula without branches (numpy.gradient's along a line); only the few
# points near a line's ends read the halos, through _cell.


@_inline
def _cell(l3, c3, r3, p, j, q):  # pragma: no cover - compiled
    # Cell j of the extended block (negative: the left halo), NaN beyond the
    # halos (beyond the dimension's ends: a missing value).  In the block's
    # dtype: a float64 NaN would make float32 differences float64 ones.
    m = c3.shape[1]
    if j >= 0:
        if j < m:
            return c3[p, j, q]
        if j - m < r3.shape[1]:
            return r3[p, j - m, q]
        return c3.dtype.type(np.nan)
    if l3.shape[1] + j >= 0:
        return l3[p, l3.shape[1] + j, q]
    return c3.dtype.type(np.nan)


@_inline
def _run_sides(l3, c3, r3, p, i, q, reach):  # pragma: no cover - compiled
    # Valid cells following one another left and right of point i, up to
    # `reach`, reading the halos where needed.
    dl = 0
    for k in range(1, reach + 1):
        v = _cell(l3, c3, r3, p, i - k, q)
        if v != v:
            break
        dl = k
    dr = 0
    for k in range(1, reach + 1):
        v = _cell(l3, c3, r3, p, i + k, q)
        if v != v:
            break
        dr = k
    return dl, dr


@_inline
def _gradient_rule(
    dl, dr, f0, fm1, fm2, fp1, fp2, order, central, first, last, t
):  # pragma: no cover
    # numpy.gradient's formula as the rule picks it from the run's sides;
    # f0 the point, fm1/fm2 the cells before it, fp1/fp2 after; `central`
    # the value of the central formula.
    if dl >= 1 and dr >= 1:
        return central
    if dl == 0 and dr >= order:
        if order == 1:
            return _difference(f0, fp1, first[t, 0])
        return _three(first[t, 0], f0, first[t, 1], fp1, first[t, 2], fp2)
    if dr == 0 and dl >= order:
        if order == 1:
            return _difference(fm1, f0, last[t, 0])
        return _three(last[t, 0], fm2, last[t, 1], fm1, last[t, 2], f0)
    return np.nan


@_inline
def _central(fm1, f0, fp1, two_h, x, k):  # pragma: no cover - compiled
    # numpy.gradient's central formula at cell k of the extended positions x
    # (x empty: uniform spacing, divisor two_h).
    if x.shape[0] == 0:
        return _difference(fm1, fp1, two_h)
    a, b, c = _weights(x[k] - x[k - 1], x[k + 1] - x[k])
    return _three(a, fm1, b, f0, c, fp1)


@_inline
def _redo_gradient_near_ends(
    l3, c3, r3, p, i, q, order, two_h, x, k, first, last
):  # pragma: no cover
    # _redo_gradient for a point whose reach leaves the block (halo reads).
    dl, dr = _run_sides(l3, c3, r3, p, i, q, order)
    f0 = c3[p, i, q]
    fm1 = _cell(l3, c3, r3, p, i - 1, q)
    fp1 = _cell(l3, c3, r3, p, i + 1, q)
    fm2 = _cell(l3, c3, r3, p, i - order, q)
    fp2 = _cell(l3, c3, r3, p, i + order, q)
    central = _central(fm1, f0, fp1, two_h, x, k) if dl >= 1 and dr >= 1 else f0
    t = i if first.shape[0] > 1 else 0
    return _gradient_rule(dl, dr, f0, fm1, fm2, fp1, fp2, order, central, first, last, t)


@_inline
def _row(l3, c3, r3, p, j, beyond):  # pragma: no cover - compiled
    # Row j of the extended block as a 1-D view along post (`beyond`, a NaN
    # row, outside the halos).
    m = c3.shape[1]
    if 0 <= j < m:
        return c3[p, j]
    if j < 0 and l3.shape[1] + j >= 0:
        return l3[p, l3.shape[1] + j]
    if j >= m and j - m < r3.shape[1]:
        return r3[p, j - m]
    return beyond


@_inline
def _gradient_pick(
    f0, fm1, fm2, fp1, fp2, order, uniform, two_h, wa, wb, wc, fa, fb, fc, la, lb, lc
):  # pragma: no cover
    # numpy.gradient's formula as the rule picks it at one point, without
    # branches, so that the loops calling it vectorise (bitwise operators:
    # `and`/`or` branch, and kept them scalar, 5x slower): f0 the point,
    # fm1/fm2 the cells one/`order` before it, fp1/fp2 after; two_h the
    # uniform central divisor, (wa, wb, wc) the non-uniform central weights,
    # (fa, fb, fc) and (la, lb, lc) the point's coefficients as a run's first
    # or last point.  With edge_order 1 every formula but the non-uniform
    # central is a difference over a divisor: the operands are picked first,
    # then divided once (divisions bound these loops).
    vm1 = fm1 == fm1
    vp1 = fp1 == fp1
    start_ok = vp1 if order == 1 else vp1 & (fp2 == fp2)
    end_ok = vm1 if order == 1 else vm1 & (fm2 == fm2)
    central_case = vm1 & vp1
    start_case = (vm1 ^ True) & start_ok
    end_case = (vp1 ^ True) & end_ok
    if order == 1:
        hi = f0 if end_case else fp1
        lo = f0 if start_case else fm1
        den = fa if start_case else (la if end_case else two_h)
        v = _difference(lo, hi, den)
        if not uniform:
            v = _three(wa, fm1, wb, f0, wc, fp1) if central_case else v
    else:
        central = _difference(fm1, fp1, two_h) if uniform else _three(wa, fm1, wb, f0, wc, fp1)
        start = _three(fa, f0, fb, fp1, fc, fp2)
        end = _three(la, fm2, lb, fm1, lc, f0)
        v = start if start_case else end
        v = central if central_case else v
    ok = (central_case | start_case | end_case) & (f0 == f0)
    return v if ok else np.nan


@_inline
def _row_terms(x, l3, i, first, last):  # pragma: no cover - compiled
    # A row's central weights (NaN where the point lacks a neighbour: the
    # rule never picks them there) and run-end coefficients.
    k = l3.shape[1] + i
    w = (np.nan, np.nan, np.nan)
    if x.shape[0] and k >= 1 and k + 1 < x.shape[0]:
        w = _weights(x[k] - x[k - 1], x[k + 1] - x[k])
    t = i if first.shape[0] > 1 else 0
    e = (first[t, 0], first[t, 1], first[t, 2], last[t, 0], last[t, 1], last[t, 2])
    return w, e


# The rule's kernels are a small parallel loop over work items, each item
# computed by a function compiled on its own (not inlined into the loop):
# numba's analysis of a parallel loop grows steeply with its body, and with
# these rules inlined one threaded variant took 100 s to compile.  The item
# functions are shared by the serial and the threaded kernels.


@compiled(writes=("o3",))
def gradient_gaps(l3, c3, r3, o3, order, two_h, x, first, last):  # pragma: no cover
    """numpy.gradient's formulas stopping at missing values, over a (pre, m, post) block.

    The rule of xgradient.missing at every point, in loops without
    branches per point: run on blocks where a sample of cells holds a
    missing value, or whose propagate result has a NaN (see the comment
    above :func:`_cell`).  Tile by tile along ``post``.
    """
    pre, _, post = c3.shape
    tiles = (post + TILE - 1) // TILE
    for t in prange(pre * tiles):
        _gradient_gaps_tile(l3, c3, r3, o3, order, two_h, x, first, last, np.int64(t))


@compiled(writes=("o2",))
def gradient_gaps_lines(l3, c3, r3, c2, o2, order, two_h, x, first, last):  # pragma: no cover
    """:func:`gradient_gaps` along the last axis: line by line, each a row of ``c2``, ``o2``."""
    for p in prange(c2.shape[0]):
        _gradient_gaps_line(l3, c3, r3, c2, o2, order, two_h, x, first, last, np.int64(p))


@_item
def _gradient_gaps_tile(l3, c3, r3, o3, order, two_h, x, first, last, t):  # pragma: no cover
    # Work item t: one row block p and tile [q0, q1) along post.  Each row
    # in two passes: the central formula everywhere (a loop that
    # vectorises), flagging the valid points it left NaN; then the rule at
    # those alone (at 30% land, ~1% of the points).  Computing every formula
    # at every point and picking one, as _line_group does, cost 1.5x this
    # in the rows layout (float32, measured); along a line the two passes
    # were the slower (1.2x).
    _, m, post = c3.shape
    uniform = x.shape[0] == 0
    tiles = (post + TILE - 1) // TILE
    p = t // tiles
    q0 = (t % tiles) * TILE
    q1 = min(q0 + TILE, post)
    n = q1 - q0
    beyond = np.full(post, np.nan, dtype=c3.dtype)
    need = np.empty(n, dtype=np.uint8)
    at = np.empty(n, dtype=np.int64)
    for i in range(m):
        rm1 = _row(l3, c3, r3, p, i - 1, beyond)[q0:q1]
        rp1 = _row(l3, c3, r3, p, i + 1, beyond)[q0:q1]
        w, e = _row_terms(x, l3, i, first, last)
        dst, src = o3[p, i, q0:q1], c3[p, i, q0:q1]
        _gradient_central_flagged(dst, src, rm1, rp1, n, uniform, two_h, w, need)
        count = _flagged(need, n, at)
        if count:
            rm2 = _row(l3, c3, r3, p, i - order, beyond)[q0:q1]
            rp2 = _row(l3, c3, r3, p, i + order, beyond)[q0:q1]
            wa, wb, wc = w
            fa, fb, fc, la, lb, lc = e
            for k in range(count):
                q = at[k]
                dst[q] = _gradient_pick(
                    src[q], rm1[q], rm2[q], rp1[q], rp2[q], order, uniform, two_h,
                    wa, wb, wc, fa, fb, fc, la, lb, lc,
                )  # fmt: skip


@_inline
def _gradient_central_flagged(dst, src, rm1, rp1, n, uniform, two_h, w, need):  # pragma: no cover
    # numpy.gradient's central formula at points [0, n) of a row, NaN at a
    # missing point (the uniform formula does not read it); need[q]: the
    # point is valid and came out NaN, a missing value next to it.
    if uniform:
        nan = src.dtype.type(np.nan)
        for q in range(_u(n)):
            f0 = src[q]
            v = _difference(rm1[q], rp1[q], two_h)
            valid = f0 == f0
            dst[q] = v if valid else nan
            need[q] = np.uint8(valid) & np.uint8(v != v)
    else:
        wa, wb, wc = w
        for q in range(_u(n)):
            f0 = src[q]
            v = _three(wa, rm1[q], wb, f0, wc, rp1[q])
            dst[q] = v
            need[q] = np.uint8(f0 == f0) & np.uint8(v != v)


@_item
def _gradient_gaps_line(l3, c3, r3, c2, o2, order, two_h, x, first, last, p):  # pragma: no cover
    # Work item p: line p, a contiguous row of c2 (c3[p, :, 0]) and o2, so
    # that its loops vectorise.  Points whose reach stays in the block in a
    # loop that vectorises; the others one by one, through the halos.
    dst = o2[p]
    src = c2[p]
    m = src.shape[0]
    lo = min(order, m)
    hi = max(m - order, lo)
    for i in range(lo):
        _redo_point(l3, c3, r3, dst, src, p, i, order, two_h, x, first, last)
    _line_group(dst, src, x, l3.shape[1], lo, hi, order, two_h, first, last)
    for i in range(hi, m):
        _redo_point(l3, c3, r3, dst, src, p, i, order, two_h, x, first, last)


@_inline
def _redo_point(l3, c3, r3, dst, src, p, i, order, two_h, x, first, last):  # pragma: no cover
    if src[i] != src[i]:
        dst[i] = np.nan
    else:
        dst[i] = _redo_gradient_near_ends(
            l3, c3, r3, p, i, 0, order, two_h, x, l3.shape[1] + i, first, last
        )


@_inline
def _line_group(dst, src, x, left, lo, hi, order, two_h, first, last):  # pragma: no cover
    # The rule along a line (the last axis), every formula computed and the
    # right one picked at each point: points [lo, hi), whose
    # reach stays in the block; with non-uniform spacing, weights and
    # coefficients vary by point (uniform: one set, `first[0]`, `last[0]`).
    # Unsigned offsets, as in the other last-axis kernels: a signed i - 1
    # gets a wrap-around check that keeps the loop scalar (4x slower here).
    one = _u(1)
    far = _u(order)
    if x.shape[0] == 0:
        fa, fb, fc = first[0, 0], first[0, 1], first[0, 2]
        la, lb, lc = last[0, 0], last[0, 1], last[0, 2]
        for i in range(_u(lo), _u(hi)):
            dst[i] = _gradient_pick(
                src[i],
                src[i - one],
                src[i - far],
                src[i + one],
                src[i + far],
                order,
                True,
                two_h,
                0.0,
                0.0,
                0.0,
                fa,
                fb,
                fc,
                la,
                lb,
                lc,
            )
        return
    base = _u(left)
    for i in range(_u(lo), _u(hi)):
        k = base + i
        wa, wb, wc = _weights(x[k] - x[k - one], x[k + one] - x[k])
        dst[i] = _gradient_pick(
            src[i],
            src[i - one],
            src[i - far],
            src[i + one],
            src[i + far],
            order,
            False,
            two_h,
            wa,
            wb,
            wc,
            first[i, 0],
            first[i, 1],
            first[i, 2],
            last[i, 0],
            last[i, 1],
            last[i, 2],
        )


@_njit()
def _three_point_at(
    a3, a2, a1, f0, b1, b2, b3, width, deep, c0, c1, c2, s0, s1, s2, s3, e0, e1, e2, e3
):  # pragma: no cover
    # The weighted rule for three-point stencils at one point (see
    # _three_point_rule), from its cells 3 before (a3) to 3 after (b3) and
    # the weights: centred c, one-sided from the point s and to it e.  The
    # valid cells next to it on each side, up to the reach, pick the
    # centred or a one-sided stencil, or NaN.  All three are computed and
    # one kept.  Sums in float64, in stencil order.  Called, not inlined:
    # it runs at ~1% of the points, and the loops around it stay small.
    # Scalars only: an array argument costs an atomic reference count
    # update per call on the block's memory, shared by every thread (that
    # made each call ~4x slower on two threads).
    va1 = a1 == a1
    vb1 = b1 == b1
    va12 = va1 & (a2 == a2)
    vb12 = vb1 & (b2 == b2)
    dl = np.int64(va1) + np.int64(va12) + np.int64(va12 & (a3 == a3) & deep)
    dr = np.int64(vb1) + np.int64(vb12) + np.int64(vb12 & (b3 == b3) & deep)
    centred = c0 * a1 + c1 * f0 + c2 * b1
    if width == 3:
        start = s0 * f0 + s1 * b1 + s2 * b2
        end = e0 * a2 + e1 * a1 + e2 * f0
    else:
        start = s0 * f0 + s1 * b1 + s2 * b2 + s3 * b3
        end = e0 * a3 + e1 * a2 + e2 * a1 + e3 * f0
    v = end if dl >= 1 else start
    v = centred if (dl >= 1) & (dr >= 1) else v
    return v if (dl + dr + 1 >= width) & (f0 == f0) else np.nan


@_inline
def _redo_three_point(
    dst, j, src, rm3, rm2, rm1, rp1, rp2, rp3, width, deep, wt, first, last, t, prev
):  # pragma: no cover
    # dst[j] by _three_point_at, weights of set t (the last one-sided
    # weights of a 3-point stencil are read as 0 and not used).  When j
    # ends a run of exactly three points and the stencils are 4 wide, the
    # run's middle point (prev[j], if given: the result of the point
    # before j along the dimension) is NaN too: see _three_point_rule.
    s3 = first[t, 0, 3] if width == 4 else 0.0
    e3 = last[t, 0, 3] if width == 4 else 0.0
    f0 = src[j]
    a1 = rm1[j]
    a2 = rm2[j]
    a3 = rm3[j]
    b1 = rp1[j]
    dst[j] = _three_point_at(
        a3, a2, a1, f0, b1, rp2[j], rp3[j], width, deep,
        wt[t, 0], wt[t, 1], wt[t, 2],
        first[t, 0, 0], first[t, 0, 1], first[t, 0, 2], s3,
        last[t, 0, 0], last[t, 0, 1], last[t, 0, 2], e3,
    )  # fmt: skip
    three = (f0 == f0) & (b1 != b1) & (a1 == a1) & (a2 == a2) & (a3 != a3)
    if (width == 4) & deep & three & (prev.shape[0] > 0):
        prev[j] = np.nan


@_inline
def _three_point_rule(
    dst, src, rm3, rm2, rm1, rp1, rp2, rp3, n, width, deep, wt, first, last, step, need, at,
    prev,
):  # pragma: no cover  # fmt: skip
    # The weighted rule for three-point stencils (accuracy 2: radius 1):
    # rm3..rp3 hold the cells 3 before to 3 after each point (`deep`: the
    # reach is 3, a second derivative, else 2), `width` the one-sided
    # stencils' points (3 or 4).  Weights by point (step 1) or one set
    # (step 0); `need` and `at` are scratch space for n flags and indices.
    #
    # The centred stencil is right at almost every point: wherever its
    # three cells are valid, unless (width 4) the run is just those three
    # cells.  So one pass computes it everywhere, as the propagate kernel
    # does, and flags the valid points it left NaN (a loop that
    # vectorises); the rule redoes them alone, found eight flags at a time
    # (see _flagged).  At 30% land they are ~0.6% of the points.  (Computing
    # the three candidates at every point cost 2-4x the propagate kernel
    # along the last axis, 4-7x in float32.)
    # The rows layout runs the two passes apart (see _three_point_row).
    #
    # The middle point of a run of exactly three gets a finite centred
    # value but must be NaN when the stencils are 4 wide.  Checking for it
    # at every point made the pass 1.5x slower, so the run's last point
    # (NaN after it: always redone) sets it, through `prev`, the results
    # one point back (empty: none).  A middle point whose run ends beyond
    # the call's points cannot be reached that way: the caller computes
    # those points again exactly (see _line_ends; the rows layout flags them
    # `exact`, see _three_point_row).
    _centred_flagged(dst, src, rm2, rm1, rp1, rp2, n, width, wt, step, need, False)
    _redo_flagged(dst, src, rm3, rm2, rm1, rp1, rp2, rp3, n, width, deep, wt, first, last, step, need, at, prev)  # fmt: skip


@_inline
def _centred_flagged(
    dst, src, rm2, rm1, rp1, rp2, n, width, wt, step, need, exact
):  # pragma: no cover  # fmt: skip
    # The first pass of _three_point_rule: the centred stencil everywhere,
    # and the flags of the points to redo.
    if step == 0:
        # One set of weights, in locals: dst might alias wt for all LLVM
        # knows, and reloading them each point stops the loop vectorising.
        w0 = wt[0, 0]
        w1 = wt[0, 1]
        w2 = wt[0, 2]
        for j in range(_u(n)):
            v = w0 * rm1[j] + w1 * src[j] + w2 * rp1[j]
            dst[j] = v
            need[j] = np.uint8(src[j] == src[j]) & np.uint8(v != v)
    else:
        for j in range(_u(n)):
            v = wt[j, 0] * rm1[j] + wt[j, 1] * src[j] + wt[j, 2] * rp1[j]
            dst[j] = v
            need[j] = np.uint8(src[j] == src[j]) & np.uint8(v != v)
    if exact & (width == 4):
        for j in range(_u(n)):
            need[j] |= (
                np.uint8(src[j] == src[j]) & np.uint8(rm2[j] != rm2[j]) & np.uint8(rp2[j] != rp2[j])
            )


@_inline
def _redo_flagged(
    dst, src, rm3, rm2, rm1, rp1, rp2, rp3, n, width, deep, wt, first, last, step, need, at, prev
):  # pragma: no cover  # fmt: skip
    # The second pass of _three_point_rule: the whole rule at the flagged
    # points (their indices into `at`, see _flagged).
    for t in range(_flagged(need, n, at)):
        j = at[t]
        _redo_three_point(
            dst, j, src, rm3, rm2, rm1, rp1, rp2, rp3, width, deep, wt, first, last, j * step, prev
        )


# How many rows the rows layout's redo pass runs behind its centred pass:
# a point redone reads the cells up to `reach` (at most 5) rows ahead, which
# the centred pass has then streamed into cache already (reading them
# first, from memory, made the redo pass cost ~1.3x more in float32).
LAG = 5


@_inline
def _three_point_row(
    l3, c3, r3, o3, p, i, q0, q1, beyond, width, reach, wt, first, last, ti, need, at, none, s0,
    s1, centred,
):  # pragma: no cover  # fmt: skip
    # One pass of _three_point_rule (`centred`: the first, else the redo)
    # for points [q0, q1) of row i (rows layout), one of rows [s0, s1) that
    # one thread computes in order; `none` an empty row.  A run of three
    # whose middle is row s1 - 1 ends in another thread's rows or the halo:
    # that row is exact, and row s0 sets nothing before it.
    m = c3.shape[1]
    deep = reach > 2
    if 3 <= i < m - 3:
        # Inside the block: the rows without the halo tests of _row.
        c = c3[p]
        rows = (c[i - 3], c[i - 2], c[i - 1], c[i], c[i + 1], c[i + 2], c[i + 3])
    else:
        rows = (
            _row(l3, c3, r3, p, i - 3, beyond),
            _row(l3, c3, r3, p, i - 2, beyond),
            _row(l3, c3, r3, p, i - 1, beyond),
            c3[p, i],
            _row(l3, c3, r3, p, i + 1, beyond),
            _row(l3, c3, r3, p, i + 2, beyond),
            _row(l3, c3, r3, p, i + 3, beyond),
        )
    dst = o3[p, i, q0:q1]
    if centred:
        _centred_flagged(
            dst, rows[3][q0:q1], rows[1][q0:q1], rows[2][q0:q1], rows[4][q0:q1], rows[5][q0:q1],
            q1 - q0, width, wt[i : i + 1], 0, need, i == s1 - 1,
        )  # fmt: skip
        return
    _redo_flagged(
        dst, rows[3][q0:q1], rows[0][q0:q1], rows[1][q0:q1], rows[2][q0:q1], rows[4][q0:q1],
        rows[5][q0:q1], rows[6][q0:q1], q1 - q0, width, deep, wt[i : i + 1],
        first[ti : ti + 1], last[ti : ti + 1], 0, need, at,
        o3[p, i - 1, q0:q1] if i > s0 else none,
    )  # fmt: skip


# -- five-point stencils (accuracy 4): the same two passes ---------------------------


@_inline
def _five_point_centred(
    dst, src, x0, x1, x3, x4, n, wt, step, need, exact
):  # pragma: no cover  # fmt: skip
    # The first pass of the five-point rule (see _window_rule): the centred
    # stencil everywhere, cells x0, x1, src, x3, x4, summed in float64 in
    # stencil order as the reference does, and the flags of the valid points
    # it left NaN; `exact`: every valid point flagged.
    if step == 0:
        w0 = wt[0, 0]
        w1 = wt[0, 1]
        w2 = wt[0, 2]
        w3 = wt[0, 3]
        w4 = wt[0, 4]
        for j in range(_u(n)):
            v = w0 * x0[j] + w1 * x1[j] + w2 * src[j] + w3 * x3[j] + w4 * x4[j]
            dst[j] = v
            need[j] = np.uint8(src[j] == src[j]) & np.uint8(v != v)
    else:
        for j in range(_u(n)):
            v = wt[j, 0] * x0[j] + wt[j, 1] * x1[j] + wt[j, 2] * src[j]
            v = v + wt[j, 3] * x3[j] + wt[j, 4] * x4[j]
            dst[j] = v
            need[j] = np.uint8(src[j] == src[j]) & np.uint8(v != v)
    if exact:
        for j in range(_u(n)):
            need[j] = np.uint8(src[j] == src[j])


@_inline
def _window_rule(win, reach, r, width, wt, wrow, first, last, trow):  # pragma: no cover
    # The weighted rule at one point from its cells win[reach + k], k from
    # -reach to reach (NaN beyond the halos): the formula its run's sides
    # pick, as the plain-array rule picks it (the last one-sided table over
    # the first, both over the centred stencil), summed in float64 in
    # stencil order.  Returns the value and the sides dl, dr.
    dl = 0
    for k in range(1, reach + 1):
        v = win[reach - k]
        if v != v:
            break
        dl = k
    dr = 0
    for k in range(1, reach + 1):
        v = win[reach + k]
        if v != v:
            break
        dr = k
    f0 = win[reach]
    if (f0 != f0) | (dl + dr < width - 1):
        return np.nan, dl, dr
    if dr < r:
        at = reach + dr - width + 1
        acc = last[trow, dr, 0] * win[at]
        for k in range(1, width):
            acc = acc + last[trow, dr, k] * win[at + k]
        return acc, dl, dr
    if dl < r:
        at = reach - dl
        acc = first[trow, dl, 0] * win[at]
        for k in range(1, width):
            acc = acc + first[trow, dl, k] * win[at + k]
        return acc, dl, dr
    acc = wt[wrow, 0] * win[reach - r]
    for k in range(1, 2 * r + 1):
        acc = acc + wt[wrow, k] * win[reach - r + k]
    return acc, dl, dr


@_inline
def _too_short(dl, dr, r, width):  # pragma: no cover - compiled
    # Whether a run's last point (dr == 0) ends a run too short for any
    # stencil (width cells) yet long enough (2r + 1) that its middle points
    # got a finite centred value in the first pass: those must be NaN.
    return (dr == 0) & (dl >= 2 * r) & (dl + 1 < width)


@_inline
def _flagged(need, n, at):  # pragma: no cover - compiled
    # The indices of the set flags among need[:n], into `at`; their count.
    # Eight flags at a time: a word's lowest set byte, cleared in turn.
    count = 0
    whole = n - n % 8
    words = need[:whole].view(np.uint64)
    for w in range(words.size):
        flags = words[w]
        while flags:
            at[count] = 8 * w + trailing_zeros(flags) // 8
            count += 1
            flags &= flags - _u(1)
    for j in range(whole, n):
        if need[j]:
            at[count] = j
            count += 1
    return count


@_inline
def _five_point_line(
    line, g0, g1, out, reach, width, wt, first, last, per_point, need, at, win
):  # pragma: no cover  # fmt: skip
    # The five-point rule for cells [g0, g1) of `line` (with `reach` cells
    # on each side present) into out[g0:g1]; tables indexed from the span's
    # first point (wt always by point, first/last when per_point).  A
    # too-short run's middle points, before its last in `out`, are set NaN
    # by that point (see _too_short); one whose run ends beyond g1 is
    # computed again exactly by the caller (see _line_ends).
    n = g1 - g0
    _five_point_centred(
        out[g0:g1], line[g0:g1], line[g0 - 2 : g1 - 2], line[g0 - 1 : g1 - 1],
        line[g0 + 1 : g1 + 1], line[g0 + 2 : g1 + 2], n, wt, per_point, need, False,
    )  # fmt: skip
    for t in range(_flagged(need, n, at)):
        j = at[t]
        g = g0 + j
        for k in range(2 * reach + 1):
            win[k] = line[g - reach + k]
        v, dl, dr = _window_rule(win, reach, 2, width, wt, j, first, last, j * per_point)
        o = g0 + j
        out[o] = v
        if _too_short(dl, dr, 2, width):
            for k in range(2, min(dl - 2, o) + 1):
                out[o - k] = np.nan


@_inline
def _five_point_row(
    l3, c3, r3, o3, p, i, q0, q1, beyond, width, reach, wt, first, last, ti, need, at, win, s0,
    s1, centred,
):  # pragma: no cover  # fmt: skip
    # One pass of the five-point rule (`centred`: the first, else the redo)
    # for points [q0, q1) of row i, one of rows [s0, s1) that one thread
    # computes in order (see _three_point_row).  A too-short run's middle
    # points, on rows before i, are set NaN by its last point, on rows from
    # s0 on; rows whose run may end beyond s1 are exact.
    m = c3.shape[1]
    n = q1 - q0
    dst = o3[p, i, q0:q1]
    if centred:
        exact = (width > 5) & (i >= s1 - (width - 4))
        if 2 <= i < m - 2:
            c = c3[p]
            _five_point_centred(
                dst, c[i, q0:q1], c[i - 2, q0:q1], c[i - 1, q0:q1], c[i + 1, q0:q1],
                c[i + 2, q0:q1], n, wt[i : i + 1], 0, need, exact,
            )  # fmt: skip
            return
        _five_point_centred(
            dst, c3[p, i, q0:q1], _row(l3, c3, r3, p, i - 2, beyond)[q0:q1],
            _row(l3, c3, r3, p, i - 1, beyond)[q0:q1], _row(l3, c3, r3, p, i + 1, beyond)[q0:q1],
            _row(l3, c3, r3, p, i + 2, beyond)[q0:q1], n, wt[i : i + 1], 0, need, exact,
        )  # fmt: skip
        return
    inside = reach <= i < m - reach
    for t in range(_flagged(need, n, at)):
        q = q0 + at[t]
        for k in range(2 * reach + 1):
            win[k] = c3[p, i - reach + k, q] if inside else _cell(l3, c3, r3, p, i - reach + k, q)
        v, dl, dr = _window_rule(win, reach, 2, width, wt, i, first, last, ti)
        o3[p, i, q] = v
        if _too_short(dl, dr, 2, width):
            for k in range(2, min(dl - 2, i - s0) + 1):
                o3[p, i - k, q] = np.nan


# Points of a line computed together: the rule's flags and the indices of
# the flagged points (18 KiB) stay in L1.  A 0.25-degree longitude line is
# then one span: 512 (three spans) made its rule kernels 5-7% slower.
SPAN = 2048


@compiled(writes=("o3",))
def stencil_gaps(l3, c3, r3, o3, reach, wt, first, last, parts):  # pragma: no cover
    """Weighted stencils stopping at missing values, over a (pre, m, post) block, into o3.

    The rule of xgradient.missing at every point, for three- and five-point
    stencils (accuracy 2 and 4), in two passes: the centred stencil
    everywhere, in a loop that vectorises, then the whole rule at the
    valid points it left NaN (see _three_point_rule and _window_rule).  Run
    on blocks where a sample of cells holds a missing value, whose
    propagate result has a NaN, or that are too short to tell (see
    `omit_missing`).  Tile by tile along ``post``; `parts` also cuts the
    axis into pieces, so that every thread has work.
    """
    pre, _, post = c3.shape
    tiles = (post + TILE - 1) // TILE
    for t in prange(pre * tiles * parts):
        _stencil_gaps_tile(l3, c3, r3, o3, reach, wt, first, last, parts, np.int64(t))


@compiled(writes=("o2",))
def stencil_gaps_lines(l3, c2, r3, o2, reach, wt, first, last):  # pragma: no cover
    """:func:`stencil_gaps` along the last axis: line by line, each a row of ``c2``, ``o2``."""
    groups = min(c2.shape[0], LINE_GROUPS)
    for g in prange(groups):
        _stencil_gaps_lines(l3, c2, r3, o2, reach, wt, first, last, np.int64(g), groups)


@_item
def _stencil_gaps_tile(l3, c3, r3, o3, reach, wt, first, last, parts, t):  # pragma: no cover
    # Work item t: row block p, tile [q0, q1) along post and piece t % parts
    # of the axis.  The passes stream whole rows as the propagate kernel
    # does (pieces of rows of 512 points were 2x slower: the prefetcher
    # loses its streams at every short piece).
    _, m, post = c3.shape
    per_point = 1 if first.shape[0] > 1 else 0
    r = (wt.shape[1] - 1) // 2
    width = first.shape[2]
    tiles = (post + TILE - 1) // TILE
    pt = t // parts
    p = pt // tiles
    q0 = (pt % tiles) * TILE
    q1 = min(q0 + TILE, post)
    beyond = np.full(post, np.nan, dtype=c3.dtype)
    ring = np.empty((LAG + 1, q1 - q0), dtype=np.uint8)  # flags of the last rows
    at = np.empty(q1 - q0, dtype=np.int64)
    win = np.empty(2 * reach + 1, dtype=c3.dtype)
    none = o3[p, 0, 0:0]
    s0, s1 = _piece(0, m, t % parts, parts)
    # The redo pass runs LAG rows behind the centred pass.
    for i in range(s0, s1 + LAG):
        for k in (i, i - LAG):
            centred = k == i
            if (centred & (k >= s1)) | (k < s0):
                continue
            need = ring[k % (LAG + 1)]
            tk = k * per_point
            if r == 1:
                _three_point_row(
                    l3, c3, r3, o3, p, k, q0, q1, beyond, width, reach, wt, first, last,
                    tk, need, at, none, s0, s1, centred,
                )  # fmt: skip
            else:
                _five_point_row(
                    l3, c3, r3, o3, p, k, q0, q1, beyond, width, reach, wt, first, last,
                    tk, need, at, win, s0, s1, centred,
                )  # fmt: skip


# Work items of stencil_gaps_lines: groups of lines, each item's scratch
# arrays allocated once (an item a line made the kernel ~10% slower).
LINE_GROUPS = 64


@_item
def _stencil_gaps_lines(l3, c2, r3, o2, reach, wt, first, last, g, groups):  # pragma: no cover
    # Work item g of `groups`: a piece of the lines, each a contiguous row
    # of c2 and o2.  Shifted pieces of each line, then its ends point by
    # point, from a short copy of the cells there, halos and NaN beyond them
    # included (through the halos cell by cell was 7x slower than the whole
    # line; the ends as more shifted pieces of that copy cost ~20% of the
    # kernel, measured).
    m = c2.shape[1]
    per_point = 1 if first.shape[0] > 1 else 0
    r = (wt.shape[1] - 1) // 2
    width = first.shape[2]
    need = np.empty(SPAN, dtype=np.uint8)
    at = np.empty(SPAN, dtype=np.int64)
    win = np.empty(2 * reach + 1, dtype=c2.dtype)
    buf = np.empty(32, dtype=c2.dtype)  # a line's end, with its halo cells
    shift = 3 if r == 1 else reach
    lo = min(shift, m)
    hi = max(m - shift, lo)
    p0, p1 = _piece(0, c2.shape[0], g, groups)
    for p in range(p0, p1):
        line = o2[p]
        _line_rule(c2[p], line, lo, hi, r, width, reach, wt, first, last, per_point, need, at, win)
        # The ends after the middle: see _line_ends.
        for a0, a1 in ((0, lo), (hi, m)):
            if a1 > a0:
                _line_cells(l3, c2, r3, p, a0, a1, shift, buf)
                _line_ends(
                    buf, line, a0, a1, shift, r, width, reach, wt, first, last, per_point, win
                )


@_inline
def _line_cells(l3, c2, r3, p, a0, a1, shift, buf):  # pragma: no cover - compiled
    # Cells a0 - shift ... a1 + shift - 1 of line p into buf (NaN beyond the halos).
    m = c2.shape[1]
    hl = l3.shape[1]
    hr = r3.shape[1]
    count = a1 - a0 + 2 * shift
    for k in range(count):
        j = a0 - shift + k
        if j < -hl or j >= m + hr:
            buf[k] = np.nan
        elif j < 0:
            buf[k] = l3[p, hl + j, 0]
        elif j < m:
            buf[k] = c2[p, j]
        else:
            buf[k] = r3[p, j - m, 0]


@_inline
def _line_ends(
    cells, line, a0, a1, shift, r, width, reach, wt, first, last, per_point, win
):  # pragma: no cover  # fmt: skip
    # The weighted rule at points [a0, a1) of a line, one by one from
    # `cells` (cells a0 - shift ... a1 + shift - 1: see _line_cells), into
    # `line`.  Exact at each point; a point that ends a run too short for
    # any stencil also sets NaN the run's middle points, to which the pass
    # over the line's middle may have given a centred value (see
    # _three_point_rule and _too_short).
    for j in range(a0, a1):
        at = j - a0 + shift - reach
        for k in range(2 * reach + 1):
            win[k] = cells[at + k]
        v, dl, dr = _window_rule(win, reach, r, width, wt, j, first, last, j * per_point)
        line[j] = v
        if _too_short(dl, dr, r, width):
            for k in range(r, min(dl - r, j) + 1):
                line[j - k] = np.nan


@_inline
def _line_rule(
    src, out, lo, hi, r, width, reach, wt, first, last, per_point, need, at, win
):  # pragma: no cover  # fmt: skip
    # The weighted rule for points [lo, hi) of the line `src` into `out`,
    # span by span; the cells `reach` beyond them are in `src`.
    for g0 in range(lo, hi, SPAN):
        g1 = min(g0 + SPAN, hi)
        t0 = g0 * per_point
        if r == 1:
            _three_point_rule(
                out[g0:g1], src[g0:g1], src[g0 - 3 : g1 - 3], src[g0 - 2 : g1 - 2],
                src[g0 - 1 : g1 - 1], src[g0 + 1 : g1 + 1], src[g0 + 2 : g1 + 2],
                src[g0 + 3 : g1 + 3], g1 - g0, width, reach > 2, wt[t0:], first[t0:],
                last[t0:], per_point, need, at, out[g0 - 1 : g1 - 1],
            )  # fmt: skip
        else:
            _five_point_line(
                src, g0, g1, out, reach, width, wt[g0:], first[t0:], last[t0:], per_point,
                need, at, win,
            )  # fmt: skip


def omit_missing(
    center: np.ndarray,
    axis: int,
    plan: MissingGradientBlock | MissingStencilBlock,
    left: np.ndarray | None = None,
    right: np.ndarray | None = None,
    *,
    parallel: bool | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Compiled stencils that stop at missing values on one block.

    The block's ``"propagate"`` result from the compiled kernels, flagging
    a NaN; a flagged block is computed again by the rule's kernels (see the
    comment above :func:`_cell`), and a block where a sample of cells holds
    a missing value by those alone.  Parameters as
    :func:`xgradient.kernels.omit_missing`.

    Examples
    --------
    >>> from xgradient.missing import plan_missing
    >>> from xgradient.stencils import plan_first_derivative
    >>> f = np.array([1.0, 2.0, np.nan, 4.0, 6.0, 9.0])
    >>> omit_missing(f, 0, plan_missing(plan_first_derivative(6, step=1.0)).block(0, 6))
    array([1. , 1. , nan, 2. , 2.5, 3. ])
    """
    gradient = isinstance(plan, MissingGradientBlock)
    apply = _gradient_3d if gradient else _stencil_3d
    inner = trimmed_halos(axis, plan, left, right)
    if center.dtype.kind in "biu":  # integers are never missing
        return _run(apply, center, axis, plan.base, *inner, parallel, out, _NO_FLAGS)
    threads = _threads(center, parallel)
    c3 = as3d(center, axis)  # in place: without missing values the propagate kernels read it
    if _sample_has_nan(_as_typed(c3), SAMPLES):
        # Missing values are common here: the rule's kernels alone write
        # every point, without computing the propagate result first.
        result = np.empty(center.shape, dtype=c3.dtype)
    else:
        flags = np.zeros(1, dtype=np.uint8)
        result = _run(apply, center, axis, plan.base, *inner, threads, None, flags)
        if not (flags[0] or _unflagged_gaps_possible(plan)):
            return deliver(result, out)  # no missing value within reach of any point
        result = np.ascontiguousarray(result)
    # The rule's kernels need C order to vectorise (a view, a Dask chunk of
    # a larger array say, made them ~1.6x slower than copying it first).
    c3 = np.ascontiguousarray(c3)
    halos = []
    for h in (left, right):
        shape = (c3.shape[0], 0, c3.shape[2])
        halos.append(
            np.empty(shape, c3.dtype) if h is None else np.ascontiguousarray(as3d(h, axis))
        )
    o3 = as3d(result, axis)
    # C-ordered tables, so that a block's slice of them does not compile a variant.
    first, last = (np.ascontiguousarray(c) for c in (plan.first, plan.last))
    along_last = c3.shape[2] == 1
    if along_last:  # each line as a contiguous row (see gradient_gaps_lines)
        c2, o2 = c3.reshape(c3.shape[:2]), o3.reshape(o3.shape[:2])
    if gradient:
        uniform = plan.positions is None
        x = np.empty(0) if uniform else plan.positions
        order = plan.edge_order
        if uniform:
            # As the propagate kernels divide: in float32 where that is exact.
            two_h = _divisor(2.0 * np.float64(plan.step), c3.dtype)
            if order == 1:
                h = _divisor(plan.step, c3.dtype)
                first = last = np.array([[h, 0.0, 0.0]], dtype=h.dtype)
        else:
            two_h = np.float64(1.0)  # unused
        gaps = (order, two_h, x, first, last)
        if along_last:
            gradient_gaps_lines[threads](halos[0], c3, halos[1], c2, o2, *gaps)
        else:
            gradient_gaps[threads](halos[0], c3, halos[1], o3, *gaps)
    else:
        wt = np.ascontiguousarray(plan.weights, dtype=np.float64)
        gaps = (plan.reach, wt, first, last)
        if along_last:
            stencil_gaps_lines[threads](halos[0], c2, halos[1], o2, *gaps)
        else:
            stencil_gaps[threads](halos[0], c3, halos[1], o3, *gaps, _rows_parts(c3, threads))
    return deliver(result, out)


def _rows_parts(c3: np.ndarray, threads: bool) -> int:
    """Pieces of the axis for stencil_gaps' rows, so that every thread has work.

    Its work items are (row, tile of TILE columns) pairs, as the propagate
    row kernels' (see :func:`_parts`): a 2-D field along its first axis has
    one per TILE columns.  Pieces keep 64 rows or more.
    """
    pre, m, post = c3.shape
    if not threads or post == 1:
        return 1
    items = pre * -(-post // TILE)
    wanted = 4 * numba.get_num_threads()
    return max(1, min(m // 64, -(-wanted // items)))


# Cells of a block looked at, evenly spread, before "omit" chooses its path:
# with a missing value among them, missing values are common enough that
# the propagate result (computed first to find out) would be wasted work.
# Each cell sampled is a cache miss: 4096 of them cost ~60 us per 2 MB Dask
# chunk, 20% of its kernel; 512 find 30% of missing points just as surely.
SAMPLES = 512


@_njit()
def _sample_has_nan(c3, count):  # pragma: no cover - compiled
    # Every step-th cell in C order.  The index advances by carries, not by
    # dividing the flat index at every cell: three integer divisions a cell
    # made this ~100 us for a 2 MB block, a tenth of the kernel.
    n = c3.size
    step = max(1, n // count)
    _, m, post = c3.shape
    p = i = q = 0
    for _ in range(0, n, step):
        v = c3[p, i, q]
        if v != v:
            return True
        q += step
        if q >= post:
            i += q // post
            q %= post
            if i >= m:
                p += i // m
                i %= m
    return False


def _unflagged_gaps_possible(plan: MissingGradientBlock | MissingStencilBlock) -> bool:
    """Whether a block may need the rule although its propagate result has no NaN.

    Normally a missing value within reach of a point makes some result of
    the block NaN.  Not when numpy.gradient's uniform interior has a single
    point (it does not read its own, missing, value), nor when a second
    derivative's block is so short that the two missing cells around a run
    of 2r + 1 points both lie in its halos.
    """
    if isinstance(plan, MissingGradientBlock):
        return plan.positions is None and plan.size == 1
    return plan.width > 2 * plan.radius + 1 and plan.size < 2 * plan.radius + 2


# -- masks -------------------------------------------------------------------------


@compiled(writes=("out",))
def masked_copy(src, valid, out):  # pragma: no cover - compiled
    """out = src where valid, else NaN: 3-D, ``valid`` of size 1 along the axes it broadcasts."""
    pre, m, post = src.shape
    by_p = valid.shape[0] > 1
    by_i = valid.shape[1] > 1
    by_q = valid.shape[2] > 1
    for t in prange(pre * m):
        p = t // m
        i = t % m
        s = src[p, i]
        o = out[p, i]
        v = valid[p if by_p else 0, i if by_i else 0]
        # Three loops, not one with the test inside: each vectorises.
        if by_q:
            for q in range(_u(post)):
                o[q] = s[q] if v[q] else np.nan
        elif v[0]:
            for q in range(_u(post)):
                o[q] = s[q]
        else:
            for q in range(_u(post)):
                o[q] = np.nan


def mark_missing(data: np.ndarray, valid: np.ndarray, *, parallel: bool | None = None) -> Any:
    """``data`` as floats with NaN where ``valid`` is False, in one compiled pass.

    Parameters as :func:`xgradient.kernels.mark_missing`.  Data and mask are
    seen as 3-D (axes that the mask has merged, and those it broadcasts
    along): a mask that alternates more often goes to the plain-array
    ``where``, as fast as NumPy makes it.  Data that is not C-ordered is
    copied first: a Dask chunk of an in-memory array is a view, and
    ``where`` took 10x this pass on one (copy and pass: 1.8x).

    Examples
    --------
    >>> data = np.arange(6.0).reshape(2, 3)
    >>> mark_missing(data, np.array([True, False, True]))
    array([[ 0., nan,  2.],
           [ 3., nan,  5.]])
    """
    shapes = _mask_layout(data.shape, np.shape(valid))
    if shapes is None:
        return reference.mark_missing(data, valid)
    if data.dtype.kind in "biu":
        # As floats first: a compiled variant per integer dtype would cost
        # more to compile than this pass over the data costs to run.
        data = data.astype(np.float64)
    data = np.ascontiguousarray(data)
    data_3d, valid_3d = shapes
    result = np.empty(data.shape, dtype=result_dtype(data.dtype))
    v = np.ascontiguousarray(valid, dtype=np.bool_).reshape(valid_3d)
    kernel = masked_copy[_threads(data, parallel)]
    kernel(data.reshape(data_3d), v, result.reshape(data_3d))
    return result


def _mask_layout(
    shape: tuple[int, ...], mask_shape: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """Data and mask shapes as 3-D, merging neighbouring axes the mask has (or lacks) alike.

    ``None`` when that takes more than three axes, or the shapes do not
    broadcast (then NumPy's ``where`` says so).

    Examples
    --------
    >>> _mask_layout((8, 721, 1440), (721, 1440))
    ((1, 8, 1038240), (1, 1, 1038240))
    >>> _mask_layout((721, 1440, 4, 3), (721, 1440, 1, 1))
    ((1, 1038240, 12), (1, 1038240, 1))
    >>> _mask_layout((2, 3, 4, 5), (3, 1, 5)) is None
    True
    """
    if len(mask_shape) > len(shape):
        return None
    mask_shape = (1,) * (len(shape) - len(mask_shape)) + tuple(mask_shape)
    groups: list[list[Any]] = []  # [size, whether the mask has these axes]
    for n, k in zip(shape, mask_shape, strict=True):
        if n == 1 and k == 1:
            continue
        if k not in (n, 1):
            return None
        has = k == n
        if groups and groups[-1][1] == has:
            groups[-1][0] *= n
        else:
            groups.append([n, has])
    if len(groups) > 3:
        return None
    groups = [[1, False]] * (3 - len(groups)) + groups
    return (
        tuple(n for n, _ in groups),
        tuple(n if has else 1 for n, has in groups),
    )


def step_range(positions: np.ndarray) -> tuple[float, float]:
    """Compiled :func:`xgradient.kernels.step_range` for 1-D float64 positions.

    One pass without temporaries (a 1-D coordinate is as large as its data).

    Examples
    --------
    >>> step_range(np.array([0.0, 1.0, 3.0, 6.0]))
    (1.0, 3.0)
    """
    lo, hi = _step_range(_as_typed(positions))
    return float(lo), float(hi)
