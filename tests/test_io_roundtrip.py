"""Round trips through RawScanWriter / open_scan for both raw layouts."""

from __future__ import annotations

import hashlib
import os
import time

import h5py
import numpy as np
import pytest

from alsmicroct.errors import OutputError, ParameterError, RangeError
from alsmicroct.io import RawScanWriter, ScanMetadata, open_scan
from alsmicroct.io._common import expected_flat_positions
from alsmicroct.testing import write_random_scan

NANG, NSL, NRAY = 8, 6, 5


#: RawScanWriter keywords of a 3-projection scan of 2 x 2 pixels, one flat per group.
TINY = dict(nangles=3, nslices=2, nrays=2, arange=180.0, pxsize_mm=0.01, num_flats=1, num_darks=1)


def _write(path, nangles=NANG, *, num_flats=2, num_darks=3, **kw):
    """Random counts written to ``path``: (proj, flats, darks, flat positions)."""
    return write_random_scan(
        path,
        nangles=nangles,
        nslices=NSL,
        nrays=NRAY,
        num_flats=num_flats,
        num_darks=num_darks,
        **kw,
    )


@pytest.mark.parametrize("layout", ["als", "dxchange"])
@pytest.mark.parametrize("i0cycle", [0, 3])
def test_roundtrip_exact(tmp_path, layout, i0cycle):
    path = tmp_path / f"20200101_120000_rock_{layout}.h5"
    proj, flats, darks, positions = _write(
        path,
        i0cycle=i0cycle,
        layout=layout,
        dataset="20200101_120000_rock",
        energy_kev=24.5,
        camera_distance_mm=60.0,
    )
    expected_pos = (0, 7) if i0cycle == 0 else (0, 3, 6, 7)
    assert positions == expected_pos
    with open_scan(path) as scan:
        m = scan.meta
        assert isinstance(m, ScanMetadata)
        assert (m.layout, m.dataset) == (layout, "20200101_120000_rock")
        assert (m.nangles, m.nslices, m.nrays) == (NANG, NSL, NRAY)
        assert m.arange == 180.0
        assert m.pxsize_mm == 0.00065
        assert m.pxsize_cm == pytest.approx(0.000065, rel=1e-12)
        assert (m.i0cycle, m.num_flats, m.num_darks) == (i0cycle, 2, 3)
        assert m.flat_positions == expected_pos
        assert m.energy_kev == pytest.approx(24.5)
        assert m.camera_distance_mm == pytest.approx(60.0)
        p = scan.read_projections()
        f = scan.read_flats()
        d = scan.read_darks()
        assert p.dtype == f.dtype == d.dtype == np.float32
        np.testing.assert_array_equal(p, proj.astype(np.float32))
        np.testing.assert_array_equal(f, flats.astype(np.float32))
        np.testing.assert_array_equal(d, darks.astype(np.float32))
        np.testing.assert_array_equal(scan.flat_indices, np.repeat(expected_pos, 2))
        with pytest.raises(ValueError):
            scan.flat_indices[0] = 5  # read-only
    assert scan.closed


@pytest.mark.parametrize("layout", ["als", "dxchange"])
def test_subranges_with_steps(tmp_path, layout):
    path = tmp_path / "scan.h5"
    proj, flats, darks, _ = _write(path, seed=1, layout=layout, pxsize_mm=0.001)
    with open_scan(path) as scan:
        cases = [
            ((1, 8, 3), (1, 6, 2), np.s_[1:8:3], np.s_[1:6:2]),
            ((None, 4), (2, None), np.s_[:4], np.s_[2:]),
            (slice(-3, None), slice(0, 6, 5), np.s_[-3:], np.s_[0:6:5]),
            (5, -1, np.s_[5:6], np.s_[5:6]),
            ((0, 8, 1), (3, 4), np.s_[0:8], np.s_[3:4]),
        ]
        for pr, rr, ps, rs in cases:
            got = scan.read_projections(proj=pr, rows=rr)
            np.testing.assert_array_equal(got, proj[ps][:, rs].astype(np.float32))
        np.testing.assert_array_equal(scan.read_flats(rows=(1, 6, 2)), flats[:, 1:6:2].astype(np.float32))
        np.testing.assert_array_equal(scan.read_darks(rows=(4, 6)), darks[:, 4:6].astype(np.float32))


