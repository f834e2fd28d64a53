"""``alsmicroct-recon-spreadsheet``: one reconstruction per row of a .csv or .xlsx sheet.

The first (non-comment) row is the header: ``filename`` (required), optionally
``inputPath``, and any recon() keyword names. Each following row is one scan; an empty
cell means the default (or the command-line / config value). Values are converted by
:class:`alsmicroct.params.ReconParams` according to each keyword's type -- ``(-1,20,1)``
tuples, ``true``/``1`` booleans, ``3.0`` for an integer keyword -- and never evaluated,
so a file name containing "(" is just text. Rows whose first cell starts with ``#`` are
comments; empty rows are skipped.

Examples
--------
::

    alsmicroct-recon-spreadsheet beamtime.xlsx --dry-run
    alsmicroct-recon-spreadsheet filepath/example_spreadsheet.csv --output-dir /scratch/rec
"""

from __future__ import annotations

from ..jobs.spreadsheet import read_spreadsheet, rows_to_entries
from ._common import batch_main, build_batch_parser

__all__ = ["main", "read_spreadsheet", "rows_to_entries"]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = build_batch_parser(
        "alsmicroct-recon-spreadsheet",
        "Reconstruct one scan per row of a .csv or .xlsx sheet whose header row holds "
        "'filename', 'inputPath' and recon() keyword names.",
        "spreadsheet (.xlsx or .csv)",
        epilog="Empty cells mean the default; rows starting with '#' are comments.\n\n",
    )
    parser.add_argument("--sheet", help="name of the Excel sheet (default: the first one)")
    return batch_main(parser.parse_args(argv), lambda args: read_spreadsheet(args.source, sheet=args.sheet))


if __name__ == "__main__":
    raise SystemExit(main())
