"""Centre-of-rotation finding: phase correlation, Vo's method, entropy, try-sweep.

All centres are in pixels from the left edge of the detector row, pixel-centre convention
(``(N - 1) / 2`` is the exact middle), as in ``docs/geometry.md``.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import scipy.fft as sfft

from alsmicroct.checks import as_real_array, check_number
from alsmicroct.engine.gridrec import reconstruct
from alsmicroct.errors import ParameterError

__all__ = ["center_sweep", "find_center_nm", "find_center_pc", "find_center_vo"]

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- phase corr.
def _taper(n: int, frac: float = 0.1) -> np.ndarray:
    """Tukey window: flat, with cosine roll-offs over ``frac`` of each end."""
    w = np.ones(n)
    m = max(1, int(frac * n))
    ramp = 0.5 * (1.0 - np.cos(np.pi * (np.arange(m) + 0.5) / m))
    w[:m] = ramp
    w[n - m :] = ramp[::-1]
    return w


def _upsampled_x(cross: np.ndarray, nx: int, peak: tuple[int, int], upsample: int) -> float:
    """Refine the x position of a correlation peak by a matrix-multiply DFT.

    ``cross`` is the half spectrum (``rfft2`` layout) of the real correlation surface;
    the surface is evaluated on a 1.5 px neighbourhood of ``peak`` at ``1 / upsample``
    pixel steps and the x of its maximum returned.
    """
    ny = cross.shape[0]
    width = math.ceil(1.5 * upsample)
    offs = (np.arange(width) - width // 2) / upsample
    ys = peak[0] + offs
    xs = peak[1] + offs
    kx = np.arange(cross.shape[1])
    weight = np.where((kx == 0) | (2 * kx == nx), 1.0, 2.0)  # Hermitian half spectrum
    ey = np.exp(2j * np.pi * np.outer(ys, sfft.fftfreq(ny))).astype(np.complex64)
    ex = (weight[:, None] * np.exp(2j * np.pi * np.outer(kx / nx, xs))).astype(np.complex64)
    surf = ((ey @ cross) @ ex).real
    _, ix = np.unravel_index(int(np.argmax(surf)), surf.shape)
    return float(xs[ix])


def find_center_pc(
    proj0: np.ndarray,
    proj180: np.ndarray,
    *,
    tol: float = 0.25,
    rotc_guess: float | None = None,
) -> float:
    """Centre of rotation from the 0 and 180 degree projections by phase correlation.

    The 180 degree projection is mirrored left-right and registered to the 0 degree
    one with sub-pixel phase correlation; a shift ``d`` (pixels) gives the centre
    ``((N - 1) + d) / 2``.

    Parameters
    ----------
    proj0, proj180 : ndarray, shape (nrows, N)
        Flat-field-corrected projections (transmission or -log; same kind for both).
    tol : float, keyword-only
        Wanted precision of the centre in pixels (sets the upsampling of the peak fit).
    rotc_guess : float, optional, keyword-only
        Approximate centre in pixels; the peak is then searched within N/4 of it.

    Returns
    -------
    float
        Centre in pixels from the left edge.

    Raises
    ------
    ParameterError
        On arrays of different shapes, not 2-D or non-finite, or a bad ``tol``.
    """
    a = as_real_array(proj0, "proj0", 2)
    b = as_real_array(proj180, "proj180", 2)
    if a.shape != b.shape:
        raise ParameterError(f"proj180 has shape {b.shape}; expected the shape of proj0, {a.shape}")
    tol = check_number(tol, "tol", minimum=0.0, strict=True)
    ny, nx = a.shape
    win = np.outer(_taper(ny), _taper(nx)).astype(np.float32)
    fa = sfft.rfft2(((a - a.mean()) * win).astype(np.float32), workers=-1)
    fb = sfft.rfft2(((b[:, ::-1] - b.mean()) * win).astype(np.float32), workers=-1)
    cross = fa * np.conj(fb)
    del fa, fb
    cross /= np.maximum(np.abs(cross), 1e-30)
    surf = sfft.irfft2(cross, s=(ny, nx), workers=-1)
    dx = np.where(np.arange(nx) > nx // 2, np.arange(nx) - nx, np.arange(nx))
    if rotc_guess is not None:
        guess = float(rotc_guess)
        if not math.isfinite(guess) or not 0 <= guess <= nx - 1:
            raise ParameterError(f"rotc_guess={rotc_guess!r} lies outside the detector; expected 0..{nx - 1}")
        d_guess = 2.0 * guess - (nx - 1)
        # shifts d and d - nx alias: measure the distance on the circle
        dist = np.abs((dx - d_guess + nx / 2.0) % nx - nx / 2.0)
        surf[:, dist > max(8.0, nx / 4.0)] = -np.inf
    iy, ix = np.unravel_index(int(np.argmax(surf)), surf.shape)
    py = iy - ny if iy > ny // 2 else iy
    px = int(dx[ix])
    upsample = max(2, math.ceil(2.0 / tol))
    shift = _upsampled_x(cross, nx, (py, px), upsample)
    center = ((nx - 1) + shift) / 2.0
    logger.debug("find_center_pc: shift %.3f px -> centre %.3f", shift, center)
    return float(center)


# ----------------------------------------------------------------------------- Vo
def _vo_mask(nrow: int, ncol: int, ratio: float, drop: int) -> np.ndarray:
    """Double-wedge mask of the forbidden region of a 360-degree sinogram's spectrum.

    For an object of radius ``R = ratio * ncol / 2`` the angular harmonic ``n`` of a
    360-degree sinogram (``nrow`` rows) is negligible unless ``|n| <= 2 pi R |u|`` (``u``
    in cycles per pixel); the mask is 1 where ``|u| < |n| / (2 pi R)``, except the
    lowest ``drop`` harmonics and the three central columns. Laid out like ``rfft2``
    output, with weight 2 on the columns that stand for a mirrored pair.
    """
    n = np.abs(sfft.fftfreq(nrow) * nrow)[:, None]
    k = np.arange(ncol // 2 + 1)[None, :].astype(np.float64)
    radius = 0.5 * ratio * ncol
    mask = (k <= n * ncol / (2.0 * np.pi * radius)).astype(np.float32)
    drop = min(int(drop), math.ceil(0.05 * nrow))
    mask[n[:, 0] <= drop, :] = 0.0
    mask[:, :2] = 0.0
    weight = np.where((k == 0) | (2 * k == ncol), 1.0, 2.0)
    return (mask * weight).astype(np.float32)


def _vo_metric(sino: np.ndarray, shifts: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Vo's metric for each shift (pixels) of the mirrored sinogram.

    The masked sum of ``|rfft2(stacked)|``, computed as ``rfft2`` does (a real FFT along
    the rows, then a complex FFT down the columns) but only down the columns the mask
    reaches, and with the row FFTs of the unshifted top half done once.
    """
    from scipy import ndimage

    sino = sino.astype(np.float32)
    flip = sino[:, ::-1]
    comp = sino[::-1, :]
    nrow, ncol = sino.shape
    used = np.flatnonzero(mask.any(axis=0))
    out = np.zeros(len(shifts))
    if used.size == 0:
        return out
    cols = slice(int(used[0]), int(used[-1]) + 1)
    sub = np.ascontiguousarray(mask[:, cols])
    norm = float(mask.sum()) or 1.0
    rows = np.empty((2 * nrow, sub.shape[1]), dtype=np.complex64)
    rows[:nrow] = sfft.rfft(sino, axis=1, workers=-1)[:, cols]
    moved = np.empty((nrow, ncol), dtype=np.float32)
    for i, sh in enumerate(shifts):
        if float(sh).is_integer():
            moved[...] = np.roll(flip, int(sh), axis=1)
        else:
            ndimage.shift(flip, (0.0, float(sh)), output=moved, order=3, mode="nearest")
        cut = min(math.ceil(abs(sh)), ncol)
        if sh > 0:
            moved[:, :cut] = comp[:, :cut]
        elif sh < 0:
            moved[:, ncol - cut :] = comp[:, ncol - cut :]
        rows[nrow:] = sfft.rfft(moved, axis=1, workers=-1)[:, cols]
        spec = np.abs(sfft.fft(rows, axis=0, workers=-1))
        out[i] = float(np.vdot(spec.ravel(), sub.ravel()).real) / norm
    return out


