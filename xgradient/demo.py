"""``xgradient demo``: the main job on a synthetic global field, nothing to download.

The field is analytic, so the job's result can be checked against the exact
derivative::

    f(t, lat, lon) = 280 + 30 cos(lat) + 10 cos(lat) sin(2 lon) cos(2 pi t / 24 h)

It is generated lazily, chunk by chunk on the cluster, written to a zarr
store, and differentiated by :func:`xgradient.runner.run_job`: exactly the
path of ``xgradient run``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import xarray as xr

from .cluster import ClusterSpec, connect
from .job import JobOptions, format_bytes
from .runner import run_job
from .store import quiet_zarr

__all__ = ["exact_derivative", "run_demo", "synthetic_field"]

#: Grid spacings tried, finest first: the finest that gives at least
#: ``MIN_STEPS`` time steps for the requested size is used.
RESOLUTIONS = (0.25, 0.5, 1.0, 2.0, 5.0)
MIN_STEPS = 8
DAY_HOURS = 24.0


def _grid(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for step in RESOLUTIONS:
        lat = np.linspace(-90.0, 90.0, round(180 / step) + 1)
        lon = np.arange(round(360 / step)) * step
        steps = size // (lat.size * lon.size * 4)
        if steps >= MIN_STEPS:
            break
    time = np.datetime64("2000-01-01T00", "ns") + np.arange(max(steps, 2)) * np.timedelta64(1, "h")
    return time, lat, lon


def _values(hours: np.ndarray, lat: np.ndarray, lon: np.ndarray, what: str) -> np.ndarray:
    phi = np.deg2rad(lat)[None, :, None]
    lam = np.deg2rad(lon)[None, None, :]
    wave = np.cos(2 * np.pi * hours / DAY_HOURS)[:, None, None]
    per_degree = np.pi / 180.0
    if what == "f":
        return 280.0 + 30.0 * np.cos(phi) + 10.0 * np.cos(phi) * np.sin(2 * lam) * wave
    if what == "lat":
        return per_degree * (-30.0 * np.sin(phi) - 10.0 * np.sin(phi) * np.sin(2 * lam) * wave)
    return per_degree * 20.0 * np.cos(phi) * np.cos(2 * lam) * wave


def _lazy(coords: dict[str, np.ndarray], what: str, chunks: Any) -> Any:
    import dask.array as da

    hours = (coords["time"] - coords["time"][0]) / np.timedelta64(1, "h")

    def block(block_info: Any = None) -> np.ndarray:
        (t0, t1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
        values = _values(hours[t0:t1], coords["lat"][y0:y1], coords["lon"][x0:x1], what)
        return values.astype(block_info[None]["dtype"])

    return da.map_blocks(block, chunks=chunks, dtype=np.float32, meta=np.array((), np.float32))


def synthetic_field(size: int) -> xr.Dataset:
    """A lazy global (time, lat, lon) float32 temperature field of about ``size`` bytes.

    Examples
    --------
    >>> ds = synthetic_field(16 * 2**20)
    >>> dict(ds.sizes), ds.t.dtype
    ({'time': 16, 'lat': 361, 'lon': 720}, dtype('float32'))
    """
    time, lat, lon = _grid(size)
    step_bytes = lat.size * lon.size * 4
    per_chunk = int(max(1, min(time.size, (32 * 2**20) // step_bytes)))
    from dask.array.core import normalize_chunks

    shape = (time.size, lat.size, lon.size)
    chunks = normalize_chunks((per_chunk, lat.size, lon.size), shape)
    coords = {"time": time, "lat": lat, "lon": lon}
    data = _lazy(coords, "f", chunks)
    return xr.Dataset(
        {"t": (("time", "lat", "lon"), data, {"units": "K", "long_name": "temperature"})},
        coords={
            "time": time,
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        attrs={"title": "xgradient demo: analytic temperature field"},
    )


def exact_derivative(like: xr.DataArray, dim: str) -> xr.DataArray:
    """The exact derivative of :func:`synthetic_field` along ``dim`` (per degree), lazily."""
    coords = {name: like[name].values for name in ("time", "lat", "lon")}
    data = _lazy(coords, dim, like.chunks)
    return xr.DataArray(data, dims=like.dims, coords=like.coords)


def run_demo(
    size: int,
    *,
    workers: int | None = None,
    keep: bool = False,
    progress: bool = True,
    log: TextIO | None = None,
) -> dict[str, float]:
    """Generate the field, differentiate it along lat and lon, check it; return the errors.

    The job runs on a local cluster (``workers`` worker processes) with a
    periodic longitude and second-order ends; the returned errors are the
    largest absolute differences from the exact derivatives, per degree.
    """
    log = log or sys.stderr
    folder = Path(tempfile.mkdtemp(prefix="xgradient-demo-"))
    source, output = folder / "input.zarr", folder / "gradient.zarr"
    options = JobOptions(dims=("lat", "lon"), edge_order=2, boundary=(("lon", "periodic"),))
    errors: dict[str, float] = {}
    try:
        with connect(ClusterSpec(workers=workers), log) as client:
            field = synthetic_field(size)
            print(
                f"xgradient demo: writing a {format_bytes(field.t.nbytes)} synthetic field "
                f"{dict(field.sizes)} to {source}",
                file=log,
            )
            with quiet_zarr():
                write_input = field.to_zarr(source, compute=False, consolidated=True)
            client.compute(write_input).result()
            run_job([str(source)], output, options, client, progress=progress, log=log)
            with xr.open_zarr(output) as result:
                for dim in options.dims:
                    got = result[f"dt_d{dim}"]
                    error = abs(got - exact_derivative(got, dim)).max()
                    errors[dim] = float(client.compute(error.data).result())
        scale = 30.0 * np.pi / 180.0
        for dim, error in errors.items():
            print(
                f"xgradient demo: max error of dt/d{dim}: {error:.2e} K/degree "
                f"({error / scale:.1e} of the largest derivative)",
                file=log,
            )
    finally:
        if keep:
            print(f"xgradient demo: kept {folder}", file=log)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return errors
