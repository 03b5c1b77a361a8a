"""The ``xgradient`` command on real netCDF files and zarr stores, as a new user runs it.

Jobs run on one shared multi-process ``LocalCluster`` (``--scheduler``);
errors in the arguments are found before any cluster is needed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_array_equal

from xgradient.cli import main
from xgradient.cluster import ProgressDisplay
from xgradient.job import JobOptions, choose_chunks, slab_chunks

pytestmark = pytest.mark.distributed


def _dataset() -> xr.Dataset:
    rng = np.random.default_rng(0)
    lon = np.arange(0.0, 360.0, 30.0)
    lat = np.array([60.0, 20.0, 0.0, -30.0, -75.0])
    return xr.Dataset(
        {
            "t": (("time", "lat", "lon"), rng.normal(size=(4, 5, 12)), {"units": "K"}),
            "q": (("time", "lat", "lon"), rng.random((4, 5, 12)).astype("f4"), {"units": "1"}),
            "label": ("lat", np.array(list("abcde"))),
        },
        coords={
            "time": np.arange(4) * 6.0,
            "lon": ("lon", lon, {"units": "degrees_east"}),
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "valid_time": ("time", np.arange(4) * 6.0 + 3.0),
        },
        attrs={"title": "cli test"},
    )


@pytest.fixture
def data(tmp_path):
    ds = _dataset()
    nc = tmp_path / "in.nc"
    ds.to_netcdf(nc)
    store = tmp_path / "in.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr 3: no v3 spec for fixed-width strings
        ds.chunk(time=1).to_zarr(store, consolidated=True)
    return ds, nc, store


def run(*args, scheduler=None) -> int:
    extra = ["--scheduler", scheduler, "--no-progress"] if scheduler else []
    return main([str(a) for a in args] + extra)


def digest(path: Path) -> str:
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        h.update(str(f.relative_to(path.parent)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def finished_regions(output: Path) -> list[str]:
    """The regions the record of an unfinished run lists as written."""
    from xgradient.store import load_record

    record = load_record(output)
    return record["done"] if record else []


def expected_gradient(ds, name, dim, **kwargs):
    axis = ds[name].get_axis_num(dim)
    return np.gradient(ds[name].values, ds[dim].values, axis=axis, **kwargs)


# -- jobs that work -------------------------------------------------------------------


def test_netcdf_to_zarr_and_back(data, tmp_path, scheduler, capsys):
    ds, nc, _ = data
    out = tmp_path / "out.zarr"
    assert run("run", nc, out, "--dim", "lat", "--dim", "lon", scheduler=scheduler) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # consolidated metadata: opens without a warning
        res = xr.open_zarr(out)
    assert set(res.data_vars) == {"dt_dlat", "dt_dlon", "dq_dlat", "dq_dlon"}
    assert_array_equal(res["dt_dlat"].values, expected_gradient(ds, "t", "lat"))
    assert_array_equal(res["dq_dlon"].values, expected_gradient(ds, "q", "lon"))
    assert res["dq_dlon"].dtype == np.float32
    assert res["dt_dlon"].attrs["units"] == "K degrees_east-1"
    xr.testing.assert_identical(res.valid_time, ds.valid_time)
    assert res.attrs["title"] == "cli test"
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("xgradient: wrote 4 variable(s) to")
    assert " read " in summary and "on disk" in summary and "/s" in summary
    # and a netCDF output, compressed, from the zarr store
    out_nc = tmp_path / "out.nc"
    assert run("run", out, out_nc, "--dim", "lon", "--var", "dt_dlat", scheduler=scheduler) == 0
    with netCDF4.Dataset(out_nc) as f:
        assert f.variables["ddt_dlat_dlon"].filters()["zlib"]


def test_legacy_form_and_module_entry_point(data, tmp_path, scheduler):
    ds, nc, _ = data
    out = tmp_path / "out.nc"
    cmd = [sys.executable, "-m", "xgradient", str(nc), str(out), "--dim", "lat"]
    done = subprocess.run([*cmd, "--scheduler", scheduler], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with xr.open_dataset(out) as res:
        assert sorted(res.data_vars) == ["dq_dlat", "dt_dlat"]
        assert_array_equal(res["dt_dlat"].values, expected_gradient(ds, "t", "lat"))


def test_zarr_with_strings_periodic_second_float32(data, tmp_path, scheduler):
    ds, _, store = data
    out = tmp_path / "out.zarr"
    args = ["run", store, out, "--dim", "lon", "--var", "t", "--second"]
    args += ["--boundary", "lon=periodic", "--accuracy", "4", "--dtype", "float32"]
    assert run(*args, scheduler=scheduler) == 0
    expected = ds.t.grad.second("lon", boundary="periodic", accuracy=4).astype("f4")
    with xr.open_zarr(out) as res:
        assert list(res.data_vars) == ["d2t_dlon2"]
        assert res["d2t_dlon2"].dtype == np.float32
        assert_array_equal(res["d2t_dlon2"].values, expected.values)
        assert res["d2t_dlon2"].attrs["units"] == "K degrees_east-2"


def test_chunks_are_those_of_the_input_or_given(data, tmp_path, scheduler):
    _, _, store = data
    out = tmp_path / "out.zarr"
    assert run("run", store, out, "--dim", "lat", "--var", "t", scheduler=scheduler) == 0
    with xr.open_zarr(out) as res:
        assert res["dt_dlat"].encoding["chunks"] == (4, 5, 12)  # 1-step chunks grown
    out2 = tmp_path / "out2.zarr"
    args = ["run", store, out2, "--dim", "lat", "--var", "t", "--chunks", "time=1,lon=5"]
    assert run(*args, scheduler=scheduler) == 0
    with xr.open_zarr(out2) as res:
        assert res["dt_dlat"].encoding["chunks"] == (1, 5, 5)


def test_coordinate_with_other_chunks_than_the_data(tmp_path, scheduler):
    # a coordinate stored in chunks of 10 and data rechunked to 1 along time
    ds = xr.Dataset(
        {"z": (("time", "x"), np.arange(60.0).reshape(20, 3) ** 2)},
        coords={"valid_time": ("time", np.arange(20.0)), "x": [0.0, 1.0, 3.0]},
    )
    src = tmp_path / "in.zarr"
    ds.chunk(time=10).to_zarr(src, consolidated=False)
    out = tmp_path / "out.zarr"
    assert run("run", src, out, "--dim", "x", "--chunks", "time=1", scheduler=scheduler) == 0
    with xr.open_zarr(out) as res:
        assert_array_equal(res["dz_dx"].values, expected_gradient(ds, "z", "x"))
        assert_array_equal(res.valid_time.values, ds.valid_time.values)


def test_several_netcdf_files_by_glob(tmp_path, scheduler):
    ds = _dataset()[["t"]]
    for i in range(2):
        ds.isel(time=slice(2 * i, 2 * i + 2)).to_netcdf(tmp_path / f"part{i}.nc")
    out = tmp_path / "out.zarr"
    assert run("run", tmp_path / "part*.nc", out, "--dim", "time", scheduler=scheduler) == 0
    with xr.open_zarr(out) as res:
        assert_array_equal(res["dt_dtime"].values, expected_gradient(ds, "t", "time"))


def test_dry_run_prints_the_plan_and_writes_nothing(data, tmp_path, capsys):
    _, nc, _ = data
    out = tmp_path / "out.zarr"
    args = ["run", nc, out, "--dim", "lon", "--dim", "lat", "--boundary", "lon=periodic"]
    assert main([*map(str, args), "--dry-run", "--workers", "2", "--memory-limit", "1GiB"]) == 0
    plan = capsys.readouterr().out
    assert not out.exists()
    assert "dt_dlon: d(t)/d(lon), float64" in plan
    assert "coordinate 'lon' [degrees_east], uniform step, 12 points (periodic)" in plan
    assert "coordinate 'lat' [degrees_north], non-uniform step, 5 points (one-sided" in plan
    assert "tasks:" in plan and "read:" in plan and "estimated peak memory per worker" in plan


# -- no data is ever lost ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nc", "zarr"])
def test_output_that_is_the_input_is_refused(data, kind, capsys):
    _, nc, store = data
    path = nc if kind == "nc" else store
    before = digest(path)
    for target in (path, path / "inner.zarr"):
        assert run("run", path, target, "--dim", "lat", "--overwrite") == 2
        assert "is the input or inside it" in capsys.readouterr().err
    assert digest(path) == before


def test_output_around_the_input_is_refused(tmp_path, capsys):
    inner = tmp_path / "outer.zarr" / "in.nc"
    inner.parent.mkdir()
    _dataset().to_netcdf(inner)
    assert run("run", inner, tmp_path / "outer.zarr", "--dim", "lat", "--overwrite") == 2
    assert "contains the input" in capsys.readouterr().err
    assert inner.exists()


@pytest.mark.parametrize("name", ["out.nc", "out.zarr"])
def test_existing_output_is_kept_unless_overwrite(data, tmp_path, scheduler, name, capsys):
    _ds, nc, _ = data
    out = tmp_path / name
    assert run("run", nc, out, "--dim", "lat", "--var", "t", scheduler=scheduler) == 0
    before = digest(out)
    assert run("run", nc, out, "--dim", "lon", "--var", "t", scheduler=scheduler) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert digest(out) == before
    args = ["run", nc, out, "--dim", "lon", "--var", "t", "--overwrite"]
    assert run(*args, scheduler=scheduler) == 0
    with xr.open_dataset(out, engine="zarr" if name.endswith("zarr") else None) as res:
        assert list(res.data_vars) == ["dt_dlon"]
    assert not list(tmp_path.glob(".out*"))  # nothing left beside it


def test_overwrite_refuses_what_is_not_a_store(data, tmp_path, capsys):
    _, nc, _ = data
    folder = tmp_path / "precious.zarr"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    assert run("run", nc, folder, "--dim", "lat", "--overwrite") == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    text = tmp_path / "notes.nc"
    text.write_text("not netCDF")
    assert run("run", nc, text, "--dim", "lat", "--overwrite") == 2
    assert "is not a netcdf file" in capsys.readouterr().err
    assert (folder / "thesis.tex").read_text() == "years of work"


def test_failed_job_leaves_the_old_output(data, tmp_path, scheduler):
    from xgradient.runner import run_job

    _ds, nc, store = data
    out = tmp_path / "out.zarr"
    assert run("run", nc, out, "--dim", "lat", "--var", "t", scheduler=scheduler) == 0
    before = digest(out)

    def fail(done, total, nbytes, total_bytes):
        if done == 1:  # after the first region
            raise RuntimeError("disk full")

    from distributed import Client

    with Client(scheduler) as client, pytest.raises(RuntimeError, match="disk full"):
        run_job(
            [str(store)],
            out,
            JobOptions(dims=("lon",)),
            client,
            overwrite=True,
            progress=fail,
            log=io.StringIO(),
        )
    assert digest(out) == before
    assert (tmp_path / ".out.zarr.xgradient-partial").exists()


# -- errors: one line, the right exit code ---------------------------------------------

ERRORS = [
    (["{nc}", "out.nc", "--dim", "lat", "--var", "label"], "variable 'label' is not numeric"),
    (["{nc}", "out.nc", "--dim", "lat", "--var", "valid_time"], "'valid_time' is a coordinate"),
    (["{nc}", "out.nc", "--dim", "lat", "--var", "nope"], "no variable 'nope' in the input"),
    (["{nc}", "out.nc", "--dim", "depth"], "dimension 'depth' not found in the input"),
    (["missing.nc", "out.nc", "--dim", "lat"], "input 'missing.nc' does not exist"),
    (["nothing*.nc", "out.nc", "--dim", "lat"], "input pattern 'nothing\\*.nc' matches no file"),
    (["{nc}", "out.nc", "--dim", "lat", "--chunks", "lat=ten"], "--chunks lat='ten' is not a"),
    (["{nc}", "out.nc", "--dim", "lat", "--chunks", "lat"], "--chunks expects DIM=VALUE"),
    (["{nc}", "out.nc", "--dim", "lat", "--chunks", "z=2"], "--chunks names dimension 'z'"),
    (["{nc}", "out.nc", "--dim", "lat", "--chunks", "lat=0"], "a chunk size must be positive"),
    (["{nc}", "out.txt", "--dim", "lat"], "cannot tell the output format from"),
    (["{nc}", "nodir/out.nc", "--dim", "lat"], "output directory .*nodir' does not exist"),
    (["{nc}", "nodir/out.zarr", "--dim", "lat"], "output directory .*nodir' does not exist"),
    (["{nc}", "out.nc", "--dim", "lat", "--second", "--edge-order", "2"], "does not apply to"),
    (["{nc}", "out.nc", "--dim", "lat", "--resume"], "--resume needs a zarr output"),
    (["{nc}", "out.nc", "--dim", "lon", "--boundary", "lon=wrap"], "must be edge or periodic"),
    (["{nc}", "out.nc", "--dim", "lon", "--period", "lon=x"], "--period lon='x' is not a valid"),
    (["{nc}", "out.nc", "--dim", "lat", "--memory-limit", "lots"], "not a size: 'lots'"),
    (["{nc}", "out.nc", "--dim", "lat", "--workers", "0"], "not a positive integer"),
    (["{nc}", "out.nc"], "the following arguments are required: --dim"),
    (["{nc}", "--dim", "lat"], "run needs an INPUT and an OUTPUT"),
    (
        ["{nc}", "out.nc", "--dim", "lat", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"],
        "they do not apply with --scheduler",
    ),
    (["{nc}", "{store}", "--dim", "lat"], "output .* exists; pass --overwrite"),
    (["{nc}", "out.nc", "--dim", "lat", "--period", "lat=360"], "whose boundary is not 'periodic'"),
    (
        ["{nc}", "out.nc", "--dim", "lat", "--boundary", "periodic"],
        r"--boundary: dimension 'lat' is a latitude.*\(--boundary LON=periodic\), or use --spherical",
    ),
]


@pytest.mark.parametrize(("args", "message"), ERRORS, ids=[m for _, m in ERRORS])
def test_errors_are_one_line_with_exit_code_2(data, tmp_path, monkeypatch, capsys, args, message):
    _, nc, store = data
    monkeypatch.chdir(tmp_path)
    argv = ["run"] + [a.format(nc=nc, store=store) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("xgradient: error: ")
    assert __import__("re").search(message, err), err
    assert not list(tmp_path.glob("out*")) and not list(tmp_path.glob(".out*"))


HIDE_AND_RUN = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # as if not installed: importing it raises ImportError
from xgradient.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize(
    ("hidden", "extra", "message"),
    [
        ("distributed", [], "running a job needs dask.distributed"),
        ("distributed", ["--dry-run"], "running a job needs dask.distributed"),
        ("netCDF4,h5netcdf", [], "a netCDF file, but no netCDF library is installed"),
    ],
)
def test_a_missing_io_library_names_the_extra(data, tmp_path, hidden, extra, message):
    _, nc, _ = data
    argv = ["run", str(nc), str(tmp_path / "out.zarr"), "--dim", "lat", *extra]
    done = subprocess.run(
        [sys.executable, "-c", HIDE_AND_RUN, hidden, *argv], capture_output=True, text=True
    )
    assert done.returncode == 1, done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("xgradient: error: ") and message in error, done.stderr
    assert error.endswith('pip install "xgradient[io]"'), error
    assert not (tmp_path / "out.zarr").exists()


def test_unreachable_scheduler(data, tmp_path, capsys):
    _, nc, _ = data
    args = ["run", nc, tmp_path / "o.zarr", "--dim", "lat", "--scheduler", "tcp://127.0.0.1:9"]
    assert main(list(map(str, args))) == 1
    err = capsys.readouterr().err
    assert err.strip() == err.strip().splitlines()[0]
    assert "cannot reach the scheduler at 'tcp://127.0.0.1:9'" in err


def test_name_collisions_are_errors(tmp_path, capsys):
    ds = xr.Dataset(
        {
            "t": (("x_dy", "y"), np.ones((3, 3))),
            "t_dx": (("x_dy", "y"), np.ones((3, 3))),
        }
    )
    path = tmp_path / "in.nc"
    ds.to_netcdf(path)
    assert main(["run", str(path), str(tmp_path / "o.zarr"), "--dim", "x_dy", "--dim", "y"]) == 2
    err = capsys.readouterr().err
    assert "output name 'dt_dx_dy' is given by both 't' along 'x_dy' and 't_dx' along 'y'" in err
    args = ["run", str(path), str(tmp_path / "o.zarr"), "--dim", "z"]
    xr.Dataset({"t": ("z", [1.0, 2.0, 3.0])}, coords={"dt_dz": ("z", [0.0, 0.0, 0.0])}).to_netcdf(
        path, mode="w"
    )
    assert main(args) == 2
    assert "'dt_dz' (of 't' along 'z') is already the name of a coordinate" in (
        capsys.readouterr().err
    )


def test_unexpected_errors_are_one_line_too(tmp_path, capsys):
    bad = tmp_path / "in.nc"
    bad.write_text("this is not a netCDF file")
    assert main(["run", str(bad), str(tmp_path / "o.zarr"), "--dim", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("xgradient: error: cannot open") and len(err.splitlines()) == 1


# -- pieces -------------------------------------------------------------------------------


def test_default_chunks_stream_a_contiguous_netcdf(tmp_path):
    ds = xr.Dataset({"t": (("time", "y", "x"), np.zeros((50, 100, 100)))})
    ds.to_netcdf(tmp_path / "big.nc")  # contiguous: one chunk when opened with chunks={}
    with xr.open_dataset(tmp_path / "big.nc", chunks={}) as opened:
        assert opened.t.data.numblocks == (1, 1, 1)
        chunked = choose_chunks(opened, JobOptions(dims=("x",), chunk_bytes=400_000))
    assert chunked.t.chunks[0][0] == 5 and chunked.t.chunks[1:] == ((100,), (100,))


def test_slab_chunks_fit_the_target():
    for shape, native in [((7, 300, 500), None), ((3, 10, 10_000), (1, 10, 100)), ((9,), None)]:
        chunks = slab_chunks(shape, 8, 100_000, native)
        assert np.prod(chunks) * 8 <= 100_000


def test_progress_display_on_a_terminal_and_in_a_log():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty = Terminal()
    show = ProgressDisplay(tty)
    show(0, 4, 0, 400)
    show(2, 4, 200, 400)
    show(4, 4, 400, 400)
    frames = tty.getvalue().split("\r")[1:]
    assert frames[1].startswith("[###############               ]  50% 2/4 regions")
    assert tty.getvalue().endswith("\n")
    log = io.StringIO()
    show = ProgressDisplay(log, interval=3600)
    for done in range(5):
        show(done, 4, done * 100, 400)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2  # the first line, then only the last one within the interval
    assert lines[-1].startswith("xgradient: 100% (4/4 regions, 400 B of 400 B) after")


def test_demo_runs_the_job_and_checks_it(capsys):
    assert main(["demo", "--size", "4MiB", "--workers", "1", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "xgradient: wrote 2 variable(s)" in err
    errors = [
        float(line.split(": ")[2].split()[0]) for line in err.splitlines() if "max error" in line
    ]
    assert len(errors) == 2 and max(errors) < 1e-3


@pytest.mark.skipif(os.name != "posix", reason="signals")
@pytest.mark.parametrize("how", ["SIGTERM to the job", "Ctrl-C to its process group"])
def test_a_stopped_job_says_so_in_one_line(tmp_path, how):
    import signal
    import time

    # Enough regions that the job is still writing when the signal comes (with
    # 400, a busy machine once saw it finish first).
    ds = xr.Dataset({"t": (("time", "x"), np.random.default_rng(1).random((1600, 50)))})
    src = tmp_path / "long.zarr"
    ds.chunk(time=1).to_zarr(src, consolidated=False)
    out = tmp_path / "out.zarr"
    cmd = [sys.executable, "-m", "xgradient", "run", str(src), str(out), "--dim", "x"]
    proc = subprocess.Popen(
        [*cmd, "--workers", "1", "--chunks", "time=1", "--no-progress"],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not finished_regions(out):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    if how.startswith("SIGTERM"):
        proc.send_signal(signal.SIGTERM)
    else:  # a terminal signals every process of the group, workers included
        os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "xgradient: error: interrupted; the output was not touched "
        "(a zarr run continues with --resume)"
    )
    assert not out.exists()


def test_zarr_v2_input_packed_netcdf_input_and_the_cluster_left_running(tmp_path, scheduler):
    from distributed import Client

    ds = _dataset()[["t"]]
    v2 = tmp_path / "v2store"  # a zarr v2 store, found by its metadata, not its name
    ds.chunk(time=2).to_zarr(v2, zarr_format=2, consolidated=True)
    out = tmp_path / "from_v2.zarr"
    assert run("run", v2, out, "--dim", "lat", scheduler=scheduler) == 0
    with xr.open_zarr(out) as res:
        assert_array_equal(res["dt_dlat"].values, expected_gradient(ds, "t", "lat"))

    packed = tmp_path / "packed.nc"
    encoding = {"t": {"dtype": "int16", "scale_factor": 0.001, "_FillValue": -32767}}
    ds.to_netcdf(packed, encoding=encoding)
    out_nc = tmp_path / "from_packed.nc"
    assert run("run", packed, out_nc, "--dim", "lon", scheduler=scheduler) == 0
    with xr.open_dataset(packed) as decoded, netCDF4.Dataset(out_nc) as f:
        var = f.variables["dt_dlon"]
        assert var.dtype == np.float64 and "scale_factor" not in var.ncattrs()
        assert_array_equal(var[:].data, expected_gradient(decoded.load(), "t", "lon"))

    # --scheduler: the job closes its client, never the cluster it did not start
    with Client(scheduler) as client:
        assert len(client.scheduler_info()["workers"]) == 2


def test_dry_run_warns_when_chunks_do_not_fit(tmp_path, capsys):
    path = tmp_path / "in.nc"
    xr.Dataset({"t": (("time", "x"), np.zeros((100, 10_000)))}).to_netcdf(path)  # 8 MB
    args = ["run", str(path), str(tmp_path / "o.zarr"), "--dim", "x", "--dry-run"]
    assert main([*args, "--memory-limit", "400MiB", "--chunks", "time=100"]) == 0
    assert "warning: that is above 70% of the limit" in capsys.readouterr().out
    # below a worker's own footprint nothing can run: refused, not left to hang
    assert main([*args, "--memory-limit", "340MiB"]) == 2
    assert "workers with 340.00 MiB of memory cannot run the job" in capsys.readouterr().err


def test_packed_coordinates_keep_their_values(tmp_path, scheduler):
    lat2d = np.array([[-74.64, 55.83, -32.7]] * 2)
    ds = xr.Dataset(
        {"t": (("y", "x"), np.arange(6.0).reshape(2, 3) ** 2)},
        coords={"lat2d": (("y", "x"), lat2d)},
    )
    path = tmp_path / "packed[1].nc"  # a literal name with glob characters
    ds.to_netcdf(
        path, encoding={"lat2d": {"dtype": "int16", "scale_factor": 0.01, "_FillValue": -999}}
    )
    out = tmp_path / "out.zarr"
    assert run("run", path, out, "--dim", "x", scheduler=scheduler) == 0
    with xr.open_zarr(out) as res, xr.open_dataset(path) as src:
        assert_array_equal(res.lat2d.values, src.lat2d.values)  # not truncated to integers


def test_chunks_given_for_one_dim_size_the_others():
    ds = xr.Dataset({"t": (("time", "lat", "lon"), np.zeros((200, 90, 180)))}).chunk()
    options = JobOptions(dims=("lat",), chunks=(("lon", 90),), chunk_bytes=1_000_000)
    chunked = choose_chunks(ds, options)
    time_chunk, lat_chunk, lon_chunk = (c[0] for c in chunked.t.chunks)
    assert lon_chunk == 90 and lat_chunk == 90
    assert time_chunk * lat_chunk * lon_chunk * 8 <= 1_000_000 and time_chunk > 1


# -- engines --------------------------------------------------------------------------


def test_every_engine_writes_the_same_values(data, tmp_path, scheduler):
    _, _, store = data
    results = {}
    for engine in ("numpy", "auto"):
        out = tmp_path / f"{engine}.zarr"
        args = ("run", store, out, "--dim", "lat", "--var", "t", "--engine", engine)
        assert run(*args, scheduler=scheduler) == 0
        results[engine] = xr.open_zarr(out).load()
    xr.testing.assert_identical(results["numpy"], results["auto"])


def test_an_engine_that_is_not_installed_is_refused_before_any_work(data, tmp_path, capsys):
    pytest.importorskip("numba")  # the message below is for a missing CuPy
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here")
    _, nc, _ = data
    out = tmp_path / "out.zarr"
    assert run("run", nc, out, "--dim", "lat", "--engine", "cuda") == 2
    err = capsys.readouterr().err.strip()
    assert "--engine: engine='cuda' needs cupy" in err and "\n" not in err
    assert not out.exists()


def test_an_unknown_engine_is_a_usage_error(data, tmp_path, capsys):
    _, nc, _ = data
    assert run("run", nc, tmp_path / "out.zarr", "--dim", "lat", "--engine", "fast") == 2
    assert "invalid choice: 'fast'" in capsys.readouterr().err
