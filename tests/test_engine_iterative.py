"""Tests of the NUFFT projector pair and the iterative methods (alsmicroct.engine)."""

from __future__ import annotations

import numpy as np
import pytest

from alsmicroct.engine import (
    backproject,
    check_iterative_options,
    normal_operator,
    project,
    reconstruct,
    reconstruct_iterative,
)
from alsmicroct.engine import projector as pj
from alsmicroct.engine._phantom import ellipse_image, ellipse_sinogram, shepp_ellipses
from alsmicroct.engine.iterative import noise_level
from alsmicroct.errors import ParameterError


def legacy_theta(nang: int) -> np.ndarray:
    return np.deg2rad(270.0 - np.arange(nang) * 180.0 / (nang - 1))


def psnr(rec: np.ndarray, truth: np.ndarray) -> float:
    n = truth.shape[0]
    fov = np.hypot(*(np.mgrid[:n, :n] - (n - 1) / 2.0)) < n / 2 - 1
    return float(20 * np.log10(truth.max() / np.sqrt(np.mean((rec[fov] - truth[fov]) ** 2))))


@pytest.mark.parametrize("n", [48, 51])
def test_backproject_is_the_adjoint(n):
    rng = np.random.default_rng(0)
    theta = legacy_theta(70)
    center = np.array([(n - 1) / 2.0, (n - 1) / 2.0 + 3.4, (n - 1) / 2.0 - 2.7])
    x = rng.standard_normal((3, n, n)).astype(np.float32)
    y = rng.standard_normal((70, 3, n)).astype(np.float32)
    lhs = float(np.sum(project(x, theta, center=center).astype(np.float64) * y))
    rhs = float(np.sum(x.astype(np.float64) * backproject(y, theta, center=center)))
    assert abs(lhs - rhs) <= 1e-5 * abs(lhs)


def test_normal_operator_is_backproject_of_project_on_the_window():
    rng = np.random.default_rng(1)
    n, theta = 40, legacy_theta(55)
    center = np.array([19.5, 22.1])
    x = rng.standard_normal((2, n, n)).astype(np.float32)
    length = pj.window_length(n, center)
    pts = pj._points(theta, n, length, 1)
    delta = pj._columns(center, n, length)[1]
    ref = pj._window_adjoint(pj._window_forward(x, pts, delta), pts, delta)
    got = normal_operator(theta, n, length, num_threads=1)(x)
    assert np.linalg.norm(got - ref) <= 1e-4 * np.linalg.norm(ref)


@pytest.mark.parametrize("offset", [0.0, 4.3])
def test_projection_of_phantom_matches_analytic_sinogram(offset):
    n, theta = 96, legacy_theta(120)
    center = (n - 1) / 2.0 + offset
    ell = shepp_ellipses(0.45 * n, value=1.0 / n)
    sino = project(ellipse_image(ell, n)[None], theta, center=center)[:, 0]
    exact = ellipse_sinogram(ell, theta, n, center=center)
    assert np.linalg.norm(sino - exact) <= 0.04 * np.linalg.norm(exact)
    # same place: the centre of mass of every projection (no half-pixel shift)
    cols = np.arange(n)
    com = (sino * cols).sum(axis=1) / sino.sum(axis=1)
    com_exact = (exact * cols).sum(axis=1) / exact.sum(axis=1)
    assert np.max(np.abs(com - com_exact)) < 0.1  # rasterisation only; a shift would be 0.5


def test_projection_of_simulated_scan_phantom():
    from alsmicroct.sim import make_phantom, phantom_volume
    from alsmicroct.sim import project as sim_project

    n, nslices, px = 64, 3, 0.001
    phantom = make_phantom("shepp", 0.45 * n * px, half_height_cm=nslices * px)
    theta = legacy_theta(90)
    truth = phantom_volume(phantom, nslices=nslices, size=n, pxsize_cm=px) * px  # 1/pixel
    exact = sim_project(phantom, theta, nslices=nslices, nrays=n, cor=33.2, pxsize_cm=px)
    sino = project(truth, theta, center=33.2)
    assert np.linalg.norm(sino - exact) <= 0.05 * np.linalg.norm(exact)


def _undersampled(n=128, nang=60, noise=0.0):
    theta = legacy_theta(nang)
    center = (n - 1) / 2.0 + 2.6
    ell = shepp_ellipses(0.45 * n, value=2.0 / n)
    sino = ellipse_sinogram(ell, theta, n, center=center)
    if noise:
        sino = sino + noise * sino.max() * np.random.default_rng(2).standard_normal(sino.shape).astype(np.float32)
    return sino[:, None, :], theta, center, ellipse_image(ell, n)


@pytest.mark.parametrize(("algorithm", "gain"), [("cgls", 2.0), ("sirt", 4.0), ("tv", 5.0)])
def test_iterative_beats_gridrec_on_few_angles(algorithm, gain):
    sino, theta, center, truth = _undersampled()
    base = psnr(reconstruct(sino, theta, center=center, npad=20)[0], truth)
    rec, log = reconstruct_iterative(sino, theta, center=center, algorithm=algorithm)
    assert rec.shape == (1, 128, 128) and rec.dtype == np.float32
    assert psnr(rec[0], truth) > base + gain
    assert log.algorithm == algorithm and log.iterations == len(log.residual) >= 1
    assert log.to_dict()["options"]["num_iter"] == log.options["num_iter"]


