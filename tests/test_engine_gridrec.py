"""Tests of alsmicroct.engine.reconstruct against analytic ellipse phantoms."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from alsmicroct.engine import FILTER_NAMES, angle_weights, default_npad, reconstruct
from alsmicroct.engine._phantom import ellipse_image, ellipse_sinogram, shepp_ellipses
from alsmicroct.errors import ParameterError

N = 96
NANG = 150


def legacy_theta(nang: int = NANG) -> np.ndarray:
    """Decreasing legacy angle list 270 -> 90 degrees, both ends included."""
    return np.deg2rad(270.0 - np.arange(nang) * 180.0 / (nang - 1))


def increasing_theta(nang: int = NANG) -> np.ndarray:
    return np.linspace(0.0, np.pi, nang, endpoint=False)


def centroid(img: np.ndarray, x0: float, y0: float, radius: float) -> tuple[float, float]:
    """Centroid (x, y) from the axis of the positive part of ``img`` near (x0, y0)."""
    n = img.shape[0]
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2.0
    w = np.clip(img, 0, None) * (np.hypot(xx - x0, yy - y0) < radius)
    return float((w * xx).sum() / w.sum()), float((w * yy).sum() / w.sum())


@pytest.mark.parametrize("theta_kind", ["legacy", "increasing"])
@pytest.mark.parametrize("offset", [0.0, 7.3])
@pytest.mark.parametrize("algorithm", ["gridrec", "fbp"])
def test_disk_lands_on_its_pixel(theta_kind, offset, algorithm):
    theta = legacy_theta() if theta_kind == "legacy" else increasing_theta()
    center = (N - 1) / 2.0 + offset
    x0, y0 = 21.5, -13.5  # right of and above the axis, on a pixel centre (N even)
    disk = np.array([[0.02, 3.0, 3.0, x0, y0, 0.0]])
    sino = ellipse_sinogram(disk, theta, N, center=center)[:, None, :]
    rec = reconstruct(sino, theta, center=center, algorithm=algorithm, filter_name="ramlak")[0]
    # the brightest pixel is the disk's centre pixel: no flip, no rotation
    r, c = np.unravel_index(int(np.argmax(rec)), rec.shape)
    assert (r, c) == (round(y0 + (N - 1) / 2.0), round(x0 + (N - 1) / 2.0))
    cx, cy = centroid(rec, x0, y0, 6.0)
    assert abs(cx - x0) < 0.03 and abs(cy - y0) < 0.03  # no half-pixel shift


def test_scale_and_no_offset():
    theta = legacy_theta(200)
    center = (N - 1) / 2.0 - 4.6
    ell = np.array([[0.01, 25.0, 18.0, 5.0, 3.0, 0.4], [0.01, 8.0, 8.0, -6.0, 4.0, 0.0]])
    sino = ellipse_sinogram(ell, theta, N, center=center)[:, None, :]
    truth = ellipse_image(ell, N)
    rec = reconstruct(sino, theta, center=center)[0]
    scale = float((rec * truth).sum() / (truth * truth).sum())
    assert abs(scale - 1.0) < 0.03
    outside = ellipse_image(np.array([[1.0, 34.0, 34.0, 0.0, 0.0, 0.0]]), N) == 0
    inside_fov = np.hypot(*(np.mgrid[:N, :N] - (N - 1) / 2.0)) < N / 2 - 2
    background = rec[outside & inside_fov]
    assert abs(float(background.mean())) < 0.002 * 0.02  # no DC offset (2e-3 of the peak)
    # the mean of the slice equals the mean of the truth
    assert abs(float(rec[inside_fov].mean()) / float(truth[inside_fov].mean()) - 1.0) < 0.01


def test_psnr_shepp_logan_padded():
    n, nang = 128, 201
    theta = legacy_theta(nang)
    center = (n - 1) / 2.0 + 2.4
    ell = shepp_ellipses(0.47 * n, value=1.0 / n)
    sino = ellipse_sinogram(ell, theta, n, center=center)[:, None, :]
    truth = ellipse_image(ell, n)
    rec = reconstruct(sino, theta, center=center, npad=default_npad(n))[0]
    fov = np.hypot(*(np.mgrid[:n, :n] - (n - 1) / 2.0)) <= n / 2
    rmse = np.sqrt(np.mean((rec[fov] - truth[fov]) ** 2))
    psnr = 20 * np.log10(truth.max() / rmse)
    assert psnr > 25.0


def test_gridrec_matches_fbp():
    theta = increasing_theta(180)
    center = (N - 1) / 2.0 + 3.3
    ell = shepp_ellipses(0.45 * N, value=0.01)
    sino = ellipse_sinogram(ell, theta, N, center=center)[:, None, :]
    g = reconstruct(sino, theta, center=center, algorithm="gridrec")[0]
    f = reconstruct(sino, theta, center=center, algorithm="fbp")[0]
    fov = np.hypot(*(np.mgrid[:N, :N] - (N - 1) / 2.0)) < N / 2 - 1
    rel = np.sqrt(np.mean((g[fov] - f[fov]) ** 2)) / np.sqrt(np.mean(g[fov] ** 2))
    assert rel < 0.05


def test_odd_size_and_many_rows_with_per_row_centres():
    n = 65
    theta = legacy_theta(120)
    disk = np.array([[0.02, 4.0, 4.0, -9.0, 6.0, 0.0]])
    centers = np.array([31.0, 32.7, 29.2, 35.5, 32.0])
    sino = np.stack([ellipse_sinogram(disk, theta, n, center=c) for c in centers], axis=1)
    rec = reconstruct(sino, theta, center=centers, filter_name="ramlak", npad=10)
    assert rec.shape == (5, n, n) and rec.dtype == np.float32
    for img in rec:  # each row reconstructed about its own axis: same image
        cx, cy = centroid(img, -9.0, 6.0, 7.0)
        assert abs(cx + 9.0) < 0.03 and abs(cy - 6.0) < 0.03
    truth = ellipse_image(disk, n)
    for img in rec:
        assert np.sqrt(np.mean((img - truth) ** 2)) < 0.03 * 0.02


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_each_filter_runs(name):
    theta = increasing_theta(90)
    disk = np.array([[0.02, 12.0, 12.0, 0.0, 0.0, 0.0]])
    sino = ellipse_sinogram(disk, theta, 64, center=31.5)[:, None, :]
    rec = reconstruct(sino, theta, center=31.5, filter_name=name, cutoff=0.3, order=3)[0]
    assert np.all(np.isfinite(rec))
    if name != "none":  # disk interior within 5 % of its value
        assert abs(float(rec[28:36, 28:36].mean()) / 0.02 - 1.0) < 0.05


def test_angle_weights_sum_to_pi_for_any_set():
    for th in (legacy_theta(181), increasing_theta(7), np.deg2rad(np.arange(0, 360, 2.0))):
        w = angle_weights(th)
        assert abs(w.sum() - np.pi) < 1e-12
    w = angle_weights(np.deg2rad([0.0, 90.0, 45.0, 135.0]))
    assert np.allclose(w, np.pi / 4)


def test_360_degree_scan():
    theta = np.deg2rad(np.arange(0.0, 360.0, 1.5))
    disk = np.array([[0.02, 3.0, 3.0, -15.0, 10.0, 0.0]])
    sino = ellipse_sinogram(disk, theta, N, center=50.2)[:, None, :]
    rec = reconstruct(sino, theta, center=50.2, filter_name="ramlak")[0]
    cx, cy = centroid(rec, -15.0, 10.0, 6.0)
    assert abs(cx + 15.0) < 0.03 and abs(cy - 10.0) < 0.03


def test_bad_input_raises_parameter_error():
    theta = increasing_theta(10)
    sino = np.ones((10, 2, 16), dtype=np.float32)
    with pytest.raises(ParameterError, match="theta"):
        reconstruct(sino, theta[:-1], center=7.5)
    with pytest.raises(ParameterError, match="center=16.5"):
        reconstruct(sino, theta, center=16.5)
    with pytest.raises(ParameterError, match="center=-1"):
        reconstruct(sino, theta, center=[3.0, -1.0])
    with pytest.raises(ParameterError, match="center"):
        reconstruct(sino, theta, center=[3.0, 4.0, 5.0])
    bad = sino.copy()
    bad[3, 1, 4] = np.nan
    with pytest.raises(ParameterError, match="non-finite"):
        reconstruct(bad, theta, center=7.5)
    with pytest.raises(ParameterError, match="ndim=2"):
        reconstruct(sino[:, 0, :], theta, center=7.5)
    with pytest.raises(ParameterError, match="filter_name='gauss'"):
        reconstruct(sino, theta, center=7.5, filter_name="gauss")
    with pytest.raises(ParameterError, match="npad=-2"):
        reconstruct(sino, theta, center=7.5, npad=-2)
    with pytest.raises(ParameterError, match="algorithm='art'"):
        reconstruct(sino, theta, center=7.5, algorithm="art")
    with pytest.raises(ParameterError, match="cutoff"):
        reconstruct(sino, theta, center=7.5, cutoff=0.0)


def test_agrees_with_simulator_geometry():
    """The simulator's Shepp-Logan, projected with the legacy angles, comes back in place."""
    sim = importlib.import_module("alsmicroct.sim")
    n, px = 96, 0.001
    cor = (n - 1) / 2.0 + 6.3
    phantom = sim.shepp_logan(0.45 * n * px, mu_cm=10.0)
    theta = sim.legacy_angles(2 * n, 180.0)
    sino = sim.project(phantom, theta, nslices=3, nrays=n, cor=cor, pxsize_cm=px, rows=[1])
    truth = sim.phantom_volume(phantom, nslices=3, size=n, pxsize_cm=px, rows=[1])[0]
    rec = reconstruct(sino, theta, center=cor, filter_name="ramlak")[0] / px  # 1/cm
    assert abs(float((rec * truth).sum() / (truth * truth).sum()) - 1.0) < 0.03
    fov = np.hypot(*(np.mgrid[:n, :n] - (n - 1) / 2.0)) <= n / 2

    def err(img):
        return float(np.sqrt(np.mean((img[fov] - truth[fov]) ** 2)))

    best = err(rec)
    assert best < 0.1 * float(truth.max())
    assert best < 0.8 * err(rec[:, ::-1]) and best < 0.8 * err(rec[::-1, :])  # no flip
    shifted = reconstruct(sino, theta, center=cor + 0.5, filter_name="ramlak")[0] / px
    assert best < 0.9 * err(shifted)  # no half-pixel shift


