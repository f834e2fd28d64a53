"""The Zarr store's chunk layout is what the writer's blocks write whole (issue 16): every write
covers whole chunks, each chunk is written once (one writer per chunk), at every pyramid level,
and the pipeline's blocks (the units a Dask worker gets) hold whole chunk layers."""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")


def _record_writes(monkeypatch) -> list[tuple[str, tuple[int, ...], tuple[slice, ...]]]:
    """Patch zarr.Array.__setitem__ to record (array path, array shape, selection as slices)."""
    from zarr.core.array import Array

    calls: list[tuple[str, tuple[int, ...], tuple[slice, ...]]] = []
    original = Array.__setitem__

    def recording(self, key, value):
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (len(self.shape) - len(key))
        sel = tuple(slice(*k.indices(s)[:2]) for k, s in zip(key, self.shape, strict=True))
        calls.append((self.path, tuple(self.shape), sel))
        return original(self, key, value)

    monkeypatch.setattr(Array, "__setitem__", recording)
    return calls


def _chunk_keys(calls, store) -> dict[str, list[tuple[int, ...]]]:
    """Chunk indices written per array; asserts each write covers whole chunks."""
    out: dict[str, list[tuple[int, ...]]] = {}
    group = zarr.open_group(str(store), mode="r")
    for path, shape, sel in calls:
        chunks = group[path].chunks
        for s, c, n in zip(sel, chunks, shape, strict=True):
            assert s.start % c == 0, f"{path}: write {sel} starts inside a chunk {chunks}"
            assert s.stop % c == 0 or s.stop == n, f"{path}: write {sel} ends inside a chunk {chunks}"
        ranges = [range(s.start // c, -(-s.stop // c)) for s, c in zip(sel, chunks, strict=True)]
        out.setdefault(path, []).extend((a, b, d) for a in ranges[0] for b in ranges[1] for d in ranges[2])
    return out


@pytest.mark.parametrize("version", ["0.5", "0.4"])
def test_writer_writes_whole_chunks_once_at_every_level(tmp_path, monkeypatch, version):
    from alsmicroct.io.volume_zarr import ZarrVolumeWriter, pyramid_shapes

    shape, chunks = (11, 300, 270), (4, 64, 64)
    vol = np.random.default_rng(0).random(shape, dtype=np.float32)
    calls = _record_writes(monkeypatch)
    store = tmp_path / "v.ome.zarr"
    w = ZarrVolumeWriter(store, shape, chunks=chunks, multiscale=True, ngff_version=version)
    for z0, z1 in ((0, 3), (3, 9), (9, 10), (10, 11)):  # slabs that cut through chunk layers
        w.write_slab(z0, vol[z0:z1].copy())
    w.finish()
    keys = _chunk_keys(calls, store)
    levels = pyramid_shapes(shape)
    assert len(levels) == 2 and sorted(keys) == ["0", "1"]
    group = zarr.open_group(str(store), mode="r")
    for name, written in keys.items():
        assert len(written) == len(set(written)), f"level {name}: a chunk was written twice"
        grid = [-(-s // c) for s, c in zip(group[name].shape, group[name].chunks, strict=True)]
        assert len(written) == int(np.prod(grid)), f"level {name}: not every chunk written"
    np.testing.assert_array_equal(group["0"][:], vol)


@pytest.mark.parametrize("chunk_sino", [4, 6, 10, 16, 32, 48, 64, 100, 128, 200])
@pytest.mark.parametrize("nrows", [1, 7, 10, 64, 65, 200, 2160])
def test_pipeline_blocks_hold_whole_chunk_layers(chunk_sino, nrows):
    """The blocks of the final pass (serial, or one per Dask task) start on chunk layers, so
    each layer has one writer; the chunk height is the one open_plan_writer gives the store."""
    from alsmicroct.io.volume_zarr import default_chunks
    from alsmicroct.pipeline.runner import _chunk_z, block_ranges, block_rows

    plan = SimpleNamespace(
        rows=np.arange(nrows), params=SimpleNamespace(chunk_sino=chunk_sino, outputFormat="zarr"), block_cap=None
    )
    cz = default_chunks((nrows, 512, 512), slab=_chunk_z(chunk_sino))[0]
    for layer in (None, cz):  # before the writer exists (memory check) and from the store
        blocks = block_ranges(nrows, block_rows(plan, layer=layer))
        assert blocks[0][0] == 0 and blocks[-1][1] == nrows
        assert all(b[1] == n[0] for b, n in pairwise(blocks))
        assert all(a % cz == 0 for a, _ in blocks), (chunk_sino, nrows, cz, blocks)
        assert all(b - a <= max(chunk_sino, cz) for a, b in blocks)


def test_recon_zarr_writes_whole_chunks_once(tmp_path, monkeypatch):
    """recon(outputFormat="zarr") end to end: every array write is whole chunks, each once."""
    from alsmicroct.reconstruction import recon
    from alsmicroct.sim import simulate_scan

    simulate_scan(tmp_path / "s.h5", layout="als", phantom="shepp", nangles=30, nslices=9, nrays=40, cor=20.3, seed=1)
    calls = _record_writes(monkeypatch)
    res = recon(
        "s.h5",
        tmp_path,
        outputPath=str(tmp_path / "out"),
        outputFormat="zarr",
        zarrMultiscale=True,
        quicklook=False,
        chunk_sino=6,
        num_threads=1,
        cor=20.3,
    )
    keys = _chunk_keys(calls, res.files[0])
    assert keys and all(len(v) == len(set(v)) for v in keys.values())
    arr = zarr.open_group(str(res.files[0]), mode="r")["0"]
    assert len(keys["0"]) == int(np.prod([-(-s // c) for s, c in zip(arr.shape, arr.chunks, strict=True)]))
