"""Centre of rotation for recon(): read what each method needs, then call the engine.

- ``pc``: the first used projection and the one nearest to it + 180 deg (whatever the
  scan's angle list is), each divided by its nearest flat group, on the reconstructed rows
  (at least :data:`PC_MIN_ROWS` of them), sub-pixel phase correlation.
- ``vo``: Vo's method on a real -log sinogram (row ``voInd``, default the middle of the
  reconstructed rows), restricted to the first 180 deg.
- ``nm``: entropy minimisation with Nelder-Mead on the sinogram of row ``nmInd``.
- 360 deg scans stitched to 180 deg: the axis and its side from mirrored partners.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..errors import ReconstructionError
from ..prep.stitch import WEAK_MATCH_CONTRAST
from .plan import ReconPlan
from .steps import Block, centre_steps

__all__ = [
    "MATCH_360_MIN_CONTRAST",
    "PC_MIN_ROWS",
    "center_confidence",
    "center_confidence_360",
    "find_center",
    "find_center_360",
    "pair_180",
    "pc_rows",
    "preprocessed_sinogram",
    "preprocessed_sinograms",
]

logger = logging.getLogger(__name__)


def pair_180(theta: np.ndarray) -> tuple[int, int, float]:
    """The pair of projections closest to 180 deg apart.

    The first projection is used when it has a partner within 0.01 deg; otherwise every
    projection's nearest partner is found (sorted angles, O(n log n)) and the best pair
    taken, so a scan that does not start at a partnered angle still works.

    Returns
    -------
    i, j : int
        Positions of the two projections (``theta[j]`` ~ ``theta[i]`` + 180 deg, mod 360).
    gap : float
        How far from exactly 180 deg the pair is, radians.
    """
    two_pi = 2 * math.pi
    wrapped = np.mod(theta, two_pi)
    order = np.argsort(wrapped)
    ordered = wrapped[order]
    target = np.mod(wrapped + math.pi, two_pi)
    pos = np.searchsorted(ordered, target)
    best = (0, 0, math.inf)
    for cand in (pos - 1, pos):
        j = order[np.mod(cand, ordered.size)]
        gap = np.abs(np.angle(np.exp(1j * (wrapped[j] - target))))
        gap[j == np.arange(theta.size)] = math.inf
        if gap[0] < math.radians(0.01):
            return 0, int(j[0]), float(gap[0])
        i = int(np.argmin(gap))
        if gap[i] < best[2]:
            best = (i, int(j[i]), float(gap[i]))
    return best


def _proj_range(plan: ReconPlan) -> tuple[int, int, int]:
    p = plan.proj_indices
    return int(p[0]), int(p[-1]) + 1, int(p[1] - p[0]) if p.size > 1 else 1


def preprocessed_sinograms(scan, plan: ReconPlan, spec: tuple[int, int, int]) -> np.ndarray:
    """-log sinograms (angle, row, column) of the absolute rows ``spec`` = ``(start, stop, step)``
    (outliers, normalisation, beam hardening), read in one pass over the projections."""
    block = Block(
        data=scan.read_projections(proj=_proj_range(plan), rows=spec),
        rows=np.arange(*spec),
        proj=np.arange(plan.proj_indices.size),
        flats=scan.read_flats(rows=spec),
        darks=scan.read_darks(rows=spec),
        flat_indices=np.asarray(scan.flat_indices),
    )
    for step in centre_steps(plan):
        block.data = step.run(block, plan)
    return np.asarray(block.data, dtype=np.float32)


def preprocessed_sinogram(scan, plan: ReconPlan, row: int) -> np.ndarray:
    """-log sinogram (angle, column) of absolute ``row`` (outliers, normalisation, beam hardening)."""
    return preprocessed_sinograms(scan, plan, (row, row + 1, 1))[:, 0, :]


#: fewest detector rows phase correlation is measured on (a few rows alone give a weak peak)
PC_MIN_ROWS = 64


def pc_rows(plan: ReconPlan, nslices: int) -> tuple[int, int, int]:
    """Detector rows ``(start, stop, 1)`` the ``pc`` centre is measured on: the span of the
    reconstructed rows, widened about its middle to at least :data:`PC_MIN_ROWS` rows (or the
    whole detector when it is shorter), so the centre is the one of the rows reconstructed."""
    lo, hi = int(plan.rows.min()), int(plan.rows.max()) + 1
    want = min(max(hi - lo, PC_MIN_ROWS), nslices)
    start = min(max((lo + hi - want) // 2, 0), nslices - want)
    return start, start + want, 1


def _normalized_pair(scan, plan: ReconPlan, positions: tuple[int, int]) -> np.ndarray:
    """The two projections at ``positions`` of the plan, each divided by its nearest flat group
    (``normalize_nf``), on the rows of :func:`pc_rows` only; float32 (2, rows, columns)."""
    from ..prep import normalize_nf

    rows = pc_rows(plan, scan.meta.nslices)
    idx = [int(plan.proj_indices[k]) for k in positions]

    def pair() -> np.ndarray:
        proj = np.concatenate([scan.read_projections(proj=(i, i + 1, 1), rows=rows) for i in idx])
        flats, darks = scan.read_flats(rows=rows), scan.read_darks(rows=rows)
        out = normalize_nf(proj, flats, darks, flat_indices=scan.flat_indices, proj_indices=idx)
        out.setflags(write=False)  # shared by the tilt estimate and the pc centre
        return out

    remember = getattr(scan, "remember", None)  # pipeline.reads.SharedReads: once per open scan
    return pair() if remember is None else remember(("normalized_pair", tuple(idx), rows), pair)


def _default_row(plan: ReconPlan, row: int | None) -> int:
    return int(plan.rows[plan.rows.size // 2]) if row is None else int(row)


def find_center(scan, plan: ReconPlan, method: str | None = None) -> float:
    """Centre of rotation in pixels from the left edge of the raw detector row.

    Parameters
    ----------
    scan : RawScan
        The open raw file.
    plan : ReconPlan
        Resolved plan (its parameters select the method and its options).
    method : {"pc", "vo", "nm"}, optional
        Overrides ``plan.params.corFunction``.
    """
    from .. import engine

    p = plan.params
    method = method or p.corFunction
    if method == "pc":
        usable = np.flatnonzero(~plan.ignore_mask)  # never measure on a projection the user ignores
        if usable.size < 2:
            raise ReconstructionError(
                f"{plan.path}: projIgnoreList leaves fewer than 2 projections for corFunction='pc'; give cor"
            )
        i, j, gap = pair_180(plan.theta[usable])
        i, j = int(usable[i]), int(usable[j])
        if gap > math.radians(1.0):
            raise ReconstructionError(
                f"{plan.path}: no two projections within 1 deg of 180 deg apart "
                f"(best pair is {math.degrees(gap):.2f} deg off); use corFunction='vo' or 'nm', or give cor"
            )
        pair = _normalized_pair(scan, plan, (i, j))
        cor = engine.find_center_pc(pair[0], pair[1], tol=0.25)
    elif method == "vo":
        cor = _vo_center(plan, preprocessed_sinogram(scan, plan, _default_row(plan, p.voInd)))
    elif method == "nm":
        sino = preprocessed_sinogram(scan, plan, _default_row(plan, p.nmInd))
        cor = engine.find_center_nm(
            sino[:, None, :],
            plan.theta,
            init=p.nmInit,
            tol=p.nmTol,
            mask=p.nmMask,
            ratio=p.nmRatio,
            sinogram_order=p.nmSinoOrder,
        )
    else:
        raise ReconstructionError(f"unknown centre method {method!r}; expected 'pc', 'vo' or 'nm'")
    logger.info("%s: centre of rotation %.2f px (method %s)", plan.path.name, cor, method)
    return float(cor)


#: rows (top, middle, bottom of the reconstructed span) the centre's confidence is checked on
CONFIDENCE_ROWS = 3
#: the found centre and the per-row Vo estimates further apart than this (px): low confidence
CONFIDENCE_MAX_GAP = 1.0


def _confidence_rows(plan: ReconPlan) -> tuple[list[int], tuple[int, int, int]]:
    """:data:`CONFIDENCE_ROWS` reconstructed rows from top to bottom, evenly spaced with one
    exact step (so they are read in a single pass), and their ``(start, stop, step)``."""
    stride = max((plan.rows.size - 1) // max(CONFIDENCE_ROWS - 1, 1), 1)
    picks = np.arange(min(CONFIDENCE_ROWS, plan.rows.size)) * stride
    rows = [int(plan.rows[i]) for i in picks]
    return rows, (rows[0], rows[-1] + 1, int(rows[1] - rows[0]) if len(rows) > 1 else 1)


def center_confidence(scan, plan: ReconPlan, cor: float) -> dict:
    """How sure an automatic centre is: a second, independent estimate on a few rows.

    The -log sinograms of :data:`CONFIDENCE_ROWS` rows spread over the reconstructed rows
    (top, middle, bottom; :func:`preprocessed_sinogram`) go to the one implementation,
    :func:`alsmicroct.engine.center_confidence.estimate_center` (phase correlation of the
    0/180 degree pair against Vo's method on each row, and a line through the per-row
    centres for a drifting axis). The centre ``cor`` found by ``corFunction`` is compared
    with its Vo estimate. The label is "low" when the estimates disagree by more than
    :data:`CONFIDENCE_MAX_GAP` px, when no 0/180 degree pair exists, when the metric has no
    clear minimum, or when the check itself cannot run; a low label is logged as a warning.
    Nothing here changes the centre used.

    Returns
    -------
    dict
        JSON-ready: ``center`` (the one used), ``uncertainty_px``, ``label``
        ("high" | "low"), ``reasons``, ``method``, the second estimates (``pc``, ``vo``),
        ``rows`` (absolute) with their ``row_centers``, and the drift fit
        (``slope_px_per_row`` per detector row, ``drift_px`` over the rows,
        ``drift_significant``).
    """
    from ..engine.center_confidence import estimate_center
    from ..errors import AlsMicroCTError

    method = plan.params.corFunction
    rows, spec = _confidence_rows(plan)
    try:
        sinos = preprocessed_sinograms(scan, plan, spec)
        est = estimate_center(
            sinos,
            plan.theta,
            rows=len(rows),
            max_disagreement=CONFIDENCE_MAX_GAP,
            drift_threshold=CONFIDENCE_MAX_GAP,
            pc=float(cor) if method == "pc" else None,  # measured on >= PC_MIN_ROWS rows
        )
    except (AlsMicroCTError, ValueError, np.linalg.LinAlgError) as exc:
        logger.warning("%s: centre %.2f px: confidence could not be estimated (%s)", plan.path.name, cor, exc)
        return {
            "center": float(cor),
            "uncertainty_px": None,
            "label": "low",
            "method": method,
            "reasons": [f"confidence check failed: {exc}"],
            "rows": rows,
        }
    span = rows[-1] - rows[0]
    drift_px = est.slope * (len(rows) - 1)
    reasons = list(est.reasons)
    gap = abs(float(cor) - est.vo)
    if gap > CONFIDENCE_MAX_GAP and not est.drift_significant:
        reasons.append(f"{method} centre {cor:.2f} and Vo's {est.vo:.2f} (rows {rows}) disagree by {gap:.2f} px")
    info = {
        **est.to_dict(),
        "center": float(cor),
        "method": method,
        "label": "low" if reasons else "high",
        "reasons": reasons,
        "uncertainty_px": round(max(est.uncertainty, 0.5 * gap), 3),
        "rows": rows,
        "slope_px_per_row": drift_px / span if span else 0.0,
        "drift_px": round(drift_px, 3),
    }
    if est.drift_significant:
        logger.warning(
            "%s: the rotation axis drifts by %.2f px over rows %d-%d (found centre %.2f px); each row "
            "is reconstructed with its own centre from the fit",
            plan.path.name,
            drift_px,
            rows[0],
            rows[-1],
            cor,
        )
    level = logging.WARNING if reasons else logging.INFO
    logger.log(
        level,
        "%s: centre %.2f +- %.2f px, confidence %s%s",
        plan.path.name,
        cor,
        info["uncertainty_px"],
        info["label"],
        (": " + "; ".join(reasons)) if reasons else "",
    )
    return info


def _vo_center(plan: ReconPlan, sino: np.ndarray) -> float:
    """Vo's centre of one -log sinogram (angle, column) of ``plan``, with its options."""
    from .. import engine

    p = plan.params
    within = np.abs(plan.theta - plan.theta[0]) <= math.pi + 1e-6  # first 180 deg (monotonic list)
    n180 = max(int(within.sum()), 2)
    # Vo's metric degenerates when the mirrored sinograms barely overlap: keep the
    # search within a quarter of the row (overlap >= half the row) on narrow detectors.
    quarter = sino.shape[1] // 4
    smin, smax = max(p.voSMin, -quarter), min(p.voSMax, quarter)
    if (smin, smax) != (p.voSMin, p.voSMax):
        logger.info(
            "%s: Vo search limited to [%g, %g] px for a %d-pixel row", plan.path.name, smin, smax, sino.shape[1]
        )
    return engine.find_center_vo(
        sino[:n180], smin=smin, smax=smax, srad=min(p.voSRad, quarter), step=p.voStep, ratio=p.voRatio, drop=p.voDrop
    )


