"""Block kernels: apply a block plan to one in-memory block, on the engine that fits it.

The one dispatch between the layers above (the Dask halo exchange, the
xarray layer) and the backends (:mod:`xgradient.backends`).  A kernel
receives the block (``center``) and, separately, the thin halo slices its
stencil needs from the neighbouring blocks (``left``, ``right``), so callers
never glue a block to its halo first.  The dispatch validates the block
against its plan once, picks the backend and calls it:

- ``engine="auto"`` (the default): numba's fused kernels for NumPy blocks
  and CUDA's for CuPy blocks where they take the block, the plain-array
  reference otherwise (other array types, complex data, numba or CuPy not
  installed);
- ``engine="numpy"``, ``"numba"`` or ``"cuda"``: that backend, or an error
  saying why it cannot run or cannot take the block (the xarray layer asks
  :func:`check_engine` before it builds anything, so on Dask data the error
  comes before the graph, not from a task).

Every backend evaluates numpy.gradient's expressions in numpy.gradient's
order, so the engine never changes a result, only its speed.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .arrays import is_cupy, namespace, result_dtype
from .backends import ENGINES, EngineError, available, backend
from .missing import MissingGradientBlock, MissingStencilBlock
from .stencils import BlockPlan, WeightedBlockPlan

__all__ = [
    "ENGINE_NAMES",
    "Engine",
    "EngineError",
    "check_engine",
    "mark_missing",
    "numpy_gradient",
    "omit_missing",
    "result_dtype",
    "step_range",
    "weighted_stencil",
]

Engine = Literal["auto", "numpy", "numba", "cuda"]
ENGINE_NAMES = ("auto", *ENGINES)


def check_engine(engine: str, example: Any = None) -> str:
    """``engine``, checked: it exists, can run here, and takes arrays like ``example``.

    ``example`` (optional) is an array of the type and dtype of the blocks
    to come, of any shape: a Dask array's ``_meta``, say.  Raises
    :class:`EngineError` saying what is wrong, so that the layers above fail
    before any work (or any graph) is built.

    Examples
    --------
    >>> check_engine("numpy", np.zeros(0, dtype=complex))
    'numpy'
    >>> check_engine("fast")
    Traceback (most recent call last):
    ...
    xgradient.backends.EngineError: unknown engine 'fast': choose one of 'auto', 'numpy', 'numba', 'cuda'
    """
    if engine == "auto":
        return engine
    module = backend(engine)  # raises if unknown or unavailable
    if example is not None and not module.takes(example):
        raise EngineError(_refusal(engine, module, example))
    return engine


def _refusal(engine: str, module: Any, x: Any) -> str:
    what = f"{type(x).__module__}.{type(x).__name__} of dtype {x.dtype}"
    return f"engine={engine!r} takes {module.TAKES}, not a {what}; use engine='auto'"


def _candidates(center: Any, engine: str) -> tuple[str, ...]:
    """The engines to try for a block, best first (by the array's type: nothing imported)."""
    if engine != "auto":
        return (engine,)
    if isinstance(center, np.ndarray):
        return ("numba", "numpy")
    if is_cupy(center):
        return ("cuda", "numpy")
    return ("numpy",)


def _backend_for(center: Any, axis: int, plan: Any, left: Any, right: Any, engine: str) -> Any:
    """The backend module that computes this block (see the module docstring)."""
    check_engine(engine, center)
    if center.size == 0:
        return backend("numpy")  # no arithmetic to do: any backend's empty result
    for name in _candidates(center, engine):
        if engine == "auto" and not available(name):
            continue
        module = backend(name)
        if module.accepts(center, axis, plan, left, right):
            return module
    # A named engine that takes such arrays but not this block (a kernel that
    # CUDA could not build here, say).
    raise EngineError(f"engine={engine!r} cannot compute this block here; use engine='auto'")


def numpy_gradient(
    center: Any,
    axis: int,
    plan: BlockPlan,
    left: Any = None,
    right: Any = None,
    *,
    engine: str = "auto",
    parallel: bool | None = None,
    out: Any = None,
) -> Any:
    """numpy.gradient's first derivative of one block.

    Parameters
    ----------
    center
        The block, an array with ``center.shape[axis]`` points to differentiate.
    axis
        The axis to differentiate along (negative counts from the end).
    plan
        The block's slice of the dimension plan (:class:`~xgradient.stencils.BlockPlan`).
    left, right
        Halo cells before and after the block (``plan.left`` and ``plan.right``
        cells along ``axis``); ``None`` when the plan asks for none.
    engine
        ``"auto"``, ``"numpy"``, ``"numba"`` or ``"cuda"`` (see the module docstring).
    parallel
        For the numba engine: threaded (``True``) or serial (``False``)
        kernels; ``None`` threads large blocks, from the main thread only.
    out
        Where to write the result, as with a ufunc: the block's shape and a
        dtype the result casts to under ``casting="same_kind"``; it may
        overlap the input.

    Returns
    -------
    array
        Derivative at the block's points, of :func:`result_dtype` (or ``out``).

    Examples
    --------
    >>> from xgradient.stencils import plan_first_derivative
    >>> f = np.array([[0.0, 1.0, 4.0], [0.0, 2.0, 8.0]])
    >>> plan = plan_first_derivative(3, positions=np.array([0.0, 1.0, 2.0]))
    >>> numpy_gradient(f, 1, plan.block(0, 3))
    array([[1., 2., 3.],
           [2., 4., 6.]])
    >>> numpy_gradient(f, 1, plan.block(0, 3), engine="numpy")
    array([[1., 2., 3.],
           [2., 4., 6.]])
    """
    axis = _check_block(center, axis, plan, left, right, out)
    chosen = _backend_for(center, axis, plan, left, right, engine)
    return chosen.numpy_gradient(center, axis, plan, left, right, parallel=parallel, out=out)


def weighted_stencil(
    center: Any,
    axis: int,
    plan: WeightedBlockPlan,
    left: Any = None,
    right: Any = None,
    *,
    engine: str = "auto",
    parallel: bool | None = None,
    out: Any = None,
) -> Any:
    """Apply per-point finite-difference weights to one block.

    The kernel for :class:`~xgradient.stencils.WeightedPlan` (periodic dims,
    fourth-order stencils, second derivatives).  Parameters as
    :func:`numpy_gradient`.  Each point's weighted sum is accumulated in
    stencil order, so a point's value never depends on which block it sits in.

    Examples
    --------
    >>> from xgradient.stencils import plan_weighted
    >>> plan = plan_weighted(np.arange(4.0), order=1, periodic=True, period=4.0)
    >>> f = np.array([0.0, 1.0, 0.0, -1.0])
    >>> halo_left, halo_right = f[-1:], f[:1]  # periodic: the halos wrap around
    >>> weighted_stencil(f, 0, plan.block(0, 4), halo_left, halo_right)
    array([ 1.,  0., -1.,  0.])
    """
    axis = _check_block(center, axis, plan, left, right, out)
    chosen = _backend_for(center, axis, plan, left, right, engine)
    return chosen.weighted_stencil(center, axis, plan, left, right, parallel=parallel, out=out)


def omit_missing(
    center: Any,
    axis: int,
    plan: MissingGradientBlock | MissingStencilBlock,
    left: Any = None,
    right: Any = None,
    *,
    engine: str = "auto",
    parallel: bool | None = None,
    out: Any = None,
) -> Any:
    """A block's derivative whose stencils stop at missing values (``nan_policy="omit"``).

    The kernel for :class:`~xgradient.missing.MissingPlan`: each point takes
    the formula its run of valid points allows (see :mod:`xgradient.missing`),
    so that on any line the result is the dimension's formulas applied to
    each run of valid points separately.  Parameters as :func:`numpy_gradient`;
    the halos are ``plan.left`` and ``plan.right`` cells, wider than the
    ``"propagate"`` kernels' (the rule looks ``plan.reach`` cells each way).

    Examples
    --------
    >>> from xgradient.missing import plan_missing
    >>> from xgradient.stencils import plan_first_derivative
    >>> f = np.array([[1.0, 2.0, np.nan, 4.0, 6.0, 9.0]])
    >>> plan = plan_missing(plan_first_derivative(6, step=1.0))
    >>> omit_missing(f, 1, plan.block(0, 6))
    array([[1. , 1. , nan, 2. , 2.5, 3. ]])
    """
    axis = _check_block(center, axis, plan, left, right, out)
    chosen = _backend_for(center, axis, plan, left, right, engine)
    return chosen.omit_missing(center, axis, plan, left, right, parallel=parallel, out=out)


def mark_missing(
    data: Any, valid: Any, *, engine: str = "auto", parallel: bool | None = None
) -> Any:
    """``data`` with NaN where ``valid`` is False: a mask applied to one block.

    How ``mask=`` marks points missing before ``nan_policy="omit"``'s
    stencils run: one pass on the engine that takes the block.

    Parameters
    ----------
    data
        The block: any dtype :func:`result_dtype` takes.
    valid
        Boolean, True where the data is valid, broadcasting against ``data``
        (size 1, or absent, along the axes the mask does not have).
    engine, parallel
        As for :func:`numpy_gradient`.

    Returns
    -------
    array
        A new array of :func:`result_dtype`: ``data``'s values where
        ``valid``, NaN elsewhere.

    Examples
    --------
    >>> mark_missing(np.array([[0, 1, 2], [3, 4, 5]]), np.array([True, True, False]))
    array([[ 0.,  1., nan],
           [ 3.,  4., nan]])
    """
    check_engine(engine, data)
    result_dtype(data.dtype)  # raises for dtypes that cannot be differentiated
    valid = namespace(data).asarray(valid)  # a NumPy mask for CuPy data, say
    for name in _candidates(data, engine):
        if engine == "auto" and not available(name):
            continue
        module = backend(name)
        if module.takes(data):
            return module.mark_missing(data, valid, parallel=parallel)
    return backend("numpy").mark_missing(data, valid)  # unreachable: it takes every array


def step_range(positions: np.ndarray) -> tuple[float, float]:
    """The smallest and largest difference of consecutive 1-D positions.

    One compiled pass without temporaries where numba is available (a 1-D
    coordinate is as large as its data).  The differences are numpy.diff's
    values; the result is ``(nan, nan)`` if any of them is NaN, and
    ``(inf, -inf)`` for fewer than two positions.

    Examples
    --------
    >>> step_range(np.array([0.0, 1.0, 3.0, 6.0]))
    (1.0, 3.0)
    >>> step_range(np.array([0.0, np.nan, 1.0]))
    (nan, nan)
    """
    compiled = (
        isinstance(positions, np.ndarray)
        and positions.ndim == 1
        and positions.dtype == np.float64
        and available("numba")
    )
    return backend("numba" if compiled else "numpy").step_range(positions)


def _check_block(center: Any, axis: int, plan: Any, left: Any, right: Any, out: Any) -> int:
    """Validate a block against its plan; ``axis`` as a non-negative index."""
    ndim = center.ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for a block of {ndim} dimension(s)")
    axis %= ndim
    _check_halos(center, axis, plan, left, right)
    _check_out(out, center)
    return axis


def _planned_points(plan: Any) -> int | None:
    """How many points along the axis ``plan`` is for (``None``: uniform, any number)."""
    if isinstance(plan, (MissingGradientBlock, MissingStencilBlock)):
        return plan.size
    if isinstance(plan, WeightedBlockPlan):
        return len(plan.weights)
    if plan.positions is None:
        return None
    return len(plan.positions) - plan.left - plan.right


def _check_halos(center: Any, axis: int, plan: Any, left: Any, right: Any) -> None:
    """The block and its halos must have the sizes the plan counts on (the kernels index them)."""
    size = center.shape[axis]
    planned = _planned_points(plan)
    if planned is not None and planned != size:
        raise ValueError(f"the block plan is for {planned} points along axis {axis}, got {size}")
    for side, halo, needed in (("left", left, plan.left), ("right", right, plan.right)):
        got = 0 if halo is None else halo.shape[axis]
        if got != needed:
            raise ValueError(
                f"the block plan needs {needed} {side} halo cell(s) along axis {axis}, got {got}"
            )
        if halo is not None:
            expected = (*center.shape[:axis], got, *center.shape[axis + 1 :])
            if tuple(halo.shape) != expected:
                raise ValueError(
                    f"the {side} halo has shape {tuple(halo.shape)}; a block of shape "
                    f"{tuple(center.shape)} needs {expected} (the block's shape but along "
                    f"axis {axis})"
                )


def _check_out(out: Any, center: Any) -> None:
    """``out`` must have the block's shape and take the result dtype (ufunc rules)."""
    if out is None:
        return
    if tuple(out.shape) != tuple(center.shape):
        raise ValueError(f"out has shape {tuple(out.shape)}, but the block has {center.shape}")
    dtype = result_dtype(center.dtype)
    if not np.can_cast(dtype, out.dtype, casting="same_kind"):
        raise TypeError(
            f"out has dtype {out.dtype}, which cannot hold the {dtype} result (casting='same_kind')"
        )


#: Another name of :func:`numpy_gradient`.
first_derivative = numpy_gradient
