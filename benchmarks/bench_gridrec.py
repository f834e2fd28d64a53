"""Benchmark of alsmicroct.engine.reconstruct (gridrec) against an analytic phantom.

For each N it prints seconds per slice (all cores, edge padding to the diagonal; best and
median of ``--repeat`` calls on ``--rows`` slices, plus the first "cold" call, which also
builds the regridding plan that later calls with the same angles reuse, as a ratio to a
warm call; and the CPU seconds per slice over all threads), the PSNR inside the circular
field of view, the least-squares scale factor versus the truth, and the time in units of
one complex64 2-D FFT of shape (2N, 2N) timed next to each call in the same run (best
over best, and the median of the per-call ratios), with the load average. Timings on a
shared machine are noisy; the ratios are the stable figures.

Usage::

    python benchmarks/bench_gridrec.py            # N = 512, 1024, 2048
    python benchmarks/bench_gridrec.py -n 2048 --rows 8
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import scipy.fft as sfft

from alsmicroct.engine import default_npad, gridrec, reconstruct
from alsmicroct.engine._phantom import ellipse_image, ellipse_sinogram, shepp_ellipses


def psnr_fov(rec: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB, 20 log10(max(truth) / RMSE), inside the circular field of view."""
    n = truth.shape[0]
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2.0
    fov = np.hypot(xx, yy) <= n / 2.0
    rmse = math.sqrt(float(np.mean((rec[fov] - truth[fov]) ** 2)))
    return 20.0 * math.log10(float(truth.max()) / rmse)


def time_fft(n: int, repeat: int = 3) -> float:
    """Best time in seconds of one complex64 (2N, 2N) FFT on all cores."""
    a = (np.random.default_rng(0).random((2 * n, 2 * n)) + 0j).astype(np.complex64)
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        sfft.fft2(a, workers=-1)
        best = min(best, time.perf_counter() - t0)
    return best


def bench(n: int, nrows: int, nangles: int | None, repeat: int) -> None:
    """Run and print the benchmark for one size ``n``."""
    nang = nangles or round(n * 3217 / 2048)
    theta = np.deg2rad(270.0 - np.arange(nang) * 180.0 / (nang - 1))  # legacy list
    center = (n - 1) / 2.0 + 3.37
    ellipses = shepp_ellipses(0.47 * n, value=1.0 / n)
    ellipses[:, 3] += 0.02 * n  # off the axis
    sino = ellipse_sinogram(ellipses, theta, n, center=center)
    truth = ellipse_image(ellipses, n)
    stack = np.ascontiguousarray(np.repeat(sino[:, None, :], nrows, axis=1))
    npad = default_npad(n)
    gridrec.clear_plan_cache()  # cold call: includes building the regridding plan
    t0 = time.perf_counter()
    reconstruct(stack, theta, center=center, npad=npad)
    cold = (time.perf_counter() - t0) / nrows
    walls, cpus, ffts, ratios = [], [], [], []
    for _ in range(repeat):  # the FFT reference is timed next to each call, in turn
        tfft = time_fft(n)
        t0, c0 = time.perf_counter(), time.process_time()
        rec = reconstruct(stack, theta, center=center, npad=npad)
        wall = (time.perf_counter() - t0) / nrows
        walls.append(wall)
        cpus.append((time.process_time() - c0) / nrows)
        ffts.append(tfft)
        ratios.append(wall / tfft)
    img = rec[0]
    scale = float(np.sum(img * truth) / np.sum(truth * truth))
    best, med = min(walls), float(np.median(walls))
    print(
        f"N={n:5d} angles={nang:5d} npad={npad:4d} rows={nrows:3d}: "
        f"{best:.3f} / {med:.3f} s/slice best / median of {repeat} (CPU {min(cpus):.3f} s)  "
        f"PSNR={psnr_fov(img, truth):.2f} dB  scale={scale:.4f}\n"
        f"    fft2(2N) {min(ffts) * 1e3:.1f} / {np.median(ffts) * 1e3:.1f} ms  "
        f"ratio best {best / min(ffts):.2f}, median of per-call ratios {np.median(ratios):.2f}  "
        f"first call {cold:.3f} s/slice = {cold / med:.2f} x a warm call "
        f"(plan amortised over {nrows} rows)  load {os.getloadavg()[0]:.2f}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, nargs="*", default=[512, 1024, 2048], help="sizes N")
    ap.add_argument("--rows", type=int, default=8, help="slices per call")
    ap.add_argument("--angles", type=int, default=None, help="angles (default 3217*N/2048)")
    ap.add_argument("--repeat", type=int, default=5, help="timed repetitions (best and median printed)")
    args = ap.parse_args(argv)
    for n in args.n:
        bench(n, args.rows, args.angles, args.repeat)


if __name__ == "__main__":
    main()
