"""CuPy-backed data: xgradient's fused CUDA kernel on a GPU, side by side.

On CuPy arrays xgradient runs one fused CUDA kernel per derivative
(its CUDA backend; float32 and float64 data).  This script measures it
against the alternatives in one run:

* ``xgradient`` - ``xgradient.gradient`` on a CuPy-backed DataArray (the
  whole call, xarray layer included);
* ``kernel`` - the fused kernel alone, through ``xgradient.kernels.numpy_gradient``
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

    python benchmarks/bench_cupy.py [--size 16x2048x1024] [--markdown] [--json PATH]

Elsewhere it says why it skips and exits 0.  Timers, tables and the JSON
report come from ``harness.py``; the engine of each column (``cuda``, the
fused kernel; ``numpy``, the plain-array reference) from
``harness.block_kernel``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import xarray as xr
from harness import (
    Report,
    Table,
    add_output_arguments,
    best_of,
    best_of_cuda,
    block_kernel,
    fmt_ms,
    fmt_ratio,
    fmt_shape,
    log,
    parse_shape,
    ratio,
    write_json,
)

import xgradient
from xgradient.stencils import plan_first_derivative, plan_weighted

DIMS = ("z", "y", "x")


def agreement(result: np.ndarray, expected: np.ndarray) -> str:
    if np.array_equal(result, expected):
        return "identical"
    scale = np.abs(expected).max()
    return f"max rel diff {np.abs(result.astype(np.float64) - expected).max() / scale:.1e}"


def device_table(cp: Any) -> Table:
    table = Table("Device", ["item", "value"], id="cupy-device")
    props = cp.cuda.runtime.getDeviceProperties(0)
    table.add("device", props["name"].decode())
    for name, module in (("cupy", cp), ("numpy", np), ("xarray", xr), ("xgradient", xgradient)):
        table.add(name, getattr(module, "__version__", "?"))
    return table


def eager_section(cp: Any, rep: Report, shape: tuple[int, ...], repeats: int) -> None:
    kernel = block_kernel("first_derivative", "cuda")
    plain = block_kernel("first_derivative", "numpy")
    rng = np.random.default_rng(0)
    table = Table(
        f"Eager, {fmt_shape(shape)}, best of {repeats} (CUDA events)",
        [
            "dtype",
            "dim",
            "coord",
            "copy",
            "xgradient",
            "kernel",
            "plain",
            "cupy.gradient",
            "xg/copy",
            "kernel/copy",
            "plain/kernel",
            "cupy/kernel",
            "cupy/xg",
            "vs numpy",
        ],
        id="cupy-eager",
    )

    def timed(label: str, fn: Any) -> float | None:
        return rep.attempt(label, lambda: best_of_cuda(cp, fn, repeats))

    for dtype in ("float64", "float32"):
        host = rng.normal(size=shape).astype(dtype)
        data = cp.asarray(host)
        target = cp.empty_like(data)
        t_copy = timed(f"{dtype} copy", lambda t=target, d=data: t.__setitem__(Ellipsis, d))
        for axis, (dim, n) in enumerate(zip(DIMS, shape, strict=True)):
            for coord in ("uniform", "non-uniform"):
                label = f"eager {dtype} {dim} {coord}"
                log(label)
                if coord == "uniform":
                    positions = np.arange(n) * 0.5
                    plan = plan_first_derivative(n, step=0.5)
                    cupy_args = (0.5,)
                else:
                    positions = np.cumsum(rng.uniform(0.5, 1.5, n))
                    plan = plan_first_derivative(n, positions=positions)
                    cupy_args = (cp.asarray(positions),)
                block = plan.block(0, n)
                da = xr.DataArray(data, dims=DIMS, coords={dim: positions})
                t_xg = timed(
                    f"{label} xgradient", lambda da=da, dim=dim: xgradient.gradient(da, dim)
                )
                t_kernel = timed(f"{label} kernel", lambda d=data, a=axis, b=block: kernel(d, a, b))
                t_plain = timed(f"{label} plain", lambda d=data, a=axis, b=block: plain(d, a, b))
                t_cupy = timed(
                    f"{label} cupy.gradient",
                    lambda d=data, a=cupy_args, ax=axis: cp.gradient(d, *a, axis=ax),
                )
                expected = np.gradient(host, positions, axis=axis)
                result = xgradient.gradient(da, dim).data
                if not isinstance(result, cp.ndarray):
                    rep.error(label, f"the result is a {type(result).__name__}, not a CuPy array")
                table.add(
                    dtype,
                    dim,
                    coord,
                    fmt_ms(t_copy),
                    fmt_ms(t_xg),
                    fmt_ms(t_kernel),
                    fmt_ms(t_plain),
                    fmt_ms(t_cupy),
                    fmt_ratio(ratio(t_xg, t_copy)),
                    fmt_ratio(ratio(t_kernel, t_copy)),
                    fmt_ratio(ratio(t_plain, t_kernel), 1),
                    fmt_ratio(ratio(t_cupy, t_kernel), 1),
                    fmt_ratio(ratio(t_cupy, t_xg), 1),
                    agreement(cp.asnumpy(result), expected),
                )
    rep.show(table, "eager")


def options_section(cp: Any, rep: Report, shape: tuple[int, ...], repeats: int) -> None:
    """The weighted stencils (periodic, fourth order, second derivative), float64 along x."""
    kernel = block_kernel("weighted_stencil", "cuda")
    plain = block_kernel("weighted_stencil", "numpy")
    table = Table(
        f"Weighted stencils, {fmt_shape(shape)}, best of {repeats} (CUDA events)",
        [
            "dtype",
            "dim",
            "stencil",
            "copy",
            "kernel",
            "plain",
            "kernel/copy",
            "plain/kernel",
            "vs reference on the host",
        ],
        id="cupy-options",
    )
    host = np.random.default_rng(4).normal(size=shape)
    data = cp.asarray(host)
    target = cp.empty_like(data)
    t_copy = rep.attempt(
        "options copy",
        lambda: best_of_cuda(cp, lambda: target.__setitem__(Ellipsis, data), repeats),
    )
    n = shape[-1]
    positions = np.cumsum(np.random.default_rng(5).uniform(0.5, 1.5, n))
    axis = data.ndim - 1
    for label, options in [
        ("periodic", {"periodic": True, "period": positions[-1] - positions[0] + 1.0}),
        ("accuracy=4", {"accuracy": 4}),
        ("second", {"order": 2}),
    ]:
        log(f"options {label}")
        plan = plan_weighted(positions, **options)
        block = plan.block(0, n)
        halos = (None, None)
        if plan.periodic:  # the wrapped cells, as the xarray layer passes them
            r = plan.radius
            halos = (data[..., n - r :], data[..., :r])
        t_kernel = rep.attempt(
            f"options {label} kernel",
            lambda b=block, h=halos: best_of_cuda(cp, lambda: kernel(data, axis, b, *h), repeats),
        )
        t_plain = rep.attempt(
            f"options {label} plain",
            lambda b=block, h=halos: best_of_cuda(cp, lambda: plain(data, axis, b, *h), repeats),
        )
        same = rep.attempt(
            f"options {label} vs reference",
            lambda b=block, h=halos: agreement(
                cp.asnumpy(kernel(data, axis, b, *h)),
                plain(host, axis, b, *(None if x is None else cp.asnumpy(x) for x in h)),
            ),
        )
        table.add(
            "float64",
            "x",
            label,
            fmt_ms(t_copy),
            fmt_ms(t_kernel),
            fmt_ms(t_plain),
            fmt_ratio(ratio(t_kernel, t_copy)),
            fmt_ratio(ratio(t_plain, t_kernel), 1),
            same or "n/a",
        )
    rep.show(table, "options")


def first_call_section(cp: Any, rep: Report) -> None:
    """The first derivative of a session: compiles the kernel, or loads it from CuPy's cache."""
    data = cp.asarray(np.random.default_rng(1).normal(size=(64, 64)).astype(np.float32))
    positions = np.cumsum(np.linspace(1.0, 2.0, 64))
    da = xr.DataArray(data, dims=("y", "x"), coords={"x": positions})
    sync = cp.cuda.Device().synchronize
    first = rep.attempt(
        "first call", lambda: best_of(lambda: xgradient.gradient(da, "x"), 1, warmup=0, sync=sync)
    )
    later = rep.attempt(
        "later calls", lambda: best_of(lambda: xgradient.gradient(da, "x"), 5, sync=sync)
    )
    table = Table("First call", ["call", "time"], id="cupy-first-call")
    table.add("first call of a new specialisation", fmt_ms(first, 0))
    table.add("later calls", fmt_ms(later, 2))
    table.notes.append(
        "64x64 float32 along a non-uniform x; the first call compiles the kernel with NVRTC, "
        "or loads it from CuPy's disk cache if this machine compiled it before"
    )
    rep.show(table, "first-call")


