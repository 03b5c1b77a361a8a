#!/usr/bin/env python
"""Benchmarks for xgradient, side by side with the alternatives, in one run.

    python benchmarks/bench_gradient.py              # default size (~256 MiB arrays)
    python benchmarks/bench_gradient.py --quick      # ~16 MiB arrays, under a minute
    python benchmarks/bench_gradient.py --markdown   # tables as Markdown

Sections (``--only`` picks some):

1. ``eager``: derivative along one dim of NumPy-backed data, against ``np.copyto``
   of the same array, ``numpy.gradient``, ``xarray.DataArray.differentiate`` and
   MetPy's ``first_derivative``.
2. ``dask``: persisting the derivative of a chunked array, against persisting
   ``d + 0``, ``xarray.DataArray.differentiate`` and ``dask.array.gradient``.
3. ``multi``: ``obj.grad(["y", "x"])`` against the sum of the single-dim times.
4. ``memory``: peak memory above input + output (in a fresh subprocess).
5. ``graph``: Dask tasks per input chunk.
6. ``first-call``: the first call in a fresh process (numba compile or cache
   load) against the second.
7. ``overhead``: the fixed cost of a call on small arrays and Datasets, and
   the time to build a Dask graph of many chunks.
8. ``options``: the other stencils (``accuracy=4``, second derivatives,
   periodic dims) against the default one and a copy.

Every number is measured, never assumed: the script times whatever the
installed package does.  benchmarks/README.md explains the ratios and targets.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import gc
import json
import math
import os
import platform
import re
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MiB = 2**20
SECTIONS = ("eager", "dask", "multi", "memory", "graph", "first-call", "overhead", "options")
DIMS3 = ("z", "y", "x")
DIMS2 = ("y", "x")
KINDS = ("uniform", "non-uniform")

# Targets (benchmarks/README.md explains each).
EAGER_MAX_VS_COPY = 2.0  # xgradient time <= 2x np.copyto of the same array
EAGER_MIN_SPEEDUP_VS_XARRAY = 5.0  # xgradient >= 5x faster than xarray.differentiate
DASK_MAX_VS_ADD = 1.5  # persisting the derivative <= 1.5x persisting d + 0
DASK_MIN_SPEEDUP_VS_XARRAY = 3.0  # >= 3x faster than xarray.differentiate (dask.array.gradient)
MULTI_MAX_VS_SUM = 1.05  # grad([y, x]) "not more than" grad(y) + grad(x), 5 % timing noise
DASK_MAX_EXTRA_BLOCKS_PER_THREAD = 1.25  # "~1" extra block per thread


# --------------------------------------------------------------------------- configuration


@dataclass
class Config:
    shape3: tuple[int, ...]
    shape2: tuple[int, ...]
    chunks: tuple[int, ...]
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
            "--threads",
            str(self.threads),
            "--repeats",
            str(self.repeats),
        ]


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(p) for p in text.lower().replace("*", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a shape like 16x2048x1024: {text!r}") from None
    if not shape or min(shape) < 3:
        raise argparse.ArgumentTypeError(f"every dimension needs >= 3 points: {text!r}")
    return shape


def parse_args(argv: list[str] | None = None) -> tuple[Config, str | None]:
    p = argparse.ArgumentParser(
        description="Benchmark xgradient against np.copyto, numpy.gradient, "
        "xarray.differentiate, MetPy and dask.array.gradient.",
    )
    p.add_argument("--quick", action="store_true", help="~16 MiB arrays (finishes in < 1 min)")
    p.add_argument(
        "--size",
        type=parse_shape,
        metavar="NZxNYxNX",
        help="3-D eager shape (default 16x2048x1024, 256 MiB in float64; --quick 8x512x512)",
    )
    p.add_argument(
        "--size2d",
        type=parse_shape,
        metavar="NYxNX",
        help="2-D shape of the eager 'issue' case and of the Dask sections "
        "(default 4096x8192; --quick 1024x2048)",
    )
    p.add_argument(
        "--chunks",
        type=parse_shape,
        metavar="CYxCX",
        help="Dask chunks (default 1024x1024; --quick 512x512)",
    )
    p.add_argument("--threads", type=int, default=2, help="threads of the Dask scheduler (2)")
    p.add_argument(
        "--repeats",
        type=int,
        help="timed repeats, best kept (default 5)",
    )
    p.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run, among {','.join(SECTIONS)}",
    )
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument("--_worker", choices=("memory", "first-call"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    sections = tuple(s.strip() for s in a.only.split(",") if s.strip())
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        p.error(f"unknown section(s) {unknown}; choose among {list(SECTIONS)}")
    if a.size is not None and len(a.size) != 3:
        p.error("--size takes a 3-D shape, e.g. 16x2048x1024")
    for name in ("size2d", "chunks"):
        value = getattr(a, name)
        if value is not None and len(value) != 2:
            p.error(f"--{name} takes a 2-D shape, e.g. 4096x8192")
    cfg = Config(
        shape3=a.size or ((8, 512, 512) if a.quick else (16, 2048, 1024)),
        shape2=a.size2d or ((1024, 2048) if a.quick else (4096, 8192)),
        chunks=a.chunks or ((512, 512) if a.quick else (1024, 1024)),
        threads=a.threads,
        repeats=a.repeats or 5,
        repeats_dask=a.repeats or 5,
        sections=sections,
        markdown=a.markdown,
        quick=a.quick,
    )
    return cfg, a._worker


# --------------------------------------------------------------------------- formatting


def fmt_shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def fmt_time(t: float | None) -> str:
    if t is None:
        return "n/a"
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    if t < 1:
        return f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def fmt_num(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def _right_aligned(self) -> list[bool]:
        """Columns of numbers (times, ratios, verdicts) are right-aligned, text left."""
        numeric = re.compile(r"^(-?\d[\d.]*(x| ms| us| s)?|n/a|err|-|PASS|FAIL)$")
        return [
            bool(self.rows) and all(numeric.match(row[i]) for row in self.rows)
            for i in range(len(self.columns))
        ]

    def render(self, markdown: bool) -> str:
        right = self._right_aligned()
        if markdown:
            lines = [f"### {self.title}", ""]
            lines.append("| " + " | ".join(self.columns) + " |")
            lines.append("|" + "|".join("---:" if r else ":---" for r in right) + "|")
            lines += ["| " + " | ".join(row) + " |" for row in self.rows]
            if self.notes:
                lines.append("")
                lines += [f"- {note}" for note in self.notes]
            return "\n".join(lines) + "\n"
        widths = [max(len(c) for c in col) for col in zip(self.columns, *self.rows, strict=True)]

        def line(cells: list[str]) -> str:
            out = (
                c.rjust(w) if r else c.ljust(w)
                for c, w, r in zip(cells, widths, right, strict=True)
            )
            return "  ".join(out).rstrip()

        lines = [self.title, "=" * len(self.title), line(self.columns)]
        lines.append("  ".join("-" * w for w in widths))
        lines += [line(row) for row in self.rows]
        lines += [f"  * {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


_START = time.perf_counter()


def log(msg: str) -> None:
    """Progress goes to stderr, so that stdout holds only the tables."""
    print(f"[{time.perf_counter() - _START:7.1f}s] {msg}", file=sys.stderr, flush=True)


class Report:
    """Collects errors and pass/fail targets while the sections run."""

    def __init__(self, markdown: bool) -> None:
        self.markdown = markdown
        self.errors: list[str] = []
        self.missing: list[str] = []  # optional packages not installed (not errors)
        self.targets: list[tuple[str, str, bool | None]] = []

    def error(self, label: str, exc: BaseException) -> None:
        msg = f"{label}: {type(exc).__name__}: {exc}".strip()
        self.errors.append(msg)
        log(f"ERROR {msg}")

    def attempt(self, label: str, fn: Callable[[], Any]) -> Any:
        """``fn()``, or ``None`` (after recording the error) if it raises."""
        try:
            return fn()
        except Exception as exc:
            self.error(label, exc)
            return None

    def target(self, name: str, case: str, ok: bool | None) -> str:
        self.targets.append((name, case, ok))
        return "n/a" if ok is None else ("PASS" if ok else "FAIL")

    def show(self, table: Table) -> None:
        print(table.render(self.markdown), flush=True)

    def summary(self) -> Table:
        table = Table("Targets", ["target", "pass", "fail", "n/a", "failing cases"])
        names = list(dict.fromkeys(name for name, _, _ in self.targets))
        for name in names:
            results = [(case, ok) for n, case, ok in self.targets if n == name]
            failing = [case for case, ok in results if ok is False]
            shown = "; ".join(failing[:2]) + (
                f"; +{len(failing) - 2} more" if len(failing) > 2 else ""
            )
            table.add(
                name,
                sum(ok is True for _, ok in results),
                len(failing),
                sum(ok is None for _, ok in results),
                shown or "-",
            )
        table.notes += [f"not installed: {m}" for m in self.missing]
        table.notes += [f"error: {e}" for e in self.errors] or ["no errors"]
        table.notes.append(f"load average at the end: {load_average()}")
        return table


def at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def at_least(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


# --------------------------------------------------------------------------- measuring


def best_of(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` (perf_counter), after ``warmup`` calls.

    The result of every call is dropped outside the timed region, and the
    garbage collector is off while timing (as in :mod:`timeit`).
    """
    for _ in range(warmup):
        fn()
    gc.collect()  # a full collection takes tens of ms: once, not before every repeat
    best = math.inf
    for _ in range(max(1, repeats)):
        gc.collect(1)
        gc.disable()
        try:
            t0 = time.perf_counter()
            out = fn()
            elapsed = time.perf_counter() - t0
        finally:
            gc.enable()
        del out
        best = min(best, elapsed)
    return best


