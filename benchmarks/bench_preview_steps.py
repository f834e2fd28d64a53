"""Two steps of a 2048-wide preview, each against its former implementation timed in the same run.

- the masked stripe correction's final sum (``prep.stripes_vo.apply_masked``): added in place
  on the mask (``np.add(..., where=mask)``) against gathering and scattering the mask's columns
  (``out[:, rows, cols] += corr[:, rows, cols]``), on 4 rows x 1969 angles x 2048 columns;
- the detector-tilt search (``engine.center_confidence.estimate_tilt``, 64 x 2048 pair): its
  rotation grid in threads against one thread.

Both pairs give the same numbers bit for bit (checked here). Best and median of ``--repeat``
runs, with the machine load. The raw file is the ``preview`` scan of ``bench_end_to_end.py``
(simulated into ``--dir`` when absent).

Usage::

    python benchmarks/bench_preview_steps.py --dir /tmp/e2e --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="/tmp/alsmicroct-e2e", help="folder of the preview scan (made when absent)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))
    import numpy as np
    from bench_end_to_end import _scan

    from alsmicroct.engine import center_confidence as cc
    from alsmicroct.io import open_scan
    from alsmicroct.prep import minus_log, normalize, normalize_nf
    from alsmicroct.prep import stripes_vo as sv

    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    raw = _scan(work, "preview_2048x128x1969", nangles=1969, nslices=128, nrays=2048)
    with open_scan(raw) as scan:
        block = (62, 66, 1)
        arr = minus_log(
            normalize(scan.read_projections(rows=block), scan.read_flats(rows=block), scan.read_darks(rows=block))
        )
        rows, ends = (32, 96, 1), (0, scan.meta.nangles - 1)
        proj = np.concatenate([scan.read_projections(proj=(i, i + 1, 1), rows=rows) for i in ends])
        pair = normalize_nf(
            proj,
            scan.read_flats(rows=rows),
            scan.read_darks(rows=rows),
            flat_indices=scan.flat_indices,
            proj_indices=list(ends),
        )
    logs = -np.log(np.clip(pair, 1e-6, None))
    mask = sv.detect_stripes(arr, dilate=2)
    corr = arr * np.float32(1e-3)

    def gathered():
        out = arr.copy()
        r, c = np.nonzero(mask)
        out[:, r, c] += corr[:, r, c]
        return out

    def in_place():
        out = arr.copy()
        np.add(out, corr, out=out, where=mask[np.newaxis])
        return out

    threads = cc._search_threads
    times: dict[str, list[float]] = {k: [] for k in ("gathered", "in place", "tilt, 1 thread", "tilt, threads")}
    print(f"# bench_preview_steps: {os.cpu_count()} cores, load average {os.getloadavg()}")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        a = gathered()
        times["gathered"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = in_place()
        times["in place"].append(time.perf_counter() - t0)
        assert a.tobytes() == b.tobytes()
        cc._search_threads = lambda n: 1
        t0 = time.perf_counter()
        one = cc.estimate_tilt(logs[0], logs[1])
        times["tilt, 1 thread"].append(time.perf_counter() - t0)
        cc._search_threads = threads
        t0 = time.perf_counter()
        many = cc.estimate_tilt(logs[0], logs[1])
        times["tilt, threads"].append(time.perf_counter() - t0)
        assert one == many
    print(f"masked sum: mask on {mask.mean():.0%} of 4 x 1969 x 2048; tilt: 64 x 2048 pair (same results)")
    for key, ref in (("in place", "gathered"), ("tilt, threads", "tilt, 1 thread")):
        v, r = times[key], times[ref]
        print(
            f"  {key:14s} best {min(v):.3f} median {statistics.median(v):.3f} s; {ref}: best {min(r):.3f} "
            f"median {statistics.median(r):.3f} s; ratio (median) {statistics.median(v) / statistics.median(r):.2f}"
        )
    print(f"# load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
