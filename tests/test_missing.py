"""Missing values: ``nan_policy="omit"`` and ``mask=``.

With ``nan_policy="omit"`` a missing value (NaN; for complex data, NaN in
either part) is treated like the end of the domain.  **The oracle that
defines it:** on any 1-D line along the differentiated dim, the result equals
numpy.gradient (or the corresponding stencil) applied separately to each
maximal run of valid points, with runs too short for the stencil giving NaN;
missing points stay NaN.  ``mask=`` (True where valid) makes masked points
missing whatever the data holds there, and implies ``"omit"``.

Covered here: every stencil kind (numpy.gradient's formulas with
``edge_order`` 1 and 2 on uniform and non-uniform positions, ``accuracy=4``,
second derivatives of accuracy 2 and 4, periodic dims uniform and not) against
the per-run oracle, on every engine, eagerly and lazily on random chunkings,
bit for bit; float32, complex128, integer data with a mask, Datasets, masks
with fill values and broadcast masks; ``"propagate"``, the default, unchanged;
laziness; and the error messages.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Any

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from conftest import raise_if_dask_computes
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from strategies import chunkings, distinct_step_positions, missing_masks, positions, shapes

import xgradient
from xgradient.backends import available
from xgradient.kernels import weighted_stencil
from xgradient.stencils import plan_weighted

NAN = np.nan


def engines_for(dtype: Any) -> tuple[str, ...]:
    """Every engine that takes ``dtype`` here: all must give the same bits."""
    if available("numba") and np.dtype(dtype).kind != "c":
        return ("numpy", "numba", "auto")
    return ("numpy", "auto")


# --------------------------------------------------------------------------- stencils


@dataclasses.dataclass(frozen=True)
class Stencil:
    """One kind of stencil: derivative order, accuracy, edge order, boundary."""

    order: int = 1
    accuracy: int = 2
    edge_order: int = 1
    periodic: bool = False

    @property
    def numpy_formulas(self) -> bool:
        """numpy.gradient's own formulas (first derivative, accuracy 2, non-periodic)."""
        return self.order == 1 and self.accuracy == 2 and not self.periodic

    @property
    def min_run(self) -> int:
        """The shortest run of valid points that gets numbers (shorter ones: NaN)."""
        if self.numpy_formulas:
            return self.edge_order + 1
        return self.accuracy + self.order

    @property
    def min_points(self) -> int:
        """The shortest dim that xgradient accepts for this stencil."""
        if self.numpy_formulas:
            return self.edge_order + 1
        if self.periodic:
            return self.accuracy + 1
        return self.accuracy + self.order

    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"accuracy": self.accuracy}
        if self.numpy_formulas:
            options["edge_order"] = self.edge_order
        if self.periodic:
            options["boundary"] = "periodic"
        return options

    def __str__(self) -> str:
        what = "first" if self.order == 1 else "second"
        text = f"{what}-acc{self.accuracy}"
        if self.numpy_formulas:
            text += f"-edge{self.edge_order}"
        return text + ("-periodic" if self.periodic else "")


STENCILS = [
    Stencil(edge_order=1),
    Stencil(edge_order=2),
    Stencil(accuracy=4),
    Stencil(order=2, accuracy=2),
    Stencil(order=2, accuracy=4),
    Stencil(accuracy=2, periodic=True),
    Stencil(accuracy=4, periodic=True),
    Stencil(order=2, accuracy=2, periodic=True),
    Stencil(order=2, accuracy=4, periodic=True),
]


def derivative(obj: Any, stencil: Stencil, dim: str = "x", **kwargs: Any) -> Any:
    """``xgradient.gradient`` or ``second_derivative`` with the stencil's options."""
    kwargs = {**stencil.options(), **kwargs}
    if stencil.order == 1:
        return xgradient.gradient(obj, dim, **kwargs)
    kwargs.pop("edge_order", None)
    return xgradient.second_derivative(obj, dim, **kwargs)


# --------------------------------------------------------------------------- the oracle


