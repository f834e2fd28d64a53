"""Parallel-beam forward projection, its exact adjoint and the normal operator on FINUFFT.

Geometry and units are gridrec's (``docs/geometry.md``): the value at angle ``theta`` and
detector column ``j`` is the line integral of the slice over
``x cos(theta) - y sin(theta) = j - center`` (pixels from the rotation axis), with
``x = column - (N - 1) / 2`` and ``y = row - (N - 1) / 2``.

Model
-----
Per angle, the projection is the trigonometric interpolant of its Fourier slice
(Fourier slice theorem): with ``L`` (odd) samples per angle and ``w_m = 2 pi m / L``,
``m = -(L-1)/2 .. (L-1)/2``,

    p(theta, s) = (1/L) sum_m F(w_m cos(theta), -w_m sin(theta)) exp(i w_m s),
    F(kx, ky) = sum_{x, y} f(x, y) exp(-i (kx x + ky y)),

evaluated by one type-2 2-D non-uniform FFT per slice, a phase factor and an inverse
FFT of length ``L``. ``L`` covers the slice diagonal, so a window of ``L`` samples per angle
centred on the axis holds the whole projection (:func:`project` returns its detector
columns). :func:`backproject` is the exact adjoint (type-1 NUFFT of the same points).

The normal operator of the window model, ``A^T A``, is a convolution of the slice with the
kernel ``K(d) = (1/L) sum_theta sum_m exp(i w_m (d_x cos(theta) - d_y sin(theta)))``; the
kernel is computed once per angle set and size by one type-1 NUFFT of ones onto a 2N x 2N
grid, and each application is then a zero-padded real 2-D FFT pair (:class:`NormalOperator`).
It does not depend on the centre (a shift is a unitary phase).
"""

from __future__ import annotations

import hashlib
import math
import os
import threading

import numpy as np
import scipy.fft as sfft

from alsmicroct.engine.gridrec import _fast_odd_length
from alsmicroct.errors import ParameterError

__all__ = ["NormalOperator", "backproject", "normal_operator", "project", "window_length"]

#: finufft tolerance of the projector pair (single precision) and of the kernel (double).
PROJECTOR_EPS = 1e-5
KERNEL_EPS = 1e-7
#: Extra window samples on each side beyond the slice diagonal.
WINDOW_MARGIN = 4
#: Rows transformed together by one batched finufft call (packed two per transform).
_PAIRS_PER_CALL = 4


def _threads(num_threads: int | None) -> int:
    if num_threads is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            return os.cpu_count() or 1
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) or num_threads < 1:
        raise ParameterError(f"num_threads={num_threads!r}; expected None or an integer >= 1")
    return int(num_threads)


def window_length(ncols: int, centers: np.ndarray) -> int:
    """Samples per angle ``L`` of the projection window (odd, FFT friendly).

    Parameters
    ----------
    ncols : int
        Slice size and detector columns N.
    centers : ndarray
        Rotation axis of each row, pixels from the left edge.

    Returns
    -------
    int
        ``L`` large enough to hold the projection of the N x N slice (its diagonal) and
        to map every detector column to its own window sample without wrap-around.
    """
    reach = (ncols - 1) / math.sqrt(2.0) + 1.0
    j0 = np.rint(np.asarray(centers, dtype=np.float64))
    kmax = float(max(np.max(j0), np.max(ncols - 1 - j0)))
    need = max(2 * math.ceil(reach) + 2 * WINDOW_MARGIN + 1, math.ceil(reach + kmax) + WINDOW_MARGIN + 1, ncols)
    return _fast_odd_length(need)


def _check_geometry(theta, center, nrows: int, ncols: int) -> tuple[np.ndarray, np.ndarray]:
    th = np.asarray(theta, dtype=np.float64)
    if th.ndim != 1 or th.size < 1 or not np.all(np.isfinite(th)):
        raise ParameterError(f"theta has shape {th.shape}; expected a 1-D array of finite angles in radians")
    cen = np.asarray(center, dtype=np.float64)
    if cen.ndim == 0:
        cen = np.full(nrows, float(cen))
    elif cen.shape != (nrows,):
        raise ParameterError(f"center has shape {cen.shape}; expected a scalar or one value per row ({nrows},)")
    if not np.all(np.isfinite(cen)) or np.any(cen < 0) or np.any(cen > ncols - 1):
        raise ParameterError(f"center={cen.tolist()!r} lies outside the detector; expected 0 <= center <= {ncols - 1}")
    return th, cen


