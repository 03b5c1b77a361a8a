"""
Quickstart: derivatives of a small lat/lon/time field
=====================================================

Run with ``python examples/quickstart.py`` (needs only numpy, xarray, dask and
xgradient; numba is used when installed, matplotlib for the figure).  It
differentiates a temperature field along

* ``lon``, periodic (the neighbour of 340 degrees E is 0 degrees E),
* ``lat``, a *decreasing* coordinate (90 -> -90, as in many reanalyses),
* ``time``, a datetime64 axis with a gap (non-uniform spacing),

checks each result against numpy (bit for bit where numpy.gradient applies),
then repeats the lat derivative on Dask-backed data and shows that the lazy
result equals the eager one, whatever the chunking.  The field is tiny on
purpose (6 times x 19 latitudes x 18 longitudes), so the script has one size.
"""

from __future__ import annotations

import dask
import dask.array
import numpy as np
import xarray as xr

import xgradient  # noqa: F401  (registers the .grad accessor)

# %%
# A small field: 6 times x 19 latitudes x 18 longitudes
# -----------------------------------------------------
lat = np.linspace(90.0, -90.0, 19)  # 10-degree steps, north to south
lon = np.arange(0.0, 360.0, 20.0)  # 0, 20, ..., 340: no repeated seam column
hours = np.array([0, 6, 12, 18, 36, 42])  # a 12-hour gap after 18 h
time = np.datetime64("2000-01-01T00", "ns") + hours * np.timedelta64(1, "h")

la, lo = np.deg2rad(lat)[:, None], np.deg2rad(lon)[None, :]
field = 250.0 + 40.0 * np.cos(la) + 5.0 * np.cos(la) * np.sin(lo)
trend = 0.5 * hours[:, None, None] / 24.0  # warming by 0.5 K per day
temperature = xr.DataArray(
    field[None, :, :] + trend,
    dims=("time", "lat", "lon"),
    coords={
        "time": time,
        "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
    },
    name="tas",
    attrs={"units": "K", "long_name": "air temperature"},
)
with xr.set_options(display_expand_data=False):
    print(temperature, end="\n\n")

# %%
# Along lon: periodic, the period (360) inferred from the coordinate
# ------------------------------------------------------------------
dlon = temperature.grad("lon", boundary="periodic")
print("d/dlon:", dlon.attrs)
# Periodic central differences are (f[i+1] - f[i-1]) / (2 h) with wrap-around.
values = temperature.values
rolled = (np.roll(values, -1, axis=2) - np.roll(values, 1, axis=2)) / (2 * 20.0)
np.testing.assert_allclose(dlon.values, rolled, rtol=0, atol=1e-13)
# Analytic derivative, per degree: 5 cos(lat) cos(lon) * pi / 180.
exact = 5.0 * np.cos(la) * np.cos(lo) * np.pi / 180.0
print(f"  max error vs analytic, accuracy=2: {float(abs(dlon[0] - exact).max()):.1e}")
dlon4 = temperature.grad("lon", boundary="periodic", accuracy=4)
print(f"  max error vs analytic, accuracy=4: {float(abs(dlon4[0] - exact).max()):.1e}")

# %%
# Along lat: a decreasing coordinate, numpy.gradient's formulas
# -------------------------------------------------------------
dlat = temperature.grad("lat")
print("d/dlat:", dlat.attrs)
assert np.array_equal(dlat.values, np.gradient(values, lat, axis=1))

# %%
# Along time: datetime64 -> seconds since the first time, or datetime_unit
# -------------------------------------------------------------------------
dtime = temperature.grad("time")
seconds = (time - time[0]) / np.timedelta64(1, "s")
assert np.array_equal(dtime.values, np.gradient(values, seconds, axis=0))
per_day = temperature.grad("time", datetime_unit="D")
print("d/dtime:", dtime.attrs["units"], "and", per_day.attrs["units"])
print("  warming rate (K/day) at the first grid point:", per_day[:, 0, 0].values)

# %%
# Several dims at once: a tuple, in the order asked
# -------------------------------------------------
d_dlat, d_dlon = temperature.grad(["lat", "lon"], boundary={"lon": "periodic"})
assert d_dlat.identical(dlat) and d_dlon.identical(dlon)


# %%
# Dask: lazy, same chunks, bit-identical to the eager result
# ----------------------------------------------------------
def refuse_to_compute(*args, **kwargs):
    raise RuntimeError("something was computed while building the graph")


for chunks in ({"lat": 5}, {"lat": 1, "lon": 7}, {"time": 2, "lat": 3}):
    with dask.config.set(scheduler=refuse_to_compute):  # building computes nothing
        lazy = temperature.chunk(chunks).grad("lat")
    assert isinstance(lazy.data, dask.array.Array)
    assert lazy.chunks == temperature.chunk(chunks).chunks
    assert np.array_equal(lazy.values, dlat.values), chunks
    lazy_lon = temperature.chunk(chunks).grad("lon", boundary="periodic")
    assert np.array_equal(lazy_lon.values, dlon.values), chunks
print("\nlazy d/dlat:", repr(lazy.data))
print("lazy == eager (bit for bit) for every chunking tried: True")


# %%
# The figure: the field and its two horizontal derivatives
# --------------------------------------------------------
# Per degree here; :func:`xgradient.spherical_gradient` gives them per metre.
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), constrained_layout=True)
panels = [
    (temperature, "tas (K)", "RdYlBu_r"),
    (dlat, "d tas / d lat (K per degree)", "PuOr_r"),
    (dlon, "d tas / d lon, periodic (K per degree)", "PuOr_r"),
]
for ax, (field_, label, cmap) in zip(axes, panels, strict=True):
    mesh = field_.isel(time=0).plot.pcolormesh(ax=ax, cmap=cmap, add_colorbar=False)
    fig.colorbar(mesh, ax=ax, orientation="horizontal", label=label)
    ax.set_title(f"time = {str(field_.time.values[0])[:13]}")
