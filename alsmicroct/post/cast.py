"""Conversion of reconstructed values to 8-bit grey levels."""

from __future__ import annotations

import logging

import numpy as np

from alsmicroct.errors import ParameterError

__all__ = ["to_uint8"]

logger = logging.getLogger(__name__)

_BLOCK = 1 << 22  # elements converted per step (bounds the float64 temporary)


def to_uint8(data: np.ndarray, *, dmin: float, dmax: float) -> np.ndarray:
    """Linear map of ``[dmin, dmax]`` onto 0..255 with rounding and clipping.

    ``v = floor(0.5 + 255 * (x - dmin) / (dmax - dmin))`` clipped to ``[0, 255]``, computed
    in float64 so the rounding does not depend on float32 error. NaN maps to 0.

    Parameters
    ----------
    data : numpy.ndarray
        Values in the data's units (e.g. 1/cm).
    dmin, dmax : float
        Values mapped to grey levels 0 and 255 (same units as ``data``).

    Returns
    -------
    numpy.ndarray
        uint8 array of the same shape.

    Raises
    ------
    ParameterError
        ``dmin >= dmax`` or either is not finite.
    """
    lo, hi = float(dmin), float(dmax)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi:
        raise ParameterError(f"to_uint8: need finite dmin < dmax, got dmin={dmin!r}, dmax={dmax!r}")
    arr = np.asarray(data)
    out = np.empty(arr.shape, dtype=np.uint8)
    flat_in = arr.reshape(-1)
    flat_out = out.reshape(-1)
    scale = 255.0 / (hi - lo)
    for start in range(0, flat_in.size, _BLOCK):
        block = flat_in[start : start + _BLOCK].astype(np.float64)
        block -= lo
        block *= scale
        block += 0.5
        np.floor(block, out=block)
        np.clip(block, 0.0, 255.0, out=block)
        np.nan_to_num(block, copy=False, nan=0.0)
        flat_out[start : start + _BLOCK] = block
    return out
