"""360-degree offset-axis scans: find the axis and stitch to a 180-degree sinogram.

In an offset-axis (half-acquisition) scan the rotation axis sits near one side of the
detector and the sample turns through 360 degrees; projection ``i + n180`` (angle
``theta_i + 180``) seen mirrored continues projection ``i`` beyond the axis, because
``p(theta + 180, s) = p(theta, -s)`` (``s = column - center``, ``docs/geometry.md``).

Layout expected: ``n180 = nangles // 2``; projections ``0 .. n180-1`` cover the first
180 degrees and projection ``i + n180`` lies 180 degrees from projection ``i`` (exactly so
for an odd number of projections over 0..360 with both ends, as the beamline takes them;
for an even number the partner is half an angular step off, as with the legacy toolkit).

``rotation="right"``: the axis is in the right half of the detector (``center >
(N - 1) / 2``, the legacy 8.3.2 case); ``rotation="left"``: in the left half.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from alsmicroct.errors import ParameterError
from alsmicroct.prep.tilt import keys_weights

from ..jit import njit, prange

__all__ = [
    "WEAK_MATCH_CONTRAST",
    "angles_360_to_180",
    "find_center_360",
    "match_360",
    "sino_360_to_180",
    "stitched_width",
]

logger = logging.getLogger(__name__)

_ROTATIONS = ("left", "right")

#: a 360 deg match whose best shift stands out of the difference curve by less than this
#: (``(median - best) / median``, :func:`match_360`) is weak. Measured on simulated
#: 256-column scans: 0.86 clean, 0.46-0.50 at flux 2000, 0.17-0.19 at flux 500 (axis still
#: within 0.08 px); 0.05 for noise alone and 0.09 for halves of two different samples.
WEAK_MATCH_CONTRAST = 0.12


def stitched_width(ncols: int, center: float, *, rotation: str) -> tuple[int, float]:
    """Width and centre of the 180-degree sinogram made by :func:`sino_360_to_180`.

    Parameters
    ----------
    ncols : int
        Detector columns ``N`` of the 360-degree scan.
    center : float
        Rotation axis of the 360-degree scan, pixels from the left edge (pixel centres).
    rotation : {"left", "right"}
        Side of the detector the axis is on.

    Returns
    -------
    width : int
        ``floor(2 * center180) + 1`` columns (both detector edges meet the new row's ends),
        i.e. ``2 N`` minus the overlap ``2 N - 1 - 2 * center180`` rounded down.
    center180 : float
        Axis of the stitched rows, pixels from their left edge: ``center`` for "right",
        ``N - 1 - center`` for "left". Recompute the reconstruction padding from
        ``width``; the reconstructed slice is ``width x width``.
    """
    n = int(ncols)
    c = _check_center(center, n, rotation)
    c180 = c if rotation == "right" else (n - 1) - c
    width = math.floor(2.0 * c180 + 1e-6) + 1
    return width, c180


def sino_360_to_180(data: np.ndarray, *, center: float, rotation: str = "left") -> tuple[np.ndarray, float]:
    """Stitch a 360-degree offset-axis scan into a 180-degree scan of doubled width.

    Projection ``i`` and the mirrored projection ``i + n180`` (``n180 = nangles // 2``)
    are placed side by side about the axis; in their overlap (``2 N - 1 - 2 center180``
    columns wide, set by the centre) they are blended with linear weights that fall to
    zero at each detector edge. The half whose columns do not land on the output grid
    (fractional ``2 * center``) is resampled with Keys cubic convolution.

    Parameters
    ----------
    data : numpy.ndarray
        float ``(angle, row, column)`` (-log or normalised data), ``nangles >= 2``, or a
        single sinogram ``(angle, column)``.
    center : float
        Rotation axis in pixels from the left detector edge (pixel-centre convention,
        ``docs/geometry.md``), of the unpadded row; see :func:`find_center_360`.
    rotation : {"left", "right"}
        Side of the detector the axis is on: "right" for ``center > (N - 1) / 2`` (the
        legacy beamline case), "left" for ``center <= (N - 1) / 2``.

    Returns
    -------
    data180 : numpy.ndarray
        float32 ``(n180, row, width)`` (2-D if the input was), ``width`` from
        :func:`stitched_width`. Its angles are the first ``n180`` angles of the scan:
        :func:`angles_360_to_180`.
    center180 : float
        Axis of the stitched rows (``center`` for "right", ``N - 1 - center`` for "left").

    Raises
    ------
    ParameterError
        Bad shape, fewer than 2 projections, unknown ``rotation``, or a centre on the
        wrong side or outside the detector.
    """
    arr = np.asarray(data)
    if arr.ndim not in (2, 3):
        raise ParameterError(
            f"sino_360_to_180: data must be (angle, row, column) or (angle, column), got shape {arr.shape}"
        )
    single = arr.ndim == 2
    stack = arr[:, np.newaxis, :] if single else arr
    nang, _, n = stack.shape
    if nang < 2:
        raise ParameterError(f"sino_360_to_180: need at least 2 projections, got {nang}")
    width, c180 = stitched_width(n, center, rotation=rotation)
    n180 = nang // 2
    c = float(center)
    if rotation == "right":
        o1, o2 = 0.0, 2.0 * c  # first half column = k - o1; second half column = o2 - k
    else:
        o1, o2 = (n - 1) - 2.0 * c, float(n - 1)
    first = np.ascontiguousarray(stack[:n180], dtype=np.float32)
    second = np.ascontiguousarray(stack[n180 : 2 * n180], dtype=np.float32)
    out = np.empty((n180, stack.shape[1], width), dtype=np.float32)
    _stitch(first, second, out, o1, o2, rotation == "right")
    logger.debug(
        "360->180 stitch: %d columns, axis %.2f (%s) -> %d columns, axis %.2f, overlap %.1f "
        "columns, %d of %d projections",
        n,
        c,
        rotation,
        width,
        c180,
        2 * n - 1 - 2 * c180,
        n180,
        nang,
    )
    return (out[:, 0, :] if single else out), c180


def angles_360_to_180(theta: np.ndarray) -> np.ndarray:
    """Angles of the sinogram returned by :func:`sino_360_to_180`.

    Parameters
    ----------
    theta : numpy.ndarray
        Angles of all projections of the 360-degree scan, radians (as the readers return
        them), ``nangles`` values.

    Returns
    -------
    numpy.ndarray
        ``theta[:nangles // 2]`` (a copy), radians. A warning is logged when projection
        ``i + nangles // 2`` is not 180 degrees from projection ``i`` to within half an
        angular step.
    """
    th = np.asarray(theta, dtype=np.float64).ravel()
    n180 = th.size // 2
    if n180 < 1:
        raise ParameterError(f"angles_360_to_180: need at least 2 angles, got {th.size}")
    if n180 > 1:
        diff = th[n180 : 2 * n180] - th[:n180]
        err = np.abs(np.remainder(diff, 2.0 * math.pi) - math.pi)  # distance to +-180 deg
        step = float(np.median(np.abs(np.diff(th))))
        if float(err.max()) > 0.5 * step * 1.01 + 1e-9:
            logger.warning(
                "360->180: projection i + %d lies %.4f deg from i + 180 deg (step %.4f deg)",
                n180,
                math.degrees(float(err.max())),
                math.degrees(step),
            )
    return th[:n180].copy()


def find_center_360(data: np.ndarray, *, min_overlap: int | None = None, sigma: float = 1.0) -> tuple[float, str]:
    """Rotation axis of a 360-degree offset-axis scan and the side it is on.

    See :func:`match_360` (this is its centre and side, without the match figure).
    """
    center, rotation, _match, _contrast = match_360(data, min_overlap=min_overlap, sigma=sigma)
    return center, rotation


def match_360(
    data: np.ndarray, *, min_overlap: int | None = None, sigma: float = 1.0
) -> tuple[float, str, float, float]:
    """Rotation axis of a 360-degree offset-axis scan and the side it is on.

    Each projection of the first half is matched with its mirrored 180-degree partner: for
    every integer shift ``d`` of the mirrored second half the normalised squared
    difference of column gradients over the overlap (``sum (a - b)^2 / sum (a^2 + b^2)``,
    summed over angles and rows, computed for all shifts with FFTs) is formed; the best
    shift is refined to sub-pixel by a parabola and ``center = (N - 1 - d) / 2``. Flat air
    gives a ratio near 1, so empty overlaps do not match; each column's mean over the
    angles is removed first, so stripes (ring artefacts) do not pull the match.

    Parameters
    ----------
    data : numpy.ndarray
        float ``(angle, row, column)`` or one sinogram ``(angle, column)`` of the whole
        360-degree scan (-log or normalised data, all projections, a few rows suffice).
    min_overlap : int, optional
        Smallest overlap considered, columns (default ``max(8, N // 32)``).
    sigma : float, optional
        Gaussian smoothing along the columns before the gradient, pixels (noise guard).

    Returns
    -------
    center : float
        Axis in pixels from the left detector edge (pixel centres), sub-pixel.
    rotation : {"left", "right"}
        "right" if ``center > (N - 1) / 2`` else "left", as :func:`sino_360_to_180` takes it.
    match : float
        The normalised difference at the best shift: near 0 for clean halves that match,
        near 1 for unrelated ones or very noisy ones .
    contrast : float
        ``(median - best) / median`` of the difference over all shifts: how clearly the best
        shift stands out (near 0: no shift matches better than the others; noise lowers
        the dip less than it raises ``match``); below :data:`WEAK_MATCH_CONTRAST` is
        logged as a weak match.

    Raises
    ------
    ParameterError
        Bad shape, fewer than 2 projections, or ``min_overlap`` outside ``[2, N]``.
    """
    import scipy.fft
    from scipy.ndimage import gaussian_filter1d

    arr = np.asarray(data)
    if arr.ndim not in (2, 3):
        raise ParameterError(
            f"find_center_360: data must be (angle, row, column) or (angle, column), got shape {arr.shape}"
        )
    stack = arr[:, np.newaxis, :] if arr.ndim == 2 else arr
    nang, nrows, n = stack.shape
    n180 = nang // 2
    if n180 < 1:
        raise ParameterError(f"find_center_360: need at least 2 projections, got {nang}")
    if min_overlap is None:
        min_overlap = max(8, n // 32)
    if int(min_overlap) != min_overlap or not 2 <= min_overlap <= n:
        raise ParameterError(f"find_center_360: min_overlap must be an integer in [2, {n}], got {min_overlap!r}")
    size = scipy.fft.next_fast_len(2 * n, real=True)
    cross = np.zeros(size // 2 + 1, dtype=np.complex128)
    energy_a = np.zeros(n)
    energy_b = np.zeros(n)
    for row in range(nrows):
        a = _gradient(stack[:n180, row, :], sigma, gaussian_filter1d)
        b = _gradient(stack[n180 : 2 * n180, row, ::-1], sigma, gaussian_filter1d)
        fa = scipy.fft.rfft(a, n=size, axis=-1, workers=-1)
        fb = scipy.fft.rfft(b, n=size, axis=-1, workers=-1)
        cross += np.sum(np.conj(fa) * fb, axis=0)
        energy_a += np.sum(a.astype(np.float64) ** 2, axis=0)
        energy_b += np.sum(b.astype(np.float64) ** 2, axis=0)
    corr = scipy.fft.irfft(cross, n=size)  # corr[d mod size] = sum_j a[j] b[j + d]
    shifts = np.arange(-(n - min_overlap), n - min_overlap + 1)
    xab = corr[np.mod(shifts, size)]
    cum_a = np.concatenate(([0.0], np.cumsum(energy_a)))
    cum_b = np.concatenate(([0.0], np.cumsum(energy_b)))
    lo_a = np.maximum(0, -shifts)  # overlap of a: columns [lo_a, hi_a)
    hi_a = np.minimum(n, n - shifts)
    ea = cum_a[hi_a] - cum_a[lo_a]
    eb = cum_b[hi_a + shifts] - cum_b[lo_a + shifts]
    total = ea + eb
    tiny = 1e-12 * max(float(total.max()), 1e-300)
    metric = np.where(total > tiny, (total - 2.0 * xab) / np.maximum(total, tiny), 2.0)
    best = int(np.argmin(metric))
    d = float(shifts[best])
    if 0 < best < metric.size - 1:
        m0, m1, m2 = metric[best - 1], metric[best], metric[best + 1]
        denom = m0 - 2.0 * m1 + m2
        if denom > 0:
            d += float(np.clip(0.5 * (m0 - m2) / denom, -0.5, 0.5))
    center = 0.5 * ((n - 1) - d)
    rotation = "right" if center > 0.5 * (n - 1) else "left"
    med = float(np.median(metric))
    contrast = (med - float(metric[best])) / med if med > 0 else 0.0
    if contrast < WEAK_MATCH_CONTRAST:
        logger.warning(
            "find_center_360: weak match (the best shift stands out by %.3f < %g of the difference curve); "
            "check that the data is a 360-degree scan",
            contrast,
            WEAK_MATCH_CONTRAST,
        )
    logger.info(
        "find_center_360: axis at %.2f px (%s), overlap %.1f columns, match %.3f",
        center,
        rotation,
        n - abs(d),
        float(metric[best]),
    )
    return center, rotation, float(metric[best]), contrast


def _gradient(sino: np.ndarray, sigma: float, smoother) -> np.ndarray:
    """Column derivative of a lightly smoothed sinogram minus its mean over the angles,
    float32 ``(angle, column)``."""
    x = np.asarray(sino, dtype=np.float32)
    if sigma > 0:
        grad = smoother(x, sigma, axis=-1, order=1, mode="nearest")
    else:
        grad = np.gradient(x, axis=-1)
    # remove what does not turn with the sample (stripes, detector defects): a column's
    # mean over the angles; true partners still match after it
    grad -= grad.mean(axis=0, keepdims=True)
    return grad


def _check_center(center: float, n: int, rotation: str) -> float:
    if rotation not in _ROTATIONS:
        raise ParameterError(f"rotation must be 'left' or 'right', got {rotation!r}")
    try:
        c = float(center)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"center must be a number of pixels, got {center!r}") from exc
    mid = 0.5 * (n - 1)
    if not math.isfinite(c) or not 0.0 <= c <= n - 1:
        raise ParameterError(f"center must lie on the detector [0, {n - 1}], got {center!r}")
    if rotation == "right" and c < mid:
        raise ParameterError(
            f"rotation='right' needs center >= {mid} (axis in the right half), got {c}; use rotation='left'"
        )
    if rotation == "left" and c > mid:
        raise ParameterError(
            f"rotation='left' needs center <= {mid} (axis in the left half), got {c}; use rotation='right'"
        )
    return c


@njit(cache=True, inline="always")
def _sample(line, u):
    """Keys cubic sample of a 1-D row at fractional column ``u`` (edges clamped)."""
    n = line.shape[0]
    fu = math.floor(u)
    w = keys_weights(u - fu)
    i = int(fu)
    acc = 0.0
    for m in range(4):
        j = i - 1 + m
        j = 0 if j < 0 else (n - 1 if j >= n else j)
        acc += w[m] * line[j]
    return acc


@njit(parallel=True, cache=True)
def _stitch(first, second, out, o1, o2, right):  # pragma: no cover
    nproj, nrows, n = first.shape
    width = out.shape[2]
    last = n - 1.0
    for job in prange(nproj * nrows):
        p = job // nrows
        r = job % nrows
        l1 = first[p, r]
        l2 = second[p, r]
        for k in range(width):
            u1 = k - o1  # column in the first-half projection
            u2 = o2 - k  # column in the second-half projection (mirrored)
            in1 = -1e-6 <= u1 <= last + 1e-6
            in2 = -1e-6 <= u2 <= last + 1e-6
            if in1 and in2:
                # linear cross-fade: each half's weight falls to 0 at its own detector edge
                if right:
                    span1 = last - u1
                    span2 = last - u2
                else:
                    span1 = u1
                    span2 = u2
                w1 = span1 / (span1 + span2) if span1 + span2 > 0 else 0.5
                out[p, r, k] = w1 * _sample(l1, u1) + (1.0 - w1) * _sample(l2, u2)
            elif in1:
                out[p, r, k] = _sample(l1, u1)
            else:
                out[p, r, k] = _sample(l2, u2)
    return out
