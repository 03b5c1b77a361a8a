"""What the sections of ``bench_gradient.py`` share: configuration, data, checks, workers."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from harness import Report, best_of, fmt_shape, log

SCRIPT = Path(__file__).resolve().parents[1] / "bench_gradient.py"
DIMS3 = ("z", "y", "x")
DIMS2 = ("y", "x")
KINDS = ("uniform", "non-uniform")


@dataclass
class Config:
    shape3: tuple[int, ...]
    shape2: tuple[int, ...]
    chunks: tuple[int, ...]
    shape_global: tuple[int, ...]  # (level, lat, lon) of the missing-values section
    chunks_global: tuple[int, ...]
    threads: int
    repeats: int  # eager sections
    repeats_dask: int  # Dask sections (cheaper calls, noisier)
    sections: tuple[str, ...]
    markdown: bool
    quick: bool

    def worker_argv(self) -> list[str]:
        """Arguments that give a worker subprocess the same configuration."""
        return [
            "--size",
            fmt_shape(self.shape3),
            "--size2d",
            fmt_shape(self.shape2),
            "--chunks",
            fmt_shape(self.chunks),
            "--size-global",
            fmt_shape(self.shape_global),
            "--chunks-global",
            fmt_shape(self.chunks_global),
            "--threads",
            str(self.threads),
            "--repeats",
            str(self.repeats),
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "shape3": list(self.shape3),
            "shape2": list(self.shape2),
            "chunks": list(self.chunks),
            "shape_global": list(self.shape_global),
            "chunks_global": list(self.chunks_global),
            "threads": self.threads,
            "repeats": self.repeats,
            "repeats_dask": self.repeats_dask,
            "sections": list(self.sections),
            "quick": self.quick,
        }


def run_worker(cfg: Config, name: str, timeout: float) -> dict[str, Any]:
    """Run ``bench_gradient.py`` as a fresh subprocess in worker mode; return its JSON result."""
    cmd = [sys.executable, str(SCRIPT), "--_worker", name, *cfg.worker_argv()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"worker {name!r} exited with {proc.returncode}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- data


# Uniform steps: 0.5, whose double is exactly a float32, so xgradient divides
# float32 data in float32 (as for 1, 0.25, 1000 m, 86400 s: most real steps),
# and 1 + 2**-30, whose double is not, so float32 data is divided in float64
# as numpy does (the slow path).  Multiples of both are exact, so their
# differences are all equal and every library sees a uniform coordinate.
# float64 data is always divided in float64.
INEXACT = "uniform*"
UNIFORM_STEPS = {"uniform": 0.5, INEXACT: 1.0 + 2.0**-30}


def positions(n: int, kind: str) -> np.ndarray:
    """Positions of ``n`` points: uniform (see UNIFORM_STEPS) or non-uniform (steps in [0.5, 1.5))."""
    if kind in UNIFORM_STEPS:
        return np.arange(n, dtype=np.float64) * UNIFORM_STEPS[kind]
    steps = np.random.default_rng(n).uniform(0.5, 1.5, n - 1)
    return np.concatenate([[0.0], np.cumsum(steps)])


def random_array(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape, dtype=np.dtype(dtype).type)


def labelled(data: Any, dims: tuple[str, ...], kinds: dict[str, str]) -> Any:
    """A DataArray around ``data`` (no copy) with a coordinate on every dim."""
    import xarray as xr

    coords = {
        d: positions(n, kinds.get(d, "uniform")) for d, n in zip(dims, data.shape, strict=True)
    }
    return xr.DataArray(data, dims=dims, coords=coords, name="f")


def compare(got: np.ndarray | None, ref: np.ndarray | None) -> str:
    """``identical`` (bit for bit), ``close``, ``DIFFERENT``, ``SHAPE`` or ``n/a``."""
    if got is None or ref is None:
        return "n/a"
    if got.shape != ref.shape:
        return "SHAPE"
    if np.array_equal(got, ref):
        return "identical"
    tol = 1e-5 if got.dtype == np.float32 else 1e-12
    scale = float(np.max(np.abs(ref))) or 1.0
    return "close" if np.allclose(got, ref, rtol=tol, atol=tol * scale) else "DIFFERENT"


def time_copy(a: np.ndarray, repeats: int) -> float:
    """The eager baseline: np.copyto of ``a`` into a preallocated array of the same shape."""
    dst = np.empty_like(a)
    return best_of(lambda: np.copyto(dst, a), repeats)


def persisted(arr: Any) -> Any:
    """Persist ``arr`` (a dask array) and check every output chunk is really computed."""
    from dask.core import flatten

    out = arr.persist()
    graph = out.__dask_graph__()
    for key in flatten(out.__dask_keys__()):
        if not isinstance(graph[key], np.ndarray):
            raise RuntimeError(f"persist left chunk {key!r} uncomputed ({type(graph[key])})")
    return out


@dataclass
class DaskInput:
    """The persisted 2-D input shared by the Dask sections."""

    data: Any
    _values: np.ndarray | None = None

    @property
    def values(self) -> np.ndarray:
        if self._values is None:
            self._values = self.data.compute()
        return self._values

    @property
    def nchunks(self) -> int:
        return int(self.data.npartitions)

    @property
    def block_nbytes(self) -> int:
        return int(np.prod([c[0] for c in self.data.chunks])) * self.data.dtype.itemsize


def make_dask_input(cfg: Config) -> DaskInput:
    """A persisted float64 array of ``cfg.shape2``; every chunk is its own contiguous array."""
    import dask.array as da

    data = da.random.default_rng(0).standard_normal(cfg.shape2, chunks=cfg.chunks)
    return DaskInput(data.persist())


_DASK_INPUTS: dict[tuple[Any, ...], DaskInput | None] = {}


def dask_input(cfg: Config, rep: Report) -> DaskInput | None:
    """The shared Dask input, made (and persisted) once per run; ``None`` if that failed."""
    key = (cfg.shape2, cfg.chunks)
    if key not in _DASK_INPUTS:
        log("persisting the Dask input")
        _DASK_INPUTS[key] = rep.attempt("make Dask input", lambda: make_dask_input(cfg))
    return _DASK_INPUTS[key]
