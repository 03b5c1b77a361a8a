"""The CUDA backend (``engine="cuda"``): fused kernels for CuPy blocks, through CuPy.

The GPU twin of :mod:`xgradient.backends.numba`: one CUDA thread per output
point reads the three (or, at an end, two or three) input cells it needs and
writes its result once, with the block and its halo cells passed separately.
The block is seen as ``(pre, n, post)``; the source holds one kernel for any
such layout and two faster ones for a long innermost axis and for wide rows
(:func:`launch_shape` picks).  The plain-array reference kernel, which CuPy
arrays otherwise go through, launches one CUDA kernel per arithmetic step,
each with a full-size temporary.  The weighted stencils (periodic dims,
fourth order, second derivatives) have a flat-grid kernel of their own that
applies each point's weights in stencil order (:func:`weighted_stencil`),
and ``nan_policy="omit"`` two more (:func:`omit_missing`): one thread a
point finds its runs of valid cells and evaluates the formula the rule of
:mod:`xgradient.missing` picks.

The expressions are the reference backend's (:mod:`xgradient.backends.reference`), in
the same order and the same types, and the code is compiled with
``--fmad=false``: NVRTC would otherwise contract ``a * f + b * g`` into fused
multiply-adds, whose single rounding differs from numpy's two.  IEEE
division and denormals are CUDA's defaults.  So the results are
bit-identical to the reference kernels', which are numpy.gradient's.

Only float32 and float64 CuPy data (with float32 or float64 positions) is
taken (:func:`accepts`, which also says no when CuPy cannot build the
kernel here); the dispatch sends anything else to the reference backend.
CuPy compiles each of the few specialisations once and caches it on disk.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np

from ..arrays import as3d, deliver, is_cupy
from ..missing import MissingGradientBlock, MissingStencilBlock
from ..stencils import BlockPlan, WeightedBlockPlan
from . import reference

__all__ = [
    "TAKES",
    "accepts",
    "kernel_source",
    "launch_arguments",
    "launch_shape",
    "mark_missing",
    "numpy_gradient",
    "omit_arguments",
    "omit_missing",
    "takes",
    "weighted_arguments",
    "weighted_stencil",
]

TAKES = "CuPy arrays of float32 or float64 dtype (and positions of float32 or float64)"

_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_THREADS = 256
# Enough blocks to fill any current GPU many times over; the kernel strides
# through larger arrays.
_MAX_BLOCKS = 1 << 16
# Rows at least this long keep at least 80% of a row kernel's threads busy.
_ROW_MIN = 1024
# CUDA's largest grid y.
_MAX_GRID_Y = 65535
# Offsets below this (plus one grid stride) cannot overflow 32-bit indices.
_INT32_LIMIT = 1 << 30

_SOURCE = r"""
typedef {data} T;     // the data and result type
typedef {weight} W;   // the positions' type (non-uniform interior weights)
typedef {compute} C;  // numpy's type for weights times data
typedef {index} I;    // wide enough for every offset

// Cell e of the extended block (left halo, block, right halo) on row (i, j).
__device__ __forceinline__ T cell(
    const T* __restrict__ center, const T* __restrict__ left, const T* __restrict__ right,
    I i, I e, I j, I n, I post, I nl, I nr)
{{
    if (e < nl) return left[(i * nl + e) * post + j];
    e -= nl;
    if (e < n) return center[(i * n + e) * post + j];
    return right[(i * nr + (e - n)) * post + j];
}}

// The derivative at point (i, k, j) of the block, from any cells it needs:
// the one-sided formulas at the dimension's ends, the interior formula elsewhere.
#define POINT_PARAMETERS \
    const T* __restrict__ center, const T* __restrict__ left, const T* __restrict__ right, \
    const W* __restrict__ weights, I i, I k, I j, I n, I post, I nl, I nr, \
    double two_h, double s0, double s1, double s2, double e0, double e1, double e2, \
    int edge_order, int uniform, int at_start, int at_end
#define POINT_ARGUMENTS \
    center, left, right, weights, i, k, j, n, post, nl, nr, \
    two_h, s0, s1, s2, e0, e1, e2, edge_order, uniform, at_start, at_end
// (KERNEL_ARGUMENTS: for the host tests, which emulate a grid of threads.)
#define KERNEL_ARGUMENTS \
    center, left, right, out, weights, pre, n, post, nl, nr, \
    two_h, s0, s1, s2, e0, e1, e2, edge_order, uniform, at_start, at_end
