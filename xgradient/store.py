"""Writing a job's output so that no data is ever lost.

* The output is written under a hidden name beside ``OUTPUT``
  (``.OUTPUT.xgradient-partial``) and renamed into place only when it is
  complete, so ``OUTPUT`` is never a half-written result that looks whole.
* An existing ``OUTPUT`` is replaced only with ``overwrite=True`` and only
  after the new one is complete; an output that is the input, inside it or
  around it is refused, as is overwriting anything that is not a store of
  the output's format.
* A zarr output is written in *regions* (runs of whole chunks along the
  variables' most-chunked dim, all the variables chunked alike along it
  together, :func:`plan_regions`).  A record inside the partial
  store lists the regions finished so far and the options of the job; it is
  replaced atomically after each region, so a run that is killed, preempted
  or interrupted can be continued with ``resume=True``: only regions not yet
  recorded are computed, and the result is identical to an uninterrupted
  run's (region writes are deterministic and whole).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import xarray as xr

from .job import JobError, has_zarr_metadata, is_zarr_store

__all__ = [
    "Region",
    "check_paths",
    "load_record",
    "output_format",
    "partial_path",
    "plan_regions",
    "quiet_zarr",
    "write",
]

Format = Literal["zarr", "netcdf"]
#: At most this many regions per variable: bounds the per-region overhead
#: (a zarr region write is ~10 ms of graph building) for archives of 10^5
#: chunks, while leaving a resume little to redo.
MAX_REGIONS_PER_VARIABLE = 64
NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".cdf", ".h5", ".hdf5")

Progress = Callable[[int, int, int, int], None]


def output_format(path: Path) -> Format:
    """The output's format, from its name (or what already exists there)."""
    if path.suffix == ".zarr" or is_zarr_store(path):
        return "zarr"
    if path.suffix.lower() in NETCDF_SUFFIXES:
        return "netcdf"
    raise JobError(
        f"cannot tell the output format from {str(path)!r}: name it *.zarr (a zarr store, "
        "for large jobs) or *.nc (a netCDF file)",
        usage=True,
    )


def partial_path(output: Path) -> Path:
    """Where ``output`` is written until it is complete: a hidden name beside it."""
    return output.with_name(f".{output.name}.xgradient-partial")


def record_path(output: Path) -> Path:
    """The record of an unfinished run of ``output``: beside its partial store."""
    return output.with_name(f".{output.name}.xgradient-job.json")


def _trash_path(output: Path) -> Path:
    """Where a replaced output waits to be deleted (after the new one is in place)."""
    return output.with_name(f".{output.name}.xgradient-trash")


def _lock_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.xgradient-lock")


@contextlib.contextmanager
def exclusive(output: Path) -> Iterator[None]:
    """Hold an exclusive lock on writing ``output`` for the whole job.

    A second run to the same output (a resubmitted batch job, say) must not
    delete or rename the first one's partial store under it.  ``flock`` is
    released by the kernel when a process dies, even by SIGKILL, so a lock
    is never stale; the lock file is removed when the job ends.  (``flock``
    spans nodes on file systems that support it, e.g. Lustre with the
    ``flock`` mount option, NFSv4.)
    """
    import fcntl

    path = _lock_path(output)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise JobError(
                f"another xgradient run ({holder}) is writing {str(output)!r}; wait for it "
                "to finish or stop it first"
            ) from None
        # The lock file may have been removed (and another created) between
        # our open and our lock: then this lock protects nothing; try again.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def check_paths(
    inputs: Sequence[Path], output: Path, *, overwrite: bool, resume: bool = False
) -> Format:
    """Refuse outputs that would lose data; return the output's format."""
    fmt = output_format(output)
    target = output.resolve()
    for path in inputs:
        source = path.resolve()
        if target == source or source in target.parents:
            raise JobError(f"output {str(output)!r} is the input or inside it", usage=True)
        if target in source.parents:
            raise JobError(f"output {str(output)!r} contains the input {str(path)!r}", usage=True)
    if not output.parent.is_dir():
        raise JobError(f"output directory {str(output.parent)!r} does not exist", usage=True)
    if not os.access(output.parent, os.W_OK | os.X_OK):
        raise JobError(f"output directory {str(output.parent)!r} is not writable", usage=True)
    if output.is_symlink():
        raise JobError(
            f"output {str(output)!r} is a symbolic link; give the path it points to", usage=True
        )
    if output.exists():
        if not overwrite:
            raise JobError(
                f"output {str(output)!r} exists; pass --overwrite to replace it", usage=True
            )
        if not _is_replaceable(output, fmt):
            raise JobError(
                f"refusing to overwrite {str(output)!r}: it is not a {fmt} "
                f"{'store' if fmt == 'zarr' else 'file'}",
                usage=True,
            )
    trash = _trash_path(output)
    if trash.exists():
        raise JobError(
            f"{str(trash)!r} is a previous output that a finished run was deleting when it "
            "stopped; delete it first",
        )
    if partial_path(output).exists() and not (resume or overwrite):
        raise JobError(
            f"an interrupted run left {str(partial_path(output))!r}: pass --resume to "
            "continue it, or --overwrite to start again",
            usage=True,
        )
    return fmt


