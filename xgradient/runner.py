"""Run a job end to end: open, check, plan, compute on a cluster, write, report.

The command line's ``run`` and ``demo`` both come here, so the demo runs
exactly the code path of a real job.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import xarray as xr

from .cluster import ClusterSpec, ProgressDisplay, connect, worker_memory
from .job import (
    CHUNKS_PER_THREAD,
    SPILL_WARNING,
    WORKER_BASELINE,
    JobError,
    JobOptions,
    build_output,
    choose_chunks,
    describe,
    expand_inputs,
    format_bytes,
    input_fingerprint,
    largest_chunk,
    open_input,
    peak_memory,
    select_variables,
)
from .store import Progress, check_paths, load_record, write

__all__ = ["JobResult", "chunk_target", "run_job"]

#: Chunk targets stay within these bounds whatever the workers' memory.
MIN_CHUNK_BYTES = 4 * 2**20
MAX_CHUNK_BYTES = 128 * 2**20


@dataclass(frozen=True)
class JobResult:
    """What a finished job did: sizes in bytes and its wall time in seconds."""

    output: Path
    variables: tuple[str, ...]
    read_bytes: int
    written_bytes: int
    disk_bytes: int
    seconds: float

    def summary(self) -> str:
        rate = self.read_bytes / self.seconds if self.seconds > 0 else math.inf
        return (
            f"xgradient: wrote {len(self.variables)} variable(s) to {self.output}: "
            f"read {format_bytes(self.read_bytes)}, wrote {format_bytes(self.written_bytes)} "
            f"({format_bytes(self.disk_bytes)} on disk) in {self.seconds:.1f} s, "
            f"{format_bytes(rate)}/s"
        )


def chunk_target(memory_limit: int, threads: int) -> int:
    """Bytes per input chunk for workers of ``memory_limit`` bytes and ``threads`` threads.

    ``distributed`` starts spilling to disk at 70% of a worker's limit, and a
    worker first needs its own footprint (:data:`WORKER_BASELINE`: Python,
    Dask and numba with LLVM).  At its peak a worker of the benchmark jobs
    held about :data:`CHUNKS_PER_THREAD` input chunks per thread (the chunk
    being read, its halos' neighbours, outputs being compressed and
    written: docs/performance.md), so the target is what fits below 60% of
    the limit.

    Examples
    --------
    >>> chunk_target(2 * 2**30, 1) // 2**20
    92
    >>> chunk_target(8 * 2**30, 4) // 2**20
    115
    >>> chunk_target(500 * 2**20, 1) // 2**20  # the floor
    4
    """
    if memory_limit <= 0:  # no limit set on the workers
        return MAX_CHUNK_BYTES // 2
    room = int(0.6 * memory_limit) - WORKER_BASELINE
    share = room // max(threads, 1) // CHUNKS_PER_THREAD
    return int(min(MAX_CHUNK_BYTES, max(MIN_CHUNK_BYTES, share)))


def _recorded_chunks(output: Path) -> dict[str, Any] | None:
    """The chunks an interrupted run of this output chose, so a resume reuses them."""
    record = load_record(output)
    return None if record is None else record.get("job", {}).get("chunks_chosen")


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum((Path(root) / f).stat().st_size for root, _, files in os.walk(path) for f in files)


def run_job(
    sources: Sequence[str],
    output: str | Path,
    options: JobOptions,
    cluster: ClusterSpec | Any = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    dry_run: bool = False,
    progress: bool | Progress = True,
    log: TextIO | None = None,
    out: TextIO | None = None,
) -> JobResult | None:
    """Differentiate the variables of ``sources`` and write them to ``output``.

    Parameters
    ----------
    sources
        A zarr store, a netCDF file, or several netCDF files or glob
        patterns (combined by coordinates).
    output
        A zarr store (``*.zarr``) or a netCDF file (``*.nc``) to create.
    options
        What to differentiate and how.
    cluster
        A :class:`~xgradient.cluster.ClusterSpec` (a scheduler address or the
        shape of a local cluster to start), or a ``distributed.Client`` to
        use as it is.
    overwrite, resume, dry_run, progress
        Replace an existing output (only once the new one is complete);
        continue an interrupted run; print the plan without computing; show
        progress on ``log`` (or call ``progress(done, total, bytes_done,
        bytes_total)`` as regions finish).

    Returns
    -------
    JobResult or None
        ``None`` for a dry run.

    Examples
    --------
    >>> import tempfile, pathlib, io
    >>> import numpy as np, xarray as xr
    >>> from distributed import Client
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> source = xr.Dataset({"t": ("x", np.arange(6.0) ** 2)})
    >>> _ = source.to_zarr(tmp / "in.zarr", consolidated=False)
    >>> with Client(processes=False, dashboard_address=":0") as client:
    ...     result = run_job([str(tmp / "in.zarr")], tmp / "out.zarr",
    ...                      JobOptions(dims=("x",)), client, log=io.StringIO())
    >>> xr.open_zarr(tmp / "out.zarr")["dt_dx"].values
    array([1., 2., 4., 6., 8., 9.])
    """
    log, out = log or sys.stderr, out or sys.stdout
    output = Path(output)
    inputs = expand_inputs(sources)
    fmt = check_paths(inputs, output, overwrite=overwrite, resume=resume)
    if resume and fmt != "zarr":
        raise JobError("--resume needs a zarr output (netCDF files are written whole)", usage=True)
    ds = open_input(inputs)
    try:
        selected = select_variables(ds, options)
        local = cluster is None or (isinstance(cluster, ClusterSpec) and cluster.scheduler is None)
        if local:
            # Plan before starting a cluster: every error in the options is
            # reported at once, without the cost (and the output) of a start.
            workers, threads, memory = (cluster or ClusterSpec()).local_shape()
            shape = (memory, threads, workers * threads)
            chunked, plan = _plan(selected, options, output, resume, *shape)
            if dry_run:
                print("\n".join(describe(chunked, plan, options, threads, memory)), file=out)
                return None
        with _client(cluster, log) as client:
            if not local:
                memory, threads, total = worker_memory(client)
                chunked, plan = _plan(selected, options, output, resume, memory, threads, total)
                if dry_run:
                    print("\n".join(describe(chunked, plan, options, threads, memory)), file=out)
                    return None
            peak = peak_memory(largest_chunk(chunked), threads)
            if 0 < memory < peak / 0.7:
                print(f"xgradient: {SPILL_WARNING} (about {format_bytes(peak)} a worker)", file=log)
            job = {
                **options.as_record(),
                "input": [str(p.resolve()) for p in inputs],
                "input_data": input_fingerprint(inputs) if fmt == "zarr" else None,
                "chunks_chosen": _chunks_of(chunked),
            }
            start = time.perf_counter()
            display = ProgressDisplay(log) if progress is True else (progress or None)
            write(
                plan,
                output,
                fmt,
                job=job,
                client=client,
                overwrite=overwrite,
                resume=resume,
                progress=display,
            )
            seconds = time.perf_counter() - start
    finally:
        ds.close()
    result = JobResult(
        output=output,
        variables=tuple(map(str, plan.data_vars)),
        read_bytes=int(sum(v.nbytes for v in selected.data_vars.values())),
        written_bytes=int(sum(v.nbytes for v in plan.data_vars.values())),
        disk_bytes=_du(output),
        seconds=seconds,
    )
    print(result.summary(), file=log)
    return result


def _plan(
    selected: xr.Dataset,
    options: JobOptions,
    output: Path,
    resume: bool,
    memory: int,
    threads: int,
    total_threads: int,
) -> tuple[xr.Dataset, xr.Dataset]:
    """The chunked input and the lazy output (resumed runs reuse the recorded chunks)."""
    recorded = _recorded_chunks(output) if resume else None
    if recorded is not None and not options.chunks:
        # Resume in the chunks the interrupted run chose (its cluster may
        # have had other memory limits): its regions are the ones recorded.
        chunked = selected.assign(
            {
                name: var.chunk(dict(zip(var.dims, recorded[name], strict=True)))
                for name, var in selected.data_vars.items()
                if name in recorded
            }
        )
    else:
        # distributed restarts a worker at 95% of its limit: below this, no
        # chunking can run (a job would hang in pauses or die in restarts).
        if 0 < memory < (WORKER_BASELINE + CHUNKS_PER_THREAD * MIN_CHUNK_BYTES * threads) / 0.95:
            raise JobError(
                f"workers with {format_bytes(memory)} of memory cannot run the job: each "
                f"needs about {format_bytes(WORKER_BASELINE)} for Python, Dask and numba, plus "
                "room for its chunks; give a larger --memory-limit",
                usage=True,
            )
        # Small inputs: at least a few chunks per thread of the cluster, so
        # that every thread has work and progress is more than one step.
        largest = max(v.nbytes for v in selected.data_vars.values())
        spread = max(MIN_CHUNK_BYTES, largest // (4 * max(total_threads, 1)))
        target = min(chunk_target(memory, threads), spread)
        chunked = choose_chunks(selected, replace(options, chunk_bytes=target))
    return chunked, build_output(chunked, options)


def _chunks_of(chunked: xr.Dataset) -> dict[str, list[int]]:
    """Each source variable's chunk size per dim (the first chunk), for the record."""
    return {
        str(name): [int(c[0]) if c else 0 for c in var.chunks]
        for name, var in chunked.data_vars.items()
    }


def _client(cluster: Any, log: TextIO) -> contextlib.AbstractContextManager[Any]:
    """A client given as it is, or one connected from a :class:`ClusterSpec`."""
    if cluster is None or isinstance(cluster, ClusterSpec):
        return connect(cluster or ClusterSpec(), log)
    return contextlib.nullcontext(cluster)
