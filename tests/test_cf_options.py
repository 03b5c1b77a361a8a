"""CF axes and standard names as ``dim``; one options dict for every call (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import raise_if_dask_computes

import xgradient


def _cube() -> xr.DataArray:
    """(time, level, y, x) with CF attributes but dims that are not the axes' names."""
    time = np.array(["2000-01-01", "2000-01-02", "2000-01-04", "2000-01-05"], dtype="M8[ns]")
    lat = np.arange(-60.0, 61.0, 30.0)
    lon = np.arange(0.0, 360.0, 45.0)
    rng = np.random.default_rng(13)
    return xr.DataArray(
        rng.standard_normal((4, 4, lat.size, lon.size)),
        dims=("t", "lev", "j", "i"),
        coords={
            "t": ("t", time, {"standard_name": "time"}),
            "lev": ("lev", [1000.0, 850.0, 500.0, 250.0], {"units": "hPa", "positive": "down"}),
            "j": ("j", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "i": ("i", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        name="z",
        attrs={"units": "m2 s-2"},
    )


@pytest.mark.parametrize(
    ("key", "dim"),
    [
        ("X", "i"),
        ("Y", "j"),
        ("Z", "lev"),
        ("T", "t"),
        ("longitude", "i"),
        ("latitude", "j"),
        ("time", "t"),
    ],
)
@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_a_cf_axis_or_standard_name_stands_for_its_dim(key, dim, backend):
    cube = _cube() if backend == "numpy" else _cube().chunk({"j": 2, "i": 3})
    with raise_if_dask_computes():
        expected = cube.grad(dim)
        assert cube.grad(key).identical(expected)
        assert cube.grad.second([key])[0].identical(cube.grad.second(dim))
    assert xgradient.gradient(cube.to_dataset(), key).identical(expected.to_dataset())


def test_the_axis_attribute_comes_first():
    cube = _cube()
    cube["lev"].attrs = {"axis": "Z"}
    cube["i"].attrs["axis"] = "Y"  # deliberately odd: the attribute wins over the units
    assert cube.grad("Z").identical(cube.grad("lev"))
    assert cube.grad("Y").identical(cube.grad("i"))
    dx, dt = cube.grad(["X", "T"])  # X: no axis attribute, found as the longitude
    assert dx.identical(cube.grad("i")) and dt.identical(cube.grad("t"))


def test_a_literal_dim_wins_over_an_axis():
    cube = _cube().rename(lev="X")
    assert cube.grad("X").identical(cube.grad(["X"])[0])
    assert "with respect to X" in cube.grad("X").attrs["long_name"]


def test_unresolved_and_ambiguous_axes():
    cube = _cube()
    with pytest.raises(ValueError, match=r"dimension 'air_temperature' not found: DataArray"):
        cube.grad("air_temperature")
    bare = cube.drop_vars(["lev"])
    with pytest.raises(
        ValueError, match=r"dimension 'Z' not found: .*, nor a coordinate on CF axis Z"
    ):
        bare.grad("Z")
    twice = cube.assign_coords(rlat=("i", np.arange(8.0), {"standard_name": "latitude"}))
    with pytest.raises(ValueError, match=r"'latitude' is not a dimension.*\['j', 'rlat'\]"):
        twice.grad("latitude")
    with pytest.raises(ValueError, match=r"listed more than once"):
        cube.grad(["X", "i"])


# --- one options dict for every call -------------------------------------------


def test_one_options_dict_serves_every_call():
    cube = _cube()
    options = {
        "spacing": {"lev": [0.0, 1.5, 5.0, 10.0]},
        "boundary": {"i": "periodic", "j": "edge", "lev": "edge"},
        "period": {"i": 360.0},
    }
    for dim in ["i", "j", "lev", "t"]:
        alone = {
            "spacing": {k: v for k, v in options["spacing"].items() if k == dim} or None,
            "boundary": {k: v for k, v in options["boundary"].items() if k == dim} or "edge",
            "period": {k: v for k, v in options["period"].items() if k == dim} or None,
        }
        assert cube.grad(dim, **options).identical(cube.grad(dim, **alone))
        assert cube.grad.second(dim, **options).identical(cube.grad.second(dim, **alone))


def test_sphere_operators_take_the_same_boundary_dict():
    cube = _cube().isel(t=0)
    u, v = cube, (2 * cube).assign_attrs(units="m2 s-2")
    options = {"boundary": {"i": "edge", "lev": "edge"}}
    lon = {"boundary": {"i": "edge"}}
    for op in (xgradient.vorticity, xgradient.divergence):
        assert op(u, v, **options).identical(op(u, v, **lon))
        assert not op(u, v, **lon).identical(op(u, v))  # the wrap is overridden
    assert xgradient.laplacian(cube, **options).identical(xgradient.laplacian(cube, **lon))
    dx, _ = xgradient.spherical_gradient(cube, **options)
    assert dx.identical(xgradient.spherical_gradient(cube, **lon)[0])
    with pytest.raises(ValueError, match=r"boundary given for \['k'\], which are not dim"):
        xgradient.vorticity(u, v, boundary={"k": "edge"})
    with pytest.raises(ValueError, match=r"boundary for 'lev' must be one of"):
        xgradient.laplacian(cube, boundary={"lev": "wrap"})


@pytest.mark.parametrize("name", ["vorticity", "divergence"])
def test_flow_boundary_through_the_accessor(name):
    cube = _cube().isel(t=0, lev=0)
    ds = xr.Dataset({"u": cube, "v": 2 * cube})
    edge = getattr(ds.grad, name)("u", "v", boundary="edge")
    assert edge.identical(getattr(xgradient, name)(ds.u, ds.v, boundary="edge"))
    with pytest.raises(ValueError, match="North Pole"):
        getattr(ds.grad, name)("u", "v", boundary="periodic")
