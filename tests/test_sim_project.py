"""Phantoms and analytic projections of alsmicroct.sim against brute-force ground truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from alsmicroct.errors import ParameterError, RangeError
from alsmicroct.sim import Phantom, legacy_angles, phantom_volume, project, rock, shepp_logan
from alsmicroct.sim.phantom import _random_rotation, _rot_z

PX = 1e-3  # cm per pixel in these tests


def _one(center_px, axes_px, rot, mu=2.0, half_height=np.inf):
    return Phantom(
        centers=np.array([center_px], float) * PX,
        semi_axes=np.array([axes_px], float) * PX,
        rotations=np.asarray(rot)[None],
        mu=np.array([mu]),
        half_heights=np.array([half_height * PX]),
    )


def _brute_force(ph, theta, s, z, half=80.0, n=16001):
    """Line integral by dense sampling of f on x cos - y sin = s (pixels), times px."""
    t = np.linspace(-half, half, n)
    x = s[:, None] * math.cos(theta) + t[None, :] * math.sin(theta)
    y = -s[:, None] * math.sin(theta) + t[None, :] * math.cos(theta)
    f = ph.evaluate(x * PX, y * PX, z * PX)
    return f.sum(axis=1) * (t[1] - t[0]) * PX


@pytest.mark.parametrize("theta", [0.0, 0.4, 1.3, 2.2, 3.9, 5.5])
def test_ellipse_matches_brute_force(theta):
    # off-centre, rotated ellipsoid cut off-centre in z: orientation and position
    ph = _one((17.0, -9.0, 1.5), (14.0, 5.0, 20.0), _rot_z(0.5))
    nrays, cor = 96, 45.3
    s = np.arange(nrays) - cor
    got = project(
        ph,
        [theta],
        nslices=9,
        nrays=nrays,
        cor=cor,
        pxsize_cm=PX,
        rows=[6],
        subsamples=1,
        zsamples=1,
    )[0, 0]
    ref = _brute_force(ph, theta, s, 6 - 4.0)
    assert np.abs(got - ref).max() < 2e-3 * ref.max()
    assert ref.max() > 0.01


def test_tilted_3d_ellipsoid_matches_brute_force():
    rot = _random_rotation(np.random.default_rng(7))
    ph = _one((-8.0, 12.0, -2.0), (16.0, 7.0, 9.0), rot, mu=3.0)
    s = np.arange(80) - 39.5
    for theta, row in ((0.7, 3), (2.9, 8)):
        got = project(ph, [theta], nslices=13, nrays=80, pxsize_cm=PX, rows=[row], subsamples=1, zsamples=1)[0, 0]
        ref = _brute_force(ph, theta, s, row - 6.0)
        assert np.abs(got - ref).max() < 2e-3 * ref.max()


def test_cylinder_matches_brute_force():
    ph = _one((5.0, -3.0, 0.0), (20.0, 11.0, 1.0), _rot_z(1.1), mu=1.0, half_height=3.0)
    s = np.arange(70) - 34.5
    got = project(ph, [0.9], nslices=12, nrays=70, pxsize_cm=PX, subsamples=1, zsamples=1)[0]
    for row in (2, 4, 8):
        ref = _brute_force(ph, 0.9, s, row - 5.5)
        assert np.allclose(got[row], ref, atol=2e-3 * max(ref.max(), 1e-3))
    assert got[0].max() == 0.0 and got[11].max() == 0.0  # above and below the cylinder
    assert got[5].max() > 0.0


def test_position_and_orientation_of_a_small_disk():
    # disk at x0 = +12 px (right), y0 = +7 px (down) from the axis
    ph = _one((12.0, 7.0, 0.0), (2.0, 2.0, 50.0), np.eye(3))
    cor = 40.25
    angles = np.deg2rad([0.0, 90.0, 270.0])
    p = project(ph, angles, nslices=1, nrays=81, cor=cor, pxsize_cm=PX, subsamples=8)[:, 0]
    j = np.arange(81)
    centroid = (p * j).sum(axis=1) / p.sum(axis=1)
    # s = x cos(theta) - y sin(theta): theta 0 -> x0, 90 deg -> -y0, 270 deg -> +y0
    assert centroid == pytest.approx([cor + 12.0, cor - 7.0, cor + 7.0], abs=0.02)
    # the first legacy angle is 270 deg
    assert math.degrees(legacy_angles(181, 180.0)[0]) == pytest.approx(270.0)
    assert math.degrees(legacy_angles(181, 180.0)[-1]) == pytest.approx(90.0)


@pytest.mark.parametrize("cor", [40.5, 31.0])
def test_opposite_projections_mirror_about_cor(cor):
    ph = rock(30 * PX, half_height_cm=4 * PX, seed=2)
    n = 82
    theta = np.array([0.37, 0.37 + math.pi])
    p = project(ph, theta, nslices=4, nrays=n, cor=cor, pxsize_cm=PX)
    j = np.arange(n)
    mirror = np.rint(2 * cor - j).astype(int)
    ok = (mirror >= 0) & (mirror < n)
    assert np.allclose(p[1][:, mirror[ok]], p[0][:, j[ok]], atol=1e-5)
    assert p[0].max() > 0.01


def test_shepp_logan_truth_values_and_mass():
    ph = shepp_logan(40 * PX, mu_cm=10.0)
    vol = phantom_volume(ph, nslices=3, size=96, pxsize_cm=PX, rows=[1])[0]
    c = 47.5  # pixel (i, j) at x = j - c, y = i - c

    def at(x_r, y_r):  # value at a point given in units of the radius
        return vol[round(c + y_r * 40), round(c + x_r * 40)]

    assert at(0.0, 0.0) == pytest.approx(2.0, abs=1e-5)  # brain 1 - 0.8
    assert at(0.0, -0.9) == pytest.approx(10.0, abs=1e-5)  # skull (top of the image)
    assert at(0.22, 0.0) == pytest.approx(0.0, abs=1e-5)  # right ventricle
    assert at(-0.22, 0.0) == pytest.approx(0.0, abs=1e-5)
    assert at(0.0, -0.35) == pytest.approx(3.0, abs=1e-5)  # ellipse above the centre
    assert vol.min() >= -1e-6 and vol.max() <= 10.0 + 1e-6
    # mass of the slice z = 0: sum of mu * pi a b over the ellipses the plane cuts
    rows = np.array([(1.0, 0.69, 0.92), (-0.8, 0.6624, 0.874), (-0.2, 0.11, 0.31), (-0.2, 0.16, 0.41)])
    mass_ref = sum(v * 10.0 * math.pi * a * b * 40**2 for v, a, b in rows)
    mass_ref += 10.0 * 0.1 * math.pi * 0.21 * 0.25 * 40**2 * (1 - (0.15 / 0.41) ** 2)
    mass_ref += 10.0 * 0.1 * math.pi * (2 * 0.046 * 0.023 + 0.023**2) * 40**2  # small ones
    assert vol.sum() == pytest.approx(mass_ref, rel=6e-3)
    # every projection of the slice carries the same mass (in pixels x 1/cm x cm)
    p = project(ph, np.linspace(0, np.pi, 7), nslices=3, nrays=96, pxsize_cm=PX, rows=[1], zsamples=2)
    assert np.allclose(p[:, 0].sum(axis=1) / PX, mass_ref, rtol=2e-3)


def test_truth_is_a_pixel_average():
    # a disk of radius 10.3 px: supersampled area close to pi r^2, edges fractional
    ph = _one((0.3, -0.2, 0.0), (10.3, 10.3, 40.0), np.eye(3), mu=1.0)
    vol = phantom_volume(ph, nslices=1, size=32, pxsize_cm=PX, supersample=8)[0]
    assert vol.sum() == pytest.approx(math.pi * 10.3**2, rel=3e-3)
    assert ((vol > 0.05) & (vol < 0.95)).sum() > 20


def test_detector_tilt_is_an_image_rotation():
    ph = _one((14.0, 3.0, -6.0), (4.0, 3.0, 5.0), _rot_z(0.3), mu=5.0)
    a = project(ph, [0.2], nslices=48, nrays=64, pxsize_cm=PX)[0]
    b = project(ph, [0.2], nslices=48, nrays=64, pxsize_cm=PX, tilt_deg=4.0)[0]
    plus = np.abs(ndimage.rotate(a, 4.0, reshape=False, order=1) - b).mean()
    minus = np.abs(ndimage.rotate(a, -4.0, reshape=False, order=1) - b).mean()
    assert plus < 0.3 * minus
    assert plus < 0.15 * np.abs(a).mean()
    # the centroid turns counter-clockwise (as displayed) about the detector centre
    rc, cc = 23.5, 31.5
    ra, ja = ndimage.center_of_mass(a)
    rb, jb = ndimage.center_of_mass(b)
    t = math.radians(4.0)
    x, y = ja - cc, -(ra - rc)
    assert jb == pytest.approx(cc + x * math.cos(t) - y * math.sin(t), abs=0.02)
    assert rb == pytest.approx(rc - (x * math.sin(t) + y * math.cos(t)), abs=0.02)


def test_rock_has_grains_pores_and_fits():
    ph = rock(50 * PX, half_height_cm=4 * PX, mu_cm=4.0, seed=1)
    assert len(ph) > 50
    assert ph.radius_cm() <= 50 * PX * 1.0001
    vol = phantom_volume(ph, nslices=8, size=110, pxsize_cm=PX, rows=[4], supersample=2)[0]
    values = np.round(vol[np.abs(vol - np.round(vol / 0.4) * 0.4) < 1e-4], 3)
    for level in (0.0, 2.4, 4.0, 8.8):  # pores, light grains, matrix, dense grains
        assert (values == level).sum() > 20, level
    assert vol.min() >= -1e-5


def test_errors():
    with pytest.raises(ParameterError):
        shepp_logan(-1.0)
    with pytest.raises(RangeError):
        phantom_volume(shepp_logan(1.0), nslices=4, size=8, pxsize_cm=0.1, rows=[4])
    with pytest.raises(ParameterError):
        legacy_angles(1, 180.0)
