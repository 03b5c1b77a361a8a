"""7. Overhead: one call on small arrays and Datasets (7a); building a graph of many chunks (7b)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from harness import Report, Table, best_of, fmt_ratio, fmt_shape, fmt_time, log, per_call, ratio

from .common import DIMS2, DIMS3, Config, compare, labelled, random_array

NAME = "overhead"


def timed_calls(rep: Report, label: str, calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """``per_call`` time of each of ``calls`` (``None`` where one failed)."""
    return {
        name: rep.attempt(f"{label} {name}", lambda f=fn: per_call(f)) for name, fn in calls.items()
    }


def run(cfg: Config, rep: Report) -> None:
    rep.show(overhead_calls(rep), NAME)
    rep.show(overhead_graph_build(rep), NAME)


def overhead_calls(rep: Report) -> Table:
    import xarray as xr

    import xgradient

    table = Table(
        "7a. Small arrays: time per call (the fixed cost of a call dominates)",
        ["case", "dim", "xgradient", "xarray", "numpy", "xarray/xg", "vs numpy"],
        id="overhead-calls",
    )
    table.notes += [
        "xarray: DataArray/Dataset.differentiate; numpy: numpy.gradient on the bare array with "
        "the coordinate; x non-uniform, y uniform; xarray/xg > 1 means xgradient is faster",
        "second derivative rows: xgradient.second_derivative (three-point stencil, "
        "second-order one-sided ends); xarray and numpy differentiate twice (other values at "
        "the edges, so not compared)",
        "best mean over 5 loops of ~0.2 s each",
    ]
    grids = [(16, 32), (180, 360), (721, 1440)]
    for ny, nx in grids:
        log(f"overhead {ny}x{nx}")
        a = random_array((ny, nx))
        obj = labelled(a, DIMS2, {"x": "non-uniform"})
        for dim in ("x", "y"):
            axis = DIMS2.index(dim)
            coord = obj[dim].values
            t = timed_calls(
                rep,
                f"overhead {ny}x{nx} {dim}",
                {
                    "xgradient": functools.partial(xgradient.gradient, obj, dim),
                    "xarray": functools.partial(obj.differentiate, dim),
                    "numpy": functools.partial(np.gradient, a, coord, axis=axis),
                },
            )
            same = compare(xgradient.gradient(obj, dim).values, np.gradient(a, coord, axis=axis))
            table.add(
                f"DataArray {ny}x{nx}",
                dim,
                *(fmt_time(t[k]) for k in ("xgradient", "xarray", "numpy")),
                fmt_ratio(ratio(t["xarray"], t["xgradient"])),
                same,
            )
    for ny, nx in grids[:2]:
        log(f"overhead second derivative {ny}x{nx}")
        a = random_array((ny, nx))
        obj = labelled(a, DIMS2, {"x": "non-uniform"})
        coord = obj["y"].values
        t = timed_calls(
            rep,
            f"overhead second derivative {ny}x{nx}",
            {
                "xgradient": functools.partial(xgradient.second_derivative, obj, "y"),
                "xarray": lambda o=obj: o.differentiate("y").differentiate("y"),
                "numpy": lambda a=a, c=coord: np.gradient(np.gradient(a, c, axis=0), c, axis=0),
            },
        )
        table.add(
            f"DataArray {ny}x{nx}, second derivative",
            "y",
            *(fmt_time(t[k]) for k in ("xgradient", "xarray", "numpy")),
            fmt_ratio(ratio(t["xarray"], t["xgradient"])),
            "-",
        )
    for ny, nx in grids[:2]:
        ds = xr.Dataset(
            {name: (DIMS2, random_array((ny, nx)) + i) for i, name in enumerate("abc")},
            coords=labelled(random_array((ny, nx)), DIMS2, {"x": "non-uniform"}).coords,
        )
        t = timed_calls(
            rep,
            f"overhead dataset {ny}x{nx}",
            {
                "xgradient": functools.partial(xgradient.gradient, ds, "x"),
                "xarray": functools.partial(ds.differentiate, "x"),
            },
        )
        same = compare(
            ds.grad("x")["c"].values, np.gradient(ds["c"].values, ds["x"].values, axis=1)
        )
        table.add(
            f"Dataset of 3 variables {ny}x{nx}",
            "x",
            fmt_time(t["xgradient"]),
            fmt_time(t["xarray"]),
            "-",
            fmt_ratio(ratio(t["xarray"], t["xgradient"])),
            same,
        )
    return table


def materialised_graph(build: Callable[[], Any]) -> dict[Any, Any]:
    """Build a lazy result and materialise its whole task graph."""
    return dict(build().data.__dask_graph__())


def overhead_graph_build(rep: Report) -> Table:
    import dask.array as da

    import xgradient

    table = Table(
        "7b. Building a Dask graph of many chunks (nothing computed)",
        ["array", "chunks", "dim", "xgradient", "xarray", "xarray/xg"],
        id="overhead-graph",
    )
    table.notes.append(
        "time to call grad / differentiate and materialise the graph (dict of all tasks: "
        "dask.array.gradient builds a lazy map_overlap layer that is materialised later, when "
        "the graph is optimised or sent to a scheduler); xarray/xg > 1 means xgradient is faster"
    )
    for shape, chunks in (((100_000, 10), (10, 10)), ((3650, 181, 360), (10, 181, 360))):
        dims = DIMS2 if len(shape) == 2 else DIMS3
        d = da.zeros(shape, chunks=chunks)
        obj = labelled(d, dims, {dims[0]: "non-uniform"})
        dim = dims[0]
        log(f"graph build {fmt_shape(shape)}")
        builds = {
            "xgradient": functools.partial(xgradient.gradient, obj, dim),
            "xarray": functools.partial(obj.differentiate, dim),
        }
        t = {
            name: rep.attempt(
                f"build {fmt_shape(shape)} {name}",
                lambda b=build: best_of(functools.partial(materialised_graph, b), 3),
            )
            for name, build in builds.items()
        }
        table.add(
            fmt_shape(shape),
            f"{d.npartitions} of {fmt_shape(chunks)}",
            dim,
            fmt_time(t["xgradient"]),
            fmt_time(t["xarray"]),
            fmt_ratio(ratio(t["xarray"], t["xgradient"])),
        )
    return table
