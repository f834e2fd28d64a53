"""A centre of rotation with an uncertainty, a confidence label and a per-row drift fit.

Two independent estimates are compared: phase correlation of the 0/180 degree pair
(:func:`alsmicroct.engine.center.find_center_pc`) and Vo's Fourier metric
(:func:`alsmicroct.engine.center.find_center_vo`) on a few rows (top, middle, bottom).
The spread gives the uncertainty; a line fitted to the per-row centres detects a drifting
axis.
"""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from ..errors import ParameterError
from .center import _taper, _vo_mask, _vo_metric, find_center_pc, find_center_vo

__all__ = [
    "TILT_MAX_ROWS",
    "TILT_MIN_MATCH",
    "TILT_MIN_ROWS",
    "VO_MAX_ANGLES",
    "CenterEstimate",
    "estimate_center",
    "estimate_tilt",
    "vo_search_range",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CenterEstimate:
    """Result of :func:`estimate_center` (pixels from the left edge, pixel centres).

    Attributes
    ----------
    center : float
        Best single centre (at the middle row when a drift is significant).
    uncertainty : float
        Estimated error, px.
    label : {"high", "low"}
    reasons : tuple of str
        Why the label is low (empty when high).
    pc, vo : float or None
        The two estimates (vo: median over the rows).
    rows, row_centers : tuple
        Rows used for the per-row estimates and their Vo centres.
    slope : float
        Fitted drift, px per row (0 when not significant).
    drift_significant : bool
    per_row : ndarray or None
        One centre per row of the block (``center + slope * (row - middle)``) when the
        drift is significant, else None.
    curve_contrast : float
        ``(median - min) / median`` of the Vo metric around the minimum (small: no clear
        minimum).
    metric_curve : tuple of two tuples
        The curve behind ``curve_contrast``: trial centres (px, half-pixel steps around
        the centre, middle row) and Vo's metric at each (arbitrary units; lower is better).
    """

    center: float
    uncertainty: float
    label: str
    reasons: tuple[str, ...]
    pc: float | None
    vo: float | None
    rows: tuple[int, ...]
    row_centers: tuple[float, ...]
    slope: float = 0.0
    drift_significant: bool = False
    per_row: np.ndarray | None = field(default=None, repr=False)
    curve_contrast: float = float("nan")
    metric_curve: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())

    def to_dict(self) -> dict:
        """JSON-ready summary (for the provenance record)."""
        return {
            "center": self.center,
            "uncertainty_px": self.uncertainty,
            "label": self.label,
            "reasons": list(self.reasons),
            "pc": self.pc,
            "vo": self.vo,
            "rows": list(self.rows),
            "row_centers": list(self.row_centers),
            "slope_px_per_row": self.slope,
            "drift_significant": self.drift_significant,
            "curve_contrast": self.curve_contrast,
            "metric_curve": {"centers": list(self.metric_curve[0]), "metric": list(self.metric_curve[1])},
        }


def _pair_indices(theta: np.ndarray, tol: float) -> tuple[int, int] | None:
    """First projection and the one closest to 180 degrees after it, within ``tol`` rad."""
    d = np.abs(np.abs(theta - theta[0]) - np.pi)
    j = int(np.argmin(d))
    return (0, j) if d[j] <= tol else None


def _curve_contrast(sino: np.ndarray, center: float, srad: float) -> tuple[float, np.ndarray, np.ndarray]:
    """``(median - min) / median`` of Vo's metric over ``center +- srad`` px, on a grid of
    half-pixel centres (integer shifts of the mirrored sinogram: no interpolation), with
    the trial centres and the metric values."""
    ncol = sino.shape[1]
    mid = (ncol - 1) / 2.0
    step = max(0.5, round(srad / 6.0 * 2.0) / 2.0)
    base = mid + round(2.0 * (center - mid)) / 2.0
    reach = step * math.ceil(srad / step)
    cands = base + np.arange(-reach, reach + 0.25 * step, step)
    cands = cands[(cands >= 0) & (cands <= ncol - 1)]
    if cands.size < 3:
        return 0.0, cands, np.zeros(cands.size)
    m = _vo_metric(sino.astype(np.float64), 2.0 * (cands - mid), _vo_mask(2 * sino.shape[0], ncol, 2.0, 20))
    med = float(np.median(m))
    return (float((med - m.min()) / med) if med > 0 else 0.0), cands, m


#: most angles of the first 180 degrees the Vo estimates use (evenly subsampled)
VO_MAX_ANGLES = 360


