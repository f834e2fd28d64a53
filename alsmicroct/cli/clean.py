"""``alsmicroct-clean``: remove the debris that crashed runs left in output folders.

A run killed mid-write (kill -9, a node failure, a full disk) can leave hidden
temporaries: ``.<slice>.tiff.tmp-<pid>@<host>-<thread>`` and the phase-retrieval work store
``.<prefix>.work-<pid>@<host>.h5`` (tens of GB on a real scan). ``recon()`` removes those of dead
processes before it writes into a folder; this command does it on request, for any folder.
Temporaries whose process is still running on this host are never touched, nor those named
by another host (a node of a shared file system) unless ``--all-hosts``. ``--recursive``
also cleans the folders below each DIR (an output root).

Examples
--------
::

    alsmicroct-clean /data/rec/rec20240101_120000_rock
    alsmicroct-clean /data/rec/rec* --dry-run
    alsmicroct-clean /data/rec --recursive
"""

from __future__ import annotations

import argparse
import logging

from ._common import EXIT_FAILED, EXIT_OK, add_logging_args, guarded_main

__all__ = ["main"]

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="alsmicroct-clean", description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", metavar="DIR", help="output folder(s)")
    parser.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    parser.add_argument(
        "-r", "--recursive", action="store_true", help="also the folders below each DIR (e.g. an output root)"
    )
    parser.add_argument(
        "--all-hosts",
        action="store_true",
        help="also temporaries named by other hosts (nodes of a shared file system); only when no run is "
        "writing there from anywhere",
    )
    add_logging_args(parser)
    args = parser.parse_args(argv)

    def body(_add_log_file) -> int:
        import os

        from ..errors import AlsMicroCTError
        from ..io.outputs import clean_output, stale_temporaries

        status = EXIT_OK
        verb = "would remove" if args.dry_run else "removed"
        for folder in args.folders:
            below = [d for d, _, _ in os.walk(folder)][1:] if os.path.isdir(folder) else []
            try:
                removed = []
                for where in [folder, *(below if args.recursive else [])]:
                    removed += clean_output(where, dry_run=args.dry_run, all_hosts=args.all_hosts)
            except AlsMicroCTError as exc:
                logger.error("%s", exc)
                status = EXIT_FAILED
                continue
            for path in removed:
                print(f"{verb} {path}")
            print(f"{folder}: {verb} {len(removed)} stale temporary file(s)")
            if not args.recursive:
                more = sum(len(stale_temporaries(d, all_hosts=args.all_hosts)) for d in below)
                if more:
                    print(f"{folder}: {more} more in the folders below it; add --recursive to remove them")
        return status

    return guarded_main(args, body)


if __name__ == "__main__":
    raise SystemExit(main())
