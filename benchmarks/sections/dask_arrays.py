"""2. Dask-backed: persisting the derivative of a chunked array, against ``d + 0``, dask, xarray."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from harness import (
    Report,
    Table,
    at_least,
    at_most,
    best_of,
    fmt_ratio,
    fmt_shape,
    fmt_time,
    log,
    ratio,
)

from .common import (
    DIMS2,
    KINDS,
    UNIFORM_STEPS,
    Config,
    DaskInput,
    compare,
    dask_input,
    labelled,
    persisted,
    positions,
)

NAME = "dask"

# Targets (benchmarks/README.md explains each).
DASK_MAX_VS_ADD = 1.5  # persisting the derivative <= 1.5x persisting d + 0
DASK_MIN_SPEEDUP_VS_XARRAY = 3.0  # >= 3x faster than xarray.differentiate (dask.array.gradient)


def dask_methods(inp: DaskInput, dim: str, kind: str) -> dict[str, Callable[[], Any]]:
    """What each method does, as a dask array (not yet persisted); also used by memory and graph."""
    import dask.array as da

    import xgradient

    d = inp.data
    axis = DIMS2.index(dim)
    obj = labelled(d, DIMS2, {dim: kind})
    coord = obj[dim].values
    spacing = coord[1] - coord[0] if kind in UNIFORM_STEPS else coord
    return {
        "d + 0": lambda: d + 0,
        "xgradient": lambda: xgradient.gradient(obj, dim).data,
        "dask.array.gradient": lambda: da.gradient(d, spacing, axis=axis),
        "xarray": lambda: obj.differentiate(dim).data,
    }


def run(cfg: Config, rep: Report) -> None:
    inp = dask_input(cfg, rep)
    if inp is None:  # the error is recorded already
        return
    table = Table(
        "2. Dask-backed: time to persist the result; ratios are time / time to persist d + 0",
        [
            "dim",
            "coord",
            "d + 0",
            "xgradient",
            "xg/(d+0)",
            "dask.gradient/(d+0)",
            "xarray/(d+0)",
            "xarray/xg",
            "dask.gradient/xg",
            "vs numpy",
            f"xg<={DASK_MAX_VS_ADD:g}x d+0",
            f"xg>={DASK_MIN_SPEEDUP_VS_XARRAY:g}x xarray",
        ],
        id="dask",
    )
    table.notes += [
        f"{fmt_shape(cfg.shape2)} float64, chunks {fmt_shape(cfg.chunks)} ({inp.nchunks} chunks), "
        f"input persisted; threaded scheduler with {cfg.threads} threads; times include "
        "building the graph",
        "xarray.differentiate on Dask data calls dask.array.gradient with the coordinate; "
        "dask.gradient is given the scalar step when the coordinate is uniform",
    ]
    for dim in DIMS2:
        for kind in KINDS:
            label = f"dask {dim} {kind}"
            log(label)
            table.add(*dask_row(cfg, rep, inp, dim, kind, label))
    rep.show(table, NAME)


def dask_row(
    cfg: Config, rep: Report, inp: DaskInput, dim: str, kind: str, label: str
) -> list[Any]:
    axis = DIMS2.index(dim)
    methods = dask_methods(inp, dim, kind)
    coord = positions(cfg.shape2[axis], kind)
    got = rep.attempt(f"{label}: xgradient", lambda: persisted(methods["xgradient"]()).compute())
    ref = rep.attempt(f"{label}: numpy.gradient", lambda: np.gradient(inp.values, coord, axis=axis))
    same = compare(got, ref)
    del got, ref
    times = {}
    for name, build in methods.items():
        times[name] = rep.attempt(
            f"{label}: {name}",
            lambda build=build: best_of(lambda: persisted(build()), cfg.repeats_dask),
        )
    t_add, t_xg = times["d + 0"], times["xgradient"]
    case = f"{dim} {kind}"
    xg_add = ratio(t_xg, t_add)
    speedup = ratio(times["xarray"], t_xg)
    return [
        f"{dim} (axis {axis})",
        kind,
        fmt_time(t_add),
        fmt_time(t_xg),
        fmt_ratio(xg_add),
        fmt_ratio(ratio(times["dask.array.gradient"], t_add)),
        fmt_ratio(ratio(times["xarray"], t_add)),
        fmt_ratio(speedup),
        fmt_ratio(ratio(times["dask.array.gradient"], t_xg)),
        same,
        rep.target("dask: xgradient <= 1.5x d + 0", case, at_most(xg_add, DASK_MAX_VS_ADD)),
        rep.target(
            "dask: xgradient >= 3x faster than xarray",
            case,
            at_least(speedup, DASK_MIN_SPEEDUP_VS_XARRAY),
        ),
    ]
