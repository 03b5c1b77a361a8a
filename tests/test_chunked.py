"""Dask-backed data: lazy, same chunks, and bit-identical to the in-memory result."""

from __future__ import annotations

import itertools
import pickle

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from conftest import CountingScheduler, raise_if_dask_computes
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from strategies import chunkings, differentiation_cases, positions_or_spacing

import xgradient

DIMS = ("z", "y", "x")


def _random(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _compositions(n):
    """Every chunking of a dimension of length n (2**(n-1) of them)."""
    for cuts in itertools.product([False, True], repeat=n - 1):
        sizes, size = [], 1
        for cut in cuts:
            if cut:
                sizes.append(size)
                size = 1
            else:
                size += 1
        sizes.append(size)
        yield tuple(sizes)


def _lazy_grad(obj, *args, **kwargs):
    """``obj.grad(...)`` built under a guard that fails if Dask computes anything."""
    with raise_if_dask_computes():
        result = obj.grad(*args, **kwargs)
        for r in result if isinstance(result, tuple) else (result,):
            for var in r.variables.values() if isinstance(r, xr.Dataset) else [r]:
                if isinstance(var.data, da.Array):
                    _ = var.chunks, var.dtype, var.shape
    return result


def _assert_same_chunks_and_values(lazy, eager, chunked_input):
    assert isinstance(lazy.data, da.Array)
    assert lazy.chunks == chunked_input.chunks
    assert lazy.dtype == eager.dtype
    computed = lazy.compute()
    assert computed.dtype == eager.dtype
    assert_array_equal(computed.values, eager.values)


# --------------------------------------------------------------------------
# The guard itself
# --------------------------------------------------------------------------


def test_guard_raises_when_something_is_computed():
    x = da.ones(4, chunks=2)
    with pytest.raises(RuntimeError, match="too many dask computations"), raise_if_dask_computes():
        x.sum().compute()
    with raise_if_dask_computes(max_computes=1) as scheduler:
        assert x.sum().compute() == 4.0
    assert isinstance(scheduler, CountingScheduler)
    assert scheduler.total_computes == 1


def test_guard_fixture(no_dask_compute):
    with pytest.raises(RuntimeError), no_dask_compute():
        xr.DataArray(da.ones(4, chunks=2), dims="x").values  # noqa: B018


# --------------------------------------------------------------------------
# Chunk invariance
# --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_chunk_invariance(data):
    edge_order, shape, axis = data.draw(differentiation_cases(), label="case")
    dims = DIMS[-len(shape) :]
    dim = dims[axis]
    dtype = data.draw(st.sampled_from([np.float64, np.float64, np.float32]), label="dtype")
    values = _random(shape, seed=data.draw(st.integers(0, 2**16), label="seed"), dtype=dtype)
    chunks = tuple(data.draw(chunkings(n), label=f"chunks[{i}]") for i, n in enumerate(shape))
    kind, where = data.draw(positions_or_spacing(shape[axis]), label="positions")

    eager = xr.DataArray(values, dims=dims, name="f")
    kwargs = {"edge_order": edge_order}
    if kind == "step":
        kwargs["spacing"] = where
    elif kind == "coord":
        eager = eager.assign_coords({dim: where})
    lazy_input = eager.chunk(dict(zip(dims, chunks, strict=True)))
    assert lazy_input.chunks == chunks

    expected = eager.grad(dim, **kwargs)
    lazy = _lazy_grad(lazy_input, dim, **kwargs)
    _assert_same_chunks_and_values(lazy, expected, lazy_input)
    if dtype == np.float64:
        positions = {"unit": (), "step": (where,), "coord": (where,)}[kind]
        np_expected = np.gradient(values, *positions, axis=axis, edge_order=edge_order)
        assert_array_equal(expected.values, np_expected)


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("spacing", ["unit", "uniform", "non-uniform", "decreasing"])
def test_every_chunking_of_short_1d_arrays(edge_order, spacing):
    for n in range(edge_order + 1, 8):
        values = np.cos(np.arange(n) * 0.7) + np.arange(n) ** 2 / 5.0
        coords = {
            "unit": {},
            "uniform": {"x": 0.25 * np.arange(n)},
            "non-uniform": {"x": np.cumsum(1.0 + np.arange(n) % 3 * 0.7)},
            "decreasing": {"x": -np.cumsum(1.5 + np.arange(n) % 4 * 1.3)},
        }[spacing]
        eager = xr.DataArray(values, dims="x", coords=coords)
        expected = eager.grad("x", edge_order=edge_order)
        positions = (coords["x"],) if coords else ()
        assert_array_equal(expected.values, np.gradient(values, *positions, edge_order=edge_order))
        for chunks in _compositions(n):
            lazy_input = eager.chunk({"x": chunks})
            lazy = _lazy_grad(lazy_input, "x", edge_order=edge_order)
            assert lazy.chunks == (chunks,)
            assert_array_equal(lazy.values, expected.values, err_msg=f"n={n}, chunks={chunks}")


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_every_chunking_along_each_axis_of_a_3d_array(edge_order, axis):
    shape = [3, 4, 5]
    shape[axis] = 6
    values = _random(shape, seed=axis)
    dim = DIMS[axis]
    x = np.array([0.0, 0.3, 1.0, 1.2, 2.9, 3.0])
    eager = xr.DataArray(values, dims=DIMS, coords={dim: x})
    expected = eager.grad(dim, edge_order=edge_order)
    assert_array_equal(expected.values, np.gradient(values, x, axis=axis, edge_order=edge_order))
    other = {d: 2 for d in DIMS if d != dim}
    for chunks in _compositions(6):
        lazy_input = eager.chunk({dim: chunks, **other})
        lazy = _lazy_grad(lazy_input, dim, edge_order=edge_order)
        assert lazy.chunks == lazy_input.chunks
        assert_array_equal(lazy.values, expected.values, err_msg=f"chunks={chunks}")


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize(
    "dtype", [np.float32, np.float64, np.int16, np.int64, np.uint8, bool, np.complex128]
)
def test_dtypes_chunk_invariant(dtype, edge_order):
    rng = np.random.default_rng(1)
    if dtype is bool:
        values = rng.random((4, 9)) > 0.5
    elif np.issubdtype(dtype, np.complexfloating):
        values = (rng.standard_normal((4, 9)) + 1j * rng.standard_normal((4, 9))).astype(dtype)
    else:
        values = (rng.standard_normal((4, 9)) * 50).astype(dtype)
    x = np.array([0.0, 0.5, 2.0, 2.25, 3.0, 5.0, 5.5, 6.0, 9.0])
    eager = xr.DataArray(values, dims=("y", "x"), coords={"x": x})
    for chunks in [(9,), (1,) * 9, (4, 1, 4), (2, 3, 4)]:
        lazy_input = eager.chunk({"x": chunks, "y": 3})
        for dim in ("x", "y"):
            expected = eager.grad(dim, edge_order=edge_order)
            lazy = _lazy_grad(lazy_input, dim, edge_order=edge_order)
            _assert_same_chunks_and_values(lazy, expected, lazy_input)


def test_large_blocks_match_numpy():
    # Big enough for any size-dependent fast path (threads, vectorised loops).
    rng = np.random.default_rng(2)
    values = rng.standard_normal((520, 530))
    y = np.cumsum(rng.uniform(0.5, 1.5, 520))
    x = np.linspace(-3.0, 3.0, 530)
    eager = xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x})
    lazy_input = eager.chunk({"y": 173, "x": 300})
    for edge_order in (1, 2):
        gy, gx = eager.grad(edge_order=edge_order)
        assert_array_equal(gy.values, np.gradient(values, y, axis=0, edge_order=edge_order))
        assert_array_equal(gx.values, np.gradient(values, x, axis=1, edge_order=edge_order))
        ly, lx = _lazy_grad(lazy_input, edge_order=edge_order)
        assert_array_equal(ly.values, gy.values)
        assert_array_equal(lx.values, gx.values)
    f32 = eager.astype(np.float32)
    assert_array_equal(f32.chunk({"y": 100}).grad("y").values, f32.grad("y").values)


