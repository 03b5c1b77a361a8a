"""The CUDA kernel's source, compiled for the host, against the reference kernel.

CI has no GPU, but the kernels of :mod:`xgradient.backends.cuda` are plain C++ apart
from a few CUDA keywords.  Compiled by the host's C++ compiler with those
keywords defined away, they run the same halo selection and floating-point
expressions as on a GPU (``-ffp-contract=off`` plays the part of
``--fmad=false``).  A small launcher in front of each kernel runs a grid of
CUDA threads one after the other, with ``blockIdx``, ``threadIdx``,
``blockDim`` and ``gridDim`` set as CUDA sets them, so the mapping of
threads to points is exercised too: with :func:`xgradient.backends.cuda.launch_shape`'s
grid, with shrunken grids that make every kernel stride, and with a single
thread that strides through everything.  The arguments come from
:func:`xgradient.backends.cuda.launch_arguments` with NumPy as the array namespace,
the function the GPU path uses with CuPy; a host stand-in for CuPy runs the
dispatcher itself (``out=``, in place, other layouts).

The oracle is the reference kernel, bit for bit, on blocks of every chunking
(with their halos) of random arrays, for every combination of data and
positions dtype, edge order, uniform or non-uniform spacing and index type
(the 64-bit specialisation on small arrays: its arithmetic, not its range).
Threads run one at a time here, so races between them cannot show; on a GPU,
tests/test_cupy.py runs the kernels themselves against numpy.gradient.
"""

from __future__ import annotations

import ctypes
import itertools
import math
import os
import shutil
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
from conftest import block_pieces, random_first_derivative_plan
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from strategies import chunkings, differentiation_cases, missing_masks

from xgradient.backends import cuda as _cuda
from xgradient.backends import reference
from xgradient.missing import plan_missing
from xgradient.stencils import plan_first_derivative, plan_weighted

COMPILER = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
# In CI a missing compiler is a failure, not a silent skip: these are the
# only tests of the CUDA kernels there.
pytestmark = pytest.mark.skipif(
    COMPILER is None and not os.environ.get("CI"), reason="no C++ compiler on this machine"
)

# CUDA's keywords, and its built-in variables as globals the launchers set.
_HOST_SHIM = """
#define __device__
#define __global__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
struct xg_dim3 { unsigned int x, y, z; };
static xg_dim3 blockIdx, threadIdx, blockDim, gridDim;
"""

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
# launch_shape's constants, shrunk so that small arrays take every kernel and
# their grids are too small to give each point its own thread.
_SMALL_GRID = {"_THREADS": 3, "_MAX_BLOCKS": 2, "_MAX_GRID_Y": 2, "_ROW_MIN": 4}
KERNELS = ["first_derivative", "first_derivative_rows", "first_derivative_last"]
# Entry points and the prefix of their parameter macros.
ENTRY_POINTS = {
    **dict.fromkeys(KERNELS, "KERNEL"),
    "weighted_stencil": "WEIGHTED",
    "omit_gradient": "OMIT_GRADIENT",
    "omit_stencil": "OMIT_STENCIL",
}


def _launcher(name):
    """C++ that runs a ``(gx, gy)`` grid of ``bx``-thread blocks of kernel ``name``, in turn."""
    kind = ENTRY_POINTS[name]
    return f"""
extern "C" void launch_{name}(unsigned gx, unsigned gy, unsigned bx, {kind}_PARAMETERS)
{{
    gridDim = {{gx, gy, 1}};
    blockDim = {{bx, 1, 1}};
    for (unsigned y = 0; y < gy; ++y)
        for (unsigned x = 0; x < gx; ++x)
            for (unsigned t = 0; t < bx; ++t) {{
                blockIdx = {{x, y, 0}};
                threadIdx = {{t, 0, 0}};
                {name}({kind}_ARGUMENTS);
            }}
}}
"""


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory):
    """Every specialisation's launchers, compiled for the host and loaded."""
    folder = tmp_path_factory.mktemp("cuda_source")
    libraries = {}
    for data, weight, wide in itertools.product(DTYPES, DTYPES, [False, True]):
        stem = f"{data.name}_{weight.name}_{'wide' if wide else 'narrow'}"
        source = folder / f"{stem}.cpp"
        code = _cuda.kernel_source(data, weight, wide=wide)
        source.write_text(_HOST_SHIM + code + "".join(_launcher(k) for k in ENTRY_POINTS))
        library = folder / f"lib{stem}.so"
        flags = ["-std=c++14", "-O2", "-ffp-contract=off", "-shared", "-fPIC"]
        subprocess.run(
            [COMPILER, *flags, "-o", str(library), str(source)],
            check=True,
            capture_output=True,
        )
        loaded = ctypes.CDLL(str(library))
        for name in ENTRY_POINTS:
            libraries[data, weight, wide, name] = getattr(loaded, f"launch_{name}")
    return libraries


