"""Real files: netCDF and zarr stores opened lazily, differentiated, written back."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
import xarray as xr
from conftest import raise_if_dask_computes
from numpy.testing import assert_array_equal

import xgradient

PACKED = {"dtype": "int16", "scale_factor": 0.01, "add_offset": 280.0, "_FillValue": -32767}


@pytest.fixture
def source():
    rng = np.random.default_rng(7)
    time = np.array(
        ["2001-01-01T00", "2001-01-01T06", "2001-01-01T12", "2001-01-02T00", "2001-01-03T00"],
        dtype="datetime64[ns]",
    )
    lat = np.array([80.0, 55.0, 30.0, 10.0, -10.0, -45.0])  # decreasing, non-uniform
    x = np.array([0.0, 1.5, 2.0, 4.0, 7.5, 8.0, 12.0])
    t = 280.0 + 10.0 * rng.standard_normal((5, 6, 7))
    return xr.Dataset(
        {
            "t": (("time", "lat", "x"), t, {"units": "K", "long_name": "air temperature"}),
            "q": (("time", "lat", "x"), rng.random((5, 6, 7)), {"units": "kg kg-1"}),
            "orog": (("lat", "x"), rng.random((6, 7)) * 1000.0, {"units": "m"}),
            "station": (("x",), np.array(list("abcdefg"))),
        },
        coords={
            "time": time,
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "x": ("x", x, {"units": "km"}),
        },
        attrs={"title": "xgradient io test"},
    )


CHUNKS = {"time": 2, "lat": (1, 4, 1), "x": 3}


def _check_lazy_matches_eager(lazy_ds, eager_ds, dims, edge_order):
    with raise_if_dask_computes():
        lazy = lazy_ds.grad(dims, edge_order=edge_order)
    eager = eager_ds.grad(dims, edge_order=edge_order)
    for dim, lz, eg in zip(dims, lazy, eager, strict=True):
        numeric_with_dim = {
            name
            for name, var in eager_ds.data_vars.items()
            if dim in var.dims and var.dtype.kind in "biufc"
        }
        assert set(lz.data_vars) == set(eg.data_vars) == numeric_with_dim
        for name in lz.data_vars:
            assert lz[name].chunks == lazy_ds[name].chunks
            assert lz[name].attrs == eg[name].attrs
            assert_array_equal(lz[name].values, eg[name].values)
    return lazy, eager


@pytest.mark.parametrize("edge_order", [1, 2])
def test_netcdf_lazy_equals_in_memory(source, tmp_path, edge_order):
    path = tmp_path / "in.nc"
    source.to_netcdf(path, encoding={"t": PACKED})
    with xr.open_dataset(path, chunks=CHUNKS) as lazy_ds, xr.open_dataset(path) as file_ds:
        eager_ds = file_ds.load()
        assert lazy_ds["t"].chunks is not None
        assert lazy_ds["t"].encoding["dtype"] == np.int16
        _, eager = _check_lazy_matches_eager(lazy_ds, eager_ds, ["time", "lat", "x"], edge_order)

        gt, glat, gx = eager
        assert gt["t"].attrs["units"] == "K s-1"
        assert glat["t"].attrs["units"] == "K degrees_north-1"
        assert gx["t"].attrs["units"] == "K km-1"
        assert set(gt.data_vars) == {"t", "q"}
        # and all of it is numpy.gradient of the decoded data
        values = eager_ds["t"].values
        seconds = (eager_ds.time.values - eager_ds.time.values[0]) / np.timedelta64(1, "s")
        for result, axis, positions in (
            (gt, 0, seconds),
            (glat, 1, eager_ds.lat.values),
            (gx, 2, eager_ds.x.values),
        ):
            expected = np.gradient(values, positions, axis=axis, edge_order=edge_order)
            assert result["t"].dtype == values.dtype
            assert_array_equal(result["t"].values, expected)


def test_derivative_written_to_netcdf_drops_the_packing(source, tmp_path):
    path = tmp_path / "in.nc"
    source.to_netcdf(path, encoding={"t": PACKED, "q": {"dtype": "float32"}})
    out = tmp_path / "out.nc"
    with xr.open_dataset(path, chunks=CHUNKS) as lazy_ds:
        assert lazy_ds["t"].encoding["scale_factor"] == 0.01
        result = lazy_ds.grad("x", edge_order=2)
        for name in result.data_vars:
            assert result[name].encoding == {}
        result.to_netcdf(out)  # computes through dask
        expected = lazy_ds.load().grad("x", edge_order=2)

    with netCDF4.Dataset(out) as nc:
        var = nc.variables["t"]
        assert var.dtype == np.float64  # not packed to int16
        assert "scale_factor" not in var.ncattrs()
        assert "add_offset" not in var.ncattrs()
        assert var.getncattr("units") == "K km-1"
        assert nc.variables["q"].dtype == np.float32  # computed in float32
        assert "station" not in nc.variables
        raw = var[:]
        assert not np.ma.is_masked(raw)

    with xr.open_dataset(out) as back:
        back = back.load()
    for name in ("t", "q", "orog"):
        assert_array_equal(back[name].values, expected[name].values)
        assert back[name].attrs["long_name"] == expected[name].attrs["long_name"]
    xr.testing.assert_identical(back.time, source.time)
    xr.testing.assert_identical(back.lat, source.lat)
    assert not np.isnan(back["t"].values).any()


def test_derivative_of_packed_data_can_leave_the_packed_range(tmp_path):
    # 0.01 K per 1e-6 m is 1e4 K m-1: far outside int16 * 0.01 + 280
    x = np.arange(5) * 1e-6
    ds = xr.Dataset(
        {"t": ("x", 280.0 + 0.01 * np.arange(5.0), {"units": "K"})},
        coords={"x": ("x", x, {"units": "m"})},
    )
    path, out = tmp_path / "in.nc", tmp_path / "out.nc"
    ds.to_netcdf(path, encoding={"t": PACKED})
    with xr.open_dataset(path, chunks={"x": 2}) as lazy_ds:
        result = lazy_ds.grad("x")
        result.to_netcdf(out)
        expected = lazy_ds.load().grad("x")
    with xr.open_dataset(out) as back:
        assert_array_equal(back["t"].values, expected["t"].values)
        np.testing.assert_allclose(back["t"].values, 1e4, rtol=1e-6)


def test_netcdf_with_numeric_cf_time(source, tmp_path):
    path = tmp_path / "in.nc"
    source.to_netcdf(path, encoding={"time": {"units": "hours since 2001-01-01", "dtype": "f8"}})
    with xr.open_dataset(path, decode_times=False, chunks={"time": 2}) as lazy_ds:
        assert lazy_ds.time.attrs["units"] == "hours since 2001-01-01"
        hours = lazy_ds.time.values
        assert_array_equal(hours, [0.0, 6.0, 12.0, 24.0, 48.0])
        with raise_if_dask_computes():
            result = lazy_ds["t"].grad("time")
        assert result.attrs["units"] == "K h-1"
        values = lazy_ds["t"].values
    assert_array_equal(result.values, np.gradient(values, hours, axis=0))
    # the same derivative, per second, from decoded times
    with xr.open_dataset(path) as decoded:
        per_second = decoded["t"].grad("time")
        assert per_second.attrs["units"] == "K s-1"
        np.testing.assert_allclose(per_second.values * 3600.0, result.values, rtol=1e-12)


# zarr 3 warns that the fixed-width string variable ("station") has no stable v3 encoding.
ZARR_STRING_WARNING = "ignore:The data type .*does not have a Zarr V3 specification"


@pytest.mark.filterwarnings(ZARR_STRING_WARNING)
@pytest.mark.parametrize("edge_order", [1, 2])
def test_zarr_lazy_equals_in_memory(source, tmp_path, edge_order):
    store = tmp_path / "in.zarr"
    source.chunk({"time": 2, "lat": 4, "x": 3}).to_zarr(store, consolidated=False)
    with xr.open_zarr(store, consolidated=False) as lazy_ds:
        assert lazy_ds["t"].chunks == ((2, 2, 1), (4, 2), (3, 3, 1))
        assert lazy_ds["t"].encoding  # zarr chunking etc. of the input
        with xr.open_zarr(store, consolidated=False) as file_ds:
            eager_ds = file_ds.load()
        lazy, _ = _check_lazy_matches_eager(lazy_ds, eager_ds, ["lat", "x"], edge_order)
        for result in lazy:
            assert result["t"].encoding == {}
        # rechunked differently: still the same numbers
        other = lazy_ds["t"].chunk({"lat": 1, "x": 7})
        glat = other.grad("lat", edge_order=edge_order)
        assert glat.chunks == other.chunks
        assert_array_equal(glat.values, lazy[0]["t"].values)


@pytest.mark.filterwarnings(ZARR_STRING_WARNING)
def test_zarr_round_trip_of_the_derivative(source, tmp_path):
    store, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    source.chunk({"time": 2, "lat": 3, "x": 4}).to_zarr(store, consolidated=False)
    with xr.open_zarr(store, consolidated=False) as lazy_ds:
        result = xgradient.gradient(lazy_ds, "lat", edge_order=2)
        result.to_zarr(out, consolidated=False)
        expected = lazy_ds.load().grad("lat", edge_order=2)
    with xr.open_zarr(out, consolidated=False) as back:
        assert set(back.data_vars) == {"t", "q", "orog"}
        assert back["t"].chunks == ((2, 2, 1), (3, 3), (4, 3))
        for name in back.data_vars:
            assert_array_equal(back[name].values, expected[name].values)
            assert back[name].attrs["units"] == expected[name].attrs["units"]
