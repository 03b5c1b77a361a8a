#!/usr/bin/env python
"""Out-of-core jobs on a local ``distributed`` cluster: xgradient against a copy, in one run.

    python benchmarks/bench_cluster.py                 # a 3 GiB store, 2 workers of 500 MiB
    python benchmarks/bench_cluster.py --quick         # a tiny store, a smoke run (~20 s)
    python benchmarks/bench_cluster.py --json out.json # the results as JSON too

What it does, on the same cluster settings throughout:

1. Generates a smooth analytic float32 ``(time, y, x)`` field with coordinates,
   several times larger than the workers' total memory limit, and writes it to
   a zarr store *on the cluster* (chunk by chunk, so generating streams too).
2. Times, each on a fresh ``LocalCluster(n_workers=W, threads_per_worker=1,
   memory_limit=M, processes=True)`` so that memory peaks are per job:

   * ``xgradient``: :func:`xgradient.runner.run_job` along ``y`` and ``x``
     (two output variables, to zarr), as ``xgradient run`` does;
   * ``copy``: the same store read in the same chunks and written back as two
     variables (``t * 1.0`` under two names, same chunks, same encoding);
   * ``xarray``: the same two derivatives by ``DataArray.differentiate``;
   * ``xgradient`` again on one worker (scaling);
   * the sweep: ``xgradient`` in the chunks a job picks for several chunk
     targets, and the copy, with a memory limit high enough that nothing
     needs to spill (``--sweep-memory-limit``), on a smaller store of the
     same grid and chunks: memory per worker against chunk size.

   For each job: wall time, throughput (input bytes / wall time), each
   worker's peak resident memory (the kernel's high-water mark ``VmHWM`` where
   there is one, else the largest RSS sampled every 0.2 s), bytes spilled to
   disk, CPU seconds of the worker processes, the machine's load average, and
   whether a worker was paused, restarted or killed (scheduler events, worker
   addresses before and after, worker and nanny logs).  A job that fails
   (``KilledWorker``, a time-out) is recorded as such and the run goes on.
3. Prints the tables; ``--json PATH`` writes every number.

Everything is written under a temporary directory that is deleted at the end
(``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MiB = 2**20
GiB = 2**30
#: xgradient's throughput should be at least this fraction of the copy job's.
TARGET_VS_COPY = 0.8
SAMPLE_SECONDS = 0.2
#: Chunk targets of the memory sweep.
SWEEP = "8MiB,16MiB,32MiB,64MiB"


# -- the field ------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """The shape and on-disk chunks of the generated store."""

    shape: tuple[int, int, int]
    chunks: tuple[int, int, int]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * 4

    @property
    def chunk_bytes(self) -> int:
        return math.prod(self.chunks) * 4


def field_for(size: int, grid: tuple[int, int], chunks: tuple[int, int, int]) -> Field:
    """A ``(time, y, x)`` field of about ``size`` bytes: whole store chunks along time."""
    ny, nx = grid
    steps = max(chunks[0], size // (ny * nx * 4) // chunks[0] * chunks[0])
    return Field((steps, ny, nx), (chunks[0], min(chunks[1], ny), min(chunks[2], nx)))


#: Grid spacing in metres; a period of the field in grid steps along y and x.
SPACING = 25_000.0
PERIOD_Y, PERIOD_X = 256.0, 512.0


def _block(block_info: Any = None) -> np.ndarray:
    """One chunk of the analytic field (smooth; compresses like real data, roughly)."""
    (t0, t1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
    t = np.arange(t0, t1, dtype=np.float64)[:, None, None]
    y = np.arange(y0, y1, dtype=np.float64)[None, :, None]
    x = np.arange(x0, x1, dtype=np.float64)[None, None, :]
    day = 2 * np.pi * t / 24.0
    values = (
        280.0
        + 20.0 * np.cos(2 * np.pi * y / (4 * PERIOD_Y))
        + 8.0 * np.sin(2 * np.pi * x / PERIOD_X + day) * np.cos(2 * np.pi * y / PERIOD_Y)
        + 0.5 * np.sin(2 * np.pi * (x + y) / 37.0)
    )
    return values.astype(np.float32)


def synthetic_dataset(spec: Field) -> Any:
    """The lazy field as an xarray Dataset with time, y and x coordinates."""
    import dask.array as da
    import xarray as xr

    nt, ny, nx = spec.shape
    data = da.map_blocks(
        _block,
        chunks=da.core.normalize_chunks(spec.chunks, spec.shape),
        dtype=np.float32,
        meta=np.array((), np.float32),
    )
    time_ = np.datetime64("2000-01-01T00", "ns") + np.arange(nt) * np.timedelta64(1, "h")
    return xr.Dataset(
        {"t": (("time", "y", "x"), data, {"units": "K", "long_name": "temperature"})},
        coords={
            "time": time_,
            "y": ("y", np.arange(ny) * SPACING, {"units": "m"}),
            "x": ("x", np.arange(nx) * SPACING, {"units": "m"}),
        },
        attrs={"title": "xgradient cluster benchmark: analytic field"},
    )


# -- what runs on the workers ------------------------------------------------------------


def _vm_hwm() -> int | None:
    """This process's peak resident memory (Linux ``VmHWM``), or None."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def _probe(dask_worker: Any) -> dict[str, Any]:
    """A worker's memory now, its peak so far, what it spilled so far, and its status."""
    import psutil

    spilled = sum(
        value
        for key, value in dask_worker.digests_total.items()
        if isinstance(key, tuple) and len(key) >= 2 and key[-2:] == ("disk-write", "bytes")
    )
    process = psutil.Process()
    cpu = process.cpu_times()
    return {
        "rss": process.memory_info().rss,
        "cpu": cpu.user + cpu.system,
        "hwm": _vm_hwm(),
        "spilled": int(spilled),
        "status": dask_worker.status.name,
        "pid": os.getpid(),
    }


