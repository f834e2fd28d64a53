"""Batches of scans: plan every job before anything runs, then run (or dry-run) each in
isolation. A library: no argument parsing, no printing (the command lines in
:mod:`alsmicroct.cli` do that).

1. :func:`plan_jobs` merges the parameter layers (line override > command line > ``--config``
   TOML > defaults) and validates every scan's parameters before anything runs; missing raw
   files are recorded;
2. :func:`dry_run_job` plans a job exactly as a real run does (the same
   :func:`~alsmicroct.pipeline.prepare.prepare`, without finding the centre) and writes nothing;
3. :func:`run_job` reconstructs one scan with ``recon()``; a failure is caught and reported,
   so the batch goes on;
4. :func:`summary_record` is the JSON summary of a batch.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import AlsMicroCTError, InputFileError, ParameterError
from ..params import ReconParams
from .entries import JobResult, ScanEntry, ScanJob

__all__ = [
    "dry_run_job",
    "format_keywords",
    "plan_jobs",
    "run_job",
    "run_jobs",
    "status_counts",
    "summary_record",
    "summary_rows",
]

logger = logging.getLogger(__name__)


def plan_jobs(
    entries: Sequence[ScanEntry],
    *,
    config: Mapping[str, Any],
    cli: Mapping[str, Any],
    selected: Sequence[int] | None = None,
) -> list[ScanJob]:
    """Merge the parameter layers and resolve every entry into a :class:`ScanJob`.

    All entries are validated (so a typo anywhere stops the batch before it starts); jobs
    are returned for the ``selected`` 1-based numbers only (all when None). A raw file
    that does not exist is recorded in ``job.missing`` instead of raising.

    Raises
    ------
    ParameterError
        Listing every entry with an invalid parameter, each with its source.
    """
    from ..pipeline.plan import output_dir_for, resolve_input

    problems: list[str] = []
    jobs: list[ScanJob] = []
    for number, entry in enumerate(entries, 1):
        merged = {**config, **cli, **entry.overrides}
        try:
            params = ReconParams.from_mapping(merged, source=entry.source)
        except ParameterError as exc:
            problems.append(str(exc))
            continue
        missing = None
        try:
            path = resolve_input(entry.scan, params.inputPath)
        except InputFileError as exc:
            path = Path(params.inputPath).expanduser() / entry.scan
            missing = str(exc)
        keywords = {k: getattr(params, k) for k in merged if k != "inputPath"}
        out = output_dir_for(path.name, path.parent, params.outputPath).absolute()
        jobs.append(ScanJob(number, entry, params, keywords, path, out, missing))
    if problems:
        raise ParameterError("invalid parameters, nothing was run:\n  " + "\n  ".join(problems))
    _name_provenance(jobs)
    return [job for job in jobs if selected is None or job.number in selected]


def _name_provenance(jobs: Sequence[ScanJob]) -> None:
    """Each job's record: ``recon_parameters.json`` or ``recon_parameters_<outputFilename>.json``
    (:func:`~alsmicroct.io.outputs.record_name`, the name ``recon()`` uses). Scans that share an
    output folder (the classic manual centre sweep: one raw file listed with several ``cor`` and
    ``outputFilename``) are separate runs side by side; two writing the same slice names are an error.
    """
    from ..io.outputs import record_name

    seen: dict[tuple[Path, str], ScanJob] = {}
    for job in jobs:
        prefix = job.params.outputFilename or job.path.stem
        job.provenance_name = record_name(prefix, job.path.stem)
        other = seen.setdefault((job.output_dir, prefix), job)
        if other is not job:
            raise ParameterError(
                f"{other.entry.source} and {job.entry.source} would both write {prefix}_*.tiff in "
                f"{job.output_dir}; give them different outputFilename (or outputPath) values"
            )


def run_jobs(
    jobs: Sequence[ScanJob], *, resume: bool = False, overwrite: bool = False, progress: bool = False
) -> tuple[list[JobResult], bool]:
    """Run ``jobs`` one after the other (each in isolation: a failure is reported, the batch
    goes on).

    Returns
    -------
    results : list of JobResult
        One per job, in order; after Ctrl-C the interrupted job is "failed" and the rest
        "not run".
    interrupted : bool
        Whether Ctrl-C stopped the batch.
    """
    results: list[JobResult] = []
    for index, job in enumerate(jobs, 1):
        logger.info("[%d/%d] %s (%s): %s", index, len(jobs), job.path, job.entry.source, format_keywords(job.keywords))
        try:
            results.append(run_job(job, resume=resume, overwrite=overwrite, progress=progress))
        except KeyboardInterrupt:
            results.append(JobResult(job, "failed", error="interrupted"))
            results.extend(JobResult(j, "not run") for j in jobs[index:])
            return results, True
    return results, False


def run_job(job: ScanJob, *, resume: bool, progress: bool, overwrite: bool = False) -> JobResult:
    """Reconstruct one scan; any exception is caught, logged and reported as failed."""
    from ..pipeline.provenance import read_provenance
    from ..reconstruction import recon

    t0 = time.perf_counter()
    if resume:
        record = read_provenance(job.output_dir, job.provenance_name)
        if record is not None and record.get("status") == "complete" and _same_run(job, record):
            logger.info("%s: complete in %s, skipped (--resume)", job.path.name, job.output_dir)
            return JobResult(
                job, "skipped", cor=record.get("resolved", {}).get("cor"), slices=record.get("nfiles"), seconds=0.0
            )
    try:
        res = recon(
            job.path.name,
            inputPath=str(job.path.parent),
            resume=False if overwrite else (True if resume else None),
            progress=progress,
            provenance_name=job.provenance_name,
            **job.keywords,
        )
    except Exception as exc:
        seconds = time.perf_counter() - t0
        message = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, AlsMicroCTError):
            logger.error("%s: failed: %s", job.entry.source, message)
            logger.debug("traceback:\n%s", traceback.format_exc())
        else:
            logger.exception("%s: failed with an unexpected error: %s", job.entry.source, message)
        return JobResult(job, "failed", seconds=seconds, error=message)
    job.output_dir = Path(res.output_dir).absolute()
    info = res.center_info or {}
    detail = {"kept_slices": res.skipped}
    if info:
        detail.update(
            centre_confidence=info.get("label"),
            centre_uncertainty_px=info.get("uncertainty_px"),
            centre_reasons=info.get("reasons", []),
        )
    quality = res.quality or {}
    if quality.get("gathered"):
        detail.update(
            ring_index=quality.get("ring_index"),
            saturated_fraction=quality.get("raw_saturated_fraction"),
            quality_warnings=quality.get("warnings", []),
        )
    return JobResult(
        job, "done", cor=float(res.cor), slices=len(res.files), seconds=time.perf_counter() - t0, detail=detail
    )


def _same_run(job: ScanJob, record: Mapping[str, Any]) -> bool:
    """Whether a record was made by this job's run (the one rule,
    :func:`~alsmicroct.pipeline.provenance.same_run`; an automatic centre is not compared)."""
    from ..pipeline.provenance import fingerprint_of, same_run

    ignore = ("cor",) if job.params.cor is None else ()
    return same_run(record.get("fingerprint"), fingerprint_of(job.path, job.params, job.params.cor), ignore=ignore)


def dry_run_job(job: ScanJob, *, resume: bool) -> JobResult:
    """Plan ``job`` as a real run would (every check, no centre search) and report what would be
    done; never writes."""
    from ..pipeline.prepare import prepare
    from ..pipeline.provenance import provenance_status

    if job.missing:
        return JobResult(job, "missing", error=job.missing)
    try:
        plan = prepare(job.path, job.params, center=False)  # the checks of a real run
    except Exception as exc:
        return JobResult(job, "invalid", error=f"{type(exc).__name__}: {exc}")
    m = plan.meta
    detail = {"layout": m.layout, "nangles": m.nangles, "nslices": m.nslices, "nrays": m.nrays}
    status = "planned"
    if resume and provenance_status(job.output_dir, job.provenance_name) == "complete":
        status = "skip (done)"
    return JobResult(job, status, cor=plan.cor, slices=int(plan.rows.size), detail=detail)


def format_keywords(keywords: Mapping[str, Any]) -> str:
    if not keywords:
        return "(all defaults)"
    return " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in keywords.items())


def summary_rows(results: Sequence[JobResult]) -> list[list[str]]:
    rows = []
    for r in results:
        cor = "-" if r.cor is None or (isinstance(r.cor, float) and math.isnan(r.cor)) else f"{r.cor:.2f}"
        if r.detail.get("centre_confidence"):
            unc = r.detail.get("centre_uncertainty_px")
            cor += ("" if unc is None else f" +-{unc:.2f}") + f" ({r.detail['centre_confidence']})"
        rows.append(
            [
                str(r.job.number),
                r.job.entry.scan,
                r.status.upper() if r.failed else r.status,
                cor,
                "-" if r.slices is None else str(r.slices),
                "-" if r.seconds is None else f"{r.seconds:.1f} s",
                _quality_cell(r.detail),
                str(r.job.output_dir),
            ]
        )
    return rows


def _quality_cell(detail: Mapping[str, Any]) -> str:
    """The summary's quality column: ring index (1/cm), saturated raw fraction, warnings."""
    if "ring_index" not in detail:
        return "-"
    ring, sat = detail.get("ring_index"), detail.get("saturated_fraction")
    text = f"rings {'-' if ring is None else format(ring, '.3g')}, sat {'-' if sat is None else format(sat, '.1%')}"
    n = len(detail.get("quality_warnings") or ())
    return text + (f", {n} warning{'s' if n > 1 else ''}" if n else "")


def summary_record(
    results: Sequence[JobResult], *, source: str, dry_run: bool, log_path: Path | None
) -> dict[str, Any]:
    """The JSON summary of a batch: counts per status and one record per scan."""
    return {
        "source": source,
        "dry_run": dry_run,
        "finished": _dt.datetime.now().isoformat(timespec="seconds"),
        "log_file": None if log_path is None else str(log_path),
        "counts": status_counts(results),
        "scans": [r.to_json() for r in results],
    }


def status_counts(results: Sequence[JobResult]) -> dict[str, int]:
    """How many results have each status, in order of first appearance."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts
