"""The ``xgradient`` command: a front door that parses arguments and delegates.

``xgradient run INPUT... OUTPUT --dim ...`` runs a job
(:func:`xgradient.runner.run_job`) on a local ``distributed`` cluster or a
running scheduler; ``xgradient demo`` runs the same job on a synthetic
field (:func:`xgradient.demo.run_demo`).  ``xgradient INPUT OUTPUT --dim ...``
(no subcommand) is ``run``.

Every error a user can cause is one line on stderr: exit code 2 for wrong
arguments (as argparse), 1 for a job that fails, 130 when interrupted.

Example::

    xgradient run era5.zarr grad.zarr --dim latitude --dim longitude \\
        --boundary longitude=periodic --workers 8 --memory-limit 4GiB
    xgradient run era5.zarr vort.zarr --vorticity u v --workers 8
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .kernels import ENGINE_NAMES

__all__ = ["main"]

COMMANDS = ("run", "demo")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit code 2
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _pairs(items: Sequence[str], option: str, convert: Callable[[str], Any] = str) -> dict:
    """Parse ``["a=1", "b=2"]`` (or comma-separated) into ``{"a": 1, "b": 2}``."""
    out: dict[str, Any] = {}
    for item in items:
        for pair in item.split(","):
            name, sep, value = pair.partition("=")
            if not sep or not name or not value:
                raise _UsageError(f"{option} expects DIM=VALUE, got {pair!r}")
            try:
                out[name] = convert(value)
            except ValueError:
                raise _UsageError(f"{option} {name}={value!r} is not a valid value") from None
    return out


def _size(text: str) -> int:
    from dask.utils import parse_bytes

    try:
        return int(parse_bytes(text))
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 2GiB, 500MB)") from None


def _demo_size(text: str) -> int:
    size = _size(text)
    if size < 2**20:
        raise argparse.ArgumentTypeError(f"the demo needs at least 1MiB, got {text!r}")
    return size


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return value


def _sphere_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "on the sphere",
        "latitude-longitude operators in metres, instead of derivatives along --dim "
        "(then optional: the latitude and longitude are found from CF metadata)",
    )
    operator = group.add_mutually_exclusive_group()
    operator.add_argument(
        "--spherical",
        action="store_true",
        help="eastward and northward derivatives in metres, d<var>_dx and d<var>_dy "
        "(with --second: the Laplacian, laplacian_<var>)",
    )
    operator.add_argument(
        "--vorticity",
        nargs=2,
        metavar=("U", "V"),
        help="relative vorticity of the winds U, V, written as 'vorticity'",
    )
    operator.add_argument(
        "--divergence",
        nargs=2,
        metavar=("U", "V"),
        help="horizontal divergence of the winds U, V, written as 'divergence'",
    )
    group.add_argument("--lat", metavar="NAME", help="latitude coordinate (default: from CF)")
    group.add_argument("--lon", metavar="NAME", help="longitude coordinate (default: from CF)")
    group.add_argument(
        "--radius",
        type=_positive_float,
        metavar="METRES",
        help="sphere radius (default: the Earth's mean, 6371008.8)",
    )


def _cluster_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cluster")
    group.add_argument("--scheduler", help="address of a running dask scheduler to use")
    group.add_argument("--workers", type=_positive_int, help="local cluster: worker processes")
    group.add_argument(
        "--threads-per-worker", type=_positive_int, help="local cluster: threads per worker"
    )
    group.add_argument(
        "--memory-limit", type=_size, help="local cluster: memory per worker (e.g. 2GiB)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress display")


def _run_parser(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        usage="xgradient run INPUT [INPUT ...] OUTPUT --dim DIM [--dim DIM ...] [options]\n"
        "       xgradient run INPUT [INPUT ...] OUTPUT "
        "[--spherical | --vorticity U V | --divergence U V] [options]",
        help="differentiate the variables of a store (the default command)",
        description="Differentiate the variables of netCDF files or a zarr store along named "
        "dimensions, chunk by chunk on a dask.distributed cluster, into a zarr store or a "
        "netCDF file written atomically.",
    )
    run.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="zarr store, netCDF file(s) or glob pattern(s), then the output (*.zarr or *.nc)",
    )
    run.add_argument(
        "--dim",
        action="append",
        help="dimension (repeatable); with --spherical, --vorticity or --divergence, optional: "
        "the latitude and longitude dims",
    )
    run.add_argument("--var", action="append", help="data variable (default: all numeric)")
    run.add_argument("--second", action="store_true", help="second derivatives")
    run.add_argument("--edge-order", type=int, choices=(1, 2), help="one-sided ends (default 1)")
    run.add_argument("--accuracy", type=int, default=2, choices=(2, 4))
    run.add_argument(
        "--boundary", action="append", default=[], help="edge|periodic or DIM=edge|periodic"
    )
    run.add_argument("--period", action="append", default=[], help="DIM=PERIOD (repeatable)")
    run.add_argument("--datetime-unit", choices=("W", "D", "h", "m", "s", "ms", "us", "ns"))
    run.add_argument("--chunks", action="append", default=[], help="DIM=SIZE,... Dask chunks")
    run.add_argument("--dtype", choices=("float32", "float64"), help="output dtype")
    run.add_argument(
        "--engine",
        choices=ENGINE_NAMES,
        default="auto",
        help="kernels for each chunk (default auto: numba where it applies); same results",
    )
    run.add_argument(
        "--nan-policy",
        choices=("propagate", "omit"),
        default="propagate",
        help="omit: stencils stop at missing values instead of spreading them (default "
        "propagate: numpy.gradient's numbers)",
    )
    run.add_argument(
        "--mask",
        metavar="VAR",
        help="variable of the input, nonzero where the data is valid (a land-sea mask); "
        "implies --nan-policy omit",
    )
    run.add_argument("--overwrite", action="store_true", help="replace an existing output")
    run.add_argument("--resume", action="store_true", help="continue an interrupted run")
    run.add_argument("--dry-run", action="store_true", help="print the plan, compute nothing")
    _sphere_arguments(run)
    _cluster_arguments(run)


def _demo_parser(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        usage="xgradient demo [--size 1GiB] [--workers N] [--keep] [--no-progress]",
        help="run the main job on a synthetic global field",
        description="Generate a synthetic global temperature field, differentiate it along "
        "lat and lon on a local cluster, and compare with the exact derivative.",
    )
    demo.add_argument("--size", type=_demo_size, default=2**30, help="field size (1GiB)")
    demo.add_argument("--workers", type=_positive_int, help="worker processes")
    demo.add_argument("--keep", action="store_true", help="keep the generated stores")
    demo.add_argument("--no-progress", action="store_true", help="no progress display")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="xgradient",
        description="numpy.gradient on named dimensions of netCDF and zarr data, on a cluster.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _run_parser(sub)
    _demo_parser(sub)
    return parser


def _boundary(items: list[str]) -> Any:
    if len(items) == 1 and "=" not in items[0]:
        if items[0] not in ("edge", "periodic"):
            raise _UsageError(f"--boundary must be edge or periodic, got {items[0]!r}")
        return items[0]
    pairs = _pairs(items, "--boundary")
    for dim, value in pairs.items():
        if value not in ("edge", "periodic"):
            raise _UsageError(f"--boundary {dim}={value!r}: must be edge or periodic")
    return tuple(sorted(pairs.items()))


def _job(args: argparse.Namespace) -> Any:
    from .job import JobOptions

    if args.second and args.edge_order is not None:
        raise _UsageError("--edge-order does not apply to --second (its ends are exact)")
    winds = args.vorticity or args.divergence
    operator = (
        ("laplacian" if args.second else "spherical")
        if args.spherical
        else ("vorticity" if args.vorticity else "divergence" if args.divergence else None)
    )
    if not args.dim and operator is None:
        raise _UsageError(
            "the following arguments are required: --dim "
            "(or one of --spherical, --vorticity U V, --divergence U V)"
        )
    return JobOptions(
        dims=tuple(dict.fromkeys(args.dim or ())),
        variables=tuple(dict.fromkeys(args.var)) if args.var else None,
        second=args.second and operator != "laplacian",
        edge_order=args.edge_order or 1,
        accuracy=args.accuracy,
        boundary=_boundary(args.boundary) if args.boundary else None,
        period=tuple(sorted(_pairs(args.period, "--period", float).items())),
        datetime_unit=args.datetime_unit,
        chunks=tuple(sorted(_pairs(args.chunks, "--chunks", int).items())),
        dtype=args.dtype,
        operator=operator,
        winds=tuple(winds) if winds else None,
        lat=args.lat,
        lon=args.lon,
        radius=args.radius,
        engine=args.engine,
        nan_policy=args.nan_policy,
        mask=args.mask,
    )


def _cluster(args: argparse.Namespace) -> Any:
    from .cluster import ClusterSpec

    local = [args.workers, args.threads_per_worker, args.memory_limit]
    if args.scheduler and any(v is not None for v in local):
        raise _UsageError(
            "--workers, --threads-per-worker and --memory-limit shape a local cluster; "
            "they do not apply with --scheduler"
        )
    return ClusterSpec(args.scheduler, *local)


def _run(args: argparse.Namespace) -> int:
    from .runner import run_job

    if len(args.paths) < 2:
        raise _UsageError("run needs an INPUT and an OUTPUT")
    *sources, output = args.paths
    run_job(
        sources,
        output,
        _job(args),
        _cluster(args),
        overwrite=args.overwrite,
        resume=args.resume,
        dry_run=args.dry_run,
        progress=not args.no_progress,
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.size, workers=args.workers, keep=args.keep, progress=not args.no_progress)
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xgradient`` command; return its exit code.

    Examples
    --------
    >>> main(["run", "missing.nc", "out.zarr", "--dim", "x"])
    2
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        argv.insert(0, "run")  # ``xgradient IN OUT --dim x`` is ``run``
    from .job import JobError

    previous = signal.signal(signal.SIGTERM, _interrupt) if _main_thread() else None
    try:
        args = _parser().parse_args(argv)
        return _run(args) if args.command == "run" else _demo(args)
    except _UsageError as err:
        return _fail(str(err), 2)
    except JobError as err:
        return _fail(str(err), 2 if err.usage else 1)
    except KeyboardInterrupt:
        return _fail(
            "interrupted; the output was not touched (a zarr run continues with --resume)", 130
        )
    except Exception as err:
        if os.environ.get("XGRADIENT_TRACEBACK"):
            raise
        text = str(err).strip().splitlines()
        return _fail(
            f"{type(err).__name__}: {text[0] if text else ''} "
            "(set XGRADIENT_TRACEBACK=1 for the traceback)",
            1,
        )
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _fail(message: str, code: int) -> int:
    print(f"xgradient: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
