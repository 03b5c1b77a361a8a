"""A batch job: which store to read, which derivatives to write, in which chunks.

This module turns a job's options into the lazy :class:`xarray.Dataset` to
write (:func:`build_output`) and describes it without computing anything
(:func:`describe`).  Where it is written, atomically and resumably, is
:mod:`xgradient.store`'s business; which cluster computes it,
:mod:`xgradient.cluster`'s.  The command line (:mod:`xgradient.cli`) only
parses arguments into a :class:`JobOptions` and calls these.
"""

from __future__ import annotations

import glob
import math
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .core import gradient, second_derivative

__all__ = [
    "JobError",
    "JobOptions",
    "build_output",
    "choose_chunks",
    "describe",
    "format_bytes",
    "has_zarr_metadata",
    "is_zarr_store",
    "open_input",
    "output_name",
]

#: What ``pip`` needs to read and write files, named in error messages.
IO_EXTRA = 'pip install "xgradient[io]"'


class JobError(Exception):
    """A problem with the job as given: reported on one line, never a traceback.

    ``usage`` marks errors in the arguments themselves (exit code 2, as
    argparse uses) as opposed to failures while running (exit code 1).
    """

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class JobOptions:
    """What to differentiate and how: everything that decides the output's values.

    Two runs with equal options on the same input write identical stores,
    which is what lets ``--resume`` continue one with the other.
    """

    dims: tuple[str, ...]
    variables: tuple[str, ...] | None = None
    second: bool = False
    edge_order: int = 1
    accuracy: int = 2
    boundary: str | tuple[tuple[str, str], ...] = "edge"
    period: tuple[tuple[str, float], ...] = ()
    datetime_unit: str | None = None
    chunks: tuple[tuple[str, int], ...] = ()
    dtype: str | None = None
    chunk_bytes: int = field(default=64 * 2**20)

    def as_record(self) -> dict[str, Any]:
        """The options as JSON-able values (what a resume compares)."""
        record = asdict(self)
        del record["chunk_bytes"]  # a target, not a choice: the chunks chosen are recorded
        for key, value in record.items():
            if isinstance(value, tuple):
                record[key] = [list(v) if isinstance(v, tuple) else v for v in value]
        return record


def format_bytes(n: float) -> str:
    """Bytes in binary units, as Dask prints them.

    Examples
    --------
    >>> format_bytes(3 * 2**30)
    '3.00 GiB'
    """
    from dask.utils import format_bytes as dask_format

    return dask_format(int(n))


def output_name(var: Hashable, dim: Hashable, second: bool) -> str:
    """The name of a derivative in the output: ``d<var>_d<dim>`` or ``d2<var>_d<dim>2``.

    Examples
    --------
    >>> output_name("t", "lat", second=False), output_name("t", "lon", second=True)
    ('dt_dlat', 'd2t_dlon2')
    """
    return f"d2{var}_d{dim}2" if second else f"d{var}_d{dim}"


# -- the input ---------------------------------------------------------------


def has_zarr_metadata(path: Path) -> bool:
    """Whether the folder ``path`` holds zarr (v2 or v3) metadata."""
    return path.is_dir() and any(
        (path / marker).exists() for marker in ("zarr.json", ".zgroup", ".zmetadata", ".zarray")
    )


def is_zarr_store(path: Path) -> bool:
    """Whether ``path`` is (or, by its ``.zarr`` name, is meant as) a zarr store."""
    return (path.suffix == ".zarr" and not path.is_file()) or has_zarr_metadata(path)


def expand_inputs(sources: Sequence[str]) -> list[Path]:
    """The input paths: each source as given, or the files its glob pattern matches."""
    paths: list[Path] = []
    for source in sources:
        if Path(source).exists():  # a literal name, even with [ or * in it
            paths.append(Path(source))
        elif glob.has_magic(source):
            matched = sorted(glob.glob(source))
            if not matched:
                raise JobError(f"input pattern {source!r} matches no file", usage=True)
            paths.extend(Path(m) for m in matched)
        else:
            raise JobError(f"input {source!r} does not exist", usage=True)
    return paths


