"""Every error path: the right exception type, and a message that names the dim/variable."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_array_equal

import xgradient


@pytest.fixture
def field():
    return xr.DataArray(
        np.arange(20.0).reshape(4, 5),
        dims=("lat", "lon"),
        coords={
            "lat": [60.0, 30.0, 0.0, -30.0],
            "lon": [0.0, 10.0, 20.0, 40.0, 80.0],
            "dist": ("lon", [0.0, 1.0, 2.0, 4.0, 8.0]),
            "area": (("lat", "lon"), np.ones((4, 5))),
            "label": ("lon", list("abcde")),
        },
        name="temperature",
    )


@pytest.fixture(params=["numpy", "dask"])
def obj(request, field):
    return field if request.param == "numpy" else field.chunk({"lat": 2, "lon": 2})


# --------------------------------------------------------------------------
# Dimensions
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dim", ["depth", ["lon", "depth"], ("depth",)])
def test_unknown_dim(obj, dim):
    with pytest.raises(ValueError, match="'depth'"):
        obj.grad(dim)
    with pytest.raises(ValueError, match="'depth'"):
        xgradient.gradient(obj, dim)


def test_unknown_dim_in_a_dataset(field):
    with pytest.raises(ValueError, match="'depth'"):
        field.to_dataset().grad("depth")


def test_a_coordinate_that_is_not_a_dim(field):
    with pytest.raises(ValueError, match="'dist'"):
        field.grad("dist")


def test_dim_listed_twice(field):
    with pytest.raises(ValueError, match="'lon'"):
        field.grad(["lon", "lon"])


def test_mapping_key_that_is_not_a_dim(field):
    with pytest.raises(ValueError, match="'depth'"):
        field.grad("lon", spacing={"depth": 1.0})


# --------------------------------------------------------------------------
# Spacing of the wrong length or shape
# --------------------------------------------------------------------------


@pytest.mark.parametrize("spacing", [[1.0], [1.0, 2.0, 3.0], []])
def test_spacing_list_of_the_wrong_length(obj, spacing):
    with pytest.raises(ValueError, match=r"'lat', 'lon'"):
        obj.grad(spacing=spacing)
    with pytest.raises(ValueError, match=r"'lat', 'lon'"):
        obj.grad(["lat", "lon"], spacing=tuple(spacing))


@pytest.mark.parametrize(
    "spacing",
    [
        {"lon": np.arange(4.0)},
        {"lon": np.arange(6.0)},
        {"lon": list(range(6))},
        [np.arange(6.0)],
        np.arange(6.0),
    ],
    ids=["mapping-short", "mapping-long", "mapping-list", "list", "bare-array"],
)
def test_positions_of_the_wrong_length(obj, spacing):
    with pytest.raises(ValueError, match=r"'lon'.*5"):
        obj.grad("lon", spacing=spacing)


def test_positions_of_the_wrong_length_second_dim(field):
    with pytest.raises(ValueError, match="'lon'"):
        field.grad(["lat", "lon"], spacing=[np.arange(4.0), np.arange(3.0)])


def test_two_dimensional_positions(obj):
    with pytest.raises(ValueError, match="'lon'"):
        obj.grad("lon", spacing={"lon": np.ones((5, 2))})
    with pytest.raises(ValueError, match="'lon'"):
        obj.grad("lon", spacing={"lon": "area"})


def test_dataarray_along_another_dim(field):
    with pytest.raises(ValueError, match="'lon'"):
        field.grad("lon", spacing={"lon": xr.DataArray(np.arange(5.0), dims="x")})
    with pytest.raises(ValueError, match="'lon'"):
        field.grad("lon", spacing={"lon": "lat"})


def test_unknown_coordinate_name(field):
    with pytest.raises(ValueError, match="'nowhere'"):
        field.grad("lon", spacing={"lon": "nowhere"})


def test_unsupported_spacing_type(field):
    with pytest.raises(TypeError, match="'lat'"):
        field.grad(spacing=np.arange(5.0))  # a bare array for two dims
    with pytest.raises(TypeError, match="'lon'"):
        field.grad("lon", spacing=object())


# --------------------------------------------------------------------------
# Bad positions
# --------------------------------------------------------------------------


BAD_POSITIONS = {
    "nan": [0.0, 1.0, np.nan, 3.0, 4.0],
    "inf": [0.0, 1.0, 2.0, 3.0, np.inf],
    "repeated": [0.0, 1.0, 1.0, 3.0, 4.0],
    "non-monotonic": [0.0, 2.0, 1.0, 3.0, 4.0],
    "up-and-down": [0.0, 1.0, 2.0, 1.5, 0.5],
}


@pytest.mark.parametrize("bad", list(BAD_POSITIONS))
@pytest.mark.parametrize(
    "how",
    [
        "index",
        "mapping",
        "list",
        "list-mixed",
        "dataarray",
        "coord-name",
    ],
)
def test_bad_positions(obj, bad, how):
    x = np.array(BAD_POSITIONS[bad])
    if how == "index":
        call = lambda: obj.assign_coords(lon=x).grad("lon")  # noqa: E731
    elif how == "mapping":
        call = lambda: obj.grad("lon", spacing={"lon": x})  # noqa: E731
    elif how == "list":
        call = lambda: obj.grad(["lon"], spacing=[x])  # noqa: E731
    elif how == "list-mixed":
        call = lambda: obj.grad(["lat", "lon"], spacing=[1.0, x])  # noqa: E731
    elif how == "dataarray":
        call = lambda: obj.grad("lon", spacing={"lon": xr.DataArray(x, dims="lon")})  # noqa: E731
    else:
        call = lambda: obj.assign_coords(dist=("lon", x)).grad("lon", spacing={"lon": "dist"})  # noqa: E731
    with pytest.raises(ValueError, match="'lon'"):
        call()


def test_missing_value_in_a_pandas_nullable_index(obj):
    pd = pytest.importorskip("pandas")
    x = pd.Index(pd.array([0.0, 1.0, None, 3.0, 4.0], dtype="Float64"))
    with pytest.raises(ValueError, match="coordinate 'lon' for dimension 'lon' contains NaN"):
        obj.assign_coords(lon=x).grad("lon")


def test_bad_positions_in_a_list_with_array_entries(field):
    x = np.array(BAD_POSITIONS["repeated"])
    with pytest.raises(ValueError, match="'lon'"):
        field.grad(["lat", "lon"], spacing=[np.arange(4.0), x])


def test_repeated_position_message_says_where(field):
    with pytest.raises(ValueError, match=r"'lon'.*repeated.*\b2\b.*\b3\b"):
        field.grad("lon", spacing={"lon": [0.0, 1.0, 5.0, 5.0, 6.0]})


def test_bad_index_coordinate_on_a_dim_that_is_not_differentiated_is_fine(field):
    bad = field.assign_coords(lon=BAD_POSITIONS["repeated"])
    assert_array_equal(bad.grad("lat").values, field.grad("lat").values)


def test_nat_in_a_datetime_coordinate():
    time = np.array(["2000-01-01", "NaT", "2000-01-03"], dtype="datetime64[ns]")
    da_ = xr.DataArray(np.arange(3.0), dims="time", coords={"time": time})
    with pytest.raises(ValueError, match="'time'"):
        da_.grad("time")


def test_repeated_times():
    time = np.array(["2000-01-01", "2000-01-02", "2000-01-02"], dtype="datetime64[ns]")
    da_ = xr.DataArray(np.arange(3.0), dims="time", coords={"time": time})
    with pytest.raises(ValueError, match="'time'"):
        da_.grad("time")


@pytest.mark.parametrize("step", [0, 0.0, np.nan, np.inf, -np.inf])
def test_bad_scalar_steps(obj, step):
    with pytest.raises(ValueError, match="'lat'"):
        obj.grad(spacing=step)
    with pytest.raises(ValueError, match="'lon'"):
        obj.grad("lon", spacing={"lon": step})
    with pytest.raises(ValueError, match="'lon'"):
        obj.grad(["lat", "lon"], spacing=[1.0, step])


def test_non_numeric_positions(field):
    with pytest.raises(TypeError, match="'lon'"):
        field.grad("lon", spacing={"lon": "label"})
    with pytest.raises(TypeError, match="'lon'"):
        field.grad("lon", spacing={"lon": np.array(list("abcde"))})
    with pytest.raises(TypeError, match="'lon'"):
        field.grad("lon", spacing="five")


def test_non_numeric_index_coordinate(field):
    labelled = field.assign_coords(lon=list("abcde"))
    with pytest.raises(TypeError, match="'lon'"):
        labelled.grad("lon")
    # the other dim is unaffected
    assert_array_equal(labelled.grad("lat").values, field.grad("lat").values)


# --------------------------------------------------------------------------
# Too few points
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "edge_order"), [(0, 1), (1, 1), (0, 2), (1, 2), (2, 2)])
@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_dim_too_short_for_edge_order(n, edge_order, backend):
    short = xr.DataArray(np.zeros((3, n)), dims=("y", "x"))
    if backend == "dask":
        short = short.chunk({"y": 1})
    with pytest.raises(ValueError, match=rf"'x'.*{n}.*edge_order={edge_order}"):
        short.grad("x", edge_order=edge_order)
    with pytest.raises(ValueError, match="'x'"):
        short.grad(edge_order=edge_order)  # every dim, x included
    with pytest.raises(ValueError, match="'x'"):
        short.to_dataset(name="v").grad("x", edge_order=edge_order)


@pytest.mark.parametrize("edge_order", [1, 2])
def test_short_dim_that_is_not_differentiated_is_fine(edge_order):
    values = np.arange(6.0) ** 2
    thin = xr.DataArray(values.reshape(1, 6), dims=("y", "x"))
    expected = np.gradient(values, edge_order=edge_order)
    assert_array_equal(thin.grad("x", edge_order=edge_order).values[0], expected)
    assert_array_equal(thin.chunk({"x": 4}).grad("x", edge_order=edge_order).values[0], expected)
    ds = xr.Dataset({"v": thin, "w": (("y",), [1.0])})
    result = ds.grad("x", edge_order=edge_order)
    assert_array_equal(result["v"].values[0], expected)


def test_minimal_lengths_work():
    assert_array_equal(xr.DataArray([1.0, 3.0], dims="x").grad("x").values, [2.0, 2.0])
    assert_array_equal(
        xr.DataArray([1.0, 2.0, 5.0], dims="x").grad("x", edge_order=2).values,
        np.gradient([1.0, 2.0, 5.0], edge_order=2),
    )


# --------------------------------------------------------------------------
# edge_order
# --------------------------------------------------------------------------


@pytest.mark.parametrize("edge_order", [0, 3, -1, 1.5, True, False, "1", None])
def test_bad_edge_order(field, edge_order):
    with pytest.raises(ValueError, match="edge_order"):
        field.grad("lon", edge_order=edge_order)
    with pytest.raises(ValueError, match="edge_order"):
        xgradient.gradient(field.to_dataset(), "lon", edge_order=edge_order)


# --------------------------------------------------------------------------
# Non-numeric data
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        np.array(list("abcd")),
        np.array([b"a", b"b", b"c", b"d"]),
        np.array([1.0, 2.0, 3.0, 4.0], dtype=object),
        np.array(["2000-01-01", "2000-01-02", "2000-01-04", "2000-01-05"], dtype="datetime64[ns]"),
    ],
    ids=["str", "bytes", "object", "datetime64"],
)
@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_non_numeric_data(values, backend):
    named = xr.DataArray(values, dims="x", name="station_code")
    if backend == "dask":
        named = named.chunk({"x": 2})
    with pytest.raises(TypeError, match="'station_code'"):
        named.grad("x")
    with pytest.raises(TypeError, match="DataArray"):
        named.rename(None).grad("x")


def test_timedelta_data_is_treated_like_in_a_dataset():
    lag = xr.DataArray(
        np.array([1, 2, 4], dtype="timedelta64[s]").astype("timedelta64[ns]"),
        dims="x",
        name="lag",
    )
    assert "lag" not in lag.to_dataset().grad("x").data_vars
    with pytest.raises(TypeError, match="'lag'"):
        lag.grad("x")


def test_period_for_a_dim_that_is_not_periodic_is_named():
    obj = xr.DataArray(np.arange(6.0) ** 2, dims="x")
    with pytest.raises(ValueError, match=r"period given for dimension 'x', whose boundary"):
        obj.grad("x", period={"x": 6.0})
    with pytest.raises(ValueError, match=r"period given for dimension 'x', whose boundary"):
        obj.grad("x", boundary={"x": "edge"}, period={"x": 6.0})


def test_boolean_period_is_refused():
    obj = xr.DataArray(np.arange(6.0) ** 2, dims="x")
    with pytest.raises(ValueError, match=r"period for dimension 'x' must be a positive number"):
        obj.grad("x", boundary="periodic", period={"x": True})


def test_a_bare_coordinate_name_as_spacing_points_to_the_mapping():
    obj = xr.DataArray(np.arange(6.0) ** 2, dims="x", coords={"xx": ("x", np.arange(6.0))})
    with pytest.raises(TypeError, match=r"spacing=\{'x': 'xx'\}"):
        obj.grad("x", spacing="xx")


def test_spacing_dataarray_with_other_labels_is_refused():
    obj = xr.DataArray(np.arange(5.0) ** 2, dims="x", coords={"x": [10, 20, 30, 40, 50]})
    other = xr.DataArray([0.0, 1, 3, 6, 10], dims="x", coords={"x": [1, 2, 3, 4, 5]})
    with pytest.raises(ValueError, match=r"spacing for dimension 'x' is labelled with other"):
        obj.grad("x", spacing={"x": other})


# --------------------------------------------------------------------------
# Loose ends from a probe of bad inputs (issue 13)
# --------------------------------------------------------------------------


def test_a_dask_dataarray_is_not_named_by_its_dask_key():
    # xr.DataArray(dask_array) takes the array's key ("array-<token>") as its name.
    da = pytest.importorskip("dask.array")
    text = xr.DataArray(da.from_array(np.array(list("abcd"))[1:]), dims="x")
    assert text.name.split("-")[0] in ("array", "getitem")  # a Dask key
    with pytest.raises(TypeError, match=r"^cannot differentiate the DataArray: its dtype"):
        text.grad("x")
    obj = xr.DataArray(np.arange(3.0), dims="x").chunk()
    positions = xr.DataArray(da.from_array(np.array([0.0, 0.0, 1.0])), dims="x")
    with pytest.raises(ValueError, match=r"^spacing for dimension 'x' has repeated values"):
        obj.grad("x", spacing={"x": positions})
    lazy = xr.DataArray(da.arange(4.0), dims="x")
    assert lazy.grad("x").attrs["long_name"] == "derivative of data with respect to x"


@pytest.mark.parametrize("how", ["coordinate", "spacing"])
def test_int64_positions_that_float64_merges_are_named_as_such(how):
    big = np.array([2**62, 2**62 + 1, 2**62 + 4096], dtype=np.int64)
    obj = xr.DataArray(np.arange(3.0), dims="x")
    spacing = None
    if how == "coordinate":
        obj = obj.assign_coords(x=big)
    else:
        spacing = {"x": big}
    message = (
        r"has distinct integers 4611686018427387904 and 4611686018427387905 \(indices 0 and 1\) "
        r"that the conversion to float64 made equal"
    )
    with pytest.raises(ValueError, match=message):
        obj.grad("x", spacing=spacing)
    # Distinct after the conversion: fine, as are integers up to 2**53.
    assert obj.grad("x", spacing={"x": big + np.array([0, 2048, 4096])}).shape == (3,)
    assert obj.grad("x", spacing={"x": np.array([0, 1, 2**53])}).shape == (3,)


@pytest.mark.parametrize("period", [np.array(6.0), np.array(6), np.float32(6.0)])
def test_a_zero_dimensional_array_is_a_period(period):
    obj = xr.DataArray(np.arange(6.0) ** 2, dims="x")
    expected = obj.grad("x", boundary="periodic", period={"x": 6.0})
    assert_array_equal(obj.grad("x", boundary="periodic", period={"x": period}), expected)


@pytest.mark.parametrize("bad", [np.array(True), np.array([6.0]), np.array(-6.0)])
def test_arrays_that_are_not_a_positive_number_are_no_period(bad):
    obj = xr.DataArray(np.arange(6.0) ** 2, dims="x")
    with pytest.raises(ValueError, match=r"period for dimension 'x' must be a positive number"):
        obj.grad("x", boundary="periodic", period={"x": bad})


@pytest.mark.parametrize("step", [True, False, np.True_, np.array(True)])
@pytest.mark.parametrize("how", ["scalar", "mapping", "list"])
def test_booleans_are_no_spacing(obj, step, how):
    spacing = {"scalar": step, "mapping": {"lon": step}, "list": [step]}[how]
    with pytest.raises(TypeError, match=r"spacing for dimension 'lon' must be a number, got"):
        obj.grad(["lon"], spacing=spacing)


def test_boolean_positions_are_refused(field):
    with pytest.raises(TypeError, match=r"spacing for dimension 'x' must be numeric.*bool"):
        xr.DataArray(np.arange(2.0), dims="x").grad("x", spacing={"x": np.array([False, True])})
