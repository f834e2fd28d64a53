"""Tests of alsmicroct.io.tiff: atomic writes, checked reads, natural sort."""

from __future__ import annotations

import os

import numpy as np
import pytest

from alsmicroct.errors import InputFileError, OutputError
from alsmicroct.io import tiff as T


def test_roundtrip_float32_slice_with_metadata(tmp_path):
    img = np.random.default_rng(0).normal(0, 1, (33, 47)).astype(np.float32)
    meta = {"pxsize_cm": 0.00065, "cor": np.float32(1023.5), "algo": "gridrec"}
    p = T.write_tiff_atomic(tmp_path / "rec_00010.tiff", img, metadata=meta)
    back = T.read_tiff(p)
    assert back.dtype == np.float32
    assert np.array_equal(back, img)
    got = T.read_tiff_metadata(p)
    assert got["cor"] == 1023.5 and got["algo"] == "gridrec"
    assert T.is_complete_tiff(p, shape=(33, 47), dtype=np.float32)
    assert not T.is_complete_tiff(p, shape=(33, 46))
    assert not T.is_complete_tiff(p, dtype=np.uint8)
    assert os.listdir(tmp_path) == ["rec_00010.tiff"]  # no temporary left


@pytest.mark.parametrize("bigtiff", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int16])
def test_roundtrip_stack(tmp_path, bigtiff, dtype):
    rng = np.random.default_rng(1)
    stack = (rng.random((4, 9, 11)) * 200).astype(dtype)
    p = T.write_tiff_atomic(tmp_path / "s.tif", stack, metadata={"k": 3}, bigtiff=bigtiff)
    assert np.array_equal(T.read_tiff(p), stack)
    assert T.read_tiff_metadata(p) == {"k": 3}
    assert T.is_complete_tiff(p, shape=(4, 9, 11), dtype=dtype)
    assert T.tiff_info(p) == ((9, 11), np.dtype(dtype), 4)


def test_truncated_file_is_detected(tmp_path):
    img = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    p = T.write_tiff_atomic(tmp_path / "a.tif", img)
    data = p.read_bytes()
    bad = tmp_path / "b.tif"
    for cut in (100, len(data) // 2, len(data) - 20):
        bad.write_bytes(data[:cut])
        assert not T.is_complete_tiff(bad)
        with pytest.raises(InputFileError, match="b.tif"):
            T.read_tiff(bad)
    bad.write_bytes(b"not a tiff at all")
    assert not T.is_complete_tiff(bad)
    assert not T.is_complete_tiff(tmp_path / "missing.tif")


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    import tifffile

    final = tmp_path / "slice_00001.tiff"
    real = tifffile.imwrite

    def broken(fh, data, **kw):
        fh.write(b"II*\x00partial")  # half a file on disk ...
        raise KeyboardInterrupt("killed while writing")  # ... then the job dies

    monkeypatch.setattr(tifffile, "imwrite", broken)
    with pytest.raises(KeyboardInterrupt):
        T.write_tiff_atomic(final, np.zeros((8, 8), np.float32))
    assert os.listdir(tmp_path) == []
    # an existing complete file is kept intact by a failed overwrite
    monkeypatch.setattr(tifffile, "imwrite", real)
    T.write_tiff_atomic(final, np.ones((8, 8), np.float32))
    monkeypatch.setattr(tifffile, "imwrite", broken)
    with pytest.raises(KeyboardInterrupt):
        T.write_tiff_atomic(final, np.zeros((8, 8), np.float32))
    monkeypatch.setattr(tifffile, "imwrite", real)
    assert os.listdir(tmp_path) == ["slice_00001.tiff"]
    assert T.read_tiff(final).sum() == 64.0


def test_output_errors_name_path(tmp_path):
    with pytest.raises(OutputError, match="nowhere"):
        T.write_tiff_atomic(tmp_path / "nowhere" / "a.tif", np.zeros((2, 2), np.float32))
    with pytest.raises(InputFileError, match=r"missing\.tif"):
        T.read_tiff(tmp_path / "missing.tif")


def test_natural_sort_key():
    names = ["rec_10.tif", "rec_9.tif", "rec_100.tif", "Rec_1.tif", "rec_2b.tif", "rec_2a.tif"]
    assert sorted(names, key=T.natural_sort_key) == [
        "Rec_1.tif",
        "rec_2a.tif",
        "rec_2b.tif",
        "rec_9.tif",
        "rec_10.tif",
        "rec_100.tif",
    ]
