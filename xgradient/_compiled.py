"""Fused compiled kernels (numba) for numpy.gradient's stencils and general weights.

Each kernel reads every input element once and writes every output element
once, with the block and its halo cells passed separately (no concatenation).
The expressions are the reference kernels', evaluated in the same order and
without ``fastmath`` (no reassociation, no fused multiply-add), so results
are bit-identical to :mod:`xgradient.kernels`' reference functions.

numpy.gradient's two one-sided edge planes have compiled loops of their own
(with the reference's coefficients, :func:`xgradient.kernels.edge_coefficients`);
the few one-sided points of a weighted stencil reuse the reference formulas.

Every kernel exists twice: serial (used inside Dask tasks, whose scheduler
already keeps the cores busy) and threaded (large in-memory arrays, from the
main thread only).

numba is optional: without it (or for non-NumPy arrays, complex data, ...)
:func:`first_derivative` returns ``None`` and the caller uses the reference
kernel.  Compiled functions are cached on disk (``cache=True``), so the
compile cost is paid once per machine, not once per session.
"""

from __future__ import annotations

import itertools
import math
import threading
from typing import Any

import numpy as np

from .kernels import _as3d, edge_coefficients
from .stencils import BlockPlan, WeightedBlockPlan

try:  # pragma: no cover - exercised by whichever environment runs the tests
    import numba
except ImportError:  # pragma: no cover
    numba = None

__all__ = ["available", "first_derivative", "step_range", "weighted_stencil"]

# Below this many elements, threads cost more than they save.
PARALLEL_MIN_SIZE = 1 << 18
# Slabs of a block taken one kernel call each (see `_prepare`) must be at
# least this large: a call costs about what copying 2**14 values does.
SLAB_MIN_SIZE = 1 << 15
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# Elements of a row processed together by the row kernels: three input tiles
# and one output tile (4 x 16 KiB in float32, 4 x 32 KiB in float64) fit in L2.
TILE = 4096


def available() -> bool:
    """Whether the compiled kernels can be used (numba is importable)."""
    return numba is not None


