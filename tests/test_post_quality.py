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


def _ring_index_definition(img, ref=None, *, frac=0.45, highpass=0):
    """ring_index as its docstring defines it: per-pixel bin means, their RMS over the disk."""
    diff = np.asarray(img, float) - (0.0 if ref is None else np.asarray(ref, float))
    diff = diff[None] if diff.ndim == 2 else diff
    n = diff.shape[-1]
    c = np.arange(n) - (n - 1) / 2
    r = np.rint(np.hypot(c[:, None], c[None, :])).astype(int)
    m = r < int(frac * n)
    count = np.maximum(np.bincount(r[m]), 1)
    means = np.array([np.bincount(r[m], weights=s[m]) / count for s in diff])
    if highpass > 0:
        k = np.ones(highpass) / highpass
        means = means - np.array(
            [np.convolve(np.pad(p, highpass, mode="edge"), k, "same")[highpass:-highpass] for p in means]
        )
    return float(np.sqrt(np.mean(means[:, r[m]] ** 2)))


def _sharpness_definition(img, *, frac=0.45):
    a = np.asarray(img, float)
    gy, gx = np.gradient(a, axis=(-2, -1))
    n = a.shape[-1]
    c = np.arange(n) - (n - 1) / 2
    m = np.hypot(c[:, None], c[None, :]) <= frac * n
    return float(np.mean(gx[..., m] ** 2 + gy[..., m] ** 2) / a[..., m].var())


@pytest.mark.parametrize("n", [63, 64, 257])
def test_ring_index_and_sharpness_equal_their_definitions(n):
    from alsmicroct.post.quality import ring_index, sharpness

    rng = np.random.default_rng(n)
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    img = (rng.normal(size=(3, n, n)) + np.hypot(yy, xx) % 7 + 5).astype(np.float32)
    ref = rng.normal(size=(3, n, n)).astype(np.float32)
    for args in ((img,), (img, ref), (img[0],), (img[0], ref[0])):
        for hp in (0, 9):
            assert ring_index(*args, highpass=hp) == pytest.approx(_ring_index_definition(*args, highpass=hp), rel=1e-9)
    assert sharpness(img) == pytest.approx(_sharpness_definition(img), rel=1e-5)
    assert sharpness(img[1]) == pytest.approx(_sharpness_definition(img[1]), rel=1e-5)
    assert sharpness(img, frac=0.5) == pytest.approx(_sharpness_definition(img, frac=0.5), rel=1e-5)


def test_disk_only_figures_equal_the_whole_slice_formulas():
    # sharpness and ring_index read the disk's pixels only (issue 14): the numbers np.gradient
    # and a float64 copy of the whole slices give (frac 0.7: the disk reaches the edges)
    from alsmicroct.post.quality import _disk, _radii, ring_index, sharpness

    a = np.random.default_rng(3).normal(0, 1, (3, 96, 96)).astype(np.float32)
    for frac in (0.45, 0.7):
        m = _disk(96, frac)
        gy, gx = np.gradient(a, axis=(-2, -1))
        g2 = np.square(gx[..., m], dtype=np.float64) + np.square(gy[..., m], dtype=np.float64)
        assert sharpness(a, frac=frac) == pytest.approx(float(np.mean(g2) / a[..., m].astype(np.float64).var()))
        r = np.rint(_radii(96)).astype(np.intp)
        inside = r < int(frac * 96)
        count = np.maximum(np.bincount(r[inside]), 1)
        means = np.array([np.bincount(r[inside], weights=s[inside]) / count for s in a.astype(float)])
        assert ring_index(a, frac=frac) == pytest.approx(float(np.sqrt(np.mean(means[:, r[inside]] ** 2))), rel=1e-9)
