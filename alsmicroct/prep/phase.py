"""Single-distance phase retrieval (Paganin-type filter, TomoPy units and meaning of alpha).

The filter is the one of TomoPy's classic ``retrieve_phase`` (Paganin et al., J. Microsc.
206, 33-40, 2002, in TomoPy's form: ``alpha`` is a regularisation parameter and the output
is still a transmission, to be passed to ``-log``), applied with real FFTs in single
precision, a filter computed once per padded shape, and edge-value padding to the next
fast FFT size (TomoPy pads to the next power of two)::

    H(f) = 1 / (1 + lambda * z * |f|^2 / (4 * pi * alpha))

with ``f`` the spatial frequency in cycles/cm, ``lambda`` the wavelength in cm (from the
energy in keV), ``z`` the propagation distance in cm and ``alpha`` the dimensionless
regularisation parameter of TomoPy (``H(0) = 1``, so the mean transmission is preserved).
TomoPy samples ``f`` with a spacing of ``1 / ((n - 1) p)``; here it is the exact FFT grid
``1 / (n p)`` (a relative difference below ``1 / n``).

For a single homogeneous material of refractive index ``n = 1 - delta + i beta``,
``alpha = beta / (4 pi^2 delta)`` makes this exactly Paganin's filter, and then
``-log(retrieve_phase(I))`` is ``mu * T``: the projected thickness ``T`` (cm) times the
linear attenuation coefficient ``mu = 4 pi beta / lambda`` (1/cm). See
:func:`alpha_from_delta_beta`.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np

from alsmicroct.checks import check_number
from alsmicroct.errors import ParameterError

__all__ = [
    "alpha_from_delta_beta",
    "phase_pad_widths",
    "retrieve_phase",
    "wavelength_cm",
]

logger = logging.getLogger(__name__)

# Planck constant times speed of light, keV * cm (CODATA 2018: 1.23984198 keV nm).
_HC_KEV_CM = 1.23984198e-7
# Working-buffer budget of one batch of padded projections, bytes.
_BATCH_BYTES = 96 * 1024 * 1024


def wavelength_cm(energy_kev: float) -> float:
    """X-ray wavelength for a photon energy.

    Parameters
    ----------
    energy_kev : float
        Photon energy in keV (> 0).

    Returns
    -------
    float
        Wavelength in cm (about 6.2e-9 cm at 20 keV).
    """
    energy = check_number(energy_kev, "energy_kev", minimum=0.0, strict=True)
    return _HC_KEV_CM / energy


def alpha_from_delta_beta(delta_over_beta: float) -> float:
    """TomoPy ``alpha`` that makes :func:`retrieve_phase` Paganin's single-material filter.

    Parameters
    ----------
    delta_over_beta : float
        Ratio of the refractive index decrement ``delta`` to the absorption index ``beta``
        of the (single) material, dimensionless (typically 100-3000 at 10-40 keV).

    Returns
    -------
    float
        ``alpha = 1 / (4 pi^2 delta/beta)``, dimensionless.
    """
    ratio = check_number(delta_over_beta, "delta_over_beta", minimum=0.0, strict=True)
    return 1.0 / (4.0 * math.pi**2 * ratio)


def phase_pad_widths(
    shape: tuple[int, int],
    *,
    pixel_size_cm: float,
    dist_cm: float,
    energy_kev: float,
    alpha: float = 1e-3,
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Padded FFT shape and image offset used by :func:`retrieve_phase` with ``pad=True``.

    The margin on each side is the larger of half of TomoPy's ``pi lambda z / p^2`` and four
    decay lengths of the filter kernel (``sqrt(lambda z / alpha) / (4 pi^1.5)`` in cm,
    divided by the pixel size), capped at the image size; the padded size is then rounded
    up to the next fast FFT length.

    Parameters
    ----------
    shape : tuple of int
        Projection shape ``(rows, columns)`` in pixels.
    pixel_size_cm, dist_cm, energy_kev, alpha
        As in :func:`retrieve_phase`.

    Returns
    -------
    padded : tuple of int
        Padded shape ``(rows, columns)`` in pixels.
    offset : tuple of int
        Position ``(row, column)`` of the first image pixel inside the padded array.
    """
    import scipy.fft

    pixel = check_number(pixel_size_cm, "pixel_size_cm", minimum=0.0, strict=True)
    dist = check_number(dist_cm, "dist_cm", minimum=0.0, strict=True)
    alpha = check_number(alpha, "alpha", minimum=0.0, strict=True)
    lam = wavelength_cm(energy_kev)
    tomopy_margin = 0.5 * math.pi * lam * dist / pixel**2
    kernel_margin = 4.0 * math.sqrt(lam * dist / alpha) / (4.0 * math.pi**1.5) / pixel
    margin = math.ceil(max(tomopy_margin, kernel_margin, 2.0))
    padded = []
    offset = []
    for axis, n in enumerate(shape):
        m = min(margin, n)
        size = scipy.fft.next_fast_len(n + 2 * m, real=(axis == 1))
        padded.append(int(size))
        offset.append(int((size - n) // 2))
    return (padded[0], padded[1]), (offset[0], offset[1])


def retrieve_phase(
    data: np.ndarray,
    *,
    pixel_size_cm: float,
    dist_cm: float,
    energy_kev: float,
    alpha: float = 1e-3,
    pad: bool = True,
) -> np.ndarray:
    """Single-distance phase retrieval of normalised projections (TomoPy's filter and units).

    Each projection ``I`` (flat/dark corrected transmission, **before** ``-log``) is
    low-pass filtered in Fourier space by
    ``H(f) = 1 / (1 + lambda z |f|^2 / (4 pi alpha))`` (``f`` in cycles/cm), which is what
    TomoPy's ``retrieve_phase`` does with the same four parameters. The result is again a
    transmission-like image with the same mean; apply ``-log`` afterwards (as with TomoPy)
    to get ``mu * T`` for a single material, where ``alpha = beta / (4 pi^2 delta)``
    (:func:`alpha_from_delta_beta`). Needs whole projections (all rows and columns).

    Parameters
    ----------
    data : numpy.ndarray
        Normalised projections (transmission, about 1 in air), float ``(angle, row,
        column)``; a single 2-D projection ``(row, column)`` is accepted too.
    pixel_size_cm : float
        Detector pixel size in cm (e.g. 6.5e-5 for 0.65 um).
    dist_cm : float
        Sample-to-detector propagation distance in cm.
    energy_kev : float
        Photon energy in keV.
    alpha : float, optional
        Regularisation parameter of TomoPy (dimensionless, > 0). Smaller is stronger
        low-pass filtering; ``beta / (4 pi^2 delta)`` is Paganin's single-material value.
    pad : bool, optional
        Pad each projection with its edge values to a fast FFT size before filtering
        (against wrap-around of the filter), see :func:`phase_pad_widths`. Without it the
        projection is filtered periodically at its own size.

    Returns
    -------
    numpy.ndarray
        Filtered transmission, float32, same shape as ``data`` (a new array).

    Raises
    ------
    ParameterError
        If a physical parameter is not a finite positive number or ``data`` is not 2-D or
        3-D.
    """
    import scipy.fft

    arr = np.asarray(data)
    if arr.ndim not in (2, 3):
        raise ParameterError(
            f"retrieve_phase: data must be (angle, row, column) or (row, column), got shape {arr.shape}"
        )
    single = arr.ndim == 2
    stack = arr[np.newaxis] if single else arr
    nproj, nrows, ncols = stack.shape
    pixel = check_number(pixel_size_cm, "pixel_size_cm", minimum=0.0, strict=True)
    dist = check_number(dist_cm, "dist_cm", minimum=0.0, strict=True)
    alpha = check_number(alpha, "alpha", minimum=0.0, strict=True)
    energy = check_number(energy_kev, "energy_kev", minimum=0.0, strict=True)

    if pad:
        (py, px), (oy, ox) = phase_pad_widths(
            (nrows, ncols),
            pixel_size_cm=pixel,
            dist_cm=dist,
            energy_kev=energy,
            alpha=alpha,
        )
    else:
        (py, px), (oy, ox) = (nrows, ncols), (0, 0)
    filt = _paganin_filter(py, px, pixel, dist, energy, alpha)
    logger.debug("phase retrieval: %d projection(s) %dx%d, FFT size %dx%d", nproj, nrows, ncols, py, px)

    out = np.empty((nproj, nrows, ncols), dtype=np.float32)
    batch = max(1, min(nproj, _BATCH_BYTES // (py * px * 4 * 3)))
    buf = np.empty((batch, py, px), dtype=np.float32)
    for start in range(0, nproj, batch):
        stop = min(start + batch, nproj)
        b = buf[: stop - start]
        b[:, oy : oy + nrows, ox : ox + ncols] = stack[start:stop]
        if pad:
            _fill_edges(b, oy, ox, nrows, ncols)
        spec = scipy.fft.rfft2(b, workers=-1, overwrite_x=False)
        spec *= filt
        res = scipy.fft.irfft2(spec, s=(py, px), workers=-1, overwrite_x=True)
        out[start:stop] = res[:, oy : oy + nrows, ox : ox + ncols]
    return out[0] if single else out


def _fill_edges(buf: np.ndarray, oy: int, ox: int, nrows: int, ncols: int) -> None:
    """Replicate the edge rows and columns of the image at ``[oy:, ox:]`` into the pad."""
    if oy > 0:
        buf[:, :oy, ox : ox + ncols] = buf[:, oy : oy + 1, ox : ox + ncols]
    if oy + nrows < buf.shape[1]:
        buf[:, oy + nrows :, ox : ox + ncols] = buf[:, oy + nrows - 1 : oy + nrows, ox : ox + ncols]
    if ox > 0:
        buf[:, :, :ox] = buf[:, :, ox : ox + 1]
    if ox + ncols < buf.shape[2]:
        buf[:, :, ox + ncols :] = buf[:, :, ox + ncols - 1 : ox + ncols]


@functools.lru_cache(maxsize=4)
def _paganin_filter(ny: int, nx: int, pixel: float, dist: float, energy: float, alpha: float) -> np.ndarray:
    """Half-spectrum filter ``(ny, nx // 2 + 1)`` float32 for real FFTs of ``(ny, nx)``.

    Computed (and logged) once per padded shape and parameter set.
    """
    lam = wavelength_cm(energy)
    fy = np.fft.fftfreq(ny, d=pixel)  # cycles/cm
    fx = np.fft.rfftfreq(nx, d=pixel)
    w2 = fy[:, np.newaxis] ** 2 + fx[np.newaxis, :] ** 2
    filt = 1.0 / (1.0 + (lam * dist / (4.0 * math.pi * alpha)) * w2)
    filt = filt.astype(np.float32)
    filt.flags.writeable = False
    logger.info(
        "phase retrieval (Paganin filter, TomoPy alpha): pixel %.4g cm, distance %.4g cm, "
        "energy %.4g keV (wavelength %.4g cm), alpha %.3g, FFT size %dx%d",
        pixel,
        dist,
        energy,
        lam,
        alpha,
        ny,
        nx,
    )
    return filt
