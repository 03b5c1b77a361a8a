"""What the result carries: dims, coords, name, units, long_name; no encoding; Datasets."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose, assert_array_equal

import xgradient


@pytest.fixture
def temperature():
    return xr.DataArray(
        np.random.default_rng(0).standard_normal((3, 4, 5)) + 280.0,
        dims=("time", "y", "x"),
        coords={
            "time": np.array(["2000-01-01", "2000-01-02", "2000-01-04"], dtype="datetime64[ns]"),
            "y": ("y", [0.0, 1000.0, 2500.0, 3000.0], {"units": "m", "axis": "Y"}),
            "x": ("x", [0.0, 1.0, 2.0, 4.0, 8.0], {"units": "km", "long_name": "easting"}),
            "lon": (("y", "x"), np.arange(20.0).reshape(4, 5), {"units": "degrees_east"}),
            "height": ((), 2.0, {"units": "m"}),
        },
        name="t2m",
        attrs={
            "units": "K",
            "long_name": "air temperature",
            "standard_name": "air_temperature",
            "valid_range": [150.0, 350.0],
        },
    )


@pytest.fixture(params=["numpy", "dask"])
def backend(request):
    return request.param


def _maybe_chunk(obj, backend):
    return obj.chunk({"time": 2, "y": 3, "x": 2}) if backend == "dask" else obj


def test_dims_coords_and_name_are_kept(temperature, backend):
    obj = _maybe_chunk(temperature, backend)
    for result in (obj.grad("x"), *obj.grad()):
        assert isinstance(result, xr.DataArray)
        assert result.dims == temperature.dims
        assert result.name == "t2m"
        assert result.shape == temperature.shape
        assert set(result.coords) == set(temperature.coords)
        for name, coord in temperature.coords.items():
            xr.testing.assert_identical(result.coords[name].compute(), coord)
        assert list(result.indexes) == list(temperature.indexes)


@pytest.mark.parametrize("private_path", ["present", "missing", "changed"])
def test_result_is_built_the_same_without_xarrays_private_path(
    temperature, backend, monkeypatch, private_path
):
    # The result is wrapped with xarray's private arithmetic helper when it is
    # there; the public fallback must give an identical DataArray.
    temperature.encoding = {"dtype": "int16", "scale_factor": 0.01}
    obj = _maybe_chunk(temperature, backend)
    expected = [obj.grad("x"), *obj.grad(), obj.grad.second("y")]
    with monkeypatch.context() as patch:  # xarray itself needs the method back below
        if private_path == "missing":
            patch.delattr(xr.DataArray, "_replace_maybe_drop_dims")
        elif private_path == "changed":

            def other_signature(self, variable, *, something_required):
                raise AssertionError("not reached")

            patch.setattr(xr.DataArray, "_replace_maybe_drop_dims", other_signature)
        got = [obj.grad("x"), *obj.grad(), obj.grad.second("y")]
    for g, e in zip(got, expected, strict=True):
        xr.testing.assert_identical(g, e)
        assert g.encoding == {} and g.variable.encoding == {}
        assert list(g.indexes) == list(obj.indexes)
    assert temperature.encoding == {"dtype": "int16", "scale_factor": 0.01}


@pytest.mark.parametrize("private_path", ["present", "missing", "changed"])
def test_dataset_result_is_built_the_same_without_xarrays_private_path(
    temperature, backend, monkeypatch, private_path
):
    ds = temperature.to_dataset().assign(
        station=("x", list("abcde")),  # not numeric: dropped
        level=("z", [1.0, 2.0]),  # no x: dropped, and dim z with it
        q=temperature.isel(time=0) * 2,
    )
    ds = ds.assign_coords(w=("w", [10, 20, 30]))  # a coordinate-only dim stays
    ds.attrs = {"title": "test", "history": "made up"}
    ds.encoding = {"unlimited_dims": {"time"}}
    obj = _maybe_chunk(ds, backend)

    def results():
        return [obj.grad("x"), *obj.grad(["x", "y"]), obj.grad.second("y")]

    expected = results()
    with monkeypatch.context() as patch:
        if private_path == "missing":
            patch.delattr(xr.Dataset, "_replace_with_new_dims")
        elif private_path == "changed":

            def other_signature(self, variables, *, something_required):
                raise AssertionError("not reached")

            patch.setattr(xr.Dataset, "_replace_with_new_dims", other_signature)
        got = results()
    for g, e in zip(got, expected, strict=True):
        xr.testing.assert_identical(g, e)
        assert set(g.data_vars) == {"t2m", "q"}
        assert "z" not in g.dims and g.sizes["w"] == 3
        assert g.attrs == ds.attrs and g.encoding == {}
        assert list(g.variables) == list(e.variables)
    assert ds.encoding == {"unlimited_dims": {"time"}}


def test_input_is_not_modified(temperature):
    before = temperature.copy(deep=True)
    temperature.encoding = {"dtype": "int16", "scale_factor": 0.01}
    temperature.grad()
    temperature.grad("x", spacing={"x": 0.5})
    temperature.chunk({"x": 2}).grad("time").compute()
    xr.testing.assert_identical(temperature, before)
    assert temperature.encoding == {"dtype": "int16", "scale_factor": 0.01}


def test_unnamed_dataarray_stays_unnamed():
    result = xr.DataArray(np.arange(4.0), dims="x").grad("x")
    assert result.name is None
    assert "x" in result.attrs["long_name"]


@pytest.mark.parametrize(
    ("dim", "units"),
    [("x", "K km-1"), ("y", "K m-1"), ("time", "K s-1")],
)
def test_units(temperature, backend, dim, units):
    result = _maybe_chunk(temperature, backend).grad(dim)
    assert result.attrs["units"] == units


def test_units_per_dim_in_a_tuple(temperature):
    gt, gy, gx = temperature.grad()
    assert (gt.attrs["units"], gy.attrs["units"], gx.attrs["units"]) == (
        "K s-1",
        "K m-1",
        "K km-1",
    )


def test_no_units_when_the_data_has_none(temperature):
    plain = temperature.copy()
    del plain.attrs["units"]
    for result in plain.grad():
        assert "units" not in result.attrs
    plain.attrs["units"] = ""
    assert "units" not in plain.grad("x").attrs


def test_no_units_when_the_positions_have_none(temperature):
    bare = temperature.drop_vars("x")  # unit spacing: index positions
    assert "units" not in bare.grad("x").attrs
    no_units = temperature.assign_coords(x=("x", temperature.x.values))  # no attrs
    assert "units" not in no_units.grad("x").attrs
    # a scalar step, or a bare array, have no units either
    assert "units" not in temperature.grad("x", spacing=2.0).attrs
    assert "units" not in temperature.grad("x", spacing={"x": 2.0}).attrs
    assert "units" not in temperature.grad("x", spacing={"x": np.arange(5.0) * 3}).attrs
    assert "units" not in temperature.grad("x", spacing=[np.arange(5.0) * 3]).attrs


def test_units_from_spacing_coordinates_and_dataarrays(temperature):
    with_dist = temperature.assign_coords(dist=("x", np.arange(5.0) ** 2, {"units": "mi"}))
    assert with_dist.grad("x", spacing={"x": "dist"}).attrs["units"] == "K mi-1"
    spacing = xr.DataArray(np.arange(5.0) ** 2, dims="x", attrs={"units": "ft"})
    assert temperature.grad("x", spacing={"x": spacing}).attrs["units"] == "K ft-1"
    assert temperature.grad("x", spacing=[spacing]).attrs["units"] == "K ft-1"
    assert_array_equal(
        temperature.grad("x", spacing={"x": spacing}).values,
        np.gradient(temperature.values, spacing.values, axis=2),
    )


def test_datetime_coordinate_is_per_second(temperature):
    result = temperature.grad("time")
    assert result.attrs["units"] == "K s-1"
    seconds = np.array([0.0, 86400.0, 3 * 86400.0])
    assert_array_equal(result.values, np.gradient(temperature.values, seconds, axis=0))
    # a rise of 1 K per day is 1/86400 K s-1
    daily = xr.DataArray(
        [280.0, 281.0, 283.0],
        dims="time",
        coords={"time": temperature.time.values},
        attrs={"units": "K"},
    )
    assert_allclose(daily.grad("time").values, 1.0 / 86400.0, rtol=1e-13)


def test_datetime_coordinate_in_other_resolutions():
    days = np.array(["2000-01-01", "2000-01-02", "2000-01-04"], dtype="datetime64[s]")
    da = xr.DataArray([0.0, 1.0, 3.0], dims="time", coords={"time": days}, attrs={"units": "m"})
    result = da.grad("time")
    assert result.attrs["units"] == "m s-1"
    assert_allclose(result.values, 1.0 / 86400.0, rtol=1e-15)


@pytest.mark.parametrize(
    ("units", "symbol"),
    [
        ("days since 2000-01-01", "d"),
        ("hours since 2000-01-01 00:00:00", "h"),
        ("seconds since 1970-01-01", "s"),
    ],
)
def test_cf_numeric_time_coordinate(units, symbol):
    # as read with decode_times=False: numbers with CF "<unit> since <date>" units
    t = np.array([0.0, 1.0, 2.0, 4.0, 5.0])
    da = xr.DataArray(
        [10.0, 11.0, 12.0, 14.0, 15.0],
        dims="time",
        coords={"time": ("time", t, {"units": units, "calendar": "noleap"})},
        attrs={"units": "K"},
    )
    result = da.grad("time")
    assert result.attrs["units"] == f"K {symbol}-1"
    assert_array_equal(result.values, np.gradient(da.values, t))  # per coordinate unit
    assert_allclose(result.values, 1.0, rtol=1e-15)


def test_long_name_says_what_derivative(temperature):
    gx = temperature.grad("x")
    long_name = gx.attrs["long_name"]
    assert "derivative" in long_name
    assert "air temperature" in long_name
    assert long_name.endswith("x") or " x" in long_name
    assert "time" in temperature.grad("time").attrs["long_name"]
    # without a long_name: the variable's name
    plain = temperature.copy()
    plain.attrs = {"units": "K"}
    assert "t2m" in plain.grad("y").attrs["long_name"]
    assert " y" in plain.grad("y").attrs["long_name"]


def test_attributes_of_the_input_do_not_describe_the_derivative(temperature):
    result = temperature.grad("x")
    assert result.attrs["units"] != temperature.attrs["units"]
    assert "valid_range" not in result.attrs
    assert result.attrs.get("standard_name") != "air_temperature"


def test_encoding_is_not_carried_over(temperature, backend):
    temperature.encoding = {
        "dtype": "int16",
        "scale_factor": 0.01,
        "add_offset": 273.15,
        "_FillValue": -32767,
        "chunksizes": (1, 4, 5),
        "zlib": True,
    }
    obj = _maybe_chunk(temperature, backend)
    assert obj.encoding  # the input does have one
    for result in (obj.grad("x"), *obj.grad()):
        assert result.encoding == {}
        assert result.variable.encoding == {}
    ds = obj.to_dataset()
    assert ds["t2m"].encoding
    assert ds.grad("x")["t2m"].encoding == {}


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------


@pytest.fixture
def dataset():
    rng = np.random.default_rng(1)
    return xr.Dataset(
        {
            "t": (("y", "x"), rng.standard_normal((4, 5)), {"units": "K"}),
            "u": (("x",), rng.standard_normal(5), {"units": "m s-1", "long_name": "wind"}),
            "count": (("y", "x"), rng.integers(0, 10, (4, 5)).astype(np.int32)),
            "flag": (("y", "x"), rng.random((4, 5)) > 0.5),
            "depth": (("y",), np.arange(4.0), {"units": "m"}),
            "station": (("x",), np.array(list("abcde"))),
            "when": (("x",), np.arange(5).astype("datetime64[D]").astype("datetime64[ns]")),
            "scalar": ((), 3.0),
        },
        coords={
            "x": ("x", [0.0, 1.0, 3.0, 4.0, 8.0], {"units": "m"}),
            "y": ("y", [40.0, 30.0, 20.0, 10.0], {"units": "degrees_north"}),
            "mask": (("y", "x"), np.ones((4, 5), dtype=bool)),
            "label": ("y", list("pqrs")),
        },
        attrs={"title": "test"},
    )


def test_dataset_numeric_variables_with_the_dim(dataset, backend):
    obj = dataset.chunk({"x": 2, "y": 3}) if backend == "dask" else dataset
    result = obj.grad("x")
    assert isinstance(result, xr.Dataset)
    assert set(result.data_vars) == {"t", "u", "count", "flag"}
    # non-numeric variables and variables without the dim are dropped, coords are kept
    assert set(result.coords) == set(dataset.coords)
    for name in dataset.coords:
        xr.testing.assert_identical(result[name].compute(), dataset[name])
    for name in result.data_vars:
        var = dataset[name]
        axis = var.get_axis_num("x")
        expected = np.gradient(var.values.astype(np.float64), dataset.x.values, axis=axis)
        assert result[name].dims == var.dims
        assert_array_equal(result[name].values, expected)
        assert result[name].dtype == np.float64
    assert result["t"].attrs["units"] == "K m-1"
    assert result["u"].attrs["units"] == "m s-1 m-1"
    assert "wind" in result["u"].attrs["long_name"]
    assert "count" in result["count"].attrs["long_name"]
    assert "units" not in result["count"].attrs


def test_dataset_other_dim_and_tuple(dataset):
    gy, gx = dataset.grad(["y", "x"], edge_order=2)
    assert set(gy.data_vars) == {"t", "count", "flag", "depth"}
    assert set(gx.data_vars) == {"t", "u", "count", "flag"}
    assert gy["depth"].attrs["units"] == "m degrees_north-1"
    assert_array_equal(
        gy["t"].values, np.gradient(dataset.t.values, dataset.y.values, axis=0, edge_order=2)
    )
    assert_array_equal(gx["t"].values, dataset.t.grad("x", edge_order=2).values)


def test_dataset_all_dims(dataset):
    result = dataset.grad()
    assert isinstance(result, tuple)
    assert len(result) == len(dataset.dims)
    for dim, r in zip(dataset.dims, result, strict=True):
        xr.testing.assert_identical(r, dataset.grad(dim))


def test_dataset_function_and_accessor(dataset):
    xr.testing.assert_identical(xgradient.gradient(dataset, "x"), dataset.grad("x"))


def test_dataset_with_spacing(dataset):
    result = dataset.grad("x", spacing={"x": 0.5})
    assert_array_equal(result["t"].values, np.gradient(dataset.t.values, 0.5, axis=1))
    assert "units" not in result["t"].attrs


def test_dataset_variable_encodings_are_dropped(dataset):
    dataset["t"].encoding = {"dtype": "int16", "scale_factor": 0.1}
    result = dataset.grad("x")
    assert result["t"].encoding == {}


def test_spacing_dataarray_is_aligned_by_label_not_position():
    obj = xr.DataArray(np.arange(5.0) ** 2, dims="x", coords={"x": [10, 20, 30, 40, 50]})
    pos = xr.DataArray([0.0, 1, 3, 6, 10], dims="x", coords={"x": [10, 20, 30, 40, 50]})
    expected = obj.grad("x", spacing={"x": pos})
    shuffled = pos.sortby("x", ascending=False)
    xr.testing.assert_identical(obj.grad("x", spacing={"x": shuffled}), expected)
    np.testing.assert_array_equal(expected.values, np.gradient(obj.values, pos.values))


@pytest.mark.parametrize("options", [{}, {"accuracy": 4}])
def test_big_endian_data_gives_native_results_on_every_path(options):
    values = (np.arange(10.0) ** 2).astype(">f8")
    eager = xr.DataArray(values, dims="x").grad("x", **options)
    lazy = xr.DataArray(values, dims="x").chunk(x=3).grad("x", **options)
    assert eager.dtype == lazy.dtype == lazy.compute().dtype == np.dtype("float64")
    np.testing.assert_array_equal(lazy.values, eager.values)


def test_dimensionless_coordinate_keeps_the_data_units():
    obj = xr.DataArray(
        np.arange(4.0),
        dims="s",
        coords={"s": ("s", [0.0, 0.1, 0.3, 0.6], {"units": "1"})},
        attrs={"units": "K"},
    )
    assert obj.grad("s").attrs["units"] == "K"
