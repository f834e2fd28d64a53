"""Benchmark of the centre finders on noisy simulated data with a known centre.

Prints, for each method, the error (pixels) against the true centre and the wall time.

Usage::

    python benchmarks/bench_center.py                 # N = 2048 (pc, vo), nm at N / 2
    python benchmarks/bench_center.py -n 1024 --skip-nm
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from alsmicroct.engine import find_center_nm, find_center_pc, find_center_vo
from alsmicroct.engine._phantom import ellipse_sinogram, shepp_ellipses


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


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, nargs="*", default=[2048], help="detector widths N")
    ap.add_argument("--skip-nm", action="store_true", help="skip the entropy method")
    args = ap.parse_args(argv)
    for n in args.n:
        bench(n, args.skip_nm)


if __name__ == "__main__":
    main()
