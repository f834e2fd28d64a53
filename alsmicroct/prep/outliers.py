"""Outlier (zinger, hot/dead pixel) removal by median comparison.

Two filters, both on raw counts (before normalisation):

- :func:`remove_outlier_1d` compares each value with the median of ``size`` values along
  the ANGLE axis (a sinogram step: chunk the data by rows, never by projections), and
  replaces bright and dark outliers.
- :func:`remove_outlier_2d` compares each pixel with the median of its ``size x size``
  neighbourhood in the same projection (a projection step), and replaces bright
  outliers (zingers).

Borders use mirror reflection (``d c b a | a b c d | d c b a``), the window offsets and
the median of an even window (the upper of the two middle values) are those of
:func:`scipy.ndimage.median_filter`, so ``size`` has the same meaning as in TomoPy's
``remove_outlier``/``remove_outlier1d``.

NaN values are left out of the median windows and are themselves replaced by the
median of the finite values around them.

Speed: a value can only be an outlier if it differs from the window minimum (or
maximum) by ``dif`` or more, so on smooth data almost every pixel is settled by a
min/max scan; for the others, counting the window values that differ from it by
``dif`` or more decides (the median does iff more than half of them do), and the median
itself is only computed (quickselect) for the pixels actually replaced. Both filters run in
parallel over (angle, row) lines with numba.
"""

from __future__ import annotations

import logging

import numpy as np

from ..checks import as_float32_3d, check_number, check_positive_int
from ..jit import njit, prange

__all__ = ["remove_outlier_1d", "remove_outlier_2d"]

logger = logging.getLogger(__name__)


@njit(inline="always")
def reflect_index(i, n):
    """Index ``i`` folded into ``[0, n)`` by mirror reflection with the edge sample repeated
    (``... x1 x0 | x0 x1 ... xn-1 | xn-1 xn-2 ...``: scipy's 'reflect', PyWavelets'
    'symmetric'). Used by the numba kernels of the pre-processing stage."""
    if 0 <= i < n:
        return i
    if n == 1:
        return 0
    period = 2 * n
    i = i % period
    if i < 0:
        i += period
    if i >= n:
        i = period - 1 - i
    return i


def reflect_indices(i: np.ndarray, n: int) -> np.ndarray:
    """:func:`reflect_index` of every element of the integer array ``i`` (NumPy twins use it)."""
    if n == 1:
        return np.zeros_like(i)
    i = np.mod(i, 2 * n)
    return np.where(i >= n, 2 * n - 1 - i, i)


@njit(cache=True)
def _select(buf, n, k):
    """k-th smallest of ``buf[:n]`` (0-based), partially reordering ``buf`` (quickselect)."""
    lo = 0
    hi = n - 1
    while hi > lo:
        # median of three as pivot
        mid = (lo + hi) // 2
        a = buf[lo]
        b = buf[mid]
        c = buf[hi]
        if a < b:
            pivot = b if b < c else (c if a < c else a)
        else:
            pivot = a if a < c else (c if b < c else b)
        i = lo
        j = hi
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                tmp = buf[i]
                buf[i] = buf[j]
                buf[j] = tmp
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return buf[k]
    return buf[k]


@njit(cache=True)
def _decide(v, buf, nf, dif, both_sides):
    """Value to write for ``v`` given the ``nf`` finite values ``buf[:nf]`` of its window.

    The median ``m`` (rank ``nf // 2``) satisfies ``v - m >= dif`` iff more than
    ``nf // 2`` window values ``w`` satisfy ``v - w >= dif`` (and ``m - v >= dif`` iff at
    least ``nf - nf // 2`` satisfy ``w - v >= dif``), so counting decides without
    sorting; the median itself is only selected for values that are replaced. A NaN
    ``v`` is always replaced (when its window holds a finite value).
    """
    if nf == 0:
        return v
    rank = nf // 2
    if v != v:
        return _select(buf, nf, rank)
    nlow = 0
    nhigh = 0
    for o in range(nf):
        if v - buf[o] >= dif:
            nlow += 1
        elif buf[o] - v >= dif:
            nhigh += 1
    if nlow > rank or (both_sides and nhigh >= nf - rank):
        return _select(buf, nf, rank)
    return v


