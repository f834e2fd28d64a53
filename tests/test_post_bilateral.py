"""Tests of alsmicroct.post.bilateral_filter (separable) against the exact filter."""

from __future__ import annotations

import numpy as np
import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.post import bilateral_filter, bilateral_filter_exact


def _rms(v):
    return float(np.sqrt(np.mean(np.square(v, dtype=np.float64))))


@pytest.fixture(scope="module")
def phantom():
    """Piecewise-constant volume (grey values 0..200) with sigma-10 noise."""
    from scipy import ndimage

    nz, n = 16, 56
    z, y, x = np.mgrid[:nz, :n, :n]
    ph = np.zeros((nz, n, n), np.float32)
    ph[(x - 27) ** 2 + (y - 29) ** 2 < 16**2] = 100
    ph[(x + 0.6 * y > 62) & (z > 5)] = 200  # oblique plane edge
    ph[(x - 18) ** 2 + (y - 18) ** 2 + (z - 8) ** 2 < 7**2] = 50
    noisy = ph + np.random.default_rng(1).normal(0, 10, ph.shape).astype(np.float32)
    edge = ndimage.morphological_gradient(ph, size=3) > 0
    flat = ~ndimage.binary_dilation(edge, iterations=3)
    return ph, noisy, edge, flat


def test_denoises_and_keeps_edges(phantom):
    from scipy import ndimage

    ph, noisy, edge, flat = phantom
    out = bilateral_filter(noisy, spatial_radius=3, range_radius=30)
    assert out.dtype == np.float32 and out.shape == noisy.shape
    # noise sigma 10 -> below 2.5 in flat regions (measured ~0.7 flat, 2.2 overall)
    assert _rms((out - ph)[flat]) < 1.5
    assert _rms(out - ph) < 3.0
    # edges kept: error at edge voxels well below the noise, unlike a Gaussian blur
    gauss = ndimage.gaussian_filter(noisy, 1.5)
    assert _rms((out - ph)[edge]) < 7.0  # measured ~5.8 (noise 10)
    assert _rms((gauss - ph)[edge]) > 5 * _rms((out - ph)[edge])


def test_matches_exact_filter(phantom):
    _, noisy, edge, flat = phantom
    sep = bilateral_filter(noisy, spatial_radius=3, range_radius=30)
    exact = bilateral_filter_exact(noisy, spatial_radius=3, range_radius=30)
    # stated error of the separable approximation (sigma_r = 30, noise 10):
    assert _rms((sep - exact)[flat]) < 1.5  # measured ~1.0 grey values
    assert _rms(sep - exact) < 2.0  # measured ~1.5
    assert _rms((sep - exact)[edge]) < 4.5  # measured ~3.2 (0.1 sigma_r)
    # 2-D slices: exact and separable agree as well
    s2 = bilateral_filter(noisy[3], spatial_radius=2, range_radius=30)
    e2 = bilateral_filter_exact(noisy[3], spatial_radius=2, range_radius=30)
    assert s2.shape == noisy[3].shape and _rms(s2 - e2) < 2.0


def test_chunks_identical_to_whole_volume(phantom):
    _, noisy, _, _ = phantom
    r = 2
    whole = bilateral_filter(noisy, spatial_radius=r, range_radius=25)
    # interior chunk with r margin slices each side
    chunk = bilateral_filter(noisy[4 - r : 9 + r], spatial_radius=r, range_radius=25)
    assert np.array_equal(chunk[r:-r], whole[4:9])
    only = bilateral_filter(noisy[4 - r : 9 + r], spatial_radius=r, range_radius=25, out_slices=slice(r, 5 + r))
    assert np.array_equal(only, whole[4:9])
    # first chunk: no margin below the volume start
    first = bilateral_filter(noisy[: 5 + r], spatial_radius=r, range_radius=25)
    assert np.array_equal(first[:5], whole[:5])


def test_bad_parameters():
    with pytest.raises(ParameterError, match="spatial_radius"):
        bilateral_filter(np.zeros((2, 4, 4), np.float32), spatial_radius=0)
    with pytest.raises(ParameterError, match="range_radius"):
        bilateral_filter(np.zeros((2, 4, 4), np.float32), range_radius=-1)