def _as_ctypes(value):
    if isinstance(value, np.ndarray):
        return ctypes.c_void_p(value.ctypes.data)
    if isinstance(value, np.integer):  # the kernels' index type I, or int
        return (
            ctypes.c_longlong(int(value)) if value.dtype == np.int64 else ctypes.c_int(int(value))
        )
    return ctypes.c_double(float(value))


def _launch(kernels, data, weight, wide, name, grid, block, arguments):
    """Run kernel ``name`` over ``grid`` x ``block`` threads, as CuPy's launch would."""
    gx, gy = (*grid, 1)[:2]
    kernels[data, weight, wide, name](
        ctypes.c_uint(gx),
        ctypes.c_uint(gy),
        ctypes.c_uint(block[0]),
        *(_as_ctypes(a) for a in arguments),
    )


def _host_first_derivative(kernels, center, axis, plan, left, right, *, wide=False, name=None):
    """The kernel on the host; ``name`` forces an entry point, run by one striding thread."""
    result = np.empty(center.shape, center.dtype)
    arguments, needs_wide = _cuda.launch_arguments(np, center, axis, plan, left, right, result)
    weight = np.dtype(np.float64) if plan.positions is None else plan.positions.dtype
    if name is None:
        name, grid, block = _cuda.launch_shape(*(int(a) for a in arguments[5:8]))
    else:
        grid, block = (1, 1), (1,)
    if wide and not needs_wide:  # the 64-bit specialisation on a small block
        arguments = tuple(np.int64(a) if isinstance(a, np.int32) else a for a in arguments)
        arguments = arguments[:-4] + tuple(np.int32(a) for a in arguments[-4:])  # int flags
    _launch(kernels, center.dtype, weight, wide or needs_wide, name, grid, block, arguments)
    return result


@settings(max_examples=300, deadline=None)
@given(
    case=differentiation_cases(max_side=9),
    dtype=st.sampled_from(DTYPES),
    weight=st.sampled_from(DTYPES),
    uniform=st.booleans(),
    wide=st.booleans(),
    launch=st.sampled_from(["grid", "small grid", *KERNELS]),
    data=st.data(),
)
def test_host_compiled_kernel_is_the_reference_bit_for_bit(
    host_kernels, case, dtype, weight, uniform, wide, launch, data
):
    # launch: launch_shape's kernel and grid; the same with grids shrunk so
    # far (3 threads a block, at most 2 blocks, rows from 4 points) that every
    # kernel takes small arrays and strides; or one entry point, one thread.
    edge_order, shape, axis = case
    n = shape[axis]
    name = launch if launch in KERNELS else None
    if name == "first_derivative_last" and math.prod(shape[axis + 1 :]) != 1:
        name = "first_derivative_rows"  # the innermost-axis kernel takes only that axis
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    values = rng.normal(size=shape).astype(dtype)
    plan = random_first_derivative_plan(
        rng, n, uniform=uniform, dtype=weight, edge_order=edge_order
    )
    with pytest.MonkeyPatch.context() as patch:
        if launch == "small grid":
            for constant, value in _SMALL_GRID.items():
                patch.setattr(_cuda, constant, value)
        for center, left, right, block_plan in block_pieces(
            values, axis, plan, data.draw(chunkings(n), label="chunks")
        ):
            got = _host_first_derivative(
                host_kernels, center, axis, block_plan, left, right, wide=wide, name=name
            )
            expected = reference.numpy_gradient(center, axis, block_plan, left, right)
            assert got.dtype == expected.dtype
            assert_array_equal(got.view(np.uint8), expected.view(np.uint8))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_host_compiled_kernel_on_a_non_contiguous_block_with_halos(
    host_kernels, dtype, edge_order, axis
):
    # A Fortran-ordered array and mid-dimension blocks: every operand is
    # made contiguous by launch_arguments, and the halos come from both sides.
    values = np.asfortranarray(np.random.default_rng(axis).normal(size=(7, 11, 13)).astype(dtype))
    positions = np.cumsum(np.random.default_rng(1).uniform(0.5, 1.5, values.shape[axis]))
    plan = plan_first_derivative(values.shape[axis], positions=positions, edge_order=edge_order)
    for center, left, right, block_plan in block_pieces(
        values, axis, plan, (3, 1, values.shape[axis] - 4)
    ):
        got = _host_first_derivative(host_kernels, center, axis, block_plan, left, right)
        assert_array_equal(got, reference.numpy_gradient(center, axis, block_plan, left, right))