def test_non_contiguous_blocks():
    values = _random((6, 8, 5), seed=4)
    eager = xr.DataArray(values, dims=DIMS).transpose("x", "z", "y")
    assert not eager.values.flags.c_contiguous
    lazy_input = xr.DataArray(da.from_array(values, chunks=(2, 3, 2)), dims=DIMS).transpose(
        "x", "z", "y"
    )
    for dim in DIMS:
        for edge_order in (1, 2):
            expected = eager.grad(dim, edge_order=edge_order)
            assert_array_equal(
                expected.values,
                np.gradient(eager.values, axis=eager.get_axis_num(dim), edge_order=edge_order),
            )
            lazy = _lazy_grad(lazy_input, dim, edge_order=edge_order)
            assert lazy.chunks == lazy_input.chunks
            assert_array_equal(lazy.values, expected.values)


def test_only_a_short_dim_that_is_not_differentiated():
    values = _random((1, 7))
    eager = xr.DataArray(values, dims=("y", "x"))
    lazy = _lazy_grad(eager.chunk({"x": 2}), "x", edge_order=2)
    assert_array_equal(lazy.values, np.gradient(values, axis=1, edge_order=2))


def test_empty_non_differentiated_dim():
    values = np.zeros((0, 5))
    eager = xr.DataArray(values, dims=("y", "x"))
    expected = np.gradient(values, axis=1)
    assert eager.grad("x").shape == (0, 5)
    assert_array_equal(eager.grad("x").values, expected)
    lazy = _lazy_grad(eager.chunk({"x": 2}), "x")
    assert lazy.shape == (0, 5)
    assert_array_equal(lazy.values, expected)


