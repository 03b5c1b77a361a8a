"""
Out of core on a local cluster: a zarr store in, its derivatives out
====================================================================

Run with ``python examples/distributed_zarr.py [--size small|medium|large]``
(needs zarr, distributed and matplotlib, all installed by
``python -m pip install -e ".[test]"``).  It

1. writes a synthetic temperature dataset (time x lat x lon, float64,
   CF-encoded times, latitudes of cell centres) to a zarr store in a
   temporary directory, chunk by chunk, without holding it in memory;
2. starts a ``LocalCluster`` of 2 worker *processes* of one thread each,
   with a memory limit of 1 GiB per worker, opens the store with Dask chunks
   and builds the derivatives along time, lat and (periodic) lon lazily: no
   data is read until the result is written;
3. converts the longitude derivative from per degree to per metre
   (``dT/dx = dT/dlon / (R cos(lat) pi / 180)``) and writes everything to a
   second zarr store, which is where the cluster does the work, recording
   every task the workers ran;
4. checks what was written against numpy and the analytic derivative, and
   draws the task stream of the two workers (what each did when) with the
   throughput, and a map of ``dT/dx``.

Sizes: *small* 8 x 1° (4 MiB, CI), *medium* 32 x 0.5° (63 MiB), *large*
365 x 0.25° (2.8 GiB: three times what the two workers may hold).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr
from dask.distributed import Client, LocalCluster, get_task_stream

import xgradient  # noqa: F401  (registers the .grad accessor)

EARTH_RADIUS = 6_371_000.0  # m
# times, grid step in degrees, chunk along time (lat and lon are cut in halves)
SIZES = {"small": (8, 1.0, 4), "medium": (32, 0.5, 8), "large": (365, 0.25, 8)}
WORKER_MEMORY = "1GiB"


def synthetic_dataset(ntime: int, step: float, time_chunk: int) -> xr.Dataset:
    """A smooth temperature field with a trend in time, lazy (Dask), float64."""
    lat = np.arange(90.0 - step / 2, -90.0, -step)  # cell centres, north to south
    lon = np.arange(step / 2, 360.0, step)  # no repeated seam column: periodic
    times = np.datetime64("2001-01-01", "ns") + np.arange(ntime) * np.timedelta64(6, "h")
    chunks = {"time": time_chunk, "lat": lat.size // 2, "lon": lon.size // 2}
    # Broadcasting chunked 1-D fields builds the 3-D field lazily, chunk by chunk.
    la = xr.DataArray(np.deg2rad(lat), dims="lat").chunk(chunks["lat"])
    lo = xr.DataArray(np.deg2rad(lon), dims="lon").chunk(chunks["lon"])
    days = xr.DataArray(np.arange(ntime) * 0.25, dims="time").chunk(chunks["time"])
    tas = 250.0 + 40.0 * np.cos(la) ** 2 + 8.0 * np.cos(la) * np.sin(2 * lo) + 0.3 * days
    tas = tas.transpose("time", "lat", "lon")
    tas.attrs = {"units": "K", "long_name": "air temperature", "standard_name": "air_temperature"}
    return xr.Dataset(
        {"tas": tas},
        coords={
            "time": times,
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


def check(source: xr.Dataset, result: xr.Dataset) -> float:
    """Compare what the cluster wrote with numpy; return dT/dx's relative error.

    numpy sees two slabs that fit in memory at any size: the first times on
    the whole globe (for lat and lon) and a corner of the globe at every
    time (for time).
    """
    slab = {"time": slice(0, 2)}
    tas = source.tas.isel(slab).values
    # numpy.gradient's formulas: identical bit for bit.
    dlat = np.gradient(tas, source.lat.values, axis=1)
    assert np.array_equal(result.dtas_dlat.isel(slab).values, dlat)
    corner = {"lat": slice(0, 8), "lon": slice(0, 8)}
    column = source.tas.isel(corner)
    days = (source.time.values - source.time.values[0]) / np.timedelta64(1, "D")
    dtime = np.gradient(column.values, days, axis=0)
    assert np.array_equal(result.dtas_dt.isel(corner).values, dtime)
    # Periodic central differences: equal up to rounding.
    step = float(source.lon[1] - source.lon[0])
    periodic = (np.roll(tas, -1, axis=2) - np.roll(tas, 1, axis=2)) / (2 * step)
    np.testing.assert_allclose(result.dtas_dlon.isel(slab).values, periodic, rtol=0, atol=1e-12)
    # And against the analytic derivative (16 cos(lat) cos(2 lon) per radian).
    la, lo = np.deg2rad(source.lat.values)[:, None], np.deg2rad(source.lon.values)[None, :]
    exact = 16.0 * np.cos(la) * np.cos(2 * lo) / (EARTH_RADIUS * np.cos(la))
    dx = result.dtas_dx.isel(slab).values
    return float(np.abs(dx - exact).max() / np.abs(exact).max())


def run(size: str, workdir: Path) -> dict:
    """Write the source, differentiate it on a local cluster; return what was measured."""
    ntime, step, time_chunk = SIZES[size]
    source_path, result_path = workdir / "tas.zarr", workdir / "tas_derivatives.zarr"
    source = synthetic_dataset(ntime, step, time_chunk)
    source.to_zarr(source_path, mode="w", consolidated=False)  # chunk by chunk, locally
    chunks = dict(zip(source.tas.dims, source.tas.data.chunksize, strict=True))
    print(f"source: {dict(source.sizes)}, {source.tas.nbytes / 2**20:.0f} MiB, chunks {chunks}")

    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=WORKER_MEMORY,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"cluster up in {time.perf_counter() - start:.1f} s: {client}")
        ds = xr.open_zarr(source_path, chunks=chunks, consolidated=False)
        result = derivatives(ds)  # lazy: builds the graph only
        print("lazy result:", repr(result.dtas_dx.data))
        print("units:", {name: v.attrs.get("units") for name, v in result.data_vars.items()})
        with get_task_stream(client) as stream:
            start = time.perf_counter()
            result.to_zarr(result_path, mode="w", consolidated=False)  # the workers compute
            seconds = time.perf_counter() - start
        workers = sorted(client.scheduler_info()["workers"])

    moved = (source.tas.nbytes + sum(v.nbytes for v in result.data_vars.values())) / 2**20
    print(
        f"computed and written by the cluster in {seconds:.1f} s: {source.tas.nbytes / 2**20:.0f}"
        f" MiB read, {moved:.0f} MiB read and written, {moved / seconds:.0f} MiB/s"
    )
    written = xr.open_zarr(result_path, consolidated=False)
    assert written.dtas_dx.dims == ("time", "lat", "lon")
    error = check(xr.open_zarr(source_path, consolidated=False), written)
    print(f"relative error of dtas_dx against the analytic derivative: {error:.1e}")
    assert error < 1e-3
    print("the zarr store written on the cluster matches numpy")
    dtas_dx = written.dtas_dx.isel(time=0).load()
    return {
        "seconds": seconds,
        "mib_per_s": moved / seconds,
        "error": error,
        "tasks": stream.data,
        "workers": workers,
        "dtas_dx": dtas_dx,
        "size": size,
    }


def plot(measured: dict, path: Path) -> None:
    """The task stream of each worker, coloured by kind of task, and a map of dT/dx."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from dask.utils import key_split

    fig, (stream, field) = plt.subplots(
        2, 1, figsize=(9, 7), constrained_layout=True, height_ratios=(1, 1.6)
    )
    rows = {worker: i for i, worker in enumerate(measured["workers"])}
    kinds: dict[str, str] = {}
    colours = plt.get_cmap("tab10")
    t0 = min(s["start"] for task in measured["tasks"] for s in task["startstops"])
    for task in measured["tasks"]:
        kind = key_split(task["key"])
        colour = kinds.setdefault(kind, colours(len(kinds) % 10))
        for span in task["startstops"]:
            if span["action"] != "compute":
                continue  # transfers and disk are the dashboard's business
            stream.barh(
                rows[task["worker"]],
                span["stop"] - span["start"],
                left=span["start"] - t0,
                color=colour,
                height=0.8,
            )
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in kinds.values()]
    stream.legend(handles, list(kinds), fontsize=7, ncol=3, loc="upper right")
    stream.set_yticks(list(rows.values()), [f"worker {i}" for i in rows.values()])
    stream.set_xlabel("seconds since the write started")
    stream.set_ylim(-0.6, len(rows) + 0.6)  # room for the legend above the bars
    stream.set_title(
        f"task stream ({measured['size']}): {len(measured['tasks'])} tasks in "
        f"{measured['seconds']:.1f} s, {measured['mib_per_s']:.0f} MiB/s read and written"
    )
    dx = measured["dtas_dx"] * 1e5  # K per 100 km
    mesh = field.pcolormesh(dx.lon, dx.lat, dx, cmap="RdBu_r", shading="nearest")
    fig.colorbar(mesh, ax=field, label="dT/dx (K per 100 km)")
    field.set_title("dtas_dx at the first time, as the cluster wrote it")
    field.set_xlabel("longitude (°E)")
    field.set_ylabel("latitude (°N)")
    fig.savefig(path, dpi=80)  # left open: the documentation's gallery shows it


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Derivatives of a zarr store on a local cluster")
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        default=os.environ.get("XGRADIENT_EXAMPLE_SIZE", "medium"),
        help="small 8 x 1°, medium 32 x 0.5°, large 365 x 0.25° (default medium)",
    )
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "distributed_zarr.png",
        help="the PNG to write (default: distributed_zarr.png in the temp directory)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        measured = run(args.size, Path(tmp))
    plot(measured, args.out)
    print(f"figure written to {args.out}")
    return measured


if __name__ == "__main__":  # needed: worker processes re-import this module
    main(sys.argv[1:])
