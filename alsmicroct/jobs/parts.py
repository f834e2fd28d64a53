"""One scan split in row ranges over SLURM array tasks (``batch/recon_slices.slurm``).

One scan is split into ``N`` contiguous row ranges of whole ``chunk_sino`` blocks, one per
array task (:func:`recon_part`, ``python -m alsmicroct.cli.distributed part``). The centre is
resolved on the whole scan in every task (deterministic, so all tasks agree); each task calls
``recon()`` for its rows with its own record (``recon_parameters.partKKKofNNN.json``); the
task that finishes last merges the parts into the run's record (:func:`merge_parts`, also
``python -m alsmicroct.cli.distributed merge``): exactly the record a single-process run
writes, plus a ``parts`` list.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from ..errors import ParameterError, ReconstructionError
from ..io.outputs import PROVENANCE_NAME

__all__ = ["merge_parts", "part_provenance_name", "plan_scan", "recon_part", "slurm_info", "split_rows"]

logger = logging.getLogger(__name__)

_STALE_LOCK_S = 600.0


def split_rows(nrows: int, nparts: int, *, unit: int = 1) -> list[tuple[int, int]]:
    """Split ``range(nrows)`` into contiguous, balanced ``[start, end)`` ranges of whole units.

    Every range starts at a multiple of ``unit`` (the last unit may be short); there are
    ``min(nparts, ceil(nrows / unit))`` ranges.
    """
    if nrows < 1 or nparts < 1 or unit < 1:
        raise ParameterError(
            f"split_rows({nrows}, {nparts}, unit={unit}): expected at least one row, one part and a unit >= 1"
        )
    nunits = -(-nrows // unit)
    n = min(nparts, nunits)
    bounds = [min(nrows, (nunits * k // n) * unit) for k in range(n + 1)]
    return list(itertools.pairwise(bounds))


def part_provenance_name(part: int, nparts: int, record: str = PROVENANCE_NAME) -> str:
    """Record of part ``part`` (1-based) of ``nparts`` of the run whose record is ``record``:
    ``recon_parameters.partKKKofNNN.json`` for the default prefix."""
    from ..io.outputs import part_record_name

    return part_record_name(record, part, nparts)


def _record(plan: Any) -> str:
    from ..io.outputs import record_name

    return record_name(plan.prefix, plan.path.stem)


def plan_scan(filename: str | os.PathLike, inputPath: str | os.PathLike = "./", **keywords: Any) -> Any:
    """The resolved :class:`~alsmicroct.pipeline.plan.ReconPlan` of a whole scan, centre included.

    Exactly what ``recon()`` plans before reconstructing (same parameters, rows and
    centre), without writing anything.
    """
    from ..params import ReconParams
    from ..pipeline.prepare import prepare

    return prepare(filename, ReconParams.from_mapping(keywords, inputPath=os.fspath(inputPath)))


def _part_ranges(plan: Any, nparts: int) -> list[tuple[int, int]]:
    """Row-index ranges of the parts: whole ``chunk_sino`` blocks, as a single run cuts them.

    A part's blocks are then exactly the blocks of a single-process run (gridrec pairs
    the rows of a block, so block boundaries show in the last bits of the result).
    """
    return split_rows(plan.rows.size, nparts, unit=plan.params.chunk_sino)


def _part_rows(plan: Any, part: int, nparts: int) -> tuple[int, int, int] | None:
    """``sinoused`` of part ``part`` (1-based), None when the scan has fewer blocks than parts."""
    if not 1 <= part <= nparts:
        raise ParameterError(f"part {part} of {nparts}: expected 1 <= part <= parts")
    ranges = _part_ranges(plan, nparts)
    if part > len(ranges):
        return None
    a, b = ranges[part - 1]
    rows = plan.rows
    step = int(rows[1] - rows[0]) if rows.size > 1 else 1
    return int(rows[a]), int(rows[b - 1]) + 1, step


def slurm_info() -> dict[str, str]:
    names = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_CLUSTER_NAME")
    return {"host": socket.gethostname(), **{n.lower(): os.environ[n] for n in names if n in os.environ}}


def recon_part(
    filename: str | os.PathLike,
    part: int,
    nparts: int,
    inputPath: str | os.PathLike = "./",
    *,
    resume: bool | None = None,
    merge: bool = True,
    **keywords: Any,
) -> Any:
    """Reconstruct part ``part`` (1-based) of ``nparts`` contiguous row ranges of one scan.

    The centre is resolved on the whole scan (as a single ``recon()`` run does), the part
    is reconstructed by ``recon()`` with ``provenance_name=part_provenance_name(...)``;
    then, with ``merge``, the part that finds all parts complete merges them
    (:func:`merge_parts`). Parts are made of whole ``chunk_sino`` blocks, so at most
    ``ceil(rows / chunk_sino)`` parts get rows. Results equal a single-process run, except with
    ``doBilateralFilter`` (a 3-D filter: slices within ``bilateral_srad`` of a part
    boundary only see their own part) and at the edges of a projection step's margin.

    Returns
    -------
    ReconResult or None
        None when the scan has fewer rows than parts and this part has none.
    """
    from ..pipeline.provenance import read_provenance, write_provenance
    from ..reconstruction import recon

    plan = plan_scan(filename, inputPath, **keywords)
    if plan.params.outputFormat != "tiff":
        raise ParameterError(
            f"{plan.path}: SLURM row parts write TIFF slices only (outputFormat="
            f"{plan.params.outputFormat!r} would need one writer per store); use outputFormat='tiff' "
            "and alsmicroct.image_processing.convert_to_zarr afterwards, or a Dask cluster (client=)"
        )
    rows = _part_rows(plan, part, nparts)
    nparts = len(_part_ranges(plan, nparts))
    if rows is None:
        logger.info(
            "%s: %d rows make only %d blocks of chunk_sino=%d rows; part %d has nothing to do",
            plan.path.name,
            plan.rows.size,
            nparts,
            plan.params.chunk_sino,
            part,
        )
        return None
    if plan.params.doBilateralFilter:
        logger.warning(
            "%s: doBilateralFilter filters across slices; slices near part boundaries differ "
            "from a single-process run (use the Dask path for identical results)",
            plan.path.name,
        )
    from ..pipeline.claim import check_whole_run

    check_whole_run(plan, record=_record(plan))
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    name = part_provenance_name(part, nparts, _record(plan))
    logger.info(
        "%s: part %d/%d, rows %d..%d step %d, cor %.3f -> %s",
        plan.path.name,
        part,
        nparts,
        rows[0],
        rows[1] - 1,
        rows[2],
        plan.cor,
        plan.output_dir / name,
    )
    kw = {**{k: v for k, v in keywords.items() if k != "inputPath"}, "sinoused": rows, "cor": plan.cor}
    result = recon(plan.path.name, plan.path.parent, resume=resume, quicklook=False, provenance_name=name, **kw)
    record = read_provenance(plan.output_dir, name) or {}
    record["part"] = {"index": part, "of": nparts, "slurm": slurm_info()}
    write_provenance(plan.output_dir / name, record)
    if merge and _parts_complete(plan, nparts):
        _merge_locked(plan, nparts)
    return result


def _parts_complete(plan: Any, nparts: int) -> bool:
    """Every part done: its record complete *and* its ``part`` section written (see :func:`_part_done`)."""
    from ..pipeline.provenance import read_provenance

    names = [part_provenance_name(k, nparts, _record(plan)) for k in range(1, nparts + 1)]
    return all(_part_done(read_provenance(plan.output_dir, n), k, nparts) is None for k, n in enumerate(names, start=1))


def _part_done(record: dict[str, Any] | None, part: int, nparts: int) -> str | None:
    """Why the record of part ``part`` is not finished yet, None when it is.

    ``recon()`` marks the record complete, then :func:`recon_part` adds the ``part`` section
    in a second write; a task that finishes in between must not count the part as done (it
    would merge a record without it). The task that writes last sees every part done.
    """
    if record is None or record.get("status") != "complete":
        return "missing" if record is None else str(record.get("status"))
    info = record.get("part")
    if not isinstance(info, dict) or info.get("index") != part or info.get("of") != nparts:
        return f"part {part} of {nparts} not finished (its record has no part section for it yet: {info!r})"
    return None


def _merge_locked(plan: Any, nparts: int) -> Path | None:
    """Merge unless another task is merging right now (exclusive lock file)."""
    lock = plan.output_dir / f".{_record(plan)}.merge.lock"
    with contextlib.suppress(FileNotFoundError):
        if time.time() - lock.stat().st_mtime > _STALE_LOCK_S:  # left by a task killed mid-merge
            logger.warning("%s: removing a stale merge lock", lock)
            lock.unlink(missing_ok=True)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        logger.info("%s: another task is merging the parts (lock %s)", plan.output_dir, lock)
        return None
    try:
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
        return _merge_plan(plan, nparts, quicklook=True)
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)


def merge_parts(
    filename: str | os.PathLike,
    nparts: int,
    inputPath: str | os.PathLike = "./",
    *,
    quicklook: bool = True,
    **keywords: Any,
) -> Path:
    """Merge the part provenance files of a split run into ``recon_parameters.json``.

    Checks that every part is complete and made from the same input and centre, and that
    every slice of the whole scan is a complete TIFF; writes the record a single
    ``recon()`` run would write (same parameters and fingerprint, so a later ``recon()``
    with ``resume=None`` keeps the slices) plus ``parts``, then the quick-look picture.

    Parameters
    ----------
    filename, inputPath, **keywords
        The scan and the ``recon()`` keywords the parts were run with (not the parts'
        ``sinoused``).
    nparts : int
        Number of parts of the split.

    Returns
    -------
    Path
        The merged provenance file.

    Raises
    ------
    ReconstructionError
        Naming the missing or unfinished parts, or the number of missing slices.
    """
    plan = plan_scan(filename, inputPath, **keywords)
    return _merge_plan(plan, len(_part_ranges(plan, nparts)), quicklook=quicklook)


def _part_problems(plan: Any, name: str, record: dict[str, Any] | None, part: int, nparts: int) -> list[str]:
    """Why the part record ``name`` cannot be merged into ``plan`` (empty when it can)."""
    from ..pipeline.provenance import fingerprint, run_differences

    if (why := _part_done(record, part, nparts)) is not None:
        return [f"{name}: {why}"]
    return [
        f"{name}: made by another run: {d}"
        for d in run_differences(record.get("fingerprint"), fingerprint(plan), ignore=("sinoused",))
    ]


def _merge_plan(plan: Any, nparts: int, *, quicklook: bool) -> Path:
    from ..io.tiff import is_complete_tiff
    from ..pipeline.provenance import provenance_record, read_provenance, write_provenance
    from ..pipeline.quality_report import merge_quality
    from ..pipeline.quicklook import write_quicklook

    names = [part_provenance_name(k, nparts, _record(plan)) for k in range(1, nparts + 1)]
    records = [read_provenance(plan.output_dir, n) for n in names]
    problems = [
        problem
        for k, (n, r) in enumerate(zip(names, records, strict=True), start=1)
        for problem in _part_problems(plan, n, r, k, nparts)
    ]
    if problems:
        raise ReconstructionError(f"{plan.output_dir}: cannot merge {nparts} parts:\n  " + "\n  ".join(problems))
    shape = (plan.width, plan.width)
    missing = [
        int(r) for r in plan.rows if not is_complete_tiff(plan.slice_path(int(r)), shape=shape, dtype=plan.out_dtype)
    ]
    if missing:
        raise ReconstructionError(
            f"{plan.output_dir}: {len(missing)} of {plan.rows.size} slices missing or "
            f"incomplete (first: row {missing[0]}); re-run the parts"
        )
    timings: dict[str, float] = {}
    for record in records:
        for key, value in record.get("timings_s", {}).items():
            timings[key] = round(timings.get(key, 0.0) + value, 4)
    quality = merge_quality([r.get("quality") for r in records], plan=plan)
    merged = provenance_record(
        plan,
        status="complete",
        timings=timings,
        nfiles=int(plan.rows.size),
        started=min(r["started"] for r in records),
        quality=quality,
    )
    merged["parts"] = [
        {
            "file": n,
            "status": r["status"],
            "nrows": r["resolved"]["nrows"],
            "rows_first_last_step": r["resolved"]["rows_first_last_step"],
            "started": r["started"],
            "updated": r["updated"],
            "timings_s": r.get("timings_s", {}),
            **r.get("part", {}),
        }
        for n, r in zip(names, records, strict=True)
    ]
    path = write_provenance(plan.output_dir / _record(plan), merged)
    logger.info("%s: merged %d parts (%d slices) into %s", plan.path.name, nparts, plan.rows.size, path)
    if quicklook:
        write_quicklook(plan, quality=quality)
    return path
