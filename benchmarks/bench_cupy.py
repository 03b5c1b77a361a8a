"""CuPy-backed data: xgradient's fused CUDA kernel on a GPU, side by side.

On CuPy arrays xgradient runs one fused CUDA kernel per derivative
(:mod:`xgradient._cuda`; float32 and float64 data).  This script measures it
against the alternatives in one run:

* ``xgradient`` - ``xgradient.gradient`` on a CuPy-backed DataArray (the
  whole call, xarray layer included);
* ``kernel`` - the fused kernel alone, through ``xgradient.kernels.first_derivative``
  on the whole array (no xarray layer);
* ``plain`` - xgradient's plain-array reference kernel on the same block
  (what CuPy arrays went through before the fused kernel: one CUDA kernel per
  arithmetic step, with full-size temporaries);
* ``cupy.gradient`` - the GPU twin of numpy.gradient;
* ``copy`` - a device-to-device copy into an existing array, the floor;

and checks every result against numpy.gradient on the host; the weighted
stencils (periodic, fourth order, second derivative) likewise, against the
plain-array kernel on the device and the reference on the host.  Then the first
call (kernel compilation, or CuPy's disk cache) and a Dask-of-CuPy section:
persisting xgradient against persisting ``d + 0`` and ``dask.array.gradient``
on the same chunks.

Run it on a machine with a GPU and CuPy::

    python benchmarks/bench_cupy.py [--size 16x2048x1024] [--markdown]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr

import xgradient
from xgradient.kernels import (
    first_derivative,
    first_derivative_reference,
    weighted_stencil,
    weighted_stencil_reference,
)
from xgradient.stencils import plan_first_derivative, plan_weighted


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


def _wall(cp, fn, repeats):
    """Best-of-``repeats`` wall time of ``fn()`` in milliseconds, the device synchronised."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        cp.cuda.Device().synchronize()
        start = time.perf_counter()
        fn()
        cp.cuda.Device().synchronize()
        best = min(best, (time.perf_counter() - start) * 1e3)
    return best


def _agreement(result, expected):
    if np.array_equal(result, expected):
        return "identical"
    scale = np.abs(expected).max()
    return f"max rel diff {np.abs(result.astype(np.float64) - expected).max() / scale:.1e}"


def _table(header, rows, markdown):
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(":---" if i < 3 else "---:" for i in range(len(header))) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print(
                "  ".join(
                    c.ljust(w) if i < 3 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                )
            )
    print()


def eager_section(cp, shape, repeats, markdown):
    dims = ("z", "y", "x")
    rng = np.random.default_rng(0)
    rows = []
    for dtype in ("float64", "float32"):
        host = rng.normal(size=shape).astype(dtype)
        data = cp.asarray(host)
        target = cp.empty_like(data)
        copy_ms = _timer(cp, lambda t=target, d=data: t.__setitem__(Ellipsis, d), repeats)
        for dim, n in zip(dims, shape, strict=True):
            axis = dims.index(dim)
            for coord in ("uniform", "non-uniform"):
                if coord == "uniform":
                    positions = np.arange(n) * 0.5
                    plan = plan_first_derivative(n, step=0.5)
                    cupy_args = (0.5,)
                else:
                    positions = np.cumsum(rng.uniform(0.5, 1.5, n))
                    plan = plan_first_derivative(n, positions=positions)
                    cupy_args = (cp.asarray(positions),)
                block = plan.block(0, n)
                da = xr.DataArray(data, dims=dims, coords={dim: positions})
                xg_ms = _timer(cp, lambda da=da, dim=dim: xgradient.gradient(da, dim), repeats)
                kernel_ms = _timer(
                    cp, lambda d=data, a=axis, b=block: first_derivative(d, a, b), repeats
                )
                plain_ms = _timer(
                    cp,
                    lambda d=data, a=axis, b=block: first_derivative_reference(d, a, b),
                    repeats,
                )
                cupy_ms = _timer(
                    cp, lambda d=data, a=cupy_args, ax=axis: cp.gradient(d, *a, axis=ax), repeats
                )
                expected = np.gradient(host, positions, axis=axis)
                result = xgradient.gradient(da, dim).data
                assert isinstance(result, cp.ndarray)
                rows.append(
                    [
                        dtype,
                        dim,
                        coord,
                        f"{copy_ms:.3f} ms",
                        f"{xg_ms:.3f} ms",
                        f"{kernel_ms:.3f} ms",
                        f"{plain_ms:.3f} ms",
                        f"{cupy_ms:.3f} ms",
                        f"{xg_ms / copy_ms:.2f}x",
                        f"{kernel_ms / copy_ms:.2f}x",
                        f"{plain_ms / kernel_ms:.1f}x",
                        f"{cupy_ms / kernel_ms:.1f}x",
                        f"{cupy_ms / xg_ms:.1f}x",
                        _agreement(cp.asnumpy(result), expected),
                    ]
                )
    print(f"## Eager, {'x'.join(map(str, shape))}, best of {repeats} (CUDA events)\n")
    header = ["dtype", "dim", "coord", "copy", "xgradient", "kernel", "plain", "cupy.gradient"]
    header += ["xg/copy", "kernel/copy", "plain/kernel", "cupy/kernel", "cupy/xg", "vs numpy"]
    _table(header, rows, markdown)


