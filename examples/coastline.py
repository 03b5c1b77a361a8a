"""Derivatives next to a coastline: ``nan_policy="omit"`` and ``mask=``
======================================================================

Run with::

    python examples/coastline.py                    # 1° grid
    python examples/coastline.py --size small       # 4° grid (a second; CI)
    python examples/coastline.py --size large --out coast.png   # 0.25°

(needs numpy, xarray, matplotlib and xgradient; nothing is downloaded;
``--size`` may also come from the environment variable
``XGRADIENT_EXAMPLE_SIZE``).  It

1. builds a synthetic sea surface temperature T(lat, lon) with a known
   derivative on a global grid of cell centres (periodic longitude), and
   continents: smooth random blobs on the sphere (a sum of Gaussian bumps
   with a fixed seed) thresholded so that land covers 30 % of the area,
   with NaN over land as in a real SST product;
2. takes ``|∇T|`` in metres on the sphere, ``xgradient.spherical_gradient``,
   twice: with ``nan_policy="propagate"`` (numpy.gradient's numbers: every
   stencil that reaches a land point is NaN, so each coastline eats a grid
   row of ocean per derivative), and with ``nan_policy="omit"`` (a land
   point is treated like the end of the domain: one-sided stencils at the
   coast; only ocean runs too short for the stencil are NaN);
3. checks that ``mask=`` (True over the ocean) gives the same result on
   the field with zeros over land, as an ocean model writes it;
4. prints the ocean points lost to NaN in each case and the largest error
   next to the coast against the exact derivative, and draws the three
   panels (the field, ``"propagate"``, ``"omit"``).

The functions :func:`continents` and :func:`sea_surface_temperature` are
continuous functions of latitude and longitude, so the same physical
coastline can be sampled on any grid (tests/test_coastline.py refines it).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

import xgradient

SIZES = {"small": 4.0, "medium": 1.0, "large": 0.25}  # grid step in degrees
LAND_FRACTION = 0.3
SEED = 3
EDGE_ORDER = 2  # second-order one-sided differences at the coast (and at the ends)
PER_100KM = 1e5  # K m-1 -> K per 100 km

# The --help line; the gallery strips the module docstring, so not __doc__.
DESCRIPTION = "Derivatives of an ocean field next to the coast, with a figure"


def grid(step: float) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes (degrees) of the centres of a global grid of ``step`` degrees."""
    lat = np.linspace(-90.0 + step / 2, 90.0 - step / 2, round(180 / step))
    lon = np.arange(round(360 / step)) * step
    return lat, lon


@functools.cache
def _bumps() -> tuple[np.ndarray, ...]:
    """Centres (sin of latitude, longitude), widths and heights of the bumps, fixed seed."""
    rng = np.random.default_rng(SEED)
    n, big = 80, 20  # 20 continent-sized bumps, 60 smaller ones (capes, bays, islands)
    z = rng.uniform(-1.0, 1.0, n)  # uniform on the sphere
    lon0 = rng.uniform(0.0, 2 * np.pi, n)
    width = np.deg2rad(np.concatenate([rng.uniform(12, 25, big), rng.uniform(4, 10, n - big)]))
    height = np.concatenate([rng.uniform(0.6, 1.0, big), rng.uniform(-0.5, 0.6, n - big)])
    # and an Antarctica, so that no coastline runs through the South Pole
    z, lon0 = np.append(z, -1.0), np.append(lon0, 0.0)
    width, height = np.append(width, np.deg2rad(10.0)), np.append(height, 0.8)
    return z, lon0, width, height


