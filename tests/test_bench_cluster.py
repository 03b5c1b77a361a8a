"""The cluster benchmark runs end to end on a tiny store (a smoke test: nothing is timed)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    pytest.importorskip("zarr")
    pytest.importorskip("psutil")
    # Imported by name, not loaded from a path: the tasks it sends call its
    # functions by reference, and the spawned workers inherit sys.path.
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.delitem(sys.modules, "bench_cluster", raising=False)
    return importlib.import_module("bench_cluster")


@pytest.mark.distributed
def test_cluster_benchmark_quick_run_reports_the_three_jobs(bench, tmp_path, capsys):
    out = tmp_path / "results.json"
    work = tmp_path / "work"
    results = bench.main(["--quick", "--json", str(out), "--dir", str(work)])

    jobs = {(j["job"], j["workers"]): j for j in results["jobs"]}
    assert set(jobs) == {
        ("xgradient", 2),
        ("copy", 2),
        ("xarray.differentiate", 2),
        ("xgradient", 1),
    }
    for job in jobs.values():
        assert job["status"] == "ok", job
        assert job["wall_s"] > 0 and job["throughput"] > 0
        assert len(job["peak_rss"]) == job["workers"] and min(job["peak_rss"]) > 0
        assert job["spilled_bytes"] >= 0 and "paused" in job and "restarted" in job
    assert jobs[("xgradient", 2)]["variables"] == ["dt_dy", "dt_dx"]
    assert jobs[("copy", 2)]["written_bytes"] == jobs[("xgradient", 2)]["written_bytes"]
    # Same encoding and chunks for the copy as for xgradient's outputs.
    assert results["codecs"]["copy"] == results["codecs"]["xgradient"]
    assert any(line.startswith("tasks:") for line in results["generate"]["plan"])

    table = capsys.readouterr().out
    for name in ("| xgradient | 2 |", "| copy | 2 |", "| xarray.differentiate | 2 |"):
        assert name in table
    assert "xgradient / copy throughput" in table and "Scaling 1 -> 2 workers" in table
    assert json.loads(out.read_text())["jobs"][0]["job"] == "xgradient"
    assert not work.exists()  # the stores are deleted
