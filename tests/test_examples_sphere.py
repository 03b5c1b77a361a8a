"""The climate example and the sphere benchmark run (small sizes, nothing timed)."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_geostrophic_vorticity_example_writes_its_figure(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    output = tmp_path / "figure.png"
    argv = ["geostrophic_vorticity.py", "--size", "small", "--output", str(output)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(ROOT / "examples/geostrophic_vorticity.py"), run_name="__main__")
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "finite at both poles: True" in out
    error = float(out.split("max difference ")[1].split()[0])
    assert error < 0.05  # measured 2.3e-02 on the 5° grid (9e-4 at 1°)


def test_sphere_benchmark_quick_runs():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/bench_sphere.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line for line in proc.stdout.splitlines() if "|" in line}
    assert "identical" in rows["xgradient dask (chunks: 1 level)"]
    assert "finite" in rows["xgradient eager"]
    assert all(name in rows for name in ("metpy", "numpy by hand"))
