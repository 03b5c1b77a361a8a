"""4. Peak memory above input and output, eager and during a Dask persist, in a fresh process."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from harness import (
    MiB,
    Report,
    Table,
    at_most,
    fmt_num,
    fmt_shape,
    log,
    measure_peak,
    return_freed_memory_at_once,
)

from .common import (
    DIMS2,
    DIMS3,
    Config,
    labelled,
    make_dask_input,
    persisted,
    random_array,
    run_worker,
)
from .dask_arrays import dask_methods

NAME = "memory"

# Target: "~1" extra block per scheduler thread during a persist.
DASK_MAX_EXTRA_BLOCKS_PER_THREAD = 1.25


def worker(cfg: Config) -> dict[str, Any]:
    """Runs in a fresh subprocess (``--_worker memory``): peak memory of the eager and Dask paths."""
    import dask

    import xgradient

    exact_free = return_freed_memory_at_once()
    dask.config.set(scheduler="threads", num_workers=cfg.threads)
    result: dict[str, Any] = {"eager": [], "dask": [], "mmap_threshold_set": exact_free}

    def attempt(fn: Callable[[], Any]) -> dict[str, Any]:
        try:
            return measure_peak(fn)
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}

    eager = [(cfg.shape3, DIMS3, axis) for axis in range(3)] + [(cfg.shape2, DIMS2, 1)]
    for shape, dims, axis in eager:
        dim = dims[axis]
        a = random_array(shape)
        obj = labelled(a, dims, {dim: "non-uniform"})
        coord = obj[dim].values
        methods = {
            "xgradient": lambda obj=obj, dim=dim: xgradient.gradient(obj, dim).data,
            "numpy.gradient": lambda a=a, c=coord, ax=axis: np.gradient(a, c, axis=ax),
            "xarray": lambda obj=obj, dim=dim: obj.differentiate(dim).data,
        }
        row = {"case": f"{fmt_shape(shape)} float64 {dim} non-uniform", "input": a.nbytes}
        row.update({name: attempt(fn) for name, fn in methods.items()})
        result["eager"].append(row)
        del a, obj, methods

    inp = make_dask_input(cfg)
    result["block"] = inp.block_nbytes
    for dim in DIMS2:
        methods = dask_methods(inp, dim, "non-uniform")
        row = {"case": f"{dim} non-uniform", "input": inp.data.nbytes}
        row.update({name: attempt(lambda b=b: persisted(b())) for name, b in methods.items()})
        result["dask"].append(row)
    return result


def run(cfg: Config, rep: Report) -> None:
    log("memory (fresh subprocess)")
    data = run_worker(cfg, "memory", timeout=3600)
    eager = Table(
        "4a. Peak memory, eager: extra memory beyond input and output, in units of the input size",
        ["case", "xgradient RSS", "xgradient traced", "numpy.gradient RSS", "xarray RSS"],
        id="memory-eager",
    )
    eager.notes.append(
        "RSS: rise of the process's resident set (kernel high-water mark); traced: tracemalloc "
        "(NumPy allocations; misses numba's own allocations); 0 = no temporaries"
    )
    for row in data["eager"]:
        size = row["input"]

        def cell(name: str, key: str, row: dict[str, Any] = row, size: int = size) -> str:
            m = row[name]
            if "error" in m:
                rep.errors.append(f"memory {row['case']} {name}: {m['error']}")
                return "err"
            return fmt_num(None if m[key] is None else m[key] / size)

        eager.add(
            row["case"],
            cell("xgradient", "rss"),
            cell("xgradient", "traced"),
            cell("numpy.gradient", "rss"),
            cell("xarray", "rss"),
        )

    block = data.get("block", 8 * MiB)
    lazy = Table(
        "4b. Peak memory, Dask persist: extra memory beyond input and output, in blocks",
        [
            "dim",
            "method",
            "extra RSS",
            "extra traced",
            "per thread",
            f"<=~1 block/thread ({DASK_MAX_EXTRA_BLOCKS_PER_THREAD:g})",
        ],
        id="memory-dask",
    )
    lazy.notes += [
        f"block = one chunk = {block / MiB:g} MiB; {cfg.threads} threads; non-uniform coordinate; "
        "per thread = max(RSS, traced) / threads",
        "measured in a fresh subprocess in which glibc returns every freed block >= 64 KiB "
        f"to the system at once (mallopt set: {data.get('mmap_threshold_set')})",
    ]
    for row in data["dask"]:
        for name in ("d + 0", "xgradient", "dask.array.gradient", "xarray"):
            m = row[name]
            if "error" in m:
                rep.errors.append(f"memory dask {row['case']} {name}: {m['error']}")
                lazy.add(row["case"], name, "err", "err", "err", "n/a")
                continue
            rss = None if m["rss"] is None else m["rss"] / block
            traced = m["traced"] / block
            per_thread = max(rss if rss is not None else -math.inf, traced) / cfg.threads
            verdict = "-"
            if name == "xgradient":
                verdict = rep.target(
                    "dask memory: <= ~1 extra block per thread",
                    row["case"],
                    at_most(per_thread, DASK_MAX_EXTRA_BLOCKS_PER_THREAD),
                )
            lazy.add(row["case"], name, fmt_num(rss), fmt_num(traced), fmt_num(per_thread), verdict)
    rep.show(eager, NAME)
    rep.show(lazy, NAME)