#define KERNEL_PARAMETERS \
    const T* __restrict__ center, const T* __restrict__ left, const T* __restrict__ right, \
    T* __restrict__ out, const W* __restrict__ weights, I pre, I n, I post, I nl, I nr, \
    double two_h, double s0, double s1, double s2, double e0, double e1, double e2, \
    int edge_order, int uniform, int at_start, int at_end

__device__ __forceinline__ T point(POINT_PARAMETERS)
{{
    const I extended = nl + n + nr;
    if (at_start && k == 0) {{
        // One-sided at the dimension's first point (the block starts there: nl == 0).
        const T g0 = cell(center, left, right, i, 0, j, n, post, nl, nr);
        const T g1 = cell(center, left, right, i, 1, j, n, post, nl, nr);
        if (edge_order == 1) return (T)((double)(g1 - g0) / s0);
        const T g2 = cell(center, left, right, i, 2, j, n, post, nl, nr);
        return (T)((s0 * (double)g0 + s1 * (double)g1) + s2 * (double)g2);
    }}
    if (at_end && k == n - 1) {{
        // One-sided at the dimension's last point: the last cells of the extended block.
        const T g1 = cell(center, left, right, i, extended - 2, j, n, post, nl, nr);
        const T g2 = cell(center, left, right, i, extended - 1, j, n, post, nl, nr);
        if (edge_order == 1) return (T)((double)(g2 - g1) / e0);
        const T g0 = cell(center, left, right, i, extended - 3, j, n, post, nl, nr);
        return (T)((e0 * (double)g0 + e1 * (double)g1) + e2 * (double)g2);
    }}
    const I e = k + nl;
    const T f_prev = cell(center, left, right, i, e - 1, j, n, post, nl, nr);
    const T f_here = cell(center, left, right, i, e, j, n, post, nl, nr);
    const T f_next = cell(center, left, right, i, e + 1, j, n, post, nl, nr);
    // The difference in the data's type, the division in float64 (numpy's).
    if (uniform) return (T)((double)(f_next - f_prev) / two_h);
    return (T)(((C)weights[k] * (C)f_prev + (C)weights[n + k] * (C)f_here)
               + (C)weights[2 * n + k] * (C)f_next);
}}

// The same, as a call: keeps the rare cases out of the registers of the fast loop.
__device__ __noinline__ T point_called(POINT_PARAMETERS)
{{
    return point(POINT_ARGUMENTS);
}}

// Any layout: one thread per point of the flattened block.
extern "C" __global__ void first_derivative(KERNEL_PARAMETERS)
{{
    const I total = pre * n * post;
    for (I idx = (I)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (I)blockDim.x * gridDim.x) {{
        const I j = idx % post;
        const I row = idx / post;
        const I k = row % n;
        const I i = row / n;
        out[idx] = point(POINT_ARGUMENTS);
    }}
}}

// Wide rows (post >= 1024): x runs along the contiguous index j, y along the
// rows (i, k), so the index arithmetic is per row.  A row inside the block
// reads its two neighbour rows directly, with point()'s interior formulas
// written out again: measured faster than going through cell()'s branches.
extern "C" __global__ void first_derivative_rows(KERNEL_PARAMETERS)
{{
    for (I row = blockIdx.y; row < pre * n; row += gridDim.y) {{
        const I k = row % n;
        const I i = row / n;
        const bool inside = k >= 1 && k + 1 < n;  // not an end, no halo cell
        const T* __restrict__ here = center + row * post;
        for (I j = (I)blockIdx.x * blockDim.x + threadIdx.x; j < post;
             j += (I)gridDim.x * blockDim.x) {{
            T result;
            if (inside && uniform) {{
                result = (T)((double)(here[j + post] - here[j - post]) / two_h);
            }} else if (inside) {{
                result = (T)(((C)weights[k] * (C)here[j - post] + (C)weights[n + k] * (C)here[j])
                             + (C)weights[2 * n + k] * (C)here[j + post]);
            }} else {{
                result = point_called(POINT_ARGUMENTS);
            }}
            out[row * post + j] = result;
        }}
    }}
}}

