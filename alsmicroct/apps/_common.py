"""Shared machinery of the console programs: arguments, logging, batch planning and running.

The three batch front ends (:mod:`~alsmicroct.apps.recon_batch` for path lists,
:mod:`~alsmicroct.apps.recon_spreadsheet` for .csv/.xlsx sheets and
:mod:`~alsmicroct.apps.recon_parameters` for the old ``input832.txt`` format) and the
single-scan program :mod:`~alsmicroct.apps.recon_one` only differ in how they read their
input: each turns it into a list of :class:`ScanEntry` and hands it to :func:`run_batch`,
which

1. merges the parameter layers (line override > command line > ``--config`` TOML >
   defaults) and validates every scan's parameters before anything runs;
2. resolves the raw files (missing files are errors before anything runs);
3. with ``--dry-run`` prints the plan and opens every raw file to check it;
4. otherwise reconstructs each scan in isolation (a failure is logged, the batch goes on),
   logs to a file in the output folder, prints a summary table and optionally writes a
   JSON summary.

Exit status: 0 all scans done or skipped, 1 some scan failed (or is invalid in a dry run),
2 bad input (nothing was run), 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import math
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AlsMicroCTError, InputFileError, OutputError, ParameterError
from ..params import ReconParams, parse_overrides, parse_value, suggest_key
from ..pipeline.provenance import PROVENANCE_NAME

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "JobResult",
    "ScanEntry",
    "ScanJob",
    "add_logging_args",
    "batch_main",
    "build_batch_parser",
    "cli_layer",
    "format_table",
    "guarded_main",
    "load_config",
    "logging_setup",
    "parse_span",
    "plan_jobs",
    "read_line_entries",
    "read_text_lines",
    "run_batch",
    "select_line",
    "write_json_atomic",
]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_FAILED_STATES = ("failed", "invalid", "missing", "not run")
_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


# --------------------------------------------------------------------------- data
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
        return self.status in _FAILED_STATES

    def to_json(self) -> dict[str, Any]:
        """JSON-friendly record of this result."""
        job = self.job
        return {
            "number": job.number, "scan": job.entry.scan, "source": job.entry.source,
            "path": str(job.path), "status": self.status, "cor": self.cor, "slices": self.slices,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "output_dir": str(job.output_dir), "error": self.error,
            "overrides": _jsonable(job.keywords), "parameters": job.params.to_dict(), **self.detail,
        }


# ------------------------------------------------------------------------ logging
def add_logging_args(parser: argparse.ArgumentParser) -> None:
    """Add ``-v/--verbose`` and ``-q/--quiet``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="also show debug messages")
    group.add_argument("-q", "--quiet", action="store_true", help="only show warnings and errors")


def _own_debug_only(record: logging.LogRecord) -> bool:
    """Keep debug messages of alsmicroct only (not those of matplotlib, numba, ...)."""
    return record.levelno >= logging.INFO or record.name.split(".")[0] == "alsmicroct"