def _result_dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def _runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """The maximal runs ``[start, stop)`` of True in a 1-D boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def run_derivative(
    f: np.ndarray, x: np.ndarray | None, step: float | None, stencil: Stencil
) -> np.ndarray:
    """The derivative of one run of valid points on its own; NaN if it is too short.

    ``x`` are the run's positions (unwrapped across a periodic seam), or
    ``None`` for a uniform ``step``.

    - numpy.gradient's formulas: ``np.gradient(f, x_run or step, edge_order=e)``.
    - weighted stencils (``accuracy=4``, second derivatives): what xgradient's
      ``"propagate"`` path gives for the run alone, as its own 1-D DataArray
      with the run's coordinate values (non-periodic, boundary ``"edge"``);
      xgradient refuses a run that is too short ("too few points"): NaN.
    - a periodic first derivative of accuracy 2: the non-periodic weighted
      stencil, whose one-sided ends have 3 points.
    """
    m = f.shape[0]
    nans = np.full(m, NAN, dtype=_result_dtype(f.dtype))
    if stencil.numpy_formulas:
        if m < stencil.edge_order + 1:
            return nans
        spacing = np.float64(step) if x is None else x
        return np.gradient(f, spacing, edge_order=stencil.edge_order)
    if stencil.order == 1 and stencil.accuracy == 2:  # periodic dim
        if m < 3:
            return nans
        where = np.arange(m, dtype=np.float64) * step if x is None else x
        plan = plan_weighted(where, order=1, accuracy=2, step=step if x is None else None)
        return weighted_stencil(f, 0, plan.block(0, m), engine="numpy")
    alone = Stencil(order=stencil.order, accuracy=stencil.accuracy)
    line = xr.DataArray(f, dims="x", coords={} if x is None else {"x": x})
    spacing = {"x": step} if x is None else None
    try:
        return derivative(line, alone, spacing=spacing, engine="numpy").values
    except ValueError as err:
        if "too few" not in str(err):
            raise
        return nans


def omit_line(
    f: np.ndarray,
    missing: np.ndarray,
    stencil: Stencil,
    *,
    x: np.ndarray | None = None,
    step: float | None = None,
    period: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The oracle on one 1-D line: ``(result, seam)``.

    ``seam`` marks the points of runs that cross the seam of a periodic dim
    (their positions are unwrapped by ``period``, which rounds differently).
    On a periodic dim, a line without a missing value is the ordinary
    periodic result; otherwise the last and first runs join across the seam
    into one run, the positions of its wrapped part shifted by one period.
    """
    n = f.shape[0]
    out = np.full(n, NAN, dtype=_result_dtype(f.dtype))
    seam = np.zeros(n, dtype=bool)
    valid = ~missing
    runs = _runs(valid)
    if stencil.periodic and valid.all():
        line = xr.DataArray(f, dims="x", coords={} if x is None else {"x": x})
        kwargs: dict[str, Any] = {"engine": "numpy"}
        if x is None:
            kwargs["spacing"] = {"x": step}
        else:
            kwargs["period"] = {"x": period}
        return derivative(line, stencil, **kwargs).values, seam
    if stencil.periodic and valid[0] and valid[-1]:
        (_, b0), (a1, _) = runs[0], runs[-1]
        index = np.r_[a1:n, 0:b0]
        where = None
        if x is not None:
            sign = 1.0 if x[-1] > x[0] else -1.0
            where = np.concatenate([x[a1:], x[:b0] + sign * period])
        out[index] = run_derivative(f[index], where, step, stencil)
        seam[index] = True
        runs = runs[1:-1]
    for a, b in runs:
        out[a:b] = run_derivative(f[a:b], None if x is None else x[a:b], step, stencil)
    return out, seam


