"""CuPy-backed data: xgradient's plain-array kernels on a GPU, against cupy.gradient.

xgradient has no GPU kernels of its own: on CuPy arrays it runs its reference
kernels, which use only slicing, arithmetic and ``concatenate``.  This script
measures what that costs on a GPU, side by side with ``cupy.gradient`` (the
GPU twin of numpy.gradient) and a device-to-device copy, and checks every
result against numpy.gradient on the host.

Run it on a machine with a GPU and CuPy::

    python benchmarks/bench_cupy.py [--size 16x2048x1024]
"""

from __future__ import annotations

import argparse

import numpy as np
import xarray as xr

import xgradient


def _timer(cp, fn, repeats):
    """Best-of-``repeats`` device time of ``fn()`` in milliseconds (CUDA events)."""
    fn()  # warm-up: kernel compilation, memory pool
    best = float("inf")
    for _ in range(repeats):
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        best = min(best, cp.cuda.get_elapsed_time(start, stop))
    return best


def main() -> None:
    import cupy as cp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="16x2048x1024", help="NZxNYxNX (default 16x2048x1024)")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    shape = tuple(int(n) for n in args.size.split("x"))
    dims = ("z", "y", "x")
    props = cp.cuda.runtime.getDeviceProperties(0)
    print(f"device: {props['name'].decode()}, cupy {cp.__version__}, numpy {np.__version__}")
    print(f"shape {args.size}; best of {args.repeats}; ratios are time / device copy")
    print(
        f"{'dtype':8} {'dim':4} {'coord':12} {'copy ms':>8} {'xgradient':>10} {'cupy.grad':>10}"
        f" {'xg/copy':>8} {'cupy/xg':>8}  vs numpy"
    )
    rng = np.random.default_rng(0)
    for dtype in ("float64", "float32"):
        host = rng.normal(size=shape).astype(dtype)
        data = cp.asarray(host)
        copy_target = cp.empty_like(data)
        copy_ms = _timer(cp, lambda t=copy_target, d=data: t.__setitem__(Ellipsis, d), args.repeats)
        for dim, n in zip(dims, shape, strict=True):
            for coord in ("uniform", "non-uniform"):
                if coord == "uniform":
                    positions = np.arange(n) * 0.5
                else:
                    positions = np.cumsum(rng.uniform(0.5, 1.5, n))
                da = xr.DataArray(data, dims=dims, coords={dim: positions})
                axis = dims.index(dim)
                if coord == "uniform":
                    step = float(positions[1] - positions[0])
                    cupy_args = (step,)
                else:
                    cupy_args = (cp.asarray(positions),)
                xg_ms = _timer(cp, lambda da=da, dim=dim: xgradient.gradient(da, dim), args.repeats)
                cupy_ms = _timer(
                    cp,
                    lambda d=data, a=cupy_args, axis=axis: cp.gradient(d, *a, axis=axis),
                    args.repeats,
                )
                result = cp.asnumpy(xgradient.gradient(da, dim).data)
                expected = np.gradient(host, positions, axis=axis)
                if np.array_equal(result, expected):
                    agreement = "identical"
                else:
                    scale = np.abs(expected).max()
                    err = np.abs(result.astype(np.float64) - expected).max() / scale
                    agreement = f"max rel diff {err:.1e}"
                print(
                    f"{dtype:8} {dim:4} {coord:12} {copy_ms:8.2f} {xg_ms:10.2f} {cupy_ms:10.2f}"
                    f" {xg_ms / copy_ms:8.2f} {cupy_ms / xg_ms:8.2f}  {agreement}"
                )


if __name__ == "__main__":
    main()
