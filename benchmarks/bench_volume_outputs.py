"""End-to-end recon() wall time per output format, compression ratio, 256^3 read time.

Simulates one old-layout scan (default 2048 columns, 64 rows), reconstructs it with
outputFormat tiff, zarr, zarr + multiscale and h5 (round robin, ``--repeat`` times each,
after one warm-up run) and prints best and median wall time per format and the ratios to
TIFF timed in the same run (targets: zarr <= 1.10, zarr + multiscale <= 1.20), the Zarr
compression ratio, then the time to read a 256^3 sub-volume from the Zarr store and from
the TIFF folder (both through alsmicroct.io.volumes.open_volume; target >= 10x), and
os.getloadavg() before and after.

Usage: python benchmarks/bench_volume_outputs.py [--nrays 2048] [--rows 64] [--nangles 181]
       [--repeat 3] [--dir /tmp/alsmicroct-bench-vol]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nrays", type=int, default=2048)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--nangles", type=int, default=181)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default="/tmp/alsmicroct-bench-vol")
    args = parser.parse_args(argv)

    from alsmicroct.io.volumes import open_volume
    from alsmicroct.reconstruction import recon
    from alsmicroct.sim import simulate_scan

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / f"bench_{args.nrays}_{args.rows}.h5"
    cor = args.nrays / 2 + 3.3
    if not raw.exists():
        simulate_scan(raw, layout="als", phantom="rock", nangles=args.nangles, nslices=args.rows, nrays=args.nrays,
                      cor=cor, seed=0, write_truth=False)
    cases = {"tiff": {}, "zarr": {"outputFormat": "zarr"},
             "zarr+multiscale": {"outputFormat": "zarr", "zarrMultiscale": True}, "h5": {"outputFormat": "h5"}}
    print(f"scan {args.nangles} x {args.rows} x {args.nrays}; loadavg before {os.getloadavg()}")
    times: dict[str, list[float]] = {k: [] for k in cases}
    outputs: dict[str, Path] = {}
    for k in range(args.repeat + 1):
        for name, kw in cases.items():
            out = folder / f"out_{name}"
            shutil.rmtree(out, ignore_errors=True)
            t0 = time.perf_counter()
            res = recon(raw.name, str(folder), outputPath=str(out), cor=cor, quicklook=False, resume=False, **kw)
            dt = time.perf_counter() - t0
            if k:                                   # the first round warms caches and JIT
                times[name].append(dt)
            outputs[name] = res.files[0] if name != "tiff" else res.output_dir
    ref = min(times["tiff"])
    ref_med = statistics.median(times["tiff"])
    print(f"{'format':18s} {'best s':>8s} {'median s':>9s} {'best/tiff':>10s} {'median/tiff':>12s}")
    for name, ts in times.items():
        print(f"{name:18s} {min(ts):8.2f} {statistics.median(ts):9.2f} {min(ts) / ref:10.3f} "
              f"{statistics.median(ts) / ref_med:12.3f}")
    raw_bytes = args.rows * args.nrays * args.nrays * 4
    print(f"zarr compression ratio (Blosc zstd 1): {raw_bytes / _size(outputs['zarr']):.2f}")

    n = min(256, args.rows)
    z0, y0 = 0, args.nrays // 2 - 128
    reads: dict[str, list[float]] = {"zarr": [], "tiff": []}
    for _ in range(max(3, args.repeat)):
        for name in reads:
            with open_volume(outputs[name]) as vol:
                t0 = time.perf_counter()
                sub = vol[z0:z0 + n, y0:y0 + 256, y0:y0 + 256]
                reads[name].append(time.perf_counter() - t0)
    print(f"read {sub.shape} sub-volume: zarr best {min(reads['zarr']) * 1e3:.1f} ms, TIFF folder best "
          f"{min(reads['tiff']) * 1e3:.1f} ms, ratio {min(reads['tiff']) / min(reads['zarr']):.1f}x "
          f"(medians {statistics.median(reads['zarr']) * 1e3:.1f} / {statistics.median(reads['tiff']) * 1e3:.1f} ms)")
    print(f"loadavg after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
