"""Volume writers and readers (alsmicroct.io.volumes): OME-Zarr and HDF5 round trips, NGFF
validation, chunk rules, locks, kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from alsmicroct.errors import InputFileError, OutputError, ParameterError
from alsmicroct.io.volumes import detect_format, done_rows, open_volume, open_writer, remove_volume

zarr = pytest.importorskip("zarr")


def _volume(shape=(10, 40, 36), seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape).astype(np.float32)


def _store_files(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("version", ["0.5", "0.4"])
def test_zarr_round_trip_ngff_valid(tmp_path, version):
    from ome_zarr_models import open_ome_zarr

    vol = _volume((10, 300, 280))
    path = tmp_path / "v.ome.zarr"
    w = open_writer(
        path,
        "zarr",
        vol.shape,
        chunks=(4, 128, 128),
        voxel_size_um=(2.0, 0.65, 0.65),
        origin_um=(10.0, 0.0, 0.0),
        attrs={"units": "1/cm"},
        ngff_version=version,
        multiscale=True,
    )
    for z0, z1 in ((0, 3), (3, 7), (7, 10)):  # slabs not aligned to the 4-slice chunks
        w.write_slab(z0, vol[z0:z1])
    w.finish({"status": "complete", "parameters": {"cor": 12.5}})
    assert detect_format(path) == "zarr"
    group = zarr.open_group(str(path), mode="r")
    assert group.metadata.zarr_format == (3 if version == "0.5" else 2)
    np.testing.assert_array_equal(group["0"][:], vol)
    assert group["1"].shape == (5, 150, 140)  # 2x down until y, x <= 256
    assert "2" not in group
    np.testing.assert_allclose(group["1"][0, 0, 0], vol[:2, :2, :2].mean(), rtol=1e-6)
    image = open_ome_zarr(group)
    assert type(image).__name__ == "Image"
    ms = image.ome_attributes.multiscales[0] if version == "0.5" else image.attributes.multiscales[0]
    assert [a.unit for a in ms.axes] == ["micrometer"] * 3
    assert ms.datasets[0].coordinateTransformations[0].scale == [2.0, 0.65, 0.65]
    assert group.attrs["alsmicroct"]["provenance"]["parameters"]["cor"] == 12.5
    with open_volume(path) as v:
        assert v.shape == vol.shape and v.attrs["voxel_size_um"] == [2.0, 0.65, 0.65]
        np.testing.assert_array_equal(v[2:9, 10:200, 5:7], vol[2:9, 10:200, 5:7])
    assert done_rows(path, "zarr") == set(range(10))
    assert not path.with_name(f".{path.name}.lock").exists()


def test_zarr_incomplete_never_looks_complete(tmp_path):
    vol = _volume()
    path = tmp_path / "v.ome.zarr"
    w = open_writer(path, "zarr", vol.shape, chunks=(4, 40, 36))
    w.write_slab(0, vol[:6])  # layer 0 queued, slices 4, 5 buffered
    w.flush()  # layer 0 on disk (written in the background)
    group = zarr.open_group(str(path), mode="r")
    assert "ome" not in group.attrs and "multiscales" not in group.attrs
    assert w.done_slices() == {0, 1, 2, 3}
    with pytest.raises(OutputError, match="never written"):
        w.finish()
    w.abort()
    again = open_writer(path, "zarr", vol.shape, chunks=(4, 40, 36))
    assert again.done_slices() == {0, 1, 2, 3}
    again.write_slab(4, vol[4:])
    again.finish()
    np.testing.assert_array_equal(open_volume(path)[:], vol)


def test_zarr_bad_outputs(tmp_path):
    vol = _volume()
    path = tmp_path / "v.ome.zarr"
    w = open_writer(path, "zarr", vol.shape)
    with pytest.raises(OutputError, match="another process"):
        # a live process (pid 1) holding the lock
        path.with_name(f".{path.name}.lock").write_text(json.dumps({"host": os.uname().nodename, "pid": 1}))
        open_writer(path, "zarr", vol.shape)
    w.write_slab(0, vol)
    path.with_name(f".{path.name}.lock").write_text(json.dumps({"host": os.uname().nodename, "pid": os.getpid()}))
    w.finish()
    with pytest.raises(OutputError, match="complete store already"):
        open_writer(path, "zarr", vol.shape)
    with pytest.raises(OutputError, match="positive sizes"):
        open_writer(tmp_path / "w.ome.zarr", "zarr", (0, 3, 3))
    other = tmp_path / "o.ome.zarr"
    open_writer(other, "zarr", vol.shape).abort()
    with pytest.raises(OutputError, match="holds a"):
        open_writer(other, "zarr", (4, 4, 4))
    with pytest.raises(ParameterError, match="did you mean 'zarr'"):
        open_writer(tmp_path / "x", "zar", vol.shape)
    with pytest.raises(InputFileError, match="not found"):
        open_volume(tmp_path / "missing.ome.zarr")
    assert remove_volume(other) and not other.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_zarr_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="read-only"):
            open_writer(ro / "v.ome.zarr", "zarr", (4, 4, 4))
    finally:
        ro.chmod(0o755)


def test_zarr_read_only_store(tmp_path, monkeypatch):
    path = tmp_path / "v.ome.zarr"
    open_writer(path, "zarr", (4, 8, 8)).abort()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == path and mode == os.W_OK else real(p, mode))
    with pytest.raises(OutputError, match="read-only"):
        open_writer(path, "zarr", (4, 8, 8))


def test_h5_round_trip(tmp_path):
    import h5py

    vol = _volume()
    path = tmp_path / "v.h5"
    w = open_writer(path, "h5", vol.shape, voxel_size_um=(1.3, 1.3, 1.3), attrs={"units": "1/cm"}, compression="gzip")
    w.write_slab(0, vol[:5])
    assert not path.exists()  # only the hidden temporary while writing
    w.write_slab(5, vol[5:])
    w.finish({"status": "complete"})
    with h5py.File(path, "r") as fh:
        np.testing.assert_array_equal(fh["/exchange/data"][:], vol)
        assert fh["/exchange/data"].chunks == (1, 40, 36)
    assert detect_format(path) == "h5"
    with open_volume(path) as v:
        assert v.attrs["voxel_size_um"] == [1.3, 1.3, 1.3] and v.attrs["provenance"]["status"] == "complete"
        np.testing.assert_array_equal(v[3], vol[3])
    with pytest.raises(OutputError, match="exists already"):
        open_writer(path, "h5", vol.shape)
    assert list(tmp_path.glob(".*")) == []


def test_tiff_writer_and_reader(tmp_path):
    vol = _volume((3, 8, 9))
    w = open_writer(tmp_path / "t", "tiff", vol.shape, prefix="s")
    w.write_slab(0, vol)
    w.finish()
    assert w.done_slices() == {0, 1, 2}
    with open_volume(tmp_path / "t") as v:
        assert v.format == "tiff" and v.shape == vol.shape
        np.testing.assert_array_equal(v[1:3, 2:5], vol[1:3, 2:5])
        np.testing.assert_array_equal(v[2], vol[2])


_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from alsmicroct.io.volumes import open_writer
    vol = np.random.default_rng(3).normal(size=(24, 64, 64)).astype(np.float32)
    w = open_writer(sys.argv[1], "zarr", vol.shape, chunks=(2, 32, 32), attrs={"units": "1/cm"})
    for z in range(0, 8, 2):
        w.write_slab(z, vol[z:z + 2])
        w.flush()                              # layer on disk and marked done
        print(z, flush=True)
    w.array[8:10, :32] = vol[8:10, :32]        # layer 4 half written (2 of its 4 chunks) ...
    w.write_slab(10, vol[10:11])               # ... and half a layer waiting in the writer
    print("mid-write", flush=True)
    time.sleep(60)
""")


