"""Tests of the public alsmicroct.image_processing module."""

from __future__ import annotations

import os

import numpy as np
import pytest

from alsmicroct import image_processing as ip
from alsmicroct.errors import InputFileError, LayoutError, ParameterError, RangeError
from alsmicroct.io.tiff import read_tiff, write_tiff_atomic


@pytest.fixture
def volume():
    rng = np.random.default_rng(3)
    return rng.normal(0, 4, (12, 24, 30)).astype(np.float32)


@pytest.fixture
def slice_dir(tmp_path, volume):
    d = tmp_path / "recscan"
    ip.save_TiffStack(volume, d, prefix="recscan", start_index=95)
    return d


def test_file_list_natural_order(tmp_path):
    for name in ["s_10.tif", "s_9.tif", "s_100.TIFF", "s_1.tiff", "notes.txt", ".s_5.tif.tmp-1"]:
        (tmp_path / name).write_bytes(b"")
    got = [os.path.basename(f) for f in ip.get_fileList(tmp_path)]
    assert got == ["s_1.tiff", "s_9.tif", "s_10.tif", "s_100.TIFF"]
    assert ip.get_fileList(tmp_path, extensions=("txt",)) == [str(tmp_path / "notes.txt")]
    with pytest.raises(InputFileError, match="nothere"):
        ip.get_fileList(tmp_path / "nothere")


def test_save_load_roundtrip(slice_dir, volume, tmp_path):
    names = sorted(os.listdir(slice_dir))
    assert names[0] == "recscan_00095.tiff" and names[-1] == "recscan_00106.tiff"
    assert np.array_equal(ip.load_TiffStack(slice_dir), volume)
    part = ip.load_TiffStack(slice_dir, (3, 7), mmap=True)
    assert isinstance(part, np.memmap) and np.array_equal(part, volume[3:7])
    one = tmp_path / "stack.tif"
    ip.save_TiffStack(volume, one, one_file=True)
    assert np.array_equal(ip.load_TiffStack(one, (2, 5)), volume[2:5])
    assert np.array_equal(np.asarray(ip.load_TiffStack(one, mmap=True)), volume)
    u8 = ip.save_TiffStack(volume, tmp_path / "i16", dtype=np.int16)
    assert read_tiff(u8[1]).dtype == np.int16
    with pytest.raises(RangeError, match=r"\(5, 20\)"):
        ip.load_TiffStack(slice_dir, (5, 20))


def test_load_errors(tmp_path, volume):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match="empty"):
        ip.load_TiffStack(empty)
    mixed = tmp_path / "mixed"
    ip.save_TiffStack(volume[:3], mixed)
    write_tiff_atomic(mixed / "slice_00003.tiff", np.zeros((10, 10), np.float32))
    with pytest.raises(LayoutError, match="slice_00003.tiff"):
        ip.load_TiffStack(mixed)
    with pytest.raises(LayoutError, match="slice_00003.tiff"):
        ip.convert_DirectoryTo8Bit(mixed, -1, 1)
    assert not (tmp_path / "mixed_8bit").exists()  # failed before writing anything
    bad = tmp_path / "bad"
    ip.save_TiffStack(volume[:2], bad)
    (bad / "slice_00002.tiff").write_bytes(b"II*\x00garbage")
    with pytest.raises(InputFileError, match="slice_00002.tiff"):
        ip.load_TiffStack(bad)


def test_convert_8bit_array_values():
    x = np.array([[-10.0, 0.0, 10.0, 3.0, 100.0]], np.float32)
    got = ip.convert_ArrayTo8bit(x, -10, 10)
    # floor(0.5 + 255 * (x + 10) / 20): 0, 128 (127.5 -> 128), 255, 166 (165.75 -> 166), 255
    assert got.tolist() == [[0, 128, 255, 166, 255]]
    with pytest.raises(ParameterError):
        ip.convert_ArrayTo8bit(x, 2, 2)


def test_convert_directory(slice_dir, volume, tmp_path):
    written = ip.convert_DirectoryTo8Bit(slice_dir, data_min=-8, data_max=8)
    out = tmp_path / "recscan_8bit"
    assert [os.path.basename(w) for w in written][:2] == ["recscan_00095.tiff", "recscan_00096.tiff"]
    assert sorted(os.listdir(out)) == sorted(os.listdir(slice_dir))
    got = ip.load_TiffStack(out)
    assert got.dtype == np.uint8
    expect = np.clip(np.floor(0.5 + 255 * (volume.astype(np.float64) + 8) / 16), 0, 255)
    assert np.array_equal(got, expect.astype(np.uint8))
    named = ip.convert_DirectoryTo8Bit("recscan", -8, 8, basepath=tmp_path, outputpath="eight", filename="sample")
    assert os.path.basename(named[3]) == "sample_00098.tiff"
    assert (tmp_path / "eight" / "sample_00106.tiff").is_file()
    with pytest.raises(ParameterError, match="data_min"):
        ip.convert_DirectoryTo8Bit(slice_dir, 5, -5, outputpath=tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_crop(slice_dir, volume, tmp_path):
    c = ip.crop_Array(volume, x=(5, 25), y=(2, 20), z=(1, 4))
    assert c.shape == (3, 18, 20) and np.array_equal(c, volume[1:4, 2:20, 5:25])
    assert ip.crop_Array(volume[0], x=(0, 3)).shape == (24, 3)
    for bad in [{"x": (0, 31)}, {"y": (10, 10)}, {"z": (-1, 3)}]:
        with pytest.raises(RangeError):
            ip.crop_Array(volume, **bad)
    written = ip.crop_Directory(slice_dir, x=(5, 25), y=(2, 20), z=(1, 4))
    assert [os.path.basename(w) for w in written] == [
        "recscan_00096.tiff",
        "recscan_00097.tiff",
        "recscan_00098.tiff",
    ]
    assert np.array_equal(ip.load_TiffStack(tmp_path / "recscan_crop"), c)
    with pytest.raises(RangeError, match="x range"):
        ip.crop_Directory(slice_dir, x=(0, 99), outputpath=tmp_path / "no")
    assert not (tmp_path / "no").exists()


def test_quicklook_png(slice_dir, volume, tmp_path):
    png = ip.quicklook(slice_dir, tmp_path / "ql.png", title="scan")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # 12 x 9 inch at 100 dpi
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (w, h) == (1200, 900)
    assert 10_000 < len(data) < 2_000_000  # 8-bit grey from the default Pillow renderer
    png2 = ip.quicklook(volume, tmp_path / "ql2.png")
    assert png2.stat().st_size > 10_000
    stack = ip.save_TiffStack(volume, tmp_path / "stack.tif", one_file=True)[0]
    png3 = ip.quicklook(stack, tmp_path / "ql3.png")
    assert png3.stat().st_size > 10_000
    names = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".png")
    assert names == ["ql.png", "ql2.png", "ql3.png"]  # no temporary left
    # the views read from files equal those of the array
    xy, xz, yz, shape = ip._orthogonal_views(stack)
    assert shape == volume.shape and np.array_equal(xz, volume[:, 12, :])
    assert np.array_equal(yz, volume[:, :, 15]) and np.array_equal(xy, volume[6])