@pytest.mark.parametrize("edge_order", [1, 2])
def test_zero_length_chunks_along_another_dim(edge_order):
    values = np.arange(20.0).reshape(4, 5) ** 2
    lazy_input = xr.DataArray(da.from_array(values, chunks=((2, 0, 2), (2, 3))), dims=("y", "x"))
    lazy = _lazy_grad(lazy_input, "x", edge_order=edge_order)
    assert lazy.chunks == ((2, 0, 2), (2, 3))
    assert_array_equal(lazy.values, np.gradient(values, axis=1, edge_order=edge_order))


@pytest.mark.parametrize("chunks", [(3, 0, 2), (0, 5), (5, 0), (2, 0, 0, 3)])
def test_zero_length_chunks(chunks):
    values = np.arange(5.0) ** 2
    lazy_input = xr.DataArray(da.from_array(values, chunks=(chunks,)), dims="x")
    assert lazy_input.chunks == (chunks,)
    lazy = lazy_input.grad("x")
    assert lazy.chunks == (chunks,)
    assert_array_equal(lazy.values, np.gradient(values))


# --------------------------------------------------------------------------
# Laziness
# --------------------------------------------------------------------------


def test_building_the_result_computes_nothing():
    time = np.arange("2000-01-01", "2000-01-09", dtype="datetime64[D]").astype("datetime64[ns]")
    eager = xr.DataArray(
        _random((8, 5, 6)),
        dims=("time", "y", "x"),
        coords={
            "time": time,
            "y": [10.0, 5.0, 0.0, -5.0, -10.0],
            "x": [0.0, 1.0, 3.0, 3.5, 8.0, 9.0],
            "xx": ("x", np.arange(6.0) ** 2),
        },
        name="T",
        attrs={"units": "K"},
    )
    lazy_input = eager.chunk({"time": 3, "y": 2, "x": (1, 4, 1)})
    with raise_if_dask_computes():
        gt, gy, gx = lazy_input.grad(edge_order=2)
        one = lazy_input.grad("x", spacing={"x": eager.xx.values * 2.0})
        two = xgradient.gradient(lazy_input, ["x", "time"], spacing=[0.5, 3600.0])
        ds = lazy_input.to_dataset().grad("y")
        for r in (gt, gy, gx, one, *two, ds["T"]):
            assert isinstance(r.data, da.Array)
            assert r.chunks == lazy_input.chunks
            assert r.dtype == np.float64
            assert r.shape == eager.shape
            assert r.attrs["long_name"]
        assert gt.attrs["units"] == "K s-1"
        assert "xx" in gx.coords
        _ = repr(gt), repr(ds)
    # and nothing of the input was computed behind the guard's back
    for lazy, dim in ((gt, "time"), (gy, "y"), (gx, "x")):
        assert_array_equal(lazy.values, eager.grad(dim, edge_order=2).values)


def test_result_graph_depends_on_the_input_graph():
    calls = []

    def record(block):
        calls.append(block.shape)
        return block

    src = da.from_array(np.arange(20.0) ** 2, chunks=5).map_blocks(
        record, dtype=float, meta=np.array((), dtype=float)
    )
    lazy = xr.DataArray(src, dims="x").grad("x")
    assert calls == []  # nothing ran while building
    with dask.config.set(scheduler="sync"):
        assert_array_equal(lazy.values, np.gradient(np.arange(20.0) ** 2))
    assert len(calls) >= 4


