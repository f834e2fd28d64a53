"""Filtered back-projection by Fourier regridding ("gridrec") on a non-uniform FFT.

Geometry and units follow ``docs/geometry.md``: the sinogram value at angle ``theta`` and
detector column ``j`` is the line integral of the slice ``f(x, y)`` over
``x cos(theta) - y sin(theta) = j - center``, with ``x = column - (N - 1) / 2`` (to the
right) and ``y = row - (N - 1) / 2`` (downwards) measured from the rotation axis.

Algorithm
---------
1. Each row is edge-padded by ``npad`` columns, zero-padded to a length long enough for a
   linear (not circular) convolution, and filtered in Fourier space with the ramp times a
   window (:mod:`alsmicroct.engine.filters`). The sub-pixel part of the centre is applied
   in the same multiplication as a phase ramp, so that the rotation axis falls on an
   integer sample.
2. An odd-length window of ``L`` samples centred on the axis (long enough to cover the
   diagonal of the N x N slice) is cut from every filtered projection, and two rows are
   packed as ``q_a + i q_b``; the slices are real, so the real and imaginary parts of the
   result are the two slices.
3. The DFT of the windows gives the polar samples ``Q(theta, k / L)``; a type-1 2-D
   non-uniform FFT (finufft) sums them onto the Cartesian N x N grid, which is the exact
   back-projection of the trigonometric interpolant of the filtered projections. Angles
   are weighted by their share of [0, pi) (any order, any set).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from alsmicroct.engine.filters import check_filter, filter_response
from alsmicroct.errors import ParameterError
from alsmicroct.names import DIRECT_ALGORITHMS

__all__ = ["angle_weights", "clear_plan_cache", "default_npad", "reconstruct"]

logger = logging.getLogger(__name__)

#: finufft tolerance (relative l2 error of the regridded image) and upsampling factor.
#: 1e-3 gives the same PSNR as 1e-4 on an analytic phantom at N = 2048 (38.35 dB both,
#: benchmarks/bench_gridrec.py) for ~17 % less time: the regridding error stays two
#: orders of magnitude below the noise of any real scan.
NUFFT_EPS = 1e-3
NUFFT_UPSAMPFAC = 1.25
#: Extra samples on each side of the interpolation window beyond the slice diagonal.
WINDOW_MARGIN = 4
#: Upper bound on the complex working memory of one batch of transforms, bytes.
_BATCH_BYTES = 768 * 2**20
_ALGORITHMS = DIRECT_ALGORITHMS
#: Projections filtered per task (small buffers stay in cache and are reused).
_ANGLE_BLOCK = 32


def default_npad(ncols: int) -> int:
    """Edge padding per side that widens a row to the slice diagonal.

    Parameters
    ----------
    ncols : int
        Number of detector columns N.

    Returns
    -------
    int
        ``(ceil(N * sqrt(2)) - N) // 2`` columns.
    """
    return (math.ceil(ncols * math.sqrt(2.0)) - ncols) // 2


def angle_weights(theta: np.ndarray) -> np.ndarray:
    """Quadrature weight of each projection angle over the half-turn [0, pi).

    Each angle gets half the gaps to its neighbours once all angles are folded into
    [0, pi) (a projection at ``theta + pi`` carries the same information mirrored), so
    any order, any spacing, repeated end points and 360-degree scans are handled.

    Parameters
    ----------
    theta : ndarray
        Angles in radians.

    Returns
    -------
    ndarray of float64
        Weights in radians, summing to pi.
    """
    folded = np.mod(np.asarray(theta, dtype=np.float64), np.pi)
    order = np.argsort(folded, kind="stable")
    ts = folded[order]
    gap_after = np.diff(np.append(ts, ts[0] + np.pi))
    sorted_w = 0.5 * (gap_after + np.roll(gap_after, 1))
    weights = np.empty_like(sorted_w)
    weights[order] = sorted_w
    return weights


def _fast_odd_length(target: int) -> int:
    """Smallest odd integer >= ``target`` whose prime factors are all <= 13."""
    n = target if target % 2 else target + 1
    while True:
        m = n
        for p in (3, 5, 7, 11, 13):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 2


@dataclass(frozen=True)
class _Geometry:
    """Sampling plan shared by gridrec, fbp and the centre sweep."""

    ncols: int
    npad: int
    length: int  # L, odd window length
    half: int  # (L - 1) // 2, index of the axis in the window
    nfft: int  # zero-padded filtering length
    j0: np.ndarray  # integer axis position in the padded row, per row
    delta: np.ndarray  # centre - j0 (sub-pixel part), per row

    @classmethod
    def build(cls, ncols: int, npad: int, centers: np.ndarray) -> _Geometry:
        half_diag = (ncols - 1) / math.sqrt(2.0)
        length = _fast_odd_length(2 * (math.ceil(half_diag) + WINDOW_MARGIN) + 1)
        half = (length - 1) // 2
        cpad = centers + npad
        j0 = np.rint(cpad).astype(np.int64)
        delta = cpad - j0
        npadded = ncols + 2 * npad
        reach = int(max(np.max(j0 + half), np.max(npadded - 1 - j0 + half)))
        nfft = sfft.next_fast_len(2 * reach + 2, real=True)
        return cls(ncols, npad, length, half, nfft, j0, delta)


def row_responses(geom: _Geometry, response: np.ndarray, index: np.ndarray, *, subpixel: bool) -> list[np.ndarray]:
    """Filter response of each row, with the sub-pixel centre shift as a phase ramp.

    Parameters
    ----------
    geom : _Geometry
        Sampling plan.
    response : ndarray, shape (nfft // 2 + 1,)
        Filter response (1/pixel).
    index : ndarray of int
        Row indices into ``geom.delta``.
    subpixel : bool
        Whether to include the shift by ``delta`` (the axis then lands on a sample).

    Returns
    -------
    list of complex64 ndarrays, shape (nfft // 2 + 1,)
    """
    nfft = geom.nfft
    freq = np.arange(nfft // 2 + 1) / nfft
    out = []
    for r in index:
        resp = response.astype(np.complex128)
        delta = float(geom.delta[r]) if subpixel else 0.0
        if delta != 0.0:
            resp = resp * np.exp(2j * np.pi * freq * delta)
            if nfft % 2 == 0:  # the Nyquist bin of a real signal stays real
                resp[-1] = response[-1] * np.cos(np.pi * delta)
        out.append(resp.astype(np.complex64))
    return out


def filtered_windows(
    rows: np.ndarray,
    geom: _Geometry,
    responses: list[np.ndarray],
    *,
    index: np.ndarray,
    workers: int = 1,
    out: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Filter rows of a sinogram and cut the window of ``L`` samples around the axis.

    Parameters
    ----------
    rows : ndarray, float32, shape (nangles, k, N)
        Sinograms of ``k`` rows (a slab of the ``(angle, row, column)`` array).
    geom : _Geometry
        Sampling plan.
    responses : list of k ndarrays, shape (nfft // 2 + 1,)
        Per-row filter responses from :func:`row_responses`.
    index : ndarray of int, shape (k,)
        Row indices into ``geom.j0``.
    workers : int, keyword-only
        FFT threads.
    out : list of k ndarrays of shape (nangles, L), optional
        Where to write the windows (e.g. the real and imaginary parts of a complex array).

    Returns
    -------
    list of k ndarrays, shape (nangles, L)
        Filtered projections; sample ``i`` lies at ``s = i - half`` (``- delta`` when the
        responses carry no sub-pixel shift), in 1/pixel.
    """
    nang, k, ncols = rows.shape
    nfft, npad, length = geom.nfft, geom.npad, geom.length
    buf = np.zeros((k, nang, nfft), dtype=np.float32)
    buf[:, :, npad : npad + ncols] = rows.transpose(1, 0, 2)
    _edge_pad(buf, npad, ncols)
    spec = sfft.rfft(buf, axis=-1, workers=workers)
    del buf
    for i in range(k):
        spec[i] *= responses[i]
    q = sfft.irfft(spec, n=nfft, axis=-1, workers=workers, overwrite_x=True)
    del spec
    if out is None:
        out = [np.empty((nang, length), dtype=np.float32) for _ in range(k)]
    for i, r in enumerate(index):
        _cut_window(q[i], int(geom.j0[r]) - geom.half, out[i])
    return out


def _edge_pad(buf: np.ndarray, npad: int, ncols: int) -> None:
    """Replicate the edge samples of rows held at ``buf[..., npad : npad + ncols]``."""
    if npad:
        buf[..., :npad] = buf[..., npad : npad + 1]
        buf[..., npad + ncols : 2 * npad + ncols] = buf[..., npad + ncols - 1 : npad + ncols]


def _cut_window(q: np.ndarray, start: int, out: np.ndarray) -> None:
    """Copy ``out.shape[-1]`` samples of the periodic rows ``q`` from ``start`` on.

    The window wraps around the period ``q.shape[-1]`` when the axis lies less than half
    a window from the left of the padded row (the usual case: the window is the
    diagonal, wider than the row); two slice copies, no index array.
    """
    nfft, length = q.shape[-1], out.shape[-1]
    start %= nfft
    first = min(length, nfft - start)
    out[:, :first] = q[:, start : start + first]
    if first < length:
        out[:, first:] = q[:, : length - first]


def _full_response(half: np.ndarray, nfft: int) -> np.ndarray:
    """Complex-FFT response (all ``nfft`` bins) of a real kernel given its rfft half."""
    nh = half.size
    full = np.empty(nfft, dtype=np.complex64)
    full[:nh] = half
    full[nh:] = np.conj(half[1 : nfft - nh + 1][::-1])
    return full


def _filtered_pair(rows: np.ndarray, geom: _Geometry, full: np.ndarray, start: int, out: np.ndarray) -> None:
    """Filter two rows that share their centre as one complex signal, cut the window.

    The filter is a real kernel, so filtering ``a + i b`` with the full (Hermitian)
    response gives ``filtered(a) + i filtered(b)``: one complex FFT pair instead of two
    real ones, and the packed window of :func:`_gridrec` directly.

    Parameters
    ----------
    rows : ndarray, float32, shape (nangles, 2, N)
        The two rows' sinograms.
    geom : _Geometry
        Sampling plan.
    full : ndarray of complex64, shape (nfft,)
        Both rows' response from :func:`_full_response`.
    start : int
        Window start in the padded row (``j0 - half``).
    out : ndarray of complex64, shape (nangles, L)
        The packed window.
    """
    nang, _, ncols = rows.shape
    nfft, npad = geom.nfft, geom.npad
    buf = np.zeros((nang, nfft), dtype=np.complex64)
    buf.real[:, npad : npad + ncols] = rows[:, 0]
    buf.imag[:, npad : npad + ncols] = rows[:, 1]
    _edge_pad(buf, npad, ncols)
    spec = sfft.fft(buf, axis=-1, overwrite_x=True)
    spec *= full
    _cut_window(sfft.ifft(spec, axis=-1, overwrite_x=True), start, out)


def _validate(sino, theta, center, algorithm, npad, num_threads):
    data = np.asarray(sino)
    if data.ndim != 3:
        raise ParameterError(
            f"sino has ndim={data.ndim} (shape {data.shape}); expected a 3-D (angle, row, column) array"
        )
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise ParameterError(f"sino has dtype {data.dtype}; expected a real float array")
    data = np.asarray(data, dtype=np.float32)
    nang, nrows, ncols = data.shape
    if nang < 1 or nrows < 1 or ncols < 2:
        raise ParameterError(f"sino has shape {data.shape}; expected at least (1, 1, 2)")
    th = np.asarray(theta, dtype=np.float64)
    if th.ndim != 1 or th.size != nang:
        raise ParameterError(f"theta has shape {th.shape}; expected one angle per projection, ({nang},)")
    if not np.all(np.isfinite(th)):
        raise ParameterError("theta contains non-finite values; expected finite radians")
    step = max(1, (1 << 24) // max(1, nrows * ncols))  # check ~16 M values at a time
    if not all(np.isfinite(data[a : a + step]).all() for a in range(0, nang, step)):
        bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
        raise ParameterError(f"sino contains {bad} non-finite values (NaN/inf); expected finite -log data")
    cen = np.asarray(center, dtype=np.float64)
    if cen.ndim == 0:
        cen = np.full(nrows, float(cen))
    elif cen.shape != (nrows,):
        raise ParameterError(f"center has shape {cen.shape}; expected a scalar or one value per row ({nrows},)")
    if not np.all(np.isfinite(cen)) or np.any(cen < 0) or np.any(cen > ncols - 1):
        bad = cen[~(np.isfinite(cen) & (cen >= 0) & (cen <= ncols - 1))][0]
        raise ParameterError(f"center={float(bad)!r} lies outside the detector; expected 0 <= center <= {ncols - 1}")
    if algorithm not in _ALGORITHMS:
        raise ParameterError(f"algorithm={algorithm!r}; expected one of {_ALGORITHMS}")
    if isinstance(npad, bool) or not isinstance(npad, (int, np.integer)) or npad < 0:
        raise ParameterError(f"npad={npad!r}; expected a non-negative integer")
    if num_threads is None:
        try:
            nthreads = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            nthreads = os.cpu_count() or 1
    elif isinstance(num_threads, (int, np.integer)) and num_threads >= 1:
        nthreads = int(num_threads)
    else:
        raise ParameterError(f"num_threads={num_threads!r}; expected None or an integer >= 1")
    return data, th, cen, int(npad), nthreads


def reconstruct(
    sino: np.ndarray,
    theta: np.ndarray,
    *,
    center: float | np.ndarray,
    algorithm: str = "gridrec",
    filter_name: str = "butterworth",
    cutoff: float = 0.25,
    order: float = 2,
    npad: int = 0,
    num_threads: int | None = None,
) -> np.ndarray:
    """Reconstruct slices from parallel-beam sinograms.

    Parameters
    ----------
    sino : ndarray, float32, shape (nangles, nrows, N)
        -log data (line integrals, dimensionless), ``(angle, row, column)``.
    theta : ndarray, shape (nangles,)
        Projection angles in radians, any order and any set (e.g. the decreasing legacy
        list 270 -> 90 degrees).
    center : float or ndarray of shape (nrows,), keyword-only
        Rotation axis in pixels from the left edge of the unpadded row, pixel-centre
        convention (``(N - 1) / 2`` is the middle); one value for all rows or one per row.
    algorithm : {"gridrec", "fbp"}, keyword-only
        Fourier regridding on a non-uniform FFT, or real-space back-projection with linear
        interpolation (slower; for checking).
    filter_name : str, keyword-only
        One of :data:`alsmicroct.engine.filters.FILTER_NAMES` (TomoPy's gridrec family).
    cutoff : float, keyword-only
        Filter cutoff in cycles per pixel (Nyquist = 0.5).
    order : float, keyword-only
        Butterworth order.
    npad : int, keyword-only
        Columns of edge padding (replicated edge values) added on each side before
        filtering; :func:`default_npad` widens the row to the slice diagonal.
    num_threads : int, optional, keyword-only
        Threads for the FFTs, the non-uniform FFT and the back-projection; default all
        cores available to the process.

    Returns
    -------
    ndarray, float32, shape (nrows, N, N)
        Slices in 1/pixel (divide by the pixel size in cm for 1/cm), rotation axis on
        pixel ``((N - 1) / 2, (N - 1) / 2)``, row 0 at the top.

    Notes
    -----
    The non-uniform FFT plan (points, phase factors, finufft plans) depends only on the
    angles, N and the thread count; it is kept after the call and reused by the next
    call with the same geometry (chunk-by-chunk reconstruction of a volume), saving
    about one slice's time per call. :func:`clear_plan_cache` frees it. Working memory
    beyond input and output: about ``16 * nangles * 1.42 N`` bytes per packed row pair
    plus the plan (about 0.5 GB at N = 2048 with 3217 angles).

    Raises
    ------
    ParameterError
        On a wrong dimension, a theta length that does not match, a centre outside the
        detector, non-finite values or unknown options.
    """
    data, th, cen, npad, nthreads = _validate(sino, theta, center, algorithm, npad, num_threads)
    name = check_filter(filter_name, cutoff, order)
    nang, nrows, ncols = data.shape
    geom = _Geometry.build(ncols, npad, cen)
    response = filter_response(name, geom.nfft, cutoff=cutoff, order=order)
    weights = angle_weights(th)
    logger.debug(
        "%s: %d rows, %d angles, N=%d, npad=%d, window %d, fft %d, filter %s",
        algorithm,
        nrows,
        nang,
        ncols,
        npad,
        geom.length,
        geom.nfft,
        name,
    )
    out = np.empty((nrows, ncols, ncols), dtype=np.float32)
    if algorithm == "fbp":
        from alsmicroct.engine.fbp import backproject

        for r in range(nrows):
            index = np.array([r])
            q = filtered_windows(
                data[:, r : r + 1, :],
                geom,
                row_responses(geom, response, index, subpixel=False),
                index=index,
                workers=nthreads,
            )[0]
            out[r] = backproject(
                q,
                th,
                weights,
                origin=geom.half + float(geom.delta[r]),
                size=ncols,
                num_threads=nthreads,
            )
        return out
    _gridrec(data, th, weights, geom, response, out, nthreads)
    return out


class _RegridPlan:
    """Non-uniform points, per-sample factors and finufft plans of one geometry.

    Building them costs about as much as reconstructing a few slices, so the last plan
    is kept (see :func:`_take_plan`) for the next call with the same angles and sizes,
    as when a volume is reconstructed chunk by chunk.
    """

    def __init__(self, theta, weights, ncols, length, nthreads):
        half = (length - 1) // 2
        m = np.rint(np.fft.fftfreq(length) * length)  # FFT order: 0..half, -half..-1
        omega = ((2.0 * np.pi / length) * m).astype(np.float32)
        self.xs = np.multiply.outer(np.cos(theta).astype(np.float32), omega).ravel()
        self.ys = np.multiply.outer((-np.sin(theta)).astype(np.float32), omega).ravel()
        # Pixel x = k + shift for finufft mode k (modes -floor(N/2)..), likewise y; window
        # sample i sits at s = i - half. Both give a phase linear in m for each angle.
        shift = ncols // 2 - (ncols - 1) / 2.0
        alpha = (2.0 * np.pi / length) * (shift * (np.cos(theta) - np.sin(theta)) + half)
        self.fac = _phase_factors(alpha, m.astype(np.int64), (weights / length).astype(np.float32))
        self.ncols, self.nthreads = ncols, nthreads
        self.plans: dict[int, object] = {}

    def plan(self, ntrans: int):
        """finufft type-1 plan for ``ntrans`` packed pairs, points set."""
        if ntrans not in self.plans:
            import finufft

            plan = finufft.Plan(
                1,
                (self.ncols, self.ncols),
                n_trans=ntrans,
                eps=NUFFT_EPS,
                isign=1,
                dtype="complex64",
                nthreads=self.nthreads,
                upsampfac=NUFFT_UPSAMPFAC,
                modeord=0,
            )
            plan.setpts(self.ys, self.xs)
            self.plans[ntrans] = plan
        return self.plans[ntrans]


#: Run length of the low part of the frequency index in :func:`_phase_factors`.
_PHASE_RUN = 64


def _phase_factors(alpha: np.ndarray, m: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``scale[a] * exp(1j * alpha[a] * m[j])`` as complex64, from two small tables.

    With ``m = hi + lo`` (``lo = m mod 64``), the factor is the product of
    ``exp(1j * alpha * hi)`` and ``exp(1j * alpha * lo)``, each computed in float64 on
    ``nangles x (L / 64)`` and ``nangles x 64`` values; the full table is one complex64
    product per sample instead of a float64 phase, a remainder and two float32 trig
    calls per sample (with the float32 point tables, the plan set-up at N = 2048 and
    3217 angles went from 0.2-0.57 s to 0.06-0.07 s; the same values to float32
    rounding). ``m`` must be runs of consecutive integers (the FFT order is).

    Parameters
    ----------
    alpha : ndarray, shape (nangles,)
        Phase slope per angle, radians per frequency index.
    m : ndarray of int, shape (L,)
        Frequency indices.
    scale : ndarray of float32, shape (nangles,)
        Factor per angle.

    Returns
    -------
    ndarray of complex64, shape (nangles, L)
    """
    run = _PHASE_RUN
    lo = np.mod(m, run)
    hi = m - lo
    fac = np.empty((alpha.size, m.size), dtype=np.complex64)
    low = np.exp(1j * np.mod(np.outer(alpha, np.arange(run)), 2.0 * np.pi)).astype(np.complex64)
    starts = np.flatnonzero(np.r_[True, (np.diff(hi) != 0) | (np.diff(lo) != 1)])
    ends = np.r_[starts[1:], m.size]
    for j0, j1 in zip(starts, ends, strict=True):
        high = np.exp(1j * np.mod(alpha * float(hi[j0]), 2.0 * np.pi)).astype(np.complex64) * scale
        np.multiply(high[:, None], low[:, lo[j0] : lo[j0] + (j1 - j0)], out=fac[:, j0:j1])
    return fac


_PLAN_LOCK = threading.Lock()
_PLAN_CACHE: dict[tuple, _RegridPlan] = {}


def _plan_key(theta, ncols, length, nthreads) -> tuple:
    digest = hashlib.sha1(np.ascontiguousarray(theta, dtype=np.float64).tobytes()).hexdigest()
    return (digest, ncols, length, nthreads)


def _take_plan(theta, weights, ncols, length, nthreads) -> tuple[tuple, _RegridPlan]:
    """Take the cached plan for this geometry (concurrent callers build their own)."""
    key = _plan_key(theta, ncols, length, nthreads)
    with _PLAN_LOCK:
        plan = _PLAN_CACHE.pop(key, None)
    if plan is None:
        plan = _RegridPlan(theta, weights, ncols, length, nthreads)
    return key, plan


def clear_plan_cache() -> None:
    """Free the regridding plan kept for the next call (a few hundred MB at N = 2048)."""
    with _PLAN_LOCK:
        _PLAN_CACHE.clear()


def _return_plan(key: tuple, plan: _RegridPlan) -> None:
    with _PLAN_LOCK:
        _PLAN_CACHE.clear()  # keep one geometry only (a few hundred MB at N = 2048)
        _PLAN_CACHE[key] = plan


def _gridrec(data, theta, weights, geom, response, out, nthreads):
    """Regrid all rows of ``data`` into ``out`` (see module docstring)."""
    nang, nrows, ncols = data.shape
    length = geom.length
    key, rplan = _take_plan(theta, weights, ncols, length, nthreads)
    fac = rplan.fac
    npairs = (nrows + 1) // 2
    per_trans = nang * length * 8 + ncols * ncols * 8 * 3
    ntmax = int(max(1, min(npairs, _BATCH_BYTES // per_trans, 2)))
    blocks = range(0, nang, _ANGLE_BLOCK)
    coef = np.empty((ntmax, nang, length), dtype=np.complex64)

    def fill(target, r0, r1, responses, a0):
        # filter one block of angles of a row pair, pack, DFT and weight it
        a1 = min(nang, a0 + _ANGLE_BLOCK)
        z = np.empty((a1 - a0, length), dtype=np.complex64)
        if isinstance(responses, np.ndarray):  # two rows with one centre: packed filtering
            _filtered_pair(data[a0:a1, r0:r1, :], geom, responses, int(geom.j0[r0]) - geom.half, z)
        else:
            parts = [z.real, z.imag][: r1 - r0]
            filtered_windows(data[a0:a1, r0:r1, :], geom, responses, index=np.arange(r0, r1), out=parts)
            if r1 - r0 == 1:
                z.imag = 0.0
        z = sfft.fft(z, axis=-1, overwrite_x=True)
        np.multiply(z, fac[a0:a1], out=target[a0:a1])

    with ThreadPoolExecutor(max_workers=nthreads) as pool:
        for p0 in range(0, npairs, ntmax):
            nt = min(ntmax, npairs - p0)
            jobs = []
            for t in range(nt):
                r0 = 2 * (p0 + t)
                r1 = min(nrows, r0 + 2)
                responses = row_responses(geom, response, np.arange(r0, r1), subpixel=True)
                if r1 - r0 == 2 and geom.j0[r0] == geom.j0[r0 + 1] and geom.delta[r0] == geom.delta[r0 + 1]:
                    responses = _full_response(responses[0], geom.nfft)
                jobs += [pool.submit(fill, coef[t], r0, r1, responses, a0) for a0 in blocks]
            for job in jobs:
                job.result()
            flat = coef[:nt].reshape(nt, -1)
            img = rplan.plan(nt).execute(flat[0] if nt == 1 else flat)
            img = img.reshape(nt, ncols, ncols)
            for t in range(nt):
                r0 = 2 * (p0 + t)
                out[r0] = img[t].real
                if r0 + 1 < nrows:
                    out[r0 + 1] = img[t].imag
    _return_plan(key, rplan)
