"""Cost of the raw-data checks of issue 12 against the step they guard, measured in the same run.

- ``check_images`` (NaN/inf, all-zero and mostly negative rows) on one block of raw
  projections, float32 and uint16-valued, against reading nothing: the reference is
  ``normalize`` of the same block (the flat-field step that follows every read);
- ``check_transmission`` (rows without beam) on the normalised block, against the same
  ``normalize``.

Prints best and median of ``--repeat`` runs and the load average.

Example::

    .venv/bin/python benchmarks/bench_raw_checks.py --angles 1313 --rows 16 --columns 2048
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from alsmicroct.io.sanity import check_images, check_transmission
from alsmicroct.prep import normalize


def _time(func, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--angles", type=int, default=1313)
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--columns", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    shape = (args.angles, args.rows, args.columns)
    rng = np.random.default_rng(0)
    proj = np.floor(rng.uniform(2000, 3000, shape)).astype(np.float32)
    flats = np.full((5, args.rows, args.columns), 4000, np.float32)
    darks = np.full((5, args.rows, args.columns), 100, np.float32)
    names = [str(i) for i in range(args.angles)]
    trans = normalize(proj, flats, darks)
    print(f"block {shape} float32, load average before {os.getloadavg()[0]:.2f}")
    ref = _time(lambda: normalize(proj, flats, darks), args.repeat)
    runs = {
        "check_images (float data)": lambda: check_images(
            proj, kind="projection", names=names, rows=range(args.rows), where="bench"
        ),
        "check_images (integer data)": lambda: check_images(
            proj, kind="projection", names=names, rows=range(args.rows), where="bench", may_be_nonfinite=False
        ),
        "check_transmission": lambda: check_transmission(
            trans, proj_indices=range(args.angles), rows=range(args.rows), where="bench"
        ),
    }
    print(f"reference normalize: best {min(ref):.4f} s, median {np.median(ref):.4f} s")
    for label, func in runs.items():
        t = _time(func, args.repeat)
        print(
            f"{label}: best {min(t):.4f} s ({min(t) / min(ref):.2f} x normalize), "
            f"median {np.median(t):.4f} s ({np.median(t) / np.median(ref):.2f} x)"
        )
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
