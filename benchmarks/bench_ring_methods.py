"""Ring-removal methods on simulated scans, against the ring-free twin.

For each sample position (on the axis / off it) two scans are simulated with the same
seed: one with gain rings (every pixel), partial (saturating), fluctuating and dead
columns, and its ring-free twin. Each method is applied to the -log sinograms of both,
which are reconstructed (gridrec, ramlak) and compared:

- residual ring: ``ring_index(method(rings) - method(twin))`` over the injected
  ``ring_index(plain(rings) - plain(twin))`` (%);
- PSNR (dB, against the truth) of ``method(rings)`` minus that of ``plain(twin)``
  (0 = as good as the ring-free twin);
- PSNR loss on clean: ``PSNR(plain(twin)) - PSNR(method(twin))``.

Usage::

    python benchmarks/bench_ring_methods.py [--columns 640] [--rows 2] [--angles 481] [--seed 3 4 5] [--only TI]
"""

from __future__ import annotations

import argparse
import functools
import os
import time

import numpy as np

from alsmicroct.engine import gridrec
from alsmicroct.post.quality import psnr, ring_index
from alsmicroct.prep import (
    minus_log,
    normalize,
    remove_stripe_fw,
    remove_stripe_sf,
    remove_stripe_ti,
)
from alsmicroct.prep import stripes_vo as vo
from alsmicroct.sim import simulate_data
from alsmicroct.sim.phantom import Phantom, make_phantom


def sample(nrays: int, offset: float, pxsize_cm: float = 0.000325) -> Phantom:
    half = nrays / 2 * pxsize_cm
    p = make_phantom("rock", 0.5 * half, half_height_cm=8 * pxsize_cm, seed=5)
    return Phantom(
        p.centers + np.array([offset * half, 0.0, 0.0]), p.semi_axes, p.rotations, p.mu, p.half_heights, "rock"
    )


def scans(nrays, nrows, nang, offset, seed=3):
    cor = (nrays - 1) / 2 + 0.3
    kw = dict(
        nangles=nang,
        nslices=nrows,
        nrays=nrays,
        cor=cor,
        seed=seed,
        peak_attenuation=1.5,
        phantom=sample(nrays, offset),
    )
    ring_kw = dict(rings=0.01, dead_columns=2, partial_columns=3, fluctuating_columns=3)
    twin = simulate_data(**kw)
    ringed = simulate_data(**kw, **ring_kw)
    return twin, ringed


def sino(scan) -> np.ndarray:
    return minus_log(normalize(scan.proj, scan.flats, scan.darks))


def recon(data, scan) -> np.ndarray:
    theta = scan.angles  # radians
    return gridrec.reconstruct(data, theta, center=scan.cor, filter_name="ramlak") / scan.pxsize_cm


def methods(ncol: int) -> dict:
    level8 = max(1, round(np.log2(ncol)) - 3)  # level 8 at 2048 columns
    fw = functools.partial(remove_stripe_fw, level=level8, sigma=3.0)
    return {
        "none": lambda d: d,
        f"FW legacy (level {level8}, sigma 3)": fw,
        "FW legacy, masked": lambda d: vo.apply_masked(d, fw)[0],
        "TI": remove_stripe_ti,
        "TI, masked": lambda d: vo.apply_masked(d, remove_stripe_ti)[0],
        "SF size 5": remove_stripe_sf,
        "SF, masked": lambda d: vo.apply_masked(d, remove_stripe_sf)[0],
        "sorting (size 21)": vo.remove_stripe_based_sorting,
        "large (snr 3, size 51)": vo.remove_large_stripe,
        "dead (snr 3, size 51)": vo.remove_dead_stripe,
        "all (snr 3, 61, 21)": vo.remove_all_stripe,
        "auto = dead + TI masked (new default)": lambda d: vo.remove_stripe_auto(d)[0],
        "auto, FW legacy level": lambda d: vo.remove_stripe_auto(d, filter=fw)[0],
        "dead (no residual) + sorting": lambda d: vo.remove_stripe_based_sorting(
            vo.remove_dead_stripe(d, residual=False)
        ),
    }


def arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--columns", type=int, default=640)
    ap.add_argument("--rows", type=int, default=2)
    ap.add_argument("--angles", type=int, default=481)
    ap.add_argument("--seed", type=int, nargs="+", default=[3], help="simulation seeds (rings, noise), one table each")
    ap.add_argument("--only", nargs="+", default=None, help="run only the rows whose name contains one of these")
    return ap.parse_args()


def table(args: argparse.Namespace, methods: dict, rec=None, label: str = "method") -> None:
    """Print, for the sample on and off the axis, one row per ``methods`` entry (name ->
    ``f(-log data) -> corrected``): residual ring, PSNR against the ring-free twin, PSNR
    lost on the ring-free scan, seconds; ``rec(data, scan)`` reconstructs (default
    :func:`recon`)."""
    rec = recon if rec is None else rec
    if args.only:
        methods = {k: f for k, f in methods.items() if any(w in k for w in args.only)}
    for seed in args.seed:
        print(f"# {args.columns} columns, {args.rows} rows, {args.angles} angles, seed {seed}; load {os.getloadavg()}")
        for offset in (0.0, 0.4):
            _table_one(args, methods, rec, label, offset, seed)


def _table_one(args, methods: dict, rec, label: str, offset: float, seed: int) -> None:
    """One position's table (see :func:`table`)."""
    twin, ringed = scans(args.columns, args.rows, args.angles, offset, seed=seed)
    truth = twin.volume()
    s_twin, s_ring = sino(twin), sino(ringed)
    plain_twin, plain_ring = rec(s_twin, twin), rec(s_ring, twin)
    injected = ring_index(plain_ring, plain_twin)
    ref_psnr = psnr(plain_twin, truth)
    print(
        f"\n## sample {'on the axis' if offset == 0 else f'off axis ({offset} of half-width)'}"
        f"; injected ring {injected:.3f} 1/cm; twin PSNR {ref_psnr:.2f} dB"
    )
    print(f"| {label} | residual ring | PSNR vs ring-free twin | PSNR loss on clean | s |")
    print("| --- | --- | --- | --- | --- |")
    for name, f in methods.items():
        t0 = time.perf_counter()
        r_ring = rec(f(s_ring), twin)
        dt = time.perf_counter() - t0
        r_twin = rec(f(s_twin), twin)
        resid = ring_index(r_ring, r_twin) / injected
        print(
            f"| {name} | {100 * resid:.1f} % | {psnr(r_ring, truth) - ref_psnr:+.2f} dB "
            f"| {ref_psnr - psnr(r_twin, truth):.2f} dB | {dt:.2f} |"
        )


def main() -> None:
    args = arguments()
    table(args, methods(args.columns))


if __name__ == "__main__":
    main()
