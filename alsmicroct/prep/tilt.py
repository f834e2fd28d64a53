"""Detector tilt correction: rotate every projection in its own plane.

Convention. A detector tilted by ``+angle`` records an image whose content is rotated
**counter-clockwise** by ``angle`` degrees as displayed with row 0 at the top (column to the
right, row downwards), about ``(center_row, center_col)``: a point to the right of the
centre moves up. ``correct_tilt(data, angle_deg=angle)`` undoes exactly that by rotating
each projection clockwise by ``angle``; a negative angle undoes a clockwise tilt.

Row blocks. :func:`correct_tilt` works on any block of detector rows: ``row_offset`` is
the absolute detector row of the block's first row, and the centre is given in absolute
detector pixels, so a block read with :func:`tilt_margin` extra rows on each side (fewer
at the detector edges), corrected, then cropped back, equals the same rows of the
whole-detector result.

Interpolation is local (bilinear, or Keys cubic convolution with ``a = -0.5``), with
samples beyond the block edges replaced by the nearest edge pixel; it runs in parallel
with numba over projections and rows.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from alsmicroct.checks import check_number, check_positive_int
from alsmicroct.errors import ParameterError

from ..jit import njit, prange

__all__ = ["correct_tilt", "tilt_margin"]

logger = logging.getLogger(__name__)

# Extra rows beyond the geometric displacement needed by the 4-tap cubic kernel.
_KERNEL_REACH = 2


def tilt_margin(
    angle_deg: float,
    ncols: int,
    *,
    nrows: int | None = None,
    center_col: float | None = None,
    center_row: float | None = None,
) -> int:
    """Rows to add on each side of a row block so that :func:`correct_tilt` loses none.

    Parameters
    ----------
    angle_deg : float
        Tilt angle in degrees (sign irrelevant here).
    ncols : int
        Number of detector columns.
    nrows : int, optional
        Number of detector rows (default ``ncols``); only enters through the tiny
        ``(1 - cos(angle))`` term.
    center_col, center_row : float, optional
        Rotation centre in absolute detector pixels (defaults: detector centre).

    Returns
    -------
    int
        Margin in rows (0 when ``angle_deg`` is 0).
    """
    angle = check_number(angle_deg, "angle_deg")
    if angle == 0.0:
        return 0
    ncols = check_positive_int(ncols, "ncols", integral_float=True)
    nrows = ncols if nrows is None else check_positive_int(nrows, "nrows", integral_float=True)
    cc = (ncols - 1) / 2.0 if center_col is None else check_number(center_col, "center_col")
    cr = (nrows - 1) / 2.0 if center_row is None else check_number(center_row, "center_row")
    a = math.radians(angle)
    reach_col = max(abs(cc), abs(ncols - 1 - cc))
    reach_row = max(abs(cr), abs(nrows - 1 - cr))
    shift = abs(math.sin(a)) * reach_col + (1.0 - math.cos(a)) * reach_row
    return math.ceil(shift - 1e-9) + _KERNEL_REACH


def correct_tilt(
    data: np.ndarray,
    *,
    angle_deg: float,
    center_row: float | None = None,
    center_col: float | None = None,
    row_offset: int = 0,
    detector_rows: int | None = None,
    order: int = 3,
) -> np.ndarray:
    """Undo a detector tilt by rotating every projection clockwise by ``angle_deg``.

    Output pixel ``(r, c)`` (absolute row ``R = r + row_offset``) takes the input value at
    ``row = cr + (R - cr) cos(a) - (c - cc) sin(a)``,
    ``col = cc + (R - cr) sin(a) + (c - cc) cos(a)``, i.e. the input rotated clockwise as
    displayed (row 0 at the top), which restores an image that a tilt of ``+a`` had turned
    counter-clockwise.

    Parameters
    ----------
    data : numpy.ndarray
        Projections ``(angle, row, column)`` (any stage: raw, normalised or -log), or one
        2-D projection ``(row, column)``.
    angle_deg : float
        Detector tilt in degrees, positive for counter-clockwise image rotation.
    center_row : float, optional
        Rotation centre row in absolute detector pixels (pixel-centre convention). Default
        ``(detector_rows - 1) / 2``.
    center_col : float, optional
        Rotation centre column in pixels. Default ``(ncols - 1) / 2``.
    row_offset : int, optional
        Absolute detector row of ``data[:, 0, :]`` (0 for a whole detector); with a
        block, read :func:`tilt_margin` extra rows on each side and crop them afterwards.
    detector_rows : int, optional
        Number of rows of the whole detector, used only for the default ``center_row``;
        defaults to ``data.shape[1]``, which is only right when ``row_offset`` is 0 and
        ``data`` is the whole detector, so give it (or ``center_row``) with a block.
    order : {1, 3}, optional
        1: bilinear; 3 (default): Keys cubic convolution (sharper, same locality).

    Returns
    -------
    numpy.ndarray
        Rotated projections, float32, same shape as ``data``.

    Raises
    ------
    ParameterError
        Bad shape, non-finite angle or centre, ``order`` not 1 or 3, a negative
        ``row_offset``, or ``row_offset`` without ``center_row`` / ``detector_rows``.
    """
    arr = np.asarray(data)
    if arr.ndim not in (2, 3):
        raise ParameterError(f"correct_tilt: data must be (angle, row, column) or (row, column), got shape {arr.shape}")
    single = arr.ndim == 2
    stack = np.ascontiguousarray(arr[np.newaxis] if single else arr, dtype=np.float32)
    _, nrows, ncols = stack.shape
    angle = check_number(angle_deg, "angle_deg")
    if order not in (1, 3):
        raise ParameterError(f"correct_tilt: order must be 1 (bilinear) or 3 (cubic), got {order!r}")
    row_offset = check_positive_int(row_offset, "correct_tilt: row_offset", minimum=0, integral_float=True)
    if center_row is None:
        if detector_rows is None:
            if row_offset != 0:
                raise ParameterError(
                    "correct_tilt: with row_offset != 0 give center_row (absolute detector "
                    "row) or detector_rows, so that the rotation centre is known"
                )
            detector_rows = nrows
        cr = (check_positive_int(detector_rows, "detector_rows", integral_float=True) - 1) / 2.0
    else:
        cr = check_number(center_row, "center_row")
    cc = (ncols - 1) / 2.0 if center_col is None else check_number(center_col, "center_col")
    logger.debug(
        "tilt correction: %.4f deg about row %.2f, column %.2f (block rows %d..%d), order %d",
        angle,
        cr,
        cc,
        row_offset,
        row_offset + nrows - 1,
        order,
    )
    if angle == 0.0:
        out = stack.copy()
    else:
        a = math.radians(angle)
        out = np.empty_like(stack)
        _rotate(stack, out, math.cos(a), math.sin(a), cr - row_offset, cc, order)
    return out[0] if single else out


@njit(cache=True, inline="always")
def keys_weights(t: float) -> tuple[float, float, float, float]:
    """Keys (a = -0.5) cubic convolution weights of the taps at ``-1, 0, 1, 2`` for a
    fractional position ``0 <= t < 1``; they sum to 1 and give ``(0, 1, 0, 0)`` at 0."""
    t2 = t * t
    t3 = t2 * t
    w0 = -0.5 * t3 + t2 - 0.5 * t
    w1 = 1.5 * t3 - 2.5 * t2 + 1.0
    w2 = -1.5 * t3 + 2.0 * t2 + 0.5 * t
    w3 = 0.5 * t3 - 0.5 * t2
    return w0, w1, w2, w3


@njit(cache=True, inline="always")
def _clamp(i: int, n: int) -> int:
    return 0 if i < 0 else (n - 1 if i >= n else i)


@njit(parallel=True, cache=True)
def _rotate(src, out, cos_a, sin_a, cr_block, cc, order):  # pragma: no cover
    nproj, nrows, ncols = src.shape
    for job in prange(nproj * nrows):
        p = job // nrows
        r = job % nrows
        img = src[p]
        dr = r - cr_block  # row relative to the centre (block and absolute agree)
        for c in range(ncols):
            dc = c - cc
            y = cr_block + dr * cos_a - dc * sin_a
            x = cc + dr * sin_a + dc * cos_a
            fy = math.floor(y)
            fx = math.floor(x)
            ty = y - fy
            tx = x - fx
            iy = int(fy)
            ix = int(fx)
            if order == 1:
                y0 = _clamp(iy, nrows)
                y1 = _clamp(iy + 1, nrows)
                x0 = _clamp(ix, ncols)
                x1 = _clamp(ix + 1, ncols)
                top = img[y0, x0] * (1.0 - tx) + img[y0, x1] * tx
                bot = img[y1, x0] * (1.0 - tx) + img[y1, x1] * tx
                out[p, r, c] = top * (1.0 - ty) + bot * ty
            else:
                wy = keys_weights(ty)
                wx = keys_weights(tx)
                acc = 0.0
                for m in range(4):
                    yy = _clamp(iy - 1 + m, nrows)
                    line = 0.0
                    for n in range(4):
                        line += wx[n] * img[yy, _clamp(ix - 1 + n, ncols)]
                    acc += wy[m] * line
                out[p, r, c] = acc
    return out
