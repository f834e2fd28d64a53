"""Every recon() ring setting on simulated scans, through the pipeline's own step table.

For each ``ringMethod`` (and the legacy ``ringMask=False``), the stripe steps that
:data:`alsmicroct.pipeline.steps.STEPS` enables for those parameters run on the -log
sinograms of a ringed scan (1 % gain rings, dead, partial and fluctuating columns) and of
its ring-free twin, which are reconstructed as recon() does (gridrec, butterworth, legacy
padding, circular mask) and compared with the truth: residual ring (% of the injected),
PSNR against the plain ring-free twin, PSNR lost on the ring-free scan, seconds.

Usage::

    python benchmarks/bench_rings.py [--columns 640] [--rows 2] [--angles 481]
"""

from __future__ import annotations

import argparse
import os
import time
from types import SimpleNamespace

import numpy as np
from bench_ring_methods import scans, sino

from alsmicroct.engine import gridrec
from alsmicroct.params import ReconParams
from alsmicroct.pipeline.plan import default_npad
from alsmicroct.pipeline.steps import STEPS, Block
from alsmicroct.post import circ_mask
from alsmicroct.post.quality import psnr, ring_index

SETTINGS = {
    "none (doFWringremoval=False)": dict(doFWringremoval=False),
    "legacy FW (ringMask=False)": dict(ringMask=False),
    "default (fw, masked, ringDead)": {},
    **{f"ringMethod={m}": dict(ringMethod=m) for m in ("ti", "sf", "sorting", "large", "dead", "all")},
}


def run_steps(data: np.ndarray, params: ReconParams) -> np.ndarray:
    plan = SimpleNamespace(params=params)
    block = Block(data=data, rows=np.arange(data.shape[1]), proj=np.arange(data.shape[0]))
    for spec in STEPS:
        if spec.name.startswith("stripes") and spec.enabled(params):
            block.data = spec.run(block, plan)
    return block.data


def recon(data: np.ndarray, scan) -> np.ndarray:
    rec = gridrec.reconstruct(data, scan.angles, center=scan.cor, npad=default_npad(data.shape[-1]))
    return circ_mask(rec / np.float32(scan.pxsize_cm), ratio=1.0, val=0.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--columns", type=int, default=640)
    ap.add_argument("--rows", type=int, default=2)
    ap.add_argument("--angles", type=int, default=481)
    args = ap.parse_args()
    print(f"# {args.columns} columns, {args.rows} rows, {args.angles} angles; load {os.getloadavg()}")
    for offset in (0.0, 0.4):
        twin, ringed = scans(args.columns, args.rows, args.angles, offset)
        truth = twin.volume()
        s_twin, s_ring = sino(twin), sino(ringed)
        plain_twin, plain_ring = recon(s_twin, twin), recon(s_ring, twin)
        injected = ring_index(plain_ring, plain_twin)
        ref = psnr(plain_twin, truth)
        print(f"\n## sample {'on the axis' if offset == 0 else f'off axis ({offset} of half-width)'}; "
              f"injected ring {injected:.3f} 1/cm; twin PSNR {ref:.2f} dB")
        print("| setting | residual ring | PSNR vs ring-free twin | PSNR loss on clean | s |")
        print("| --- | --- | --- | --- | --- |")
        for name, kw in SETTINGS.items():
            params = ReconParams(**kw)
            t0 = time.perf_counter()
            r_ring = recon(run_steps(s_ring, params), twin)
            dt = time.perf_counter() - t0
            r_twin = recon(run_steps(s_twin, params), twin)
            print(f"| {name} | {100 * ring_index(r_ring, r_twin) / injected:.1f} % | "
                  f"{psnr(r_ring, truth) - ref:+.2f} dB | {ref - psnr(r_twin, truth):.2f} dB | {dt:.2f} |")


if __name__ == "__main__":
    main()
