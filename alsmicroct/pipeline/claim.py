"""Claiming an output folder for a run: one run, one record, never mixed (see
:mod:`alsmicroct.io.outputs` for the file names).

Before a run writes anything it claims its prefix in the output folder:

- crash debris of dead writers is removed;
- a record of a run that failed (or was killed) before it wrote any output describes
  nothing and does not block the new run (its record is replaced);
- every record of the prefix (the run's own, other runs', the parts of a split run) must
  describe the same run (:func:`~alsmicroct.pipeline.provenance.same_run`; parts of a split
  differ only by their rows), and every slice of the prefix must be described by one of
  them; otherwise the run is refused with an :class:`~alsmicroct.errors.OutputError` that
  says what differs and how to go on, and nothing is written;
- ``resume=False`` (``--overwrite``) replaces the earlier run of the prefix: its slices,
  records and quick-look are removed first (a part of a split run never removes others');
- a slice is kept only when it is complete and a record of the same run describes it.

Other prefixes in the same folder are other runs: they are never touched.
"""

from __future__ import annotations

import logging
import os
import platform
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..io.outputs import PART_RECORD, clean_output, pid_alive, rows_of, run_records, run_slices
from .provenance import fingerprint, run_differences

__all__ = ["check_whole_run", "claim_output", "live_writer"]

logger = logging.getLogger(__name__)

_ADVICE = (
    "To replace that run, use resume=False (command line: --overwrite); to keep it, choose another "
    "outputPath (--output-dir) or outputFilename."
)
_PART_ADVICE = (
    "A part of a split run never removes another run's files (not even when resuming is off): remove that run's "
    "slices and records first, or choose another outputPath (--output-dir) or outputFilename."
)


def live_writer(record: dict[str, Any]) -> bool:
    """Whether ``record`` (a run's record, read) is being written now by another live process
    on this host (``status`` running, its ``host`` and a live ``pid``)."""
    if record.get("status") != "running" or record.get("host") != platform.node():
        return False
    pid = record.get("pid")
    return isinstance(pid, int) and pid != os.getpid() and pid_alive(pid)


def claim_output(plan: Any, *, record: str, resume: bool | None) -> set[int]:
    """Check (and with ``resume=False`` clear) the output folder; return the rows to keep.

    Parameters
    ----------
    plan : ReconPlan
        The resolved plan (centre included).
    record : str
        File name of this run's record in ``plan.output_dir``.
    resume : bool or None
        ``None``/``True``: keep the complete slices a record of the same run describes;
        ``False``: replace the earlier run of this prefix.

    Raises
    ------
    OutputError
        Another live process is writing this run's record, or the folder holds another run
        of this prefix (other input, parameters, centre or rows) or slices no record
        describes, and ``resume`` is not ``False``.
    """
    from ..io.tiff import is_complete_tiff
    from ..io.volumes import done_rows, remove_volume, volume_path

    folder = Path(plan.output_dir)
    if not folder.is_dir():
        return set()
    clean_output(folder)
    is_part = bool(PART_RECORD.search(record))
    wanted = fingerprint(plan)
    records = run_records(folder, plan.prefix)
    own = records.get(record)
    if own and live_writer(own):
        raise OutputError(
            f"{folder / record}: another process (pid {own.get('pid')} on {own.get('host')}) is "
            "writing this run right now; wait for it, or stop it first"
        )
    covered: set[int] = set()
    conflicts = []
    slices = run_slices(folder, plan.prefix)
    fmt = plan.params.outputFormat
    volumes = {f: volume_path(folder, plan.prefix, f) for f in ("zarr", "h5")}
    volumes = {f: p for f, p in volumes.items() if p.exists()}
    for name, rec in sorted(records.items()):
        if not rec:
            conflicts.append(f"{name} cannot be read")
            continue
        ignore = ("sinoused",) if is_part or PART_RECORD.search(name) else ()
        diff = run_differences(rec.get("fingerprint"), wanted, ignore=ignore)
        if diff and _left_nothing(rec, slices, volumes):
            logger.info(
                "%s: %s describes a %s run that left no output; it does not block this run",
                folder,
                name,
                rec.get("status"),
            )
            continue
        if diff:
            conflicts.append(f"{name} describes another run: {_differences(diff)}")
        else:
            covered.update(rows_of(rec))
    unrecorded = sorted(set(slices) - covered)
    if unrecorded and not conflicts:
        conflicts.append(
            f"{len(unrecorded)} slice(s) {plan.prefix}_*.tiff (rows {unrecorded[0]}..{unrecorded[-1]}) "
            "that no record describes"
        )
    for f, path in volumes.items():
        if f != fmt:
            conflicts.append(f"{path.name}: an output of format {f!r}, not outputFormat={fmt!r}")
        elif not covered and not conflicts:
            conflicts.append(f"{path.name}: a {f} store that no record describes")
    if conflicts and not (resume is False and not is_part):
        raise OutputError(
            f"{folder}: the "
            + (f"slices {plan.prefix}_NNNNN.tiff" if fmt == "tiff" else f"output {plan.volume_path.name}")
            + " there belong to another run, so this run would mix with "
            "it:\n  " + "\n  ".join(conflicts) + "\nNothing was written. " + (_PART_ADVICE if is_part else _ADVICE)
        )
    if resume is False:
        if not is_part:
            _remove_run(folder, plan.prefix, [*records], slices)
            for path in volumes.values():
                remove_volume(path)
        return set()
    if fmt != "tiff":
        done = done_rows(plan.volume_path, fmt)
        keep = {int(r) for z, r in enumerate(plan.rows) if z in done and int(r) in covered}
        if keep:
            logger.info("%s: resuming, %d of %d slices already complete", plan.volume_path, len(keep), plan.rows.size)
        return keep
    shape = (plan.width, plan.width)
    keep = {
        int(r)
        for r in plan.rows
        if int(r) in covered
        and int(r) in slices
        and is_complete_tiff(slices[int(r)], shape=shape, dtype=plan.out_dtype)
    }
    if keep:
        logger.info("%s: resuming, %d of %d slices already complete", folder, len(keep), plan.rows.size)
    return keep


