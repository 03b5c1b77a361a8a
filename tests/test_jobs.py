"""Jobs that are interrupted, killed or lose a worker: nothing lost, resumed identically.

Real multi-process ``LocalCluster``s and real zarr stores on disk.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from distributed import Client, LocalCluster
from numpy.testing import assert_array_equal

from xgradient.job import JobOptions
from xgradient.runner import run_job
from xgradient.store import load_record, partial_path, record_path

pytestmark = pytest.mark.distributed

OPTIONS = JobOptions(dims=("y", "x"), edge_order=2, chunks=(("time", 2),))


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    rng = np.random.default_rng(5)
    ds = xr.Dataset(
        {
            "a": (("time", "y", "x"), rng.standard_normal((24, 30, 40))),
            "b": (("time", "y", "x"), rng.standard_normal((24, 30, 40)).astype("f4")),
        },
        coords={"y": np.cumsum(rng.uniform(0.5, 1.5, 30)), "x": np.arange(40) * 0.25},
    )
    path = tmp_path_factory.mktemp("src") / "in.zarr"
    ds.chunk(time=2).to_zarr(path, consolidated=False)
    return ds, path


def store_arrays(path: Path) -> dict[str, np.ndarray]:
    with xr.open_zarr(path) as ds:
        return {name: var.values for name, var in ds.variables.items()}


def assert_same_store(a: Path, b: Path) -> None:
    left, right = store_arrays(a), store_arrays(b)
    assert left.keys() == right.keys()
    for name in left:
        assert_array_equal(left[name], right[name], err_msg=name)


class Interrupt:
    """A progress callback that stops the job (like Ctrl-C) after ``after`` regions."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.calls: list[int] = []

    def __call__(self, done: int, total: int, nbytes: int, total_bytes: int) -> None:
        self.calls.append(done)
        if done >= self.after:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_to_the_identical_output(source, tmp_path, client):
    ds, path = source
    reference = tmp_path / "reference.zarr"
    run_job([str(path)], reference, OPTIONS, client, progress=False, log=io.StringIO())
    with xr.open_zarr(reference) as res:
        expected = np.gradient(ds.a.values, ds.x.values, axis=2, edge_order=2)
        assert_array_equal(res["da_dx"].values, expected)

    out = tmp_path / "out.zarr"
    with pytest.raises(KeyboardInterrupt):
        run_job([str(path)], out, OPTIONS, client, progress=Interrupt(5), log=io.StringIO())
    assert not out.exists()  # never a half-written result under the output's name
    assert partial_path(out).is_dir()
    record = load_record(out)
    # 12 regions along time, each writing the four derivatives together
    assert len(record["done"]) == 5 and len(record["regions"]) == 12

    # without --resume: refused, and the partial output is kept
    with pytest.raises(Exception, match="pass --resume to continue it"):
        run_job([str(path)], out, OPTIONS, client, progress=False, log=io.StringIO())
    assert load_record(out)["done"] == record["done"]

    # with other options: refused, naming what differs
    other = JobOptions(dims=("y", "x"), edge_order=1, chunks=(("time", 2),))
    with pytest.raises(Exception, match="edge_order was 2, now 1"):
        run_job([str(path)], out, other, client, resume=True, progress=False, log=io.StringIO())

    resumed = Interrupt(10**9)
    run_job([str(path)], out, OPTIONS, client, resume=True, progress=resumed, log=io.StringIO())
    assert resumed.calls[0] == 5  # the five finished regions were not recomputed
    assert resumed.calls[-1] == 12 and len(resumed.calls) == 12 - 5 + 1
    assert_same_store(out, reference)
    assert not partial_path(out).exists() and not record_path(out).exists()


def test_overwrite_replaces_only_once_complete(source, tmp_path, client):
    _, path = source
    out = tmp_path / "out.zarr"
    run_job([str(path)], out, JobOptions(dims=("x",)), client, progress=False, log=io.StringIO())
    before = store_arrays(out)
    with pytest.raises(KeyboardInterrupt):
        run_job(
            [str(path)],
            out,
            OPTIONS,
            client,
            overwrite=True,
            progress=Interrupt(3),
            log=io.StringIO(),
        )
    after = store_arrays(out)
    assert after.keys() == before.keys() == {"da_dx", "db_dx", "y", "x"}
    for name in before:
        assert_array_equal(after[name], before[name])
    # --overwrite without --resume starts again from nothing
    run_job([str(path)], out, OPTIONS, client, overwrite=True, progress=False, log=io.StringIO())
    assert set(store_arrays(out)) == {"da_dx", "db_dx", "da_dy", "db_dy", "y", "x"}