def test_cgls_residual_decreases_and_stops_on_noise():
    sino, theta, center, _ = _undersampled(nang=200, noise=0.02)
    _, log = reconstruct_iterative(sino, theta, center=center, algorithm="cgls", start="zero", num_iter=60)
    res = np.array(log.residual)
    assert np.all(np.diff(res) <= 1e-6)
    assert log.stopped == "tol" and log.iterations < 60  # discrepancy: not run into the noise
    _, log0 = reconstruct_iterative(sino, theta, center=center, algorithm="cgls", start="zero", num_iter=8, tol=0)
    assert log0.iterations == 8 and log0.stopped == "num_iter"


def test_noise_level_estimate():
    sino, *_ = _undersampled(nang=100, noise=0.02)
    clean, *_ = _undersampled(nang=100)
    true = 0.02 * float(clean.max())
    assert abs(float(noise_level(sino)[0]) / true - 1.0) < 0.15


def test_per_row_centres_and_rows_batched():
    n, theta = 64, legacy_theta(90)
    ell = shepp_ellipses(0.4 * n, value=1.0 / n)
    centers = np.array([31.5, 34.2, 29.9])
    sino = np.stack([ellipse_sinogram(ell, theta, n, center=c) for c in centers], axis=1)
    rec, _ = reconstruct_iterative(sino, theta, center=centers, algorithm="cgls", num_iter=10, tol=0)
    for r, c in enumerate(centers):
        one, _ = reconstruct_iterative(sino[:, r : r + 1], theta, center=c, algorithm="cgls", num_iter=10, tol=0)
        np.testing.assert_allclose(rec[r], one[0], atol=3e-3 * float(np.abs(one).max()))  # L may differ
    assert rec[0].sum() == pytest.approx(rec[1].sum(), rel=0.02)  # all rows see the same object


@pytest.mark.parametrize(
    ("algorithm", "options", "match"),
    [
        ("art", {}, "algorithm='art'"),
        ("cgsl", {}, "did you mean 'cgls'"),
        ("cgls", {"num_iter": -3}, "num_iter=-3"),
        ("cgls", {"num_iter": 10**6}, "num_iter=1000000"),
        ("cgls", {"num_iter": 2.5}, "num_iter=2.5"),
        ("tv", {"tv_weight": 0.0}, "tv_weight=0.0"),
        ("tv", {"tv_weight": 3.0}, "tv_weight=3.0"),
        ("sirt", {"relaxation": 2.5}, "relaxation=2.5"),
        ("cgls", {"nonneg": True}, "nonneg=True is not supported by algorithm='cgls'"),
        ("sirt", {"tv_weight": 0.1}, "tv_weight=0.1 is not supported"),
        ("cgls", {"tol": -1}, "tol=-1"),
        ("cgls", {"start": "fbp"}, "start='fbp'"),
        ("cgls", {"iterations": 3}, "unknown iterative option 'iterations'"),
    ],
)
def test_bad_options(algorithm, options, match):
    with pytest.raises(ParameterError, match=match):
        check_iterative_options(algorithm, **options)


def test_bad_options_before_heavy_work():
    with pytest.raises(ParameterError, match="tv_weight"):
        reconstruct_iterative(np.zeros((3, 1, 8), np.float32), np.zeros(5), center=3.5, algorithm="tv", tv_weight=-1)
    with pytest.raises(ParameterError, match="theta"):
        reconstruct_iterative(np.zeros((3, 1, 8), np.float32), np.zeros(5), center=3.5, algorithm="tv")


@pytest.mark.parametrize("algorithm", ["sirt", "cgls", "tv"])
def test_each_row_stops_on_its_own(algorithm):
    """Rows solved together give each row's own result (the stopping rule is per row)."""
    n, theta = 64, legacy_theta(40)
    rng = np.random.default_rng(5)
    sinos = []
    for k, noise in enumerate((0.0, 0.03, 0.1)):
        ell = shepp_ellipses((0.3 + 0.05 * k) * n, value=1.0 / n)
        clean = ellipse_sinogram(ell, theta, n, center=31.5)
        sinos.append(clean + noise * clean.max() * rng.standard_normal(clean.shape).astype(np.float32))
    sino = np.stack(sinos, axis=1)
    kw = dict(center=31.5, algorithm=algorithm, num_iter=80, tol=1e-2)
    together, log = reconstruct_iterative(sino, theta, **kw)
    counts = []
    for r in range(3):
        alone, one = reconstruct_iterative(sino[:, r : r + 1], theta, **kw)
        counts.append(one.iterations)
        np.testing.assert_allclose(together[r], alone[0], atol=1e-4 * float(np.abs(alone).max()))
    assert len(set(counts)) > 1 and log.iterations == max(counts)
    assert log.stopped == ("tol" if max(counts) < 80 else "num_iter")


@pytest.mark.parametrize(("nang", "gain"), [(20, 6.0), (200, 1.0)])
def test_sirt_defaults_on_noisy_scans(nang, gain):
    """SIRT with its defaults on 2 % noise, 10x undersampled (20 angles at 128 columns) and
    fully sampled: it is not stopped at the noise level (the discrepancy stop gave +5.2 and
    +0.2 dB), only when its residual stalls."""
    sino, theta, center, truth = _undersampled(nang=nang, noise=0.02)
    base = psnr(reconstruct(sino, theta, center=center, npad=20)[0], truth)
    rec, log = reconstruct_iterative(sino, theta, center=center, algorithm="sirt")
    assert psnr(rec[0], truth) > base + gain
    assert log.stopped == "tol" or log.iterations == 100
