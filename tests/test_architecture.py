"""The package's shape: layers that import one way, small functions, one dispatch.

The import graph is read from the source (module-level and deferred
imports alike), so a cycle that only a lazy import would close still fails.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xgradient
from xgradient import kernels
from xgradient.backends import EngineError, available
from xgradient.stencils import gradient_weights, plan_first_derivative, plan_weighted

PACKAGE = Path(xgradient.__file__).parent

# Each module's layer: a module may import only from its own layer or lower ones.
LAYERS = {
    0: {"arrays", "stencils", "missing", "compat"},
    1: {"backends", "backends.reference", "backends.numba", "backends.cuda"},
    2: {"kernels"},
    3: {"chunked"},
    4: {"metadata", "latlon", "positions", "masking", "derivatives", "sphere"},
    5: {"job", "store", "cluster", "runner", "demo"},
    6: {"accessor", "cli", "__init__", "__main__"},
}
RANK = {module: rank for rank, modules in LAYERS.items() for module in modules}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts)
        found[name.removesuffix(".__init__") if name != "__init__" else name] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports, at any depth of its code."""
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    if name == "__init__":
        package = []
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names = [target] if node.module else []
            names += [f"{target}.{a.name}".strip(".") for a in node.names]
            found.update(n for n in names if n in _modules())
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("xgradient"):
            target = node.module.removeprefix("xgradient").strip(".")
            names = [target, *(f"{target}.{a.name}".strip(".") for a in node.names)]
            found.update(n for n in names if n in _modules())
    found.discard(name)
    return found


def test_every_module_has_a_layer():
    assert set(_modules()) == set(RANK)


def test_imports_point_down_the_layers_and_close_no_cycle():
    graph = {name: _imports(name, path) for name, path in _modules().items()}
    upward = [
        f"{a} (layer {RANK[a]}) imports {b} (layer {RANK[b]})"
        for a, targets in graph.items()
        for b in targets
        if RANK[b] > RANK[a]
    ]
    assert not upward
    # Depth-first search for a cycle (within a layer, where ranks cannot tell).
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, nxt]))
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_below_the_xarray_layer_nothing_imports_xarray_or_dask_at_module_level():
    # Plans, backends, the dispatch and the halo exchange are array code:
    # dask and xarray are imported, if at all, inside the functions that need
    # them (and for type checking only).
    offenders = []
    for name, path in _modules().items():
        if RANK[name] > 3:
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            offenders += [f"{name}: {n}" for n in names if n.split(".")[0] in ("xarray", "dask")]
    assert not offenders


def test_every_module_imports_alone_in_a_fresh_interpreter():
    # An import cycle that module-level imports close fails only for some
    # import orders: start from each module in turn (all at once: 2 cores).
    runs = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import importlib; importlib.import_module('xgradient.{name}')",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in _modules()
        if name not in ("__init__", "__main__")
    }
    failed = {name: run.communicate()[1].strip().splitlines()[-1:] for name, run in runs.items()}
    assert not {name: err for name, err in failed.items() if runs[name].returncode}


def test_no_function_is_longer_than_eighty_lines():
    long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = node.body
            docstring = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            start = body[1].lineno if docstring and len(body) > 1 else body[0].lineno
            if node.end_lineno - start + 1 > 80:
                long.append(f"{name}.{node.name}: {node.end_lineno - start + 1} lines")
    assert not long


@pytest.mark.skipif(not available("numba"), reason="numba is not installed")
def test_the_compiled_weight_formula_is_the_python_one_bit_for_bit():
    # The numba backend compiles stencils.gradient_weights itself; its scalar
    # results must equal the array expressions the reference backend uses.
    from xgradient.backends import numba as compiled

    rng = np.random.default_rng(0)
    # Spacings of every size, with products that underflow (inf weights).
    spacings = np.concatenate([rng.uniform(1e-3, 10.0, 500), [1e-200, 1e-200, 3.0, 1e-8]])
    positions = np.concatenate([[0.0], np.cumsum(spacings)])
    dx = np.diff(positions)
    with np.errstate(all="ignore"):
        arrays = np.stack(gradient_weights(dx[:-1], dx[1:]))
    n = len(positions)
    compiled_weights = compiled.interior_weights[False](positions, 0, n, True)
    np.testing.assert_array_equal(np.stack(compiled_weights)[:, 1 : n - 1], arrays)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_every_engine_gives_numpys_bits_through_the_public_functions(engine):
    if not available(engine):
        pytest.skip(f"{engine} is not installed")
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.uniform(0.5, 1.5, 11))
    da = xr.DataArray(rng.standard_normal((3, 11)), dims=("y", "x"), coords={"x": x})
    for data in (da, da.chunk(x=4)):
        got = xgradient.gradient(data, "x", engine=engine, edge_order=2)
        np.testing.assert_array_equal(got.values, np.gradient(da.values, x, axis=1, edge_order=2))
        auto = xgradient.second_derivative(data, "x", accuracy=4)
        forced = data.grad.second("x", accuracy=4, engine=engine)
        np.testing.assert_array_equal(forced.values, auto.values)


