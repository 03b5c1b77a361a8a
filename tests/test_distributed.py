"""A lazy result computed on a real multi-process distributed cluster."""

from __future__ import annotations

import pickle

import cloudpickle
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from distributed import Client, LocalCluster
from distributed.protocol import pickle as dpickle
from numpy.testing import assert_array_equal

import xgradient  # noqa: F401  (registers .grad)


@pytest.mark.distributed
def test_local_cluster_matches_in_memory():
    rng = np.random.default_rng(11)
    n = 20_000
    x = np.cumsum(rng.uniform(0.5, 1.5, n))  # long, non-uniform coordinate
    y = np.array([70.0, 45.0, 10.0, -5.0, -40.0, -85.0])  # decreasing, non-uniform
    values = rng.standard_normal((6, n))
    eager = xr.DataArray(
        values, dims=("y", "x"), coords={"y": y, "x": x}, name="f", attrs={"units": "K"}
    )
    x_chunks = (1, 999, *([1_000] * 19))
    lazy_input = eager.chunk({"y": (1, 3, 2), "x": x_chunks})

    results = []
    for edge_order in (1, 2):
        gy, gx = lazy_input.grad(edge_order=edge_order)
        results += [
            (gy, eager.grad("y", edge_order=edge_order)),
            (gx, eager.grad("x", edge_order=edge_order)),
        ]

    # Missing values, and masks marked inside the kernel tasks: a NumPy mask
    # along x only (broadcast along y), and a Dask mask chunked otherwise.
    holes = eager.where(rng.random(values.shape) > 0.05)
    mask_x = xr.DataArray(rng.random(n) > 0.1, dims="x", coords={"x": x})
    mask_2d = xr.DataArray(rng.random(values.shape) > 0.2, dims=("y", "x"), coords=eager.coords)
    lazy_mask = mask_2d.chunk({"y": 3, "x": 4_000})
    results += [
        (
            holes.chunk({"y": (1, 3, 2), "x": x_chunks}).grad("x", nan_policy="omit"),
            holes.grad("x", nan_policy="omit"),
        ),
        (lazy_input.grad("x", mask=mask_x, accuracy=4), eager.grad("x", mask=mask_x, accuracy=4)),
        (lazy_input.grad.second("y", mask=lazy_mask), eager.grad.second("y", mask=mask_2d)),
    ]

    # The graphs pickle, and no task embeds a large array: the coordinate
    # travels block by block (8 kB each), never whole (160 kB).
    # (The rule's plans for missing values carry per-point one-sided tables,
    # block by block too: up to 25 values a point at accuracy=4.)
    for k, (lazy, _) in enumerate(results):
        graph = dict(lazy.data.__dask_graph__())
        for dumps in (dpickle.dumps, cloudpickle.dumps):
            assert pickle.loads(dumps(graph)).keys() == graph.keys()
        layer = lazy.data.__dask_graph__().layers[lazy.data.name]
        sizes = [len(dpickle.dumps(task)) for task in layer.values()]
        assert len(sizes) >= 3 * len(x_chunks)
        block_plan = 2 * (1_000 + 2) * 8 + 4_000 if k < 4 else 30 * (1_000 + 8) * 8
        assert max(sizes) < block_plan, max(sizes)
        assert max(sizes) < (x.nbytes if k < 4 else 25 * x.nbytes) / 5  # never whole

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        computed = client.compute([lazy.data for lazy, _ in results], sync=True)
        for (lazy, expected), got in zip(results, computed, strict=True):
            assert isinstance(got, np.ndarray)
            assert got.dtype == expected.dtype
            assert_array_equal(got, expected.values)
            assert lazy.chunks == lazy_input.chunks
        # and through xarray's own .compute() with the client as scheduler
        back = results[-1][0].compute()
        assert_array_equal(back.values, results[-1][1].values)
        assert back.attrs == results[-1][1].attrs
    assert isinstance(lazy_input.data, da.Array)
