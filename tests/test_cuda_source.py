"""The CUDA kernel's source, compiled for the host, against the reference kernel.

CI has no GPU, but the kernel of :mod:`xgradient._cuda` is plain C++ apart
from a few CUDA keywords.  Compiled by the host's C++ compiler, with those
keywords defined away and one "thread" striding through the whole array, it
runs the same index arithmetic, halo selection and floating-point expressions
as on a GPU.  ``-ffp-contract=off`` plays the part of ``--fmad=false``.  The
arguments come from :func:`xgradient._cuda.launch_arguments` with NumPy as
the array namespace, the function the GPU path uses with CuPy.

The oracle is the reference kernel, bit for bit, on blocks of every chunking
(with their halos) of random arrays, for every combination of data and
positions dtype, edge order, uniform or non-uniform spacing and index width.
On a GPU, tests/test_cupy.py runs the kernel itself against numpy.gradient.
"""

from __future__ import annotations

import ctypes
import itertools
import math
import shutil
import subprocess
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from strategies import chunkings, differentiation_cases

from xgradient import _cuda
from xgradient.kernels import first_derivative_reference
from xgradient.stencils import plan_first_derivative

COMPILER = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
pytestmark = pytest.mark.skipif(COMPILER is None, reason="no C++ compiler on this machine")

# CUDA's keywords and built-in variables, for one thread that strides through everything.
_HOST_SHIM = """
#define __device__
#define __global__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
struct xg_dim3 { unsigned int x, y, z; };
static const xg_dim3 blockIdx = {0, 0, 0}, threadIdx = {0, 0, 0};
static const xg_dim3 blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
"""

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
# Every entry point runs every layout it can take here (on a GPU each takes
# the layouts launch_shape gives it): with one thread, each strides through
# the block.
KERNELS = ["first_derivative", "first_derivative_rows", "first_derivative_last"]


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory):
    """Every specialisation of the kernel, compiled for the host and loaded."""
    folder = tmp_path_factory.mktemp("cuda_source")
    libraries = {}
    for data, weight, wide in itertools.product(DTYPES, DTYPES, [False, True]):
        stem = f"{data.name}_{weight.name}_{'wide' if wide else 'narrow'}"
        source = folder / f"{stem}.cpp"
        source.write_text(_HOST_SHIM + _cuda.kernel_source(data, weight, wide=wide))
        library = folder / f"lib{stem}.so"
        flags = ["-std=c++14", "-O2", "-ffp-contract=off", "-shared", "-fPIC"]
        subprocess.run(
            [COMPILER, *flags, "-o", str(library), str(source)],
            check=True,
            capture_output=True,
        )
        loaded = ctypes.CDLL(str(library))
        for name in KERNELS:
            libraries[data, weight, wide, name] = getattr(loaded, name)
    return libraries


def _as_ctypes(value, wide):
    if isinstance(value, np.ndarray):
        return ctypes.c_void_p(value.ctypes.data)
    if isinstance(value, np.integer):
        kind = ctypes.c_longlong if (wide and value.dtype == np.int64) else ctypes.c_int
        return kind(int(value))
    return ctypes.c_double(float(value))


def _host_first_derivative(kernels, center, axis, plan, left, right, *, wide=False, name=None):
    result = np.empty(center.shape, center.dtype)
    arguments, needs_wide = _cuda.launch_arguments(np, center, axis, plan, left, right, result)
    wide = wide or needs_wide
    if wide:  # the 64-bit specialisation takes its indices as such
        arguments = tuple(np.int64(a) if isinstance(a, np.int32) else a for a in arguments)
        arguments = arguments[:-4] + tuple(np.int32(a) for a in arguments[-4:])
    weight = np.dtype(np.float64) if plan.positions is None else plan.positions.dtype
    if name is None:
        name = _cuda.launch_shape(*(int(a) for a in arguments[5:8]))[0]
    kernels[center.dtype, weight, wide, name](*(_as_ctypes(a, wide) for a in arguments))
    return result


def _blocks(values, axis, plan, chunks):
    """Each block of ``chunks`` along ``axis``: the block, its halos and its plan."""
    start = 0
    for size in chunks:
        stop = start + size
        block_plan = plan.block(start, stop)
        index = [slice(None)] * values.ndim

        def take(lo, hi, index=index):
            index[axis] = slice(lo, hi)
            return values[tuple(index)]

        left = take(start - block_plan.left, start) if block_plan.left else None
        right = take(stop, stop + block_plan.right) if block_plan.right else None
        yield take(start, stop), left, right, block_plan
        start = stop


@settings(max_examples=300, deadline=None)
@given(
    case=differentiation_cases(max_side=9),
    dtype=st.sampled_from(DTYPES),
    weight=st.sampled_from(DTYPES),
    uniform=st.booleans(),
    wide=st.booleans(),
    name=st.sampled_from(KERNELS),
    data=st.data(),
)
def test_host_compiled_kernel_is_the_reference_bit_for_bit(
    host_kernels, case, dtype, weight, uniform, wide, name, data
):
    edge_order, shape, axis = case
    n = shape[axis]
    if name == "first_derivative_last" and math.prod(shape[axis + 1 :]) != 1:
        name = "first_derivative_rows"  # the innermost-axis kernel takes only that axis
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    values = rng.normal(size=shape).astype(dtype)
    if uniform:
        plan = plan_first_derivative(n, step=float(rng.uniform(0.1, 3.0)), edge_order=edge_order)
    else:
        positions = np.cumsum(rng.uniform(0.2, 2.0, n)).astype(weight)
        plan = plan_first_derivative(n, positions=positions, edge_order=edge_order)
    for center, left, right, block_plan in _blocks(
        values, axis, plan, data.draw(chunkings(n), label="chunks")
    ):
        got = _host_first_derivative(
            host_kernels, center, axis, block_plan, left, right, wide=wide, name=name
        )
        expected = first_derivative_reference(center, axis, block_plan, left, right)
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
    for center, left, right, block_plan in _blocks(
        values, axis, plan, (3, 1, values.shape[axis] - 4)
    ):
        got = _host_first_derivative(host_kernels, center, axis, block_plan, left, right)
        assert_array_equal(got, first_derivative_reference(center, axis, block_plan, left, right))


def test_the_kernel_source_is_compiled_without_contraction():
    # The GPU path's bit-identity rests on this option (see xgradient._cuda).
    import inspect

    assert '"--fmad=false"' in inspect.getsource(_cuda._module)


def test_non_cupy_arrays_are_left_to_the_other_kernels():
    plan = plan_first_derivative(4, step=1.0)
    assert _cuda.first_derivative(np.zeros(4), 0, plan.block(0, 4), None, None) is None


@pytest.mark.parametrize(
    ("shape", "name"),
    [
        ((5, 7, 1), "first_derivative_last"),
        ((5, 7, 3), "first_derivative"),
        ((5, 7, 31), "first_derivative"),
        ((5, 7, 32), "first_derivative_rows"),
        ((1, 100_000, 40), "first_derivative_rows"),
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
