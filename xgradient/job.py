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
import re
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .derivatives import gradient, second_derivative
from .kernels import EngineError, check_engine
from .latlon import LatLon, find_lat_lon
from .missing import NAN_POLICIES
from .sphere import (
    EARTH_RADIUS,
    _Sphere,
    _sphere,
    divergence,
    laplacian,
    spherical_gradient,
    vorticity,
)

__all__ = [
    "OPERATORS",
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
    "sphere_output_name",
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


#: The operators on the sphere a job can run instead of derivatives along
#: ``dims``: ``--spherical`` (``--second`` with it: ``"laplacian"``),
#: ``--vorticity U V`` and ``--divergence U V``.
OPERATORS = ("spherical", "laplacian", "vorticity", "divergence")

#: The operators of a pair of wind components (``winds``).
FLOWS = ("vorticity", "divergence")


@dataclass(frozen=True)
class JobOptions:
    """What to differentiate and how: everything that decides the output's values.

    Two runs with equal options on the same input write identical stores,
    which is what lets ``--resume`` continue one with the other.

    ``operator`` (one of :data:`OPERATORS`) runs an operator of
    :mod:`xgradient.sphere` instead of derivatives along ``dims``: the
    gradient in metres or the Laplacian of each of ``variables``, or the
    vorticity or divergence of ``winds`` (``(U, V)``).  ``dims`` may then be
    empty (the latitude and longitude are found from CF metadata, or named
    by ``lat`` and ``lon``), or name the two; ``radius`` is the sphere's in
    metres (``None``: :data:`xgradient.sphere.EARTH_RADIUS`).  Options that
    do not apply to the operator are refused (:class:`JobError`), never
    ignored.

    ``nan_policy="omit"`` makes the stencils stop at missing values; ``mask``
    names a variable of the input that is nonzero (True) where the data is
    valid, and implies it.  Both change the output's values, so a resume
    compares them.

    ``boundary=None`` is each computation's default: ``"edge"`` for
    derivatives along ``dims``; for the operators, a periodic longitude
    when it covers the globe.
    """

    dims: tuple[str, ...]
    variables: tuple[str, ...] | None = None
    second: bool = False
    edge_order: int = 1
    accuracy: int = 2
    boundary: str | tuple[tuple[str, str], ...] | None = None
    period: tuple[tuple[str, float], ...] = ()
    datetime_unit: str | None = None
    chunks: tuple[tuple[str, int], ...] = ()
    dtype: str | None = None
    operator: str | None = None
    winds: tuple[str, str] | None = None
    lat: str | None = None
    lon: str | None = None
    radius: float | None = None
    engine: str = "auto"
    nan_policy: str = "propagate"
    mask: str | None = None
    chunk_bytes: int = field(default=64 * 2**20)

    def __post_init__(self) -> None:
        if self.boundary is None and self.operator is None:
            object.__setattr__(self, "boundary", "edge")  # one record for the same job
        if self.nan_policy not in NAN_POLICIES:
            raise JobError(
                f"--nan-policy must be one of {', '.join(NAN_POLICIES)}, got {self.nan_policy!r}",
                usage=True,
            )
        if self.mask is not None:
            object.__setattr__(self, "nan_policy", "omit")  # a mask implies it
        if self.mask is not None and self.mask in (self.variables or ()) + (self.winds or ()):
            raise JobError(
                f"--mask {self.mask}: the mask cannot also be differentiated", usage=True
            )
        _check_operator(self)
        try:
            check_engine(self.engine)
        except EngineError as err:  # before a cluster starts
            raise JobError(f"--engine: {err}", usage=True) from None

    def as_record(self) -> dict[str, Any]:
        """The options as JSON-able values (what a resume compares)."""
        record = asdict(self)
        del record["chunk_bytes"]  # a target, not a choice: the chunks chosen are recorded
        del record["engine"]  # every engine writes the same bits
        for key, value in record.items():
            if isinstance(value, tuple):
                record[key] = [list(v) if isinstance(v, tuple) else v for v in value]
        return record


def _operator_flag(operator: str) -> str:
    """The command-line option that asks for ``operator``.

    Examples
    --------
    >>> _operator_flag("vorticity"), _operator_flag("laplacian")
    ('--vorticity', '--spherical --second')
    """
    return "--spherical --second" if operator == "laplacian" else f"--{operator}"


def _check_operator(options: JobOptions) -> None:
    """Refuse options that do not go with the operator (or without one)."""
    operator = options.operator
    if operator is None:
        given = [f"--{k}" for k in ("lat", "lon", "radius") if getattr(options, k) is not None]
        if options.winds is not None:
            given.append("winds (--vorticity or --divergence)")
        if given:
            raise JobError(
                f"{', '.join(given)}: only for --spherical, --vorticity and --divergence",
                usage=True,
            )
        return
    if operator not in OPERATORS:
        raise JobError(f"unknown operator {operator!r}: one of {OPERATORS}", usage=True)
    flag = _operator_flag(operator)
    refused = {
        "--second": options.second,
        "--period": bool(options.period),
        "--datetime-unit": options.datetime_unit is not None,
        "--edge-order": operator == "laplacian" and options.edge_order != 1,
        "--var": operator in FLOWS and options.variables is not None,
    }
    why = {
        "--second": "(--spherical --second is the Laplacian)",
        "--period": "(a longitude that covers the globe is periodic by itself)",
        "--datetime-unit": "(it differentiates along latitude and longitude)",
        "--edge-order": "(its ends are exact)",
        "--var": "(U and V name its variables)",
    }
    for option, wrong in refused.items():
        if wrong:
            raise JobError(f"{option} does not apply to {flag} {why[option]}", usage=True)
    if operator in FLOWS and (options.winds is None or len(options.winds) != 2):
        raise JobError(f"{flag} needs the two wind components U V", usage=True)
    if operator not in FLOWS and options.winds is not None:
        raise JobError(f"winds are for --vorticity and --divergence, not {flag}", usage=True)
    if options.dims and len(set(options.dims)) != 2:
        raise JobError(
            f"--dim with {flag} names the latitude and longitude dims: give both or neither "
            f"(got {list(options.dims)})",
            usage=True,
        )
    radius = options.radius
    if radius is not None and not (math.isfinite(radius) and radius > 0):
        raise JobError(f"--radius must be a positive number of metres, got {radius!r}", usage=True)


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


def sphere_output_name(var: Hashable, part: str) -> str:
    """The name of an operator's result: ``d<var>_dx``, ``d<var>_dy``, ``laplacian_<var>``...

    ``part`` is ``"x"`` or ``"y"`` (the eastward or northward derivative in
    metres, of ``--spherical``), ``"laplacian"`` (of ``--spherical
    --second``), or ``"vorticity"`` or ``"divergence"``, which are named as
    :func:`xgradient.vorticity` and :func:`xgradient.divergence` name them.

    Examples
    --------
    >>> sphere_output_name("t", "x"), sphere_output_name("t", "y")
    ('dt_dx', 'dt_dy')
    >>> sphere_output_name("t", "laplacian"), sphere_output_name("u", "vorticity")
    ('laplacian_t', 'vorticity')
    """
    if part in ("x", "y"):
        return f"d{var}_d{part}"
    if part == "laplacian":
        return f"laplacian_{var}"
    return part


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
        elif "may not be installed" in what and not _has_netcdf_engine():
            # xarray recognised the file but cannot load a library to read it.
            what = f"a netCDF file, but no netCDF library is installed: {IO_EXTRA}"
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
    """The data variables to differentiate, checked against the dims (others dropped).

    With an operator on the sphere, against its latitude and longitude
    (:func:`_select_on_sphere`).
    """
    if options.operator is not None:
        return _select_on_sphere(ds, options)
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
        names = [n for n in names if n != options.mask]
        if not names:
            raise JobError(
                f"no numeric data variable has dimension(s) {list(options.dims)}", usage=True
            )
    else:
        names = list(options.variables)
        for name in names:
            _check_variable(ds, name, options.dims)
    return _with_mask(ds, ds[names], options)


def _select_on_sphere(ds: xr.Dataset, options: JobOptions) -> xr.Dataset:
    """The variables of an operator on the sphere, checked against its grid.

    The grid is found on the variables named (``--var``, or the winds ``U
    V``), as :func:`xgradient.vorticity` finds it on ``u``; a variable that
    lacks the latitude or longitude of the input is named in the error.
    """
    flag = _operator_flag(str(options.operator))
    names = list(dict.fromkeys(options.winds or options.variables or ()))
    for name in names:
        _check_variable(ds, name, ())
    if options.winds is not None:
        u, v = options.winds
        if set(ds[u].dims) != set(ds[v].dims):
            raise JobError(
                f"{flag} {u} {v}: the two must have the same dimensions ({u!r} has "
                f"{list(map(str, ds[u].dims))}, {v!r} has {list(map(str, ds[v].dims))})",
                usage=True,
            )
    numeric = [
        n for n, var in ds.data_vars.items() if var.dtype.kind in "biufc" and n != options.mask
    ]
    try:
        sphere = _sphere_of(ds[names] if names else ds[numeric], options)
    except JobError:
        if names:
            # Is it that a variable named lacks the input's latitude or
            # longitude?  Then say which; else this error stands.
            try:
                whole = _sphere_of(ds[numeric], options).grid
            except JobError:
                whole = None
            for name in names if whole is not None else ():
                _check_variable(ds, name, (str(whole.lat_dim), str(whole.lon_dim)))
        raise
    dims = (str(sphere.grid.lat_dim), str(sphere.grid.lon_dim))
    if options.dims and set(options.dims) != set(dims):
        raise JobError(
            f"--dim {' --dim '.join(options.dims)} does not name the latitude and longitude "
            f"dims of {flag}: {list(dims)}",
            usage=True,
        )
    if names:
        for name in names:
            _check_variable(ds, name, dims)
    else:
        names = sorted(str(n) for n in numeric if set(dims) <= set(ds[n].dims))
        if not names:
            raise JobError(
                f"no numeric data variable has the latitude and longitude dims {list(dims)}",
                usage=True,
            )
    return _with_mask(ds, ds[names], options)


def _with_mask(ds: xr.Dataset, selected: xr.Dataset, options: JobOptions) -> xr.Dataset:
    """``selected``, checked, with the ``--mask`` variable as a coordinate (True where valid).

    A coordinate travels with the variables through chunking and is not
    differentiated; :func:`build_output` takes it out again.
    """
    _check_chunks(selected, options)
    if options.mask is None:
        return selected
    try:
        _check_variable(ds, options.mask, ())
    except JobError as err:
        raise JobError(f"--mask {options.mask}: {err}", usage=True) from None
    mask = ds[options.mask]
    for name, var in selected.data_vars.items():
        missing = [d for d in mask.dims if d not in var.dims]
        if missing:
            raise JobError(
                f"--mask {options.mask}: it has dimension {missing[0]!r}, which variable "
                f"{name!r} does not have (its dimensions: {list(map(str, var.dims))})",
                usage=True,
            )
    valid = mask != 0 if mask.dtype != bool else mask
    valid = valid & mask.notnull() if mask.dtype.kind in "fc" else valid
    return selected.assign_coords({options.mask: valid.variable})


def _split_mask(ds: xr.Dataset, options: JobOptions) -> tuple[xr.Dataset, xr.DataArray | None]:
    """The variables to differentiate, and the mask, chunked like them (see :func:`_with_mask`)."""
    if options.mask is None or options.mask not in ds.coords:
        return ds, None
    mask = ds[options.mask].reset_coords(drop=True)
    ds = ds.drop_vars(options.mask)
    first = next(iter(ds.data_vars.values()), None)
    if first is not None and first.chunks is not None:
        mask = mask.chunk({d: first.chunksizes[d] for d in mask.dims})
    return ds, mask


def _sphere_of(ds: xr.Dataset, options: JobOptions) -> _Sphere:
    """The grid (latitude and longitude) and stencil options of an operator, checked.

    Errors are :class:`JobError` in the command's terms (``--lat``, not
    ``lat=``); a periodic latitude is refused, naming the longitude to give.
    """
    flag = _operator_flag(str(options.operator))
    try:
        grid = find_lat_lon(ds, options.lat, options.lon)
        boundary = options.boundary
        lat_keys = (grid.lat_dim, grid.lat_name)
        if boundary == "periodic" or (
            isinstance(boundary, tuple)
            and any(dict(boundary).get(k) == "periodic" for k in lat_keys)
        ):
            raise JobError(
                f"--boundary: latitude {grid.lat_name!r} cannot be periodic (that would join "
                "the North Pole to the South Pole); give the longitude alone: "
                f"--boundary {grid.lon_dim}=periodic",
                usage=True,
            )
        return _sphere(
            ds,
            options.lat,
            options.lon,
            options.radius if options.radius is not None else EARTH_RADIUS,
            options.accuracy,
            options.edge_order,
            _sphere_boundary(options),
        )
    except (ValueError, TypeError, NotImplementedError) as err:
        text = re.sub(r"\b(lat|lon)=(?=')", r"--\1 ", _one_line(err))
        raise JobError(f"{flag}: {text}", usage=True) from None


def _sphere_boundary(options: JobOptions) -> str | dict[str, str] | None:
    """``options.boundary`` as the operators take it (``None``: their default).

    Examples
    --------
    >>> _sphere_boundary(JobOptions(dims=(), operator="spherical", boundary=(("lon", "edge"),)))
    {'lon': 'edge'}
    """
    boundary = options.boundary
    return dict(boundary) if isinstance(boundary, tuple) else boundary


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
    The winds of ``--vorticity`` and ``--divergence`` share one chunking
    (``U``'s, sized for the larger dtype): chunks that differ would give
    their result the irregular chunks of both.

    The operators on the sphere need no particular chunking: their
    derivatives take halos across chunks (across the seam of a global
    longitude too) and the rows at a pole gather the next rows' zonal means
    from every longitude chunk, so any chunks give the same values.

    Examples
    --------
    >>> ds = xr.Dataset({"u": (("y", "x"), np.zeros((4, 6))), "v": (("x", "y"), np.zeros((6, 4)))})
    >>> options = JobOptions(dims=(), operator="vorticity", winds=("u", "v"), chunks=(("y", 3),))
    >>> chunked = choose_chunks(ds, options)
    >>> chunked.u.chunks, chunked.v.chunks
    (((3, 1), (6,)), ((6,), (3, 1)))
    """
    given = dict(options.chunks)
    itemsizes = {n: np.dtype(options.dtype or v.dtype).itemsize for n, v in ds.data_vars.items()}
    sizes: dict[Hashable, dict[Hashable, int]] = {}
    for name, var in ds.data_vars.items():
        itemsize = itemsizes[name]
        if options.winds is not None and name == options.winds[0]:
            itemsize = max(itemsizes[w] for w in options.winds)
        sizes[name] = _var_chunks(var, given, itemsize, options.chunk_bytes)
    if options.winds is not None:
        u, v = options.winds
        sizes[v] = sizes[u]
    return ds.assign({name: var.chunk(sizes[name]) for name, var in ds.data_vars.items()})


def _var_chunks(
    var: xr.DataArray, given: dict[str, int], itemsize: int, target: int
) -> dict[Hashable, int]:
    native = dict(zip(var.dims, _native_chunks(var), strict=True))
    fixed = {d: min(given[d], var.sizes[d]) for d in var.dims if d in given}
    free = [d for d in var.dims if d not in fixed]
    # The dims --chunks does not name are sized to the same target, with
    # the named ones fixed (a whole time axis would not fit in memory).
    slabs = slab_chunks(
        [var.sizes[d] for d in free],
        itemsize * math.prod(fixed.values()),
        target,
        [native[d] for d in free],
    )
    chunks = {**fixed, **dict(zip(free, slabs, strict=True))}
    return {d: chunks[d] for d in var.dims}


def _native_chunks(var: xr.DataArray) -> tuple[int, ...]:
    preferred = var.encoding.get("preferred_chunks") or {}
    if var.chunks is not None:
        first = tuple(c[0] if c else 1 for c in var.chunks)
    else:
        first = tuple(var.shape)
    return tuple(preferred.get(d, f) for d, f in zip(var.dims, first, strict=True))


# -- the output ------------------------------------------------------------------


def plan_names(ds: xr.Dataset, options: JobOptions) -> dict[str, tuple[str, str]]:
    """``{output name: (variable, dim)}``, refusing names that collide.

    With an operator on the sphere, ``{output name: (variable, part)}``,
    ``part`` as :func:`sphere_output_name` takes it (the variable of the
    vorticity or the divergence is ``U``).
    """
    names: dict[str, tuple[str, str]] = {}
    for name, var, part in _outputs(ds, options):
        if name in names:
            other, other_part = names[name]
            raise JobError(
                f"output name {name!r} is given by both {_source(other, other_part, options)} "
                f"and {_source(var, part, options)}; select one of them with --var",
                usage=True,
            )
        if name in ds.coords:
            raise JobError(
                f"output name {name!r} (of {_source(var, part, options)}) is already the name "
                "of a coordinate of the input",
                usage=True,
            )
        names[name] = (var, part)
    return names


def _outputs(ds: xr.Dataset, options: JobOptions) -> list[tuple[str, str, str]]:
    """``(output name, variable, dim or part)`` for each output, in order."""
    if options.operator in FLOWS:
        u = str(options.winds[0]) if options.winds else ""
        return [(sphere_output_name(u, str(options.operator)), u, str(options.operator))]
    if options.operator is not None:
        parts = ("x", "y") if options.operator == "spherical" else (options.operator,)
        return [
            (sphere_output_name(var, part), str(var), part)
            for part in parts
            for var in ds.data_vars
        ]
    return [
        (output_name(var, dim, options.second), str(var), dim)
        for dim in options.dims
        for var, da in ds.data_vars.items()
        if dim in da.dims
    ]


def _source(var: str, part: str, options: JobOptions) -> str:
    """What an output is computed from, in words."""
    if options.operator is None:
        return f"{var!r} along {part!r}"
    if options.operator in FLOWS and options.winds is not None:
        return f"the {part} of {options.winds[0]!r} and {options.winds[1]!r}"
    words = {"x": "eastward derivative", "y": "northward derivative", "laplacian": "Laplacian"}
    return f"the {words[part]} of {var!r}"


def build_output(ds: xr.Dataset, options: JobOptions) -> xr.Dataset:
    """The lazy Dataset of derivatives to write, named by :func:`output_name`.

    With an operator on the sphere (``options.operator``), its results,
    named by :func:`sphere_output_name`.

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
    ds, mask = _split_mask(ds, options)
    names = plan_names(ds, options)
    if options.operator is not None:
        return _output_dataset(ds, _on_sphere(ds, options, names, mask), options)
    kwargs: dict[str, Any] = {
        "accuracy": options.accuracy,
        "boundary": dict(options.boundary)
        if isinstance(options.boundary, tuple)
        else options.boundary or "edge",
        "period": dict(options.period) or None,
        "datetime_unit": options.datetime_unit,
        "engine": options.engine,
        "nan_policy": options.nan_policy,
        "mask": mask,
    }
    try:
        if options.second:
            results = second_derivative(ds, list(options.dims), **kwargs)
        else:
            results = gradient(ds, list(options.dims), edge_order=options.edge_order, **kwargs)
    except (ValueError, TypeError) as err:
        raise JobError(_in_command_terms(str(err)), usage=True) from None
    by_dim = dict(zip(options.dims, results, strict=True))
    return _output_dataset(
        ds, {name: by_dim[dim][var] for name, (var, dim) in names.items()}, options
    )


def _in_command_terms(message: str) -> str:
    """An error of the Python functions, with the advice given as the command's flags.

    Examples
    --------
    >>> print(
    ...     _in_command_terms(
    ...         "dimension 'lat' is a latitude: a periodic boundary would join the North "
    ...         "Pole to the South Pole; use boundary='edge' for it (or xgradient.spherical_gradient)"
    ...     )
    ... )
    --boundary: dimension 'lat' is a latitude: a periodic boundary would join the North Pole to the South Pole; make the longitude alone periodic (--boundary LON=periodic), or use --spherical
    """
    python_advice = "; use boundary='edge' for it (or xgradient.spherical_gradient)"
    if python_advice in message:
        return "--boundary: " + message.replace(
            python_advice,
            "; make the longitude alone periodic (--boundary LON=periodic), or use --spherical",
        )
    return message


def _on_sphere(
    ds: xr.Dataset,
    options: JobOptions,
    names: dict[str, tuple[str, str]],
    mask: xr.DataArray | None = None,
) -> dict[str, xr.DataArray]:
    """The results of an operator on the sphere, by output name (lazy on Dask)."""
    _sphere_of(ds, options)  # its errors in the command's terms
    kwargs: dict[str, Any] = {
        "lat": options.lat,
        "lon": options.lon,
        "radius": options.radius if options.radius is not None else EARTH_RADIUS,
        "accuracy": options.accuracy,
        "boundary": _sphere_boundary(options),
        "engine": options.engine,
        "nan_policy": options.nan_policy,
        "mask": mask,
    }
    try:
        if options.operator == "laplacian":
            lap = laplacian(ds, **kwargs)
            return {name: lap[var] for name, (var, _) in names.items()}
        if options.operator == "spherical":
            dx, dy = spherical_gradient(ds, edge_order=options.edge_order, **kwargs)
            return {name: (dx if part == "x" else dy)[var] for name, (var, part) in names.items()}
        u, v = options.winds or ("", "")
        flow = vorticity if options.operator == "vorticity" else divergence
        return {name: flow(ds[u], ds[v], edge_order=options.edge_order, **kwargs) for name in names}
    except (ValueError, TypeError) as err:
        raise JobError(f"{_operator_flag(str(options.operator))}: {err}", usage=True) from None


def _output_dataset(
    ds: xr.Dataset, results: dict[str, xr.DataArray], options: JobOptions
) -> xr.Dataset:
    """The output: ``results`` in ``options.dtype``, no encoding, ``ds``'s coordinates."""
    data_vars = {}
    for name, result in results.items():
        if options.dtype is not None:
            result = result.astype(options.dtype)
        result.encoding = {}
        data_vars[name] = result.variable
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
        dict(options.boundary).get(dim) if isinstance(options.boundary, tuple) else options.boundary
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


def _describe_operator(var: str, part: str, grid: LatLon, options: JobOptions) -> str:
    """The formula of an operator's output, with the variables' and coordinates' names.

    Examples
    --------
    >>> from xgradient.latlon import find_lat_lon
    >>> t = xr.DataArray(np.zeros((3, 4)), dims=("lat", "lon"))
    >>> t = t.assign_coords(lat=[-10.0, 0.0, 10.0], lon=[0.0, 90.0, 180.0, 270.0])
    >>> options = JobOptions(dims=(), operator="vorticity", winds=("u", "v"))
    >>> _describe_operator("u", "vorticity", find_lat_lon(t), options)
    'vorticity of (u, v): [d(v)/d(lon) - d(u cos lat)/d(lat)] / (R cos lat)'
    """
    lat, lon = grid.lat_name, grid.lon_name
    if part == "x":
        return f"eastward derivative of {var}: d({var})/d({lon}) / (R cos {lat})"
    if part == "y":
        return f"northward derivative of {var}: d({var})/d({lat}) / R"
    if part == "laplacian":
        return (
            f"Laplacian of {var}: d2({var})/d({lon})2 / (R cos {lat})2 + "
            f"(d2({var})/d({lat})2 - tan {lat} d({var})/d({lat})) / R2"
        )
    u, v = options.winds or (var, "?")
    if part == "vorticity":
        along, across, sign = v, u, "-"
    else:
        along, across, sign = u, v, "+"
    return (
        f"{part} of ({u}, {v}): [d({along})/d({lon}) {sign} d({across} cos {lat})/d({lat})] "
        f"/ (R cos {lat})"
    )


def _describe_grid(ds: xr.Dataset, sphere: _Sphere) -> list[str]:
    """The grid of an operator in words: its latitude, longitude and radius."""
    grid = sphere.grid
    lat_units, lon_units = (
        f" [{ds[name].attrs['units']}]" if "units" in ds[name].attrs else ""
        for name in (grid.lat_name, grid.lon_name)
    )
    ends = "periodic" if sphere.lon_boundary == "periodic" else "one-sided ends"
    return [
        f"latitude: coordinate {grid.lat_name!r}{lat_units} along {grid.lat_dim!r}, "
        f"{grid.lat.size} points from {grid.lat.min():g} to {grid.lat.max():g} degrees "
        "(one-sided ends)",
        f"longitude: coordinate {grid.lon_name!r}{lon_units} along {grid.lon_dim!r}, "
        f"{grid.lon.size} points, {'the whole globe' if grid.periodic else 'regional'} ({ends})",
        f"radius: {sphere.radius:.10g} m",
    ]


def _describe_poles(sphere: _Sphere, part: str) -> str | None:
    """What an operator's output holds on the rows at a pole, if the grid has any."""
    if not sphere.pole.any() or part == "y":
        return None
    if part == "x":
        return "NaN (east is undefined there)"
    if sphere.lon_boundary == "periodic" and sphere.grid.periodic:
        return "from the polar caps (zonal means of the next rows)"
    return "NaN (no polar cap without the whole circle of longitude)"


def describe(
    ds: xr.Dataset,
    out: xr.Dataset,
    options: JobOptions,
    threads_per_worker: int,
    memory_limit: int = 0,
) -> list[str]:
    """The plan of a job in lines of text; computes nothing.

    Per output variable: its source and dim, where the spacing comes from,
    and its chunks (for an operator on the sphere: the grid first, then each
    output's formula, what its pole rows hold, and its chunks); then the
    number of tasks, the bytes to read and write, and an estimate of the peak memory of one worker: about ten input chunks
    per thread (the chunk being read, neighbours waiting to give halos,
    outputs being compressed and written: measured on the benchmark jobs of
    docs/performance.md) on top of the worker's own :data:`WORKER_BASELINE` (Python,
    Dask, numba).
    """
    ds = _split_mask(ds, options)[0]
    names = plan_names(ds, options)
    sphere = _sphere_of(ds, options) if options.operator is not None else None
    lines = [] if sphere is None else _describe_grid(ds, sphere)
    if options.nan_policy == "omit":
        where = f"NaN, and where {options.mask!r} is 0 or False" if options.mask else "NaN"
        lines.append(f"missing values ({where}): stencils stop at them (nan_policy='omit')")
    peak_task = 0
    for name, (var, dim) in names.items():
        src, res = ds[var], out[name]
        chunk_in = _chunk_shape(src)
        if sphere is None:
            lines.append(
                f"{name}: d{'2' if options.second else ''}({var})/d({dim})"
                f"{'2' if options.second else ''}, {res.dtype}, shape {dict(res.sizes)}"
            )
            lines.append(f"    spacing: {describe_spacing(ds, dim, options)}")
        else:
            formula = _describe_operator(var, dim, sphere.grid, options)
            lines.append(f"{name}: {formula}, {res.dtype}, shape {dict(res.sizes)}")
            poles = _describe_poles(sphere, dim)
            if poles:
                lines.append(f"    pole rows: {poles}")
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