def _warm_xgradient() -> dict[str, Any]:
    """Import xgradient and run its kernel once (numba compiles it, or loads its cache)."""
    import psutil

    before = psutil.Process().memory_info().rss
    import xarray as xr

    import xgradient  # noqa: F401

    values = np.arange(4 * 6 * 8, dtype=np.float32).reshape(4, 6, 8)
    da = xr.DataArray(values, dims=("time", "y", "x"), coords={"y": np.arange(6.0) * 2})
    for result in da.chunk(y=3, x=4).grad(["y", "x"]):
        result.compute(scheduler="sync")
    return {"rss_bare": before, "rss_warm": psutil.Process().memory_info().rss}


# -- measuring a job ------------------------------------------------------------------------


class Monitor:
    """Samples every worker's memory, spill and status from the driver, in a thread."""

    def __init__(self, client: Any, interval: float = SAMPLE_SECONDS) -> None:
        self.client = client
        self.interval = interval
        self.workers: dict[str, dict[str, Any]] = {}
        self.samples = 0
        self.failed_samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-monitor", daemon=True)

    def __enter__(self) -> Monitor:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        try:
            answers = self.client.run(_probe, on_error="return")
        except Exception:  # a closing or broken cluster: keep what was seen
            self.failed_samples += 1
            return
        self.samples += 1
        for address, answer in answers.items():
            if isinstance(answer, BaseException):
                self.failed_samples += 1
                continue
            seen = self.workers.setdefault(
                address,
                {
                    "peak_rss": 0,
                    "hwm": None,
                    "spilled": 0,
                    "paused_samples": 0,
                    "cpu0": answer["cpu"],
                },
            )
            seen["cpu"] = answer["cpu"]
            seen["peak_rss"] = max(seen["peak_rss"], answer["rss"])
            if answer["hwm"] is not None:
                seen["hwm"] = max(seen["hwm"] or 0, answer["hwm"])
            seen["spilled"] = max(seen["spilled"], answer["spilled"])
            seen["paused_samples"] += answer["status"] == "paused"
            seen["pid"] = answer["pid"]