def _relief(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The smooth random function whose high ground is land, shape (lat, lon)."""
    phi = np.deg2rad(np.asarray(lat, dtype=float))[:, None]
    lam = np.deg2rad(np.asarray(lon, dtype=float))[None, :]
    relief = np.zeros((phi.size, lam.size))
    for z, lon0, width, height in zip(*_bumps(), strict=True):
        # 1 - cos(angular distance): smooth everywhere on the sphere, poles and seam included.
        one_minus_cos = 1.0 - (
            np.sin(phi) * z + np.cos(phi) * np.sqrt(1.0 - z**2) * np.cos(lam - lon0)
        )
        relief += height * np.exp(-one_minus_cos / width**2)
    return relief


@functools.cache
def _sea_level() -> float:
    """The level above which ``LAND_FRACTION`` of the sphere's area lies (on a 1° grid)."""
    lat, lon = grid(1.0)
    relief = _relief(lat, lon).ravel()
    area = np.repeat(np.cos(np.deg2rad(lat)), lon.size)
    order = np.argsort(relief)
    cumulative = np.cumsum(area[order]) / area.sum()
    return float(relief[order][np.searchsorted(cumulative, 1.0 - LAND_FRACTION)])


def continents(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """True over land at the points (lat, lon) of a grid, shape (lat, lon): the same
    coastline whatever the grid."""
    return _relief(lat, lon) > _sea_level()


def sea_surface_temperature(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, ...]:
    """T (°C) and its exact derivatives ∂T/∂φ, ∂T/∂λ (°C per radian), shape (lat, lon).

    T = -2 + 30 cos²φ + 3 cos³φ sin(2λ + 4 sin φ): warm tropics, cold poles
    and a tilted wave.
    """
    phi = np.deg2rad(np.asarray(lat, dtype=float))[:, None]
    lam = np.deg2rad(np.asarray(lon, dtype=float))[None, :]
    c, s = np.cos(phi), np.sin(phi)
    wave = 2 * lam + 4 * s
    t = -2.0 + 30.0 * c**2 + 3.0 * c**3 * np.sin(wave)
    dt_dphi = -60.0 * c * s + 3.0 * (-3.0 * c**2 * s * np.sin(wave) + 4.0 * c**4 * np.cos(wave))
    dt_dlam = 6.0 * c**3 * np.cos(wave)
    return t, dt_dphi, dt_dlam


def dataset(step: float) -> xr.Dataset:
    """SST (NaN over land), the ocean mask and the exact eastward / northward derivatives."""
    lat, lon = grid(step)
    t, dt_dphi, dt_dlam = sea_surface_temperature(lat, lon)
    ocean = ~continents(lat, lon)
    radius = xgradient.EARTH_RADIUS
    dims = ("lat", "lon")
    return xr.Dataset(
        {
            "sst": (dims, np.where(ocean, t, np.nan), {"units": "degC"}),
            "ocean": (dims, ocean),
            "dsst_dx_exact": (dims, dt_dlam / (radius * np.cos(np.deg2rad(lat))[:, None])),
            "dsst_dy_exact": (dims, dt_dphi / radius),
        },
        coords={
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
    )


def next_to_land(ocean: np.ndarray) -> np.ndarray:
    """Ocean points with a land point among their four neighbours (longitude wraps)."""
    land = ~ocean
    beside = np.roll(land, 1, axis=1) | np.roll(land, -1, axis=1)
    beside[1:] |= land[:-1]
    beside[:-1] |= land[1:]
    return ocean & beside


def summary(ds: xr.Dataset) -> dict[str, xr.DataArray | float | int]:
    """|∇T| with either policy, the points lost and the errors next to the coast."""
    sst, ocean = ds.sst, ds.ocean
    dx_p, dy_p = xgradient.spherical_gradient(sst, edge_order=EDGE_ORDER)
    dx, dy = xgradient.spherical_gradient(sst, edge_order=EDGE_ORDER, nan_policy="omit")
    # An ocean model writes zeros over land: mask= says which points are missing.
    zeros = sst.fillna(0.0)
    dx_m, dy_m = xgradient.spherical_gradient(zeros, edge_order=EDGE_ORDER, mask=ocean)
    coast = next_to_land(ocean.values)
    error = np.hypot(dx - ds.dsst_dx_exact, dy - ds.dsst_dy_exact).values
    speed = np.hypot(ds.dsst_dx_exact, ds.dsst_dy_exact).where(ocean)
    return {
        "propagate": np.hypot(dx_p, dy_p),
        "omit": np.hypot(dx, dy),
        "mask_identical": bool(dx_m.identical(dx) and dy_m.identical(dy)),
        "ocean": int(ocean.sum()),
        "coast": int(coast.sum()),
        "lost_propagate": int((ocean & np.isnan(dx_p + dy_p)).sum()),
        "lost_omit": int((ocean & np.isnan(dx + dy)).sum()),
        "error_coast": float(np.nanmax(np.where(coast, error, np.nan))),
        "error_open": float(np.nanmax(np.where(ocean.values & ~coast, error, np.nan))),
        "scale": float(speed.max()),
    }


def plot(ds: xr.Dataset, result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    lon, lat = ds.lon.values, ds.lat.values
    ocean = ds.ocean.values
    grey, red = ListedColormap(["0.75"]), ListedColormap(["#d62728"])
    fig, axes = plt.subplots(3, 1, figsize=(8, 10.5), constrained_layout=True)
    mesh = axes[0].pcolormesh(lon, lat, ds.sst.values, cmap="RdYlBu_r", shading="nearest")
    fig.colorbar(mesh, ax=axes[0], label="°C")
    axes[0].set_title("sea surface temperature (NaN over land, grey)")
    limit = float(np.nanpercentile(result["omit"].values, 99.5)) * PER_100KM
    panels = [
        (
            "propagate",
            f"nan_policy='propagate': {result['lost_propagate']} ocean points lost (red)",
        ),
        ("omit", f"nan_policy='omit' (or mask=): {result['lost_omit']} ocean points lost"),
    ]
    for ax, (policy, title) in zip(axes[1:], panels, strict=True):
        values = result[policy].values * PER_100KM
        mesh = ax.pcolormesh(
            lon, lat, values, cmap="viridis", vmin=0, vmax=limit, shading="nearest"
        )
        fig.colorbar(mesh, ax=ax, label="|∇T| (°C per 100 km)")
        lost = np.ma.masked_where(~(ocean & np.isnan(values)), np.ones_like(values))
        ax.pcolormesh(lon, lat, lost, cmap=red, shading="nearest")
        ax.set_title(f"xgradient.spherical_gradient, {title}")
    for ax in axes:
        ax.pcolormesh(lon, lat, np.ma.masked_where(ocean, ocean), cmap=grey, shading="nearest")
        ax.set_ylabel("latitude (°N)")
        ax.set_xlim(lon[0], lon[-1])
        ax.set_ylim(-90, 90)
    axes[-1].set_xlabel("longitude (°E)")
    fig.savefig(path, dpi=90)  # left open: the documentation's gallery shows it


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        default=os.environ.get("XGRADIENT_EXAMPLE_SIZE", "medium"),
        help="grid: small 4°, medium 1°, large 0.25° (default medium)",
    )
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "coastline.png",
        help="the PNG to write (default: coastline.png in the temp directory)",
    )
    args = parser.parse_args(argv)
    step = SIZES[args.size]

    ds = dataset(step)
    result = summary(ds)
    ocean, lost_p, lost_o = result["ocean"], result["lost_propagate"], result["lost_omit"]
    print(
        f"grid: {step:g}° ({ds.sizes['lat']} x {ds.sizes['lon']}), "
        f"{ocean} ocean points, {result['coast']} of them next to land"
    )
    print(f"ocean points lost to NaN: propagate {lost_p} ({100 * lost_p / ocean:.1f}%)")
    print(f"ocean points lost to NaN: omit {lost_o} ({100 * lost_o / ocean:.2f}%)")
    print(f"mask= on the field with zeros over land, same as omit: {result['mask_identical']}")
    scale = result["scale"]
    print(
        f"max error of ∇T next to the coast: {result['error_coast'] / scale:.1e} "
        f"of max |∇T| (open ocean: {result['error_open'] / scale:.1e})"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot(ds, result, args.out)
    print(f"figure written to {args.out}")
    return args.out


if __name__ == "__main__":
    main(sys.argv[1:])