@contextmanager
def logging_setup(args: argparse.Namespace) -> Iterator[Callable[[Path], Path]]:
    """Console logging for the duration of a program; yields ``add_file(path)``.

    ``add_file`` attaches a DEBUG-level log file (created with its folder) and returns its
    path. All handlers are removed on exit, so ``main()`` can be called repeatedly.
    """
    root = logging.getLogger()
    level = logging.DEBUG if getattr(args, "verbose", False) else (
        logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    console.addFilter(_own_debug_only)
    handlers: list[logging.Handler] = [console]
    own = logging.getLogger("alsmicroct")
    old_levels = root.level, own.level
    root.addHandler(console)
    root.setLevel(logging.INFO)   # other libraries: INFO and up
    own.setLevel(logging.DEBUG)   # ours: DEBUG goes to the log file (and the console with -v)
    logging.captureWarnings(True)

    def add_file(path: Path) -> Path:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(path, encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{path}: cannot create the log file ({exc})") from exc
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        handler.addFilter(_own_debug_only)
        root.addHandler(handler)
        handlers.append(handler)
        return path

    try:
        yield add_file
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(old_levels[0])
        own.setLevel(old_levels[1])
        logging.captureWarnings(False)


def guarded_main(args: argparse.Namespace, body: Callable[[Callable[[Path], Path]], int]) -> int:
    """Run ``body(add_log_file)`` with logging set up; map errors to exit statuses.

    :class:`AlsMicroCTError` (bad input detected before anything runs) is logged as one
    clear line and gives :data:`EXIT_USAGE`; Ctrl-C gives :data:`EXIT_INTERRUPTED`.
    """
    with logging_setup(args) as add_file:
        try:
            return body(add_file)
        except AlsMicroCTError as exc:
            logger.error("%s", exc)
            logger.debug("details:\n%s", traceback.format_exc())
            return EXIT_USAGE
        except KeyboardInterrupt:
            logger.error("interrupted")
            return EXIT_INTERRUPTED


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


def read_line_entries(path: str | Path, parse_line: Callable[[str, str], ScanEntry | None], *,
                      what: str = "list") -> list[ScanEntry]:
    """Scan entries of a text file, one per line: ``parse_line(line, "<path> line <n>")``
    (None for a line without a scan). Raises :class:`InputFileError` (unreadable file) and
    what ``parse_line`` raises (:class:`ParameterError` for a malformed line)."""
    entries = []
    for number, line in enumerate(read_text_lines(path, what=what), 1):
        entry = parse_line(line, f"{path} line {number}")
        if entry is not None:
            entries.append(entry)
    return entries


# ---------------------------------------------------------------------- arguments
_BATCH_EPILOG = """\
Parameter precedence: per-scan value (list line, sheet cell) > command line
(--set, --cor, --slices, --input-dir, --output-dir) > --config TOML file > defaults.
Unknown parameter names are errors (with a "did you mean" hint) before anything runs.

Exit status: 0 all done (or skipped), 1 some scan failed, 2 bad input, nothing run.
"""

_LINE_EPILOG = """
SLURM job arrays: one array task per scan, e.g.
  sbatch --array=1-12 --wrap "alsmicroct-recon-batch list.txt --line \\$SLURM_ARRAY_TASK_ID"
(--line counts scans only, from 1; comments and blank lines do not count; each task
writes its own log file.)
"""


def build_batch_parser(prog: str, description: str, source_help: str, *,
                       list_input: bool = True, epilog: str = "") -> argparse.ArgumentParser:
    """The argument parser shared by the reconstruction programs.

    Parameters
    ----------
    prog, description : str
        Program name and description.
    source_help : str
        Help of the positional argument ``source`` (the list, sheet or raw file).
    list_input : bool
        Add ``--line`` (select one scan of a list; for SLURM job arrays).
    epilog : str
        Extra text for ``--help``, before the shared notes.
    """
    notes = epilog + _BATCH_EPILOG + (_LINE_EPILOG if list_input else "")
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=notes,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help=source_help)
    par = parser.add_argument_group("parameters")
    par.add_argument("--config", type=Path, metavar="TOML",
                     help="TOML file of recon() keywords (key = value) applied to every scan")
    par.add_argument("--set", dest="set_tokens", action="append", default=[], metavar="KEY=VALUE",
                     help="a recon() keyword for every scan, e.g. --set doPhaseRetrieval=true "
                          "(repeatable)")
    par.add_argument("--cor", metavar="PIXELS", help="centre of rotation for every scan "
                     "(default: found automatically, see corFunction)")
    par.add_argument("--slices", type=int, metavar="N",
                     help="only the central N rows of each scan (sinoused=(-1,N,1)), for a quick look")
    par.add_argument("--input-dir", metavar="DIR",
                     help="folder that relative raw-file paths start from (default: current folder)")
    par.add_argument("--output-dir", metavar="DIR",
                     help="output root: slices go to DIR/rec<scan name>/ (default: next to the raw file)")
    run = parser.add_argument_group("running")
    run.add_argument("--dry-run", action="store_true",
                     help="print the resolved plan and check every raw file opens; write nothing")
    run.add_argument("--resume", action="store_true",
                     help="skip scans whose output is complete and finish partial ones")
    run.add_argument("--overwrite", action="store_true",
                     help="replace an earlier run with other parameters in the output folder (default: refuse)")
    if list_input:
        run.add_argument("--line", type=int, metavar="K",
                         help="process only the K-th scan (1-based, counting scan lines only)")
    run.add_argument("--summary-json", type=Path, metavar="PATH",
                     help="also write the summary as JSON to PATH")
    run.add_argument("--log-file", type=Path, metavar="PATH",
                     help="log file (default: <output folder>/<name>_<date-time>.log)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_logging_args(parser)
    return parser


def cli_layer(args: argparse.Namespace) -> dict[str, Any]:
    """The command-line parameter layer: ``--set`` tokens, ``--cor``, ``--slices``, folders.

    Raises
    ------
    ParameterError
        Naming the option and value at fault.
    """
    out = parse_overrides(args.set_tokens, source="command line --set")
    for option, key, value in (("--cor", "cor", args.cor), ("--input-dir", "inputPath", args.input_dir),
                               ("--output-dir", "outputPath", args.output_dir)):
        if value is not None:
            try:
                out[key] = parse_value(key, value)
            except ParameterError as exc:
                raise ParameterError(f"command line {option} {value!r}: {exc}") from None
    if args.slices is not None:
        if args.slices < 1:
            raise ParameterError(f"command line --slices {args.slices}: expected a row count >= 1")
        out["sinoused"] = (-1, args.slices, 1)
    return out


def parse_span(text: str, *, option: str = "range") -> tuple[int | None, int | None]:
    """Parse ``"a:b"`` (either side may be empty) into ``(a, b)``, ``a < b`` when both given.

    Raises
    ------
    ParameterError
        For anything but two optional integers separated by one colon.
    """
    start, sep, end = text.partition(":")
    if not sep or ":" in end:
        raise ParameterError(f"{option} {text!r}: expected START:END, e.g. 10:200 (either may be empty)")
    try:
        a = int(start) if start.strip() else None
        b = int(end) if end.strip() else None
    except ValueError:
        raise ParameterError(f"{option} {text!r}: START and END must be whole numbers") from None
    if a is not None and b is not None and a >= b:
        raise ParameterError(f"{option} {text!r}: START must be smaller than END")
    return a, b


# --------------------------------------------------------------------- config file
def load_config(path: Path) -> dict[str, Any]:
    """Read a TOML file of recon() keywords (top-level ``key = value``) and validate them.

    Raises
    ------
    InputFileError
        If the file cannot be read.
    ParameterError
        For invalid TOML, a table, an unknown key or a bad value (naming file and line).
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
    lines = text.splitlines()

    def where(key: str) -> str:
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number, line in enumerate(lines, 1):
            if pattern.match(line):
                return f"{path} line {number}"
        return str(path)

    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            raise ParameterError(f"{where(key)}: [{key}] tables are not used; put recon() keywords "
                                 "at the top level as key = value")
        if key not in ReconParams.field_names():
            raise ParameterError(f"{where(key)}: unknown parameter {key!r}{suggest_key(key)}")
        try:
            out[key] = parse_value(key, value)
        except ParameterError as exc:
            raise ParameterError(f"{where(key)}: {exc}") from None
    ReconParams.from_mapping(out, source=str(path))
    return out


# ------------------------------------------------------------------------ planning
def select_line(entries: Sequence[ScanEntry], line: int | None, source: str) -> list[tuple[int, ScanEntry]]:
    """Number the entries from 1 and keep only the ``line``-th one when given."""
    numbered = list(enumerate(entries, 1))
    if line is None:
        return numbered
    if not 1 <= line <= len(numbered):
        raise ParameterError(f"{source} lists {len(numbered)} scan(s); --line {line} is out of range "
                             f"(expected 1..{len(numbered)})")
    return [numbered[line - 1]]


def plan_jobs(entries: Sequence[ScanEntry], *, config: Mapping[str, Any], cli: Mapping[str, Any],
              selected: Sequence[int] | None = None) -> list[ScanJob]:
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
            raise ParameterError(f"{other.entry.source} and {job.entry.source} would both write {prefix}_*.tiff in "
                                 f"{job.output_dir}; give them different outputFilename (or outputPath) values")


def _rows_planned(params: ReconParams, nslices: int) -> int:
    if params.sinoused is None:
        return nslices
    start, end, step = params.sinoused
    if start < 0:
        return len(range(0, min(end, nslices), step))
    return len(range(start, min(end, nslices), step))


# ------------------------------------------------------------------------- running
def run_batch(args: argparse.Namespace, entries: Sequence[ScanEntry], *, source: str,
              add_log_file: Callable[[Path], Path], log_stem: str) -> int:
    """Plan, check and run (or dry-run) ``entries``; print the summary; return the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        From :func:`build_batch_parser`.
    entries : sequence of ScanEntry
        The scans read from the input; empty is an error.
    source : str
        The input's name, for messages.
    add_log_file : callable
        From :func:`logging_setup`.
    log_stem : str
        Base name of the batch log file.
    """
    if not entries:
        raise InputFileError(f"{source}: no scans listed (only comments or blank lines)")
    config = load_config(args.config) if args.config is not None else {}
    cli = cli_layer(args)
    line = getattr(args, "line", None)
    chosen = [n for n, _ in select_line(entries, line, source)]
    jobs = plan_jobs(entries, config=config, cli=cli, selected=chosen)
    if args.dry_run:
        results = [_dry_run(job, resume=args.resume) for job in jobs]
        _finish(results, args, source=source, dry_run=True, log_path=None)
        return EXIT_FAILED if any(r.failed for r in results) else EXIT_OK
    missing = [f"{job.entry.source}: {job.missing}" for job in jobs if job.missing]
    if missing:
        raise InputFileError("raw file(s) not found, nothing was run:\n  " + "\n  ".join(missing))
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix = f"_line{line:04d}" if line is not None else ""
    log_path = args.log_file or jobs[0].output_dir.parent / f"{log_stem}_{stamp}{suffix}.log"
    add_log_file(log_path)
    logger.info("batch %s: %d scan(s); log file %s", source, len(jobs), log_path)
    logger.debug("arguments: %s", vars(args))
    results: list[JobResult] = []
    interrupted = False
    for index, job in enumerate(jobs, 1):
        logger.info("[%d/%d] %s (%s): %s", index, len(jobs), job.path, job.entry.source,
                    _fmt_overrides(job.keywords))
        try:
            results.append(_run_one(job, resume=args.resume, overwrite=args.overwrite,
                                    progress=not args.no_progress))
        except KeyboardInterrupt:
            results.append(JobResult(job, "failed", error="interrupted"))
            results.extend(JobResult(j, "not run") for j in jobs[index:])
            interrupted = True
            break
    _finish(results, args, source=source, dry_run=False, log_path=log_path)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if any(r.failed for r in results) else EXIT_OK


def batch_main(args: argparse.Namespace,
               read_entries: Callable[[argparse.Namespace], Sequence[ScanEntry]], *,
               log_suffix: str = "batch") -> int:
    """:func:`run_batch` on the scans ``read_entries(args)`` gets from ``args.source``, in
    :func:`guarded_main`; the log file is ``<source stem>_<log_suffix>_<time>.log``."""

    def body(add_log_file: Callable[[Path], Path]) -> int:
        return run_batch(args, read_entries(args), source=args.source, add_log_file=add_log_file,
                         log_stem=f"{Path(args.source).stem}_{log_suffix}")

    return guarded_main(args, body)


def _run_one(job: ScanJob, *, resume: bool, progress: bool, overwrite: bool = False) -> JobResult:
    """Reconstruct one scan; any exception is caught, logged and reported as failed."""
    from ..pipeline.provenance import read_provenance
    from ..reconstruction import recon

    t0 = time.perf_counter()
    if resume:
        record = read_provenance(job.output_dir, job.provenance_name)
        if record is not None and record.get("status") == "complete" and _same_run(job, record):
            logger.info("%s: complete in %s, skipped (--resume)", job.path.name, job.output_dir)
            return JobResult(job, "skipped", cor=record.get("resolved", {}).get("cor"),
                             slices=record.get("nfiles"), seconds=0.0)
    try:
        res = recon(job.path.name, inputPath=str(job.path.parent),
                    resume=False if overwrite else (True if resume else None),
                    progress=progress, provenance_name=job.provenance_name, **job.keywords)
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
    return JobResult(job, "done", cor=float(res.cor), slices=len(res.files),
                     seconds=time.perf_counter() - t0, detail={"kept_slices": res.skipped})


def _same_run(job: ScanJob, record: Mapping[str, Any]) -> bool:
    """Whether a record was made by this job's run (the one rule,
    :func:`~alsmicroct.pipeline.provenance.same_run`; an automatic centre is not compared)."""
    from ..pipeline.provenance import fingerprint_of, same_run

    ignore = ("cor",) if job.params.cor is None else ()
    return same_run(record.get("fingerprint"), fingerprint_of(job.path, job.params, job.params.cor), ignore=ignore)


def _dry_run(job: ScanJob, *, resume: bool) -> JobResult:
    """Open the raw file and report what would be done; never writes."""
    from ..io import open_scan
    from ..pipeline.plan import scan_options
    from ..pipeline.provenance import provenance_status

    if job.missing:
        return JobResult(job, "missing", error=job.missing)
    try:
        with open_scan(job.path, **scan_options(job.params)) as scan:
            m = scan.meta
            detail = {"layout": m.layout, "nangles": m.nangles, "nslices": m.nslices, "nrays": m.nrays}
    except Exception as exc:
        return JobResult(job, "invalid", error=f"{type(exc).__name__}: {exc}")
    problem = _check_against(job.params, m.nslices, m.nrays, m.nangles)
    if problem:
        return JobResult(job, "invalid", error=f"{problem} ({job.path})", detail=detail)
    status = "planned"
    if resume and provenance_status(job.output_dir, job.provenance_name) == "complete":
        status = "skip (done)"
    return JobResult(job, status, cor=job.params.cor, slices=_rows_planned(job.params, m.nslices),
                     detail=detail)


def _check_against(params: ReconParams, nslices: int, nrays: int, nangles: int) -> str | None:
    """What in ``params`` does not fit a scan of this size (None when all fits)."""
    if params.sinoused is not None and params.sinoused[0] >= nslices:
        return f"sinoused={params.sinoused} starts beyond the {nslices} rows"
    if params.projused is not None and params.projused[0] >= nangles:
        return f"projused={params.projused} starts beyond the {nangles} projections"
    if params.cor is not None and not 0 <= params.cor <= nrays - 1 and not params.use360to180:
        return f"cor={params.cor} lies outside the detector row 0..{nrays - 1}"
    return None


# ------------------------------------------------------------------------- summary
def _fmt_overrides(keywords: Mapping[str, Any]) -> str:
    if not keywords:
        return "(all defaults)"
    return " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in keywords.items())


def _print_plan(results: Sequence[JobResult]) -> None:
    out = sys.stdout
    for r in results:
        job = r.job
        print(f"[{job.number}] {job.entry.scan}   ({job.entry.source})", file=out)
        d = r.detail
        shape = (f" ({d['layout']} layout, {d['nangles']} angles x {d['nslices']} rows x {d['nrays']} columns)"
                 if d else "")
        print(f"    raw file   : {job.path}{shape}", file=out)
        print(f"    output     : {job.output_dir}", file=out)
        print(f"    parameters : {_fmt_overrides(job.keywords)}", file=out)
    print(file=out)


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Plain-text table with columns padded to their widest cell."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def _summary_rows(results: Sequence[JobResult]) -> list[list[str]]:
    rows = []
    for r in results:
        cor = "-" if r.cor is None or (isinstance(r.cor, float) and math.isnan(r.cor)) else f"{r.cor:.2f}"
        rows.append([str(r.job.number), r.job.entry.scan, r.status.upper() if r.failed else r.status, cor,
                     "-" if r.slices is None else str(r.slices),
                     "-" if r.seconds is None else f"{r.seconds:.1f} s", str(r.job.output_dir)])
    return rows


def _finish(results: Sequence[JobResult], args: argparse.Namespace, *, source: str, dry_run: bool,
            log_path: Path | None) -> None:
    if dry_run:
        _print_plan(results)
    header = ("#", "scan", "status", "centre", "slices", "time", "output folder")
    table = format_table(_summary_rows(results), header)
    title = f"{'Plan (dry run, nothing written)' if dry_run else 'Summary'} of {source}"
    print(f"{title}\n{table}", file=sys.stdout)
    for r in results:
        if r.error:
            print(f"  {r.job.entry.source}: {r.status}: {r.error}", file=sys.stdout)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    print("Totals: " + ", ".join(f"{v} {k}" for k, v in counts.items()), file=sys.stdout)
    if log_path is not None:
        logger.debug("summary\n%s", table)
        print(f"Batch log: {log_path}", file=sys.stdout)
    if args.summary_json is not None:
        record = {"source": source, "dry_run": dry_run, "finished": _dt.datetime.now().isoformat(timespec="seconds"),
                  "log_file": None if log_path is None else str(log_path), "counts": counts,
                  "scans": [r.to_json() for r in results]}
        path = write_json_atomic(args.summary_json, record)
        print(f"Summary JSON: {path}", file=sys.stdout)
    sys.stdout.flush()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_json_atomic(path: Path, record: Any) -> Path:
    """Write ``record`` as JSON via a temporary file and rename (never half-written).

    Raises
    ------
    OutputError
        If the file or its folder cannot be written.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(_jsonable(record), fh, indent=2, allow_nan=True)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write the JSON summary ({exc})") from exc
    return path

