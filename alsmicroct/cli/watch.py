"""``alsmicroct-watch``: live reconstruction of every scan that lands in a folder.

Examples
--------
::

    alsmicroct-watch /data/raw --output /data/rec                  # status page off
    alsmicroct-watch /data/raw --output /data/rec --port 8832      # http://127.0.0.1:8832/
    alsmicroct-watch /data/raw --output /data/rec --config watch.toml --runner slurm --workers 4
    alsmicroct-watch /data/raw --output /data/rec --once           # for cron / a SLURM job
    alsmicroct-watch rerun scan_0042.h5 --output /data/rec --cor 1021.5 doFWringremoval=false

Each finished scan gets a preview (centre with its confidence, three slices, a centre sweep,
``rec<stem>/<stem>_preview.png``) within seconds, then its full reconstruction. The queue
is ``REC_DIR/.alsmicroct-watch.sqlite``; the log ``REC_DIR/.alsmicroct-watch.log``.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ..jobs.watch.queue import DB_NAME, Queue
from ..jobs.watch.runners import RUNNERS
from ..jobs.watch.service import LOG_NAME, WatchService, WatchSettings, load_watch_config, rerun
from ..params import parse_overrides, parse_value
from ._common import EXIT_FAILED, EXIT_OK, add_logging_args, guarded_main, refuse_twice

__all__ = ["main"]

logger = logging.getLogger(__name__)

_EPILOG = """\
watch.toml: recon() keywords at the top level (as recon-batch --config), watcher settings
in [watch] (recursive, include, exclude, settle, give_up, max_retries, runner, workers, host,
port, token, poll, sbatch_args, ...), per-pattern keywords in [[match]] tables:
    chunk_sino = 16
    [watch]
    recursive = true
    max_retries = 2
    [[match]]
    pattern = "rocks/*.h5"
    doPhaseRetrieval = true
Precedence: rerun parameters > [[match]] > top level > the preview's centre > defaults;
command-line options win over [watch].

