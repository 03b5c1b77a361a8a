"""Geostrophic wind and relative vorticity of a geopotential field
=================================================================

The geostrophic wind and its relative vorticity on the globe, lazily on
Dask, with a figure.

Run with::

    python examples/geostrophic_vorticity.py                      # 1° grid, 4 levels
    python examples/geostrophic_vorticity.py --size small         # 5° grid (seconds; CI)
    python examples/geostrophic_vorticity.py --size large -o fig.png   # 0.25°, 8 levels

(needs numpy, xarray, dask, matplotlib and xgradient; ``--size`` may also
come from the environment variable ``XGRADIENT_EXAMPLE_SIZE``).  It

1. builds a synthetic global geopotential Φ(level, lat, lon), lazily with
   Dask: a zonal-mean height falling towards the poles plus a
   Rossby-Haurwitz-like wave of zonal wavenumber 4, poles included;
2. takes its gradient in metres on the sphere,
   ``dΦdx, dΦdy = xgradient.spherical_gradient(Φ)``, and the geostrophic
   wind ``u_g = -(1/f) ∂Φ/∂y``, ``v_g = (1/f) ∂Φ/∂x`` with the Coriolis
   parameter ``f = 2 Ω sin φ``, masked where ``|lat| < 10°`` (f → 0);
3. takes its relative vorticity, ``xgradient.vorticity(u_g, v_g)``, and
   checks it against the identity ``ζ_g = ∇²Φ / f + β u_g / f`` (with
   ``xgradient.laplacian`` and ``β = ∂f/∂y``);
4. computes one level (500 hPa) only and saves a PNG: Φ / g with the wind
   vectors, and the vorticity.

Nothing is computed before step 4, and only the chunks of that level are.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import dask
import dask.array
import numpy as np
import xarray as xr

import xgradient

G = 9.80665  # m s-2
OMEGA = 7.292115e-5  # the Earth's rotation, s-1
SIZES = {  # grid step in degrees, number of levels
    "small": (5.0, 3),
    "medium": (1.0, 4),
    "large": (0.25, 8),
}

# The --help line; the gallery strips the module docstring, so not __doc__.
DESCRIPTION = "Geostrophic wind and relative vorticity on the globe, with a figure"


def geopotential(step: float, nlevels: int) -> xr.DataArray:
    """Φ in m2 s-2 on a global grid (poles included), lazy, one Dask chunk per level."""
    lat = np.linspace(-90.0, 90.0, round(180 / step) + 1)
    lon = np.arange(0.0, 360.0, step)
    level = np.linspace(850.0, 250.0, nlevels) if nlevels > 1 else np.array([500.0])
    if 500.0 not in level:
        level = np.sort(np.append(level[1:], 500.0))[::-1]
    # 1-D pieces as chunked DataArrays: the 3-D field is only a graph.
    p = xr.DataArray(dask.array.from_array(level, chunks=1), dims="level")
    phi = xr.DataArray(np.deg2rad(lat), dims="lat")
    lam = xr.DataArray(np.deg2rad(lon), dims="lon")
    mean_height = 8000.0 * np.log(1000.0 / p)  # ~5.5 km at 500 hPa
    pole_drop = 1600.0 * (p / 500.0) ** -0.5  # colder poles: lower heights aloft
    wave = 800.0 * np.cos(phi) ** 4 * np.sin(phi) ** 2 * np.cos(4 * lam + 0.3 * np.log(p))
    height = mean_height - pole_drop * np.sin(phi) ** 2 + wave * (p / 500.0) ** -0.3
    return (
        (G * height)
        .transpose("level", "lat", "lon")
        .assign_coords(
            level=("level", level, {"units": "hPa", "positive": "down"}),
            lat=("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            lon=("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        )
        .rename("phi")
        .assign_attrs(units="m2 s-2", standard_name="geopotential")
    )


def geostrophic(phi: xr.DataArray, band: float = 10.0):
    """u_g, v_g, their vorticity, and the vorticity from ∇²Φ (all lazy)."""
    dphi_dx, dphi_dy = xgradient.spherical_gradient(phi)  # m s-2, per metre: lazy
    lat = np.deg2rad(phi.lat)
    coriolis = (2 * OMEGA * np.sin(lat)).where(abs(phi.lat) >= band)  # NaN near the equator
    beta = 2 * OMEGA * np.cos(lat) / xgradient.EARTH_RADIUS  # ∂f/∂y
    u_g = (-dphi_dy / coriolis).rename("u_g")
    v_g = (dphi_dx / coriolis).rename("v_g")
    u_g.attrs = {"units": "m s-1", "standard_name": "geostrophic_eastward_wind"}
    v_g.attrs = {"units": "m s-1", "standard_name": "geostrophic_northward_wind"}
    zeta = xgradient.vorticity(u_g, v_g)
    identity = xgradient.laplacian(phi) / coriolis + beta * u_g / coriolis
    return u_g, v_g, zeta, identity


def plot(phi, u_g, v_g, zeta, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 8), constrained_layout=True)
    lon, lat = phi.lon.values, phi.lat.values
    height = top.contourf(lon, lat, phi.values / G, levels=16, cmap="viridis")
    top.contour(lon, lat, phi.values / G, levels=height.levels, colors="k", linewidths=0.4)
    fig.colorbar(height, ax=top, label="geopotential height (m)")
    every = max(1, len(lon) // 36)  # about 36 arrows along a circle of latitude
    sub = {"lat": slice(None, None, every), "lon": slice(None, None, every)}
    top.quiver(
        lon[::every],
        lat[::every],
        np.nan_to_num(u_g.isel(sub).values),
        np.nan_to_num(v_g.isel(sub).values),
        scale=1500.0,
        width=0.002,
    )
    top.set_title(f"Φ / g and the geostrophic wind at {float(phi.level):g} hPa")
    limit = float(np.nanpercentile(np.abs(zeta.values), 99))
    mesh = bottom.pcolormesh(
        lon, lat, zeta.values, cmap="RdBu_r", vmin=-limit, vmax=limit, shading="nearest"
    )
    fig.colorbar(mesh, ax=bottom, label="relative vorticity (s$^{-1}$)")
    bottom.axhspan(-10, 10, color="0.85", zorder=0)
    bottom.set_title("xgradient.vorticity(u_g, v_g); |lat| < 10° masked (f → 0)")
    for ax in (top, bottom):
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
        ax.set_xlim(lon[0], lon[-1])
        ax.set_ylim(-90, 90)
    fig.savefig(path, dpi=80)  # left open: the documentation's gallery shows it


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        default=os.environ.get("XGRADIENT_EXAMPLE_SIZE", "medium"),
        help="grid: small 5° x 3 levels, medium 1° x 4, large 0.25° x 8 (default medium)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path(tempfile.gettempdir()) / "geostrophic_vorticity.png",
        help="the PNG to write (default: geostrophic_vorticity.png in the temp directory)",
    )
    args = parser.parse_args(argv)
    step, nlevels = SIZES[args.size]

    phi = geopotential(step, nlevels)
    u_g, v_g, zeta, identity = geostrophic(phi)
    print(f"Φ: {dict(phi.sizes)}, {phi.data.npartitions} Dask chunks; nothing computed yet")
    print(f"vorticity: {zeta.attrs['long_name']!r} in {zeta.attrs['units']}")

    # Compute the 500 hPa level only: Dask reads and differentiates its chunks alone.
    picked = [x.sel(level=500.0) for x in (phi, u_g, v_g, zeta, identity)]
    phi5, u5, v5, zeta5, identity5 = dask.compute(*picked)
    off_equator = abs(zeta5.lat) >= 15.0  # the stencils next to the masked band see NaN
    inner = off_equator & (abs(zeta5.lat) < 90.0)
    error = float(abs(zeta5 - identity5).where(inner).max() / abs(zeta5).where(inner).max())
    print(
        f"500 hPa: max |u_g| = {float(abs(u5).max()):.0f} m/s, max |ζ_g| = "
        f"{float(abs(zeta5).max()):.2e} s-1, finite at both poles: "
        f"{bool(np.isfinite(zeta5.isel(lat=[0, -1])).all())}"
    )
    print(f"ζ_g against ∇²Φ/f + β u_g/f, |lat| >= 15°: max difference {error:.1e} of max |ζ_g|")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    plot(phi5, u5, v5, zeta5, args.output)
    print(f"figure written to {args.output}")
    return args.output


if __name__ == "__main__":
    main(sys.argv[1:])