def test_a_worker_killed_mid_job(source, tmp_path):
    ds, path = source
    out = tmp_path / "out.zarr"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        killed: list[str] = []

        def kill_one(done, total, nbytes, total_bytes):
            if done >= 2 and not killed:
                nanny = next(iter(cluster.workers.values()))
                killed.append(nanny.worker_address)
                # SIGKILL: the worker dies with its memory, as under an OOM killer
                os.kill(nanny.process.pid, signal.SIGKILL)

        run_job([str(path)], out, OPTIONS, client, progress=kill_one, log=io.StringIO())
        assert killed
        deadline = time.monotonic() + 30
        while killed[0] in client.scheduler_info()["workers"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    with xr.open_zarr(out) as res:
        for name, var in (("a", ds.a), ("b", ds.b)):
            for dim, axis in (("x", 2), ("y", 1)):
                expected = np.gradient(var.values, ds[dim].values, axis=axis, edge_order=2)
                assert_array_equal(res[f"d{name}_d{dim}"].values, expected)


@pytest.mark.skipif(os.name != "posix", reason="process groups")
def test_a_killed_command_leaves_nothing_and_resumes(source, tmp_path):
    _, path = source
    out = tmp_path / "out.zarr"
    cmd = [sys.executable, "-m", "xgradient", "run", str(path), str(out)]
    cmd += ["--dim", "y", "--dim", "x", "--edge-order", "2", "--chunks", "time=2"]
    cmd += ["--workers", "1", "--threads-per-worker", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while not (load_record(out) or {}).get("done"):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # preempted: the whole job, cluster and all
    proc.wait(timeout=30)
    proc.stderr.close()
    assert not out.exists()
    done = load_record(out)["done"]
    assert 0 < len(done) < 48

    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    reference = tmp_path / "reference.zarr"
    subprocess.run([*cmd[:5], str(reference), *cmd[6:]], check=True, capture_output=True)
    assert_same_store(out, reference)


def test_a_second_run_to_the_same_output_is_refused(source, tmp_path, client):
    from xgradient.job import JobError
    from xgradient.store import exclusive

    _, path = source
    out = tmp_path / "out.zarr"
    with exclusive(out), pytest.raises(JobError, match=r"another xgradient run \(pid \d+ on"):
        run_job([str(path)], out, OPTIONS, client, progress=False, log=io.StringIO())
    assert not partial_path(out).exists()
    run_job([str(path)], out, OPTIONS, client, progress=False, log=io.StringIO())  # released
    assert not (tmp_path / ".out.zarr.xgradient-lock").exists()


def test_resume_refuses_an_input_that_changed(tmp_path, client):
    from xgradient.job import JobError

    ds = xr.Dataset({"a": (("time", "x"), np.arange(40.0).reshape(8, 5))})
    path = tmp_path / "in.zarr"
    ds.chunk(time=1).to_zarr(path, consolidated=False)
    out = tmp_path / "out.zarr"
    options = JobOptions(dims=("x",), chunks=(("time", 1),))
    with pytest.raises(KeyboardInterrupt):
        run_job([str(path)], out, options, client, progress=Interrupt(2), log=io.StringIO())
    time.sleep(0.01)  # a new mtime, even on coarse clocks
    (ds * 2).chunk(time=1).to_zarr(path, mode="w", consolidated=False)  # same shape
    with pytest.raises(JobError, match="the input's files changed since then"):
        run_job([str(path)], out, options, client, resume=True, log=io.StringIO())


def test_an_interrupted_cleanup_of_the_old_output_says_where_it_is(
    source, tmp_path, client, monkeypatch
):
    import shutil

    from xgradient.job import JobError
    from xgradient.store import check_paths

    _, path = source
    out = tmp_path / "out.zarr"
    options = JobOptions(dims=("x",))
    run_job([str(path)], out, options, client, progress=False, log=io.StringIO())

    def interrupted(path, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "rmtree", interrupted)
    with pytest.raises(JobError, match=r"interrupted after .* was complete and in place"):
        run_job([str(path)], out, OPTIONS, client, overwrite=True, log=io.StringIO())
    monkeypatch.undo()
    assert set(store_arrays(out)) >= {"da_dy", "da_dx"}  # the new output, whole
    assert not record_path(out).exists()
    with pytest.raises(JobError, match="is a previous output that a finished run was deleting"):
        check_paths([path], out, overwrite=True)


def test_regions_follow_the_most_chunked_dim_and_group_variables_chunked_alike():
    from xgradient.store import plan_regions

    ds = xr.Dataset({"a": (("lat", "lon", "time"), np.zeros((3, 4, 10)))}).chunk(time=2)
    ds = ds.assign(b=ds.a, c=ds.a.chunk(time=5), d=ds.a.isel(time=0).chunk(lat=1))
    keys = [r.key for r in plan_regions(ds)]
    assert keys[:2] == ["a,b[time=0:2]", "a,b[time=2:4]"]
    assert "c[time=0:5]" in keys and "d[lat=2:3]" in keys and len(keys) == 5 + 2 + 3


def test_each_input_chunk_is_read_once_for_all_its_derivatives(source, tmp_path, client):
    # The derivatives of a variable along two dims are written region by
    # region together: reading an input chunk once per derivative cost the
    # out-of-core benchmark a quarter of its worker time.
    from distributed import get_task_stream

    _, path = source
    with get_task_stream(client) as stream:
        run_job([str(path)], tmp_path / "out.zarr", OPTIONS, client, log=io.StringIO())
    # The input's chunk tasks are the ones .chunk() names "xarray-...".
    keys = [t["key"] for t in stream.data if str(t["key"][0]).startswith("xarray-")]
    assert keys and len(keys) == len(set(keys))
