"""
Convergence of the stencils
===========================

The largest error of each derivative xgradient offers, against the exact
derivative of an analytic function, as the number of points n grows, on
log-log axes with reference slopes: ``edge_order=1`` (first order, because
of its two one-sided end points), ``edge_order=2`` (second order),
``accuracy=4`` (fourth order) and the second derivative ``.grad.second``
with ``accuracy=2`` and ``accuracy=4``, on a bounded, non-uniform grid; and
the centred stencils on a periodic, non-uniform grid (``boundary="periodic"``),
where every point, the seam included, uses the interior stencil. The order
of each curve is fitted by least squares and printed. Run it with
``python examples/convergence.py --size small`` (5 grids, CI), ``medium``
(9, the default) or ``large`` (17); ``--size`` may also come from the
environment variable ``XGRADIENT_EXAMPLE_SIZE``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr

import xgradient  # noqa: F401  (registers the .grad accessor)

# Every size spans the same n = 64 ... 1024: below it the fourth-order curves
# are not yet asymptotic, above it rounding (about eps / h² for a second
# derivative) starts to show in the fourth-order second derivative. The
# sizes only sample that range more or less finely.
SIZES = {"small": 5, "medium": 9, "large": 17}  # number of grids
N_MIN, N_MAX = 64, 1024
TWO_PI = 2 * np.pi
STRETCH = 0.2  # x = ξ + 0.2 sin ξ: steps vary smoothly by a factor of 1.5

# %%
# Functions, grids and cases
# --------------------------
#
# Bounded: f(x) = sin(x + 1) on [0, 2π], whose second derivative is not zero
# at either end (with sin x the first-order end error of ``edge_order=1``
# would vanish there and hide). Periodic: f(x) = exp(sin x), period 2π. Both
# grids are smoothly stretched, ``x = ξ + 0.2 sin ξ`` for equally spaced ξ,
# so the weights are those of non-uniform positions.

Function = tuple[Callable[[np.ndarray], np.ndarray], ...]
BOUNDED: Function = (
    lambda x: np.sin(x + 1.0),
    lambda x: np.cos(x + 1.0),
    lambda x: -np.sin(x + 1.0),
)
PERIODIC: Function = (
    lambda x: np.exp(np.sin(x)),
    lambda x: np.cos(x) * np.exp(np.sin(x)),
    lambda x: (np.cos(x) ** 2 - np.sin(x)) * np.exp(np.sin(x)),
)

# label -> (derivative, options, expected order)
CASES: dict[str, dict[str, tuple[int, dict, int]]] = {
    "bounded": {
        "first, edge_order=1": (1, {"edge_order": 1}, 1),
        "first, edge_order=2": (1, {"edge_order": 2}, 2),
        "first, accuracy=4": (1, {"accuracy": 4}, 4),
        "second, accuracy=2": (2, {"accuracy": 2}, 2),
        "second, accuracy=4": (2, {"accuracy": 4}, 4),
    },
    "periodic": {
        "first, accuracy=2": (1, {"accuracy": 2}, 2),
        "first, accuracy=4": (1, {"accuracy": 4}, 4),
        "second, accuracy=2": (2, {"accuracy": 2}, 2),
        "second, accuracy=4": (2, {"accuracy": 4}, 4),
    },
}


def grid(n: int, periodic: bool) -> np.ndarray:
    """n stretched positions covering [0, 2π] (bounded) or [0, 2π) (periodic)."""
    xi = np.arange(n) * (TWO_PI / n) if periodic else np.linspace(0.0, TWO_PI, n)
    return xi + STRETCH * np.sin(xi)


def max_error(n: int, periodic: bool, derivative: int, options: dict) -> float:
    """Largest error over all n points, end stencils and seam included."""
    x = grid(n, periodic)
    function = PERIODIC if periodic else BOUNDED
    f = xr.DataArray(function[0](x), dims="x", coords={"x": x})
    if periodic:
        options = {**options, "boundary": "periodic", "period": {"x": TWO_PI}}
    result = f.grad("x", **options) if derivative == 1 else f.grad.second("x", **options)
    return float(np.abs(result.values - function[derivative](x)).max())


def fitted_order(sizes: np.ndarray, errors: np.ndarray) -> float:
    """Minus the least-squares slope of log(error) against log(n)."""
    return float(-np.polyfit(np.log(sizes), np.log(errors), 1)[0])


# %%
# The plot
# --------
#
# One panel per kind of grid; each curve is labelled with its fitted order,
# and dashed lines of slope -1, -2 and -4 (n⁻¹, n⁻², n⁻⁴) are drawn for
# reference.


def plot(sizes: np.ndarray, errors: dict, orders: dict, path: Path) -> None:
    """Error against n, log-log, one panel per kind of grid; the figure is left open."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; before pyplot is imported
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), sharey=True, constrained_layout=True)
    titles = {
        "bounded": "sin(x + 1) on [0, 2π], stretched grid",
        "periodic": 'exp(sin x), boundary="periodic", stretched grid',
    }
    for ax, (kind, curves) in zip(axes, errors.items(), strict=True):
        for label, values in curves.items():
            ax.loglog(sizes, values, "o-", ms=4, label=f"{label}: {orders[kind][label]:.2f}")
        for slope in sorted({case[2] for case in CASES[kind].values()}):
            # Through a point 3x above the highest curve of that order at the first n.
            start = 3 * max(v[0] for lbl, v in curves.items() if CASES[kind][lbl][2] == slope)
            line = start * (sizes / sizes[0]) ** -slope
            ax.loglog(sizes, line, "k--", lw=0.8)
            ax.annotate(
                f"$n^{{-{slope}}}$",
                (sizes[-1], line[-1]),
                textcoords="offset points",
                xytext=(0, 4),
                ha="right",
                va="bottom",
                fontsize=9,
            )
        ax.set_title(titles[kind], fontsize=10)
        ax.set_xlabel("number of points n")
        ax.legend(title="fitted order", fontsize=8, title_fontsize=8, loc="lower left")
        ax.grid(True, which="major", lw=0.3)
    axes[0].set_ylabel("max |error| over all points")
    fig.savefig(path, dpi=80)
    print(f"figure written to {path}")


