"""Shared part of the folder tools (:mod:`~alsmicroct.apps.convert_8bit`,
:mod:`~alsmicroct.apps.crop`): arguments, and each folder processed in isolation."""

from __future__ import annotations

import argparse
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from ._common import EXIT_FAILED, EXIT_OK, add_logging_args, format_table, guarded_main

__all__ = ["folder_main", "folder_parser", "run_folders"]

logger = logging.getLogger(__name__)

#: ``action(folder, output)``: process one folder; returns the files written.
FolderAction = Callable[[Path, Path | None], Sequence[str]]


def folder_parser(
    prog: str, description: str, *, example: str, suffix: str, add_options: Callable[[argparse.ArgumentParser], None]
) -> argparse.ArgumentParser:
    """Parser of a folder tool: ``DIR...``, the tool's options (``add_options(parser)``),
    ``--output-dir`` (default ``<DIR><suffix>``) and the logging options."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=f"Example: {prog} {example}")
    parser.add_argument("folders", nargs="+", metavar="DIR", help="folder(s) of TIFF slices")
    add_options(parser)
    parser.add_argument(
        "--run", metavar="PREFIX", help="in a recon() folder that holds several runs: the run (slice prefix) to read"
    )
    parser.add_argument(
        "--output-dir", metavar="OUT", help=f"output folder (several DIRs: OUT/<DIR name>); default: <DIR>{suffix}"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier output of the same names there (default: refuse it, nothing written)",
    )
    add_logging_args(parser)
    return parser


def folder_main(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    make_action: Callable[[argparse.Namespace], FolderAction],
    *,
    what: str,
) -> int:
    """Parse ``argv`` and :func:`run_folders` the action ``make_action(args)`` (which checks
    the options, raising :class:`~alsmicroct.errors.ParameterError`) in
    :func:`~alsmicroct.apps._common.guarded_main`; returns the exit status."""
    args = parser.parse_args(argv)
    return guarded_main(
        args, lambda add_log_file: run_folders(args.folders, make_action(args), what=what, output_dir=args.output_dir)
    )


def run_folders(folders: Sequence[str], action: FolderAction, *, what: str, output_dir: str | None) -> int:
    """Apply ``action(folder, output)`` to each slice folder in isolation; print a summary.

    Parameters
    ----------
    folders : sequence of str
        Input folders of TIFF slices.
    action : callable
        Does the work for one folder and returns the files written.
    what : str
        Name of the operation, for messages ("8-bit conversion", "crop").
    output_dir : str or None
        With one folder: its output folder. With several: their parent, each getting
        ``<output_dir>/<folder name>``. None: the action's default.

    Returns
    -------
    int
        :data:`EXIT_OK`, or :data:`EXIT_FAILED` when some folder failed.
    """
    from ..image_processing import get_fileList

    rows: list[list[str]] = []
    failures = 0
    for index, name in enumerate(folders, 1):
        folder = Path(name)
        target = None
        if output_dir is not None:
            target = Path(output_dir) if len(folders) == 1 else Path(output_dir) / folder.resolve().name
        t0 = time.perf_counter()
        try:
            count = len(get_fileList(folder)) if folder.is_dir() else 0
            logger.info("[%d/%d] %s of %s (%d slices)", index, len(folders), what, folder, count)
            written = action(folder, target)
        except Exception as exc:
            failures += 1
            logger.error("%s: %s failed: %s: %s", folder, what, type(exc).__name__, exc)
            logger.debug("traceback:\n%s", traceback.format_exc())
            rows.append(
                [str(folder), "FAILED", "-", f"{time.perf_counter() - t0:.1f} s", f"{type(exc).__name__}: {exc}"]
            )
            continue
        out = str(Path(written[0]).parent) if written else "-"
        rows.append([str(folder), "done", str(len(written)), f"{time.perf_counter() - t0:.1f} s", out])
    print(format_table(rows, ("folder", "status", "slices", "time", "output folder / error")))
    return EXIT_FAILED if failures else EXIT_OK