def _proc_status_kib(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            match = re.search(rf"^{field_name}:\s+(\d+) kB", f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def current_rss() -> int | None:
    rss = _proc_status_kib("VmRSS")
    if rss is None:
        with contextlib.suppress(ImportError):
            import psutil

            rss = psutil.Process().memory_info().rss
    return rss


class PeakRSS:
    """Peak resident set size during a ``with`` block.

    Exact on Linux (the kernel's high-water mark ``VmHWM``, reset through
    ``/proc/self/clear_refs``); elsewhere a thread samples the RSS every 0.5 ms.
    """

    def __enter__(self) -> PeakRSS:
        self.start = current_rss()
        self.peak: int | None = None
        self.exact = False
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.exact = _proc_status_kib("VmHWM") is not None
        except OSError:
            pass
        if not self.exact:
            self._samples = [self.start or 0]
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.0005):
            self._samples.append(current_rss() or 0)

    def __exit__(self, *exc: object) -> None:
        if self.exact:
            self.peak = _proc_status_kib("VmHWM")
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self._samples) or None


def return_freed_memory_at_once() -> bool:
    """Make glibc mmap every allocation >= 64 KiB, so freed blocks leave the RSS at once.

    Without this, glibc's dynamic threshold keeps freed blocks of up to 32 MiB
    in its heap and a later allocation reuses them without raising the RSS,
    which would hide part of a peak.  Only used in the memory subprocess.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_mmap_threshold = -3
        return bool(libc.mallopt(m_mmap_threshold, 64 * 1024))
    except (OSError, AttributeError):
        return False


def measure_peak(fn: Callable[[], Any]) -> dict[str, Any]:
    """Peak memory of one call of ``fn``, above what was allocated before and its result.

    ``fn`` is called once untraced (warm-up), then once under tracemalloc
    (which sees NumPy's allocations, from any thread) and :class:`PeakRSS`
    (which sees everything, numba's allocations included).
    """
    fn()
    gc.collect()
    tracemalloc.start()
    try:
        with PeakRSS() as rss:
            out = fn()
        traced = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    nbytes = _nbytes(out)
    del out
    gc.collect()
    rss_extra = None if rss.peak is None or rss.start is None else rss.peak - rss.start - nbytes
    return {"traced": traced - nbytes, "rss": rss_extra, "out": nbytes, "rss_exact": rss.exact}


def _nbytes(out: Any) -> int:
    if isinstance(out, (tuple, list)):
        return sum(_nbytes(o) for o in out)
    return int(out.nbytes)


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
    if got is None or ref is None:
        return "n/a"
    if got.shape != ref.shape:
        return "SHAPE"
    if np.array_equal(got, ref):
        return "identical"
    tol = 1e-5 if got.dtype == np.float32 else 1e-12
    scale = float(np.max(np.abs(ref))) or 1.0
    return "close" if np.allclose(got, ref, rtol=tol, atol=tol * scale) else "DIFFERENT"


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


def metpy_first_derivative(rep: Report) -> Callable[..., Any] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from metpy.calc import first_derivative
    except ImportError:
        rep.missing.append("MetPy (its columns read n/a)")
        log("MetPy is not installed: its columns read n/a")
        return None
    except Exception as exc:
        rep.error("MetPy import (MetPy columns will be n/a)", exc)
        return None

    def call(f: np.ndarray, axis: int, kind: str, coord: np.ndarray) -> Any:
        kw = {"delta": coord[1] - coord[0]} if kind in UNIFORM_STEPS else {"x": coord}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return first_derivative(f, axis=axis, **kw)

    return call


# --------------------------------------------------------------------------- header


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def total_memory() -> str:
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        return f"{kib / 2**20:.1f} GiB"
    return "n/a"


def version(module: str) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod = __import__(module)
        return str(getattr(mod, "__version__", "?"))
    except Exception as exc:
        return f"not available ({type(exc).__name__})"


def load_average() -> str:
    """1/5/15-minute load averages: other work on the machine skews every time."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + f" ({os.cpu_count()} cores)"
    except OSError:
        return "n/a"


def numba_threads() -> str:
    try:
        import numba

        return f"{numba.config.NUMBA_NUM_THREADS} (threading layer for parallel kernels)"
    except Exception as exc:
        return f"n/a ({type(exc).__name__})"


def compiled_kernel_status() -> str:
    """Whether xgradient's compiled kernel answers (uniform and non-uniform float64)."""
    try:
        from xgradient import _compiled
        from xgradient.stencils import plan_first_derivative
    except Exception as exc:
        return f"unknown ({type(exc).__name__}: {exc})"
    x = np.linspace(0.0, 1.0, 24).reshape(4, 6)
    plans = {
        "uniform": plan_first_derivative(6, step=1.0),
        "non-uniform": plan_first_derivative(6, positions=np.array([0.0, 1, 3, 4, 7, 8])),
    }
    states = []
    for kind, plan in plans.items():
        try:
            res = _compiled.first_derivative(x, 1, plan.block(0, 6), None, None)
            state = "compiled" if res is not None else "reference fallback"
        except Exception as exc:
            state = f"error ({type(exc).__name__})"
        states.append(f"{kind}: {state}")
    return ", ".join(states)


def machine_table(cfg: Config) -> Table:
    table = Table("Machine and configuration", ["item", "value"])
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    table.add("CPU", cpu_model())
    table.add("cores", f"{os.cpu_count()} (usable by this process: {usable})")
    table.add("memory", total_memory())
    table.add("python", f"{platform.python_version()} ({platform.system()} {platform.release()})")
    for module in ("numpy", "xarray", "dask", "numba", "metpy", "xgradient"):
        table.add(module, version(module))
    table.add("numba threads", numba_threads())
    table.add("xgradient compiled kernel", compiled_kernel_status())
    gib = 8 / 2**30
    table.add(
        "eager 3-D shape",
        f"{fmt_shape(cfg.shape3)} ({np.prod(cfg.shape3) * gib * 1024:.0f} MiB in float64)",
    )
    table.add(
        "2-D shape",
        f"{fmt_shape(cfg.shape2)} ({np.prod(cfg.shape2) * gib * 1024:.0f} MiB in float64)",
    )
    table.add("dask chunks", f"{fmt_shape(cfg.chunks)}, threaded scheduler, {cfg.threads} threads")
    table.add(
        "timing",
        f"best of {cfg.repeats} (eager) / {cfg.repeats_dask} (Dask) calls, "
        "time.perf_counter, warm-up call excluded",
    )
    table.add("load average at start", load_average())
    return table


# --------------------------------------------------------------------------- 1. eager


def eager_cases(cfg: Config) -> Iterator[tuple[tuple[int, ...], tuple[str, ...], int, str, Any]]:
    for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
        for axis in range(3):
            for kind in KINDS:
                yield cfg.shape3, DIMS3, axis, kind, dtype
            if dtype == np.float32:
                yield cfg.shape3, DIMS3, axis, INEXACT, dtype
    # The case of the issue: 2-D float64 along the last dim, non-uniform positions.
    yield cfg.shape2, DIMS2, 1, "non-uniform", np.dtype(np.float64)
    # A 1-D series of as many points (one row: threads must split it).
    for kind in KINDS:
        yield (math.prod(cfg.shape2),), ("x",), 0, kind, np.dtype(np.float64)


def bench_eager(cfg: Config, rep: Report) -> Table:
    table = Table(
        "1. Eager (NumPy-backed): derivative along one dim; ratios are time / time of np.copyto",
        [
            "shape",
            "dtype",
            "dim",
            "coord",
            "copy",
            "xgradient",
            "xg/copy",
            "new/copy",
            "xg/new",
            "kernel/copy",
            "numpy/copy",
            "xarray/copy",
            "metpy/copy",
            "xarray/xg",
            "vs numpy",
            f"xg<={EAGER_MAX_VS_COPY:g}x copy",
            f"xg>={EAGER_MIN_SPEEDUP_VS_XARRAY:g}x xarray",
        ],
    )
    table.notes += [
        "copy: np.copyto(out, a) into a preallocated array; xgradient: xgradient.gradient(da, dim) "
        "(allocates its result); xarray/xg > 1 means xgradient is faster",
        "new: a.copy(), a copy into a newly allocated array: the floor for any function that "
        "returns a new array, since the kernel must zero the fresh pages before they are written",
        "kernel: the same compiled kernel writing into a preallocated array "
        "(xgradient.kernels.first_derivative(..., out=b)), like np.copyto: what the derivative "
        "costs without the allocation",
        "vs numpy: xgradient's result (and the kernel's) against numpy.gradient's "
        "(identical = bit for bit)",
        "MetPy computes second-order one-sided edges (numpy's edge_order=2) and returns "
        "a pint Quantity in float64 whatever the input dtype",
        "coord: uniform = step 0.5; uniform* = step 1 + 2**-30, whose double is not exactly a "
        "float32, so float32 data is divided in float64 as numpy does (with step 0.5 xgradient "
        "divides it in float32, with the same result bit for bit); non-uniform = steps in "
        "[0.5, 1.5)",
    ]
    fd = metpy_first_derivative(rep)
    arrays: dict[tuple[tuple[int, ...], str], np.ndarray] = {}
    for shape, dims, axis, kind, dtype in eager_cases(cfg):
        label = f"eager {fmt_shape(shape)} {dtype.name} {dims[axis]} {kind}"
        log(label)
        key = (shape, dtype.str)
        if key not in arrays:
            arrays[key] = rep.attempt(
                f"{label}: make data", lambda s=shape, t=dtype: random_array(s, t)
            )
        if arrays[key] is None:
            continue
        table.add(*eager_row(cfg, rep, arrays[key], dims, axis, kind, fd, label))
    # A regional subset of the 3-D float64 array, as ds.isel(y=..., x=...)
    # gives it: a view, not contiguous, which the kernels read in place.
    whole = arrays.get((cfg.shape3, np.dtype(np.float64).str))
    if whole is not None:
        _, ny, nx = whole.shape
        subset = whole[:, ny // 16 : ny - ny // 16, nx // 16 : nx - nx // 16]
        for axis in range(3):
            label = f"eager subset {fmt_shape(subset.shape)} float64 {DIMS3[axis]} non-uniform"
            log(label)
            table.add(*eager_row(cfg, rep, subset, DIMS3, axis, "non-uniform", fd, label))
        table.notes.append(
            f"{fmt_shape(subset.shape)}: a regional subset of the {fmt_shape(whole.shape)} "
            "float64 array (whole[:, ny/16 : -ny/16, nx/16 : -nx/16], a view; numpy, xarray and "
            "the copies read it where it lies too)"
        )
    return table


def time_copy(a: np.ndarray, repeats: int) -> float:
    """The baseline: np.copyto of ``a`` into a preallocated array of the same shape."""
    dst = np.empty_like(a)
    return best_of(lambda: np.copyto(dst, a), repeats)


def kernel_plan(a: np.ndarray, axis: int, kind: str, coord: np.ndarray) -> Any:
    """The block plan xgradient's eager path hands its kernel for the whole array."""
    from xgradient.stencils import plan_first_derivative

    n = a.shape[axis]
    return plan_first_derivative(n, positions=coord.astype(np.float64)).block(0, n)


def eager_row(
    cfg: Config,
    rep: Report,
    a: np.ndarray,
    dims: tuple[str, ...],
    axis: int,
    kind: str,
    fd: Callable[..., Any] | None,
    label: str,
) -> list[Any]:
    import xgradient
    from xgradient.kernels import first_derivative

    dim = dims[axis]
    obj = labelled(a, dims, {dim: kind})
    coord = obj[dim].values
    n = cfg.repeats

    t_copy = rep.attempt(f"{label}: copy", lambda: time_copy(a, n))
    t_new = rep.attempt(f"{label}: new copy", lambda: best_of(a.copy, n))
    # The warm-up calls of numpy and xgradient double as the correctness check.
    ref = rep.attempt(f"{label}: numpy.gradient", lambda: np.gradient(a, coord, axis=axis))
    got = rep.attempt(f"{label}: xgradient", lambda: xgradient.gradient(obj, dim).values)
    plan = kernel_plan(a, axis, kind, coord)
    buf = np.empty_like(a)
    got_kernel = rep.attempt(
        f"{label}: kernel", lambda: first_derivative(a, axis, plan, out=buf).copy()
    )
    same = compare(got, ref)
    if same == "identical" and got_kernel is not None:
        same = compare(got_kernel, ref)
    del got, ref, got_kernel
    t_kernel = rep.attempt(
        f"{label}: kernel",
        lambda: best_of(lambda: first_derivative(a, axis, plan, out=buf), n, warmup=0),
    )
    buf = None  # release it before the other measurements
    t_xg = rep.attempt(
        f"{label}: xgradient", lambda: best_of(lambda: xgradient.gradient(obj, dim), n, warmup=0)
    )
    t_np = rep.attempt(
        f"{label}: numpy.gradient",
        lambda: best_of(lambda: np.gradient(a, coord, axis=axis), n, warmup=0),
    )
    t_xr = rep.attempt(f"{label}: xarray", lambda: best_of(lambda: obj.differentiate(dim), n))
    t_mp = None
    if fd is not None:
        t_mp = rep.attempt(f"{label}: metpy", lambda: best_of(lambda: fd(a, axis, kind, coord), n))

    case = f"{fmt_shape(a.shape)} {a.dtype.name} {dim} {kind}"
    xg_copy = ratio(t_xg, t_copy)
    speedup = ratio(t_xr, t_xg)
    return [
        fmt_shape(a.shape),
        a.dtype.name,
        f"{dim} (axis {axis})",
        kind,
        fmt_time(t_copy),
        fmt_time(t_xg),
        fmt_ratio(xg_copy),
        fmt_ratio(ratio(t_new, t_copy)),
        fmt_ratio(ratio(t_xg, t_new)),
        fmt_ratio(ratio(t_kernel, t_copy)),
        fmt_ratio(ratio(t_np, t_copy)),
        fmt_ratio(ratio(t_xr, t_copy)),
        fmt_ratio(ratio(t_mp, t_copy)),
        fmt_ratio(speedup),
        same,
        rep.target("eager: xgradient <= 2x copy", case, at_most(xg_copy, EAGER_MAX_VS_COPY)),
        rep.target(
            "eager: xgradient >= 5x faster than xarray",
            case,
            at_least(speedup, EAGER_MIN_SPEEDUP_VS_XARRAY),
        ),
    ]


# --------------------------------------------------------------------------- 2. dask


def dask_methods(inp: DaskInput, dim: str, kind: str) -> dict[str, Callable[[], Any]]:
    """What each method does, as a dask array (not yet persisted)."""
    import dask.array as da

    import xgradient

    d = inp.data
    axis = DIMS2.index(dim)
    obj = labelled(d, DIMS2, {dim: kind})
    coord = obj[dim].values
    spacing = coord[1] - coord[0] if kind in UNIFORM_STEPS else coord
    return {
        "d + 0": lambda: d + 0,
        "xgradient": lambda: xgradient.gradient(obj, dim).data,
        "dask.array.gradient": lambda: da.gradient(d, spacing, axis=axis),
        "xarray": lambda: obj.differentiate(dim).data,
    }


def bench_dask(cfg: Config, rep: Report, inp: DaskInput) -> Table:
    table = Table(
        "2. Dask-backed: time to persist the result; ratios are time / time to persist d + 0",
        [
            "dim",
            "coord",
            "d + 0",
            "xgradient",
            "xg/(d+0)",
            "dask.gradient/(d+0)",
            "xarray/(d+0)",
            "xarray/xg",
            "dask.gradient/xg",
            "vs numpy",
            f"xg<={DASK_MAX_VS_ADD:g}x d+0",
            f"xg>={DASK_MIN_SPEEDUP_VS_XARRAY:g}x xarray",
        ],
    )
    table.notes += [
        f"{fmt_shape(cfg.shape2)} float64, chunks {fmt_shape(cfg.chunks)} ({inp.nchunks} chunks), "
        f"input persisted; threaded scheduler with {cfg.threads} threads; times include "
        "building the graph",
        "xarray.differentiate on Dask data calls dask.array.gradient with the coordinate; "
        "dask.gradient is given the scalar step when the coordinate is uniform",
    ]
    for dim in DIMS2:
        for kind in KINDS:
            label = f"dask {dim} {kind}"
            log(label)
            table.add(*dask_row(cfg, rep, inp, dim, kind, label))
    return table


def dask_row(
    cfg: Config, rep: Report, inp: DaskInput, dim: str, kind: str, label: str
) -> list[Any]:
    axis = DIMS2.index(dim)
    methods = dask_methods(inp, dim, kind)
    coord = positions(cfg.shape2[axis], kind)
    got = rep.attempt(f"{label}: xgradient", lambda: persisted(methods["xgradient"]()).compute())
    ref = rep.attempt(f"{label}: numpy.gradient", lambda: np.gradient(inp.values, coord, axis=axis))
    same = compare(got, ref)
    del got, ref
    times = {}
    for name, build in methods.items():
        times[name] = rep.attempt(
            f"{label}: {name}",
            lambda build=build: best_of(lambda: persisted(build()), cfg.repeats_dask),
        )
    t_add, t_xg = times["d + 0"], times["xgradient"]
    case = f"{dim} {kind}"
    xg_add = ratio(t_xg, t_add)
    speedup = ratio(times["xarray"], t_xg)
    return [
        f"{dim} (axis {axis})",
        kind,
        fmt_time(t_add),
        fmt_time(t_xg),
        fmt_ratio(xg_add),
        fmt_ratio(ratio(times["dask.array.gradient"], t_add)),
        fmt_ratio(ratio(times["xarray"], t_add)),
        fmt_ratio(speedup),
        fmt_ratio(ratio(times["dask.array.gradient"], t_xg)),
        same,
        rep.target("dask: xgradient <= 1.5x d + 0", case, at_most(xg_add, DASK_MAX_VS_ADD)),
        rep.target(
            "dask: xgradient >= 3x faster than xarray",
            case,
            at_least(speedup, DASK_MIN_SPEEDUP_VS_XARRAY),
        ),
    ]


# --------------------------------------------------------------------------- 3. several dims


def bench_multi(cfg: Config, rep: Report, inp: DaskInput | None) -> Table:
    table = Table(
        "3. Several dims at once: grad(['y', 'x']) against grad('y') + grad('x')",
        [
            "case",
            "grad(y)",
            "grad(x)",
            "sum",
            "grad([y,x])",
            "multi/sum",
            "reference",
            "reference/multi",
            f"multi<=sum (+{(MULTI_MAX_VS_SUM - 1) * 100:.0f}%)",
        ],
    )
    table.notes += [
        "non-uniform coordinates on y and x; reference: numpy.gradient(a, y, x, axis=(..)) "
        "eagerly, dask.array.gradient(d, y, x, axis=(0, 1)) persisted together for Dask",
        f"a multi/sum up to {MULTI_MAX_VS_SUM:g} counts as 'not more than the sum' (timing noise)",
    ]
    cases: list[tuple[str, Callable[[], Any], bool]] = [
        (f"eager {fmt_shape(cfg.shape3)} float64", lambda: random_array(cfg.shape3), False),
    ]
    if inp is not None:
        chunked = f"dask {fmt_shape(cfg.shape2)} chunks {fmt_shape(cfg.chunks)}"
        cases.append((f"eager {fmt_shape(cfg.shape2)} float64", lambda: inp.values, False))
        cases.append((chunked, lambda: inp.data, True))
    for label, make, lazy in cases:
        log(f"multi {label}")
        data = rep.attempt(f"multi {label}: make data", make)
        if data is not None:
            table.add(*multi_row(cfg, rep, data, label, lazy))
        del data
    return table


def multi_row(cfg: Config, rep: Report, data: Any, label: str, lazy: bool) -> list[Any]:
    import dask
    import dask.array as da

    import xgradient

    dims = DIMS3 if data.ndim == 3 else DIMS2
    obj = labelled(data, dims, {"y": "non-uniform", "x": "non-uniform"})
    cy, cx = obj["y"].values, obj["x"].values
    axes = (dims.index("y"), dims.index("x"))
    if lazy:
        runs = {
            "y": lambda: persisted(xgradient.gradient(obj, "y").data),
            "x": lambda: persisted(xgradient.gradient(obj, "x").data),
            "multi": lambda: dask.persist(*(r.data for r in xgradient.gradient(obj, ["y", "x"]))),
            "reference": lambda: dask.persist(*da.gradient(data, cy, cx, axis=axes)),
        }
    else:
        runs = {
            "y": lambda: xgradient.gradient(obj, "y"),
            "x": lambda: xgradient.gradient(obj, "x"),
            "multi": lambda: xgradient.gradient(obj, ["y", "x"]),
            "reference": lambda: np.gradient(data, cy, cx, axis=axes),
        }
    n = cfg.repeats_dask if lazy else cfg.repeats
    t = {
        name: rep.attempt(f"multi {label}: {name}", lambda fn=fn: best_of(fn, n))
        for name, fn in runs.items()
    }
    t_sum = None if t["y"] is None or t["x"] is None else t["y"] + t["x"]
    multi_sum = ratio(t["multi"], t_sum)
    return [
        label,
        fmt_time(t["y"]),
        fmt_time(t["x"]),
        fmt_time(t_sum),
        fmt_time(t["multi"]),
        fmt_ratio(multi_sum),
        fmt_time(t["reference"]),
        fmt_ratio(ratio(t["reference"], t["multi"])),
        rep.target(
            "several dims: grad([y, x]) <= grad(y) + grad(x)",
            label,
            at_most(multi_sum, MULTI_MAX_VS_SUM),
        ),
    ]


# --------------------------------------------------------------------------- 4. peak memory


def worker_memory(cfg: Config) -> dict[str, Any]:
    """Runs in a fresh subprocess: peak memory of the eager and the Dask paths."""
    import dask
    import dask.array as da

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

    inp = DaskInput(da.random.default_rng(0).standard_normal(cfg.shape2, chunks=cfg.chunks))
    inp.data = inp.data.persist()
    result["block"] = inp.block_nbytes
    for dim in DIMS2:
        methods = dask_methods(inp, dim, "non-uniform")
        row = {"case": f"{dim} non-uniform", "input": inp.data.nbytes}
        row.update({name: attempt(lambda b=b: persisted(b())) for name, b in methods.items()})
        result["dask"].append(row)
    return result


def bench_memory(cfg: Config, rep: Report) -> list[Table]:
    log("memory (fresh subprocess)")
    data = run_worker(cfg, "memory", timeout=3600)
    eager = Table(
        "4a. Peak memory, eager: extra memory beyond input and output, in units of the input size",
        ["case", "xgradient RSS", "xgradient traced", "numpy.gradient RSS", "xarray RSS"],
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
    return [eager, lazy]


def run_worker(cfg: Config, name: str, timeout: float) -> dict[str, Any]:
    """Run this script as a fresh subprocess in worker mode; return its JSON result."""
    cmd = [sys.executable, os.path.abspath(__file__), "--_worker", name, *cfg.worker_argv()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"worker {name!r} exited with {proc.returncode}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- 5. graph size


def graph_keys(arrays: Any) -> set[Any]:
    if not isinstance(arrays, (tuple, list)):
        arrays = [arrays]
    keys: set[Any] = set()
    for arr in arrays:
        keys.update(arr.__dask_graph__().keys())
    return keys


def bench_graph(cfg: Config, rep: Report, inp: DaskInput) -> Table:
    import dask.array as da

    import xgradient

    log("graph size")
    table = Table(
        "5. Graph size: tasks per input chunk (all tasks of the result minus the input's)",
        ["dim", "xgradient", "dask.array.gradient", "xarray", "d + 0"],
    )
    n_in = len(graph_keys(inp.data))
    table.notes.append(
        f"{fmt_shape(cfg.shape2)} in {inp.nchunks} chunks of {fmt_shape(cfg.chunks)}; "
        f"input graph: {n_in} tasks (persisted); non-uniform coordinates; before optimization"
    )

    def per_chunk(label: str, build: Callable[[], Any]) -> str:
        keys = rep.attempt(f"graph {label}", lambda: graph_keys(build()))
        return "err" if keys is None else fmt_num((len(keys) - n_in) / inp.nchunks)

    for dim in DIMS2:
        methods = dask_methods(inp, dim, "non-uniform")
        table.add(
            dim,
            *(
                per_chunk(f"{dim} {name}", methods[name])
                for name in ("xgradient", "dask.array.gradient", "xarray", "d + 0")
            ),
        )
    obj = labelled(inp.data, DIMS2, {"y": "non-uniform", "x": "non-uniform"})
    cy, cx = obj["y"].values, obj["x"].values
    table.add(
        "y and x together",
        per_chunk("y,x xgradient", lambda: [r.data for r in xgradient.gradient(obj, ["y", "x"])]),
        per_chunk("y,x dask.array.gradient", lambda: da.gradient(inp.data, cy, cx, axis=(0, 1))),
        per_chunk("y,x xarray", lambda: [obj.differentiate("y").data, obj.differentiate("x").data]),
        "-",
    )
    return table


# --------------------------------------------------------------------------- 6. first call


def worker_first_call(cfg: Config) -> dict[str, Any]:
    """Runs in a fresh subprocess: times of the first and second xgradient calls."""
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


def bench_first_call(cfg: Config, rep: Report) -> Table:
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
    return table


# --------------------------------------------------------------------------- 7. overhead


def per_call(fn: Callable[[], Any], budget: float = 0.2, repeats: int = 5) -> float:
    """Best mean time of one call of a fast ``fn``, over ``repeats`` loops of ~``budget`` s."""
    fn()
    t0 = time.perf_counter()
    fn()
    loops = max(1, int(budget / max(time.perf_counter() - t0, 1e-6)))
    best = math.inf
    for _ in range(repeats):
        gc.collect(1)
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - t0) / loops)
    return best


def timed_calls(rep: Report, label: str, calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """``per_call`` time of each of ``calls`` (``None`` where one failed)."""
    return {
        name: rep.attempt(f"{label} {name}", lambda f=fn: per_call(f)) for name, fn in calls.items()
    }


def bench_overhead(cfg: Config, rep: Report) -> list[Table]:
    return [overhead_calls(rep), overhead_graph_build(rep)]


def overhead_calls(rep: Report) -> Table:
    import xarray as xr

    import xgradient

    table = Table(
        "7a. Small arrays: time per call (the fixed cost of a call dominates)",
        ["case", "dim", "xgradient", "xarray", "numpy", "xarray/xg", "vs numpy"],
    )
    table.notes += [
        "xarray: DataArray/Dataset.differentiate; numpy: numpy.gradient on the bare array with "
        "the coordinate; x non-uniform, y uniform; xarray/xg > 1 means xgradient is faster",
        "best mean over 5 loops of ~0.2 s each",
    ]
    grids = [(16, 32), (180, 360), (721, 1440)]
    for ny, nx in grids:
        log(f"overhead {ny}x{nx}")
        a = random_array((ny, nx))
        obj = labelled(a, DIMS2, {"x": "non-uniform"})
        for dim in ("x", "y"):
            axis = DIMS2.index(dim)
            coord = obj[dim].values
            t = timed_calls(
                rep,
                f"overhead {ny}x{nx} {dim}",
                {
                    "xgradient": functools.partial(xgradient.gradient, obj, dim),
                    "xarray": functools.partial(obj.differentiate, dim),
                    "numpy": functools.partial(np.gradient, a, coord, axis=axis),
                },
            )
            same = compare(xgradient.gradient(obj, dim).values, np.gradient(a, coord, axis=axis))
            table.add(
                f"DataArray {ny}x{nx}",
                dim,
                *(fmt_time(t[k]) for k in ("xgradient", "xarray", "numpy")),
                fmt_ratio(ratio(t["xarray"], t["xgradient"])),
                same,
            )
    for ny, nx in grids[:2]:
        ds = xr.Dataset(
            {name: (DIMS2, random_array((ny, nx)) + i) for i, name in enumerate("abc")},
            coords=labelled(random_array((ny, nx)), DIMS2, {"x": "non-uniform"}).coords,
        )
        t = timed_calls(
            rep,
            f"overhead dataset {ny}x{nx}",
            {
                "xgradient": functools.partial(xgradient.gradient, ds, "x"),
                "xarray": functools.partial(ds.differentiate, "x"),
            },
        )
        same = compare(
            ds.grad("x")["c"].values, np.gradient(ds["c"].values, ds["x"].values, axis=1)
        )
        table.add(
            f"Dataset of 3 variables {ny}x{nx}",
            "x",
            fmt_time(t["xgradient"]),
            fmt_time(t["xarray"]),
            "-",
            fmt_ratio(ratio(t["xarray"], t["xgradient"])),
            same,
        )
    return table


def materialised_graph(build: Callable[[], Any]) -> dict[Any, Any]:
    """Build a lazy result and materialise its whole task graph."""
    return dict(build().data.__dask_graph__())


def overhead_graph_build(rep: Report) -> Table:
    import dask.array as da

    import xgradient

    table = Table(
        "7b. Building a Dask graph of many chunks (nothing computed)",
        ["array", "chunks", "dim", "xgradient", "xarray", "xarray/xg"],
    )
    table.notes.append(
        "time to call grad / differentiate and materialise the graph (dict of all tasks: "
        "dask.array.gradient builds a lazy map_overlap layer that is materialised later, when "
        "the graph is optimised or sent to a scheduler); xarray/xg > 1 means xgradient is faster"
    )
    for shape, chunks in (((100_000, 10), (10, 10)), ((3650, 181, 360), (10, 181, 360))):
        dims = DIMS2 if len(shape) == 2 else DIMS3
        d = da.zeros(shape, chunks=chunks)
        obj = labelled(d, dims, {dims[0]: "non-uniform"})
        dim = dims[0]
        log(f"graph build {fmt_shape(shape)}")
        builds = {
            "xgradient": functools.partial(xgradient.gradient, obj, dim),
            "xarray": functools.partial(obj.differentiate, dim),
        }
        t = {
            name: rep.attempt(
                f"build {fmt_shape(shape)} {name}",
                lambda b=build: best_of(functools.partial(materialised_graph, b), 3),
            )
            for name, build in builds.items()
        }
        table.add(
            fmt_shape(shape),
            f"{d.npartitions} of {fmt_shape(chunks)}",
            dim,
            fmt_time(t["xgradient"]),
            fmt_time(t["xarray"]),
            fmt_ratio(ratio(t["xarray"], t["xgradient"])),
        )
    return table


# --------------------------------------------------------------------------- 8. options


def periodic_check(a: np.ndarray, axis: int, step: float, run: Callable[[], Any]) -> str:
    """xgradient's periodic result against numpy.gradient of the wrapped, padded array."""
    pad = [(1, 1) if i == axis else (0, 0) for i in range(a.ndim)]
    inner = tuple(slice(1, -1) if i == axis else slice(None) for i in range(a.ndim))
    return compare(run().values, np.gradient(np.pad(a, pad, mode="wrap"), step, axis=axis)[inner])


def bench_options(cfg: Config, rep: Report) -> Table:
    import xgradient

    table = Table(
        "8. Other stencils, eager: ratios are time / time of np.copyto",
        [
            "dim",
            "copy",
            "new/copy",
            "default/copy",
            "accuracy=4/copy",
            "second/copy",
            "periodic/copy",
            "periodic vs numpy",
        ],
    )
    table.notes += [
        f"{fmt_shape(cfg.shape3)} float64; default (numpy.gradient's formulas), accuracy=4 "
        "(five-point stencil) and second (grad.second) on a non-uniform coordinate; periodic "
        "(boundary='periodic', period inferred) on a uniform one",
        "periodic vs numpy: against numpy.gradient of the array padded with its wrapped "
        "neighbours (np.pad(mode='wrap')); xgradient's periodic stencil applies weights "
        "+-1/(2h), which round exactly like numpy's (f[i+1] - f[i-1]) / (2h) when 1/(2h) is a "
        "power of two, as with this step of 0.5, and may differ in the last bit ('close') "
        "otherwise",
    ]
    a = random_array(cfg.shape3)
    n = cfg.repeats
    for axis, dim in enumerate(DIMS3):
        label = f"options {dim}"
        log(label)
        obj = labelled(a, DIMS3, {dim: "non-uniform"})
        uniform = labelled(a, DIMS3, {dim: "uniform"})
        runs = {
            "default": functools.partial(xgradient.gradient, obj, dim),
            "accuracy=4": functools.partial(xgradient.gradient, obj, dim, accuracy=4),
            "second": functools.partial(xgradient.second_derivative, obj, dim),
            "periodic": functools.partial(xgradient.gradient, uniform, dim, boundary="periodic"),
        }
        t_copy = rep.attempt(f"{label}: copy", lambda: time_copy(a, n))
        t_new = rep.attempt(f"{label}: new copy", lambda: best_of(a.copy, n))
        t = {
            name: rep.attempt(f"{label}: {name}", lambda f=fn: best_of(f, n))
            for name, fn in runs.items()
        }
        step = float(uniform[dim].values[1] - uniform[dim].values[0])
        same = rep.attempt(
            f"{label}: periodic vs numpy",
            functools.partial(periodic_check, a, axis, step, runs["periodic"]),
        )
        table.add(
            f"{dim} (axis {axis})",
            fmt_time(t_copy),
            fmt_ratio(ratio(t_new, t_copy)),
            *(fmt_ratio(ratio(t[name], t_copy)) for name in runs),
            same or "n/a",
        )
    return table


# --------------------------------------------------------------------------- main


def run_section(rep: Report, name: str, fn: Callable[[], Any]) -> None:
    """Run one section and print its table(s); a failure prints the error and goes on."""
    try:
        tables = fn()
    except Exception as exc:
        rep.error(f"section {name}", exc)
        return
    for table in tables if isinstance(tables, list) else [tables]:
        rep.show(table)


def main(argv: list[str] | None = None) -> int:
    cfg, worker = parse_args(argv)
    if worker is not None:
        run = worker_memory if worker == "memory" else worker_first_call
        print(json.dumps(run(cfg)))
        return 0

    import dask

    dask.config.set(scheduler="threads", num_workers=cfg.threads)
    rep = Report(cfg.markdown)
    rep.show(machine_table(cfg))
    inp = None
    if {"dask", "multi", "graph"} & set(cfg.sections):
        log("persisting the Dask input")
        inp = rep.attempt("make Dask input", lambda: make_dask_input(cfg))

    if "eager" in cfg.sections:
        run_section(rep, "eager", lambda: bench_eager(cfg, rep))
        gc.collect()
    if "dask" in cfg.sections and inp is not None:
        run_section(rep, "dask", lambda: bench_dask(cfg, rep, inp))
    if "multi" in cfg.sections:
        run_section(rep, "multi", lambda: bench_multi(cfg, rep, inp))
    if "memory" in cfg.sections:
        run_section(rep, "memory", lambda: bench_memory(cfg, rep))
    if "graph" in cfg.sections and inp is not None:
        run_section(rep, "graph", lambda: bench_graph(cfg, rep, inp))
    if "first-call" in cfg.sections:
        run_section(rep, "first-call", lambda: bench_first_call(cfg, rep))
    if "overhead" in cfg.sections:
        run_section(rep, "overhead", lambda: bench_overhead(cfg, rep))
    if "options" in cfg.sections:
        run_section(rep, "options", lambda: bench_options(cfg, rep))

    rep.show(rep.summary())
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
