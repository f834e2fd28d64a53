"""Quality figures of a reconstruction and of its raw data (pure array functions).

- :func:`ring_index`: rings' share of a slice (or of a difference to a reference);
- :func:`column_means`: a sinogram's mean over the angles per column (finite values);
- :func:`stripe_residual`: the column-constant residual of a sinogram (what makes rings);
- :func:`psnr`: peak signal-to-noise ratio within the reconstruction disk;
- :func:`sharpness`: mean gradient energy of a slice;
- :func:`raw_pixel_fractions`: saturated and zero-count fractions of raw images;
- :func:`flat_drift`: relative change of the flat field between flat groups;
- :func:`range_8bit`: suggested value range for an 8-bit conversion (a suggestion).
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import ParameterError

_QUANTILE_SAMPLES = 1 << 20

__all__ = [
    "column_means",
    "flat_drift",
    "psnr",
    "range_8bit",
    "raw_pixel_fractions",
    "ring_index",
    "sharpness",
    "stripe_residual",
]


@functools.lru_cache(maxsize=8)
def _radii(n: int) -> np.ndarray:
    """Distance of each pixel of an ``n`` x ``n`` slice from its centre (px), read-only."""
    c = np.arange(n, dtype=np.float32) - np.float32((n - 1) / 2)
    r = np.hypot(c[:, None], c[None, :])
    r.flags.writeable = False
    return r


@functools.lru_cache(maxsize=8)
def _disk(n: int, frac: float) -> np.ndarray:
    m = _radii(n) <= frac * n
    m.flags.writeable = False
    return m


@functools.lru_cache(maxsize=8)
def _ring_bins(n: int, frac: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The disk of :func:`ring_index` on an ``n`` x ``n`` slice: flat indices of its pixels,
    their 1-pixel radius bin, and the pixel count of each bin (read-only)."""
    r = np.rint(_radii(n)).astype(np.intp).ravel()
    sel = np.flatnonzero(r < int(frac * n))
    bins = r[sel]
    count = np.bincount(bins).astype(np.float64)
    for a in (sel, bins, count):
        a.flags.writeable = False
    return sel, bins, count


def ring_index(img, ref=None, *, frac: float = 0.45, highpass: int = 0) -> float:
    """RMS of the azimuthal mean (1-pixel radius bins) of ``img - ref`` over the disk of
    radius ``frac`` times the slice width: the part that is constant along circles about
    the axis (rings), in the units of ``img``.

    Parameters
    ----------
    img : ndarray, shape (n, n) or (rows, n, n)
    ref : ndarray, optional
        Same shape (e.g. the ring-free twin); None: 0.
    frac : float
    highpass : int
        If > 0, subtract a running mean of the radial profile over this many radii (keeps
        the ring part only, without a reference).

    Returns
    -------
    float

    Notes
    -----
    The RMS over the disk's pixels of each pixel's bin mean is computed per bin, weighted
    by the bins' pixel counts (the same sum, without a per-pixel array); the bins are
    cached per slice size, and only the disk's pixels are read, in float64 sums.
    """
    img = np.asarray(img)
    if ref is not None:
        ref = np.asarray(ref)
        if ref.shape != img.shape:
            raise ParameterError(f"ring_index: ref shape {ref.shape} differs from img shape {img.shape}")
    stack = img[None] if img.ndim == 2 else img
    if stack.ndim != 3 or stack.shape[-1] != stack.shape[-2]:
        raise ParameterError(f"ring_index: expected square slices, got shape {img.shape}")
    n = stack.shape[-1]
    sel, bins, count = _ring_bins(n, float(frac))
    refs = None if ref is None else (ref[None] if ref.ndim == 2 else ref)
    means = np.empty((stack.shape[0], count.size))
    for k, sl in enumerate(stack):
        values = np.asarray(sl).reshape(-1)[sel].astype(np.float64)
        if refs is not None:
            values -= np.asarray(refs[k]).reshape(-1)[sel]
        means[k] = np.bincount(bins, weights=values, minlength=count.size) / np.maximum(count, 1.0)
    if highpass > 0:
        k = np.ones(highpass) / highpass
        means = means - np.array(
            [np.convolve(np.pad(p, highpass, mode="edge"), k, "same")[highpass:-highpass] for p in means]
        )
    return float(np.sqrt(np.sum(means**2 * count) / (count.sum() * means.shape[0])))


def column_means(sino) -> np.ndarray:
    """Mean over the angles of each column of ``sino`` (angles, columns), non-finite values
    left out (NaN where a column has none), float64."""
    a = np.asarray(sino, float)
    return np.nanmean(np.where(np.isfinite(a), a, np.nan), axis=0)