def _in_thread(fn: Callable[[], Any], timeout: float) -> tuple[str, Any]:
    """``fn()`` in a daemon thread: ("ok", value), ("error", exception) or ("timeout", None)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:
            box["error"] = err

    thread = threading.Thread(target=target, name="bench-job", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return "timeout", None
    return ("error", box["error"]) if "error" in box else ("ok", box.get("value"))


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:200]


@contextlib.contextmanager
def local_cluster(workers: int, memory_limit: int, scratch: Path) -> Iterator[tuple[Any, Any]]:
    """A fresh process-based LocalCluster and its client (logs quiet below warnings)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            memory_limit=memory_limit,
            processes=True,
            dashboard_address=None,
            local_directory=str(scratch),
            silence_logs=logging.WARNING,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers, timeout=120)
        yield cluster, client


def _events_in(client: Any, since: float) -> dict[str, int]:
    """Pauses, removed and added workers the scheduler logged since ``since``."""
    counts = {"paused": 0, "removed": 0, "added": 0}
    with contextlib.suppress(Exception):
        for topic, events in client.get_events().items():
            for stamp, msg in events:
                if stamp < since or not isinstance(msg, dict):
                    continue
                action = msg.get("action")
                if action == "worker-status-change" and msg.get("status") == "paused":
                    counts["paused"] += 1
                elif action == "remove-worker" and topic == "all":
                    counts["removed"] += 1
                elif action == "add-worker" and topic == "all":
                    counts["added"] += 1
    return counts


def _log_lines(client: Any) -> dict[str, int]:
    """Memory messages in the workers' and nannies' logs."""
    counts = {"pausing_logged": 0, "restart_logged": 0}
    with contextlib.suppress(Exception):
        for nanny in (False, True):
            for lines in client.get_worker_logs(nanny=nanny).values():
                for _, text in lines:
                    counts["pausing_logged"] += "Pausing worker" in text
                    counts["restart_logged"] += (
                        "Restarting worker" in text or "memory budget" in text
                    )
    return counts


def measure(
    name: str,
    job: Callable[[Any], dict[str, Any]],
    *,
    workers: int,
    memory_limit: int,
    scratch: Path,
    input_bytes: int,
    timeout: float,
    log: Any,
) -> dict[str, Any]:
    """Run ``job(client)`` on a fresh cluster; its times, memory, spill and worker events."""
    result: dict[str, Any] = {
        "job": name,
        "workers": workers,
        "memory_limit": memory_limit,
        "input_bytes": input_bytes,
    }
    print(f"[bench] {name} on {workers} worker(s) of {memory_limit // MiB} MiB ...", file=log)
    try:
        with local_cluster(workers, memory_limit, scratch) as (_, client):
            before = set(client.scheduler_info()["workers"])
            result["idle_rss"] = sorted(_probe_rss(client).values())  # the bare worker processes
            since = time.time()
            with Monitor(client) as monitor:
                result["load_before"] = _load()
                start = time.perf_counter()
                status, value = _in_thread(lambda: job(client), timeout)
                wall = time.perf_counter() - start
                result["load_after"] = _load()
            after = set(client.scheduler_info()["workers"])
            result.update(_events_in(client, since))
            result.update(_log_lines(client))
    except Exception as err:  # the cluster itself failed: record it, go on
        result.update(status=f"failed: {_one_line(err)}", wall_s=None, throughput=None)
        print(f"[bench] {name}: {result['status']}", file=log)
        return result
    result["status"] = {"ok": "ok", "timeout": f"timed out after {timeout:.0f} s"}.get(
        status, f"failed: {_one_line(value) if status == 'error' else status}"
    )
    result["wall_s"] = wall
    result["throughput"] = input_bytes / wall if status == "ok" else None
    if status == "ok":
        result.update(value or {})
    seen = monitor.workers
    result["peak_rss"] = [w["hwm"] or w["peak_rss"] for w in seen.values()]
    result["peak_rss_sampled"] = [w["peak_rss"] for w in seen.values()]
    result["spilled_bytes"] = sum(w["spilled"] for w in seen.values())
    # CPU seconds the workers spent in the job: less skewed than wall time by other work.
    result["worker_cpu_s"] = sum(w["cpu"] - w["cpu0"] for w in seen.values())
    result["paused_samples"] = sum(w["paused_samples"] for w in seen.values())
    result["samples"] = monitor.samples
    result["workers_lost"] = len(before - after)
    result["workers_new"] = len(after - before)
    result["restarted"] = max(result["workers_new"], result["removed"], result["restart_logged"])
    result["paused"] = max(
        result["paused"], result["pausing_logged"], int(result["paused_samples"] > 0)
    )
    print(f"[bench] {name}: {result['status']} in {wall:.1f} s", file=log)
    return result