def test_zarr_kill_9_then_resume_identical(tmp_path):
    vol = np.random.default_rng(3).normal(size=(24, 64, 64)).astype(np.float32)
    (tmp_path / "ref").mkdir()
    ref = tmp_path / "ref" / "v.ome.zarr"
    w = open_writer(ref, "zarr", vol.shape, chunks=(2, 32, 32), attrs={"units": "1/cm"})
    w.write_slab(0, vol)
    w.finish()

    path = tmp_path / "v.ome.zarr"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        lines = [child.stdout.readline().strip() for _ in range(5)]
        assert lines[-1] == "mid-write", lines
    finally:
        os.kill(child.pid, signal.SIGKILL)  # kill -9 in the middle of layer 4
        child.wait()
    assert path.with_name(f".{path.name}.lock").exists()  # the dead writer's lock
    from alsmicroct.io.volume_zarr import is_complete_zarr

    assert not is_complete_zarr(path)
    resumed = open_writer(path, "zarr", vol.shape, chunks=(2, 32, 32), attrs={"units": "1/cm"})
    done = resumed.done_slices()
    assert done == set(range(8))  # complete layers kept; the half-written one is not
    for z in range(0, 24, 2):
        if z not in done:
            resumed.write_slab(z, vol[z : z + 2])
    resumed.finish()
    assert _store_files(path) == _store_files(ref)
    assert not list(tmp_path.glob(".v.ome.zarr.*"))


