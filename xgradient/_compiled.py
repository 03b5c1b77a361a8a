"""Fused compiled kernels (numba).  Placeholder until the compiled kernels land."""

from __future__ import annotations

from typing import Any


def first_derivative(center: Any, axis: int, plan: Any, left: Any, right: Any) -> Any:
    """Return the compiled result, or ``None`` when no compiled kernel applies."""
    return None