def stripe_residual(sino, *, size: int = 5, means: np.ndarray | None = None) -> np.ndarray:
    """Mean over the angles of each column of ``sino`` less its running median over ``size``
    columns: the part constant along the angles that varies from column to column (the
    cause of rings; an object's column means are smooth). Units of ``sino``.

    Parameters
    ----------
    sino : ndarray, shape (angles, columns)
    size : int
        Width of the running median, columns (odd).
    means : ndarray, optional
        ``column_means(sino)`` when the caller already has them.

    Returns
    -------
    ndarray, float64, shape (columns,)
    """
    from scipy.ndimage import median_filter

    shape = np.shape(sino)
    if len(shape) != 2 or shape[1] < size:
        raise ParameterError(f"stripe_residual: expected a sinogram (angles, columns >= {size}), got {shape}")
    mean = np.nan_to_num(column_means(sino) if means is None else means, nan=0.0)
    return mean - median_filter(mean, size=size, mode="nearest")


def psnr(rec, truth, *, frac: float = 0.45) -> float:
    """PSNR (dB) of ``rec`` against ``truth`` within the disk of radius ``frac`` times the
    width, peak = maximum of ``truth``."""
    rec = np.asarray(rec, float)
    truth = np.asarray(truth, float)
    m = _disk(truth.shape[-1], frac)
    err = np.sqrt(np.mean((rec[..., m] - truth[..., m]) ** 2))
    return float(20 * np.log10(truth.max() / err)) if err > 0 else float("inf")


def sharpness(img, *, frac: float = 0.45) -> float:
    """Mean squared gradient (units of ``img`` squared per pixel squared) within the disk,
    relative to the variance of the image there (dimensionless; larger = sharper).

    The gradient is :func:`numpy.gradient`'s: central differences inside the slice (the disk,
    of radius ``frac < 0.5`` times the width, never reaches the one-sided edge differences),
    computed on the disk's bounding box only.
    """
    a = np.asarray(img, np.float32)
    n = a.shape[-1]
    m = _disk(n, frac)
    if frac >= 0.5 or a.shape[-2] != n or n < 3:
        gy, gx = np.gradient(a, axis=(-2, -1))
        inside = a[..., m].astype(np.float64)
        g2 = np.square(gx[..., m], dtype=np.float64) + np.square(gy[..., m], dtype=np.float64)
        var = inside.var()
        return float(np.mean(g2) / var) if var > 0 else 0.0
    rows = np.flatnonzero(m.any(axis=1))
    lo, hi = max(int(rows[0]), 1), min(int(rows[-1]) + 1, n - 1)  # the disk's box, inside the edges
    w = m[lo:hi, lo:hi].astype(np.float32)  # masked sums, no gathered copies
    centre = a[..., lo:hi, lo:hi]
    count = w.sum(dtype=np.float64) * (a.size // (a.shape[-1] * a.shape[-2]))
    gx = a[..., lo:hi, lo + 1 : hi + 1] - a[..., lo:hi, lo - 1 : hi - 1]  # twice the central difference
    gy = a[..., lo + 1 : hi + 1, lo:hi] - a[..., lo - 1 : hi - 1, lo:hi]
    gx *= gx
    gy *= gy
    gx += gy
    gx *= w
    g2 = gx.sum(dtype=np.float64) / (4.0 * count)
    dev = centre - np.float32((centre * w).sum(dtype=np.float64) / count)
    dev *= dev
    dev *= w
    var = dev.sum(dtype=np.float64) / count
    return float(g2 / var) if var > 0 else 0.0


def raw_pixel_fractions(images, *, saturation: int = 65535) -> dict[str, float]:
    """Fractions of raw pixels at or above ``saturation`` and at 0 counts."""
    a = np.asarray(images)
    n = max(a.size, 1)
    return {"saturated": float(np.count_nonzero(a >= saturation) / n), "zero": float(np.count_nonzero(a <= 0) / n)}


def flat_drift(flats, groups, dark=None) -> float:
    """Largest relative change of the mean flat (dark subtracted) between flat groups."""
    f = np.asarray(flats, float)
    g = np.asarray(groups)
    d = 0.0 if dark is None else float(np.mean(dark))
    means = np.array([f[g == k].mean() - d for k in np.unique(g)])
    if means.size < 2 or not means.max() > 0:
        return 0.0
    return float((means.max() - means.min()) / means.max())


def range_8bit(img, *, low: float = 0.001, high: float = 0.999) -> tuple[float, float]:
    """Suggested (min, max) for an 8-bit conversion: the ``low`` and ``high`` quantiles
    of the finite values (of a regular subsample of at most 2**20 values; a suggestion, never
    applied by this function)."""
    a = np.asarray(img, np.float32).ravel()
    if a.size > _QUANTILE_SAMPLES:  # a regular subsample: the quantiles of a suggestion
        a = a[:: -(-a.size // _QUANTILE_SAMPLES)]
    a = a[np.isfinite(a)]
    if a.size == 0:
        raise ParameterError("range_8bit: no finite values")
    lo, hi = np.quantile(a, [low, high])
    return float(lo), float(hi)