# Documented behaviour: the stencil is planned from the positions, so a
# dask-backed 1-D coordinate used as spacing is computed once, while building;
# the data itself never is.
@pytest.mark.parametrize("how", ["coordinate-name", "dataarray"])
def test_dask_backed_positions_are_computed_once_and_data_never(how):
    eager = xr.DataArray(
        _random((4, 6)), dims=("y", "x"), coords={"xx": ("x", np.arange(6.0) ** 2)}
    )
    lazy_input = eager.chunk({"x": 2})
    assert isinstance(lazy_input.xx.data, da.Array)
    entry = "xx" if how == "coordinate-name" else lazy_input.xx
    with raise_if_dask_computes(max_computes=1) as scheduler:
        result = lazy_input.grad("x", spacing={"x": entry})
    assert scheduler.total_computes == 1
    assert isinstance(result.data, da.Array)
    assert_array_equal(result.values, eager.grad("x", spacing={"x": "xx"}).values)


# --------------------------------------------------------------------------
# Graphs stay small
# --------------------------------------------------------------------------


def _layer_tasks(arr):
    """(key, task) pairs of the layers the gradient added on top of its input."""
    graph = arr.__dask_graph__()
    return [
        (key, task)
        for name, layer in graph.layers.items()
        if name.startswith("xgradient")
        for key, task in layer.items()
    ]


@pytest.mark.parametrize("two_d", [False, True])
def test_each_task_holds_only_its_slice_of_the_coordinate(two_d):
    n, chunk = 100_000, 2_000
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.uniform(0.5, 1.5, n))  # non-uniform: per-point spacings are needed
    shape, chunks = ((3, n), (1, chunk)) if two_d else ((n,), (chunk,))
    dims = ("y", "x") if two_d else ("x",)
    lazy_input = xr.DataArray(da.ones(shape, chunks=chunks), dims=dims, coords={"x": x})
    with raise_if_dask_computes():
        result = lazy_input.grad("x", edge_order=2)
    tasks = _layer_tasks(result.data)
    n_blocks = int(np.prod([len(c) for c in result.chunks]))
    assert len(tasks) >= n_blocks
    sizes = [len(pickle.dumps(task, protocol=5)) for _, task in tasks]
    slice_bytes = (chunk + 2) * 8
    assert max(sizes) < 2 * slice_bytes + 4_000, max(sizes)
    assert max(sizes) < x.nbytes / 20
    # the whole graph: about one copy of the coordinate, not one per block
    whole = len(pickle.dumps(dict(result.data.__dask_graph__()), protocol=5))
    assert whole < 2 * x.nbytes, (whole, x.nbytes)


def test_uniform_spacing_tasks_are_tiny():
    lazy_input = xr.DataArray(
        da.ones(100_000, chunks=1_000), dims="x", coords={"x": np.arange(100_000) * 0.5}
    )
    result = lazy_input.grad("x", edge_order=2)
    sizes = [len(pickle.dumps(task, protocol=5)) for _, task in _layer_tasks(result.data)]
    assert max(sizes) < 2_000, max(sizes)


def test_halo_tasks_take_thin_slices():
    values = _random((4, 60))
    lazy_input = xr.DataArray(da.from_array(values, chunks=(2, 20)), dims=("y", "x"))
    result = lazy_input.grad("x")
    with dask.config.set(scheduler="sync"):
        results = dask.get(
            dict(result.data.__dask_graph__()), [k for k, _ in _layer_tasks(result.data)]
        )
    block_elems = 2 * 20
    for (key, _), value in zip(_layer_tasks(result.data), results, strict=True):
        assert isinstance(value, np.ndarray)
        if key[0] == result.data.name:
            assert value.shape == (2, 20)
        else:  # a halo piece: one cell along x (edge_order=1), the block's rows
            assert value.size < block_elems
            assert value.shape == (2, 1)


# --------------------------------------------------------------------------
# Several dims, Datasets
# --------------------------------------------------------------------------


