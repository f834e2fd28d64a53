"""Physics of the simulator's artefacts: phase contrast, beam hardening, counts and stripes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.sim import Phantom, Spectrum, fresnel_intensity, project, simulate_data
from alsmicroct.sim.artefacts import wavelength_cm

PX = 1e-4  # 1 um pixels


def _sphere_projection(radius_px=20.0, n=96, mu=2.0):
    ph = Phantom(
        np.zeros((1, 3)),
        np.full((1, 3), radius_px * PX),
        np.eye(3)[None],
        np.array([mu]),
        np.array([np.inf]),
    )
    return project(ph, [0.0], nslices=n, nrays=n, pxsize_cm=PX, subsamples=4, zsamples=4)[0]


def test_wavelength():
    assert wavelength_cm(12.398) == pytest.approx(1.0000e-8, rel=1e-4)  # 1 Angstrom


def test_phase_contrast_edge_enhancement_grows_with_distance():
    p = _sphere_projection()  # weak absorber, peak line integral 0.008
    row = 47
    j = np.arange(96)
    edge = 47.5 + math.sqrt(20.0**2 - (row - 47.5) ** 2)
    kw = dict(delta_beta=1000.0, pixel_size_cm=PX, energy_kev=20.0)
    assert np.allclose(fresnel_intensity(p, dist_cm=0.0, **kw), np.exp(-p), atol=1e-12)
    contrast = []
    for dist in (2.0, 5.0, 20.0):
        img = fresnel_intensity(p, dist_cm=dist, **kw)
        prof = img[row]
        outside = (j > edge) & (j < edge + 4)
        inside = (j < edge) & (j > edge - 4)
        # bright fringe just outside the edge, dark fringe just inside
        assert prof[outside].max() > 1.0
        assert prof[inside].min() < np.exp(-p[row][inside]).min()
        jmax = j[outside][np.argmax(prof[outside])]
        assert abs(jmax - edge) < 2.5
        contrast.append(prof[outside].max() - prof[inside].min())
        assert img.mean() == pytest.approx(np.exp(-p).mean(), rel=2e-3)  # energy conserved
    assert contrast[0] < contrast[1] < contrast[2]


def test_phase_contrast_units_paganin_recovers_thickness():
    # Paganin's single-material retrieval with the same delta/beta must give back p
    p = _sphere_projection(radius_px=25.0, n=128, mu=4.0)
    dist, energy, db = 10.0, 20.0, 300.0
    img = fresnel_intensity(p, delta_beta=db, pixel_size_cm=PX, dist_cm=dist, energy_kev=energy)
    f = np.fft.fftfreq(128, d=PX)
    f2 = f[:, None] ** 2 + f[None, :] ** 2
    lam = wavelength_cm(energy)
    filt = 1.0 / (1.0 + math.pi * lam * dist * db * f2)
    got = -np.log(np.real(np.fft.ifft2(np.fft.fft2(img) * filt)))
    core = p > 0.5 * p.max()
    assert np.abs(got - p)[core].max() < 0.03 * p.max()
    assert not np.allclose(-np.log(img), p, atol=0.03 * p.max())  # phase contrast present


def test_beam_hardening_curve_is_concave():
    sp = Spectrum.gaussian(24.0, photo_fraction=0.8)
    t = np.linspace(0.0, 5.0, 51)
    y = -np.log(sp.transmission(t))
    assert y[0] == 0.0
    d2 = np.diff(y, 2)
    assert np.all(d2 < 0)
    assert np.all(np.diff(y) > 0)
    # no hardening when all attenuation is energy independent (Compton only)
    flat = Spectrum.gaussian(24.0, photo_fraction=0.0)
    assert np.allclose(-np.log(flat.transmission(t)), t, atol=1e-12)
    # a monochromatic "spectrum" gives Beer-Lambert at its energy
    mono = Spectrum((30.0,), (1.0,), reference_kev=24.0, photo_fraction=1.0)
    assert np.allclose(-np.log(mono.transmission(t)), t * (24.0 / 30.0) ** 3)
    with pytest.raises(ParameterError):
        Spectrum((10.0, 20.0), (1.0,), reference_kev=15.0)


def _normalised(s):
    flats = s.flats.astype(float).mean(axis=0)
    dark = s.darks.astype(float).mean(axis=0)
    return (s.proj.astype(float) - dark) / (flats - dark)


def test_counts_statistics():
    s = simulate_data(
        nangles=31,
        nslices=6,
        nrays=64,
        flux=12000.0,
        flat_drift=0.0,
        num_flats=20,
        num_darks=20,
        seed=3,
    )
    darks = s.darks.astype(float)
    flats = s.flats.astype(float)
    assert darks.mean() == pytest.approx(100.0, abs=2.0)
    assert (darks - darks.mean(axis=0)).std() == pytest.approx(2.5 * math.sqrt(19 / 20), rel=0.1)
    signal = flats.mean(axis=0) - darks.mean(axis=0)
    assert signal.min() > 4000 and signal.max() < 13000  # a few thousand to ~flux counts
    var = (flats - flats.mean(axis=0)).var(axis=0).mean() * 20 / 19
    assert var == pytest.approx(signal.mean() + 2.5**2, rel=0.05)  # Poisson + read noise
    # -log of the flat-field corrected data is the line integral, within noise
    err = -np.log(_normalised(s)) - s.line_integrals()
    assert abs(err.mean()) < 3e-3
    assert err.std() == pytest.approx(np.sqrt(np.exp(s.line_integrals()) / signal).mean(), rel=0.3)
    assert s.line_integrals().max() == pytest.approx(1.5, rel=0.1)
    assert s.proj.dtype == np.uint16


def test_flat_drift_between_groups():
    s = simulate_data(nangles=101, nslices=4, nrays=32, i0cycle=50, flat_drift=0.04, noise=False, seed=1)
    assert s.flat_positions == (0, 50, 100)
    groups = s.flats.astype(float).reshape(3, 5, 4, 32).mean(axis=(1, 2, 3)) - 100
    rel = groups / groups[0]
    assert 0.005 < abs(rel[-1] - 1) < 0.08


def test_zingers_and_clipping():
    s = simulate_data(nangles=21, nslices=8, nrays=48, zingers=2e-3, flux=30000.0, seed=5)
    hits = s.artefacts["zingers"]
    assert len(hits) > 5
    clean = simulate_data(nangles=21, nslices=8, nrays=48, zingers=0.0, flux=30000.0, seed=5)
    diff = s.proj.astype(float) - clean.proj.astype(float)
    assert np.all(diff[hits[:, 0], hits[:, 1], hits[:, 2]] > 5000)
    mask = np.zeros(diff.shape, bool)
    mask[hits[:, 0], hits[:, 1], hits[:, 2]] = True
    assert np.all(diff[~mask] == 0)
    assert s.proj.max() == 65535  # saturated hits clip at 16 bits
    assert len(clean.artefacts["zingers"]) == 0


def test_stripes_of_each_kind():
    s = simulate_data(
        nangles=60,
        nslices=4,
        nrays=96,
        rings=0.01,
        dead_columns=[20],
        partial_columns=[40],
        fluctuating_columns=[60],
        stripe_fluctuation=0.1,
        flat_drift=0.0,
        seed=2,
    )
    err = -np.log(np.clip(_normalised(s), 1e-6, None)) - s.line_integrals()
    normal = np.setdiff1d(np.arange(10, 86), [20, 40, 60])
    # rings: each pixel keeps a constant error -log(gain) over all angles
    gain = s.artefacts["gain"]
    pred = -np.log(gain)[:, normal]
    got = err[:, :, normal].mean(axis=0)
    assert np.corrcoef(pred.ravel(), got.ravel())[0, 1] > 0.95
    # dead column: reads like the open beam whatever the sample (-log ~ 0)
    assert np.abs(-np.log(_normalised(s)[:, :, 20])).max() < 0.05
    assert s.line_integrals()[:, :, 20].max() > 0.3
    # partial: a strong error that depends on the transmission
    assert np.abs(err[:, :, 40]).mean() > 0.2
    # fluctuating: error varies from projection to projection
    assert err[:, :, 60].std(axis=0).mean() > 3 * err[:, :, normal].std(axis=0).mean()
    assert list(s.artefacts["dead_columns"]) == [20]


def test_random_stripe_columns_are_distinct():
    s = simulate_data(
        nangles=3,
        nslices=2,
        nrays=64,
        dead_columns=3,
        partial_columns=2,
        fluctuating_columns=2,
        seed=9,
    )
    cols = np.concatenate([s.artefacts[k] for k in ("dead_columns", "partial_columns", "fluctuating_columns")])
    assert len(set(cols.tolist())) == 7
    assert cols.min() >= 6 and cols.max() < 58


def test_beam_hardening_scan_and_phase_scan():
    bh = simulate_data(nangles=9, nslices=2, nrays=64, beam_hardening=True, noise=False, seed=0)
    mono = simulate_data(nangles=9, nslices=2, nrays=64, noise=False, seed=0)
    p = mono.line_integrals()
    lb = -np.log(_normalised(bh))
    ratio = lb[p > 0.05] / p[p > 0.05]  # effective attenuation falls with thickness
    assert np.corrcoef(p[p > 0.05], ratio)[0, 1] < -0.7
    assert (lb / np.maximum(p, 1e-9))[p > 1.2].max() < (lb / np.maximum(p, 1e-9))[(p > 0.1) & (p < 0.3)].min()
    phase = {
        o: simulate_data(
            nangles=2,
            nslices=8,
            nrays=48,
            delta_beta=800.0,
            distance_mm=100.0,
            noise=False,
            flat_drift=0.0,
            phase_oversample=o,
            seed=0,
        )
        for o in (1, 2, 4, 8)
    }
    assert phase[2].line_integrals().max() == pytest.approx(0.05, rel=0.1)  # weak absorber
    norm = {o: _normalised(r) for o, r in phase.items()}
    assert norm[2].max() > 1.002  # fringes above the open beam
    # the finer the sampled wave, the closer the images (aliasing of edges dies out)
    err = [np.abs(norm[o] - norm[8]).mean() for o in (1, 2, 4)]
    assert err[2] < err[1] < err[0]
