"""6. First-call cost: the first and second call in fresh processes (numba compile or cache load)."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import numpy as np
from harness import Report, Table, fmt_ratio, fmt_time, log, ratio

from .common import DIMS2, Config, labelled, random_array, run_worker

NAME = "first-call"


def worker(cfg: Config) -> dict[str, Any]:
    """Runs in a fresh subprocess (``--_worker first-call``): times of the first and second calls."""
    t0 = time.perf_counter()
    import xgradient

    result: dict[str, Any] = {"import": time.perf_counter() - t0}
    for dtype in (np.float64, np.float32):
        obj = labelled(random_array((256, 512), dtype), DIMS2, {"x": "non-uniform"})
        for call in ("first", "second"):
            t0 = time.perf_counter()
            xgradient.gradient(obj, "x")
            result[f"{call} {np.dtype(dtype).name}"] = time.perf_counter() - t0
    result["numba loaded"] = "numba" in sys.modules
    return result


def time_numba_import() -> float:
    code = "import time; t = time.perf_counter(); import numba; print(time.perf_counter() - t)"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    return float(proc.stdout.strip().splitlines()[-1])


def run(cfg: Config, rep: Report) -> None:
    table = Table(
        "6. First-call cost: fresh Python processes, 256x512 array, non-uniform x",
        [
            "process",
            "import xgradient",
            "1st call f64",
            "2nd call f64",
            "1st/2nd",
            "1st call f32",
            "2nd call f32",
            "numba loaded",
        ],
        id="first-call",
    )
    table.notes.append(
        "the first process may compile and write numba's on-disk cache; the next ones load it"
    )
    t_numba = rep.attempt("import numba alone", time_numba_import)
    if t_numba is not None:
        table.notes.append(
            f"for scale: 'import numba' alone takes {fmt_time(t_numba)} in a fresh process "
            "(part of the first call if xgradient imports numba then)"
        )
    for i in (1, 2):
        log(f"first call, process {i}")
        r = rep.attempt(f"first call, process {i}", lambda: run_worker(cfg, "first-call", 600))
        if r is None:
            table.add(f"#{i}", *["err"] * 7)
            continue
        table.add(
            f"#{i}",
            fmt_time(r["import"]),
            fmt_time(r["first float64"]),
            fmt_time(r["second float64"]),
            fmt_ratio(ratio(r["first float64"], r["second float64"])),
            fmt_time(r["first float32"]),
            fmt_time(r["second float32"]),
            "yes" if r["numba loaded"] else "no",
        )
    rep.show(table, NAME)