@pytest.mark.parametrize("edge_order", [1, 2])
def test_several_dims_at_once(edge_order):
    values = _random((5, 6, 7), seed=9)
    coords = {"z": [0.0, 1.0, 3.0, 6.0, 10.0], "x": np.linspace(5, -5, 7)}
    eager = xr.DataArray(values, dims=DIMS, coords=coords)
    lazy_input = eager.chunk({"z": (2, 3), "y": 1, "x": (3, 1, 3)})
    lazy = _lazy_grad(lazy_input, ["x", "z"], edge_order=edge_order)
    eager_res = eager.grad(["x", "z"], edge_order=edge_order)
    assert len(lazy) == 2
    for lz, eg in zip(lazy, eager_res, strict=True):
        _assert_same_chunks_and_values(lz, eg, lazy_input)
    assert_array_equal(
        lazy[0].values, np.gradient(values, coords["x"], axis=2, edge_order=edge_order)
    )
    assert_array_equal(
        lazy[1].values, np.gradient(values, coords["z"], axis=0, edge_order=edge_order)
    )
    everything = _lazy_grad(lazy_input, spacing={"y": 0.1}, edge_order=edge_order)
    assert [r.dims for r in everything] == [DIMS] * 3
    for dim, r in zip(DIMS, everything, strict=True):
        spacing = {"y": 0.1} if dim == "y" else None
        expected = eager.grad(dim, spacing=spacing, edge_order=edge_order)
        _assert_same_chunks_and_values(r, expected, lazy_input)


def test_dataset_with_dask_variables():
    ds = xr.Dataset(
        {
            "a": (("y", "x"), _random((4, 9))),
            "b": (("x",), np.arange(9.0) ** 2),
            "c": (("y",), np.arange(4.0)),
        },
        coords={"x": np.cumsum(np.arange(1.0, 10.0))},
    )
    lazy_ds = ds.chunk({"x": (2, 1, 6), "y": 3})
    with raise_if_dask_computes():
        result = lazy_ds.grad("x", edge_order=2)
    assert set(result.data_vars) == {"a", "b"}
    expected = ds.grad("x", edge_order=2)
    for name in ("a", "b"):
        assert result[name].chunks == lazy_ds[name].chunks
        assert_array_equal(result[name].values, expected[name].values)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"edge_order": 2},
        {"accuracy": 4},
        {"boundary": "periodic"},
    ],
    ids=["default", "edge2", "acc4", "periodic"],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
def test_the_plain_array_engine_gives_the_same_bits(options, dtype):
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.uniform(0.5, 1.5, 9))
    obj = xr.DataArray(
        (rng.standard_normal((4, 9)) * 100).astype(dtype),
        dims=("y", "x"),
        coords={"x": x},
    )
    period = {"x": 20.0} if "boundary" in options else None
    compiled = obj.grad("x", **options, period=period)
    for data in (obj, obj.chunk(x=2)):
        plain = data.grad("x", **options, period=period, engine="numpy")
        assert plain.dtype == compiled.dtype
        assert_array_equal(plain.values, compiled.values)


@pytest.mark.parametrize("as_dataset", [False, True])
def test_several_dims_computed_together_read_each_input_block_once(as_dataset):
    # The derivatives share the input's tasks: computed (or persisted, or
    # written) together, each input block is produced once for all of them.
    import threading

    loads = []
    lock = threading.Lock()

    def load(block, block_info=None):
        with lock:
            loads.append(tuple(block_info[0]["chunk-location"]))
        return block

    values = _random((6, 8, 9), seed=4)
    source = da.from_array(values, chunks=(3, 4, 3)).map_blocks(load, dtype=values.dtype)
    obj = xr.DataArray(source, dims=DIMS, coords={"x": np.cumsum(np.arange(1.0, 10.0))})
    if as_dataset:
        obj = obj.to_dataset(name="a").assign(b=obj * 2)
    results = obj.grad(["y", "x", "z"], edge_order=2)
    assert not loads  # nothing ran while building
    computed = dask.compute(*results, scheduler="threads")
    n_blocks = source.npartitions
    assert sorted(loads) == sorted(set(loads)) and len(loads) == n_blocks
    for dim, result in zip(["y", "x", "z"], computed, strict=True):
        expected = xr.DataArray(values, dims=DIMS, coords=obj.coords).grad(dim, edge_order=2)
        if as_dataset:
            assert_array_equal(result["a"].values, expected.values)
            assert_array_equal(result["b"].values, 2 * expected.values)
        else:
            assert_array_equal(result.values, expected.values)


def test_a_lazy_result_does_not_follow_later_changes_to_the_positions_array():
    # The graph holds its own copy of the positions, even where one chunk
    # spans the whole dim (the eager path shares them: it computes at once).
    positions = np.cumsum(np.random.default_rng(21).uniform(0.5, 1.5, 40))
    f = np.random.default_rng(22).standard_normal((6, 40))
    arr = xr.DataArray(f, dims=("y", "x")).chunk({"y": 2})  # x in one chunk
    lazy = arr.grad("x", spacing={"x": positions})
    expected = np.gradient(f, positions.copy(), axis=1)
    positions[:] = np.arange(40.0)  # the caller reuses its array
    np.testing.assert_array_equal(lazy.values, expected)


