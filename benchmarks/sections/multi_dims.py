"""3. Several dims at once: ``grad(["y", "x"])`` against ``grad("y") + grad("x")``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from harness import Report, Table, at_most, best_of, fmt_ratio, fmt_shape, fmt_time, log, ratio

from .common import DIMS2, DIMS3, Config, dask_input, labelled, persisted, random_array

NAME = "multi"

# Target: grad([y, x]) "not more than" grad(y) + grad(x), with 5 % for timing noise.
MULTI_MAX_VS_SUM = 1.05


def run(cfg: Config, rep: Report) -> None:
    table = Table(
        "3. Several dims at once: grad(['y', 'x']) against grad('y') + grad('x')",
        [
            "case",
            "grad(y)",
            "grad(x)",
            "sum",
            "grad([y,x])",
            "multi/sum",
            "reference",
            "reference/multi",
            f"multi<=sum (+{(MULTI_MAX_VS_SUM - 1) * 100:.0f}%)",
        ],
        id="multi",
    )
    table.notes += [
        "non-uniform coordinates on y and x; reference: numpy.gradient(a, y, x, axis=(..)) "
        "eagerly, dask.array.gradient(d, y, x, axis=(0, 1)) persisted together for Dask",
        f"a multi/sum up to {MULTI_MAX_VS_SUM:g} counts as 'not more than the sum' (timing noise)",
    ]
    cases: list[tuple[str, Callable[[], Any], bool]] = [
        (f"eager {fmt_shape(cfg.shape3)} float64", lambda: random_array(cfg.shape3), False),
    ]
    inp = dask_input(cfg, rep)
    if inp is not None:
        chunked = f"dask {fmt_shape(cfg.shape2)} chunks {fmt_shape(cfg.chunks)}"
        cases.append((f"eager {fmt_shape(cfg.shape2)} float64", lambda: inp.values, False))
        cases.append((chunked, lambda: inp.data, True))
    for label, make, lazy in cases:
        log(f"multi {label}")
        data = rep.attempt(f"multi {label}: make data", make)
        if data is not None:
            table.add(*multi_row(cfg, rep, data, label, lazy))
        del data
    rep.show(table, NAME)


def multi_row(cfg: Config, rep: Report, data: Any, label: str, lazy: bool) -> list[Any]:
    import dask
    import dask.array as da

    import xgradient

    dims = DIMS3 if data.ndim == 3 else DIMS2
    obj = labelled(data, dims, {"y": "non-uniform", "x": "non-uniform"})
    cy, cx = obj["y"].values, obj["x"].values
    axes = (dims.index("y"), dims.index("x"))
    if lazy:
        runs = {
            "y": lambda: persisted(xgradient.gradient(obj, "y").data),
            "x": lambda: persisted(xgradient.gradient(obj, "x").data),
            "multi": lambda: dask.persist(*(r.data for r in xgradient.gradient(obj, ["y", "x"]))),
            "reference": lambda: dask.persist(*da.gradient(data, cy, cx, axis=axes)),
        }
    else:
        runs = {
            "y": lambda: xgradient.gradient(obj, "y"),
            "x": lambda: xgradient.gradient(obj, "x"),
            "multi": lambda: xgradient.gradient(obj, ["y", "x"]),
            "reference": lambda: np.gradient(data, cy, cx, axis=axes),
        }
    n = cfg.repeats_dask if lazy else cfg.repeats
    t = {
        name: rep.attempt(f"multi {label}: {name}", lambda fn=fn: best_of(fn, n))
        for name, fn in runs.items()
    }
    t_sum = None if t["y"] is None or t["x"] is None else t["y"] + t["x"]
    multi_sum = ratio(t["multi"], t_sum)
    return [
        label,
        fmt_time(t["y"]),
        fmt_time(t["x"]),
        fmt_time(t_sum),
        fmt_time(t["multi"]),
        fmt_ratio(multi_sum),
        fmt_time(t["reference"]),
        fmt_ratio(ratio(t["reference"], t["multi"])),
        rep.target(
            "several dims: grad([y, x]) <= grad(y) + grad(x)",
            label,
            at_most(multi_sum, MULTI_MAX_VS_SUM),
        ),
    ]
