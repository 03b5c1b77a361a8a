"""Writing a job's output so that no data is ever lost.

* The output is written under a hidden name beside ``OUTPUT``
  (``.OUTPUT.xgradient-partial``) and renamed into place only when it is
  complete, so ``OUTPUT`` is never a half-written result that looks whole.
* An existing ``OUTPUT`` is replaced only with ``overwrite=True`` and only
  after the new one is complete; an output that is the input, inside it or
  around it is refused, as is overwriting anything that is not a store of
  the output's format.
* A zarr output is written in *regions* (runs of whole chunks along each
  variable's first dim, :func:`plan_regions`).  A record inside the partial
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


def _old_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.xgradient-old")


def check_paths(inputs: Sequence[Path], output: Path, *, overwrite: bool) -> Format:
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
    if output.exists() or output.is_symlink():
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
    old = _old_path(output)
    if old.exists():
        raise JobError(
            f"{str(old)!r} holds the output an earlier run was replacing when it stopped; "
            "move it back or delete it first",
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
    """A run of whole chunks of one variable along its first dim."""

    variable: str
    dim: str
    start: int
    stop: int

    @property
    def key(self) -> str:
        return f"{self.variable}[{self.dim}={self.start}:{self.stop}]"


def plan_regions(out: xr.Dataset) -> list[Region]:
    """Split every variable of ``out`` into regions of whole chunks along its first dim.

    Examples
    --------
    >>> ds = xr.Dataset({"a": (("t", "x"), [[1.0, 2.0]] * 5)}).chunk(t=2)
    >>> [r.key for r in plan_regions(ds)]
    ['a[t=0:2]', 'a[t=2:4]', 'a[t=4:5]']
    """
    regions = []
    for name, var in out.data_vars.items():
        dim = str(var.dims[0])
        chunks = var.chunks[0] if var.chunks else (var.shape[0],)
        per_region = -(-len(chunks) // MAX_REGIONS_PER_VARIABLE)
        start = 0
        for i in range(0, len(chunks), per_region):
            stop = start + sum(chunks[i : i + per_region])
            regions.append(Region(str(name), dim, start, stop))
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
    return [f"{k} was {old.get(k)!r}, now {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


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
        if record is None:
            raise JobError(
                f"{str(partial)!r} exists and is not a partial output of xgradient; remove it first"
            )
        if not overwrite:
            raise JobError(
                f"an interrupted run left {str(partial)!r}: pass --resume to continue it, "
                "or --overwrite to start again"
            )
        shutil.rmtree(partial)
        record_path(output).unlink(missing_ok=True)
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
            piece = out[[region.variable]].isel({region.dim: slice(region.start, region.stop)})
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
    var = out[region.variable]
    return var.nbytes * (region.stop - region.start) // max(var.shape[0], 1)


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
    """Rename the complete ``partial`` to ``output``; an old output goes only after."""
    if output.exists() or output.is_symlink():
        if not overwrite:
            raise JobError(
                f"output {str(output)!r} appeared while the job ran; the result is kept "
                f"at {str(partial)!r}"
            )
        old = _old_path(output)
        os.replace(output, old)
        os.replace(partial, output)
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()
    else:
        os.replace(partial, output)
    # The record goes last: until the store is in place, it marks a run to resume.
    record_path(output).unlink(missing_ok=True)


@contextlib.contextmanager
def quiet_zarr() -> Iterator[None]:
    # zarr 3 warns that consolidated metadata is not (yet) in the v3 spec;
    # xarray reads it, and writing it spares readers a slower, warning open.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*Zarr V3 specification", category=UserWarning)
        yield
