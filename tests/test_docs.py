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
    monkeypatch.setattr(sys, "argv", ["quickstart.py"])
    runpy.run_path(str(ROOT / "examples/quickstart.py"), run_name="__main__")


@pytest.mark.distributed
@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")
def test_distributed_zarr_example_runs(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["distributed_zarr.py"])
    runpy.run_path(str(ROOT / "examples/distributed_zarr.py"), run_name="__main__")