// Weighted stencils (periodic dims, fourth order, second derivatives): each
// point's float64 weights applied to its cells in stencil order and summed in
// float64, as numpy evaluates float64 weights times the data.  `rules` holds,
// for each point of the block, the index of its one-sided rule (-1 for the
// interior points), then each rule's first cell of the extended block, its
// length, and its offset into the rule weights (after the interior weights).
#define WEIGHTED_PARAMETERS \
    const T* __restrict__ center, const T* __restrict__ left, const T* __restrict__ right, \
    T* __restrict__ out, const double* __restrict__ weights, const I* __restrict__ rules, \
    I pre, I n, I post, I nl, I nr, I radius, I first, I last, I count
#define WEIGHTED_ARGUMENTS \
    center, left, right, out, weights, rules, pre, n, post, nl, nr, radius, first, last, count
extern "C" __global__ void weighted_stencil(WEIGHTED_PARAMETERS)
{{
    const I total = pre * n * post;
    const I width = 2 * radius + 1;
    const I* __restrict__ rule_start = rules + n;
    const I* __restrict__ rule_length = rule_start + count;
    const I* __restrict__ rule_offset = rule_length + count;
    for (I idx = (I)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (I)blockDim.x * gridDim.x) {{
        const I j = idx % post;
        const I row = idx / post;
        const I k = row % n;
        const I i = row / n;
        const double* __restrict__ w;
        I e, cells;
        if (k >= first && k < last) {{
            w = weights + k * width;
            e = nl + k - radius;
            cells = width;
        }} else {{
            const I rule = rules[k];
            w = weights + n * width + rule_offset[rule];
            e = rule_start[rule];
            cells = rule_length[rule];
        }}
        double sum = w[0] * (double)cell(center, left, right, i, e, j, n, post, nl, nr);
        for (I s = 1; s < cells; ++s) {{
            sum = sum + w[s] * (double)cell(center, left, right, i, e + s, j, n, post, nl, nr);
        }}
        out[idx] = (T)sum;
    }}
}}

// nan_policy="omit" (xgradient.missing): stencils that stop at missing values
// (NaN), taken for the ends of the dimension, as are the cells beyond the
// halos.  One thread per point counts the valid cells that follow one another
// on each side of it, up to the reach, and picks its formula as the
// plain-array rule does, evaluated with the same expressions in the same
// order.  `missing` is the NaN the rule writes (an argument: NVRTC and the
// host compiler spell a NaN constant differently).
__device__ __forceinline__ I run_side(
    const T* __restrict__ center, const T* __restrict__ left, const T* __restrict__ right,
    I i, I e, I j, I n, I post, I nl, I nr, I direction, I reach)
{{
    const I extended = nl + n + nr;
    I count = 0;
    for (I s = 1; s <= reach; ++s) {{
        const I c = e + direction * s;
        if (c < 0 || c >= extended) break;
        const T v = cell(center, left, right, i, c, j, n, post, nl, nr);
        if (v != v) break;
        count = s;
    }}
    return count;
}}

// numpy.gradient's formulas: `first` / `last` hold each point's one-sided
// coefficients as the first / last point of a run (3 a point; table_step 0:
// one set for all), the central formula is point()'s.
#define OMIT_GRADIENT_PARAMETERS KERNEL_PARAMETERS, \
    const double* __restrict__ first, const double* __restrict__ last, I table_step, \
    double missing
#define OMIT_GRADIENT_ARGUMENTS KERNEL_ARGUMENTS, first, last, table_step, missing
extern "C" __global__ void omit_gradient(OMIT_GRADIENT_PARAMETERS)
{{
    const I total = pre * n * post;
    for (I idx = (I)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (I)blockDim.x * gridDim.x) {{
        const I j = idx % post;
        const I row = idx / post;
        const I k = row % n;
        const I i = row / n;
        const I e = nl + k;
        const T f0 = cell(center, left, right, i, e, j, n, post, nl, nr);
        T result = (T)missing;
        if (f0 == f0) {{
            const I dl = run_side(center, left, right, i, e, j, n, post, nl, nr, -1, edge_order);
            const I dr = run_side(center, left, right, i, e, j, n, post, nl, nr, 1, edge_order);
            const double* __restrict__ a = first + 3 * k * table_step;
            const double* __restrict__ b = last + 3 * k * table_step;
            if (dl >= 1 && dr >= 1) {{
                // Not at an end of the dimension: point()'s interior formula.
                result = point(center, left, right, weights, i, k, j, n, post, nl, nr, two_h,
                               s0, s1, s2, e0, e1, e2, edge_order, uniform, 0, 0);
            }} else if (dl == 0 && dr >= edge_order) {{
                const T g1 = cell(center, left, right, i, e + 1, j, n, post, nl, nr);
                if (edge_order == 1) {{
                    result = (T)((double)(g1 - f0) / a[0]);
                }} else {{
                    const T g2 = cell(center, left, right, i, e + 2, j, n, post, nl, nr);
                    result = (T)((a[0] * (double)f0 + a[1] * (double)g1) + a[2] * (double)g2);
                }}
            }} else if (dr == 0 && dl >= edge_order) {{
                const T g1 = cell(center, left, right, i, e - 1, j, n, post, nl, nr);
                if (edge_order == 1) {{
                    result = (T)((double)(f0 - g1) / b[0]);
                }} else {{
                    const T g2 = cell(center, left, right, i, e - 2, j, n, post, nl, nr);
                    result = (T)((b[0] * (double)g2 + b[1] * (double)g1) + b[2] * (double)f0);
                }}
            }}
        }}
        out[idx] = result;
    }}
}}

