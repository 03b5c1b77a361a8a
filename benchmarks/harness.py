"""The benchmarks' shared harness: timing, tables, reports with JSON output, memory, machine.

Nothing here knows what a benchmark measures; ``bench_gradient.py`` (with
its sections in ``sections/``) and ``bench_cupy.py`` build on it.

* **Timing**: :func:`best_of` (best wall time of N calls after a warm-up,
  garbage collector off), :func:`best_of_interleaved` (the same for several
  variants, timed in alternating rounds so that their ratios are not skewed
  by the machine's drift), :func:`per_call` (best mean time of a fast call),
  :func:`best_of_cuda` (CUDA events).
* **Cells and tables**: ``fmt_*`` turn a measurement into the text of a
  cell and keep the number (:class:`Cell`); :class:`Table` renders as plain
  text or Markdown and round-trips through JSON.
* **Report**: collects the tables shown, the errors and the pass/fail
  targets of a run, prints the *Targets* summary and writes everything as
  JSON (``--json PATH``), which ``render_results.py`` turns into the tables
  of docs/performance.md.
* **Memory**: :class:`PeakRSS`, :func:`measure_peak`.
* **Machine**: :func:`machine_rows` (CPU, memory, versions, load).
* **Backends**: :func:`block_kernel` is the one place where a benchmark
  chooses which engine runs xgradient's kernels.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MiB = 2**20
JSON_SCHEMA = 1  # bump when the layout written by Report.to_json changes

# --------------------------------------------------------------------------- progress

_START = time.perf_counter()


def log(msg: str) -> None:
    """Progress goes to stderr, so that stdout holds only the tables."""
    print(f"[{time.perf_counter() - _START:7.1f}s] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- arguments


def fmt_shape(shape: Iterable[int]) -> str:
    return "x".join(str(n) for n in shape)


def parse_shape(text: str) -> tuple[int, ...]:
    """``"16x2048x1024"`` -> ``(16, 2048, 1024)``, for ``argparse`` (``type=parse_shape``)."""
    try:
        shape = tuple(int(p) for p in text.lower().replace("*", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a shape like 16x2048x1024: {text!r}") from None
    if not shape or min(shape) < 3:
        raise argparse.ArgumentTypeError(f"every dimension needs >= 3 points: {text!r}")
    return shape


def parse_chunks(text: str) -> tuple[int, ...]:
    """``"1x361x720"`` -> ``(1, 361, 720)``: like :func:`parse_shape`, but any size >= 1."""
    try:
        chunks = tuple(int(p) for p in text.lower().replace("*", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not chunks like 1x361x720: {text!r}") from None
    if not chunks or min(chunks) < 1:
        raise argparse.ArgumentTypeError(f"every chunk size needs >= 1 point: {text!r}")
    return chunks


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--markdown`` and ``--json PATH``, the same in every benchmark script."""
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write every table, the targets and the errors to PATH as JSON "
        "(benchmarks/render_results.py renders the docs' tables from it)",
    )


# --------------------------------------------------------------------------- cells


class Cell(str):
    """The text of a table cell that remembers the number it shows (``.value``).

    A ``str``, so it goes wherever text goes; :class:`Table` keeps the number
    for the JSON output (``None`` for a measurement that failed).
    """

    value: float | None

    def __new__(cls, text: str, value: float | None) -> Cell:
        cell = super().__new__(cls, text)
        cell.value = value
        return cell


def fmt_time(t: float | None) -> Cell:
    """Seconds as ``851 us``, ``26.3 ms`` or ``3.10 s``."""
    if t is None:
        return Cell("n/a", None)
    if t < 1e-3:
        return Cell(f"{t * 1e6:.0f} us", t)
    if t < 1:
        return Cell(f"{t * 1e3:.1f} ms", t)
    return Cell(f"{t:.2f} s", t)


def fmt_ms(t: float | None, digits: int = 3) -> Cell:
    """Seconds as milliseconds with a fixed number of decimals (``0.128 ms``)."""
    return Cell("n/a", None) if t is None else Cell(f"{t * 1e3:.{digits}f} ms", t)


def fmt_ratio(r: float | None, digits: int = 2) -> Cell:
    return Cell("n/a", None) if r is None else Cell(f"{r:.{digits}f}x", r)


