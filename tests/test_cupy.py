"""CuPy-backed data: the plain-array (reference) kernels on the GPU, eager and on Dask.

Skipped unless CuPy is installed and sees a GPU (CI has none; these run on a
GPU machine by hand, see docs/performance.md).  The oracle is numpy.gradient
on the same values copied to the host, and xgradient's own NumPy result for
the options numpy.gradient lacks.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import raise_if_dask_computes

import xgradient

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


@pytest.mark.parametrize("dtype", ["float32", "int16"])
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
