"""Reconstruction engine: gridrec on a non-uniform FFT, real-space FBP, iterative methods
(SIRT, CGLS, TV) on the NUFFT projector pair, centre finding.

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
from alsmicroct.engine.iterative import (
    ConvergenceLog,
    check_iterative_options,
    reconstruct_iterative,
)
from alsmicroct.engine.projector import NormalOperator, backproject, normal_operator, project

__all__ = [
    "FILTER_NAMES",
    "ConvergenceLog",
    "NormalOperator",
    "angle_weights",
    "backproject",
    "center_sweep",
    "check_iterative_options",
    "clear_plan_cache",
    "default_npad",
    "filter_response",
    "find_center_nm",
    "find_center_pc",
    "find_center_vo",
    "normal_operator",
    "project",
    "reconstruct",
    "reconstruct_iterative",
]
