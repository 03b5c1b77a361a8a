"""The block kernels on their own: ``out=`` writes, compiled or not, and ``mark_missing``."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from xgradient.arrays import result_dtype
from xgradient.backends import EngineError, available, backend
from xgradient.kernels import mark_missing, numpy_gradient, weighted_stencil
from xgradient.stencils import plan_first_derivative, plan_weighted

SHAPE = (5, 7, 6)  # every axis long enough for accuracy=4


def _plans(axis):
    n = SHAPE[axis]
    positions = np.cumsum(np.random.default_rng(axis).uniform(0.5, 1.5, n))
    return {
        "uniform": (numpy_gradient, plan_first_derivative(n, step=0.5).block(0, n)),
        "non-uniform": (
            numpy_gradient,
            plan_first_derivative(n, positions=positions, edge_order=2).block(0, n),
        ),
        "accuracy 4": (
            weighted_stencil,
            plan_weighted(positions, order=1, accuracy=4).block(0, n),
        ),
    }


def _on(engine, kernel):
    """``kernel`` on ``engine`` (skipping the test if it is not installed)."""
    if not available(engine):
        pytest.skip(f"{engine} is not installed")
    return functools.partial(kernel, engine=engine)


def _outs(shape, dtype):
    """Output arrays a caller may hand over, writable in place or not by the kernels."""
    return {
        "C-ordered": np.full(shape, np.nan, dtype=dtype),
        "Fortran-ordered": np.asfortranarray(np.full(shape, np.nan, dtype=dtype)),
        "strided view": np.full((shape[0], shape[1], 2 * shape[2]), np.nan, dtype=dtype)[..., ::2],
    }


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize("stencil", ["uniform", "non-uniform", "accuracy 4"])
@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_out_receives_exactly_the_returned_result(engine, stencil, axis, dtype):
    kernel, plan = _plans(axis)[stencil]
    kernel = _on(engine, kernel)
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
    assert numpy_gradient(f, 1, plan, out=out) is out
    assert_array_equal(out, numpy_gradient(f, 1, plan).astype(np.float32))


def test_threaded_kernels_write_into_out():
    f = np.random.default_rng(2).standard_normal((8, 300, 130))  # above the threads' size
    if available("numba"):
        from xgradient.backends.numba import PARALLEL_MIN_SIZE

        assert f.size >= PARALLEL_MIN_SIZE  # threads only above it
    for axis in range(3):
        plan = plan_first_derivative(f.shape[axis], step=0.1).block(0, f.shape[axis])
        out = np.empty_like(f)
        assert numpy_gradient(f, axis, plan, parallel=True, out=out) is out
        assert_array_equal(out, np.gradient(f, 0.1, axis=axis))


@pytest.mark.parametrize("stencil", ["uniform", "non-uniform", "accuracy 4", "periodic"])
@pytest.mark.parametrize("shape", [(700, 600), (4, 1000), (9, 3, 50)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_threads_split_short_first_axes_without_changing_a_bit(stencil, shape, dtype):
    # A 2-D field along its first axis has one (row, tile) work item; the
    # threaded kernels then cut the axis into pieces.  Threaded, serial and
    # numpy must agree bit for bit, whatever the pieces.
    n = shape[0]
    positions = np.cumsum(np.random.default_rng(n).uniform(0.5, 1.5, n))
    if stencil == "uniform":
        kernel, plan = numpy_gradient, plan_first_derivative(n, step=0.25).block(0, n)
    elif stencil == "non-uniform":
        kernel, plan = numpy_gradient, plan_first_derivative(n, positions=positions).block(0, n)
    else:
        kernel = weighted_stencil
        periodic = stencil == "periodic"
        accuracy = 2 if periodic else 4
        if n < accuracy + 1:
            pytest.skip("too few points for the stencil")
        period = positions[-1] - positions[0] + 1.0 if periodic else None
        whole = plan_weighted(positions, accuracy=accuracy, periodic=periodic, period=period)
        plan = whole.block(0, n)
    f = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    left = right = None
    if stencil == "periodic":
        left, right = f[-1:], f[:1]
    # Into NaN-filled outputs: a point no piece writes cannot pass unseen
    # (a fresh np.empty often reuses the memory of an equal earlier result).
    threaded = kernel(f, 0, plan, left, right, parallel=True, out=np.full(shape, np.nan, dtype))
    serial = kernel(f, 0, plan, left, right, parallel=False, out=np.full(shape, np.nan, dtype))
    assert_array_equal(threaded, serial)
    assert not np.isnan(threaded).any()
    if stencil == "uniform":
        assert_array_equal(threaded, np.gradient(f, 0.25, axis=0))
    elif stencil == "non-uniform":
        assert_array_equal(threaded, np.gradient(f, positions, axis=0))


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize("stencil", ["uniform", "non-uniform", "accuracy 4"])
@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("order", ["C", "F"])
def test_out_may_be_the_input_itself(engine, stencil, axis, order):
    # In place, as np.add(a, 1, out=a): the kernels must not read cells they
    # have already overwritten.
    kernel, plan = _plans(axis)[stencil]
    kernel = _on(engine, kernel)
    f = np.asarray(np.random.default_rng(6).standard_normal(SHAPE), order=order)
    expected = kernel(f.copy(order=order), axis, plan)
    assert kernel(f, axis, plan, out=f) is f
    assert_array_equal(f, expected)


def test_out_overlapping_a_halo_is_safe():
    whole = np.arange(12.0) ** 2
    plan = plan_first_derivative(12, step=1.0)
    block = whole[4:8].copy()
    out = whole[3:7]  # overlaps the left halo and the right one's neighbour
    expected = numpy_gradient(block, 0, plan.block(4, 8), whole[3:4].copy(), whole[8:9].copy())
    assert numpy_gradient(block, 0, plan.block(4, 8), whole[3:4], whole[8:9], out=out) is out
    assert_array_equal(out, expected)


def test_out_of_the_wrong_shape_is_an_error():
    plan = plan_first_derivative(5, step=1.0).block(0, 5)
    with pytest.raises(ValueError, match=r"out has shape \(3, 5\), but the block has \(1, 5\)"):
        numpy_gradient(np.ones((1, 5)), 1, plan, out=np.empty((3, 5)))


def test_out_that_cannot_hold_the_result_is_an_error():
    plan = plan_first_derivative(5, step=1.0).block(0, 5)
    with pytest.raises(TypeError, match="out has dtype int64, which cannot hold the float64"):
        numpy_gradient(np.arange(5), 0, plan, out=np.empty(5, dtype=np.int64))


def test_fortran_ordered_input_returns_out_itself():
    f = np.asfortranarray(np.random.default_rng(7).standard_normal((6, 5)))
    plan = plan_first_derivative(6, step=1.0).block(0, 6)
    for out in (np.empty((6, 5)), np.empty((6, 5), order="F")):
        assert numpy_gradient(f, 0, plan, out=out) is out
        assert_array_equal(out, np.gradient(f, axis=0))


def _kernel_and_plan(stencil, positions, *, step):
    """The kernel and whole-dim plan of a stencil kind: numpy's (uniform with
    ``step`` and edge_order=2, or non-uniform), or accuracy=4 / periodic."""
    n = len(positions)
    if stencil == "uniform":
        return numpy_gradient, plan_first_derivative(n, step=step, edge_order=2)
    if stencil == "non-uniform":
        return numpy_gradient, plan_first_derivative(n, positions=positions)
    periodic = stencil == "periodic"
    period = positions[-1] - positions[0] + 1.0 if periodic else None
    return weighted_stencil, plan_weighted(positions, accuracy=4, periodic=periodic, period=period)


@pytest.mark.parametrize("stencil", ["uniform", "non-uniform", "accuracy 4", "periodic"])
@pytest.mark.parametrize("shape", [(100_003,), (3, 40_000), (2, 5000)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_threads_split_rows_of_the_last_axis_without_changing_a_bit(stencil, shape, dtype):
    # 1-D data (or a few long rows) along the last axis: the threaded kernels
    # cut each row into pieces, the first and last piece writing its ends.
    axis = len(shape) - 1
    n = shape[axis]
    positions = np.cumsum(np.random.default_rng(n).uniform(0.5, 1.5, n))
    kernel, plan = _kernel_and_plan(stencil, positions, step=0.25)
    f = np.random.default_rng(8).standard_normal(shape).astype(dtype)
    left = right = None
    if stencil == "periodic":
        left, right = f[..., -2:], f[..., :2]
    block = plan.block(0, n)
    nans = np.full(shape, np.nan, dtype)  # any point left unwritten stays NaN
    threaded = kernel(f, axis, block, left, right, parallel=True, out=nans.copy())
    assert not np.isnan(threaded).any()
    assert_array_equal(threaded, kernel(f, axis, block, left, right, parallel=False, out=nans))
    if stencil == "uniform":
        # numpy with a float64 step, as xgradient always has (a Python float
        # is "weak" for numpy and would compute float32 data in float32).
        assert_array_equal(threaded, np.gradient(f, np.float64(0.25), axis=axis, edge_order=2))
    elif stencil == "non-uniform":
        assert_array_equal(threaded, np.gradient(f, positions, axis=axis))


@pytest.mark.parametrize("kind", ["uniform", "non-uniform"])
@pytest.mark.parametrize("shape", [(100_003,), (3, 40_000)])
def test_threads_split_a_block_with_halos_on_both_sides(kind, shape):
    # A Dask-like block from the middle of the axis: its first and last
    # points come from the halos, written by the first and last pieces.
    axis = len(shape) - 1
    n = shape[axis]
    positions = np.cumsum(np.random.default_rng(n).uniform(0.5, 1.5, n))
    whole = (
        plan_first_derivative(n, step=0.25)
        if kind == "uniform"
        else plan_first_derivative(n, positions=positions)
    )
    f = np.random.default_rng(9).standard_normal(shape)
    start, stop = 1000, n - 1000
    lo, hi = whole.support(start, stop)
    block = whole.block(start, stop)
    center, left, right = f[..., start:stop], f[..., lo:start], f[..., stop:hi]
    out = np.full(center.shape, np.nan)
    got = numpy_gradient(center, axis, block, left, right, parallel=True, out=out)
    expected = np.gradient(f, 0.25 if kind == "uniform" else positions, axis=axis)
    assert_array_equal(got, expected[..., start:stop])


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_step_range_is_the_extremes_of_numpys_diff(engine):
    from xgradient.backends import backend

    if not available(engine):
        pytest.skip(f"{engine} is not installed")
    step_range = backend(engine).step_range
    rng = np.random.default_rng(11)
    for n in (2, 3, 17, 1000):
        x = np.cumsum(rng.uniform(-1.0, 2.0, n))
        for positions in (x, x[::-1], x[::3], np.arange(n) * 0.1):
            if positions.size < 2:
                continue
            steps = np.diff(positions)
            assert step_range(positions) == (steps.min(), steps.max())
    assert step_range(np.array([1.0])) == (np.inf, -np.inf)
    assert step_range(np.array([], dtype=float)) == (np.inf, -np.inf)
    for bad in ([0.0, np.nan, 2.0], [0.0, 1.0, np.nan], [np.nan, 1.0, 2.0]):
        assert all(np.isnan(step_range(np.array(bad))))
    assert step_range(np.array([0.0, 1.0, np.inf])) == (1.0, np.inf)


@pytest.mark.parametrize("kernel_name", ["numpy_gradient", "weighted_stencil"])
def test_halos_that_do_not_match_the_block_plan_are_an_error(kernel_name):
    # The compiled kernels index the halo cells the plan counts on: missing
    # ones must be refused, not read out of bounds.
    f = np.arange(40.0).reshape(4, 10)
    if kernel_name == "numpy_gradient":
        kernel, plan = numpy_gradient, plan_first_derivative(10, step=1.0).block(2, 8)
    else:
        positions = np.arange(10.0)
        kernel = weighted_stencil
        plan = plan_weighted(positions, periodic=True, period=10.0).block(0, 10)
    center = f[:, 2:8] if kernel_name == "numpy_gradient" else f
    with pytest.raises(ValueError, match=r"needs 1 left halo cell\(s\) along axis 1, got 0"):
        kernel(center, 1, plan, None, f[:, :1])
    with pytest.raises(ValueError, match=r"needs 1 right halo cell\(s\) along axis 1, got 2"):
        kernel(center, 1, plan, f[:, :1], f[:, :2])


def test_block_plans_carry_positions_and_np_diffs_spacings():
    positions = np.cumsum(np.random.default_rng(12).uniform(0.5, 1.5, 50))[::2]  # strided
    plan = plan_first_derivative(25, positions=positions, edge_order=2)
    assert plan.positions.flags.c_contiguous
    assert_array_equal(plan.dx, np.diff(positions))
    whole = plan.block(0, 25, copy=False)
    assert whole.positions is plan.positions  # the in-memory path copies nothing
    owned = plan.block(0, 25)  # what a lazy graph holds: not the caller's array
    assert not np.shares_memory(owned.positions, plan.positions)
    assert_array_equal(owned.positions, positions)
    lo, hi = plan.support(10, 20)
    part = plan.block(10, 20)
    assert_array_equal(part.positions, positions[lo:hi])
    assert not np.shares_memory(part.positions, plan.positions)  # a task holds its slice only
    assert_array_equal(part.dx, np.diff(positions[lo:hi]))
    assert plan_first_derivative(25, step=1.0).block(0, 25).dx is None


@pytest.mark.skipif(not available("numba"), reason="numba is not installed")
@pytest.mark.parametrize("shape", [(1000,), (4, 1000), (1000, 3)])
def test_compiled_kernels_never_build_the_spacings_array(shape):
    # Spacings as large as the data (1-D series) would cost a pass and fresh
    # pages: the compiled kernels read the positions and difference them.
    axis = 0 if shape == (1000, 3) else len(shape) - 1
    positions = np.cumsum(np.random.default_rng(13).uniform(0.5, 1.5, 1000))
    f = np.random.default_rng(14).standard_normal(shape)
    for edge_order in (1, 2):
        block = plan_first_derivative(1000, positions=positions, edge_order=edge_order).block(
            0, 1000
        )
        got = numpy_gradient(f, axis, block)
        assert "dx" not in vars(block)  # the cached spacings were never asked for
        assert_array_equal(got, np.gradient(f, positions, axis=axis, edge_order=edge_order))


def _views():
    """Blocks that are views of a larger array, as subsets and Dask chunks are."""
    big = np.random.default_rng(15).standard_normal((2, 9, 40, 1024))
    return {
        "rows of a 2-D array": big[0, 0, 5:35, :],
        "columns of a 2-D array": big[0, 0, :, 10:50],
        "3-D subset": big[0, :, 5:35, 10:50],
        # Slabs large enough to be taken one by one (SLAB_MIN_SIZE):
        "3-D subset in slabs": big[0, :, 5:38, 10:1010],
        "4-D subset": big[:, :, 5:35, 10:1010],
        "strided last axis": big[0, :, :, ::2],
        "reversed": big[0, ::-1, :, ::-1],
        "broadcast": np.broadcast_to(big[0, 0, :1, :64], (9, 40, 64)),
        "transposed subset": big[1, :, 3:30, :].transpose(1, 0, 2),
    }


@pytest.mark.parametrize("view", list(_views()))
@pytest.mark.parametrize("stencil", ["uniform", "non-uniform", "accuracy 4", "periodic"])
@pytest.mark.parametrize("parallel", [False, True])
def test_views_give_the_results_of_their_contiguous_copies(view, stencil, parallel):
    f = _views()[view]
    for axis in range(f.ndim):
        n = f.shape[axis]
        if n < 5:
            continue  # too short for accuracy=4 (the 4-D subset's first axis)
        positions = np.cumsum(np.random.default_rng(n).uniform(0.5, 1.5, n))
        kernel, plan = _kernel_and_plan(stencil, positions, step=0.5)
        left = right = None
        if stencil == "periodic":
            left, right = (np.take(f, idx, axis=axis) for idx in ([-2, -1], [0, 1]))
        block = plan.block(0, n)
        got = kernel(f, axis, block, left, right, parallel=parallel)
        assert got.flags.c_contiguous
        assert_array_equal(got, kernel(np.ascontiguousarray(f), axis, block, left, right))
        if stencil == "non-uniform":
            assert_array_equal(got, np.gradient(f, positions, axis=axis))


@pytest.mark.skipif(not available("numba"), reason="numba is not installed")
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_subsets_of_a_larger_array_are_not_copied(axis):
    # A subset (or a Dask chunk that is a view) is read where it lies: no
    # allocation the size of the block beyond the result.
    import tracemalloc

    big = np.random.default_rng(16).standard_normal((8, 200, 300))
    f = big[:, 20:180, 30:270]
    n = f.shape[axis]
    plan = plan_first_derivative(n, positions=np.cumsum(np.linspace(1.0, 2.0, n))).block(0, n)
    out = np.empty(f.shape)
    numpy_gradient(f, axis, plan, out=out)  # compiled before measuring
    tracemalloc.start()
    try:
        numpy_gradient(f, axis, plan, out=out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < f.nbytes / 10
    assert_array_equal(out, np.gradient(f, plan.positions, axis=axis))


@pytest.mark.parametrize("stencil", ["non-uniform", "accuracy 4"])
def test_a_block_plan_for_another_size_is_an_error(stencil):
    # The compiled kernels index the plan's positions or weights by point.
    f = np.arange(40.0).reshape(4, 10)
    positions = np.cumsum(np.linspace(1.0, 2.0, 12))
    if stencil == "non-uniform":
        kernel, plan = numpy_gradient, plan_first_derivative(12, positions=positions)
    else:
        kernel, plan = weighted_stencil, plan_weighted(positions, accuracy=4)
    with pytest.raises(ValueError, match=r"the block plan is for 12 points along axis 1, got 10"):
        kernel(f, 1, plan.block(0, 12))


def test_positions_of_another_dtype_get_numpys_arithmetic_in_that_dtype():
    f = np.random.default_rng(17).standard_normal((4, 6))
    positions = np.cumsum(np.random.default_rng(18).uniform(0.5, 1.5, 6)).astype(np.float32)
    for edge_order in (1, 2):
        block = plan_first_derivative(6, positions=positions, edge_order=edge_order).block(0, 6)
        expected = np.gradient(f, positions, axis=1, edge_order=edge_order)
        assert_array_equal(numpy_gradient(f, 1, block), expected)


@pytest.mark.parametrize("kernel_name", ["numpy_gradient", "weighted_stencil"])
def test_negative_axes_count_from_the_end(kernel_name):
    f = np.random.default_rng(19).standard_normal((3, 4, 7))
    positions = np.cumsum(np.linspace(1.0, 2.0, 7))
    if kernel_name == "numpy_gradient":
        kernel, plan = numpy_gradient, plan_first_derivative(7, positions=positions)
    else:
        kernel, plan = weighted_stencil, plan_weighted(positions, accuracy=4)
    block = plan.block(0, 7)
    assert_array_equal(kernel(f, -1, block), kernel(f, 2, block))
    with pytest.raises(ValueError, match=r"axis -4 is out of bounds for a block of 3 dimension"):
        kernel(f, -4, block)
    with pytest.raises(ValueError, match=r"axis 3 is out of bounds for a block of 3 dimension"):
        kernel(f, 3, block)


def test_halos_of_the_wrong_shape_across_the_axis_are_an_error():
    # Along the other axes a halo must match the block, cell for cell: the
    # compiled kernels index it with the block's rows.
    f = np.random.default_rng(20).standard_normal((400, 12))
    block = plan_first_derivative(12, step=1.0).block(4, 8)
    with pytest.raises(ValueError, match=r"the left halo has shape \(1, 1\); a block of shape "):
        numpy_gradient(f[:, 4:8], 1, block, f[:1, 3:4], f[:, 8:9])
    with pytest.raises(
        ValueError, match=r"needs \(400, 1\) \(the block's shape but along axis 1\)"
    ):
        numpy_gradient(f[:, 4:8], 1, block, f[:, 3:4], f[:200, 8:9])


@pytest.mark.parametrize("dtype", ["f4", "f8"])
def test_compiled_kernels_take_explicitly_little_endian_dtypes(dtype):
    # zarr v3 hands out blocks of dtype('<f4') with byteorder "<" (numpy's
    # own constructors say "="): native on little-endian machines, and they
    # must not fall back to the reference kernel (3x slower).
    pytest.importorskip("numba")
    from xgradient.backends import numba as compiled
    from xgradient.stencils import plan_first_derivative

    little = np.dtype(dtype).newbyteorder("<")
    if not little.isnative:
        pytest.skip("big-endian machine")
    assert little.byteorder == "<"
    x = np.random.default_rng(0).random((3, 40)).astype(little)
    plan = plan_first_derivative(40, step=0.5).block(0, 40)
    assert compiled.accepts(x, 1, plan, None, None)
    fast = numpy_gradient(x, 1, plan, engine="numba", parallel=False)
    np.testing.assert_array_equal(fast, numpy_gradient(x, 1, plan, engine="numpy"))


# --------------------------------------------------------------------------- mark_missing


@st.composite
def _masked_blocks(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Data of any layout and dtype, and a boolean mask over a random subset of its axes."""
    sizes = st.integers(2, 5) | st.integers(0, 1)  # mostly axes that the mask can tell apart
    shape = draw(st.lists(sizes, min_size=1, max_size=4), label="shape")
    dtype = draw(
        st.sampled_from(["f8", "f4", ">f8", "c16", "i2", "u1", "?"]),
        label="dtype",
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    data = (rng.standard_normal(shape) * 100).astype(dtype)
    layout = draw(st.sampled_from(["C", "F", "strided"]), label="layout")
    if layout == "F":
        data = np.asfortranarray(data)
    elif layout == "strided":
        data = np.repeat(data, 2, axis=-1)[..., ::2]
    has = draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)), label="has")
    mask_shape = [n if h else 1 for n, h in zip(shape, has, strict=True)]
    if draw(st.booleans(), label="drop leading ones"):
        while mask_shape and mask_shape[0] == 1:
            mask_shape.pop(0)
    valid = rng.random(mask_shape) < 0.7
    return data, valid


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@settings(max_examples=150, deadline=None)
@given(case=_masked_blocks(), parallel=st.booleans())
def test_mark_missing_is_where_with_nan_bit_for_bit(engine, case, parallel):
    data, valid = case
    mark = _on(engine, mark_missing)
    dtype = result_dtype(data.dtype)
    # The oracle, written independently: NaN of the result dtype where not valid.
    expected = np.where(valid, data.astype(dtype), np.array(np.nan, dtype=dtype))
    if engine == "numba" and not backend("numba").takes(data):
        with pytest.raises(EngineError, match="engine='numba' takes"):
            mark(data, valid, parallel=parallel)
        return
    got = mark(data, valid, parallel=parallel)
    assert got.dtype == dtype and got.shape == data.shape
    assert got.tobytes() == np.ascontiguousarray(expected).tobytes()
    assert not np.shares_memory(got, data)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("parallel", [False, True])
