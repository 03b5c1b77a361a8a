"""The stencil options of issue 4: ``accuracy``, ``boundary``, ``period`` and second derivatives.

Covers exactness on polynomials, the periodic seam, roll invariance on
periodic dims, an independent reference implementation of every weighted
stencil (Taylor/Vandermonde weights instead of Fornberg's recurrence), chunk
invariance and laziness on Dask for every option, and the error messages.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from conftest import raise_if_dask_computes
from hypothesis import given, settings
from hypothesis import strategies as st

import xgradient
from xgradient.backends import available

# --------------------------------------------------------------------------- helpers


def taylor_weights(nodes: np.ndarray, order: int) -> np.ndarray:
    """Weights of the ``order``-th derivative at 0 from values at ``nodes``.

    Solves the Taylor (Vandermonde) conditions directly, an independent check
    of the Fornberg recurrence used by the package.  Nodes are scaled to unit
    size first to keep the system well conditioned.
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    scale = np.abs(nodes).max()
    s = nodes / scale
    width = s.size
    powers = np.arange(width)
    vander = s[None, :] ** powers[:, None]  # row j: s_k ** j
    rhs = np.zeros(width)
    rhs[order] = float(np.prod(np.arange(1, order + 1)))  # j! at j == order
    return np.linalg.solve(vander, rhs) / scale**order


def reference_derivative(
    f: np.ndarray,
    x: np.ndarray,
    *,
    order: int,
    accuracy: int,
    periodic: bool,
    period: float | None = None,
) -> np.ndarray:
    """The documented stencils, written out point by point along the last axis.

    Interior: centred ``accuracy + 1`` points.  Non-periodic ends: the first
    and last ``accuracy // 2`` points use the ``accuracy + order`` points at
    that end.  Periodic: neighbours wrap around, shifted by ``period``.
    """
    n = x.size
    r = accuracy // 2
    out = np.empty(f.shape)
    sign = 1.0 if x[-1] > x[0] else -1.0
    for i in range(n):
        if periodic:
            idx = np.arange(i - r, i + r + 1)
            pos = x[idx % n] + sign * period * np.floor_divide(idx, n)
        elif r <= i < n - r:
            idx = np.arange(i - r, i + r + 1)
            pos = x[idx]
        else:
            width = accuracy + order
            start = 0 if i < r else n - width
            idx = np.arange(start, start + width)
            pos = x[idx]
        w = taylor_weights(pos - x[i], order)
        out[..., i] = f[..., idx % n] @ w
    return out


def _array(values: np.ndarray, x: np.ndarray, dim: str = "x", **attrs: Any) -> xr.DataArray:
    dims = ("y", dim) if values.ndim == 2 else (dim,)
    return xr.DataArray(values, dims=dims, coords={dim: (dim, x, attrs)}, attrs={"units": "K"})


def _derivative(obj: Any, dim: Any, order: int, **kwargs: Any) -> Any:
    if order == 1:
        return xgradient.gradient(obj, dim, **kwargs)
    kwargs.pop("edge_order", None)
    return xgradient.second_derivative(obj, dim, **kwargs)


def _stretched(n: int, decreasing: bool = False) -> np.ndarray:
    xi = np.linspace(0.0, 3.0, n)
    x = xi + 0.2 * np.sin(2.0 * xi) + 0.5
    return x[::-1].copy() if decreasing else x


# --------------------------------------------------------------------------- sanity


@pytest.mark.parametrize("edge_order", [1, 2])
def test_default_options_equal_np_gradient_bit_for_bit(edge_order):
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.uniform(0.1, 2.0, 11))
    f = rng.standard_normal((3, 11))
    out = xgradient.gradient(_array(f, x), "x", accuracy=2, boundary="edge", edge_order=edge_order)
    np.testing.assert_array_equal(out.values, np.gradient(f, x, axis=1, edge_order=edge_order))


@pytest.mark.parametrize("decreasing", [False, True])
def test_second_derivative_of_a_quadratic_is_exact_accuracy_2(decreasing):
    x = _stretched(9, decreasing)
    f = 3.0 * x**2 - 2.0 * x + 1.0
    out = xgradient.second_derivative(_array(f, x), "x", accuracy=2)
    np.testing.assert_allclose(out.values, 6.0, rtol=0, atol=1e-10)


