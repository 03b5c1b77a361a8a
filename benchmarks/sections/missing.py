"""9. Missing values: ``nan_policy="omit"`` (and ``mask=``) against the default path.

A global field ``(level, lat, lon)`` (``cfg.shape_global``, 8x721x1440 by
default: a 0.25-degree grid) with a land mask shaped like continents:
smoothed random noise (numpy only, fixed seed), thresholded so that 30% of
the points are land, i.e. missing (NaN), the same at every level.  For
d/dlat (axis 1, the map's first axis: rows), d/dlon (axis 2, the last axis)
and the second derivatives along both (three-point stencils), and two rows
with five-point stencils (``accuracy=4``: d/dlat and d2/dlon2), eager and on
Dask, it times

* (a) the default path (``nan_policy="propagate"``) on the field without NaN,
* (b) ``nan_policy="omit"`` on the same field without NaN,
* (c) the default path on the field with 30% NaN,
* (d) ``nan_policy="omit"`` on the field with 30% NaN,
* numpy.gradient (eager) or dask.array.gradient (Dask) on the field without
  NaN, as a reference, and the floor: ``np.copyto`` (eager) or persisting
  ``d + 0`` (Dask),

and, in one more row per table, ``mask=`` (a boolean DataArray of the land
mask) on the field without NaN in place of (d).  A row's variants (floor,
(a) to (d), reference) are timed interleaved (``harness.best_of_interleaved``):
each of ``ROUNDS_PER_REPEAT`` x ``--repeats`` rounds (15 by default) calls
every variant once, and each keeps its best, so that the machine's drift
during a run does not skew their ratios.  The issue's targets:
``b/a <= 1.10`` ("with no missing values present, within 10% of the default
path") and ``d/c <= 1.5`` ("at most 1.5x the time of the default path" on the
field with missing values: the default path on the same data, NaN included);
``d/a``, against the default path on the field without NaN, is shown too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from harness import (
    Report,
    Table,
    at_most,
    best_of_interleaved,
    fmt_ratio,
    fmt_shape,
    fmt_time,
    log,
    ratio,
)

from .common import Config, compare, persisted, random_array

NAME = "missing"

# Targets (the issue's; benchmarks/README.md explains each).
OMIT_CLEAN_MAX_VS_DEFAULT = 1.10  # (b) omit, no NaN <= 1.10x (a) default, no NaN
OMIT_NAN_MAX_VS_DEFAULT = 1.5  # (d) omit, 30% NaN <= 1.5x (c) default on the same data

MISSING_FRACTION = 0.30
MASK_SEED = 20261130
DIMS = ("level", "lat", "lon")
# Derivatives, by row label: (function name in xgradient, dim, its options).
OPERATIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "d/dlat": ("gradient", "lat", {}),
    "d/dlon": ("gradient", "lon", {}),
    "d2/dlat2": ("second_derivative", "lat", {}),
    "d2/dlon2": ("second_derivative", "lon", {}),
    # Five-point stencils: their rule kernel is another one.
    "d/dlat acc4": ("gradient", "lat", {"accuracy": 4}),
    "d2/dlon2 acc4": ("second_derivative", "lon", {"accuracy": 4}),
}
MASK_ROW = ("d/dlat", "mask=")  # the operation of the mask= row, and what its label adds
# A row's variants are timed in interleaved rounds: this many per --repeats.
ROUNDS_PER_REPEAT = 3


# --------------------------------------------------------------------------- data


def land_mask(nlat: int, nlon: int, fraction: float = MISSING_FRACTION) -> np.ndarray:
    """A boolean ``(nlat, nlon)`` map, True on "land": smooth random blobs covering ``fraction``.

    White noise (fixed seed) low-pass filtered in Fourier space: a Gaussian
    of about 4 cycles around the globe (a few continents, thousands of km
    across) plus a weak one of about 25 cycles (ragged coastlines, islands,
    inland seas), then thresholded at the quantile that leaves ``fraction``
    of the points above it.  Periodic in longitude, like the globe;
    wavenumbers are in cycles per 360 degrees, so every resolution gets
    blobs of the same size in degrees.  On the 0.25-degree grid about 0.8%
    of the valid points lie beside land along each axis (the section's
    notes print it: the points whose stencils the rule changes).
    """
    noise = np.random.default_rng(MASK_SEED).standard_normal((nlat, nlon))
    ky = np.fft.fftfreq(nlat)[:, None] * nlat * 2.0  # latitude spans 180 degrees
    kx = np.fft.rfftfreq(nlon)[None, :] * nlon
    k = np.hypot(ky, kx)
    spectrum = np.exp(-((k / 4.0) ** 2)) + 0.05 * np.exp(-((k / 25.0) ** 2))
    field = np.fft.irfft2(np.fft.rfft2(noise) * spectrum, s=(nlat, nlon))
    return field > np.quantile(field, 1.0 - fraction)


def coast_fraction(land: np.ndarray, axis: int) -> float:
    """Fraction of the valid points with a missing neighbour along ``axis`` (of the 2-D map)."""
    beside = np.zeros_like(land)
    lo = [slice(None)] * 2
    hi = [slice(None)] * 2
    lo[axis], hi[axis] = slice(None, -1), slice(1, None)
    beside[tuple(lo)] |= land[tuple(hi)]
    beside[tuple(hi)] |= land[tuple(lo)]
    valid = ~land
    return float((beside & valid).sum() / max(valid.sum(), 1))


def global_coords(shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Uniform coordinates: levels 0..nz-1, latitude from -90 to 90, longitude from 0 (periodic)."""
    nz, nlat, nlon = shape
    return {
        "level": np.arange(nz, dtype=np.float64),
        "lat": np.linspace(-90.0, 90.0, nlat),
        "lon": np.arange(nlon, dtype=np.float64) * (360.0 / nlon),
    }


