"""numba's on-disk cache keeps the serial and the threaded kernels apart."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
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


ITEMS = """
import numba, numpy as np
from xgradient.backends import numba as nb
from xgradient.missing import plan_missing
from xgradient.stencils import plan_first_derivative

f = np.random.default_rng(0).random((40, 300))
f[5:9, 10:20] = np.nan
for axis, item in ((0, nb._gradient_gaps_tile), (1, nb._gradient_gaps_line)):
    plan = plan_missing(plan_first_derivative(f.shape[axis], step=1.0)).block(0, f.shape[axis])
    serial = nb.omit_missing(f, axis, plan, parallel=False)
    threaded = nb.omit_missing(f, axis, plan, parallel=True)
    assert np.array_equal(threaded, serial, equal_nan=True)
    signatures = item.signatures
    assert len(signatures) == 1 and signatures[0][-1] == numba.int64, signatures
"""


def test_threaded_kernels_reuse_the_serial_work_item_functions(tmp_path):
    # A threaded rule kernel is a parallel loop calling the same compiled
    # function per work item as the serial one: with nothing cached (so
    # that both kernels compile here), the item function ends with one
    # variant, taking a signed index.  Without the explicit parallel=False
    # and the int64 index, the threaded kernel compiled a copy of its own
    # (~50 s each for the five-point rule on a fresh machine).
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(ITEMS)], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_small_inputs_that_differ_only_in_flags_share_one_compiled_variant():
    # A small block that is a view, or read-only, is passed C-ordered and
    # writeable: no compiled variant per layout.
    from xgradient.backends import numba as nb
    from xgradient.stencils import plan_first_derivative

    rng = np.random.default_rng(1)
    plan = plan_first_derivative(8, positions=np.cumsum(rng.uniform(0.5, 1.5, 8))).block(0, 8)
    contiguous = rng.random((8, 40))
    view = rng.random((8, 80))[:, ::2]
    frozen = contiguous.copy()
    frozen.flags.writeable = False
    expected = nb.numpy_gradient(contiguous, 0, plan, parallel=False)
    before = set(nb.rows_gradient.signatures)
    for block in (view, frozen):
        result = nb.numpy_gradient(block, 0, plan, parallel=False)
        np.testing.assert_array_equal(result, np.gradient(block, plan.positions, axis=0))
    np.testing.assert_array_equal(nb.numpy_gradient(frozen, 0, plan, parallel=False), expected)
    assert set(nb.rows_gradient.signatures) == before
