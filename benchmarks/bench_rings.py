"""Every recon() ring setting on simulated scans, through the pipeline's own step table.

For each ``ringMethod`` (and the legacy ``ringMask=False``), the stripe steps that
:data:`alsmicroct.pipeline.steps.STEPS` enables for those parameters run on the -log
sinograms of a ringed scan (1 % gain rings, dead, partial and fluctuating columns) and of
its ring-free twin, which are reconstructed as recon() does (gridrec, butterworth, legacy
padding, circular mask) and compared with the truth: residual ring (% of the injected),
PSNR against the plain ring-free twin, PSNR lost on the ring-free scan, seconds.

Usage::

    python benchmarks/bench_rings.py [--columns 640] [--rows 2] [--angles 481] [--seed 3 4 5] [--only default]
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
from bench_ring_methods import arguments, table

from alsmicroct.engine import gridrec
from alsmicroct.params import ReconParams
from alsmicroct.pipeline.plan import default_npad
from alsmicroct.pipeline.steps import STEPS, Block
from alsmicroct.post import circ_mask

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
    args = arguments()
    settings = {name: functools.partial(run_steps, params=ReconParams(**kw)) for name, kw in SETTINGS.items()}
    table(args, settings, rec=recon, label="setting")


if __name__ == "__main__":
    main()