def test_halo_slices_own_their_memory():
    # A halo task that returned a view would pin its whole neighbour chunk
    # while Dask's sizeof counted only the slice (memory it can't see or spill).
    from dask.sizeof import sizeof

    from xgradient.chunked import apply_chunked
    from xgradient.kernels import numpy_gradient
    from xgradient.stencils import plan_first_derivative

    x = da.from_array(np.arange(4_000.0).reshape(4, 1_000), chunks=(4, 250))
    y = apply_chunked(x, 1, plan_first_derivative(1_000, step=1.0), numpy_gradient, x.dtype)
    graph = dict(y.__dask_graph__())
    halo_keys = [k for k in graph if k[0].startswith("xgradient-halo-")]
    assert halo_keys
    for key in halo_keys:
        piece = dask.get(graph, key)
        assert piece.base is None  # owns its memory
        assert piece.shape == (4, 1)
        assert sizeof(piece) < 1_000  # what Dask accounts is what the task holds


# --------------------------------------------------------------------------
# A validity mask marked inside the kernel tasks
# --------------------------------------------------------------------------


def _mark(block, valid):
    return np.where(valid, block, np.nan)


@pytest.mark.parametrize("mask_has_axis", [True, False])
def test_a_mask_is_marked_inside_the_kernel_tasks(mask_has_axis):
    # No task outputs a marked copy of a block: the kernel tasks mark their
    # block and halos (thin slices of the mask, copies like the data's).
    from xgradient.chunked import apply_chunked
    from xgradient.kernels import omit_missing
    from xgradient.missing import plan_missing
    from xgradient.stencils import plan_first_derivative

    rng = np.random.default_rng(5)
    values = rng.standard_normal((6, 40))
    valid = rng.random((6, 40) if mask_has_axis else (6, 1)) > 0.3
    x = da.from_array(values, chunks=(3, (1, 1, 9, 20, 9)))
    v = da.from_array(valid, chunks=(3, x.chunks[1] if mask_has_axis else 1))
    plan = plan_missing(plan_first_derivative(40, step=0.5, edge_order=2))
    y = apply_chunked(x, 1, plan, omit_missing, x.dtype, valid=v, mark=_mark)
    expected = omit_missing(_mark(values, valid), 1, plan.block(0, 40))
    assert_array_equal(y.compute(), expected)
    graph = dict(y.__dask_graph__())
    outputs = dask.get(graph, list(graph))
    for key, value in zip(graph, outputs, strict=True):
        if key[0].startswith("xgradient-valid-halo-"):
            assert mask_has_axis
            assert value.dtype == bool and value.base is None and value.shape[1] <= 2
        elif key[0].startswith("xgradient-"):
            # A halo slice or a result block: nothing else in between.
            assert key[0].startswith("xgradient-halo-") or key[0] == y.name


def test_a_mask_whose_chunks_do_not_fit_the_data_is_refused():
    from xgradient.chunked import apply_chunked
    from xgradient.kernels import numpy_gradient
    from xgradient.stencils import plan_first_derivative

    x = da.zeros((4, 10), chunks=(2, 5))
    v = da.ones((4, 10), dtype=bool, chunks=(2, 2))
    with pytest.raises(ValueError, match=r"mask's chunks .* do not fit the data's"):
        apply_chunked(
            x, 1, plan_first_derivative(10, step=1.0), numpy_gradient, x.dtype, valid=v, mark=_mark
        )


def test_mask_makes_no_task_layer_of_its_own():
    # mask= on Dask data: the graph holds the data, the mask, the halo
    # slices and the derivative's blocks; no marked copy of the data.
    field = xr.DataArray(
        np.random.default_rng(1).standard_normal((4, 12, 16)), dims=("t", "y", "x")
    ).chunk(t=2, y=5, x=6)
    sea = xr.DataArray(np.random.default_rng(2).random((12, 16)) > 0.3, dims=("y", "x"))
    for lazy_sea in (sea, sea.chunk(y=3, x=8)):
        result = xgradient.gradient(field, "y", mask=lazy_sea, edge_order=2)
        assert result.chunks == field.chunks
        layers = result.data.__dask_graph__().layers
        marked = [name for name in layers if "mark" in name or "where" in name]
        assert not marked, marked
        expected = xgradient.gradient(
            field.compute().where(sea), "y", nan_policy="omit", edge_order=2
        )
        assert_array_equal(result.values, expected.values)
