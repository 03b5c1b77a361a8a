"""5. Graph size: Dask tasks per input chunk, before any optimisation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness import Report, Table, fmt_num, fmt_shape, log

from .common import DIMS2, Config, dask_input, labelled
from .dask_arrays import dask_methods

NAME = "graph"


def graph_keys(arrays: Any) -> set[Any]:
    if not isinstance(arrays, (tuple, list)):
        arrays = [arrays]
    keys: set[Any] = set()
    for arr in arrays:
        keys.update(arr.__dask_graph__().keys())
    return keys


def run(cfg: Config, rep: Report) -> None:
    import dask.array as da

    import xgradient

    inp = dask_input(cfg, rep)
    if inp is None:  # the error is recorded already
        return
    log("graph size")
    table = Table(
        "5. Graph size: tasks per input chunk (all tasks of the result minus the input's)",
        ["dim", "xgradient", "dask.array.gradient", "xarray", "d + 0"],
        id="graph",
    )
    n_in = len(graph_keys(inp.data))
    table.notes.append(
        f"{fmt_shape(cfg.shape2)} in {inp.nchunks} chunks of {fmt_shape(cfg.chunks)}; "
        f"input graph: {n_in} tasks (persisted); non-uniform coordinates; before optimization"
    )

    def per_chunk(label: str, build: Callable[[], Any]) -> str:
        keys = rep.attempt(f"graph {label}", lambda: graph_keys(build()))
        return "err" if keys is None else fmt_num((len(keys) - n_in) / inp.nchunks)

    for dim in DIMS2:
        methods = dask_methods(inp, dim, "non-uniform")
        table.add(
            dim,
            *(
                per_chunk(f"{dim} {name}", methods[name])
                for name in ("xgradient", "dask.array.gradient", "xarray", "d + 0")
            ),
        )
    obj = labelled(inp.data, DIMS2, {"y": "non-uniform", "x": "non-uniform"})
    cy, cx = obj["y"].values, obj["x"].values
    table.add(
        "y and x together",
        per_chunk("y,x xgradient", lambda: [r.data for r in xgradient.gradient(obj, ["y", "x"])]),
        per_chunk("y,x dask.array.gradient", lambda: da.gradient(inp.data, cy, cx, axis=(0, 1))),
        per_chunk("y,x xarray", lambda: [obj.differentiate("y").data, obj.differentiate("x").data]),
        "-",
    )
    rep.show(table, NAME)
