"""The preview of a finished scan, written next to its future output within seconds.

For a scan the preview holds:

- the centre the full run will use: recon()'s own ``corFunction``
  (:func:`alsmicroct.pipeline.center.find_center`; a given ``cor`` is used as is), with the
  confidence recon() records (:func:`alsmicroct.pipeline.center.center_confidence`), its
  work bounded for the preview (Vo searched within :data:`CONFIDENCE_SEARCH_PX` of the
  centre, on at most :data:`CONFIDENCE_MAX_ANGLES` evenly spaced projections);
- three slices, top, middle and bottom, run through the pipeline as ``recon(sinoused=...)``
  would (:func:`alsmicroct.pipeline.execute.execute`) on the file opened once for the whole
  preview (only those rows are read, in one read), as ``<prefix>_preview_NNNNN.tiff`` with
  their own record and its quality report (the preview's quality figures);
- a centre sweep of the middle row around the centre (``<prefix>_preview_sweep.png``), on
  the sinogram binned to at most ``sweep_width`` columns and as many angles (the montage's
  tiles are 256 px wide: a full-width sweep costs six times more and shows nothing more);
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

from ...io.atomic import atomic_file, host_tag, write_json_atomic, writer_tag
from ...io.outputs import pid_alive

__all__ = [
    "CONFIDENCE_MAX_ANGLES",
    "CONFIDENCE_SEARCH_PX",
    "PREVIEW_MAX_ANGLES",
    "SWEEP_WIDTH",
    "bin_sinogram",
    "make_preview",
    "preview_rows",
    "warm_up",
    "write_png_grid",
]

logger = logging.getLogger(__name__)

#: the preview's confidence check searches Vo's centre within this many pixels of the centre found
CONFIDENCE_SEARCH_PX = 4.0
#: and on at most this many projections (evenly spaced, every k-th)
CONFIDENCE_MAX_ANGLES = 512
#: the centre sweep runs on the sinogram binned to at most this many columns
SWEEP_WIDTH = 1024
#: the three preview slices use at most this many projections (every k-th; the quick-look
#: tiles are 384 px wide, so the thinning shows only as faint streaks at the rim of the TIFFs)
PREVIEW_MAX_ANGLES = 1024


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


def write_png_grid(
    images: Sequence[np.ndarray],
    labels: Sequence[str],
    target: Path,
    *,
    title: str = "",
    ncols: int = 5,
    size: int = 384,
    what: str = "preview picture",
) -> Path:
    """A labelled grid of ``images`` on one grey scale (1st-99th percentile), as PNG (Pillow).

    Written atomically (:func:`alsmicroct.io.atomic.atomic_file`); an error writing it is an
    :class:`~alsmicroct.errors.OutputError` naming ``target``.
    """
    from PIL import Image, ImageDraw

    stack = [np.asarray(i, np.float32) for i in images]
    sample = np.concatenate([i[:: max(1, i.shape[0] // 256), :: max(1, i.shape[1] // 256)].ravel() for i in stack])
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


def _quality(report: Mapping[str, Any] | None) -> dict[str, Any]:
    """The preview's quality figures: the flat part of the quality report that the slices'
    run gathered on its sample rows (the three preview rows; :mod:`alsmicroct.pipeline.quality_report`),
    not computed a second time."""
    report = report or {}
    rng = (report.get("suggestions") or {}).get("range_8bit") or {}

    def num(v: Any) -> float | None:
        return None if v is None else round(float(v), 5)

    return {
        "ring_index": num(report.get("ring_index")),
        "ring_index_slice": num(report.get("ring_index_slice")),
        "sharpness": num(report.get("sharpness")),
        "range_8bit_low": num(rng.get("cast8bit_min")),
        "range_8bit_high": num(rng.get("cast8bit_max")),
        "raw_saturated_fraction": num(report.get("raw_saturated_fraction")),
        "warnings": len(report.get("warnings") or ()),
    }


def bin_sinogram(
    sino: np.ndarray, theta: np.ndarray, center: float, width: int
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """A sinogram binned to at most ``width`` columns (mean of ``f`` neighbours) and every
    ``f``-th angle, for a cheap look at many centres.

    Parameters
    ----------
    sino : ndarray, shape (angle, column)
    theta : ndarray, shape (angle,)
        Radians.
    center : float
        A centre in pixels of the unbinned row.
    width : int
        Most columns wanted (>= 8).

    Returns
    -------
    (sino, theta, center, f)
        The binned sinogram (float32), its angles, ``center`` in binned pixels
        (``(center - (f - 1) / 2) / f``) and the factor ``f`` (1: unchanged).
    """
    ncol = sino.shape[1]
    f = max(1, math.ceil(ncol / max(int(width), 8)))
    if f == 1:
        return np.asarray(sino, np.float32), np.asarray(theta), float(center), 1
    n = (ncol // f) * f
    binned = np.asarray(sino[::f, :n], np.float32).reshape(-1, n // f, f).mean(axis=2, dtype=np.float32)
    return binned, np.asarray(theta)[::f], (float(center) - (f - 1) / 2.0) / f, f


def _bounded_plan(plan: Any, cor: float) -> Any:
    """``plan`` for the preview's confidence check: Vo searched within
    :data:`CONFIDENCE_SEARCH_PX` of ``cor`` (inside the user's ``voSMin..voSMax``), at most
    :data:`CONFIDENCE_MAX_ANGLES` projections (every k-th)."""
    import dataclasses

    p = plan.params
    off = float(cor) - (plan.meta.nrays - 1) / 2.0
    lo = min(max(p.voSMin, off - CONFIDENCE_SEARCH_PX), p.voSMax)
    hi = max(min(p.voSMax, off + CONFIDENCE_SEARCH_PX), lo)
    params = dataclasses.replace(p, voSMin=lo, voSMax=hi, voSRad=min(p.voSRad, CONFIDENCE_SEARCH_PX / 2))
    k = max(1, math.ceil(plan.proj_indices.size / CONFIDENCE_MAX_ANGLES))
    steps = np.diff(plan.proj_indices)
    if k == 1 or (steps.size and np.ptp(steps) != 0):  # only an evenly spaced list can be thinned
        return dataclasses.replace(plan, params=params)
    return dataclasses.replace(
        plan,
        params=params,
        proj_indices=plan.proj_indices[::k],
        theta=plan.theta[::k],
        ignore_mask=plan.ignore_mask[::k],
    )


def _centre(scan: Any, plan: Any) -> tuple[float, dict[str, Any], Any]:
    """The centre recon() would use for ``plan``, its confidence, and the centred plan."""
    from ...pipeline.center import center_confidence, find_center
    from ...pipeline.plan import centred_plan
    from ...pipeline.prepare import with_center

    p = plan.params
    if p.cor is not None:
        return float(p.cor), {"label": "given", "uncertainty": 0.0, "reasons": []}, plan
    if p.use360to180:  # the stitched geometry: recon()'s own search and its confidence
        centred = with_center(scan, plan)
        info = centred.center_info or {}
        return (
            float(centred.cor),
            {
                "label": info.get("label"),
                "uncertainty": info.get("uncertainty_px"),
                "reasons": list(info.get("reasons", [])),
                "method": "360",
                "rotation": centred.rotation,
                "rows": info.get("rows"),
                "row_centers": info.get("row_centers"),
            },
            centred,
        )
    cor = find_center(scan, plan)
    info = center_confidence(scan, _bounded_plan(plan, cor), cor)
    confidence = {
        "label": info.get("label"),
        "uncertainty": info.get("uncertainty_px"),
        "reasons": list(info.get("reasons", [])),
        "method": p.corFunction,
        "vo": info.get("vo"),
        "rows": info.get("rows"),
        "row_centers": info.get("row_centers"),
    }
    return cor, confidence, centred_plan(plan, cor)


def make_preview(
    path: str | Path,
    output_root: str | Path,
    *,
    keywords: Mapping[str, Any] | None = None,
    prefix: str | None = None,
    sweep: int = 7,
    sweep_step: float = 1.0,
    sweep_width: int = SWEEP_WIDTH,
    max_angles: int = PREVIEW_MAX_ANGLES,
) -> dict[str, Any]:
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
        Number of trial centres and their spacing (px of the raw row) of the centre sweep.
    sweep_width : int
        The sweep's sinogram is binned to at most this many columns (and as many angles).
    max_angles : int
        The three slices use every k-th projection so that at most this many remain (not
        when ``projused``, ``anglelist`` or ``projIgnoreList`` is given).

    Returns
    -------
    dict
        ``cor`` (the centre the full run uses), ``confidence`` (label, uncertainty,
        reasons), ``rows``, ``png``, ``sweep_png`` (None for 360-to-180 scans), ``slices``,
        ``quality``, ``projection_step`` (of the slices), ``seconds`` (per stage).
    """
    from ...engine import center_sweep
    from ...params import ReconParams
    from ...pipeline.center import preprocessed_sinogram
    from ...pipeline.execute import execute
    from ...pipeline.plan import make_plan
    from ...pipeline.prepare import open_planned
    from ...post import circ_mask

    t0 = time.perf_counter()
    path = Path(path)
    kw = {k: v for k, v in dict(keywords or {}).items() if k not in ("sinoused", "outputFilename")}
    kw["outputPath"] = str(output_root)
    prefix = prefix or path.stem
    params = ReconParams.from_mapping(kw, inputPath=str(path.parent))
    # one open of the raw file for everything: centre, sweep row and the three slices
    # (the old layout's per-image datasets make each open cost ~0.4 s at 1969 projections)
    with open_planned(path.name, params) as (scan, plan):
        rows = preview_rows(plan.rows)
        cor, confidence, plan = _centre(scan, plan)
        t_centre = time.perf_counter()
        mid = None if params.use360to180 or sweep < 1 else preprocessed_sinogram(scan, plan, rows[1])
        t_read = time.perf_counter()
        span = (rows[0], rows[2] + 1, max(rows[1] - rows[0], 1))
        thin = {}
        k = math.ceil(plan.proj_indices.size / max(int(max_angles), 2))
        if k > 1 and params.projused is None and params.anglelist is None and params.projIgnoreList is None:
            thin = {"projused": (0, plan.meta.nangles, k)}
        slice_params = ReconParams.from_mapping(
            {**kw, **thin, "cor": cor, "sinoused": span, "outputFilename": f"{prefix}_preview"},
            inputPath=str(path.parent),
        )
        slice_plan = make_plan(plan.path, scan, slice_params)
        run = execute(slice_plan, resume=False, quicklook=False, scan=scan, t_start=t_read)
    import tifffile

    slices = np.stack([tifffile.imread(f) for f in run.files])
    t_slices = time.perf_counter()
    folder = Path(slice_plan.output_dir)
    p = plan.params
    sweep_png, centers = None, []
    if mid is not None:
        edge = float(plan.meta.nrays - 1)
        centers = sorted(
            {min(max(round(cor + sweep_step * (k - (sweep - 1) / 2), 2), 0.0), edge) for k in range(sweep)}
        )
        small, theta, _c, f = bin_sinogram(mid, plan.theta, cor, sweep_width)
        binned = [(c - (f - 1) / 2.0) / f for c in centers]
        recs = center_sweep(
            small,
            theta,
            np.asarray(binned),
            filter_name=p.filter_name,
            cutoff=p.butterworth_cutoff,
            order=p.butterworth_order,
            npad=plan.npad // f,
        )
        recs = circ_mask(np.asarray(recs, np.float32) / np.float32(plan.pxsize_cm * f), ratio=1.0)
        sweep_png = str(
            write_png_grid(
                recs,
                [f"cor {c:.2f}" for c in centers],
                folder / f"{prefix}_preview_sweep.png",
                title=f"{path.name}: centre sweep, row {rows[1]}" + (f" (binned {f}x)" if f > 1 else ""),
                ncols=min(len(centers), 4),
                size=256,
                what="centre-sweep montage",
            )
        )
    t_sweep = time.perf_counter()
    label = confidence["label"]
    png = write_png_grid(
        list(slices),
        [f"row {int(r)}" for r in slice_plan.rows],
        folder / f"{prefix}_preview.png",
        title=f"{path.name}  cor={cor:.2f} ({label})" + (f", every {k}th projection" if thin else ""),
        ncols=3,
        size=384,
    )
    t_png = time.perf_counter()
    out = {
        "cor": round(cor, 3),
        "confidence": confidence,
        "rows": [int(r) for r in slice_plan.rows],
        "png": str(png),
        "sweep_png": sweep_png,
        "sweep_centers": centers,
        "slices": [str(f) for f in run.files],
        "record": str(run.record),
        "output_dir": str(folder),
        "quality": _quality(run.quality),
        "projection_step": k if thin else 1,
        "seconds": {
            "centre": round(t_centre - t0, 3),
            "read": round(t_read - t_centre, 3),
            "slices": round(t_slices - t_read, 3),
            "sweep": round(t_sweep - t_slices, 3),
            "png": round(t_png - t_sweep, 3),
            "total": round(t_png - t0, 3),
        },
    }
    write_json_atomic(folder / f"{prefix}_preview.json", out, what="preview record")
    logger.info("%s: preview in %.2f s, centre %.2f (%s): %s", path.name, t_png - t0, cor, label, png)
    return out


_WARM_PREFIX = "alsmicroct-warm-"


def _remove_dead_warm_ups(folder: Path) -> None:
    """Remove the warm-up folders (``alsmicroct-warm-<pid>@<host>-*``) that processes of this host
    that are gone (a watcher killed during its warm-up) left in ``folder``."""
    import re
    import shutil

    named = re.compile(re.escape(_WARM_PREFIX) + r"(?P<pid>\d+)@(?P<host>\w+)-")
    for entry in folder.iterdir() if folder.is_dir() else ():
        m = named.match(entry.name)
        if m and entry.is_dir() and m.group("host") == host_tag() and not pid_alive(int(m.group("pid"))):
            logger.info("removing %s, left by a watcher (pid %s) that is gone", entry, m.group("pid"))
            shutil.rmtree(entry, ignore_errors=True)


def _warm_block_kernels() -> None:
    """Load the compiled normalisation and -log kernels (numba and its cache), as the first
    block of at least :data:`~alsmicroct.jit.NUMPY_BELOW` values would."""
    from ...jit import NUMPY_BELOW
    from ...prep import minus_log, normalize

    block = np.ones((2, 4, NUMPY_BELOW // 8 + 1), dtype=np.float32)
    minus_log(normalize(block, block[:1], np.zeros_like(block[:1])), out=block)


def warm_up(keywords: Mapping[str, Any] | None = None) -> float:
    """Pay a watcher's one-time costs before the first scan arrives; return the seconds spent.

    The first preview of a process imports the pipeline, loads the numba kernels from their
    cache, builds the first FFT plans and grows the allocator's heap to the working set of
    a detector-wide slice (until then each large array is fresh pages from the kernel):
    together 0.7-0.9 s more than every later preview of a 2048-column scan on 2 cores. A
    watcher runs this once at start, on its preview thread, by previewing a small simulated
    scan of that width (2048 columns, 4 rows, 521 projections, old ALS layout, with rings
    so that the masked ring filter runs; about 3 s) in a temporary folder that is removed
    afterwards (named by the process and host: a later warm-up removes the folders of
    watchers killed during theirs). That scan's blocks are small enough to run the kernels'
    NumPy twins (:mod:`alsmicroct.jit`), so the compiled normalisation and -log kernels,
    which a full-size detector's 0/180 pair takes, are then loaded on a block of
    :data:`~alsmicroct.jit.NUMPY_BELOW` values. ``keywords`` are the service's recon() keywords
    (only the ring and centre choices are used). Nothing of it reaches REC_DIR or the queue; a failure is logged and
    ignored (the first preview then simply pays the costs itself).
    """
    import tempfile

    from ...sim import simulate_scan

    t0 = time.perf_counter()
    kw = {k: v for k, v in dict(keywords or {}).items() if k in ("doFWringremoval", "ringMethod", "corFunction")}
    try:
        _remove_dead_warm_ups(Path(tempfile.gettempdir()))
        with tempfile.TemporaryDirectory(prefix=f"{_WARM_PREFIX}{writer_tag()}-") as tmp:
            raw = Path(tmp) / "warmup.h5"
            simulate_scan(
                raw, layout="als", phantom="shepp", nangles=521, nslices=4, nrays=2048, rings=0.02, write_truth=False
            )
            make_preview(raw, Path(tmp) / "rec", keywords=kw)
        _warm_block_kernels()
    except Exception as exc:  # a warm-up must never stop the watcher
        logger.warning("warm-up preview failed (the first scan pays the start-up costs): %s", exc)
    seconds = time.perf_counter() - t0
    logger.info("warm-up done in %.2f s (imports, numba kernels, FFT plans)", seconds)
    return seconds