class _Points:
    """Non-uniform points and common phase factors of one (theta, N, L) geometry."""

    def __init__(self, theta: np.ndarray, ncols: int, length: int, nthreads: int) -> None:
        self.theta, self.ncols, self.length, self.nthreads = theta, ncols, length, nthreads
        self.half = (length - 1) // 2
        m = np.rint(np.fft.fftfreq(length) * length)  # FFT order: 0..half, -half..-1
        self.m = m
        omega = (2.0 * np.pi / length) * m
        self.xs = np.outer(np.cos(theta), omega).ravel()
        self.ys = np.outer(-np.sin(theta), omega).ravel()
        # finufft mode k sits at pixel x = k + shift; window sample i at s = i - half.
        shift = ncols // 2 - (ncols - 1) / 2.0
        alpha = (2.0 * np.pi / length) * (shift * (np.cos(theta) - np.sin(theta)) + self.half)
        phase = np.remainder(np.outer(alpha, m), 2.0 * np.pi)
        self.fwd = np.exp(-1j * phase).astype(np.complex64)  # (nang, L)
        self.neg = (-np.arange(length)) % length  # index of -m
        self._plans: dict[tuple[int, int], object] = {}

    def plan(self, kind: int, ntrans: int):
        key = (kind, ntrans)
        if key not in self._plans:
            import finufft

            plan = finufft.Plan(
                kind,
                (self.ncols, self.ncols),
                n_trans=ntrans,
                eps=PROJECTOR_EPS,
                isign=-1 if kind == 2 else 1,
                dtype="complex64",
                nthreads=self.nthreads,
                modeord=0,
            )
            plan.setpts(self.ys.astype(np.float32), self.xs.astype(np.float32))
            self._plans[key] = plan
        return self._plans[key]

    def shifts(self, delta: np.ndarray) -> np.ndarray:
        """Sub-pixel centre phase ``exp(-i w_m delta)`` per row, shape (k, L)."""
        return np.exp((-2j * np.pi / self.length) * np.outer(delta, self.m)).astype(np.complex64)


_LOCK = threading.Lock()
_POINTS: dict[tuple, _Points] = {}
_KERNELS: dict[tuple, np.ndarray] = {}


def _digest(theta: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(theta, dtype=np.float64).tobytes()).hexdigest()


def _points(theta: np.ndarray, ncols: int, length: int, nthreads: int) -> _Points:
    key = (_digest(theta), ncols, length, nthreads)
    with _LOCK:
        pts = _POINTS.get(key)
    if pts is None:
        pts = _Points(theta, ncols, length, nthreads)
        with _LOCK:
            _POINTS.clear()  # one geometry kept (a few hundred MB at N = 2048)
            _POINTS[key] = pts
    return pts


