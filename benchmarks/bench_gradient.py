#!/usr/bin/env python
"""Benchmarks for xgradient, side by side with the alternatives, in one run.

    python benchmarks/bench_gradient.py              # default size (~256 MiB arrays)
    python benchmarks/bench_gradient.py --quick      # ~16 MiB arrays, under a minute
    python benchmarks/bench_gradient.py --markdown   # tables as Markdown
    python benchmarks/bench_gradient.py --markdown --json benchmarks/results/bench_gradient.json

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
9. ``missing``: ``nan_policy="omit"`` (and ``mask=``) against the default
   path, on a global field without and with 30% missing points (land shaped
   like continents), eager and on Dask (``--size-global``, ``--chunks-global``).

Every number is measured, never assumed: the script times whatever the
installed package does.  benchmarks/README.md explains the ratios and targets.

This file is the runner: the arguments, then each section in turn.  The
sections live in ``sections/`` (one module each, ``run(cfg, rep)``), the
timers, tables, memory probes and the JSON report in ``harness.py``.
``--json PATH`` writes every table's rows, the targets and the errors;
``render_results.py`` rewrites the results tables of docs/performance.md
from that file.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from types import ModuleType

from harness import Report, add_output_arguments, log, parse_chunks, parse_shape
from sections import (
    dask_arrays,
    eager_arrays,
    first_call,
    graph,
    machine,
    memory,
    missing,
    multi_dims,
    options,
    overhead,
)
from sections.common import Config, dask_input

# The sections, in the order they run (``--only`` picks some, by these names).
SECTIONS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        eager_arrays,
        dask_arrays,
        multi_dims,
        memory,
        graph,
        first_call,
        overhead,
        options,
        missing,
    )
}
NEEDS_DASK_INPUT = {dask_arrays.NAME, multi_dims.NAME, graph.NAME}
WORKERS = {"memory": memory.worker, "first-call": first_call.worker}


def parse_args(argv: list[str] | None = None) -> tuple[Config, str | None, str | None]:
    """The configuration, the worker mode (internal) and the ``--json`` path."""
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
    p.add_argument(
        "--size-global",
        type=parse_shape,
        metavar="NZxNYxNX",
        help="(level, lat, lon) shape of the missing-values section "
        "(default 8x721x1440, a 0.25-degree grid; --quick 8x361x720)",
    )
    p.add_argument(
        "--chunks-global",
        type=parse_chunks,
        metavar="CZxCYxCX",
        help="its Dask chunks (default: one level, half the latitudes, half the longitudes)",
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
    add_output_arguments(p)
    p.add_argument("--_worker", choices=tuple(WORKERS), help=argparse.SUPPRESS)
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
    for name in ("size_global", "chunks_global"):
        value = getattr(a, name)
        if value is not None and len(value) != 3:
            p.error(f"--{name.replace('_', '-')} takes a 3-D shape, e.g. 8x721x1440")
    shape_global = a.size_global or ((8, 361, 720) if a.quick else (8, 721, 1440))
    _, ny, nx = shape_global
    cfg = Config(
        shape3=a.size or ((8, 512, 512) if a.quick else (16, 2048, 1024)),
        shape2=a.size2d or ((1024, 2048) if a.quick else (4096, 8192)),
        chunks=a.chunks or ((512, 512) if a.quick else (1024, 1024)),
        shape_global=shape_global,
        chunks_global=a.chunks_global or (1, -(-ny // 2), -(-nx // 2)),
        threads=a.threads,
        repeats=a.repeats or 5,
        repeats_dask=a.repeats or 5,
        sections=sections,
        markdown=a.markdown,
        quick=a.quick,
    )
    return cfg, a._worker, a.json


def main(argv: list[str] | None = None) -> int:
    cfg, worker, json_path = parse_args(argv)
    if worker is not None:
        print(json.dumps(WORKERS[worker](cfg)))
        return 0

    import dask

    dask.config.set(scheduler="threads", num_workers=cfg.threads)
    rep = Report(cfg.markdown)
    machine.run(cfg, rep)
    if NEEDS_DASK_INPUT & set(cfg.sections):
        dask_input(cfg, rep)  # made before the eager section, as the sections share it

    for name, section in SECTIONS.items():
        if name not in cfg.sections:
            continue
        try:
            section.run(cfg, rep)
        except Exception as exc:  # a failing section prints the error and the run goes on
            rep.error(f"section {name}", exc)
        gc.collect()

    rep.show(rep.summary(), "targets")
    if json_path:
        rep.write_json(json_path, config=cfg.to_json())
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
