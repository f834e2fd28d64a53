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
from pathlib import Path

from ..params import parse_overrides
from ._common import ScanEntry, build_batch_parser, guarded_main, run_batch

__all__ = ["main"]

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = build_batch_parser(
        "alsmicroct-recon",
        "Reconstruct one raw scan (old ALS or Data Exchange layout) into a TIFF stack.",
        "raw HDF5 file (absolute, or relative to --input-dir; '.h5' may be left out)",
        list_input=False,
        epilog="Example: alsmicroct-recon scan.h5 --cor 1023.5 doPhaseRetrieval=true "
               "'sinoused=(-1,20,1)'\n\n")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="recon() keywords, e.g. doPhaseRetrieval=true sinoused=(-1,20,1)")
    args = parser.parse_intermixed_args(argv)

    def body(add_log_file) -> int:
        source = "command line"
        entry = ScanEntry(args.source, parse_overrides(args.overrides, source=source), source)
        return run_batch(args, [entry], source=args.source, add_log_file=add_log_file,
                         log_stem=f"{Path(args.source).stem}_recon")

    return guarded_main(args, body)


if __name__ == "__main__":
    raise SystemExit(main())