def fmt_num(x: float | None, digits: int = 2) -> Cell:
    return Cell("n/a", None) if x is None else Cell(f"{x:.{digits}f}", x)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def at_least(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


# --------------------------------------------------------------------------- tables

_NUMERIC = re.compile(r"^(-?\d[\d.]*(x| ms| us| s)?|n/a|err|-|PASS|FAIL)$")


@dataclass
class Table:
    """A table of text cells, printed as aligned text or as Markdown.

    ``id`` names it in the JSON output and in the docs' ``<!-- results:ID -->``
    markers; ``values`` holds, per cell, the number a :class:`Cell` carries
    (seconds, ratios) or the text itself.
    """

    title: str
    columns: list[str]
    id: str = ""
    rows: list[list[str]] = field(default_factory=list)
    values: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(
                f"{self.id or self.title}: {len(cells)} cells, {len(self.columns)} columns"
            )
        self.rows.append([str(c) for c in cells])
        self.values.append([_raw(c) for c in cells])

    def _right_aligned(self) -> list[bool]:
        """Columns of numbers (times, ratios, verdicts) are right-aligned, text left."""
        return [
            bool(self.rows) and all(_NUMERIC.match(row[i]) for row in self.rows)
            for i in range(len(self.columns))
        ]

    def render(self, markdown: bool, heading: int = 3) -> str:
        """The table as text; in Markdown its title is a heading of level ``heading`` (0: none)."""
        right = self._right_aligned()
        if markdown:
            lines = [f"{'#' * heading} {self.title}", ""] if heading else []
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

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "columns": self.columns,
            "rows": self.rows,
            "values": self.values,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Table:
        return cls(
            title=data["title"],
            columns=list(data["columns"]),
            id=data.get("id", ""),
            rows=[list(row) for row in data["rows"]],
            values=[list(row) for row in data.get("values") or []],
            notes=list(data.get("notes", [])),
        )


def _raw(cell: Any) -> Any:
    if isinstance(cell, Cell):
        return cell.value
    if isinstance(cell, (bool, int, float)) or cell is None:
        return cell
    return str(cell)


# --------------------------------------------------------------------------- report


class Report:
    """What a run produced: the tables it showed, its errors and its pass/fail targets.

    :meth:`show` prints a table (Markdown or text) and keeps it for
    :meth:`to_json`; :meth:`attempt` runs one measurement and turns an
    exception into a recorded error and ``None``, so that one failure leaves
    a cell empty and the run goes on.
    """

    def __init__(self, markdown: bool) -> None:
        self.markdown = markdown
        self.errors: list[str] = []
        self.missing: list[str] = []  # optional packages not installed (not errors)
        self.targets: list[tuple[str, str, bool | None]] = []
        self.tables: list[tuple[str, Table]] = []  # (section, table), in the order shown

    def error(self, label: str, exc: BaseException | str) -> None:
        msg = f"{label}: {_describe(exc)}".strip()
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
        """Record whether ``case`` meets target ``name``; the cell: PASS, FAIL or n/a."""
        self.targets.append((name, case, ok))
        return "n/a" if ok is None else ("PASS" if ok else "FAIL")

    def show(self, table: Table, section: str = "") -> None:
        print(table.render(self.markdown), flush=True)
        self.tables.append((section, table))

    def summary(self) -> Table:
        """The *Targets* table: passes, failures and missing values per target, then errors."""
        table = Table("Targets", ["target", "pass", "fail", "n/a", "failing cases"], id="targets")
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

    def to_json(self, **meta: Any) -> dict[str, Any]:
        """The run as one JSON-able dict: ``meta`` (config, command...), tables, targets, errors."""
        return {
            "schema": JSON_SCHEMA,
            **run_facts(),
            **meta,
            "tables": [{"section": s, **t.to_json()} for s, t in self.tables],
            "targets": [{"target": n, "case": c, "ok": ok} for n, c, ok in self.targets],
            "errors": self.errors,
            "missing": self.missing,
        }

    def write_json(self, path: str | os.PathLike[str], **meta: Any) -> None:
        write_json(path, self.to_json(**meta))
        log(f"wrote {path}")


def _describe(exc: BaseException | str) -> str:
    return exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"


def write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Indented, one table row per line, a final newline: a committed result diffs by row."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(dumps(data) + "\n", encoding="utf-8")


def dumps(obj: Any, indent: str = "") -> str:
    """JSON with nested objects and lists indented, and lists of scalars on one line."""
    inner = indent + "  "
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        obj = None  # JSON has no NaN: a value that is not a number is a missing one
    if isinstance(obj, dict) and obj:
        items = (f"{inner}{json.dumps(str(k))}: {dumps(v, inner)}" for k, v in obj.items())
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(obj, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in obj):
        return "[\n" + ",\n".join(inner + dumps(v, inner) for v in obj) + "\n" + indent + "]"
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(dumps(v) for v in obj) + "]"
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def run_facts() -> dict[str, Any]:
    """When, what and where: the facts every JSON result starts with."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "commit": git_commit(),
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(_ENV_PREFIXES)},
    }


_ENV_PREFIXES = ("MALLOC_", "NUMBA_", "OMP_", "XGRADIENT_")  # settings that change the times


def git_commit() -> str | None:
    """The checkout's commit (``+`` if it has local changes), or ``None`` outside git."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+" if dirty else "")


# --------------------------------------------------------------------------- timing


def best_of(
    fn: Callable[[], Any],
    repeats: int,
    warmup: int = 1,
    sync: Callable[[], Any] | None = None,
) -> float:
    """Best wall time in seconds of ``repeats`` calls of ``fn`` (perf_counter), after ``warmup``.

    The result of every call is dropped outside the timed region, and the
    garbage collector is off while timing (as in :mod:`timeit`).  ``sync``
    (e.g. a GPU's synchronize) is called before the clock starts and, inside
    the timed region, after ``fn``.
    """
    for _ in range(warmup):
        fn()
    if sync is not None:
        sync()
    gc.collect()  # a full collection takes tens of ms: once, not before every repeat
    return min(_timed_call(fn, sync) for _ in range(max(1, repeats)))


def best_of_interleaved(
    fns: Mapping[str, Callable[[], Any]],
    repeats: int,
    warmup: int = 1,
    sync: Callable[[], Any] | None = None,
) -> dict[str, float]:
    """Best wall time in seconds of each of ``fns``, timed in interleaved rounds.

    Parameters
    ----------
    fns
        The variants to compare, by name.
    repeats
        Rounds: each round calls every function once, in the mapping's
        order but starting one further along each round, so that no
        variant always runs first.  The cyclic order stays the same, so
        a variant that does not start the round follows the same one in
        every round.
    warmup
        Untimed calls of each function before the first round.
    sync
        As in :func:`best_of`: called before the clock starts and, inside
        the timed region, after each call.

    Returns
    -------
    dict
        The best time of each function, under the mapping's keys.

    Notes
    -----
    Each call is timed as :func:`best_of` times one (``gc.collect(1)``
    before, the garbage collector off during, the result dropped outside
    the timed region).  The point is the ratios between variants: timed one
    after another with :func:`best_of`, each variant's best comes from its
    own stretch of the run, so a machine whose speed drifts (a shared VM:
    10-30% between runs) skews their ratios, even between variants that run
    the same kernels.  Interleaved, every variant samples the same stretch.
    """
    keys = list(fns)
    for _ in range(warmup):
        for key in keys:
            fns[key]()
    if sync is not None:
        sync()
    gc.collect()  # a full collection takes tens of ms: once, not before every call
    best = dict.fromkeys(keys, math.inf)
    for r in range(max(1, repeats)):
        start = r % len(keys) if keys else 0
        for key in keys[start:] + keys[:start]:
            best[key] = min(best[key], _timed_call(fns[key], sync))
    return best


def _timed_call(fn: Callable[[], Any], sync: Callable[[], Any] | None) -> float:
    """Wall time of one call of ``fn``: gc off, result dropped untimed, ``sync`` around it."""
    gc.collect(1)
    if sync is not None:
        sync()
    gc.disable()
    try:
        t0 = time.perf_counter()
        out = fn()
        if sync is not None:
            sync()
        elapsed = time.perf_counter() - t0
    finally:
        gc.enable()
    del out
    return elapsed


def per_call(fn: Callable[[], Any], budget: float = 0.2, repeats: int = 5) -> float:
    """Best mean time in seconds of one call of a fast ``fn``, over ``repeats`` loops of ~``budget`` s."""
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


def best_of_cuda(cp: Any, fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Best device time in seconds of ``repeats`` calls of ``fn``, timed with CUDA events.

    ``cp`` is the ``cupy`` module (passed in: the harness does not need CuPy).
    """
    for _ in range(warmup):  # kernel compilation, memory pool
        fn()
    best = math.inf
    for _ in range(max(1, repeats)):
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        best = min(best, cp.cuda.get_elapsed_time(start, stop) / 1e3)
    return best


# --------------------------------------------------------------------------- memory


def _proc_status_bytes(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            match = re.search(rf"^{field_name}:\s+(\d+) kB", f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def current_rss() -> int | None:
    rss = _proc_status_bytes("VmRSS")
    if rss is None:
        with contextlib.suppress(ImportError):
            import psutil

            rss = psutil.Process().memory_info().rss
    return rss


class PeakRSS:
    """Peak resident set size during a ``with`` block (``.start``, ``.peak``: bytes).

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
            self.exact = _proc_status_bytes("VmHWM") is not None
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
            self.peak = _proc_status_bytes("VmHWM")
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self._samples) or None


def return_freed_memory_at_once() -> bool:
    """Make glibc mmap every allocation >= 64 KiB, so freed blocks leave the RSS at once.

    Without this, glibc's dynamic threshold keeps freed blocks of up to 32 MiB
    in its heap and a later allocation reuses them without raising the RSS,
    which would hide part of a peak.  A process-wide setting: call it only in
    a process of its own.
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
    (which sees everything, numba's allocations included).  Returns bytes:
    ``traced`` and ``rss`` (the extra beyond the result), ``out`` (the result).
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
    size = nbytes(out)
    del out
    gc.collect()
    rss_extra = None if rss.peak is None or rss.start is None else rss.peak - rss.start - size
    return {"traced": traced - size, "rss": rss_extra, "out": size, "rss_exact": rss.exact}


def nbytes(out: Any) -> int:
    """Bytes of an array, or of a tuple or list of them."""
    if isinstance(out, (tuple, list)):
        return sum(nbytes(o) for o in out)
    return int(out.nbytes)


# --------------------------------------------------------------------------- machine


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
    """``module.__version__``, or why it is not available (importing it, if need be)."""
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


def machine_rows(modules: Iterable[str]) -> list[tuple[str, str]]:
    """(item, value) rows that say where a run ran: CPU, cores, memory, Python, versions."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    rows = [
        ("CPU", cpu_model()),
        ("cores", f"{os.cpu_count()} (usable by this process: {usable})"),
        ("memory", total_memory()),
        ("python", f"{platform.python_version()} ({platform.system()} {platform.release()})"),
    ]
    rows += [(module, version(module)) for module in modules]
    return rows


