"""Real-space back-projection with linear interpolation (numba), to check gridrec.

Used by :func:`alsmicroct.engine.reconstruct` with ``algorithm="fbp"``; the filtering is
the same as gridrec's, only the back-projection differs.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["backproject"]


@functools.lru_cache(maxsize=1)
def _kernel():
    """Compile the numba kernel on first use (keeps module import light)."""
    import numba

    @numba.njit(parallel=True, fastmath=True, cache=False)
    def bp(q, cos, sin, weights, origin, size, out):  # pragma: no cover - compiled
        nang, length = q.shape
        mid = (size - 1) / 2.0
        for r in numba.prange(size):
            y = r - mid
            acc = np.zeros(size, dtype=np.float64)
            for a in range(nang):
                ca = cos[a]
                base = -y * sin[a] + origin - mid * ca
                w = weights[a]
                for c in range(size):
                    u = base + c * ca
                    i0 = int(np.floor(u))
                    if i0 >= 0 and i0 < length - 1:
                        f = u - i0
                        acc[c] += w * ((1.0 - f) * q[a, i0] + f * q[a, i0 + 1])
            for c in range(size):
                out[r, c] = acc[c]

    return bp


def backproject(
    filtered: np.ndarray,
    theta: np.ndarray,
    weights: np.ndarray,
    *,
    origin: float,
    size: int,
    num_threads: int | None = None,
) -> np.ndarray:
    """Back-project filtered projections onto an N x N slice.

    Parameters
    ----------
    filtered : ndarray, float32, shape (nangles, L)
        Filtered projections; sample ``i`` lies at ``s = i - origin`` pixels.
    theta : ndarray, shape (nangles,)
        Angles in radians.
    weights : ndarray, shape (nangles,)
        Quadrature weights in radians (summing to pi).
    origin : float, keyword-only
        Window index of the rotation axis.
    size : int, keyword-only
        Slice size N in pixels; pixel ``(r, c)`` sits at ``x = c - (N-1)/2``,
        ``y = r - (N-1)/2``, and samples ``s = x cos(theta) - y sin(theta)``.
    num_threads : int, optional, keyword-only
        numba threads (default: numba's).

    Returns
    -------
    ndarray, float32, shape (size, size)
        The slice in the units of ``filtered`` times radians (1/pixel for gridrec's
        filtering).
    """
    import numba

    kernel = _kernel()
    th = np.asarray(theta, dtype=np.float64)
    out = np.empty((size, size), dtype=np.float32)
    old = numba.get_num_threads()
    if num_threads is not None:
        numba.set_num_threads(max(1, min(int(num_threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        kernel(
            np.ascontiguousarray(filtered, dtype=np.float32),
            np.cos(th),
            np.sin(th),
            np.asarray(weights, dtype=np.float64),
            float(origin),
            int(size),
            out,
        )
    finally:
        numba.set_num_threads(old)
    return out
