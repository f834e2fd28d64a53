"""Execution of a centred plan: claim the output, record, run (here or on Dask), picture.

The one sequence every reconstruction goes through (``recon()``, SLURM parts, batches):

1. :func:`~alsmicroct.pipeline.claim.claim_output` decides what the output folder may hold
   (the one-run-per-prefix rule) and which slices an earlier identical run already made;
2. the run's record is written with status "running";
3. the :class:`~alsmicroct.pipeline.runner.Runner` streams the rows (or
   :func:`~alsmicroct.pipeline.cluster.run_on_client` spreads them over Dask workers);
4. the quick-look picture, then the record with status "complete" (or "failed" with the
   error, when anything raised).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from .plan import ReconPlan

__all__ = ["Execution", "check_plan_memory", "execute", "fit_plan_memory"]

logger = logging.getLogger(__name__)


@dataclass
class Execution:
    """What :func:`execute` did.

    Attributes
    ----------
    files : list of Path
        Slice files of every planned row, in row order; for ``outputFormat`` zarr or h5
        the one volume (``<prefix>.ome.zarr``, ``<prefix>.h5``).
    record : Path
        The run's provenance record.
    timings : dict
        Wall time per stage, seconds (``read``, ``prep``, ``reconstruct``, ``post``, ``write``
        summed over threads; ``centre`` as given; ``total`` from ``t_start``).
    skipped : int
        Slices kept from an earlier identical run.
    quicklook : Path or None
        The quick-look picture, when written.
    quality : dict or None
        The quality report (:mod:`alsmicroct.pipeline.quality_report`).
    """

    files: list[Path]
    record: Path
    timings: dict[str, float] = field(default_factory=dict)
    skipped: int = 0
    quicklook: Path | None = None
    quality: dict | None = None


def execute(
    plan: ReconPlan,
    *,
    record: str | None = None,
    resume: bool | None = None,
    progress: bool = False,
    client: Any = None,
    quicklook: bool = True,
    t_centre: float = 0.0,
    t_start: float | None = None,
    scan: Any = None,
) -> Execution:
    """Run a centred ``plan`` into its output folder.

    Parameters
    ----------
    plan : ReconPlan
        From :func:`alsmicroct.pipeline.prepare.prepare` (centre resolved).
    record : str, optional
        File name of the run's record (default from :func:`alsmicroct.io.outputs.record_name`).
    resume : bool or None
        As in ``recon()``: None/True keep the slices an identical earlier run made; False
        replaces the earlier run of this prefix.
    progress : bool
        Progress bars over chunks.
    client : dask.distributed.Client, optional
        Spread the row blocks over a Dask cluster.
    quicklook : bool
        Write the quick-look picture.
    t_centre, t_start : float
        Seconds spent planning and centring, and the ``time.perf_counter()`` of the start
        (for the timings of the record).
    scan : RawScan, optional
        ``plan.path`` already open (e.g. the scan the plan was made from): a local run reads
        from it instead of opening the file again (a Dask run's workers open their own).

    Raises
    ------
    AlsMicroCTError
        ``OutputError`` when the folder holds another run; what the steps raise (the record
        then says "failed" with the error).
    """
    from ..io.outputs import record_name
    from .claim import claim_output
    from .provenance import now, provenance_record, read_provenance, write_provenance
    from .quality_report import quality_of
    from .quicklook import write_quicklook
    from .runner import Runner, open_plan_writer

    t_start = time.perf_counter() if t_start is None else t_start
    if client is None:
        plan = fit_plan_memory(plan)
    record = record or record_name(plan.prefix, plan.path.stem)
    fmt = plan.params.outputFormat
    if client is not None and fmt == "h5":
        raise ParameterError(
            f"{plan.path}: outputFormat='h5' has a single writer per file and cannot be written "
            "by Dask workers; use outputFormat='zarr' (one writer per chunk) or run without client="
        )
    skip = claim_output(plan, record=record, resume=resume)
    previous = read_provenance(plan.output_dir, record) if skip else None
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    prov_path = plan.output_dir / record
    started = now()
    write_provenance(prov_path, provenance_record(plan, status="running", started=started))
    logger.info(
        "%s: reconstructing %d rows (%d to keep) of %d x %d, %d projections, cor %.2f -> %s",
        plan.path.name,
        plan.rows.size,
        len(skip),
        plan.meta.nslices,
        plan.meta.nrays,
        plan.proj_indices.size,
        plan.cor,
        plan.output_dir,
    )
    volume = open_plan_writer(plan) if fmt != "tiff" and len(skip) < plan.rows.size else None
    runner = Runner(plan, skip_rows=skip, progress=progress, volume=volume, scan=None if client is not None else scan)

    def timings() -> dict[str, float]:
        out = {"centre": round(t_centre, 4)}
        out.update({k: round(v, 4) for k, v in runner.timer.times.items()})
        out["total"] = round(time.perf_counter() - t_start, 4)
        return out

    try:
        if client is not None:
            from .cluster import run_on_client

            files = run_on_client(client, runner)
        else:
            files = runner.run()
        if volume is not None:
            t0 = time.perf_counter()
            volume.finish(provenance_record(plan, status="complete", timings=timings(), started=started, nfiles=1))
            runner.timer.add("finish", t0)
    except BaseException as exc:
        if volume is not None:
            volume.abort()
        write_provenance(
            prov_path,
            provenance_record(
                plan, status="failed", timings=timings(), started=started, error=f"{type(exc).__name__}: {exc}"
            ),
        )
        raise
    quality = quality_of(runner, previous)
    look = write_quicklook(plan, quality=quality, gather=runner.quality) if quicklook else None
    done = timings()
    write_provenance(
        prov_path,
        provenance_record(
            plan,
            status="complete",
            timings=done,
            started=started,
            nfiles=len(files),
            convergence=runner.convergence,
            quality=quality,
        ),
    )
    logger.info("%s: %d slices in %s (%.1f s)", plan.path.name, len(files), plan.output_dir, done["total"])
    return Execution(files=files, record=prov_path, timings=done, skipped=len(skip), quicklook=look, quality=quality)


def check_plan_memory(plan: ReconPlan, *, available: int | None = None):
    """Compare the estimated peak memory of one row block of ``plan`` with the free memory.

    Called by :func:`execute` (through :func:`fit_plan_memory`) before anything is written
    (local runs; Dask workers have their own memory). ``plan.params.memoryCheck`` decides:
    "fit" (the default) gives the largest block that fits, "error" refuses, "warn" logs,
    "off" skips.

    Parameters
    ----------
    plan : ReconPlan
        The plan to run.
    available : int, optional
        Bytes available (default: the machine's free memory now).

    Returns
    -------
    alsmicroct.memory.MemoryEstimate or None
        For the plan's blocks (with "fit": for the rows per block that fit, its ``rows``);
        None when the check is off.

    Raises
    ------
    ParameterError
        With "error" (with "fit": when not even the smallest block fits), naming
        ``chunk_sino`` and the largest value that fits (or ``npad``).
    """
    from ..memory import check_memory
    from .runner import block_rows, zarr_layer
    from .steps import build_steps

    policy = plan.params.memoryCheck
    if policy == "off":
        return None
    steps = build_steps(plan)
    meta = plan.meta
    est = check_memory(
        chunk_rows=block_rows(plan),
        nangles=int(plan.proj_indices.size),
        ncols=int(meta.nrays),
        npad=int(plan.npad),
        nrefs=int(meta.num_flats) * max(1, len(meta.flat_positions)) + int(meta.num_darks),
        nsteps=max(1, len(steps)),
        width=int(plan.width),
        margin_rows=sum(s.row_margin for s in steps if s.axis == "sino"),
        available=available,
        policy=policy,
        where=str(plan.path),
        unit=zarr_layer(plan) or 2,  # whole zarr layers, else even blocks (the same bytes)
    )
    logger.info("%s: memory estimate %s", plan.path.name, est.describe())
    return est


def fit_plan_memory(plan: ReconPlan, *, available: int | None = None) -> ReconPlan:
    """``plan``, in smaller blocks when one block of it does not fit the free memory.

    :func:`check_plan_memory`; with ``memoryCheck="fit"`` a block that does not fit gives a
    plan whose ``block_cap`` is the rows that do (:func:`alsmicroct.pipeline.runner.block_rows`
    then cuts the blocks no larger; the slices do not depend on the blocks, and the record
    says the rows per block used). Called before the centre is found (so its reads share the
    first block) and again before the run (a 360 deg stitched width is known then).
    """
    from .runner import block_rows

    est = check_plan_memory(plan, available=available)
    if est is None or est.rows >= block_rows(plan):
        return plan
    return dataclasses.replace(plan, block_cap=int(est.rows))
