"""Shared machinery of the command lines: arguments, logging, exit statuses, printing.

The batch front ends (:mod:`~alsmicroct.cli.recon_batch` for path lists,
:mod:`~alsmicroct.cli.recon_spreadsheet` for .csv/.xlsx sheets,
:mod:`~alsmicroct.cli.recon_parameters` for the old ``input832.txt`` format) and the
single-scan program :mod:`~alsmicroct.cli.recon_one` only differ in how they read their
input (a reader of :mod:`alsmicroct.jobs`); :func:`run_batch` plans the jobs
(:func:`alsmicroct.jobs.batch.plan_jobs`), dry-runs or runs them, prints the summary table
and optionally writes a JSON summary.

Exit status: 0 all scans done or skipped, 1 some scan failed (or is invalid in a dry run),
2 bad input (nothing was run), 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import logging
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import AlsMicroCTError, InputFileError, OutputError, ParameterError
from ..io.atomic import write_json_atomic
from ..jobs.batch import (
    dry_run_job,
    format_keywords,
    plan_jobs,
    run_jobs,
    status_counts,
    summary_record,
    summary_rows,
)
from ..jobs.entries import JobResult, ScanEntry, load_config, select_line
from ..params import parse_overrides, parse_value

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "add_logging_args",
    "batch_main",
    "build_batch_parser",
    "cli_layer",
    "format_table",
    "guarded_main",
    "logging_setup",
    "parse_span",
    "run_batch",
]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


# --------------------------------------------------------------------------- data


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
    level = (
        logging.DEBUG
        if getattr(args, "verbose", False)
        else (logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    )
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    console.addFilter(_own_debug_only)
    handlers: list[logging.Handler] = [console]
    own = logging.getLogger("alsmicroct")
    old_levels = root.level, own.level
    root.addHandler(console)
    root.setLevel(logging.INFO)  # other libraries: INFO and up
    own.setLevel(logging.DEBUG)  # ours: DEBUG goes to the log file (and the console with -v)
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


def build_batch_parser(
    prog: str, description: str, source_help: str, *, list_input: bool = True, epilog: str = ""
) -> argparse.ArgumentParser:
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
    parser = argparse.ArgumentParser(
        prog=prog, description=description, epilog=notes, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", help=source_help)
    par = parser.add_argument_group("parameters")
    par.add_argument(
        "--config", type=Path, metavar="TOML", help="TOML file of recon() keywords (key = value) applied to every scan"
    )
    par.add_argument(
        "--set",
        dest="set_tokens",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a recon() keyword for every scan, e.g. --set doPhaseRetrieval=true (repeatable)",
    )
    par.add_argument(
        "--cor",
        metavar="PIXELS",
        help="centre of rotation for every scan (default: found automatically, see corFunction)",
    )
    par.add_argument(
        "--slices",
        type=int,
        metavar="N",
        help="only the central N rows of each scan (sinoused=(-1,N,1)), for a quick look",
    )
    par.add_argument(
        "--input-dir", metavar="DIR", help="folder that relative raw-file paths start from (default: current folder)"
    )
    par.add_argument(
        "--output-dir",
        metavar="DIR",
        help="output root: slices go to DIR/rec<scan name>/ (default: next to the raw file)",
    )
    run = parser.add_argument_group("running")
    run.add_argument(
        "--dry-run", action="store_true", help="print the resolved plan and check every raw file opens; write nothing"
    )
    run.add_argument(
        "--resume", action="store_true", help="skip scans whose output is complete and finish partial ones"
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run with other parameters in the output folder (default: refuse)",
    )
    if list_input:
        run.add_argument(
            "--line", type=int, metavar="K", help="process only the K-th scan (1-based, counting scan lines only)"
        )
    run.add_argument("--summary-json", type=Path, metavar="PATH", help="also write the summary as JSON to PATH")
    run.add_argument(
        "--log-file", type=Path, metavar="PATH", help="log file (default: <output folder>/<name>_<date-time>.log)"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_logging_args(parser)
    return parser


def command_line_keys(args: argparse.Namespace) -> dict[str, str]:
    """The recon() keys the options of ``args`` set, each with the option as typed (``--cor 15``,
    ``--set cor=16``), for messages about a key given twice."""
    out: dict[str, str] = {}
    for token in args.set_tokens or ():
        out.setdefault(token.partition("=")[0].strip(), f"--set {token}")
    for option, key, value in (
        ("--cor", "cor", args.cor),
        ("--input-dir", "inputPath", args.input_dir),
        ("--output-dir", "outputPath", args.output_dir),
        ("--slices", "sinoused", args.slices),
    ):
        if value is not None:
            out.setdefault(key, f"{option} {value}")
    return out


def refuse_twice(key: str, first: str, second: str) -> None:
    """The one message for a key given twice on one command line."""
    raise ParameterError(f"{key} given twice on the command line ({first} and {second}): keep one value")


def cli_layer(args: argparse.Namespace) -> dict[str, Any]:
    """The command-line parameter layer: ``--set`` tokens, ``--cor``, ``--slices``, folders.

    Raises
    ------
    ParameterError
        Naming the option and value at fault; also a key that ``--set`` and an option both set.
    """
    out = parse_overrides(args.set_tokens, source="command line --set")
    given = command_line_keys(args)
    for option, key, value in (
        ("--cor", "cor", args.cor),
        ("--input-dir", "inputPath", args.input_dir),
        ("--output-dir", "outputPath", args.output_dir),
    ):
        if value is not None:
            if key in out:
                refuse_twice(key, given[key], f"{option} {value}")
            try:
                out[key] = parse_value(key, value)
            except ParameterError as exc:
                raise ParameterError(f"command line {option} {value!r}: {exc}") from None
    if args.slices is not None:
        if args.slices < 1:
            raise ParameterError(f"command line --slices {args.slices}: expected a row count >= 1")
        if "sinoused" in out:
            refuse_twice("sinoused", given["sinoused"], f"--slices {args.slices}")
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


# ------------------------------------------------------------------------ planning


# ------------------------------------------------------------------------- running
def run_batch(
    args: argparse.Namespace,
    entries: Sequence[ScanEntry],
    *,
    source: str,
    add_log_file: Callable[[Path], Path],
    log_stem: str,
) -> int:
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
        results = [dry_run_job(job, resume=args.resume) for job in jobs]
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
    results, interrupted = run_jobs(jobs, resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress)
    _finish(results, args, source=source, dry_run=False, log_path=log_path)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if any(r.failed for r in results) else EXIT_OK


def batch_main(
    args: argparse.Namespace,
    read_entries: Callable[[argparse.Namespace], Sequence[ScanEntry]],
    *,
    log_suffix: str = "batch",
) -> int:
    """:func:`run_batch` on the scans ``read_entries(args)`` gets from ``args.source``, in
    :func:`guarded_main`; the log file is ``<source stem>_<log_suffix>_<time>.log``."""

    def body(add_log_file: Callable[[Path], Path]) -> int:
        return run_batch(
            args,
            read_entries(args),
            source=args.source,
            add_log_file=add_log_file,
            log_stem=f"{Path(args.source).stem}_{log_suffix}",
        )

    return guarded_main(args, body)


# ------------------------------------------------------------------------- summary


def _print_plan(results: Sequence[JobResult]) -> None:
    out = sys.stdout
    for r in results:
        job = r.job
        print(f"[{job.number}] {job.entry.scan}   ({job.entry.source})", file=out)
        d = r.detail
        shape = (
            f" ({d['layout']} layout, {d['nangles']} angles x {d['nslices']} rows x {d['nrays']} columns)" if d else ""
        )
        print(f"    raw file   : {job.path}{shape}", file=out)
        print(f"    output     : {job.output_dir}", file=out)
        print(f"    parameters : {format_keywords(job.keywords)}", file=out)
    print(file=out)


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Plain-text table with columns padded to their widest cell."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=False)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in rows]
    return "\n".join(lines)


def _finish(
    results: Sequence[JobResult], args: argparse.Namespace, *, source: str, dry_run: bool, log_path: Path | None
) -> None:
    if dry_run:
        _print_plan(results)
    header = ("#", "scan", "status", "centre", "slices", "time", "quality", "output folder")
    table = format_table(summary_rows(results), header)
    title = f"{'Plan (dry run, nothing written)' if dry_run else 'Summary'} of {source}"
    print(f"{title}\n{table}", file=sys.stdout)
    for r in results:
        if r.error:
            print(f"  {r.job.entry.source}: {r.status}: {r.error}", file=sys.stdout)
    counts = status_counts(results)
    print("Totals: " + ", ".join(f"{v} {k}" for k, v in counts.items()), file=sys.stdout)
    if log_path is not None:
        logger.debug("summary\n%s", table)
        print(f"Batch log: {log_path}", file=sys.stdout)
    if args.summary_json is not None:
        record = summary_record(results, source=source, dry_run=dry_run, log_path=log_path)
        path = write_json_atomic(args.summary_json, record, what="JSON summary")
        print(f"Summary JSON: {path}", file=sys.stdout)
    sys.stdout.flush()
