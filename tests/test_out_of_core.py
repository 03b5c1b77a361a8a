"""Data larger than the cluster's memory: zarr on disk, through worker processes, to zarr.

The workers' memory limit sits clearly below the store's size yet above a
worker's own footprint with numba loaded (about 250-290 MiB; see "Memory per
worker process" in docs/performance.md).  The job has to finish with every
worker alive and none paused for memory, and its result has to be
numpy.gradient's, bit for bit.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from distributed import Client, LocalCluster
from distributed.protocol import pickle as dpickle
from numpy.testing import assert_array_equal

import xgradient

pytest.importorskip("zarr")

MiB = 2**20
# 1.26 GiB of float64 in 8 MiB chunks (uneven at the ends), against two
# workers of 480 MiB each: 0.94 GiB in all, of which each worker pauses at
# 80% (384 MiB).
SHAPE = (13_000, 13_000)
CHUNKS = (1024, 1024)
MEMORY_LIMIT = 480 * MiB
WORKERS = 2
# Uncompressed: the bytes on disk are the data's, and no time goes to codecs.
RAW = {"compressors": None}


def _smooth(block_info=None):
    # A smooth field, made block by block on the workers.
    (y0, y1), (x0, x1) = block_info[None]["array-location"]
    y = np.arange(y0, y1, dtype=np.float64)[:, None]
    x = np.arange(x0, x1, dtype=np.float64)[None, :]
    return np.sin(y * 1e-3) * np.cos(x * 7e-4)


def _coordinates():
    y = np.arange(SHAPE[0], dtype=np.float64) * 0.5  # uniform
    i = np.arange(SHAPE[1], dtype=np.float64)
    x = i + 0.25 * np.sin(0.7 * i)  # non-uniform, increasing
    return y, x


def _memory_trouble(client: Client, addresses: set[str]) -> list[str]:
    """What the cluster reports of pauses, restarts and memory warnings."""
    found = [
        f"{address}: {event}"
        for address in addresses
        for _, event in client.get_events(address)
        if event.get("action") == "worker-status-change" and event.get("status") == "paused"
    ]
    found += [f"restart: {event}" for _, event in client.get_events("worker-restart-memory")]
    for nanny in (False, True):
        for address, log in client.get_worker_logs(nanny=nanny).items():
            found += [
                f"{address}: {line}"
                for _, line in log
                if "Pausing worker" in line or "memory budget" in line or "Restarting" in line
            ]
    return found


def _assert_bitwise_equal(got: np.ndarray, expected: np.ndarray) -> None:
    assert_array_equal(got, expected)
    assert got.dtype == expected.dtype
    assert got.tobytes() == expected.tobytes()  # signed zeros and NaN payloads too


def _store_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.mark.distributed
def test_store_larger_than_the_cluster_memory(tmp_path):
    source, target = tmp_path / "in.zarr", tmp_path / "out.zarr"
    y, x = _coordinates()
    try:
        with (
            LocalCluster(
                n_workers=WORKERS,
                threads_per_worker=1,
                processes=True,
                memory_limit=MEMORY_LIMIT,
                dashboard_address=":0",
            ) as cluster,
            Client(cluster) as client,
        ):
            workers = set(client.scheduler_info()["workers"])
            pids = client.run(os.getpid)
            assert len(workers) == WORKERS

            chunks = da.core.normalize_chunks(CHUNKS, SHAPE)
            field = da.map_blocks(_smooth, chunks=chunks, dtype=np.float64)
            ds = xr.Dataset({"f": (("y", "x"), field)}, coords={"y": y, "x": x})
            ds.to_zarr(source, consolidated=False, encoding={"f": RAW})
            total_limit = WORKERS * MEMORY_LIMIT
            assert field.nbytes > 1.3 * total_limit
            assert _store_bytes(source) > total_limit

            src = xr.open_zarr(source, consolidated=False)
            dy, dx = xgradient.gradient(src, ["y", "x"])
            out = xr.Dataset({"dfdy": dy.f, "dfdx": dx.f})
            out.to_zarr(target, consolidated=False, encoding=dict.fromkeys(out, RAW))

            assert set(client.scheduler_info()["workers"]) == workers
            assert client.run(os.getpid) == pids  # no worker process replaced
            assert _memory_trouble(client, workers) == []

        # numpy.gradient on bands of whole rows and columns, read back from
        # disk: they cross chunk boundaries (1024) and hold the ends.
        back = xr.open_zarr(target, consolidated=False, chunks=None)
        data = xr.open_zarr(source, consolidated=False, chunks=None).f
        assert back.dfdx.encoding["chunks"] == CHUNKS
        n0, n1 = SHAPE
        for rows in (slice(0, 3), slice(1020, 1029), slice(n0 - 3, n0)):
            expected = np.gradient(data[rows, :].values, x, axis=1)
            _assert_bitwise_equal(back.dfdx[rows, :].values, expected)
        for cols in (slice(0, 3), slice(2044, 2053), slice(n1 - 3, n1)):
            expected = np.gradient(data[:, cols].values, y, axis=0)
            _assert_bitwise_equal(back.dfdy[:, cols].values, expected)
    finally:
        # About 4 GB: not left to pytest's retention of old tmp_paths.
        for path in (source, target):
            shutil.rmtree(path, ignore_errors=True)


def test_graph_of_thousands_of_chunks_is_small_and_quick():
    rng = np.random.default_rng(3)
    ny, nx, cy, cx = 4_000, 100_000, 100, 1_000  # 4,000 chunks
    x = np.cumsum(rng.uniform(0.5, 1.5, nx))  # non-uniform: 800 kB of positions
    a = xr.DataArray(
        da.zeros((ny, nx), chunks=(cy, cx)),
        dims=("y", "x"),
        coords={"y": np.arange(ny, dtype=np.float64), "x": x},
    )
    chunks = a.data.npartitions
    start = time.perf_counter()
    results = xgradient.gradient(a, ["y", "x"])
    elapsed = time.perf_counter() - start
    assert elapsed < chunks / 1_000, f"{elapsed:.2f} s for {chunks} chunks"

    for result in results:
        graph = result.data.__dask_graph__()
        ours = {
            key: task
            for name, layer in graph.layers.items()
            if name.startswith("xgradient")
            for key, task in layer.items()
        }
        assert chunks <= len(ours) <= 3 * chunks
        sizes = [len(dpickle.dumps(task)) for task in ours.values()]
        # A task holds its block's plan (its positions: (cx + 2) * 8 bytes)
        # at most, never the whole coordinate.
        assert max(sizes) < (cx + 2) * 8 + 4_000, max(sizes)
        assert max(sizes) < x.nbytes / 50
        # Pickled together, tasks at one position along the axis share their plan.
        whole = pickle.dumps(ours)
        assert len(whole) < chunks * 1_000 + 2 * x.nbytes, len(whole)


NO_NUMBA = """
import sys
import dask.array as da
import numpy as np
import xgradient
from xgradient import kernels
from xgradient.stencils import plan_first_derivative, plan_weighted

assert "numba" not in sys.modules, "import xgradient loaded numba"
# A block that is not a NumPy array (a Dask array stands in for CuPy's):
# numba's kernels cannot take it, so numba is not loaded for it.
f = da.from_array(np.arange(10.0) ** 2, chunks=5)
np.asarray(kernels.numpy_gradient(f, 0, plan_first_derivative(10, step=1.0).block(0, 10)))
plan = plan_weighted(np.arange(10.0), order=1, periodic=True, period=10.0)
np.asarray(kernels.weighted_stencil(f, 0, plan.block(0, 10), f[-1:], f[:1]))
assert "numba" not in sys.modules, "numba loaded for blocks it cannot take"
"""


def test_numba_is_loaded_only_for_blocks_its_kernels_take():
    # numba adds ~140 MiB to every process that loads it (docs/performance.md).
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(NO_NUMBA)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
