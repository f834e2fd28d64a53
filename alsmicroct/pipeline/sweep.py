"""The "try centres" sweep: one row reconstructed over many centres, plus a montage."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..params import ReconParams

__all__ = ["center_sweep_files"]

logger = logging.getLogger(__name__)


def center_sweep_files(
    filename, params: ReconParams, centers: list[float], *, row: int | None = None
) -> tuple[list[Path], Path]:
    """Write one TIFF per centre for ``row`` and a labelled montage; see ``try_centers``."""
    from .. import engine, post
    from ..io.tiff import write_tiff_atomic
    from .center import preprocessed_sinogram
    from .prepare import open_planned
    from .quicklook import write_montage

    if not centers:
        raise ParameterError("try_centers needs at least one centre")
    with open_planned(filename, params) as (scan, plan):
        path = plan.path
        row = int(plan.rows[plan.rows.size // 2]) if row is None else int(row)
        if not 0 <= row < plan.meta.nslices:
            raise ParameterError(f"{path}: row={row} is outside 0..{plan.meta.nslices - 1}")
        for c in centers:
            if not 0 <= c <= plan.meta.nrays - 1:
                raise ParameterError(f"{path}: centre {c} lies outside the detector row 0..{plan.meta.nrays - 1}")
        sino = preprocessed_sinogram(scan, plan, row)
    p = plan.params
    recs = engine.center_sweep(
        sino,
        plan.theta,
        centers,
        filter_name=p.filter_name,
        cutoff=p.butterworth_cutoff,
        order=p.butterworth_order,
        npad=plan.npad,
    )
    recs = post.circ_mask(np.asarray(recs, dtype=np.float32) / np.float32(plan.pxsize_cm), ratio=1.0)
    folder = plan.output_dir / f"try_centers_row{row:05d}"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for c, img in zip(centers, recs, strict=True):
        target = folder / f"{plan.prefix}_cor{c:08.2f}.tiff"
        write_tiff_atomic(target, img, metadata={"cor": c, "row": row, "units": "1/cm"})
        files.append(target)
    montage = write_montage(
        recs, centers, folder / f"{plan.prefix}_try_centers_row{row:05d}.png", title=f"{path.name} row {row}"
    )
    logger.info("%s: %d trial centres written to %s", path.name, len(files), folder)
    return files, montage