def input_fingerprint(paths: Sequence[Path]) -> str:
    """A digest of the input files' names, sizes and modification times.

    A resume must not combine regions computed from one version of the input
    with regions computed from another: a store regenerated with the same
    shape would pass every other check.  Metadata documents are hashed by
    content, data files by size and mtime (reading terabytes to hash them
    would cost as much as the job).
    """
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            stat = file.stat()
            digest.update(f"{file.relative_to(path.parent)}:{stat.st_size}:".encode())
            if file.name in ("zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata"):
                digest.update(file.read_bytes())
            else:
                digest.update(str(stat.st_mtime_ns).encode())
    return digest.hexdigest()[:16]


def open_input(paths: Sequence[Path]) -> xr.Dataset:
    """Open a zarr store, a netCDF file or several netCDF files lazily.

    Nothing is read but metadata and index coordinates.  A single store or
    file is opened without Dask: :func:`choose_chunks` then makes each Dask
    chunk read its own region of the file.  Opening in the stored chunks and
    rechunking instead would cut the job's chunks as *views* of the stored
    ones, each pinning its whole stored chunk in a worker's memory while
    Dask counts only the piece (the cause of heavy spilling measured with
    24 MiB stored chunks cut into 4 MiB ones).  Several files are opened as
    one Dask chunk per file, combined by coordinates.
    """
    try:
        if len(paths) == 1 and is_zarr_store(paths[0]):
            return _open_zarr(paths[0])
        if any(is_zarr_store(p) for p in paths):
            raise JobError("several inputs must all be netCDF files, not zarr stores", usage=True)
        if len(paths) == 1:
            return xr.open_dataset(paths[0], chunks=None)
        return xr.open_mfdataset(paths, combine="by_coords", chunks={}, parallel=False)
    except JobError:
        raise
    except ImportError as err:
        raise JobError(
            f"cannot read {paths[0]}: {err}; install the I/O extra: {IO_EXTRA}"
        ) from None
    except (OSError, ValueError, TypeError, KeyError) as err:
        what = _one_line(err)
        if "did not find a match" in what:
            what = "not a netCDF file or zarr store that xarray can read"
            if not _has_netcdf_engine():
                what += f" (no netCDF library is installed: {IO_EXTRA})"
        raise JobError(f"cannot open {', '.join(map(str, paths))}: {what}") from None


def _has_netcdf_engine() -> bool:
    import importlib.util

    return any(importlib.util.find_spec(m) for m in ("netCDF4", "h5netcdf"))


def _open_zarr(path: Path) -> xr.Dataset:
    try:
        import zarr  # noqa: F401
    except ImportError:
        raise JobError(f"reading zarr stores needs zarr; {IO_EXTRA}") from None
    consolidated = (path / ".zmetadata").exists() or _has_v3_consolidated(path)
    return xr.open_zarr(path, chunks=None, consolidated=consolidated or False)


def _has_v3_consolidated(path: Path) -> bool:
    meta = path / "zarr.json"
    return meta.exists() and '"consolidated_metadata"' in meta.read_text()


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


# -- selecting and chunking ----------------------------------------------------


def select_variables(ds: xr.Dataset, options: JobOptions) -> xr.Dataset:
    """The data variables to differentiate, checked against the dims (others dropped)."""
    for dim in options.dims:
        if dim not in ds.dims:
            raise JobError(
                f"dimension {dim!r} not found in the input (its dimensions: {list(ds.dims)})",
                usage=True,
            )
    if options.variables is None:
        # Sorted: a store's listing order is the file system's, and the
        # output (its regions, the record of a resume) must not depend on it.
        names = sorted(str(n) for n, v in ds.data_vars.items() if v.dtype.kind in "biufc")
        names = [n for n in names if any(d in ds[n].dims for d in options.dims)]
        if not names:
            raise JobError(
                f"no numeric data variable has dimension(s) {list(options.dims)}", usage=True
            )
    else:
        names = list(options.variables)
        for name in names:
            _check_variable(ds, name, options.dims)
    selected = ds[names]
    _check_chunks(selected, options)
    return selected


def _check_chunks(ds: xr.Dataset, options: JobOptions) -> None:
    for dim, size in options.chunks:
        if dim not in ds.dims:
            raise JobError(
                f"--chunks names dimension {dim!r}, which the selected variables do not have "
                f"(their dimensions: {list(map(str, ds.dims))})",
                usage=True,
            )
        if size < 1:
            raise JobError(f"--chunks {dim}={size}: a chunk size must be positive", usage=True)


