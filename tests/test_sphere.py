"""Operators on the sphere against analytic fields, MetPy, and the package's guarantees."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import raise_if_dask_computes
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import chunkings

import xgradient
from xgradient.latlon import covers_globe, find_lat_lon

# A Rossby-Haurwitz wave of wavenumber 4 on the unit sphere (Williamson et al.
# 1992, test 6, with omega = K = 1): streamfunction, winds and vorticity.
N = 4


def _grid(step: float, *, poles: bool = True, dtype: type = np.float64) -> dict:
    lat = np.arange(-90.0, 90.0 + step / 2, step) if poles else np.arange(-88.5, 89.0, step)
    lon = np.arange(0.0, 360.0, step)
    return {
        "lat": ("lat", lat.astype(dtype), {"units": "degrees_north"}),
        "lon": ("lon", lon, {"units": "degrees_east"}),
    }


def _field(values: np.ndarray, coords: dict, units: str = "m s-1", **attrs) -> xr.DataArray:
    return xr.DataArray(values, dims=("lat", "lon"), coords=coords, attrs={"units": units, **attrs})


def _angles(coords: dict) -> tuple[np.ndarray, np.ndarray]:
    lat = np.asarray(coords["lat"][1], dtype=np.float64)
    return np.deg2rad(lat)[:, None], np.deg2rad(coords["lon"][1])[None, :]


def rossby_haurwitz(coords: dict) -> dict[str, xr.DataArray]:
    phi, lam = _angles(coords)
    c, s = np.cos(phi), np.sin(phi)
    psi = -s + c**N * s * np.cos(N * lam)
    u = c + c ** (N - 1) * (N * s**2 - c**2) * np.cos(N * lam)
    v = -N * c ** (N - 1) * s * np.sin(N * lam)
    zeta = 2 * s - (N + 1) * (N + 2) * c**N * s * np.cos(N * lam)
    return {
        "psi": _field(psi + 0 * lam, coords, "m2 s-1"),
        "u": _field(u + 0 * lam, coords),
        "v": _field(v + 0 * lam, coords),
        "zeta": _field(zeta + 0 * lam, coords, "s-1"),
    }


def solid_body(coords: dict, speed: float = 10.0) -> tuple[xr.DataArray, xr.DataArray]:
    phi, lam = _angles(coords)
    u = _field(speed * np.cos(phi) + 0 * lam, coords, standard_name="eastward_wind")
    v = _field(0 * u.values, coords, standard_name="northward_wind")
    return u, v


# --- analytic fields ----------------------------------------------------------


@pytest.mark.parametrize("accuracy", [2, 4])
def test_solid_body_rotation_poles_included(accuracy):
    coords = _grid(2.5)
    u, v = solid_body(coords)
    zeta = xgradient.vorticity(u, v, accuracy=accuracy)
    exact = 2 * 10.0 * np.sin(_angles(coords)[0]) / xgradient.EARTH_RADIUS
    assert np.isfinite(zeta).all()
    err = abs(zeta - exact) / abs(exact).max()
    assert float(err.max()) < (2e-3 if accuracy == 2 else 2e-5)
    # The pole rows: Stokes on the cap of the next row(s); the straight line
    # through two caps is exact for this field.
    assert float(err.isel(lat=[0, -1]).max()) < (1e-3 if accuracy == 2 else 1e-12)
    div = xgradient.divergence(u, v, accuracy=accuracy)
    assert float(abs(div).max()) < 1e-18  # round-off (vorticity ~ 3e-6)


def _errors(step: float, accuracy: int) -> np.ndarray:
    coords = _grid(step)
    f = rossby_haurwitz(coords)
    zeta = xgradient.vorticity(f["u"], f["v"], radius=1.0, accuracy=accuracy)
    div = xgradient.divergence(f["u"], f["v"], radius=1.0, accuracy=accuracy)
    lap = xgradient.laplacian(f["psi"], radius=1.0, accuracy=accuracy)
    dx, dy = xgradient.spherical_gradient(f["psi"], radius=1.0, accuracy=accuracy, edge_order=2)
    inner = {"lat": slice(1, -1)}  # dx is NaN on the pole rows; dy one-sided there
    return np.array(
        [
            float(abs(zeta - f["zeta"]).max()),
            float(abs(div).max()),
            float(abs(lap - f["zeta"]).max()),
            float(abs(dx - f["v"]).isel(inner).max()),
            float(abs(dy + f["u"]).isel(inner).max()),
            float(abs(zeta - f["zeta"]).isel(lat=[0, -1]).max()),
            float(abs(lap - f["zeta"]).isel(lat=[0, -1]).max()),
        ]
    )


@pytest.mark.parametrize("accuracy", [2, 4])
def test_rossby_haurwitz_convergence_orders(accuracy):
    """Max-norm errors, poles included, fall as step**accuracy.

    Measured orders (4 -> 2 -> 1 degree; vorticity, divergence, Laplacian,
    d/dx, d/dy): accuracy=2: 1.99 1.97 1.99 2.00 1.98 then 1.99 1.99 2.00
    2.00 2.00; accuracy=4: 3.84 3.90 3.77 3.99 3.97 then 3.96 3.97 3.94
    4.00 3.99.
    """
    errors = np.array([_errors(step, accuracy) for step in (4.0, 2.0, 1.0)])
    orders = np.log2(errors[:-1, :5] / errors[1:, :5])
    assert (orders > accuracy - 0.3).all(), orders
    # At the pole rows: the vorticity (2 sin φ there) at order 2 (measured
    # 2.00 2.00), exactly with accuracy=4 (the cap means are linear in the
    # cap's area); the Laplacian of ψ exactly.
    pole = errors[:, 5]
    if accuracy == 2:
        assert (np.log2(pole[:-1] / pole[1:]) > 1.9).all(), pole
    else:
        assert (pole < 1e-12).all(), pole
    assert (errors[:, 6] < 1e-11).all(), errors


def _harmonic_errors(f, exact, accuracy):
    errs = []
    for step in (4.0, 2.0, 1.0):
        coords = _grid(step)
        phi, lam = _angles(coords)
        lap = xgradient.laplacian(_field(f(phi, lam), coords, "K"), radius=1.0, accuracy=accuracy)
        err = abs(lap - exact(phi, lam))
        errs.append([float(err.isel(lat=[0, -1]).max()), float(err.max())])
    return np.array(errs)


@pytest.mark.parametrize("accuracy", [2, 4])
def test_laplacian_of_spherical_harmonics_poles_included(accuracy):
    """P_4(sin φ) + Y_3^2: Laplacian -l(l+1) f; the pole rows (flux through the
    cap) converge at the interior's order: measured 2.00 2.00 (accuracy=2),
    3.99 4.00 (accuracy=4); everywhere 1.97 1.99 and 3.88 3.97."""

    def p4(phi):
        x = np.sin(phi)
        return (35 * x**4 - 30 * x**2 + 3) / 8

    def y32(phi, lam):
        return np.cos(phi) ** 2 * np.sin(phi) * np.cos(2 * lam)

    errs = _harmonic_errors(
        lambda phi, lam: p4(phi) + 0 * lam + y32(phi, lam),
        lambda phi, lam: -20 * p4(phi) - 12 * y32(phi, lam),
        accuracy,
    )
    assert (np.log2(errs[:-1] / errs[1:]) > accuracy - 0.15).all(), errs


def test_wavenumber_one_loses_an_order_next_to_the_poles():
    """Y_2^1 = cos φ sin φ cos λ, a field crossing the pole: the pole rows are
    exact, but the rows next to them divide the λ stencil's error by cos φ,
    so the max-norm order is one less (measured 0.97 0.99; 2.89 2.97 with
    accuracy=4), the usual pole problem of latitude-longitude stencils."""
    for accuracy in (2, 4):
        errs = _harmonic_errors(
            lambda phi, lam: np.cos(phi) * np.sin(phi) * np.cos(lam),
            lambda phi, lam: -6 * np.cos(phi) * np.sin(phi) * np.cos(lam),
            accuracy,
        )
        assert (errs[:, 0] < 1e-13).all()
        orders = np.log2(errs[:-1, 1] / errs[1:, 1])
        assert (orders > accuracy - 1.15).all(), orders


def test_pole_rows_are_finite_but_eastward_derivative_is_nan():
    f = rossby_haurwitz(_grid(10.0))
    dx, dy = f["psi"].grad.spherical()
    assert dx.isel(lat=[0, -1]).isnull().all()
    assert np.isfinite(dx.isel(lat=slice(1, -1))).all() and np.isfinite(dy).all()
    for result in (
        xgradient.vorticity(f["u"], f["v"]),
        xgradient.divergence(f["u"], f["v"]),
        f["psi"].grad.laplacian(),
    ):
        assert np.isfinite(result).all()


def test_regional_grid_pole_row_is_nan_and_edges_one_sided():
    coords = _grid(5.0)
    f = rossby_haurwitz(coords)
    regional = {k: v.isel(lon=slice(0, 30)) for k, v in f.items()}
    assert not find_lat_lon(regional["u"]).periodic
    zeta = xgradient.vorticity(regional["u"], regional["v"], radius=1.0)
    assert zeta.isel(lat=[0, -1]).isnull().all()
    assert np.isfinite(zeta.isel(lat=slice(1, -1))).all()
    # The global field's values away from the cut (other stencil weights:
    # numpy.gradient's formula there, Fornberg's on the periodic grid).
    whole = xgradient.vorticity(f["u"], f["v"], radius=1.0).isel(lon=slice(0, 30))
    inner = {"lat": slice(1, -1), "lon": slice(1, -1)}
    xr.testing.assert_allclose(zeta.isel(inner), whole.isel(inner), rtol=1e-12, atol=1e-14)


def test_float32_latitude_metric_terms_in_float64():
    u, v = solid_body(_grid(2.5, dtype=np.float32))
    zeta = xgradient.vorticity(u.astype(np.float32), v.astype(np.float32))
    assert zeta.dtype == np.float32
    exact = 2 * 10.0 * np.sin(np.deg2rad([-90.0, 90.0])) / xgradient.EARTH_RADIUS
    np.testing.assert_allclose(zeta.isel(lat=[0, -1], lon=0), exact, rtol=1e-3)


def test_grid_orientations_give_the_same_values():
    """Decreasing latitude, longitude -180..180 or rolled: the same numbers."""
    f = rossby_haurwitz(_grid(5.0))
    ref = xgradient.vorticity(f["u"], f["v"])
    flipped = xgradient.vorticity(
        f["u"].isel(lat=slice(None, None, -1)), f["v"].isel(lat=slice(None, None, -1))
    )
    np.testing.assert_allclose(flipped.isel(lat=slice(None, None, -1)), ref, rtol=1e-12, atol=1e-22)
    shifted = {k: v.roll(lon=36, roll_coords=True) for k, v in f.items()}
    for lon in (shifted["u"].lon.values, (shifted["u"].lon.values + 180) % 360 - 180):
        moved = {
            k: v.assign_coords(lon=("lon", lon, {"units": "degrees_east"}))
            for k, v in shifted.items()
        }
        zeta = xgradient.vorticity(moved["u"], moved["v"])
        np.testing.assert_allclose(zeta.roll(lon=-36), ref, rtol=1e-12, atol=1e-22)


def test_boundary_override_and_periodic_latitude_refused():
    f = rossby_haurwitz(_grid(10.0))["psi"]
    with pytest.raises(ValueError, match="North Pole to the South Pole"):
        f.grad.spherical(boundary="periodic")
    with pytest.raises(ValueError, match="North Pole"):
        f.grad.laplacian(boundary={"lat": "periodic"})
    edge = f.grad.laplacian(boundary={"lon": "edge"})
    assert edge.isel(lat=[0, -1]).isnull().all()  # no cap without the seam
    assert not edge.identical(f.grad.laplacian())


def test_datasets_and_accessor_twins():
    f = rossby_haurwitz(_grid(10.0))
    ds = xr.Dataset(
        {"u": f["u"], "v": f["v"], "name": ("lat", np.full(19, "a"))}, attrs={"title": "t"}
    )
    dx, _ = ds.grad.spherical()
    assert sorted(dx.data_vars) == ["u", "v"] and dx.attrs == {"title": "t"}
    xr.testing.assert_identical(dx["u"], f["u"].rename("u").grad.spherical()[0])
    xr.testing.assert_identical(ds.grad.laplacian()["v"], xgradient.laplacian(f["v"].rename("v")))
    u, v = ds["u"], ds["v"]
    xr.testing.assert_identical(ds.grad.vorticity("u", "v"), xgradient.vorticity(u, v))
    xr.testing.assert_identical(ds.grad.divergence("u", "v"), xgradient.divergence(u, v))


# --- metadata -------------------------------------------------------------------


def test_units_long_and_standard_names():
    u, v = solid_body(_grid(10.0))
    zeta, div = xgradient.vorticity(u, v), xgradient.divergence(u, v)
    assert (
        zeta.name == "vorticity" and zeta.attrs["standard_name"] == "atmosphere_relative_vorticity"
    )
    assert div.attrs == {
        "long_name": "divergence of (eastward_wind, northward_wind)",
        "standard_name": "divergence_of_wind",
        "units": "s-1",
    }
    t = (u * 0 + 280.0).assign_attrs(units="K", long_name="air temperature", grid_mapping="crs")
    dx, dy = t.grad.spherical()
    assert dx.attrs == {
        "long_name": "eastward derivative of air temperature",
        "units": "K m-1",
        "grid_mapping": "crs",
    }
    assert dy.attrs["long_name"] == "northward derivative of air temperature"
    assert t.grad.laplacian().attrs["units"] == "K m-2"
    geopotential = t.assign_attrs(units="m2 s-2")
    assert geopotential.grad.spherical()[0].attrs["units"] == "m s-2"
    assert "standard_name" not in xgradient.vorticity(u.assign_attrs(standard_name="x"), v).attrs
    bare = xgradient.vorticity(u.drop_attrs().rename("u"), v.drop_attrs())
    assert bare.attrs == {"long_name": "relative vorticity of (u, data)"}


# --- errors -------------------------------------------------------------------------


def test_errors_name_the_problem():
    u, v = solid_body(_grid(10.0))
    with pytest.raises(ValueError, match="radius must be a positive number"):
        xgradient.vorticity(u, v, radius=-1.0)
    with pytest.raises(ValueError, match="radius must be a positive number"):
        xgradient.vorticity(u, v, radius=True)
    with pytest.raises(ValueError, match="accuracy must be 2 or 4"):
        xgradient.laplacian(u, accuracy=3)
    with pytest.raises(ValueError, match="same grid"):
        xgradient.divergence(u, v.isel(lat=slice(1, None)))
    with pytest.raises(ValueError, match="different units"):
        xgradient.divergence(u, v.assign_attrs(units="km h-1"))
    with pytest.raises(ValueError, match="has no dimension 'lon'"):
        xgradient.divergence(u, v.isel(lon=0))
    with pytest.raises(TypeError, match="must be a DataArray"):
        xgradient.vorticity(u, v.values)


# --- CF discovery -------------------------------------------------------------------

MARKINGS = [
    ({"standard_name": "latitude"}, {"standard_name": "longitude"}),
    ({"units": "degrees_north"}, {"units": "degrees_east"}),
    ({"units": "degree_N"}, {"units": "degreeE"}),
    ({"units": "degreesN"}, {"units": "degrees_E"}),
    ({"_CoordinateAxisType": "Lat"}, {"_CoordinateAxisType": "Lon"}),
]


@pytest.mark.parametrize("lat_attrs, lon_attrs", MARKINGS)
def test_cf_attributes_found_as_cf_xarray_finds_them(lat_attrs, lon_attrs):
    cf_xarray = pytest.importorskip("cf_xarray")  # noqa: F841  (registers .cf)
    da = xr.DataArray(
        np.zeros((3, 4)),
        dims=("j", "i"),
        coords={
            "j": ("j", [0.0, 1.0, 2.0], lat_attrs),
            "i": ("i", [0.0, 1.0, 2.0, 3.0], lon_attrs),
        },
    )
    grid = find_lat_lon(da)
    assert (grid.lat_dim, grid.lon_dim) == ("j", "i")
    assert da.cf.coordinates == {"latitude": ["j"], "longitude": ["i"]}


@pytest.mark.parametrize(
    "names", [("lat", "lon"), ("latitude", "longitude"), ("nav_lat", "nav_lon"), ("LAT", "LON")]
)
def test_usual_names(names):
    da = xr.DataArray(
        np.zeros((3, 4)), dims=names, coords={names[0]: [0.0, 1, 2], names[1]: [0.0, 1, 2, 3]}
    )
    grid = find_lat_lon(da)
    assert (grid.lat_name, grid.lon_name) == names


def test_axis_with_angular_units_and_non_index_coordinates():
    da = xr.DataArray(
        np.zeros((3, 4)),
        dims=("y", "x"),
        coords={
            "phi": ("y", np.deg2rad([0.0, 1.0, 2.0]), {"axis": "Y", "units": "radians"}),
            "x": ("x", [0.0, 1.0, 2.0, 3.0], {"axis": "X", "units": "degrees"}),
            "y": ("y", [5.0, 6.0, 7.0], {"axis": "Y", "units": "m"}),  # projected: not a latitude
        },
    )
    grid = find_lat_lon(da)
    assert (grid.lat_name, grid.lat_dim, grid.lon_name) == ("phi", "y", "x")
    np.testing.assert_allclose(grid.lat, [0.0, 1.0, 2.0])


def test_ambiguous_missing_and_curvilinear():
    da = xr.DataArray(
        np.zeros((3, 4)),
        dims=("a", "b"),
        coords={"a": ("a", [0.0, 1, 2], {"units": "degrees_north"}), "b": ("b", [0.0, 1, 2, 3])},
    )
    with pytest.raises(
        ValueError, match=r"no longitude coordinate found among \['a', 'b'\]; tried standard_name"
    ):
        find_lat_lon(da)
    assert find_lat_lon(da, lon="b").lon_dim == "b"
    two = da.assign_coords(
        c=("b", [0.0, 1, 2, 3], {"standard_name": "longitude"}),
        d=("b", [1.0, 2, 3, 4], {"standard_name": "longitude"}),
    )
    with pytest.raises(
        ValueError, match=r"\['c', 'd'\] all match standard_name 'longitude'.*lon='c'"
    ):
        find_lat_lon(two)
    curvilinear = da.assign_coords(lon2d=(("a", "b"), np.zeros((3, 4)), {"units": "degrees_east"}))
    with pytest.raises(NotImplementedError, match="curvilinear"):
        find_lat_lon(curvilinear)
    with pytest.raises(ValueError, match="same dim"):
        find_lat_lon(da, lon="a")
    with pytest.raises(ValueError, match="'z' is neither a coordinate"):
        find_lat_lon(da, lat="z", lon="b")
    with pytest.raises(ValueError, match="beyond ±90"):
        find_lat_lon(da.assign_coords(a=[0.0, 45.0, 95.0]), lat="a", lon="b")


def test_covers_globe():
    assert covers_globe(np.arange(-180.0, 180.0, 0.25))
    assert not covers_globe(np.arange(-180.0, 180.1, 0.25))  # seam repeated
    assert not covers_globe(np.array([0.0, 1.0, 3.0, 4.0]))


# --- Dask: lazy, chunk-invariant, bit-identical -----------------------------------------


def _operators(f: dict, accuracy: int) -> list[xr.DataArray]:
    return [
        xgradient.vorticity(f["u"], f["v"], accuracy=accuracy),
        xgradient.divergence(f["u"], f["v"], accuracy=accuracy),
        xgradient.laplacian(f["psi"], accuracy=accuracy),
        *xgradient.spherical_gradient(f["psi"], accuracy=accuracy),
    ]


FIELDS = rossby_haurwitz(_grid(15.0))  # 13 x 24
EAGER = {acc: _operators(FIELDS, acc) for acc in (2, 4)}


@settings(max_examples=8)
@given(lat_chunks=chunkings(13), lon_chunks=chunkings(24), accuracy=st.sampled_from([2, 4]))
def test_lazy_bit_identical_whatever_the_chunking(lat_chunks, lon_chunks, accuracy):
    chunked = {k: v.chunk({"lat": lat_chunks, "lon": lon_chunks}) for k, v in FIELDS.items()}
    with raise_if_dask_computes():
        lazy = _operators(chunked, accuracy)
    for result, eager in zip(lazy, EAGER[accuracy], strict=True):
        assert result.chunks is not None
        assert result.chunksizes["lon"] == lon_chunks
        xr.testing.assert_identical(result.compute(), eager)


def test_chunks_of_one_next_to_the_poles_and_across_the_seam():
    chunks = {"lat": (1, 1, 9, 1, 1), "lon": (5, 7, 12)}
    chunked = {k: v.expand_dims(time=3).chunk(chunks) for k, v in FIELDS.items()}
    with raise_if_dask_computes():
        lazy = _operators(chunked, 4)
    for result, eager in zip(lazy, EAGER[4], strict=True):
        xr.testing.assert_identical(result.isel(time=1).compute(), eager)


# --- MetPy as an oracle ---------------------------------------------------------------


def test_agrees_with_metpy_away_from_the_poles():
    """MetPy on a sphere of the same radius: gradient to round-off; vorticity and
    divergence differ by truncation error only (MetPy's ``u tan φ / R`` form vs
    the flux form), so the difference falls with the grid step, and MetPy is
    the less accurate one near the poles."""
    mpcalc = pytest.importorskip("metpy.calc")
    coords = _grid(4.0)
    f = rossby_haurwitz(coords)
    R = xgradient.EARTH_RADIUS
    u, v = (f[k] * R for k in ("u", "v"))  # winds of the wave on the Earth
    u.attrs = v.attrs = {"units": "m s-1"}
    crs = {"grid_mapping_name": "latitude_longitude", "earth_radius": R}

    def values(x):
        x = x.metpy.dequantify() if isinstance(x, xr.DataArray) else x
        return np.asarray(getattr(x, "magnitude", x))

    um, vm = u.metpy.assign_crs(crs), v.metpy.assign_crs(crs)
    zeta_m, div_m = values(mpcalc.vorticity(um, vm)), values(mpcalc.divergence(um, vm))
    gx_m, gy_m = map(values, mpcalc.geospatial_gradient(um))
    inner = (slice(3, -3), slice(1, -1))  # MetPy has one-sided ends at the seam
    dx, dy = xgradient.spherical_gradient(u)
    atol = 1e-10 * abs(dx).max().item()
    np.testing.assert_allclose(dx.values[inner], gx_m[inner], rtol=1e-10, atol=atol)
    np.testing.assert_allclose(dy.values[inner], gy_m[inner], rtol=1e-10, atol=atol)
    mid = (slice(12, -12), slice(1, -1))  # |lat| <= 42
    zeta = xgradient.vorticity(u, v).values
    scale = abs(zeta[mid]).max()
    assert abs(zeta - zeta_m)[mid].max() / scale < 6e-3  # measured 4.0e-3
    assert abs(xgradient.divergence(u, v).values - div_m)[mid].max() / scale < 6e-3
    exact = f["zeta"].values
    assert abs(zeta - exact)[inner].max() < abs(zeta_m - exact)[inner].max()


def test_grad_refuses_a_periodic_latitude():
    f = rossby_haurwitz(_grid(10.0))["psi"]
    with pytest.raises(ValueError, match="'lat' is a latitude: a periodic boundary would join"):
        f.grad(["lat", "lon"], boundary="periodic")
    marked = f.rename(lat="y").assign_coords(y=("y", f.lat.values, {"standard_name": "latitude"}))
    with pytest.raises(ValueError, match="'y' is a latitude"):
        marked.grad.second("y", boundary={"y": "periodic"})
    assert f.grad("lon", boundary="periodic").dims == ("lat", "lon")


@pytest.mark.parametrize("chunks", [None, {"lat": 4, "lon": 10}])
def test_pint_quantities_in_quantities_out(chunks):
    pytest.importorskip("pint_xarray")
    u, v = solid_body(_grid(10.0))
    u, v = u.assign_attrs(units="m/s"), (v + 3.6).assign_attrs(units="km/h")  # v = 1 m/s
    if chunks is not None:
        u, v = u.chunk(chunks), v.chunk(chunks)
    qu, qv = u.pint.quantify(), v.pint.quantify()
    with raise_if_dask_computes():
        zeta = xgradient.vorticity(qu, qv)
        div = xgradient.divergence(qu, qv)
        dx, _ = xgradient.spherical_gradient(qu)
        lap = xgradient.laplacian(qu)
    assert str(zeta.data.units) == str(div.data.units) == "1 / second"
    assert str(dx.data.units) == "1 / second" and str(lap.data.units) == "1 / meter / second"
    assert (chunks is None) == isinstance(zeta.data.magnitude, np.ndarray)
    plain_v = v.assign_attrs(units="m/s") / 3.6
    for result, plain in [(zeta, xgradient.vorticity), (div, xgradient.divergence)]:
        expected = plain(u, plain_v).values
        np.testing.assert_allclose(result.data.magnitude, expected, rtol=1e-13, atol=1e-22)
    with pytest.raises(TypeError, match="both be pint quantities"):
        xgradient.vorticity(qu, v)
