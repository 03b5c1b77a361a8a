"""numba's on-disk cache keeps the serial and the threaded kernels apart."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numba")

EAGER = """
import numpy as np, xarray as xr, xgradient
a = xr.DataArray(np.random.rand(1000, 1000), dims=("y", "x"))
a.grad("x"), a.grad("y")  # large, from the main thread: threaded kernels
"""

IN_TASKS = """
import numba, numpy as np, xarray as xr, dask.array as da, xgradient
x = xr.DataArray(da.random.random((2000, 1000), chunks=(200, 1000)), dims=("y", "x"))
x.grad("y").compute(scheduler="threads"), x.grad("x").compute(scheduler="threads")
try:
    layer = numba.threading_layer()  # only set once a threaded kernel has run
except ValueError:
    layer = None
assert layer is None, f"a threaded kernel ran inside Dask tasks ({layer})"
"""


def test_serial_kernels_are_not_loaded_from_the_threaded_ones_cache(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    for script in (EAGER, IN_TASKS):
        run = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)],
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
