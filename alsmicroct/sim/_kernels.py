"""Numba kernels of the simulator: analytic chord lengths and supersampled rasterisation.

All lengths here are in pixels. A primitive is given by its centre ``c``, the quadratic form
``A`` (inside when ``q^T A q <= 1`` for ``q = p - c``), the extent form ``M`` (half extent
along a unit vector ``n`` is ``sqrt(n^T M n)``), a half height ``h`` (``inf`` for ellipsoids;
inside also needs ``|q_z| <= h``) and the attenuation ``mu`` it adds.

Each kernel accumulates one output row (a detector row or a slice) at a time in a
``*_row(out, k, args)`` function, where ``args`` is a tuple of everything else; the rows
are run in parallel (``*_parallel``) or, for small images, on one thread (``*_serial``).
"""

from __future__ import annotations

import math

import numpy as np

from ..jit import njit, prange

__all__ = ["project_kernel", "rasterize_kernel", "sub_offsets"]


def sub_offsets(n: int) -> np.ndarray:
    """Midpoint-rule positions of ``n`` sub-samples across a unit pixel, centred on 0."""
    n = max(int(n), 1)
    return (np.arange(n) + 0.5) / n - 0.5


#: Images with fewer pixels than this are computed on one thread: thread start-up costs
#: more than it saves on small images, above all on a busy machine.
PARALLEL_MIN_PIXELS = 1 << 16


@njit(cache=True)
def _quad_form(a_mat, p, q0, q1, q2):
    """``q^T A q`` for primitive ``p`` (``A`` symmetric)."""
    return (
        a_mat[p, 0, 0] * q0 * q0
        + a_mat[p, 1, 1] * q1 * q1
        + a_mat[p, 2, 2] * q2 * q2
        + 2.0 * (a_mat[p, 0, 1] * q0 * q1 + a_mat[p, 0, 2] * q0 * q2 + a_mat[p, 1, 2] * q1 * q2)
    )


@njit(cache=True)
def _half_extent(m_mat, p, i):
    """Half extent of primitive ``p`` along axis ``i`` (0: x, 1: y, 2: z)."""
    return math.sqrt(max(m_mat[p, i, i], 0.0))


@njit(cache=True)
def _project_setup(theta, s_shift, col_centre, cos_t, sin_t, c, a_mat, m_mat):
    """Per-primitive constants of one angle: ``A d``, ``d^T A d`` and the detector box."""
    nprim = c.shape[0]
    ct = math.cos(theta)
    st = math.sin(theta)
    ad = np.empty((nprim, 3))
    aa = np.empty(nprim)
    bounds = np.empty((nprim, 4))
    for p in range(nprim):
        for i in range(3):
            ad[p, i] = a_mat[p, i, 0] * st + a_mat[p, i, 1] * ct
        aa[p] = ad[p, 0] * st + ad[p, 1] * ct
        sc = c[p, 0] * ct - c[p, 1] * st
        ws2 = m_mat[p, 0, 0] * ct * ct - 2.0 * m_mat[p, 0, 1] * ct * st + m_mat[p, 1, 1] * st * st
        ws = math.sqrt(max(ws2, 0.0))
        hz = _half_extent(m_mat, p, 2)
        # box in (s, z) -> box in detector (u, v)
        s0 = sc - s_shift
        u0 = s0 * cos_t + c[p, 2] * sin_t
        v0 = -s0 * sin_t + c[p, 2] * cos_t
        hu = ws * abs(cos_t) + hz * abs(sin_t) + 1.0
        hv = ws * abs(sin_t) + hz * abs(cos_t) + 1.0
        bounds[p, 0] = u0 - hu + col_centre
        bounds[p, 1] = u0 + hu + col_centre
        bounds[p, 2] = v0 - hv
        bounds[p, 3] = v0 + hv
    return ad, aa, bounds


@njit(cache=True)
def _project_row(out, k, args):
    """Accumulate row ``k`` of one projection (see :func:`project_kernel`)."""
    theta, z_rows, s_shift, col_centre, cos_t, sin_t, s_sub, z_sub = args[:8]
    c, a_mat, hh, mu, ad, aa, bounds = args[8:]
    ncols = out.shape[1]
    ct = math.cos(theta)
    st = math.sin(theta)
    ns = s_sub.shape[0]
    nz = z_sub.shape[0]
    w = 1.0 / (ns * nz)
    vrow = z_rows[k]
    for p in range(mu.shape[0]):
        if vrow < bounds[p, 2] or vrow > bounds[p, 3]:
            continue
        j0 = max(math.floor(bounds[p, 0]), 0)
        j1 = min(math.ceil(bounds[p, 1]), ncols - 1)
        a = aa[p]
        for j in range(j0, j1 + 1):
            acc = 0.0
            for iz in range(nz):
                v = vrow + z_sub[iz]
                for i_s in range(ns):
                    u = j + s_sub[i_s] - col_centre
                    s = s_shift + u * cos_t - v * sin_t
                    z = u * sin_t + v * cos_t
                    q0 = s * ct - c[p, 0]
                    q1 = -s * st - c[p, 1]
                    q2 = z - c[p, 2]
                    if abs(q2) > hh[p]:
                        continue
                    b = ad[p, 0] * q0 + ad[p, 1] * q1 + ad[p, 2] * q2
                    disc = b * b - a * (_quad_form(a_mat, p, q0, q1, q2) - 1.0)
                    if disc > 0.0:
                        acc += 2.0 * math.sqrt(disc) / a
            out[k, j] += mu[p] * acc * w


