"""Path lists: one raw file per line, then optional ``key=value`` overrides.

List format (parsed, never executed)::

    # comment lines and blank lines are ignored; text after " #" is a comment too
    20240101_120000_rock.h5
    /data/raw/20240101_121500_bone                     cor=1023.5 sinoused=(-1,20,1)
    "folder with spaces/scan 3.h5"                     doPhaseRetrieval=true alphaReg=0.001

One raw file per line (absolute, or relative to ``inputPath``; ".h5" may be left out), then
optional ``key=value`` overrides (recon() keyword names) for that scan only. Tokens are split
like a shell does (:mod:`shlex`): quote a path or a value that contains spaces. ``$NAME`` /
``${NAME}`` are replaced by environment variables (an unset one is an error; ``$$`` is a
literal ``$``). A keyword given twice on one line is an error.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from ..errors import ParameterError
from ..params import ReconParams, expand_env, parse_overrides
from .entries import ScanEntry, read_line_entries

__all__ = ["LIST_FORMAT", "read_scan_list", "split_list_line"]


LIST_FORMAT = """\
List format (parsed, never executed):
  # comment lines and blank lines are ignored; text after " #" is a comment too
  20240101_120000_rock.h5
  /data/raw/20240101_121500_bone            cor=1023.5 sinoused=(-1,20,1)
  "folder with spaces/scan 3.h5"            doPhaseRetrieval=true alphaReg=0.001
One raw file per line (absolute, or relative to --input-dir; ".h5" may be left out),
then optional key=value overrides (recon() keyword names) for that scan only. Tokens are
split like a shell does: quote a path or value that contains spaces.

"""


def _strip_comment(line: str) -> str:
    """Drop an unquoted ``#`` comment (at the line start or after whitespace)."""
    quote = None
    prev = " "
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and prev.isspace():
            return line[:i]
        prev = ch
    return line


def split_list_line(line: str, source: str) -> ScanEntry | None:
    """Parse one line of a path list; None for a blank or comment line.

    Raises
    ------
    ParameterError
        For unbalanced quotes, a line starting with ``key=value``, a token without ``=``
        after the path, an unknown key or a bad value (all naming ``source``).
    """
    try:
        tokens = shlex.split(_strip_comment(line), comments=False, posix=True)
    except ValueError as exc:
        raise ParameterError(f"{source}: cannot split the line ({exc}); check the quotes") from None
    if not tokens:
        return None
    tokens = [expand_env(t, source=source) for t in tokens]
    scan, rest = tokens[0], tokens[1:]
    key = scan.partition("=")[0]
    if "=" in scan and key in ReconParams.field_names():
        raise ParameterError(f"{source}: the line must start with the raw file, got {scan!r}")
    for token in rest:
        if "=" not in token:
            raise ParameterError(
                f"{source}: expected key=value after the raw file, got {token!r} (quote a path that contains spaces)"
            )
    return ScanEntry(scan=scan, overrides=parse_overrides(rest, source=source), source=source)


def read_scan_list(path: str | Path) -> list[ScanEntry]:
    """Read a path list (see the module docstring) into scan entries.

    Raises :class:`InputFileError` if the file cannot be read, :class:`ParameterError` for a
    malformed line (naming the file and line number).
    """
    return read_line_entries(path, split_list_line)
