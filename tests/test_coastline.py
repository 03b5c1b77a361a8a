"""Derivatives next to a coastline: examples/coastline.py, and the order of accuracy there.

The "real-looking" case: a smooth global field with continents (the
example's land, a continuous function of latitude and longitude, so the
same physical coastline on every grid), differentiated with
``nan_policy="omit"`` / ``mask=`` on grids of 4°, 2°, 1° and 0.5°.  At the
ocean points next to the coast, whose stencils are one-sided because of
the land, the error must fall at the order of those one-sided stencils;
there the result is finite, where ``"propagate"`` gives NaN.  Run with
``pytest -s`` to see the errors and the fitted orders.
"""

from __future__ import annotations

import importlib.util
import runpy
import sys
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr

import xgradient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples/coastline.py"
STEPS = (4.0, 2.0, 1.0, 0.5)  # degrees: the spacing halves three times
DEG = np.pi / 180.0  # radians per degree


@pytest.fixture(scope="module")
def coastline():
    """The example as a module, for its land and its analytic field."""
    spec = importlib.util.spec_from_file_location("coastline_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_writes_its_figure_and_summary(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    output = tmp_path / "coast.png"
    monkeypatch.setattr(sys, "argv", ["coastline.py", "--size", "small", "--out", str(output)])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    lost = {
        line.split()[5]: int(line.split()[6])
        for line in out.splitlines()
        if line.startswith("ocean points lost to NaN")
    }
    coast = int(out.split(" of them next to land")[0].split()[-1])
    # propagate loses every ocean point next to land (and a few more at the
    # ends of the latitudes); omit only those of runs too short for a
    # stencil (5 of 2796 on the 4° grid).
    assert lost["propagate"] >= coast > 100
    assert lost["omit"] < lost["propagate"] / 5
    assert "same as omit: True" in out
    error = float(out.split("next to the coast: ")[1].split()[0])
    assert error < 0.05  # measured 1.5e-02 of max |∇T| on the 4° grid (9.8e-04 at 1°)


# -- Runs of valid points ---------------------------------------------------


def _runs(valid: np.ndarray, axis: int, periodic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Valid points following one another on the left / right of each point along ``axis``.

    On a periodic axis the count goes on across the seam (at least ``n`` for
    a line that is valid all round).
    """
    v = np.moveaxis(valid, axis, -1)
    n = v.shape[-1]
    if periodic:
        v = np.concatenate([v, v, v], axis=-1)
    left = np.zeros(v.shape, dtype=int)
    right = np.zeros(v.shape, dtype=int)
    for i in range(1, v.shape[-1]):
        left[..., i] = np.where(v[..., i - 1], left[..., i - 1] + 1, 0)
        right[..., -i - 1] = np.where(v[..., -i], right[..., -i] + 1, 0)
    if periodic:
        left, right = left[..., n : 2 * n], right[..., n : 2 * n]
    return np.moveaxis(left, -1, axis), np.moveaxis(right, -1, axis)


def _second_dphi2(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """∂²T/∂φ² of the example's T = -2 + 30 cos²φ + 3 cos³φ sin(2λ + 4 sin φ)."""
    phi = np.deg2rad(lat)[:, None]
    wave = 2 * np.deg2rad(lon)[None, :] + 4 * np.sin(phi)
    c, s = np.cos(phi), np.sin(phi)
    return (
        -60.0 * (c**2 - s**2)
        - (9.0 * c**3 - 18.0 * c * s**2 + 48.0 * c**5) * np.sin(wave)
        - 84.0 * c**3 * s * np.cos(wave)
    )


def test_analytic_second_derivative(coastline):
    lat, lon = np.array([-61.0, -3.0, 25.0, 77.0]), np.array([10.0, 200.0])
    h = 1e-4
    plus = coastline.sea_surface_temperature(lat + h / DEG, lon)[1]
    minus = coastline.sea_surface_temperature(lat - h / DEG, lon)[1]
    np.testing.assert_allclose(_second_dphi2(lat, lon), (plus - minus) / (2 * h), atol=1e-6)


# -- The order of accuracy at the coast -----------------------------------------

# (dim, second derivative?, options, expected order, radius of the centred
# stencil, fewest points of a run the stencil can take)
CASES = {
    # numpy.gradient's formulas: the coast takes the end formula of order edge_order.
    "lat edge_order=1": ("lat", False, {"edge_order": 1}, 1, 1, 2),
    "lat edge_order=2": ("lat", False, {"edge_order": 2}, 2, 1, 3),
    # Five-point stencils, skewed (one-sided) within two cells of the coast.
    "lat accuracy=4": ("lat", False, {"accuracy": 4}, 4, 2, 5),
    # Compact second derivative: one-sided stencils of accuracy + 2 points
    # keep the interior order (4 points: order 2; 6 points: order 4).
    "lat second accuracy=2": ("lat", True, {"accuracy": 2}, 2, 1, 4),
    "lat second accuracy=4": ("lat", True, {"accuracy": 4}, 4, 2, 6),
    # Periodic longitude: runs that stop at land end in one-sided stencils of
    # accuracy + 1 points (3: order 2; 5: order 4), whatever edge_order.
    "lon accuracy=2": ("lon", False, {"accuracy": 2}, 2, 1, 3),
    "lon accuracy=4": ("lon", False, {"accuracy": 4}, 4, 2, 5),
}


def _ocean(coastline, step):
    """The example's SST on a grid of ``step`` degrees (NaN over land), and the ocean mask."""
    lat, lon = coastline.grid(step)
    t = coastline.sea_surface_temperature(lat, lon)[0]
    ocean = ~coastline.continents(lat, lon)
    coords = {"lat": lat, "lon": lon}
    sst = xr.DataArray(np.where(ocean, t, np.nan), dims=("lat", "lon"), coords=coords)
    return sst, xr.DataArray(ocean, dims=("lat", "lon"), coords=coords)


def _coast_study(coastline, dim, second, options, radius, shortest, step):
    """Result with omit and propagate, exact derivative, coast points, too-short points."""
    sst, mask = _ocean(coastline, step)
    lat, lon, ocean = sst.lat.values, sst.lon.values, mask.values
    _, dt_dphi, dt_dlam = coastline.sea_surface_temperature(lat, lon)
    periodic = dim == "lon"
    if periodic:
        options = {**options, "boundary": "periodic"}
    function = xgradient.second_derivative if second else xgradient.gradient
    omit = function(sst, dim, mask=mask, **options)  # per degree (or degree squared)
    propagate = function(sst, dim, **options)
    if second:
        exact = _second_dphi2(lat, lon) * DEG**2
    else:
        exact = (dt_dlam if periodic else dt_dphi) * DEG
    axis = 1 if periodic else 0
    left, right = _runs(ocean, axis, periodic)
    index = np.arange(ocean.shape[axis]).reshape((-1, 1) if axis == 0 else (1, -1))
    n = ocean.shape[axis]
    # Away from the ends of a bounded dim, so that the coast alone makes a stencil one-sided.
    inside = np.ones_like(ocean) if periodic else (index >= radius) & (index < n - radius)
    one_sided = (left < radius) | (right < radius)
    long_enough = left + right + 1 >= shortest
    coast = ocean & inside & one_sided & long_enough
    too_short = ocean & inside & ~long_enough
    return omit, propagate, exact, coast, too_short, mask


@pytest.mark.parametrize("case", list(CASES))
def test_order_of_accuracy_next_to_the_coast(coastline, case):
    dim, second, options, expected, radius, shortest = CASES[case]
    errors = []
    for step in STEPS:
        omit, propagate, exact, coast, too_short, mask = _coast_study(
            coastline, dim, second, options, radius, shortest, step
        )
        assert coast.sum() > 100, step  # the continents' coasts, even at 4°
        # The coast points get a value, from one-sided stencils; propagate loses them.
        assert np.isfinite(omit.values[coast]).all(), (case, step)
        assert np.isnan(propagate.values[coast]).all(), (case, step)
        # Ocean runs too short for the stencil, and land, stay NaN.
        assert np.isnan(omit.values[too_short]).all(), (case, step)
        assert np.isnan(omit.values[~mask.values]).all(), (case, step)
        errors.append(float(np.abs(omit.values - exact)[coast].max()))
    errors = np.array(errors)
    ratios = np.log2(errors[:-1] / errors[1:])
    order = np.polyfit(np.log(STEPS), np.log(errors), 1)[0]
    print(
        f"\n{case}: max error at the coast {', '.join(f'{e:.2e}' for e in errors)} "
        f"(steps {', '.join(f'{s:g}°' for s in STEPS)}); orders "
        f"{', '.join(f'{r:.2f}' for r in ratios)}; fitted {order:.2f} (expected {expected})"
    )
    assert expected - 0.3 < order < expected + 0.5
    assert (ratios > expected - 0.5).all()


@pytest.mark.parametrize("edge_order", [1, 2])
def test_each_ocean_run_is_differentiated_like_numpy(coastline, edge_order):
    """The rule itself on the continents, eager and on Dask: numpy.gradient on each run."""
    sst, mask = _ocean(coastline, 2.0)
    omit = xgradient.gradient(sst, "lat", edge_order=edge_order, mask=mask)
    expected = np.full(sst.shape, np.nan)
    lat = sst.lat.values
    for j in range(sst.sizes["lon"]):
        column = sst.values[:, j]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], ~np.isnan(column), [0]]).astype(int)))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            if stop - start > edge_order:
                part = slice(start, stop)
                expected[part, j] = np.gradient(column[part], lat[part], edge_order=edge_order)
    np.testing.assert_array_equal(omit.values, expected)
    with dask.config.set(scheduler="synchronous"):
        lazy = xgradient.gradient(
            sst.chunk(lat=7, lon=60), "lat", edge_order=edge_order, nan_policy="omit"
        )
        np.testing.assert_array_equal(lazy.values, expected)