Exit status: 0 (with --once: every scan done), 1 (--once: some scan failed), 2 bad input.
"""


def _watch_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="alsmicroct-watch",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Watch RAW_DIR: preview each finished scan within seconds, "
        "then reconstruct it in full (also: alsmicroct-watch rerun --help).",
    )
    p.add_argument("raw_dir", type=Path, metavar="RAW_DIR", help="folder the raw .h5 files arrive in")
    p.add_argument("--output", type=Path, required=True, metavar="REC_DIR", help="output root")
    p.add_argument("--config", type=Path, metavar="TOML", help="watch.toml (see below)")
    p.add_argument("--runner", choices=RUNNERS, help="who reconstructs: local processes, Dask, SLURM (default local)")
    p.add_argument("--workers", type=int, metavar="N", help="scans reconstructed at a time (default 1)")
    p.add_argument("--port", type=int, metavar="P", help="serve the status page on port P (default: no page)")
    p.add_argument("--host", metavar="ADDR", help="page address (default 127.0.0.1; others need --token)")
    p.add_argument("--token", help="page token (default $ALSMICROCT_WATCH_TOKEN); asked for as ?token=...")
    p.add_argument("--once", action="store_true", help="process what is there, then exit")
    p.add_argument(
        "--poll",
        action="store_true",
        default=None,
        help="poll the folder instead of file-system events (network file systems)",
    )
    p.add_argument("--recursive", action="store_true", default=None, help="also watch sub-folders")
    p.add_argument("--include", action="append", metavar="GLOB", help="scan file pattern (repeatable)")
    p.add_argument("--exclude", action="append", metavar="GLOB", help="pattern to ignore (repeatable)")
    p.add_argument("--settle", type=float, metavar="S", help="seconds a file must stay unchanged (default 1)")
    p.add_argument(
        "--give-up",
        type=float,
        dest="give_up",
        metavar="S",
        help="seconds unchanged but incomplete before a file fails (default 600)",
    )
    p.add_argument("--retries", type=int, dest="max_retries", metavar="N", help="retries of a failed run (default 1)")
    p.add_argument("--sbatch-args", dest="sbatch_args", metavar="ARGS", help="extra sbatch options, e.g. '-p debug'")
    p.add_argument("--dask-address", dest="dask_address", metavar="ADDR", help="a Dask scheduler to use")
    p.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        default=None,
        help="do not preview a small simulated scan at start (then the first scan pays the start-up costs)",
    )
    add_logging_args(p)
    return p


def _rerun_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="alsmicroct-watch rerun",
        description="Queue a new attempt of SCAN with changed parameters (its own "
        "output prefix and record; earlier outputs are kept).",
    )
    p.add_argument("scan", metavar="SCAN", help="the scan's name as the status page lists it")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="recon() keywords")
    p.add_argument(
        "--output",
        type=Path,
        default=Path("."),
        metavar="REC_DIR",
        help="the watcher's output root (default: current folder)",
    )
    p.add_argument("--cor", metavar="PIXELS", help="centre of rotation")
    add_logging_args(p)
    return p


def _settings(args: argparse.Namespace) -> tuple[WatchSettings, dict[str, Any]]:
    keywords: dict[str, Any] = {}
    from_file: dict[str, Any] = {}
    matches: list = []
    if args.config is not None:
        keywords, from_file, matches = load_watch_config(args.config)
    cli = {
        k: getattr(args, k)
        for k in (
            "runner",
            "workers",
            "port",
            "host",
            "token",
            "poll",
            "recursive",
            "include",
            "exclude",
            "settle",
            "give_up",
            "max_retries",
            "sbatch_args",
            "dask_address",
            "warm_up",
        )
        if getattr(args, k) is not None
    }
    merged = {**from_file, **cli}
    merged.setdefault("token", os.environ.get("ALSMICROCT_WATCH_TOKEN") or None)
    if not args.raw_dir.is_dir():
        raise ParameterError(f"{args.raw_dir}: RAW_DIR is not a folder; expected the folder raw scans arrive in")
    try:
        settings = WatchSettings(args.raw_dir, args.output, matches=matches, **merged)
    except TypeError as exc:
        raise ParameterError(f"{args.config}: bad [watch] setting ({exc})") from None
    return settings, keywords


def _watch(argv: list[str] | None) -> int:
    args = _watch_parser().parse_args(argv)

    def body(add_file) -> int:
        settings, keywords = _settings(args)
        add_file(settings.rec_dir / LOG_NAME)
        service = WatchService(settings, keywords)
        logger.info(
            "alsmicroct-watch %s -> %s (runner %s, %d worker(s))",
            settings.raw_dir,
            settings.rec_dir,
            settings.runner,
            settings.workers,
        )
        service.run(once=args.once)
        if not args.once:
            return EXIT_OK
        q = Queue(settings.rec_dir / DB_NAME)
        try:
            latest: dict[str, str] = {}
            for row in sorted(q.all(), key=lambda r: (r.scan, r.attempt)):
                latest[row.scan] = row.state
        finally:
            q.close()
        failed = sorted(name for name, state in latest.items() if state == "failed")
        for name in failed:
            logger.error("%s: failed", name)
        return EXIT_FAILED if failed else EXIT_OK

    return guarded_main(args, body)


def _rerun(argv: list[str]) -> int:
    args = _rerun_parser().parse_intermixed_args(argv)

    def body(add_file) -> int:
        overrides = parse_overrides(args.overrides, source="command line")
        if args.cor is not None:
            if "cor" in overrides:
                refuse_twice(
                    "cor", f"--cor {args.cor}", next(t for t in args.overrides if t.partition("=")[0].strip() == "cor")
                )
            overrides["cor"] = parse_value("cor", args.cor)
        row = rerun(args.output, args.scan, overrides)
        print(f"{row.scan}: attempt {row.attempt} queued with {row.params}")
        return EXIT_OK

    return guarded_main(args, body)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "rerun":
        return _rerun(argv[1:])
    return _watch(argv)


if __name__ == "__main__":
    raise SystemExit(main())