@pytest.mark.parametrize("decreasing", [False, True])
def test_second_derivative_of_a_quartic_is_exact_accuracy_4(decreasing):
    x = _stretched(11, decreasing)
    f = x**4 - 2.0 * x**3 + 0.5 * x**2 - x + 3.0
    out = xgradient.second_derivative(_array(f, x), "x", accuracy=4)
    np.testing.assert_allclose(out.values, 12.0 * x**2 - 12.0 * x + 1.0, rtol=0, atol=1e-10)


@pytest.mark.parametrize("decreasing", [False, True])
def test_first_derivative_of_a_quartic_is_exact_accuracy_4(decreasing):
    x = _stretched(10, decreasing)
    f = x**4 - 2.0 * x**3 + 0.5 * x**2 - x + 3.0
    out = xgradient.gradient(_array(f, x), "x", accuracy=4)
    np.testing.assert_allclose(out.values, 4.0 * x**3 - 6.0 * x**2 + x - 1.0, rtol=0, atol=1e-10)


def test_second_derivative_is_not_the_gradient_of_the_gradient():
    # On a uniform grid the compact stencil is (f[i-1] - 2 f[i] + f[i+1]) / h**2,
    # while the gradient of the gradient is (f[i-2] - 2 f[i] + f[i+2]) / (4 h**2).
    f = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    out = xgradient.second_derivative(xr.DataArray(f, dims="x"), "x")
    np.testing.assert_allclose(out.values[1:-1], [0.0, 1.0, -2.0, 1.0, 0.0], rtol=0, atol=1e-14)


# Every (order, accuracy, boundary) that uses weighted stencils; order 1,
# accuracy 2, "edge" is numpy.gradient's formulas, compared bit for bit above.
WEIGHTED = [
    (o, a, b)
    for o in (1, 2)
    for a in (2, 4)
    for b in ("edge", "periodic")
    if (o, a, b) != (1, 2, "edge")
]