def main(argv: list[str] | None = None) -> dict:
    """Measure the errors, print the fitted orders, draw the plot.

    Returns ``{"n": sizes, "errors": {kind: {label: errors}}, "orders":
    {kind: {label: fitted order}}, "out": the PNG's path}``.
    """
    parser = argparse.ArgumentParser(
        description="Convergence of xgradient's derivatives under grid refinement."
    )
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        default=os.environ.get("XGRADIENT_EXAMPLE_SIZE", "medium"),
        help="grids between n = 64 and 1024: small 5, medium 9, large 17 (default medium)",
    )
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "convergence.png",
        help="the PNG to write (default: convergence.png in the temp directory)",
    )
    args = parser.parse_args(argv)
    sizes = np.geomspace(N_MIN, N_MAX, SIZES[args.size]).round().astype(int)

    print(f"n = {', '.join(map(str, sizes))}")
    errors: dict[str, dict[str, np.ndarray]] = {}
    orders: dict[str, dict[str, float]] = {}
    for kind, cases in CASES.items():
        errors[kind], orders[kind] = {}, {}
        for label, (derivative, options, expected) in cases.items():
            values = np.array(
                [max_error(n, kind == "periodic", derivative, options) for n in sizes]
            )
            errors[kind][label] = values
            orders[kind][label] = fitted_order(sizes, values)
            print(
                f"{kind:8s}  {label:20s}  max error {values[0]:.1e} -> {values[-1]:.1e}  "
                f"fitted order {orders[kind][label]:.2f} (expected {expected})"
            )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot(sizes, errors, orders, args.out)
    return {"n": sizes, "errors": errors, "orders": orders, "out": args.out}


if __name__ == "__main__":
    main(sys.argv[1:])
