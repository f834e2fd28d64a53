"""Tests of alsmicroct.post.remove_ring on synthetic slices with rings."""

from __future__ import annotations

import numpy as np
import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.post import remove_ring

N = 384
_Y, _X = np.mgrid[:N, :N] - (N - 1) / 2
_R = np.hypot(_X, _Y)
RING_RADII = [(25, 0.10), (60, -0.08), (95, 0.10), (130, 0.10), (165, -0.10)]


def _ring_metric(err):
    """RMS over radii 5..N/2 of the azimuthal mean of an error image (ring content)."""
    ri = np.round(_R).astype(int)
    m = ri < N // 2
    prof = np.bincount(ri[m], err[m]) / np.maximum(np.bincount(ri[m]), 1)
    return float(np.sqrt(np.mean(prof[5:] ** 2)))


@pytest.fixture(scope="module")
def phantom():
    rng = np.random.default_rng(0)
    clean = np.zeros((N, N), np.float32)
    clean[_R < 150] = 1.0  # sample cylinder: a centred step edge
    clean[(_X - 45) ** 2 + (_Y + 20) ** 2 < 30**2] = 2.0
    clean[(_X + 60) ** 2 + (_Y - 40) ** 2 < 18**2] = 0.5
    clean += rng.normal(0, 0.05, (N, N)).astype(np.float32)
    rings = np.zeros((N, N), np.float32)
    for rr, a in RING_RADII:
        rings += a * np.exp(-0.5 * ((_R - rr) / 0.8) ** 2).astype(np.float32)
    return clean, rings


KW = {"thresh": 0.2, "thresh_max": 3.0, "thresh_min": -1.0}


def test_rings_removed_and_clean_slice_kept(phantom):
    clean, rings = phantom
    before = _ring_metric(rings)
    out = remove_ring(clean + rings, **KW)
    after = _ring_metric(out - clean)
    assert before > 0.015  # measured 0.018
    assert after < before / 3, (before, after)  # measured 0.0051: 3.5x lower
    # clean slice: changed by far less than its noise (sigma 0.05)
    out_clean = remove_ring(clean, **KW)
    change = float(np.sqrt(np.mean((out_clean - clean) ** 2)))
    assert change < 0.01, change  # measured 0.006
    assert _ring_metric(out_clean - clean) < 0.006  # measured 0.004


def test_stack_reflect_and_centre(phantom):
    clean, rings = phantom
    stack = np.stack([clean + rings, clean])
    out = remove_ring(stack, int_mode="REFLECT", **KW)
    assert out.shape == stack.shape and out.dtype == np.float32
    assert _ring_metric(out[0] - clean) < _ring_metric(rings) / 3
    # rings centred off the slice centre: found when the centre is given
    shifted = np.roll(rings, (7, -5), axis=(0, 1))
    img = clean + shifted
    off = remove_ring(img, center_x=(N - 1) / 2 - 5, center_y=(N - 1) / 2 + 7, **KW)
    on = remove_ring(img, **KW)
    err_off = float(np.sqrt(np.mean((off - clean)[_R < 170] ** 2)))
    err_on = float(np.sqrt(np.mean((on - clean)[_R < 170] ** 2)))
    err_in = float(np.sqrt(np.mean((img - clean)[_R < 170] ** 2)))
    assert err_off < 0.8 * err_in and err_off < err_on


def test_bad_parameters():
    img = np.zeros((32, 32), np.float32)
    with pytest.raises(ParameterError, match="int_mode"):
        remove_ring(img, int_mode="mirror")
    with pytest.raises(ParameterError, match="centre"):
        remove_ring(img, center_x=40.0)
    with pytest.raises(ParameterError, match="thresh_min"):
        remove_ring(img, thresh_min=5, thresh_max=1)


def _seg_row(i, s0, length, reflect):
    """Row of offset ``i`` in the segment ``[s0, s0 + length)`` (wrapped or reflected)."""
    if not reflect:
        return s0 + i % length
    if length == 1:
        return s0
    period = 2 * (length - 1)
    i %= period
    return s0 + (period - i if i >= length else i)