def _half_turn(arr: np.ndarray, th: np.ndarray, max_angles: int = VO_MAX_ANGLES) -> np.ndarray:
    """The projections of the first 180 degrees, subsampled to at most ``max_angles``."""
    keep = np.flatnonzero(np.abs(th - th[0]) < np.pi - 1e-6 * np.pi)
    if keep.size < 4:
        keep = np.arange(th.size)
    step = max(1, math.ceil(keep.size / max_angles))
    return arr[keep[::step]]


def vo_search_range(ncol: int, pc: float | None) -> tuple[float, float]:
    """Vo's coarse search range (px from the middle ``(ncol - 1) / 2``): ``pc`` +- max(8 px,
    2 % of the width) when the 0/180 pair gave ``pc``, else +-40 px; never past a quarter
    of the row (the mirrored sinograms must overlap by half the row)."""
    mid = (ncol - 1) / 2.0
    quarter = ncol // 4
    if pc is None:
        lo, hi = -40.0, 40.0
    else:
        half = max(8.0, 0.02 * ncol)
        lo, hi = pc - mid - half, pc - mid + half
    lo, hi = max(lo, -quarter), min(hi, quarter)
    return (lo, hi) if lo <= hi else (float(np.clip(pc - mid, -quarter, quarter)),) * 2


