"""Old-style ``input832.txt`` parameter files (the format of the beamline's ``tomopy832.py``).

The format of the beamline's earlier ``tomopy832.py`` (one scan per line)::

    20150820_162025_sample.h5   cor  1196    sinoused  "-1,10,1"  doPhaseRetrieval  0  outputFilename  c1196.0
    20150820_162025_sample.h5   cor  1196.5  sinoused  "-1,10,1"  doPhaseRetrieval  0  outputFilename  c1196.5

The file name comes first, then ``name value`` pairs, separated by spaces or tabs (as
Excel writes "tab-separated text"). Quotes are removed; several values are comma
separated without spaces (``500,510,1``); booleans may be 1/0. Unlike the old program,
values are converted by each keyword's declared type and never evaluated, unknown names
are errors, and blank lines and ``#`` comment lines are allowed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ParameterError
from ..params import ReconParams, expand_env, suggest_key
from .entries import ScanEntry, read_line_entries

__all__ = ["parse_parameter_line", "read_parameter_file"]

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
    tokens = [expand_env(t.replace('"', "").replace("'", ""), source=source) for t in text.split()]
    tokens = [t for t in tokens if t]
    if not tokens:
        return None
    scan, rest = tokens[0], tokens[1:]
    if len(rest) % 2:
        raise ParameterError(
            f"{source}: parameter {rest[-1]!r} has no value; expected name value pairs after the file name"
        )
    names = ReconParams.field_names()
    overrides: dict[str, str] = {}
    for name, value in zip(rest[::2], rest[1::2], strict=False):
        if name not in names:
            raise ParameterError(f"{source}: unknown parameter {name!r}{suggest_key(name)}")
        if name in overrides:
            raise ParameterError(
                f"{source}: {name} given twice ({name} {overrides[name]} and {name} {value}): keep one value"
            )
        overrides[name] = value
    return ScanEntry(scan=scan, overrides=overrides, source=source)


def read_parameter_file(path: str | Path) -> list[ScanEntry]:
    """Read an old-format parameter file (see the module docstring) into scan entries.

    Raises :class:`InputFileError` if the file cannot be read, :class:`ParameterError` for a
    malformed line (naming the file and line number).
    """
    return read_line_entries(path, parse_parameter_line, what="parameter")
