"""Tests of the centre-of-rotation finders on noisy simulated data with known centres."""

from __future__ import annotations

import numpy as np
import pytest

from alsmicroct.engine import (
    center_sweep,
    find_center_nm,
    find_center_pc,
    find_center_vo,
    reconstruct,
)
from alsmicroct.engine._phantom import ellipse_sinogram, shepp_ellipses
from alsmicroct.errors import ParameterError

N = 128
CENTERS = [(N - 1) / 2.0 + 0.3, (N - 1) / 2.0 + 9.65, (N - 1) / 2.0 - 12.25]


def phantom(scale: float = 1.0) -> np.ndarray:
    ell = shepp_ellipses(0.4 * N * scale, value=0.02)
    ell[:, 3] += 5.0  # off the axis
    return ell


def noisy_sinogram(center: float, nang: int = 181, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    theta = np.deg2rad(np.linspace(0.0, 180.0, nang))
    sino = ellipse_sinogram(phantom(), theta, N, center=center)
    rng = np.random.default_rng(seed)
    sino = sino + rng.normal(0.0, 0.02 * float(sino.max()), sino.shape).astype(np.float32)
    return sino, theta


@pytest.mark.parametrize("center", CENTERS)
def test_find_center_pc(center):
    rng = np.random.default_rng(3)
    theta = np.array([0.0, np.pi])
    rows = [
        ellipse_sinogram(phantom(0.6 + 0.4 * np.sin(np.pi * (k + 1) / 25)), theta, N, center=center) for k in range(24)
    ]
    proj = np.exp(-np.stack(rows, axis=1))  # (2, rows, N) transmission
    proj = proj + rng.normal(0.0, 0.01, proj.shape)
    found = find_center_pc(proj[0], proj[1], tol=0.25)
    assert abs(found - center) <= 0.25
    guided = find_center_pc(proj[0], proj[1], tol=0.1, rotc_guess=center + 6.0)
    assert abs(guided - center) <= 0.25


@pytest.mark.parametrize("center", CENTERS)
def test_find_center_vo(center):
    sino, _ = noisy_sinogram(center)
    assert abs(find_center_vo(sino, smin=-20, smax=20, srad=3) - center) <= 0.5


def test_find_center_vo_uses_first_180_degrees_of_a_360_scan():
    center = CENTERS[1]
    theta = np.deg2rad(np.arange(0.0, 360.0, 1.0))
    sino = ellipse_sinogram(phantom(), theta, N, center=center)
    found = find_center_vo(sino[:, None, :], theta=theta, smin=-20, smax=20, srad=3)
    assert abs(found - center) <= 0.5


@pytest.mark.parametrize("center", CENTERS[:2])
def test_find_center_nm(center):
    sino, theta = noisy_sinogram(center, nang=121)
    found = find_center_nm(sino[:, None, :], theta, init=center + 2.5)
    assert abs(found - center) <= 0.5


def test_center_sweep_matches_single_reconstructions():
    center = CENTERS[1]
    sino, theta = noisy_sinogram(center, nang=91)
    trial = np.array([center - 3.0, center, center + 1.5])
    stack = center_sweep(sino, theta, trial, filter_name="shepp")
    assert stack.shape == (3, N, N)
    single = reconstruct(sino[:, None, :], theta, center=center, filter_name="shepp")[0]
    assert np.allclose(stack[1], single, atol=1e-3 * float(np.abs(single).max()))
    # mis-centring creates dark arcs: the true centre has the least negative mass
    negative = [float(-np.minimum(img, 0).sum()) for img in stack]
    assert int(np.argmin(negative)) == 1


def test_center_finders_reject_bad_input():
    img = np.ones((8, 16))
    with pytest.raises(ParameterError, match="proj180"):
        find_center_pc(img, np.ones((8, 15)))
    with pytest.raises(ParameterError, match="rotc_guess=40"):
        find_center_pc(img, img, rotc_guess=40)
    with pytest.raises(ParameterError, match="sino2d"):
        find_center_vo(np.ones(16))
    with pytest.raises(ParameterError, match="init=99"):
        find_center_nm(img, np.linspace(0, np.pi, 8), init=99)
    with pytest.raises(ParameterError, match="center"):
        center_sweep(img, np.linspace(0, np.pi, 8), [7.0], center=3.0)


def test_vo_metric_equals_the_masked_rfft2_definition():
    """The metric (row FFTs, then column FFTs on the masked columns only) is the masked sum
    of ``|rfft2|`` of the stacked 360-degree sinogram, integer and fractional shifts."""
    import math

    from scipy import fft, ndimage

    from alsmicroct.engine.center import _vo_mask, _vo_metric

    theta = np.linspace(0, np.pi, 180, endpoint=False)
    sino = ellipse_sinogram(shepp_ellipses(0.8), theta, 96, center=50.5).astype(np.float32)
    mask = _vo_mask(2 * sino.shape[0], sino.shape[1], 2.0, 20)
    shifts = np.array([-7.0, -2.5, 0.0, 3.0, 5.5])
    want = []
    for sh in shifts:
        moved = ndimage.shift(sino[:, ::-1], (0.0, sh), order=3, mode="nearest")
        cut = math.ceil(abs(sh))
        if sh > 0:
            moved[:, :cut] = sino[::-1, :cut]
        elif sh < 0:
            moved[:, 96 - cut :] = sino[::-1, 96 - cut :]
        spec = np.abs(fft.rfft2(np.concatenate([sino, moved])))
        want.append(float((spec * mask).sum()) / float(mask.sum()))
    np.testing.assert_allclose(_vo_metric(sino, shifts, mask), want, rtol=1e-5)
