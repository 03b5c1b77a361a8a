"""Per-dimension stencil plans: which formula every point of a dimension uses.

A plan is chosen **once for the whole dimension** from its positions (uniform
or non-uniform spacing, edge order), never per block.  Blocks only ever receive
a *slice* of the plan (:meth:`FirstDerivativePlan.block`), so a chunk boundary
cannot change the arithmetic: every output point is computed by the same
formula, from the same numbers, whatever the chunking.

This module is pure NumPy on 1-D positions: no xarray, no dask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BlockPlan", "FirstDerivativePlan", "plan_first_derivative"]


@dataclass(frozen=True)
class BlockPlan:
    """The slice of a dimension's plan that one block needs.

    Attributes
    ----------
    step
        Uniform spacing, or ``None`` for non-uniform spacing.
    dx
        Spacing between consecutive points of the *extended* block (left
        halo + block + right halo), length ``left + size + right - 1``;
        ``None`` for uniform spacing.
    edge_order
        1 or 2: the accuracy of the one-sided formulas at the dimension's ends.
    left, right
        Number of halo cells the kernel receives on each side.
    at_start, at_end
        Whether the block holds the dimension's first / last point, where the
        one-sided edge formulas apply.
    """

    step: float | None
    dx: np.ndarray | None
    edge_order: int
    left: int
    right: int
    at_start: bool
    at_end: bool


@dataclass(frozen=True)
class FirstDerivativePlan:
    """numpy.gradient's first-derivative formulas for one dimension.

    Interior points use second-order central differences (numpy's uniform form
    ``(f[i+1] - f[i-1]) / (2 h)`` when the spacing is uniform, its three-weight
    form otherwise); the two end points use one-sided differences of order
    ``edge_order``.
    """

    n: int
    edge_order: int
    step: float | None = None
    dx: np.ndarray | None = None

    @property
    def halo(self) -> int:
        """Cells a block needs from each neighbour (away from the ends)."""
        return 1

    def support(self, start: int, stop: int) -> tuple[int, int]:
        """Global index range ``[lo, hi)`` needed to compute points ``[start, stop)``.

        Away from the ends this is one cell either side; the one-sided edge
        formulas reach ``edge_order`` cells inwards, which can exceed one cell
        when a block is smaller than the edge stencil.
        """
        lo = start - 1 if start > 0 else 0
        hi = stop + 1 if stop < self.n else self.n
        if stop == self.n:
            lo = min(lo, self.n - 1 - self.edge_order)
        if start == 0:
            hi = max(hi, self.edge_order + 1)
        return lo, hi

    def block(self, start: int, stop: int) -> BlockPlan:
        """The part of the plan that the block ``[start, stop)`` needs."""
        lo, hi = self.support(start, stop)
        dx = None if self.dx is None else self.dx[lo : hi - 1].copy()
        return BlockPlan(
            step=self.step,
            dx=dx,
            edge_order=self.edge_order,
            left=start - lo,
            right=hi - stop,
            at_start=start == 0,
            at_end=stop == self.n,
        )


def plan_first_derivative(
    n: int, *, step: float | None = None, positions: np.ndarray | None = None, edge_order: int = 1
) -> FirstDerivativePlan:
    """Choose numpy.gradient's formulas for a dimension of ``n`` points.

    Exactly one of ``step`` (uniform spacing) and ``positions`` (1-D array of
    ``n`` positions, already validated and converted to float64) is given.
    Like :func:`numpy.gradient`, positions whose differences are all equal are
    reduced to a uniform step, which selects numpy's (faster, and in floating
    point slightly different) uniform formula.

    Examples
    --------
    >>> plan = plan_first_derivative(4, positions=np.array([0.0, 1.0, 3.0, 6.0]))
    >>> plan.step is None, plan.dx.tolist()
    (True, [1.0, 2.0, 3.0])
    >>> plan_first_derivative(3, positions=np.array([0.0, 0.5, 1.0])).step
    0.5
    """
    if (step is None) == (positions is None):
        raise TypeError("give exactly one of step and positions")
    if positions is not None:
        dx = np.diff(positions)
        if (dx == dx[0]).all():
            return FirstDerivativePlan(n=n, edge_order=edge_order, step=float(dx[0]))
        return FirstDerivativePlan(n=n, edge_order=edge_order, dx=dx)
    return FirstDerivativePlan(n=n, edge_order=edge_order, step=float(step))