def find_center_360(scan, plan: ReconPlan) -> tuple[float, str, dict]:
    """Axis position, side and confidence of a 360 deg offset-axis scan.

    The rows of the confidence check (:data:`CONFIDENCE_ROWS`, top to bottom) are read and
    pre-processed once; the axis is the middle one's (:func:`alsmicroct.prep.stitch.find_center_360`),
    and :func:`center_confidence_360` repeats the match on all of them.
    """
    from ..prep.stitch import find_center_360 as _find

    rows, spec = _confidence_rows(plan)
    sinos = preprocessed_sinograms(scan, plan, spec)
    cor, rotation = _find(sinos[:, len(rows) // 2])
    logger.info("%s: 360 deg axis at %.2f px, on the %s (row %d)", plan.path.name, cor, rotation, rows[len(rows) // 2])
    return float(cor), rotation, center_confidence_360(scan, plan, float(cor), rotation, sinos=sinos)


#: a 360 deg match weaker than this on any confidence row: low confidence (the one threshold,
#: :data:`alsmicroct.prep.stitch.WEAK_MATCH_CONTRAST`)
MATCH_360_MIN_CONTRAST = WEAK_MATCH_CONTRAST


def center_confidence_360(scan, plan: ReconPlan, cor: float, rotation: str, *, sinos: np.ndarray | None = None) -> dict:
    """How sure the axis of a 360 deg offset-axis scan is (``use360to180``).

    The mirrored-halves match of :func:`alsmicroct.prep.stitch.match_360` is repeated on
    :data:`CONFIDENCE_ROWS` rows from top to bottom (read in one pass; ``sinos``: their -log
    sinograms, already read by :func:`find_center_360`). The label is "low"
    when a row's best shift hardly stands out (contrast below :data:`MATCH_360_MIN_CONTRAST`:
    not a 360 deg scan, or an overlap without structure), when a row puts the axis on the other side, or when a row's
    axis is more than :data:`CONFIDENCE_MAX_GAP` px from ``cor``; the uncertainty is the
    largest of the rows' deviations from ``cor`` (at least 0.1 px). A low label is logged as
    a warning; nothing here changes the centre used.

    Returns
    -------
    dict
        JSON-ready, as :func:`center_confidence`: ``center``, ``uncertainty_px``, ``label``,
        ``reasons``, ``method`` ("360"), ``rotation``, ``rows``, ``row_centers``,
        ``row_matches`` with the worst ``match``, and ``row_contrasts``.
    """
    from ..errors import AlsMicroCTError
    from ..prep.stitch import match_360

    rows, spec = _confidence_rows(plan)
    base = {"center": float(cor), "method": "360", "rotation": rotation, "rows": rows}
    try:
        if sinos is None:
            sinos = preprocessed_sinograms(scan, plan, spec)
        found = [match_360(sinos[:, k]) for k in range(sinos.shape[1])]
    except (AlsMicroCTError, ValueError) as exc:
        logger.warning("%s: 360 deg axis %.2f px: confidence could not be estimated (%s)", plan.path.name, cor, exc)
        return {**base, "uncertainty_px": None, "label": "low", "reasons": [f"confidence check failed: {exc}"]}
    centres = [float(c) for c, _side, _m, _k in found]
    matches = [float(m) for _c, _side, m, _k in found]
    contrasts = [float(k) for _c, _side, _m, k in found]
    reasons = []
    worst = max(matches)
    if min(contrasts) < MATCH_360_MIN_CONTRAST:
        reasons.append(
            f"the mirrored halves match no better at the axis than elsewhere (contrast {min(contrasts):.3f} < "
            f"{MATCH_360_MIN_CONTRAST}): not a 360 deg scan, or an overlap without structure"
        )
    sides = sorted({side for _c, side, _m, _k in found} - {rotation})
    if sides:
        reasons.append(f"rows {rows} put the axis on the {sides[0]} as well as the {rotation}")
    gap = max(abs(c - float(cor)) for c in centres)
    if gap > CONFIDENCE_MAX_GAP:
        reasons.append(f"the rows' axes {[round(c, 2) for c in centres]} differ from {cor:.2f} by up to {gap:.2f} px")
    info = {
        **base,
        "uncertainty_px": round(max(gap, 0.1), 3),
        "label": "low" if reasons else "high",
        "reasons": reasons,
        "row_centers": centres,
        "row_matches": [round(m, 4) for m in matches],
        "match": round(worst, 4),
        "row_contrasts": [round(k, 4) for k in contrasts],
    }
    logger.log(
        logging.WARNING if reasons else logging.INFO,
        "%s: 360 deg axis %.2f +- %.2f px (%s), confidence %s%s",
        plan.path.name,
        cor,
        info["uncertainty_px"],
        rotation,
        info["label"],
        (": " + "; ".join(reasons)) if reasons else "",
    )
    return info
