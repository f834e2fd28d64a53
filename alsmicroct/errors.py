"""Exception tree of alsmicroct.

Every error the package raises on purpose derives from :class:`AlsMicroCTError`, so a
batch driver can catch one class and go on with the next scan. Messages name the file,
the key or value at fault, and what was expected.
"""

from __future__ import annotations

__all__ = [
    "AlsMicroCTError",
    "InputFileError",
    "LayoutError",
    "OutputError",
    "ParameterError",
    "RangeError",
    "ReconstructionError",
]


class AlsMicroCTError(Exception):
    """Root of every error raised by alsmicroct."""


class InputFileError(AlsMicroCTError, OSError):
    """An input file is missing, unreadable, not HDF5/TIFF, or truncated."""


class LayoutError(AlsMicroCTError):
    """A raw file lacks a group, dataset or attribute that cannot be inferred,
    or its images are of inconsistent shape."""


class RangeError(AlsMicroCTError, IndexError, ValueError):
    """A row, projection or slice range lies outside the data."""


class ParameterError(AlsMicroCTError, ValueError, TypeError):
    """A parameter is unknown, of the wrong type, or out of its valid range."""


class ReconstructionError(AlsMicroCTError):
    """A processing or reconstruction step failed on valid input."""


class OutputError(AlsMicroCTError, OSError):
    """An output location cannot be created or written."""
