"""End-to-end recon() benchmark: is I/O hidden, and does peak memory stay flat?

Simulates old-layout scans of 2048 columns (default 1313 projections) at two heights,
reconstructs each in a fresh subprocess with the default parameters (FW ring removal,
gridrec) and prints, per size:

- total wall time of recon() and the compute time of its stages (ring removal +
  reconstruction), and their ratio (target <= 1.5: reading and writing hidden);
- peak RSS of the process (ru_maxrss) and RSS before recon(): peak growth must not
  grow with the number of rows (it is set by chunk_sino).

Usage: python benchmarks/bench_recon.py [--nrays 2048] [--nangles 1313] [--rows 32 64]
       [--chunk-sino 16] [--dir /tmp/alsmicroct-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import psutil
from alsmicroct.reconstruction import recon
path, out, chunk, cor = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
rss0 = psutil.Process().memory_info().rss
res = recon(path, outputPath=out, chunk_sino=chunk, cor=cor, quicklook=False, resume=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"timings": res.timings, "rss0": rss0, "peak": peak, "nfiles": len(res.files)}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nrays", type=int, default=2048)
    parser.add_argument("--nangles", type=int, default=1313)
    parser.add_argument("--rows", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--chunk-sino", type=int, default=16)
    parser.add_argument("--dir", default=None, help="work folder (default: a temporary one, removed)")
    args = parser.parse_args(argv)

    from alsmicroct.sim import simulate_scan

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="alsmicroct-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"# recon() end to end: {args.nrays} columns, {args.nangles} projections, chunk_sino={args.chunk_sino}, "
        f"{os.cpu_count()} cores"
    )
    print(
        f"{'rows':>5} {'raw GB':>7} {'total s':>8} {'compute s':>9} {'ratio':>6} {'read s':>7} "
        f"{'write s':>7} {'peak RSS GB':>11} {'growth GB':>9}"
    )
    for rows in args.rows:
        raw = work / f"bench_{rows}.h5"
        t0 = time.perf_counter()
        scan = simulate_scan(
            raw,
            layout="als",
            phantom="rock",
            nangles=args.nangles,
            nslices=rows,
            nrays=args.nrays,
            write_truth=False,
            seed=rows,
        )
        sim_s = time.perf_counter() - t0
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(raw), str(work / "out"), str(args.chunk_sino), str(scan.cor)],
            capture_output=True,
            text=True,
            check=True,
        )
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        t = info["timings"]
        compute = t.get("prep", 0.0) + t.get("reconstruct", 0.0)
        gb = raw.stat().st_size / 1e9
        print(
            f"{rows:5d} {gb:7.2f} {t['total']:8.2f} {compute:9.2f} {t['total'] / compute:6.2f} "
            f"{t.get('read', 0.0):7.2f} {t.get('write', 0.0):7.2f} {info['peak'] / 1e9:11.2f} "
            f"{(info['peak'] - info['rss0']) / 1e9:9.2f}   (simulated in {sim_s:.0f} s)"
        )
        raw.unlink()
    if not args.dir:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