def _split(z: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spectra of the real and imaginary parts of the signals packed in ``z`` (last axis)."""
    zc = np.conj(z[..., neg])
    return 0.5 * (z + zc), -0.5j * (z - zc)


def _window_forward(slices: np.ndarray, pts: _Points, delta: np.ndarray) -> np.ndarray:
    """Window projections ``(nang, k, L)`` of ``k`` slices; sample ``i`` at ``s = i - half - delta``."""
    nrows, n, _ = slices.shape
    nang, length = pts.fwd.shape
    out = np.empty((nang, nrows, length), dtype=np.float32)
    shifts = pts.shifts(delta)
    npairs = (nrows + 1) // 2
    for p0 in range(0, npairs, _PAIRS_PER_CALL):
        nt = min(_PAIRS_PER_CALL, npairs - p0)
        packed = np.zeros((nt, n, n), dtype=np.complex64)
        rows = []
        for t in range(nt):
            r0 = 2 * (p0 + t)
            packed[t].real = slices[r0]
            if r0 + 1 < nrows:
                packed[t].imag = slices[r0 + 1]
            rows.append(r0)
        spec = pts.plan(2, nt).execute(packed[0] if nt == 1 else packed).reshape(nt, nang, length)
        spec *= pts.fwd
        for t, r0 in enumerate(rows):
            if r0 + 1 < nrows:
                a, b = _split(spec[t], pts.neg)
                z = a * shifts[r0]
                z += 1j * (b * shifts[r0 + 1])
            else:  # a lone row: only the real part of its transform is kept, no split needed
                z = spec[t] * shifts[r0]
            q = sfft.ifft(z, axis=-1, workers=pts.nthreads)
            out[:, r0, :] = q.real
            if r0 + 1 < nrows:
                out[:, r0 + 1, :] = q.imag
    return out


def _window_adjoint(win: np.ndarray, pts: _Points, delta: np.ndarray) -> np.ndarray:
    """Adjoint of :func:`_window_forward`: ``(nang, k, L)`` windows -> ``(k, N, N)`` slices."""
    nang, nrows, length = win.shape
    n = pts.ncols
    out = np.empty((nrows, n, n), dtype=np.float32)
    shifts = np.conj(pts.shifts(delta)) / np.float32(length)
    conj_fwd = np.conj(pts.fwd)
    npairs = (nrows + 1) // 2
    for p0 in range(0, npairs, _PAIRS_PER_CALL):
        nt = min(_PAIRS_PER_CALL, npairs - p0)
        strengths = np.empty((nt, nang, length), dtype=np.complex64)
        for t in range(nt):
            r0 = 2 * (p0 + t)
            z = win[:, r0, :].astype(np.complex64)
            if r0 + 1 < nrows:
                z.imag = win[:, r0 + 1, :]
            spec = sfft.fft(z, axis=-1, workers=pts.nthreads, overwrite_x=True)
            if r0 + 1 < nrows:
                a, b = _split(spec, pts.neg)
                z = a * shifts[r0]
                z += 1j * (b * shifts[r0 + 1])
            else:  # a lone (real) row: its spectrum is Hermitian already and only .real is kept
                z = spec * shifts[r0]
            strengths[t] = z * conj_fwd
        flat = strengths.reshape(nt, -1)
        img = pts.plan(1, nt).execute(flat[0] if nt == 1 else flat).reshape(nt, n, n)
        for t in range(nt):
            r0 = 2 * (p0 + t)
            out[r0] = img[t].real
            if r0 + 1 < nrows:
                out[r0 + 1] = img[t].imag
    return out


def _columns(cen: np.ndarray, ncols: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Window index of each detector column ``(k, N)`` and the sub-pixel centre ``(k,)``."""
    j0 = np.rint(cen).astype(np.int64)
    half = (length - 1) // 2
    idx = (np.arange(ncols)[None, :] - j0[:, None] + half) % length
    return idx, cen - j0


def _geometry(theta, center, nrows: int, n: int, num_threads: int | None):
    """Checked angles and centres, the window length and the NUFFT points of one call."""
    th, cen = _check_geometry(theta, center, nrows, n)
    length = window_length(n, cen)
    return th, cen, length, _points(th, n, length, _threads(num_threads))


def project(
    slices: np.ndarray,
    theta: np.ndarray,
    *,
    center: float | np.ndarray,
    num_threads: int | None = None,
) -> np.ndarray:
    """Forward-project slices to a sinogram (line integrals).

    Parameters
    ----------
    slices : ndarray, float32, shape (nrows, N, N)
        Attenuation in 1/pixel, ``(row_y, column_x)`` per slice, centred on the axis.
    theta : ndarray, shape (nangles,)
        Angles in radians.
    center : float or ndarray of shape (nrows,), keyword-only
        Rotation axis in detector pixels from the left edge (pixel-centre convention).
    num_threads : int, optional, keyword-only
        Threads (default: all available).

    Returns
    -------
    ndarray, float32, shape (nangles, nrows, N)
        Dimensionless line integrals, ``(angle, row, column)``.
    """
    data = np.asarray(slices, dtype=np.float32)
    if data.ndim != 3 or data.shape[1] != data.shape[2] or data.shape[1] < 2:
        raise ParameterError(f"slices has shape {data.shape}; expected (nrows, N, N) with N >= 2")
    nrows, n, _ = data.shape
    th, cen, length, pts = _geometry(theta, center, nrows, n, num_threads)
    idx, delta = _columns(cen, n, length)
    win = _window_forward(data, pts, delta)
    out = np.empty((th.size, nrows, n), dtype=np.float32)
    for r in range(nrows):
        out[:, r, :] = win[:, r, idx[r]]
    return out


def backproject(
    sino: np.ndarray,
    theta: np.ndarray,
    *,
    center: float | np.ndarray,
    num_threads: int | None = None,
) -> np.ndarray:
    """Exact adjoint of :func:`project` (unfiltered back-projection).

    Parameters
    ----------
    sino : ndarray, float32, shape (nangles, nrows, N)
        Values per ray, ``(angle, row, column)``.
    theta : ndarray, shape (nangles,)
        Angles in radians.
    center : float or ndarray of shape (nrows,), keyword-only
        Rotation axis in detector pixels from the left edge.
    num_threads : int, optional, keyword-only
        Threads (default: all available).

    Returns
    -------
    ndarray, float32, shape (nrows, N, N)
        ``A^T sino``: the sum over angles of each ray value spread along its line (units
        of ``sino``).
    """
    data = np.asarray(sino, dtype=np.float32)
    if data.ndim != 3 or data.shape[2] < 2:
        raise ParameterError(f"sino has shape {data.shape}; expected (angle, row, column) with >= 2 columns")
    nang, nrows, n = data.shape
    th, cen, length, pts = _geometry(theta, center, nrows, n, num_threads)
    if th.size != nang:
        raise ParameterError(f"theta has shape {th.shape}; expected one angle per projection, ({nang},)")
    return _window_adjoint(extend_to_window(data, cen, length, edge=False), pts, _columns(cen, n, length)[1])


def extend_to_window(sino: np.ndarray, cen: np.ndarray, length: int, *, edge: bool) -> np.ndarray:
    """Place detector columns in the window of ``length`` samples, ``(nang, k, L)``.

    Samples outside the detector are zero, or (``edge=True``) the nearest edge column, as
    gridrec's edge padding extends a truncated row.
    """
    nang, nrows, n = sino.shape
    half = (length - 1) // 2
    win = np.zeros((nang, nrows, length), dtype=np.float32)
    j0 = np.rint(cen).astype(np.int64)
    for r in range(nrows):
        cols = np.arange(length) - half + j0[r]
        inside = (cols >= 0) & (cols < n)
        if edge:
            win[:, r, :] = sino[:, r, np.clip(cols, 0, n - 1)]
            # columns reached by wrap-around stay at the edge values (they lie beyond the diagonal)
        else:
            win[:, r, np.flatnonzero(inside)] = sino[:, r, cols[inside]]
    return win


class NormalOperator:
    """``A^T A`` of the window model as a 2-D convolution (Toeplitz), for ``(k, N, N)`` slices.

    Parameters
    ----------
    theta : ndarray
        Angles in radians.
    ncols : int
        Slice size N.
    length : int
        Window length ``L`` (:func:`window_length`).
    num_threads : int
        FFT and NUFFT threads.

    Attributes
    ----------
    spectrum : ndarray, float32, shape (2N, N + 1)
        Real spectrum of the kernel on the zero-padded 2N x 2N grid.
    lipschitz : float
        Largest eigenvalue bound of ``A^T A`` (the spectrum's maximum).
    row_sums : ndarray, float32, shape (N, N)
        ``sum_x' |K(x - x')|`` over the slice: a Gershgorin bound per pixel, so that
        ``A^T A / row_sums`` has spectral radius <= 1 (SIRT's column weights).
    """

    def __init__(self, theta: np.ndarray, ncols: int, length: int, num_threads: int) -> None:
        self.ncols, self.length, self.nthreads = ncols, length, num_threads
        key = (_digest(theta), ncols, length)
        with _LOCK:
            cached = _KERNELS.get(key)
        if cached is None:
            cached = _kernel_spectrum(np.asarray(theta, dtype=np.float64), ncols, length, num_threads)
            with _LOCK:
                _KERNELS.clear()  # one geometry kept (about 50 MB at N = 2048)
                _KERNELS[key] = cached
        self.spectrum, self.row_sums = cached
        self.lipschitz = float(np.max(np.abs(self.spectrum)))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Apply ``A^T A`` to ``x`` of shape ``(k, N, N)`` (float32)."""
        n, w = self.ncols, self.nthreads
        spec = sfft.rfft(x, n=2 * n, axis=-1, workers=w)  # (k, N, N + 1): zero rows not transformed
        spec = sfft.fft(spec, n=2 * n, axis=-2, workers=w, overwrite_x=True)
        spec *= self.spectrum
        spec = sfft.ifft(spec, axis=-2, workers=w, overwrite_x=True)[:, :n]
        return sfft.irfft(spec, n=2 * n, axis=-1, workers=w)[:, :, :n].astype(np.float32, copy=False)


def _kernel_spectrum(theta: np.ndarray, ncols: int, length: int, nthreads: int) -> tuple[np.ndarray, np.ndarray]:
    """Spectrum of ``K`` (module docstring) on the circular 2N x 2N grid, and the row sums of ``|K|``."""
    import finufft

    m = np.rint(np.fft.fftfreq(length) * length)
    omega = (2.0 * np.pi / length) * m
    xs = np.outer(np.cos(theta), omega).ravel()
    ys = np.outer(-np.sin(theta), omega).ravel()
    strength = np.full(xs.size, 1.0 / length, dtype=np.complex128)
    kern = finufft.nufft2d1(
        ys, xs, strength, (2 * ncols, 2 * ncols), eps=KERNEL_EPS, isign=1, nthreads=nthreads, modeord=1
    )  # modes in FFT order: d = 0 at index 0
    spectrum = sfft.rfft2(kern.real, workers=nthreads).real.astype(np.float32)
    ones = np.zeros((2 * ncols, 2 * ncols))
    ones[:ncols, :ncols] = 1.0
    sums = sfft.irfft2(
        sfft.rfft2(np.abs(kern.real), workers=nthreads) * sfft.rfft2(ones, workers=nthreads),
        s=ones.shape,
        workers=nthreads,
    )[:ncols, :ncols]
    return spectrum, np.maximum(sums, 1e-12 * float(np.max(sums))).astype(np.float32)


def normal_operator(theta: np.ndarray, ncols: int, length: int, *, num_threads: int | None = None) -> NormalOperator:
    """The cached :class:`NormalOperator` of this geometry (see its parameters)."""
    return NormalOperator(np.asarray(theta, dtype=np.float64), ncols, length, _threads(num_threads))
