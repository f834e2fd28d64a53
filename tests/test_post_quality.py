"""Quality figures on arrays with known answers."""

import numpy as np
import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.post import quality as q


def _ring_image(n=128, amp=0.5):
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    r = np.hypot(xx, yy)
    return np.where(np.abs(r - 20) < 0.5, amp, 0.0)


def test_ring_index_sees_rings_not_noise():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.1, (128, 128))
    assert q.ring_index(_ring_image() + noise) > 5 * q.ring_index(noise)
    assert q.ring_index(_ring_image(), _ring_image()) == 0.0
    assert q.ring_index(_ring_image(), highpass=9) > 0


def test_psnr_and_sharpness():
    truth = _ring_image(amp=1.0)
    assert q.psnr(truth, truth) == float("inf")
    assert q.psnr(truth + 0.01, truth) == pytest.approx(40.0, abs=1e-6)
    from scipy import ndimage

    blurred = ndimage.gaussian_filter(truth, 2)
    assert q.sharpness(truth) > q.sharpness(blurred)


def test_raw_fractions_drift_and_range():
    raw = np.array([[0, 10, 65535, 65535]], np.uint16)
    assert q.raw_pixel_fractions(raw) == {"saturated": 0.5, "zero": 0.25}
    flats = np.stack([np.full((4, 4), 1100.0), np.full((4, 4), 1080.0)])
    assert q.flat_drift(flats, [0, 1], dark=np.full((4, 4), 100.0)) == pytest.approx(0.02)
    lo, hi = q.range_8bit(np.linspace(0, 1, 1001))
    assert lo == pytest.approx(0.001) and hi == pytest.approx(0.999)
    with pytest.raises(ParameterError):
        q.range_8bit(np.full(3, np.nan))
    with pytest.raises(ParameterError):
        q.ring_index(np.zeros((4, 5)))


def test_disk_only_figures_equal_the_whole_slice_formulas():
    # sharpness and ring_index read the disk's pixels only (issue 14): the same numbers as
    # np.gradient and a float64 copy of the whole slices give
    from alsmicroct.post.quality import _disk, _radii, ring_index, sharpness

    a = np.random.default_rng(3).normal(0, 1, (3, 96, 96)).astype(np.float32)
    for frac in (0.45, 0.7):  # 0.7: the disk reaches the edges (np.gradient's one-sided there)
        m = _disk(96, frac)
        gy, gx = np.gradient(a, axis=(-2, -1))
        g2 = np.square(gx[..., m], dtype=np.float64) + np.square(gy[..., m], dtype=np.float64)
        assert sharpness(a, frac=frac) == float(np.mean(g2) / a[..., m].astype(np.float64).var())
        r = np.rint(_radii(96)).astype(np.intp)
        inside = r < int(frac * 96)
        count = np.maximum(np.bincount(r[inside]), 1)
        means = np.array([np.bincount(r[inside], weights=s[inside]) / count for s in a.astype(float)])
        assert ring_index(a, frac=frac) == float(np.sqrt(np.mean(means[:, r[inside]] ** 2)))