@njit(parallel=True, cache=True)
def _outlier_1d_kernel(data, dif, size, out):
    nang, nrow, ncol = data.shape
    before = size // 2
    for idx in prange(nrow * nang):
        r = idx // nang
        a = idx - r * nang
        buf = np.empty(size, dtype=np.float32)
        for c in range(ncol):
            v = data[a, r, c]
            lo = np.inf
            hi = -np.inf
            nf = 0
            for o in range(size):
                w = data[reflect_index(a - before + o, nang), r, c]
                if w == w:  # NaN values are left out of the window
                    buf[nf] = w
                    nf += 1
                    lo = min(lo, w)
                    hi = max(hi, w)
            # v lies in its own window: |v - median| < dif is certain when the whole
            # window spans less than dif
            if v == v and hi - lo < dif:
                out[a, r, c] = v
            else:
                out[a, r, c] = _decide(v, buf, nf, dif, True)


@njit(parallel=True, cache=True)
def _outlier_2d_kernel(data, dif, size, out):
    nang, nrow, ncol = data.shape
    before = size // 2
    for idx in prange(nang * nrow):
        a = idx // nrow
        r = idx - a * nrow
        buf = np.empty(size * size, dtype=np.float32)
        rows = np.empty(size, dtype=np.int64)
        for o in range(size):
            rows[o] = reflect_index(r - before + o, nrow)
        # minimum of the finite values over the window rows, column by column
        colmin = np.full(ncol, np.inf, dtype=np.float32)
        for o in range(size):
            for c in range(ncol):
                w = data[a, rows[o], c]
                if w < colmin[c]:
                    colmin[c] = w
        for c in range(ncol):
            v = data[a, r, c]
            # the median is >= the window minimum: v - min < dif settles "not bright"
            lo = np.float32(np.inf)
            for oc in range(size):
                lo = min(lo, colmin[reflect_index(c - before + oc, ncol)])
            if v - lo < dif:
                out[a, r, c] = v
                continue
            nf = 0
            for oc in range(size):
                cc = reflect_index(c - before + oc, ncol)
                for orow in range(size):
                    w = data[a, rows[orow], cc]
                    if w == w:
                        buf[nf] = w
                        nf += 1
            out[a, r, c] = _decide(v, buf, nf, dif, False)


def _prepare(data, dif, size):
    arr = np.ascontiguousarray(as_float32_3d(data))
    d = check_number(dif, "dif", minimum=0.0, strict=True)
    s = check_positive_int(size, "size")
    return arr, np.float32(d), s


def remove_outlier_1d(data, *, dif: float, size: int = 3) -> np.ndarray:
    """Replace values that differ from the median along the angle axis by ``dif`` or more.

    For every detector pixel ``(row, column)`` and projection ``i`` the median ``m`` of
    ``data[i - size//2 : i - size//2 + size, row, column]`` (mirror-reflected at the
    first and last projections) is computed; where ``|data - m| >= dif`` the value is
    replaced by ``m``. Catches bright zingers and dark dropouts that last fewer than
    ``size // 2 + 1`` projections; NaN values are replaced by the median of the finite
    values of their window. This is a sinogram step: results do not depend on
    how rows are chunked, but all projections must be present.

    Parameters
    ----------
    data : ndarray, shape (angle, row, column)
        Raw projections in detector counts.
    dif : float
        Threshold in counts (> 0).
    size : int, optional
        Number of projections in the median window (>= 1; 1 leaves data unchanged).

    Returns
    -------
    ndarray of float32, shape (angle, row, column)
        A corrected copy of ``data``.

    Raises
    ------
    ParameterError
        ``data`` not 3-D, ``dif`` not a positive number, ``size`` not an integer >= 1.
    """
    arr, d, s = _prepare(data, dif, size)
    out = np.empty_like(arr)
    _outlier_1d_kernel(arr, d, s, out)
    return out


def remove_outlier_2d(data, *, dif: float, size: int = 3) -> np.ndarray:
    """Replace bright outliers (zingers) by the median of their projection neighbourhood.

    For every projection the median ``m`` of the ``size x size`` neighbourhood of each
    pixel (mirror-reflected at the image borders) is computed; where
    ``data - m >= dif`` the pixel is replaced by ``m``. Dark pixels are left alone; NaN
    pixels are replaced by the median of the finite values around them. This
    is a projection step: projections are independent, but all rows of a projection
    must be present.

    Parameters
    ----------
    data : ndarray, shape (angle, row, column)
        Raw projections (or flat/dark images) in detector counts.
    dif : float
        Threshold in counts (> 0).
    size : int, optional
        Side of the square median window in pixels (>= 1; 1 leaves data unchanged).

    Returns
    -------
    ndarray of float32, shape (angle, row, column)
        A corrected copy of ``data``.

    Raises
    ------
    ParameterError
        ``data`` not 3-D, ``dif`` not a positive number, ``size`` not an integer >= 1.
    """
    arr, d, s = _prepare(data, dif, size)
    out = np.empty_like(arr)
    _outlier_2d_kernel(arr, d, s, out)
    return out
