"""Time axes: datetime64 and cftime coordinates (every CF calendar) and ``datetime_unit``.

Expected values come from day counts written out here per calendar (month
lengths), not from cftime, and from ``xarray.DataArray.differentiate`` for
datetime64 coordinates.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from conftest import raise_if_dask_computes

import xgradient

pytest.importorskip("cftime")

SECONDS_PER_DAY = 86400.0


def _gregorian_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def month_lengths(calendar: str, year: int) -> list[int]:
    """Days in each month of ``year`` in a CF calendar (years after 1582)."""
    if calendar == "360_day":
        return [30] * 12
    leap = {
        "noleap": False,
        "365_day": False,
        "all_leap": True,
        "366_day": True,
        "julian": year % 4 == 0,
        "standard": _gregorian_leap(year),
        "gregorian": _gregorian_leap(year),
        "proleptic_gregorian": _gregorian_leap(year),
    }[calendar]
    return [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def month_starts_in_days(calendar: str, first_year: int, months: int) -> np.ndarray:
    """Days from the first month start to each of ``months`` month starts."""
    lengths = []
    year = first_year
    while len(lengths) < months:
        lengths.extend(month_lengths(calendar, year))
        year += 1
    return np.concatenate([[0], np.cumsum(lengths[: months - 1])]).astype(np.float64)


def monthly(calendar: str, values: np.ndarray, start: str = "1899-01-01") -> xr.DataArray:
    """A DataArray on a monthly cftime axis (month starts) of ``calendar``."""
    time = xr.date_range(
        start, periods=values.shape[0], freq="MS", calendar=calendar, use_cftime=True
    )
    dims = ("time",) if values.ndim == 1 else ("time", "y")
    return xr.DataArray(values, dims=dims, coords={"time": time}, attrs={"units": "K"}, name="t")


CALENDARS = [
    "standard",
    "gregorian",
    "proleptic_gregorian",
    "julian",
    "noleap",
    "365_day",
    "all_leap",
    "366_day",
    "360_day",
]


def test_month_lengths_used_here():
    # The helper itself: 1900 is a leap year only in the Julian calendar.
    days = {c: month_starts_in_days(c, 1899, 37)[-1] for c in CALENDARS}
    assert days["standard"] == days["proleptic_gregorian"] == 365 * 3
    assert days["julian"] == 365 * 3 + 1
    assert days["noleap"] == 365 * 3
    assert days["all_leap"] == 366 * 3
    assert days["360_day"] == 360 * 3


@pytest.mark.parametrize("calendar", CALENDARS)
@pytest.mark.parametrize("edge_order", [1, 2])
def test_cftime_monthly_axis_per_second_and_per_day(calendar, edge_order):
    # 1899..1901 monthly: 1900 is leap in the Julian calendar only.
    rng = np.random.default_rng(0)
    days = month_starts_in_days(calendar, 1899, 36)
    obj = monthly(calendar, rng.standard_normal((36, 2)))
    per_second = obj.grad("time", edge_order=edge_order)
    per_day = obj.grad("time", edge_order=edge_order, datetime_unit="D")
    np.testing.assert_allclose(
        per_day.values,
        np.gradient(obj.values, days, axis=0, edge_order=edge_order),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        per_second.values,
        np.gradient(obj.values, days * SECONDS_PER_DAY, axis=0, edge_order=edge_order),
        rtol=1e-12,
    )
    assert per_second.attrs["units"] == "K s-1"
    assert per_day.attrs["units"] == "K d-1"


@pytest.mark.parametrize("calendar", ["noleap", "360_day", "julian", "all_leap"])
def test_linear_trend_gives_its_rate_on_every_calendar(calendar):
    # A trend of 0.25 K per day: every stencil is exact for linear data.
    days = month_starts_in_days(calendar, 1899, 30)
    obj = monthly(calendar, 0.25 * days)
    for accuracy in (2, 4):
        per_day = obj.grad("time", accuracy=accuracy, datetime_unit="D")
        np.testing.assert_allclose(per_day.values, 0.25, rtol=1e-12)
        per_hour = obj.grad("time", accuracy=accuracy, datetime_unit="h")
        np.testing.assert_allclose(per_hour.values, 0.25 / 24.0, rtol=1e-12)
        assert per_hour.attrs["units"] == "K h-1"
        per_second = obj.grad("time", accuracy=accuracy)
        np.testing.assert_allclose(per_second.values, 0.25 / SECONDS_PER_DAY, rtol=1e-12)


def test_noleap_and_360_day_differ_as_their_day_counts_say():
    # Same values on the two monthly axes: the derivative at the first point
    # is (f1 - f0) / (days in January): 31 days (noleap) and 30 (360_day).
    values = np.arange(12.0) ** 2
    noleap = monthly("noleap", values, start="2001-01-01").grad("time", datetime_unit="D")
    day360 = monthly("360_day", values, start="2001-01-01").grad("time", datetime_unit="D")
    assert noleap.values[0] == pytest.approx(1.0 / 31.0, rel=1e-14)
    assert day360.values[0] == pytest.approx(1.0 / 30.0, rel=1e-14)
    # February is 28 days in noleap: point 1 uses spacings 31 (Jan) and 28 (Feb).
    h1, h2 = 31.0, 28.0
    expected = (h2 - h1) / (h1 * h2) * 1.0 + h1 / (h2 * (h1 + h2)) * 4.0  # f = 0, 1, 4
    assert noleap.values[1] == pytest.approx(expected, rel=1e-14)
    # 360_day: uniform 30-day months, the central difference (9 - 1) / 60.
    assert day360.values[2] == pytest.approx(8.0 / 60.0, rel=1e-14)


@pytest.mark.parametrize("calendar", ["noleap", "360_day", "standard"])
@pytest.mark.parametrize("accuracy", [2, 4])
def test_second_derivative_of_a_quadratic_in_time(calendar, accuracy):
    days = month_starts_in_days(calendar, 2001, 24)
    obj = monthly(calendar, 1e-3 * (days - 100.0) ** 2, start="2001-01-01")
    per_day2 = obj.grad.second("time", accuracy=accuracy, datetime_unit="D")
    np.testing.assert_allclose(per_day2.values, 2e-3, rtol=1e-8)
    assert per_day2.attrs["units"] == "K d-2"
    per_second2 = obj.grad.second("time", accuracy=accuracy)
    np.testing.assert_allclose(per_second2.values, 2e-3 / SECONDS_PER_DAY**2, rtol=1e-8)
    assert per_second2.attrs["units"] == "K s-2"


def test_cftime_standard_equals_datetime64():
    rng = np.random.default_rng(1)
    values = rng.standard_normal((30, 2))
    cf = monthly("standard", values, start="2001-01-01")
    np64 = cf.assign_coords(time=xr.date_range("2001-01-01", periods=30, freq="MS").values)
    assert np64.time.dtype.kind == "M"
    for kwargs in ({}, {"datetime_unit": "D"}, {"accuracy": 4, "datetime_unit": "h"}):
        a = cf.grad("time", **kwargs)
        b = np64.grad("time", **kwargs)
        np.testing.assert_array_equal(a.values, b.values)
        assert a.attrs == b.attrs


# --------------------------------------------------------------------------- datetime64


def _irregular_hourly() -> xr.DataArray:
    rng = np.random.default_rng(2)
    minutes = np.cumsum(rng.integers(15, 6 * 60, size=40))
    time = np.datetime64("2000-02-27T00:00", "ns") + minutes.astype("timedelta64[m]")
    return xr.DataArray(
        rng.standard_normal((40, 3)),
        dims=("time", "y"),
        coords={"time": time},
        attrs={"units": "K"},
        name="t",
    )


UNIT_SYMBOLS = {"s": "K s-1", "m": "K min-1", "h": "K h-1", "D": "K d-1"}


@pytest.mark.parametrize("unit", ["s", "m", "h", "D", "W", "ms", "us", "ns"])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_datetime64_matches_xarray_differentiate(unit, edge_order):
    obj = _irregular_hourly()
    out = obj.grad("time", datetime_unit=unit, edge_order=edge_order)
    expected = obj.differentiate("time", datetime_unit=unit, edge_order=edge_order)
    np.testing.assert_allclose(out.values, expected.values, rtol=1e-12, atol=0)
    if unit in UNIT_SYMBOLS:
        assert out.attrs["units"] == UNIT_SYMBOLS[unit]


def test_default_datetime_unit_is_seconds():
    obj = _irregular_hourly()
    out = obj.grad("time")
    expected = obj.differentiate("time", datetime_unit="s")
    np.testing.assert_allclose(out.values, expected.values, rtol=1e-12, atol=0)
    assert out.attrs["units"] == "K s-1"
    assert obj.grad.second("time").attrs["units"] == "K s-2"
    assert obj.grad.second("time", datetime_unit="m").attrs["units"] == "K min-2"


@pytest.mark.parametrize("unit", ["s", "h", "D"])
def test_time_units_scale_the_derivatives(unit):
    obj = _irregular_hourly()
    seconds = {"s": 1.0, "h": 3600.0, "D": SECONDS_PER_DAY}[unit]
    for accuracy in (2, 4):
        first = obj.grad("time", accuracy=accuracy, datetime_unit=unit)
        first_s = obj.grad("time", accuracy=accuracy)
        np.testing.assert_allclose(first.values, first_s.values * seconds, rtol=1e-10)
        second = obj.grad.second("time", accuracy=accuracy, datetime_unit=unit)
        second_s = obj.grad.second("time", accuracy=accuracy)
        np.testing.assert_allclose(second.values, second_s.values * seconds**2, rtol=1e-10)


def test_cftime_matches_xarray_differentiate():
    rng = np.random.default_rng(3)
    for calendar in ("noleap", "360_day", "julian"):
        obj = monthly(calendar, rng.standard_normal((20, 2)))
        for unit in ("s", "D"):
            out = obj.grad("time", datetime_unit=unit)
            expected = obj.differentiate("time", datetime_unit=unit)
            np.testing.assert_allclose(out.values, expected.values, rtol=1e-12, atol=0)


@pytest.mark.parametrize("unit", ["Y", "M", "min", "days", "sec"])
def test_invalid_datetime_unit_on_a_time_axis(unit):
    obj = monthly("noleap", np.zeros(12))
    with pytest.raises(ValueError, match=rf"datetime_unit must be one of .*got '{unit}'"):
        obj.grad("time", datetime_unit=unit)
    with pytest.raises(ValueError, match=rf"datetime_unit must be one of .*got '{unit}'"):
        obj.grad.second("time", datetime_unit=unit)


# --------------------------------------------------------------------------- periodic time


def test_noleap_climatology_is_periodic_with_a_period_of_365_days():
    rng = np.random.default_rng(4)
    values = rng.standard_normal(12)
    obj = monthly("noleap", values, start="2001-01-01")
    days = month_starts_in_days("noleap", 2001, 12)
    per_day = obj.grad("time", boundary="periodic", period={"time": 365.0}, datetime_unit="D")
    # Wrapped numpy.gradient: December's successor is next January, 31 days on.
    xe = np.concatenate([[days[-1] - 365.0], days, [days[0] + 365.0]])
    fe = np.concatenate([[values[-1]], values, [values[0]]])
    np.testing.assert_allclose(per_day.values, np.gradient(fe, xe)[1:-1], rtol=1e-12, atol=1e-14)
    per_second = obj.grad("time", boundary="periodic", period={"time": 365.0 * SECONDS_PER_DAY})
    np.testing.assert_allclose(per_second.values * SECONDS_PER_DAY, per_day.values, rtol=1e-12)
    with pytest.raises(ValueError, match=r"dimension 'time' is periodic with non-uniform"):
        obj.grad("time", boundary="periodic")


def test_360_day_climatology_infers_its_period():
    values = np.sin(2 * np.pi * np.arange(12) / 12)
    obj = monthly("360_day", values, start="2001-01-01")
    inferred = obj.grad.second("time", boundary="periodic", datetime_unit="D")
    explicit = obj.grad.second(
        "time", boundary="periodic", datetime_unit="D", period={"time": 360.0}
    )
    np.testing.assert_array_equal(inferred.values, explicit.values)
    # Centred difference of a sampled sine: exactly proportional to -sin.
    h = 30.0
    factor = (2.0 - 2.0 * np.cos(2 * np.pi / 12)) / h**2
    np.testing.assert_allclose(inferred.values, -factor * values, rtol=0, atol=1e-15)


# --------------------------------------------------------------------------- Dask


CHUNKED_OPTIONS = [
    {"accuracy": 2},
    {"accuracy": 2, "edge_order": 2},
    {"accuracy": 4},
    {"accuracy": 4, "boundary": "periodic"},
    {"accuracy": 2, "boundary": "periodic", "datetime_unit": "D"},
    {"accuracy": 4, "datetime_unit": "h"},
]


@pytest.mark.parametrize("calendar", ["noleap", "360_day"])
@pytest.mark.parametrize("chunks", [1, 2, 5])
@pytest.mark.parametrize("options", CHUNKED_OPTIONS)
@pytest.mark.parametrize("order", [1, 2])
def test_dask_backed_cftime_data_is_lazy_and_chunk_invariant(calendar, chunks, options, order):
    rng = np.random.default_rng(5)
    obj = monthly(calendar, rng.standard_normal((24, 3)), start="2001-01-01")
    kwargs = dict(options)
    if order == 2:
        kwargs.pop("edge_order", None)
    if kwargs.get("boundary") == "periodic" and calendar == "noleap":
        unit_seconds = SECONDS_PER_DAY if kwargs.get("datetime_unit") == "D" else 1.0
        kwargs["period"] = {"time": 2 * 365.0 * SECONDS_PER_DAY / unit_seconds}
    func = xgradient.gradient if order == 1 else xgradient.second_derivative
    expected = func(obj, "time", **kwargs)
    lazy = obj.chunk({"time": chunks, "y": 2})
    with raise_if_dask_computes():
        out = func(lazy, "time", **kwargs)
    assert isinstance(out.data, da.Array)
    assert out.chunks == lazy.chunks
    assert out.attrs == expected.attrs
    np.testing.assert_array_equal(out.compute(scheduler="sync").values, expected.values)
