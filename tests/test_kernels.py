"""The block kernels on their own: ``out=`` writes, compiled or not."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from xgradient import _compiled
from xgradient.kernels import first_derivative, weighted_stencil
from xgradient.stencils import plan_first_derivative, plan_weighted

SHAPE = (5, 7, 6)  # every axis long enough for accuracy=4


def _plans(axis):
    n = SHAPE[axis]
    positions = np.cumsum(np.random.default_rng(axis).uniform(0.5, 1.5, n))
    return {
        "uniform": (first_derivative, plan_first_derivative(n, step=0.5).block(0, n)),
        "non-uniform": (
            first_derivative,
            plan_first_derivative(n, positions=positions, edge_order=2).block(0, n),
        ),
        "accuracy 4": (
            weighted_stencil,
            plan_weighted(positions, order=1, accuracy=4).block(0, n),
        ),
    }


def _outs(shape, dtype):
    """Output arrays a caller may hand over, writable in place or not by the kernels."""
    return {
        "C-ordered": np.full(shape, np.nan, dtype=dtype),
        "Fortran-ordered": np.asfortranarray(np.full(shape, np.nan, dtype=dtype)),
        "strided view": np.full((shape[0], shape[1], 2 * shape[2]), np.nan, dtype=dtype)[..., ::2],
    }


@pytest.mark.parametrize("numba", ["compiled", "plain"])
@pytest.mark.parametrize("stencil", ["uniform", "non-uniform", "accuracy 4"])
@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_out_receives_exactly_the_returned_result(monkeypatch, numba, stencil, axis, dtype):
    if numba == "plain":
        monkeypatch.setattr(_compiled, "numba", None)
    kernel, plan = _plans(axis)[stencil]
    f = np.random.default_rng(1).standard_normal(SHAPE).astype(dtype)
    expected = kernel(f, axis, plan)
    assert expected.dtype == dtype
    for name, out in _outs(SHAPE, dtype).items():
        result = kernel(f, axis, plan, out=out)
        assert result is out, name
        assert_array_equal(out, expected, err_msg=name)


def test_out_of_another_dtype_gets_the_result_cast():
    # Like a ufunc's out=: the values are computed in the result dtype
    # (float64 for integers) and cast on the way into out.
    f = np.arange(24, dtype=np.int32).reshape(4, 6) ** 2
    plan = plan_first_derivative(6, step=1.0).block(0, 6)
    out = np.zeros((4, 6), dtype=np.float32)
    assert first_derivative(f, 1, plan, out=out) is out
    assert_array_equal(out, first_derivative(f, 1, plan).astype(np.float32))


def test_threaded_kernels_write_into_out():
    f = np.random.default_rng(2).standard_normal((8, 300, 130))  # above the threads' size
    assert f.size >= _compiled.PARALLEL_MIN_SIZE
    for axis in range(3):
        plan = plan_first_derivative(f.shape[axis], step=0.1).block(0, f.shape[axis])
        out = np.empty_like(f)
        assert first_derivative(f, axis, plan, parallel=True, out=out) is out
        assert_array_equal(out, np.gradient(f, 0.1, axis=axis))