def _reference_remove_ring(img, cx, cy, thresh, thresh_max, thresh_min, theta_min, rwidth, reflect):
    """Slow, direct numpy version of remove_ring's documented algorithm (one slice):
    sorted windows instead of sliding ones, window sums instead of running sums,
    ``numpy.arctan2`` instead of the polynomial angle."""
    ny, nx = img.shape
    nr = int(min(cx + 1.0, cy + 1.0, nx - cx, ny - cy))
    nth = max(int(np.floor(2 * np.pi * nr + 0.5)), 4)
    ncol = 2 * (nr - 1) + 1
    m_rad = 2 * rwidth + 1
    ks = [min(m, nr - 1) for m in (m_rad // 3, 2 * m_rad // 3, m_rad)]
    m_azi = int(np.ceil(nth / 360.0)) * theta_min
    segs = [(0, nth // 2), (nth // 2, nth)] if reflect else [(0, nth)]
    seg_len = segs[0][1]
    aks = [min(m, max((seg_len - 1) // 2, 0)) for m in (m_azi // 3, 2 * m_azi // 3, m_azi)]
    bounds = [0, nr // 3, 2 * nr // 3, nr]
    # 1. polar grid, nearest pixel, half-pixel radii, clipped
    th = (np.arange(nth) + 0.5) * 2 * np.pi / nth
    j = np.arange(ncol)
    xi = np.clip(np.floor(cx + j[None] * (np.cos(th) / 2)[:, None] + 0.5), 0, nx - 1)
    yi = np.clip(np.floor(cy + j[None] * (np.sin(th) / 2)[:, None] + 0.5), 0, ny - 1)
    fine = np.nan_to_num(img[yi.astype(int), xi.astype(int)], nan=0.0)
    fine = np.clip(fine, thresh_min, thresh_max).astype(np.float32)
    # 2. edge-preserving radial baseline at whole-pixel radii
    pad = max(ks)
    coarse = fine[:, ::2]
    n_ext = nr + pad
    med = np.empty((nth, nr), np.float32)
    for i in range(nth):
        ext = np.concatenate([coarse[(i + nth // 2) % nth, pad:0:-1], coarse[i]])
        for t in range(3):
            k = ks[t]
            for p in range(pad + bounds[t], pad + bounds[t + 1]):
                stats = []
                for win in (ext[p - k : p + 1], ext[p : min(p + k, n_ext - 1) + 1]):
                    s = np.sort(win)
                    w = s.size
                    stats.append((s[(w - 1) // 2], s[(3 * w) // 4] - s[w // 4]))
                (ml, il), (mr, ir) = stats
                nk = min(k, n_ext - 1 - p) + 1
                tol = 3.0 * 1.2533 * np.sqrt(1.0 / (k + 1) + 1.0 / nk) / 1.349 * min(il, ir)
                v = ext[p]
                if abs(ml - mr) <= tol:
                    m = 0.5 * (ml + mr)
                elif il > 1.25 * ir:
                    m = mr
                elif ir > 1.25 * il or abs(v - ml) <= abs(v - mr):
                    m = ml
                else:
                    m = mr
                med[i, p - pad] = m
    base = np.empty((nth, ncol))
    base[:, ::2] = med
    base[:, 1::2] = 0.5 * med[:, :-1].astype(float) + 0.5 * med[:, 1:]
    # 3. difference, threshold
    d = fine - base
    keep = np.abs(d) <= thresh
    dm = np.where(keep, d, 0.0)
    # 4. azimuthal mean over the kept samples
    ring = np.zeros((nth, ncol))
    for s0, s1 in segs:
        length = s1 - s0
        for t in range(3):
            cols = slice(2 * bounds[t], ncol if t == 2 else 2 * bounds[t + 1])
            k = aks[t]
            for i in range(length):
                rows = [_seg_row(i + q, s0, length, reflect) for q in range(-k, k + 1)]
                total = dm[rows, cols].sum(axis=0)
                count = keep[rows, cols].sum(axis=0)
                ring[s0 + i, cols] = np.where(keep[s0 + i, cols], total / np.maximum(count, 1), 0)
    # 5. bilinear (angle, radius) back to the pixels, subtract
    yy, xx = np.mgrid[:ny, :nx]
    r = np.hypot(xx - cx, yy - cy)
    tt = np.mod(np.arctan2(yy - cy, xx - cx), 2 * np.pi) * nth / (2 * np.pi) - 0.5
    i0 = np.floor(tt)
    ft = tt - i0
    i0 = i0.astype(int) % nth
    i1 = (i0 + 1) % nth
    rs = np.minimum(2 * r, ncol - 1.0)
    j0 = rs.astype(int)
    j1 = np.minimum(j0 + 1, ncol - 1)
    fr = rs - j0
    a = (1 - fr) * ring[i0, j0] + fr * ring[i0, j1]
    c = (1 - fr) * ring[i1, j0] + fr * ring[i1, j1]
    return np.where(r <= (ncol - 1) / 2, img - ((1 - ft) * a + ft * c), img)


@pytest.mark.parametrize("reflect", [False, True])
def test_matches_slow_reference(reflect):
    """The fast kernels (sliding sorted windows, running sums, in-place polar grid,
    polynomial angle) give the documented algorithm's result to float32 rounding."""
    rng = np.random.default_rng(5)
    n = 72
    y, x = np.mgrid[:n, :n] - (n - 1) / 2
    r = np.hypot(x - 1.5, y + 0.75)
    img = np.where(r < 25, 1.0, 0.0) + np.where((x - 8) ** 2 + y**2 < 36, 1.5, 0.0)
    img += 0.1 * np.exp(-0.5 * ((r - 12) / 0.8) ** 2) + rng.normal(0, 0.05, (n, n))
    img = img.astype(np.float32)
    img[3, 5] = np.nan  # outside the polar disc: passed through
    img[40, 41] = np.nan  # inside: sampled as 0
    kw = dict(
        center_x=(n - 1) / 2 + 1.5,
        center_y=(n - 1) / 2 - 0.75,
        thresh=0.2,
        thresh_max=2.0,
        thresh_min=-0.5,
        theta_min=12,
        rwidth=6,
    )
    out = remove_ring(img, int_mode="REFLECT" if reflect else "WRAP", **kw)
    ref = _reference_remove_ring(
        img.astype(np.float64),
        kw["center_x"],
        kw["center_y"],
        kw["thresh"],
        kw["thresh_max"],
        kw["thresh_min"],
        kw["theta_min"],
        kw["rwidth"],
        reflect,
    )
    fin = np.isfinite(ref)
    assert np.array_equal(fin, np.isfinite(out))
    assert np.abs(out[fin] - img[fin]).max() > 0.01  # rings were found
    assert np.abs(out[fin] - ref[fin]).max() < 1e-5


def test_sliding_median_matches_sort():
    """The branch-free sliding window gives the sorted-window median and IQR, including
    ties and windows truncated at the end."""
    from alsmicroct.post import rings

    rng = np.random.default_rng(7)
    n = 300
    ext = rng.normal(size=(rings._ROWS, n)).astype(np.float32)
    ext[:, ::5] = 0.25  # ties
    ext[:, 150:] += 1.0
    for k in (1, 6, 20, 40, 61):
        cap = (k + 16) // 16 * 16 + 2
        med = np.empty_like(ext)
        iqr = np.empty_like(ext)
        ba = np.empty((rings._ROWS, cap), np.float32)
        bb = np.empty_like(ba)
        rings._sliding_median(ext, k, 3, n, n, med, iqr, ba, bb)
        for row in range(rings._ROWS):
            for p in range(3, n):
                s = np.sort(ext[row, p : min(p + k, n - 1) + 1])
                w = s.size
                assert med[row, p] == s[(w - 1) // 2], (k, row, p)
                assert iqr[row, p] == s[(3 * w) // 4] - s[w // 4], (k, row, p)
