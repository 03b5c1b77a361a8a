"""
Temperature gradient of a global field
======================================

The magnitude of the horizontal temperature gradient, ``|∇T|`` in K per 100 km,
of a synthetic near-surface temperature on a global latitude-longitude grid:
warm tropics and cold poles, a meandering front in each hemisphere's
mid-latitudes with warm and cold pools of air drifting along it, a planetary
wave and the day-night contrast moving west with the Sun, every six hours.
The field is generated block by block inside Dask;
``xgradient.spherical_gradient`` gives ∂T/∂x and ∂T/∂y per metre lazily (the
longitude wraps across the seam by itself); one ``dask.compute`` then makes
the field, ``|∇T|`` and its error against the analytic gradient of the
synthetic field together. Run it with
``python examples/global_temperature_gradient.py --size small`` (2° grid, two
time steps), ``--size medium`` (0.5°, four; the default) or ``--size large``
(0.25°, eight); ``--size`` may also come from the environment variable
``XGRADIENT_EXAMPLE_SIZE``. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dask
import dask.array
import numpy as np
import xarray as xr

import xgradient

SIZES = {  # grid step in degrees, number of six-hourly time steps
    "small": (2.0, 2),
    "medium": (0.5, 4),
    "large": (0.25, 8),
}
PER_100KM = 1e5  # K m-1 -> K per 100 km
HOUR = 3600.0

# %%
# The synthetic field and its exact derivatives
# ---------------------------------------------
#
# T(φ, λ, t) is a sum of terms that are smooth on the whole sphere, poles
# included: a zonal mean ``300 - 50 sin²φ + 3 sin φ`` (K); one front per
# hemisphere, a ``tanh`` step of 8 K and 4° width whose latitude meanders
# (two zonal wavenumbers, drifting east at different speeds); warm and cold
# pools of air carried along the fronts (Gaussian bumps in the angular
# distance, fixed seed); a stationary wave of wavenumber 2; and the
# day-night contrast following the Sun. Its derivatives with respect to φ
# and λ are written out by hand, so the finite differences can be checked
# against them on any grid.

DAY = 86400.0
FRONT_JUMP = 8.0  # K, across each front
FRONT_WIDTH = np.deg2rad(4.0)  # the tanh's width
# hemisphere (+1 north, -1 south), mean latitude, then two meanders (amplitude,
# wavenumber, eastward speed in radians of longitude per second, phase)
FRONTS = (
    (1.0, 45.0, ((7.0, 5, 2 * np.pi / (40 * DAY), 0.0), (3.0, 3, 2 * np.pi / (60 * DAY), 1.0))),
    (-1.0, 48.0, ((5.0, 6, 2 * np.pi / (35 * DAY), 0.5), (2.5, 4, 2 * np.pi / (50 * DAY), 2.0))),
)
SEED = 7
POOLS = 12  # warm and cold pools of air along the fronts


def _pools() -> tuple[np.ndarray, ...]:
    """Latitude, longitude (radians), eastward speed (rad s-1), width (rad), amplitude (K)."""
    rng = np.random.default_rng(SEED)
    lat0 = np.deg2rad(rng.choice([-1.0, 1.0], POOLS) * rng.uniform(30.0, 60.0, POOLS))
    lon0 = rng.uniform(0.0, 2 * np.pi, POOLS)
    speed = np.deg2rad(rng.uniform(5.0, 12.0, POOLS)) / DAY  # 5-12 degrees a day
    width = np.deg2rad(rng.uniform(5.0, 9.0, POOLS))
    amplitude = rng.choice([-1.0, 1.0], POOLS) * rng.uniform(3.0, 7.0, POOLS)
    return lat0, lon0, speed, width, amplitude


def temperature(
    seconds: np.ndarray, lat: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """T (K) and its exact ∂T/∂φ, ∂T/∂λ (K per radian), shape (time, lat, lon).

    ``seconds`` since the start, ``lat`` and ``lon`` in degrees.
    """
    t = np.asarray(seconds, dtype=float)[:, None, None]
    phi = np.deg2rad(np.asarray(lat, dtype=float))[None, :, None]
    lam = np.deg2rad(np.asarray(lon, dtype=float))[None, None, :]
    s, c = np.sin(phi), np.cos(phi)
    shape = np.broadcast_shapes(t.shape, phi.shape, lam.shape)

    # Zonal mean: 300 K at the equator, ~250 K at the poles, the south a little colder.
    value = np.broadcast_to(300.0 - 50.0 * s**2 + 3.0 * s, shape).copy()
    d_phi = np.broadcast_to(-100.0 * s * c + 3.0 * c, shape).copy()
    d_lam = np.zeros(shape)

    for hemisphere, lat0, meanders in FRONTS:
        front, front_dlam = np.deg2rad(lat0), 0.0  # the front's latitude and its ∂/∂λ
        for amplitude, k, speed, phase in meanders:
            angle = k * (lam - speed * t) + phase
            front = front + np.deg2rad(amplitude) * np.sin(angle)
            front_dlam = front_dlam + np.deg2rad(amplitude) * k * np.cos(angle)
        u = (hemisphere * phi - front) / FRONT_WIDTH
        sech2 = 1.0 / np.cosh(u) ** 2
        value -= 0.5 * FRONT_JUMP * (1.0 + np.tanh(u))  # colder on the poleward side
        d_phi -= 0.5 * FRONT_JUMP * sech2 * hemisphere / FRONT_WIDTH
        d_lam += 0.5 * FRONT_JUMP * sech2 * front_dlam / FRONT_WIDTH

    # Pools: A exp((cos d - 1) / w²), d the angular distance to the moving centre.
    for lat0, lon0, speed, width, amplitude in zip(*_pools(), strict=True):
        east = lam - lon0 - speed * t
        cos_d = s * np.sin(lat0) + c * np.cos(lat0) * np.cos(east)
        bump = amplitude * np.exp((cos_d - 1.0) / width**2)
        value += bump
        d_phi += bump * (c * np.sin(lat0) - s * np.cos(lat0) * np.cos(east)) / width**2
        d_lam += bump * (-c * np.cos(lat0) * np.sin(east)) / width**2

    # A stationary wave of wavenumber 2 (cos²φ keeps it smooth at the poles).
    wave = 2.0 * lam + 0.7
    value += 3.0 * c**2 * np.sin(wave)
    d_phi += -6.0 * c * s * np.sin(wave)
    d_lam += 6.0 * c**2 * np.cos(wave)

    # Day and night: warmest where the Sun is overhead (noon at 0°E at t = 0).
    sun = lam + 2 * np.pi * t / DAY
    value += 4.0 * c * np.cos(sun)
    d_phi += -4.0 * s * np.cos(sun)
    d_lam += -4.0 * c * np.sin(sun)
    return value, d_phi, d_lam


# %%
# A Dask-backed field, generated block by block
# ---------------------------------------------
#
# Each block of the field is made by a Dask task only when something asks
# for it; the task writes its name and block index into a log, so the script
# can show that building the graph (and the gradient's graph on top of it)
# computes nothing, and that one ``dask.compute`` makes every block once.


def grid(step: float) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes (degrees) of the cell centres of a global grid of ``step``°."""
    lat = np.linspace(-90.0 + step / 2, 90.0 - step / 2, round(180 / step))
    lon = np.arange(round(360 / step)) * step
    return lat, lon