def _differences(diff: list[str]) -> str:
    """How a record differs from this run, for a message: the first six differences."""
    return "; ".join(diff[:6]) + (f"; and {len(diff) - 6} more" if len(diff) > 6 else "")


def check_whole_run(plan: Any, *, record: str) -> None:
    """Before a row part of a split run: the prefix's whole-run record ``record`` (in
    ``plan.output_dir``; ``plan`` the whole run's plan, every row) must describe this whole
    run, or nothing. A part compares its own record with the others ignoring the rows (its
    rows are a subset), so without this check the parts of a full run would pass by a run of
    other rows of the same prefix (a quick look at 20 central rows), and their merge would
    replace that run's record.

    Raises
    ------
    OutputError
        Naming the record and how it differs.
    """
    folder = Path(plan.output_dir)
    rec = run_records(folder, plan.prefix).get(record) if folder.is_dir() else None
    if not rec:
        return
    diff = run_differences(rec.get("fingerprint"), fingerprint(plan))
    if diff and not _left_nothing(rec, run_slices(folder, plan.prefix), {}):
        raise OutputError(
            f"{folder / record} describes another run of prefix {plan.prefix!r}: {_differences(diff)}"
            + "\nThe parts of this run would mix with it and their merge would replace its record. Nothing was "
            "written. " + _PART_ADVICE
        )


def _left_nothing(record: dict[str, Any], slices: dict[int, Path], volumes: dict[str, Path]) -> bool:
    """Whether ``record`` is of a run that did not complete (failed, or killed while
    running) and left no output behind: no slice of its rows, no volume store, no file
    counted. Such a record describes nothing a new run could mix with."""
    if record.get("status") == "complete" or live_writer(record) or volumes or record.get("nfiles"):
        return False
    return not set(rows_of(record)) & set(slices)


def _remove_run(folder: Path, prefix: str, records: list[str], slices: dict[int, Path]) -> None:
    """Remove the earlier run of ``prefix`` (asked for with resume=False)."""
    victims = [folder / n for n in records] + list(slices.values()) + [folder / f"{prefix}_quicklook.png"]
    n = 0
    for path in victims:
        try:
            path.unlink()
            n += 1
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OutputError(f"{path}: cannot remove the earlier run's file ({exc.strerror})") from None
    if n:
        logger.warning("%s: resume=False: removed the earlier run of %s (%d file(s))", folder, prefix, n)