@njit(cache=True, parallel=True)
def _project_parallel(out, args):
    for k in prange(out.shape[0]):
        _project_row(out, k, args)


@njit(cache=True)
def _project_serial(out, args):
    for k in range(out.shape[0]):
        _project_row(out, k, args)


def project_kernel(out, theta, z_rows, s_shift, col_centre, cos_t, sin_t, s_sub, z_sub, c, a_mat, m_mat, hh, mu):
    """Line integrals (pixels x mu) of all primitives for one projection angle.

    ``out[k, j]`` accumulates for detector row ``z_rows[k]`` (z of the row centre, pixels)
    and column ``j``. Detector coordinates relative to the detector centre,
    ``u = j + du - col_centre`` and ``v = z_row + dv``, are rotated by the detector tilt
    (``cos_t``, ``sin_t``) into ``s = s_shift + u cos - v sin`` and ``z = u sin + v cos``,
    where ``s_shift = col_centre - cor``. The ray at ``(s, z)`` is the horizontal line
    ``x cos(theta) - y sin(theta) = s``.
    """
    setup = _project_setup(theta, s_shift, col_centre, cos_t, sin_t, c, a_mat, m_mat)
    args = (theta, z_rows, s_shift, col_centre, cos_t, sin_t, s_sub, z_sub, c, a_mat, hh, mu)
    run = _project_parallel if out.size >= PARALLEL_MIN_PIXELS else _project_serial
    run(out, args + setup)


@njit(cache=True)
def _raster_row(out, k, args):
    """Accumulate slice ``k`` of :func:`rasterize_kernel`."""
    z_rows, centre, xy_sub, z_sub, c, a_mat, m_mat, hh, mu = args
    ny, nx = out.shape[1], out.shape[2]
    nsub = xy_sub.shape[0]
    nz = z_sub.shape[0]
    w = 1.0 / (nsub * nsub * nz)
    zr = z_rows[k]
    for p in range(mu.shape[0]):
        hz = _half_extent(m_mat, p, 2) + 1.0
        if abs(zr - c[p, 2]) > hz:
            continue
        hx = _half_extent(m_mat, p, 0) + 1.0
        hy = _half_extent(m_mat, p, 1) + 1.0
        i0 = max(math.floor(c[p, 1] - hy + centre), 0)
        i1 = min(math.ceil(c[p, 1] + hy + centre), ny - 1)
        j0 = max(math.floor(c[p, 0] - hx + centre), 0)
        j1 = min(math.ceil(c[p, 0] + hx + centre), nx - 1)
        for i in range(i0, i1 + 1):
            for j in range(j0, j1 + 1):
                cnt = 0
                for iz in range(nz):
                    q2 = zr + z_sub[iz] - c[p, 2]
                    if abs(q2) > hh[p]:
                        continue
                    for iy in range(nsub):
                        q1 = i - centre + xy_sub[iy] - c[p, 1]
                        for ix in range(nsub):
                            q0 = j - centre + xy_sub[ix] - c[p, 0]
                            if _quad_form(a_mat, p, q0, q1, q2) <= 1.0:
                                cnt += 1
                if cnt:
                    out[k, i, j] += mu[p] * cnt * w


@njit(cache=True, parallel=True)
def _raster_parallel(out, args):
    for k in prange(out.shape[0]):
        _raster_row(out, k, args)


@njit(cache=True)
def _raster_serial(out, args):
    for k in range(out.shape[0]):
        _raster_row(out, k, args)


def rasterize_kernel(out, z_rows, centre, xy_sub, z_sub, c, a_mat, m_mat, hh, mu):
    """Supersampled voxel averages: ``out[k, i, j]`` at ``x = j - centre``,
    ``y = i - centre``, ``z = z_rows[k]`` (pixels), accumulated over all primitives."""
    big = out.shape[0] > 1 and out.size >= 4 * PARALLEL_MIN_PIXELS
    run = _raster_parallel if big else _raster_serial
    run(out, (z_rows, centre, xy_sub, z_sub, c, a_mat, m_mat, hh, mu))
