"""What a batch is made of: scan entries read from lists, sheets and parameter files, the
jobs they become, their results, and the TOML config layer.

Every reader (:mod:`~alsmicroct.jobs.lists` for path lists, :mod:`~alsmicroct.jobs.spreadsheet`
for .csv/.xlsx sheets, :mod:`~alsmicroct.jobs.input832` for the old ``input832.txt`` format)
turns its input into a list of :class:`ScanEntry`; :func:`alsmicroct.jobs.batch.plan_jobs`
turns entries into :class:`ScanJob`; running a job gives a :class:`JobResult`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputFileError, ParameterError
from ..io.atomic import jsonable
from ..io.outputs import PROVENANCE_NAME
from ..params import ReconParams, expand_env, parse_value, suggest_key

__all__ = [
    "FAILED_STATES",
    "JobResult",
    "ScanEntry",
    "ScanJob",
    "check_keywords",
    "config_line",
    "load_config",
    "read_config",
    "read_line_entries",
    "read_text_lines",
    "select_line",
]

FAILED_STATES = ("failed", "invalid", "missing", "not run")


@dataclass(frozen=True)
class ScanEntry:
    """One scan as read from a list, sheet or parameter file.

    Attributes
    ----------
    scan : str
        The raw file as written (absolute, or relative to ``inputPath``; ".h5" optional).
    overrides : mapping
        recon() keywords set for this scan only; values may still be strings.
    source : str
        Where the entry comes from, e.g. ``"list.txt line 7"``; quoted in every message.
    """

    scan: str
    overrides: Mapping[str, Any]
    source: str


@dataclass
class ScanJob:
    """A scan with its resolved raw file, validated parameters and output folder.

    Attributes
    ----------
    number : int
        1-based position among the scans of the input (what ``--line`` counts).
    entry : ScanEntry
        Where it comes from.
    params : ReconParams
        All parameters, layers merged and validated.
    keywords : dict
        The explicitly set keywords (converted), passed on to recon().
    path : Path
        The raw file (resolved; as looked for when ``missing``).
    output_dir : Path
        Folder recon() writes the slices to.
    missing : str or None
        Why the raw file was not found, if it was not.
    provenance_name : str
        File name of the provenance record in ``output_dir``.
    """

    number: int
    entry: ScanEntry
    params: ReconParams
    keywords: dict[str, Any]
    path: Path
    output_dir: Path
    missing: str | None = None
    provenance_name: str = PROVENANCE_NAME


@dataclass
class JobResult:
    """Outcome of one scan (one row of the summary table)."""

    job: ScanJob
    status: str
    cor: float | None = None
    slices: int | None = None
    seconds: float | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """True for a failed, invalid, missing or unfinished scan."""
        return self.status in FAILED_STATES

    def to_json(self) -> dict[str, Any]:
        """JSON-friendly record of this result."""
        job = self.job
        return {
            "number": job.number,
            "scan": job.entry.scan,
            "source": job.entry.source,
            "path": str(job.path),
            "status": self.status,
            "cor": self.cor,
            "slices": self.slices,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "output_dir": str(job.output_dir),
            "error": self.error,
            "overrides": jsonable(job.keywords),
            "parameters": job.params.to_dict(),
            **self.detail,
        }


def read_text_lines(path: str | Path, *, what: str = "list") -> list[str]:
    """Lines of a UTF-8 text file.

    Raises
    ------
    InputFileError
        If the file is missing, a folder, unreadable or not text.
    """
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{p}: not a text file ({exc}); expected a {what} file") from None
    except OSError as exc:
        raise InputFileError(f"{p}: cannot read the {what} file ({exc.strerror or exc})") from None


def read_line_entries(
    path: str | Path, parse_line: Callable[[str, str], ScanEntry | None], *, what: str = "list"
) -> list[ScanEntry]:
    """Scan entries of a text file, one per line: ``parse_line(line, "<path> line <n>")``
    (None for a line without a scan). Raises :class:`InputFileError` (unreadable file) and
    what ``parse_line`` raises (:class:`ParameterError` for a malformed line)."""
    entries = []
    for number, line in enumerate(read_text_lines(path, what=what), 1):
        entry = parse_line(line, f"{path} line {number}")
        if entry is not None:
            entries.append(entry)
    return entries


def load_config(path: Path) -> dict[str, Any]:
    """Read a TOML file of recon() keywords (top-level ``key = value``) and validate them.

    Raises
    ------
    InputFileError
        If the file cannot be read.
    ParameterError
        For invalid TOML, a table, an unknown key or a bad value (naming file and line).
    """
    return read_config(path)[0]


def read_config(path: Path, *, tables: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`load_config` for files that also hold the tables (or arrays of tables) named in
    ``tables`` (e.g. a watcher's ``[watch]`` settings); those are returned unchecked.

    Returns
    -------
    keywords : dict
        The validated top-level recon() keywords.
    extra : dict
        The raw contents of the allowed tables that are present.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read the config file ({exc})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{path}: not a valid TOML file ({exc})") from None
    extra = {key: data.pop(key) for key in tables if key in data}
    for key, value in data.items():
        if isinstance(value, dict):
            raise ParameterError(
                f"{config_line(path, text, key)}: [{key}] tables are not used; put recon() "
                "keywords at the top level as key = value"
            )
    return check_keywords(data, path, text), extra


def config_line(path: Path, text: str, key: str) -> str:
    """``"<path> line <n>"`` of the first line setting ``key`` in the TOML ``text`` (else the path)."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return f"{path} line {number}"
    return str(path)


def check_keywords(data: Mapping[str, Any], path: Path, text: str) -> dict[str, Any]:
    """Convert and validate recon() keywords read from the TOML file ``path`` (``text``).

    Raises
    ------
    ParameterError
        For an unknown key or a bad value, naming the file and line.
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in ReconParams.field_names():
            raise ParameterError(f"{config_line(path, text, key)}: unknown parameter {key!r}{suggest_key(key)}")
        if isinstance(value, str):  # $VARS as in path lists and spreadsheets
            value = expand_env(value, source=config_line(path, text, key))
        try:
            out[key] = parse_value(key, value)
        except ParameterError as exc:
            raise ParameterError(f"{config_line(path, text, key)}: {exc}") from None
    ReconParams.from_mapping(out, source=str(path))
    return out


def select_line(entries: Sequence[ScanEntry], line: int | None, source: str) -> list[tuple[int, ScanEntry]]:
    """Number the entries from 1 and keep only the ``line``-th one when given."""
    numbered = list(enumerate(entries, 1))
    if line is None:
        return numbered
    if not 1 <= line <= len(numbered):
        raise ParameterError(
            f"{source} lists {len(numbered)} scan(s); --line {line} is out of range (expected 1..{len(numbered)})"
        )
    return [numbered[line - 1]]
