"""Plans for stencils that stop at missing values (``nan_policy="omit"``).

The rule, on any 1-D line along the differentiated dimension: the result
equals the dimension's formulas (numpy.gradient's, or the weighted stencil
of :func:`~xgradient.stencils.plan_weighted`) applied separately to each
maximal run of valid points; points of runs too short for the stencil, and
missing points, are NaN.  A missing value is thus treated like the end of
the domain, and a coastline costs no grid row.

Which formula a point takes then depends only on how many valid points
follow one another on each side of it, counted up to the stencil's *reach*
(``dl`` to the left, ``dr`` to the right):

- numpy.gradient's formulas (reach ``edge_order``): central if ``dl >= 1``
  and ``dr >= 1``; the first-point formula if ``dl == 0`` and
  ``dr >= edge_order``; the last-point formula if ``dr == 0`` and
  ``dl >= edge_order``; else NaN;
- weighted stencils of radius ``r`` whose one-sided stencils have ``w``
  points (reach ``w - 1``): centred if ``dl >= r`` and ``dr >= r``; the
  one-sided stencil starting ``dl`` cells to the left if ``dl < r`` and the
  run has ``w`` points or more (``dl + dr + 1 >= w``); the one ending ``dr``
  cells to the right if ``dr < r`` and likewise; else NaN.

Where no missing value is within reach this is the dimension's own formula,
so a block's result is its ``"propagate"`` result with only the points near
missing values recomputed.  The one-sided weights of every point are
computed here, once per dimension plan, with the expressions the dimension's
ends use; like every plan, it depends on the dimension, never on the block,
so a chunk boundary cannot change a result.

This module is pure NumPy on 1-D positions: no xarray, no dask.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .stencils import (
    BlockPlan,
    FirstDerivativePlan,
    WeightedBlockPlan,
    WeightedPlan,
    finite_difference_weights,
    one_sided_weights,
)

__all__ = [
    "NAN_POLICIES",
    "MissingGradientBlock",
    "MissingPlan",
    "MissingStencilBlock",
    "plan_missing",
]

#: The choices of ``nan_policy``, scipy's names.
NAN_POLICIES = ("propagate", "omit")


@dataclass(frozen=True)
class MissingGradientBlock:
    """A block's plan for numpy.gradient's formulas stopping at missing values.

    Attributes
    ----------
    base
        The block's ``"propagate"`` plan; its halos are the innermost
        ``base.left`` and ``base.right`` cells of this plan's.
    left, right
        Halo cells the kernel receives: ``reach`` on each side, fewer at the
        dimension's ends (cells beyond the ends count as missing).
    reach
        How far the rule looks for missing values: ``edge_order``.
    size
        Points of the block.
    step, positions
        The uniform step, or the positions of the extended block (halos
        included) for non-uniform spacing.
    first, last
        The one-sided coefficients of each block point as the first / last
        point of a run, shape ``(size, 3)`` (``(1, 3)``, the same for every
        point, for uniform spacing): ``(h, 0, 0)`` for ``(f[1] - f[0]) / h``
        with ``edge_order=1``, else ``(a, b, c)``, as at the dimension's ends.
    """

    base: BlockPlan
    left: int
    right: int
    reach: int
    size: int
    step: float | None
    positions: np.ndarray | None
    first: np.ndarray
    last: np.ndarray

    @property
    def edge_order(self) -> int:
        return self.base.edge_order


@dataclass(frozen=True)
class MissingStencilBlock:
    """A block's plan for a weighted stencil stopping at missing values.

    ``base``, ``left``, ``right``, ``reach`` and ``size`` as in
    :class:`MissingGradientBlock`.  ``weights`` are the centred weights of
    each point (``base.weights``, radius ``radius``); ``first[i, k]`` are
    the ``width`` one-sided weights of point ``i`` when its run starts ``k``
    cells to its left (cells ``i - k ... i - k + width - 1``), ``last[i, k]``
    those when its run ends ``k`` cells to its right (cells
    ``i + k - width + 1 ... i + k``), for ``k < radius``; a leading axis of
    length 1 means the same weights for every point (uniform spacing).
    """

    base: WeightedBlockPlan
    left: int
    right: int
    reach: int
    size: int
    radius: int
    width: int
    weights: np.ndarray
    first: np.ndarray
    last: np.ndarray


@dataclass(frozen=True)
class MissingPlan:
    """A dimension plan whose stencils stop at missing values: see the module docstring.

    Built by :func:`plan_missing` around the dimension's ``"propagate"``
    plan (``base``).  ``support`` and ``block`` work as the base plan's, with
    halos of ``reach`` cells.
    """

    base: FirstDerivativePlan | WeightedPlan
    reach: int
    order: int = 1
    width: int = 0  # cells of a one-sided weighted stencil (0 for numpy.gradient's formulas)
    positions: np.ndarray | None = None  # weighted, non-uniform: positions with wrapped ends
    offset: int = 0  # index of the dimension's first point in `positions`
    # Weighted, uniform: the one-sided weights, the same for every point and
    # block (computed once: a graph has a block plan per chunk).
    uniform_tables: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n(self) -> int:
        return self.base.n

    @property
    def periodic(self) -> bool:
        return isinstance(self.base, WeightedPlan) and self.base.periodic

    def support(self, start: int, stop: int) -> tuple[int, int]:
        """Global index range ``[lo, hi)`` needed for points ``[start, stop)``.

        ``reach`` cells on each side (wrapping around on periodic dims),
        never beyond the ends of a non-periodic dimension.
        """
        lo, hi = self.base.support(start, stop)
        if self.periodic:
            return min(lo, start - self.reach), max(hi, stop + self.reach)
        return min(lo, max(0, start - self.reach)), max(hi, min(self.n, stop + self.reach))

    def block(
        self, start: int, stop: int, *, copy: bool = True
    ) -> MissingGradientBlock | MissingStencilBlock:
        """The part of the plan that the block ``[start, stop)`` needs."""
        lo, hi = self.support(start, stop)
        base = self.base.block(start, stop, copy=copy)
        shared = {
            "base": base,
            "left": start - lo,
            "right": hi - stop,
            "reach": self.reach,
            "size": stop - start,
        }
        if isinstance(self.base, FirstDerivativePlan):
            return self._gradient_block(start, stop, lo, hi, shared)
        return self._stencil_block(start, stop, shared)

    def _gradient_block(
        self, start: int, stop: int, lo: int, hi: int, shared: dict[str, Any]
    ) -> MissingGradientBlock:
        plan = self.base
        edge_order = plan.edge_order
        if plan.positions is None:
            h = np.float64(plan.step)
            first, last = (h, 0.0, 0.0), (h, 0.0, 0.0)
            if edge_order == 2:
                first = (-1.5 / h, 2.0 / h, -0.5 / h)
                last = (0.5 / h, -2.0 / h, 1.5 / h)
            first_table = np.array([first], dtype=np.float64)
            last_table = np.array([last], dtype=np.float64)
            return MissingGradientBlock(
                **shared, step=plan.step, positions=None, first=first_table, last=last_table
            )
        first_table, last_table = _gradient_tables(plan.positions, start, stop, edge_order)
        return MissingGradientBlock(
            **shared,
            step=None,
            positions=plan.positions[lo:hi].copy(),
            first=first_table,
            last=last_table,
        )

    def _stencil_block(self, start: int, stop: int, shared: dict[str, Any]) -> MissingStencilBlock:
        plan = self.base
        radius, width = plan.radius, self.width
        if self.uniform_tables is not None:
            first, last = self.uniform_tables
        else:
            points = range(start, stop)
            first, last = _stencil_tables(
                self.positions, self.offset, points, radius, width, self.order
            )
        return MissingStencilBlock(
            **shared,
            radius=radius,
            width=width,
            weights=shared["base"].weights,
            first=first,
            last=last,
        )


def _gradient_tables(
    x: np.ndarray, start: int, stop: int, edge_order: int
) -> tuple[np.ndarray, np.ndarray]:
    """numpy.gradient's one-sided coefficients of points ``[start, stop)`` as run ends.

    Row ``i``: the coefficients the dimension's first (``first``) or last
    (``last``) point would have if the dimension began (ended) at point
    ``start + i``; NaN where the run would leave the dimension (never used).
    """
    n = len(x)
    index = np.arange(start, stop)
    first = np.full((stop - start, 3), np.nan)
    last = np.full((stop - start, 3), np.nan)
    if edge_order == 1:
        ok = index + 1 < n
        first[ok, 0] = x[index[ok] + 1] - x[index[ok]]
        first[ok, 1:] = 0.0
        ok = index >= 1
        last[ok, 0] = x[index[ok]] - x[index[ok] - 1]
        last[ok, 1:] = 0.0
        return first, last
    ok = index + 2 < n
    i = index[ok]
    h1, h2 = x[i + 1] - x[i], x[i + 2] - x[i + 1]
    first[ok] = np.stack(one_sided_weights(h1, h2, start=True), axis=1)
    ok = index >= 2
    i = index[ok]
    h1, h2 = x[i - 1] - x[i - 2], x[i] - x[i - 1]
    last[ok] = np.stack(one_sided_weights(h1, h2, start=False), axis=1)
    return first, last


@lru_cache(maxsize=128)
def _uniform_tables(
    step: float, radius: int, width: int, order: int
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided weights for uniform spacing, shape ``(1, radius, width)`` each.

    The node offsets as plan_weighted's uniform edges compute them, so that
    the same points get the same bits.  Computed once per process for each
    step (read-only), as plan_weighted's are.
    """
    cells = np.arange(width, dtype=np.float64)[None, :]
    k = np.arange(radius)[:, None]
    first, last = (
        finite_difference_weights((cells - c) * step, order).reshape(1, radius, width)
        for c in (k, width - 1 - k)
    )
    first.setflags(write=False)
    last.setflags(write=False)
    return first, last