@pytest.mark.parametrize(("order", "accuracy", "boundary"), WEIGHTED)
@pytest.mark.parametrize("decreasing", [False, True])
def test_weighted_stencils_match_an_independent_reference(order, accuracy, boundary, decreasing):
    rng = np.random.default_rng(7)
    n = 12
    x = np.cumsum(rng.uniform(0.5, 2.0, n))
    if decreasing:
        x = -x
    f = rng.standard_normal((2, n))
    periodic = boundary == "periodic"
    period = float(abs(x[-1] - x[0]) + 1.3) if periodic else None
    kwargs: dict[str, Any] = {"accuracy": accuracy, "boundary": boundary}
    if periodic:
        kwargs["period"] = {"x": period}
    out = _derivative(_array(f, x), "x", order, **kwargs)
    expected = reference_derivative(
        f, x, order=order, accuracy=accuracy, periodic=periodic, period=period
    )
    np.testing.assert_allclose(out.values, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.skipif(not available("numba"), reason="numba is not installed")
@settings(max_examples=30, deadline=None, database=None)
@given(
    order=st.sampled_from([1, 2]),
    accuracy=st.sampled_from([2, 4]),
    periodic=st.booleans(),
    n=st.integers(6, 12),
    axis=st.sampled_from([0, 1, 2]),
    dtype=st.sampled_from(["float64", "float32", "int32"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_compiled_stencils_equal_the_reference_kernel(
    order, accuracy, periodic, n, axis, dtype, seed
):
    # The compiled kernels evaluate the reference kernel's sums in the same
    # order: switching them off must not change a single bit.
    rng = np.random.default_rng(seed)
    shape = [3, 4, 2]
    shape[axis] = n
    values = (10 * rng.standard_normal(shape)).astype(dtype)
    dims = ["a", "b", "c"]
    dims[axis] = "x"
    x = np.cumsum(rng.uniform(0.2, 2.0, n))
    obj = xr.DataArray(values, dims=dims, coords={"x": x})
    kwargs: dict[str, Any] = {"accuracy": accuracy}
    if periodic:
        kwargs.update(boundary="periodic", period={"x": float(x[-1] - x[0] + 0.5)})
    compiled = _derivative(obj, "x", order, engine="numba", **kwargs)
    reference = _derivative(obj, "x", order, engine="numpy", **kwargs)
    assert compiled.dtype == reference.dtype
    np.testing.assert_array_equal(compiled.values, reference.values)


def test_accessor_and_functions_agree_on_the_new_options():
    rng = np.random.default_rng(3)
    x = _stretched(8)
    obj = _array(rng.standard_normal((2, 8)), x)
    kwargs = {"accuracy": 4, "boundary": "periodic", "period": {"x": 4.0}}
    xr.testing.assert_identical(obj.grad("x", **kwargs), xgradient.gradient(obj, "x", **kwargs))
    xr.testing.assert_identical(
        obj.grad.second("x", **kwargs), xgradient.second_derivative(obj, "x", **kwargs)
    )
    ds = xr.Dataset({"a": obj, "b": 2.0 * obj})
    out = ds.grad.second("x", **kwargs)
    xr.testing.assert_identical(out["a"], ds["a"].grad.second("x", **kwargs))
    xr.testing.assert_identical(out["b"], ds["b"].grad.second("x", **kwargs))


# --------------------------------------------------------------------------- periodic


def test_periodic_uses_the_seam_spacing_like_a_wrapped_np_gradient():
    # accuracy 2, first derivative: the periodic result equals numpy.gradient on
    # the array extended by one wrapped point at each end, whose positions are
    # shifted by the period (spacing across the seam = period - (last - first)).
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.uniform(0.5, 2.0, 10))
    period = float(x[-1] - x[0] + 0.7)
    f = rng.standard_normal(10)
    out = xgradient.gradient(_array(f, x), "x", boundary="periodic", period={"x": period})
    xe = np.concatenate([[x[-1] - period], x, [x[0] + period]])
    fe = np.concatenate([[f[-1]], f, [f[0]]])
    np.testing.assert_allclose(out.values, np.gradient(fe, xe)[1:-1], rtol=1e-12, atol=1e-13)


LON_STEP = 2.5
LON = np.arange(0.0, 360.0, LON_STEP)


def _lon_wave() -> xr.DataArray:
    return xr.DataArray(
        np.sin(np.deg2rad(LON)),
        dims="lon",
        coords={"lon": ("lon", LON, {"units": "degrees_east"})},
        attrs={"units": "m"},
        name="wave",
    )


# Centred differences of sin on a uniform grid are exactly proportional to
# cos (first) and -sin (second): the discrete factors below.
def _discrete_factor(order: int, accuracy: int, h: float) -> float:
    if (order, accuracy) == (1, 2):
        return np.sin(h) / h
    if (order, accuracy) == (1, 4):
        return (8.0 * np.sin(h) - np.sin(2.0 * h)) / (6.0 * h)
    if (order, accuracy) == (2, 2):
        return (2.0 - 2.0 * np.cos(h)) / h**2
    return (30.0 - 32.0 * np.cos(h) + 2.0 * np.cos(2.0 * h)) / (12.0 * h**2)


def _check_lon_wave(out: xr.DataArray, order: int, accuracy: int) -> None:
    h = np.deg2rad(LON_STEP)
    rad = np.deg2rad(LON)
    exact = np.cos(rad) if order == 1 else -np.sin(rad)
    # Truncation error of the stencil: h**2/6 or h**4/30 (first derivative),
    # h**2/12 or h**4/90 (second), times max |f^(k)| = 1.
    bound = {(1, 2): h**2 / 6, (1, 4): h**4 / 30, (2, 2): h**2 / 12, (2, 4): h**4 / 90}
    err = np.abs(out.values - exact)
    assert err.max() <= 1.01 * bound[order, accuracy]
    # ... and every point, the seam included, is the discrete stencil's value.
    np.testing.assert_allclose(
        out.values, _discrete_factor(order, accuracy, h) * exact, rtol=0, atol=1e-12
    )


SPACINGS = {
    "scalar radians step": lambda: {"spacing": np.deg2rad(LON_STEP)},
    "list of radian positions and period": lambda: {
        "spacing": [np.deg2rad(LON)],
        "period": {"lon": 2 * np.pi},
    },
}


@pytest.mark.parametrize("how", list(SPACINGS))
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("accuracy", [2, 4])
def test_derivative_of_sin_lon_on_a_global_grid(how, order, accuracy):
    wave = _lon_wave()
    out = _derivative(wave, "lon", order, boundary="periodic", accuracy=accuracy, **SPACINGS[how]())
    _check_lon_wave(out, order, accuracy)


@pytest.mark.parametrize("order", [1, 2])
def test_derivative_of_sin_lon_with_a_spacing_mapping_of_radians(order):
    wave = _lon_wave()
    radians = xr.DataArray(np.deg2rad(LON), dims="lon", attrs={"units": "radian"})
    out = _derivative(
        wave,
        "lon",
        order,
        spacing={"lon": radians},
        boundary="periodic",
        period={"lon": 2 * np.pi},
        accuracy=4,
    )
    _check_lon_wave(out, order, 4)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("accuracy", [2, 4])
@pytest.mark.parametrize("decreasing", [False, True])
def test_longitude_in_degrees_infers_a_period_of_360(order, accuracy, decreasing):
    wave = _lon_wave()
    if decreasing:
        wave = wave.isel(lon=slice(None, None, -1))
    out = _derivative(wave, "lon", order, boundary="periodic", accuracy=accuracy)
    per_radian = out * (180.0 / np.pi) ** order
    step = -np.deg2rad(LON_STEP) if decreasing else np.deg2rad(LON_STEP)
    expected = _derivative(wave, "lon", order, spacing=step, boundary="periodic", accuracy=accuracy)
    np.testing.assert_allclose(per_radian.values, expected.values, rtol=1e-10, atol=1e-12)
    units = "m degrees_east-1" if order == 1 else "m degrees_east-2"
    assert out.attrs["units"] == units


def test_longitude_period_given_explicitly_is_not_checked_against_360():
    lon = np.arange(0.0, 180.0, 10.0)
    wave = xr.DataArray(
        np.sin(np.deg2rad(2 * lon)),
        dims="lon",
        coords={"lon": ("lon", lon, {"units": "degrees_east"})},
    )
    out = wave.grad("lon", boundary="periodic", period={"lon": 180.0})
    # sin(2 lon) has period 180 degrees: the seam must be seamless.
    h = np.deg2rad(10.0)
    expected = 2.0 * np.cos(np.deg2rad(2 * lon)) * np.sin(2 * h) / (2 * h) * np.pi / 180.0
    np.testing.assert_allclose(out.values, expected, rtol=0, atol=1e-13)


def test_periodic_with_inferred_period_equals_explicit_n_times_step():
    rng = np.random.default_rng(2)
    x = 0.25 * np.arange(12)
    obj = _array(rng.standard_normal((2, 12)), x)
    for order in (1, 2):
        inferred = _derivative(obj, "x", order, boundary="periodic", accuracy=4)
        explicit = _derivative(obj, "x", order, boundary="periodic", accuracy=4, period={"x": 3.0})
        np.testing.assert_array_equal(inferred.values, explicit.values)


ROLL_GRIDS = {
    "degrees coordinate": lambda n: {"coords": {"x": 2.5 * np.arange(n)}},
    "no coordinate": lambda n: {},
    "scalar spacing 0.5": lambda n: {"spacing": 0.5},
}


@pytest.mark.parametrize("grid", list(ROLL_GRIDS))
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("accuracy", [2, 4])
def test_rolling_commutes_with_the_periodic_derivative(grid, order, accuracy):
    n = 16
    rng = np.random.default_rng(11)
    data = rng.standard_normal((3, n))
    setup = ROLL_GRIDS[grid](n)
    coords = setup.pop("coords", None)

    def derivative(values: np.ndarray) -> np.ndarray:
        obj = xr.DataArray(values, dims=("y", "x"), coords=coords)
        return _derivative(obj, "x", order, boundary="periodic", accuracy=accuracy, **setup).values

    base = derivative(data)
    for shift in range(1, n):
        rolled = derivative(np.roll(data, shift, axis=1))
        np.testing.assert_allclose(rolled, np.roll(base, shift, axis=1), rtol=1e-12, atol=0)


@pytest.mark.parametrize("accuracy", [2, 4])
def test_rolling_commutes_with_an_inexact_uniform_step(accuracy):
    n = 120
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, n))

    def derivative(values: np.ndarray) -> np.ndarray:
        obj = xr.DataArray(values, dims=("y", "x"))
        return obj.grad("x", spacing=np.deg2rad(3.0), boundary="periodic", accuracy=accuracy).values

    base = derivative(data)
    for shift in range(1, n):
        rolled = derivative(np.roll(data, shift, axis=1))
        # A uniform step gives every point the same weights: exact commutation.
        np.testing.assert_array_equal(rolled, np.roll(base, shift, axis=1))


def test_boundary_mapping_mixes_edge_and_periodic_dims():
    rng = np.random.default_rng(4)
    x = _stretched(9)
    y = 0.5 * np.arange(7)
    obj = xr.DataArray(rng.standard_normal((7, 9)), dims=("y", "x"), coords={"x": x, "y": y})
    boundary = {"x": "edge", "y": "periodic"}
    dy, dx = obj.grad(["y", "x"], accuracy=4, boundary=boundary)
    xr.testing.assert_identical(dx, obj.grad("x", accuracy=4, boundary="edge"))
    xr.testing.assert_identical(dy, obj.grad("y", accuracy=4, boundary="periodic"))
    # A dim missing from the mapping is "edge".
    dy2, dx2 = obj.grad(["y", "x"], boundary={"y": "periodic"})
    xr.testing.assert_identical(dx2, obj.grad("x"))
    xr.testing.assert_identical(dy2, obj.grad("y", boundary="periodic"))
    d2y, d2x = obj.grad.second(["y", "x"], accuracy=2, boundary=boundary)
    xr.testing.assert_identical(d2x, obj.grad.second("x"))
    xr.testing.assert_identical(d2y, obj.grad.second("y", boundary="periodic"))


# --------------------------------------------------------------------------- Dask


@st.composite
def chunked_cases(draw: st.DrawFn) -> dict[str, Any]:
    order = draw(st.sampled_from([1, 2]))
    accuracy = draw(st.sampled_from([2, 4]))
    periodic = draw(st.booleans())
    edge_order = draw(st.sampled_from([1, 2]))
    if periodic:
        needed = accuracy + 1
    elif order == 1 and accuracy == 2:
        needed = edge_order + 1
    else:
        needed = accuracy + order
    n = draw(st.integers(max(needed, 2), 13))
    kind = draw(st.sampled_from(["ones", "twos", "regular", "uneven"]))
    if kind == "ones":
        chunks = (1,) * n
    elif kind == "twos":
        chunks = (2,) * (n // 2) + (1,) * (n % 2)
    elif kind == "regular":
        size = draw(st.integers(1, n))
        chunks = (size,) * (n // size) + ((n % size,) if n % size else ())
    else:
        cuts = sorted(draw(st.sets(st.integers(1, n - 1))))
        chunks = tuple(int(c) for c in np.diff([0, *cuts, n]))
    uniform = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    steps = np.full(n - 1, 0.25) if uniform else rng.uniform(0.2, 2.0, n - 1)
    x = np.concatenate([[0.0], np.cumsum(steps)]) - 3.0
    if draw(st.booleans()):
        x = x[::-1].copy()
    period = None
    if periodic and (not uniform or draw(st.booleans())):
        period = float(abs(x[-1] - x[0]) + draw(st.sampled_from([0.25, 0.7, 3.0])))
    return {
        "order": order,
        "accuracy": accuracy,
        "boundary": "periodic" if periodic else "edge",
        "edge_order": edge_order,
        "x": x,
        "chunks": chunks,
        "other_chunks": draw(st.sampled_from([1, 2, 3])),
        "last_axis": draw(st.booleans()),
        "dtype": draw(st.sampled_from([np.float64, np.float32])),
        "period": period,
        "seed": seed,
    }


@settings(max_examples=40, deadline=None, database=None)
@given(chunked_cases())
def test_every_option_is_chunk_invariant_and_lazy(case):
    x = case["x"]
    n = x.size
    values = np.random.default_rng(case["seed"]).standard_normal((n, 3)).astype(case["dtype"])
    eager = xr.DataArray(values, dims=("x", "y"), coords={"x": x})
    if case["last_axis"]:
        eager = eager.transpose("y", "x")
    lazy = eager.chunk({"x": case["chunks"], "y": case["other_chunks"]})
    kwargs: dict[str, Any] = {
        "accuracy": case["accuracy"],
        "boundary": case["boundary"],
        "edge_order": case["edge_order"],
    }
    if case["period"] is not None:
        kwargs["period"] = {"x": case["period"]}
    expected = _derivative(eager, "x", case["order"], **kwargs)
    with raise_if_dask_computes():
        out = _derivative(lazy, "x", case["order"], **kwargs)
    assert isinstance(out.data, da.Array)
    assert out.chunks == lazy.chunks
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out.compute(scheduler="sync").values, expected.values)
    assert out.attrs == expected.attrs


@pytest.mark.parametrize("size", [1, 2])
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("n", [5, 6, 11])
def test_periodic_accuracy_4_with_tiny_chunks(size, order, n):
    rng = np.random.default_rng(n)
    x = np.cumsum(rng.uniform(0.5, 1.5, n))
    eager = _array(rng.standard_normal((2, n)), x)
    kwargs = {"accuracy": 4, "boundary": "periodic", "period": {"x": float(x[-1] - x[0] + 1.0)}}
    expected = _derivative(eager, "x", order, **kwargs)
    lazy = eager.chunk({"x": size})
    with raise_if_dask_computes():
        out = _derivative(lazy, "x", order, **kwargs)
    assert out.chunks == lazy.chunks
    np.testing.assert_array_equal(out.values, expected.values)


@settings(max_examples=30, deadline=None, database=None)
@given(
    xchunks=st.sampled_from([1, 2, 3, 9]),
    ychunks=st.sampled_from([1, 2, 4, 7]),
    accuracy=st.sampled_from([2, 4]),
    order=st.sampled_from([1, 2]),
    periodic_dim=st.sampled_from(["x", "y"]),
)
def test_boundary_mapping_on_dask_is_chunk_invariant(
    xchunks, ychunks, accuracy, order, periodic_dim
):
    rng = np.random.default_rng(5)
    obj = xr.DataArray(
        rng.standard_normal((7, 9)),
        dims=("y", "x"),
        coords={"x": _stretched(9), "y": 0.5 * np.arange(7)},
    )
    edge_dim = "y" if periodic_dim == "x" else "x"
    kwargs: dict[str, Any] = {
        "accuracy": accuracy,
        "boundary": {periodic_dim: "periodic", edge_dim: "edge"},
    }
    if periodic_dim == "x":
        kwargs["period"] = {"x": 4.0}
    expected = _derivative(obj, ["y", "x"], order, **kwargs)
    lazy = obj.chunk({"x": xchunks, "y": ychunks})
    with raise_if_dask_computes():
        out = _derivative(lazy, ["y", "x"], order, **kwargs)
    for o, e in zip(out, expected, strict=True):
        assert o.chunks == lazy.chunks
        np.testing.assert_array_equal(o.values, e.values)


def test_lazy_dataset_with_new_options():
    rng = np.random.default_rng(6)
    ds = xr.Dataset(
        {
            "a": (("y", "lon"), rng.standard_normal((3, 12))),
            "b": (("lon",), rng.standard_normal(12)),
        },
        coords={"lon": ("lon", 30.0 * np.arange(12), {"units": "degrees_east"})},
    )
    expected = ds.grad.second("lon", accuracy=4, boundary="periodic")
    lazy = ds.chunk({"lon": 2})
    with raise_if_dask_computes():
        out = lazy.grad.second("lon", accuracy=4, boundary="periodic")
    for name in ("a", "b"):
        assert out[name].chunks == lazy[name].chunks
        np.testing.assert_array_equal(out[name].values, expected[name].values)


# --------------------------------------------------------------------------- errors


def _simple(n: int = 8, **attrs: Any) -> xr.DataArray:
    return xr.DataArray(
        np.arange(float(2 * n)).reshape(2, n),
        dims=("y", "x"),
        coords={"x": ("x", np.arange(float(n)), attrs)},
    )


@pytest.mark.parametrize("accuracy", [1, 3, 6, 0, True, "4", None])
@pytest.mark.parametrize("order", [1, 2])
def test_accuracy_must_be_2_or_4(accuracy, order):
    with pytest.raises(ValueError, match=r"accuracy must be 2 or 4, got"):
        _derivative(_simple(), "x", order, accuracy=accuracy)


@pytest.mark.parametrize("order", [1, 2])
def test_invalid_boundary(order):
    with pytest.raises(ValueError, match=r"boundary must be one of \('edge', 'periodic'\)"):
        _derivative(_simple(), "x", order, boundary="wrap")


@pytest.mark.parametrize("order", [1, 2])
def test_invalid_boundary_in_a_mapping_names_the_dim(order):
    with pytest.raises(ValueError, match=r"boundary for dimension 'x' must be one of .*'cyclic'"):
        _derivative(_simple(), ["y", "x"], order, boundary={"y": "edge", "x": "cyclic"})


@pytest.mark.parametrize("order", [1, 2])
def test_options_for_a_dim_not_differentiated_are_ignored(order):
    # One options dict serves every call: entries for the object's other dims
    # are not used (issue 13, "Options mappings across dims").
    obj = _simple()
    options = {
        "spacing": {"x": 0.5, "y": 3.0},
        "boundary": {"x": "edge", "y": "periodic"},
        "period": {"y": 10.0},
    }
    expected = _derivative(obj, "x", order, spacing={"x": 0.5})
    assert _derivative(obj, "x", order, **options).identical(expected)


@pytest.mark.parametrize("option", ["spacing", "boundary", "period"])
@pytest.mark.parametrize("order", [1, 2])
def test_options_for_a_key_that_is_no_dim_are_refused(option, order):
    options = {"boundary": "periodic", "period": None}
    options[option] = {"z": {"spacing": 1.0, "boundary": "periodic", "period": 10.0}[option]}
    with pytest.raises(
        ValueError, match=rf"{option} given for .*'z'.*not (a dimension|dimensions)"
    ):
        _derivative(_simple(), "x", order, **options)


def test_options_for_other_dims_are_still_checked():
    with pytest.raises(ValueError, match=r"boundary for dimension 'y' must be one of"):
        _simple().grad("x", boundary={"y": "wrap"})
    with pytest.raises(ValueError, match=r"period for dimension 'y' must be a positive number"):
        _simple().grad("x", boundary="periodic", period={"y": -1.0})


@pytest.mark.parametrize("period", [5.0, 0.5])
@pytest.mark.parametrize("order", [1, 2])
def test_period_must_exceed_the_span(period, order):
    # Positions 0..7: the span is 7, so a period of less than 7 cannot hold the seam.
    with pytest.raises(ValueError, match=r"period .* for dimension 'x' must exceed the span"):
        _derivative(_simple(), "x", order, boundary="periodic", period={"x": period})


@pytest.mark.parametrize("order", [1, 2])
def test_period_equal_to_the_span_means_a_repeated_point(order):
    # A period of exactly 7 puts the last point (7) on top of the first one (0).
    with pytest.raises(ValueError, match=r"'x': its last point repeats its first"):
        _derivative(_simple(), "x", order, boundary="periodic", period={"x": 7.0})


@pytest.mark.parametrize("period", [0.0, -360.0, np.inf, np.nan, "360"])
def test_period_must_be_a_positive_number(period):
    with pytest.raises(ValueError, match=r"period for dimension 'x' must be a positive number"):
        _simple().grad("x", boundary="periodic", period={"x": period})


def test_period_must_be_a_mapping():
    with pytest.raises(TypeError, match=r"period must be a mapping"):
        _simple().grad("x", boundary="periodic", period=8.0)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("accuracy", [2, 4])
def test_non_uniform_periodic_dim_needs_a_period(order, accuracy):
    obj = _array(np.zeros(8), _stretched(8))
    with pytest.raises(ValueError, match=r"dimension 'x' is periodic with non-uniform positions"):
        _derivative(obj, "x", order, boundary="periodic", accuracy=accuracy)


@pytest.mark.parametrize(
    "attrs", [{"units": "degrees_east"}, {"standard_name": "longitude", "units": "degree"}]
)
@pytest.mark.parametrize("order", [1, 2])
def test_longitude_not_spanning_360_needs_a_period(attrs, order):
    lon = np.arange(0.0, 180.0, 10.0)  # 18 points, n * step = 180
    obj = xr.DataArray(np.zeros(lon.size), dims="lon", coords={"lon": ("lon", lon, attrs)})
    with pytest.raises(
        ValueError, match=r"longitude dimension 'lon' spans 180 degrees .* period=\{'lon': 360.0\}"
    ):
        _derivative(obj, "lon", order, boundary="periodic")


def test_longitude_including_both_ends_is_an_error():
    # 0..360 inclusive: the seam point is stored twice.
    lon = np.arange(0.0, 361.0, 10.0)
    obj = xr.DataArray(
        np.zeros(lon.size), dims="lon", coords={"lon": ("lon", lon, {"units": "degrees_east"})}
    )
    with pytest.raises(ValueError, match=r"'lon': its last point repeats its first"):
        obj.grad("lon", boundary="periodic")


@pytest.mark.parametrize("boundary", ["edge", "periodic"])
def test_accuracy_4_needs_5_points(boundary):
    with pytest.raises(ValueError, match=r"dimension 'x' has 4 point\(s\), too few .*accuracy=4"):
        _simple(4).grad("x", accuracy=4, boundary=boundary)
    assert _simple(5).grad("x", accuracy=4, boundary=boundary).shape == (2, 5)


@pytest.mark.parametrize(
    ("accuracy", "boundary", "needed"),
    [(2, "edge", 4), (4, "edge", 6), (2, "periodic", 3), (4, "periodic", 5)],
)
def test_second_derivative_needs_enough_points(accuracy, boundary, needed):
    short = needed - 1
    with pytest.raises(
        ValueError,
        match=rf"dimension 'x' has {short} point\(s\), too few .*at least {needed} are needed",
    ):
        _simple(short).grad.second("x", accuracy=accuracy, boundary=boundary)
    out = _simple(needed).grad.second("x", accuracy=accuracy, boundary=boundary)
    assert out.shape == (2, needed)


def test_too_short_dim_error_names_the_second_derivative():
    with pytest.raises(ValueError, match=r"too few for an accuracy=4 second derivative"):
        _simple(5).grad.second("x", accuracy=4)


@pytest.mark.parametrize("unit", ["Y", "M", "min", "minutes", "sec", ""])
def test_invalid_datetime_unit(unit):
    with pytest.raises(ValueError, match=r"datetime_unit must be one of .*'s'"):
        _simple().grad("x", datetime_unit=unit)
    with pytest.raises(ValueError, match=r"datetime_unit must be one of"):
        _simple().grad.second("x", datetime_unit=unit)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"accuracy": 3}, r"accuracy must be 2 or 4"),
        ({"boundary": {"x": "wrap"}}, r"boundary for dimension 'x'"),
        ({"boundary": "periodic", "period": {"x": 1.0}}, r"period .* dimension 'x' must exceed"),
        ({"accuracy": 4, "boundary": "periodic", "period": {"z": 9.0}}, r"period given for .*'z'"),
    ],
)
def test_errors_on_dask_data_are_raised_before_computing(kwargs, match):
    with raise_if_dask_computes(), pytest.raises(ValueError, match=match):
        _simple().chunk({"x": 2}).grad("x", **kwargs)


@pytest.mark.parametrize("period", [None, {"lon": 360.0}])
def test_repeated_seam_point_is_named_with_the_fix(period):
    lon = np.arange(-180.0, 180.1, 30.0)  # -180 and 180 are the same meridian
    obj = xr.DataArray(
        np.cos(np.deg2rad(lon)),
        dims="lon",
        coords={"lon": ("lon", lon, {"units": "degrees_east"})},
    )
    with pytest.raises(
        ValueError, match=r"'lon'.*repeats its first.*isel\(lon=slice\(None, -1\)\)"
    ):
        obj.grad("lon", boundary="periodic", period=period)
    fixed = obj.isel(lon=slice(None, -1)).grad("lon", boundary="periodic", period=period)
    assert fixed.sizes["lon"] == 12
