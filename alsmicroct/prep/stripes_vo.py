"""Stripe detection and Vo-style stripe removal (Vo, Atwood & Drakopoulos 2018,
"Superior techniques for eliminating ring artifacts in X-ray micro-tomography").

- :func:`detect_stripes`: which detector columns of each sinogram hold a stripe, from the
  column profile of the angular mean against a median-smoothed version of itself,
  normalised by the statistical noise of that mean (estimated from the data);
- :func:`apply_masked`: run any stripe filter but keep its result only on the detected
  (dilated) columns, so clean columns are left exactly as they were;
- :func:`remove_stripe_based_sorting`, :func:`remove_large_stripe`,
  :func:`remove_dead_stripe`, :func:`remove_all_stripe`: the methods of the paper, with
  the parameter names and meanings of algotom / TomoPy.

Arrays are float32 ``(angle, row, column)`` -log data; every sinogram ``data[:, m, :]`` is
processed on its own (results do not depend on the row chunking).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from ..checks import as_float32_3d, check_number, check_positive_int
from ..errors import ParameterError
from ..jit import njit, use_twins
from .stripes import _map_sinograms

__all__ = [
    "DETECT_SIZE",
    "STRONG_STRIPE",
    "apply_masked",
    "detect_stripes",
    "remove_all_stripe",
    "remove_dead_stripe",
    "remove_large_stripe",
    "remove_stripe_auto",
    "remove_stripe_based_sorting",
]

logger = logging.getLogger(__name__)

#: a dead / fluctuating column's residual varies from angle to angle by this much more
#: than its neighbours' (relative), besides the snr test
_DEAD_EXCESS = 0.5

#: 1.4826 * MAD is the standard deviation of Gaussian values
_MAD_TO_STD = 1.4826

#: default median window of :func:`detect_stripes`, columns (``ReconParams.ringDetectSize``)
DETECT_SIZE = 9

#: -log deviation of a column's angular mean from its median above which
#: :func:`apply_masked` (``constant=True``) keeps the angle-varying part of the correction
STRONG_STRIPE = 0.02

#: with ``constant``, :func:`apply_masked` limits the angle-constant correction of a column to
#: this many times the stripe its angular-mean profile shows (against the ``size``-column
#: median) plus ``_CLAMP_NOISE`` noise standard deviations of that residual: a deep filter's
#: correction is larger than that only on the sample's own angle-constant structure (the
#: edge of a sample centred on the axis: 0.29 dB of the 0.29 dB lost on a clean 640-column
#: scan in ``bench_rings.py``), never on a stripe
_CLAMP_FACTOR = 1.5
_CLAMP_NOISE = 6.0

#: with ``constant``, the columns where the angular-mean profile has a kink (a sample edge at
#: the same column at every angle, e.g. a sample centred on the axis: ``_KINK``) are always
#: in :func:`apply_masked`'s mask (no detection can tell a stripe there from the edge, and
#: the ring-free twin of a scan then gets the same treatment), their constant correction is
#: the filter's less its running mean over ``_KINK_WIDTH`` columns (the usual width moves the
#: steep edge itself), bounded by ``_CLAMP_KINK`` more noise standard deviations than other
#: columns: on the 640-column scans of ``bench_rings.py`` the edge of the on-axis sample held
#: 26-31 % of the residual ring (squared) with the stripes there left uncorrected
_KINK_WIDTH = 5
_CLAMP_KINK = 5.0

#: the second pass first subtracts, on the masked columns outside kinks, the median over the
#: angles of each column's difference from the running mean of its sinogram row over
#: ``_ANGULAR_WIDTH`` columns (where its sign agrees with the mean over the angles: the
#: smaller of the two), on the columns whose medians over the two halves of the angles agree
#: within ``_HALF_AGREE`` noise standard deviations (a stripe is the same at every angle, a
#: sample's structure moves); the narrow filter and the 9-column background leave about a
#: third of a field of stripes in every column (its local mean), which the median over the
#: angles sees apart from the sample
_ANGULAR_WIDTH = 13
_HALF_AGREE = 7.5
#: the medians are taken over every k-th angle, at most this many in each half (the cost: on
#: a 2048 x 3217 sinogram the two full medians took 0.15 s, 1.5 times the FW step)
_MEDIAN_ANGLES = 400

#: the stripe a column shows is its angular mean less the background the neighbours give: the
#: median, over ``k = 1 .. size // 2``, of ``(p[c - k] + p[c + k]) / 2 - k**2 / 2 * p''``
#: (``p''``: second difference of the profile smoothed by a Gaussian of ``_CURVE_SIGMA``
#: columns), which follows the profile's slopes and curvature; a median of the profile itself
#: is the profile wherever it is monotonic (the steep sides of a sample's angular mean) and
#: hides every stripe there (the largest part of the residual ring on the 640-column scans
#: of ``bench_rings.py``). Where ``|p''|`` exceeds ``_KINK`` noise standard deviations (a
#: sample edge at the same column at every angle, a kink the Gaussian does not follow),
#: grown by ``_KINK_GROW`` columns, the plain median is kept.
_CURVE_SIGMA = 3.0
_KINK = 4.0
_KINK_GROW = 3

#: with ``constant``, :func:`apply_masked`'s default running-mean width is the number of
#: columns over this (at least ``size``): 9 at 640 columns, 29 at 2048 (measured best on the
#: simulated scans of ``bench_rings.py``: 9 at 640, 31 against 15 or 5 at 2048)
_CONSTANT_WIDTH_DIVISOR = 70


# --------------------------------------------------------------------------- detection
@njit(nogil=True, cache=True)
def _column_stats(sino, mean, absdev):
    """Angular mean of each column and, per column, the mean absolute difference between
    consecutive angles (a noise scale: sqrt(2) sigma sqrt(2/pi) for Gaussian noise)."""
    nang, ncol = sino.shape
    acc = np.zeros(ncol)
    dev = np.zeros(ncol)
    for c in range(ncol):
        acc[c] = sino[0, c]
    for a in range(1, nang):
        for c in range(ncol):
            v = sino[a, c]
            acc[c] += v
            dev[c] += abs(v - sino[a - 1, c])
    for c in range(ncol):
        mean[c] = acc[c] / nang
        absdev[c] = dev[c] / max(nang - 1, 1)


@_column_stats.twin
def _column_stats_numpy(sino, mean, absdev):
    """:func:`_column_stats` in NumPy (a reduction over axis 0 adds the angles in order, as the kernel does)."""
    nang = sino.shape[0]
    mean[...] = sino.sum(axis=0, dtype=np.float64) / nang
    absdev[...] = np.abs(np.diff(sino, axis=0)).sum(axis=0, dtype=np.float64) / max(nang - 1, 1)


def _mean_noise(absdev: np.ndarray, nang: int) -> float:
    """Noise (standard deviation) of a column's angular mean, from the per-column mean
    absolute difference between consecutive angles (:func:`_column_stats`)."""
    # noise of one value from consecutive-angle differences (object motion between
    # neighbouring angles inflates it a little: a conservative estimate), then of the mean
    sigma = float(np.median(absdev)) / (np.sqrt(2.0) * np.sqrt(2.0 / np.pi))
    return sigma / np.sqrt(nang)


def _stripe_residual(profile: np.ndarray, noise: float, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(column,) the stripe each column of an angular-mean ``profile`` shows (see
    ``_CURVE_SIGMA``), its plain ``size``-column median residual (what strong stripes are
    judged by) and the kink columns (bool), where the first is the second."""
    size = max(3, min(size, profile.size) | 1)
    median = profile - ndimage.median_filter(profile, size=size, mode="reflect")
    n = profile.size
    if n < 3:
        return median, median, np.ones(n, bool)
    smooth = ndimage.gaussian_filter1d(profile, _CURVE_SIGMA, mode="nearest")
    curve = np.zeros(n)
    curve[1:-1] = smooth[:-2] - 2.0 * smooth[1:-1] + smooth[2:]
    x = np.arange(n)
    pairs = np.empty((size // 2, n))
    for k in range(1, size // 2 + 1):
        # symmetric neighbours, reflected at the detector ends
        left, right = np.abs(x - k), (n - 1) - np.abs((n - 1) - (x + k))
        pairs[k - 1] = 0.5 * (profile[left] + profile[right]) - 0.5 * k * k * curve
    resid = profile - np.median(pairs, axis=0)
    kink = np.abs(curve) > _KINK * noise if noise > 0 else np.zeros(n, bool)
    if kink.any():
        kink = ndimage.binary_dilation(kink, iterations=_KINK_GROW)
        resid[kink] = median[kink]
    return resid, median, kink


def _sino_mask(sino: np.ndarray, snr: float, size: int, twins: bool) -> np.ndarray:
    nang, ncol = sino.shape
    mean = np.empty(ncol)
    absdev = np.empty(ncol)
    _column_stats.pick(twins)(sino, mean, absdev)
    # the background estimate is itself noisy: the residual has ~1.25x the noise of the mean
    noise = 1.25 * _mean_noise(absdev, nang)
    resid = _stripe_residual(mean, noise, size)[0]
    score = np.abs(resid) / noise if noise > 0 else np.where(resid != 0, np.inf, 0.0)
    # dead / frozen columns: their angle-to-angle variation is far below their neighbours'
    frozen = absdev < 0.2 * ndimage.median_filter(absdev, size=max(3, size | 1))
    return (score > snr) | frozen


def _profile_residual(arr: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(row, column) the stripe every column shows (:func:`_stripe_residual`), (row, column)
    its angular mean less its ``size``-column median, (row,) the noise of the residual and
    (row, column) the kink columns (bool), where the stripe is judged by that median."""
    nang, nrow, ncol = arr.shape
    resid = np.empty((nrow, ncol))
    median = np.empty((nrow, ncol))
    kink = np.empty((nrow, ncol), bool)
    noise = np.empty(nrow)
    mean = np.empty(ncol)
    absdev = np.empty(ncol)
    column_stats = _column_stats.pick(use_twins(arr))
    for m in range(nrow):
        column_stats(arr[:, m, :], mean, absdev)
        noise[m] = 1.25 * _mean_noise(absdev, nang)
        resid[m], median[m], kink[m] = _stripe_residual(mean, noise[m], size)
    return resid, median, noise, kink


def detect_stripes(data, *, snr: float = 3.0, size: int = DETECT_SIZE, dilate: int = 1) -> np.ndarray:
    """Columns holding stripes, per sinogram.

    The angular mean of every column is compared with the background its neighbours give
    within ``size`` columns: the median of the means of the symmetric pairs ``c - k, c + k``
    (``k = 1 .. size // 2``) less the profile's curvature over them (the second difference
    of the profile smoothed over 3 columns), which follows the slopes and the curvature of
    the profile; at kinks (the curvature above 4 noise standard deviations, 3 columns
    around: a sample edge at the same column at every angle) the plain ``size``-column
    median. A column is a stripe where the difference exceeds ``snr`` times the noise of
    the mean (per-pixel noise, estimated robustly from differences between consecutive
    angles, over ``sqrt(n_angles)``). Columns whose angle-to-angle variation is below a
    fifth of their neighbours' (dead, frozen pixels) are stripes too.

    A median of the profile alone is the profile wherever it is monotonic and finds no
    stripe on the steep sides of a sample's angular mean: on the 640-column scans of
    ``benchmarks/bench_rings.py`` those undetected stripes were most of the residual ring.

    Parameters
    ----------
    data : ndarray, shape (angle, row, column) or (angle, column)
        -log sinograms (dimensionless).
    snr : float, optional
        Detection threshold in noise standard deviations (> 0; 3 by default).
    size : int, optional
        Width in columns of the background window (>= 3): finds stripes up to
        ``(size - 1) // 2`` columns wide. Keep it small: a background over many columns
        does not follow the sample's edges in the profile, and the edges are then taken
        for stripes (with the plain median, a 31-column window cost 1.5 dB on a clean
        640-column scan, 9 columns nothing; ``benchmarks/bench_rings.py``). Wider stripes:
        :func:`remove_large_stripe`.
    dilate : int, optional
        Grow each detected stripe by this many columns on both sides (>= 0).

    Returns
    -------
    ndarray of bool, shape (row, column) (or (column,) for a 2-D input)
        True on stripe columns.

    Notes
    -----
    A real feature exactly on the rotation axis is constant over the angles too and
    cannot be told apart from a stripe by any sinogram method.
    """
    two_d = np.ndim(data) == 2
    arr = as_float32_3d(data[:, None, :] if two_d else data)
    s = check_number(snr, "snr", minimum=0.0, strict=True)
    size = check_positive_int(size, "size", minimum=3)
    grow = check_positive_int(dilate, "dilate", minimum=0)
    if arr.shape[0] < 8:
        logger.warning(
            "detect_stripes: %d angles are too few to estimate the noise; every column is "
            "reported as a stripe (the filter then acts as unmasked)",
            arr.shape[0],
        )
        mask = np.ones(arr.shape[1:], bool)
        return mask[0] if two_d else mask
    twins = use_twins(arr)
    mask = np.stack([_sino_mask(arr[:, m, :], s, size, twins) for m in range(arr.shape[1])])
    if grow:
        mask = ndimage.binary_dilation(mask, structure=np.ones((1, 2 * grow + 1), bool))
    return mask[0] if two_d else mask


def apply_masked(
    data,
    func: Callable[[np.ndarray], np.ndarray],
    *,
    mask: np.ndarray | None = None,
    snr: float = 3.0,
    size: int = DETECT_SIZE,
    dilate: int = 2,
    narrow: bool = True,
    width: int | None = None,
    constant: bool = False,
    strong: float = STRONG_STRIPE,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply a stripe filter only on stripe columns.

    ``out = data + mask * c`` with the correction ``c = func(data) - data``, less (with
    ``narrow``) its running mean over ``width`` columns, and ``mask`` from
    :func:`detect_stripes` (dilated by ``dilate`` columns) unless given.

    Parameters
    ----------
    data : ndarray, shape (angle, row, column)
    func : callable
        ``func(data) -> corrected data`` of the same shape (e.g.
        ``functools.partial(remove_stripe_fw, level=8)``).
    mask : ndarray of bool, shape (row, column), optional
    snr, size, dilate
        Passed to :func:`detect_stripes` when ``mask`` is None.
    narrow : bool
        Keep only the narrow (stripe-like) part of the correction. False: the filtered
        values replace the data on the mask exactly.
    width : int, optional
        Columns of the running mean removed from the correction with ``narrow`` (>= 1;
        default ``size``, with ``constant`` the larger of ``size`` and n_columns / 70).
        Narrow keeps FW at legacy depths harmless (a 31-column width costs 1.7 dB on a
        clean 640-column scan, 9 columns nothing), but a field of stripes
        in every column keeps about ``1 / sqrt(width)`` of its amplitude.
    constant : bool
        Keep only the angle-constant part of the correction (its mean over the angles) on
        the masked columns, except on strong stripes (below): a gain ring is constant over
        the angles, and the angle-varying part of a deep filter's correction (FW at level 8)
        is the sample's own structure. On the 640-column scans of ``bench_rings.py`` this
        cuts FW's loss on the ring-free scan from 0.80 to 0.29 dB. That constant part is
        then limited, column by column, to 1.5 times the stripe the column's angular mean
        shows (against the background :func:`detect_stripes` describes), plus 6 noise
        standard deviations of that difference: beyond it the correction is the sample's
        own angle-constant structure (the edge of a sample centred on the axis, which a
        deep FW moves by 2-3 %). Kink columns (a sample edge at the
        same column at every angle) are always masked, corrected narrower than 5 columns and
        bounded 5 noise standard deviations wider. A second pass then subtracts, on the
        masked columns, the median over the angles of each column's difference from its
        row's 13-column running mean (outside kinks, where both halves of the angles agree),
        then the stripe each column's angular mean still shows (same background), the same
        at every angle: the filter's narrow, bounded correction under-corrects a field of
        stripes (on the 640-column scans of ``bench_rings.py``, seeds 0-5, the largest
        residual ring goes from 21.8 to 10.8 %, the ring-free scans lose at most 0.15 dB).
    strong : float
        With ``constant``: columns whose angular mean stands out from its plain
        ``size``-column median by more than this (-log units, default 0.02, i.e. a 2 % gain error) keep the
        whole correction, angle-varying part included: partially dead (saturating)
        columns, whose stripe changes with the transmission.

    Returns
    -------
    (ndarray float32 (angle, row, column), ndarray bool (row, column))
        Corrected copy and the mask used.
    """
    arr = as_float32_3d(data)
    check_number(snr, "snr", minimum=0.0, strict=True)  # checked also when a mask is given
    if mask is None:
        mask = detect_stripes(arr, snr=snr, size=size, dilate=dilate)
    mask = np.asarray(mask, bool)
    if mask.shape != arr.shape[1:]:
        raise ParameterError(f"mask shape {mask.shape} does not match (row, column) {arr.shape[1:]}")
    corr = func(arr) - arr
    raw = corr.mean(axis=0) if constant else None  # before narrowing: the kink columns' width
    if narrow:
        # keep only the part of the correction narrower than ``width`` columns: a filter
        # that also changes wide structure (FW at a deep level) would otherwise leave
        # steps, i.e. new stripes, at the edges of the mask
        if width is not None:
            w = check_positive_int(width, "width")
        else:  # constant mode: wider on wide detectors (9 at 640 columns, 29 at 2048)
            w = max(size, (arr.shape[2] // _CONSTANT_WIDTH_DIVISOR) | 1) if constant else size
        corr -= ndimage.uniform_filter1d(corr, size=w, axis=2, mode="nearest")
    if constant:
        lim = check_number(strong, "strong", minimum=0.0)
        resid, median, noise, kink = _profile_residual(arr, size)
        keep = np.abs(median) > lim
        const = corr.mean(axis=0)
        edge = kink & ~keep
        if edge.any():  # kinks: the correction narrower than _KINK_WIDTH columns
            const[edge] = (raw - ndimage.uniform_filter1d(raw, size=_KINK_WIDTH, axis=1, mode="nearest"))[edge]
        if not keep.all():
            corr[:, ~keep] = const[~keep]
        # no column gets more constant correction than the stripe it shows (sample edges)
        bound = (
            _CLAMP_FACTOR * np.abs(resid) + (_CLAMP_NOISE + np.where(kink, _CLAMP_KINK, 0.0)) * noise[:, None]
        ).astype(np.float32)
        corr += np.clip(const, -bound, bound) - const
        mask = mask | kink
    out = arr.copy()
    # the same float32 sum as ``out[:, rows, cols] += corr[:, rows, cols]`` on the mask's
    # columns, without gathering and scattering them (0.5 s of a 4 x 2048 x 1969 block)
    np.add(out, corr, out=out, where=mask[np.newaxis])
    if constant:
        _second_pass(out, mask, size)
    return out, mask


def _second_pass(out: np.ndarray, mask: np.ndarray, size: int) -> None:
    """Subtract, in place, from the ``mask`` columns of ``out`` the stripe each still shows:
    the median over the angles of its difference from its row's running mean (outside kinks,
    where both halves of the angles agree: ``_ANGULAR_WIDTH``), then the stripe its angular
    mean shows (:func:`_stripe_residual`), the same at every angle."""
    _, _, noise, kink = _profile_residual(out, size)
    half = out.shape[0] // 2
    step = -(-half // _MEDIAN_ANGLES)  # every step-th angle: at most _MEDIAN_ANGLES per half
    for m in range(out.shape[1]):
        sino = out[:, m, :]
        diff = sino - ndimage.uniform_filter1d(sino, _ANGULAR_WIDTH, axis=1, mode="nearest")
        first, second = np.median(diff[:half:step], axis=0), np.median(diff[half::step], axis=0)
        med, mean = 0.5 * (first + second), diff.mean(axis=0, dtype=np.float64)
        stripe = np.where(np.sign(mean) == np.sign(med), np.sign(med) * np.minimum(np.abs(med), np.abs(mean)), 0.0)
        halves = np.abs(first - second)
        sel = mask[m] & ~kink[m] & (halves < _HALF_AGREE * noise[m])
        sino[:, sel] -= stripe[sel].astype(np.float32)
    resid = _profile_residual(out, size)[0]
    out -= np.where(mask, resid, 0.0).astype(np.float32)[np.newaxis]


# --------------------------------------------------------------------------- sorting
def _sorting_sinogram(sino, out, *, size, dim):
    order = np.argsort(sino, axis=0, kind="stable")
    sorted_ = np.take_along_axis(sino, order, axis=0)
    win = (1, size) if dim == 1 else (size, size)
    smooth = ndimage.median_filter(sorted_, size=win, mode="nearest")
    np.put_along_axis(out, order, smooth, axis=0)


def _checked(data, snr, size) -> tuple[np.ndarray, float, int]:
    """``data`` as float32 (angle, row, column), ``snr`` (> 0) and ``size`` (>= 1) checked."""
    return as_float32_3d(data), check_number(snr, "snr", minimum=0.0, strict=True), check_positive_int(size, "size")


def remove_stripe_based_sorting(data, *, size: int = 21, dim: int = 1, num_threads: int | None = None) -> np.ndarray:
    """Remove small stripes by sorting each column along the angles, median filtering the
    sorted sinogram across the columns and undoing the sort (Vo 2018, algorithm 3).

    Parameters
    ----------
    data : ndarray, shape (angle, row, column)
        -log data.
    size : int, optional
        Median window in columns (>= 1); wider than the stripes.
    dim : {1, 2}, optional
        1: window ``(1, size)`` (across columns); 2: ``(size, size)``.
    num_threads : int, optional
        Threads over sinograms.

    Returns
    -------
    ndarray float32, shape (angle, row, column)
    """
    arr = as_float32_3d(data)
    size = check_positive_int(size, "size")
    if dim not in (1, 2):
        raise ParameterError(f"dim must be 1 or 2, got {dim!r}")

    def func(sino, out):
        _sorting_sinogram(sino, out, size=size, dim=dim)

    return _map_sinograms(func, arr, num_threads)


# --------------------------------------------------------------------------- large
def _ratio_mask(profile: np.ndarray, snr: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Ratio of ``profile`` to its median over ``size`` columns, and the columns where
    the ratio stands out by more than ``snr`` robust (MAD) standard deviations."""
    smooth = ndimage.median_filter(profile, size=max(3, size | 1), mode="reflect")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.abs(smooth) > 1e-12, profile / smooth, 1.0)
    dev = ratio - 1.0
    noise = _MAD_TO_STD * float(np.median(np.abs(dev - np.median(dev))))
    if not noise > 0:
        return ratio, dev != 0
    return ratio, np.abs(dev) > snr * noise


def _large_sinogram(sino, out, *, snr, size, drop_ratio, norm):
    nang, _ = sino.shape
    ndrop = int(0.5 * drop_ratio * nang)
    sorted_ = np.sort(sino, axis=0)
    core = sorted_[ndrop : nang - ndrop] if nang - 2 * ndrop > 0 else sorted_
    profile = core.mean(axis=0)
    ratio, mask = _ratio_mask(profile, snr, size)
    mask = ndimage.binary_dilation(mask, iterations=2)
    work = sino.copy()
    if norm:  # only the stripe columns: elsewhere the ratio is the object's own profile
        work[:, mask] /= ratio[None, mask]
    out[...] = work
    if mask.any():
        order = np.argsort(work, axis=0, kind="stable")
        srt = np.take_along_axis(work, order, axis=0)
        smooth = ndimage.median_filter(srt, size=(1, size), mode="reflect")
        res = np.empty_like(work)
        np.put_along_axis(res, order, smooth, axis=0)
        out[:, mask] = res[:, mask]


def remove_large_stripe(
    data,
    *,
    snr: float = 3.0,
    size: int = 51,
    drop_ratio: float = 0.1,
    norm: bool = True,
    num_threads: int | None = None,
) -> np.ndarray:
    """Remove large (wide, partial) stripes (Vo 2018, algorithm 5).

    The mean over the angles of each sorted column, without the ``drop_ratio`` extreme
    values, is divided by its median over ``size`` columns; columns whose ratio stands
    out by ``snr`` robust standard deviations are stripes. With ``norm`` every column is
    divided by its ratio; stripe columns are then replaced by the sorting-based median.

    Parameters
    ----------
    data : ndarray, shape (angle, row, column)
    snr : float, optional
        Detection threshold (> 0).
    size : int, optional
        Median window (columns), wider than the stripes.
    drop_ratio : float, optional
        Fraction (0..0.8) of the sorted values dropped (half at each end).
    norm : bool, optional
        Normalise each column by its ratio (corrects gain errors in all columns).
    num_threads : int, optional

    Returns
    -------
    ndarray float32, shape (angle, row, column)
    """
    arr, s, size = _checked(data, snr, size)
    dr = check_number(drop_ratio, "drop_ratio", minimum=0.0)
    if dr > 0.8:
        raise ParameterError(f"drop_ratio must be in [0, 0.8], got {drop_ratio!r}")

    def func(sino, out):
        _large_sinogram(sino, out, snr=s, size=size, drop_ratio=dr, norm=bool(norm))

    return _map_sinograms(func, arr, num_threads)


# --------------------------------------------------------------------------- dead
def _interp_columns(sino: np.ndarray, out: np.ndarray, mask: np.ndarray, offset=None) -> None:
    """``out[:, mask]`` = linear interpolation between the nearest unmasked columns
    (``mask`` False at both ends), less ``offset`` (column,) of those columns."""
    good = np.flatnonzero(~mask)
    bad = np.flatnonzero(mask)
    idx = np.searchsorted(good, bad)
    left, right = good[idx - 1], good[idx]
    w = ((bad - left) / (right - left)).astype(np.float32)
    out[:, bad] = sino[:, left] * (1.0 - w) + sino[:, right] * w
    if offset is not None:
        out[:, bad] -= (offset[left] * (1.0 - w) + offset[right] * w).astype(np.float32)


@njit(nogil=True, cache=True)
def _residual_variation(sino, out):
    """Per column: mean |change between consecutive angles| of the column minus the median
    of it and its two neighbours (edges repeat the edge value). A constant gain error (an
    ordinary ring) leaves it unchanged; a dead column (which does not follow the object) or
    a fluctuating one raises it."""
    nang, ncol = sino.shape
    prev = np.zeros(ncol)
    for c in range(ncol):
        out[c] = 0.0
    for a in range(nang):
        for c in range(ncol):
            v = sino[a, c]
            lft = sino[a, c - 1] if c > 0 else v
            rgt = sino[a, c + 1] if c < ncol - 1 else v
            r = v - max(min(lft, v), min(max(lft, v), rgt))
            if a > 0:
                out[c] += abs(r - prev[c])
            prev[c] = r
    for c in range(ncol):
        out[c] /= max(nang - 1, 1)


@_residual_variation.twin
def _residual_variation_numpy(sino, out):
    """:func:`_residual_variation` in NumPy (the kernel differences consecutive residuals in float64)."""
    lft = np.concatenate([sino[:, :1], sino[:, :-1]], axis=1)
    rgt = np.concatenate([sino[:, 1:], sino[:, -1:]], axis=1)
    resid = sino - np.maximum(np.minimum(lft, sino), np.minimum(np.maximum(lft, sino), rgt))
    out[...] = np.abs(np.diff(resid.astype(np.float64), axis=0)).sum(axis=0) / max(sino.shape[0] - 1, 1)


def _dead_sinogram(sino, out, *, snr, size, level, twins):
    ncol = sino.shape[1]
    mean = np.empty(ncol)
    var = np.empty(ncol)
    resvar = np.empty(ncol)
    _column_stats.pick(twins)(sino, mean, var)
    _residual_variation.pick(twins)(sino, resvar)
    ratio, mask = _ratio_mask(resvar, snr, size)
    # and well above the neighbours' (object edges give a few percent): a broken column
    mask &= ratio > 1.0 + _DEAD_EXCESS
    # frozen columns: almost no change from angle to angle
    mask |= var < 0.2 * ndimage.median_filter(var, size=max(3, size | 1))
    mask[0] = mask[-1] = False
    mask = ndimage.binary_dilation(mask, iterations=1)
    mask[0] = mask[-1] = False
    out[...] = sino
    if mask.any():
        # interpolate the neighbours less the stripe each shows (their gain rings would
        # otherwise be copied onto the interpolated columns as a new stripe)
        off = _stripe_residual(mean, 1.25 * _mean_noise(var, sino.shape[0]), DETECT_SIZE)[0] if level else None
        _interp_columns(sino, out, mask, off)


def remove_dead_stripe(
    data,
    *,
    snr: float = 3.0,
    size: int = 51,
    residual: bool = True,
    level: bool = True,
    num_threads: int | None = None,
) -> np.ndarray:
    """Remove unresponsive and fluctuating stripes (Vo 2018, algorithm 6).

    Columns where the change between consecutive angles of their difference from a
    3-column median stands out from its median over ``size`` columns by ``snr`` robust
    standard deviations and by half of it (dead columns, which do not follow the object,
    and fluctuating ones), and frozen columns (angle-to-angle change below a fifth of the
    neighbours'), are replaced by linear interpolation between their neighbours; with
    ``residual`` :func:`remove_large_stripe` then removes what is left. A constant gain
    error (an ordinary ring) does not change that statistic, so ordinary rings are left
    to the stripe filters and the column's content is kept.

    Parameters
    ----------
    data : ndarray, shape (angle, row, column)
    snr : float, optional
    size : int, optional
    residual : bool, optional
    level : bool, optional
        Interpolate between the neighbours less the stripe each of them shows (its angular
        mean against the background :func:`detect_stripes` uses), so that their own gain
        rings are not copied onto the interpolated columns as a new stripe (default; on
        the 2048-column scans of ``bench_rings.py``, seed 0 on the axis, the default
        ring removal's residual ring goes from 11.4 to 10.3 %). False: between the
        neighbours' values (Vo's algorithm).
    num_threads : int, optional

    Returns
    -------
    ndarray float32, shape (angle, row, column)
    """
    arr, s, size = _checked(data, snr, size)
    twins = use_twins(arr)

    def func(sino, out):
        _dead_sinogram(sino, out, snr=s, size=size, level=bool(level), twins=twins)

    out = _map_sinograms(func, arr, num_threads)
    if residual:
        out = remove_large_stripe(out, snr=s, size=size, num_threads=num_threads)
    return out


def remove_all_stripe(
    data,
    *,
    snr: float = 3.0,
    la_size: int = 61,
    sm_size: int = 21,
    dim: int = 1,
    num_threads: int | None = None,
) -> np.ndarray:
    """All stripe types (Vo 2018): dead stripes, then large stripes (window ``la_size``),
    then small ones by sorting (window ``sm_size``); algotom's ``remove_all_stripe``.

    Returns
    -------
    ndarray float32, shape (angle, row, column)
    """
    out = remove_dead_stripe(data, snr=snr, size=la_size, residual=False, num_threads=num_threads)
    out = remove_large_stripe(out, snr=snr, size=la_size, num_threads=num_threads)
    return remove_stripe_based_sorting(out, size=sm_size, dim=dim, num_threads=num_threads)


def remove_stripe_auto(
    data,
    *,
    filter: Callable[[np.ndarray], np.ndarray] | None = None,
    snr: float = 3.0,
    size: int = DETECT_SIZE,
    dilate: int = 2,
    dead: bool = True,
    dead_size: int = 51,
    constant: bool = False,
    num_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Do-no-harm stripe removal: interpolate dead / fluctuating columns
    (:func:`remove_dead_stripe` without residual step, if ``dead``), then apply ``filter``
    (default: Titarenko, :func:`alsmicroct.prep.remove_stripe_ti`) only on the columns
    :func:`detect_stripes` finds (:func:`apply_masked`).

    Parameters
    ----------
    data : ndarray, shape (angle, row, column)
        -log data.
    filter : callable, optional
        ``filter(data) -> corrected data``.
    snr, size, dilate
        Detection threshold (noise standard deviations), median window (columns) and
        dilation (columns) of :func:`detect_stripes`; ``snr`` also for the dead columns.
    dead : bool
        Interpolate dead, frozen and fluctuating columns first.
    dead_size : int
        Median window (columns) of the dead-column test.
    constant : bool
        Keep only the angle-constant part of the correction except on strong stripes
        (:func:`apply_masked`); recon()'s masked FW does.
    num_threads : int, optional

    Returns
    -------
    (ndarray float32 (angle, row, column), ndarray bool (row, column))
        Corrected copy and the stripe mask (for the provenance and the quality report).
    """
    from .stripes import remove_stripe_ti

    if filter is None:

        def filter(d):
            return remove_stripe_ti(d, num_threads=num_threads)

    out = data
    if dead:
        out = remove_dead_stripe(data, snr=snr, size=dead_size, residual=False, num_threads=num_threads)
    return apply_masked(out, filter, snr=snr, size=size, dilate=dilate, constant=constant)
