"""Data Exchange files written elsewhere (issue 12): other beamlines and the sample files of
other toolkits (TomoPy/dxchange style: ``/exchange/data``, ``data_white``, ``data_dark``,
often no ``theta``, no ALS metadata, float32 data). Missing optional metadata is a warning
with a documented fallback, never a refusal of the whole file."""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest

from alsmicroct.errors import AlsMicroCTError, InputFileError
from alsmicroct.io import open_scan

NANG, NSL, NRAY = 19, 3, 24


def _foreign(path, *, dtype=np.uint16, theta=None, white=True, dark=True, pixel_size=None, energy=None, distance=None):
    """A minimal Data Exchange file as other toolkits write it (h5py only)."""
    rng = np.random.default_rng(1)
    proj = rng.uniform(2000, 3000, (NANG, NSL, NRAY)).astype(dtype)
    with h5py.File(path, "w") as f:
        f["exchange/data"] = proj
        if white:
            f["exchange/data_white"] = rng.uniform(3500, 4000, (4, NSL, NRAY)).astype(dtype)
        if dark:
            f["exchange/data_dark"] = rng.uniform(90, 110, (2, NSL, NRAY)).astype(dtype)
        if theta is not None:
            f["exchange/theta"] = np.asarray(theta, dtype=np.float32)
        if pixel_size is not None:
            f["measurement/instrument/detector/pixel_size"] = np.array([pixel_size])
        if energy is not None:
            f["measurement/instrument/monochromator/energy"] = np.array([energy])
        if distance is not None:
            f["measurement/instrument/camera_motor_stack/setup/camera_distance"] = np.array([distance])
    return path, proj


def test_tomopy_style_sample_opens_with_warnings(tmp_path, caplog):
    """No theta, no range, no pixel size, no energy or distance (like TomoPy's tooth.h5)."""
    path, proj = _foreign(tmp_path / "tooth.h5")
    with caplog.at_level(logging.WARNING), open_scan(path) as scan:
        m = scan.meta
        assert (m.nangles, m.nslices, m.nrays) == (NANG, NSL, NRAY)
        assert m.pxsize_source == "none" and m.pxsize_cm == 1.0  # output in 1/pixel
        assert m.arange == 180.0 and m.energy_kev is None and m.camera_distance_mm is None
        np.testing.assert_allclose(np.rad2deg(scan.angles()), np.linspace(0, 180, NANG))
        np.testing.assert_array_equal(scan.read_projections(), proj.astype(np.float32))
        assert "pixel size unknown" in m.summary()
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "no detector pixel size" in text and "1/pixel" in text and "180 deg" in text


def test_pixel_size_keyword_wins_and_is_recorded(tmp_path):
    path, _ = _foreign(tmp_path / "px.h5")
    with open_scan(path, pixel_size=0.0013) as scan:
        assert scan.meta.pxsize_source == "keyword" and scan.meta.pxsize_mm == 0.0013
    path2, _ = _foreign(tmp_path / "px2.h5", pixel_size=0.00065)
    with open_scan(path2) as scan:
        assert scan.meta.pxsize_source == "file" and scan.meta.pxsize_mm == 0.00065
    with open_scan(path2, pixel_size=0.001) as scan:
        assert scan.meta.pxsize_source == "keyword" and scan.meta.pxsize_mm == 0.001


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_impossible_pixel_size_keyword_refused(tmp_path, bad):
    path, _ = _foreign(tmp_path / "pxbad.h5")
    with pytest.raises(AlsMicroCTError, match=r"pxbad\.h5: pixel_size="):
        open_scan(path, pixel_size=bad)


def test_float32_projections(tmp_path):
    path, proj = _foreign(tmp_path / "f32.h5", dtype=np.float32, theta=np.linspace(0, 180, NANG))
    with open_scan(path) as scan:
        np.testing.assert_array_equal(scan.read_projections(rows=1), proj[:, 1:2])


def test_angles_short_of_180_open_with_a_warning(tmp_path, caplog):
    theta = np.arange(NANG) * 5.0  # 0..90 deg
    path, _ = _foreign(tmp_path / "short.h5", theta=theta, pixel_size=0.001)
    with caplog.at_level(logging.WARNING), open_scan(path) as scan:
        assert scan.meta.arange == 90.0
        np.testing.assert_allclose(np.rad2deg(scan.angles()), theta)
    assert any("covers 90 deg" in r.getMessage() for r in caplog.records)


def test_endpoint_excluded_180_is_not_short(tmp_path, caplog):
    theta = np.arange(NANG) * 180.0 / NANG  # 0..170.5, endpoint excluded as np.linspace(..., endpoint=False)
    path, _ = _foreign(tmp_path / "full.h5", theta=theta, pixel_size=0.001)
    with caplog.at_level(logging.WARNING), open_scan(path):
        pass
    assert not any("covers" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("missing", ["white", "dark"])
def test_missing_flats_or_darks_group_opens(tmp_path, missing, caplog):
    path, _ = _foreign(tmp_path / f"no_{missing}.h5", **{missing: False}, pixel_size=0.001)
    with caplog.at_level(logging.WARNING), open_scan(path) as scan:
        n = scan.read_flats().shape[0] if missing == "white" else scan.read_darks().shape[0]
        assert n == 0
        scan.read_projections()
    assert any(f"data_{missing}" in r.getMessage() for r in caplog.records)


def test_old_layout_without_pxsize_falls_back(tmp_path):
    from alsmicroct.testing import write_random_scan

    path = tmp_path / "nopx.h5"
    write_random_scan(path, nangles=4, nslices=2, nrays=8, omit_attrs=("pxsize",))
    with open_scan(path) as scan:
        assert scan.meta.pxsize_source == "none"
    with open_scan(path, pixel_size=0.002) as scan:
        assert scan.meta.pxsize_source == "keyword" and scan.meta.pxsize_cm == pytest.approx(0.0002)


@pytest.mark.parametrize("value", [None, 5, 3.5, b"", "", ["a.h5"]])
def test_open_scan_non_path_is_input_file_error(value):
    with pytest.raises(InputFileError, match=r"path=.*expected the path of a raw HDF5 file"):
        open_scan(value)


@pytest.mark.parametrize("value", [None, 5])
def test_recon_filename_not_a_path_is_alsmicroct_error(value):
    from alsmicroct.reconstruction import recon

    with pytest.raises(InputFileError, match=r"filename="):
        recon(value)
