"""The examples in README.md and docs/*.md, and the scripts in examples/, run as shown."""

from __future__ import annotations

import importlib.util
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _check_examples():
    spec = importlib.util.spec_from_file_location("check_examples", ROOT / "docs/check_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_documented_examples_run_as_shown():
    assert _check_examples().main([]) == 0


def test_quickstart_runs(monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(sys, "argv", ["quickstart.py"])
    runpy.run_path(str(ROOT / "examples/quickstart.py"), run_name="__main__")


@pytest.mark.distributed
@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")
def test_distributed_zarr_example_runs(tmp_path):
    pytest.importorskip("matplotlib")
    example = runpy.run_path(str(ROOT / "examples/distributed_zarr.py"), run_name="example")
    out = tmp_path / "stream.png"
    measured = example["main"](["--size", "small", "--out", str(out)])
    assert measured["error"] < 1e-3  # dT/dx against the analytic derivative (2e-4 measured)
    # The task stream recorded every task the two workers ran, and the figure was drawn.
    assert {task["worker"] for task in measured["tasks"]} == set(measured["workers"])
    assert len(measured["workers"]) == 2
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_example_script_runs_in_a_test():
    """CI runs each script of examples/ at a small size: each one is named by a test file."""
    tests = "\n".join(path.read_text() for path in (ROOT / "tests").glob("test_*.py"))
    scripts = sorted((ROOT / "examples").glob("*.py"))
    assert len(scripts) >= 6
    untested = [path.name for path in scripts if path.name not in tests and path.stem not in tests]
    assert not untested, f"no test runs examples/{untested}"


def test_benchmark_plot_draws_the_committed_results(tmp_path):
    """docs/performance.md's figure: benchmarks/plot_results.py on the committed JSON."""
    pytest.importorskip("matplotlib")
    plot = runpy.run_path(str(ROOT / "benchmarks/plot_results.py"), run_name="plot")
    out = tmp_path / "ratios.png"
    figure = plot["main"](["--out", str(out)])
    eager, lazy = figure.axes[:2]
    # One bar per method and case: 4 methods x 6 eager cases, 3 x 4 Dask cases.
    assert len(eager.patches) == 24 and len(lazy.patches) == 12
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