// Weighted stencils of radius `radius`: `weights` the centred ones of each
// point (2 radius + 1 a point), `first[k, d]` / `last[k, d]` the `width`
// one-sided ones of point k when its run starts d cells before it / ends d
// cells after it (d < radius; table_step 0: one set for all points).  A run
// shorter than `width` is NaN, even where the centred stencil fits.
#define OMIT_STENCIL_PARAMETERS \
    const T* __restrict__ center, const T* __restrict__ left, const T* __restrict__ right, \
    T* __restrict__ out, const double* __restrict__ weights, const double* __restrict__ first, \
    const double* __restrict__ last, I pre, I n, I post, I nl, I nr, I radius, I width, \
    I reach, I table_step, double missing
#define OMIT_STENCIL_ARGUMENTS \
    center, left, right, out, weights, first, last, pre, n, post, nl, nr, radius, width, \
    reach, table_step, missing
extern "C" __global__ void omit_stencil(OMIT_STENCIL_PARAMETERS)
{{
    const I total = pre * n * post;
    for (I idx = (I)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (I)blockDim.x * gridDim.x) {{
        const I j = idx % post;
        const I row = idx / post;
        const I k = row % n;
        const I i = row / n;
        const I e = nl + k;
        const T f0 = cell(center, left, right, i, e, j, n, post, nl, nr);
        T result = (T)missing;
        if (f0 == f0) {{
            const I dl = run_side(center, left, right, i, e, j, n, post, nl, nr, -1, reach);
            const I dr = run_side(center, left, right, i, e, j, n, post, nl, nr, 1, reach);
            if (dl + dr + 1 >= width) {{
                const I t = k * table_step * radius;
                const double* __restrict__ w;
                I c, cells = width;
                if (dl < radius) {{
                    w = first + (t + dl) * width;
                    c = e - dl;
                }} else if (dr < radius) {{
                    w = last + (t + dr) * width;
                    c = e + dr - width + 1;
                }} else {{
                    cells = 2 * radius + 1;
                    w = weights + k * cells;
                    c = e - radius;
                }}
                double sum = w[0] * (double)cell(center, left, right, i, c, j, n, post, nl, nr);
                for (I s = 1; s < cells; ++s) {{
                    sum = sum + w[s] * (double)cell(center, left, right, i, c + s, j, n, post, nl, nr);
                }}
                result = (T)sum;
            }}
        }}
        out[idx] = result;
    }}
}}

