"""The benchmark scripts run and check their results (smoke tests: nothing is timed).

Also: the results tables of docs/performance.md are what benchmarks/results/*.json
renders, and the benchmarks pick a backend only through ``harness.block_kernel``.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPT = BENCHMARKS / "bench_gradient.py"


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _load(name: str, monkeypatch: pytest.MonkeyPatch):
    """A module of benchmarks/, imported by name as the scripts import each other."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module(name)


def test_benchmark_script_runs_on_tiny_arrays_and_finds_numpys_results(tmp_path):
    # Tiny shapes, one repeat: the point is that every section still runs
    # against the current API and that every result it checks is numpy's.
    out_json = tmp_path / "run.json"
    args = ["--size", "6x16x8", "--size2d", "16x32", "--chunks", "8x16", "--repeats", "1"]
    sections = "eager,dask,multi,graph,options"
    proc = _run(str(SCRIPT), *args, "--only", sections, "--json", str(out_json))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "no errors" in out, out[-3000:]
    assert "DIFFERENT" not in out and "SHAPE" not in out
    # 18 + 3 eager rows (the 3 on a subset view; each also checks the kernel
    # written into out=), 4 Dask rows and 3 periodic rows, each with a
    # "vs numpy" cell.
    rows = [line for line in out.splitlines() if not line.lstrip().startswith("*")]
    assert sum(" identical" in row for row in rows) == 18 + 3 + 4 + 3

    # The JSON holds every table shown, row for row, and the numbers behind the cells.
    run = json.loads(out_json.read_text())
    assert run["schema"] == 1 and run["errors"] == []
    assert run["config"]["sections"] == sections.split(",")
    tables = {t["id"]: t for t in run["tables"]}
    assert list(tables) == ["machine", "eager", "dask", "multi", "graph", "options", "targets"]
    assert [len(tables[k]["rows"]) for k in ("eager", "dask", "multi", "graph", "options")] == [
        21,
        4,
        3,
        3,
        3,
    ]
    for table in tables.values():
        assert len(table["values"]) == len(table["rows"])
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
        assert table["title"] in out
    eager = tables["eager"]
    copy = eager["columns"].index("copy")
    assert all(isinstance(row[copy], float) and row[copy] > 0 for row in eager["values"])
    assert {t["target"] for t in run["targets"]} >= {"eager: xgradient <= 2x copy"}


def test_missing_values_section_runs_on_a_tiny_global_field(tmp_path):
    # nan_policy="omit" and mask= against the default path, eager and on Dask;
    # nothing timed is checked, only that every row is measured and consistent.
    out_json = tmp_path / "missing.json"
    args = ["--size-global", "3x24x48", "--chunks-global", "1x12x24", "--repeats", "1"]
    proc = _run(str(SCRIPT), *args, "--only", "missing", "--json", str(out_json))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no errors" in proc.stdout, proc.stdout[-3000:]
    run = json.loads(out_json.read_text())
    assert run["errors"] == [] and run["config"]["shape_global"] == [3, 24, 48]
    tables = {t["id"]: t for t in run["tables"]}
    assert list(tables) == ["machine", "missing-eager", "missing-dask", "targets"]
    for table_id in ("missing-eager", "missing-dask"):
        table = tables[table_id]
        columns = table["columns"]
        # float64 and float32 x (d/dlat, d/dlon, d2/dlat2, d2/dlon2, two at accuracy 4),
        # and one mask= row
        operations = ["d/dlat", "d/dlon", "d2/dlat2", "d2/dlon2", "d/dlat acc4", "d2/dlon2 acc4"]
        assert [row[columns.index("derivative")] for row in table["rows"]] == [
            *operations,
            "d/dlat, mask=",
            *operations,
        ]
        for row, values in zip(table["rows"], table["values"], strict=True):
            checks = [row[columns.index(c)] for c in ("a vs numpy", "b vs a", "d vs c")]
            assert set(checks) <= {"identical", "-"}, (table_id, row)
            for column in ("(a) default", "(c) default, NaN", "(d) omit, NaN", "floor"):
                assert values[columns.index(column)] > 0
    targets = {t["target"] for t in run["targets"]}
    assert targets == {
        "missing: omit, no NaN <= 1.10x default",
        "missing: omit, 30% NaN <= 1.5x default on the same data",
    }


