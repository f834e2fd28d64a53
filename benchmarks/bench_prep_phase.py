"""Benchmark of alsmicroct.prep.phase.retrieve_phase (Paganin, padding on).

Prints seconds per projection for ``size x size`` normalised projections with the default
edge-value padding, all cores, and in the same run two references: one complex64 2-D FFT
of the padded shape (all cores), and TomoPy's algorithm cost (pad to the next power of
two, complex128 ``numpy.fft.fft2`` + ``ifft2``, one projection). It ends with the ratio to
TomoPy's measured 0.70 s per 2048 x 2048 projection (2 threads). Timings on a shared
machine are noisy; the same-run ratios are the stable figures.

Usage::

    python benchmarks/bench_prep_phase.py                 # 2048 x 2048, 8 projections
    python benchmarks/bench_prep_phase.py --size 1024 --nproj 16 --repeat 5
"""

from __future__ import annotations

import argparse
import math
import time

import _tomopy
import numpy as np
import scipy.fft as sfft

from alsmicroct.prep.phase import phase_pad_widths, retrieve_phase

# RECORDED figure (source: _tomopy.SOURCE): TomoPy retrieve_phase, pad=True, 2 threads, per
# 2048 x 2048 projection. With --tomopy-python TomoPy is timed in the same run instead.
TOMOPY_S_PER_2048 = 0.70
PARAMS = {"pixel_size_cm": 6.5e-5, "dist_cm": 10.0, "energy_kev": 20.0, "alpha": 1e-3}


def _best(func, repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048, help="projection rows = columns")
    ap.add_argument("--nproj", type=int, default=8, help="projections per call")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions (best is kept)")
    ap.add_argument(
        "--no-tomopy-like",
        action="store_true",
        help="skip the TomoPy-algorithm reference (slow: power-of-two complex128)",
    )
    _tomopy.add_argument(ap)
    args = ap.parse_args(argv)

    n = args.size
    rng = np.random.default_rng(0)
    data = (0.8 + 0.2 * rng.random((args.nproj, n, n))).astype(np.float32)
    (py, px), _ = phase_pad_widths((n, n), **PARAMS)

    retrieve_phase(data[:1], **PARAMS)  # warm-up (filter cache, FFT plans)
    t_ours = _best(lambda: retrieve_phase(data, **PARAMS), args.repeat) / args.nproj

    spec = (rng.random((py, px)) + 0j).astype(np.complex64)
    t_fft = _best(lambda: sfft.fft2(spec, workers=-1), args.repeat)

    print(
        f"retrieve_phase {n}x{n}, pad -> {py}x{px}, {args.nproj} projections, "
        f"alpha {PARAMS['alpha']:g}, {PARAMS['dist_cm']:g} cm, {PARAMS['energy_kev']:g} keV"
    )
    print(f"  alsmicroct           : {t_ours:8.4f} s per projection")
    print(f"  ref complex64 FFT    : {t_fft:8.4f} s ({py}x{px}, all cores); ratio {t_ours / t_fft:5.2f}")
    if not args.no_tomopy_like:
        pad_pix = math.ceil(math.pi * 6.1992e-9 * PARAMS["dist_cm"] / PARAMS["pixel_size_cm"] ** 2)
        p2 = 2 ** math.ceil(math.log2(n + pad_pix))
        big = np.ones((p2, p2), np.float32)

        def tomopy_like():
            np.real(np.fft.ifft2(np.fft.fft2(big) * 0.5))

        t_tp = _best(tomopy_like, 1)
        print(
            f"  TomoPy-like (numpy)  : {t_tp:8.4f} s ({p2}x{p2} complex128 fft2+ifft2); speed-up {t_tp / t_ours:5.1f}x"
        )
    if args.tomopy_python:
        expr = (
            "tomopy.retrieve_phase(data, pixel_size={pixel_size_cm}, dist={dist_cm}, energy={energy_kev}, "
            "alpha={alpha}, pad=True, ncore=ncore)"
        ).format(**PARAMS)
        tp = min(_tomopy.time_tomopy(args.tomopy_python, (args.nproj, n, n), expr, args.repeat)) / args.nproj
        print(f"  TomoPy, this run     : {tp:8.4f} s per projection; ratio {t_ours / tp:5.3f}")
    elif n == 2048:
        print(
            f"  TomoPy {_tomopy.recorded(TOMOPY_S_PER_2048, 'per projection')}; ratio {t_ours / TOMOPY_S_PER_2048:5.3f}"
        )


if __name__ == "__main__":
    main()
