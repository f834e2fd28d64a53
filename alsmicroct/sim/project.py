"""Analytic parallel-beam projections of :class:`~alsmicroct.sim.phantom.Phantom` objects.

Geometry (``docs/geometry.md``): detector column ``j`` sits at ``s = j - cor`` pixels; the
line integral at angle ``theta`` is the integral of ``f`` over the horizontal line
``x cos(theta) - y sin(theta) = s`` at height ``z = row - (nslices - 1) / 2`` pixels, times
the pixel size in cm (dimensionless). Each detector pixel averages several sub-positions
across its width and height (pixel integration); the chord lengths through the ellipsoids
are exact, so a reconstruction test does not commit the inverse crime.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..errors import ParameterError
from .phantom import Phantom, _row_indices

__all__ = ["legacy_angles", "project", "project_one"]

logger = logging.getLogger(__name__)


def legacy_angles(nangles: int, arange: float, *, first_angle: float = 0.0, angle_offset: float = 0.0) -> np.ndarray:
    """Reconstruction angles of an old-layout scan, radians (float64).

    ``theta_i = 270 + angle_offset - first_angle - i * arange / (nangles - 1)`` degrees,
    decreasing, both ends included (``docs/geometry.md``).
    """
    if int(nangles) < 2:
        raise ParameterError(f"nangles={nangles!r}: expected at least 2 projections")
    deg = 270.0 + angle_offset - first_angle - np.arange(int(nangles)) * (arange / (int(nangles) - 1))
    return np.deg2rad(deg)


def project_one(
    phantom: Phantom,
    theta: float,
    *,
    nslices: int,
    nrays: int,
    cor: float,
    pxsize_cm: float,
    rows=None,
    tilt_deg: float = 0.0,
    subsamples: int = 4,
    zsamples: int = 2,
    axis_drift_px: float = 0.0,
    _quadrics=None,
) -> np.ndarray:
    """One projection image of line integrals, float64 ``(len(rows), nrays)``.

    See :func:`project` for the parameters; ``theta`` is one angle in radians.
    """
    from ._kernels import project_kernel, sub_offsets

    row_idx = _row_indices(rows, nslices)
    quad = _quadrics if _quadrics is not None else phantom.quadrics(pxsize_cm)
    out = np.zeros((len(row_idx), nrays), np.float64)
    z_rows = row_idx.astype(float) - (nslices - 1) / 2.0
    col_centre = (nrays - 1) / 2.0
    tilt = math.radians(tilt_deg)
    args = (col_centre, math.cos(tilt), math.sin(tilt), sub_offsets(subsamples), sub_offsets(zsamples), *quad)
    if axis_drift_px == 0:
        project_kernel(out, float(theta), z_rows, col_centre - float(cor), *args)
    else:  # the axis at row r: cor + axis_drift_px * (r / (nslices - 1) - 1/2)
        for k, r in enumerate(row_idx):
            axis = float(cor) + float(axis_drift_px) * (r / max(nslices - 1, 1) - 0.5)
            project_kernel(out[k : k + 1], float(theta), z_rows[k : k + 1], col_centre - axis, *args)
    out *= pxsize_cm
    return out


def project(
    phantom: Phantom,
    angles,
    *,
    nslices: int,
    nrays: int,
    cor: float | None = None,
    pxsize_cm: float,
    rows=None,
    tilt_deg: float = 0.0,
    subsamples: int = 4,
    zsamples: int = 2,
    axis_drift_px: float = 0.0,
) -> np.ndarray:
    """Noise-free line integrals of ``phantom``.

    Parameters
    ----------
    phantom : Phantom
        Object in cm and 1/cm.
    angles : array_like
        Projection angles ``theta``, radians (e.g. :func:`legacy_angles`).
    nslices, nrays : int
        Detector rows and columns.
    cor : float, optional
        Rotation axis, pixels from the left edge (pixel-centre convention); default
        ``(nrays - 1) / 2``.
    pxsize_cm : float
        Detector pixel size at the sample, cm.
    rows : None, int, slice or sequence of int
        Detector rows to compute (default all).
    tilt_deg : float
        Detector tilt in degrees: the recorded image is the untilted one rotated
        counter-clockwise (as displayed with row 0 at the top) by ``tilt_deg`` about the
        detector centre ``((nslices - 1) / 2, (nrays - 1) / 2)``, i.e. like
        ``scipy.ndimage.rotate(image, tilt_deg, reshape=False)``, computed analytically.
    subsamples, zsamples : int
        Sub-positions averaged across each pixel's width and height.
    axis_drift_px : float
        A drifting rotation axis: at row ``r`` it sits at
        ``cor + axis_drift_px * (r / (nslices - 1) - 1/2)`` px (top to bottom: this many px).

    Returns
    -------
    ndarray, float32, shape (nangles, len(rows), nrays)
        Dimensionless line integrals (``-log`` of the transmission).
    """
    if cor is None:
        cor = (nrays - 1) / 2.0
    if pxsize_cm <= 0:
        raise ParameterError(f"pxsize_cm={pxsize_cm!r}: expected > 0")
    theta = np.atleast_1d(np.asarray(angles, float))
    quad = phantom.quadrics(pxsize_cm)
    row_idx = _row_indices(rows, nslices)
    out = np.empty((len(theta), len(row_idx), nrays), np.float32)
    for i, t in enumerate(theta):
        out[i] = project_one(
            phantom,
            t,
            nslices=nslices,
            nrays=nrays,
            cor=cor,
            pxsize_cm=pxsize_cm,
            rows=row_idx,
            tilt_deg=tilt_deg,
            subsamples=subsamples,
            zsamples=zsamples,
            axis_drift_px=axis_drift_px,
            _quadrics=quad,
        )
    return out
