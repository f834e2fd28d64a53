"""Tests of alsmicroct.prep.outliers: injected zingers/dropouts removed, clean data
untouched, exact agreement with scipy's median filter, chunk invariance."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from alsmicroct.errors import ParameterError
from alsmicroct.prep import remove_outlier_1d, remove_outlier_2d

NANG, NROW, NCOL = 60, 24, 48


def _clean_counts(rng) -> np.ndarray:
    """Smooth raw-count projections (a Gaussian blob that drifts with angle) + noise."""
    a = np.arange(NANG)[:, None, None]
    r = np.arange(NROW)[None, :, None]
    c = np.arange(NCOL)[None, None, :]
    cx = NCOL / 2 + 8 * np.sin(2 * np.pi * a / NANG)
    blob = np.exp(-((c - cx) ** 2 + (r - NROW / 2) ** 2) / (2 * 6.0**2))
    counts = 3000.0 - 1500.0 * blob + rng.normal(0.0, 8.0, (NANG, NROW, NCOL))
    return counts.astype(np.float32)


def _inject(rng, data, n, amplitude):
    """Set ``n`` isolated random pixels to ``data + amplitude``; returns their indices."""
    flat = rng.choice(data.size, size=n, replace=False)
    idx = np.unravel_index(flat, data.shape)
    out = data.copy()
    out[idx] += amplitude
    return out, idx


def test_outlier_2d_removes_zingers_only():
    rng = np.random.default_rng(10)
    clean = _clean_counts(rng)
    bright, zidx = _inject(rng, clean, 60, 2500.0)
    dirty, didx = _inject(rng, bright, 30, -1500.0)  # dark pixels: left alone by 2-D
    out = remove_outlier_2d(dirty, dif=400.0, size=3)
    restored = np.abs(out[zidx] - clean[zidx]) < 200.0  # back near the truth (slope)
    assert restored.sum() == 60
    np.testing.assert_array_equal(out[didx], dirty[didx])
    untouched = np.ones(clean.shape, bool)
    untouched[zidx] = False
    assert np.count_nonzero(out[untouched] != dirty[untouched]) == 0
    # clean data: nothing changes
    np.testing.assert_array_equal(remove_outlier_2d(clean, dif=400.0, size=5), clean)


def test_outlier_1d_removes_bright_and_dark():
    rng = np.random.default_rng(11)
    clean = _clean_counts(rng)
    bright, zidx = _inject(rng, clean, 60, 2500.0)
    dirty, didx = _inject(rng, bright, 40, -1200.0)
    out = remove_outlier_1d(dirty, dif=400.0, size=5)
    for idx, n in ((zidx, 60), (didx, 40)):
        assert np.count_nonzero(np.abs(out[idx] - clean[idx]) < 200.0) == n
    changed = np.count_nonzero(out != dirty)
    assert changed <= 100  # only the injected values (some may coincide)
    np.testing.assert_array_equal(remove_outlier_1d(clean, dif=400.0, size=5), clean)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7])
def test_outliers_match_scipy_median(size):
    rng = np.random.default_rng(12)
    data = rng.normal(0.0, 1.0, (15, 9, 13)).astype(np.float32)
    dif = 0.8
    med1 = ndimage.median_filter(data, size=(size, 1, 1), mode="reflect")
    ref1 = np.where(np.abs(data - med1) >= dif, med1, data)
    np.testing.assert_array_equal(remove_outlier_1d(data, dif=dif, size=size), ref1)
    med2 = ndimage.median_filter(data, size=(1, size, size), mode="reflect")
    ref2 = np.where(data - med2 >= dif, med2, data)
    np.testing.assert_array_equal(remove_outlier_2d(data, dif=dif, size=size), ref2)


def test_outliers_chunk_invariance():
    rng = np.random.default_rng(13)
    data = rng.normal(0.0, 1.0, (20, 10, 16)).astype(np.float32)
    whole1 = remove_outlier_1d(data, dif=1.0, size=5)
    halves1 = np.concatenate(
        [remove_outlier_1d(data[:, :4], dif=1.0, size=5), remove_outlier_1d(data[:, 4:], dif=1.0, size=5)], axis=1
    )
    np.testing.assert_array_equal(whole1, halves1)
    whole2 = remove_outlier_2d(data, dif=1.0, size=3)
    halves2 = np.concatenate(
        [remove_outlier_2d(data[:7], dif=1.0, size=3), remove_outlier_2d(data[7:], dif=1.0, size=3)], axis=0
    )
    np.testing.assert_array_equal(whole2, halves2)


def test_outlier_errors():
    data = np.zeros((4, 4, 4), np.float32)
    with pytest.raises(ParameterError, match="size"):
        remove_outlier_1d(data, dif=1.0, size=0)
    with pytest.raises(ParameterError, match="dif"):
        remove_outlier_2d(data, dif=0.0, size=3)
    with pytest.raises(ParameterError, match="ndim=2"):
        remove_outlier_2d(data[0], dif=1.0, size=3)


def test_outliers_replace_nan_by_finite_median():
    rng = np.random.default_rng(14)
    clean = _clean_counts(rng)
    dirty, idx = _inject(rng, clean, 40, np.nan)
    for out in (remove_outlier_1d(dirty, dif=400.0, size=5), remove_outlier_2d(dirty, dif=400.0, size=3)):
        assert np.all(np.isfinite(out))
        assert np.abs(out[idx] - clean[idx]).max() < 200.0
        keep = np.ones(clean.shape, bool)
        keep[idx] = False
        np.testing.assert_array_equal(out[keep], dirty[keep])
