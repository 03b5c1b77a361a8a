"""1. Eager (NumPy-backed): the derivative along one dim, against a copy, numpy, xarray, MetPy."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from harness import (
    Report,
    Table,
    at_least,
    at_most,
    best_of,
    block_kernel,
    fmt_ratio,
    fmt_shape,
    fmt_time,
    log,
    ratio,
)

from .common import (
    DIMS2,
    DIMS3,
    INEXACT,
    KINDS,
    UNIFORM_STEPS,
    Config,
    compare,
    labelled,
    random_array,
    time_copy,
)

NAME = "eager"

# Targets (benchmarks/README.md explains each).
EAGER_MAX_VS_COPY = 2.0  # xgradient time <= 2x np.copyto of the same array
EAGER_MIN_SPEEDUP_VS_XARRAY = 5.0  # xgradient >= 5x faster than xarray.differentiate


def eager_cases(cfg: Config) -> Iterator[tuple[tuple[int, ...], tuple[str, ...], int, str, Any]]:
    for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
        for axis in range(3):
            for kind in KINDS:
                yield cfg.shape3, DIMS3, axis, kind, dtype
            if dtype == np.float32:
                yield cfg.shape3, DIMS3, axis, INEXACT, dtype
    # The case of the issue: 2-D float64 along the last dim, non-uniform positions.
    yield cfg.shape2, DIMS2, 1, "non-uniform", np.dtype(np.float64)
    # A 1-D series of as many points (one row: threads must split it).
    for kind in KINDS:
        yield (math.prod(cfg.shape2),), ("x",), 0, kind, np.dtype(np.float64)


def metpy_first_derivative(rep: Report) -> Callable[..., Any] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from metpy.calc import first_derivative
    except ImportError:
        rep.missing.append("MetPy (its columns read n/a)")
        log("MetPy is not installed: its columns read n/a")
        return None
    except Exception as exc:
        rep.error("MetPy import (MetPy columns will be n/a)", exc)
        return None

    def call(f: np.ndarray, axis: int, kind: str, coord: np.ndarray) -> Any:
        kw = {"delta": coord[1] - coord[0]} if kind in UNIFORM_STEPS else {"x": coord}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return first_derivative(f, axis=axis, **kw)

    return call


def run(cfg: Config, rep: Report) -> None:
    table = Table(
        "1. Eager (NumPy-backed): derivative along one dim; ratios are time / time of np.copyto",
        [
            "shape",
            "dtype",
            "dim",
            "coord",
            "copy",
            "xgradient",
            "xg/copy",
            "new/copy",
            "xg/new",
            "kernel/copy",
            "numpy/copy",
            "xarray/copy",
            "metpy/copy",
            "xarray/xg",
            "vs numpy",
            f"xg<={EAGER_MAX_VS_COPY:g}x copy",
            f"xg>={EAGER_MIN_SPEEDUP_VS_XARRAY:g}x xarray",
        ],
        id="eager",
    )
    table.notes += [
        "copy: np.copyto(out, a) into a preallocated array; xgradient: xgradient.gradient(da, dim) "
        "(allocates its result); xarray/xg > 1 means xgradient is faster",
        "new: a.copy(), a copy into a newly allocated array: the floor for any function that "
        "returns a new array, since the kernel must zero the fresh pages before they are written",
        "kernel: the same compiled kernel writing into a preallocated array "
        "(xgradient.kernels.numpy_gradient(..., out=b)), like np.copyto: what the derivative "
        "costs without the allocation",
        "vs numpy: xgradient's result (and the kernel's) against numpy.gradient's "
        "(identical = bit for bit)",
        "MetPy computes second-order one-sided edges (numpy's edge_order=2) and returns "
        "a pint Quantity in float64 whatever the input dtype",
        "coord: uniform = step 0.5; uniform* = step 1 + 2**-30, whose double is not exactly a "
        "float32, so float32 data is divided in float64 as numpy does (with step 0.5 xgradient "
        "divides it in float32, with the same result bit for bit); non-uniform = steps in "
        "[0.5, 1.5)",
    ]
    fd = metpy_first_derivative(rep)
    arrays: dict[tuple[tuple[int, ...], str], np.ndarray] = {}
    for shape, dims, axis, kind, dtype in eager_cases(cfg):
        label = f"eager {fmt_shape(shape)} {dtype.name} {dims[axis]} {kind}"
        log(label)
        key = (shape, dtype.str)
        if key not in arrays:
            arrays[key] = rep.attempt(
                f"{label}: make data", lambda s=shape, t=dtype: random_array(s, t)
            )
        if arrays[key] is None:
            continue
        table.add(*eager_row(cfg, rep, arrays[key], dims, axis, kind, fd, label))
    # A regional subset of the 3-D float64 array, as ds.isel(y=..., x=...)
    # gives it: a view, not contiguous, which the kernels read in place.
    whole = arrays.get((cfg.shape3, np.dtype(np.float64).str))
    if whole is not None:
        _, ny, nx = whole.shape
        subset = whole[:, ny // 16 : ny - ny // 16, nx // 16 : nx - nx // 16]
        for axis in range(3):
            label = f"eager subset {fmt_shape(subset.shape)} float64 {DIMS3[axis]} non-uniform"
            log(label)
            table.add(*eager_row(cfg, rep, subset, DIMS3, axis, "non-uniform", fd, label))
        table.notes.append(
            f"{fmt_shape(subset.shape)}: a regional subset of the {fmt_shape(whole.shape)} "
            "float64 array (whole[:, ny/16 : -ny/16, nx/16 : -nx/16], a view; numpy, xarray and "
            "the copies read it where it lies too)"
        )
    rep.show(table, NAME)


def kernel_plan(a: np.ndarray, axis: int, coord: np.ndarray) -> Any:
    """The block plan xgradient's eager path hands its kernel for the whole array."""
    from xgradient.stencils import plan_first_derivative

    n = a.shape[axis]
    return plan_first_derivative(n, positions=coord.astype(np.float64)).block(0, n)


