"""``xgradient run --spherical | --vorticity U V | --divergence U V`` on real stores.

Every job runs on one shared multi-process ``LocalCluster`` (``--scheduler``)
and its output is compared with the Python operator of :mod:`xgradient.sphere`
computed eagerly on the same data; errors in the arguments are found before
any cluster is needed.
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_array_equal

import xgradient
from xgradient.cli import main
from xgradient.job import JobError, JobOptions, choose_chunks
from xgradient.store import load_record, partial_path

pytestmark = pytest.mark.distributed


def _winds() -> xr.Dataset:
    """A global grid with pole rows: u (float64), v (float32), t, and a 1-D label."""
    rng = np.random.default_rng(3)
    lat = np.arange(-90.0, 90.1, 15.0)
    lon = np.arange(0.0, 360.0, 30.0)
    shape = (4, lat.size, lon.size)
    wind = {"units": "m s-1"}
    return xr.Dataset(
        {
            "u": (
                ("time", "lat", "lon"),
                rng.normal(size=shape),
                {**wind, "standard_name": "eastward_wind"},
            ),
            "v": (
                ("time", "lat", "lon"),
                rng.normal(size=shape).astype("f4"),
                {**wind, "standard_name": "northward_wind"},
            ),
            "t": (("time", "lat", "lon"), 280 + rng.normal(size=shape), {"units": "K"}),
            "label": ("lat", np.arange(lat.size)),
        },
        coords={
            "time": np.arange(4) * 6.0,
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
        attrs={"title": "winds"},
    )


@pytest.fixture
def winds(tmp_path):
    ds = _winds()
    store = tmp_path / "in.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr 3: consolidated metadata is not in the spec
        ds.chunk(time=1).to_zarr(store, consolidated=True)
    return ds, store


def run(*args, scheduler=None) -> int:
    extra = ["--scheduler", scheduler, "--no-progress"] if scheduler else []
    return main([str(a) for a in args] + extra)


# -- jobs that work -------------------------------------------------------------------


@pytest.mark.parametrize("operator", ["vorticity", "divergence"])
def test_flows_are_the_python_operators(winds, tmp_path, scheduler, operator):
    ds, store = winds
    out = tmp_path / "out.zarr"
    # chunks across the longitude seam and the latitude rows next to the poles
    args = ["run", store, out, f"--{operator}", "u", "v", "--chunks", "time=1,lat=4,lon=5"]
    assert run(*args, scheduler=scheduler) == 0
    expected = getattr(xgradient, operator)(ds.u, ds.v)
    with xr.open_zarr(out) as res:
        assert list(res.data_vars) == [operator]
        assert res[operator].dims == ("time", "lat", "lon")
        assert res[operator].encoding["chunks"] == (1, 4, 5)
        assert_array_equal(res[operator].values, expected.values)  # poles included
        assert np.isfinite(res[operator].values).all()
        assert res[operator].attrs == expected.attrs
        assert res[operator].attrs["units"] == "s-1"
        assert res.attrs["title"] == "winds"


def test_spherical_gradient_and_laplacian_with_options(winds, tmp_path, scheduler):
    ds, store = winds
    out = tmp_path / "grad.zarr"
    args = ["run", store, out, "--spherical", "--var", "t", "--var", "v", "--dim", "lon"]
    args += ["--dim", "lat", "--accuracy", "4", "--edge-order", "2", "--radius", "1e6"]
    assert run(*args, scheduler=scheduler) == 0
    dx, dy = xgradient.spherical_gradient(ds[["t", "v"]], accuracy=4, edge_order=2, radius=1e6)
    with xr.open_zarr(out) as res:
        assert sorted(res.data_vars) == ["dt_dx", "dt_dy", "dv_dx", "dv_dy"]
        for var in ("t", "v"):
            assert_array_equal(res[f"d{var}_dx"].values, dx[var].values)
            assert_array_equal(res[f"d{var}_dy"].values, dy[var].values)
            assert res[f"d{var}_dy"].attrs == dy[var].attrs
        assert res["dv_dx"].dtype == np.float32
        assert res["dt_dx"].attrs["units"] == "K m-1"
        assert np.isnan(res["dt_dx"].isel(lat=[0, -1]).values).all()  # east is undefined

    lap = tmp_path / "lap.zarr"
    args = ["run", store, lap, "--spherical", "--second", "--boundary", "lon=edge"]
    assert run(*args, "--dtype", "float32", scheduler=scheduler) == 0
    expected = xgradient.laplacian(ds[["t", "u", "v"]], boundary={"lon": "edge"})
    with xr.open_zarr(lap) as res:
        assert sorted(res.data_vars) == ["laplacian_t", "laplacian_u", "laplacian_v"]
        for var in ("t", "u", "v"):
            assert res[f"laplacian_{var}"].dtype == np.float32
            assert_array_equal(res[f"laplacian_{var}"].values, expected[var].astype("f4").values)
        # a longitude that is not periodic has no polar cap: NaN at the poles
        assert np.isnan(res["laplacian_t"].isel(lat=[0, -1]).values).all()


def test_netcdf_output_and_coordinates_named_on_the_command_line(tmp_path, scheduler, capsys):
    # no CF metadata and names that are not the usual ones: --lat and --lon
    ds = _winds()[["u", "v"]].rename(lat="y", lon="x")
    ds = ds.assign_coords(y=ds.y.values, x=ds.x.values - 180.0)  # attributes dropped
    src = tmp_path / "in.nc"
    ds.to_netcdf(src)
    out = tmp_path / "out.nc"
    assert run("run", src, out, "--divergence", "u", "v", scheduler=scheduler) == 2
    err = capsys.readouterr().err
    assert "no latitude coordinate found among ['time', 'y', 'x']" in err
    assert "name it: --lat '...'" in err
    args = ["run", src, out, "--divergence", "u", "v", "--lat", "y", "--lon", "x"]
    assert run(*args, "--dim", "x", "--dim", "y", scheduler=scheduler) == 0
    expected = xgradient.divergence(ds.u, ds.v, lat="y", lon="x")
    with xr.open_dataset(out) as res:
        assert list(res.data_vars) == ["divergence"]
        assert_array_equal(res["divergence"].values, expected.values)
        assert res["divergence"].attrs["standard_name"] == "divergence_of_wind"


def test_dry_run_describes_the_operator(winds, tmp_path, capsys):
    _, store = winds
    out = tmp_path / "out.zarr"
    args = ["run", store, out, "--vorticity", "u", "v", "--dry-run", "--workers", "1"]
    assert run(*args) == 0
    plan = capsys.readouterr().out.splitlines()
    assert not out.exists()
    assert plan[:3] == [
        "latitude: coordinate 'lat' [degrees_north] along 'lat', 13 points from -90 to 90 "
        "degrees (one-sided ends)",
        "longitude: coordinate 'lon' [degrees_east] along 'lon', 12 points, the whole globe "
        "(periodic)",
        "radius: 6371008.8 m",
    ]
    assert plan[3] == (
        "vorticity: vorticity of (u, v): [d(v)/d(lon) - d(u cos lat)/d(lat)] / (R cos lat), "
        "float64, shape {'time': 4, 'lat': 13, 'lon': 12}"
    )
    assert plan[4] == "    pole rows: from the polar caps (zonal means of the next rows)"
    assert plan[5].startswith("    chunks: {'time': ")
    assert any(line.startswith("tasks: ") for line in plan)

    assert run("run", store, out, "--spherical", "--var", "t", "--dry-run", "--workers", "1") == 0
    plan = capsys.readouterr().out
    assert "dt_dx: eastward derivative of t: d(t)/d(lon) / (R cos lat), float64" in plan
    assert "    pole rows: NaN (east is undefined there)" in plan
    assert "dt_dy: northward derivative of t: d(t)/d(lat) / R, float64" in plan


def test_resume_with_another_operator_is_refused(winds, tmp_path, scheduler, capsys):
    from distributed import Client

    from xgradient.runner import run_job

    ds, store = winds

    def interrupt(done, total, nbytes, total_bytes):
        if done >= 1:
            raise KeyboardInterrupt

    out = tmp_path / "out.zarr"
    options = JobOptions(dims=(), operator="vorticity", winds=("u", "v"), chunks=(("time", 1),))
    with Client(scheduler) as client, pytest.raises(KeyboardInterrupt):
        run_job([str(store)], out, options, client, progress=interrupt, log=io.StringIO())
    record = load_record(out)
    assert record["job"]["operator"] == "vorticity" and record["job"]["winds"] == ["u", "v"]
    assert 1 <= len(record["done"]) < len(record["regions"])

    common = ["run", store, out, "--chunks", "time=1", "--resume"]
    assert run(*common, "--divergence", "u", "v", scheduler=scheduler) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        "xgradient: error: cannot resume: the interrupted run had other options "
        "(operator was 'vorticity', now 'divergence')"
    )
    assert run(*common, "--vorticity", "v", "u", scheduler=scheduler) == 2
    assert "winds was ['u', 'v'], now ['v', 'u']" in capsys.readouterr().err
    assert partial_path(out).is_dir()  # refused: the partial output is kept

    assert run(*common, "--vorticity", "u", "v", scheduler=scheduler) == 0
    with xr.open_zarr(out) as res:
        assert_array_equal(res["vorticity"].values, xgradient.vorticity(ds.u, ds.v).values)


# -- errors: one line, exit code 2, before any cluster ---------------------------------

ERRORS = [
    (["--vorticity", "u", "w"], "no variable 'w' in the input"),
    (["--divergence", "wind", "v"], "no variable 'wind' in the input"),
    (
        ["--spherical", "--vorticity", "u", "v"],
        "argument --vorticity: not allowed with argument --spherical",
    ),
    (["--vorticity", "u", "v", "--divergence", "u", "v"], "--divergence: not allowed with"),
    (["--vorticity", "u"], "argument --vorticity: expected 2 arguments"),
    (["--spherical", "--var", "label"], "variable 'label' has no dimension 'lon'"),
    (["--spherical", "--var", "t", "--var", "label"], "variable 'label' has no dimension 'lon'"),
    (["--vorticity", "u", "label"], r"--vorticity u label: the two must have the same dimensions"),
    (["--vorticity", "u", "v", "--second"], "--second does not apply to --vorticity"),
    (["--spherical", "--second", "--edge-order", "2"], "--edge-order does not apply to --second"),
    (["--spherical", "--period", "lon=360"], "--period does not apply to --spherical"),
    (["--divergence", "u", "v", "--datetime-unit", "h"], "--datetime-unit does not apply to"),
    (["--divergence", "u", "v", "--var", "u"], r"--var does not apply to --divergence \(U and V"),
    (["--spherical", "--dim", "lat"], "give both or neither"),
    (["--spherical", "--dim", "time", "--dim", "lat"], "does not name the latitude and longitude"),
    (["--spherical", "--boundary", "periodic"], "latitude 'lat' cannot be periodic.*lon=periodic"),
    (["--vorticity", "u", "v", "--boundary", "lat=periodic"], "latitude 'lat' cannot be periodic"),
    (["--spherical", "--lat", "label"], "latitude 'label' is neither a coordinate nor"),
    (["--dim", "lat", "--lat", "lat"], "--lat: only for --spherical, --vorticity and --divergence"),
    (["--spherical", "--radius", "-1"], "argument --radius: not a positive number"),
    ([], "required: --dim \\(or one of --spherical, --vorticity U V, --divergence U V\\)"),
]


@pytest.mark.parametrize(("args", "message"), ERRORS, ids=[m for _, m in ERRORS])
def test_errors_are_one_line_with_exit_code_2(winds, tmp_path, monkeypatch, capsys, args, message):
    _, store = winds
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(store), "out.zarr", *args, "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("xgradient: error: ")
    assert re.search(message, err), err
    assert not list(tmp_path.glob("out*")) and not list(tmp_path.glob(".out*"))


def test_output_name_that_is_a_coordinate(tmp_path, capsys):
    ds = _winds()[["u", "v"]].assign_coords(vorticity=1.0)
    path = tmp_path / "in.nc"
    ds.to_netcdf(path)
    assert main(["run", str(path), str(tmp_path / "o.zarr"), "--vorticity", "u", "v"]) == 2
    assert (
        "output name 'vorticity' (of the vorticity of 'u' and 'v') is already the name of a "
        "coordinate of the input" in capsys.readouterr().err
    )


# -- pieces -------------------------------------------------------------------------------


def test_winds_share_their_chunks_whatever_their_dtypes():
    ds = _winds()[["u", "v"]]  # float64 and float32: slabs of the same bytes would differ
    options = JobOptions(dims=(), operator="divergence", winds=("u", "v"), chunk_bytes=5_000)
    chunked = choose_chunks(ds, options)
    assert chunked.u.chunks == chunked.v.chunks
    assert chunked.u.chunks[0][0] * 13 * 12 * 8 <= 5_000
    div = xgradient.divergence(chunked.u, chunked.v)
    assert div.chunks == chunked.u.chunks  # regular: each zarr chunk written by one task


def test_options_that_do_not_go_with_an_operator_are_refused():
    with pytest.raises(JobError, match="unknown operator 'curl'"):
        JobOptions(dims=(), operator="curl")
    with pytest.raises(JobError, match="--vorticity needs the two wind components"):
        JobOptions(dims=(), operator="vorticity")
    with pytest.raises(
        JobError, match="winds are for --vorticity and --divergence, not --spherical"
    ):
        JobOptions(dims=(), operator="spherical", winds=("u", "v"))
    with pytest.raises(JobError, match="--radius must be a positive number"):
        JobOptions(dims=(), operator="spherical", radius=float("nan"))
    with pytest.raises(JobError, match="--radius: only for"):
        JobOptions(dims=("x",), radius=1.0)
    record = JobOptions(dims=(), operator="laplacian").as_record()
    assert record["operator"] == "laplacian" and record["winds"] is None
