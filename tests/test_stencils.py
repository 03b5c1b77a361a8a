"""The stencil plans on their own: uniform weights computed once, with the bits of a fresh computation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from xgradient.missing import plan_missing
from xgradient.stencils import finite_difference_weights, plan_weighted

CASES = list(itertools.product([1, 2], [2, 4, 6], [0.25, -1.5, 1e-3, 7.0]))


def _fresh_edge(n, i, start, width, step, order):
    # The one-sided weights of point i as plan_weighted computed them
    # before they were cached: nodes from the stencil's absolute cells.
    nodes = (np.arange(start, start + width, dtype=np.float64) - i) * step
    return finite_difference_weights(nodes[None, :], order)[0]


@pytest.mark.parametrize(("order", "accuracy", "step"), CASES)
def test_uniform_weights_equal_a_fresh_computation_for_every_length(order, accuracy, step):
    radius, width = accuracy // 2, accuracy + order
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    centred = finite_difference_weights(offsets[None, :] * step, order)[0]
    # From the shortest dimension the stencils allow (edges overlapping the
    # middle) to long ones, in an order that reuses the cache.
    for n in [width, width + 1, 2 * width + 3, 50, width, 1000]:
        plan = plan_weighted(np.arange(n) * step, order=order, accuracy=accuracy, step=step)
        assert_array_equal(plan.weights, np.broadcast_to(centred, (n, 2 * radius + 1)))
        points = [i for i, _, _ in plan.edges]
        assert points == sorted({*range(radius), *range(max(radius, n - radius), n)})
        for i, start, w in plan.edges:
            assert start == (0 if i < radius else n - width)
            assert_array_equal(w, _fresh_edge(n, i, start, width, step, order))


def test_periodic_uniform_weights_equal_a_fresh_computation():
    plan = plan_weighted(
        np.arange(12) * 0.5, order=2, accuracy=4, periodic=True, period=6.0, step=0.5
    )
    offsets = np.arange(-2, 3, dtype=np.float64)
    assert_array_equal(plan.weights[0], finite_difference_weights(offsets[None, :] * 0.5, 2)[0])
    assert plan.edges == ()


def test_cached_weights_are_shared_and_read_only():
    a = plan_weighted(np.arange(10.0), order=2, step=1.0)
    b = plan_weighted(np.arange(30.0), order=2, step=1.0)
    assert a.edges[0][2] is b.edges[0][2]  # computed once for both lengths
    # The same last-point weights for both, though at other indices.
    assert_array_equal(a.edges[-1][2], b.edges[-1][2])
    for array in (a.weights, a.edges[0][2], a.edges[-1][2]):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0.0  # a caller cannot change what later plans get


def test_missing_value_tables_are_read_only_and_shared():
    positions = np.arange(20) * 0.25
    plans = [
        plan_missing(
            plan_weighted(positions, order=2, accuracy=4, step=0.25),
            positions,
            order=2,
            accuracy=4,
        )
        for _ in range(2)
    ]
    assert plans[0].uniform_tables is plans[1].uniform_tables
    for table in plans[0].uniform_tables:
        with pytest.raises(ValueError, match="read-only"):
            table[0, 0, 0] = 0.0
