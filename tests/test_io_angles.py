"""Projection angles of both layouts, against the formulas of docs/geometry.md."""

from __future__ import annotations

import numpy as np
import pytest

from alsmicroct.io import open_scan, write_scan
from alsmicroct.io._common import expected_flat_positions

NSL, NRAY = 2, 3


def _write(path, nangles, layout, arange=180.0, **kw):
    proj = np.arange(nangles * NSL * NRAY, dtype=np.uint16).reshape(nangles, NSL, NRAY)
    nflat = len(expected_flat_positions(nangles, 0))
    write_scan(
        path,
        proj,
        np.ones((nflat, NSL, NRAY)),
        np.zeros((1, NSL, NRAY)),
        layout=layout,
        dataset="ang",
        arange=arange,
        pxsize_mm=0.00065,
        num_flats=1,
        **kw,
    )


def test_old_layout_default_angles(tmp_path):
    path = tmp_path / "a.h5"
    _write(path, 1313, "als", arange=180.0)
    with open_scan(path) as scan:
        assert scan.meta.first_angle == 0.0
        th = scan.angles()
        assert th.dtype == np.float64 and th.shape == (1313,)
        i = np.arange(1313)
        np.testing.assert_allclose(np.rad2deg(th), 270.0 - i * 180.0 / 1312, rtol=0, atol=1e-9)
        # decreasing, both ends included
        assert np.rad2deg(th[0]) == pytest.approx(270.0)
        assert np.rad2deg(th[-1]) == pytest.approx(90.0)
        assert np.all(np.diff(th) < 0)
        th_off = scan.angles(angle_offset=12.5)
        np.testing.assert_allclose(th_off - th, np.deg2rad(12.5), atol=1e-12)
        np.testing.assert_allclose(scan.angles(proj=(10, 1000, 7)), th[10:1000:7], atol=0)


def test_old_layout_first_angle_and_rot_angle(tmp_path):
    path = tmp_path / "rot.h5"
    rng = np.random.default_rng(0)
    nominal = 30.0 + np.arange(9) * 360.0 / 8
    measured = nominal + rng.normal(0, 0.01, 9)
    measured[0] = 30.0
    _write(path, 9, "als", arange=360.0, angles_deg=measured)
    with open_scan(path) as scan:
        m = scan.meta
        assert m.first_angle == 30.0
        np.testing.assert_allclose(m.rot_angles, measured, atol=1e-8)
        default = np.rad2deg(scan.angles(angle_offset=-5.0))
        np.testing.assert_allclose(default, 270 - 5 - 30 - np.arange(9) * 45.0, atol=1e-9)
        rot = np.rad2deg(scan.angles(angle_offset=-5.0, use_rot_angle=True))
        np.testing.assert_allclose(rot, 270 - 5 - measured, atol=1e-8)
        # the two agree at the first projection and within the stage jitter elsewhere
        assert rot[0] == pytest.approx(default[0])
        assert np.max(np.abs(rot - default)) < 0.05


def test_single_projection(tmp_path):
    path = tmp_path / "one.h5"
    _write(path, 1, "als")
    with open_scan(path) as scan:
        np.testing.assert_allclose(np.rad2deg(scan.angles()), [270.0])


def test_dxchange_theta(tmp_path):
    path = tmp_path / "dx.h5"
    theta = np.linspace(0.0, 180.0, 7, endpoint=False) + 0.25
    _write(path, 7, "dxchange", angles_deg=theta)
    with open_scan(path) as scan:
        np.testing.assert_allclose(scan.angles(), np.deg2rad(theta), atol=1e-12)
        np.testing.assert_allclose(
            scan.angles(proj=(1, 7, 2), angle_offset=3.0),
            np.deg2rad(theta[1:7:2] + 3.0),
            atol=1e-12,
        )
        # use_rot_angle has no effect on Data Exchange files: theta is per projection
        np.testing.assert_array_equal(scan.angles(use_rot_angle=True), scan.angles())
        assert scan.meta.first_angle == pytest.approx(0.25)
        np.testing.assert_allclose(scan.meta.rot_angles, theta)


@pytest.mark.parametrize("layout", ["als", "dxchange"])
def test_angles_agree_with_the_simulator(sim_scans, layout):
    """The simulator projects with the angles of docs/geometry.md; the reader must return
    the same ones from its files (ground truth: SimulatedScan.angles)."""
    sim = sim_scans[layout]
    with open_scan(sim.path) as scan:
        np.testing.assert_allclose(scan.angles(), sim.angles, rtol=0, atol=1e-9)
        assert scan.meta.pxsize_cm == pytest.approx(sim.pxsize_cm, rel=1e-9)
        assert scan.meta.flat_positions == tuple(sim.flat_positions)
        assert scan.meta.layout == layout
