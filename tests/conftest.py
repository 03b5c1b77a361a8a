"""Shared test helpers: a guard against Dask computing, hypothesis settings, markers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import dask
import numpy as np
import pytest
import xarray as xr
from hypothesis import settings

# Small, fast, reproducible hypothesis runs: the whole suite has to stay well
# under three minutes on two cores.  No example database is written into the
# repository.
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


@pytest.fixture
def no_dask_compute() -> Any:
    """The :func:`raise_if_dask_computes` context manager, as a fixture."""
    return raise_if_dask_computes


def np_gradient_along(da: xr.DataArray, dim: str, positions: Any = None, **kwargs: Any) -> Any:
    """``np.gradient`` of a DataArray's values along ``dim`` (positions or a step, if given)."""
    axis = da.get_axis_num(dim)
    args = () if positions is None else (positions,)
    return np.gradient(np.asarray(da.values), *args, axis=axis, **kwargs)
