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

    # The graphs pickle, and no task embeds a large array: the coordinate
    # travels block by block (8 kB each), never whole (160 kB).
    for lazy, _ in results:
        graph = dict(lazy.data.__dask_graph__())
        for dumps in (dpickle.dumps, cloudpickle.dumps):
            assert pickle.loads(dumps(graph)).keys() == graph.keys()
        layer = lazy.data.__dask_graph__().layers[lazy.data.name]
        sizes = [len(dpickle.dumps(task)) for task in layer.values()]
        assert len(sizes) >= 3 * len(x_chunks)
        assert max(sizes) < 2 * (1_000 + 2) * 8 + 4_000, max(sizes)
        assert max(sizes) < x.nbytes / 5

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
