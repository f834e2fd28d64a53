"""Names of a reconstruction's files, which files belong to which run, and crash debris.

One output folder may hold several runs side by side, one per slice prefix
(``outputFilename``, default the raw file's stem). A run's files are

- its slices ``<prefix>_<NNNNN>.tiff`` (NNNNN = absolute detector row, 5 digits or more),
- its record: ``recon_parameters.json`` for the default prefix (the raw file's stem),
  ``recon_parameters_<prefix>.json`` for any other prefix,
- the records of the parts of a split run: ``<record stem>.partKKKofNNN.json``,
- ``<prefix>_quicklook.png``.

Writers use hidden temporaries in the same folder: ``.<name>.tmp-<pid>@<host>[-<thread>]``
for atomic writes and ``.<prefix>.work-<pid>@<host>.h5`` for the phase-retrieval work store
(the host so that a node of a shared file system never takes another node's live writer for
a dead one; names without it, from earlier versions, count as this host's). A
temporary whose process is gone is debris: :func:`stale_temporaries` finds it and
:func:`clean_output` removes it (``recon()`` does that before it writes into a folder).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputFileError, OutputError, ParameterError
from .atomic import host_tag, writer_tag

__all__ = [
    "PROVENANCE_NAME",
    "claim_stack",
    "clean_output",
    "part_record_name",
    "pid_alive",
    "record_name",
    "record_prefix",
    "rows_of",
    "run_records",
    "run_slices",
    "select_run_prefix",
    "slice_name",
    "stale_temporaries",
    "work_store_path",
]

PART_RECORD = re.compile(r"\.part\d{3}of\d{3}\.json$")

logger = logging.getLogger(__name__)

PROVENANCE_NAME = "recon_parameters.json"
_RECORD = re.compile(r"^recon_parameters(?:_(?P<prefix>.+?))?(?:\.part(?P<part>\d{3})of(?P<of>\d{3}))?\.json$")
_NUMBER = re.compile(r"(\d+)(?!.*\d)")  # last run of digits in a name
# the host part is optional: temporaries written before it was added name only the pid
_TEMP = re.compile(
    r"^\..+\.(?:tmp-(?P<pid>\d+)(?:@(?P<host>\w+))?(?:-\d+)?|work-(?P<wpid>\d+)(?:@(?P<whost>\w+))?\.h5)$",
    re.ASCII,
)


def record_name(prefix: str, stem: str) -> str:
    """File name of the record of the run writing ``<prefix>_NNNNN.tiff`` from raw file ``<stem>.h5``."""
    return PROVENANCE_NAME if prefix == stem else f"recon_parameters_{prefix}.json"


def part_record_name(record: str, part: int, nparts: int) -> str:
    """Record of part ``part`` (1-based) of ``nparts`` of a split run whose record is ``record``."""
    return f"{Path(record).stem}.part{part:03d}of{nparts:03d}.json"


def slice_name(prefix: str, row: int) -> str:
    """File name of the slice of absolute detector row ``row``."""
    return f"{prefix}_{row:05d}.tiff"


def work_store_path(folder: Path, prefix: str) -> Path:
    """Hidden phase-retrieval work store of this process for ``prefix`` in ``folder``."""
    return Path(folder) / f".{prefix}.work-{writer_tag()}.h5"


def run_slices(folder: str | os.PathLike, prefix: str) -> dict[int, Path]:
    """Slices of run ``prefix`` in ``folder``, by absolute row."""
    pattern = re.compile(re.escape(prefix) + r"_(\d{5,})\.tiff$")
    out = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            m = pattern.match(entry.name)
            if m and entry.is_file():
                out[int(m.group(1))] = Path(entry.path)
    return out


def _read(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            record = json.load(fh)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def record_prefix(record: dict[str, Any]) -> str | None:
    """The slice prefix a record describes (from its ``resolved.file_pattern``)."""
    pattern = (record.get("resolved") or {}).get("file_pattern", "")
    return pattern.split("_NNNNN", 1)[0] if "_NNNNN" in pattern else None


def run_records(folder: str | os.PathLike, prefix: str | None = None) -> dict[str, dict[str, Any]]:
    """Readable records in ``folder`` (main and part records), by file name; only those of
    ``prefix`` when given. An unreadable record is returned as ``{}`` (it still claims its run)."""
    out: dict[str, dict[str, Any]] = {}
    folder = Path(folder)
    if not folder.is_dir():
        return out
    for entry in os.scandir(folder):
        if not _RECORD.match(entry.name):
            continue
        record = _read(Path(entry.path))
        if record is None:
            out[entry.name] = {}
            continue
        if prefix is None or record_prefix(record) == prefix:
            out[entry.name] = record
    return out


def select_run_prefix(folder: str | os.PathLike, prefix: str | None = None) -> str | None:
    """The prefix of the one run in ``folder`` (None: no record, a plain folder of TIFFs).

    Raises
    ------
    ParameterError
        The folder holds several runs and ``prefix`` does not choose one (the message
        lists them), or ``prefix`` names none of them.
    """
    prefixes = sorted({p for r in run_records(folder).values() if r and (p := record_prefix(r))})
    if prefix is not None:
        if prefixes and prefix not in prefixes:
            raise ParameterError(f"{folder}: no run with prefix {prefix!r}; runs here: {', '.join(prefixes)}")
        return prefix
    if len(prefixes) > 1:
        raise ParameterError(
            f"{folder} holds {len(prefixes)} runs ({', '.join(prefixes)}): choose one with "
            "prefix= (command line: --run PREFIX)"
        )
    return prefixes[0] if prefixes else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (this process counts as alive).

    A zombie (a process that has exited but is not reaped yet, e.g. a killed watcher's
    worker under a PID 1 that does not reap) is not alive: it holds no file and writes nothing.
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """``/proc/<pid>/stat`` says zombie or dead (False where there is no /proc)."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    # "pid (comm) state ...": comm may hold spaces and parentheses, the state follows the last ")"
    tail = stat[stat.rfind(b")") + 1 :].split()
    return bool(tail) and tail[0] in (b"Z", b"X")


