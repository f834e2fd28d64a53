"""Automatic detector tilt (``autoTilt``): estimate it from the 0/180 degree pair, record it,
and with ``autoTilt="apply"`` (the default) correct it when it matters.

The estimate (:func:`alsmicroct.engine.center_confidence.estimate_tilt`) runs when the user
left ``correcttilt`` at 0 and ``autoTilt`` is not ``"off"``; a given non-zero ``correcttilt``
is used as given and never estimated. A tilt *matters* when it moves the detector's edge
columns by more than :data:`TILT_MATTERS_PX` (``|sin t| * ncol / 2``) and exceeds twice its
error. ``"detect"`` then only warns; ``"apply"`` sets ``correcttilt`` to the
estimate in the plan's parameters, so the existing tilt step (:func:`alsmicroct.prep.correct_tilt`)
corrects every row block. A pair without structure (blank, saturated) or no 0/180 pair is
never applied: a warning, and the reason recorded. The record is ``plan.tilt_info``
(provenance ``resolved.tilt``, ``ReconResult.tilt_info``).
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from .plan import ReconPlan

__all__ = ["TILT_MATTERS_PX", "with_tilt"]

logger = logging.getLogger(__name__)

#: a tilt that moves the detector's edge columns by more than this (px) is worth correcting
TILT_MATTERS_PX = 0.5


def _estimate(scan, plan: ReconPlan) -> tuple[float, float, str | None]:
    """Tilt and error (degrees) from the plan's 0/180 pair, or ``(0, inf, reason)``."""
    from ..engine.center_confidence import TILT_MIN_ROWS, estimate_tilt
    from .center import _normalized_pair, pair_180, pc_rows

    start, stop, _step = pc_rows(plan, scan.meta.nslices)
    if stop - start < TILT_MIN_ROWS:  # known before reading anything
        return 0.0, math.inf, f"only {stop - start} detector rows (fewer than {TILT_MIN_ROWS})"
    usable = np.flatnonzero(~plan.ignore_mask)
    if usable.size < 2:
        return 0.0, math.inf, "fewer than 2 usable projections"
    i, j, gap = pair_180(plan.theta[usable])
    if gap > math.radians(0.1):
        return 0.0, math.inf, f"no 0/180 degree pair (best pair {math.degrees(gap):.2f} deg off)"
    pair = _normalized_pair(scan, plan, (int(usable[i]), int(usable[j])))
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = -np.log(np.clip(pair, 1e-6, None))
    tilt, err = estimate_tilt(logs[0], logs[1])
    if not math.isfinite(err):
        return 0.0, math.inf, "the 0/180 pair has no usable structure (blank, saturated or noise)"
    return tilt, err, None


def with_tilt(scan, plan: ReconPlan) -> ReconPlan:
    """``plan`` with its tilt record (``tilt_info``) and, for ``autoTilt="apply"``, the
    estimated tilt in ``params.correcttilt``; unchanged when already recorded.

    Returns
    -------
    ReconPlan
        ``tilt_info``: ``mode`` (the ``autoTilt`` value), ``given`` (a non-zero
        ``correcttilt``, else None), ``estimated_deg`` and ``error_deg`` (None when not
        estimated), ``edge_shift_px``, ``matters``, ``applied_deg`` (the tilt corrected, 0
        for none) and ``reason`` (why nothing was estimated or applied, else None).
    """
    if plan.tilt_info is not None:
        return plan
    p = plan.params
    mode = p.autoTilt
    info = {"mode": mode, "given": None, "estimated_deg": None, "error_deg": None}
    info.update(edge_shift_px=None, matters=False, applied_deg=float(p.correcttilt), reason=None)
    if p.correcttilt:
        info.update(given=float(p.correcttilt), reason="correcttilt given")
        return dataclasses.replace(plan, tilt_info=info)
    if mode == "off":
        info["reason"] = "autoTilt='off'"
        return dataclasses.replace(plan, tilt_info=info)
    tilt, err, why = _estimate(scan, plan)
    if why is not None:
        logger.warning("%s: detector tilt not estimated (%s); no tilt correction", plan.path.name, why)
        info["reason"] = why
        return dataclasses.replace(plan, tilt_info=info)
    shift = abs(math.sin(math.radians(tilt))) * plan.meta.nrays / 2.0
    matters = shift > TILT_MATTERS_PX and abs(tilt) > 2.0 * err
    info.update(estimated_deg=round(tilt, 4), error_deg=round(err, 4), edge_shift_px=round(shift, 3), matters=matters)
    if not matters:
        logger.info("%s: detector tilt %.3f +- %.3f deg (negligible)", plan.path.name, tilt, err)
        info["reason"] = "negligible"
        return dataclasses.replace(plan, tilt_info=info)
    if mode == "detect":
        logger.warning(
            "%s: the detector is tilted by %.3f +- %.3f deg (edge columns move %.1f px); not corrected: "
            "set correcttilt=%.3f or autoTilt='apply'",
            plan.path.name,
            tilt,
            err,
            shift,
            tilt,
        )
        info["reason"] = "autoTilt='detect'"
        return dataclasses.replace(plan, tilt_info=info)
    logger.warning("%s: detector tilt %.3f +- %.3f deg estimated and corrected", plan.path.name, tilt, err)
    info["applied_deg"] = round(tilt, 4)
    params = dataclasses.replace(p, correcttilt=round(tilt, 4))
    return dataclasses.replace(plan, params=params, tilt_info=info)
