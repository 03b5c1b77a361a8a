"""Shared test helpers: a guard against Dask computing, hypothesis settings, markers."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import dask
import numpy as np
import pytest
import xarray as xr
from hypothesis import settings

# Small, fast, reproducible hypothesis runs: once the kernels are compiled the
# whole suite takes a few minutes on two cores.  No example database is
# written into the repository.
settings.register_profile("xgradient", max_examples=50, deadline=None, database=None)
# In CI the examples are derandomized, so a run is reproducible; locally each
# run explores new ones.
settings.register_profile("ci", parent=settings.get_profile("xgradient"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "xgradient")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "distributed: starts a real distributed.LocalCluster; part of the normal suite",
    )


class CountingScheduler:
    """A Dask scheduler that raises once more than ``max_computes`` computations ran.

    Use it through ``dask.config.set(scheduler=CountingScheduler())``: every
    ``compute``/``persist``/``.values`` on a dask collection calls it.
    """

    def __init__(self, max_computes: int = 0) -> None:
        self.total_computes = 0
        self.max_computes = max_computes

    def __call__(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        self.total_computes += 1
        if self.total_computes > self.max_computes:
            raise RuntimeError(
                f"too many dask computations: {self.total_computes} > {self.max_computes}"
            )
        return dask.get(dsk, keys, **kwargs)


@contextlib.contextmanager
def raise_if_dask_computes(max_computes: int = 0) -> Iterator[CountingScheduler]:
    """Context manager: fail if Dask computes anything (more than ``max_computes`` times)."""
    scheduler = CountingScheduler(max_computes)
    with dask.config.set(scheduler=scheduler):
        yield scheduler


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    """The example scripts leave their figures open for the docs' gallery: close them."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture
def no_dask_compute() -> Any:
    """The :func:`raise_if_dask_computes` context manager, as a fixture."""
    return raise_if_dask_computes


def np_gradient_along(da: xr.DataArray, dim: str, positions: Any = None, **kwargs: Any) -> Any:
    """``np.gradient`` of a DataArray's values along ``dim`` (positions or a step, if given)."""
    axis = da.get_axis_num(dim)
    args = () if positions is None else (positions,)
    return np.gradient(np.asarray(da.values), *args, axis=axis, **kwargs)


def block_pieces(values: Any, axis: int, plan: Any, chunks: tuple[int, ...]) -> Iterator[tuple]:
    """Each block of ``chunks`` along ``axis``, as the Dask layer hands it to a kernel.

    Yields ``(block, left_halo, right_halo, block_plan)``: views of
    ``values`` (any array type), halos ``None`` where the plan needs none.
    """
    start = 0
    for size in chunks:
        stop = start + size
        block_plan = plan.block(start, stop)
        index = [slice(None)] * values.ndim

        def take(lo: int, hi: int, index: list = index) -> Any:
            index[axis] = slice(lo, hi)
            return values[tuple(index)]

        left = take(start - block_plan.left, start) if block_plan.left else None
        right = take(stop, stop + block_plan.right) if block_plan.right else None
        yield take(start, stop), left, right, block_plan
        start = stop


def random_first_derivative_plan(
    rng: np.random.Generator, n: int, *, uniform: bool, dtype: Any, edge_order: int
) -> Any:
    """A plan for ``n`` points: a random uniform step, or random positions of ``dtype``."""
    from xgradient.stencils import plan_first_derivative

    if uniform:
        return plan_first_derivative(n, step=float(rng.uniform(0.1, 3.0)), edge_order=edge_order)
    positions = np.cumsum(rng.uniform(0.2, 2.0, n)).astype(dtype)
    return plan_first_derivative(n, positions=positions, edge_order=edge_order)


@pytest.fixture(scope="module")
def scheduler():
    """The address of a two-process LocalCluster, one per test module (the CLI tests')."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address
