"""Benchmark of the iterative methods (alsmicroct.engine.reconstruct_iterative).

Speed (best and median of ``--repeat`` runs, in units measured in the same run):
- one CGLS iteration (the Toeplitz normal operator plus the vector updates) at
  N = ``-n`` and ``--nang`` angles, in units of one complex64 FFT of shape (2N, 2N);
- CGLS with 20 iterations on one slice (back-projection included, kernel cached) over one
  gridrec slice.

Quality (PSNR inside the field of view versus the analytic phantom): gridrec (default
Butterworth filter, the recon() default) against SIRT, CGLS and TV with their defaults,
on a few-angle scan (``--few`` angles at ``--quality-n`` columns, no noise) and on a fully
sampled noisy one (pi/2 N angles at N/2 columns, Gaussian noise ``--noise`` of the maximum).

``--raw PHANTOM ...``: also simulate raw scans (``alsmicroct.sim``, flux noise, ``--few``
angles at ``--quality-n`` columns, 2 rows) and reconstruct them through ``recon()`` with
each algorithm's defaults (PSNR against the simulator's truth volume).

``--astra``: also time and score the ASTRA toolbox's CPU SIRT-100/CGLS-30 (``line``
projector, from zero) on the few-angle scan when it imports (a side-by-side reference
only; never a dependency: ``pip install astra-toolbox`` in a separate venv with this
project installed, and run this script with that venv's python).

Usage::

    python benchmarks/bench_iterative.py                       # N = 2048, 3217 angles
    python benchmarks/bench_iterative.py -n 1024 --nang 1609 --repeat 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import scipy.fft as sfft

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_gridrec import psnr_fov

from alsmicroct.engine import default_npad, reconstruct, reconstruct_iterative
from alsmicroct.engine import iterative as it
from alsmicroct.engine import projector as pj
from alsmicroct.engine._phantom import ellipse_image, ellipse_sinogram, shepp_ellipses


def timed(fn, repeat: int) -> tuple[float, float]:
    """Best and median seconds of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times))


def legacy(nang: int) -> np.ndarray:
    return np.deg2rad(270.0 - np.arange(nang) * 180.0 / (nang - 1))


def speed(n: int, nang: int, repeat: int) -> None:
    theta = legacy(nang)
    center = (n - 1) / 2.0 + 1.3
    workers = len(os.sched_getaffinity(0))
    z = (np.random.default_rng(0).standard_normal((2 * n, 2 * n)) + 0j).astype(np.complex64)
    fft = timed(lambda: sfft.fft2(z, workers=workers), repeat)
    t0 = time.perf_counter()
    length = pj.window_length(n, np.array([center]))
    op = pj.normal_operator(theta, n, length)
    kernel_s = time.perf_counter() - t0
    rhs = np.random.default_rng(1).standard_normal((1, n, n)).astype(np.float32)
    opts = dict(it.DEFAULTS["cgls"], num_iter=5, tol=0.0)
    five = timed(lambda: it._cgls(op, rhs, np.zeros_like(rhs), np.ones(1), opts), repeat)
    one = (five[0] / 5, five[1] / 5)
    print(
        f"N={n}, {nang} angles, load {os.getloadavg()[0]:.1f}: fft (2N)^2 best {fft[0]:.3f} s median {fft[1]:.3f} s;"
        f" kernel (once) {kernel_s:.2f} s"
    )
    print(
        f"  one CGLS iteration: best {one[0]:.3f} s median {one[1]:.3f} s = {one[0] / fft[0]:.2f} "
        f"(median {one[1] / fft[1]:.2f}) FFT units"
    )
    sino = np.random.default_rng(2).random((nang, 1, n), dtype=np.float32)
    reconstruct(sino, theta, center=center, npad=default_npad(n))  # plan cached
    grid = timed(lambda: reconstruct(sino, theta, center=center, npad=default_npad(n)), repeat)
    cg = timed(
        lambda: reconstruct_iterative(sino, theta, center=center, algorithm="cgls", num_iter=20, tol=0, start="zero"),
        repeat,
    )
    print(
        f"  gridrec slice best {grid[0]:.2f} s median {grid[1]:.2f} s; CGLS-20 best {cg[0]:.2f} s median "
        f"{cg[1]:.2f} s = {cg[0] / grid[0]:.1f}x (median {cg[1] / grid[1]:.1f}x)"
    )


def quality(n: int, nang: int, noise: float, astra: bool) -> None:
    theta = legacy(nang)
    center = (n - 1) / 2.0 + 3.3
    ell = shepp_ellipses(0.45 * n, value=2.0 / n)
    truth = ellipse_image(ell, n)
    sino = ellipse_sinogram(ell, theta, n, center=center)
    if noise:
        sino = sino + noise * sino.max() * np.random.default_rng(1).standard_normal(sino.shape).astype(np.float32)
    sino = sino[:, None, :]
    t0 = time.perf_counter()
    base = psnr_fov(reconstruct(sino, theta, center=center, npad=default_npad(n))[0], truth)
    print(
        f"N={n}, {nang} angles, noise {noise:g}, load {os.getloadavg()[0]:.1f}: gridrec {base:.2f} dB "
        f"({time.perf_counter() - t0:.2f} s)"
    )
    for algorithm in ("sirt", "cgls", "tv"):
        t0 = time.perf_counter()
        rec, log = reconstruct_iterative(sino, theta, center=center, algorithm=algorithm)
        value = psnr_fov(rec[0], truth)
        print(
            f"  {algorithm:4s} {value:.2f} dB ({value - base:+.2f}), {log.iterations} it ({log.stopped}), "
            f"{time.perf_counter() - t0:.2f} s"
        )
    if astra and not noise:  # ASTRA's CPU code takes minutes per case: the few-angle one only
        astra_reference(sino[:, 0, :], theta, center, truth, base)