def test_the_kernel_source_is_compiled_without_contraction():
    # The GPU path's bit-identity rests on this option (see xgradient.backends.cuda).
    import inspect

    assert '"--fmad=false"' in inspect.getsource(_cuda._module)


def test_non_cupy_arrays_are_left_to_the_other_kernels():
    plan = plan_first_derivative(4, step=1.0)
    assert not _cuda.accepts(np.zeros(4), 0, plan.block(0, 4), None, None)


@pytest.mark.parametrize(
    ("shape", "name"),
    [
        ((5, 2000, 1), "first_derivative_last"),
        ((10**6, 30, 1), "first_derivative"),  # short rows: the flat kernel
        ((5, 7, 3), "first_derivative"),
        ((5, 7, 1023), "first_derivative"),
        ((5, 7, 1024), "first_derivative_rows"),
        ((1, 100_000, 4000), "first_derivative_rows"),
    ],
)
def test_launch_shapes_cover_every_point(shape, name):
    # With CUDA's grid: every (i, k, j) gets at least one thread once the
    # kernels' strides are counted, and no grid dimension passes its limit.
    pre, n, post = shape
    chosen, grid, block = _cuda.launch_shape(pre, n, post)
    assert chosen == name
    assert block == (256,)
    assert all(1 <= g < 2**31 for g in grid) and (len(grid) == 1 or grid[1] <= 65535)
    if name == "first_derivative_last":
        assert grid[0] * block[0] >= n
    elif name == "first_derivative_rows":
        assert grid[0] * block[0] >= post


def test_a_kernel_cuda_cannot_build_falls_back_with_one_warning(monkeypatch):
    # E.g. CuPy installed without its NVRTC library: differentiating must
    # still work (the caller then runs the plain-array kernel), and say why once.
    def fail(*args):
        raise RuntimeError("libnvrtc.so not found")

    monkeypatch.setattr(_cuda, "_module", fail)
    monkeypatch.setattr(_cuda, "_FUNCTIONS", {})
    key = (np.dtype(np.float64), np.dtype(np.float64), False, "first_derivative")
    with pytest.warns(RuntimeWarning, match="could not build its CUDA kernel.*libnvrtc"):
        assert _cuda._function(*key) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _cuda._function(*key) is None  # remembered: no second warning


class _HostArray(np.ndarray):
    """A NumPy array that xgradient.backends.cuda takes for a CuPy one (it looks at the module)."""


_HostArray.__module__ = "cupy"


def _on_device(values):
    return values.view(_HostArray)


def _use_host_cupy(patch, host_kernels):
    """Make ``patch`` stand in for CuPy: host arrays, and the launchers as its kernels."""
    cupy = types.ModuleType("cupy")
    cupy.ascontiguousarray = lambda a: _on_device(np.ascontiguousarray(a))
    cupy.asarray = lambda a: _on_device(np.asarray(a))
    cupy.empty = lambda shape, dtype: _on_device(np.empty(shape, dtype))
    cupy.may_share_memory = np.may_share_memory

    class Module:
        def __init__(self, data, weight, wide):
            self.key = (data, weight, wide)

        def get_function(self, name):
            key = (*self.key, name)
            return lambda grid, block, arguments: _launch(
                host_kernels, *key, grid, block, arguments
            )

    patch.setitem(sys.modules, "cupy", cupy)
    patch.setattr(_cuda, "_module", Module)
    patch.setattr(_cuda, "_FUNCTIONS", {})