def _load() -> float | None:
    """The machine's 1-minute load average (other work skews every time)."""
    with contextlib.suppress(OSError, AttributeError):
        return os.getloadavg()[0]
    return None


def _probe_rss(client: Any) -> dict[str, int]:
    return {a: p["rss"] for a, p in client.run(_probe).items()}


# -- the jobs ----------------------------------------------------------------------------------


def _open(source: Path, chunks: dict[str, int] | None) -> Any:
    """The input as xgradient's job opens it (native chunks), rechunked to ``chunks``."""
    from xgradient.job import open_input

    ds = open_input([source])
    return ds if chunks is None else ds.chunk(chunks)


def _zarr_codecs(store: Path, name: str) -> Any:
    with contextlib.suppress(OSError, ValueError, KeyError):
        meta = json.loads((store / name / "zarr.json").read_text())
        return {"codecs": meta.get("codecs"), "chunks": meta["chunk_grid"]["configuration"]}
    with contextlib.suppress(OSError, ValueError):  # zarr v2
        meta = json.loads((store / name / ".zarray").read_text())
        return {"compressor": meta.get("compressor"), "chunks": meta.get("chunks")}
    return None


def _write(client: Any, ds: Any, output: Path) -> None:
    """Write ``ds`` to a new zarr store on the cluster, as xgradient encodes its outputs."""
    for var in ds.data_vars.values():
        var.encoding = {}
    for coord in ds.coords.values():
        coord.encoding = {
            k: v for k, v in coord.encoding.items() if k in ("units", "calendar", "dtype")
        }
    delayed = ds.to_zarr(output, mode="w-", compute=False, consolidated=False)
    client.compute(delayed).result()


def xgradient_job(
    source: Path, output: Path, chunks: dict[str, int] | None = None
) -> Callable[[Any], dict[str, Any]]:
    def job(client: Any) -> dict[str, Any]:
        from xgradient.job import JobOptions
        from xgradient.runner import run_job

        options = JobOptions(dims=("y", "x"), chunks=tuple(sorted((chunks or {}).items())))
        log = io.StringIO()
        res = run_job([str(source)], output, options, client, progress=False, log=log)
        assert res is not None
        return {
            "written_bytes": res.written_bytes,
            "disk_bytes": res.disk_bytes,
            "write_s": res.seconds,
            "variables": list(res.variables),
            "summary": log.getvalue().strip().splitlines()[-1:],
        }

    return job


def copy_job(source: Path, output: Path, chunks: dict[str, int]) -> Callable[[Any], dict]:
    def job(client: Any) -> dict[str, Any]:
        ds = _open(source, chunks)
        t = ds["t"]
        out = ds[[]].assign(t_copy_a=t * 1.0, t_copy_b=t * 1.0)
        _write(client, out, output)
        return _sizes(out, output)

    return job


def xarray_job(source: Path, output: Path, chunks: dict[str, int]) -> Callable[[Any], dict]:
    def job(client: Any) -> dict[str, Any]:
        ds = _open(source, chunks)
        t = ds["t"]
        out = ds[[]].assign(dt_dy=t.differentiate("y"), dt_dx=t.differentiate("x"))
        _write(client, out, output)
        return _sizes(out, output)

    return job