def dask_section(
    cp: Any, rep: Report, shape: tuple[int, ...], chunks: tuple[int, ...], repeats: int
) -> None:
    import dask
    import dask.array as dsa

    table = Table(
        f"Dask of CuPy, {fmt_shape(shape)} in chunks {fmt_shape(chunks)}, persisted, "
        f"threaded scheduler, best of {repeats}",
        [
            "dtype",
            "dim",
            "coord",
            "d + 0",
            "xgradient",
            "dask.gradient",
            "xg/(d+0)",
            "dask/xg",
            "vs numpy",
        ],
        id="cupy-dask",
    )
    sync = cp.cuda.Device().synchronize
    host = np.random.default_rng(2).normal(size=shape)
    for dim in ("y", "x"):
        log(f"dask {dim}")
        axis = DIMS.index(dim)
        positions = np.cumsum(np.random.default_rng(3).uniform(0.5, 1.5, shape[axis]))
        d = dsa.from_array(cp.asarray(host), chunks=chunks, asarray=False).persist()
        da = xr.DataArray(d, dims=DIMS, coords={dim: positions})
        with dask.config.set(scheduler="threads"):
            t_add = rep.attempt(
                f"dask {dim} d + 0",
                lambda d=d: best_of(lambda: dask.persist(d + 0), repeats, sync=sync),
            )
            t_xg = rep.attempt(
                f"dask {dim} xgradient",
                lambda da=da, dim=dim: best_of(
                    lambda: xgradient.gradient(da, dim).persist(), repeats, sync=sync
                ),
            )
            # dask's gradient may not take CuPy chunks: then its cells read n/a.
            t_dask = rep.attempt(
                f"dask {dim} dask.array.gradient on CuPy chunks",
                lambda d=d, p=positions, a=axis: best_of(
                    lambda: dask.persist(dsa.gradient(d, p, axis=a)), repeats, sync=sync
                ),
            )
            result = xgradient.gradient(da, dim).data.compute()
        table.add(
            "float64",
            dim,
            "non-uniform",
            fmt_ms(t_add, 1),
            fmt_ms(t_xg, 1),
            fmt_ms(t_dask, 1),
            fmt_ratio(ratio(t_xg, t_add)),
            fmt_ratio(ratio(t_dask, t_xg), 1),
            agreement(cp.asnumpy(result), np.gradient(host, positions, axis=axis)),
        )
    rep.show(table, "dask")