@pytest.fixture
def host_cupy(host_kernels, monkeypatch):
    """A stand-in for CuPy whose arrays live on the host and whose kernels are the launchers."""
    _use_host_cupy(monkeypatch, host_kernels)


@pytest.mark.parametrize(
    ("shape", "axis"),
    [((5, 6, 7), 0), ((5, 6, 7), 1), ((5, 6, 7), 2), ((3, 1500), 1), ((1100, 3), 0)],
    ids=["flat-0", "flat-1", "flat-2", "innermost-axis", "wide-rows"],
)
@pytest.mark.parametrize("order", ["C", "F"])
def test_dispatcher_into_new_arrays_into_out_and_in_place(host_cupy, shape, axis, order):
    n = shape[axis]
    positions = np.cumsum(np.random.default_rng(n).uniform(0.5, 1.5, n))
    plan = plan_first_derivative(n, positions=positions, edge_order=2).block(0, n)
    values = np.random.default_rng(1).normal(size=shape)
    expected = reference.numpy_gradient(values, axis, plan)

    def run(center, out=None):
        return _cuda.numpy_gradient(center, axis, plan, None, None, out=out)

    got = run(_on_device(np.array(values, order=order)))
    assert type(got) is _HostArray
    assert_array_equal(got, expected)
    out = _on_device(np.full(shape, np.nan, order=order))
    assert run(_on_device(values), out) is out
    assert_array_equal(out, expected)
    # In place: the kernels must never read a cell another point has overwritten.
    f = _on_device(np.array(values, order=order))
    assert run(f, f) is f
    assert_array_equal(f, expected)
    out32 = _on_device(np.empty(shape, np.float32))
    run(_on_device(values), out32)
    assert_array_equal(out32, expected.astype(np.float32))


def test_dispatcher_on_a_view_with_halos_writing_into_the_block_itself(host_cupy):
    # A mid-dimension block of a transposed view, its halos beside it, and
    # out= the block itself (the halos lie outside it: no copy is needed).
    values = np.random.default_rng(2).normal(size=(9, 40, 6))
    plan = plan_first_derivative(40, positions=np.cumsum(np.linspace(1.0, 2.0, 40)))
    view = _on_device(values.copy()).transpose(2, 1, 0)  # (6, 40, 9), along axis 1
    block_plan = plan.block(10, 30)
    center, left, right = view[:, 10:30], view[:, 9:10], view[:, 30:31]
    expected = reference.numpy_gradient(
        np.asarray(center).copy(), 1, block_plan, np.asarray(left), np.asarray(right)
    )
    got = _cuda.numpy_gradient(center, 1, block_plan, left, right)
    assert_array_equal(got, expected)
    block = _on_device(np.ascontiguousarray(center))
    halos = (_on_device(np.ascontiguousarray(left)), _on_device(np.ascontiguousarray(right)))
    assert _cuda.numpy_gradient(block, 1, block_plan, *halos, out=block) is block
    assert_array_equal(block, expected)


def test_empty_blocks_compile_and_launch_nothing(host_cupy, monkeypatch):
    def refuse(*args):
        raise AssertionError("an empty block asked for a kernel")

    monkeypatch.setattr(_cuda, "_function", refuse)
    plan = plan_first_derivative(4, step=1.0).block(0, 4)
    got = _cuda.numpy_gradient(_on_device(np.empty((0, 4))), 1, plan, None, None)
    assert type(got) is _HostArray and got.shape == (0, 4)


def _periodic_pieces(values, axis, plan, chunks, radius):
    """block_pieces on a periodic dim: the halos wrap around (as the Dask layer's do)."""
    wrapped = np.concatenate(
        [np.take(values, range(-radius, 0), axis), values, np.take(values, range(radius), axis)],
        axis=axis,
    )
    index = [slice(None)] * values.ndim
    start = 0
    for size in chunks:
        stop = start + size
        block_plan = plan.block(start, stop)

        def take(lo, hi):
            index[axis] = slice(lo + radius, hi + radius)
            return wrapped[tuple(index)]

        left = take(start - block_plan.left, start) if block_plan.left else None
        right = take(stop, stop + block_plan.right) if block_plan.right else None
        yield take(start, stop), left, right, block_plan
        start = stop