def eager_row(
    cfg: Config,
    rep: Report,
    a: np.ndarray,
    dims: tuple[str, ...],
    axis: int,
    kind: str,
    fd: Callable[..., Any] | None,
    label: str,
) -> list[Any]:
    import xgradient

    first_derivative = block_kernel("first_derivative", "auto")
    dim = dims[axis]
    obj = labelled(a, dims, {dim: kind})
    coord = obj[dim].values
    n = cfg.repeats

    t_copy = rep.attempt(f"{label}: copy", lambda: time_copy(a, n))
    t_new = rep.attempt(f"{label}: new copy", lambda: best_of(a.copy, n))
    # The warm-up calls of numpy and xgradient double as the correctness check.
    ref = rep.attempt(f"{label}: numpy.gradient", lambda: np.gradient(a, coord, axis=axis))
    got = rep.attempt(f"{label}: xgradient", lambda: xgradient.gradient(obj, dim).values)
    plan = kernel_plan(a, axis, coord)
    buf = np.empty_like(a)
    got_kernel = rep.attempt(
        f"{label}: kernel", lambda: first_derivative(a, axis, plan, out=buf).copy()
    )
    same = compare(got, ref)
    if same == "identical" and got_kernel is not None:
        same = compare(got_kernel, ref)
    del got, ref, got_kernel
    t_kernel = rep.attempt(
        f"{label}: kernel",
        lambda: best_of(lambda: first_derivative(a, axis, plan, out=buf), n, warmup=0),
    )
    buf = None  # release it before the other measurements
    t_xg = rep.attempt(
        f"{label}: xgradient", lambda: best_of(lambda: xgradient.gradient(obj, dim), n, warmup=0)
    )
    t_np = rep.attempt(
        f"{label}: numpy.gradient",
        lambda: best_of(lambda: np.gradient(a, coord, axis=axis), n, warmup=0),
    )
    t_xr = rep.attempt(f"{label}: xarray", lambda: best_of(lambda: obj.differentiate(dim), n))
    t_mp = None
    if fd is not None:
        t_mp = rep.attempt(f"{label}: metpy", lambda: best_of(lambda: fd(a, axis, kind, coord), n))

    case = f"{fmt_shape(a.shape)} {a.dtype.name} {dim} {kind}"
    xg_copy = ratio(t_xg, t_copy)
    speedup = ratio(t_xr, t_xg)
    return [
        fmt_shape(a.shape),
        a.dtype.name,
        f"{dim} (axis {axis})",
        kind,
        fmt_time(t_copy),
        fmt_time(t_xg),
        fmt_ratio(xg_copy),
        fmt_ratio(ratio(t_new, t_copy)),
        fmt_ratio(ratio(t_xg, t_new)),
        fmt_ratio(ratio(t_kernel, t_copy)),
        fmt_ratio(ratio(t_np, t_copy)),
        fmt_ratio(ratio(t_xr, t_copy)),
        fmt_ratio(ratio(t_mp, t_copy)),
        fmt_ratio(speedup),
        same,
        rep.target("eager: xgradient <= 2x copy", case, at_most(xg_copy, EAGER_MAX_VS_COPY)),
        rep.target(
            "eager: xgradient >= 5x faster than xarray",
            case,
            at_least(speedup, EAGER_MIN_SPEEDUP_VS_XARRAY),
        ),
    ]
