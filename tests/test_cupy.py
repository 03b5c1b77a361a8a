"""CuPy-backed data on the GPU, eager and on Dask.

Float data runs the fused CUDA kernels (:mod:`xgradient.backends.cuda`), for
numpy.gradient's stencil and the weighted ones; integer and complex data run
the plain-array reference kernels on the device.
Skipped unless CuPy is installed and sees a GPU (CI has none, and runs the
CUDA kernel's source compiled for the host instead: tests/test_cuda_source.py;
these run on a GPU machine by hand, see docs/performance.md).  The oracle is
numpy.gradient on the same values copied to the host, and xgradient's own
NumPy result for the options numpy.gradient lacks.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import block_pieces, raise_if_dask_computes, random_first_derivative_plan
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import chunkings, differentiation_cases

import xgradient
from xgradient import kernels
from xgradient.backends import reference
from xgradient.stencils import plan_first_derivative

cp = pytest.importorskip("cupy")
try:
    _GPUS = cp.cuda.runtime.getDeviceCount()
except Exception:  # no driver, no device
    _GPUS = 0
pytestmark = pytest.mark.skipif(_GPUS == 0, reason="CuPy sees no GPU")

SHAPE = (6, 40, 33)
DIMS = ("z", "y", "x")


def _positions(n: int, uniform: bool) -> np.ndarray:
    if uniform:
        return np.arange(n) * 0.25
    return np.cumsum(np.random.default_rng(n).uniform(0.5, 1.5, n))


def _pair(dtype: str = "float64", uniform: bool = False) -> tuple[xr.DataArray, xr.DataArray]:
    """The same field NumPy-backed and CuPy-backed."""
    values = np.random.default_rng(0).normal(size=SHAPE).astype(dtype)
    coords = {d: _positions(n, uniform) for d, n in zip(DIMS, SHAPE, strict=True)}
    host = xr.DataArray(values, dims=DIMS, coords=coords, name="t", attrs={"units": "K"})
    return host, host.copy(data=cp.asarray(values))


def _host(result: xr.DataArray) -> np.ndarray:
    assert isinstance(result.data, cp.ndarray), type(result.data)
    return cp.asnumpy(result.data)


@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "non-uniform"])
@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("dim", DIMS)
def test_matches_numpy_gradient(dim, edge_order, uniform):
    host, device = _pair(uniform=uniform)
    result = xgradient.gradient(device, dim, edge_order=edge_order)
    expected = np.gradient(
        host.values, host[dim].values, axis=host.get_axis_num(dim), edge_order=edge_order
    )
    # Bit for bit, as on the CPU: CuPy's elementwise kernels round every
    # operation (no contraction into fused multiply-adds), like NumPy.
    np.testing.assert_array_equal(_host(result), expected)
    assert result.name == "t"


@pytest.mark.parametrize("dtype", ["float32", "int16", "complex128"])
def test_dtypes(dtype):
    host, device = _pair(dtype)
    result = xgradient.gradient(device, "y")
    expected = xgradient.gradient(host, "y")
    assert result.dtype == expected.dtype
    np.testing.assert_array_equal(_host(result), expected.values)


@pytest.mark.parametrize(
    "options",
    [
        {"boundary": "periodic"},
        {"accuracy": 4},
        {"accuracy": 4, "boundary": "periodic"},
    ],
    ids=["periodic", "accuracy4", "accuracy4-periodic"],
)
@pytest.mark.parametrize("second", [False, True], ids=["first", "second"])
def test_weighted_stencils_match_numpy_backed(options, second):
    # A periodic dim's period is inferred from uniform positions.
    host, device = _pair(uniform="boundary" in options)
    run = xgradient.second_derivative if second else xgradient.gradient
    result = run(device, "y", **options)
    expected = run(host, "y", **options)
    np.testing.assert_array_equal(_host(result), expected.values)


@pytest.mark.parametrize("chunks", [{"y": 7}, {"y": 1}, {"x": 5, "y": 13}])
def test_dask_of_cupy_is_lazy_and_chunk_invariant(chunks):
    dask_array = pytest.importorskip("dask.array")
    _, device = _pair(uniform=False)
    lazy_input = device.copy(data=dask_array.from_array(device.data, chunks=-1, asarray=False))
    lazy_input = lazy_input.chunk(chunks)
    eager = xgradient.gradient(device, ["y", "x"])
    with raise_if_dask_computes():
        lazy = xgradient.gradient(lazy_input, ["y", "x"])
    for lazy_one, eager_one in zip(lazy, eager, strict=True):
        assert isinstance(lazy_one.data._meta, cp.ndarray)
        # The same kernels on the same blocks: bit-identical to the eager result.
        np.testing.assert_array_equal(
            cp.asnumpy(lazy_one.data.compute()), cp.asnumpy(eager_one.data)
        )


def test_dataset_with_cupy_variables():
    host, device = _pair()
    ds = xr.Dataset({"t": device, "u": device * 2})
    out = ds.grad("x")
    for name in ("t", "u"):
        expected = xgradient.gradient(host if name == "t" else host * 2, "x")
        np.testing.assert_array_equal(_host(out[name]), expected.values)


def test_spacing_given_as_a_cupy_array():
    host, device = _pair()
    positions = np.cumsum(np.linspace(1.0, 2.0, SHAPE[1]))
    spacing = xr.DataArray(cp.asarray(positions), dims="y")
    result = xgradient.gradient(device, "y", spacing={"y": spacing})
    expected = np.gradient(host.values, positions, axis=1)
    np.testing.assert_array_equal(_host(result), expected)


WEIGHTED_OPTIONS = [{"boundary": "periodic"}, {"accuracy": 4}, {"second": True}]


def test_float_data_runs_the_fused_kernels(monkeypatch):
    # numpy.gradient's stencil and the weighted ones (periodic, fourth order,
    # second derivative): none may go through the plain-array kernels.
    def run(da, dim, second=False, **options):
        return (xgradient.second_derivative if second else xgradient.gradient)(da, dim, **options)

    cases = [{}, *WEIGHTED_OPTIONS]
    pairs = {dtype: _pair(dtype, uniform=True) for dtype in ("float32", "float64")}
    expected = {
        (dtype, i, dim): run(host, dim, **options).values
        for dtype, (host, _) in pairs.items()
        for i, options in enumerate(cases)
        for dim in DIMS
    }

    def refuse(*args, **kwargs):
        raise AssertionError("a plain-array kernel ran")

    monkeypatch.setattr(reference, "numpy_gradient", refuse)
    monkeypatch.setattr(reference, "weighted_stencil", refuse)
    for (dtype, i, dim), values in expected.items():
        np.testing.assert_array_equal(_host(run(pairs[dtype][1], dim, **cases[i])), values)


@settings(max_examples=200, deadline=None)
@given(
    case=differentiation_cases(max_side=9),
    dtype=st.sampled_from(["float32", "float64"]),
    weight=st.sampled_from(["float32", "float64"]),
    uniform=st.booleans(),
    data=st.data(),
)
def test_fused_kernel_on_every_block_of_a_chunking(case, dtype, weight, uniform, data):
    # Blocks with halos on either side, as the Dask layer hands them over:
    # each is the reference kernel's result on the host, bit for bit.
    edge_order, shape, axis = case
    n = shape[axis]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    host = rng.normal(size=shape).astype(dtype)
    plan = random_first_derivative_plan(
        rng, n, uniform=uniform, dtype=weight, edge_order=edge_order
    )
    device = cp.asarray(host)
    chunks = data.draw(chunkings(n), label="chunks")
    for (c, lft, rgt, bp), (hc, hl, hr, _) in zip(
        block_pieces(device, axis, plan, chunks),
        block_pieces(host, axis, plan, chunks),
        strict=True,
    ):
        got = kernels.numpy_gradient(c, axis, bp, lft, rgt)
        assert isinstance(got, cp.ndarray)
        expected = kernels.numpy_gradient(hc, axis, bp, hl, hr, engine="numpy")
        np.testing.assert_array_equal(cp.asnumpy(got).view(np.uint8), expected.view(np.uint8))


@pytest.mark.parametrize(
    "view",
    [
        lambda a: a[:, 3:30, 2:20],  # a regional subset
        lambda a: a[::2],  # strided along the first axis
        lambda a: cp.asfortranarray(a),
        lambda a: a.transpose(2, 0, 1),
    ],
    ids=["subset", "strided", "fortran", "transposed"],
)
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_views_and_other_layouts(view, axis):
    _, device = _pair()
    d = view(device.data)
    h = cp.asnumpy(d)
    positions = np.cumsum(np.random.default_rng(axis).uniform(0.5, 1.5, d.shape[axis]))
    plan = plan_first_derivative(d.shape[axis], positions=positions, edge_order=2)
    got = kernels.numpy_gradient(d, axis, plan.block(0, d.shape[axis]))
    np.testing.assert_array_equal(
        cp.asnumpy(got), np.gradient(h, positions, axis=axis, edge_order=2)
    )


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_out_on_the_gpu(order, axis):
    host, device = _pair()
    n = SHAPE[axis]
    plan = plan_first_derivative(n, positions=_positions(n, uniform=False)).block(0, n)
    expected = kernels.numpy_gradient(host.values, axis, plan, engine="numpy")
    # A separate array, C- or Fortran-ordered: the result lands in it.
    out = cp.empty(SHAPE, order=order)
    assert kernels.numpy_gradient(device.data, axis, plan, out=out) is out
    np.testing.assert_array_equal(cp.asnumpy(out), expected)
    # The input itself: no thread may overwrite a cell another still reads.
    f = cp.array(device.data, order=order)
    assert kernels.numpy_gradient(f, axis, plan, out=f) is f
    np.testing.assert_array_equal(cp.asnumpy(f), expected)
    # Another dtype: the result cast, as with a ufunc.
    out32 = cp.empty(SHAPE, dtype=cp.float32)
    kernels.numpy_gradient(device.data, axis, plan, out=out32)
    np.testing.assert_array_equal(cp.asnumpy(out32), expected.astype(np.float32))


@pytest.mark.skipif(
    _GPUS == 0 or cp.cuda.Device().mem_info[0] < 24 * 2**30, reason="needs 24 GiB of GPU memory"
)
@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "non-uniform"])
@pytest.mark.parametrize("dim", ["y", "x"])
def test_arrays_beyond_32_bit_offsets(dim, uniform):
    # 2**31 + 2**21 float32 elements (8 GiB): offsets past 2**31 need the
    # kernels' 64-bit specialisation (32-bit ones would wrap around and
    # write garbage there). Checked against numpy.gradient on the host at both
    # ends of the array, along the rows (y) and along the innermost axis (x).
    shape = (2**16 + 64, 2**15)
    data = cp.random.default_rng(0).standard_normal(shape, dtype=cp.float32)
    axis = 0 if dim == "y" else 1
    n = shape[axis]
    positions = np.arange(n) * 0.5 if uniform else np.cumsum(np.linspace(0.5, 1.5, n))
    da = xr.DataArray(data, dims=("y", "x"), coords={dim: positions})
    result = xgradient.gradient(da, dim, edge_order=2).data
    if dim == "y":
        head = np.gradient(cp.asnumpy(data[:6]), positions[:6], axis=0, edge_order=2)
        tail = np.gradient(cp.asnumpy(data[-6:]), positions[-6:], axis=0, edge_order=2)
        # The first and last rows use the one-sided formulas, the others the interior one.
        np.testing.assert_array_equal(cp.asnumpy(result[:5]), head[:5])
        np.testing.assert_array_equal(cp.asnumpy(result[-5:]), tail[-5:])
    else:
        for rows in (slice(0, 3), slice(-3, None)):
            expected = np.gradient(cp.asnumpy(data[rows]), positions, axis=1, edge_order=2)
            np.testing.assert_array_equal(cp.asnumpy(result[rows]), expected)
    del data, result
    cp.get_default_memory_pool().free_all_blocks()


def test_without_a_buildable_kernel_the_plain_array_path_answers(monkeypatch):
    from xgradient.backends import cuda as _cuda

    def fail(*args):
        raise RuntimeError("libnvrtc.so not found")

    monkeypatch.setattr(_cuda, "_module", fail)
    monkeypatch.setattr(_cuda, "_FUNCTIONS", {})
    host, device = _pair()
    with pytest.warns(RuntimeWarning, match="could not build its CUDA kernel"):
        result = xgradient.gradient(device, "y")
    np.testing.assert_array_equal(_host(result), xgradient.gradient(host, "y").values)


def _with_land(host: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """``host`` with blobs and single points of NaN, NumPy-backed and CuPy-backed."""
    values = host.values.copy()
    values[:, 5:9, 3:12] = np.nan
    values[:, 20, 20] = np.nan
    values[2, :, 30:] = np.nan
    masked = host.copy(data=values)
    return masked, masked.copy(data=cp.asarray(values))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "options",
    [
        {"edge_order": 1},
        {"edge_order": 2},
        {"boundary": "periodic"},
        {"accuracy": 4},
        {"second": True},
        {"second": True, "accuracy": 4},
    ],
    ids=["edge1", "edge2", "periodic", "accuracy4", "second", "second-accuracy4"],
)
@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "non-uniform"])
def test_omit_runs_the_cuda_kernels_and_matches_numpy_backed(options, uniform, dtype, monkeypatch):
    # nan_policy="omit" on the GPU: the CUDA rule kernels (none of the
    # plain-array rule's), bit for bit with the NumPy-backed result.
    options = dict(options)
    second = options.pop("second", False)
    if "boundary" in options:
        uniform = True  # a periodic dim's period is inferred from uniform positions
    host, device = _with_land(_pair(dtype, uniform=uniform)[0])
    run = xgradient.second_derivative if second else xgradient.gradient

    def refuse(*args, **kwargs):
        raise AssertionError("the plain-array rule ran on CuPy data")

    expected = run(host, "y", nan_policy="omit", **options)
    monkeypatch.setattr(reference, "omit_missing", refuse)
    for engine in ("auto", "cuda"):
        result = run(device, "y", nan_policy="omit", engine=engine, **options)
        np.testing.assert_array_equal(_host(result), expected.values)


@pytest.mark.parametrize("chunks", [{"y": 7}, {"y": 1}, {"x": 5, "y": 13}])
def test_omit_on_dask_of_cupy_is_lazy_and_chunk_invariant(chunks):
    dask_array = pytest.importorskip("dask.array")
    host, device = _with_land(_pair(uniform=False)[0])
    lazy_input = device.copy(data=dask_array.from_array(device.data, chunks=-1, asarray=False))
    lazy_input = lazy_input.chunk(chunks)
    with raise_if_dask_computes():
        lazy = xgradient.second_derivative(lazy_input, "y", nan_policy="omit")
    expected = xgradient.second_derivative(host, "y", nan_policy="omit")
    np.testing.assert_array_equal(cp.asnumpy(lazy.data.compute()), expected.values)