def test_phase_factor_tables_match_the_direct_exponential():
    from alsmicroct.engine.gridrec import _phase_factors

    rng = np.random.default_rng(3)
    alpha = rng.uniform(-4.0, 4.0, 37)
    length = 301
    m = np.rint(np.fft.fftfreq(length) * length).astype(np.int64)
    scale = rng.uniform(0.5, 2.0, 37).astype(np.float32)
    got = _phase_factors(alpha, m, scale)
    want = np.exp(1j * np.mod(np.outer(alpha, m), 2 * np.pi)) * scale[:, None]
    np.testing.assert_allclose(got, want, rtol=0, atol=5e-7 * scale.max())


def test_packed_pair_filtering_equals_filtering_each_row():
    from alsmicroct.engine import gridrec as g
    from alsmicroct.engine.filters import filter_response

    rng = np.random.default_rng(4)
    rows = rng.random((9, 2, 64), dtype=np.float32)
    for center, npad in ((31.5 + 0.3, 13), (10.2, 0), (50.7, 5)):
        geom = g._Geometry.build(64, npad, np.full(2, center))
        half = g.row_responses(geom, filter_response("shepp", geom.nfft), np.arange(2), subpixel=True)
        each = g.filtered_windows(rows, geom, half, index=np.arange(2))
        packed = np.empty((9, geom.length), dtype=np.complex64)
        g._filtered_pair(rows, geom, g._full_response(half[0], geom.nfft), int(geom.j0[0]) - geom.half, packed)
        np.testing.assert_allclose(packed.real, each[0], atol=1e-6)
        np.testing.assert_allclose(packed.imag, each[1], atol=1e-6)
