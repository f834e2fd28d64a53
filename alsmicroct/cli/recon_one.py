"""``alsmicroct-recon``: reconstruct one raw scan.

Examples
--------
::

    alsmicroct-recon scan.h5 --cor 1023.5 doPhaseRetrieval=true sinoused=(-1,20,1)
    alsmicroct-recon /data/raw/scan --slices 10 --output-dir /scratch/rec
    alsmicroct-recon scan.h5 --config beamtime.toml --resume

``key=value`` arguments are recon() keywords (names as in the old toolkit); they win over
``--cor``/``--slices``/``--set``, which win over ``--config``.
"""

from __future__ import annotations

import logging

from ..jobs.entries import ScanEntry
from ..params import parse_overrides
from ._common import batch_main, build_batch_parser, command_line_keys, refuse_twice

__all__ = ["main"]

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = build_batch_parser(
        "alsmicroct-recon",
        "Reconstruct one raw scan (old ALS or Data Exchange layout) into a TIFF stack.",
        "raw HDF5 file (absolute, or relative to --input-dir; '.h5' may be left out)",
        list_input=False,
        epilog="Example: alsmicroct-recon scan.h5 --cor 1023.5 doPhaseRetrieval=true 'sinoused=(-1,20,1)'\n\n",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="recon() keywords, e.g. doPhaseRetrieval=true sinoused=(-1,20,1)",
    )

    def entries(args) -> list[ScanEntry]:
        source = "command line"
        overrides = parse_overrides(args.overrides, source=source)
        given = command_line_keys(args)
        for token in args.overrides:
            key = token.partition("=")[0].strip()
            if key in given:  # options and KEY=VALUE are one command line: no silent winner
                refuse_twice(key, given[key], token)
        return [ScanEntry(args.source, overrides, source)]

    return batch_main(parser.parse_intermixed_args(argv), entries, log_suffix="recon")


if __name__ == "__main__":
    raise SystemExit(main())
