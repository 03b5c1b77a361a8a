"""The benchmark script runs and checks its results (a smoke test: nothing is timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gradient.py"


def test_benchmark_script_runs_on_tiny_arrays_and_finds_numpys_results():
    # Tiny shapes, one repeat: the point is that every section still runs
    # against the current API and that every result it checks is numpy's.
    args = ["--size", "6x16x8", "--size2d", "16x32", "--chunks", "8x16", "--repeats", "1"]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--only", "eager,dask,multi,graph,options"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "no errors" in out, out[-3000:]
    assert "DIFFERENT" not in out and "SHAPE" not in out
    # 18 + 3 eager rows (the 3 on a subset view; each also checks the kernel
    # written into out=), 4 Dask rows and 3 periodic rows, each with a
    # "vs numpy" cell.
    rows = [line for line in out.splitlines() if not line.lstrip().startswith("*")]
    assert sum(" identical" in row for row in rows) == 18 + 3 + 4 + 3
