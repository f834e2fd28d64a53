"""One way into the pipeline: raw file + parameters -> a frozen, centred :class:`ReconPlan`.

Every entry point (``recon()``, ``find_centers``, ``try_centers``, SLURM parts and merging,
batch dry runs) plans a scan here, so they all resolve the input, open the file, check the
parameters and find the centre the same way.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..params import ReconParams
from .auto_tilt import with_tilt
from .plan import ReconPlan, centred_plan, make_plan, resolve_input, scan_options

__all__ = ["open_planned", "prepare", "prepared", "with_center"]

logger = logging.getLogger(__name__)


@contextmanager
def open_planned(filename: str | os.PathLike, params: ReconParams) -> Iterator[tuple[Any, ReconPlan]]:
    """Resolve ``filename`` against ``params.inputPath``, open it and plan it (every check
    that needs no heavy work); yields ``(scan, plan)`` with the scan open. The plan is centred
    when ``params.cor`` is given."""
    from ..io import open_scan

    path = resolve_input(filename, params.inputPath)
    with open_scan(path, **scan_options(params)) as scan:
        yield scan, make_plan(path, scan, params)


@contextmanager
def prepared(
    filename: str | os.PathLike, params: ReconParams, *, share: bool = True
) -> Iterator[tuple[Any, ReconPlan]]:
    """:func:`prepare` that keeps the file open for the run: yields ``(scan, plan)``, the plan
    centred and ``scan`` a :class:`~alsmicroct.pipeline.reads.SharedReads` over the open file,
    to give to :func:`~alsmicroct.pipeline.execute.execute` (``scan=``), so the file is
    opened once and the rows centre finding reads inside the run's first row block are read
    once (:func:`~alsmicroct.pipeline.runner.first_raw_read`; ``share=False``: not, e.g. for a
    run whose blocks are read elsewhere, by Dask workers). A local run's blocks are fitted to
    the free memory first (:func:`~alsmicroct.pipeline.execute.fit_plan_memory`), so a scan
    too big for the machine is refused, or cut into smaller blocks, before any heavy read."""
    from .execute import fit_plan_memory
    from .reads import SharedReads
    from .runner import first_raw_read

    with open_planned(filename, params) as (scan, plan):
        if share:  # a local run: its blocks fit this machine before the centre's reads share the first
            plan = fit_plan_memory(plan)
        shared = SharedReads(scan, first_raw_read(plan) if share and not plan.centred else None)
        yield shared, with_center(shared, plan)


def with_center(scan: Any, plan: ReconPlan) -> ReconPlan:
    """``plan`` with its centre resolved: as given, or found by ``corFunction`` (for
    ``use360to180``, the axis and its side from mirrored 180 deg partners). The detector
    tilt is estimated (and with ``autoTilt="apply"`` corrected) first, :func:`with_tilt`."""
    plan = with_tilt(scan, plan)
    if plan.centred:
        return plan
    from .center import center_confidence, find_center, find_center_360

    if plan.params.use360to180:
        cor, rotation, info = find_center_360(scan, plan)
        return dataclasses.replace(centred_plan(plan, cor, rotation), center_info=info)
    cor = find_center(scan, plan)
    info = center_confidence(scan, plan, cor)
    if info.get("drift_significant") and plan.params.correcttilt:
        info = _drift_after_tilt(info, plan.params.correcttilt)
    if not info.get("drift_significant"):
        return dataclasses.replace(centred_plan(plan, cor), center_info=info)
    # a significant drift and no cor given: each row gets its own centre from the per-row fit
    # (a single-centre method averages over a sheared pair; the fit's middle is the centre used)
    ref = 0.5 * (info["rows"][0] + info["rows"][-1])
    mid = float(info["vo"])
    info = {
        **info,
        "center": mid,
        "found_center": float(cor),
        "per_row_applied": True,
        "per_row_fit": {"center_px": mid, "at_row": ref, "slope_px_per_row": info["slope_px_per_row"]},
    }
    return dataclasses.replace(
        centred_plan(plan, mid), center_info=info, center_slope=info["slope_px_per_row"], center_row=ref
    )


def _drift_after_tilt(info: dict, tilt_deg: float) -> dict:
    """The per-row drift fit once the tilt correction has straightened the axis: the
    confidence rows are read uncorrected, where a tilt ``t`` moves the axis by ``tan(t)`` px
    per row; what is left decides whether per-row centres are still needed."""
    from .center import CONFIDENCE_MAX_GAP

    expected = math.tan(math.radians(tilt_deg))
    residual = info["slope_px_per_row"] - expected
    span = info["rows"][-1] - info["rows"][0]
    significant = abs(residual) * span > CONFIDENCE_MAX_GAP
    return {
        **info,
        "drift_significant": significant,
        "slope_px_per_row": residual,
        "drift_px": round(residual * span, 3),
        "drift_before_tilt_px": info.get("drift_px"),
    }


def prepare(filename: str | os.PathLike, params: ReconParams, *, center: bool = True) -> ReconPlan:
    """The plan of one scan: input resolved, file opened and checked, parameters checked
    against it, and (with ``center``) the centre resolved.

    Parameters
    ----------
    filename : str or path-like
        Raw file, absolute or relative to ``params.inputPath`` (".h5" may be left out).
    params : ReconParams
        Validated parameters.
    center : bool
        Find the centre when ``params.cor`` is None (False: a dry run's plan, which
        still checks everything else, including a given ``cor``).

    Returns
    -------
    ReconPlan
        Frozen; ``plan.centred`` tells whether it can run.

    Raises
    ------
    AlsMicroCTError
        ``InputFileError``, ``LayoutError``, ``ParameterError``, ``RangeError``,
        ``OutputError`` naming the file and value at fault; ``ReconstructionError`` when the
        centre cannot be found.
    """
    with open_planned(filename, params) as (scan, plan):
        return with_center(scan, plan) if center else plan