def test_old_layout_is_written_as_the_beamline_did(tmp_path):
    path = tmp_path / "s.h5"
    proj, flats, _, _ = _write(
        path,
        7,
        i0cycle=3,
        num_darks=2,
        seed=2,
        dataset="20151215_sample",
        arange=360.0,
        pxsize_mm=0.0013,
        owner="jdoe",
        angles_deg=np.linspace(0, 360, 7),
    )
    with h5py.File(path, "r") as f:
        assert set(f.keys()) == {"20151215_sample"}
        for key in ("dataset", "owner", "facility", "end_station", "stage", "stage_date", "uuid"):
            assert key in f.attrs
        assert f.attrs["owner"] == b"jdoe"
        g = f["20151215_sample"]
        names = sorted(g.keys())
        assert names == sorted(
            [f"20151215_sample_0000_{i:04d}.tif" for i in range(7)]
            + [f"20151215_samplebak_{k:04d}_{p:04d}.tif" for k in range(2) for p in (0, 3, 6)]
            + [f"20151215_sampledrk_{k:04d}_0006.tif" for k in range(2)]
        )
        d = g["20151215_sample_0000_0004.tif"]
        assert d.shape == (1, NSL, NRAY) and d.dtype == np.uint16
        np.testing.assert_array_equal(d[0], proj[4])
        np.testing.assert_array_equal(g["20151215_samplebak_0001_0003.tif"][0], flats[3])
        assert d.attrs["rot_angle"] == b"240\r"
        raw = dict(g.attrs)
        assert raw["nangles"] == b"7\r"
        assert raw["pxsize"] == b"0.0013\r"
        assert raw["arange"] == b"360\r"
        assert raw["senergy"] == b"24000\r"
        assert raw["Camera_Z_Support"] == b"75\r"
        assert raw["i0cycle"] == b"3\r"
        assert raw["num_bright_field"] == b"2\r"
        assert raw["num_dark_fields"] == b"2\r"
        assert all(isinstance(v, bytes) and v.endswith(b"\r") for v in raw.values())


def test_attribute_parsing(tmp_path):
    path = tmp_path / "a.h5"
    _write(
        path,
        4,
        num_flats=1,
        num_darks=1,
        extra_attrs={"scurrent": 500.2, "lens_name": "10x ", "nhalfCir": 0, "exptime": "1.5e-1"},
    )
    with h5py.File(path, "r+") as f:  # a value the way some beamline files had it
        f["a"].attrs["Dark_Offset"] = np.bytes_(b"  12 \r\r")
    with open_scan(path) as scan:
        a = scan.meta.attrs
        assert a["scurrent"] == 500.2 and isinstance(a["scurrent"], float)
        assert a["nhalfCir"] == 0 and isinstance(a["nhalfCir"], int)
        assert a["exptime"] == pytest.approx(0.15)
        assert a["lens_name"] == "10x"
        assert a["Dark_Offset"] == 12
        assert a["scanner"] == "ALS 8.3.2"
        assert a["facility"] == "als" and a["end_station"] == "bl832"
        assert a["pxsize"] == 0.00065
        with pytest.raises(TypeError):
            a["pxsize"] = 1.0  # read-only mapping
        with pytest.raises(AttributeError):
            scan.meta.nangles = 3  # frozen


def test_nested_group(tmp_path):
    path = tmp_path / "tile.h5"
    proj, flats, _, _ = _write(
        path,
        5,
        i0cycle=2,
        num_flats=1,
        num_darks=2,
        seed=3,
        dataset="20180101_tile_x00y01",
        pxsize_mm=0.0033,
        nest_group="20180101_tiled",
    )
    with h5py.File(path, "r") as f:
        assert list(f.keys()) == ["20180101_tiled"]
        assert list(f["20180101_tiled"].keys()) == ["20180101_tile_x00y01"]
    with open_scan(path) as scan:
        assert scan.meta.dataset == "20180101_tile_x00y01"
        assert scan.meta.flat_positions == (0, 2, 4)
        np.testing.assert_array_equal(scan.read_projections(rows=(2, 4)), proj[:, 2:4])
        np.testing.assert_array_equal(scan.read_flats(), flats)
        np.testing.assert_array_equal(scan.flat_indices, [0, 2, 4])