def _pieces(values, axis, plan, chunks, wrap):
    """block_pieces, or _periodic_pieces with halos of ``wrap`` cells wrapped around."""
    if wrap is None:
        return block_pieces(values, axis, plan, chunks)
    return _periodic_pieces(values, axis, plan, chunks, wrap)


def _blocks_match_the_reference(host_kernels, launch, pieces, axis, kernel):
    """The CUDA backend's ``kernel`` on each piece (CuPy stand-in), bit for bit the reference's."""
    with pytest.MonkeyPatch.context() as patch:
        _use_host_cupy(patch, host_kernels)
        _shrink_grid(patch, launch)
        for center, left, right, block_plan in pieces:
            expected = getattr(reference, kernel)(center, axis, block_plan, left, right)
            halos = [None if h is None else _on_device(h) for h in (left, right)]
            assert _cuda.accepts(_on_device(center), axis, block_plan, *halos)
            got = getattr(_cuda, kernel)(_on_device(center), axis, block_plan, *halos)
            assert type(got) is _HostArray and got.dtype == expected.dtype
            assert_array_equal(got.view(np.uint8), expected.view(np.uint8))


def _shrink_grid(patch, launch):
    """Grids shrunk so far that every kernel strides ("small grid"), or to one thread."""
    if launch == "small grid":
        for constant, value in _SMALL_GRID.items():
            patch.setattr(_cuda, constant, value)
    elif launch == "one thread":
        patch.setattr(_cuda, "_THREADS", 1)
        patch.setattr(_cuda, "_MAX_BLOCKS", 1)


@settings(max_examples=200, deadline=None)
@given(
    case=differentiation_cases(max_side=11),
    dtype=st.sampled_from(DTYPES),
    order=st.sampled_from([1, 2]),
    accuracy=st.sampled_from([2, 4]),
    periodic=st.booleans(),
    uniform=st.booleans(),
    launch=st.sampled_from(["grid", "small grid", "one thread"]),
    data=st.data(),
)
def test_host_compiled_weighted_stencil_is_the_reference_bit_for_bit(
    host_kernels, case, dtype, order, accuracy, periodic, uniform, launch, data
):
    # Periodic dims, fourth-order stencils and second derivatives, through
    # the dispatcher on the CuPy stand-in, block by block with halos.
    _, shape, axis = case
    shape = list(shape)
    shape[axis] = max(shape[axis], accuracy + order + 1)
    n = shape[axis]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    values = rng.normal(size=shape).astype(dtype)
    positions = np.arange(n) * 0.7 if uniform else np.cumsum(rng.uniform(0.2, 2.0, n))
    period = positions[-1] - positions[0] + (0.7 if uniform else 1.3)
    plan = plan_weighted(
        positions, order=order, accuracy=accuracy, periodic=periodic, period=period
    )
    chunks = data.draw(chunkings(n), label="chunks")
    pieces = _pieces(values, axis, plan, chunks, plan.radius if periodic else None)
    _blocks_match_the_reference(host_kernels, launch, pieces, axis, "weighted_stencil")


@pytest.mark.parametrize("order", ["C", "F"])
def test_weighted_dispatcher_into_out_and_in_place(host_cupy, order):
    values = np.random.default_rng(3).normal(size=(6, 20, 5))
    plan = plan_weighted(np.cumsum(np.linspace(1.0, 2.0, 20)), order=2, accuracy=4).block(0, 20)
    expected = reference.weighted_stencil(values, 1, plan)
    out = _on_device(np.full(values.shape, np.nan, order=order))
    assert _cuda.weighted_stencil(_on_device(values), 1, plan, None, None, out=out) is out
    assert_array_equal(out, expected)
    f = _on_device(np.array(values, order=order))
    assert _cuda.weighted_stencil(f, 1, plan, None, None, out=f) is f
    assert_array_equal(f, expected)


