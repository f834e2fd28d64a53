"""Tests of alsmicroct.prep.normalize against exact ground truth built from known
transmissions."""

from __future__ import annotations

import numpy as np
import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.prep import minus_log, normalize, normalize_nf
from alsmicroct.prep.normalize import DENOMINATOR_FLOOR

NROW, NCOL = 6, 40


def _references(rng, level: float, nimg: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Stack of ``nimg`` images whose exact mean is ``mean_img`` (noise sums to zero)."""
    mean_img = level * (1.0 + 0.2 * rng.random((NROW, NCOL)))
    noise = rng.normal(0.0, 0.01 * level, (nimg, NROW, NCOL))
    noise -= noise.mean(axis=0)
    return (mean_img + noise).astype(np.float32), mean_img


def _scan(rng, nang: int = 12):
    """Raw counts with known transmission ``t``: proj = dark + t (flat - dark)."""
    t = np.exp(-rng.random((nang, NROW, NCOL)) * 2.0)
    flats, flat_mean = _references(rng, 4000.0)
    darks, dark_mean = _references(rng, 100.0, nimg=3)
    proj = dark_mean + t * (flat_mean - dark_mean)
    return proj.astype(np.float32), flats, darks, t


def test_normalize_recovers_transmission():
    rng = np.random.default_rng(1)
    proj, flats, darks, t = _scan(rng)
    out = normalize(proj, flats, darks)
    assert out.dtype == np.float32 and out.shape == proj.shape
    np.testing.assert_allclose(out, t, rtol=2e-5, atol=2e-6)


def test_normalize_cutoff_and_dead_pixel_are_finite():
    rng = np.random.default_rng(2)
    proj, flats, darks, t = _scan(rng)
    flats[:, 2, 3] = darks.mean(axis=0)[2, 3]  # dead pixel: flat == dark
    out = normalize(proj, flats, darks, cutoff=0.5)
    assert np.all(np.isfinite(out))
    assert out.max() <= 0.5
    # the dead pixel's denominator is clipped to DENOMINATOR_FLOOR counts
    expected = (proj[:, 2, 3] - darks.mean(axis=0, dtype=np.float64)[2, 3]) / DENOMINATOR_FLOOR
    np.testing.assert_allclose(out[:, 2, 3], np.minimum(expected, 0.5), rtol=1e-3)
    good = t <= 0.5
    good[:, 2, 3] = False
    np.testing.assert_allclose(out[good], t[good], rtol=2e-5, atol=2e-6)


def test_normalize_accepts_single_2d_flat_and_no_dark():
    rng = np.random.default_rng(3)
    t = rng.random((5, NROW, NCOL))
    flat = 3000.0 + rng.random((NROW, NCOL)) * 100
    proj = (t * flat).astype(np.float32)
    out = normalize(proj, flat.astype(np.float32), np.empty((0, NROW, NCOL), np.float32))
    np.testing.assert_allclose(out, t, rtol=2e-5, atol=1e-6)


def test_normalize_nf_uses_nearest_flat_group():
    rng = np.random.default_rng(4)
    nang = 101
    t = np.exp(-rng.random((nang, NROW, NCOL)))
    flats0, mean0 = _references(rng, 4000.0)
    flats1, mean1 = _references(rng, 2500.0)  # the beam decayed: a very different flat
    darks, dark_mean = _references(rng, 100.0, nimg=2)
    positions = np.array([0, 100])
    idx = np.arange(nang)
    nearest = np.where(idx < 50, 0, 1)  # 50 is half-way: the later group wins (TomoPy)
    flat_of = np.where(nearest[:, None, None] == 0, mean0, mean1)
    proj = (dark_mean + t * (flat_of - dark_mean)).astype(np.float32)
    flats = np.concatenate([flats0, flats1])
    flat_indices = np.repeat(positions, [len(flats0), len(flats1)])

    out = normalize_nf(proj, flats, darks, flat_indices=flat_indices, proj_indices=idx)
    np.testing.assert_allclose(out, t, rtol=3e-5, atol=3e-6)

    # a chunk of projections gets the same numbers as in the whole scan
    chunk = slice(40, 61)
    part = normalize_nf(proj[chunk], flats, darks, flat_indices=flat_indices, proj_indices=idx[chunk])
    np.testing.assert_array_equal(part, out[chunk])

    # the plain normalisation (mean of both groups) is wrong by the flat change
    plain = normalize(proj, flats, darks)
    assert np.abs(plain - t).max() > 0.1


def test_normalize_errors_name_the_value():
    rng = np.random.default_rng(5)
    proj, flats, darks, _ = _scan(rng)
    with pytest.raises(ParameterError, match="flats"):
        normalize(proj, flats[:, :-1], darks)
    with pytest.raises(ParameterError, match="proj"):
        normalize(proj[0], flats, darks)
    with pytest.raises(ParameterError, match="flat_indices"):
        normalize_nf(proj, flats, darks, flat_indices=[0, 1], proj_indices=np.arange(12))
    with pytest.raises(ParameterError, match="proj_indices"):
        normalize_nf(proj, flats, darks, flat_indices=[0] * 4, proj_indices=[0.5] * 12)
    with pytest.raises(ParameterError, match="cutoff"):
        normalize(proj, flats, darks, cutoff=float("nan"))


def test_minus_log_values_and_clamping():
    rng = np.random.default_rng(6)
    x = rng.random((3, 4, 50)).astype(np.float32) * 5.0
    t = np.exp(-x.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(minus_log(t), x, atol=2e-6, rtol=2e-6)
    bad = t.copy()
    bad[0, 0, :5] = [0.0, -0.3, np.nan, np.inf, -np.inf]
    out = minus_log(bad, floor=1e-4)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(
        out[0, 0, :5], [-np.log(1e-4), -np.log(1e-4), 0.0, np.log(1e-4), -np.log(1e-4)], rtol=1e-6
    )
    # in place
    same = minus_log(t, out=t)
    assert same is t
    np.testing.assert_allclose(t, x, atol=2e-6, rtol=2e-6)
    with pytest.raises(ParameterError, match="floor"):
        minus_log(t, floor=0.0)


def test_package_exports_functions():
    import alsmicroct.prep as prep
    import alsmicroct.prep.outliers  # noqa: F401  (binds prep.normalize to the module)

    assert prep.normalize is normalize and callable(prep.normalize)
    for name in (
        "remove_outlier_1d",
        "remove_outlier_2d",
        "beam_hardening",
        "remove_stripe_fw",
        "remove_stripe_ti",
        "remove_stripe_sf",
    ):
        assert callable(getattr(prep, name)) and name in prep.__all__
    with pytest.raises(AttributeError, match="no_such"):
        prep.no_such  # noqa: B018