def test_an_unknown_engine_is_an_error_naming_the_choices():
    da = xr.DataArray(np.arange(5.0), dims="x")
    with pytest.raises(
        ValueError, match=r"unknown engine 'fast'.*'auto', 'numpy', 'numba', 'cuda'"
    ):
        da.grad("x", engine="fast")


@pytest.mark.skipif(available("cuda"), reason="CuPy is installed here")
def test_an_engine_that_is_not_installed_is_an_error_saying_what_to_install():
    da = xr.DataArray(np.arange(5.0), dims="x")
    with pytest.raises(EngineError, match=r"engine='cuda' needs cupy.*install CuPy"):
        xgradient.gradient(da, "x", engine="cuda")


@pytest.mark.skipif(not available("numba"), reason="numba is not installed")
def test_an_engine_that_cannot_take_the_data_says_what_it_takes():
    da = xr.DataArray(np.arange(5.0) * (1 + 1j), dims="x")
    with pytest.raises(EngineError, match=r"engine='numba' takes NumPy arrays of float32.*complex"):
        da.grad("x", engine="numba")
    # "auto" sends the same data to the plain-array kernels.
    np.testing.assert_array_equal(da.grad("x").values, np.gradient(da.values))


def test_empty_blocks_go_through_whatever_the_engine():
    plan = plan_weighted(np.arange(5.0), order=1, accuracy=4).block(0, 5)
    for engine in ("auto", "numpy", *(("numba",) if available("numba") else ())):
        for dtype in (float, complex) if engine != "numba" else (float,):
            empty = np.empty((0, 5), dtype=dtype)
            assert kernels.weighted_stencil(empty, 1, plan, engine=engine).shape == (0, 5)


def test_unknown_chunk_sizes_are_an_error_naming_the_variable_and_dim():
    import dask.array as da

    values = da.from_array(np.arange(10.0), chunks=5)
    unknown = values[values > -1]  # chunk sizes unknown until computed
    obj = xr.DataArray(unknown, dims="x", name="t")
    with pytest.raises(ValueError, match=r"variable 't' along 'x'.*compute_chunk_sizes"):
        obj.grad("x")


def test_the_plans_own_numpys_edge_coefficients():
    positions = np.array([0.0, 0.5, 1.5, 3.0, 3.5])
    plan = plan_first_derivative(5, positions=positions, edge_order=2).block(0, 5)
    f = np.array([1.0, -2.0, 0.5, 4.0, 2.0])
    a, b, c = plan.edge_coefficients(start=True)
    assert a * f[0] + b * f[1] + c * f[2] == np.gradient(f, positions, edge_order=2)[0]
    a, b, c = plan.edge_coefficients(start=False)
    assert a * f[-3] + b * f[-2] + c * f[-1] == np.gradient(f, positions, edge_order=2)[-1]


def test_auto_without_numba_uses_the_plain_array_kernels(monkeypatch):
    # As on a machine where numba is absent or fails to import.
    from xgradient.backends import reference

    calls = []
    for name in ("numpy_gradient", "weighted_stencil", "step_range"):
        original = getattr(reference, name)
        monkeypatch.setattr(
            reference, name, lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k)
        )
    monkeypatch.setattr(kernels, "available", lambda engine: engine == "numpy")
    rng = np.random.default_rng(4)
    x = np.cumsum(rng.uniform(0.5, 1.5, 9))
    da = xr.DataArray(rng.standard_normal((3, 9)), dims=("y", "x"), coords={"x": x})
    np.testing.assert_array_equal(da.grad("x").values, np.gradient(da.values, x, axis=1))
    np.testing.assert_array_equal(
        da.chunk(x=4).grad.second("x").values, da.grad.second("x", engine="numpy").values
    )
    assert {"numpy_gradient", "weighted_stencil", "step_range"} <= set(calls)


@pytest.mark.skipif(not available("numba"), reason="numba is not installed")
def test_an_engine_that_cannot_take_dask_chunks_says_so_before_the_graph():
    da = xr.DataArray(np.arange(6.0) * (1 + 1j), dims="x").chunk(x=2)
    with pytest.raises(EngineError, match=r"engine='numba' takes NumPy arrays.*complex128"):
        da.grad("x", engine="numba")


def test_a_named_engine_is_checked_even_for_an_empty_block():
    plan = plan_first_derivative(5, step=1.0).block(0, 5)
    with pytest.raises(EngineError, match="unknown engine 'fast'"):
        kernels.numpy_gradient(np.empty((0, 5)), 1, plan, engine="fast")
