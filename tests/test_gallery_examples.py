"""The gallery scripts examples/global_temperature_gradient.py and examples/convergence.py
run at their small size and measure what they say they do."""

from __future__ import annotations

import contextlib
import io
import runpy
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    """The scripts leave their figure open for sphinx-gallery; close it after each test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _main(name: str):
    return runpy.run_path(str(ROOT / "examples" / name), run_name="not_main")["main"]


def _run(name: str, tmp_path: Path) -> dict:
    out = tmp_path / "x.png"
    result = _main(name)(["--size", "small", "--out", str(out)])
    assert out.read_bytes()[:8] == PNG
    assert result["out"] == out
    return result


@pytest.fixture(scope="module")
def convergence(tmp_path_factory) -> dict:
    """The small run's result, with what it printed under "printed" (run once: ~1 s)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = _run("convergence.py", tmp_path_factory.mktemp("convergence"))
    return {**result, "printed": printed.getvalue()}


# Measured at small (n = 64 ... 1024): bounded 1.01, 2.05, 4.10, 2.03, 4.04;
# periodic 2.00, 3.99, 2.00, 3.99.
EXPECTED_ORDERS = [
    ("bounded", "first, edge_order=1", 1),
    ("bounded", "first, edge_order=2", 2),
    ("bounded", "first, accuracy=4", 4),
    ("bounded", "second, accuracy=2", 2),
    ("bounded", "second, accuracy=4", 4),
    ("periodic", "first, accuracy=2", 2),
    ("periodic", "first, accuracy=4", 4),
    ("periodic", "second, accuracy=2", 2),
    ("periodic", "second, accuracy=4", 4),
]


@pytest.mark.parametrize(("kind", "label", "order"), EXPECTED_ORDERS)
def test_convergence_fitted_orders(convergence, kind, label, order):
    assert abs(convergence["orders"][kind][label] - order) <= 0.15


def test_convergence_errors_fall_on_every_refinement(convergence):
    assert list(convergence["n"]) == [64, 128, 256, 512, 1024]
    for curves in convergence["errors"].values():
        for values in curves.values():
            assert (values[1:] < values[:-1]).all()
    # Fourth order is far more accurate than second at the same n.
    bounded = convergence["errors"]["bounded"]
    assert bounded["first, accuracy=4"][-1] < 1e-3 * bounded["first, edge_order=2"][-1]


def test_convergence_prints_the_fitted_orders(convergence):
    out = convergence["printed"]
    assert "n = 64, 128, 256, 512, 1024" in out
    for kind, label, order in EXPECTED_ORDERS:
        fitted = convergence["orders"][kind][label]
        line = f"{kind:8s}  {label:20s}"
        assert line in out
        assert f"fitted order {fitted:.2f} (expected {order})" in out
    assert f"figure written to {convergence['out']}" in out


def test_global_temperature_gradient(tmp_path, capsys):
    result = _run("global_temperature_gradient.py", tmp_path)
    out = capsys.readouterr().out
    assert result["sizes"] == {"time": 2, "lat": 90, "lon": 180}
    # Lazy: the gradient is a Dask array and no block was generated before the
    # compute; the one compute then generates every block of the three fields once.
    assert result["lazy"]
    assert result["generated_before_compute"] == 0
    assert result["generated_by_compute"] == result["blocks"] == 8
    assert result["each_block_once"]
    assert result["units"] == "K m-1"
    # |∇T| peaks at the fronts (~2 K per 100 km); measured error on the 2° grid
    # 3.9% of that (0.25% at 0.5°: second order).
    assert 1.5 < result["max_gradient"] < 3.0
    assert result["max_vector_error"] < 0.06 * result["max_gradient"]
    assert result["max_error"] <= result["max_vector_error"] * (1 + 1e-9)
    assert "blocks generated before compute: 0 (nothing computed yet)" in out
    assert "'K (100 km)-1'" in out