def stale_temporaries(folder: str | os.PathLike, *, all_hosts: bool = False) -> list[Path]:
    """Hidden temporaries in ``folder`` whose writing process is gone.

    Only this host's processes can be checked: a temporary named by another host (a node of
    a shared file system) is left alone, unless ``all_hosts`` (the caller knows that no
    writer runs anywhere). A temporary without a host in its name is taken as this host's.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    out = []
    for entry in os.scandir(folder):
        m = _TEMP.match(entry.name)
        if not m:
            continue
        host = m.group("host") or m.group("whost")
        if host and host != host_tag():
            if all_hosts:
                out.append(Path(entry.path))
            continue
        if not pid_alive(int(m.group("pid") or m.group("wpid"))):
            out.append(Path(entry.path))
    return sorted(out)


def clean_output(folder: str | os.PathLike, *, dry_run: bool = False, all_hosts: bool = False) -> list[Path]:
    """Remove the crash debris of ``folder`` (see :func:`stale_temporaries`); returns what was removed.

    Temporaries of live processes on this host are never touched, nor (without
    ``all_hosts``) those of other hosts. Raises :class:`InputFileError` if ``folder`` is not
    a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(f"not a folder: {folder}")
    removed = []
    for path in stale_temporaries(folder, all_hosts=all_hosts):
        if not dry_run:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                logger.warning("%s: cannot remove stale temporary: %s", path, exc.strerror)
                continue
        removed.append(path)
    if removed:
        size = sum(p.stat().st_size for p in removed if p.exists())
        logger.info(
            "%s: %s %d stale temporary file(s) of crashed runs%s",
            folder,
            "would remove" if dry_run else "removed",
            len(removed),
            f" ({size} bytes)" if dry_run else "",
        )
    return removed


def rows_of(record: dict[str, Any]) -> Iterable[int]:
    """Absolute rows a record says its run reconstructs."""
    first, last, step = (record.get("resolved") or {}).get("rows_first_last_step", (0, -1, 1))
    return range(int(first), int(last) + 1, max(int(step), 1))


def _name_prefix(name: str) -> str:
    """A slice name less its last number and suffix (``s_00012.tiff`` -> ``s_``): its stack."""
    stem = Path(name).stem
    m = _NUMBER.search(stem)
    return stem[: m.start()] if m else stem


def claim_stack(outdir: Path, names: Sequence[str], *, overwrite: bool, what: str) -> None:
    """One derived stack per prefix in ``outdir``: earlier slices of the prefixes of ``names``
    are refused (they would mix with the new ones: other ranges, other scaling), or removed
    first with ``overwrite=True``. Slices of other prefixes are other stacks, never touched.

    Parameters
    ----------
    outdir : path
        The output folder (may not exist yet).
    names : sequence of str
        The file names about to be written.
    overwrite : bool
        Remove the earlier slices instead of refusing.
    what : str
        The operation, for messages ("crop", "8-bit conversion").

    Raises
    ------
    OutputError
        Earlier slices of the same prefix without ``overwrite``, or one that cannot be removed.
    """
    if not outdir.is_dir():
        return
    prefixes = {_name_prefix(n) for n in names}
    earlier = sorted(
        Path(e.path)
        for e in os.scandir(outdir)
        if e.name.lower().endswith((".tif", ".tiff"))
        and not e.name.startswith(".")
        and _name_prefix(e.name) in prefixes
    )
    if not earlier:
        return
    if not overwrite:
        raise OutputError(
            f"{outdir} holds {len(earlier)} slice(s) {sorted(prefixes)[0]}*.tif(f) of an earlier {what}; this one "
            "would mix with them. Nothing was written. To replace them, use overwrite=True (command line: "
            "--overwrite); to keep them, choose another output folder (--output-dir)"
        )
    for path in earlier:
        try:
            path.unlink()
        except OSError as exc:
            raise OutputError(f"{path}: cannot remove the earlier {what}'s slice ({exc.strerror})") from None
    logger.warning("%s: overwrite=True: removed %d slice(s) of an earlier %s", outdir, len(earlier), what)
