"""Benchmark: read an 8-row block from a large raw scan file.

Writes a synthetic scan (default 1500 projections of 2048 x 2048, ~12 GB) with
:class:`alsmicroct.io.RawScanWriter`, streamed one image at a time, drops it from the page
cache, then in a fresh process opens it with :func:`alsmicroct.io.open_scan` and reads an
8-row block of every projection (plus flats and darks). Prints the open and read times, a
reference time (reading one full projection, same run), and the peak RSS growth of the
read (``ru_maxrss`` after the read minus RSS before it). The file is removed afterwards
unless ``--keep``.

Usage::

    python benchmarks/bench_read_block.py [--nangles 1500] [--nslices 2048] [--nrays 2048]
        [--layout als|dxchange] [--rows 8] [--dir /tmp] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil


def write_file(path: Path, args: argparse.Namespace) -> float:
    from alsmicroct.io import RawScanWriter

    yy, xx = np.mgrid[0 : args.nslices, 0 : args.nrays]
    base = ((yy * 7 + xx * 3) % 20000 + 1000).astype(np.uint16)
    t0 = time.perf_counter()
    with RawScanWriter(
        path,
        layout=args.layout,
        dataset=path.stem,
        nangles=args.nangles,
        nslices=args.nslices,
        nrays=args.nrays,
        arange=180.0,
        pxsize_mm=0.00065,
        i0cycle=0,
        num_flats=4,
        num_darks=4,
    ) as w:
        for i in range(args.nangles):
            w.write_projection(i, base + np.uint16(i % 1000))
        for p in w.flat_positions:
            for k in range(w.num_flats):
                w.write_flat(p, k, base + np.uint16(30000))
        for k in range(w.num_darks):
            w.write_dark(k, np.full_like(base, 100))
    return time.perf_counter() - t0


def drop_cache(path: Path) -> bool:
    """Evict the file's pages from the page cache (no root needed for clean pages)."""
    if not hasattr(os, "posix_fadvise"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return True


def measure(path: str, row0: int, nrows: int) -> dict:
    """Child process: open, read the block, report times and memory."""
    from alsmicroct.io import open_scan

    proc = psutil.Process()
    t0 = time.perf_counter()
    scan = open_scan(path)
    t_open = time.perf_counter() - t0
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    block = scan.read_projections(rows=(row0, row0 + nrows))
    flats = scan.read_flats(rows=(row0, row0 + nrows))
    darks = scan.read_darks(rows=(row0, row0 + nrows))
    t_block = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    full = scan.read_projections(proj=(scan.meta.nangles // 2, scan.meta.nangles // 2 + 1))
    t_full_proj = time.perf_counter() - t0
    scan.close()
    return {
        "t_open": t_open,
        "t_block": t_block,
        "t_full_proj": t_full_proj,
        "block_mb": (block.nbytes + flats.nbytes + darks.nbytes) / 1e6,
        "full_proj_mb": full.nbytes / 1e6,
        "rss_growth_mb": (peak - rss0) / 1e6,
        "shape": list(block.shape),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nangles", type=int, default=1500)
    ap.add_argument("--nslices", type=int, default=2048)
    ap.add_argument("--nrays", type=int, default=2048)
    ap.add_argument("--layout", choices=("als", "dxchange"), default="als")
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--keep", action="store_true", help="keep the file")
    ap.add_argument("--measure", nargs=3, metavar=("PATH", "ROW0", "NROWS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        path, row0, nrows = args.measure
        print(json.dumps(measure(path, int(row0), int(nrows))))
        return 0

    path = Path(args.dir) / f"bench_{args.layout}_{args.nangles}x{args.nslices}x{args.nrays}.h5"
    size_gb = args.nangles * args.nslices * args.nrays * 2 / 1e9
    print(
        f"writing {path} ({args.layout}, {args.nangles} x {args.nslices} x {args.nrays}, "
        f"{size_gb:.2f} GB of projections)",
        flush=True,
    )
    try:
        t_write = write_file(path, args)
        print(f"write: {t_write:.1f} s ({size_gb / t_write:.2f} GB/s)")
        print(f"page cache dropped: {drop_cache(path)}")
        row0 = args.nslices // 2
        res = subprocess.run(
            [sys.executable, __file__, "--measure", str(path), str(row0), str(args.rows)],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(res.stdout.strip().splitlines()[-1])
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
    print(f"open_scan: {r['t_open']:.3f} s")
    print(
        f"read {args.rows}-row block of all projections + flats + darks, shape "
        f"{r['shape']}: {r['t_block']:.3f} s ({r['block_mb']:.1f} MB float32)"
    )
    print(f"reference, one full projection: {r['t_full_proj']:.3f} s ({r['full_proj_mb']:.1f} MB)")
    print(
        f"block time / one-projection time: {r['t_block'] / r['t_full_proj']:.1f}  "
        f"(reading every full projection would be ~{args.nangles}x)"
    )
    print(f"peak RSS growth during the block read: {r['rss_growth_mb']:.1f} MB (block output {r['block_mb']:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
