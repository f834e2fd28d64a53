"""``alsmicroct-recon-parameters``: run an old-style ``input832.txt`` parameter file.

The format of the beamline's earlier ``tomopy832.py`` (one scan per line)::

    20150820_162025_sample.h5   cor  1196    sinoused  "-1,10,1"  doPhaseRetrieval  0  outputFilename  c1196.0
    20150820_162025_sample.h5   cor  1196.5  sinoused  "-1,10,1"  doPhaseRetrieval  0  outputFilename  c1196.5

The file name comes first, then ``name value`` pairs, separated by spaces or tabs (as
Excel writes "tab-separated text"). Quotes are removed; several values are comma
separated without spaces (``500,510,1``); booleans may be 1/0. Unlike the old program,
values are converted by each keyword's declared type and never evaluated, unknown names
are errors, and blank lines and ``#`` comment lines are allowed.

Examples
--------
::

    alsmicroct-recon-parameters input832.txt
    alsmicroct-recon-parameters filepath/example_input832.txt --dry-run
"""

from __future__ import annotations

from ..jobs.input832 import parse_parameter_line, read_parameter_file
from ._common import batch_main, build_batch_parser

__all__ = ["main", "parse_parameter_line", "read_parameter_file"]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = build_batch_parser(
        "alsmicroct-recon-parameters",
        "Reconstruct the scans of an old-style input832.txt parameter file (file name, then "
        "'name value' pairs per line).",
        "old-style parameter file (default name of the old program: input832.txt)",
    )
    return batch_main(parser.parse_args(argv), lambda args: read_parameter_file(args.source))


if __name__ == "__main__":
    raise SystemExit(main())