def options_section(cp, shape, repeats, markdown):
    """The weighted stencils (periodic, fourth order, second derivative), float64 along x."""
    host = np.random.default_rng(4).normal(size=shape)
    data = cp.asarray(host)
    target = cp.empty_like(data)
    copy_ms = _timer(cp, lambda: target.__setitem__(Ellipsis, data), repeats)
    n = shape[-1]
    positions = np.cumsum(np.random.default_rng(5).uniform(0.5, 1.5, n))
    axis = data.ndim - 1
    rows = []
    for label, options in [
        ("periodic", {"periodic": True, "period": positions[-1] - positions[0] + 1.0}),
        ("accuracy=4", {"accuracy": 4}),
        ("second", {"order": 2}),
    ]:
        plan = plan_weighted(positions, **options)
        block = plan.block(0, n)
        halos = (None, None)
        if plan.periodic:  # the wrapped cells, as the xarray layer passes them
            r = plan.radius
            halos = (data[..., n - r :], data[..., :r])
        kernel_ms = _timer(
            cp, lambda b=block, h=halos: weighted_stencil(data, axis, b, *h), repeats
        )
        plain_ms = _timer(
            cp, lambda b=block, h=halos: weighted_stencil_reference(data, axis, b, *h), repeats
        )
        got = cp.asnumpy(weighted_stencil(data, axis, block, *halos))
        expected = weighted_stencil_reference(
            host, axis, block, *(None if h is None else cp.asnumpy(h) for h in halos)
        )
        rows.append(
            [
                "float64",
                "x",
                label,
                f"{copy_ms:.3f} ms",
                f"{kernel_ms:.3f} ms",
                f"{plain_ms:.3f} ms",
                f"{kernel_ms / copy_ms:.2f}x",
                f"{plain_ms / kernel_ms:.1f}x",
                _agreement(got, expected),
            ]
        )
    print(f"## Weighted stencils, {'x'.join(map(str, shape))}, best of {repeats} (CUDA events)\n")
    header = ["dtype", "dim", "stencil", "copy", "kernel", "plain", "kernel/copy", "plain/kernel"]
    header += ["vs reference on the host"]
    _table(header, rows, markdown)


def first_call_section(cp):
    """The first derivative of a session: compiles the kernel, or loads it from CuPy's cache."""
    data = cp.asarray(np.random.default_rng(1).normal(size=(64, 64)).astype(np.float32))
    positions = np.cumsum(np.linspace(1.0, 2.0, 64))
    da = xr.DataArray(data, dims=("y", "x"), coords={"x": positions})
    start = time.perf_counter()
    xgradient.gradient(da, "x")
    cp.cuda.Device().synchronize()
    first = (time.perf_counter() - start) * 1e3
    second = _wall(cp, lambda: xgradient.gradient(da, "x"), 5)
    print("## First call\n")
    print(
        f"first call of a new specialisation: {first:.0f} ms (NVRTC compile, or CuPy's disk"
        f" cache if this machine compiled it before); later calls: {second:.2f} ms\n"
    )


def dask_section(cp, shape, chunks, repeats, markdown):
    import dask
    import dask.array as dsa

    rows = []
    host = np.random.default_rng(2).normal(size=shape)
    dims = ("z", "y", "x")
    for dim in ("y", "x"):
        axis = dims.index(dim)
        positions = np.cumsum(np.random.default_rng(3).uniform(0.5, 1.5, shape[axis]))
        d = dsa.from_array(cp.asarray(host), chunks=chunks, asarray=False).persist()
        da = xr.DataArray(d, dims=dims, coords={dim: positions})
        with dask.config.set(scheduler="threads"):
            plus_ms = _wall(cp, lambda d=d: dask.persist(d + 0), repeats)
            xg_ms = _wall(cp, lambda da=da, dim=dim: xgradient.gradient(da, dim).persist(), repeats)
            try:
                dg_ms = _wall(
                    cp,
                    lambda d=d, p=positions, a=axis: dask.persist(dsa.gradient(d, p, axis=a)),
                    repeats,
                )
            except Exception as error:  # dask's gradient may not take CuPy chunks
                print(f"dask.array.gradient failed on CuPy chunks: {error!r:.200}")
                dg_ms = float("nan")
            result = xgradient.gradient(da, dim).data.compute()
        rows.append(
            [
                "float64",
                dim,
                "non-uniform",
                f"{plus_ms:.1f} ms",
                f"{xg_ms:.1f} ms",
                f"{dg_ms:.1f} ms",
                f"{xg_ms / plus_ms:.2f}x",
                f"{dg_ms / xg_ms:.1f}x",
                _agreement(cp.asnumpy(result), np.gradient(host, positions, axis=axis)),
            ]
        )
    print(
        f"## Dask of CuPy, {'x'.join(map(str, shape))} in chunks"
        f" {'x'.join(map(str, chunks))}, persisted, threaded scheduler, best of {repeats}\n"
    )
    header = ["dtype", "dim", "coord", "d + 0", "xgradient", "dask.gradient"]
    header += ["xg/(d+0)", "dask/xg", "vs numpy"]
    _table(header, rows, markdown)


def main() -> None:
    import cupy as cp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="16x2048x1024", help="NZxNYxNX (default 16x2048x1024)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask-of-CuPy section")
    args = parser.parse_args()
    shape = tuple(int(n) for n in args.size.split("x"))
    props = cp.cuda.runtime.getDeviceProperties(0)
    print(
        f"device: {props['name'].decode()}, cupy {cp.__version__}, numpy {np.__version__},"
        f" xarray {xr.__version__}\n"
    )
    first_call_section(cp)
    eager_section(cp, shape, args.repeats, args.markdown)
    options_section(cp, shape, args.repeats, args.markdown)
    if not args.no_dask:
        dask_section(
            cp, (shape[0], shape[1] * 2, shape[2] * 2), (shape[0], 1024, 1024), 5, args.markdown
        )


if __name__ == "__main__":
    main()