def lazy_field(
    name: str,
    make: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    seconds: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    chunks: tuple[tuple[int, ...], ...],
    log: list[tuple[str, tuple[int, ...]]],
) -> dask.array.Array:
    """A Dask array whose blocks are ``make(seconds, lat, lon)`` on the block's points."""

    def block(block_info: dict | None = None) -> np.ndarray:
        info = block_info[None]
        (t0, t1), (y0, y1), (x0, x1) = info["array-location"]
        log.append((name, tuple(info["chunk-location"])))  # list.append is thread-safe
        return make(seconds[t0:t1], lat[y0:y1], lon[x0:x1])

    return dask.array.map_blocks(
        block, chunks=chunks, dtype=float, meta=np.array((), dtype=float), name=f"make-{name}"
    )


def dataset(step: float, ntimes: int, log: list) -> xr.Dataset:
    """T and its exact eastward and northward derivatives (K m-1), lazy.

    Chunks: one time step, half the latitudes and half the longitudes, so the
    derivatives need halos across chunks in both directions and across the seam.
    """
    lat, lon = grid(step)
    times = np.datetime64("2000-01-01T00:00", "ns") + np.arange(ntimes) * np.timedelta64(6, "h")
    seconds = np.arange(ntimes) * 6 * HOUR
    nlat, nlon = lat.size, lon.size
    chunks = ((1,) * ntimes, (nlat // 2, nlat - nlat // 2), (nlon // 2, nlon - nlon // 2))
    radius = xgradient.EARTH_RADIUS

    def exact_x(t: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return temperature(t, y, x)[2] / (radius * np.cos(np.deg2rad(y))[:, None])

    def exact_y(t: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return temperature(t, y, x)[1] / radius

    # Cell centres: no pole row, so cos φ > 0 and ∂T/∂x is finite everywhere.
    dims = ("time", "lat", "lon")
    fields = {
        "t2m": (lambda t, y, x: temperature(t, y, x)[0], "K", "air_temperature"),
        "dtdx_exact": (exact_x, "K m-1", None),
        "dtdy_exact": (exact_y, "K m-1", None),
    }
    data_vars = {}
    for name, (make, units, standard_name) in fields.items():
        attrs = {"units": units} | ({"standard_name": standard_name} if standard_name else {})
        data = lazy_field(name, make, seconds, lat, lon, chunks, log)
        data_vars[name] = (dims, data, attrs)
    return xr.Dataset(
        data_vars,
        coords={
            "time": ("time", times),
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
    )


# %%
# The gradient's magnitude on the sphere
# ---------------------------------------
#
# ``xgradient.spherical_gradient`` returns ∂T/∂x = ∂T/∂λ / (R cos φ) and
# ∂T/∂y = ∂T/∂φ / R in K m-1 (``edge_order=2``: second order at the
# southernmost and northernmost rows too). ``numpy.hypot`` on the two lazy
# DataArrays stays lazy.


def gradient_magnitude(t2m: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """∂T/∂x, ∂T/∂y (K m-1) and |∇T| (K per 100 km), all lazy on Dask."""
    dtdx, dtdy = xgradient.spherical_gradient(t2m, edge_order=2)
    magnitude = (np.hypot(dtdx, dtdy) * PER_100KM).rename("grad_t2m")
    magnitude.attrs = {"units": "K (100 km)-1", "long_name": "magnitude of the gradient of T"}
    return dtdx, dtdy, magnitude


def plot(t2m: xr.DataArray, magnitude: xr.DataArray, path: Path) -> None:
    """Two maps of one time step: T (top) and |∇T| (bottom); the figure is left open."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; before pyplot is imported
    import matplotlib.pyplot as plt

    lon, lat = t2m.lon.values, t2m.lat.values
    when = np.datetime_as_string(t2m.time.values, unit="m")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 8), constrained_layout=True)
    mesh = top.pcolormesh(lon, lat, t2m.values, cmap="RdYlBu_r", shading="nearest")
    top.contour(lon, lat, t2m.values, levels=np.arange(240, 310, 5), colors="k", linewidths=0.3)
    fig.colorbar(mesh, ax=top, label="T (K)")
    top.set_title(f"synthetic near-surface temperature, {when}")
    limit = float(np.percentile(magnitude.values, 99.5))
    mesh = bottom.pcolormesh(
        lon, lat, magnitude.values, cmap="magma_r", vmin=0, vmax=limit, shading="nearest"
    )
    fig.colorbar(mesh, ax=bottom, label="|∇T| (K per 100 km)")
    bottom.set_title("|∇T| = hypot(∂T/∂x, ∂T/∂y), xgradient.spherical_gradient")
    for ax in (top, bottom):
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
        ax.set_xlim(0, 360)
        ax.set_ylim(-90, 90)
    fig.savefig(path, dpi=80)
    print(f"figure written to {path}")


def main(argv: list[str] | None = None) -> dict:
    """Build the lazy field, take |∇T|, compute once, print the checks, draw the maps.

    Returns the measured values: sizes, blocks generated before and by the
    compute, the units, max |∇T| and its max error (K per 100 km), the figure's path.
    """
    parser = argparse.ArgumentParser(
        description="Temperature-gradient magnitude of a synthetic global field, lazily on Dask."
    )
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        default=os.environ.get("XGRADIENT_EXAMPLE_SIZE", "medium"),
        help="grid: small 2° x 2 times, medium 0.5° x 4, large 0.25° x 8 (default medium)",
    )
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "global_temperature_gradient.png",
        help="the PNG to write (default: global_temperature_gradient.png in the temp directory)",
    )
    args = parser.parse_args(argv)
    step, ntimes = SIZES[args.size]

    log: list[tuple[str, tuple[int, ...]]] = []
    ds = dataset(step, ntimes, log)
    t2m = ds.t2m
    dtdx, dtdy, magnitude = gradient_magnitude(t2m)
    # Errors against the analytic gradient: of the vector, and of its magnitude.
    exact = np.hypot(ds.dtdx_exact, ds.dtdy_exact) * PER_100KM
    vector_error = np.hypot(dtdx - ds.dtdx_exact, dtdy - ds.dtdy_exact) * PER_100KM
    blocks = t2m.data.npartitions
    chunk = {dim: sizes[0] for dim, sizes in t2m.chunksizes.items()}
    print(
        f"T: {dict(t2m.sizes)} on a {step:g}° grid, {t2m.nbytes / 2**20:.1f} MiB, "
        f"chunks {chunk} ({blocks} blocks)"
    )
    print(
        f"|∇T|: lazy Dask array ({isinstance(magnitude.data, dask.array.Array)}), same chunks, "
        f"{len(magnitude.data.__dask_graph__())} tasks in its graph"
    )
    before = len(log)
    print(f"blocks generated before compute: {before} (nothing computed yet)")
    print(f"units: dT/dx {dtdx.attrs['units']!r}, |∇T| {magnitude.attrs['units']!r}")

    # One compute for everything: the map of one time step and the maxima over all of them.
    start = time.perf_counter()
    t_map, grad_map, biggest, error, error_vector = dask.compute(
        t2m.isel(time=0),
        magnitude.isel(time=0),
        magnitude.max(),
        abs(magnitude - exact).max(),
        vector_error.max(),
    )
    seconds = time.perf_counter() - start
    made = [name for name, _ in log if name == "t2m"]
    print(
        f"dask.compute: {seconds:.2f} s; blocks of T generated: {len(made)} of {blocks} "
        f"({len(log)} blocks of all three fields, each once: {len(set(log)) == len(log)})"
    )
    biggest, error, error_vector = float(biggest), float(error), float(error_vector)
    print(f"max |∇T| = {biggest:.2f} K per 100 km")
    print(
        f"max error against the analytic gradient: |∇T| {error:.2e}, vector "
        f"{error_vector:.2e} K per 100 km ({100 * error_vector / biggest:.2f}% of max |∇T|)"
    )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot(t_map, grad_map, args.out)
    return {
        "sizes": dict(t2m.sizes),
        "blocks": blocks,
        "lazy": isinstance(magnitude.data, dask.array.Array),
        "generated_before_compute": before,
        "generated_by_compute": len(made),
        "each_block_once": len(set(log)) == len(log),
        "units": dtdx.attrs["units"],
        "max_gradient": biggest,
        "max_error": error,
        "max_vector_error": error_vector,
        "out": args.out,
    }


if __name__ == "__main__":
    main(sys.argv[1:])