// post == 1 (the innermost axis, n >= 1024): x runs along k, y along the rows
// i.  The loop over rows is the inner one, so that everything that depends on
// k alone (the end tests, the weights) is worked out once per thread.
extern "C" __global__ void first_derivative_last(KERNEL_PARAMETERS)
{{
    const I j = 0;
    for (I k = (I)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (I)gridDim.x * blockDim.x) {{
        for (I i = blockIdx.y; i < pre; i += gridDim.y) {{
            out[i * n + k] = point(POINT_ARGUMENTS);
        }}
    }}
}}
"""


def kernel_source(data: np.dtype, weight: np.dtype, *, wide: bool) -> str:
    """The CUDA C++ source of the kernel for ``data`` values and ``weight`` positions.

    ``wide`` selects 64-bit indices (blocks with offsets beyond 2**30).
    The compute type of the non-uniform interior is numpy's result type of
    the two, as in ``weights * data``.

    Examples
    --------
    >>> src = kernel_source(np.dtype("float32"), np.dtype("float64"), wide=False)
    >>> "typedef double C;" in src and "typedef int I;" in src
    True
    """
    compute = np.result_type(data, weight)
    return _SOURCE.format(
        data=_CTYPES[np.dtype(data)],
        weight=_CTYPES[np.dtype(weight)],
        compute=_CTYPES[compute],
        index="long long" if wide else "int",
    )


@functools.cache
def _module(data: np.dtype, weight: np.dtype, wide: bool) -> Any:
    import cupy

    # --fmad=false keeps numpy's roundings (see the module docstring).
    return cupy.RawModule(code=kernel_source(data, weight, wide=wide), options=("--fmad=false",))


_FUNCTIONS: dict[tuple[np.dtype, np.dtype, bool, str], Any] = {}


def _function(data: np.dtype, weight: np.dtype, wide: bool, name: str) -> Any:
    """The compiled kernel, or ``None`` (once warned) if CUDA cannot build it here.

    A machine whose CuPy cannot compile (no NVRTC library, say) still
    differentiates, with the plain-array kernels.
    """
    key = (data, weight, wide, name)
    if key not in _FUNCTIONS:
        try:
            _FUNCTIONS[key] = _module(data, weight, wide).get_function(name)
        except Exception as error:  # CuPy's compile and driver errors have no common base
            warnings.warn(
                f"xgradient could not build its CUDA kernel ({type(error).__name__}: {error}); "
                "CuPy arrays use the slower plain-array kernels instead",
                RuntimeWarning,
                stacklevel=4,
            )
            _FUNCTIONS[key] = None
    return _FUNCTIONS[key]


def launch_shape(pre: int, n: int, post: int) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """Which kernel of the source runs a ``(pre, n, post)`` block, its grid and its blocks.

    Measured on an H200 (docs/performance.md): on long rows, the innermost
    axis (``post == 1``) and wide rows (``post >= 1024``) run 10-20% faster
    with 2-D grids whose index arithmetic is per row rather than per point.
    Their blocks span one row, so on short rows most of a block's threads
    would idle: rows shorter than :data:`_ROW_MIN` take the flat kernel, as
    does every other layout.  Grid y is capped by CUDA's limit; the kernels
    stride.

    Examples
    --------
    >>> launch_shape(16, 2048, 1)
    ('first_derivative_last', (8, 16), (256,))
    >>> launch_shape(16, 2048, 1024)[:2]
    ('first_derivative_rows', (4, 32768))
    >>> launch_shape(10**6, 30, 1)[0]
    'first_derivative'
    """
    if post == 1 and n >= _ROW_MIN:
        return "first_derivative_last", (-(-n // _THREADS), min(pre, _MAX_GRID_Y)), (_THREADS,)
    if post >= _ROW_MIN:
        grid = (-(-post // _THREADS), min(pre * n, _MAX_GRID_Y))
        return "first_derivative_rows", grid, (_THREADS,)
    blocks = min(-(-(pre * n * post) // _THREADS), _MAX_BLOCKS)
    return "first_derivative", (blocks,), (_THREADS,)


def takes(x: Any) -> bool:
    """Whether the CUDA kernels take arrays of ``x``'s type and dtype: see :data:`TAKES`."""
    return is_cupy(x) and np.dtype(x.dtype) in _CTYPES


def accepts(center: Any, axis: int, plan: Any, left: Any, right: Any) -> bool:
    """Whether the CUDA kernels take this block: see :data:`TAKES`.

    Also no when CuPy cannot build the kernel on this machine (no NVRTC
    library, say; warned once): the block then takes the plain-array path.
    """
    if not takes(center):
        return False
    if not all(h is None or (is_cupy(h) and h.dtype == center.dtype) for h in (left, right)):
        return False
    if isinstance(plan, (MissingGradientBlock, MissingStencilBlock)):
        return _omit_kernel(center, axis, plan) is not None
    if isinstance(plan, WeightedBlockPlan):
        return _weighted_kernel(center, axis, plan) is not None
    return _weight_dtype(plan) in _CTYPES and _gradient_kernel(center, axis, plan) is not None


def _dims(center: Any, axis: int) -> tuple[int, int, int]:
    shape = center.shape
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])