def _bin(sino: np.ndarray, fr: int, fc: int) -> np.ndarray:
    nr, nc = (sino.shape[0] // fr) * fr, (sino.shape[1] // fc) * fc
    return sino[:nr, :nc].reshape(nr // fr, fr, nc // fc, fc).mean(axis=(1, 3))


def find_center_vo(
    sino2d: np.ndarray,
    *,
    ind: int | None = None,
    smin: float = -40,
    smax: float = 40,
    srad: float = 10,
    step: float = 0.5,
    ratio: float = 2.0,
    drop: int = 20,
    theta: np.ndarray | None = None,
) -> float:
    """Centre of rotation by Vo's Fourier method (Vo et al., Opt. Express 22, 2014).

    The sinogram and its mirrored copy shifted for a candidate centre are stacked into
    a 360-degree sinogram; at the right centre its 2-D spectrum has the least energy in
    the double-wedge region an object of finite size cannot reach. A coarse search over
    ``smin..smax`` (0.5 px steps of the centre, on a smoothed and binned copy) is
    followed by a fine search of ``+-srad`` in ``step`` increments, refined by a
    parabola through the best three.

    Parameters
    ----------
    sino2d : ndarray, shape (nangles, N), or (nangles, nrows, N)
        -log sinogram of a 180 degree scan (one row, or a stack of which row ``ind`` is
        used).
    ind : int, optional, keyword-only
        Row of a 3-D stack (default: the middle one).
    smin, smax : float, keyword-only
        Coarse search range, pixels relative to the middle ``(N - 1) / 2``.
    srad : float, keyword-only
        Fine search radius in pixels around the coarse result.
    step : float, keyword-only
        Fine search step in pixels.
    ratio : float, keyword-only
        Object radius over half the detector width (sets the mask's wedge).
    drop : int, keyword-only
        Lowest angular harmonics ignored by the metric.
    theta : ndarray, optional, keyword-only
        Angles in radians; when given and the scan spans more than 180 degrees, only
        the first 180 degrees are used.

    Returns
    -------
    float
        Centre in pixels from the left edge.
    """
    data = as_real_array(sino2d, "sino2d", (2, 3))
    if data.ndim == 3:
        row = data.shape[1] // 2 if ind is None else int(ind)
        if not 0 <= row < data.shape[1]:
            raise ParameterError(f"ind={ind!r}; expected a row in 0..{data.shape[1] - 1}")
        data = data[:, row, :]
    sino = data.astype(np.float64)
    if theta is not None:
        th = np.asarray(theta, dtype=np.float64)
        if th.shape != (sino.shape[0],):
            raise ParameterError(f"theta has shape {th.shape}; expected one angle per row, ({sino.shape[0]},)")
        keep = np.abs(th - th[0]) < np.pi - 1e-6 * np.pi
        sino = sino[keep]
    step = check_number(step, "step", minimum=0.0, strict=True)
    srad = check_number(srad, "srad", minimum=0.0)
    ratio = check_number(ratio, "ratio", minimum=0.0, strict=True)
    if not smin <= smax:
        raise ParameterError(f"smin={smin!r}, smax={smax!r}; expected smin <= smax")
    nrow, ncol = sino.shape
    if nrow < 4 or ncol < 8:
        raise ParameterError(f"sino2d has shape {sino.shape}; expected at least 4 x 8")
    from scipy import ndimage

    mid = (ncol - 1) / 2.0
    # coarse: smoothed along the angles, binned to <= 512 columns and <= 1024 angles
    fc = 1 << max(0, math.ceil(math.log2(ncol / 512.0)))
    fr = max(1, math.ceil(nrow / 1024.0))
    coarse = _bin(ndimage.gaussian_filter(sino, (3, 1), mode="reflect"), fr, fc)
    cmid = (coarse.shape[1] - 1) / 2.0
    lo = max(-cmid, smin / fc)
    hi = min(cmid, smax / fc)
    cors = np.arange(math.floor(2 * lo) / 2.0, hi + 0.25, 0.5)
    metric = _vo_metric(coarse, 2.0 * cors, _vo_mask(2 * coarse.shape[0], coarse.shape[1], ratio, drop))
    # binning by fc maps column j to (j - (fc - 1) / 2) / fc: centres scale about the middle
    init = mid + float(cors[int(np.argmin(metric))]) * fc
    # fine: median-filtered (3 x 3), angles binned to <= 1024 rows, full column resolution
    fine = ndimage.median_filter(sino, (3, 3), mode="reflect")  # odd: no half-pixel shift
    fine = _bin(fine, fr, 1)
    cands = init + np.arange(-srad, srad + 0.5 * step, step)
    cands = cands[(cands >= 0) & (cands <= ncol - 1)]
    if cands.size == 0:
        return float(init)
    metric = _vo_metric(fine, 2.0 * (cands - mid), _vo_mask(2 * fine.shape[0], ncol, ratio, drop))
    best = int(np.argmin(metric))
    center = float(cands[best])
    if 0 < best < len(cands) - 1:
        m0, m1, m2 = metric[best - 1 : best + 2]
        denom = m0 - 2.0 * m1 + m2
        if denom > 0:
            center += 0.5 * step * (m0 - m2) / denom
    logger.debug("find_center_vo: coarse %.2f, fine %.3f", init, center)
    return center


# ----------------------------------------------------------------------------- entropy
def _select_sinogram(sino, ind, sinogram_order) -> np.ndarray:
    data = as_real_array(sino, "sino", (2, 3))
    if data.ndim == 2:
        return data
    axis = 0 if sinogram_order else 1
    row = data.shape[axis] // 2 if ind is None else int(ind)
    if not 0 <= row < data.shape[axis]:
        raise ParameterError(f"ind={ind!r}; expected a row in 0..{data.shape[axis] - 1}")
    return data[row] if sinogram_order else data[:, row, :]


def find_center_nm(
    sino: np.ndarray,
    theta: np.ndarray,
    *,
    ind: int | None = None,
    init: float | None = None,
    tol: float = 0.5,
    mask: bool = True,
    ratio: float = 1.0,
    sinogram_order: bool = False,
) -> float:
    """Centre of rotation minimising the entropy of the reconstructed slice (TomoPy's
    ``find_center``), with scipy's Nelder-Mead.

    Parameters
    ----------
    sino : ndarray
        ``(nangles, nrows, N)`` -log data (``(nrows, nangles, N)`` with
        ``sinogram_order=True``), or one ``(nangles, N)`` sinogram.
    theta : ndarray, shape (nangles,)
        Angles in radians.
    ind : int, optional, keyword-only
        Row used (default: the middle one).
    init : float, optional, keyword-only
        Starting centre in pixels (default: the middle of the row).
    tol : float, keyword-only
        Nelder-Mead tolerance on the centre (pixels) and on the entropy.
    mask : bool, keyword-only
        Only use pixels inside the circle of radius ``ratio * N / 2``.
    ratio : float, keyword-only
        Radius of that circle relative to half the slice width.
    sinogram_order : bool, keyword-only
        Whether a 3-D ``sino`` is ordered ``(row, angle, column)``.

    Returns
    -------
    float
        Centre in pixels from the left edge.
    """
    from scipy.optimize import minimize

    sino2d = _select_sinogram(sino, ind, sinogram_order)
    _nang, ncol = sino2d.shape
    tol = check_number(tol, "tol", minimum=0.0, strict=True)
    ratio = check_number(ratio, "ratio", minimum=0.0, strict=True)
    start = (ncol - 1) / 2.0 if init is None else float(init)
    if not math.isfinite(start) or not 0 <= start <= ncol - 1:
        raise ParameterError(f"init={init!r} lies outside the detector; expected 0..{ncol - 1}")
    stack = sino2d[:, None, :]
    yy, xx = np.mgrid[:ncol, :ncol] - (ncol - 1) / 2.0
    inside = (np.hypot(xx, yy) <= ratio * ncol / 2.0) if mask else np.ones((ncol, ncol), bool)

    def rec(c: float) -> np.ndarray:
        img = reconstruct(stack, theta, center=c, filter_name="shepp")[0]
        return img[inside]

    first = rec(start)
    lo, hi = float(first.min()), float(first.max())
    hmin = 2.0 * lo if lo < 0 else 0.5 * lo
    hmax = 0.5 * hi if hi < 0 else 2.0 * hi
    if not hmax > hmin:
        raise ParameterError("sino gives a constant slice; the entropy has no minimum")

    def cost(x: np.ndarray) -> float:
        c = float(x[0])
        if not 0 <= c <= ncol - 1:
            return 1e6
        hist, _ = np.histogram(rec(c), bins=64, range=(hmin, hmax))
        p = hist.astype(np.float64) / inside.sum() + 1e-12
        return float(-np.dot(p, np.log2(p)))

    res = minimize(
        cost,
        np.array([start]),
        method="Nelder-Mead",
        tol=tol,
        options={"initial_simplex": np.array([[start], [start + 2.0]])},
    )
    logger.debug("find_center_nm: %d evaluations -> %.3f", res.nfev, float(res.x[0]))
    return float(res.x[0])


# ----------------------------------------------------------------------------- sweep
def center_sweep(sino2d: np.ndarray, theta: np.ndarray, centers: np.ndarray, **reconstruct_kwargs) -> np.ndarray:
    """Reconstruct one sinogram for each of a range of centres (pick the sharpest by eye).

    Parameters
    ----------
    sino2d : ndarray, shape (nangles, N)
        -log sinogram of one row.
    theta : ndarray, shape (nangles,)
        Angles in radians.
    centers : array_like, shape (ncenters,)
        Trial centres in pixels from the left edge.
    **reconstruct_kwargs
        Passed to :func:`alsmicroct.engine.reconstruct` (``algorithm``, ``filter_name``,
        ``cutoff``, ``order``, ``npad``, ``num_threads``).

    Returns
    -------
    ndarray, float32, shape (ncenters, N, N)
        One slice (1/pixel) per centre, in the order of ``centers``.
    """
    data = as_real_array(sino2d, "sino2d", 2)
    cens = np.atleast_1d(np.asarray(centers, dtype=np.float64))
    if cens.ndim != 1 or cens.size == 0:
        raise ParameterError(f"centers has shape {np.shape(centers)}; expected a 1-D list")
    if "center" in reconstruct_kwargs:
        raise ParameterError("center is given by centers; do not pass center= to center_sweep")
    stack = np.broadcast_to(data[:, None, :], (data.shape[0], cens.size, data.shape[1]))
    return reconstruct(stack, theta, center=cens, **reconstruct_kwargs)
