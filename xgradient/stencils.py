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
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

__all__ = [
    "BlockPlan",
    "FirstDerivativePlan",
    "WeightedBlockPlan",
    "WeightedPlan",
    "finite_difference_weights",
    "gradient_weights",
    "one_sided_weights",
    "plan_first_derivative",
    "plan_weighted",
]


@dataclass(frozen=True)
class BlockPlan:
    """The slice of a dimension's plan that one block needs.

    Attributes
    ----------
    step
        Uniform spacing, or ``None`` for non-uniform spacing.
    positions
        Positions of the points of the *extended* block (left halo + block +
        right halo), length ``left + size + right``; ``None`` for uniform
        spacing.  Kernels take the spacings from them as ``np.diff`` does
        (:attr:`dx`), so no array of spacings as large as the data is needed.
    edge_order
        1 or 2: the accuracy of the one-sided formulas at the dimension's ends.
    left, right
        Number of halo cells the kernel receives on each side.
    at_start, at_end
        Whether the block holds the dimension's first / last point, where the
        one-sided edge formulas apply.
    """

    step: float | None
    positions: np.ndarray | None
    edge_order: int
    left: int
    right: int
    at_start: bool
    at_end: bool

    @cached_property
    def dx(self) -> np.ndarray | None:
        """Spacings of the extended block, ``np.diff(positions)``; ``None`` if uniform."""
        return _spacings(self.positions)

    def interior_weights(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """numpy.gradient's non-uniform weights ``(a, b, c)`` of block points ``[first, last)``.

        Point ``i`` of the block is ``a[i] f[i-1] + b[i] f[i] + c[i] f[i+1]``
        (indices relative to ``first``); every point in the range needs
        both its spacings, so the range excludes the dimension's ends.

        Examples
        --------
        >>> plan = plan_first_derivative(4, positions=np.array([0.0, 1.0, 3.0, 6.0]))
        >>> a, b, c = plan.block(0, 4).interior_weights(1, 2)  # point 1: spacings 1 and 2
        >>> [round(float(w[0]), 4) for w in (a, b, c)]
        [-0.6667, 0.5, 0.1667]
        """
        dx = self.dx
        return gradient_weights(
            dx[self.left + first - 1 : self.left + last - 1],
            dx[self.left + first : self.left + last],
        )

    def edge_coefficients(self, *, start: bool) -> tuple[np.float64, ...]:
        """numpy.gradient's one-sided formula at the dimension's first or last point.

        The formula acts on a window of ``edge_order + 1`` cells at that end.
        For ``edge_order=1`` it is ``(f[1] - f[0]) / h`` and the result is
        ``(h,)``; for ``edge_order=2`` it is ``a f[0] + b f[1] + c f[2]`` and
        the result is ``(a, b, c)``, computed exactly as numpy.gradient
        computes them.

        Examples
        --------
        >>> plan = plan_first_derivative(5, step=0.5, edge_order=2).block(0, 5)
        >>> [float(c) for c in plan.edge_coefficients(start=True)]
        [-3.0, 4.0, -1.0]
        """
        x = self.positions
        uniform = x is None
        # The end spacings from the positions, as np.diff computes them,
        # without the spacings of the whole block.
        if self.edge_order == 1:
            h = self.step if uniform else (x[1] - x[0] if start else x[-1] - x[-2])
            return (np.float64(h),)
        if uniform:
            h = np.float64(self.step)
            return (-1.5 / h, 2.0 / h, -0.5 / h) if start else (0.5 / h, -2.0 / h, 1.5 / h)
        # In the positions' dtype, as numpy computes them (float64 from the
        # xarray layer; the Python constants do not promote a float32).
        if start:
            a, b, c = one_sided_weights(x[1] - x[0], x[2] - x[1], start=True)
        else:
            a, b, c = one_sided_weights(x[-2] - x[-3], x[-1] - x[-2], start=False)
        return np.float64(a), np.float64(b), np.float64(c)


def one_sided_weights(h1: Any, h2: Any, *, start: bool) -> tuple[Any, Any, Any]:
    """numpy.gradient's second-order one-sided weights from the two spacings at an end.

    At a first point, the weights of ``f[0], f[1], f[2]`` with spacings
    ``h1 = x[1] - x[0]`` and ``h2 = x[2] - x[1]``; at a last point
    (``start=False``), of ``f[-3], f[-2], f[-1]`` with ``h1 = x[-2] - x[-3]``
    and ``h2 = x[-1] - x[-2]``.  The one place these expressions are written:
    the dimension's ends (:meth:`BlockPlan.edge_coefficients`) and the ends
    of runs of valid points (:mod:`xgradient.missing`) use it, on scalars or
    on arrays of spacings alike.

    Examples
    --------
    >>> one_sided_weights(1.0, 1.0, start=True)
    (-1.5, 2.0, -0.5)
    """
    if start:
        a = -(2.0 * h1 + h2) / (h1 * (h1 + h2))
        b = (h1 + h2) / (h1 * h2)
        c = -h1 / (h2 * (h1 + h2))
    else:
        a = (h2) / (h1 * (h1 + h2))
        b = -(h2 + h1) / (h1 * h2)
        c = (2.0 * h2 + h1) / (h2 * (h1 + h2))
    return a, b, c


def gradient_weights(h1: Any, h2: Any) -> tuple[Any, Any, Any]:
    """numpy.gradient's weights of ``f[i-1], f[i], f[i+1]`` from the spacings either side.

    The one place this formula is written: the plain-array kernels call it on
    arrays of spacings, the numba kernels compile this very function for
    scalars (:mod:`xgradient.backends.numba`), and the CUDA kernels receive
    its results.  The expressions and their order are numpy.gradient's, so
    the results are bit-identical to it.

    Examples
    --------
    >>> gradient_weights(1.0, 1.0)
    (-0.5, 0.0, 0.5)
    """
    return -(h2) / (h1 * (h1 + h2)), (h2 - h1) / (h1 * h2), h1 / (h2 * (h1 + h2))


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
    positions: np.ndarray | None = None

    @cached_property
    def dx(self) -> np.ndarray | None:
        """Spacings of the dimension, ``np.diff(positions)``; ``None`` if uniform."""
        return _spacings(self.positions)

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

    def block(self, start: int, stop: int, *, copy: bool = True) -> BlockPlan:
        """The part of the plan that the block ``[start, stop)`` needs.

        Its positions are a copy, so that a task holds its slice of them,
        not all of them, and not the caller's array, which may change before
        a lazy result is computed; ``copy=False`` (computing at once on the
        whole dimension) shares them when it can.
        """
        lo, hi = self.support(start, stop)
        x = self.positions
        if x is not None and (copy or not (lo == 0 and hi == self.n)):
            x = x[lo:hi].copy()
        return BlockPlan(
            step=self.step,
            positions=x,
            edge_order=self.edge_order,
            left=start - lo,
            right=hi - stop,
            at_start=start == 0,
            at_end=stop == self.n,
        )


def plan_first_derivative(
    n: int,
    *,
    step: float | None = None,
    positions: np.ndarray | None = None,
    edge_order: int = 1,
    step_range: tuple[float, float] | None = None,
) -> FirstDerivativePlan:
    """Choose numpy.gradient's formulas for a dimension of ``n`` points.

    Exactly one of ``step`` (uniform spacing) and ``positions`` (1-D array of
    ``n`` positions, already validated; the xarray layer passes float64, and
    other dtypes get numpy's arithmetic in their dtype) is given.
    Like :func:`numpy.gradient`, positions whose differences are all equal are
    reduced to a uniform step, which selects numpy's (faster, and in floating
    point slightly different) uniform formula.  ``step_range``, the smallest
    and largest of the positions' differences, may be passed when the caller
    already knows them (it then decides uniformity without another pass).

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
        if step_range is not None and step_range[0] == step_range[1]:
            return FirstDerivativePlan(n=n, edge_order=edge_order, step=float(step_range[0]))
        if step_range is None:
            dx = _spacings(positions)
            if dx.min() == dx.max():  # all equal
                return FirstDerivativePlan(n=n, edge_order=edge_order, step=float(dx[0]))
        # Contiguous: one compiled specialisation of the kernels per dtype.
        positions = np.ascontiguousarray(positions)
        return FirstDerivativePlan(n=n, edge_order=edge_order, positions=positions)
    return FirstDerivativePlan(n=n, edge_order=edge_order, step=float(step))


def _spacings(positions: np.ndarray | None) -> np.ndarray | None:
    return None if positions is None else positions[1:] - positions[:-1]  # np.diff's values


def finite_difference_weights(nodes: np.ndarray, order: int) -> np.ndarray:
    """Weights of the ``order``-th derivative at 0 from values at ``nodes``.

    Fornberg's recurrence (Math. Comp. 51, 1988), vectorised over many
    stencils at once: ``nodes`` has shape ``(points, width)`` and holds each
    stencil's node positions *relative to the point* where the derivative is
    wanted.  The result has the same shape; ``(weights * f(x0 + nodes)).sum(-1)``
    approximates the derivative, exactly for polynomials of degree
    ``width - 1``.

    Examples
    --------
    >>> finite_difference_weights(np.array([[-1.0, 0.0, 1.0]]), 1)
    array([[-0.5,  0. ,  0.5]])
    >>> finite_difference_weights(np.array([[-1.0, 0.0, 1.0]]), 2)
    array([[ 1., -2.,  1.]])
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    points, width = nodes.shape
    # c[:, j, k]: weight of node j for the k-th derivative, using nodes 0..i.
    c = np.zeros((points, width, order + 1))
    c[:, 0, 0] = 1.0
    c1 = np.ones(points)
    c4 = nodes[:, 0].copy()
    for i in range(1, width):
        mn = min(i, order)
        c2 = np.ones(points)
        c5 = c4
        c4 = nodes[:, i].copy()
        for j in range(i):
            c3 = nodes[:, i] - nodes[:, j]
            c2 = c2 * c3
            if j == i - 1:
                for k in range(mn, 0, -1):
                    c[:, i, k] = c1 * (k * c[:, i - 1, k - 1] - c5 * c[:, i - 1, k]) / c2
                c[:, i, 0] = -c1 * c5 * c[:, i - 1, 0] / c2
            for k in range(mn, 0, -1):
                c[:, j, k] = (c4 * c[:, j, k] - k * c[:, j, k - 1]) / c3
            c[:, j, 0] = c4 * c[:, j, 0] / c3
        c1 = c2
    return c[:, :, order]


@dataclass(frozen=True)
class WeightedBlockPlan:
    """The slice of a :class:`WeightedPlan` that one block needs.

    ``weights[i]`` are the interior weights of the block's point ``i``, applied
    to extended-block cells ``left + i - radius ... left + i + radius``.  Points
    listed in ``edges`` as ``(i, start, weights)`` use those one-sided weights
    on extended cells ``start, start + 1, ...`` instead.
    """

    weights: np.ndarray
    radius: int
    left: int
    right: int
    interior: tuple[int, int]
    edges: tuple[tuple[int, int, np.ndarray], ...]


@dataclass(frozen=True)
class WeightedPlan:
    """General finite-difference weights for one dimension, chosen once for it.

    Used for what numpy.gradient does not do: periodic dimensions,
    fourth-order stencils and second derivatives.  Interior points use a
    centred stencil of ``2 * radius + 1`` points; on a non-periodic dimension
    the first and last ``radius`` points use one-sided stencils (``edges``).
    """

    n: int
    radius: int
    periodic: bool
    weights: np.ndarray
    edges: tuple[tuple[int, int, np.ndarray], ...] = ()
    step: float | None = None  # the uniform spacing the weights come from, if uniform

    def _interior(self, start: int, stop: int) -> tuple[int, int]:
        if self.periodic:
            return start, stop
        return max(start, self.radius), min(stop, self.n - self.radius)

    def support(self, start: int, stop: int) -> tuple[int, int]:
        """Global index range ``[lo, hi)`` needed for points ``[start, stop)``.

        On periodic dims the range may extend below 0 or beyond ``n``: those
        cells wrap around.
        """
        a, b = self._interior(start, stop)
        lo, hi = (a - self.radius, b + self.radius) if b > a else (start, stop)
        for i, j, w in self.edges:
            if start <= i < stop:
                lo, hi = min(lo, j), max(hi, j + len(w))
        return lo, hi

    def block(self, start: int, stop: int, *, copy: bool = True) -> WeightedBlockPlan:
        """The part of the plan that the block ``[start, stop)`` needs (a copy of its weights)."""
        lo, hi = self.support(start, stop)
        a, b = self._interior(start, stop)
        edges = tuple((i - start, j - lo, w) for i, j, w in self.edges if start <= i < stop)
        return WeightedBlockPlan(
            weights=self.weights[start:stop].copy() if copy else self.weights[start:stop],
            radius=self.radius,
            left=start - lo,
            right=hi - stop,
            interior=(a - start, max(a, b) - start),
            edges=edges,
        )


def _extended_positions(positions: np.ndarray, period: float, radius: int) -> np.ndarray:
    """Positions with ``radius`` wrapped-around points added at each end."""
    sign = 1.0 if positions[-1] > positions[0] else -1.0
    before = positions[-radius:] - sign * period
    after = positions[:radius] + sign * period
    return np.concatenate([before, positions, after])


def plan_weighted(
    positions: np.ndarray,
    *,
    order: int = 1,
    accuracy: int = 2,
    periodic: bool = False,
    period: float | None = None,
    step: float | None = None,
) -> WeightedPlan:
    """Finite-difference weights for the ``order``-th derivative at every point.

    Interior points use the centred stencil of ``accuracy + 1`` points
    (``accuracy`` must be even), with weights computed for the actual,
    possibly non-uniform, positions.  On a non-periodic dimension the points
    near each end use one-sided stencils of ``accuracy + order`` points, which
    keeps the formal order of accuracy there; on a periodic one the stencil
    wraps around with the spacing ``period - |last - first|`` across the seam.

    A uniform ``step`` (or positions whose differences are all equal, as
    numpy.gradient decides it) gives every point the *same* weights, computed
    once from the step: the result then commutes exactly with shifts of the
    data along a periodic dimension.

    Examples
    --------
    >>> plan = plan_weighted(np.arange(6.0), order=2)
    >>> plan.weights[2].tolist()
    [1.0, -2.0, 1.0]
    >>> [(i, start, w.tolist()) for i, start, w in plan.edges][0]
    (0, 0, [2.0, -5.0, 4.0, -1.0])
    """
    positions = np.asarray(positions, dtype=np.float64)
    n = positions.shape[0]
    radius = accuracy // 2
    width = 2 * radius + 1
    index = np.arange(n)
    if step is None:
        dx = np.diff(positions)
        if (dx == dx[0]).all():
            step = float(dx[0])
    if step is not None and periodic and not np.isclose(period, n * abs(step), rtol=1e-12, atol=0):
        step = None  # the seam is wider or narrower than the other steps
    if step is not None:
        return _plan_uniform(n, step, order, accuracy, periodic)
    if periodic:
        ext = _extended_positions(positions, period, radius)
        nodes = np.stack([ext[index + k] for k in range(width)], axis=1)
        weights = finite_difference_weights(nodes - positions[:, None], order)
        return WeightedPlan(n=n, radius=radius, periodic=True, weights=weights)
    weights = np.zeros((n, width))
    inner = index[radius : n - radius]
    if inner.size:
        nodes = np.stack([positions[inner - radius + k] for k in range(width)], axis=1)
        weights[inner] = finite_difference_weights(nodes - positions[inner, None], order)
    edges = []
    for i in _edge_points(n, radius):
        start = 0 if i < radius else n - accuracy - order
        nodes = positions[start : start + accuracy + order] - positions[i]
        edges.append((i, start, finite_difference_weights(nodes[None, :], order)[0]))
    return WeightedPlan(n=n, radius=radius, periodic=False, weights=weights, edges=tuple(edges))


def _edge_points(n: int, radius: int) -> list[int]:
    return [*range(radius), *range(max(radius, n - radius), n)]


def _plan_uniform(n: int, step: float, order: int, accuracy: int, periodic: bool) -> WeightedPlan:
    """:func:`plan_weighted` for uniform spacing: one set of weights for all points."""
    radius = accuracy // 2
    centred, near_start, near_end = _uniform_weights(step, order, accuracy)
    weights = np.broadcast_to(centred, (n, 2 * radius + 1))
    if periodic:
        return WeightedPlan(n=n, radius=radius, periodic=True, weights=weights, step=step)
    width = accuracy + order
    edges = []
    for i in _edge_points(n, radius):
        # The stencil's first cell, and the point's place in it.
        start = 0 if i < radius else n - width
        offset = i - start
        w = near_start[offset] if i < radius else near_end[offset - (width - radius)]
        edges.append((i, start, w))
    return WeightedPlan(
        n=n, radius=radius, periodic=False, weights=weights, edges=tuple(edges), step=step
    )


@lru_cache(maxsize=128)
def _uniform_weights(
    step: float, order: int, accuracy: int
) -> tuple[np.ndarray, tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """Uniform weights, computed once per process for each step (read-only arrays).

    The centred stencil's, then the one-sided ones of a point at offset
    ``0 ... radius - 1`` of its stencil (the dimension's first points) and
    at ``width - radius ... width - 1`` (its last ones).  A one-sided
    stencil's node offsets are whole numbers of steps whatever ``n``, so
    these are the very bits every dimension of that step gets; computing
    them (Fornberg's recurrence, ~0.1 ms a stencil) made a second
    derivative of a small array cost 4x its first derivative.
    """
    radius = accuracy // 2
    width = accuracy + order
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    cells = np.arange(width, dtype=np.float64)

    def weights(nodes: np.ndarray) -> np.ndarray:
        w = finite_difference_weights(nodes[None, :] * step, order)[0]
        w.setflags(write=False)
        return w

    centred = weights(offsets)
    near_start = tuple(weights(cells - k) for k in range(radius))
    near_end = tuple(weights(cells - k) for k in range(width - radius, width))
    return centred, near_start, near_end
