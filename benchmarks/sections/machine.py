"""The header: the machine, the versions, whether the compiled kernels answer, the configuration."""

from __future__ import annotations

import numpy as np
from harness import (
    Report,
    Table,
    engine_status,
    fmt_shape,
    load_average,
    machine_rows,
    numba_threads,
)

from .common import Config

NAME = "machine"
MODULES = ("numpy", "xarray", "dask", "numba", "metpy", "xgradient")


def table(cfg: Config) -> Table:
    t = Table("Machine and configuration", ["item", "value"], id="machine")
    for item, value in machine_rows(MODULES):
        t.add(item, value)
    t.add("numba threads", numba_threads())
    t.add("xgradient compiled kernel", engine_status("numba"))
    mib = 8 / 2**20
    t.add(
        "eager 3-D shape",
        f"{fmt_shape(cfg.shape3)} ({np.prod(cfg.shape3) * mib:.0f} MiB in float64)",
    )
    t.add("2-D shape", f"{fmt_shape(cfg.shape2)} ({np.prod(cfg.shape2) * mib:.0f} MiB in float64)")
    t.add("dask chunks", f"{fmt_shape(cfg.chunks)}, threaded scheduler, {cfg.threads} threads")
    t.add(
        "global field (missing values)",
        f"{fmt_shape(cfg.shape_global)} ({np.prod(cfg.shape_global) * mib:.0f} MiB in float64), "
        f"Dask chunks {fmt_shape(cfg.chunks_global)}",
    )
    t.add(
        "timing",
        f"best of {cfg.repeats} (eager) / {cfg.repeats_dask} (Dask) calls, "
        "time.perf_counter, warm-up call excluded",
    )
    t.add("load average at start", load_average())
    return t


def run(cfg: Config, rep: Report) -> None:
    rep.show(table(cfg), NAME)
