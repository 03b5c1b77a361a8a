#!/usr/bin/env python
"""Plot the committed benchmark results: xgradient against the alternatives.

    python benchmarks/plot_results.py -o ratios.png

It reads ``benchmarks/results/bench_gradient.json`` (what
``python benchmarks/bench_gradient.py --json ...`` saved) and draws the time of
each method divided by the time of a plain memory copy: eagerly, per
``np.copyto`` of the array; on Dask, per persisting ``d + 0``.  Lower is
faster; 1 is the cost of touching the data once.  docs/performance.md shows
this figure (the documentation build runs this script), next to the tables
it is drawn from.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

# matplotlib's plot directive runs this file without __file__, as sys.argv[0].
HERE = Path(globals().get("__file__") or sys.argv[0]).resolve().parent
RESULTS = HERE / "results" / "bench_gradient.json"

EAGER = {  # column of the "eager" table -> legend
    "xg/copy": "xgradient",
    "numpy/copy": "numpy.gradient",
    "xarray/copy": "xarray differentiate",
    "metpy/copy": "MetPy first_derivative",
}
DASK = {  # column of the "dask" table -> legend
    "xg/(d+0)": "xgradient",
    "dask.gradient/(d+0)": "dask.array.gradient",
    "xarray/(d+0)": "xarray differentiate",
}
COLOURS = {
    "xgradient": "#1f77b4",
    "numpy.gradient": "#7f7f7f",
    "xarray differentiate": "#ff7f0e",
    "MetPy first_derivative": "#2ca02c",
    "dask.array.gradient": "#9467bd",
}


def table(run: dict, table_id: str) -> tuple[list[str], list[list]]:
    """The columns and raw values of one table of a benchmark run."""
    for entry in run["tables"]:
        if entry["id"] == table_id:
            return entry["columns"], entry["values"]
    raise KeyError(f"no table {table_id!r} in {RESULTS}")


def bars(ax, labels: list[str], series: dict[str, list[float]], title: str, unit: str) -> None:
    """Grouped horizontal bars, one group per case, on a log axis."""
    y = np.arange(len(labels))
    height = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        ax.barh(y + (i - (len(series) - 1) / 2) * height, values, height, label=name,
                color=COLOURS[name])  # fmt: skip
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(0.5, 2.0 * max(max(values) for values in series.values()))
    times = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}x")
    ax.xaxis.set_major_formatter(times)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.axvline(1.0, color="k", linewidth=0.8)
    ax.set_xlabel(unit)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)


def plot(run: dict) -> plt.Figure:
    fig, (eager, lazy) = plt.subplots(
        1, 2, figsize=(11, 5.2), constrained_layout=True, width_ratios=(1.3, 1)
    )
    columns, rows = table(run, "eager")
    at = {name: columns.index(name) for name in ("shape", "dtype", "dim", "coord", *EAGER)}
    # The 3-D float64 cases: one dim at a time, uniform and non-uniform coordinates.
    picked = [r for r in rows if r[at["dtype"]] == "float64" and r[at["shape"]].count("x") == 2]
    picked = [r for r in picked if r[at["shape"]] == picked[0][at["shape"]]]
    labels = [f"{r[at['dim']].split()[0]}, {r[at['coord']]}" for r in picked]
    series = {name: [r[at[col]] for r in picked] for col, name in EAGER.items()}
    bars(eager, labels, series, f"eager, {picked[0][at['shape']]} float64",
         "time / time of np.copyto")  # fmt: skip

    columns, rows = table(run, "dask")
    at = {name: columns.index(name) for name in ("dim", "coord", *DASK)}
    labels = [f"{r[at['dim']].split()[0]}, {r[at['coord']]}" for r in rows]
    series = {name: [r[at[col]] for r in rows] for col, name in DASK.items()}
    shape = "x".join(str(n) for n in run["config"]["shape2"])
    chunks = "x".join(str(n) for n in run["config"]["chunks"])
    bars(lazy, labels, series, f"Dask, {shape} float64 in {chunks} chunks",
         "time / time to persist d + 0")  # fmt: skip
    fig.suptitle(
        f"Time of a first derivative relative to copying the data (lower is faster); "
        f"run of {run['date'][:10]}, commit {run['commit']}",
        fontsize=10,
    )
    return fig


def main(argv: list[str] | None = None) -> plt.Figure:
    parser = argparse.ArgumentParser(description="Plot the committed benchmark results")
    parser.add_argument("-o", "--out", type=Path, default=None, help="write the figure here")
    args = parser.parse_args(argv)
    fig = plot(json.loads(RESULTS.read_text()))
    if args.out is not None:
        fig.savefig(args.out, dpi=100)
        print(f"figure written to {args.out}")
    return fig


if __name__ == "__main__":
    main(sys.argv[1:])