def test_zarr_attached_writers_equal_serial(tmp_path):
    """Writers in other processes (as Dask workers) write whole layers; same store as one writer."""
    vol = _volume((12, 32, 32))
    (tmp_path / "ref").mkdir()
    ref = tmp_path / "ref" / "v.ome.zarr"
    w = open_writer(ref, "zarr", vol.shape, chunks=(4, 16, 16))
    w.write_slab(0, vol)
    w.finish()
    from alsmicroct.io.volume_zarr import ZarrVolumeWriter

    path = tmp_path / "v.ome.zarr"
    main = open_writer(path, "zarr", vol.shape, chunks=(4, 16, 16))
    for z0 in (8, 0, 4):
        part = ZarrVolumeWriter.attach(path)
        part.write_slab(z0, vol[z0 : z0 + 4])
        part.close()
    bad = ZarrVolumeWriter.attach(path)
    bad.write_slab(0, vol[:2])
    with pytest.raises(OutputError, match="never written"):
        bad.close()
    main.finish()
    assert _store_files(path) == _store_files(ref)


def test_downsample2_is_the_2x2x2_mean_with_edges_repeated():
    from alsmicroct.io.volume_zarr import downsample2

    block = np.random.default_rng(4).normal(size=(5, 6, 7)).astype(np.float32)
    padded = np.pad(block, [(0, 1), (0, 0), (0, 1)], mode="edge").astype(np.float64)
    ref = padded.reshape(3, 2, 3, 2, 4, 2).mean(axis=(1, 3, 5))
    out = downsample2(block)
    assert out.dtype == np.float32 and out.shape == (3, 3, 4)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6)
    assert downsample2(np.full((3, 4, 4), 7, np.uint8)).tolist() == np.full((2, 2, 2), 7).tolist()


def test_tiff_folder_reads_only_the_rows_and_equals_whole_slices(tmp_path, monkeypatch):
    import tifffile

    from alsmicroct.io import tiff as T

    vol = _volume((4, 30, 20), seed=5)
    w = open_writer(tmp_path / "t", "tiff", vol.shape, prefix="s")
    w.write_slab(0, vol)
    keys = [
        (slice(1, 3), slice(7, 19), slice(3, 17)),
        (slice(None), slice(-5, None)),
        (2, 29),
        (-1, -30, slice(2, 9)),
        (slice(0, 4, 2), slice(3, 25, 4), 5),
        (slice(1, 2), slice(12, 12)),  # no rows
        (slice(None), slice(25, 3, -2)),  # negative step: whole slices
        (slice(None), np.array([3, 1, 8])),  # index array: whole slices
        (slice(0, 2), Ellipsis, 4),
    ]
    with open_volume(tmp_path / "t") as v:
        for key in keys:
            np.testing.assert_array_equal(v[key], vol[key], err_msg=str(key))
        with pytest.raises(IndexError, match="row 30"):
            v[0, 30]
        whole = T.read_tiff
        monkeypatch.setattr(T, "read_tiff", lambda p: pytest.fail(f"whole slice {p} read"))
        np.testing.assert_array_equal(v[0:4, 5:9, 2:18], vol[0:4, 5:9, 2:18])
        monkeypatch.setattr(T, "read_tiff", whole)
    # compressed and big-endian slices: decoded whole, or byte-swapped, same values
    for name, kw in (("zlib", {"compression": "zlib"}), ("big", {"byteorder": ">"})):
        folder = tmp_path / name
        folder.mkdir()
        for z, image in enumerate(vol):
            tifffile.imwrite(folder / f"s_{z:05d}.tif", image, photometric="minisblack", **kw)
        with open_volume(folder) as v:
            np.testing.assert_array_equal(v[1:4, 6:21, 4:9], vol[1:4, 6:21, 4:9])
    with pytest.raises(ParameterError, match="step 1"):
        T.read_tiff_rows(folder / "s_00000.tif", slice(0, 4, 2))


