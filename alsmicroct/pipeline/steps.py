"""The recon() processing steps, bound to their parameters, in legacy order.

Each step declares the axis it needs: ``"sino"`` steps work on row blocks holding every
projection, ``"proj"`` steps on whole projections. Steps that look at neighbouring rows
(2-D outliers, tilt) declare a row margin so that they can run on row blocks read with
extra rows; the runner crops the margins afterwards, so results do not depend on chunking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .plan import ReconPlan

__all__ = ["Step", "Block", "build_steps"]

logger = logging.getLogger(__name__)


@dataclass
class Block:
    """A block of data in flight: ``data`` is float32 (angle, row, column).

    ``rows`` are the absolute detector rows of axis 1, ``proj`` the positions (into the
    plan's used projections) of axis 0; ``flats``/``darks`` hold raw reference images for
    the same rows (only until normalisation).
    """

    data: np.ndarray
    rows: np.ndarray
    proj: np.ndarray
    flats: np.ndarray | None = None
    darks: np.ndarray | None = None
    flat_indices: np.ndarray | None = None


@dataclass(frozen=True)
class Step:
    """One processing step: ``run(block, plan)`` returns the new data array."""

    name: str
    axis: str                      # "sino" or "proj"
    run: Callable[[Block, ReconPlan], np.ndarray]
    row_margin: int = 0            # extra rows needed on each side (sino axis)


def _outliers_1d(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_outlier_1d

    p = plan.params
    return remove_outlier_1d(block.data, dif=p.outlier_diff1D, size=p.outlier_size1D)


def _outliers_2d(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_outlier_2d

    p = plan.params
    return remove_outlier_2d(block.data, dif=p.outlier_diff2D, size=p.outlier_size2D)


def _normalize(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import minus_log, normalize, normalize_nf

    if plan.params.useNormalize_nf:
        data = normalize_nf(block.data, block.flats, block.darks, flat_indices=block.flat_indices,
                            proj_indices=plan.proj_indices[block.proj])
    else:
        data = normalize(block.data, block.flats, block.darks)
    block.flats = block.darks = None
    data = minus_log(data)
    if plan.ignore_mask[block.proj].any():
        data[plan.ignore_mask[block.proj]] = 0.0
    return data


def _beam_hardening(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import beam_hardening

    return beam_hardening(block.data, coefficients=plan.bh_coefficients)


def _stripe_fw(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_stripe_fw

    p = plan.params
    return remove_stripe_fw(block.data, level=p.ringLevel, wname=p.ringWavelet, sigma=p.ringSigma, pad=True,
                            num_threads=p.num_threads)


def _stripe_ti(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_stripe_ti

    p = plan.params
    return remove_stripe_ti(block.data, nblock=p.ringNBlock, alpha=p.ringAlpha, num_threads=p.num_threads)


def _stripe_sf(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_stripe_sf

    return remove_stripe_sf(block.data, size=plan.params.ringSize, num_threads=plan.params.num_threads)


def _tilt_center(plan: ReconPlan) -> tuple[float, float]:
    """Tilt rotation point (row, column), absolute detector pixels; default the detector centre."""
    p, meta = plan.params, plan.meta
    crow = p.tiltcenter_slice if p.tiltcenter_slice is not None else (meta.nslices - 1) / 2.0
    ccol = p.tiltcenter_det if p.tiltcenter_det is not None else (meta.nrays - 1) / 2.0
    return crow, ccol


def _tilt(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep.tilt import correct_tilt

    p = plan.params
    crow, ccol = _tilt_center(plan)
    return correct_tilt(block.data, angle_deg=p.correcttilt, center_row=crow, center_col=ccol,
                        row_offset=int(block.rows[0]))


def _stitch(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep.stitch import sino_360_to_180

    data, _ = sino_360_to_180(block.data, center=plan.cor, rotation=plan.rotation)
    return data


def _phase(block: Block, plan: ReconPlan) -> np.ndarray:
    """Paganin retrieval on -log data: back to transmission, filter, -log again."""
    from ..prep import minus_log
    from ..prep.phase import retrieve_phase

    p = plan.params
    transmission = np.exp(-block.data)
    out = retrieve_phase(transmission, pixel_size_cm=plan.pxsize_cm, dist_cm=plan.dist_cm,
                         energy_kev=plan.energy_kev, alpha=p.alphaReg, pad=True)
    return minus_log(out)


def build_steps(plan: ReconPlan) -> list[Step]:
    """The pre-reconstruction steps that ``plan.params`` switches on, in legacy order."""
    p = plan.params
    steps: list[Step] = []
    if p.doOutliers1D:
        steps.append(Step("outliers1D", "sino", _outliers_1d))
    if p.doOutliers2D:
        steps.append(Step("outliers2D", "sino", _outliers_2d, row_margin=p.outlier_size2D // 2 + 1))
    steps.append(Step("normalize", "sino", _normalize))
    if p.doBeamHardening:
        steps.append(Step("beam_hardening", "sino", _beam_hardening))
    if p.doFWringremoval:
        steps.append(Step("stripes_fw", "sino", _stripe_fw))
    if p.doTIringremoval:
        steps.append(Step("stripes_ti", "sino", _stripe_ti))
    if p.doSFringremoval:
        steps.append(Step("stripes_sf", "sino", _stripe_sf))
    if p.correcttilt:
        from ..prep.tilt import tilt_margin

        crow, ccol = _tilt_center(plan)
        margin = tilt_margin(p.correcttilt, plan.meta.nrays, nrows=plan.meta.nslices, center_col=ccol, center_row=crow)
        steps.append(Step("tilt", "sino", _tilt, row_margin=margin))
    if p.use360to180:
        steps.append(Step("360to180", "sino", _stitch))
    if p.doPhaseRetrieval:
        from ..prep.phase import phase_pad_widths

        # rows the Paganin kernel reaches: the store must hold them around the output rows
        _, (row_reach, _) = phase_pad_widths((plan.meta.nslices, plan.meta.nrays), pixel_size_cm=plan.pxsize_cm,
                                             dist_cm=plan.dist_cm, energy_kev=plan.energy_kev, alpha=p.alphaReg)
        steps.append(Step("phase", "proj", _phase, row_margin=int(row_reach)))
    return steps