# --------------------------------------------------------------------------- backends

ENGINES = ("auto", "numpy", "numba", "cuda")
# The block kernels of xgradient.kernels, by what they compute.
KERNELS = {"first_derivative": "numpy_gradient", "weighted_stencil": "weighted_stencil"}


class EngineUnavailable(RuntimeError):
    """The engine asked for cannot run this block (not installed, or not for this array)."""


def block_kernel(kind: str, engine: str = "auto") -> Callable[..., Any]:
    """xgradient's block kernel ``kind`` run by ``engine``: the one place that picks a backend.

    ``kind`` is ``"first_derivative"`` (:func:`xgradient.kernels.numpy_gradient`)
    or ``"weighted_stencil"``; the result takes the block kernels' arguments
    (``center, axis, plan, left=None, right=None, *, out=None``).  ``engine``
    is xgradient's public ``engine=`` option: ``"auto"`` (what xgradient
    picks), ``"numpy"`` (the plain-array reference, which also runs CuPy
    arrays), ``"numba"`` or ``"cuda"`` (the fused kernels).  A named engine
    never falls back: where it cannot run the block the call raises
    :class:`EngineUnavailable`.
    """
    if kind not in KERNELS or engine not in ENGINES:
        raise ValueError(
            f"block_kernel({kind!r}, {engine!r}): kind in {tuple(KERNELS)}, engine in {ENGINES}"
        )
    from xgradient import kernels

    kernel = getattr(kernels, KERNELS[kind])
    if engine == "auto":
        return kernel

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return kernel(*args, engine=engine, **kwargs)
        except kernels.EngineError as exc:
            raise EngineUnavailable(str(exc)) from exc

    return run


def engine_status(engine: str) -> str:
    """Whether ``engine``'s first-derivative kernel answers, on a small float64 NumPy array.

    ``"compiled"`` per coordinate kind (uniform, non-uniform), or
    ``"reference fallback"`` where xgradient would use its NumPy reference.
    """
    try:
        from xgradient.stencils import plan_first_derivative

        kernel = block_kernel("first_derivative", engine)
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
            kernel(x, 1, plan.block(0, 6))
            state = "compiled"
        except EngineUnavailable:
            state = "reference fallback"
        except Exception as exc:
            state = f"error ({type(exc).__name__})"
        states.append(f"{kind}: {state}")
    return ", ".join(states)
