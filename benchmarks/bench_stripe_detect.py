"""Cost of stripe detection against the FW step, at beamline size.

Times :func:`alsmicroct.prep.detect_stripes` (the column mask), the whole do-no-harm
default of recon() (:func:`alsmicroct.prep.remove_stripe_auto` with the legacy FW,
angle-constant correction: dead columns, detection, FW, masking), and the legacy
:func:`remove_stripe_fw` (level 8, db5, sigma 3) on the same block of 2048-column,
3217-angle sinograms, interleaved in each round (best and median of ``--repeat``), and
prints each as a ratio to the FW step measured in the same run (target for detection:
<= 0.20).

Usage::

    python benchmarks/bench_stripe_detect.py [--rows 4] [--angles 3217] [--columns 2048]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench_prep_stripes import available_cores, make_block

from alsmicroct.prep import detect_stripes, remove_stripe_auto, remove_stripe_fw


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--angles", type=int, default=3217)
    ap.add_argument("--columns", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    sino, _ = make_block(args.angles, args.rows, args.columns)
    steps = {
        "remove_stripe_fw (level 8)": lambda d: remove_stripe_fw(d, level=8, wname="db5", sigma=3),
        "detect_stripes": detect_stripes,
        "recon default (dead + masked FW)": lambda d: remove_stripe_auto(
            d, filter=lambda x: remove_stripe_fw(x, level=8, wname="db5", sigma=3), constant=True
        ),
    }
    small = sino[:64, :2, :128].copy()
    for f in steps.values():  # compile the numba kernels
        f(small)
    times = {k: [] for k in steps}
    for _ in range(args.repeat):
        for name, f in steps.items():
            t0 = time.perf_counter()
            f(sino)
            times[name].append(time.perf_counter() - t0)
    fw = min(times["remove_stripe_fw (level 8)"])
    print(
        f"block {args.angles} x {args.rows} x {args.columns}, {available_cores()} cores, "
        f"load {os.getloadavg()[0]:.2f}, best / median of {args.repeat}"
    )
    for name, ts in times.items():
        print(
            f"{name:<30} best {min(ts) / args.rows:.4f} s/slice  median "
            f"{statistics.median(ts) / args.rows:.4f} s/slice  x FW {min(ts) / fw:.3f}"
        )


if __name__ == "__main__":
    main()
