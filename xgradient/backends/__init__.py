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
:func:`available`:

- ``takes(x) -> bool``: whether it takes arrays of ``x``'s type and dtype
  (any shape), and ``TAKES``, the same in words, for error messages;
- ``accepts(center, axis, plan, left, right) -> bool``: whether it takes this
  block with this plan;
- ``numpy_gradient(center, axis, plan, left, right, *, parallel, out)``:
  numpy.gradient's formulas (:class:`~xgradient.stencils.BlockPlan`);
- ``weighted_stencil(center, axis, plan, left, right, *, parallel, out)``:
  general weights (:class:`~xgradient.stencils.WeightedBlockPlan`);
- ``omit_missing(center, axis, plan, left, right, *, parallel, out)``:
  either, stopping at missing values (the block plans of
  :mod:`xgradient.missing`).

Their results are bit-identical to each other's.  Backends are leaves: they
import plans and array helpers, never the dispatch, the Dask layer or
xarray.  A backend is imported only when a block is sent to it: numba costs
a process ~140 MiB of resident memory that a worker given CuPy blocks need
not pay.  Adding an engine is adding a module here and a line to
:data:`ENGINES`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from types import ModuleType

__all__ = ["ENGINES", "EngineError", "available", "backend"]

#: Engine name -> (module, the package it needs, the install hint).
ENGINES: dict[str, tuple[str, str | None, str]] = {
    "numpy": ("reference", None, ""),
    "numba": ("numba", "numba", 'pip install numba (or "xgradient[fast]")'),
    "cuda": ("cuda", "cupy", "install CuPy for your CUDA version, e.g. pip install cupy-cuda12x"),
}


class EngineError(ValueError):
    """An engine that does not exist, cannot run here, or cannot take a block."""


def available(engine: str) -> bool:
    """Whether ``engine`` can run here: its package imports (tried once per process).

    A package that is installed but fails to import (a numba built for
    another NumPy, say) makes its engine unavailable, as if it were absent:
    ``engine="auto"`` then uses the others.

    Examples
    --------
    >>> available("numpy")
    True
    """
    return _load(engine)[0] is not None


def backend(engine: str) -> ModuleType:
    """The backend module of ``engine``, imported on first use.

    Raises :class:`EngineError`, naming the engine and how to install it,
    when it cannot run here.

    Examples
    --------
    >>> backend("numpy").__name__
    'xgradient.backends.reference'
    """
    module, why = _load(engine)
    if module is None:
        raise EngineError(why)
    return module


@functools.cache
def _load(engine: str) -> tuple[ModuleType | None, str]:
    module, package, hint = _entry(engine)
    try:
        if package is not None:
            importlib.import_module(package)  # the CUDA backend imports CuPy only when it runs
        return importlib.import_module(f"{__name__}.{module}"), ""
    except ImportError as err:
        if package is not None and importlib.util.find_spec(package) is None:
            return None, f"engine={engine!r} needs {package}, which is not installed: {hint}"
        return None, f"engine={engine!r} cannot run here: importing {package} failed ({err})"


def _entry(engine: str) -> tuple[str, str | None, str]:
    try:
        return ENGINES[engine]
    except (KeyError, TypeError):
        names = ", ".join(repr(e) for e in ("auto", *ENGINES))
        raise EngineError(f"unknown engine {engine!r}: choose one of {names}") from None
