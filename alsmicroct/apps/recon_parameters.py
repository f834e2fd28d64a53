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

import logging
from pathlib import Path

from ..errors import ParameterError
from ..params import ReconParams, suggest_key
from ._common import ScanEntry, batch_main, build_batch_parser, read_line_entries

__all__ = ["main", "parse_parameter_line", "read_parameter_file"]

logger = logging.getLogger(__name__)


def parse_parameter_line(line: str, source: str) -> ScanEntry | None:
    """Parse one line of the old format; None for a blank or ``#`` comment line.

    Raises
    ------
    ParameterError
        For a name without a value or an unknown name (naming ``source``).
    """
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    tokens = [t.replace('"', "").replace("'", "") for t in text.split()]
    tokens = [t for t in tokens if t]
    if not tokens:
        return None
    scan, rest = tokens[0], tokens[1:]
    if len(rest) % 2:
        raise ParameterError(f"{source}: parameter {rest[-1]!r} has no value; expected "
                             "name value pairs after the file name")
    names = ReconParams.field_names()
    overrides: dict[str, str] = {}
    for name, value in zip(rest[::2], rest[1::2]):
        if name not in names:
            raise ParameterError(f"{source}: unknown parameter {name!r}{suggest_key(name)}")
        overrides[name] = value
    return ScanEntry(scan=scan, overrides=overrides, source=source)


def read_parameter_file(path: str | Path) -> list[ScanEntry]:
    """Read an old-format parameter file (see the module docstring) into scan entries.

    Raises :class:`InputFileError` if the file cannot be read, :class:`ParameterError` for a
    malformed line (naming the file and line number).
    """
    return read_line_entries(path, parse_parameter_line, what="parameter")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = build_batch_parser(
        "alsmicroct-recon-parameters",
        "Reconstruct the scans of an old-style input832.txt parameter file (file name, then "
        "'name value' pairs per line).",
        "old-style parameter file (default name of the old program: input832.txt)")
    return batch_main(parser.parse_args(argv), lambda args: read_parameter_file(args.source))


if __name__ == "__main__":
    raise SystemExit(main())
