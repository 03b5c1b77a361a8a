"""The ``xgradient`` command: real netCDF and zarr stores in, derivatives out."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from xgradient.cli import main


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    lon = np.arange(0.0, 360.0, 30.0)
    lat = np.array([60.0, 20.0, 0.0, -30.0, -75.0])
    ds = xr.Dataset(
        {
            "t": (("lat", "lon"), rng.normal(size=(5, 12)), {"units": "K"}),
            "label": ("lat", np.array(list("abcde"))),
        },
        coords={
            "lon": ("lon", lon, {"units": "degrees_east"}),
            "lat": ("lat", lat, {"units": "degrees_north"}),
        },
    )
    path = tmp_path / "in.nc"
    ds.to_netcdf(path)
    return ds, path


def test_netcdf_to_netcdf(store, tmp_path):
    ds, path = store
    out = tmp_path / "out.nc"
    assert main([str(path), str(out), "--dim", "lat", "--dim", "lon", "--chunks", "lat=2"]) == 0
    with xr.open_dataset(out) as res:
        assert set(res.data_vars) == {"dt_dlat", "dt_dlon"}
        np.testing.assert_array_equal(
            res["dt_dlat"].values, np.gradient(ds.t.values, ds.lat.values, axis=0)
        )
        np.testing.assert_array_equal(
            res["dt_dlon"].values, np.gradient(ds.t.values, ds.lon.values, axis=1)
        )
        assert res["dt_dlon"].attrs["units"] == "K degrees_east-1"


# zarr 3 warns that consolidated metadata is not in the v3 spec; xarray writes it.
@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")
def test_zarr_periodic_second_derivative(store, tmp_path):
    pytest.importorskip("zarr")
    ds, _ = store
    src = tmp_path / "in.zarr"
    ds[["t"]].chunk(lon=5).to_zarr(src)
    out = tmp_path / "out.zarr"
    args = [str(src), str(out), "--dim", "lon", "--second", "--boundary", "lon=periodic"]
    assert main([*args, "--accuracy", "4"]) == 0
    expected = ds.t.grad.second("lon", boundary="periodic", accuracy=4)
    with xr.open_zarr(out) as res:
        np.testing.assert_array_equal(res["d2t_dlon2"].values, expected.values)
        assert res["d2t_dlon2"].attrs["units"] == "K degrees_east-2"


def test_unknown_variable_is_named(store, tmp_path):
    _, path = store
    with pytest.raises(SystemExit, match="no data variable \\['nope'\\]"):
        main([str(path), str(tmp_path / "o.nc"), "--dim", "lon", "--var", "nope"])


def test_library_errors_become_messages(store, tmp_path):
    _, path = store
    with pytest.raises(SystemExit, match="dimension 'depth' not found"):
        main([str(path), str(tmp_path / "o.nc"), "--dim", "depth"])


def test_bad_pairs(store, tmp_path):
    _, path = store
    with pytest.raises(SystemExit, match="--chunks expects DIM=VALUE, got 'lat'"):
        main([str(path), str(tmp_path / "o.nc"), "--dim", "lat", "--chunks", "lat"])
    with pytest.raises(SystemExit, match="--period lon='x' is not a valid value"):
        main([str(path), str(tmp_path / "o.nc"), "--dim", "lon", "--period", "lon=x"])


def test_module_entry_point(store, tmp_path):
    _, path = store
    out = tmp_path / "out.nc"
    cmd = [sys.executable, "-m", "xgradient", str(path), str(out), "--dim", "lat"]
    subprocess.run(cmd, check=True, capture_output=True)
    with xr.open_dataset(out) as res:
        assert list(res.data_vars) == ["dt_dlat"]
