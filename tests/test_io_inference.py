"""Metadata missing from real files is inferred from image names and shapes."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from alsmicroct.io import open_scan, write_scan
from alsmicroct.io._common import expected_flat_positions, infer_i0cycle
from alsmicroct.testing import write_random_scan

NSL, NRAY = 3, 4


def _write(path, nangles, i0cycle, num_flats, num_darks, layout="als", **kw):
    scan = write_random_scan(
        path,
        nangles=nangles,
        nslices=NSL,
        nrays=NRAY,
        i0cycle=i0cycle,
        num_flats=num_flats,
        num_darks=num_darks,
        seed=nangles + i0cycle,
        high=60000,
        layout=layout,
        dataset="inf",
        **kw,
    )
    return scan.proj, scan.flats, scan.darks


@pytest.mark.parametrize(("nangles", "i0cycle"), [(9, 0), (9, 4), (10, 4), (12, 3)])
def test_old_layout_counts_inferred_from_names(tmp_path, nangles, i0cycle):
    omit = ("nangles", "nslices", "nrays", "i0cycle", "num_bright_field", "num_dark_fields")
    path = tmp_path / "inf.h5"
    proj, flats, darks = _write(path, nangles, i0cycle, 3, 4, omit_attrs=omit)
    with h5py.File(path, "r") as f:
        assert not set(omit) & set(f["inf"].attrs)
    with open_scan(path) as scan:
        m = scan.meta
        assert (m.nangles, m.nslices, m.nrays) == (nangles, NSL, NRAY)
        assert m.i0cycle == i0cycle
        assert (m.num_flats, m.num_darks) == (3, 4)
        assert m.flat_positions == expected_flat_positions(nangles, i0cycle)
        np.testing.assert_array_equal(scan.read_projections(), proj)
        np.testing.assert_array_equal(scan.read_flats(), flats)
        np.testing.assert_array_equal(scan.read_darks(), darks)


@pytest.mark.parametrize("group", ["a_group_with_another_name", "in"])
def test_dataset_name_without_root_attribute_or_matching_group(tmp_path, group):
    path = tmp_path / "renamed.h5"
    proj, _, _ = _write(path, 5, 0, 1, 1, omit_attrs=("dataset",))
    with h5py.File(path, "r+") as f:
        f.move("inf", group)
    with open_scan(path) as scan:
        assert scan.meta.dataset == "inf"
        assert scan.meta.flat_positions == (0, 4)
        np.testing.assert_array_equal(scan.read_projections(proj=(4,)), proj[4:])


def test_dataset_name_ending_in_drk_resolved_by_group_name(tmp_path):
    rng = np.random.default_rng(5)
    proj = rng.integers(0, 100, (4, NSL, NRAY), dtype=np.uint16)
    path = tmp_path / "fedrk.h5"
    write_scan(
        path,
        proj,
        np.zeros((2, NSL, NRAY)),
        np.ones((1, NSL, NRAY)),
        layout="als",
        dataset="sample_fedrk",
        arange=180.0,
        pxsize_mm=0.001,
        num_flats=1,
    )
    with open_scan(path) as scan:
        assert scan.meta.dataset == "sample_fedrk"
        assert (scan.meta.nangles, scan.meta.num_darks) == (4, 1)
        np.testing.assert_array_equal(scan.read_projections(), proj)


def test_extra_projection_images_beyond_nangles_are_ignored(tmp_path):
    path = tmp_path / "extra.h5"
    proj, _, _ = _write(path, 6, 0, 1, 1)
    with h5py.File(path, "r+") as f:
        f["inf/inf_0000_0006.tif"] = np.zeros((1, NSL, NRAY), np.uint16)
    with open_scan(path) as scan:
        assert scan.meta.nangles == 6
        np.testing.assert_array_equal(scan.read_projections(), proj)


def test_flat_images_decide_over_attributes(tmp_path):
    path = tmp_path / "flats.h5"
    _, flats, _ = _write(path, 7, 3, 2, 1)
    with h5py.File(path, "r+") as f:
        f["inf"].attrs["num_bright_field"] = np.bytes_(b"5\r")
        f["inf"].attrs["nslices"] = np.bytes_(b"2048\r")
    with open_scan(path) as scan:
        assert scan.meta.num_flats == 2
        assert scan.meta.nslices == NSL
        assert scan.meta.attrs["num_bright_field"] == 5
        np.testing.assert_array_equal(scan.read_flats(), flats)


def test_arange_inferred_from_rot_angle(tmp_path):
    path = tmp_path / "rot.h5"
    _write(path, 5, 0, 1, 1, omit_attrs=("arange",), angles_deg=[10, 55, 100, 145, 190])
    with open_scan(path) as scan:
        assert scan.meta.arange == 180.0


def test_infer_i0cycle_helper():
    assert infer_i0cycle(100, [0, 99]) == 0
    assert infer_i0cycle(100, [0]) == 0
    assert infer_i0cycle(100, [0, 25, 50, 75, 99]) == 25
    assert infer_i0cycle(10, [9, 0, 3, 6]) == 3


@pytest.mark.parametrize(("nangles", "i0cycle"), [(9, 0), (9, 4), (12, 3), (1500, 200)])
def test_dx_i0cycle_inferred_from_white_count(tmp_path, nangles, i0cycle):
    path = tmp_path / "dx.h5"
    _, flats, _ = _write(path, nangles, i0cycle, 2, 1, layout="dxchange", omit_attrs=("i0cycle",))
    with open_scan(path) as scan:
        m = scan.meta
        assert m.i0cycle == i0cycle
        assert m.flat_positions == expected_flat_positions(nangles, i0cycle)
        np.testing.assert_array_equal(scan.flat_indices, np.repeat(expected_flat_positions(nangles, i0cycle), 2))
        np.testing.assert_array_equal(scan.read_flats(), flats)


def test_dx_flats_without_counts(tmp_path):
    path = tmp_path / "dxn.h5"
    _write(
        path,
        8,
        0,
        3,
        2,
        layout="dxchange",
        omit_attrs=("i0cycle", "num_flat_fields", "num_dark_fields"),
    )
    with open_scan(path) as scan:
        assert (scan.meta.num_flats, scan.meta.num_darks) == (3, 2)
        np.testing.assert_array_equal(scan.flat_indices, [0, 0, 0, 7, 7, 7])


def test_dx_theta_inferred_from_range(tmp_path):
    path = tmp_path / "dxth.h5"
    _write(path, 5, 0, 1, 1, layout="dxchange", omit_attrs=("theta",))
    with open_scan(path) as scan:
        np.testing.assert_allclose(np.rad2deg(scan.angles()), [0, 45, 90, 135, 180])


def test_dx_without_white_or_dark(tmp_path):
    path = tmp_path / "dxe.h5"
    _write(path, 4, 0, 1, 1, layout="dxchange")
    with h5py.File(path, "r+") as f:
        del f["exchange/data_white"]
        del f["exchange/data_dark"]
    with open_scan(path) as scan:
        assert scan.read_flats(rows=(0, 2)).shape == (0, 2, NRAY)
        assert scan.read_darks().shape == (0, NSL, NRAY)
        assert scan.flat_indices.shape == (0,)
        assert scan.meta.flat_positions == ()


def test_dx_malformed_optional_value_ignored_required_fatal(tmp_path):
    path = tmp_path / "dxm.h5"
    _write(path, 4, 0, 1, 1, layout="dxchange")
    with h5py.File(path, "r+") as f:
        del f["measurement/instrument/monochromator/energy"]
        f["measurement/instrument/monochromator/energy"] = np.array([b"n/a"])
    with open_scan(path) as scan:
        assert scan.meta.energy_kev is None
        assert scan.meta.camera_distance_mm == 75.0
    with h5py.File(path, "r+") as f:
        del f["measurement/instrument/detector/pixel_size"]
        f["measurement/instrument/detector/pixel_size"] = np.array([b"n/a"])
    with open_scan(path) as scan:  # optional since issue 12: warning and 1/pixel fallback
        assert scan.meta.pxsize_source == "none"
