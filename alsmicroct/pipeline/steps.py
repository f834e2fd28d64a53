"""The step table: every recon() processing step, in legacy order, in one place.

Each entry of :data:`STEPS` declares the step's name, the axis it needs (``"sino"``: row
blocks holding every projection; ``"proj"``: whole projections; ``"slice"``: reconstructed
slices), the parameter fields it reads, when it is on, its row margin (steps that look at
neighbouring rows run on blocks read with extra rows, cropped afterwards, so results do not
depend on chunking) and whether it also prepares the sinograms used for centre finding.

Adding a step (say a new stripe filter) means: the array function in ``prep/`` (or
``post/``), its parameter fields in :class:`~alsmicroct.params.ReconParams`, one entry here,
and its test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..params import ReconParams
from .plan import ReconPlan

__all__ = ["STEPS", "Block", "Step", "StepSpec", "build_steps", "centre_steps", "enabled_step_names", "post_steps"]

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
    """One processing step bound to a plan: ``run(block, plan)`` returns the new data array."""

    name: str
    axis: str  # "sino", "proj" or "slice"
    run: Callable[[Block, ReconPlan], np.ndarray]
    row_margin: int = 0  # extra rows needed on each side


@dataclass(frozen=True)
class StepSpec:
    """One entry of the step table.

    Attributes
    ----------
    name : str
        Step name (logs, timings, errors).
    axis : {"sino", "proj", "slice"}
        What one call sees: row blocks with every projection, whole projections, or
        reconstructed slices (float32 in 1/cm, after scaling).
    fields : tuple of str
        The :class:`~alsmicroct.params.ReconParams` fields the step reads.
    enabled : callable
        ``enabled(params)``: whether the step runs.
    run : callable
        ``run(block, plan)`` -> the new data array.
    margin : callable, optional
        ``margin(plan)``: extra rows needed on each side (0 when None).
    before_centre : bool
        Also applied to the sinograms that centre finding reads.
    """

    name: str
    axis: str
    fields: tuple[str, ...]
    enabled: Callable[[ReconParams], bool]
    run: Callable[[Block, ReconPlan], np.ndarray]
    margin: Callable[[ReconPlan], int] | None = None
    before_centre: bool = False

    def bind(self, plan: ReconPlan) -> Step:
        """This step for ``plan`` (its row margin resolved)."""
        return Step(self.name, self.axis, self.run, int(self.margin(plan)) if self.margin else 0)


def _outliers_1d(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_outlier_1d

    p = plan.params
    return remove_outlier_1d(block.data, dif=p.outlier_diff1D, size=p.outlier_size1D)


def _outliers_2d(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_outlier_2d

    p = plan.params
    return remove_outlier_2d(block.data, dif=p.outlier_diff2D, size=p.outlier_size2D)


def _normalize(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..io.sanity import check_transmission
    from ..prep import minus_log, normalize, normalize_nf

    if plan.params.useNormalize_nf:
        data = normalize_nf(
            block.data,
            block.flats,
            block.darks,
            flat_indices=block.flat_indices,
            proj_indices=plan.proj_indices[block.proj],
        )
    else:
        data = normalize(block.data, block.flats, block.darks)
    block.flats = block.darks = None
    check_transmission(
        data,
        proj_indices=plan.proj_indices[block.proj],
        rows=block.rows,
        where=str(plan.path),
        policy=plan.params.badData,
        ignore=plan.ignore_mask[block.proj],
    )
    data = minus_log(data)
    if plan.ignore_mask[block.proj].any():
        data[plan.ignore_mask[block.proj]] = 0.0
    return data


def _beam_hardening(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import beam_hardening

    return beam_hardening(block.data, coefficients=plan.bh_coefficients)


def _masked(
    block: Block,
    plan: ReconPlan,
    func: Callable[[np.ndarray], np.ndarray],
    *,
    legacy: bool = False,
    constant: bool = False,
) -> np.ndarray:
    """``func`` on the detected stripe columns only (``ringMask``), else (or ``legacy``: the
    doTIringremoval / doSFringremoval switches keep their exact legacy meaning) on everything.
    ``constant``: keep only the angle-constant part of the correction, except on strong
    stripes (:func:`~alsmicroct.prep.stripes_vo.apply_masked`)."""
    from ..prep.stripes_vo import apply_masked

    p = plan.params
    if legacy or not p.ringMask:
        return func(block.data)
    out, mask = apply_masked(
        block.data, func, snr=p.ringSnr, size=p.ringDetectSize, dilate=p.ringDilate, constant=constant
    )
    logger.debug(
        "rows %d..%d: %.1f %% of the columns corrected as stripes", block.rows[0], block.rows[-1], 100 * mask.mean()
    )
    return out


def _method(name: str) -> Callable[[ReconParams], bool]:
    """Enabled when doFWringremoval is on with ``ringMethod == name``."""
    return lambda p: p.doFWringremoval and p.ringMethod == name


def _stripe_fw(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_stripe_fw

    p = plan.params
    return _masked(
        block,
        plan,
        lambda d: remove_stripe_fw(
            d, level=p.ringLevel, wname=p.ringWavelet, sigma=p.ringSigma, pad=True, num_threads=p.num_threads
        ),
        constant=True,
    )


def _stripe_ti(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_stripe_ti

    p = plan.params
    return _masked(
        block,
        plan,
        lambda d: remove_stripe_ti(d, nblock=p.ringNBlock, alpha=p.ringAlpha, num_threads=p.num_threads),
        legacy=not _method("ti")(p),
    )


def _stripe_sf(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_stripe_sf

    p = plan.params
    return _masked(
        block,
        plan,
        lambda d: remove_stripe_sf(d, size=p.ringSize, num_threads=p.num_threads),
        legacy=not _method("sf")(p),
    )


def _stripe_sorting(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_stripe_based_sorting

    return _masked(block, plan, lambda d: remove_stripe_based_sorting(d, num_threads=plan.params.num_threads))


def _stripe_large(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_large_stripe

    p = plan.params
    return remove_large_stripe(block.data, snr=p.ringSnr, num_threads=p.num_threads)


def _stripe_vo_dead(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_dead_stripe

    p = plan.params
    return remove_dead_stripe(block.data, snr=p.ringSnr, residual=True, num_threads=p.num_threads)


def _stripe_all(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_all_stripe

    p = plan.params
    return remove_all_stripe(block.data, snr=p.ringSnr, num_threads=p.num_threads)


def _dead_columns_on(p: ReconParams) -> bool:
    """Dead-column interpolation before the masked filter of doFWringremoval (fw/ti/sf/sorting)."""
    return p.doFWringremoval and p.ringMethod in _MASKED_METHODS and p.ringMask and p.ringDead


def _dead_columns(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..prep import remove_dead_stripe

    p = plan.params
    return remove_dead_stripe(block.data, snr=p.ringSnr, residual=False, num_threads=p.num_threads)


#: ring methods whose filter acts on the detected stripe columns only (with ringMask)
_MASKED_METHODS = ("fw", "ti", "sf", "sorting")
#: the fields every masked stripe step reads besides its own
_MASK_FIELDS = ("ringMask", "ringSnr", "ringDetectSize", "ringDilate")


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
    return correct_tilt(
        block.data, angle_deg=p.correcttilt, center_row=crow, center_col=ccol, row_offset=int(block.rows[0])
    )


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
    out = retrieve_phase(
        transmission,
        pixel_size_cm=plan.pxsize_cm,
        dist_cm=plan.dist_cm,
        energy_kev=plan.energy_kev,
        alpha=p.alphaReg,
        pad=True,
    )
    return minus_log(out)


def _outliers_2d_margin(plan: ReconPlan) -> int:
    return plan.params.outlier_size2D // 2 + 1


def _tilt_margin(plan: ReconPlan) -> int:
    from ..prep.tilt import tilt_margin

    crow, ccol = _tilt_center(plan)
    return tilt_margin(
        plan.params.correcttilt, plan.meta.nrays, nrows=plan.meta.nslices, center_col=ccol, center_row=crow
    )


def _phase_margin(plan: ReconPlan) -> int:
    """Rows the Paganin kernel reaches: the store must hold them around the output rows."""
    from ..prep.phase import phase_pad_widths

    _, (row_reach, _) = phase_pad_widths(
        (plan.meta.nslices, plan.meta.nrays),
        pixel_size_cm=plan.pxsize_cm,
        dist_cm=plan.dist_cm,
        energy_kev=plan.energy_kev,
        alpha=plan.params.alphaReg,
    )
    return int(row_reach)


def _polar_ring(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..post import remove_ring

    p = plan.params
    return remove_ring(
        block.data, thresh=p.Rthr, thresh_max=p.Rtmax, thresh_min=p.Rtmin, theta_min=p.Rarc, rwidth=p.Rmaxwidth
    )


def _cast_8bit(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..post import to_uint8

    return to_uint8(block.data, dmin=plan.params.cast8bit_min, dmax=plan.params.cast8bit_max)


def _bilateral(block: Block, plan: ReconPlan) -> np.ndarray:
    from ..post import bilateral_filter

    p = plan.params
    filtered = bilateral_filter(
        block.data.astype(np.float32), spatial_radius=p.bilateral_srad, range_radius=p.bilateral_rrad
    )
    return np.clip(np.rint(filtered), 0, 255).astype(np.uint8) if p.castTo8bit else filtered


def _always(_params: ReconParams) -> bool:
    return True


#: Every step, in the order it runs. The reconstruction itself (``engine.reconstruct``,
#: scaling to 1/cm and the circular mask) sits between the last "sino"/"proj" step and the
#: first "slice" step.
STEPS: tuple[StepSpec, ...] = (
    StepSpec(
        "outliers1D",
        "sino",
        ("doOutliers1D", "outlier_diff1D", "outlier_size1D"),
        lambda p: p.doOutliers1D,
        _outliers_1d,
        before_centre=True,
    ),
    StepSpec(
        "outliers2D",
        "sino",
        ("doOutliers2D", "outlier_diff2D", "outlier_size2D"),
        lambda p: p.doOutliers2D,
        _outliers_2d,
        margin=_outliers_2d_margin,
    ),
    StepSpec("normalize", "sino", ("useNormalize_nf", "projIgnoreList"), _always, _normalize, before_centre=True),
    StepSpec(
        "beam_hardening",
        "sino",
        ("doBeamHardening", "BeamHardeningCoefficients"),
        lambda p: p.doBeamHardening,
        _beam_hardening,
        before_centre=True,
    ),
    StepSpec(
        "stripes_dead_columns",
        "sino",
        ("doFWringremoval", "ringMethod", "ringMask", "ringDead", "ringSnr"),
        _dead_columns_on,
        _dead_columns,
    ),
    StepSpec(
        "stripes_fw",
        "sino",
        ("doFWringremoval", "ringMethod", "ringLevel", "ringWavelet", "ringSigma", *_MASK_FIELDS),
        _method("fw"),
        _stripe_fw,
    ),
    StepSpec(
        "stripes_sorting", "sino", ("doFWringremoval", "ringMethod", *_MASK_FIELDS), _method("sorting"), _stripe_sorting
    ),
    StepSpec("stripes_large", "sino", ("doFWringremoval", "ringMethod", "ringSnr"), _method("large"), _stripe_large),
    StepSpec("stripes_vo_dead", "sino", ("doFWringremoval", "ringMethod", "ringSnr"), _method("dead"), _stripe_vo_dead),
    StepSpec("stripes_all", "sino", ("doFWringremoval", "ringMethod", "ringSnr"), _method("all"), _stripe_all),
    StepSpec(
        "stripes_ti",
        "sino",
        ("doTIringremoval", "doFWringremoval", "ringMethod", "ringNBlock", "ringAlpha", *_MASK_FIELDS),
        lambda p: p.doTIringremoval or _method("ti")(p),
        _stripe_ti,
    ),
    StepSpec(
        "stripes_sf",
        "sino",
        ("doSFringremoval", "doFWringremoval", "ringMethod", "ringSize", *_MASK_FIELDS),
        lambda p: p.doSFringremoval or _method("sf")(p),
        _stripe_sf,
    ),
    StepSpec(
        "tilt",
        "sino",
        ("correcttilt", "tiltcenter_slice", "tiltcenter_det"),
        lambda p: bool(p.correcttilt),
        _tilt,
        margin=_tilt_margin,
    ),
    StepSpec("360to180", "sino", ("use360to180",), lambda p: p.use360to180, _stitch),
    StepSpec(
        "phase",
        "proj",
        ("doPhaseRetrieval", "propagation_dist", "kev", "alphaReg"),
        lambda p: p.doPhaseRetrieval,
        _phase,
        margin=_phase_margin,
    ),
    StepSpec(
        "polar_ring",
        "slice",
        ("doPolarRing", "Rthr", "Rtmax", "Rtmin", "Rarc", "Rmaxwidth"),
        lambda p: p.doPolarRing,
        _polar_ring,
    ),
    StepSpec("cast_8bit", "slice", ("castTo8bit", "cast8bit_min", "cast8bit_max"), lambda p: p.castTo8bit, _cast_8bit),
    StepSpec(
        "bilateral",
        "slice",
        ("doBilateralFilter", "bilateral_srad", "bilateral_rrad"),
        lambda p: p.doBilateralFilter,
        _bilateral,
        margin=lambda plan: plan.params.bilateral_srad,
    ),
)


def enabled_step_names(params: ReconParams) -> list[str]:
    """Names of the steps ``params`` switch on, in the order they run."""
    return [spec.name for spec in STEPS if spec.enabled(params)]


def build_steps(plan: ReconPlan) -> list[Step]:
    """The pre-reconstruction steps (``"sino"`` and ``"proj"``) that ``plan.params`` switch on."""
    return [spec.bind(plan) for spec in STEPS if spec.axis != "slice" and spec.enabled(plan.params)]


def centre_steps(plan: ReconPlan) -> list[Step]:
    """The steps applied to the sinograms read for centre finding. Stripe filters are left
    out: at legacy depths (ringLevel=8) FW flattens narrow sinograms, and Vo's method is
    insensitive to stripes by construction."""
    return [spec.bind(plan) for spec in STEPS if spec.before_centre and spec.enabled(plan.params)]


def post_steps(plan: ReconPlan) -> list[Step]:
    """The steps on reconstructed slices that ``plan.params`` switch on."""
    return [spec.bind(plan) for spec in STEPS if spec.axis == "slice" and spec.enabled(plan.params)]