def cupy_or_reason() -> tuple[Any, str | None]:
    """The ``cupy`` module if it sees a GPU, else ``None`` and why not."""
    try:
        import cupy as cp
    except Exception as exc:
        return None, f"CuPy is not importable ({type(exc).__name__}: {exc})"
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            return None, "CuPy sees no GPU"
    except Exception as exc:
        return None, f"CuPy sees no GPU ({type(exc).__name__}: {exc})"
    return cp, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=parse_shape, default=(16, 2048, 1024), help="NZxNYxNX (default 16x2048x1024)"
    )
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask-of-CuPy section")
    add_output_arguments(parser)
    args = parser.parse_args(argv)
    shape = args.size
    if len(shape) != 3:
        parser.error("--size takes a 3-D shape, e.g. 16x2048x1024")
    config = {"shape": list(shape), "repeats": args.repeats, "dask": not args.no_dask}
    cp, reason = cupy_or_reason()
    if cp is None:
        print(f"bench_cupy: skipped: {reason}")
        if args.json:
            write_json(
                args.json, {**Report(args.markdown).to_json(config=config), "skipped": reason}
            )
        return 0

    rep = Report(args.markdown)
    rep.show(device_table(cp), "device")
    first_call_section(cp, rep)
    eager_section(cp, rep, shape, args.repeats)
    options_section(cp, rep, shape, args.repeats)
    if not args.no_dask:
        dask_shape = (shape[0], shape[1] * 2, shape[2] * 2)
        dask_section(cp, rep, dask_shape, (shape[0], 1024, 1024), 5)
    print("\n".join(f"- error: {e}" for e in rep.errors) or "- no errors")
    if args.json:
        rep.write_json(args.json, config=config)
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main())