def _check_variable(ds: xr.Dataset, name: str, dims: Sequence[str]) -> None:
    if name not in ds.variables:
        raise JobError(
            f"no variable {name!r} in the input (data variables: {list(map(str, ds.data_vars))})",
            usage=True,
        )
    var = ds[name]
    if name not in ds.data_vars:
        raise JobError(f"{name!r} is a coordinate, not a data variable", usage=True)
    if var.dtype.kind not in "biufc":
        raise JobError(f"variable {name!r} is not numeric (dtype {var.dtype})", usage=True)
    missing = [d for d in dims if d not in var.dims]
    if missing:
        raise JobError(
            f"variable {name!r} has no dimension {missing[0]!r} (its dimensions: "
            f"{list(map(str, var.dims))})",
            usage=True,
        )


def slab_chunks(
    shape: Sequence[int], itemsize: int, target: int, native: Sequence[int] | None = None
) -> tuple[int, ...]:
    """Regular chunk sizes of at most ``target`` bytes, whole along the trailing dims.

    Native (on-disk) chunks that fit are kept and grown along the leading
    dim in whole multiples, so every task reads whole stored chunks; native
    chunks too large (an unchunked netCDF variable) are split from the
    leading dim on, so each chunk is a contiguous slab of the file.

    Examples
    --------
    >>> slab_chunks((100, 180, 360), 4, 1_000_000)  # 259 kB a time step
    (3, 180, 360)
    >>> slab_chunks((100, 180, 360), 4, 1_000_000, native=(1, 90, 360))
    (7, 90, 360)
    >>> slab_chunks((4, 1000, 1000), 8, 1_000_000)
    (1, 125, 1000)
    >>> slab_chunks((100, 4000, 4000), 4, 20_000_000, native=(1, 2000, 4000))  # 32 MB stored
    (1, 1000, 4000)
    """
    shape = [max(int(s), 1) for s in shape]
    base = [min(int(c), n) for c, n in zip(native, shape, strict=True)] if native else shape
    if math.prod(base) * itemsize <= target:
        chunks = list(base)
        if chunks:
            grow = target // (math.prod(chunks) * itemsize)
            chunks[0] = min(shape[0], chunks[0] * max(grow, 1))
        return tuple(chunks)
    # Too large: split the stored chunk (or the unchunked array) into slabs,
    # from the leading dim on; a stored chunk is split evenly, so no task
    # reads parts of two stored chunks.
    chunks = list(base)
    for d in range(len(base)):
        inner = math.prod(base[d + 1 :]) * itemsize
        size = max(1, min(base[d], target // max(inner, 1)))
        if base[d] < shape[d]:
            size = max(k for k in range(1, size + 1) if base[d] % k == 0)
        chunks[d] = size
        if size * inner <= target or d == len(base) - 1:
            break
        chunks[d] = 1
    return tuple(chunks)


def choose_chunks(ds: xr.Dataset, options: JobOptions) -> xr.Dataset:
    """Chunk each variable: ``--chunks`` where given, else slabs of ``options.chunk_bytes``.

    Every chunking is regular (equal chunks but a shorter last one), as a
    zarr output needs, so each output chunk is written by exactly one task.
    """
    given = dict(options.chunks)
    chunked = {}
    for name, var in ds.data_vars.items():
        native = dict(zip(var.dims, _native_chunks(var), strict=True))
        fixed = {d: min(given[d], var.sizes[d]) for d in var.dims if d in given}
        free = [d for d in var.dims if d not in fixed]
        # The dims --chunks does not name are sized to the same target, with
        # the named ones fixed (a whole time axis would not fit in memory).
        itemsize = np.dtype(options.dtype or var.dtype).itemsize * math.prod(fixed.values())
        slabs = slab_chunks(
            [var.sizes[d] for d in free], itemsize, options.chunk_bytes, [native[d] for d in free]
        )
        sizes = {**fixed, **dict(zip(free, slabs, strict=True))}
        chunked[name] = var.chunk({d: sizes[d] for d in var.dims})
    return ds.assign(chunked)


def _native_chunks(var: xr.DataArray) -> tuple[int, ...]:
    preferred = var.encoding.get("preferred_chunks") or {}
    if var.chunks is not None:
        first = tuple(c[0] if c else 1 for c in var.chunks)
    else:
        first = tuple(var.shape)
    return tuple(preferred.get(d, f) for d, f in zip(var.dims, first, strict=True))


# -- the output ------------------------------------------------------------------


def plan_names(ds: xr.Dataset, options: JobOptions) -> dict[str, tuple[str, str]]:
    """``{output name: (variable, dim)}``, refusing names that collide."""
    names: dict[str, tuple[str, str]] = {}
    for dim in options.dims:
        for var, da in ds.data_vars.items():
            if dim not in da.dims:
                continue
            name = output_name(var, dim, options.second)
            if name in names:
                other, other_dim = names[name]
                raise JobError(
                    f"output name {name!r} is given by both {other!r} along {other_dim!r} and "
                    f"{var!r} along {dim!r}; select one of them with --var",
                    usage=True,
                )
            if name in ds.coords:
                raise JobError(
                    f"output name {name!r} (of {var!r} along {dim!r}) is already the name of a "
                    "coordinate of the input",
                    usage=True,
                )
            names[name] = (str(var), dim)
    return names


def build_output(ds: xr.Dataset, options: JobOptions) -> xr.Dataset:
    """The lazy Dataset of derivatives to write, named by :func:`output_name`.

    ``ds`` holds the selected, chunked variables.  Coordinates and the
    dataset's attributes are kept; each derivative carries its CF
    attributes (units, long_name) and no encoding: the input's packing
    (scale_factor, integer dtypes) describes the input, not a derivative.

    Examples
    --------
    >>> ds = xr.Dataset({"t": ("x", [0.0, 1.0, 4.0, 9.0])}, coords={"x": [0, 1, 2, 3]})
    >>> out = build_output(ds.chunk(x=2), JobOptions(dims=("x",)))
    >>> list(out.data_vars), out["dt_dx"].values
    (['dt_dx'], array([1., 2., 4., 5.]))
    """
    names = plan_names(ds, options)
    kwargs: dict[str, Any] = {
        "accuracy": options.accuracy,
        "boundary": options.boundary
        if isinstance(options.boundary, str)
        else dict(options.boundary),
        "period": dict(options.period) or None,
        "datetime_unit": options.datetime_unit,
    }
    try:
        if options.second:
            results = second_derivative(ds, list(options.dims), **kwargs)
        else:
            results = gradient(ds, list(options.dims), edge_order=options.edge_order, **kwargs)
    except (ValueError, TypeError) as err:
        raise JobError(str(err), usage=True) from None
    by_dim = dict(zip(options.dims, results, strict=True))
    data_vars = {}
    for name, (var, dim) in names.items():
        derivative = by_dim[dim][var]
        if options.dtype is not None:
            derivative = derivative.astype(options.dtype)
        derivative.encoding = {}
        data_vars[name] = derivative.variable
    out = xr.Dataset(data_vars, coords=ds.coords, attrs=dict(ds.attrs))
    for coord in out.coords.values():
        coord.encoding = _portable_encoding(coord)
    return out


def _portable_encoding(coord: xr.DataArray) -> dict[str, Any]:
    """The parts of a coordinate's encoding that mean the same in any format.

    Chunking, compressors and filters belong to the input's format (a zarr
    v2 compressor means nothing to netCDF, and input chunks may not match
    the output's), and so does packing: a dtype without its scale_factor
    would truncate the values.  Only a time coordinate keeps its units,
    calendar and dtype, which say how its dates are written.
    """
    if coord.dtype.kind not in "mMO":
        return {}
    return {k: v for k, v in coord.encoding.items() if k in ("units", "calendar", "dtype")}


#: What ``--dry-run`` (and a job, before it starts) says when chunks look too large.
SPILL_WARNING = (
    "warning: that is above 70% of the limit, where workers start to spill; "
    "give smaller --chunks or more --memory-limit"
)


#: A worker's resident memory before it holds any data: Python, Dask,
#: distributed and numba with LLVM (240-275 MiB measured, rounded up).
WORKER_BASELINE = 300 * 2**20
#: Input chunks a worker holds per thread at its peak (measured: 8-10).
CHUNKS_PER_THREAD = 10


def peak_memory(chunk_bytes: int, threads: int) -> int:
    """Estimated peak resident memory of a worker for input chunks of ``chunk_bytes``."""
    return WORKER_BASELINE + CHUNKS_PER_THREAD * chunk_bytes * threads


def largest_chunk(ds: xr.Dataset) -> int:
    """Bytes of the largest input chunk of any variable of ``ds``."""
    return max(math.prod(_chunk_shape(v)) * v.dtype.itemsize for v in ds.data_vars.values())


# -- describing a job (``--dry-run``) ------------------------------------------------


def describe_spacing(ds: xr.Dataset, dim: str, options: JobOptions) -> str:
    """Where ``dim``'s spacing comes from, in words: coordinate, units, periodic or not."""
    boundary = (
        options.boundary if isinstance(options.boundary, str) else dict(options.boundary).get(dim)
    ) or "edge"
    ends = "periodic" if boundary == "periodic" else "one-sided ends"
    if dim not in ds.coords:
        return f"no coordinate: index positions 0, 1, 2, ... ({ends})"
    coord = ds[dim]
    units = coord.attrs.get("units")
    what = f"coordinate {dim!r}"
    if coord.dtype.kind == "M" or coord.dtype == object:
        what += f" (times, per {options.datetime_unit or 's'})"
    elif units:
        what += f" [{units}]"
    if coord.dtype.kind in "fiu" and coord.size > 1:
        steps = np.diff(coord.values.astype(float))
        uniform = np.allclose(steps, steps[0], rtol=1e-6, atol=0)
        what += f", {'uniform' if uniform else 'non-uniform'} step"
    return f"{what}, {coord.size} points ({ends})"


def describe(
    ds: xr.Dataset,
    out: xr.Dataset,
    options: JobOptions,
    threads_per_worker: int,
    memory_limit: int = 0,
) -> list[str]:
    """The plan of a job in lines of text; computes nothing.

    Per output variable: its source and dim, where the spacing comes from,
    and its chunks; then the number of tasks, the bytes to read and write,
    and an estimate of the peak memory of one worker: about ten input chunks
    per thread (the chunk being read, neighbours waiting to give halos,
    outputs being compressed and written: measured on the benchmark jobs of
    docs/performance.md) on top of the worker's own :data:`WORKER_BASELINE` (Python,
    Dask, numba).
    """
    names = plan_names(ds, options)
    lines = []
    peak_task = 0
    for name, (var, dim) in names.items():
        src, res = ds[var], out[name]
        chunk_in = _chunk_shape(src)
        lines.append(
            f"{name}: d{'2' if options.second else ''}({var})/d({dim})"
            f"{'2' if options.second else ''}, {res.dtype}, shape {dict(res.sizes)}"
        )
        lines.append(f"    spacing: {describe_spacing(ds, dim, options)}")
        lines.append(f"    chunks: {dict(zip(src.dims, chunk_in, strict=True))} in and out")
        peak_task = max(peak_task, math.prod(chunk_in) * src.dtype.itemsize)
    read = sum(v.nbytes for v in ds.data_vars.values())
    write = sum(v.nbytes for v in out.data_vars.values())
    tasks = len(out.__dask_graph__())
    lines.append(f"tasks: {tasks:,}")
    lines.append(f"read: {format_bytes(read)}; write: {format_bytes(write)} (before compression)")
    peak = peak_memory(peak_task, threads_per_worker)
    limit = f" of a {format_bytes(memory_limit)} limit" if memory_limit > 0 else ""
    lines.append(
        f"estimated peak memory per worker: {format_bytes(peak)}{limit} ({threads_per_worker} "
        f"thread(s), input chunks up to {format_bytes(peak_task)}, {format_bytes(WORKER_BASELINE)} for the process)"
    )
    if 0 < memory_limit < peak / 0.7:
        lines.append(SPILL_WARNING)
    return lines


def _chunk_shape(var: xr.DataArray) -> tuple[int, ...]:
    return tuple(max(c) if c else 0 for c in var.chunks) if var.chunks else tuple(var.shape)
