"""A light PNG renderer for quick-look pictures (Pillow only, no plotting stack).

:func:`render_quicklook` lays out the central xy, xz and yz views of a volume, a grey
colour bar with its value range and a histogram on one 1200 x 900 canvas built as a
NumPy array; Pillow only draws the labels and encodes the PNG, so a picture costs a few
tens of milliseconds where matplotlib's import and layout cost over a second.
"""

from __future__ import annotations

import logging

import numpy as np

from alsmicroct.post.cast import to_uint8

__all__ = ["render_quicklook"]

logger = logging.getLogger(__name__)

WIDTH, HEIGHT = 1200, 900  # pixels, the size of matplotlib's 12 x 9 inch figure at 100 dpi
_TITLE_H = 36  # pixels of the title band
_LABEL_H = 20  # pixels above each panel for its label
_BAR_X = 1120  # left edge of the colour bar
_CELL_W = (_BAR_X - 40) // 2
_CELL_H = (HEIGHT - _TITLE_H) // 2
_BG = 255


def _fit(shape: tuple[int, int], box: tuple[int, int], equal: bool) -> tuple[int, int]:
    """Size (height, width) of an image of ``shape`` drawn in ``box``, pixels."""
    h, w = shape
    bh, bw = box
    if not equal:
        return bh, bw
    scale = min(bh / max(h, 1), bw / max(w, 1))
    return max(1, round(h * scale)), max(1, round(w * scale))


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a 2-D uint8 array to ``size`` (height, width)."""
    rows = np.minimum((np.arange(size[0]) + 0.5) * img.shape[0] / size[0], img.shape[0] - 1).astype(np.intp)
    cols = np.minimum((np.arange(size[1]) + 0.5) * img.shape[1] / size[1], img.shape[1] - 1).astype(np.intp)
    return img[rows[:, None], cols[None, :]]


def _histogram(values: np.ndarray, lo: float, hi: float, size: tuple[int, int]) -> np.ndarray:
    """Bars of a 256-bin histogram of ``values`` in ``[lo, hi]`` as a uint8 picture."""
    h, w = size
    out = np.full((h, w), _BG, dtype=np.uint8)
    if values.size == 0:
        return out
    counts, _ = np.histogram(values, bins=256, range=(lo, hi))
    heights = np.round(counts / max(int(counts.max()), 1) * (h - 1)).astype(np.intp)
    per_col = heights[np.minimum(np.arange(w) * 256 // w, 255)]
    out[np.arange(h)[:, None] >= h - per_col[None, :]] = 77
    return out


def _polyline(values: np.ndarray, x0: int, y0: int, size: tuple[int, int]) -> list[tuple[float, float]]:
    """Points of a line plot of ``values`` filling the box at (``x0``, ``y0``) of ``size``."""
    v = np.asarray(values, float)
    v = np.where(np.isfinite(v), v, np.nan)
    lo, hi = np.nanmin(v), np.nanmax(v)
    span = hi - lo if hi > lo else 1.0
    h, w = size
    xs = x0 + np.linspace(0, w - 1, v.size)
    ys = y0 + (h - 1) * (1 - (np.nan_to_num(v, nan=lo) - lo) / span)
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


def render_quicklook(
    xy: np.ndarray,
    xz: np.ndarray,
    yz: np.ndarray,
    *,
    lo: float,
    hi: float,
    title: str,
    labels: tuple[str, str, str] = ("xy", "xz", "yz"),
    notes: tuple[str, ...] = (),
    curves: tuple[tuple[str, np.ndarray], ...] = (),
):
    """The quick-look picture of three orthogonal views, as a Pillow image.

    Parameters
    ----------
    xy, xz, yz : numpy.ndarray
        2-D views (values in the volume's units, e.g. 1/cm); ``xy`` keeps its aspect
        ratio, the other two are stretched to their panel as ``aspect="auto"`` would.
    lo, hi : float
        Values drawn black and white (same units; ``lo < hi``); the colour bar is labelled
        with them.
    title : str
        Text of the title band.
    labels : tuple of str
        Panel labels, in the order of the views.
    notes : tuple of str
        Text lines drawn under the title (e.g. the quality figures).
    curves : tuple of (str, numpy.ndarray)
        Labelled 1-D curves (e.g. the ring profile, the centre per row) drawn as line plots
        under the histogram, each scaled to its own range (printed).

    Returns
    -------
    PIL.Image.Image
        8-bit grey image, 1200 x 900 pixels; ``.save(fh, format="png")`` writes it.
    """
    from PIL import Image, ImageDraw, ImageFont

    canvas = np.full((HEIGHT, WIDTH), _BG, dtype=np.uint8)
    box = (_CELL_H - _LABEL_H - 16, _CELL_W - 16)
    cells = [(0, 0), (0, 1), (1, 0)]
    origins = []
    for (r, c), img, equal in zip(cells, (xy, xz, yz), (True, False, False), strict=True):
        grey = to_uint8(np.nan_to_num(np.asarray(img, dtype=np.float32), nan=lo), dmin=lo, dmax=hi)
        size = _fit(grey.shape, box, equal)
        y0, x0 = _TITLE_H + r * _CELL_H + _LABEL_H, 20 + c * _CELL_W
        canvas[y0 : y0 + size[0], x0 : x0 + size[1]] = _resize(grey, size)
        origins.append((x0, y0 - _LABEL_H + 2))
    finite = np.concatenate([np.ravel(v) for v in (xy, xz, yz)])
    finite = finite[np.isfinite(finite)]
    hy, hx = _TITLE_H + _CELL_H + _LABEL_H, 20 + _CELL_W
    curves = tuple((name, np.asarray(v, float)) for name, v in curves if np.size(v) > 1)
    hist_h = box[0] - 20 if not curves else (box[0] - 20) // (len(curves) + 1) - _LABEL_H
    canvas[hy : hy + hist_h, hx : hx + box[1]] = _histogram(finite, lo, hi, (hist_h, box[1]))
    bar_h = 2 * _CELL_H - 120
    ramp = np.linspace(255, 0, bar_h).round().astype(np.uint8)
    canvas[_TITLE_H + 30 : _TITLE_H + 30 + bar_h, _BAR_X : _BAR_X + 24] = ramp[:, None]

    image = Image.fromarray(canvas, mode="L")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.text((20, 10), title, fill=0, font=font)
    for (x, y), label in zip(origins, labels, strict=True):
        draw.text((x, y), label, fill=0, font=font)
    draw.text((hx, hy - _LABEL_H + 2), "histogram (0.5-99.5 percentile range)", fill=0, font=font)
    draw.text((hx, hy + hist_h + 4), f"{lo:.4g}", fill=0, font=font)
    draw.text((hx + box[1] - 60, hy + hist_h + 4), f"{hi:.4g}", fill=0, font=font)
    for k, line in enumerate(notes):
        draw.text((420 + 380 * (k // 3), 2 + 11 * (k % 3)), line, fill=0, font=font)
    for k, (name, values) in enumerate(curves):
        cy = hy + (k + 1) * (hist_h + _LABEL_H + 20)
        ch = hist_h
        draw.rectangle((hx, cy, hx + box[1] - 1, cy + ch - 1), outline=200)
        draw.line(_polyline(values, hx, cy, (ch, box[1])), fill=0, width=1)
        finite_v = values[np.isfinite(values)]
        rng = f" ({finite_v.min():.3g} .. {finite_v.max():.3g})" if finite_v.size else ""
        draw.text((hx, cy - _LABEL_H + 6), name + rng, fill=0, font=font)
    draw.text((_BAR_X - 4, _TITLE_H + 12), f"{hi:.4g}", fill=0, font=font)
    draw.text((_BAR_X - 4, _TITLE_H + 34 + bar_h), f"{lo:.4g}", fill=0, font=font)
    return image