def _weight_dtype(plan: BlockPlan) -> np.dtype:
    return np.dtype(np.float64) if plan.positions is None else np.dtype(plan.positions.dtype)


def _interior_weights(plan: BlockPlan, n: int) -> np.ndarray:
    """numpy.gradient's non-uniform weights ``(a, b, c)`` for each point of the block.

    The plan's (:meth:`~xgradient.stencils.BlockPlan.interior_weights`);
    zeros where a point is an edge point.
    """
    first = 1 if plan.at_start else 0  # block coordinates of the interior
    last = n - (1 if plan.at_end else 0)
    weights = np.zeros((3, n), dtype=plan.dx.dtype)
    if last > first:
        weights[:, first:last] = plan.interior_weights(first, last)
    return weights


def _operands(xp: Any, center: Any, axis: int, left: Any, right: Any) -> tuple[Any, list[Any]]:
    """The block and its halos as C-contiguous ``(pre, n, post)`` arrays (empty for no halo)."""
    c3 = xp.ascontiguousarray(as3d(center, axis))
    halos = [
        xp.ascontiguousarray(as3d(h, axis)) if h is not None else c3[:, :0] for h in (left, right)
    ]
    return c3, halos


def _wide(pre: int, n: int, post: int, plan: BlockPlan) -> bool:
    """Whether some offset of the block or its halos needs 64-bit indices."""
    return max(pre * (plan.left + n + plan.right) * post, 3 * n) > _INT32_LIMIT


def launch_arguments(
    xp: Any, center: Any, axis: int, plan: BlockPlan, left: Any, right: Any, result: Any
) -> tuple[tuple[Any, ...], bool]:
    """The kernel's arguments for one block, and whether it needs 64-bit indices.

    ``xp`` is the array namespace (CuPy; NumPy where the source is compiled
    for the host, in the tests).  The block and its halos are seen as
    C-contiguous ``(pre, n, post)`` arrays (a copy only if they are not
    contiguous already); ``result`` is the C-contiguous output.
    """
    n = center.shape[axis]
    c3, halos = _operands(xp, center, axis, left, right)
    pre, _, post = c3.shape
    uniform = plan.positions is None
    weight = np.dtype(np.float64) if uniform else np.dtype(plan.positions.dtype)
    two_h = 2.0 * np.float64(plan.step) if uniform else 0.0
    weights = xp.asarray(np.zeros(3, weight) if uniform else _interior_weights(plan, n))
    starts = plan.edge_coefficients(start=True) if plan.at_start else ()
    ends = plan.edge_coefficients(start=False) if plan.at_end else ()
    wide = _wide(pre, n, post, plan)
    index = np.int64 if wide else np.int32
    arguments = (
        c3,
        halos[0],
        halos[1],
        result,
        weights,
        *(index(v) for v in (pre, n, post, plan.left, plan.right)),
        *(np.float64(v) for v in (two_h, *(*starts, 0, 0, 0)[:3], *(*ends, 0, 0, 0)[:3])),
        *(np.int32(v) for v in (plan.edge_order, uniform, plan.at_start, plan.at_end)),
    )
    return arguments, wide


def _gradient_kernel(center: Any, axis: int, plan: BlockPlan) -> Any:
    """The compiled kernel for a block and its launch shape, or ``None`` if it cannot be built."""
    pre, n, post = _dims(center, axis)
    name, grid, block = launch_shape(pre, n, post)
    wide = _wide(pre, n, post, plan)
    function = _function(np.dtype(center.dtype), _weight_dtype(plan), wide, name)
    return None if function is None else (function, grid, block)


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
    """The fused CUDA kernel on one CuPy block (one :func:`accepts` takes).

    Arguments are those of :func:`xgradient.kernels.numpy_gradient`, already
    checked there (``parallel`` is for CPU engines); the result (or ``out``,
    filled) is a CuPy array.
    """
    cupy, result = _result_array(center, left, right, out)
    if center.size:  # empty blocks launch nothing, and compile nothing
        function, grid, block = _gradient_kernel(center, axis, plan)
        function(grid, block, launch_arguments(cupy, center, axis, plan, left, right, result)[0])
    return deliver(result, out)