@pytest.mark.parametrize("layout", ["als", "dxchange"])
def test_file_unchanged_after_reading(tmp_path, layout):
    path = tmp_path / "ro.h5"
    _write(path, i0cycle=3, seed=4, layout=layout)
    old = time.time() - 1000
    os.utime(path, (old, old))
    before = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    with open_scan(path) as scan:
        scan.read_projections(proj=(0, 8, 2), rows=(1, 3))
        scan.read_flats()
        scan.read_darks()
        scan.angles(use_rot_angle=False)
    after = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    assert after == before


def test_flat_positions():
    assert expected_flat_positions(1500, 0) == (0, 1499)
    assert expected_flat_positions(10, 3) == (0, 3, 6, 9)
    assert expected_flat_positions(11, 3) == (0, 3, 6, 9, 10)
    assert expected_flat_positions(1, 0) == (0,)


@pytest.mark.parametrize("layout", ["als", "dxchange"])
def test_writer_streams_any_order_and_casts(tmp_path, layout):
    path = tmp_path / "w.h5"
    order = [3, 0, 2, 1]
    with RawScanWriter(path, layout=layout, dataset="w", **{**TINY, "nangles": 4, "nrays": 3}) as w:
        assert not path.exists()  # written under a temporary name
        for i in order:
            w.write_projection(i, np.full((1, 2, 3), 10.4 * i + 1))  # float, (1, ny, nx)
        for p in w.flat_positions:
            w.write_flat(p, 0, np.full((2, 3), 1000 + p, dtype=np.int64))
        w.write_dark(0, np.zeros((2, 3), dtype=np.uint8))
    assert path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["w.h5"]
    with open_scan(path) as scan:
        np.testing.assert_array_equal(scan.read_projections()[:, 0, 0], [1, 11, 22, 32])
        np.testing.assert_array_equal(scan.read_flats()[:, 1, 2], [1000, 1003])


def test_writer_incomplete_or_failing_leaves_nothing(tmp_path):
    path = tmp_path / "inc.h5"
    kw = dict(layout="als", dataset="inc", **TINY)
    with (
        pytest.raises(OutputError, match=r"projections \[2\].*darks \[0\].*flats"),
        RawScanWriter(path, **kw) as w,
    ):
        w.write_projection(0, np.zeros((2, 2)))
        w.write_projection(1, np.zeros((2, 2)))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(KeyError), RawScanWriter(path, **kw) as w:
        w.write_projection(0, np.zeros((2, 2)))
        raise KeyError("simulated failure")
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_bad_input(tmp_path):
    kw = dict(layout="dxchange", dataset="bad", **TINY)
    with pytest.raises(ParameterError, match="layout"):
        RawScanWriter(tmp_path / "x.h5", **{**kw, "layout": "tiff"})
    with pytest.raises(ParameterError, match="nangles"):
        RawScanWriter(tmp_path / "x.h5", **{**kw, "nangles": 0})
    with pytest.raises(ParameterError, match="angles_deg"):
        RawScanWriter(tmp_path / "x.h5", **kw, angles_deg=[0.0, 1.0])
    with (
        pytest.raises(OutputError, match="does not exist"),
        RawScanWriter(tmp_path / "nodir" / "x.h5", **kw),
    ):
        pass
    with pytest.raises(RangeError, match="0 <= i < 3"), RawScanWriter(tmp_path / "x.h5", **kw) as w:
        w.write_projection(3, np.zeros((2, 2)))
    with pytest.raises(RangeError, match="position"), RawScanWriter(tmp_path / "x.h5", **kw) as w:
        w.write_flat(1, 0, np.zeros((2, 2)))
    with (
        pytest.raises(ParameterError, match=r"shape \(2, 3\)"),
        RawScanWriter(tmp_path / "x.h5", **kw) as w,
    ):
        w.write_dark(0, np.zeros((2, 3)))
    with (
        pytest.raises(ParameterError, match="0..65535"),
        RawScanWriter(tmp_path / "x.h5", **kw) as w,
    ):
        w.write_dark(0, np.full((2, 2), 70000.0))
    assert list(tmp_path.iterdir()) == []