def _sizes(out: Any, output: Path) -> dict[str, Any]:
    from xgradient.runner import _du

    return {
        "written_bytes": int(sum(v.nbytes for v in out.data_vars.values())),
        "disk_bytes": _du(output),
        "variables": list(map(str, out.data_vars)),
    }


def plan_of(source: Path, output: Path, client: Any) -> list[str]:
    """``xgradient run --dry-run``'s plan on this cluster (nothing computed)."""
    from xgradient.job import JobOptions
    from xgradient.runner import run_job

    out = io.StringIO()
    run_job([str(source)], output, JobOptions(dims=("y", "x")), client, dry_run=True, out=out)
    return out.getvalue().splitlines()


def chosen_chunks(output: Path) -> dict[str, int]:
    """The chunks xgradient chose (from its output store)."""
    import xarray as xr

    with xr.open_zarr(output, consolidated=None) as ds:
        var = ds["dt_dy"]
        return {str(d): int(c[0]) for d, c in zip(var.dims, var.chunks, strict=True)}


# -- the run ------------------------------------------------------------------------------------


def _size(text: str) -> int:
    from dask.utils import parse_bytes

    return int(parse_bytes(text))


def _shape(text: str, n: int) -> tuple[int, ...]:
    parts = tuple(int(p) for p in text.lower().split("x"))
    if len(parts) != n or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"expected {n} positive sizes like 6x1024x1024")
    return parts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=_size, help="size of the store (3GiB; --quick: 4MiB)")
    parser.add_argument(
        "--memory-limit", type=_size, default=_size("500MiB"), help="per worker (500MiB)"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    parser.add_argument("--grid", help="NYxNX of each time step (2048x2048; --quick: 128x128)")
    parser.add_argument(
        "--store-chunks", help="TxYxX chunks of the store (6x1024x1024, 24 MiB; --quick: 8x64x64)"
    )
    parser.add_argument(
        "--sweep",
        help="memory against chunk size: xgradient runs in the chunks a job picks for these "
        "chunk targets, and a copy, at --sweep-memory-limit, on a --sweep-size store "
        "(8MiB,16MiB,32MiB,64MiB; --quick: none; '' for none)",
    )
    parser.add_argument(
        "--sweep-size", type=_size, help="size of the sweep's store (1GiB; at most --size)"
    )
    parser.add_argument(
        "--sweep-memory-limit",
        type=_size,
        default=_size("2GiB"),
        help="per worker in the sweep: high enough that nothing spills (2GiB)",
    )
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    parser.add_argument("--dir", type=Path, help="where to write the stores (a temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep the stores")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per job (900)")
    parser.add_argument("--no-single", action="store_true", help="skip the 1-worker run")
    args = parser.parse_args(argv)
    args.size = args.size or _size("4MiB" if args.quick else "3GiB")
    args.grid = _shape(args.grid or ("128x128" if args.quick else "2048x2048"), 2)
    args.store_chunks = _shape(args.store_chunks or ("8x64x64" if args.quick else "6x1024x1024"), 3)
    sweep = args.sweep if args.sweep is not None else ("" if args.quick else SWEEP)
    args.sweep = [_size(s) for s in sweep.split(",") if s.strip()]
    args.sweep_size = min(args.size, args.sweep_size or _size("1GiB"))
    return args


def _commit() -> str | None:
    """The checkout's commit, marked ``+changes`` when xgradient/ differs from it."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "xgradient"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return None
    return (head + ("+changes" if changed else "")) or None


def machine() -> dict[str, Any]:
    import dask
    import distributed
    import numba
    import xarray
    import zarr

    import xgradient

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = None
    with contextlib.suppress(Exception):
        import psutil

        memory = psutil.virtual_memory().total
    return {
        "cpu": cpu,
        "commit": _commit(),
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "python": platform.python_version(),
        "versions": {
            m.__name__: getattr(m, "__version__", "?")
            for m in (np, xarray, dask, distributed, zarr, numba, xgradient)
        },
    }


def generate(args: argparse.Namespace, spec: Field, path: Path, scratch: Path, log: Any) -> dict:
    """Write the store on a cluster of the benchmark's shape; the workers' baseline memory."""
    ds = synthetic_dataset(spec)
    print(
        f"[bench] generating {spec.nbytes / GiB:.2f} GiB {dict(ds.sizes)} in "
        f"{spec.chunk_bytes / MiB:.1f} MiB chunks at {path}",
        file=log,
    )
    with local_cluster(args.workers, args.memory_limit, scratch) as (_, client):
        warm = client.run(_warm_xgradient)  # baseline memory; fills numba's disk cache
        start = time.perf_counter()
        delayed = ds.to_zarr(path, mode="w-", compute=False, consolidated=False)
        client.compute(delayed).result()
        seconds = time.perf_counter() - start
        plan = plan_of(path, path.with_name("plan.zarr"), client)
    from xgradient.runner import _du

    return {
        "seconds": seconds,
        "plan": plan,
        "disk_bytes": _du(path),
        "baseline_rss_bare": sorted(w["rss_bare"] for w in warm.values()),
        "baseline_rss_xgradient": sorted(w["rss_warm"] for w in warm.values()),
    }


def run(args: argparse.Namespace, log: Any = None) -> dict[str, Any]:
    """Generate, run every job, return all results (tables are printed by :func:`report`)."""
    log = log or sys.stderr
    spec = field_for(args.size, args.grid, args.store_chunks)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="xgradient-bench-cluster-"))
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / "dask-scratch"
    source = folder / "input.zarr"
    results: dict[str, Any] = {
        "command": "python benchmarks/bench_cluster.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "settings": {
            "workers": args.workers,
            "threads_per_worker": 1,
            "memory_limit": args.memory_limit,
            "store_bytes": spec.nbytes,
            "store_shape": spec.shape,
            "store_chunks": spec.chunks,
            "store_vs_total_limit": spec.nbytes / (args.workers * args.memory_limit),
        },
        "jobs": [],
        "sweep": [],
    }
    common = {
        "memory_limit": args.memory_limit,
        "scratch": scratch,
        "input_bytes": spec.nbytes,
        "timeout": args.timeout,
        "log": log,
    }
    try:
        results["generate"] = generate(args, spec, source, scratch, log)
        out = folder / "xgradient.zarr"
        first = measure("xgradient", xgradient_job(source, out), workers=args.workers, **common)
        results["jobs"].append(first)
        chunks = (
            chosen_chunks(out)
            if first["status"] == "ok"
            else dict(zip(("time", "y", "x"), spec.chunks, strict=True))
        )
        results["settings"]["job_chunks"] = chunks
        results["settings"]["job_chunk_bytes"] = math.prod(chunks.values()) * 4
        codecs = {"xgradient": _zarr_codecs(out, "dt_dy")}
        shutil.rmtree(out, ignore_errors=True)
        for name, make in (("copy", copy_job), ("xarray.differentiate", xarray_job)):
            out = folder / f"{name}.zarr"
            results["jobs"].append(
                measure(name, make(source, out, chunks), workers=args.workers, **common)
            )
            codecs[name] = _zarr_codecs(out, "t_copy_a" if name == "copy" else "dt_dy")
            shutil.rmtree(out, ignore_errors=True)
        results["codecs"] = codecs
        if not args.no_single and args.workers > 1:
            out = folder / "xgradient-1.zarr"
            results["jobs"].append(
                measure("xgradient", xgradient_job(source, out), workers=1, **common)
            )
            shutil.rmtree(out, ignore_errors=True)
        if args.sweep:
            results["sweep"] = sweep_runs(args, spec, source, folder, chunks, common)
    finally:
        if args.keep:
            print(f"[bench] kept {folder}", file=log)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return results


def sweep_runs(
    args: argparse.Namespace,
    spec: Field,
    source: Path,
    folder: Path,
    chunks: dict[str, int],
    common: dict[str, Any],
) -> list[dict[str, Any]]:
    """xgradient in the chunks a job picks for each target, and a copy, without memory pressure.

    The limit is high enough that nothing needs to spill, so the peaks are
    what a worker needs; a smaller store (the same grid and chunks) keeps
    the runs short: a worker's peak depends on its chunks, not on the store.
    """
    from xgradient.job import slab_chunks

    small = field_for(args.sweep_size, args.grid, args.store_chunks)
    if small.shape != spec.shape:
        source = folder / "sweep-input.zarr"
        generate(args, small, source, common["scratch"], common["log"])
    sweep = {**common, "memory_limit": args.sweep_memory_limit, "input_bytes": small.nbytes}
    runs = []
    choices = {
        tuple(slab_chunks(small.shape, 4, target, small.chunks)): target for target in args.sweep
    }
    for shape, target in choices.items():
        sweep_chunks = dict(zip(("time", "y", "x"), shape, strict=True))
        out = folder / "xgradient-sweep.zarr"
        entry = measure(
            "xgradient", xgradient_job(source, out, sweep_chunks), workers=args.workers, **sweep
        )
        entry.update(chunks=sweep_chunks, chunk_bytes=math.prod(shape) * 4, target=target)
        runs.append(entry)
        shutil.rmtree(out, ignore_errors=True)
    # The copy in the job's chunks at the same limit: the ratio without memory pressure.
    out = folder / "copy-sweep.zarr"
    entry = measure("copy", copy_job(source, out, chunks), workers=args.workers, **sweep)
    entry.update(chunks=chunks, chunk_bytes=math.prod(chunks.values()) * 4)
    runs.append(entry)
    shutil.rmtree(out, ignore_errors=True)
    return runs


# -- the tables ---------------------------------------------------------------------------------


def _mib(n: float | None) -> str:
    if n is None:
        return "n/a"
    return f"{n / MiB:,.0f}" if n >= 100 * MiB or n == 0 else f"{n / MiB:.2g}"


def _ratio(a: float | None, b: float | None) -> str:
    return "n/a" if not a or not b else f"{a / b:.2f}"


def _events(job: dict[str, Any]) -> str:
    if "paused" not in job:
        return "n/a"
    paused = "paused" if job["paused"] else "no pause"
    lost = job.get("workers_lost", 0)
    restarted = job.get("restarted", 0)
    return (
        paused
        + (f", {restarted} restarted" if restarted else "")
        + (f", {lost} lost" if lost else "")
    )


def _cpu(job: dict[str, Any]) -> str:
    cpu = job.get("worker_cpu_s")
    return "n/a" if cpu is None else f"{cpu:.0f}"


def _loads(job: dict[str, Any]) -> str:
    """The 1-minute load average before and after the job."""
    before, after = job.get("load_before"), job.get("load_after")
    return "n/a" if before is None or after is None else f"{before:.1f}/{after:.1f}"


def report(results: dict[str, Any], out: Any = None) -> None:
    """Print the tables (Markdown, readable as text) on ``out`` (stdout)."""
    out = out or sys.stdout
    s = results["settings"]
    m = results["machine"]
    limit = s["memory_limit"]
    print(
        f"\nxgradient at {m.get('commit') or '?'}; machine: {m['cpu']}, {m['cores']} cores, "
        f"{_mib(m['memory_bytes'])} MiB; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        file=out,
    )
    gen = results.get("generate", {})
    print(
        f"Store: {s['store_bytes'] / GiB:.2f} GiB float32 {tuple(s['store_shape'])}, "
        f"chunks {tuple(s['store_chunks'])}, {s['store_vs_total_limit']:.1f}x the workers' "
        f"total memory limit ({s['workers']} x {_mib(limit)} MiB); "
        f"{_mib(gen.get('disk_bytes'))} MiB on disk, generated in "
        f"{gen.get('seconds', float('nan')):.1f} s",
        file=out,
    )
    if "job_chunks" in s:
        print(f"Job chunks: {s['job_chunks']} ({s['job_chunk_bytes'] / MiB:.0f} MiB)", file=out)
    if gen.get("baseline_rss_bare"):
        print(
            f"Worker baseline RSS: {', '.join(map(_mib, gen['baseline_rss_bare']))} MiB bare, "
            f"{', '.join(map(_mib, gen['baseline_rss_xgradient']))} MiB with xgradient "
            "and its numba kernel loaded",
            file=out,
        )
    jobs = results["jobs"]
    copy = next((j for j in jobs if j["job"] == "copy"), None)
    copy_rate = copy.get("throughput") if copy else None
    print(
        "\n| job | workers | wall s | MiB/s | vs copy | peak RSS per worker (MiB) "
        "| limit MiB | spilled MiB | paused / restarted | worker CPU s | load | result |",
        file=out,
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|", file=out)
    for j in jobs:
        wall = "n/a" if j.get("wall_s") is None else f"{j['wall_s']:.1f}"
        print(
            f"| {j['job']} | {j['workers']} | {wall} | {_mib(j.get('throughput'))} "
            f"| {_ratio(j.get('throughput'), copy_rate)} "
            f"| {', '.join(map(_mib, j.get('peak_rss', []))) or 'n/a'} | {_mib(limit)} "
            f"| {_mib(j.get('spilled_bytes'))} | {_events(j)} | {_cpu(j)} | {_loads(j)} "
            f"| {j['status']} |",
            file=out,
        )
    xg = [j for j in jobs if j["job"] == "xgradient" and j.get("throughput")]
    main = next((j for j in xg if j["workers"] == s["workers"]), None)
    single = next((j for j in xg if j["workers"] == 1), None)
    ratio = main["throughput"] / copy_rate if main and copy_rate else None
    verdict = "n/a" if ratio is None else ("PASS" if ratio >= TARGET_VS_COPY else "FAIL")
    print(
        f"\nxgradient / copy throughput: {'n/a' if ratio is None else f'{ratio:.2f}'} "
        f"(target >= {TARGET_VS_COPY}): {verdict}",
        file=out,
    )
    if main and single and main is not single:
        speedup = main["throughput"] / single["throughput"]
        print(
            f"Scaling 1 -> {main['workers']} workers (xgradient): {speedup:.2f}x "
            f"({_mib(single['throughput'])} -> {_mib(main['throughput'])} MiB/s, "
            f"{speedup / main['workers']:.0%} efficiency)",
            file=out,
        )
    rows = results["sweep"]
    if rows:
        sweep_copy = next((j for j in rows if j["job"] == "copy"), None)
        sweep_rate = sweep_copy.get("throughput") if sweep_copy else None
        print(
            f"\nMemory against chunk size: a {rows[0]['input_bytes'] / GiB:.2f} GiB store, "
            f"{rows[0]['workers']} workers of {_mib(rows[0]['memory_limit'])} MiB "
            "(so that nothing needs to spill):\n"
            "\n| job | chunks (time x y x x) | chunk MiB | wall s | MiB/s | vs copy "
            "| peak RSS per worker (MiB) | spilled MiB | paused / restarted | worker CPU s | load "
            "| result |",
            file=out,
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|", file=out)
        for j in rows:
            wall = "n/a" if j.get("wall_s") is None else f"{j['wall_s']:.1f}"
            chunks = "x".join(str(c) for c in j["chunks"].values())
            print(
                f"| {j['job']} | {chunks} | {j['chunk_bytes'] / MiB:.0f} | {wall} "
                f"| {_mib(j.get('throughput'))} | {_ratio(j.get('throughput'), sweep_rate)} "
                f"| {', '.join(map(_mib, j.get('peak_rss', [])))} "
                f"| {_mib(j.get('spilled_bytes'))} | {_events(j)} | {_cpu(j)} | {_loads(j)} "
                f"| {j['status']} |",
                file=out,
            )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print its tables; return its results.

    Imported rather than run as a script, this module must be importable by
    name on the workers (the functions its tasks call are pickled by
    reference): put ``benchmarks/`` on ``sys.path`` before starting, as the
    smoke test does; spawned workers inherit it.
    """
    args = parse_args(argv)
    with warnings.catch_warnings():
        # zarr 3 on consolidated metadata (xgradient consolidates its outputs)
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        results = run(args)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
        print(f"\n[bench] results written to {args.json}", file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