if numba is not None:
    prange = numba.prange

    @numba.njit(cache=True, nogil=True, inline="always")
    def _piece(lo, hi, part, parts):  # pragma: no cover - compiled
        # Piece `part` of `parts` of the index range [lo, hi): near-equal
        # pieces in order, empty ones at the end when the range is short.
        step = (hi - lo + parts - 1) // parts
        s0 = min(lo + part * step, hi)
        return s0, min(s0 + step, hi)

    @numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")
    def _weights_at(x, left, i, m, at_end):  # pragma: no cover - compiled
        # numpy.gradient's three weights for point i of a block, from the
        # extended block's positions x, with the placeholder rules for points
        # missing a neighbour (`interior_weights` explains them; it and
        # `last_positions` use this for a block's ends).
        n = x.shape[0] - 1  # spacings
        k = left + i
        has1 = k >= 1
        has2 = k < n and not (at_end and i == m - 1)
        h1 = (x[k] - x[k - 1]) if has1 else ((x[k + 1] - x[k]) if has2 else 1.0)
        h2 = (x[k + 1] - x[k]) if has2 else h1
        return -(h2) / (h1 * (h1 + h2)), (h2 - h1) / (h1 * h2), h1 / (h2 * (h1 + h2))

    @numba.njit(cache=True, nogil=True, error_model="numpy")
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

    @numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")
    def _edge_row(center, out, p, i, j0, width, a, b, c, q0, q1):  # pragma: no cover
        # numpy.gradient's one-sided formula for row i of tile [q0, q1) from
        # rows j0 .. j0 + width - 1, as `edge_plane` computes it.
        f0 = center[p, j0]
        f1 = center[p, j0 + 1]
        dst = out[p, i]
        if width == 2:
            for q in range(q0, q1):
                dst[q] = (f1[q] - f0[q]) / a
        else:
            f2 = center[p, j0 + 2]
            for q in range(q0, q1):
                dst[q] = a * f0[q] + b * f1[q] + c * f2[q]

    def _make_kernels(parallel: bool) -> dict[str, Any]:
        variant = "parallel" if parallel else "serial"

        def jit(fn: Any) -> Any:
            # numba's on-disk cache is keyed by the function's qualified name
            # and source line, not by `parallel`: without distinct names the
            # serial and the threaded variant would load each other's code.
            fn.__qualname__ = f"{fn.__name__}_{variant}"
            # error_model="numpy": a division by zero gives inf or nan, as in
            # numpy.gradient (e.g. weights from spacings whose products
            # underflow), instead of raising ZeroDivisionError.
            return numba.njit(parallel=parallel, cache=True, nogil=True, error_model="numpy")(fn)

        @jit
        def rows_uniform(left, center, right, out, i0, i1, two_h, parts, edges):
            # 3-D (pre, m, post) blocks, derivative along the middle axis,
            # contiguous along `post`.  Work goes tile by tile along `post`
            # and, within a tile, point by point along the axis: the input
            # rows' tiles stay in cache between neighbouring points, so each
            # input element comes from memory once, not two or three times.
            # With few rows and tiles (a 2-D lat-lon field along lat: one
            # of each), `parts` also cuts the axis into pieces, so that every
            # thread gets work.  `edges` (see `_edge_args`) asks for the
            # dimension's one-sided end rows too, computed tile by tile while
            # their input rows are in cache: on a short axis (16 levels)
            # separate passes would read a quarter of the array again.
            pre, m, post = center.shape
            hl = left.shape[1]
            tiles = (post + TILE - 1) // TILE
            width = edges[0]
            for t in prange(pre * tiles * parts):
                pt = t // parts
                part = t % parts
                p = pt // tiles
                q0 = (pt % tiles) * TILE
                q1 = min(q0 + TILE, post)
                if edges[1] and part == 0:
                    _edge_row(center, out, p, 0, 0, width, edges[2], edges[3], edges[4], q0, q1)
                s0, s1 = _piece(i0, i1, part, parts)
                for i in range(s0, s1):
                    prev = left[p, hl - 1] if i == 0 else center[p, i - 1]
                    nxt = right[p, 0] if i == m - 1 else center[p, i + 1]
                    dst = out[p, i]
                    for q in range(q0, q1):
                        dst[q] = (nxt[q] - prev[q]) / two_h
                if edges[5] and part == parts - 1:
                    e = edges
                    _edge_row(center, out, p, m - 1, m - width, width, e[6], e[7], e[8], q0, q1)

        @jit
        def rows_weighted(left, center, right, out, i0, i1, a, b, c, parts, edges):
            pre, m, post = center.shape
            hl = left.shape[1]
            tiles = (post + TILE - 1) // TILE
            width = edges[0]
            for t in prange(pre * tiles * parts):
                pt = t // parts
                part = t % parts
                p = pt // tiles
                q0 = (pt % tiles) * TILE
                q1 = min(q0 + TILE, post)
                if edges[1] and part == 0:
                    _edge_row(center, out, p, 0, 0, width, edges[2], edges[3], edges[4], q0, q1)
                s0, s1 = _piece(i0, i1, part, parts)
                for i in range(s0, s1):
                    prev = left[p, hl - 1] if i == 0 else center[p, i - 1]
                    nxt = right[p, 0] if i == m - 1 else center[p, i + 1]
                    here = center[p, i]
                    dst = out[p, i]
                    wa = a[i]
                    wb = b[i]
                    wc = c[i]
                    for q in range(q0, q1):
                        dst[q] = wa * prev[q] + wb * here[q] + wc * nxt[q]
                if edges[5] and part == parts - 1:
                    e = edges
                    _edge_row(center, out, p, m - 1, m - width, width, e[6], e[7], e[8], q0, q1)

        # The middle loops index with unsigned integers: numba then knows
        # `i - 1` cannot be negative, drops its wrap-around check and LLVM
        # vectorises the loop (about 1.5x faster on the last axis).
        @jit
        def last_uniform(left, center, right, out, i0, i1, two_h, parts):
            # 2-D (pre, m) blocks, derivative along the contiguous last axis.
            # With fewer rows than threads (1-D data) `parts` cuts each row
            # into pieces; the first and last piece also write the row's ends.
            pre, m = center.shape
            hl = left.shape[1]
            one = numba.uint64(1)
            for t in prange(pre * parts):
                p = t // parts
                part = t % parts
                row = center[p]
                dst = out[p]
                lo = i0
                hi = i1
                if lo == 0 and hi > 0:
                    if part == 0:
                        nxt = right[p, 0] if m == 1 else row[1]
                        dst[0] = (nxt - left[p, hl - 1]) / two_h
                    lo = 1
                if hi == m and hi > lo:
                    if part == parts - 1:
                        prev = left[p, hl - 1] if m == 1 else row[m - 2]
                        dst[m - 1] = (right[p, 0] - prev) / two_h
                    hi = m - 1
                s0, s1 = _piece(lo, max(lo, hi), part, parts)
                for i in range(numba.uint64(s0), numba.uint64(s1)):
                    dst[i] = (row[i + one] - row[i - one]) / two_h

        @jit
        def last_weighted(left, center, right, out, i0, i1, a, b, c, parts):
            pre, m = center.shape
            hl = left.shape[1]
            one = numba.uint64(1)
            for t in prange(pre * parts):
                p = t // parts
                part = t % parts
                row = center[p]
                dst = out[p]
                lo = i0
                hi = i1
                if lo == 0 and hi > 0:
                    if part == 0:
                        nxt = right[p, 0] if m == 1 else row[1]
                        dst[0] = a[0] * left[p, hl - 1] + b[0] * row[0] + c[0] * nxt
                    lo = 1
                if hi == m and hi > lo:
                    if part == parts - 1:
                        prev = left[p, hl - 1] if m == 1 else row[m - 2]
                        dst[m - 1] = (
                            a[m - 1] * prev + b[m - 1] * row[m - 1] + c[m - 1] * right[p, 0]
                        )
                    hi = m - 1
                s0, s1 = _piece(lo, max(lo, hi), part, parts)
                for i in range(numba.uint64(s0), numba.uint64(s1)):
                    dst[i] = a[i] * row[i - one] + b[i] * row[i] + c[i] * row[i + one]

        @jit
        def last_positions(left, center, right, out, i0, i1, x, offset, at_end, parts):
            # last_weighted for a single row (1-D data): the spacings and
            # weights are computed on the fly from the positions, exactly as
            # np.diff and interior_weights compute them, instead of being
            # written to four arrays as large as the data and read back.
            pre, m = center.shape
            hl = left.shape[1]
            one = numba.uint64(1)
            base = numba.uint64(offset)
            for t in prange(pre * parts):
                p = t // parts
                part = t % parts
                row = center[p]
                dst = out[p]
                lo = i0
                hi = i1
                if lo == 0 and hi > 0:
                    if part == 0:
                        nxt = right[p, 0] if m == 1 else row[1]
                        a, b, c = _weights_at(x, offset, 0, m, at_end)
                        dst[0] = a * left[p, hl - 1] + b * row[0] + c * nxt
                    lo = 1
                if hi == m and hi > lo:
                    if part == parts - 1:
                        prev = left[p, hl - 1] if m == 1 else row[m - 2]
                        a, b, c = _weights_at(x, offset, m - 1, m, at_end)
                        dst[m - 1] = a * prev + b * row[m - 1] + c * right[p, 0]
                    hi = m - 1
                # Points 1 .. m-2 of the block have both spacings.
                s0, s1 = _piece(lo, max(lo, hi), part, parts)
                for i in range(numba.uint64(s0), numba.uint64(s1)):
                    h1 = x[base + i] - x[base + i - one]
                    h2 = x[base + i + one] - x[base + i]
                    a = -(h2) / (h1 * (h1 + h2))
                    b = (h2 - h1) / (h1 * h2)
                    c = h1 / (h2 * (h1 + h2))
                    dst[i] = a * row[i - one] + b * row[i] + c * row[i + one]

        @jit
        def rows_stencil(left, center, right, out, i0, i1, wt, parts, rules):
            # General weights wt[k, i] on 3-D (pre, m, post) blocks, tile by
            # tile along `post` like the row kernels above.  The sum is
            # accumulated in float64, term by term in stencil order, as the
            # reference kernel does, so float32 results match it bit for bit.
            # Points whose stencil stays inside the block, with three or five
            # weights, take a direct expression: the same sum in the same
            # order, 1.5x faster than accumulating term by term.
            pre, m, post = center.shape
            width = wt.shape[0]
            r = (width - 1) // 2
            hl = left.shape[1]
            tiles = (post + TILE - 1) // TILE
            lo = min(max(i0, r), i1) if width == 3 or width == 5 else i1
            hi = max(min(i1, m - r), lo)
            # `rules` (see `_rule_args`): the one-sided points at the
            # dimension's ends, computed tile by tile as `edge_rule` computes
            # them, while their rows are in cache.
            rule_i, rule_j0, rule_len, rule_w = rules
            for t in prange(pre * tiles * parts):
                pt = t // parts
                part = t % parts
                p = pt // tiles
                q0 = (pt % tiles) * TILE
                size = min(TILE, post - q0)
                acc = np.empty(size, dtype=np.float64)
                for e in range(rule_i.shape[0]):
                    ie = rule_i[e]
                    if not ((ie < i0 and part == 0) or (ie >= i1 and part == parts - 1)):
                        continue
                    for k in range(rule_len[e]):
                        src = center[p, rule_j0[e] + k]
                        wk = rule_w[e, k]
                        if k == 0:
                            for q in range(size):
                                acc[q] = wk * src[q0 + q]
                        else:
                            for q in range(size):
                                acc[q] = acc[q] + wk * src[q0 + q]
                    dst = out[p, ie]
                    for q in range(size):
                        dst[q0 + q] = acc[q]
                s0, s1 = _piece(i0, i1, part, parts)
                for i in range(s0, s1):
                    if lo <= i < hi:
                        dst = out[p, i]
                        f1 = center[p, i - 1]
                        f2 = center[p, i]
                        f3 = center[p, i + 1]
                        w1 = wt[0 if width == 3 else 1, i]
                        w2 = wt[1 if width == 3 else 2, i]
                        w3 = wt[2 if width == 3 else 3, i]
                        if width == 3:
                            for q in range(q0, q0 + size):
                                dst[q] = w1 * f1[q] + w2 * f2[q] + w3 * f3[q]
                        else:
                            f0 = center[p, i - 2]
                            f4 = center[p, i + 2]
                            w0 = wt[0, i]
                            w4 = wt[4, i]
                            for q in range(q0, q0 + size):
                                dst[q] = (
                                    w0 * f0[q] + w1 * f1[q] + w2 * f2[q] + w3 * f3[q] + w4 * f4[q]
                                )
                        continue
                    for k in range(width):
                        j = i - r + k
                        if j < 0:
                            src = left[p, hl + j, q0 : q0 + size]
                        elif j >= m:
                            src = right[p, j - m, q0 : q0 + size]
                        else:
                            src = center[p, j, q0 : q0 + size]
                        wk = wt[k, i]
                        if k == 0:
                            for q in range(size):
                                acc[q] = wk * src[q]
                        else:
                            for q in range(size):
                                acc[q] = acc[q] + wk * src[q]
                    dst = out[p, i, q0 : q0 + size]
                    for q in range(size):
                        dst[q] = acc[q]

        @jit
        def edge_rule(window, dst, w):
            # One one-sided point: dst[p, q] = sum_k w[k] window[p, k, q],
            # accumulated like the reference (float64, in stencil order).
            pre, length, post = window.shape
            tiles = (post + TILE - 1) // TILE
            for t in prange(pre * tiles):
                p = t // tiles
                q0 = (t % tiles) * TILE
                for q in range(q0, min(q0 + TILE, post)):
                    acc = w[0] * window[p, 0, q]
                    for k in range(1, length):
                        acc = acc + w[k] * window[p, k, q]
                    dst[p, q] = acc

        @jit
        def last_stencil(left, center, right, out, i0, i1, wt, parts):
            # General weights on 2-D (pre, m) blocks along the last axis.
            pre, m = center.shape
            width = wt.shape[0]
            r = (width - 1) // 2
            hl = left.shape[1]
            one = numba.uint64(1)
            two = numba.uint64(2)
            # Points whose stencil stays inside the block take the fast path.
            lo = min(max(i0, r), i1)
            hi = max(min(i1, m - r), lo)
            for t in prange(pre * parts):
                p = t // parts
                part = t % parts
                row = center[p]
                dst = out[p]
                # The points whose stencil reaches a halo, [i0, lo) and
                # [hi, i1): a few at most, by piece 0.
                slow = (lo - i0) + (i1 - hi) if part == 0 else 0
                for s in range(slow):
                    i = i0 + s if s < lo - i0 else hi + s - (lo - i0)
                    acc = 0.0
                    for k in range(width):
                        j = i - r + k
                        if j < 0:
                            v = left[p, hl + j]
                        elif j >= m:
                            v = right[p, j - m]
                        else:
                            v = row[j]
                        acc = wt[k, i] * v if k == 0 else acc + wt[k, i] * v
                    dst[i] = acc
                w0 = wt[0]
                w1 = wt[1]
                w2 = wt[2]
                s0, s1 = _piece(lo, hi, part, parts)
                if width == 3:
                    for i in range(numba.uint64(s0), numba.uint64(s1)):
                        dst[i] = w0[i] * row[i - one] + w1[i] * row[i] + w2[i] * row[i + one]
                else:
                    w3 = wt[3]
                    w4 = wt[4]
                    for i in range(numba.uint64(s0), numba.uint64(s1)):
                        dst[i] = (
                            w0[i] * row[i - two]
                            + w1[i] * row[i - one]
                            + w2[i] * row[i]
                            + w3[i] * row[i + one]
                            + w4[i] * row[i + two]
                        )

        @jit
        def edge_difference(f0, f1, f2, dst, h, unused_b, unused_c):
            # numpy.gradient's first-order edge: (f[1] - f[0]) / h.
            for q in prange(dst.shape[0]):
                dst[q] = (f1[q] - f0[q]) / h

        @jit
        def edge_weights(f0, f1, f2, dst, a, b, c):
            # numpy.gradient's second-order edge: a f[0] + b f[1] + c f[2].
            for q in prange(dst.shape[0]):
                dst[q] = a * f0[q] + b * f1[q] + c * f2[q]

        @jit
        def edge_plane(center, out, i, j0, width, a, b, c):
            # numpy.gradient's one-sided formula for point i of a 3-D
            # (pre, m, post) block from its rows j0 .. j0 + width - 1, read
            # in place (no window copies): (f1 - f0) / a for edge_order=1,
            # a f0 + b f1 + c f2 for edge_order=2.
            pre, post = center.shape[0], center.shape[2]
            tiles = (post + TILE - 1) // TILE
            for t in prange(pre * tiles):
                p = t // tiles
                q0 = (t % tiles) * TILE
                _edge_row(center, out, p, i, j0, width, a, b, c, q0, min(q0 + TILE, post))

        @jit
        def interior_weights(x, left, m, at_end):
            # Point i of the block sits at index left + i of the extended
            # block, whose positions are x; its spacings are np.diff's
            # x[left + i] - x[left + i - 1] and x[left + i + 1] - x[left + i].
            # numpy.gradient's weights, operation for operation (loops
            # instead of its array expressions: ~25 us less per call, which
            # matters for small arrays).  Points missing a neighbour (the
            # dimension's ends) get a placeholder spacing repeating their
            # other one, so the discarded weights are finite; the edge
            # formula replaces them.
            a = np.empty(m)
            b = np.empty(m)
            c = np.empty(m)
            n = x.shape[0] - 1  # spacings
            # Points with both spacings, in a loop without branches (it
            # vectorises, and threads for long 1-D blocks); then the at most
            # two points of the block with a placeholder.
            lo = max(0, 1 - left)
            hi = min(m - 1 if at_end else m, n - left)
            hi = max(hi, lo)
            for i in prange(lo, hi):
                h1 = x[left + i] - x[left + i - 1]
                h2 = x[left + i + 1] - x[left + i]
                a[i] = -(h2) / (h1 * (h1 + h2))
                b[i] = (h2 - h1) / (h1 * h2)
                c[i] = h1 / (h2 * (h1 + h2))
            for i in range(lo):
                a[i], b[i], c[i] = _weights_at(x, left, i, m, at_end)
            for i in range(hi, m):
                a[i], b[i], c[i] = _weights_at(x, left, i, m, at_end)
            return a, b, c

        return {
            "interior_weights": interior_weights,
            "last_positions": last_positions,
            "edge_plane": edge_plane,
            "edge_difference": edge_difference,
            "edge_weights": edge_weights,
            "rows_uniform": rows_uniform,
            "rows_weighted": rows_weighted,
            "last_uniform": last_uniform,
            "last_weighted": last_weighted,
            "rows_stencil": rows_stencil,
            "edge_rule": edge_rule,
            "last_stencil": last_stencil,
        }

    _KERNELS = {False: _make_kernels(False), True: _make_kernels(True)}


