"""Reconstruction engine: gridrec on a non-uniform FFT, real-space FBP, centre finding.

Geometry and units follow ``docs/geometry.md``; see :func:`reconstruct`.
"""

from __future__ import annotations

from alsmicroct.engine.center import (
    center_sweep,
    find_center_nm,
    find_center_pc,
    find_center_vo,
)
from alsmicroct.engine.filters import FILTER_NAMES, filter_response
from alsmicroct.engine.gridrec import angle_weights, clear_plan_cache, default_npad, reconstruct

__all__ = [
    "FILTER_NAMES",
    "angle_weights",
    "center_sweep",
    "clear_plan_cache",
    "default_npad",
    "filter_response",
    "find_center_nm",
    "find_center_pc",
    "find_center_vo",
    "reconstruct",
]
