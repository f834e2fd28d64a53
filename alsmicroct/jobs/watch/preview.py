"""The preview of a finished scan, written next to its future output within seconds.

For a scan the preview holds:

- the automatic centre with its confidence (:func:`alsmicroct.engine.estimate_center` on
  the three preview rows; a given ``cor`` is used as is);
- three slices, top, middle and bottom, reconstructed by ``recon(sinoused=...)`` (only
  those rows are read), as ``<prefix>_preview_NNNNN.tiff`` with their own record;
- a centre sweep of the middle row around the estimate (``<prefix>_preview_sweep.png``);
- the quick-look picture ``<prefix>_preview.png`` (the three slices, Pillow) and
  ``<prefix>_preview.json`` (centre, confidence, quality figures, timings).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...io.atomic import atomic_file, write_json_atomic

__all__ = ["make_preview", "preview_rows", "write_png_grid"]

logger = logging.getLogger(__name__)


def preview_rows(rows: np.ndarray) -> tuple[int, int, int]:
    """Top, middle and bottom row of the rows a run would reconstruct (an eighth in from
    each end), as an evenly spaced triple so that one ``sinoused=(start, end, step)``
    selects exactly them."""
    lo, hi = int(rows[0]), int(rows[-1])
    if hi - lo < 2:
        return lo, lo, lo
    margin = (hi - lo) // 8
    step = max((hi - lo - 2 * margin) // 2, 1)
    first = lo + margin
    return first, first + step, first + 2 * step


def _tile(img: np.ndarray, lo: float, hi: float, size: int):
    from PIL import Image

    u8 = np.clip((np.asarray(img, np.float32) - lo) * (255.0 / max(hi - lo, 1e-12)), 0, 255).astype(np.uint8)
    return Image.fromarray(u8).resize((size, size), Image.Resampling.BILINEAR)


def write_png_grid(images: Sequence[np.ndarray], labels: Sequence[str], target: Path, *, title: str = "",
                   ncols: int = 5, size: int = 384, what: str = "preview picture") -> Path:
    """A labelled grid of ``images`` on one grey scale (1st-99th percentile), as PNG (Pillow).

    Written atomically (:func:`alsmicroct.io.atomic.atomic_file`); an error writing it is an
    :class:`~alsmicroct.errors.OutputError` naming ``target``.
    """
    from PIL import Image, ImageDraw

    stack = [np.asarray(i, np.float32) for i in images]
    sample = np.concatenate([i[:: max(1, i.shape[0] // 256), :: max(1, i.shape[1] // 256)].ravel()
                             for i in stack])
    lo, hi = (float(v) for v in np.percentile(sample, [1, 99]))
    ncols = max(1, min(ncols, len(stack)))
    nrows = math.ceil(len(stack) / ncols)
    head, pad = (18 if title else 0), 16
    canvas = Image.new("L", (ncols * (size + 4), head + nrows * (size + pad + 4)), color=0)
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 3), title, fill=255)
    for k, (img, label) in enumerate(zip(stack, labels, strict=True)):
        x, y = (k % ncols) * (size + 4), head + (k // ncols) * (size + pad + 4)
        tile = _tile(img, lo, hi, size)
        canvas.paste(tile, (x, y + pad))
        draw.text((x + 2, y + 2), label, fill=255)
    with atomic_file(target, "wb", what=what) as fh:
        canvas.save(fh, format="PNG", compress_level=1)
    return target


def _quality(slices: np.ndarray) -> dict[str, float]:
    from ...post import quality

    mid = slices[len(slices) // 2]
    lo, hi = quality.range_8bit(mid)
    return {"ring_index": round(float(quality.ring_index(mid)), 5),
            "sharpness": round(float(quality.sharpness(mid)), 5),
            "mean_1_per_cm": round(float(np.mean(mid)), 5), "range_8bit_low": round(float(lo), 5),
            "range_8bit_high": round(float(hi), 5)}


def make_preview(path: str | Path, output_root: str | Path, *, keywords: Mapping[str, Any] | None = None,
                 prefix: str | None = None, sweep: int = 7, sweep_step: float = 1.0) -> dict[str, Any]:
    """Write the preview of the raw scan ``path``; return what it found (JSON-friendly).

    Parameters
    ----------
    path : path-like
        The raw scan (finished).
    output_root : path-like
        REC_DIR: the preview goes to ``<output_root>/rec<stem>/`` (the full run's folder).
    keywords : mapping, optional
        recon() keywords of this scan (config layers merged); ``cor`` skips the search.
    prefix : str, optional
        The full run's slice prefix (default: the raw file's stem); the preview's files
        start with ``<prefix>_preview``.
    sweep, sweep_step : int, float
        Number of trial centres and their spacing (px) of the centre sweep.

    Returns
    -------
    dict
        ``cor``, ``confidence`` (label, uncertainty, reasons), ``rows``, ``png``,
        ``sweep_png``, ``slices``, ``quality``, ``seconds`` (per stage).
    """
    from ...engine import center_sweep
    from ...engine.center_confidence import estimate_center
    from ...params import ReconParams
    from ...pipeline.center import find_center, preprocessed_sinogram
    from ...pipeline.prepare import open_planned
    from ...post import circ_mask
    from ...reconstruction import recon

    t0 = time.perf_counter()
    path = Path(path)
    kw = {k: v for k, v in dict(keywords or {}).items() if k not in ("sinoused", "outputFilename")}
    kw["outputPath"] = str(output_root)
    prefix = prefix or path.stem
    params = ReconParams.from_mapping(kw, inputPath=str(path.parent))
    with open_planned(path.name, params) as (scan, plan):
        rows = preview_rows(plan.rows)
        distinct = sorted(set(rows))
        sinos = np.stack([preprocessed_sinogram(scan, plan, r) for r in distinct], axis=1)
        t_read = time.perf_counter()
        if params.cor is not None:
            cor = float(params.cor)
            confidence: dict[str, Any] = {"label": "given", "uncertainty": 0.0, "reasons": []}
        else:
            est = estimate_center(sinos, plan.theta, rows=len(distinct))
            cor = est.center
            confidence = {"label": est.label, "uncertainty": round(est.uncertainty, 3),
                          "reasons": list(est.reasons), "pc": est.pc, "vo": est.vo}
            if est.label != "high":   # the full run's own method (corFunction) decides
                cor = find_center(scan, plan)
                confidence["reasons"].append(f"centre from corFunction={params.corFunction!r}")
    t_centre = time.perf_counter()
    span = (rows[0], rows[2] + 1, max(rows[1] - rows[0], 1))
    res = recon(path.name, inputPath=str(path.parent), resume=False, quicklook=False,
                **{**kw, "cor": cor, "sinoused": span, "outputFilename": f"{prefix}_preview"})
    import tifffile

    slices = np.stack([tifffile.imread(f) for f in res.files])
    t_slices = time.perf_counter()
    folder = Path(res.output_dir)
    p = plan.params
    edge = float(plan.meta.nrays - 1)
    centers = sorted({min(max(round(cor + sweep_step * (k - (sweep - 1) / 2), 2), 0.0), edge)
                      for k in range(sweep)})
    mid = sinos[:, len(distinct) // 2, :]
    recs = center_sweep(mid, plan.theta, np.asarray(centers), filter_name=p.filter_name,
                        cutoff=p.butterworth_cutoff, order=p.butterworth_order, npad=plan.npad)
    recs = circ_mask(np.asarray(recs, np.float32) / np.float32(plan.pxsize_cm), ratio=1.0)
    sweep_png = write_png_grid(recs, [f"cor {c:.2f}" for c in centers], folder / f"{prefix}_preview_sweep.png",
                               title=f"{path.name}: centre sweep, row {rows[1]}", ncols=min(len(centers), 4),
                               size=256, what="centre-sweep montage")
    t_sweep = time.perf_counter()
    label = confidence["label"]
    png = write_png_grid(list(slices), [f"row {r}" for r in res.rows], folder / f"{prefix}_preview.png",
                         title=f"{path.name}  cor={cor:.2f} ({label})", ncols=3, size=384)
    t_png = time.perf_counter()
    out = {"cor": round(cor, 3), "confidence": confidence, "rows": [int(r) for r in res.rows],
           "png": str(png), "sweep_png": str(sweep_png), "sweep_centers": centers,
           "slices": [str(f) for f in res.files], "record": str(res.provenance_path),
           "output_dir": str(folder), "quality": _quality(slices),
           "seconds": {"read": round(t_read - t0, 3), "centre": round(t_centre - t_read, 3),
                       "slices": round(t_slices - t_centre, 3), "sweep": round(t_sweep - t_slices, 3),
                       "png": round(t_png - t_sweep, 3), "total": round(t_png - t0, 3)}}
    write_json_atomic(folder / f"{prefix}_preview.json", out, what="preview record")
    logger.info("%s: preview in %.2f s, centre %.2f (%s): %s", path.name, t_png - t0, cor, label, png)
    return out