def test_tiff_rows_buffer_is_reused_and_results_stay_distinct(tmp_path):
    from alsmicroct.io import tiff as T

    vol = _volume((3, 12, 10), seed=6)
    paths = [T.write_tiff_atomic(tmp_path / f"s_{z:05d}.tiff", vol[z]) for z in range(3)]
    buf = np.empty(5 * 10, np.float32)
    rows = T.read_tiff_rows(paths[1], slice(4, 9), buffer=buf)
    assert np.shares_memory(rows, buf)
    np.testing.assert_array_equal(rows, vol[1, 4:9])
    bigger = T.read_tiff_rows(paths[2], slice(0, 12), buffer=buf)  # no room: a new array
    assert not np.shares_memory(bigger, buf)
    np.testing.assert_array_equal(bigger, vol[2])
    with open_volume(tmp_path) as v:  # slices read through one strip buffer, each kept
        np.testing.assert_array_equal(v[:, 2:11:3, 1:9], vol[:, 2:11:3, 1:9])
        np.testing.assert_array_equal(v[:, 7], vol[:, 7])


@pytest.mark.parametrize("version", ["0.5", "0.4"])
def test_volume_read_into_out_equals_the_direct_zarr_read(tmp_path, version):
    vol = _volume((12, 40, 36), seed=7)
    path = tmp_path / "v.ome.zarr"
    w = open_writer(path, "zarr", vol.shape, chunks=(4, 16, 16), ngff_version=version)
    w.write_slab(0, vol)
    w.finish()
    direct = zarr.open_group(str(path), mode="r")["0"]
    keys = [
        (slice(3, 11), slice(5, 37), slice(1, 30)),  # aligned to no chunk
        (slice(0, 8), slice(0, 16), slice(16, 32)),  # whole chunks
        (5, slice(2, 39, 3), slice(None)),
        (slice(-4, None), -1),
        slice(2, 3),
        (slice(None), np.array([1, 7]), 3),  # not a box: read, then copied
    ]
    with open_volume(path) as v:
        for key in keys:
            fancy = isinstance(key, tuple) and any(isinstance(k, np.ndarray) for k in key)
            want = vol[key] if fancy else direct[key]
            out = np.full(want.shape, np.nan, np.float32)
            assert v.read(key, out=out) is out
            np.testing.assert_array_equal(out, want, err_msg=str(key))
            np.testing.assert_array_equal(out, vol[key], err_msg=str(key))
            np.testing.assert_array_equal(v.read(key), want)
        reused = np.empty((8, 32, 29), np.float32)
        for z0 in (0, 1, 4):  # one out for many boxes
            np.testing.assert_array_equal(
                v.read((slice(z0, z0 + 8), slice(5, 37), slice(1, 30)), out=reused), vol[z0 : z0 + 8, 5:37, 1:30]
            )
        for bad in (
            np.empty((8, 32, 28), np.float32),
            np.empty((8, 32, 29)),
            np.empty((8, 32, 58), np.float32)[..., ::2],
        ):
            with pytest.raises(ParameterError, match=r"expected a C-contiguous \(8, 32, 29\) float32"):
                v.read((slice(3, 11), slice(5, 37), slice(1, 30)), out=bad)


def test_volume_read_into_out_tiff_and_h5(tmp_path):
    vol = _volume((6, 20, 18), seed=8)
    for fmt, path in (("tiff", tmp_path / "t"), ("h5", tmp_path / "v.h5")):
        w = open_writer(path, fmt, vol.shape)
        w.write_slab(0, vol)
        w.finish()
        with open_volume(path) as v:
            out = np.empty((4, 9, 18), np.float32)
            np.testing.assert_array_equal(v.read((slice(1, 5), slice(3, 12)), out=out), vol[1:5, 3:12])
            out = np.empty((20,), np.float32)
            np.testing.assert_array_equal(v.read((2, slice(None), 7), out=out), vol[2, :, 7])
