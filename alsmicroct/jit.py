"""Numba kernels compiled on first use, and NumPy twins for small arrays (the bottom layer).

Importing numba and typing its first call cost about 0.5 s in a fresh process (measured on
2 shared cores under load: ``import numba`` 0.15-0.19 s, the first call of a cached kernel
0.35 s); on a quiet machine a small scan's wall time was the same with and without it
(the twins run on one core). So the package never imports numba at import
time: a kernel is written as plain Python under :func:`njit`, which returns a
:class:`Kernel` that imports numba and compiles (or loads from numba's cache) on its
first compiled call. Inside a kernel, ``prange`` (imported from here) is Python's
``range`` until compilation, numba's ``prange`` after.

The one dispatch rule
---------------------
A kernel may have a NumPy *twin* (:meth:`Kernel.twin`): the same computation, with the same
float32/float64 operations in the same order, so that its values equal the kernel's (each
twin's test says how closely: equal, or to float32 rounding). A step function (normalise,
-log, a ring filter) decides once, from the size of the block it was given
(:func:`use_twins`: fewer than :data:`NUMPY_BELOW` values), and every kernel call it makes
for that block takes the twin (:meth:`Kernel.pick`); a kernel called directly is always the
compiled one. The choice depends only on the shape of the block, which a run's plan fixes
(rows per block, angles, columns), never on timing, memory or what was loaded before; the
per-sinogram kernels of a large block stay compiled even where one sinogram is small. A scan
whose blocks are all small runs without numba at all.
"""

from __future__ import annotations

import functools
import logging
import threading
import types
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["NUMPY_BELOW", "Kernel", "njit", "prange", "use_twins"]

#: blocks with fewer values than this run the kernels' NumPy twins
#: (2**23 = 8.4 million: a 12-row, 1000-projection, 640-column block, 32 MB of float32)
NUMPY_BELOW = 1 << 23

#: the loop of a parallel kernel: Python's range until compiled, then numba's prange
prange = range

_compile_lock = threading.RLock()

logger = logging.getLogger(__name__)


class Kernel:
    """A numba kernel compiled on its first compiled call, with an optional NumPy twin.

    Parameters
    ----------
    py_func : callable
        The kernel in numba's subset of Python (arrays in and out, no return of new arrays
        needed).
    options : dict
        Keyword arguments of ``numba.njit`` (``parallel``, ``cache``, ``nogil``, ...).
    """

    def __init__(self, py_func: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_func = py_func
        self.options = dict(options)
        self._compiled: Any = None
        self._twin: Callable[..., Any] | None = None
        functools.update_wrapper(self, py_func)

    def twin(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: register ``func`` (same arguments) as the NumPy path for small arrays; returns ``func``."""
        self._twin = func
        return func

    @property
    def compiled(self) -> Any:
        """The numba dispatcher (numba imported and the kernel compiled or loaded from cache on first use)."""
        if self._compiled is None:
            with _compile_lock:
                if self._compiled is None:
                    self._compiled = _compile(self.py_func, self.options)
        return self._compiled

    def pick(self, twins: bool) -> Callable[..., Any]:
        """The twin when ``twins`` (see :func:`use_twins`) and the kernel has one, else the compiled kernel."""
        if twins and self._twin is not None:
            return self._twin
        return self.compiled

    def __call__(self, *args: Any) -> Any:
        return self.compiled(*args)

    def __repr__(self) -> str:
        state = "compiled" if self._compiled is not None else "not compiled"
        return f"<Kernel {self.py_func.__module__}.{self.py_func.__qualname__} ({state})>"


def njit(**options: Any) -> Callable[[Callable[..., Any]], Kernel]:
    """Decorator: ``@njit(parallel=True, cache=True)`` makes a :class:`Kernel` (numba's options)."""

    def decorate(py_func: Callable[..., Any]) -> Kernel:
        return Kernel(py_func, options)

    return decorate


def use_twins(block: np.ndarray | int) -> bool:
    """Whether the kernels called for ``block`` (an array, or its number of values) run their
    NumPy twins: fewer than :data:`NUMPY_BELOW` values."""
    size = block.size if isinstance(block, np.ndarray) else int(block)
    return size < NUMPY_BELOW


def _compile(py_func: Callable[..., Any], options: dict[str, Any]) -> Any:
    """``numba.njit(**options)`` of ``py_func`` seen with numba's names: the kernels it calls
    compiled, ``prange`` numba's. A copy of the function with its own globals, so the module
    keeps its Kernel objects (and their dispatch) for Python callers."""
    import numba

    logger.debug("numba kernel %s.%s: compiling or loading from cache", py_func.__module__, py_func.__qualname__)
    names = dict(py_func.__globals__)
    for name in py_func.__code__.co_names:
        value = names.get(name)
        if isinstance(value, Kernel):
            names[name] = value.compiled
        elif value is prange:
            names[name] = numba.prange
    func = types.FunctionType(py_func.__code__, names, py_func.__name__, py_func.__defaults__, py_func.__closure__)
    func.__qualname__ = py_func.__qualname__
    func.__doc__ = py_func.__doc__
    func.__kwdefaults__ = py_func.__kwdefaults__
    return numba.njit(**options)(func)