def global_fields(cfg: Config, dtype: Any, land: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The field without NaN (standard normal, as elsewhere) and a copy with NaN on land."""
    clean = random_array(cfg.shape_global, dtype)
    holes = clean.copy()
    holes[:, land] = np.nan
    return clean, holes


def labelled(data: Any, coords: dict[str, np.ndarray]) -> Any:
    import xarray as xr

    return xr.DataArray(data, dims=DIMS, coords=coords, name="f")


def chunked(a: np.ndarray, chunks: tuple[int, ...]) -> Any:
    """``a`` as a persisted dask array; every chunk its own contiguous NumPy array."""
    import dask.array as da

    return da.from_array(a, chunks=chunks).map_blocks(np.copy, dtype=a.dtype).persist()


# --------------------------------------------------------------------------- checks


def omit_check(omit: np.ndarray | None, default: np.ndarray | None, land: np.ndarray) -> str:
    """(d) against (c) on the field with NaN: NaN on land, and equal where both are numbers.

    Where both results are numbers, both took the dimension's own formula
    (no stencil of (c) touched a missing value), so they must agree
    (``identical`` or ``close``).  On land (d) must be NaN (else
    ``NAN-LEAK``); (c) may not be, as numpy.gradient's central difference
    skips the point itself.  A sanity check, not the rule's oracle (the
    tests have that): (d) may also be NaN where (c) is not, on runs of
    valid points too short for the one-sided stencils.
    """
    if omit is None or default is None:
        return "n/a"
    if omit.shape != default.shape:
        return "SHAPE"
    if not np.isnan(omit[:, land]).all():
        return "NAN-LEAK"
    both = np.isfinite(default) & np.isfinite(omit)
    return compare(omit[both], default[both])


def compare_with_nan(got: np.ndarray | None, ref: np.ndarray | None) -> str:
    """:func:`compare`, with NaN in the same places counting as equal (else ``NAN-DIFF``)."""
    if got is None or ref is None or got.shape != ref.shape:
        return compare(got, ref)
    missing = np.isnan(got)
    if not np.array_equal(missing, np.isnan(ref)):
        return "NAN-DIFF"
    return compare(got[~missing], ref[~missing])


def nan_share(c: np.ndarray | None, d: np.ndarray | None) -> str:
    """The share of NaN in the default result (c) and in the "omit" result (d)."""
    if c is None or d is None:
        return "n/a"
    return f"{np.isnan(c).mean():.1%} / {np.isnan(d).mean():.1%}"


# --------------------------------------------------------------------------- the section


COLUMNS = [
    "dtype",
    "derivative",
    "floor",
    "(a) default",
    "(b) omit",
    "(c) default, NaN",
    "(d) omit, NaN",
    "reference",
    "b/a",
    "d/c",
    "d/a",
    "c/a",
    "a/floor",
    "d/floor",
    "reference/floor",
    "NaN out c / d",
    "a vs numpy",
    "b vs a",
    "d vs c",
    f"b/a<={OMIT_CLEAN_MAX_VS_DEFAULT:g}",
    f"d/c<={OMIT_NAN_MAX_VS_DEFAULT:g}",
]


def run(cfg: Config, rep: Report) -> None:
    import xarray as xr

    _, nlat, nlon = cfg.shape_global
    land = rep.attempt("missing: land mask", lambda: land_mask(nlat, nlon))
    if land is None:
        return
    coords = global_coords(cfg.shape_global)
    mask = xr.DataArray(~land, dims=DIMS[1:], coords={d: coords[d] for d in DIMS[1:]})
    shape = fmt_shape(cfg.shape_global)
    facts = (
        f"{shape} (level, lat, lon), uniform coordinates in degrees (lat -90..90, lon from 0, "
        "not periodic: default edges); land mask: smoothed random "
        f"blobs (seed {MASK_SEED}), {land.mean():.1%} of the points missing at every level; "
        f"valid points with a missing neighbour: {coast_fraction(land, 0):.1%} along lat, "
        f"{coast_fraction(land, 1):.1%} along lon"
    )
    letters = (
        "(a) xgradient's default path (nan_policy='propagate') on the field without NaN; "
        "(b) nan_policy='omit' on the same field; (c) the default path on the field with NaN "
        "on land; (d) nan_policy='omit' on that field"
    )
    targets = (
        f"targets (the issue's): b/a <= {OMIT_CLEAN_MAX_VS_DEFAULT:g} (no missing values "
        f"present: within 10% of the default path) and d/c <= {OMIT_NAN_MAX_VS_DEFAULT:g} "
        "(30% missing: at most 1.5x the default path on the same data, NaN included); d/a, "
        "against the default path on the field without NaN, is shown but not a target"
    )
    checks = (
        "a vs numpy: (a) against numpy.gradient (first derivatives of accuracy 2; '-' for "
        "the others); "
        "b vs a: the 'omit' result without NaN against the default one; d vs c: (d) is NaN "
        "on land and equals (c) where both are numbers (a sanity check: the tests check the "
        "rule itself); NaN out: the share of NaN in the results (c) and (d)"
    )

    def rounds(repeats: int) -> str:
        return (
            "timing: a row's variants (floor, (a) to (d), reference) are timed interleaved, "
            f"best of {ROUNDS_PER_REPEAT * repeats} rounds, each round calling every variant "
            "once, starting one further along each round, after one untimed warm-up call of "
            "each: the machine's drift then moves all of a row's times alike, not its ratios"
        )

    mask_note = (
        f"{' '.join(MASK_ROW)} row: (d) is xgradient.gradient(f, 'lat', mask=land_mask) on the "
        "field without NaN (a boolean DataArray on (lat, lon), True where valid, numpy-backed); "
        "no (b), which the d/dlat row has; its 'd vs c' compares that result with (d) of the "
        "d/dlat row (expected identical, NaN in the same places); no target"
    )
    eager = Table(
        "9a. Missing values, eager: nan_policy='omit' against the default path",
        COLUMNS,
        id="missing-eager",
    )
    eager.notes += [
        facts,
        letters + "; floor: np.copyto(out, a) into a preallocated array; reference: "
        "numpy.gradient(a, coord, axis=...) on the field without NaN (a first derivative, "
        "in every row)",
        rounds(cfg.repeats),
        targets,
        checks,
        mask_note,
    ]
    lazy = Table(
        "9b. Missing values, Dask: time to persist; nan_policy='omit' against the default path",
        COLUMNS,
        id="missing-dask",
    )
    lazy.notes += [
        f"{facts}; chunks {fmt_shape(cfg.chunks_global)}, input persisted; threaded scheduler "
        f"with {cfg.threads} threads; times include building the graph",
        letters + "; floor: persisting d + 0; reference: dask.array.gradient(d, step, axis=...) "
        "on the field without NaN (a first derivative, in every row)",
        rounds(cfg.repeats_dask),
        targets,
        checks,
        mask_note,
    ]
    for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
        label = f"missing {shape} {dtype.name}"
        log(f"{label}: data")
        fields = rep.attempt(f"{label}: make data", lambda t=dtype: global_fields(cfg, t, land))
        if fields is None:
            continue
        clean, holes = fields
        for op in OPERATIONS:
            log(f"{label} eager {op}")
            eager.add(*eager_row(cfg, rep, clean, holes, land, coords, op, None))
        if dtype == np.float64:
            log(f"{label} eager {' '.join(MASK_ROW)}")
            eager.add(*eager_row(cfg, rep, clean, holes, land, coords, MASK_ROW[0], mask))
        inputs = rep.attempt(
            f"{label}: Dask input",
            lambda c=clean, h=holes: (chunked(c, cfg.chunks_global), chunked(h, cfg.chunks_global)),
        )
        del clean, holes, fields
        if inputs is None:
            continue
        for op in OPERATIONS:
            log(f"{label} dask {op}")
            lazy.add(*dask_row(cfg, rep, *inputs, land, coords, op, None))
        if dtype == np.float64:
            log(f"{label} dask {' '.join(MASK_ROW)}")
            lazy.add(*dask_row(cfg, rep, *inputs, land, coords, MASK_ROW[0], mask))
        del inputs
    rep.show(eager, NAME)
    rep.show(lazy, NAME)


def calls(
    clean: Any, holes: Any, coords: dict[str, np.ndarray], op: str, mask: Any
) -> dict[str, Callable[[], Any]]:
    """(a) to (d) as calls returning a DataArray.

    With ``mask``: no (b) (the row without ``mask=`` has it), (d) is the
    ``mask=`` call on the field without NaN, and ``omit`` the "omit" call on
    the field with NaN, whose result it must equal.
    """
    import xgradient

    func_name, dim, options = OPERATIONS[op]
    func = functools.partial(getattr(xgradient, func_name), **options)
    f, g = labelled(clean, coords), labelled(holes, coords)
    omit_nan = (
        functools.partial(func, f, dim, mask=mask)
        if mask is not None
        else functools.partial(func, g, dim, nan_policy="omit")
    )
    out = {"a": functools.partial(func, f, dim)}
    if mask is None:
        out["b"] = functools.partial(func, f, dim, nan_policy="omit")
    out["c"] = functools.partial(func, g, dim)
    out["d"] = omit_nan
    if mask is not None:  # (d) of the row without mask=, which the mask= call must equal
        out["omit"] = functools.partial(func, g, dim, nan_policy="omit")
    return out


def eager_row(
    cfg: Config,
    rep: Report,
    clean: np.ndarray,
    holes: np.ndarray,
    land: np.ndarray,
    coords: dict[str, np.ndarray],
    op: str,
    mask: Any,
) -> list[Any]:
    _, dim, _ = OPERATIONS[op]
    axis = DIMS.index(dim)
    label = f"missing eager {clean.dtype.name} {op}" + (" mask=" if mask is not None else "")
    fns = calls(clean, holes, coords, op, mask)
    coord = coords[dim]
    dst = np.empty_like(clean)

    def copy_floor() -> None:  # as common.time_copy: np.copyto into a preallocated array
        np.copyto(dst, clean)

    def numpy_reference() -> np.ndarray:
        return np.gradient(clean, coord, axis=axis)

    # The results, computed once untimed for the checks (time_variants warms up again).
    res = {k: rep.attempt(f"{label}: {k}", lambda f=f: f().values) for k, f in fns.items()}
    ref = rep.attempt(f"{label}: numpy.gradient", numpy_reference)
    first = OPERATIONS[op][0] == "gradient" and not OPERATIONS[op][2]
    checked = check_cells(res, ref if first else None, land, mask is not None, first)
    del res, ref
    variants = {
        "floor": copy_floor,
        **{k: f for k, f in fns.items() if k != "omit"},
        "reference": numpy_reference,
    }
    t = time_variants(rep, label, variants, ROUNDS_PER_REPEAT * cfg.repeats)
    t_floor, t_ref = t.pop("floor"), t.pop("reference")
    return row_cells(rep, f"eager {clean.dtype.name}", op, mask, t_floor, t, t_ref, checked)


def dask_row(
    cfg: Config,
    rep: Report,
    clean: Any,
    holes: Any,
    land: np.ndarray,
    coords: dict[str, np.ndarray],
    op: str,
    mask: Any,
) -> list[Any]:
    import dask.array as da

    _, dim, _ = OPERATIONS[op]
    axis = DIMS.index(dim)
    label = f"missing dask {clean.dtype.name} {op}" + (" mask=" if mask is not None else "")
    fns = {k: (lambda f=f: f().data) for k, f in calls(clean, holes, coords, op, mask).items()}
    coord = coords[dim]
    step = float(coord[1] - coord[0])
    methods = {
        "floor": lambda: clean + 0,
        **fns,
        "reference": lambda: da.gradient(clean, step, axis=axis),
    }
    res = {
        k: rep.attempt(f"{label}: {k}", lambda f=f: persisted(f()).compute())
        for k, f in fns.items()
    }
    first = OPERATIONS[op][0] == "gradient" and not OPERATIONS[op][2]
    ref = None
    if first:
        values = rep.attempt(f"{label}: input values", clean.compute)
        if values is not None:
            ref = rep.attempt(
                f"{label}: numpy.gradient", lambda: np.gradient(values, coord, axis=axis)
            )
        del values
    checked = check_cells(res, ref, land, mask is not None, first)
    del res, ref
    variants = {k: (lambda f=f: persisted(f())) for k, f in methods.items() if k != "omit"}
    t = time_variants(rep, label, variants, ROUNDS_PER_REPEAT * cfg.repeats_dask)
    t_floor, t_ref = t.pop("floor"), t.pop("reference")
    return row_cells(rep, f"dask {clean.dtype.name}", op, mask, t_floor, t, t_ref, checked)


def time_variants(
    rep: Report, label: str, fns: dict[str, Callable[[], Any]], rounds: int
) -> dict[str, float | None]:
    """The best time of each of a row's variants, timed interleaved (``None``: it failed).

    Each variant is first called once alone, untimed (the warm-up): one that
    raises is recorded as an error and left out, and the others are timed
    together, ``rounds`` rounds of one call each.  A failure while timing
    fails the whole block (every time ``None``).
    """

    def warm(f: Callable[[], Any]) -> bool:
        f()
        return True

    ok = {k: f for k, f in fns.items() if rep.attempt(f"{label}: warm-up {k}", lambda f=f: warm(f))}
    times = rep.attempt(f"{label}: time", lambda: best_of_interleaved(ok, rounds, warmup=0)) or {}
    return {k: times.get(k) for k in fns}


def check_cells(
    res: dict[str, np.ndarray | None],
    ref: np.ndarray | None,
    land: np.ndarray,
    masked: bool,
    first: bool,
) -> list[str]:
    """The cells ``a vs numpy``, ``b vs a`` and ``d vs c``."""
    vs_numpy = compare(res.get("a"), ref) if first else "-"
    b_vs_a = "-" if masked else compare(res.get("b"), res.get("a"))
    if masked:
        d_vs_c = compare_with_nan(res.get("d"), res.get("omit"))
    else:
        d_vs_c = omit_check(res.get("d"), res.get("c"), land)
    return [vs_numpy, b_vs_a, d_vs_c, nan_share(res.get("c"), res.get("d"))]


def row_cells(
    rep: Report,
    mode: str,
    op: str,
    mask: Any,
    t_floor: float | None,
    t: dict[str, float | None],
    t_ref: float | None,
    checked: list[str],
) -> list[Any]:
    masked = mask is not None
    vs_numpy, b_vs_a, d_vs_c, shares = checked
    case = f"{mode} {op}"
    b_a, d_c = ratio(t.get("b"), t["a"]), ratio(t["d"], t["c"])
    if masked:
        target_b = target_d = "-"
    else:
        target_b = rep.target(
            "missing: omit, no NaN <= 1.10x default", case, at_most(b_a, OMIT_CLEAN_MAX_VS_DEFAULT)
        )
        target_d = rep.target(
            "missing: omit, 30% NaN <= 1.5x default on the same data",
            case,
            at_most(d_c, OMIT_NAN_MAX_VS_DEFAULT),
        )
    return [
        mode.split()[-1],
        f"{op}, {MASK_ROW[1]}" if masked else op,
        fmt_time(t_floor),
        fmt_time(t["a"]),
        "-" if masked else fmt_time(t["b"]),
        fmt_time(t["c"]),
        fmt_time(t["d"]),
        fmt_time(t_ref),
        "-" if masked else fmt_ratio(b_a),
        fmt_ratio(d_c),
        fmt_ratio(ratio(t["d"], t["a"])),
        fmt_ratio(ratio(t["c"], t["a"])),
        fmt_ratio(ratio(t["a"], t_floor)),
        fmt_ratio(ratio(t["d"], t_floor)),
        fmt_ratio(ratio(t_ref, t_floor)),
        shares,
        vs_numpy,
        b_vs_a,
        d_vs_c,
        target_b,
        target_d,
    ]
