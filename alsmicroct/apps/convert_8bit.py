"""``alsmicroct-convert-8bit``: convert folders of float TIFF slices to 8 bit.

Values ``--min`` and ``--max`` (data units, 1/cm for recon() output) map to 0 and 255;
values outside are clipped. Slices are converted one at a time and each output file is
written atomically.

Examples
--------
::

    alsmicroct-convert-8bit rec20240101_120000_rock --min -5 --max 20
    alsmicroct-convert-8bit recA recB --min -10 --max 10 --output-dir /scratch/8bit
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import ParameterError
from ._common import add_logging_args, guarded_main, run_folders

__all__ = ["main"]

logger = logging.getLogger(__name__)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alsmicroct-convert-8bit",
        description="Convert folders of float TIFF slices to 8 bit: --min maps to 0, --max to "
                    "255, values outside are clipped.",
        epilog="Example: alsmicroct-convert-8bit rec20240101_120000_rock --min -5 --max 20")
    parser.add_argument("folders", nargs="+", metavar="DIR", help="folder(s) of TIFF slices")
    parser.add_argument("--min", dest="vmin", type=float, default=-10.0,
                        help="value mapped to 0 (default: -10)")
    parser.add_argument("--max", dest="vmax", type=float, default=10.0,
                        help="value mapped to 255 (default: 10)")
    parser.add_argument("--output-dir", metavar="OUT",
                        help="output folder (several DIRs: OUT/<DIR name>); default: <DIR>_8bit")
    parser.add_argument("--prefix", help="output names <prefix>_<number>.tif (default: input names)")
    add_logging_args(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _build_parser().parse_args(argv)

    def body(add_log_file) -> int:
        from ..image_processing import convert_DirectoryTo8Bit

        if not args.vmin < args.vmax:
            raise ParameterError(f"--min {args.vmin} must be smaller than --max {args.vmax}")

        def convert(folder: Path, target: Path | None) -> list[str]:
            return convert_DirectoryTo8Bit(folder, data_min=args.vmin, data_max=args.vmax,
                                           outputpath=target, filename=args.prefix)

        return run_folders(args.folders, convert, what="8-bit conversion", output_dir=args.output_dir)

    return guarded_main(args, body)


if __name__ == "__main__":
    raise SystemExit(main())