def _stencil_tables(
    x: np.ndarray, offset: int, points: range, radius: int, width: int, order: int
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided weights of ``points`` for non-uniform positions ``x`` (see MissingStencilBlock).

    ``x`` holds the dimension's positions from index ``offset`` on, with
    ``width - 1`` cells before and after (wrapped around on periodic
    dims, NaN beyond the ends of others: such stencils are never used).
    """
    count, k = len(points), np.arange(radius)
    cells = np.arange(width)
    i = np.asarray(points) + offset
    starts = (i[:, None] - k[None, :])[:, :, None] + cells
    ends = (i[:, None] + k[None, :] - width + 1)[:, :, None] + cells
    here = x[i][:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        tables = [
            finite_difference_weights((x[cells_] - here).reshape(-1, width), order)
            for cells_ in (starts, ends)
        ]
    return tuple(t.reshape(count, radius, width) for t in tables)


def plan_missing(
    base: FirstDerivativePlan | WeightedPlan,
    positions: np.ndarray | None = None,
    *,
    order: int = 1,
    accuracy: int = 2,
    period: float | None = None,
) -> MissingPlan:
    """The plan for ``base``'s formulas stopping at missing values.

    ``positions`` (the dimension's, float64) are needed for a non-uniform
    weighted ``base``, with its ``order``, ``accuracy`` and, if periodic,
    ``period``.

    Examples
    --------
    >>> from xgradient.stencils import plan_first_derivative
    >>> plan = plan_missing(plan_first_derivative(10, step=1.0, edge_order=2))
    >>> plan.reach, plan.support(4, 6)
    (2, (2, 8))
    """
    if isinstance(base, FirstDerivativePlan):
        return MissingPlan(base=base, reach=base.edge_order)
    width = accuracy + order
    reach = width - 1
    if base.step is not None:
        tables = _uniform_tables(base.step, base.radius, width, order)
        return MissingPlan(base=base, reach=reach, order=order, width=width, uniform_tables=tables)
    x = np.asarray(positions, dtype=np.float64)
    if base.periodic:
        sign = 1.0 if x[-1] > x[0] else -1.0
        extended = np.concatenate([x[-reach:] - sign * period, x, x[:reach] + sign * period])
    else:
        pad = np.full(reach, np.nan)
        extended = np.concatenate([pad, x, pad])
    return MissingPlan(
        base=base, reach=reach, order=order, width=width, positions=extended, offset=reach
    )
