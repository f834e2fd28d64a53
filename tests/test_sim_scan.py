"""Simulated raw files: metadata through the reader, truth file, geometry end to end, CLI."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.io import open_scan
from alsmicroct.sim import phantom_volume, simulate_data, simulate_scan
from alsmicroct.sim.__main__ import main


def _fbp(sino, theta, cor, size):
    """Plain ramp-filtered backprojection on the frame of docs/geometry.md (reference)."""
    nang, n = sino.shape
    k = np.arange(-n + 1, n)
    ramlak = np.where(k == 0, 0.25, np.where(k % 2 == 1, -1.0 / (math.pi * np.maximum(np.abs(k), 1)) ** 2, 0.0))
    filt = np.stack([np.convolve(row, ramlak)[n - 1 : 2 * n - 1] for row in sino])
    c = (size - 1) / 2
    y, x = np.mgrid[0:size, 0:size] - c
    out = np.zeros((size, size))
    for q, t in zip(filt, theta, strict=False):
        s = x * math.cos(t) - y * math.sin(t) + cor
        out += np.interp(s, np.arange(n), q, left=0.0, right=0.0)
    return out * math.pi / nang


@pytest.mark.parametrize("layout", ["als", "dxchange"])
def test_written_file_matches_inputs(tmp_path, layout):
    params = dict(
        nangles=61,
        nslices=6,
        nrays=64,
        arange=180.0,
        cor=33.4,
        pxsize_mm=0.0013,
        energy_kev=30.0,
        distance_mm=50.0,
        i0cycle=20,
        num_flats=3,
        num_darks=4,
        seed=1,
    )
    s = simulate_scan(tmp_path / f"scan_{layout}.h5", layout=layout, **params)
    assert s.truth_path == tmp_path / f"scan_{layout}_truth.h5"
    with open_scan(s.path) as scan:
        m = scan.meta
        assert (m.layout, m.nangles, m.nslices, m.nrays) == (layout, 61, 6, 64)
        assert m.arange == pytest.approx(180.0)
        assert m.pxsize_mm == pytest.approx(0.0013)
        assert m.pxsize_cm == pytest.approx(s.pxsize_cm)
        assert m.energy_kev == pytest.approx(30.0)
        assert m.camera_distance_mm == pytest.approx(50.0)
        assert (m.i0cycle, m.num_flats, m.num_darks) == (20, 3, 4)
        assert tuple(m.flat_positions) == s.flat_positions == (0, 20, 40, 60)
        assert np.allclose(scan.angles(), s.angles, atol=1e-12)
        assert math.degrees(s.angles[0]) == pytest.approx(270.0)
        assert math.degrees(s.angles[-1]) == pytest.approx(90.0)
        proj = scan.read_projections(rows=(2, 4))
        flats = scan.read_flats(rows=(2, 4))
        darks = scan.read_darks(rows=(2, 4))
        assert proj.shape == (61, 2, 64) and flats.shape == (12, 2, 64) and darks.shape == (4, 2, 64)
        # the same images as the in-memory simulation
        mem = simulate_data(**params)
        assert np.array_equal(proj, mem.proj[:, 2:4].astype(np.float32))
        assert np.array_equal(flats, mem.flats[:, 2:4].astype(np.float32))
        assert np.array_equal(scan.flat_indices, mem.flat_indices)
    with h5py.File(s.truth_path, "r") as f:
        assert f["volume"].shape == (6, 64, 64)
        assert f["cor"][()] == pytest.approx(33.4)
        assert np.allclose(f["angles"][...], s.angles)
        params = json.loads(f.attrs["parameters"])
        assert params["nangles"] == 61 and params["cor"] == 33.4
    assert np.array_equal(s.volume(), mem.volume())
    assert np.array_equal(s.volume(rows=[3]), s.volume()[3:4])


@pytest.mark.parametrize("layout", ["als", "dxchange"])
def test_reconstruction_returns_the_truth(tmp_path, layout):
    # end to end through the reader: orientation, position and scale of the frame
    s = simulate_scan(
        tmp_path / "r.h5",
        layout=layout,
        phantom="rock",
        nangles=181,
        nslices=2,
        nrays=72,
        cor=37.3,
        noise=False,
        flat_drift=0.0,
        seed=4,
    )
    with open_scan(s.path) as scan:
        p = scan.read_projections()
        fl = scan.read_flats().mean(axis=0)
        dk = scan.read_darks().mean(axis=0)
        theta = scan.angles()
    sino = -np.log((p - dk) / (fl - dk))[:, 1]
    rec = _fbp(sino, theta, s.cor, 72) / s.pxsize_cm
    truth = s.volume(rows=[1])[0]
    yy, xx = np.mgrid[0:72, 0:72] - 35.5
    inner = np.hypot(xx, yy) < 30
    scale = (rec[inner] * truth[inner]).sum() / (truth[inner] ** 2).sum()
    assert scale == pytest.approx(1.0, abs=0.05)
    assert np.corrcoef(rec[inner], truth[inner])[0, 1] > 0.9
    # a flipped or shifted truth fits worse
    for wrong in (truth[::-1], truth[:, ::-1], truth.T, np.roll(truth, 1, axis=1)):
        assert np.corrcoef(rec[inner], wrong[inner])[0, 1] < np.corrcoef(rec[inner], truth[inner])[0, 1] - 0.03


def test_offset_axis_360_scan(tmp_path):
    s = simulate_scan(
        tmp_path / "o.h5",
        nangles=121,
        nslices=2,
        nrays=64,
        arange=360.0,
        cor=52.0,
        write_truth=False,
        phantom="rock",
    )
    assert s.truth_path is None
    assert s.truth_size == 106 and s.truth_size % 2 == 64 % 2
    vol = s.volume()
    assert vol.shape == (2, 106, 106)
    # the sample reaches beyond the short side of the axis, within the far side
    radius_px = s.phantom.radius_cm() / s.pxsize_cm
    assert 64 - 0.5 - 52.0 < radius_px < 52.5
    li = s.line_integrals()
    assert li[:, :, -1].min() > 0.05  # the sample is cut by the near edge at every angle
    assert li[:, :, 0].max() == 0.0
    # 360 deg: theta and theta + 180 deg (60 steps of 3 deg) are mirror images about cor
    j = np.arange(41, 64)
    assert np.allclose(li[0][:, j], li[60][:, (104 - j)], atol=1e-5)
    assert math.degrees(s.angles[0] - s.angles[-1]) == pytest.approx(360.0)


def test_defaults_are_realistic():
    s = simulate_data(nangles=19, nslices=4, nrays=128)
    assert s.cor == pytest.approx(63.5 + 0.02 * 128)
    li = s.line_integrals()
    assert 1.2 < li.max() < 1.7  # transmission not below ~20 %
    assert li[:, :, :3].max() == 0.0 and li[:, :, -3:].max() == 0.0  # inside the view
    assert s.volume().shape == (4, 128, 128)


def test_parameter_errors(tmp_path):
    with pytest.raises(ParameterError, match="nangle"):
        simulate_data(nangle=10)
    with pytest.raises(ParameterError, match="cor"):
        simulate_data(nrays=32, cor=40.0)
    with pytest.raises(ParameterError, match="phantom"):
        simulate_data(phantom="brain")
    with pytest.raises(ParameterError, match="layout"):
        simulate_scan(tmp_path / "x.h5", layout="tiff")
    with pytest.raises(ParameterError, match="nslices"):
        simulate_data(nslices=0)


def test_command_line(tmp_path, capsys):
    out = tmp_path / "cli.h5"
    rc = main(
        [
            str(out),
            "--layout",
            "dxchange",
            "--phantom",
            "foam",
            "--nangles",
            "31",
            "--nslices",
            "3",
            "--nrays",
            "48",
            "--cor",
            "24.5",
            "--zingers",
            "1e-3",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "cli_truth.h5" in printed
    with open_scan(out) as scan:
        assert scan.meta.layout == "dxchange" and scan.meta.nrays == 48
    with h5py.File(tmp_path / "cli_truth.h5", "r") as f:
        assert f["cor"][()] == pytest.approx(24.5)
        assert len(f["artefacts/zingers"]) > 0
    assert main([str(tmp_path / "bad.h5"), "--nangles", "1"]) == 2


@pytest.mark.parametrize("layout", ["als", "dxchange"])
def test_first_stage_angle(tmp_path, layout):
    s = simulate_scan(
        tmp_path / "f.h5",
        layout=layout,
        nangles=7,
        nslices=2,
        nrays=32,
        first_angle=30.0,
        write_truth=False,
    )
    assert np.allclose(np.rad2deg(s.angles), 240.0 - 30.0 * np.arange(7))
    with open_scan(s.path) as scan:
        assert np.allclose(scan.angles(), s.angles, atol=1e-12)
        if layout == "als":
            assert np.allclose(scan.angles(use_rot_angle=True), s.angles, atol=1e-9)


def test_tilted_scan_has_the_same_sample():
    a = simulate_data(nangles=2, nslices=4, nrays=64, phantom="rock", tilt_deg=0.0)
    b = simulate_data(nangles=2, nslices=4, nrays=64, phantom="rock", tilt_deg=1.5)
    assert np.array_equal(a.phantom.centers, b.phantom.centers)
    assert np.array_equal(a.volume(), b.volume())
    assert not np.array_equal(a.proj, b.proj)


def test_resimulating_to_the_same_path_replaces_the_truth(tmp_path):
    first = simulate_scan(tmp_path / "same.h5", phantom="shepp", nangles=31, nslices=2, nrays=32)
    old = first.volume()
    second = simulate_scan(tmp_path / "same.h5", phantom="rock", nangles=31, nslices=2, nrays=32)
    assert not np.array_equal(old, second.volume())
    assert np.array_equal(
        second.volume(), phantom_volume(second.phantom, nslices=2, size=32, pxsize_cm=second.pxsize_cm)
    )
