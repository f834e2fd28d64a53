"""256^3 sub-volume reads, Zarr store vs TIFF folder, on a synthetic volume (no reconstruction).

``bench_volume_outputs.py --read-only`` runs this (its options are those of that script; see
its notes). The volume is written once (``<dir>/reads_<nz>_<n>/``, kept for later runs)
through :func:`alsmicroct.io.volumes.open_writer`: the TIFF folder with the project's TIFF
writer, the store with the zarr writer's default chunks (32 x 128 x 128) and codec (Blosc lz4
5, shuffle). Slices are a disc of smooth texture plus Gaussian noise (a reconstruction's
last mantissa bits are noise too): the compression ratio is printed next to the 1.44 of a
2048-wide rock-phantom reconstruction (README, recorded figure, 2026-12-07).

Readers timed on the same boxes, round robin, ``--repeat`` rounds:

- ``zarr``: ``open_volume(store)[box]`` (zarr-python, default configuration);
- ``tiff rows``: ``open_volume(folder)[box]``: of each slice only the box's rows are read
  (the best a folder of uncompressed slices allows: a 256-row strip is 2 MiB of a 16 MiB
  slice);
- ``tiff whole``: each slice file read whole (``io.tiff.read_tiff``, what open_volume did
  before and what tifffile.imread / Fiji do) and cut.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

_BOX = 256
_RECORDED_RATIO = "1.44 (rock-phantom reconstruction, README recorded figure, 2026-12-07)"


def _build(folder: Path, nz: int, n: int) -> tuple[Path, Path]:
    """The TIFF folder and the zarr store of a synthetic (nz, n, n) float32 volume."""
    from alsmicroct.io.volume_zarr import is_complete_zarr
    from alsmicroct.io.volumes import open_writer, remove_volume

    tiff, store = folder / "tiff", folder / "v.ome.zarr"
    if is_complete_zarr(store) and len(list(tiff.glob("slice_*.tiff"))) == nz:
        return tiff, store
    remove_volume(store)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:n, 0:n].astype(np.float32)
    disc = np.hypot(y - n / 2, x - n / 2) < 0.45 * n
    base = np.where(disc, 0.8 + 0.2 * np.sin(x / 37.0) * np.cos(y / 53.0), 0.0).astype(np.float32)
    t0 = time.perf_counter()
    tw = open_writer(tiff, "tiff", (nz, n, n))
    zw = open_writer(store, "zarr", (nz, n, n), voxel_size_um=(1.0, 1.0, 1.0))
    for z0 in range(0, nz, 32):
        slab = np.stack([base + rng.standard_normal((n, n), dtype=np.float32) * 5e-4 for _ in range(min(32, nz - z0))])
        tw.write_slab(z0, slab)
        zw.write_slab(z0, slab)
    tw.finish()
    zw.finish()
    print(f"wrote the {nz} x {n} x {n} volume (TIFF folder and zarr store) in {time.perf_counter() - t0:.1f} s")
    return tiff, store


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _drop_cache(paths: list[Path]) -> None:
    """Drop these files' pages from the page cache (clean pages; other files untouched)."""
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _boxes(nz: int, n: int, count: int, chunks: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Box origins (z, y, x): chunk-aligned first, then ``count`` random ones aligned in no axis."""
    cy, cx = chunks[1:]
    aligned = (0, (n // 2 - _BOX // 2) // cy * cy, (n // 2 - _BOX // 2) // cx * cx)
    rng = np.random.default_rng(16)
    out = [aligned]
    while len(out) < count + 1:
        o = (
            int(rng.integers(0, nz - _BOX + 1)),
            int(rng.integers(0, n - _BOX + 1)),
            int(rng.integers(0, n - _BOX + 1)),
        )
        if all(v % c for v, c in zip(o, chunks, strict=True)):
            out.append(o)
    return out


def _box(o: tuple[int, int, int]) -> tuple[slice, slice, slice]:
    return tuple(slice(v, v + _BOX) for v in o)


def _whole_slices(files: list[Path], key: tuple[slice, slice, slice]) -> np.ndarray:
    from alsmicroct.io.tiff import read_tiff

    out = np.empty((_BOX, _BOX, _BOX), np.float32)
    for i, f in enumerate(files[key[0]]):
        out[i] = read_tiff(f)[key[1:]]
    return out


def _stats(ts: list[float]) -> tuple[float, float]:
    return min(ts) * 1e3, statistics.median(ts) * 1e3


def read_only(args: Any) -> int:
    """Time the readers on aligned and unaligned 256^3 boxes; print the table and where zarr's
    time goes."""
    import zarr

    from alsmicroct.io.volumes import open_volume

    nz, n = int(args.read_slices), int(args.nrays)
    if nz <= _BOX or n < _BOX:
        raise SystemExit(f"--read-slices {nz} / --nrays {n}: need more than {_BOX} slices and >= {_BOX} columns")
    tiff, store = _build(Path(args.dir) / f"reads_{nz}_{n}", nz, n)
    zvol, tvol = open_volume(store), open_volume(tiff)
    arr = zvol._array
    files = tvol._array.files
    zfiles = [p for p in store.rglob("*") if p.is_file()]
    print(
        f"volume {nz} x {n} x {n} float32; zarr chunks {arr.chunks}, {arr.compressors}; compression ratio "
        f"{nz * n * n * 4 / _size(store):.2f} (real reconstruction: {_RECORDED_RATIO}); "
        f"cache {'cold (dropped before each read)' if args.cold else 'warm'}; loadavg before {os.getloadavg()}"
    )
    origins = _boxes(nz, n, args.boxes, arr.chunks)
    ref = {o: arr[_box(o)] for o in origins}
    readers = {
        "zarr": lambda key: zvol[key],
        "tiff rows": lambda key: tvol[key],
        "tiff whole": lambda key: _whole_slices(files, key),
    }
    for name, read in readers.items():  # every reader gives the same values
        assert np.array_equal(read(_box(origins[-1])), ref[origins[-1]]), name
    times: dict[tuple[str, bool], list[float]] = {(r, al): [] for r in readers for al in (True, False)}
    for _ in range(args.repeat):
        for o in origins:
            for name, read in readers.items():
                if args.cold:
                    _drop_cache(zfiles if name == "zarr" else files)
                t0 = time.perf_counter()
                read(_box(o))
                times[(name, o == origins[0])].append(time.perf_counter() - t0)
    print(f"{_BOX}^3 boxes: 1 aligned, {args.boxes} unaligned {origins[1:]}, {args.repeat} rounds")
    print(
        f"{'box':10s} {'reader':11s} {'best ms':>9s} {'median ms':>10s} {'reader/zarr best':>17s} "
        f"{'reader/zarr median':>19s}"
    )
    for aligned in (True, False):
        zb, zm = _stats(times[("zarr", aligned)])
        for name in readers:
            b, m = _stats(times[(name, aligned)])
            print(
                f"{'aligned' if aligned else 'unaligned':10s} {name:11s} {b:9.1f} {m:10.1f} "
                f"{b / zb:17.1f} {m / zm:19.1f}"
            )
    if not args.cold:
        _zarr_breakdown(zvol, [_box(o) for o in origins[1:]], args.repeat, zarr)
    print(f"loadavg after {os.getloadavg()}")
    return 0


def _zarr_breakdown(zvol: Any, keys: list[tuple[slice, ...]], repeat: int, zarr: Any) -> None:
    """Where an unaligned zarr read's time goes (warm cache, each part timed alone)."""
    import numcodecs.blosc

    arr = zvol._array
    chunks = arr.chunks
    grid = [
        [
            (cz, cy, cx)
            for cz in range(k[0].start // chunks[0], (k[0].stop - 1) // chunks[0] + 1)
            for cy in range(k[1].start // chunks[1], (k[1].stop - 1) // chunks[1] + 1)
            for cx in range(k[2].start // chunks[2], (k[2].stop - 1) // chunks[2] + 1)
        ]
        for k in keys
    ]
    root = Path(arr.store.root) / arr.path
    paths = [[root / arr.metadata.encode_chunk_key(c) for c in g] for g in grid]
    nchunks = len(grid[0])
    decoded = nchunks * int(np.prod(chunks)) * 4
    out = np.empty((_BOX, _BOX, _BOX), np.float32)
    chunk_out = np.empty(chunks, np.float32)
    buf = bytearray(max(p.stat().st_size for ps in paths for p in ps))
    view = memoryview(buf)

    def read_files(ps: list[Path]) -> None:
        for p in ps:
            with open(p, "rb", buffering=0) as fh:
                fh.readinto(buf)

    def decode(ps: list[Path]) -> None:
        for p in ps:
            with open(p, "rb", buffering=0) as fh:
                size = fh.readinto(buf)
            numcodecs.blosc.decompress(view[:size], chunk_out)

    parts = {
        "zarr array alone (no open_volume)": lambda i: arr[keys[i]],
        "zarr async.concurrency 1": lambda i: _with_config(zarr, {"async.concurrency": 1}, lambda: arr[keys[i]]),
        "open_volume read(box, out=) into one reused out": lambda i: zvol.read(keys[i], out=out),
        "chunk files read alone": lambda i: read_files(paths[i]),
        "files read + blosc decode, 1 thread, reused buffers": lambda i: decode(paths[i]),
    }
    threads = numcodecs.blosc.get_nthreads()
    numcodecs.blosc.set_nthreads(1)
    try:
        ts: dict[str, list[float]] = {k: [] for k in parts}
        cpu: dict[str, list[float]] = {k: [] for k in parts}
        for _ in range(repeat):
            for i in range(len(keys)):
                for name, fn in parts.items():
                    t0, c0 = time.perf_counter(), time.process_time()
                    fn(i)
                    ts[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.process_time() - c0)
    finally:
        numcodecs.blosc.set_nthreads(threads)
    print(
        f"where an unaligned zarr read goes: {nchunks} chunks of {chunks} ({decoded / 2**20:.0f} MiB decoded "
        f"for a {_BOX**3 * 4 / 2**20:.0f} MiB box, {decoded / (_BOX**3 * 4):.2f} x)"
    )
    print(f"{'part':52s} {'best ms':>8s} {'median ms':>10s} {'CPU ms median':>14s}")
    for name in parts:
        b, m = _stats(ts[name])
        print(f"{name:52s} {b:8.1f} {m:10.1f} {statistics.median(cpu[name]) * 1e3:14.1f}")


def _with_config(zarr: Any, conf: dict[str, Any], fn: Any) -> Any:
    with zarr.config.set(conf):
        return fn()


if __name__ == "__main__":
    import sys

    from bench_volume_outputs import main

    raise SystemExit(main(["--read-only", *sys.argv[1:]]))
