"""Centre with a confidence: two estimates, label, drift fit."""

import numpy as np
import pytest

from alsmicroct.engine.center_confidence import estimate_center
from alsmicroct.prep import minus_log, normalize
from alsmicroct.sim import simulate_data


def _data(**kw):
    s = simulate_data(**{**dict(nangles=361, nslices=4, nrays=256, phantom="rock", seed=2), **kw})
    return s, minus_log(normalize(s.proj, s.flats, s.darks))


@pytest.mark.parametrize("kw", [dict(), dict(flux=2000.0), dict(cor=140.37)])
def test_center_within_a_quarter_pixel(kw):
    scan, data = _data(**kw)
    est = estimate_center(data, scan.angles)
    assert abs(est.center - scan.cor) <= 0.25
    assert est.label == "high", est.reasons
    assert est.uncertainty <= 1.0 and not est.drift_significant


def test_missing_pair_is_low_confidence(caplog):
    scan, data = _data(nangles=181, arange=170.0)
    est = estimate_center(data, scan.angles)
    assert est.label == "low" and any("pair" in r for r in est.reasons)
    assert "low confidence" in caplog.text


def test_drift_fit_gives_per_row_centres():
    """Rows built with a 3 px axis drift top to bottom, from one simulated row each."""
    rows = []
    for shift in np.linspace(-1.5, 1.5, 5):
        scan, d = _data(nslices=1, cor=127.5 + 0.02 * 256 + shift, seed=2)
        rows.append(d[:, 0])
    data = np.stack(rows, axis=1)
    est = estimate_center(data, scan.angles, rows=5)
    assert est.drift_significant
    assert est.per_row is not None and abs((est.per_row[-1] - est.per_row[0]) - 3.0) < 0.5


@pytest.mark.parametrize("kw", [dict(), dict(flux=2000.0), dict(seed=3)])
@pytest.mark.parametrize("tilt", [1.0, -1.0, 0.0, 3.0])
def test_tilt_from_the_pair(tilt, kw):
    """Within 0.05 deg on a 64-row block, noisy data too (issue 15 target)."""
    from alsmicroct.engine.center_confidence import estimate_tilt

    scan, data = _data(**{"nangles": 181, "nslices": 64, "tilt_deg": tilt, **kw})
    j = int(np.argmin(np.abs(np.abs(scan.angles - scan.angles[0]) - np.pi)))
    est, err = estimate_tilt(data[0], data[j])
    assert abs(est - tilt) < 0.05 and err < 0.1, (est, err)


def test_narrow_detector_small_offset_is_high():
    """64 columns, centre 0.4 px off the middle: the Vo search is bounded around pc."""
    scan, data = _data(nrays=64, nslices=3, cor=31.9, nangles=181)
    est = estimate_center(data, scan.angles)
    assert abs(est.center - scan.cor) <= 0.25, est
    assert est.label == "high", est.reasons


def test_search_bounded_around_pc():
    """A centre far from the middle (60 px on 256) is found: the search follows pc."""
    scan, data = _data(cor=127.5 + 60.3)
    est = estimate_center(data, scan.angles)
    assert abs(est.center - scan.cor) <= 0.25, est
    assert est.label == "high", est.reasons


def test_360_degree_scan_within_a_quarter_pixel():
    scan, data = _data(nangles=721, arange=360.0)
    est = estimate_center(data, scan.angles)
    assert abs(est.center - scan.cor) <= 0.25 and est.label == "high", est.reasons


def test_sample_leaving_the_field_of_view_is_low():
    """Axis 40 px from the edge of 256: the sample leaves the field of view."""
    scan, data = _data(cor=40.0)
    est = estimate_center(data, scan.angles)
    assert est.label == "low" and est.reasons


@pytest.mark.parametrize("value", [0.0, 5.0])
def test_tilt_of_a_featureless_pair_is_not_estimated(value, caplog):
    """A saturated (constant) pair has no structure: a warning and an infinite error,
    never a confident zero."""
    from alsmicroct.engine.center_confidence import estimate_tilt

    flat = np.full((64, 256), value, np.float32)
    tilt, err = estimate_tilt(flat, flat)
    assert tilt == 0.0 and err == float("inf")
    assert "no structure" in caplog.text


def test_tilt_of_a_blank_sample_has_a_large_error():
    """Noise only (no sample): the error says the estimate is meaningless."""
    from alsmicroct.engine.center_confidence import estimate_tilt

    rng = np.random.default_rng(0)
    _tilt, err = estimate_tilt(rng.normal(0, 0.01, (64, 256)), rng.normal(0, 0.01, (64, 256)))
    assert err > 1.0


def test_tilt_search_reference_computed_once_matches_the_full_formula():
    """The rotation search windows and transforms the fixed 0 degree side once
    (``_windowed``) and its grid runs in threads: each match equals, bit for bit, the
    normalised cross-correlation computed from both images every time, and the grid's
    threaded costs equal the ones computed one by one."""
    from scipy import fft as sfft
    from scipy import ndimage

    from alsmicroct.engine import center_confidence as cc
    from alsmicroct.engine.center import _taper

    scan, data = _data(nangles=181, nslices=32, tilt_deg=1.0)
    j = int(np.argmin(np.abs(np.abs(scan.angles - scan.angles[0]) - np.pi)))
    a, b = data[0].astype(np.float64), data[j][:, ::-1].astype(np.float64)
    win = np.outer(_taper(a.shape[0], 0.15), _taper(a.shape[1], 0.15))

    def full(a, bm):  # the formula with nothing kept between calls
        a = (a - a.mean()) * win
        bm = (bm - bm.mean()) * win
        c = sfft.irfft2(sfft.rfft2(a) * np.conj(sfft.rfft2(bm)), s=a.shape)
        iy, ix = np.unravel_index(int(np.argmax(c)), c.shape)
        c0 = float(c[iy, ix])
        ny, nx = c.shape

        def vertex(m, p):
            den = m - 2.0 * c0 + p
            return c0 - (p - m) ** 2 / (8.0 * den) if den < 0 else c0

        peak = vertex(c[iy, (ix - 1) % nx], c[iy, (ix + 1) % nx]) + vertex(c[(iy - 1) % ny, ix], c[(iy + 1) % ny, ix])
        return (peak - c0) / np.sqrt(float(np.sum(a * a)) * float(np.sum(bm * bm)))

    ref = cc._windowed(a, win)
    for phi in (-2.0, 0.0, 1.5, 2.25):
        bm = ndimage.rotate(b, phi, reshape=False, order=1, mode="nearest")
        assert cc._pair_match(ref, bm, win) == full(a, bm)
    # the threaded grid picks the node the sequential one picks, and refines to the same angle
    seq = [-full(a, ndimage.rotate(b, g, reshape=False, order=1, mode="nearest")) for g in np.arange(-4, 4.25, 0.5)]
    phi, _ = cc._pair_rotation(a, b, 4.0)
    start = float(np.arange(-4, 4.25, 0.5)[int(np.argmin(seq))])
    assert phi == cc._pair_rotation(a, b, 4.0, start)[0]
