"""Hypothesis strategies: shapes, chunkings and strictly monotonic positions."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from hypothesis import strategies as st

__all__ = ["chunkings", "differentiation_cases", "positions", "positions_or_spacing", "shapes"]


def shapes(
    *, min_dims: int = 1, max_dims: int = 3, min_side: int = 1, max_side: int = 8
) -> st.SearchStrategy[tuple[int, ...]]:
    """Random array shapes of ``min_dims``..``max_dims`` dims."""
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(
        tuple
    )


@st.composite
def differentiation_cases(
    draw: st.DrawFn, *, max_side: int = 7
) -> tuple[int, tuple[int, ...], int]:
    """``(edge_order, shape, axis)`` with the differentiated axis long enough for the edges."""
    edge_order = draw(st.sampled_from([1, 2]), label="edge_order")
    shape = list(draw(shapes(max_side=max_side), label="shape"))
    axis = draw(st.integers(0, len(shape) - 1), label="axis")
    shape[axis] = max(shape[axis], edge_order + 1)
    return edge_order, tuple(shape), axis


@st.composite
def chunkings(draw: st.DrawFn, n: int) -> tuple[int, ...]:
    """A chunking of a dimension of length ``n``: positive chunk sizes summing to ``n``.

    Mixes a single chunk, chunks of one element, regular chunks with a
    shorter last one, and arbitrary uneven chunks.
    """
    if n <= 1:
        return (n,)
    kind = draw(st.sampled_from(["single", "ones", "regular", "uneven"]))
    if kind == "single":
        return (n,)
    if kind == "ones":
        return (1,) * n
    if kind == "regular":
        size = draw(st.integers(1, n))
        return (size,) * (n // size) + ((n % size,) if n % size else ())
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), min_size=1)))
    bounds = [0, *cuts, n]
    return tuple(b - a for a, b in itertools.pairwise(bounds))


@st.composite
def positions(
    draw: st.DrawFn, n: int, *, uniform: bool | None = None, decreasing: bool | None = None
) -> np.ndarray:
    """Strictly monotonic float64 positions of length ``n``.

    ``uniform`` and ``decreasing`` are drawn when not given.  Uniform
    positions have exactly equal differences (a power-of-two step from an
    integer start), so that they take numpy's uniform formula; non-uniform
    ones have random steps of very different sizes.
    """
    if uniform is None:
        uniform = draw(st.booleans())
    if decreasing is None:
        decreasing = draw(st.booleans())
    start = float(draw(st.integers(-1000, 1000)))
    if uniform:
        step = 2.0 ** draw(st.integers(-4, 4))
        x = start + step * np.arange(n, dtype=np.float64)
        assert n < 2 or (np.diff(x) == step).all()
    else:
        steps = draw(
            st.lists(
                st.floats(1e-2, 1e2, allow_nan=False, allow_infinity=False),
                min_size=max(n - 1, 0),
                max_size=max(n - 1, 0),
            )
        )
        x = start + np.concatenate([[0.0], np.cumsum(steps)])
    if decreasing:
        x = x[::-1].copy()
    steps = np.diff(x)
    assert (steps > 0).all() or (steps < 0).all()
    return x


@st.composite
def positions_or_spacing(draw: st.DrawFn, n: int) -> tuple[str, Any]:
    """How a dimension's points are given: ``("unit", None)``, ``("step", h)`` or
    ``("coord", positions)`` (uniform or not, increasing or decreasing)."""
    kind = draw(st.sampled_from(["unit", "step", "coord", "coord"]))
    if kind == "unit":
        return kind, None
    if kind == "step":
        h = draw(st.sampled_from([0.5, 2.0, 0.1, 3.7, -1.5]))
        return kind, h
    return kind, draw(positions(n))


@st.composite
def distinct_step_positions(
    draw: st.DrawFn,
    n: int,
    *,
    decreasing: bool | None = None,
    min_step: float = 0.5,
    max_step: float = 2.0,
) -> np.ndarray:
    """Strictly monotonic non-uniform float64 positions whose spacings all differ.

    Cumulative sums of random steps in ``[min_step, max_step)`` from a random
    start; the spacings as ``np.diff`` computes them are pairwise distinct, so
    no stretch of the positions (a run between missing values, say) can look
    uniform to numpy.gradient, which would switch to its uniform formula.
    """
    from hypothesis import assume

    if decreasing is None:
        decreasing = draw(st.booleans())
    steps = draw(
        st.lists(
            st.floats(min_step, max_step, exclude_max=True),
            min_size=max(n - 1, 0),
            max_size=max(n - 1, 0),
            unique=True,
        )
    )
    start = draw(st.floats(-100.0, 100.0, allow_nan=False, allow_infinity=False))
    x = start + np.concatenate([[0.0], np.cumsum(steps)])
    if decreasing:
        x = x[::-1].copy()
    assume(np.unique(np.diff(x)).size == max(n - 1, 0))
    return x


@st.composite
def missing_masks(draw: st.DrawFn, shape: tuple[int, ...], axis: int = -1) -> np.ndarray:
    """Boolean arrays of ``shape``, True where a value is missing.

    No gap at all, independent missing points (sparse or dense), gaps of a
    few points along ``axis`` on some of the lines, rectangular blobs, or a
    mix; then a few whole lines along ``axis`` are made all missing or all
    present (when there is more than one line).
    """
    from hypothesis.extra import numpy as npst

    def coin_flips(shape: tuple[int, ...]) -> np.ndarray:
        return draw(npst.arrays(np.bool_, shape, elements=st.booleans(), fill=st.nothing()))

    missing = np.zeros(shape, dtype=bool)
    if not all(shape):
        return missing
    axis %= len(shape)
    along = np.moveaxis(missing, axis, -1)  # a view: lines along ``axis`` last
    n = along.shape[-1]
    kind = draw(st.sampled_from(["none", "points", "gaps", "gaps", "blobs", "mixed"]))
    if kind in ("points", "mixed"):
        points = coin_flips(shape)
        if draw(st.booleans()):  # sparse
            points &= coin_flips(shape)
        missing |= points
    if kind in ("gaps", "mixed"):
        for _ in range(draw(st.integers(1, 3))):
            start = draw(st.integers(0, n - 1))
            stop = draw(st.integers(start + 1, min(n, start + max(1, n // 3))))
            along[..., start:stop] |= coin_flips(along.shape[:-1])[..., None]
    if kind in ("blobs", "mixed"):
        for _ in range(draw(st.integers(1, 3))):
            box = []
            for size in shape:
                lo = draw(st.integers(0, size - 1))
                box.append(slice(lo, draw(st.integers(lo + 1, size))))
            missing[tuple(box)] = True
    for fill in (True, False) if missing.ndim > 1 else ():
        for _ in range(draw(st.integers(0, 2))):
            line = tuple(draw(st.integers(0, s - 1)) for s in along.shape[:-1])
            along[line] = fill
    return missing
