"""Compile one plain-Python per-element function for several targets.

Per-element logic that the CPU and CUDA kernels share is written once as a plain Python
function.  ``twin(f, njit(inline="always"))`` and ``twin(f, cuda.jit(device=True))`` compile it
for each target; ``deps`` rebinds the global names ``f`` calls (other shared functions) to their
compiled versions for that same target, since a compiled function cannot call plain Python.
"""

from __future__ import annotations

import types
from typing import Any, Callable


def twin(func: Callable, decorator: Callable, **deps: Any) -> Any:
    """``decorator(func)`` with the global names in ``deps`` rebound inside ``func``."""
    if deps:
        namespace = dict(func.__globals__)
        namespace.update(deps)
        func = types.FunctionType(
            func.__code__, namespace, func.__name__, func.__defaults__, func.__closure__
        )
    return decorator(func)
