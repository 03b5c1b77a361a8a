"""8. Other stencils (``accuracy=4``, second derivatives, periodic dims) against a copy."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from harness import Report, Table, best_of, fmt_ratio, fmt_shape, fmt_time, log, ratio

from .common import DIMS3, Config, compare, labelled, random_array, time_copy

NAME = "options"


def periodic_check(a: np.ndarray, axis: int, step: float, run: Callable[[], Any]) -> str:
    """xgradient's periodic result against numpy.gradient of the wrapped, padded array."""
    pad = [(1, 1) if i == axis else (0, 0) for i in range(a.ndim)]
    inner = tuple(slice(1, -1) if i == axis else slice(None) for i in range(a.ndim))
    return compare(run().values, np.gradient(np.pad(a, pad, mode="wrap"), step, axis=axis)[inner])


def run(cfg: Config, rep: Report) -> None:
    import xgradient

    table = Table(
        "8. Other stencils, eager: ratios are time / time of np.copyto",
        [
            "dim",
            "copy",
            "new/copy",
            "default/copy",
            "accuracy=4/copy",
            "second/copy",
            "periodic/copy",
            "periodic vs numpy",
        ],
        id="options",
    )
    table.notes += [
        f"{fmt_shape(cfg.shape3)} float64; default (numpy.gradient's formulas), accuracy=4 "
        "(five-point stencil) and second (grad.second) on a non-uniform coordinate; periodic "
        "(boundary='periodic', period inferred) on a uniform one",
        "periodic vs numpy: against numpy.gradient of the array padded with its wrapped "
        "neighbours (np.pad(mode='wrap')); xgradient's periodic stencil applies weights "
        "+-1/(2h), which round exactly like numpy's (f[i+1] - f[i-1]) / (2h) when 1/(2h) is a "
        "power of two, as with this step of 0.5, and may differ in the last bit ('close') "
        "otherwise",
    ]
    a = random_array(cfg.shape3)
    n = cfg.repeats
    for axis, dim in enumerate(DIMS3):
        label = f"options {dim}"
        log(label)
        obj = labelled(a, DIMS3, {dim: "non-uniform"})
        uniform = labelled(a, DIMS3, {dim: "uniform"})
        runs = {
            "default": functools.partial(xgradient.gradient, obj, dim),
            "accuracy=4": functools.partial(xgradient.gradient, obj, dim, accuracy=4),
            "second": functools.partial(xgradient.second_derivative, obj, dim),
            "periodic": functools.partial(xgradient.gradient, uniform, dim, boundary="periodic"),
        }
        t_copy = rep.attempt(f"{label}: copy", lambda: time_copy(a, n))
        t_new = rep.attempt(f"{label}: new copy", lambda: best_of(a.copy, n))
        t = {
            name: rep.attempt(f"{label}: {name}", lambda f=fn: best_of(f, n))
            for name, fn in runs.items()
        }
        step = float(uniform[dim].values[1] - uniform[dim].values[0])
        same = rep.attempt(
            f"{label}: periodic vs numpy",
            functools.partial(periodic_check, a, axis, step, runs["periodic"]),
        )
        table.add(
            f"{dim} (axis {axis})",
            fmt_time(t_copy),
            fmt_ratio(ratio(t_new, t_copy)),
            *(fmt_ratio(ratio(t[name], t_copy)) for name in runs),
            same or "n/a",
        )
    rep.show(table, NAME)
