"""Every legacy processing step inside recon(), on chunks, checked against ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.io.tiff import read_tiff
from alsmicroct.reconstruction import recon
from alsmicroct.sim import simulate_scan

BASE = dict(phantom="shepp", nangles=181, nslices=6, nrays=64, cor=32.4, seed=5)


def _rec(path, out, **kw):
    kw.setdefault("doFWringremoval", False)
    kw.setdefault("filter_name", "ramlak")
    res = recon(path, outputPath=str(out), quicklook=False, resume=False, chunk_sino=2, **kw)
    return np.stack([read_tiff(f) for f in res.files]), res


def _rmse(rec, truth, rows=slice(None), frac=0.45):
    n = truth.shape[-1]
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    m = (xx**2 + yy**2) <= (frac * n) ** 2
    return float(np.sqrt(np.mean((rec[rows][:, m] - truth[rows][:, m]) ** 2)))


def _psnr(rec, truth, rows=slice(None)):
    return 20 * np.log10(truth.max() / _rmse(rec, truth, rows))


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clean")
    return simulate_scan(folder / "clean.h5", **BASE)


@pytest.mark.parametrize("kw", [
    dict(doOutliers1D=True), dict(doOutliers2D=True, useNormalize_nf=True, doOutliers1D=True),
    dict(doTIringremoval=True), dict(doSFringremoval=True), dict(doFWringremoval=True, ringLevel=3),
    dict(doBeamHardening=True), dict(doPolarRing=True, Rarc=30, Rmaxwidth=10, Rthr=5, Rtmax=5, Rtmin=-5),
    dict(castTo8bit=True, doBilateralFilter=True, bilateral_srad=1, bilateral_rrad=20, cast8bit_min=-5,
         cast8bit_max=60),
    dict(doPhaseRetrieval=True, propagation_dist=None, kev=None),
    dict(correcttilt=0.5),
], ids=lambda kw: "+".join(k for k, v in kw.items() if v is True or k == "correcttilt"))
def test_each_step_runs_in_recon_and_keeps_a_clean_scan(clean, tmp_path, kw):
    ref, _ = _rec(clean.path, tmp_path / "ref", cor=clean.cor)
    rec, res = _rec(clean.path, tmp_path / "step", cor=clean.cor, **kw)
    assert np.isfinite(rec).all() and rec.shape == ref.shape
    if rec.dtype == np.float32 and not kw.get("doPhaseRetrieval") and not kw.get("doBeamHardening"):
        truth = clean.volume()
        loss = _psnr(ref, truth) - _psnr(rec, truth)
        print(f"LOSS {kw}: {loss:.2f} dB")
        assert loss < 1.0, f"{kw}: PSNR loss {loss:.2f} dB on a clean scan"


def test_outlier_removal_removes_zingers(tmp_path):
    scan = simulate_scan(tmp_path / "z.h5", zingers=2e-3, **BASE)
    truth = scan.volume()
    dirty, _ = _rec(scan.path, tmp_path / "a", cor=scan.cor)
    fixed, _ = _rec(scan.path, tmp_path / "b", cor=scan.cor, doOutliers2D=True, outlier_diff2D=1000)
    fixed1d, _ = _rec(scan.path, tmp_path / "c", cor=scan.cor, doOutliers1D=True, outlier_diff1D=1000)
    assert _rmse(fixed, truth) < 0.8 * _rmse(dirty, truth)
    assert _rmse(fixed1d, truth) < 0.8 * _rmse(dirty, truth)


def test_stripe_removal_lowers_rings(tmp_path):
    scan = simulate_scan(tmp_path / "r.h5", rings=0.02, **BASE)
    truth = scan.volume()
    plain, _ = _rec(scan.path, tmp_path / "a", cor=scan.cor)
    for kw in (dict(doTIringremoval=True), dict(doSFringremoval=True)):
        cleaned, _ = _rec(scan.path, tmp_path / "b", cor=scan.cor, **kw)
        assert _rmse(cleaned, truth) < 0.9 * _rmse(plain, truth), kw


def test_tilt_correction_restores_psnr(tmp_path):
    kw = dict(BASE, nslices=10)
    ideal = simulate_scan(tmp_path / "ideal.h5", **kw)
    tilted = simulate_scan(tmp_path / "tilted.h5", tilt_deg=2.0, **kw)
    truth = ideal.volume()
    inner = slice(3, 7)
    a, _ = _rec(ideal.path, tmp_path / "a", cor=ideal.cor)
    b, _ = _rec(tilted.path, tmp_path / "b", cor=ideal.cor)
    c, _ = _rec(tilted.path, tmp_path / "c", cor=ideal.cor, correcttilt=2.0)
    assert _psnr(c, truth, inner) > _psnr(b, truth, inner) + 1.0
    assert _psnr(c, truth, inner) > _psnr(a, truth, inner) - 1.0


def test_360_to_180_restores_psnr(tmp_path):
    radius = 0.9 * 56 * 0.00325
    off = simulate_scan(tmp_path / "off.h5", phantom="shepp", nangles=361, arange=360, nslices=4, nrays=64,
                        cor=56.0, sample_radius_mm=radius, truth_size=113, seed=2)
    ideal = simulate_scan(tmp_path / "ideal.h5", phantom="shepp", nangles=181, nslices=4, nrays=113, cor=56.0,
                          sample_radius_mm=radius, seed=2)
    truth = ideal.volume()
    a, _ = _rec(ideal.path, tmp_path / "a", cor=56.0)
    b, res = _rec(off.path, tmp_path / "b", use360to180=True)
    assert abs(res.cor - 56.0) < 0.5
    assert b.shape == a.shape
    assert _psnr(b, truth) > _psnr(a, truth) - 1.0
    with pytest.raises(ParameterError, match="360 deg scan"):
        _rec(ideal.path, tmp_path / "c", use360to180=True)


def test_phase_retrieval_raises_contrast_to_noise(tmp_path):
    scan = simulate_scan(tmp_path / "p.h5", phantom="shepp", nangles=181, nslices=4, nrays=64, delta_beta=300,
                         distance_mm=400, pxsize_mm=0.001, seed=1)
    truth = scan.volume()
    alpha = 1 / (4 * np.pi**2 * 300)
    plain, _ = _rec(scan.path, tmp_path / "a", cor=scan.cor)
    phase, res = _rec(scan.path, tmp_path / "b", cor=scan.cor, doPhaseRetrieval=True, alphaReg=alpha,
                      propagation_dist=None, kev=None)
    assert res.params.propagation_dist is None

    def corr(x):
        m = truth > 0
        return np.corrcoef(x[m], truth[m])[0, 1]

    assert corr(phase) > corr(plain) + 0.05


def test_beam_hardening_flattens_cupping(tmp_path):
    from alsmicroct.sim import Spectrum

    spectrum = Spectrum.gaussian(24.0)
    scan = simulate_scan(tmp_path / "bh.h5", phantom="shepp", nangles=181, nslices=4, nrays=64, noise=False,
                         beam_hardening=spectrum, seed=1)
    truth = scan.volume()
    lin = np.linspace(0, 3, 200)
    measured = -np.log(spectrum.transmission(lin))
    coef = tuple(np.polyfit(measured, lin, 5)[::-1])
    plain, _ = _rec(scan.path, tmp_path / "a", cor=scan.cor)
    fixed, _ = _rec(scan.path, tmp_path / "b", cor=scan.cor, doBeamHardening=True, BeamHardeningCoefficients=coef)
    assert _rmse(fixed, truth) < 0.7 * _rmse(plain, truth)


def test_bilateral_result_independent_of_chunks(clean, tmp_path):
    kw = dict(cor=clean.cor, doBilateralFilter=True, bilateral_srad=1, bilateral_rrad=0.5)
    a = recon(clean.path, outputPath=str(tmp_path / "a"), quicklook=False, chunk_sino=2, **kw)
    b = recon(clean.path, outputPath=str(tmp_path / "b"), quicklook=False, chunk_sino=100, **kw)
    x = np.stack([read_tiff(f) for f in a.files])
    y = np.stack([read_tiff(f) for f in b.files])
    np.testing.assert_allclose(x, y, atol=1e-5 * np.abs(y).max())
