"""Benchmark of the centre finders on noisy simulated data with a known centre.

Prints, for each method, the error (pixels) against the true centre and the wall time.

Usage::

    python benchmarks/bench_center.py                 # N = 2048 (pc, vo), nm at N / 2
    python benchmarks/bench_center.py -n 1024 --skip-nm
    python benchmarks/bench_center.py --confidence     # estimate_center, 2048 x 1969 x 3 rows
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from alsmicroct.engine import find_center_nm, find_center_pc, find_center_vo
from alsmicroct.engine._phantom import ellipse_sinogram, shepp_ellipses
from alsmicroct.engine.center_confidence import estimate_center


def _phantom(n: int, scale: float) -> np.ndarray:
    ell = shepp_ellipses(0.42 * n * scale, value=2.0 / n)
    ell[:, 3] += 0.03 * n
    return ell


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    val = fn(*args, **kwargs)
    return val, time.perf_counter() - t0


def bench(n: int, skip_nm: bool) -> None:
    """Run the three finders for an N-column detector and print errors and times."""
    rng = np.random.default_rng(0)
    center = (n - 1) / 2.0 + 0.0173 * n + 0.37
    # 0/180 degree projections of an n-row object whose slices change with the row
    pair = np.array([0.0, np.pi])
    rows = [
        ellipse_sinogram(
            _phantom(n, 0.6 + 0.4 * np.sin(np.pi * (k + 1) / (n + 1))),
            pair,
            n,
            center=center,
            subsamples=1,
        )
        for k in range(n)
    ]
    proj = np.exp(-np.stack(rows, axis=1)) + rng.normal(0.0, 0.01, (2, n, n))
    found, dt = _timed(find_center_pc, proj[0], proj[1], tol=0.25)
    print(f"N={n:5d} find_center_pc: error {found - center:+.3f} px  {dt:.2f} s", flush=True)

    nang = round(n * 3217 / 2048)
    theta = np.deg2rad(np.linspace(0.0, 180.0, nang))
    sino = ellipse_sinogram(_phantom(n, 1.0), theta, n, center=center)
    sino += rng.normal(0.0, 0.02 * float(sino.max()), sino.shape).astype(np.float32)
    found, dt = _timed(find_center_vo, sino)
    print(f"N={n:5d} find_center_vo: error {found - center:+.3f} px  {dt:.2f} s", flush=True)
    if skip_nm:
        return
    half = n // 2
    c2 = (half - 1) / 2.0 + 0.0173 * half + 0.37
    th2 = theta[::2]
    sino2 = ellipse_sinogram(_phantom(half, 1.0), th2, half, center=c2)
    sino2 += rng.normal(0.0, 0.02 * float(sino2.max()), sino2.shape).astype(np.float32)
    found, dt = _timed(find_center_nm, sino2, th2, init=c2 + 3.0)
    print(f"N={half:5d} find_center_nm: error {found - c2:+.3f} px  {dt:.2f} s", flush=True)


def bench_confidence(n: int = 2048, nang: int = 1969, repeats: int = 5) -> None:
    """Time :func:`estimate_center` on an ``nang`` x 3 x ``n`` block (a watch preview's size)
    against one ``rfft2`` of a (2 nang, n) array, the FFT unit, measured in the same run."""
    import scipy.fft as sfft

    rng = np.random.default_rng(0)
    center = (n - 1) / 2.0 + 0.0173 * n + 0.37
    theta = np.deg2rad(np.linspace(0.0, 180.0, nang))
    sino = ellipse_sinogram(_phantom(n, 1.0), theta, n, center=center, subsamples=1)
    block = np.stack([sino + rng.normal(0.0, 0.02 * float(sino.max()), sino.shape) for _ in range(3)], axis=1).astype(
        np.float32
    )
    times, est = [], None
    for _ in range(repeats):
        est, dt = _timed(estimate_center, block, theta)
        times.append(dt)
    unit = np.zeros((2 * nang, n), np.float32)
    fft_t = min(_timed(sfft.rfft2, unit, workers=-1)[1] for _ in range(repeats))
    best, med = min(times), statistics.median(times)
    print(
        f"estimate_center {nang} x 3 x {n}: error {est.center - center:+.3f} px, label "
        f"{est.label}; best {best:.2f} s, median {med:.2f} s over {repeats} runs "
        f"({best / fft_t:.0f} FFT units of {fft_t * 1e3:.1f} ms); load "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, nargs="*", default=[2048], help="detector widths N")
    ap.add_argument("--skip-nm", action="store_true", help="skip the entropy method")
    ap.add_argument(
        "--confidence", action="store_true", help="time estimate_center on a 2048 x 1969 x 3-row block only"
    )
    args = ap.parse_args(argv)
    if args.confidence:
        bench_confidence()
        return
    for n in args.n:
        bench(n, args.skip_nm)


if __name__ == "__main__":
    main()
