"""Relative vorticity on a global latitude-longitude grid: xgradient against the alternatives.

Usage::

    python benchmarks/bench_sphere.py            # 721 x 1440 x 8 levels (ERA5's 0.25°), float64
    python benchmarks/bench_sphere.py --quick    # 91 x 180 x 2 levels, one repeat: a smoke run
    python benchmarks/bench_sphere.py --levels 4 --dtype float32 --repeats 3

The wind is a Rossby-Haurwitz wave (wavenumber 4, winds of ~100 m/s) on
every level, poles included.  Four ways to compute its vorticity
``[∂v/∂λ - ∂(u cos φ)/∂φ] / (R cos φ)``:

* ``xgradient eager``: ``xgradient.vorticity(u, v)`` on NumPy-backed data
  (periodic longitude, pole rows from the polar caps);
* ``xgradient dask``: the same on data chunked by level, built and computed
  with Dask's threaded scheduler (``--threads``, default 2);
* ``metpy``: ``metpy.calc.vorticity(u, v)`` on the same DataArrays with a
  spherical CRS of the same radius (eager: MetPy computes Dask data too);
* ``numpy``: a hand-written ``np.gradient`` version with the metric terms
  (``np.roll`` centred differences across the seam, ``np.gradient`` along
  latitude), NumPy arrays in, a NumPy array out.

Times are the best of ``--repeats`` wall-clock runs after one untimed
warm-up.  The ``vs xgradient`` column is the largest difference from the
eager xgradient result for |lat| <= 80° relative to its largest value there
(truncation error: the formulas differ; the Dask result must be identical);
``at the poles`` is the same on the two pole rows, where xgradient takes
the circulation around the polar cap, while the other two have no pole
rule (the hand-written one divides by cos 90° = 6e-17).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import dask
import numpy as np
import xarray as xr

import xgradient

R = xgradient.EARTH_RADIUS


def winds(nlat: int, nlon: int, levels: int, dtype: str) -> tuple[xr.DataArray, xr.DataArray]:
    """A Rossby-Haurwitz wave (wavenumber 4) on a global grid with pole rows."""
    lat = np.linspace(-90.0, 90.0, nlat)
    lon = np.arange(nlon) * (360.0 / nlon)
    phi, lam = np.deg2rad(lat)[:, None], np.deg2rad(lon)[None, :]
    c, s, n = np.cos(phi), np.sin(phi), 4
    speed = 7.848e-6 * R  # omega = K = 7.848e-6 s-1 (Williamson et al. 1992, test 6)
    u = speed * (c + c ** (n - 1) * (n * s**2 - c**2) * np.cos(n * lam))
    v = speed * (-n * c ** (n - 1) * s * np.sin(n * lam))
    scale = np.linspace(1.0, 0.6, levels)[:, None, None]  # weaker aloft, say
    coords = {
        "level": ("level", np.linspace(1000.0, 300.0, levels), {"units": "hPa"}),
        "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
    }
    dims = ("level", "lat", "lon")
    attrs = {"units": "m s-1"}
    return (
        xr.DataArray((scale * u).astype(dtype), dims=dims, coords=coords, attrs=attrs, name="u"),
        xr.DataArray((scale * v).astype(dtype), dims=dims, coords=coords, attrs=attrs, name="v"),
    )


def numpy_vorticity(u: np.ndarray, v: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """What one writes by hand: centred differences and the metric terms (NaN-free off the poles)."""
    phi = np.deg2rad(lat)
    dlam = np.deg2rad(lon[1] - lon[0])
    cos = np.cos(phi)[:, None]
    dv_dlam = (np.roll(v, -1, axis=-1) - np.roll(v, 1, axis=-1)) / (2 * dlam)
    ducos_dphi = np.gradient(u * cos, phi, axis=-2)
    return (dv_dlam - ducos_dphi) / (R * cos)


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    result = fn()  # warm-up (numba compilation, MetPy's first parse)
    times = []
    gc.disable()
    try:
        for _ in range(repeats):
            del result
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return min(times), result


def as_numpy(x: Any) -> np.ndarray:
    if isinstance(x, xr.DataArray):
        x = x.data
    x = getattr(x, "magnitude", x)  # pint (MetPy)
    return np.asarray(x, dtype=np.float64)


def metpy_vorticity(u: xr.DataArray, v: xr.DataArray) -> Callable[[], Any] | str:
    """MetPy's vorticity as a thunk, or why it cannot run."""
    try:
        import metpy.calc as mpcalc
        import metpy.xarray  # noqa: F401  (registers the .metpy accessor)
    except ImportError:
        return "MetPy is not installed"
    crs = {"grid_mapping_name": "latitude_longitude", "earth_radius": R}
    um, vm = u.metpy.assign_crs(crs), v.metpy.assign_crs(crs)
    return lambda: as_numpy(mpcalc.vorticity(um, vm))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="91 x 180 x 2, one repeat")
    parser.add_argument("--grid", default="721x1440", help="NLATxNLON (default 721x1440)")
    parser.add_argument("--levels", type=int, default=8, help="vertical levels (default 8)")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (best kept)")
    parser.add_argument("--threads", type=int, default=2, help="Dask threads (default 2)")
    args = parser.parse_args(argv)
    if args.quick:
        args.grid, args.levels, args.repeats = "91x180", 2, 1
    nlat, nlon = (int(n) for n in args.grid.lower().split("x"))

    u, v = winds(nlat, nlon, args.levels, args.dtype)
    mib = u.nbytes / 2**20
    print(
        f"# vorticity, {args.levels} x {nlat} x {nlon} {args.dtype} ({mib:.0f} MiB per component), "
        f"best of {args.repeats}"
    )
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; python "
        f"{platform.python_version()}, numpy {np.__version__}, xarray {xr.__version__}, "
        f"dask {dask.__version__}, xgradient {getattr(xgradient, '__version__', '?')}"
    )

    uc, vc = u.chunk({"level": 1}), v.chunk({"level": 1})
    lat, lon = u.lat.values, u.lon.values
    un, vn = u.values, v.values
    cases: dict[str, Callable[[], Any] | str] = {
        "xgradient eager": lambda: xgradient.vorticity(u, v),
        "xgradient dask (chunks: 1 level)": lambda: xgradient.vorticity(uc, vc).compute(),
        "metpy": metpy_vorticity(u, v),
        "numpy by hand": lambda: numpy_vorticity(un, vn, lat, lon),
    }
    inner = np.abs(lat) <= 80.0
    results: dict[str, tuple[float, str, str]] = {}
    reference = None
    failed = 0
    with dask.config.set(scheduler="threads", num_workers=args.threads):
        for name, fn in cases.items():
            if isinstance(fn, str):
                results[name] = (float("nan"), fn, "")
                continue
            print(f"... {name}", file=sys.stderr, flush=True)
            try:
                seconds, out = best_of(fn, args.repeats)
            except Exception as error:  # a failing case leaves n/a, the run goes on
                failed += 1
                results[name] = (float("nan"), f"error: {type(error).__name__}: {error}", "")
                continue
            values = as_numpy(out)
            if reference is None:
                reference = values
                scale = np.abs(reference[:, inner]).max()
                finite = np.isfinite(values).all()
                note, poles = ("reference", "finite") if finite else ("NaN!", "NaN!")
            elif np.array_equal(values, reference, equal_nan=True):
                note = poles = "identical"
            else:
                note = f"{np.abs(values - reference)[:, inner].max() / scale:.1e}"
                with np.errstate(invalid="ignore"):
                    poles = f"{np.abs(values - reference)[:, [0, -1]].max() / scale:.1e}"
            results[name] = (seconds, note, poles)
            del out

    base = results["xgradient eager"][0]
    print()
    print(
        "| method | seconds | / xgradient eager | vs xgradient, \\|lat\\| <= 80° | at the poles |"
    )
    print("|---|---:|---:|---|---|")
    for name, (seconds, note, poles) in results.items():
        ratio = seconds / base if np.isfinite(seconds) and np.isfinite(base) else float("nan")
        shown = f"{seconds:.3f}" if np.isfinite(seconds) else "n/a"
        row = f"| {name} | {shown} | {ratio:.2f} | {note} | {poles} |"
        print(row.replace("| nan |", "| n/a |"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