def estimate_center(
    data,
    theta,
    *,
    rows: int = 3,
    max_disagreement: float = 1.0,
    min_contrast: float = 0.05,
    drift_threshold: float = 1.0,
    pc: float | None = None,
) -> CenterEstimate:
    """Centre of rotation with an uncertainty, a label and a per-row drift fit.

    Parameters
    ----------
    data : ndarray, shape (angle, row, column)
        -log data (a few rows are enough; all rows of the block give the drift span).
    theta : ndarray, shape (angle,)
        Angles, radians.
    rows : int
        Rows for the Vo estimates, spread from top to bottom (>= 1).
    max_disagreement : float
        pc and vo further apart than this (px): label low.
    min_contrast : float
        Metric curve contrast below this: no clear minimum, label low.
    drift_threshold : float
        A fitted drift over the block's rows larger than this (px), and larger than three
        times its standard error, is significant.
    pc : float, optional
        A phase-correlation centre measured already, on more rows than ``data`` holds (the
        pipeline's ``pc`` uses at least 64); default: measured on ``data``'s 0/180 pair (a few
        rows give a weak peak on noisy data). Either way a missing 0/180 pair is a reason.

    Returns
    -------
    CenterEstimate
    """
    arr = np.asarray(data, np.float32)
    th = np.asarray(theta, np.float64)
    if arr.ndim != 3 or th.shape != (arr.shape[0],):
        raise ParameterError(
            f"data shape {arr.shape} / theta shape {th.shape}: expected "
            "(angle, row, column) and one angle per projection"
        )
    nang, nrow, ncol = arr.shape
    reasons: list[str] = []
    if nang < 16:
        reasons.append(f"only {nang} angles")
    step = float(np.median(np.abs(np.diff(th)))) if nang > 1 else math.pi
    pair = _pair_indices(th, 0.51 * step)
    if pair is None:
        reasons.append("no 0/180 degree projection pair")
        pc = None
    elif pc is None:
        pc = find_center_pc(arr[pair[0]], arr[pair[1]])
    else:
        pc = float(pc)
    picks = np.unique(np.linspace(0, nrow - 1, max(1, min(rows, nrow))).round().astype(int))
    half = _half_turn(arr, th)
    smin, smax = vo_search_range(ncol, pc)
    srad = max(2.0, 1.5 * ncol / 1024.0)  # the coarse stage bins columns by up to ncol / 512
    row_c = [find_center_vo(half[:, int(r)], smin=smin, smax=smax, srad=srad) for r in picks]
    vo = float(np.median(row_c))
    mid_row = (nrow - 1) / 2.0
    slope, significant, per_row = 0.0, False, None
    if len(picks) >= 3:
        coef, cov = np.polyfit(picks - mid_row, row_c, 1, cov=True)
        span = abs(coef[0]) * (nrow - 1)
        se = math.sqrt(max(cov[0, 0], 0.0)) * (nrow - 1)
        if span > drift_threshold and span > 3 * se:
            slope, significant = float(coef[0]), True
            vo = float(coef[1])
            per_row = (vo + slope * (np.arange(nrow) - mid_row)).astype(np.float64)
    resid = np.std(np.asarray(row_c) - (vo + slope * (picks - mid_row))) if len(picks) > 1 else 0.0
    contrast, curve_c, curve_m = _curve_contrast(half[:, int(picks[len(picks) // 2])], vo, max(6.0, 0.005 * ncol))
    if contrast < min_contrast:
        reasons.append(f"metric curve without a clear minimum (contrast {contrast:.3f})")
    # at the middle row pc (on all rows) and vo should agree
    if pc is not None:
        gap = abs(pc - vo)
        if gap > max_disagreement:
            reasons.append(f"pc {pc:.2f} and vo {vo:.2f} disagree by {gap:.2f} px")
        center = vo  # Vo on the whole half turn is the finer one; pc is the check
        unc = max(0.5 * gap, float(resid), 0.1)
    else:
        center = vo
        unc = max(float(resid), 0.5)
    if not 0 <= center <= ncol - 1:
        reasons.append(f"centre {center:.1f} outside the detector")
    label = "low" if reasons else "high"
    if reasons:
        logger.warning("centre %.2f px has low confidence: %s", center, "; ".join(reasons))
    return CenterEstimate(
        float(center),
        float(unc),
        label,
        tuple(reasons),
        pc,
        vo,
        tuple(int(r) for r in picks),
        tuple(float(c) for c in row_c),
        slope,
        significant,
        per_row,
        contrast,
        (tuple(round(float(c), 3) for c in curve_c), tuple(float(v) for v in curve_m)),
    )


def _pair_match(ref: tuple[np.ndarray, float], bm: np.ndarray, win: np.ndarray) -> float:
    """Normalised cross-correlation peak of the reference ``ref`` (:func:`_windowed`) and ``bm``
    (windowed, mean removed), refined by a parabola through the peak and its neighbours along
    each axis (shift-invariant)."""
    spec_a, energy_a = ref
    bm = (bm - bm.mean()) * win
    cc = sfft.irfft2(spec_a * np.conj(sfft.rfft2(bm)), s=bm.shape)
    ny, nx = cc.shape
    iy, ix = np.unravel_index(int(np.argmax(cc)), cc.shape)
    c0 = float(cc[iy, ix])

    def vertex(m: float, p: float) -> float:
        den = m - 2.0 * c0 + p
        return c0 - (p - m) ** 2 / (8.0 * den) if den < 0 else c0

    peak = vertex(cc[iy, (ix - 1) % nx], cc[iy, (ix + 1) % nx]) + vertex(cc[(iy - 1) % ny, ix], cc[(iy + 1) % ny, ix])
    norm = math.sqrt(energy_a * float(np.sum(bm * bm)))
    return (peak - c0) / norm if norm > 0 else 0.0


def _windowed(a: np.ndarray, win: np.ndarray) -> tuple[np.ndarray, float]:
    """The fixed side of :func:`_pair_match`, computed once per search: the spectrum of ``a``
    windowed with its mean removed, and its energy."""
    a = (a - a.mean()) * win
    return sfft.rfft2(a), float(np.sum(a * a))


def _search_threads(n: int) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, n))


def _pair_rotation(a: np.ndarray, bm: np.ndarray, max_deg: float, near: float | None = None) -> tuple[float, float]:
    """The rotation (degrees, :func:`scipy.ndimage.rotate`'s sign) of ``bm`` that best matches
    ``a``, and the match there: a 0.5 degree grid over +-``max_deg`` (its nodes evaluated in
    threads: rotations and FFTs release the GIL, and each node is computed as alone), then a
    bounded scalar search within a grid step of the best node (of ``near`` when given: no grid)."""
    win = np.outer(_taper(a.shape[0], 0.15), _taper(a.shape[1], 0.15))
    ref = _windowed(a, win)

    def cost(phi: float, order: int = 3) -> float:
        return -_pair_match(ref, ndimage.rotate(bm, phi, reshape=False, order=order, mode="nearest"), win)

    if near is None:
        # the grid only picks the node the refinement starts from, and either node next to
        # the optimum brackets it (+-0.5 deg): linear interpolation is enough there, at a
        # quarter of the cubic spline's cost (no prefilter); the refinement is cubic
        grid = np.arange(-max_deg, max_deg + 0.25, 0.5)
        with ThreadPoolExecutor(max_workers=_search_threads(grid.size)) as pool:
            costs = list(pool.map(lambda g: cost(g, 1), grid))
        best = float(grid[int(np.argmin(costs))])
    else:
        best = float(near)
    from scipy import optimize  # only here: scipy.optimize takes ~0.2 s to import, the centre path needs none

    res = optimize.minimize_scalar(cost, bounds=(best - 0.5, best + 0.5), method="bounded", options={"xatol": 1e-3})
    return float(res.x), -float(res.fun)


#: a 0/180 pair whose best normalised correlation is below this does not match (noise, blank)
TILT_MIN_MATCH = 0.3

#: fewest detector rows a tilt is estimated on (a rotation of a few rows is not measurable)
TILT_MIN_ROWS = 16

#: taller pairs are estimated on their central band of this many rows: the rotation search
#: costs time in proportion to the rows (about 4 s for 256 x 2560 on 2 cores, 30 s for a full
#: 2160-row detector), and a band this tall already fixes the angle to ~1e-4 degree
TILT_MAX_ROWS = 256


def estimate_tilt(proj0, proj180, *, max_tilt: float = 5.0) -> tuple[float, float]:
    """Detector tilt from the 0/180 degree pair, degrees (counter-clockwise as displayed,
    the sign of :func:`alsmicroct.prep.correct_tilt`'s ``angle_deg``), and its error.

    With the detector tilted by ``t``, the 180 degree projection mirrored left-right is the
    0 degree one rotated by ``-2 t`` (and shifted by twice the axis offset). Both are
    band-passed (difference of Gaussians, 1 and 4 px), and the rotation of the mirrored one
    that maximises the shift-invariant normalised cross-correlation is searched (a 0.5
    degree grid, then a bounded scalar refinement); the tilt is half of it. The error is
    half the spread of the same estimate (refined about it) on the top and bottom halves
    of the rows.

    Parameters
    ----------
    proj0, proj180 : ndarray, shape (rows, columns)
        -log (or transmission) projections at 0 and 180 degrees.
    max_tilt : float
        Largest tilt searched, degrees (> 0).

    Returns
    -------
    (float, float)
        Tilt and its error, degrees. (0, inf) with a warning when the pair has no
        structure (constant, e.g. saturated, or not finite), has fewer than 16 rows, or
        does not match (best correlation below :data:`TILT_MIN_MATCH`: noise, a blank sample).
        Pairs taller than :data:`TILT_MAX_ROWS` are estimated on their central band of that
        many rows.
    """
    a = np.asarray(proj0, np.float32)
    b = np.asarray(proj180, np.float32)
    if a.ndim != 2 or a.shape != b.shape:
        raise ParameterError(f"proj0 {a.shape} and proj180 {b.shape}: expected equal 2-D shapes")
    if not (isinstance(max_tilt, (int, float)) and 0 < max_tilt <= 45):
        raise ParameterError(f"max_tilt={max_tilt!r}: expected a number of degrees in (0, 45]")
    if not (np.isfinite(a).all() and np.isfinite(b).all()) or min(float(np.ptp(a)), float(np.ptp(b))) <= (
        1e-6 * max(1.0, float(np.abs(a).max()), float(np.abs(b).max()))
    ):
        logger.warning(
            "estimate_tilt: the 0/180 pair has no structure (constant, saturated or not finite); tilt not estimated"
        )
        return 0.0, float("inf")
    if a.shape[0] < TILT_MIN_ROWS:
        logger.warning("estimate_tilt: %d rows (fewer than %d); tilt not estimated", a.shape[0], TILT_MIN_ROWS)
        return 0.0, float("inf")
    if a.shape[0] > TILT_MAX_ROWS:
        top = (a.shape[0] - TILT_MAX_ROWS) // 2
        a, b = a[top : top + TILT_MAX_ROWS], b[top : top + TILT_MAX_ROWS]

    def bandpass(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        return ndimage.gaussian_filter(x, 1.0) - ndimage.gaussian_filter(x, 4.0)

    fa, fb = bandpass(a), bandpass(b[:, ::-1])
    phi, match = _pair_rotation(fa, fb, 2.0 * max_tilt)
    if match < TILT_MIN_MATCH:
        logger.warning(
            "estimate_tilt: the 0/180 pair does not match (best correlation %.2f < %.2f); tilt not estimated",
            match,
            TILT_MIN_MATCH,
        )
        return 0.0, float("inf")
    h = a.shape[0] // 2
    halves = [_pair_rotation(fa[s], fb[s], 2.0 * max_tilt, phi)[0] for s in (slice(0, h), slice(h, None))]
    return 0.5 * phi, 0.25 * abs(halves[0] - halves[1])
