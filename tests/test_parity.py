"""Parity with numpy.gradient (and torch.gradient's spacing semantics) on DataArrays.

For float64 data with float64 positions xgradient evaluates numpy's own
expressions, so results are compared bit for bit (``assert_array_equal``).
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import pytest
import xarray as xr
from conftest import np_gradient_along
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from strategies import differentiation_cases, positions, positions_or_spacing, shapes

import xgradient

DIMS = ("z", "y", "x")


def _random(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------------
# Property-based parity
# --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_single_dim_matches_np_gradient_bit_for_bit(data):
    edge_order, shape, axis = data.draw(differentiation_cases(), label="case")
    dims = DIMS[-len(shape) :]
    dim = dims[axis]
    n = shape[axis]
    values = _random(shape, seed=data.draw(st.integers(0, 2**16), label="seed"))
    kind, where = data.draw(positions_or_spacing(n), label="positions")
    da = xr.DataArray(values, dims=dims, name="f")

    if kind == "unit":
        result = da.grad(dim, edge_order=edge_order)
        expected = np.gradient(values, axis=axis, edge_order=edge_order)
    elif kind == "step":
        result = da.grad(dim, spacing=where, edge_order=edge_order)
        expected = np.gradient(values, where, axis=axis, edge_order=edge_order)
    else:
        via = data.draw(
            st.sampled_from(["coord", "mapping", "list", "bare", "dataarray", "coord-name"]),
            label="via",
        )
        if via == "coord":
            result = da.assign_coords({dim: where}).grad(dim, edge_order=edge_order)
        elif via == "mapping":
            result = da.grad(dim, spacing={dim: where}, edge_order=edge_order)
        elif via == "list":
            result = da.grad(dim, spacing=[where], edge_order=edge_order)
        elif via == "bare":
            result = da.grad(dim, spacing=where, edge_order=edge_order)
        elif via == "dataarray":
            spacing = {dim: xr.DataArray(where, dims=dim)}
            result = da.grad(dim, spacing=spacing, edge_order=edge_order)
        else:
            da = da.assign_coords(pos=(dim, where))
            result = da.grad(dim, spacing={dim: "pos"}, edge_order=edge_order)
        expected = np.gradient(values, where, axis=axis, edge_order=edge_order)

    assert isinstance(result, xr.DataArray)
    assert result.dims == da.dims
    assert result.dtype == np.float64
    assert_array_equal(result.values, expected)


@st.composite
def _all_dims_case(draw):
    edge_order = draw(st.sampled_from([1, 2]), label="edge_order")
    shape = draw(shapes(max_side=6, min_side=edge_order + 1), label="shape")
    values = _random(shape, seed=draw(st.integers(0, 2**16), label="seed"))
    entries = []
    for n in shape:
        kind, where = draw(positions_or_spacing(n))
        entries.append(1.0 if kind == "unit" else where)
    return edge_order, values, entries


def _check_all_dims(result, values, entries, edge_order):
    expected = np.gradient(values, *entries, edge_order=edge_order)
    if values.ndim == 1:
        expected = (expected,)
    assert isinstance(result, tuple)
    assert len(result) == values.ndim
    for got, want in zip(result, expected, strict=True):
        assert got.dims == DIMS[-values.ndim :]
        assert_array_equal(got.values, want)


@settings(max_examples=40, deadline=None)
@given(case=_all_dims_case())
def test_all_dims_with_a_spacing_mapping_match_np_gradient(case):
    edge_order, values, entries = case
    dims = DIMS[-values.ndim :]
    da = xr.DataArray(values, dims=dims)
    spacing = dict(zip(dims, entries, strict=True))
    result = xgradient.gradient(da, spacing=spacing, edge_order=edge_order)
    _check_all_dims(result, values, entries, edge_order)


@settings(max_examples=40, deadline=None)
@given(case=_all_dims_case())
def test_all_dims_with_a_spacing_list_match_np_gradient(case):
    edge_order, values, entries = case
    da = xr.DataArray(values, dims=DIMS[-values.ndim :])
    result = xgradient.gradient(da, spacing=entries, edge_order=edge_order)
    _check_all_dims(result, values, entries, edge_order)


@settings(max_examples=30, deadline=None)
@given(
    x=st.integers(3, 12).flatmap(lambda n: positions(n, decreasing=True)),
    edge_order=st.sampled_from([1, 2]),
)
def test_decreasing_positions_work(x, edge_order):
    values = np.cos(x / 50.0)
    da = xr.DataArray(values, dims="x", coords={"x": x})
    assert_array_equal(
        da.grad("x", edge_order=edge_order).values,
        np.gradient(values, x, edge_order=edge_order),
    )


@pytest.mark.parametrize("edge_order", [1, 2])
def test_latitude_from_north_to_south(edge_order):
    lat = np.linspace(90.0, -90.0, 181)
    values = np.sin(np.deg2rad(lat)) ** 2
    da = xr.DataArray(values, dims="lat", coords={"lat": lat})
    expected = np.gradient(values, lat, edge_order=edge_order)
    assert_array_equal(da.grad("lat", edge_order=edge_order).values, expected)
    # a Gaussian-like, non-uniform, decreasing latitude axis
    glat = 90.0 * np.sin(np.linspace(0.45 * np.pi, -0.45 * np.pi, 64))
    da = xr.DataArray(np.cos(np.deg2rad(glat)), dims="lat", coords={"lat": glat})
    assert (np.diff(glat) < 0).all()
    assert_array_equal(
        da.grad("lat", edge_order=edge_order).values,
        np.gradient(da.values, glat, edge_order=edge_order),
    )


@pytest.mark.parametrize(
    "x", [[5.0, 4.0, 2.0, 1.5], [5.0, 3.0, 2.5, 1.5, 0.5]], ids=["first-step", "last-step"]
)
@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("chunks", [None, 3], ids=["numpy", "dask"])
def test_decreasing_positions_with_a_unit_end_step_warn_nothing(x, edge_order, chunks):
    x = np.array(x)
    values = x**2
    da = xr.DataArray(values, dims="x", coords={"x": x})
    if chunks:
        da = da.chunk({"x": chunks})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = da.grad("x", edge_order=edge_order).compute()
    assert_array_equal(result.values, np.gradient(values, x, edge_order=edge_order))


# --------------------------------------------------------------------------
# numpy's TestGradient, rewritten for DataArrays
# --------------------------------------------------------------------------


def test_basic():
    v = [[1, 1], [3, 4]]
    expected = (np.array([[2.0, 3.0], [2.0, 3.0]]), np.array([[0.0, 0.0], [1.0, 1.0]]))
    for da in (xr.DataArray(np.array(v), dims=("y", "x")), xr.DataArray(v)):
        result = da.grad()
        assert isinstance(result, tuple)
        assert len(result) == 2
        for got, want in zip(result, expected, strict=True):
            assert got.dtype == np.float64
            assert_array_equal(got.values, want)


def test_args():
    dx = np.cumsum(np.ones(5))
    dx_uneven = np.array([1.0, 2.0, 5.0, 9.0, 11.0])
    f_1d = xr.DataArray(np.arange(5), dims="x")
    f_2d = xr.DataArray(np.arange(25).reshape(5, 5), dims=("y", "x"))

    # distances are scalars or 1-D arrays of the dimension's length
    assert_array_equal(f_1d.grad("x", spacing=3.0).values, np.gradient(np.arange(5), 3.0))
    assert_array_equal(
        f_1d.grad("x", spacing=np.array(3.0)).values, np.gradient(np.arange(5), np.array(3.0))
    )
    assert_array_equal(f_1d.grad("x", spacing={"x": dx}).values, np.gradient(np.arange(5), dx))

    # a scalar applies to every dim
    for h in (1.5, np.array(1.5)):
        for got, want in zip(f_2d.grad(spacing=h), np.gradient(f_2d.values, 1.5), strict=True):
            assert_array_equal(got.values, want)

    for spacing in ([dx_uneven, dx_uneven], [dx, dx_uneven], [2, 1.5], [dx, 2], (1.5, dx)):
        for got, want in zip(
            f_2d.grad(spacing=spacing), np.gradient(f_2d.values, *spacing), strict=True
        ):
            assert_array_equal(got.values, want)

    # 2-D, one dim named
    assert_array_equal(
        f_2d.grad("x", spacing={"x": dx}).values, np.gradient(f_2d.values, dx, axis=1)
    )

    # 2-D position arrays are refused
    with pytest.raises(ValueError, match=r"'x'.*1-D|1-D.*'x'"):
        f_2d.grad("x", spacing={"x": np.stack([dx] * 2, axis=-1)})


@pytest.mark.parametrize(
    ("spacing", "match"),
    [
        # wrong sizes
        ([np.cumsum(np.ones(5)), np.ones(2)], "'x'"),
        ([1, np.ones(2)], "'x'"),
        ([np.ones(2), np.ones(2)], "'y'"),
        # wrong number of entries
        ([np.cumsum(np.ones(5))], r"\['y', 'x'\]"),
        ([np.cumsum(np.ones(5))] * 3, r"\['y', 'x'\]"),
        ([1, 1, 1], r"\['y', 'x'\]"),
    ],
)
def test_badargs(spacing, match):
    f_2d = xr.DataArray(np.arange(25).reshape(5, 5), dims=("y", "x"))
    with pytest.raises(ValueError, match=match):
        f_2d.grad(spacing=spacing)


def test_badargs_one_dim_two_entries():
    f_2d = xr.DataArray(np.arange(25).reshape(5, 5), dims=("y", "x"))
    x = np.cumsum(np.ones(5))
    with pytest.raises(ValueError, match="'x'"):
        f_2d.grad("x", spacing=[x, x])
    with pytest.raises(ValueError, match="'x'"):
        f_2d.grad("x", spacing=[1, 1])


def test_second_order_accurate():
    # relative error below 3% everywhere, edges included, with edge_order=2
    x = np.linspace(0, 1, 10)
    y = 2 * x**3 + 4 * x**2 + 2 * x
    analytical = 6 * x**2 + 8 * x + 2
    da = xr.DataArray(y, dims="x")
    got = da.grad("x", spacing=x[1] - x[0], edge_order=2).values
    assert np.all(np.abs(got / analytical - 1) < 0.03)

    x = np.sort(np.random.default_rng(0).random(10))
    y = 2 * x**3 + 4 * x**2 + 2 * x
    analytical = 6 * x**2 + 8 * x + 2
    da = xr.DataArray(y, dims="x", coords={"x": x})
    got = da.grad("x", edge_order=2).values
    assert np.all(np.abs(got / analytical - 1) < 0.03)
    assert_array_equal(got, np.gradient(y, x, edge_order=2))


class TestSpacing:
    f1 = np.array([0, 2.0, 3.0, 4.0, 5.0, 5.0])
    f = np.tile(f1, (6, 1)) + f1.reshape(-1, 1)
    x_uneven = np.array([0.0, 0.5, 1.0, 3.0, 5.0, 7.0])
    x_even = np.arange(6.0)

    fdx_even: ClassVar = {
        1: np.tile([2.0, 1.5, 1.0, 1.0, 0.5, 0.0], (6, 1)),
        2: np.tile([2.5, 1.5, 1.0, 1.0, 0.5, -0.5], (6, 1)),
    }
    fdx_uneven: ClassVar = {
        1: np.tile([4.0, 3.0, 1.7, 0.5, 0.25, 0.0], (6, 1)),
        2: np.tile([5.0, 3.0, 1.7, 0.5, 0.25, -0.25], (6, 1)),
    }

    def da(self, **coords):
        return xr.DataArray(self.f, dims=("y", "x"), coords=coords)

    @pytest.mark.parametrize("edge_order", [1, 2])
    def test_evenly_spaced(self, edge_order):
        exp = self.fdx_even[edge_order]
        res1 = self.da().grad(["y", "x"], spacing=1.0, edge_order=edge_order)
        res2 = self.da().grad(["y", "x"], spacing=[self.x_even, self.x_even], edge_order=edge_order)
        res3 = self.da(y=self.x_even, x=self.x_even).grad(edge_order=edge_order)
        res4 = self.da().grad(edge_order=edge_order)  # unit spacing
        for a, b, c, d in zip(res1, res2, res3, res4, strict=True):
            assert_array_equal(a.values, b.values)
            assert_array_equal(b.values, c.values)
            assert_array_equal(c.values, d.values)
        assert_allclose(res1[0].values, exp.T, rtol=0, atol=1e-12)
        assert_allclose(res1[1].values, exp, rtol=0, atol=1e-12)

        got_y = self.da().grad("y", spacing={"y": self.x_even}, edge_order=edge_order)
        assert got_y.shape == self.f.shape
        assert_allclose(got_y.values, exp.T, rtol=0, atol=1e-12)
        got_x = self.da().grad("x", spacing={"x": self.x_even}, edge_order=edge_order)
        assert_array_equal(got_x.values, exp)
        assert_array_equal(
            got_x.values, np.gradient(self.f, self.x_even, axis=1, edge_order=edge_order)
        )

    @pytest.mark.parametrize("edge_order", [1, 2])
    def test_unevenly_spaced(self, edge_order):
        exp = self.fdx_uneven[edge_order]
        res1 = self.da().grad(
            ["y", "x"], spacing=[self.x_uneven, self.x_uneven], edge_order=edge_order
        )
        res2 = self.da(y=self.x_uneven, x=self.x_uneven).grad(edge_order=edge_order)
        for a, b in zip(res1, res2, strict=True):
            assert_array_equal(a.values, b.values)
        assert_allclose(res1[0].values, exp.T, rtol=0, atol=1e-12)
        assert_allclose(res1[1].values, exp, rtol=0, atol=1e-12)
        for axis, got in enumerate(res1):
            assert_array_equal(
                got.values,
                np.gradient(self.f, self.x_uneven, axis=axis, edge_order=edge_order),
            )

        got_y = self.da(y=self.x_uneven).grad("y", edge_order=edge_order)
        assert_allclose(got_y.values, exp.T, rtol=0, atol=1e-12)
        got_x = self.da(x=self.x_uneven).grad("x", edge_order=edge_order)
        assert_allclose(got_x.values, exp, rtol=0, atol=1e-12)

    @pytest.mark.parametrize("edge_order", [1, 2])
    def test_mixed(self, edge_order):
        res1 = self.da().grad(
            ["y", "x"], spacing=[self.x_even, self.x_uneven], edge_order=edge_order
        )
        res2 = self.da().grad(
            ["x", "y"], spacing=[self.x_uneven, self.x_even], edge_order=edge_order
        )
        assert_array_equal(res1[0].values, res2[1].values)
        assert_array_equal(res1[1].values, res2[0].values)
        assert_allclose(res1[0].values, self.fdx_even[edge_order].T, rtol=0, atol=1e-12)
        assert_allclose(res1[1].values, self.fdx_uneven[edge_order], rtol=0, atol=1e-12)
        # the same through a mapping, and through coordinates
        res3 = self.da().grad(
            ["y", "x"], spacing={"x": self.x_uneven, "y": self.x_even}, edge_order=edge_order
        )
        res4 = self.da(y=self.x_even, x=self.x_uneven).grad(edge_order=edge_order)
        for a, b, c in zip(res1, res3, res4, strict=True):
            assert_array_equal(a.values, b.values)
            assert_array_equal(a.values, c.values)


def test_specific_axes():
    x = np.array([[1, 1], [3, 4]])
    dx = (np.array([[2.0, 3.0], [2.0, 3.0]]), np.array([[0.0, 0.0], [1.0, 1.0]]))
    da = xr.DataArray(x, dims=("y", "x"))

    assert_array_equal(da.grad("y").values, dx[0])
    assert_array_equal(da.grad("x").values, dx[1])
    both = da.grad(["x", "y"])
    assert isinstance(both, tuple)
    assert [r.values.tolist() for r in both] == [dx[1].tolist(), dx[0].tolist()]

    # dim=None: every dim, in order, same as giving them all and as the default
    for res in (da.grad(None), da.grad(), da.grad(["y", "x"]), da.grad(("y", "x"))):
        assert isinstance(res, tuple)
        assert_array_equal(res[0].values, dx[0])
        assert_array_equal(res[1].values, dx[1])

    # spacing entries follow the order of `dim`
    res = da.grad(["x", "y"], spacing=[2, 3])
    assert_array_equal(res[0].values, dx[1] / 2.0)
    assert_array_equal(res[1].values, dx[0] / 3.0)

    # one spacing entry too many for one dim
    with pytest.raises(ValueError, match="'x'"):
        da.grad("x", spacing=[1, 2])
    # unknown dims (numpy: AxisError for axis=3)
    with pytest.raises(ValueError, match="'w'"):
        da.grad("w")


def test_dim_as_a_one_element_list_returns_a_tuple():
    da = xr.DataArray(np.array([[1, 1], [3, 4]]), dims=("y", "x"))
    res = da.grad(["x"])
    assert isinstance(res, tuple)
    assert len(res) == 1
    assert_array_equal(res[0].values, da.grad("x").values)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_inexact_dtypes(dtype):
    # dtypes are not promoted any differently from np.diff
    da = xr.DataArray(np.array([1, 2, 3], dtype=dtype), dims="x")
    assert da.grad("x").dtype == np.diff(da.values).dtype == dtype


def test_values():
    # 2 points are enough for edge_order=1, 3 for edge_order=2
    assert_array_equal(xr.DataArray(np.arange(2), dims="x").grad("x", edge_order=1).values, [1, 1])
    assert_array_equal(
        xr.DataArray(np.arange(3), dims="x").grad("x", edge_order=2).values, [1, 1, 1]
    )


@pytest.mark.parametrize("f_dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
def test_f_decreasing_unsigned_int(f_dtype):
    da = xr.DataArray(np.array([5, 4, 3, 2, 1], dtype=f_dtype), dims="x")
    got = da.grad("x")
    assert got.dtype == np.float64
    assert_array_equal(got.values, [-1.0] * 5)


@pytest.mark.parametrize("f_dtype", [np.int8, np.int16, np.int32, np.int64])
def test_f_signed_int_big_jump(f_dtype):
    maxint = np.iinfo(f_dtype).max
    da = xr.DataArray(np.array([-1, maxint], dtype=f_dtype), dims="x", coords={"x": [1, 3]})
    assert_array_equal(da.grad("x").values, [(maxint + 1) // 2] * 2)


@pytest.mark.parametrize("x_dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
def test_x_decreasing_unsigned(x_dtype):
    x = np.array([3, 2, 1], dtype=x_dtype)
    da = xr.DataArray(np.array([0, 2, 4]), dims="x", coords={"x": x})
    assert_array_equal(da.grad("x").values, [-2.0] * 3)
    assert_array_equal(
        xr.DataArray(np.array([0, 2, 4]), dims="x").grad("x", spacing={"x": x}).values,
        [-2.0] * 3,
    )


@pytest.mark.parametrize("x_dtype", [np.int8, np.int16, np.int32, np.int64])
def test_x_signed_int_big_jump(x_dtype):
    minint = np.iinfo(x_dtype).min
    maxint = np.iinfo(x_dtype).max
    x = np.array([-1, maxint], dtype=x_dtype)
    da = xr.DataArray(np.array([minint // 2, 0]), dims="x")
    assert_array_equal(da.grad("x", spacing={"x": x}).values, [0.5, 0.5])
    assert_array_equal(da.assign_coords(x=x).grad("x").values, [0.5, 0.5])


def test_return_type():
    da = xr.DataArray([[1, 2], [2, 3]])
    assert type(da.grad()) is tuple
    assert type(da.grad(list(da.dims))) is tuple
    assert type(da.grad("dim_0")) is xr.DataArray
    assert type(xgradient.gradient(da)) is tuple
    assert type(xgradient.gradient(da, "dim_0")) is xr.DataArray


# numpy.gradient's docstring examples


def test_numpy_docstring_examples_1d():
    f = xr.DataArray(np.array([1, 2, 4, 7, 11, 16]), dims="x")
    assert_array_equal(f.grad("x").values, [1.0, 1.5, 2.5, 3.5, 4.5, 5.0])
    assert_array_equal(f.grad("x", spacing=2).values, [0.5, 0.75, 1.25, 1.75, 2.25, 2.5])
    assert_array_equal(
        f.assign_coords(x=np.arange(6)).grad("x").values, [1.0, 1.5, 2.5, 3.5, 4.5, 5.0]
    )
    x = np.array([0.0, 1.0, 1.5, 3.5, 4.0, 6.0])
    got = f.assign_coords(x=x).grad("x").values
    assert_allclose(got, [1.0, 3.0, 3.5, 6.7, 6.9, 2.5], rtol=1e-14)
    assert_array_equal(got, np.gradient(f.values, x))


def test_numpy_docstring_examples_2d():
    f = xr.DataArray(np.array([[1, 2, 6], [3, 4, 5]]), dims=("y", "x"))
    dy, dx = f.grad()
    assert_array_equal(dy.values, [[2.0, 2.0, -1.0], [2.0, 2.0, -1.0]])
    assert_array_equal(dx.values, [[1.0, 2.5, 4.0], [1.0, 1.0, 1.0]])
    assert_array_equal(f.grad("y").values, dy.values)

    # uniform along y, non-uniform along x
    for spacing in ([2.0, [1.0, 1.5, 3.5]], {"y": 2.0, "x": [1.0, 1.5, 3.5]}):
        dy, dx = f.grad(spacing=spacing)
        assert_array_equal(dy.values, [[1.0, 1.0, -0.5], [1.0, 1.0, -0.5]])
        assert_allclose(dx.values, [[2.0, 2.0, 2.0], [2.0, 1.7, 0.5]], rtol=1e-14)
        assert_array_equal(dx.values, np.gradient(f.values, 2.0, [1.0, 1.5, 3.5])[1])


def test_numpy_docstring_examples_edge_order():
    x = np.array([0, 1, 2, 3, 4])
    f = xr.DataArray(x**2, dims="x")
    assert_array_equal(f.grad("x", edge_order=1).values, [1.0, 2.0, 4.0, 6.0, 7.0])
    assert_array_equal(f.grad("x", edge_order=2).values, [0.0, 2.0, 4.0, 6.0, 8.0])

    # exact for quadratics, on any grid
    x = np.array([0.0, 2.0, 3.0, 6.0, 8.0])
    y = xr.DataArray(x**2, dims="x", coords={"x": x})
    assert_allclose(y.grad("x", edge_order=2).values, [0.0, 4.0, 6.0, 12.0, 16.0], atol=1e-13)
    assert_array_equal(y.grad("x", edge_order=2).values, np.gradient(x**2, x, edge_order=2))
    x = np.array([0.0, 2.0, 4.0, 6.0, 8.0])
    y = xr.DataArray(x**2, dims="x")
    assert_array_equal(y.grad("x", spacing=2, edge_order=2).values, [0.0, 4.0, 8.0, 12.0, 16.0])


def test_numpy_docstring_examples_scalars_and_arrays_per_dim():
    x = np.arange(0, 6, 2)
    y = np.arange(0, 9, 3)
    xs, ys = np.meshgrid(x, y)
    zs = xr.DataArray(xs + 2 * ys, dims=("y", "x"))
    for spacing in ([3, 2], [y, 2], [3, x], [y, x], {"y": y, "x": 2}, {"y": 3, "x": x}):
        dzdy, dzdx = zs.grad(spacing=spacing)
        assert_array_equal(dzdy.values, np.full((3, 3), 2.0))
        assert_array_equal(dzdx.values, np.full((3, 3), 1.0))
    # the same numbers from coordinates
    dzdy, dzdx = zs.assign_coords(y=y, x=x).grad()
    assert_array_equal(dzdy.values, np.full((3, 3), 2.0))
    assert_array_equal(dzdx.values, np.full((3, 3), 1.0))


# --------------------------------------------------------------------------
# torch.gradient's documented examples, translated
# --------------------------------------------------------------------------


def test_torch_coordinates_example():
    # f(x) = x**2 sampled at x = -2, -1, 1, 4
    values = xr.DataArray([4.0, 1.0, 1.0, 16.0], dims="x")
    coords = (np.array([-2.0, -1.0, 1.0, 4.0]),)
    (got,) = values.grad(spacing=coords)
    assert_allclose(got.values, [-3.0, -2.0, 2.0, 5.0], rtol=1e-14)
    assert_array_equal(values.assign_coords(x=coords[0]).grad("x").values, got.values)


T = np.array([[1, 2, 4, 8], [10, 20, 40, 80]])
T_DIM0 = np.array([[9.0, 18.0, 36.0, 72.0]] * 2)
T_DIM1 = np.array([[1.0, 1.5, 3.0, 4.0], [10.0, 15.0, 30.0, 40.0]])


def test_torch_implicit_unit_coordinates():
    t = xr.DataArray(T, dims=("row", "col"))
    d0, d1 = t.grad()
    assert_array_equal(d0.values, T_DIM0)
    assert_array_equal(d1.values, T_DIM1)
    # only dim 1
    assert_array_equal(t.grad("col").values, T_DIM1)
    (only,) = t.grad(["col"])
    assert_array_equal(only.values, T_DIM1)


def test_torch_scalar_spacing_multiplies_indices_and_ignores_coords():
    t = xr.DataArray(
        T, dims=("row", "col"), coords={"row": [0.0, 7.0], "col": [0.0, 1.0, 5.0, 6.0]}
    )
    d0, d1 = t.grad(spacing=2.0)
    assert_array_equal(d0.values, [[4.5, 9.0, 18.0, 36.0]] * 2)
    assert_array_equal(d1.values, [[0.5, 0.75, 1.5, 2.0], [5.0, 7.5, 15.0, 20.0]])
    # the coordinates really are not used
    assert not np.array_equal(t.grad("col").values, d1.values * 2.0)


def test_torch_list_of_scalars():
    t = xr.DataArray(T, dims=("row", "col"))
    d0, d1 = t.grad(spacing=[3.0, 2.0])
    assert_allclose(d0.values, T_DIM0 / 3.0, rtol=1e-15)
    assert_array_equal(d1.values, T_DIM1 / 2.0)


def test_torch_list_of_coordinate_arrays():
    t = xr.DataArray(T, dims=("row", "col"))
    coords = (np.array([0, 2]), np.array([0, 3, 6, 9]))
    d0, d1 = t.grad(spacing=coords)
    assert_array_equal(d0.values, [[4.5, 9.0, 18.0, 36.0]] * 2)
    assert_allclose(
        d1.values,
        [[1 / 3, 0.5, 1.0, 4 / 3], [10 / 3, 5.0, 10.0, 40 / 3]],
        rtol=1e-15,
    )
    # same as the list of steps those coordinates describe
    for a, b in zip(d0.values, t.grad(spacing=[2, 3])[0].values, strict=True):
        assert_array_equal(a, b)


def test_torch_edge_order_2():
    t = xr.DataArray(T, dims=("row", "col"))
    got = t.grad("col", edge_order=2)
    assert_array_equal(got.values, [[0.5, 1.5, 3.0, 5.0], [5.0, 15.0, 30.0, 50.0]])


# --------------------------------------------------------------------------
# Spacing priorities
# --------------------------------------------------------------------------


@pytest.fixture
def field():
    x = np.array([0.0, 0.5, 2.0, 2.5, 4.0, 7.0])
    y = np.array([10.0, 8.0, 7.5, 3.0])
    values = _random((4, 6), seed=3)
    return xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"x": x, "y": y, "xx": ("x", x**2 + 1.0), "label": ("x", list("abcdef"))},
        name="f",
    )


def test_index_coordinates_are_the_default(field):
    assert_array_equal(field.grad("x").values, np_gradient_along(field, "x", field.x.values))
    assert_array_equal(field.grad("y").values, np_gradient_along(field, "y", field.y.values))


def test_scalar_spacing_beats_coordinates(field):
    for dim in ("x", "y"):
        assert_array_equal(
            field.grad(dim, spacing=0.25).values, np_gradient_along(field, dim, 0.25)
        )


def test_list_entries_beat_coordinates(field):
    xs = np.arange(6.0) ** 1.5
    gy, gx = field.grad(["y", "x"], spacing=[2.0, 0.5])
    assert_array_equal(gy.values, np_gradient_along(field, "y", 2.0))
    assert_array_equal(gx.values, np_gradient_along(field, "x", 0.5))
    (gx,) = field.grad(["x"], spacing=[xs])
    assert_array_equal(gx.values, np_gradient_along(field, "x", xs))
    gy, gx = field.grad(["y", "x"], spacing=[2.0, xs])
    assert_array_equal(gy.values, np_gradient_along(field, "y", 2.0))
    assert_array_equal(gx.values, np_gradient_along(field, "x", xs))
    ys = np.array([0.0, 1.0, 2.0, 4.0])
    gx, gy = field.grad(["x", "y"], spacing=(xs, ys))
    assert_array_equal(gx.values, np_gradient_along(field, "x", xs))
    assert_array_equal(gy.values, np_gradient_along(field, "y", ys))


_F2D = np.arange(25).reshape(5, 5)
_HAT = np.array([[1, 2, 6], [3, 4, 5]])


@pytest.mark.parametrize(
    ("values", "spacing", "expected"),
    [
        # numpy's test_args: a mix of an array and a scalar
        (_F2D, [np.cumsum(np.ones(5)), 2], np.gradient(_F2D, np.cumsum(np.ones(5)), 2)),
        # numpy's docstring: uniform along axis 0, non-uniform along axis 1
        (
            _HAT,
            [2.0, [1.0, 1.5, 3.5]],
            (
                np.array([[1.0, 1.0, -0.5], [1.0, 1.0, -0.5]]),
                np.array([[2.0, 2.0, 2.0], [2.0, 1.7, 0.5]]),
            ),
        ),
        # numpy's docstring: "Passing one array and one scalar"
        (
            np.meshgrid(np.arange(0, 6, 2), np.arange(0, 9, 3))[0]
            + 2 * np.meshgrid(np.arange(0, 6, 2), np.arange(0, 9, 3))[1],
            [np.arange(0, 9, 3), 2],
            (np.full((3, 3), 2.0), np.full((3, 3), 1.0)),
        ),
        # a tuple of arrays of different lengths (a non-square grid)
        (_HAT, (np.array([0.0, 2.0]), np.array([0.0, 3.0, 6.0])), np.gradient(_HAT, 2.0, 3.0)),
    ],
    ids=["numpy-test_args", "numpy-docstring-dx-y", "numpy-docstring-y-dx", "unequal-lengths"],
)
def test_spacing_list_mixing_scalars_and_arrays(values, spacing, expected):
    da = xr.DataArray(values, dims=("y", "x"))
    result = da.grad(spacing=spacing)
    for got, want in zip(result, expected, strict=True):
        assert_allclose(got.values, want, rtol=1e-14)


def test_mapping_entries(field):
    xs = np.arange(6.0) ** 1.5
    expected = np_gradient_along(field, "x", xs)
    for entry in (xs, list(xs), xr.DataArray(xs, dims="x")):
        assert_array_equal(field.grad("x", spacing={"x": entry}).values, expected)
    assert_array_equal(
        field.grad("x", spacing={"x": "xx"}).values,
        np_gradient_along(field, "x", field.xx.values),
    )
    assert_array_equal(
        field.grad("x", spacing={"x": 0.5}).values, np_gradient_along(field, "x", 0.5)
    )


def test_mapping_missing_dims_fall_back_to_coordinates(field):
    gy, gx = field.grad(spacing={"x": 3.0})
    assert_array_equal(gx.values, np_gradient_along(field, "x", 3.0))
    assert_array_equal(gy.values, np_gradient_along(field, "y", field.y.values))
    # and to unit spacing when the dim has no index coordinate
    bare = field.drop_vars("y")
    gy, gx = bare.grad(spacing={"x": 3.0})
    assert_array_equal(gy.values, np_gradient_along(field, "y"))


def test_non_index_coordinate_is_not_used_by_default(field):
    # "xx" lies along x but is not x's index coordinate
    no_index = field.drop_vars("x")
    assert "xx" in no_index.coords
    assert_array_equal(no_index.grad("x").values, np_gradient_along(field, "x"))


def test_datetime_coordinate_gives_seconds():
    time = np.array(
        ["2000-01-01T00", "2000-01-01T06", "2000-01-02T00", "2000-01-03T12", "2000-01-04T00"],
        dtype="datetime64[ns]",
    )
    values = np.array([0.0, 1.0, 3.0, 2.0, 8.0])
    da = xr.DataArray(values, dims="time", coords={"time": time})
    seconds = (time - time[0]) / np.timedelta64(1, "s")
    assert_array_equal(seconds, [0.0, 21600.0, 86400.0, 216000.0, 259200.0])
    for edge_order in (1, 2):
        assert_array_equal(
            da.grad("time", edge_order=edge_order).values,
            np.gradient(values, seconds, edge_order=edge_order),
        )
    # a uniform daily axis: 1 per day is 1/86400 per second
    daily = xr.DataArray(
        np.arange(5.0), dims="time", coords={"time": np.arange(5) * np.timedelta64(1, "D")}
    )
    daily = daily.assign_coords(time=np.datetime64("2001-01-01") + daily.time.values)
    assert_allclose(daily.grad("time").values, 1 / 86400.0, rtol=1e-15)


def test_datetime_positions_in_a_mapping():
    time = np.array(["2000-01-01", "2000-01-02", "2000-01-04"], dtype="datetime64[ns]")
    da = xr.DataArray([0.0, 86400.0, 3 * 86400.0], dims="t")
    assert_array_equal(da.grad("t", spacing={"t": time}).values, [1.0, 1.0, 1.0])


# --------------------------------------------------------------------------
# Data types
# --------------------------------------------------------------------------


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("uniform", [True, False])
def test_float32_keeps_float32(edge_order, uniform):
    x = np.arange(9.0) * 0.5 if uniform else np.cumsum(np.linspace(0.1, 1.0, 9))
    values = np.sin(np.arange(18.0).reshape(2, 9) / 3.0).astype(np.float32)
    da = xr.DataArray(values, dims=("y", "x"), coords={"x": x})
    got = da.grad("x", edge_order=edge_order)
    assert got.dtype == np.float32
    expected = np.gradient(values.astype(np.float64), x, axis=1, edge_order=edge_order)
    assert_allclose(got.values, expected, rtol=1e-6)
    got = da.grad("x", spacing=0.5, edge_order=edge_order)
    assert got.dtype == np.float32
    expected = np.gradient(values.astype(np.float64), 0.5, axis=1, edge_order=edge_order)
    assert_allclose(got.values, expected, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_integers_give_float64(dtype, edge_order):
    values = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]], dtype=dtype)
    x = np.array([0.0, 1.0, 3.0, 3.5, 7.0])
    da = xr.DataArray(values, dims=("y", "x"), coords={"x": x})
    got = da.grad("x", edge_order=edge_order)
    assert got.dtype == np.float64
    assert_array_equal(got.values, np.gradient(values, x, axis=1, edge_order=edge_order))


@pytest.mark.parametrize("edge_order", [1, 2])
def test_bools_give_float64(edge_order):
    values = np.array([True, False, False, True, True, False])
    got = xr.DataArray(values, dims="x").grad("x", edge_order=edge_order)
    assert got.dtype == np.float64
    assert_array_equal(got.values, np.gradient(values.astype(np.float64), edge_order=edge_order))


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_complex(dtype, edge_order):
    rng = np.random.default_rng(5)
    values = (rng.standard_normal((3, 7)) + 1j * rng.standard_normal((3, 7))).astype(dtype)
    x = np.array([0.0, 0.5, 1.5, 2.0, 4.0, 4.25, 6.0])
    da = xr.DataArray(values, dims=("y", "x"), coords={"x": x})
    got = da.grad("x", edge_order=edge_order)
    assert got.dtype == dtype
    expected = np.gradient(values, x, axis=1, edge_order=edge_order)
    if dtype == np.complex128:
        assert_array_equal(got.values, expected)
    else:
        assert_allclose(got.values, expected, rtol=1e-6)
    # the real and imaginary parts are differentiated independently
    assert_allclose(got.real.values, da.real.grad("x", edge_order=edge_order).values, rtol=1e-6)


# --------------------------------------------------------------------------
# Accuracy
# --------------------------------------------------------------------------


def _max_error(n, edge_order):
    s = np.linspace(0.0, 1.0, n)
    x = s + 0.4 * np.sin(np.pi * s) / np.pi  # smooth, stretched grid
    f = xr.DataArray(np.sin(3.0 * x), dims="x", coords={"x": x})
    return np.abs(f.grad("x", edge_order=edge_order).values - 3.0 * np.cos(3.0 * x)).max()


@pytest.mark.parametrize(("edge_order", "order"), [(1, 1.0), (2, 2.0)])
def test_convergence_on_a_stretched_grid(edge_order, order):
    ns = np.array([21, 41, 81, 161, 321])
    errors = np.array([_max_error(n, edge_order) for n in ns])
    assert (np.diff(errors) < 0).all()
    observed = np.log(errors[:-1] / errors[1:]) / np.log((ns[1:] - 1) / (ns[:-1] - 1))
    assert_allclose(observed, order, atol=0.15)


def test_accessor_and_function_agree():
    da = xr.DataArray(_random((3, 4)), dims=("y", "x"), coords={"x": [0.0, 1.0, 3.0, 6.0]})
    assert_array_equal(da.grad("x").values, xgradient.gradient(da, "x").values)
    for a, b in zip(
        da.grad(spacing={"y": 2.0}, edge_order=2),
        xgradient.gradient(da, spacing={"y": 2.0}, edge_order=2),
        strict=True,
    ):
        xr.testing.assert_identical(a, b)


@settings(max_examples=200)
@given(
    bits=st.lists(st.integers(0, 2**32 - 1), min_size=12, max_size=60),
    step=st.sampled_from([0.5, 3.0, 111000.0, 1e-30, 7e30, 2.0**-140, 0.1, 1 / 3]),
    edge_order=st.sampled_from([1, 2]),
    dim=st.sampled_from(["y", "x"]),
)
def test_float32_any_values_any_step_bit_for_bit(bits, step, edge_order, dim):
    # Every float32 bit pattern (subnormals, huge values, infinities, NaNs)
    # with steps that are exact float32s (the compiled kernels then divide in
    # float32) and steps that are not (they divide in float64, as numpy).
    f = np.array(bits, dtype=np.uint32)[: len(bits) // 3 * 3].view(np.float32).reshape(3, -1)
    f = f if dim == "x" else f.T.copy()
    if f.shape[1 if dim == "x" else 0] < edge_order + 1:
        return
    da = xr.DataArray(f, dims=("y", "x") if dim == "x" else ("x", "y"))
    result = xgradient.gradient(da, dim, spacing={dim: step}, edge_order=edge_order).values
    with np.errstate(all="ignore"):
        expected = np.gradient(
            f, np.float64(step), axis=da.get_axis_num(dim), edge_order=edge_order
        )
    assert result.dtype == np.float32
    nan = np.isnan(expected)
    assert_array_equal(np.isnan(result), nan)
    # Bit patterns, so that signed zeros count too.
    assert_array_equal(result.view(np.uint32)[~nan], expected.view(np.uint32)[~nan])


@pytest.mark.parametrize(
    ("dtype", "values"), [("Int64", [0, 1, 3, 4, 7]), ("Float64", [0.0, 1.5, 3.0, 4.0, 7.5])]
)
@pytest.mark.parametrize("chunks", [None, 2])
def test_pandas_nullable_index_is_read_as_numbers(dtype, values, chunks):
    # e.g. from DataFrame.to_xarray() on a nullable column: the index holds
    # pandas extension values, which xarray's .values gives as objects.
    pd = pytest.importorskip("pandas")
    f = np.array([0.0, 1.0, 9.0, 16.0, 30.0])
    da = xr.DataArray(f, dims="x", coords={"x": pd.Index(pd.array(values, dtype=dtype))})
    if chunks:
        da = da.chunk(x=chunks)
    assert_array_equal(da.grad("x").values, np.gradient(f, np.asarray(values, dtype=float)))


@pytest.mark.parametrize("chunks", [None, 2])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_spacings_whose_products_underflow_give_numpys_infs_and_nans(chunks, edge_order):
    # numpy.gradient divides by products of spacings; below ~1e-162 they
    # underflow to zero and numpy returns inf/nan rather than raising.
    x = np.array([0.0, 1.0, 3.0, 4.0, 6.0]) * 1e-170
    f = np.arange(5.0) ** 2
    da = xr.DataArray(f, dims="x", coords={"x": x})
    if chunks:
        da = da.chunk(x=chunks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.gradient(f, x, edge_order=edge_order)
        got = da.grad("x", edge_order=edge_order).values
    assert np.isnan(expected).any()
    assert_array_equal(got, expected)