def omit_oracle(
    values: np.ndarray,
    axis: int,
    stencil: Stencil,
    *,
    missing: np.ndarray | None = None,
    x: np.ndarray | None = None,
    step: float | None = None,
    period: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`omit_line` on every line of ``values`` along ``axis``: ``(result, seam)``.

    ``missing`` (default: where ``values`` is NaN, in either part for complex
    data) marks the missing points, whatever ``values`` holds there.
    """
    values = np.asarray(values)
    if missing is None:
        missing = np.isnan(values)
    f = np.moveaxis(values, axis, -1)
    gaps = np.moveaxis(np.broadcast_to(missing, values.shape), axis, -1)
    out = np.empty(f.shape, dtype=_result_dtype(values.dtype))
    seam = np.zeros(f.shape, dtype=bool)
    for index in np.ndindex(f.shape[:-1]):
        out[index], seam[index] = omit_line(
            f[index], gaps[index], stencil, x=x, step=step, period=period
        )
    return np.moveaxis(out, -1, axis), np.moveaxis(seam, -1, axis)


def assert_matches(
    got: np.ndarray, expected: np.ndarray, seam: np.ndarray | None = None, scale: float = 1.0
) -> None:
    """Bit for bit (NaN == NaN); where ``seam`` is True, to rounding only."""
    assert got.dtype == expected.dtype
    if seam is None or not seam.any():
        assert_array_equal(got, expected)
        return
    assert_array_equal(got[~seam], expected[~seam])
    assert_array_equal(np.isnan(got[seam]), np.isnan(expected[seam]))
    rtol = 1e-12 if got.dtype in (np.float64, np.complex128) else 2e-6
    assert_allclose(got[seam], expected[seam], rtol=rtol, atol=rtol * 100 * scale)


# --------------------------------------------------------------------------- worked examples


def test_the_oracle_on_a_worked_example():
    f = np.array([0.0, 1.0, 4.0, NAN, 16.0, 25.0, 36.0, NAN, NAN, 81.0, 100.0])
    got, _ = omit_line(f, np.isnan(f), Stencil(edge_order=1), step=1.0)
    assert_array_equal(got, [1.0, 2.0, 3.0, NAN, 9.0, 10.0, 11.0, NAN, NAN, 19.0, 19.0])
    got, _ = omit_line(f, np.isnan(f), Stencil(edge_order=2), step=1.0)
    assert_array_equal(got, [0.0, 2.0, 4.0, NAN, 8.0, 10.0, 12.0, NAN, NAN, NAN, NAN])


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("chunks", [None, 1, 3])
def test_omit_on_a_worked_example(edge_order, chunks):
    f = np.array([0.0, 1.0, 4.0, NAN, 16.0, 25.0, 36.0, NAN, NAN, 81.0, 100.0])
    da = xr.DataArray(f, dims="x", coords={"x": np.arange(11.0)})
    if chunks:
        da = da.chunk(x=chunks)
    got = xgradient.gradient(da, "x", edge_order=edge_order, nan_policy="omit")
    if edge_order == 1:
        expected = [1.0, 2.0, 3.0, NAN, 9.0, 10.0, 11.0, NAN, NAN, 19.0, 19.0]
    else:  # exact for x**2; the run of two points is too short
        expected = [0.0, 2.0, 4.0, NAN, 8.0, 10.0, 12.0, NAN, NAN, NAN, NAN]
    assert_array_equal(got.values, expected)


@pytest.mark.parametrize("stencil", STENCILS, ids=str)
@pytest.mark.parametrize("chunks", [None, 2])
def test_all_missing_gives_all_nan_without_warnings(stencil, chunks):
    da = xr.DataArray(np.full((2, 7), NAN), dims=("y", "x"))
    mask = xr.DataArray(np.zeros(7, dtype=bool), dims="x")
    if chunks:
        da = da.chunk(x=chunks)
    for kwargs in ({"nan_policy": "omit"}, {"mask": mask}):
        got = derivative(da.fillna(1.0) if "mask" in kwargs else da, stencil, **kwargs)
        assert np.isnan(got.values).all()


@pytest.mark.parametrize("chunks", [None, 1, 3])
def test_complex_nan_in_either_part_is_missing(chunks):
    re = np.array([0.0, 1.0, 4.0, 9.0, NAN, 25.0, 36.0, 49.0, 64.0])
    im = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, NAN, 1.0, 1.0])
    da = xr.DataArray(re + 1j * im, dims="x", coords={"x": np.arange(9.0)})
    if chunks:
        da = da.chunk(x=chunks)
    got = xgradient.gradient(da, "x", nan_policy="omit").values
    expected = np.array([1.0, 2.0, 4.0, 5.0, NAN, NAN, NAN, 15.0, 15.0], dtype=complex)
    assert_array_equal(got, expected)
    assert np.isnan(got[[4, 5, 6]]).all()


@pytest.mark.parametrize("chunks", [None, 1, 2, 4])
def test_a_run_wraps_across_the_periodic_seam(chunks):
    # One gap at index 2: the run 3, 4, 5, 0, 1 sits at unwrapped positions
    # 3 ... 7, where f is x**2, so every stencil is exact there.
    f = np.array([36.0, 49.0, NAN, 9.0, 16.0, 25.0])
    da = xr.DataArray(f, dims="x", coords={"x": np.arange(6.0)})
    if chunks:
        da = da.chunk(x=chunks)
    first = xgradient.gradient(da, "x", boundary="periodic", nan_policy="omit")
    assert_allclose(first.values, [12.0, 14.0, NAN, 6.0, 8.0, 10.0], rtol=0, atol=1e-12)
    second = xgradient.second_derivative(da, "x", boundary="periodic", nan_policy="omit")
    assert_allclose(second.values, [2.0, 2.0, NAN, 2.0, 2.0, 2.0], rtol=0, atol=1e-12)
    # Five valid points: enough for accuracy=4 first derivatives, not second ones.
    fourth = xgradient.gradient(da, "x", boundary="periodic", accuracy=4, nan_policy="omit")
    assert_allclose(fourth.values, [12.0, 14.0, NAN, 6.0, 8.0, 10.0], rtol=0, atol=1e-11)
    too_short = xgradient.second_derivative(
        da, "x", boundary="periodic", accuracy=4, nan_policy="omit"
    )
    assert np.isnan(too_short.values).all()


# --------------------------------------------------------------------------- the oracle, checked


@pytest.mark.parametrize("stencil", [s for s in STENCILS if s.periodic], ids=str)
@pytest.mark.parametrize("decreasing", [False, True])
@pytest.mark.parametrize("gap", [0, 3, 8, 10])
def test_polynomials_across_the_periodic_seam_are_exact(stencil, decreasing, gap):
    # One missing point: the other ten form one run through the seam.  On
    # positions unwrapped there, a polynomial of degree ``accuracy`` is
    # differentiated exactly by every stencil, one-sided ends included: an
    # independent check of the oracle's unwrapping, and of xgradient's.
    rng = np.random.default_rng(gap)
    n = 11
    x = np.cumsum(rng.uniform(0.5, 2.0, n))
    period = float(x[-1] - x[0]) + 1.3
    if decreasing:
        x = -x
    sign = -1.0 if decreasing else 1.0
    wrapped = np.arange(n) < gap if gap < n - 1 else np.zeros(n, dtype=bool)
    unwrapped = np.where(wrapped, x + sign * period, x)
    poly = np.polynomial.Polynomial(rng.standard_normal(stencil.accuracy + 1))
    f = poly(unwrapped - unwrapped[gap])
    f[gap] = NAN
    exact = poly.deriv(stencil.order)(unwrapped - unwrapped[gap])
    exact[gap] = NAN
    oracle, seam = omit_line(f, np.isnan(f), stencil, x=x, period=period)
    assert seam.sum() == (n - 1 if 0 < gap < n - 1 else 0)
    assert_allclose(oracle, exact, rtol=1e-9, atol=1e-9)
    da = xr.DataArray(f, dims="x", coords={"x": x})
    got = derivative(da, stencil, period={"x": period}, nan_policy="omit")
    assert_allclose(got.values, exact, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- properties


@dataclasses.dataclass
class Case:
    """A random DataArray with gaps, and how to differentiate it."""

    stencil: Stencil
    values: np.ndarray  # what the data holds (fill values at masked points)
    missing: np.ndarray
    dims: tuple[str, ...]
    axis: int
    spacing: str  # "step", "uniform" or "nonuniform"
    x: np.ndarray | None
    step: float | None
    period: float | None
    via: str  # "nan", "mask" or "mask+omit"

    @property
    def obj(self) -> xr.DataArray:
        coords = {} if self.x is None else {"x": self.x}
        return xr.DataArray(self.values, dims=self.dims, coords=coords, name="f")

    @property
    def mask(self) -> xr.DataArray:
        return xr.DataArray(~self.missing, dims=self.dims)

    def kwargs(self, mask: Any = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.step is not None:
            kwargs["spacing"] = {"x": self.step}
        if self.period is not None:
            kwargs["period"] = {"x": self.period}
        if self.via != "mask":
            kwargs["nan_policy"] = "omit"
        if self.via != "nan":
            kwargs["mask"] = self.mask if mask is None else mask
        return kwargs

    def oracle(self) -> tuple[np.ndarray, np.ndarray | None]:
        expected, seam = omit_oracle(
            self.values,
            self.axis,
            self.stencil,
            missing=self.missing,
            x=self.x,
            step=self.step,
            period=self.period,
        )
        # Seams round differently only with non-uniform positions.
        return expected, seam if self.spacing == "nonuniform" else None

    @property
    def scale(self) -> float:
        valid = np.abs(self.values[~self.missing])
        return float(valid.max()) if valid.size else 1.0


@st.composite
def cases(draw: st.DrawFn, stencil: Stencil, dtypes: tuple[str, ...] = ("float64",)) -> Case:
    other = list(draw(shapes(min_dims=0, max_dims=2, max_side=4), label="other dims"))
    n = draw(st.integers(stencil.min_points, 12), label="n")
    axis = draw(st.integers(0, len(other)), label="axis")
    shape = (*other[:axis], n, *other[axis:])
    dims = ("a", "b")[: len(other)]
    dims = (*dims[:axis], "x", *dims[axis:])
    spacing = draw(st.sampled_from(["step", "uniform", "nonuniform"]), label="spacing")
    x = step = period = None
    if spacing == "step":
        step = draw(st.sampled_from([0.5, 2.0, 0.1, 3.7, -1.5]), label="step")
    elif spacing == "uniform":
        x = draw(positions(n, uniform=True), label="x")
        if stencil.periodic:
            period = n * abs(float(x[1] - x[0]))
    else:
        x = draw(distinct_step_positions(n), label="x")
        if stencil.periodic:
            gap = draw(st.floats(0.5, 2.0, exclude_max=True), label="seam gap")
            period = abs(float(x[-1] - x[0])) + gap
    dtype = np.dtype(draw(st.sampled_from(dtypes), label="dtype"))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    values = 10.0 * rng.standard_normal(shape)
    if dtype.kind == "c":
        values = values + 10j * rng.standard_normal(shape)
    values = values.astype(dtype)
    missing = draw(missing_masks(shape, axis), label="missing")
    via = draw(st.sampled_from(["nan", "nan", "mask", "mask+omit"]), label="via")
    if via == "nan":
        fill: Any = NAN
    else:
        fill = draw(st.sampled_from([0.0, 1e20, -7.0, NAN]), label="fill")
    if dtype.kind == "c" and np.isnan(fill):
        # NaN in the real part, the imaginary part or both.
        parts = rng.integers(0, 3, size=shape)
        real = np.where(missing & (parts != 1), NAN, values.real)
        imag = np.where(missing & (parts != 0), NAN, values.imag)
        values = (real + 1j * imag).astype(dtype)
    else:
        values[missing] = fill
    return Case(stencil, values, missing, dims, axis, spacing, x, step, period, via)


def _check_case(case: Case, data: st.DataObject) -> None:
    """Eager on every engine against the oracle; lazy on a random chunking against eager."""
    expected, seam = case.oracle()
    obj = case.obj
    eager = None
    for engine in engines_for(obj.dtype):
        got = derivative(obj, case.stencil, engine=engine, **case.kwargs())
        assert got.dims == obj.dims
        assert_matches(got.values, expected, seam, case.scale)
        if eager is None:
            eager = got
        else:  # the engines agree bit for bit, seams too
            assert_array_equal(got.values, eager.values)
    chunks = {d: data.draw(chunkings(s), label=f"chunks {d}") for d, s in obj.sizes.items()}
    lazy_obj = obj.chunk(chunks)
    mask = case.mask
    if case.via != "nan" and data.draw(st.booleans(), label="lazy mask"):
        mask = mask.chunk(chunks)
    engine = data.draw(st.sampled_from(engines_for(obj.dtype)), label="lazy engine")
    with raise_if_dask_computes():
        lazy = derivative(lazy_obj, case.stencil, engine=engine, **case.kwargs(mask))
        assert isinstance(lazy.data, dsa.Array)
        assert lazy.chunks == lazy_obj.chunks
    computed = lazy.values
    assert computed.dtype == eager.dtype
    assert_array_equal(computed, eager.values)


@pytest.mark.parametrize("stencil", STENCILS, ids=str)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_the_oracle_without_gaps_is_the_ordinary_result(stencil, data):
    # A line without a missing value is one run: numpy.gradient's (or the
    # stencil's) result on the whole line, periodic where the dim is.
    case = data.draw(cases(stencil), label="case")
    values = np.where(case.missing, 1.5, case.values)
    no_gaps = np.zeros(values.shape, dtype=bool)
    expected, _ = omit_oracle(
        values, case.axis, stencil, missing=no_gaps, x=case.x, step=case.step, period=case.period
    )
    obj = case.obj.copy(data=values)
    kwargs = {k: v for k, v in case.kwargs().items() if k in ("spacing", "period")}
    assert_array_equal(derivative(obj, stencil, **kwargs).values, expected)
    if stencil.numpy_formulas:
        spacing = np.float64(case.step) if case.x is None else case.x
        numpy = np.gradient(values, spacing, axis=case.axis, edge_order=stencil.edge_order)
        assert_array_equal(numpy, expected)


@pytest.mark.parametrize("stencil", STENCILS, ids=str)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_omit_equals_the_per_run_oracle(stencil, data):
    _check_case(data.draw(cases(stencil), label="case"), data)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_omit_float32_and_complex128(data):
    stencil = data.draw(st.sampled_from(STENCILS), label="stencil")
    _check_case(data.draw(cases(stencil, ("float32", "complex128")), label="case"), data)


@pytest.mark.parametrize(
    "stencil",
    [Stencil(edge_order=2), Stencil(accuracy=4), Stencil(order=2, accuracy=4, periodic=True)],
    ids=str,
)
def test_every_chunking_of_a_line_with_gaps(stencil):
    # Runs of valid points crossing chunk boundaries, chunks of one, gaps at
    # chunk ends: all 128 chunkings of 8 points give the eager bits.
    f = np.array([1.0, 3.0, 2.0, 7.0, 5.0, NAN, 4.0, 9.0, 8.0, 6.0, 0.5, NAN])
    f = np.stack([f[:8], np.roll(f, 3)[:8], f[4:12]])
    x = np.cumsum([0.7, 1.1, 0.6, 1.9, 1.3, 0.8, 1.6, 0.9])
    period = {"x": float(x[-1] - x[0]) + 1.2} if stencil.periodic else None
    da = xr.DataArray(f, dims=("y", "x"), coords={"x": x})
    eager = derivative(da, stencil, period=period, nan_policy="omit")
    assert np.isfinite(eager.values).sum() > 6
    for sizes in _compositions(8):
        lazy = derivative(da.chunk(x=sizes), stencil, period=period, nan_policy="omit")
        assert_array_equal(lazy.values, eager.values)


def _compositions(n: int):
    """Every chunking of a dimension of length n."""
    for cuts in itertools.product([False, True], repeat=n - 1):
        bounds = [0, *(i + 1 for i, cut in enumerate(cuts) if cut), n]
        yield tuple(b - a for a, b in itertools.pairwise(bounds))


# --------------------------------------------------------------------------- masks, dtypes, datasets


def _climate(seed: int = 0) -> tuple[xr.DataArray, xr.DataArray]:
    """A (time, lat, lon) field with a few NaNs over the ocean, zeros over land, and its sea mask."""
    rng = np.random.default_rng(seed)
    time = np.cumsum([0.0, 1.0, 1.5, 0.75, 2.0, 1.25, 0.5])
    # Spacings all different: no run of latitudes looks uniform to numpy.gradient.
    lat = -60.0 + np.cumsum([0.0, 12.5, 14.0, 15.25, 13.5, 15.5, 13.75, 16.0, 17.0])
    lon = np.arange(0.0, 360.0, 30.0)
    sea = np.ones((lat.size, lon.size), dtype=bool)
    sea[2:5, 3:6] = False  # a continent
    sea[6, 9] = False  # an island
    sea[7, :4] = False
    sea[:6, 8] = False  # a north-south strip: runs wrap across the seam around it
    values = 280.0 + rng.standard_normal((time.size, lat.size, lon.size))
    values[2, 0, 0] = NAN  # a missing value over the sea
    values[:, ~sea] = 0.0  # the fill value over land
    coords = {
        "time": ("time", time, {"units": "days"}),
        "lat": ("lat", lat, {"units": "degrees_north"}),
        "lon": ("lon", lon, {"units": "degrees_east"}),
    }
    field = xr.DataArray(
        values, dims=("time", "lat", "lon"), coords=coords, name="t", attrs={"units": "K"}
    )
    mask = xr.DataArray(sea, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})
    return field, mask


MASK_CASES = [
    ("time", Stencil(edge_order=1), None),
    ("time", Stencil(order=2, accuracy=2), None),
    ("lat", Stencil(edge_order=2), None),
    ("lat", Stencil(accuracy=4), None),
    ("lon", Stencil(edge_order=1), None),
    ("lon", Stencil(accuracy=2, periodic=True), 360.0),
    ("lon", Stencil(order=2, accuracy=4, periodic=True), 360.0),
]


@pytest.mark.parametrize(("dim", "stencil", "period"), MASK_CASES, ids=str)
@pytest.mark.parametrize("transposed", [False, True])
def test_a_broadcast_mask_with_fill_values_is_where_plus_omit(dim, stencil, period, transposed):
    field, sea = _climate()
    mask = sea.T if transposed else sea
    kwargs: dict[str, Any] = {} if period is None else {"period": {dim: period}}
    got = derivative(field, stencil, dim, mask=mask, **kwargs)
    where = field.where(mask).transpose(*field.dims)
    expected = derivative(where, stencil, dim, nan_policy="omit", **kwargs)
    assert got.dims == field.dims
    xr.testing.assert_equal(got, expected)
    assert_array_equal(got.values, expected.values)
    # NaN over land at every time, and where the data is NaN.
    land = np.broadcast_to(~sea.values, field.shape)
    assert np.isnan(got.values[land]).all()
    assert np.isnan(got.values[2, 0, 0])
    # The oracle, with the land as missing whatever the data holds there.
    axis = field.get_axis_num(dim)
    oracle, _ = omit_oracle(
        field.values,
        axis,
        stencil,
        missing=land | np.isnan(field.values),
        x=field[dim].values,
        period=period,
    )
    assert_array_equal(got.values, oracle)
    # The accessor says the same, and so does Dask, with or without a Dask mask.
    accessor = field.grad if stencil.order == 1 else field.grad.second
    xr.testing.assert_identical(accessor(dim, mask=mask, **stencil.options(), **kwargs), got)
    lazy_field = field.chunk(time=3, lat=4, lon=5)
    # The result has the data's chunks, however the mask is chunked (the
    # kernel tasks take the mask rechunked like the data).
    aligned, misaligned = mask.chunk(lat=4, lon=5), mask.chunk(lat=2, lon=7)
    for lazy_mask in (mask, aligned, misaligned):
        with raise_if_dask_computes():
            lazy = derivative(lazy_field, stencil, dim, mask=lazy_mask, **kwargs)
        assert isinstance(lazy.data, dsa.Array)
        assert lazy.chunks == lazy_field.chunks
        xr.testing.assert_identical(lazy.compute(), got)


@pytest.mark.parametrize("stencil", [Stencil(edge_order=2), Stencil(order=2, accuracy=4)], ids=str)
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.int16, np.bool_])
@pytest.mark.parametrize("chunks", [None, 3])
def test_integer_data_with_a_mask(stencil, dtype, chunks):
    # Integers (and booleans) give float64, with a mask too; the masked values are those of
    # ``where(mask)`` on the data as float64 (xarray's ``where`` would make
    # small integers float32).
    rng = np.random.default_rng(3)
    values = rng.integers(0, 100, size=(3, 13)).astype(dtype)
    valid = np.ones(values.shape, dtype=bool)
    valid[0, 4] = valid[1, 6:8] = valid[2, :2] = valid[2, 9] = False
    x = np.cumsum(rng.uniform(0.5, 2.0, 13))
    da = xr.DataArray(values, dims=("y", "x"), coords={"x": x})
    mask = xr.DataArray(valid, dims=("y", "x"))
    expected, _ = omit_oracle(values.astype(np.float64), 1, stencil, missing=~valid, x=x)
    if chunks:
        da = da.chunk(x=chunks)
    got = derivative(da, stencil, mask=mask)
    assert got.dtype == np.float64
    assert_array_equal(got.values, expected)
    where = derivative(da.astype(np.float64).where(mask), stencil, nan_policy="omit")
    assert_array_equal(where.values, expected)


@pytest.mark.parametrize("stencil", STENCILS, ids=str)
@pytest.mark.parametrize("chunks", [None, 2])
def test_dataset_variables_with_different_gaps(stencil, chunks):
    rng = np.random.default_rng(11)
    x = np.cumsum(rng.uniform(0.5, 2.0, 10))
    a = rng.standard_normal((3, 10))
    b = rng.standard_normal((10, 2)).astype(np.float32)
    a[0, 3] = a[1, 5:7] = a[2, 0] = NAN
    b[8, 0] = b[1:3, 1] = NAN
    ds = xr.Dataset(
        {"a": (("y", "x"), a), "b": (("x", "z"), b), "c": ("y", np.ones(3))},
        coords={"x": x},
    )
    period = {"x": float(x[-1] - x[0]) + 0.9} if stencil.periodic else None
    if chunks:
        ds = ds.chunk(x=chunks)
    got = derivative(ds, stencil, period=period, nan_policy="omit")
    assert set(got.data_vars) == {"a", "b"}
    for name, axis in (("a", 1), ("b", 0)):
        expected, seam = omit_oracle(
            ds[name].values, axis, stencil, x=x, period=None if period is None else period["x"]
        )
        assert_matches(got[name].values, expected, seam)
        alone = derivative(ds[name], stencil, period=period, nan_policy="omit")
        assert_array_equal(got[name].values, alone.values)


def test_dataset_with_a_mask_is_where_plus_omit():
    field, sea = _climate(1)
    ds = xr.Dataset({"t": field, "u": field * 2.0 - 1.0})
    ds["u"][0, 1, 1] = NAN
    for dim in ("lat", "lon"):
        got = xgradient.gradient(ds, dim, mask=sea, edge_order=2)
        expected = xgradient.gradient(ds.where(sea), dim, nan_policy="omit", edge_order=2)
        for name in ("t", "u"):
            assert_array_equal(got[name].values, expected[name].transpose(*field.dims).values)
            assert np.isnan(got[name].values[:, ~sea.values]).all()


# --------------------------------------------------------------------------- "propagate"


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("chunks", [None, 2])
def test_propagate_is_the_default_and_numpy_gradient(edge_order, uniform, chunks):
    rng = np.random.default_rng(2)
    f = rng.standard_normal((3, 9))
    f[0, 4] = f[1, 0] = f[2, 7:] = NAN
    x = np.arange(9.0) * 0.5 if uniform else np.cumsum(rng.uniform(0.5, 2.0, 9))
    da = xr.DataArray(f, dims=("y", "x"), coords={"x": x})
    if chunks:
        da = da.chunk(x=chunks)
    default = xgradient.gradient(da, "x", edge_order=edge_order)
    explicit = xgradient.gradient(da, "x", edge_order=edge_order, nan_policy="propagate")
    xr.testing.assert_identical(explicit, default)
    expected = np.gradient(f, x, axis=1, edge_order=edge_order)
    assert_array_equal(explicit.values, expected)
    accessor = da.grad("x", edge_order=edge_order, nan_policy="propagate")
    assert_array_equal(accessor.values, expected)


@pytest.mark.parametrize("stencil", STENCILS[2:], ids=str)
def test_propagate_explicit_equals_the_default_for_weighted_stencils(stencil):
    rng = np.random.default_rng(4)
    f = rng.standard_normal((2, 11))
    f[0, 5] = NAN
    x = np.cumsum(rng.uniform(0.5, 2.0, 11))
    period = {"x": float(x[-1] - x[0]) + 1.0} if stencil.periodic else None
    da = xr.DataArray(f, dims=("y", "x"), coords={"x": x})
    default = derivative(da, stencil, period=period)
    explicit = derivative(da, stencil, period=period, nan_policy="propagate")
    xr.testing.assert_identical(explicit, default)
    # Propagated: the NaN spreads to the stencils that reach it.
    assert np.isnan(explicit.values[0]).sum() > 1
    assert np.isfinite(explicit.values[1]).all()


# --------------------------------------------------------------------------- laziness


def test_omit_and_mask_build_the_graph_without_computing(no_dask_compute):
    field, sea = _climate(2)
    lazy_field = field.chunk(time=2, lat=3, lon=4)
    lazy_sea = sea.chunk(lat=3, lon=4)
    with no_dask_compute():
        results = [
            xgradient.gradient(lazy_field.where(lazy_sea), "lon", nan_policy="omit"),
            xgradient.gradient(lazy_field, "lat", mask=lazy_sea, edge_order=2),
            xgradient.gradient(lazy_field, "lon", mask=sea, boundary="periodic", accuracy=4),
            xgradient.second_derivative(lazy_field, "time", mask=lazy_sea, accuracy=4),
            lazy_field.grad("lon", mask=lazy_sea, boundary="periodic"),
            lazy_field.grad.second("lat", nan_policy="omit"),
            lazy_field.to_dataset().grad("time", mask=lazy_sea)["t"],
        ]
        for result in results:
            assert isinstance(result.data, dsa.Array)
            assert result.chunks == lazy_field.chunks
    eager = [
        xgradient.gradient(field.where(sea), "lon", nan_policy="omit"),
        xgradient.gradient(field, "lat", mask=sea, edge_order=2),
        xgradient.gradient(field, "lon", mask=sea, boundary="periodic", accuracy=4),
        xgradient.second_derivative(field, "time", mask=sea, accuracy=4),
        field.grad("lon", mask=sea, boundary="periodic"),
        field.grad.second("lat", nan_policy="omit"),
        field.to_dataset().grad("time", mask=sea)["t"],
    ]
    for lazy, expected in zip(results, eager, strict=True):
        assert_array_equal(lazy.transpose(*expected.dims).values, expected.values)


# --------------------------------------------------------------------------- errors


def _small(chunked: bool) -> xr.DataArray:
    da = xr.DataArray(np.arange(12.0).reshape(3, 4), dims=("y", "x"))
    return da.chunk(x=2) if chunked else da


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("policy", ["drop", "raise", ""])
def test_an_unknown_nan_policy_names_the_choices(chunked, policy):
    da = _small(chunked)
    calls = [
        lambda: xgradient.gradient(da, "x", nan_policy=policy),
        lambda: xgradient.second_derivative(da, "x", nan_policy=policy),
        lambda: da.grad("x", nan_policy=policy),
        lambda: da.grad.second("x", nan_policy=policy),
        lambda: da.to_dataset(name="f").grad("x", nan_policy=policy),
    ]
    for call in calls:
        with raise_if_dask_computes(), pytest.raises(ValueError) as info:
            call()
        assert "propagate" in str(info.value)
        assert "omit" in str(info.value)


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "int64", "uint8", "float32"])
def test_a_mask_that_is_not_boolean_names_its_dtype(chunked, dtype):
    da = _small(chunked)
    mask = xr.DataArray(np.ones((3, 4), dtype=dtype), dims=("y", "x"))
    if chunked:
        mask = mask.chunk(x=2)
    with raise_if_dask_computes(), pytest.raises((TypeError, ValueError), match=dtype):
        xgradient.gradient(da, "x", mask=mask)
    with raise_if_dask_computes(), pytest.raises((TypeError, ValueError), match=dtype):
        da.grad.second("x", mask=mask)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_mask_with_a_dim_the_data_lacks_names_it(chunked):
    da = _small(chunked)
    mask = xr.DataArray(np.ones((4, 2), dtype=bool), dims=("x", "depth"))
    with raise_if_dask_computes(), pytest.raises((ValueError, KeyError), match="depth"):
        xgradient.gradient(da, "x", mask=mask)
    with raise_if_dask_computes(), pytest.raises((ValueError, KeyError), match="depth"):
        da.grad.second("x", mask=mask)


@pytest.mark.parametrize("kind", ["edge_order=1", "edge_order=2", "second", "accuracy=4"])
@pytest.mark.parametrize("dim", ["y", "x"])
def test_sparse_missing_values_take_the_flagged_path(kind, dim):
    """A large block whose sampled cells are all valid: the compiled "omit" path
    computes the propagate result first, finds a NaN in it, and computes the block
    again with the rule (xgradient.backends.numba.omit_missing).  Its result must
    equal the plain-array rule and, on the damaged line, numpy.gradient per run."""
    from xgradient.backends import numba as compiled

    rng = np.random.default_rng(5)
    f = rng.normal(size=(64, 200))
    assert f.size > compiled.SAMPLES  # the sample skips cells
    step = f.size // compiled.SAMPLES
    missing = 1 if step > 1 else None  # flat index 1 is not sampled
    assert missing is not None
    f.flat[missing] = np.nan  # row 0, column 1
    da = xr.DataArray(f, dims=("y", "x"))
    if kind == "second":
        run = functools.partial(xgradient.second_derivative, da, dim)
    elif kind == "accuracy=4":
        run = functools.partial(xgradient.gradient, da, dim, accuracy=4)
    else:
        run = functools.partial(xgradient.gradient, da, dim, edge_order=int(kind[-1]))
    got = run(nan_policy="omit", engine="numba").values
    assert_array_equal(got, run(nan_policy="omit", engine="numpy").values)
    assert np.isnan(got.flat[missing])
    if kind.startswith("edge_order") and dim == "x":
        e = int(kind[-1])
        line = f[0]
        expected = np.full(line.shape, np.nan)
        expected[2:] = np.gradient(line[2:], edge_order=e)  # the run [0] alone is too short
        assert_array_equal(got[0], expected)
    # Away from the missing value, the propagate numbers, bit for bit.
    assert_array_equal(got[10:], run(engine="numba").values[10:])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dim", ["y", "x"])
@pytest.mark.parametrize(
    "stencil",
    [
        {"second": True},
        {"second": True, "boundary": "periodic"},
        {"boundary": "periodic"},  # three-point first derivative: one-sided stencils of 3
        {"second": True, "accuracy": 4},
    ],
    ids=["second", "second-periodic", "periodic", "second-accuracy4"],
)
def test_large_blocks_with_land_blobs_equal_the_plain_array_rule(stencil, dim, dtype):
    """Blocks of hundreds of points a line with blob-shaped gaps (runs of every
    length, 1 to 3 points included, near the ends and across 8-point groups):
    the compiled kernels, which compute the centred stencil everywhere and redo
    only the flagged points, equal the plain-array rule bit for bit."""
    if not available("numba"):
        pytest.skip("numba not installed")
    rng = np.random.default_rng(11)
    f = rng.normal(size=(3, 131, 203)).astype(dtype)
    # Blobs: smoothed noise thresholded at 30%, plus isolated points and short runs.
    noise = rng.normal(size=f.shape[1:])
    for axis in (0, 1):
        noise = noise + np.roll(noise, 1, axis) + np.roll(noise, -1, axis)
    land = noise > np.quantile(noise, 0.7)
    land |= rng.random(land.shape) < 0.02
    f[:, land] = np.nan
    coords = {"y": np.arange(131) * 0.5, "x": np.arange(203) * 2.0}
    da = xr.DataArray(f, dims=("t", "y", "x"), coords=coords)
    second = stencil.get("second", False)
    kwargs = {k: v for k, v in stencil.items() if k != "second"}
    run = xgradient.second_derivative if second else xgradient.gradient
    got = run(da, dim, nan_policy="omit", engine="numba", **kwargs).values
    expected = run(da, dim, nan_policy="omit", engine="numpy", **kwargs).values
    assert got.dtype == dtype
    assert_array_equal(got, expected)
    assert np.isfinite(got[:, ~land]).mean() > 0.6  # most coasts got numbers, not NaN


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("accuracy", [2, 4])
@pytest.mark.parametrize("stencil", [{"second": True}, {"boundary": "periodic"}])
def test_rows_cut_among_threads_equal_the_plain_array_rule(stencil, accuracy, dtype):
    """A 2-D field along its first axis is cut into pieces of rows, one thread
    each.  Runs too short for the one-sided stencils but long enough for the
    centred one (three points for accuracy 2, five for 4, second derivatives),
    whose middle point only the run's last point makes NaN, and runs of every
    other length up to one past the one-sided width, start at every row offset,
    so they straddle every piece boundary."""
    if not available("numba"):
        pytest.skip("numba not installed")
    ny, nx = 700, 420  # >= numba.PARALLEL_MIN_SIZE points: threads, 8+ pieces of rows
    width = 4 if accuracy == 2 else 6  # of the second derivative's one-sided stencils
    longest = width + 1
    rng = np.random.default_rng(5)
    f = rng.normal(size=(ny, nx)).astype(dtype)
    rows = np.arange(ny)
    run = 1 + np.arange(nx) % longest  # runs of 1 ... longest valid points
    for q in range(nx):
        f[(rows + q // longest) % (run[q] + 1) == 0, q] = np.nan  # at every offset
    da = xr.DataArray(f, dims=("y", "x"), coords={"y": rows * 0.5})
    second = stencil.get("second", False)
    kwargs = {k: v for k, v in stencil.items() if k != "second"}
    differentiate = xgradient.second_derivative if second else xgradient.gradient
    got = differentiate(da, "y", nan_policy="omit", engine="numba", accuracy=accuracy, **kwargs)
    expected = differentiate(
        da, "y", nan_policy="omit", engine="numpy", accuracy=accuracy, **kwargs
    )
    assert_array_equal(got.values, expected.values)
    if second:  # runs shorter than the one-sided stencils: all NaN
        assert np.isnan(got.values[:, run < width]).all()
        inner = got.values[10:-10, run >= width]  # (but those cut by the ends): numbers
        assert np.isfinite(inner[~np.isnan(f[10:-10, run >= width])]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("accuracy", [2, 4])
@pytest.mark.parametrize("second", [False, True])
def test_lines_longer_than_a_span_equal_the_plain_array_rule(second, accuracy, dtype):
    """Along the last axis the compiled rule runs a line in spans of
    ``SPAN`` points, each of which fixes up the points before it (a
    too-short run's middle).  Runs of every length up to one past the
    one-sided width, at every offset, straddle each span boundary of lines
    three spans long; uniform and non-uniform positions."""
    if not available("numba"):
        pytest.skip("numba not installed")
    from xgradient.backends.numba import SPAN

    width = (4 if accuracy == 2 else 6) if second else accuracy + 1
    longest = width + 1
    nx = 3 * SPAN + 2 * longest
    f = np.random.default_rng(6).normal(size=(4 * longest, nx)).astype(dtype)
    columns = np.arange(nx)
    for row in range(f.shape[0]):
        run = 1 + row % longest  # this line's runs: `run` valid points, then one missing
        shift = row // longest  # ... starting at every offset across the lines
        for boundary in (SPAN, 2 * SPAN):
            near = np.abs(columns - boundary) <= 2 * longest
            f[row, near & ((columns + shift) % (run + 1) == 0)] = np.nan
    x = np.cumsum(np.random.default_rng(7).uniform(0.5, 1.5, nx))
    differentiate = xgradient.second_derivative if second else xgradient.gradient
    for coords in ({"x": columns * 0.5}, {"x": x}):
        da = xr.DataArray(f, dims=("y", "x"), coords=coords)
        kwargs = {"nan_policy": "omit", "accuracy": accuracy}
        got = differentiate(da, "x", engine="numba", **kwargs)
        expected = differentiate(da, "x", engine="numpy", **kwargs)
        assert_array_equal(got.values, expected.values)
        assert np.isnan(got.values).any() and np.isfinite(got.values).any()
