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
import math
from pathlib import Path

from ..errors import ParameterError
from ..names import OUTPUT_FORMATS
from ._folders import FolderAction, folder_main, folder_parser

__all__ = ["main"]

logger = logging.getLogger(__name__)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--min", dest="vmin", type=float, default=-10.0, help="value mapped to 0 (default: -10)")
    parser.add_argument("--max", dest="vmax", type=float, default=10.0, help="value mapped to 255 (default: 10)")
    parser.add_argument("--prefix", help="output names <prefix>_<number>.tif (default: input names)")
    parser.add_argument(
        "--output-format",
        choices=OUTPUT_FORMATS,
        default=None,
        help="output format (default: the input's; inputs may be OME-Zarr stores or .h5 too)",
    )


def _build_parser() -> argparse.ArgumentParser:
    return folder_parser(
        "alsmicroct-convert-8bit",
        "Convert folders of float TIFF slices to 8 bit: --min maps to 0, --max to 255, values outside are clipped.",
        example="rec20240101_120000_rock --min -5 --max 20",
        suffix="_8bit",
        add_options=_options,
    )


def _converter(args: argparse.Namespace) -> FolderAction:
    from ..image_processing import convert_DirectoryTo8Bit

    if not (math.isfinite(args.vmin) and math.isfinite(args.vmax)):
        raise ParameterError(f"--min {args.vmin} --max {args.vmax}: expected finite numbers (data units, e.g. 1/cm)")
    if not args.vmin < args.vmax:
        raise ParameterError(f"--min {args.vmin} must be smaller than --max {args.vmax}")

    def convert(folder: Path, target: Path | None) -> list[str]:
        return convert_DirectoryTo8Bit(
            folder,
            data_min=args.vmin,
            data_max=args.vmax,
            outputpath=target,
            filename=args.prefix,
            prefix=args.run,
            output_format=args.output_format,
            overwrite=args.overwrite,
        )

    return convert


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    return folder_main(_build_parser(), argv, _converter, what="8-bit conversion")


if __name__ == "__main__":
    raise SystemExit(main())
