"""Polynomial beam-hardening correction of line integrals (Herman 1979).

A polychromatic beam hardens as it crosses the sample, so the measured line integral
``t = -ln(I / I0)`` grows less than linearly with the path length. Herman's correction
maps every measured value through a polynomial fitted on a calibration (step wedge or
known material): ``t' = a0 + a1 t + a2 t^2 + a3 t^3 + a4 t^4 + a5 t^5``.

The correction is pointwise, so it can be applied to any chunk (projections or rows).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ..checks import as_float32_3d, output_array
from ..errors import ParameterError
from ..jit import njit, prange

__all__ = ["beam_hardening"]

logger = logging.getLogger(__name__)

NCOEFFICIENTS = 6


@njit(parallel=True, cache=True)
def _polynomial_kernel(data, coef, out):
    flat_in = data.reshape(-1)
    flat_out = out.reshape(-1)
    ncoef = coef.size
    for i in prange(flat_in.size):
        t = np.float64(flat_in[i])
        acc = coef[ncoef - 1]
        for k in range(ncoef - 2, -1, -1):  # Horner
            acc = acc * t + coef[k]
        flat_out[i] = acc


def beam_hardening(data, *, coefficients: Sequence[float], out: np.ndarray | None = None) -> np.ndarray:
    """Apply Herman's polynomial beam-hardening correction to -log data.

    Parameters
    ----------
    data : ndarray, shape (angle, row, column)
        Line integrals ``-ln(transmission)`` (dimensionless), i.e. after
        :func:`alsmicroct.prep.minus_log`.
    coefficients : sequence of 6 floats
        ``(a0, a1, a2, a3, a4, a5)``; the output is
        ``a0 + a1 t + a2 t**2 + a3 t**3 + a4 t**4 + a5 t**5`` (dimensionless). The
        identity is ``(0, 1, 0, 0, 0, 0)``. Evaluated in float64 (Horner's rule).
    out : ndarray of float32, optional
        Where to write the result; may be ``data`` itself for an in-place correction
        when ``data`` is a C-contiguous float32 array.

    Returns
    -------
    ndarray of float32, shape (angle, row, column)
        Corrected line integrals.

    Raises
    ------
    ParameterError
        ``data`` not 3-D, not exactly six coefficients, a non-finite coefficient, or an
        ``out`` of the wrong shape/dtype.
    """
    arr = np.ascontiguousarray(as_float32_3d(data))
    try:
        coef = np.asarray(coefficients, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"coefficients must be {NCOEFFICIENTS} numbers (a0..a5), got {coefficients!r}") from exc
    if coef.shape != (NCOEFFICIENTS,):
        raise ParameterError(f"coefficients must be {NCOEFFICIENTS} numbers (a0..a5), got {coefficients!r}")
    if not np.all(np.isfinite(coef)):
        raise ParameterError(f"coefficients must all be finite, got {coefficients!r}")
    out = output_array(out, arr)
    _polynomial_kernel(arr, coef, out)
    return out
