"""Post-processing of reconstructed slices: array in, array out.

* :func:`circ_mask` -- circular field-of-view mask.
* :func:`remove_ring` -- ring removal in polar coordinates (TomoPy-compatible parameters).
* :func:`to_uint8` -- linear cast to 8-bit grey levels.
* :func:`bilateral_filter` -- edge-preserving 3-D bilateral filter (separable, numba);
  :func:`bilateral_filter_exact` is the brute-force reference.

All functions take float arrays ``(nslices, ny, nx)`` (most also accept one 2-D slice),
return new float32 arrays (uint8 for :func:`to_uint8`) and never modify their input,
unless asked to (``circ_mask(..., inplace=True)``).
"""

from __future__ import annotations

from alsmicroct.post.bilateral import bilateral_filter, bilateral_filter_exact
from alsmicroct.post.cast import to_uint8
from alsmicroct.post.mask import circ_mask, circle_mask_2d
from alsmicroct.post.rings import remove_ring

__all__ = [
    "bilateral_filter",
    "bilateral_filter_exact",
    "circ_mask",
    "circle_mask_2d",
    "remove_ring",
    "to_uint8",
]