def step_range(positions: Any) -> tuple[float, float] | None:
    """Compiled :func:`xgradient.kernels.step_range`, or ``None`` when it does not apply."""
    if numba is None or not isinstance(positions, np.ndarray):
        return None
    if positions.ndim != 1 or positions.dtype != np.float64:
        return None
    lo, hi = _step_range(positions)
    return float(lo), float(hi)


def _interior_weights(
    plan: BlockPlan, m: int, parallel: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy.gradient's non-uniform weights for the block's points (index = block position)."""
    threads = parallel and m >= PARALLEL_MIN_SIZE  # long 1-D blocks: as costly as the data
    return _KERNELS[threads]["interior_weights"](plan.positions, plan.left, m, plan.at_end)


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


def _kernel_axes(x: np.ndarray, axis: int) -> tuple[int, ...]:
    """The order in which the kernels see ``x``'s axes, as ``(pre, m, post)``.

    Normally ``x``'s own: ``pre`` is the axes before ``axis`` and ``post``
    those after, merged.  A subset of a larger array differentiated along its
    first axis (``t[:, 10:50, 20:80]`` along time) has axes after ``axis``
    that do not merge into one; then only their trailing run that does is
    ``post`` and the others become ``pre``, so the block is read where it lies
    instead of copied.  The (C-ordered) result is seen in the same order,
    which is a view only when no axis longer than 1 precedes ``axis``.
    """
    k, run = x.ndim, x.itemsize
    while k - 1 > axis and (x.shape[k - 1] == 1 or x.strides[k - 1] == run):
        run *= x.shape[k - 1]
        k -= 1
    if k == axis + 1 or math.prod(x.shape[:axis]) != 1:
        return tuple(range(x.ndim))
    return (*range(axis), *range(axis + 1, k), axis, *range(k, x.ndim))


class _Flipped:
    """A Fortran-ordered block seen as a C-ordered one with its axes reversed."""

    def __init__(self, center: np.ndarray, axis: int, left: Any, right: Any) -> None:
        self.center = center.T
        self.axis = center.ndim - 1 - axis
        self.left = None if left is None else left.T
        self.right = None if right is None else right.T


def _prepare(center: Any, axis: int, left: Any, right: Any, parallel: bool | None) -> Any:
    """Validate and reshape a block and its halos to 3-D (pre, m, post) arrays.

    Returns ``None`` when no compiled kernel applies, a :class:`_Flipped`
    block to retry with for Fortran-ordered data, a :class:`_Slabs` block to
    take slab by slab, or ``(c3, l3, r3, parallel, seen)``, ``seen`` telling
    how to see the result.
    """
    if numba is None or not isinstance(center, np.ndarray):
        return None
    if any(h is not None and not isinstance(h, np.ndarray) for h in (left, right)):
        return None
    if center.dtype.kind in "biu":
        center = center.astype(np.float64)
    elif center.dtype not in _DTYPES:
        return None
    # ``isnative``, not ``byteorder == "="``: zarr v3 hands out explicitly
    # little-endian dtypes ("<f4"), native on most machines.
    if not center.dtype.isnative or center.size == 0:
        return None
    if center.ndim > 1 and center.flags.f_contiguous and not center.flags.c_contiguous:
        return _Flipped(center, axis, left, right)
    if parallel is None:
        # Threads only from the main thread: inside Dask tasks (or any other
        # pool) the scheduler already keeps the cores busy.
        parallel = (
            center.size >= PARALLEL_MIN_SIZE
            and threading.current_thread() is threading.main_thread()
        )
    # The kernels read a block where it lies when its innermost axis is
    # contiguous, as in a subset of a larger array or Dask chunks that are
    # views of one array: a copy would cost a pass and fresh pages (~2x the
    # kernel).  Other layouts are copied, so the inner loops always see unit
    # strides and vectorise.  Halos are thin: made contiguous, they cost
    # nothing.
    axes = _kernel_axes(center, axis)
    seen = axes.index(axis)
    if (
        axis > 0
        and center.ndim > 2
        and center[0].size >= SLAB_MIN_SIZE
        and center.strides[-1] == center.itemsize
        and not _merges(center, axes, seen)
    ):
        # A subset differentiated along a later axis, (t, y[a:b], x[c:d])
        # along x: t and y do not merge, so the kernels would see a copy.
        # Slab by slab along the first axis, each slab is read in place.
        return _Slabs(center, axis, left, right, parallel)
    c3 = _as3d(center.transpose(axes), seen)
    if not _inner_contiguous(c3):
        c3 = np.ascontiguousarray(c3)
    empty = np.empty((c3.shape[0], 0, c3.shape[2]), dtype=c3.dtype)
    l3, r3 = (
        empty if h is None else np.ascontiguousarray(_as3d(h.transpose(axes), seen), dtype=c3.dtype)
        for h in (left, right)
    )
    return c3, l3, r3, bool(parallel), _Seen(axes, seen)


def _merges(x: np.ndarray, axes: tuple[int, ...], axis: int) -> bool:
    """Whether ``x.transpose(axes)`` is seen as ``(pre, m, post)`` without a copy.

    ``axis`` is the differentiated axis's place in ``axes``; the axes before
    it must merge into one, and those after it too.
    """
    shape = [x.shape[a] for a in axes]
    strides = [x.strides[a] for a in axes]
    for group in (range(axis), range(axis + 1, len(axes))):
        dims = [d for d in group if shape[d] != 1]
        if any(strides[a] != strides[b] * shape[b] for a, b in itertools.pairwise(dims)):
            return False
    return True


class _Slabs:
    """A block that the kernels take slab by slab along its first axis (see ``_prepare``)."""

    def __init__(
        self, center: np.ndarray, axis: int, left: Any, right: Any, parallel: bool
    ) -> None:
        self.center, self.axis, self.left, self.right = center, axis, left, right
        self.parallel = parallel

    def apply(self, kernel: Any, plan: Any, out: np.ndarray | None) -> np.ndarray:
        c = self.center
        result = _target(out, c.shape, c.dtype, (c, self.left, self.right))
        for k in range(c.shape[0]):
            kernel(
                c[k],
                self.axis - 1,
                plan,
                None if self.left is None else self.left[k],
                None if self.right is None else self.right[k],
                parallel=self.parallel,
                out=result[k],
            )
        return _deliver(result, out)


class _Seen:
    """How :func:`_prepare` reordered a block's axes, to see its result the same way."""

    def __init__(self, axes: tuple[int, ...], axis: int) -> None:
        self.axes = axes
        self.axis = axis

    def out3(self, result: np.ndarray, shape3: tuple[int, ...]) -> np.ndarray:
        o3 = _as3d(result.transpose(self.axes), self.axis)
        # A copy here would take the kernels' writes away from the result.
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


def _2d(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[:2])


def first_derivative(
    center: Any,
    axis: int,
    plan: BlockPlan,
    left: Any,
    right: Any,
    *,
    parallel: bool | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray | None:
    """Compiled numpy.gradient on one block, or ``None`` when it does not apply.

    ``parallel=None`` uses threads for large blocks, but only from the main
    thread, so a Dask scheduler's parallelism is not oversubscribed.  The
    result is written into ``out`` when given (then returned).
    """
    prepared = _prepare(center, axis, left, right, parallel)
    if prepared is None:
        return None
    if isinstance(prepared, _Slabs):
        return prepared.apply(first_derivative, plan, out)
    if isinstance(prepared, _Flipped):
        result = first_derivative(
            prepared.center,
            prepared.axis,
            plan,
            prepared.left,
            prepared.right,
            parallel=parallel,
            out=None if out is None else out.T,
        )
        return None if result is None else (out if out is not None else result.T)
    c3, l3, r3, parallel, seen = prepared
    m = c3.shape[1]
    result = _target(out, center.shape, c3.dtype, (center, left, right))
    o3 = seen.out3(result, c3.shape)
    i0 = 1 if plan.at_start else 0
    i1 = m - (1 if plan.at_end else 0)
    kernels = _KERNELS[parallel]
    if i1 > i0:
        last = c3.shape[2] == 1
        operands = [_2d(a) for a in (l3, c3, r3, o3)] if last else [l3, c3, r3, o3]
        if plan.positions is None:
            name, weights = "uniform", (_divisor(2.0 * np.float64(plan.step), c3.dtype),)
        elif last and c3.shape[0] == 1:
            # One row: weights used once cost less computed on the fly.
            name, weights = "positions", (plan.positions, plan.left, plan.at_end)
        else:
            name, weights = "weighted", _interior_weights(plan, m, parallel)
        parts = _parts(c3, i1 - i0, parallel)
        if last:
            kernels["last_" + name](*operands, i0, i1, *weights, parts)
        else:
            edges = _edge_args(plan, m, c3.dtype)
            kernels["rows_" + name](*operands, i0, i1, *weights, parts, edges)
            if edges[1] or edges[5]:
                return _deliver(result, out)  # the row kernel wrote the edges too
    if plan.edge_order + 1 <= m:
        # The usual case: each end's window lies inside the block.
        _edge_planes(c3, o3, plan, kernels["edge_plane"])
    elif plan.at_start or plan.at_end:
        _write_edges(center, axis, plan, left, right, result, parallel)
    return _deliver(result, out)


def _edge_args(plan: BlockPlan, m: int, dtype: np.dtype) -> tuple[Any, ...]:
    """What the row kernels need to write the dimension's end rows themselves.

    ``(width, at_start, a, b, c, at_end, a, b, c)``: the one-sided formula's
    window width and, for each end, whether the block holds it and the
    coefficients ``edge_plane`` would use.  Both ends off when the windows
    do not fit in the block (the caller then writes the edges its own way).
    """
    width = plan.edge_order + 1
    ends = []
    for present, start in ((plan.at_start, True), (plan.at_end, False)):
        on = bool(present and width <= m)
        # Placeholders of the same types when off: one compiled variant.
        if plan.edge_order == 1:  # (f[1] - f[0]) / h
            h = edge_coefficients(plan, start=start)[0] if on else 1.0
            ends.append((on, _divisor(h, dtype), 0.0, 0.0))
        else:
            a, b, c = edge_coefficients(plan, start=start) if on else (np.float64(0.0),) * 3
            ends.append((on, np.float64(a), np.float64(b), np.float64(c)))
    (s_on, sa, sb, sc), (e_on, ea, eb, ec) = ends
    return (width, s_on, sa, sb, sc, e_on, ea, eb, ec)


def _parts(c3: np.ndarray, span: int, parallel: bool) -> int:
    """How many pieces the kernels cut the axis into, so every thread has work.

    The row kernels' work items are (row, tile) pairs: a 2-D field
    differentiated along its first axis (pre = 1, fewer than TILE columns)
    has a single one.  The last-axis kernels' items are rows: 1-D data has
    one.  Pieces of the last axis are kept to TILE points or more.
    """
    if not parallel:
        return 1
    wanted = 4 * numba.get_num_threads()
    last = c3.shape[2] == 1
    items = c3.shape[0] if last else c3.shape[0] * -(-c3.shape[2] // TILE)
    if items >= wanted:
        return 1
    most = span // TILE if last else span
    return max(1, min(most, -(-wanted // items)))


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


def _deliver(result: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if out is None or result is out:
        return result
    out[...] = result
    return out


def _edge_planes(c3: np.ndarray, o3: np.ndarray, plan: BlockPlan, kernel: Any) -> None:
    """The one-sided end points of a block holding its ends' whole windows."""
    m = c3.shape[1]
    width = plan.edge_order + 1
    for present, start, i, j0 in (
        (plan.at_start, True, 0, 0),
        (plan.at_end, False, m - 1, m - width),
    ):
        if not present:
            continue
        coefficients = edge_coefficients(plan, start=start)
        if plan.edge_order == 1:  # (f[1] - f[0]) / h
            a, b, c = _divisor(coefficients[0], c3.dtype), 0.0, 0.0
        else:
            a, b, c = coefficients
        kernel(c3, o3, i, j0, width, a, b, c)


def _write_edges(
    center: np.ndarray,
    axis: int,
    plan: BlockPlan,
    left: np.ndarray | None,
    right: np.ndarray | None,
    out: np.ndarray,
    parallel: bool,
) -> None:
    """Fill the one-sided edge points, compiled, from a thin window at each end.

    With few points along the axis (e.g. 16 pressure levels) the two edge
    planes are a large share of the array, so they get a fused loop too.
    """
    from .kernels import _take, _window, extended_pieces

    pieces = extended_pieces(center, axis, left, right)
    width = plan.edge_order + 1
    m = center.shape[axis]
    total = sum(p.shape[axis] for p in pieces)
    kernel = _KERNELS[parallel]["edge_difference" if plan.edge_order == 1 else "edge_weights"]
    ends = ((plan.at_start, True, 0, 0), (plan.at_end, False, total - width, m - 1))
    for present, start, lo, i in ends:
        if not present:
            continue
        window = _window(pieces, axis, lo, lo + width)
        rows = [
            np.ascontiguousarray(_take(window, axis, k, k + 1)).reshape(-1) for k in range(width)
        ]
        while len(rows) < 3:
            rows.append(rows[0])  # unused by the first-order formula
        target = _take(out, axis, i, i + 1)
        dst = target.reshape(-1) if target.flags.c_contiguous else np.empty(target.size, out.dtype)
        coefficients = edge_coefficients(plan, start=start)
        if plan.edge_order == 1:  # (f[1] - f[0]) / h
            coefficients = (_divisor(coefficients[0], out.dtype),)
        kernel(*rows, dst, *coefficients, *(0.0,) * (3 - len(coefficients)))
        if not target.flags.c_contiguous:
            target[...] = dst.reshape(target.shape)


def weighted_stencil(
    center: Any,
    axis: int,
    plan: WeightedBlockPlan,
    left: Any,
    right: Any,
    *,
    parallel: bool | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray | None:
    """Compiled :func:`xgradient.kernels.weighted_stencil_reference`, or ``None``.

    Interior points (three- or five-point stencils) and the few one-sided
    points at a dimension's ends are compiled, with the reference's
    arithmetic in the reference's order.
    """
    prepared = _prepare(center, axis, left, right, parallel)
    if prepared is None:
        return None
    if isinstance(prepared, _Slabs):
        return prepared.apply(weighted_stencil, plan, out)
    if isinstance(prepared, _Flipped):
        result = weighted_stencil(
            prepared.center,
            prepared.axis,
            plan,
            prepared.left,
            prepared.right,
            parallel=parallel,
            out=None if out is None else out.T,
        )
        return None if result is None else (out if out is not None else result.T)
    c3, l3, r3, parallel, seen = prepared
    result = _target(out, center.shape, c3.dtype, (center, left, right))
    o3 = seen.out3(result, c3.shape)
    i0, i1 = plan.interior
    if i1 > i0:
        wt = np.ascontiguousarray(plan.weights.T)
        kernels = _KERNELS[parallel]
        if c3.shape[2] == 1:
            parts = _parts(c3, i1 - i0, parallel)
            kernels["last_stencil"](_2d(l3), _2d(c3), _2d(r3), _2d(o3), i0, i1, wt, parts)
        else:
            rules = _rule_args(plan, c3.shape[1])
            parts = _parts(c3, i1 - i0, parallel)
            kernels["rows_stencil"](l3, c3, r3, o3, i0, i1, wt, parts, rules)
            if len(rules[0]):
                return _deliver(result, out)  # the row kernel wrote the edges too
    if plan.edges:
        _write_edge_rules(center, axis, plan, left, right, result, parallel)
    return _deliver(result, out)


def _rule_args(plan: WeightedBlockPlan, m: int) -> tuple[np.ndarray, ...]:
    """The plan's one-sided points as arrays for ``rows_stencil``, or none at all.

    ``(i, j0, length, weights)``: each point's index, the first block row of
    its window, the window's length and its weights (zero-padded).  Empty
    unless every window lies inside the block (the caller then writes them
    from windows that take in the halos).
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
    return (
        np.array([i for i, _, _ in inside], dtype=np.int64),
        np.array([j for _, j, _ in inside], dtype=np.int64),
        np.array([len(w) for _, _, w in inside], dtype=np.int64),
        weights,
    )


def _write_edge_rules(
    center: np.ndarray,
    axis: int,
    plan: WeightedBlockPlan,
    left: np.ndarray | None,
    right: np.ndarray | None,
    out: np.ndarray,
    parallel: bool,
) -> None:
    """The one-sided points of a weighted plan, compiled, each from a thin window."""
    from .kernels import _take, _window, extended_pieces

    pieces = extended_pieces(center, axis, left, right)
    kernel = _KERNELS[parallel]["edge_rule"]
    for i, start, weights in plan.edges:
        window = _as3d(_window(pieces, axis, start, start + len(weights)), axis)
        target = _take(out, axis, i, i + 1)
        dst = target.reshape(window.shape[0], window.shape[2])
        kernel(window, dst, np.asarray(weights, dtype=np.float64))
        if not np.shares_memory(dst, out):  # reshape had to copy: write it back
            target[...] = dst.reshape(target.shape)