def _is_replaceable(path: Path, fmt: Format) -> bool:
    """Whether ``path`` holds a store of ``fmt`` (by its metadata, not its name)."""
    if path.is_symlink():
        return False
    if fmt == "zarr":
        return has_zarr_metadata(path)
    if not path.is_file():
        return False
    with path.open("rb") as f:
        magic = f.read(8)
    return magic[:3] == b"CDF" or magic == b"\x89HDF\r\n\x1a\n"


# -- regions and the record ---------------------------------------------------


@dataclass(frozen=True)
class Region:
    """A run of whole chunks along one dim, of the variables written together."""

    variables: tuple[str, ...]
    dim: str
    start: int
    stop: int

    @property
    def key(self) -> str:
        return f"{','.join(self.variables)}[{self.dim}={self.start}:{self.stop}]"


def plan_regions(out: xr.Dataset) -> list[Region]:
    """Split the variables into regions of whole chunks along their most-chunked dim.

    Variables with the same chunks along that dim (the derivatives of one
    input along several dims, say) share their regions: one region writes
    them all from one graph, so each input chunk is read once, not once per
    derivative.

    Examples
    --------
    >>> ds = xr.Dataset({"a": (("t", "x"), [[1.0, 2.0]] * 5)}).chunk(t=2)
    >>> [r.key for r in plan_regions(ds.assign(b=ds.a))]
    ['a,b[t=0:2]', 'a,b[t=2:4]', 'a,b[t=4:5]']
    """
    groups: dict[tuple[str, tuple[int, ...]], list[str]] = {}
    for name, var in out.data_vars.items():
        # Along the dim with the most chunks: finest progress and resume.
        sizes = var.chunks or tuple((n,) for n in var.shape)
        axis = max(range(var.ndim), key=lambda i: len(sizes[i]))
        groups.setdefault((str(var.dims[axis]), tuple(sizes[axis])), []).append(str(name))
    regions = []
    for (dim, chunks), names in groups.items():
        per_region = -(-len(chunks) // MAX_REGIONS_PER_VARIABLE)
        start = 0
        for i in range(0, len(chunks), per_region):
            stop = start + sum(chunks[i : i + per_region])
            regions.append(Region(tuple(names), dim, start, stop))
            start = stop
    return regions


def load_record(output: Path) -> dict[str, Any] | None:
    """The record of an unfinished run of ``output``, if there is a readable one."""
    try:
        return json.loads(record_path(output).read_text())
    except (OSError, ValueError):
        return None


def _save_record(output: Path, record: dict[str, Any]) -> None:
    """Replace the record atomically: a crash leaves the old record or the new one."""
    path = record_path(output)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [
        "the input's files changed since then"
        if k == "input_data"
        else f"{k} was {old.get(k)!r}, now {new.get(k)!r}"
        for k in keys
        if old.get(k) != new.get(k)
    ]


# -- writing ------------------------------------------------------------------------


def write(
    out: xr.Dataset,
    output: Path,
    fmt: Format,
    *,
    job: dict[str, Any],
    client: Any,
    overwrite: bool = False,
    resume: bool = False,
    progress: Progress | None = None,
) -> None:
    """Compute ``out`` on ``client`` and write it to ``output``, atomically.

    ``job`` identifies the job (its options and input); a resume with a
    different ``job`` is refused, naming what differs.  ``progress(done,
    total, bytes_done, bytes_total)`` is called as regions finish.
    """
    partial = partial_path(output)
    with exclusive(output):
        if fmt == "zarr":
            _write_zarr(out, output, job, client, overwrite, resume, progress)
        else:
            if resume:
                raise JobError("--resume needs a zarr output (netCDF files are written whole)")
            _write_netcdf(out, partial, client, progress)
        _move_into_place(partial, output, overwrite)


def _write_zarr(
    out: xr.Dataset,
    output: Path,
    job: dict[str, Any],
    client: Any,
    overwrite: bool,
    resume: bool,
    progress: Progress | None,
) -> None:
    partial = partial_path(output)
    # Region writes carry data variables only: coordinates are written with
    # the template, so lazy ones (read from the input) are loaded first.
    out = out.assign_coords(
        {name: coord.load() for name, coord in out.coords.items() if coord.chunks is not None}
    )
    regions = plan_regions(out)
    record = load_record(output) if partial.exists() else None
    if partial.exists() and not (resume and record is not None):
        if not overwrite:
            # A run stopped while writing the template, before its record.
            raise JobError(
                f"an interrupted run left {str(partial)!r} before it had written anything "
                "to resume; pass --overwrite to start again"
            )
        record_path(output).unlink(missing_ok=True)
        shutil.rmtree(partial)
        record = None
    if record is not None:
        differ = _differences(record["job"], job)
        if differ:
            raise JobError(
                "cannot resume: the interrupted run had other options (" + "; ".join(differ) + ")",
                usage=True,
            )
        if sorted(record["regions"]) != sorted(r.key for r in regions):
            raise JobError("cannot resume: the interrupted run planned other regions", usage=True)
    else:
        record = {"job": job, "regions": [r.key for r in regions], "done": []}
        with quiet_zarr():
            out.to_zarr(partial, mode="w-", compute=False, consolidated=False)
        _save_record(output, record)
    done = set(record["done"])
    todo = [r for r in regions if r.key not in done]
    _run_regions(out, output, regions, todo, record, client, progress)
    with quiet_zarr():
        import zarr

        zarr.consolidate_metadata(str(partial))


def _run_regions(
    out: xr.Dataset,
    output: Path,
    regions: list[Region],
    todo: list[Region],
    record: dict[str, Any],
    client: Any,
    progress: Progress | None,
) -> None:
    from distributed import as_completed

    partial = partial_path(output)
    nbytes = {r.key: _region_bytes(out, r) for r in regions}
    total_bytes = sum(nbytes.values())
    done_bytes = sum(nbytes[k] for k in record["done"])
    if progress:
        progress(len(record["done"]), len(regions), done_bytes, total_bytes)
    writes = []
    with quiet_zarr():
        for region in todo:
            piece = out[list(region.variables)].isel({region.dim: slice(region.start, region.stop)})
            piece = piece.drop_vars(list(piece.coords))
            writes.append(
                piece.to_zarr(
                    partial,
                    region={region.dim: slice(region.start, region.stop)},
                    compute=False,
                    consolidated=False,
                )
            )
    futures = client.compute(writes)
    by_future = dict(zip(futures, todo, strict=True))
    try:
        for future in as_completed(futures):
            future.result()  # raises the task's error, if any
            region = by_future[future]
            record["done"].append(region.key)
            _save_record(output, record)
            done_bytes += nbytes[region.key]
            if progress:
                progress(len(record["done"]), len(regions), done_bytes, total_bytes)
    finally:
        client.cancel(futures)


def _region_bytes(out: xr.Dataset, region: Region) -> int:
    return sum(
        out[name].nbytes * (region.stop - region.start) // max(out.sizes[region.dim], 1)
        for name in region.variables
    )


def _write_netcdf(out: xr.Dataset, partial: Path, client: Any, progress: Progress | None) -> None:
    from distributed import wait

    if partial.exists():
        partial.unlink()  # never a complete result: netCDF files are written whole
    encoding = {name: {"zlib": True, "complevel": 4, "shuffle": True} for name in out.data_vars}
    total = int(sum(v.nbytes for v in out.data_vars.values()))
    if progress:
        progress(0, 1, 0, total)
    try:
        delayed = out.to_netcdf(partial, compute=False, encoding=encoding)
        future = client.compute(delayed)
        wait(future)
        future.result()
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    if progress:
        progress(1, 1, total, total)


def _move_into_place(partial: Path, output: Path, overwrite: bool) -> None:
    """Rename the complete ``partial`` to ``output``; an old output goes only after.

    The renames run with SIGINT and SIGTERM held back, so the output is
    always the old one or the new one, with the record gone once the new one
    is in place.  Deleting the old output (minutes for a large store) can
    be interrupted: it is then left under a name that says it is trash.
    """
    trash = _trash_path(output)
    with _signals_held():
        if output.exists() or output.is_symlink():
            if not overwrite:
                raise JobError(
                    f"output {str(output)!r} appeared while the job ran; the result is kept "
                    f"at {str(partial)!r}"
                )
            os.replace(output, trash)
        os.replace(partial, output)
        # Until the store is in place, the record marks a run to resume.
        record_path(output).unlink(missing_ok=True)
    if not trash.exists():
        return
    try:
        if trash.is_dir():
            shutil.rmtree(trash)
        else:
            trash.unlink()
    except KeyboardInterrupt:
        raise JobError(
            f"interrupted after {str(output)!r} was complete and in place; the previous "
            f"output is partly deleted at {str(trash)!r}: delete the rest"
        ) from None


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Delay SIGINT and SIGTERM until the block is done (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            raise KeyboardInterrupt


@contextlib.contextmanager
def quiet_zarr() -> Iterator[None]:
    # zarr 3 warns that consolidated metadata is not (yet) in the v3 spec;
    # xarray reads it, and writing it spares readers a slower, warning open.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*Zarr V3 specification", category=UserWarning)
        yield