def test_a_weighted_plan_that_leaves_a_point_uncovered_is_left_to_the_reference():
    from xgradient.stencils import WeightedBlockPlan

    plan = WeightedBlockPlan(
        weights=np.ones((4, 3)), radius=1, left=0, right=1, interior=(1, 4), edges=()
    )
    assert _cuda._rules(plan, 4) is None  # point 0 has neither weights nor a rule
    assert not _cuda.accepts(
        _on_device(np.ones((2, 4))), 1, plan, None, _on_device(np.ones((2, 1)))
    )


@settings(max_examples=300, deadline=None)
@given(
    case=differentiation_cases(max_side=11),
    dtype=st.sampled_from(DTYPES),
    weight=st.sampled_from(DTYPES),
    stencil=st.sampled_from(["gradient", "weighted"]),
    order=st.sampled_from([1, 2]),
    accuracy=st.sampled_from([2, 4]),
    periodic=st.booleans(),
    uniform=st.booleans(),
    launch=st.sampled_from(["grid", "small grid", "one thread"]),
    data=st.data(),
)
def test_host_compiled_omit_kernels_are_the_reference_rule_bit_for_bit(
    host_kernels, case, dtype, weight, stencil, order, accuracy, periodic, uniform, launch, data
):
    # nan_policy="omit": random missing values (gaps, blobs, whole lines),
    # block by block with the rule's wider halos, numpy.gradient's formulas
    # (edge order 1 and 2, float32 or float64 positions) and weighted stencils
    # (periodic, fourth order, second derivatives).
    edge_order, shape, axis = case
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    gradient = stencil == "gradient"
    if gradient:
        n = shape[axis]
        base = random_first_derivative_plan(
            rng, n, uniform=uniform, dtype=weight, edge_order=edge_order
        )
        plan = plan_missing(base)
    else:
        shape = list(shape)
        shape[axis] = max(shape[axis], accuracy + order + 1)
        n = shape[axis]
        positions = np.arange(n) * 0.7 if uniform else np.cumsum(rng.uniform(0.2, 2.0, n))
        period = positions[-1] - positions[0] + (0.7 if uniform else 1.3)
        options = {"order": order, "accuracy": accuracy, "periodic": periodic, "period": period}
        base = plan_weighted(positions, **options)
        plan = plan_missing(base, positions, order=order, accuracy=accuracy, period=period)
    values = rng.normal(size=shape).astype(dtype)
    values[data.draw(missing_masks(tuple(shape), axis), label="missing")] = np.nan
    chunks = data.draw(chunkings(n), label="chunks")
    pieces = _pieces(values, axis, plan, chunks, plan.reach if plan.periodic else None)
    _blocks_match_the_reference(host_kernels, launch, pieces, axis, "omit_missing")


@pytest.mark.parametrize("stencil", ["gradient", "second derivative"])
def test_omit_kernels_with_64_bit_indices_on_a_small_block(host_kernels, stencil):
    # The 64-bit specialisation's arithmetic (its range needs > 2**30 cells).
    values = np.random.default_rng(4).normal(size=(4, 30, 3))
    values[:, 7:9] = np.nan
    values[1, 20] = np.nan
    positions = np.cumsum(np.linspace(1.0, 2.0, 30))
    if stencil == "gradient":
        plan = plan_missing(plan_first_derivative(30, positions=positions, edge_order=2))
    else:
        base = plan_weighted(positions, order=2, accuracy=2)
        plan = plan_missing(base, positions, order=2, accuracy=2)
    block = plan.block(0, 30)
    expected = reference.omit_missing(values, 1, block)
    result = np.empty_like(values)
    name, arguments, wide = _cuda.omit_arguments(np, values, 1, block, None, None, result)
    assert not wide
    arguments = tuple(np.int64(a) if isinstance(a, np.int32) else a for a in arguments)
    if name == "omit_gradient":  # its int flags stay int
        arguments = arguments[:-8] + tuple(np.int32(a) for a in arguments[-8:-4]) + arguments[-4:]
    weight = np.dtype(np.float64)
    _launch(host_kernels, values.dtype, weight, True, name, (2,), (7,), arguments)
    assert_array_equal(result, expected)
