"""Circular field-of-view mask for reconstructed slices."""

from __future__ import annotations

import logging

import numpy as np

from alsmicroct.errors import ParameterError

__all__ = ["circ_mask", "circle_mask_2d"]

logger = logging.getLogger(__name__)


def circle_mask_2d(ny: int, nx: int, *, ratio: float = 1.0) -> np.ndarray:
    """Boolean disc of an ``(ny, nx)`` slice: True inside the field of view.

    The disc is centred on pixel ``((ny - 1) / 2, (nx - 1) / 2)`` (the rotation axis, see
    ``docs/geometry.md``) and its radius is ``ratio * min(ny, nx) / 2`` pixels; a pixel is
    inside when its centre lies strictly inside the circle (TomoPy's ``circ_mask``).

    Parameters
    ----------
    ny, nx : int
        Slice size in pixels (rows, columns).
    ratio : float, optional
        Mask diameter as a fraction of the smaller slice edge (> 0).

    Returns
    -------
    numpy.ndarray
        ``bool`` array of shape ``(ny, nx)``.
    """
    if not ratio > 0:
        raise ParameterError(f"circ_mask: ratio must be > 0, got {ratio!r}")
    y = np.arange(ny, dtype=np.float64) - (ny - 1) / 2.0
    x = np.arange(nx, dtype=np.float64) - (nx - 1) / 2.0
    r2 = (ratio * min(ny, nx) / 2.0) ** 2
    return (y[:, None] ** 2 + x[None, :] ** 2) < r2


def circ_mask(
    data: np.ndarray,
    *,
    ratio: float = 1.0,
    val: float = 0.0,
    axis: int = 0,
    inplace: bool = False,
) -> np.ndarray:
    """Set the pixels outside a centred circle to ``val``.

    Parameters
    ----------
    data : numpy.ndarray
        Reconstructed slices, ``(nslices, N, N)`` (or a single 2-D slice), any units.
    ratio : float, optional
        Circle diameter as a fraction of the smaller slice edge; radius
        ``ratio * min(ny, nx) / 2`` pixels, centred at ``((ny - 1) / 2, (nx - 1) / 2)``.
    val : float, optional
        Value given to the pixels outside (same units as ``data``).
    axis : int, optional
        Axis of ``data`` that indexes the slices (0 for ``(nslices, N, N)``).
    inplace : bool, optional
        Modify ``data`` in place (it must then be a writeable float32 array) instead of
        returning a float32 copy.

    Returns
    -------
    numpy.ndarray
        float32 array of the same shape as ``data``.
    """
    arr = np.asarray(data)
    if arr.ndim not in (2, 3):
        raise ParameterError(f"circ_mask: expected 2-D or 3-D data, got shape {arr.shape}")
    if inplace:
        if arr.dtype != np.float32 or not arr.flags.writeable:
            raise ParameterError("circ_mask(inplace=True) needs a writeable float32 array")
        out = arr
    else:
        out = arr.astype(np.float32, copy=True)
    if out.ndim == 2:
        view = out[None]
    else:
        if not -3 <= axis < 3:
            raise ParameterError(f"circ_mask: axis {axis} out of range for 3-D data")
        view = np.moveaxis(out, axis, 0)
    outside = ~circle_mask_2d(view.shape[1], view.shape[2], ratio=ratio)
    view[:, outside] = np.float32(val)
    return out