def raw_quality(phantom: str, n: int, nang: int) -> None:
    import tempfile

    from alsmicroct.io.tiff import read_tiff
    from alsmicroct.reconstruction import recon
    from alsmicroct.sim import simulate_scan

    with tempfile.TemporaryDirectory() as tmp:
        scan = simulate_scan(f"{tmp}/{phantom}.h5", phantom=phantom, nangles=nang, nslices=2, nrays=n, seed=1)
        truth = scan.volume()
        fov = np.hypot(*(np.mgrid[:n, :n] - (n - 1) / 2.0)) < n / 2 - 2
        line = f"raw {phantom}, {nang} angles, {n} columns, load {os.getloadavg()[0]:.1f}:"
        base = None
        for algorithm in ("gridrec", "sirt", "cgls", "tv"):
            t0 = time.perf_counter()
            res = recon(
                str(scan.path), outputPath=f"{tmp}/{algorithm}", cor=scan.cor, algorithm=algorithm, quicklook=False
            )
            rec = np.stack([read_tiff(f) for f in res.files])
            rmse = [np.sqrt(np.mean((a[fov] - t[fov]) ** 2)) for a, t in zip(rec, truth, strict=True)]
            value = float(np.mean(20 * np.log10(truth.max() / np.array(rmse))))
            base = value if base is None else base
            line += f" {algorithm} {value:.2f} dB ({value - base:+.2f}, {time.perf_counter() - t0:.1f} s)"
        print(line)


def astra_reference(sino, theta, center, truth, base) -> None:
    try:
        import astra
    except ImportError:
        print("  astra: not installed (pip install astra-toolbox in a separate venv)")
        return
    n = sino.shape[1]
    vol = astra.create_vol_geom(n, n)
    # Same angles; ASTRA's detector is centred on the ray through the volume's centre, so
    # the axis offset moves the detector by (N - 1) / 2 - center pixels along (cos, sin)
    # (checked on a 128-pixel phantom: this mapping is the best of the sign/flip variants).
    th = np.asarray(theta, dtype=np.float64)
    shift = (n - 1) / 2.0 - center
    vecs = np.stack([np.sin(th), -np.cos(th), shift * np.cos(th), shift * np.sin(th), np.cos(th), np.sin(th)], axis=1)
    proj = astra.create_proj_geom("parallel_vec", n, vecs)
    data = np.ascontiguousarray(sino, dtype=np.float32)
    pid = astra.create_projector("line", proj, vol)
    # ours with ASTRA's settings (from zero, no stopping rule, no constraint), same data
    for algorithm, extra in (("sirt", {"nonneg": False}), ("cgls", {})):
        iters = 100 if algorithm == "sirt" else 30
        t0 = time.perf_counter()
        rec, _ = reconstruct_iterative(
            sino[:, None, :], theta, center=center, algorithm=algorithm, num_iter=iters, tol=0, start="zero", **extra
        )
        value = psnr_fov(rec[0], truth)
        print(
            f"  ours  {algorithm.upper()}-{iters} from zero {value:.2f} dB ({value - base:+.2f}), "
            f"{time.perf_counter() - t0:.2f} s"
        )
    for name, iters in (("SIRT", 100), ("CGLS", 30)):
        sid = astra.data2d.create("-sino", proj, data)
        rid = astra.data2d.create("-vol", vol, 0.0)
        cfg = astra.astra_dict(name)
        cfg.update(ProjectorId=pid, ProjectionDataId=sid, ReconstructionDataId=rid)
        aid = astra.algorithm.create(cfg)
        t0 = time.perf_counter()
        astra.algorithm.run(aid, iters)
        rec = astra.data2d.get(rid)
        value = psnr_fov(rec, truth)
        print(f"  astra {name}-{iters} {value:.2f} dB ({value - base:+.2f}), {time.perf_counter() - t0:.2f} s")
        astra.algorithm.delete(aid)
        astra.data2d.delete([sid, rid])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=2048, help="slice size for the speed test")
    ap.add_argument("--nang", type=int, default=3217, help="angles for the speed test")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quality-n", type=int, default=1024)
    ap.add_argument("--few", type=int, default=150, help="angles of the few-angle scan")
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--astra", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-analytic", action="store_true", help="skip the analytic-phantom quality cases")
    ap.add_argument("--raw", nargs="*", default=[], help="phantoms (shepp, rock) for the raw-file case")
    args = ap.parse_args()
    if not args.skip_speed:
        speed(args.n, args.nang, args.repeat)
    if not args.skip_analytic:
        quality(args.quality_n, args.few, 0.0, args.astra)
        half = args.quality_n // 2
        quality(half, int(np.ceil(np.pi / 2 * half)), args.noise, args.astra)
    for phantom in args.raw:
        raw_quality(phantom, args.quality_n, args.few)


if __name__ == "__main__":
    main()