def _result_array(center: Any, left: Any, right: Any, out: Any) -> tuple[Any, Any]:
    """CuPy, and where the kernel writes: ``out`` itself when it may, else a new array."""
    import cupy

    direct = _writes_in_place(cupy, out, np.dtype(center.dtype), (center, left, right))
    return cupy, out if direct else cupy.empty(center.shape, dtype=center.dtype)


def _rules(plan: WeightedBlockPlan, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The weighted kernel's tables: float64 weights (interior, then rules) and rule indices.

    ``None`` if some point has neither interior weights nor a one-sided rule
    (no plan built by :func:`xgradient.stencils.plan_weighted` does that).
    """
    first, last = plan.interior
    rule_of = np.full(n, -1, dtype=np.int64)
    starts, lengths, offsets, rule_weights = [], [], [], []
    offset = 0
    for rule, (i, start, w) in enumerate(plan.edges):
        rule_of[i] = rule
        starts.append(start)
        lengths.append(len(w))
        offsets.append(offset)
        rule_weights.append(np.asarray(w, dtype=np.float64))
        offset += len(w)
    outside = np.r_[0:first, last:n] if last > first else np.arange(n)
    if (rule_of[outside] < 0).any():
        return None
    weights = np.concatenate(
        [np.ascontiguousarray(plan.weights, dtype=np.float64).ravel(), *rule_weights]
    )
    return weights, np.concatenate([rule_of, starts, lengths, offsets]).astype(np.int64)


def _weighted_wide(pre: int, n: int, post: int, plan: WeightedBlockPlan, tables: tuple) -> bool:
    """Whether some offset of the block, its halos or its tables needs 64-bit indices."""
    extended = plan.left + n + plan.right
    return max(pre * extended * post, tables[0].size, tables[1].size) > _INT32_LIMIT


def weighted_arguments(
    xp: Any,
    center: Any,
    axis: int,
    plan: WeightedBlockPlan,
    left: Any,
    right: Any,
    result: Any,
    tables: tuple[np.ndarray, np.ndarray],
) -> tuple[tuple[Any, ...], bool]:
    """The weighted kernel's arguments for one block, and whether it needs 64-bit indices.

    As :func:`launch_arguments`, with the plan's ``tables`` from :func:`_rules`.
    """
    weights, rules = tables
    c3, halos = _operands(xp, center, axis, left, right)
    pre, n, post = c3.shape
    wide = _weighted_wide(pre, n, post, plan, tables)
    index = np.int64 if wide else np.int32
    first, last = plan.interior
    arguments = (
        c3,
        halos[0],
        halos[1],
        result,
        xp.asarray(weights),
        xp.asarray(rules.astype(index)),
        *(index(v) for v in (pre, n, post, plan.left, plan.right, plan.radius, first, last)),
        index(len(plan.edges)),
    )
    return arguments, wide


def _weighted_kernel(center: Any, axis: int, plan: WeightedBlockPlan) -> Any:
    """The compiled weighted kernel and its tables, or ``None`` if it cannot run this block."""
    pre, n, post = _dims(center, axis)
    tables = _rules(plan, n)
    if tables is None:
        return None
    # The weights are float64 whatever the positions: one specialisation per dtype.
    wide = _weighted_wide(pre, n, post, plan, tables)
    function = _function(np.dtype(center.dtype), np.dtype(np.float64), wide, "weighted_stencil")
    return None if function is None else (function, tables)


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
    """The fused CUDA weighted stencil on one CuPy block (one :func:`accepts` takes).

    Arguments are those of :func:`xgradient.kernels.weighted_stencil`, already
    checked there; the result (or ``out``, filled) is a CuPy array.
    """
    cupy, result = _result_array(center, left, right, out)
    if center.size:  # empty blocks launch nothing, and compile nothing
        function, tables = _weighted_kernel(center, axis, plan)
        arguments = weighted_arguments(cupy, center, axis, plan, left, right, result, tables)[0]
        pre, n, post = _dims(center, axis)
        blocks = min(-(-(pre * n * post) // _THREADS), _MAX_BLOCKS)
        function((blocks,), (_THREADS,), arguments)
    return deliver(result, out)


def omit_arguments(
    xp: Any,
    center: Any,
    axis: int,
    plan: MissingGradientBlock | MissingStencilBlock,
    left: Any,
    right: Any,
    result: Any,
) -> tuple[str, tuple[Any, ...], bool]:
    """The ``nan_policy="omit"`` kernel for one block: its name, arguments, 64-bit indices.

    As :func:`launch_arguments` (``xp`` NumPy where the source is compiled
    for the host): ``omit_gradient`` takes :func:`launch_arguments`' for the
    block's ``"propagate"`` plan, with this plan's wider halos, then the
    one-sided coefficient tables; ``omit_stencil`` the centred weights and
    the one-sided tables.  The tables are float64, as the plans hold them.
    """
    c3, halos = _operands(xp, center, axis, left, right)
    pre, n, post = c3.shape
    wide = _omit_wide(pre, n, post, plan)
    index = np.int64 if wide else np.int32
    tables = [
        xp.asarray(np.ascontiguousarray(t, dtype=np.float64)) for t in (plan.first, plan.last)
    ]
    table_step = index(1 if plan.first.shape[0] > 1 else 0)
    nan = np.float64(np.nan)
    if isinstance(plan, MissingGradientBlock):
        base = launch_arguments(xp, center, axis, plan.base, left, right, result)[0]
        sizes = (pre, n, post, plan.left, plan.right)  # this plan's halos, not the base's
        arguments = (*base[:5], *map(index, sizes), *base[10:], *tables, table_step, nan)
        return "omit_gradient", arguments, wide
    weights = xp.asarray(np.ascontiguousarray(plan.weights, dtype=np.float64))
    sizes = (pre, n, post, plan.left, plan.right, plan.radius, plan.width, plan.reach)
    arguments = (c3, *halos, result, weights, *tables, *map(index, sizes), table_step, nan)
    return "omit_stencil", arguments, wide


def _omit_wide(pre: int, n: int, post: int, plan: Any) -> bool:
    """Whether some offset of the block, its (widest) halos or its tables needs 64-bit indices."""
    extended = plan.left + n + plan.right
    centred = plan.weights.size if isinstance(plan, MissingStencilBlock) else 3 * n
    tables = np.size(plan.first) + centred
    return max(pre * extended * post, tables) > _INT32_LIMIT


def _omit_kernel(center: Any, axis: int, plan: MissingGradientBlock | MissingStencilBlock) -> Any:
    """The compiled ``nan_policy="omit"`` kernel for a block, or ``None`` if it cannot be built."""
    if isinstance(plan, MissingGradientBlock):
        weight, name = _weight_dtype(plan.base), "omit_gradient"
        if weight not in _CTYPES:
            return None
    else:  # weights are float64 whatever the positions
        weight, name = np.dtype(np.float64), "omit_stencil"
    wide = _omit_wide(*_dims(center, axis), plan)
    return _function(np.dtype(center.dtype), weight, wide, name)


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
    """The CUDA kernel for stencils that stop at missing values, on one CuPy block.

    One thread per point finds its runs of valid cells and evaluates the
    formula the rule of :mod:`xgradient.missing` picks, with the
    expressions of the plain-array rule (bit for bit).  Arguments are those
    of :func:`xgradient.kernels.omit_missing`, already checked there
    (``parallel`` is for CPU engines); the result (or ``out``, filled) is a
    CuPy array.
    """
    cupy, result = _result_array(center, left, right, out)
    if center.size:  # empty blocks launch nothing, and compile nothing
        function = _omit_kernel(center, axis, plan)
        arguments = omit_arguments(cupy, center, axis, plan, left, right, result)[1]
        pre, n, post = _dims(center, axis)
        blocks = min(-(-(pre * n * post) // _THREADS), _MAX_BLOCKS)
        function((blocks,), (_THREADS,), arguments)
    return deliver(result, out)


def mark_missing(data: Any, valid: Any, *, parallel: bool | None = None) -> Any:
    """``data`` with NaN where ``valid`` is False, on the GPU.

    CuPy's ``where`` is one elementwise kernel already, so this is the
    plain-array version (:func:`xgradient.backends.reference.mark_missing`);
    arguments as :func:`xgradient.kernels.mark_missing`.
    """
    return reference.mark_missing(data, valid)


def _writes_in_place(cupy: Any, out: Any, dtype: np.dtype, inputs: tuple[Any, ...]) -> bool:
    """Whether the kernel may write straight into ``out``.

    Only where no thread can overwrite a cell another still reads, and the
    layout and dtype are the kernel's own.
    """
    return (
        is_cupy(out)
        and out.dtype == dtype
        and out.flags.c_contiguous
        and not any(h is not None and cupy.may_share_memory(out, h) for h in inputs)
    )
