"""Backends: one module per engine, each applying a block plan to one in-memory block.

=========  ======================================  ==========================
engine     module                                  takes
=========  ======================================  ==========================
``numpy``  :mod:`xgradient.backends.reference`     any array (the reference)
``numba``  :mod:`xgradient.backends.numba`         NumPy float and integer
``cuda``   :mod:`xgradient.backends.cuda`          CuPy float32 and float64
=========  ======================================  ==========================

Every backend module has the same interface, and nothing else uses it but
the dispatch (:mod:`xgradient.kernels`); whether it can run here is
:func:`installed`:

- ``accepts(center, axis, plan, left, right) -> bool``: whether it takes this
  block, and ``TAKES``, the same in words, for error messages;
- ``numpy_gradient(center, axis, plan, left, right, *, parallel, out)``:
  numpy.gradient's formulas (:class:`~xgradient.stencils.BlockPlan`);
- ``weighted_stencil(center, axis, plan, left, right, *, parallel, out)``:
  general weights (:class:`~xgradient.stencils.WeightedBlockPlan`).

Their results are bit-identical to each other's.  Backends are leaves: they
import plans and array helpers, never the dispatch, the Dask layer or
xarray.  A backend is imported only when a block is sent to it: numba costs
a process ~140 MiB of resident memory that a worker given CuPy blocks need
not pay.  Adding an engine is adding a module here and a line to
:data:`ENGINES`.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["ENGINES", "EngineError", "backend", "installed"]

#: Engine name -> (module, the package it needs, the install hint).
ENGINES: dict[str, tuple[str, str | None, str]] = {
    "numpy": ("reference", None, ""),
    "numba": ("numba", "numba", 'pip install numba (or "xgradient[fast]")'),
    "cuda": ("cuda", "cupy", "install CuPy for your CUDA version, e.g. pip install cupy-cuda12x"),
}


class EngineError(ValueError):
    """An engine that does not exist, is not installed, or cannot take a block."""


def installed(engine: str) -> bool:
    """Whether ``engine``'s package is installed (found without importing it).

    Examples
    --------
    >>> installed("numpy")
    True
    """
    _, package, _ = _entry(engine)
    return package is None or importlib.util.find_spec(package) is not None


def backend(engine: str) -> ModuleType:
    """The backend module of ``engine``, imported on first use.

    Raises :class:`EngineError`, naming the engine and how to install it,
    when its package is missing.

    Examples
    --------
    >>> backend("numpy").__name__
    'xgradient.backends.reference'
    """
    module, package, hint = _entry(engine)
    if not installed(engine):
        raise EngineError(f"engine={engine!r} needs {package}, which is not installed: {hint}")
    return importlib.import_module(f"{__name__}.{module}")


def _entry(engine: str) -> tuple[str, str | None, str]:
    try:
        return ENGINES[engine]
    except (KeyError, TypeError):
        names = ", ".join(repr(e) for e in ("auto", *ENGINES))
        raise EngineError(f"unknown engine {engine!r}: choose one of {names}") from None
