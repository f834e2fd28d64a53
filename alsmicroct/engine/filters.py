"""Reconstruction filters of the Fourier-space filtering step.

The filter family is TomoPy's gridrec family (``butterworth``, ``shepp``, ``hann``,
``hamming``, ``parzen``, ``ramlak``, ``none``) with the same meaning of ``cutoff`` and
``order``: frequencies ``x`` are in cycles per pixel (0 .. 0.5, Nyquist at 0.5) and every
filter except ``none`` is the ramp ``|x|`` times a window:

=============  ===================================================================
name           window ``W(x)``
=============  ===================================================================
``ramlak``     1
``shepp``      ``sin(pi x) / (pi x)``
``hann``       ``0.5 (1 + cos(2 pi x / cutoff))`` for ``x < cutoff / 2``, else 0
``hamming``    ``0.54 + 0.46 cos(2 pi x / cutoff)`` for ``x < cutoff / 2``, else 0.08
``parzen``     Parzen: ``1 - 6 u**2 + 6 u**3`` (``u = x / cutoff <= 1/2``),
               ``2 (1 - u) ** 3`` (``1/2 < u < 1``), else 0
``butterworth`` ``1 / (1 + (x / cutoff) ** (2 order))``
``none``       no ramp: plain back-projection (response 0.5, TomoPy's ``1`` on our scale)
=============  ===================================================================

TomoPy evaluates the Hann/Hamming cosines beyond their first zero, where they rise again
and amplify noise near Nyquist; here the windows are held at their end value instead.
TomoPy's Parzen is only the outer branch ``(1 - u) ** 3`` of the window, whose kink at
zero frequency blurs over long distances (a 12-pixel disk loses 14 % of its value at
cutoff 0.3); here it is the full Parzen window, flat at zero frequency, with the same
cutoff (the window reaches 0 at ``x = cutoff``). The ramp is not the sampled ``|x|`` (whose zero DC
value leaves a negative offset in the slice) but the transform of the band-limited
spatial Ram-Lak kernel, ``h[0] = 1/4``, ``h[n] = -1 / (pi n)**2`` for odd ``n``, which
keeps the mean attenuation right.
"""

from __future__ import annotations

import numpy as np

from alsmicroct.errors import ParameterError
from alsmicroct.names import FILTER_NAMES  # defined once, re-exported here

__all__ = ["FILTER_NAMES", "filter_response", "filter_window", "ramp_response"]


def check_filter(filter_name: str, cutoff: float, order: float) -> str:
    """Validate a filter name and its parameters; return the lower-case name.

    Raises
    ------
    ParameterError
        If the name is unknown or ``cutoff`` / ``order`` are not positive finite numbers.
    """
    if not isinstance(filter_name, str) or filter_name.lower() not in FILTER_NAMES:
        raise ParameterError(
            f"filter_name={filter_name!r} is not a known filter; expected one of {', '.join(FILTER_NAMES)}"
        )
    for key, val in (("cutoff", cutoff), ("order", order)):
        try:
            fval = float(val)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"{key}={val!r} must be a positive number") from exc
        if not np.isfinite(fval) or fval <= 0:
            raise ParameterError(f"{key}={val!r} must be a positive finite number")
    return filter_name.lower()


def filter_window(filter_name: str, freq: np.ndarray, *, cutoff: float = 0.25, order: float = 2) -> np.ndarray:
    """Window ``W(x)`` that multiplies the ramp, at frequencies ``freq``.

    Parameters
    ----------
    filter_name : str
        One of :data:`FILTER_NAMES`.
    freq : ndarray
        Frequencies in cycles per pixel (the sign is ignored).
    cutoff : float, keyword-only
        Cutoff frequency in cycles per pixel (``butterworth``, ``hann``, ``hamming``,
        ``parzen``).
    order : float, keyword-only
        Butterworth order.

    Returns
    -------
    ndarray of float64
        Dimensionless window values, same shape as ``freq``. For ``none`` it is the
        whole (ramp-free) response, 0.5.
    """
    name = check_filter(filter_name, cutoff, order)
    x = np.abs(np.asarray(freq, dtype=np.float64))
    cutoff = float(cutoff)
    if name == "ramlak":
        return np.ones_like(x)
    if name == "none":
        return np.full_like(x, 0.5)
    if name == "shepp":
        return np.sinc(x)
    if name == "butterworth":
        return 1.0 / (1.0 + (x / cutoff) ** (2.0 * float(order)))
    if name == "parzen":
        u = np.minimum(x / cutoff, 1.0)
        return np.where(u <= 0.5, 1.0 - 6.0 * u**2 + 6.0 * u**3, 2.0 * (1.0 - u) ** 3)
    xc = np.minimum(x, 0.5 * cutoff)
    cos = np.cos(2.0 * np.pi * xc / cutoff)
    if name == "hann":
        return 0.5 * (1.0 + cos)
    return 0.54 + 0.46 * cos  # hamming


def ramp_response(nfft: int) -> np.ndarray:
    """Real-FFT response of the band-limited Ram-Lak kernel on an ``nfft`` buffer.

    Parameters
    ----------
    nfft : int
        Length of the (zero-padded) row the filter is applied to, in pixels.

    Returns
    -------
    ndarray of float64, shape (nfft // 2 + 1,)
        Response at frequencies ``k / nfft`` (cycles per pixel), ``~|k / nfft|`` with a
        small positive DC term; units 1/pixel.
    """
    n = np.arange(nfft)
    n = np.where(n > nfft // 2, n - nfft, n)
    kernel = np.zeros(nfft, dtype=np.float64)
    kernel[0] = 0.25
    odd = (n % 2) != 0
    kernel[odd] = -1.0 / (np.pi * n[odd]) ** 2
    return np.fft.rfft(kernel).real


def filter_response(filter_name: str, nfft: int, *, cutoff: float = 0.25, order: float = 2) -> np.ndarray:
    """Full filter response (ramp times window) for a real FFT of length ``nfft``.

    Parameters
    ----------
    filter_name : str
        One of :data:`FILTER_NAMES`.
    nfft : int
        FFT length in pixels.
    cutoff, order : float, keyword-only
        See :func:`filter_window`.

    Returns
    -------
    ndarray of float64, shape (nfft // 2 + 1,)
        Response in 1/pixel at frequencies ``k / nfft``.
    """
    freq = np.arange(nfft // 2 + 1) / nfft
    window = filter_window(filter_name, freq, cutoff=cutoff, order=order)
    if filter_name.lower() == "none":
        return window
    return ramp_response(nfft) * window