def test_mark_missing_with_every_pattern_of_mask_axes(engine, shape, parallel):
    # Every subset of the axes as the mask's, so every 3-D layout the
    # compiled kernel merges them into (and the 4-D ones it leaves to where).
    mark = _on(engine, mark_missing)
    rng = np.random.default_rng(len(shape))
    data = rng.standard_normal(shape)
    for has in itertools.product([False, True], repeat=len(shape)):
        valid = rng.random([n if h else 1 for n, h in zip(shape, has, strict=True)]) < 0.5
        expected = np.where(valid, data, np.nan)
        got = mark(data, valid, parallel=parallel)
        assert got.tobytes() == expected.tobytes(), has


def test_mark_missing_names_a_dtype_it_cannot_take():
    times = np.array(["2000-01-01", "2000-01-02"], dtype="datetime64[D]")
    with pytest.raises(TypeError, match="cannot differentiate data of dtype datetime64"):
        mark_missing(times, np.array([True, False]))


def test_mark_missing_takes_a_view_in_the_compiled_pass(monkeypatch):
    # A Dask chunk of an in-memory array is a strided view: it is copied and
    # marked by the compiled kernel, not handed to NumPy's where (10x slower).
    pytest.importorskip("numba")
    from xgradient.backends import reference

    def where(*args, **kwargs):
        raise AssertionError("the view went to the plain-array where")

    data = np.random.default_rng(0).standard_normal((3, 8, 10))
    view = data[1:2, 2:7, 3:9]  # neither C- nor F-contiguous
    valid = np.random.default_rng(1).random((5, 6)) < 0.6
    monkeypatch.setattr(reference, "mark_missing", where)
    got = mark_missing(view, valid, engine="numba")
    assert_array_equal(got, np.where(valid, view, np.nan))
