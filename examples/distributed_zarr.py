"""Lazy derivatives of a zarr store on a dask.distributed cluster.

Run with ``python examples/distributed_zarr.py`` (needs zarr and distributed,
both installed by ``python -m pip install -e ".[test]"``).  It

1. writes a small 1-degree temperature dataset (time x lat x lon, float64,
   CF-encoded times, latitudes of cell centres from 89.5 N to 89.5 S) to a
   zarr store in a temporary directory;
2. starts a ``LocalCluster`` of 2 worker *processes*, opens the store with
   Dask chunks and builds the derivatives along time, lat and (periodic) lon
   lazily: no data is read until the result is written;
3. converts the longitude derivative from per degree to per metre
   (``dT/dx = dT/dlon / (R cos(lat) pi / 180)``) and writes everything to a
   second zarr store, which is where the cluster does the work;
4. reads the result back and checks it against numpy on the whole array.

It takes 10 to 20 seconds, most of it starting the worker processes and
loading the compiled kernels in them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr
from dask.distributed import Client, LocalCluster

import xgradient  # noqa: F401  (registers the .grad accessor)

EARTH_RADIUS = 6_371_000.0  # m
CHUNKS = {"time": 4, "lat": 90, "lon": 180}  # 2 x 2 x 2 chunks of 2.5 MiB


def synthetic_dataset() -> xr.Dataset:
    """A smooth temperature field with a trend in time, 8 x 180 x 360, float64."""
    lat = np.arange(89.5, -90.0, -1.0)  # cell centres, north to south
    lon = np.arange(0.5, 360.0, 1.0)  # no repeated seam column: periodic
    times = np.datetime64("2001-01-01", "ns") + np.arange(8) * np.timedelta64(6, "h")
    la, lo = np.deg2rad(lat)[:, None], np.deg2rad(lon)[None, :]
    days = np.arange(8)[:, None, None] * 0.25
    tas = 250.0 + 40.0 * np.cos(la) ** 2 + 8.0 * np.cos(la) * np.sin(2 * lo) + 0.3 * days
    return xr.Dataset(
        {
            "tas": (
                ("time", "lat", "lon"),
                tas,
                {"units": "K", "long_name": "air temperature", "standard_name": "air_temperature"},
            )
        },
        coords={
            "time": ("time", times, {"standard_name": "time"}),
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
    )


def derivatives(ds: xr.Dataset) -> xr.Dataset:
    """Lazy derivatives of ``ds.tas``: one Dask graph, nothing computed."""
    # One call, three dims; lon is periodic with its period (360) inferred
    # from the degrees_east coordinate.
    d_time, d_lat, d_lon = ds.grad(
        ["time", "lat", "lon"], boundary={"lon": "periodic"}, datetime_unit="D"
    )
    metres_per_degree_lon = EARTH_RADIUS * np.cos(np.deg2rad(ds.lat)) * np.pi / 180.0
    dtas_dx = d_lon.tas / metres_per_degree_lon
    dtas_dx.attrs = {"units": "K m-1", "long_name": "eastward derivative of air temperature"}
    return xr.Dataset(
        {
            "dtas_dt": d_time.tas,  # K d-1
            "dtas_dlat": d_lat.tas,  # K degrees_north-1
            "dtas_dlon": d_lon.tas,  # K degrees_east-1
            "dtas_dx": dtas_dx,  # K m-1
        }
    )


def check(source: xr.Dataset, result: xr.Dataset) -> None:
    """Compare what the cluster wrote with numpy on the whole array."""
    tas = source.tas.values
    days = (source.time.values - source.time.values[0]) / np.timedelta64(1, "D")
    # numpy.gradient's formulas: identical bit for bit.
    assert np.array_equal(result.dtas_dt.values, np.gradient(tas, days, axis=0))
    assert np.array_equal(result.dtas_dlat.values, np.gradient(tas, source.lat.values, axis=1))
    # Periodic central differences: equal up to rounding.
    periodic = (np.roll(tas, -1, axis=2) - np.roll(tas, 1, axis=2)) / 2.0
    np.testing.assert_allclose(result.dtas_dlon.values, periodic, rtol=0, atol=1e-12)
    # And against the analytic derivative (16 cos(lat) cos(2 lon) per radian).
    la, lo = np.deg2rad(source.lat.values)[:, None], np.deg2rad(source.lon.values)[None, :]
    exact = 16.0 * np.cos(la) * np.cos(2 * lo) / (EARTH_RADIUS * np.cos(la))
    error = float(np.abs(result.dtas_dx.values - exact).max() / np.abs(exact).max())
    print(f"relative error of dtas_dx against the analytic derivative: {error:.1e}")
    assert error < 1e-3


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source_path = Path(tmp) / "tas.zarr"
        result_path = Path(tmp) / "tas_derivatives.zarr"
        source = synthetic_dataset()
        source.chunk(CHUNKS).to_zarr(source_path, mode="w", consolidated=False)

        start = time.perf_counter()
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            print(f"cluster up in {time.perf_counter() - start:.1f} s: {client}")
            ds = xr.open_zarr(source_path, chunks=CHUNKS, consolidated=False)
            result = derivatives(ds)  # lazy: builds the graph only
            print("lazy result:", repr(result.dtas_dx.data))
            print("units:", {name: v.attrs.get("units") for name, v in result.data_vars.items()})
            start = time.perf_counter()
            result.to_zarr(result_path, mode="w", consolidated=False)  # computes on the workers
            print(f"computed and written by the cluster in {time.perf_counter() - start:.1f} s")

        written = xr.open_zarr(result_path, consolidated=False).load()
        assert written.dtas_dx.dims == ("time", "lat", "lon")
        check(source, written)
        print("the zarr store written on the cluster matches numpy")


if __name__ == "__main__":  # needed: worker processes re-import this module
    main()
