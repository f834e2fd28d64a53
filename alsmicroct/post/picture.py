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

WIDTH, HEIGHT = 1200, 900   # pixels, the size of matplotlib's 12 x 9 inch figure at 100 dpi
_TITLE_H = 36               # pixels of the title band
_LABEL_H = 20               # pixels above each panel for its label
_BAR_X = 1120               # left edge of the colour bar
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


def render_quicklook(xy: np.ndarray, xz: np.ndarray, yz: np.ndarray, *, lo: float, hi: float,
                     title: str, labels: tuple[str, str, str] = ("xy", "xz", "yz")):
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
        canvas[y0:y0 + size[0], x0:x0 + size[1]] = _resize(grey, size)
        origins.append((x0, y0 - _LABEL_H + 2))
    finite = np.concatenate([np.ravel(v) for v in (xy, xz, yz)])
    finite = finite[np.isfinite(finite)]
    hy, hx = _TITLE_H + _CELL_H + _LABEL_H, 20 + _CELL_W
    canvas[hy:hy + box[0] - 20, hx:hx + box[1]] = _histogram(finite, lo, hi, (box[0] - 20, box[1]))
    bar_h = 2 * _CELL_H - 120
    ramp = np.linspace(255, 0, bar_h).round().astype(np.uint8)
    canvas[_TITLE_H + 30:_TITLE_H + 30 + bar_h, _BAR_X:_BAR_X + 24] = ramp[:, None]

    image = Image.fromarray(canvas, mode="L")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.text((20, 10), title, fill=0, font=font)
    for (x, y), label in zip(origins, labels, strict=True):
        draw.text((x, y), label, fill=0, font=font)
    draw.text((hx, hy - _LABEL_H + 2), "histogram (0.5-99.5 percentile range)", fill=0, font=font)
    draw.text((hx, hy + box[0] - 16), f"{lo:.4g}", fill=0, font=font)
    draw.text((hx + box[1] - 60, hy + box[0] - 16), f"{hi:.4g}", fill=0, font=font)
    draw.text((_BAR_X - 4, _TITLE_H + 12), f"{hi:.4g}", fill=0, font=font)
    draw.text((_BAR_X - 4, _TITLE_H + 34 + bar_h), f"{lo:.4g}", fill=0, font=font)
    return image
