"""End-to-end recon() wall time per output format, compression ratio, 256^3 read time.

Simulates one old-layout scan (default 2048 columns, 64 rows), reconstructs it with
outputFormat tiff, zarr, zarr + multiscale and h5 (round robin, ``--repeat`` times each,
after one warm-up run) and prints best and median wall time per format and the ratios to
TIFF timed in the same run (targets: zarr <= 1.10, zarr + multiscale <= 1.20), the Zarr
compression ratio, then the time to read a 256^3 sub-volume (z capped at the rows) from
the Zarr store and from the TIFF folder (both through alsmicroct.io.volumes.open_volume;
target >= 10x), chunk-aligned and not, and os.getloadavg() before and after.

The zarr run computes in >= 4 blocks (so that the background writes of one block overlap the
computing of the next) where TIFF computes ``chunk_sino`` rows at once; "tiff-same-blocks"
(TIFF with chunk_sino equal to the zarr block height) separates that effect from the format.
``--codecs`` then times Blosc codecs and chunk shapes on the same volume (write alone, ratio,
256^3 read): the measurement behind the default (lz4 level 5, byte shuffle, 32 x 128 x 128
chunks, no sharding).

``--read-only`` reconstructs nothing: it writes a synthetic ``--read-slices`` x nrays x nrays
float32 volume (default 320 x 2048 x 2048) once through the project's TIFF writer and its
zarr writer (default layout and codec, the pipeline's for chunk_sino=100), then times true
256^3 boxes, one chunk-aligned and ``--boxes`` at random unaligned offsets, ``--repeat``
rounds (round robin): the zarr store through open_volume, the TIFF folder through open_volume
(only the box's rows of each slice: the best a folder of uncompressed slices allows) and
whole slices (each file read whole and cut, as open_volume did before and tifffile.imread /
Fiji do). ``--cold`` drops the volume's pages from the page cache before every read
(posix_fadvise DONTNEED, these files only). It then shows where the zarr read's time goes:
the zarr array without open_volume, one chunk at a time (async.concurrency 1), into one
reused output (Volume.read(box, out=)), and the chunk files read and decoded alone (numcodecs,
one thread).

Usage: python benchmarks/bench_volume_outputs.py [--nrays 2048] [--rows 64] [--nangles 181]
       [--repeat 3] [--dir /tmp/alsmicroct-bench-vol] [--codecs | --codecs-only]
       [--read-only [--read-slices 320] [--boxes 4] [--cold]]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

import numpy as np


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nrays", type=int, default=2048)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--nangles", type=int, default=181)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default="/tmp/alsmicroct-bench-vol")
    parser.add_argument("--codecs", action="store_true", help="also time Blosc codecs and chunk/shard layouts")
    parser.add_argument(
        "--codecs-only", action="store_true", help="one tiff and one zarr run (no ratios of note), then --codecs"
    )
    parser.add_argument("--read-only", action="store_true", help="time 256^3 reads of a synthetic volume only")
    parser.add_argument("--read-slices", type=int, default=320, help="--read-only: slices of the volume (>= 257)")
    parser.add_argument("--boxes", type=int, default=4, help="--read-only: unaligned boxes per round")
    parser.add_argument("--cold", action="store_true", help="--read-only: drop the page cache before each read")
    args = parser.parse_args(argv)
    if args.read_only:
        from bench_volume_reads import read_only

        return read_only(args)

    from alsmicroct.io.volumes import open_volume
    from alsmicroct.reconstruction import recon
    from alsmicroct.sim import simulate_scan

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / f"bench_{args.nrays}_{args.rows}.h5"
    cor = args.nrays / 2 + 3.3
    if not raw.exists():
        simulate_scan(
            raw,
            layout="als",
            phantom="rock",
            nangles=args.nangles,
            nslices=args.rows,
            nrays=args.nrays,
            cor=cor,
            seed=0,
            write_truth=False,
        )
    from alsmicroct.pipeline.runner import MIN_BLOCKS, _chunk_z

    cz = min(_chunk_z(100), args.rows)
    same = max(cz, -(-args.rows // (MIN_BLOCKS * cz)) * cz)
    cases = {
        "tiff": {},
        "tiff-same-blocks": {"chunk_sino": same},
        "zarr": {"outputFormat": "zarr"},
        "zarr+multiscale": {"outputFormat": "zarr", "zarrMultiscale": True},
        "h5": {"outputFormat": "h5"},
    }
    if args.codecs_only:
        args.codecs = True
        cases = {k: cases[k] for k in ("tiff", "tiff-same-blocks", "zarr")}
    print(f"scan {args.nangles} x {args.rows} x {args.nrays}; loadavg before {os.getloadavg()}")
    times: dict[str, list[float]] = {k: [] for k in cases}
    outputs: dict[str, Path] = {}
    for k in range(1 if args.codecs_only else args.repeat + 1):
        for name, kw in cases.items():
            out = folder / f"out_{name}"
            shutil.rmtree(out, ignore_errors=True)
            t0 = time.perf_counter()
            res = recon(raw.name, str(folder), outputPath=str(out), cor=cor, quicklook=False, resume=False, **kw)
            dt = time.perf_counter() - t0
            if k or args.codecs_only:  # the first round warms caches and JIT
                times[name].append(dt)
            outputs[name] = res.files[0] if name != "tiff" else res.output_dir
    ref = min(times["tiff"])
    ref_med = statistics.median(times["tiff"])
    print(f"{'format':18s} {'best s':>8s} {'median s':>9s} {'best/tiff':>10s} {'median/tiff':>12s}")
    for name, ts in times.items():
        print(
            f"{name:18s} {min(ts):8.2f} {statistics.median(ts):9.2f} {min(ts) / ref:10.3f} "
            f"{statistics.median(ts) / ref_med:12.3f}"
        )
    print(
        f"zarr / tiff-same-blocks: best {min(times['zarr']) / min(times['tiff-same-blocks']):.3f}, median "
        f"{statistics.median(times['zarr']) / statistics.median(times['tiff-same-blocks']):.3f}"
    )
    import zarr

    arr = zarr.open_group(str(outputs["zarr"]), mode="r")["0"]
    raw_bytes = args.rows * args.nrays * args.nrays * 4
    print(f"zarr chunks {arr.chunks}, compressors {arr.compressors}")
    print(f"zarr compression ratio: {raw_bytes / _size(outputs['zarr']):.2f}")

    n = min(256, args.rows)
    tiff_best = []
    for label, y0 in (("chunk-aligned", args.nrays // 2 - 128), ("unaligned", args.nrays // 2 - 128 + 37)):
        reads: dict[str, list[float]] = {"zarr": [], "tiff": []}
        for _ in range(max(5, args.repeat)):
            for name in reads:
                with open_volume(outputs[name]) as vol:
                    t0 = time.perf_counter()
                    sub = vol[0:n, y0 : y0 + 256, y0 : y0 + 256]
                    reads[name].append(time.perf_counter() - t0)
        print(
            f"read {sub.shape} sub-volume ({label}): zarr best {min(reads['zarr']) * 1e3:.1f} ms, TIFF folder "
            f"best {min(reads['tiff']) * 1e3:.1f} ms, ratio {min(reads['tiff']) / min(reads['zarr']):.1f}x "
            f"(medians {statistics.median(reads['zarr']) * 1e3:.1f} / "
            f"{statistics.median(reads['tiff']) * 1e3:.1f} ms, ratio "
            f"{statistics.median(reads['tiff']) / statistics.median(reads['zarr']):.1f}x)"
        )
        tiff_best.append(min(reads["tiff"]) * 1e3)
    if args.codecs:
        with open_volume(outputs["tiff"]) as vol:
            _codecs(np.asarray(vol), folder, args.repeat, tuple(tiff_best))
    print(f"loadavg after {os.getloadavg()}")
    return 0


def _codecs(vol, folder: Path, repeat: int, tiff_ms: tuple[float, float]) -> None:
    """Write ``vol`` alone (no reconstruction) layer by layer as the writer does, with each
    codec and chunk/shard layout: wall and CPU seconds, ratio, aligned and unaligned reads."""
    import zarr
    from zarr.codecs import BloscCodec

    nz, ny, nx = vol.shape
    cz = min(32, nz)
    layer = (cz, ny, nx)  # a shard = one layer of the writer: each layer write is whole shards
    lz4 = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
    cases = [
        ("none", None, (cz, 128, 128), None),
        ("zstd 1 shuffle (old)", BloscCodec(cname="zstd", clevel=1, shuffle="shuffle"), (cz, 128, 128), None),
        ("zstd 1 bitshuffle", BloscCodec(cname="zstd", clevel=1, shuffle="bitshuffle"), (cz, 128, 128), None),
        ("lz4 1 shuffle", BloscCodec(cname="lz4", clevel=1, shuffle="shuffle"), (cz, 128, 128), None),
        ("lz4 5 shuffle (default)", lz4, (cz, 128, 128), None),
        ("blosclz 1 shuffle", BloscCodec(cname="blosclz", clevel=1, shuffle="shuffle"), (cz, 128, 128), None),
        ("lz4 5 shuffle", lz4, (cz, 64, 64), None),
        ("lz4 5 shuffle", lz4, (min(16, nz), 128, 128), None),
        ("lz4 5 shuffle", lz4, (min(64, nz), 256, 256), None),
        ("lz4 5 shuffle, sharded", lz4, (cz, 128, 128), layer),
        ("lz4 5 shuffle, sharded", lz4, (cz, 64, 64), layer),
        ("lz4 5 shuffle, sharded", lz4, (min(16, nz), 64, 64), layer),
    ]
    print(
        f"TIFF folder reads (whole slices, open_volume): aligned / unaligned best "
        f"{tiff_ms[0]:.1f} / {tiff_ms[1]:.1f} ms"
    )
    print(
        f"{'codec':24s} {'chunks':>15s} {'shards':>17s} {'write s best/med':>17s} {'cpu s':>6s} {'ratio':>6s} "
        f"{'aligned ms best/med':>20s} {'unaligned ms best/med':>22s} {'TIFF/zarr best al/un':>21s}"
    )
    path = folder / "codec.zarr"
    for label, comp, chunks, shards in cases:
        writes, cpus, reads = [], [], {"al": [], "un": []}
        for _ in range(max(3, repeat)):
            shutil.rmtree(path, ignore_errors=True)
            t0, c0 = time.perf_counter(), time.process_time()
            arr = zarr.create_array(
                str(path),
                shape=vol.shape,
                chunks=chunks,
                shards=shards,
                dtype=vol.dtype,
                fill_value=0,
                compressors=comp,
                zarr_format=3,
            )
            for z0 in range(0, nz, cz):
                arr[z0 : z0 + cz] = vol[z0 : z0 + cz]
            writes.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            arr = zarr.open_array(str(path), mode="r")
            for key, y0 in (("al", ny // 2 - 128), ("un", ny // 2 - 128 + 37)):
                t0 = time.perf_counter()
                arr[0:256, y0 : y0 + 256, y0 : y0 + 256]
                reads[key].append(time.perf_counter() - t0)
        al, un = (sorted(reads[k]) for k in ("al", "un"))
        print(
            f"{label:24s} {chunks!s:>15s} {shards!s:>17s} {min(writes):8.2f}/{statistics.median(writes):<8.2f} "
            f"{min(cpus):6.2f} {vol.nbytes / _size(path):6.2f} {al[0] * 1e3:9.1f}/{statistics.median(al) * 1e3:<10.1f} "
            f"{un[0] * 1e3:10.1f}/{statistics.median(un) * 1e3:<11.1f} "
            f"{tiff_ms[0] / (al[0] * 1e3):9.1f}/{tiff_ms[1] / (un[0] * 1e3):<9.1f}"
        )
    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
