"""``xgradient run --nan-policy omit`` and ``--mask VAR`` on a real zarr store.

Outputs are compared bit for bit with the Python functions on the same data;
the errors a user can hit are found before any cluster is needed, each named
in one line.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_array_equal

import xgradient
from xgradient.cli import main
from xgradient.job import JobOptions
from xgradient.store import load_record

pytestmark = pytest.mark.distributed


def _ocean() -> xr.Dataset:
    """SST-like data, zero over a continent, an ocean mask (int8, 1 = sea), and a 1-D series."""
    rng = np.random.default_rng(7)
    lat = np.arange(-87.5, 90.0, 5.0)
    lon = np.arange(0.0, 360.0, 10.0)
    land = (np.abs(lat[:, None] - 20) < 25) & (np.abs(lon[None, :] - 100) < 45)
    sst = 280 + rng.normal(size=(3, lat.size, lon.size))
    sst = np.where(land, 0.0, sst)
    return xr.Dataset(
        {
            "sst": (("time", "lat", "lon"), sst, {"units": "K"}),
            "ocean": (("lat", "lon"), (~land).astype("i1")),
            "series": ("time", np.arange(3.0)),
        },
        coords={
            "time": np.arange(3) * 6.0,
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
    )


@pytest.fixture
def ocean(tmp_path):
    ds = _ocean()
    store = tmp_path / "in.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr 3: consolidated metadata is not in the spec
        ds.chunk(time=1, lat=9).to_zarr(store, consolidated=True)
    return ds, store


def run(*args, scheduler=None) -> int:
    extra = ["--scheduler", scheduler, "--no-progress"] if scheduler else []
    return main([str(a) for a in args] + extra)


def _open(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_zarr(path).load()


def test_mask_equals_the_python_function(ocean, tmp_path, scheduler):
    ds, store = ocean
    out = tmp_path / "out.zarr"
    assert (
        run(
            "run",
            store,
            out,
            "--dim",
            "lat",
            "--var",
            "sst",
            "--mask",
            "ocean",
            scheduler=scheduler,
        )
        == 0
    )
    got = _open(out)
    expected = xgradient.gradient(ds.sst, "lat", mask=ds.ocean.astype(bool))
    assert list(got.data_vars) == ["dsst_dlat"] and "ocean" not in got.coords
    assert_array_equal(got.dsst_dlat.values, expected.values)
    # Next to the continent the ocean keeps its derivative; the land is NaN.
    land = ds.ocean.values == 0
    assert np.isnan(got.dsst_dlat.values[:, land]).all()
    assert np.isfinite(got.dsst_dlat.values[:, ~land]).all()


def test_nan_policy_omit_and_the_sphere(ocean, tmp_path, scheduler):
    ds, _store = ocean
    nan = ds.assign(sst=ds.sst.where(ds.ocean == 1))
    nan_store = tmp_path / "nan.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nan.chunk(time=1).to_zarr(nan_store, consolidated=True)
    out = tmp_path / "out.zarr"
    assert (
        run(
            "run",
            nan_store,
            out,
            "--spherical",
            "--var",
            "sst",
            "--nan-policy",
            "omit",
            scheduler=scheduler,
        )
        == 0
    )
    got = _open(out)
    dx, dy = xgradient.spherical_gradient(nan.sst, nan_policy="omit")
    assert_array_equal(got.dsst_dx.values, dx.values)
    assert_array_equal(got.dsst_dy.values, dy.values)
    # Without "omit" the coast loses points.
    assert int(xgradient.spherical_gradient(nan.sst)[1].isnull().sum()) > int(dy.isnull().sum())


def test_dry_run_says_what_is_missing(ocean, tmp_path, capsys):
    _ds, store = ocean
    assert (
        run(
            "run",
            store,
            tmp_path / "o.zarr",
            "--dim",
            "lat",
            "--var",
            "sst",
            "--mask",
            "ocean",
            "--dry-run",
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "missing values (NaN, and where 'ocean' is 0 or False)" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mask", "nope"], "--mask nope: no variable 'nope' in the input"),
        (
            ["--mask", "ocean", "--var", "series", "--dim", "time"],
            "--mask ocean: it has dimension 'lat', which variable 'series' does not have",
        ),
        (["--mask", "sst"], "--mask sst: the mask cannot also be differentiated"),
        (["--nan-policy", "ignore"], "argument --nan-policy: invalid choice: 'ignore'"),
    ],
)
def test_errors_name_the_option(ocean, tmp_path, capsys, args, message):
    _ds, store = ocean
    base = ["run", store, tmp_path / "o.zarr", "--var", "sst"]
    if "--dim" not in args:
        base += ["--dim", "lat"]
    if "--var" in args:
        base = ["run", store, tmp_path / "o.zarr"]
    assert run(*base, *args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.zarr").exists()


def test_resume_with_another_nan_policy_is_refused(ocean, tmp_path, scheduler, capsys):
    from distributed import Client

    from xgradient.runner import run_job

    ds, store = ocean

    def interrupt(done, total, nbytes, total_bytes):
        if done >= 1:
            raise KeyboardInterrupt

    out = tmp_path / "out.zarr"
    options = JobOptions(dims=("lat",), variables=("sst",), mask="ocean", chunks=(("time", 1),))
    assert options.nan_policy == "omit"  # a mask implies it
    with Client(scheduler) as client, pytest.raises(KeyboardInterrupt):
        run_job([str(store)], out, options, client, progress=interrupt, log=io.StringIO())
    record = load_record(out)
    assert record["job"]["mask"] == "ocean" and record["job"]["nan_policy"] == "omit"

    common = ["run", store, out, "--dim", "lat", "--var", "sst", "--chunks", "time=1", "--resume"]
    assert run(*common, scheduler=scheduler) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "cannot resume: the interrupted run had other options" in err
    assert "mask was 'ocean', now None" in err
    # With the same options it completes, equal to the Python function.
    assert run(*common, "--mask", "ocean", scheduler=scheduler) == 0
    expected = xgradient.gradient(ds.sst, "lat", mask=ds.ocean.astype(bool))
    assert_array_equal(_open(out).dsst_dlat.values, expected.values)
