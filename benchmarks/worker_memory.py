"""Resident memory (RSS) that numba and xgradient's compiled kernels add to a process.

A fresh Python process takes these steps and prints its RSS after each: the
imports a Dask worker already has, ``import xgradient``, the first gradient
of a Dask-backed float64 array computed as a worker computes it (on a thread
other than the main one, so with the serial kernels), and a second one; then
the kernels in use (compiled or loaded: name, serial or threaded, number of
signatures).  Once with an empty numba cache (the kernels are compiled), then
again in another process with the cache the first wrote (they are loaded).
``--breakdown`` splits the first call into importing numba, numba's first
compilation of a trivial function (LLVM and numba's target set up) and the
kernels themselves.  ``--cluster`` also reports the RSS of the worker
processes of a ``distributed.LocalCluster`` before and after a job.

    python benchmarks/worker_memory.py [--breakdown] [--cluster]

RSS is /proc/self/status's VmRSS (Linux), with its split into anonymous
memory and pages of mapped files (mostly numba's LLVM library, which
``distributed`` counts against a worker's memory limit like any other).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap

CHILD = """
import sys, threading

def rss():
    fields = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) / 1024
    return fields

def step(label):
    r = rss()
    print(f"  {label:<44} {r['VmRSS']:7.1f} {r['RssAnon']:7.1f} {r['RssFile']:7.1f}"
          f"   {'yes' if 'numba' in sys.modules else 'no'}", flush=True)

step("python")
import numpy as np, xarray as xr, dask.array as da, distributed  # a worker's imports
step("numpy, xarray, dask, distributed")
if BREAKDOWN:
    import numba
    step("import numba")
    numba.njit(cache=False)(lambda v: v + 1)(1.0)
    step("numba's first compilation (trivial function)")
import xgradient
step("import xgradient")
rng = np.random.default_rng(0)
x = np.cumsum(rng.uniform(0.5, 1.5, 600))  # non-uniform
a = xr.DataArray(da.random.random((800, 600), chunks=(200, 300)), dims=("y", "x"),
                 coords={"y": np.arange(800.0), "x": x})

def compute():  # as a worker does: on a thread, one task at a time
    for dim in ("y", "x"):
        a.grad(dim).compute(scheduler="sync")

t = threading.Thread(target=compute)
t.start(); t.join()
step("first gradient (Dask, float64, y and x)")
t = threading.Thread(target=compute)
t.start(); t.join()
step("second gradient (same)")
backend = sys.modules.get("xgradient.backends.numba")  # imported when a block used it
if backend is None:
    print("    in use: no compiled kernel (the numba backend was not imported)")
else:
    def in_use(name, kind, dispatcher):
        if dispatcher.signatures:
            print(f"    in use: {name} ({kind}), {len(dispatcher.signatures)} signature(s)")

    for name, value in sorted(vars(backend).items()):
        if isinstance(value, backend.Compiled):  # k[False] serial, k[True] threaded
            in_use(name, "serial", value[False])
            in_use(name, "threaded", value[True])
        elif (hasattr(value, "signatures") and hasattr(value, "targetoptions")
              and value.targetoptions.get("inline") != "always"):  # inlined: no code of its own
            in_use(name, "serial", value)
"""

WORKER_RSS = """
import os
import numpy as np, xarray as xr, dask.array as da, psutil
from distributed import Client, LocalCluster
import xgradient

def rss():
    return psutil.Process().memory_info().rss / 2**20

a = xr.DataArray(da.random.random((4000, 3000), chunks=(1000, 1000)), dims=("y", "x"),
                 coords={"y": np.arange(4000.0), "x": np.cumsum(np.full(3000, 0.5))})
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                  dashboard_address=":0") as cluster, Client(cluster) as client:
    before = client.run(rss)
    (a * 2).sum().compute()
    plain = client.run(rss)
    [d.sum().compute() for d in xgradient.gradient(a, ["y", "x"])]
    after = client.run(rss)
    for w in before:
        print(f"  worker {w}: started {before[w]:.1f} MiB, after a * 2 {plain[w]:.1f} MiB, "
              f"after a gradient {after[w]:.1f} MiB")
"""


def run(script: str, env: dict[str, str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    sys.stdout.write(out.stdout)
    if out.returncode:
        sys.stdout.write(out.stderr)
        raise SystemExit(out.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--breakdown", action="store_true", help="split the first call's cost")
    parser.add_argument("--cluster", action="store_true", help="also measure LocalCluster workers")
    args = parser.parse_args()
    child = f"BREAKDOWN = {args.breakdown}\n" + textwrap.dedent(CHILD)
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("empty numba cache: kernels compiled", "warm numba cache: kernels loaded"):
            print(f"{label}\n  {'step':<44} {'RSS':>7} {'anon':>7} {'files':>7}   numba (MiB)")
            run(child, env)
        if args.cluster:
            print("LocalCluster, 2 worker processes (numba cache as this environment has it)")
            run(textwrap.dedent(WORKER_RSS), dict(os.environ))


if __name__ == "__main__":
    main()