@pytest.mark.parametrize("tilt", [0.0, 45.0])
def test_vorticity_of_an_ocean_current_next_to_the_coast(coastline, tilt):
    """Solid-body rotation over the ocean, about an axis tilted by ``tilt`` from the pole.

    u = U (cos φ cos a + sin φ cos λ sin a), v = -U sin λ sin a (Williamson
    et al.'s test case 2): ζ = 2 U (sin φ cos a - cos φ cos λ sin a) / R.
    With a = 0, u = U cos φ, v = 0 and ζ = 2 U sin φ / R.

    The error is measured at |φ| < 80°: on the rows next to the poles the
    error of ∂v/∂λ is divided by cos φ ~ h, so a flow across the pole
    (a ≠ 0) loses an order there, with or without land (the pole problem
    of latitude-longitude grids, see the user guide).
    """
    current, radius, alpha = 0.5, xgradient.EARTH_RADIUS, np.deg2rad(tilt)  # m s-1, m
    errors = []
    for step in (2.0, 1.0):
        lat, lon = coastline.grid(step)
        ocean = ~coastline.continents(lat, lon)
        dims = ("lat", "lon")
        coords = {
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        }
        phi, lam = np.deg2rad(lat)[:, None], np.deg2rad(lon)[None, :]
        u_full = current * (np.cos(phi) * np.cos(alpha) + np.sin(phi) * np.cos(lam) * np.sin(alpha))
        v_full = -current * np.sin(lam) * np.sin(alpha) + 0 * phi
        exact = (
            2 * current * (np.sin(phi) * np.cos(alpha) - np.cos(phi) * np.cos(lam) * np.sin(alpha))
        )
        exact = exact / radius
        # An ocean model's output: zeros over land, which the mask marks as missing.
        mask = xr.DataArray(ocean, dims=dims, coords=coords)
        u = xr.DataArray(np.where(ocean, u_full, 0.0), dims=dims, coords=coords)
        v = xr.DataArray(np.where(ocean, v_full, 0.0), dims=dims, coords=coords)
        zeta = xgradient.vorticity(u, v, mask=mask, edge_order=2).values
        propagate = xgradient.vorticity(u.where(mask), v.where(mask), edge_order=2).values
        # ∂(u cos φ)/∂φ needs runs of 3 points along lat (edge_order=2), ∂v/∂λ
        # runs of 3 along the periodic longitude (one-sided: accuracy + 1 points).
        south, north = _runs(ocean, 0, periodic=False)
        west, east = _runs(ocean, 1, periodic=True)
        takes = (south + north + 1 >= 3) & (west + east + 1 >= 3)
        np.testing.assert_array_equal(np.isfinite(zeta), ocean & takes)
        # Next to the coast (not at the first or last latitude): one-sided stencils.
        inside = ((lat > lat[0]) & (lat < lat[-1]))[:, None]
        beside = (south == 0) | (north == 0) | (west == 0) | (east == 0)
        coast = ocean & takes & inside & beside
        assert coast.sum() > 500
        assert np.isnan(propagate[coast]).all()
        measured = coast & (np.abs(lat) < 80.0)[:, None]
        errors.append(float(np.abs(zeta - exact)[measured].max() / (2 * current / radius)))
    print(
        f"\nvorticity next to the coast (|lat| < 80°), tilt {tilt:g}°, edge_order=2: max error "
        f"{errors[0]:.1e} (2°), {errors[1]:.1e} (1°) of 2U/R; order {np.log2(errors[0] / errors[1]):.2f}"
    )
    assert errors[1] < 2e-3
    assert errors[0] / errors[1] > 3.0  # second order
