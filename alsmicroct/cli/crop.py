"""``alsmicroct-crop``: crop folders of TIFF slices.

Ranges are ``START:END`` (END excluded; either may be left out): ``--x`` and ``--y`` are
pixel columns and rows within each slice, ``--z`` the slice positions in the naturally
sorted folder listing. Ranges are checked against the data before anything is written.

Examples
--------
::

    alsmicroct-crop rec20240101_120000_rock --x 100:900 --y 100:900 --z 10:
    alsmicroct-crop recA --z :50 --output-dir /scratch/recA_top
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import ParameterError
from ..names import OUTPUT_FORMATS
from ._common import parse_span
from ._folders import FolderAction, folder_main, folder_parser

__all__ = ["complete_span", "main"]

logger = logging.getLogger(__name__)


def complete_span(span: tuple[int | None, int | None] | None, n: int) -> tuple[int, int] | None:
    """Fill the open ends of ``span`` with 0 and ``n`` (None stays None)."""
    if span is None:
        return None
    start, end = span
    return (0 if start is None else start, n if end is None else end)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--x", metavar="A:B", help="columns within each slice")
    parser.add_argument("--y", metavar="A:B", help="rows within each slice")
    parser.add_argument("--z", metavar="A:B", help="slices, by position in the sorted listing")
    parser.add_argument(
        "--output-format",
        choices=OUTPUT_FORMATS,
        default=None,
        help="output format (default: the input's; inputs may be OME-Zarr stores or .h5 too)",
    )


def _build_parser() -> argparse.ArgumentParser:
    return folder_parser(
        "alsmicroct-crop",
        "Crop folders of TIFF slices to START:END ranges (END excluded, either may be left out).",
        example="rec20240101_120000_rock --x 100:900 --y 100:900 --z 10:",
        suffix="_crop",
        add_options=_options,
    )


def _cropper(args: argparse.Namespace) -> FolderAction:
    from ..image_processing import crop_Directory
    from ..io.volumes import open_volume

    spans = {
        axis: None if getattr(args, axis) is None else parse_span(getattr(args, axis), option=f"--{axis}")
        for axis in ("x", "y", "z")
    }
    if all(v is None for v in spans.values()):
        raise ParameterError("nothing to crop: give at least one of --x, --y, --z")

    def crop(folder: Path, target: Path | None) -> list[str]:
        with open_volume(folder, prefix=args.run) as vol:
            shape = vol.shape
        return crop_Directory(
            folder,
            x=complete_span(spans["x"], shape[-1]),
            y=complete_span(spans["y"], shape[-2]),
            z=complete_span(spans["z"], shape[0]),
            outputpath=target,
            prefix=args.run,
            output_format=args.output_format,
            overwrite=args.overwrite,
        )

    return crop


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    return folder_main(_build_parser(), argv, _cropper, what="crop")


if __name__ == "__main__":
    raise SystemExit(main())
