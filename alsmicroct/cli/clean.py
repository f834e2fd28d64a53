"""``alsmicroct-clean``: remove the debris that crashed runs left in output folders.

A run killed mid-write (kill -9, a node failure, a full disk) can leave hidden
temporaries: ``.<slice>.tiff.tmp-<pid>-<thread>`` and the phase-retrieval work store
``.<prefix>.work-<pid>.h5`` (tens of GB on a real scan). ``recon()`` removes those of dead
processes before it writes into a folder; this command does it on request, for any folder.
Temporaries whose process is still running on this host are never touched.

Examples
--------
::

    alsmicroct-clean /data/rec/rec20240101_120000_rock
    alsmicroct-clean /data/rec/rec* --dry-run
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
    add_logging_args(parser)
    args = parser.parse_args(argv)

    def body(_add_log_file) -> int:
        from ..errors import AlsMicroCTError
        from ..io.outputs import clean_output

        status = EXIT_OK
        for folder in args.folders:
            try:
                removed = clean_output(folder, dry_run=args.dry_run)
            except AlsMicroCTError as exc:
                logger.error("%s", exc)
                status = EXIT_FAILED
                continue
            verb = "would remove" if args.dry_run else "removed"
            for path in removed:
                print(f"{verb} {path}")
            print(f"{folder}: {verb} {len(removed)} stale temporary file(s)")
        return status

    return guarded_main(args, body)


if __name__ == "__main__":
    raise SystemExit(main())
