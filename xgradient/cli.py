"""Command line front door: differentiate variables of a netCDF or zarr store.

Only parses arguments and delegates to :func:`xgradient.gradient` /
:func:`xgradient.second_derivative`; the data is opened with Dask chunks and
written back lazily, so stores larger than memory stream through.

Example::

    xgradient in.nc out.nc --dim lon --dim lat --boundary lon=periodic --chunks time=12
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _is_zarr(path: str) -> bool:
    return Path(path).suffix == ".zarr"


def _pairs(items: Sequence[str], option: str, convert: Any = str) -> dict[str, Any]:
    """Parse ``["a=1", "b=2"]`` (or comma-separated) into ``{"a": 1, "b": 2}``."""
    out: dict[str, Any] = {}
    for item in items:
        for pair in item.split(","):
            name, sep, value = pair.partition("=")
            if not sep or not name or not value:
                raise SystemExit(f"xgradient: error: {option} expects DIM=VALUE, got {pair!r}")
            try:
                out[name] = convert(value)
            except ValueError:
                raise SystemExit(
                    f"xgradient: error: {option} {name}={value!r} is not a valid value"
                ) from None
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xgradient",
        description="Differentiate the variables of a netCDF file or zarr store along named "
        "dimensions (numpy.gradient semantics, computed chunk by chunk with Dask).",
    )
    parser.add_argument("input", help="netCDF file or zarr store (*.zarr)")
    parser.add_argument("output", help="netCDF file or zarr store (*.zarr) to write")
    parser.add_argument(
        "--dim", action="append", required=True, help="dimension to differentiate (repeatable)"
    )
    parser.add_argument(
        "--var", action="append", help="data variable to differentiate (default: all numeric)"
    )
    parser.add_argument("--second", action="store_true", help="second derivative")
    parser.add_argument("--edge-order", type=int, default=1, choices=(1, 2))
    parser.add_argument("--accuracy", type=int, default=2, choices=(2, 4))
    parser.add_argument(
        "--boundary",
        action="append",
        default=[],
        help="'edge', 'periodic', or DIM=edge|periodic (repeatable)",
    )
    parser.add_argument("--period", action="append", default=[], help="DIM=PERIOD (repeatable)")
    parser.add_argument("--datetime-unit", choices=("W", "D", "h", "m", "s", "ms", "us", "ns"))
    parser.add_argument(
        "--chunks", action="append", default=[], help="DIM=SIZE Dask chunks (repeatable)"
    )
    return parser


def _boundary(items: list[str]) -> Any:
    if not items:
        return "edge"
    if len(items) == 1 and "=" not in items[0]:
        return items[0]
    return _pairs(items, "--boundary")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xgradient`` command.

    Each derivative is written as ``d<var>_d<dim>`` (``d2<var>_d<dim>2`` for
    second derivatives), with the input's coordinates.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, xarray as xr
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> ds = xr.Dataset({"t": ("x", np.array([0.0, 1.0, 4.0, 9.0]))}, coords={"x": [0, 1, 2, 3]})
    >>> ds.to_netcdf(tmp / "in.nc")
    >>> main([str(tmp / "in.nc"), str(tmp / "out.nc"), "--dim", "x"])
    0
    >>> with xr.open_dataset(tmp / "out.nc") as out:
    ...     out["dt_dx"].values
    array([1., 2., 4., 5.])
    """
    import xarray as xr

    from .core import gradient, second_derivative

    args = _parser().parse_args(argv)
    chunks = _pairs(args.chunks, "--chunks", int) or {}
    if _is_zarr(args.input):
        ds = xr.open_zarr(args.input, chunks=chunks or "auto")
    else:
        ds = xr.open_dataset(args.input, chunks=chunks or {})
    if args.var:
        missing = [v for v in args.var if v not in ds.data_vars]
        if missing:
            raise SystemExit(
                f"xgradient: error: no data variable {missing} in {args.input} "
                f"(has {list(ds.data_vars)})"
            )
        ds = ds[args.var]
    options: dict[str, Any] = {
        "accuracy": args.accuracy,
        "boundary": _boundary(args.boundary),
        "period": _pairs(args.period, "--period", float) or None,
        "datetime_unit": args.datetime_unit,
    }
    try:
        if args.second:
            results = second_derivative(ds, args.dim, **options)
        else:
            results = gradient(ds, args.dim, edge_order=args.edge_order, **options)
    except (ValueError, TypeError) as err:
        raise SystemExit(f"xgradient: error: {err}") from None
    prefix, suffix = ("d2", "2") if args.second else ("d", "")
    out = xr.Dataset(
        {
            f"{prefix}{name}_d{dim}{suffix}": var
            for dim, result in zip(args.dim, results, strict=True)
            for name, var in result.data_vars.items()
        },
        attrs=ds.attrs,
    )
    # The input's packing (dtype, scale_factor, _FillValue...) describes the
    # input's values, not their derivatives; coordinates keep theirs.
    for var in out.data_vars.values():
        var.encoding = {}
    try:
        if _is_zarr(args.output):
            out.to_zarr(args.output, mode="w")
        else:
            out.to_netcdf(args.output)
    finally:
        ds.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