def test_land_mask_is_smooth_blobs_covering_the_fraction_asked(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    missing = importlib.import_module("sections.missing")
    land = missing.land_mask(181, 360)
    assert land.shape == (181, 360) and land.dtype == bool
    assert abs(land.mean() - 0.30) < 0.001
    np.testing.assert_array_equal(land, missing.land_mask(181, 360))  # fixed seed
    # Blobs, not salt and pepper: few valid points lie beside land.
    assert missing.coast_fraction(land, 0) < 0.05 and missing.coast_fraction(land, 1) < 0.05


def test_best_of_interleaved_rotates_the_first_variant_and_keeps_each_best(monkeypatch):
    harness = _load("harness", monkeypatch)
    calls: list[str] = []
    fns = {k: (lambda k=k: calls.append(k)) for k in "abc"}
    best = harness.best_of_interleaved(fns, repeats=4, warmup=2)
    assert list(best) == ["a", "b", "c"] and all(0 <= t < 1 for t in best.values())
    warm, rounds = calls[:6], calls[6:]
    assert warm == ["a", "b", "c"] * 2
    assert rounds == [*"abc", *"bca", *"cab", *"abc"]
    assert harness.best_of_interleaved({}, repeats=3) == {}


def test_benchmark_script_rejects_unknown_sections():
    proc = _run(str(SCRIPT), "--only", "eager,nope")
    assert proc.returncode == 2 and "unknown section" in proc.stderr


def test_cupy_benchmark_runs_or_skips_cleanly(tmp_path):
    # Without CuPy (or a GPU) it says why and exits 0; with one, a tiny run.
    out_json = tmp_path / "cupy.json"
    args = ["--size", "4x8x8", "--repeats", "1", "--no-dask", "--json", str(out_json)]
    proc = _run(str(BENCHMARKS / "bench_cupy.py"), *args)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    run = json.loads(out_json.read_text())
    if "skipped" in run:
        assert "skipped" in proc.stdout and run["tables"] == []
    else:
        assert "DIFFERENT" not in proc.stdout and run["errors"] == []
        ids = [t["id"] for t in run["tables"]]
        assert ids == ["cupy-device", "cupy-first-call", "cupy-eager", "cupy-options"]


def test_docs_results_tables_match_the_committed_json():
    proc = _run(str(BENCHMARKS / "render_results.py"), "--check", timeout=60)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_render_results_rewrites_only_between_markers_and_checks(tmp_path, monkeypatch):
    render = _load("render_results", monkeypatch)
    harness = _load("harness", monkeypatch)
    table = harness.Table("1. A title", ["case", "time"], id="eager")
    table.add("a", harness.fmt_time(0.0263))
    table.notes.append("a note")
    results = tmp_path / "results"
    harness.write_json(results / "bench_gradient.json", {"tables": [table.to_json()]})
    harness.write_json(results / "other.json", {"tables": [table.to_json()]})
    doc = tmp_path / "doc.md"
    stale = (
        "# Page\n\nprose\n\n<!-- results:eager -->\nold\n<!-- /results:eager -->\n\nmore prose\n"
        "<!-- results:eager run=other heading=0 -->\n<!-- /results:eager -->\n"
    )
    doc.write_text(stale)
    argv = ["--doc", str(doc), "--results", str(results)]
    assert render.main([*argv, "--check"]) == 1
    assert doc.read_text() == stale
    assert render.main(argv) == 0
    assert doc.read_text() == (
        "# Page\n\nprose\n\n<!-- results:eager -->\n\n#### 1. A title\n\n| case | time |\n"
        "|:---|---:|\n| a | 26.3 ms |\n\n- a note\n\n<!-- /results:eager -->\n\nmore prose\n"
        "<!-- results:eager run=other heading=0 -->\n\n| case | time |\n|:---|---:|\n"
        "| a | 26.3 ms |\n\n- a note\n\n<!-- /results:eager -->\n"
    )
    assert render.main([*argv, "--check"]) == 0
    # A marker without its end, or naming a table the JSON lacks, is an error.
    doc.write_text("<!-- results:eager -->\n")
    assert render.main(argv) == 2
    doc.write_text("<!-- results:dask -->\n<!-- /results:dask -->\n")
    assert render.main(argv) == 2


def test_block_kernel_engines_agree_with_numpy(monkeypatch):
    harness = _load("harness", monkeypatch)
    from xgradient.stencils import plan_first_derivative

    a = np.random.default_rng(0).standard_normal((5, 7))
    x = np.cumsum(np.random.default_rng(1).uniform(0.5, 1.5, 7))
    block = plan_first_derivative(7, positions=x).block(0, 7)
    expected = np.gradient(a, x, axis=1)
    for engine in ("auto", "numpy", "numba"):
        try:
            kernel = harness.block_kernel("first_derivative", engine)
            out = np.empty_like(a)
            assert kernel(a, 1, block, out=out) is out
        except harness.EngineUnavailable:
            assert engine == "numba"  # numba not installed
            continue
        np.testing.assert_array_equal(out, expected)
    with pytest.raises(harness.EngineUnavailable):
        harness.block_kernel("first_derivative", "cuda")(a, 1, block)  # NumPy data
    with pytest.raises(ValueError):
        harness.block_kernel("first_derivative", "fast")


def test_benchmarks_choose_backends_only_through_the_harness():
    # Backends are picked with xgradient's public engine= option, in one function
    # (harness.block_kernel); no benchmark reaches into private modules for it.
    # (worker_memory.py inspects numba's compiled kernels and is left out.)
    private = re.compile(r"xgradient\.(\w+\.)*_[a-z]|from xgradient(\.\w+)* import _|\bengine=")
    files = [BENCHMARKS / "bench_gradient.py", BENCHMARKS / "bench_cupy.py"]
    files += sorted((BENCHMARKS / "sections").glob("*.py"))
    offenders = [f.name for f in files if private.search(f.read_text())]
    assert offenders == []
    harness_text = (BENCHMARKS / "harness.py").read_text()
    start = harness_text.index("def block_kernel(")
    end = harness_text.index("\ndef ", start + 1)
    uses = [m.start() for m in private.finditer(harness_text)]
    assert uses and all(start < u < end for u in uses)
