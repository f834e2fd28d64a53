"""Automatic tilt (issue 15, section 3): accuracy of ``estimate_tilt`` on simulated 0/180
pairs with a known tilt, its wall time, and the recon() PSNR of a tilted scan corrected with
``autoTilt="apply"`` against its untilted twin (both against the simulated truth).

Usage::

    python benchmarks/bench_auto_tilt.py            # 64 x 256 pairs, 128-column scans
    python benchmarks/bench_auto_tilt.py -n 512     # wider pairs
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from alsmicroct.engine.center_confidence import estimate_tilt
from alsmicroct.post.quality import psnr
from alsmicroct.prep import minus_log, normalize
from alsmicroct.reconstruction import recon
from alsmicroct.sim import simulate_data, simulate_scan


def _accuracy(n: int, repeats: int) -> None:
    print(f"estimate_tilt on 64 x {n} pairs (rock phantom, 181 angles); error = estimate - truth, deg")
    for flux in (16000.0, 2000.0):
        for tilt in (0.0, 1.0, -1.0, 3.0):
            errs, times = [], []
            for seed in range(repeats):
                s = simulate_data(nangles=181, nslices=64, nrays=n, phantom="rock", seed=seed, tilt_deg=tilt, flux=flux)
                d = minus_log(normalize(s.proj, s.flats, s.darks))
                j = int(np.argmin(np.abs(np.abs(s.angles - s.angles[0]) - np.pi)))
                t0 = time.perf_counter()
                est, _err = estimate_tilt(d[0], d[j])
                times.append(time.perf_counter() - t0)
                errs.append(est - tilt)
            worst = max(abs(e) for e in errs)
            print(
                f"  flux {flux:7.0f} tilt {tilt:+.1f}: worst |error| {worst:.4f}, "
                f"mean {statistics.mean(errs):+.4f} ({repeats} seeds); time best {min(times):.3f} s, "
                f"median {statistics.median(times):.3f} s"
            )


def _psnr(res, scan) -> float:
    truth = scan.volume(res.rows)
    return float(np.mean([psnr(tifffile.imread(f), t) for f, t in zip(res.files, truth, strict=True)]))


def _recon_db() -> None:
    common = dict(phantom="rock", nangles=241, nslices=48, nrays=128, cor=64.2, seed=5, flux=20000.0)
    kw = dict(num_threads=1, quicklook=False, sinoused=(-1, 8, 1), cor=64.2)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tilted = simulate_scan(folder / "tilted.h5", tilt_deg=1.0, **common)
        twin = simulate_scan(folder / "twin.h5", **common)
        ref = _psnr(recon(str(twin.path), outputPath=str(folder / "t"), **kw), twin)
        off = _psnr(recon(str(tilted.path), outputPath=str(folder / "o"), autoTilt="off", **kw), tilted)
        res = recon(str(tilted.path), outputPath=str(folder / "a"), autoTilt="apply", **kw)
        fixed = _psnr(res, tilted)
    print("recon() of a 128-column, 48-row scan tilted by 1 deg, central 8 rows, PSNR against the truth:")
    print(f"  untilted twin {ref:.2f} dB; tilted, autoTilt='off' {off:.2f} dB; autoTilt='apply' {fixed:.2f} dB")
    print(f"  applied {res.tilt_info['applied_deg']:.4f} deg; apply - twin = {fixed - ref:+.2f} dB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=256, help="columns of the pairs")
    ap.add_argument("--repeats", type=int, default=3, help="seeds per case")
    args = ap.parse_args()
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")
    _accuracy(args.n, args.repeats)
    _recon_db()
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")


if __name__ == "__main__":
    main()
