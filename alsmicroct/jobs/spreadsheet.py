"""Spreadsheets of scans (.csv, .xlsx): one scan per row, recon() keywords as columns.

The first (non-comment) row is the header: ``filename`` (required), optionally
``inputPath``, and any recon() keyword names. Each following row is one scan; an empty
cell means the default (or the command-line / config value). Values are converted by
:class:`alsmicroct.params.ReconParams` according to each keyword's type -- ``(-1,20,1)``
tuples, ``true``/``1`` booleans, ``3.0`` for an integer keyword -- and never evaluated,
so a file name containing "(" is just text. Rows whose first cell starts with ``#`` are
comments; empty rows are skipped.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InputFileError, ParameterError
from ..params import ReconParams, expand_env, suggest_key
from .entries import ScanEntry

__all__ = ["read_spreadsheet", "rows_to_entries"]

logger = logging.getLogger(__name__)

_EXTRA_COLUMNS = ("filename",)
# Text keywords: a number typed into such a cell (e.g. outputFilename 1196.5) is kept as text.
_TEXT_COLUMNS = {f.name for f in dataclasses.fields(ReconParams) if f.metadata.get("kind") == "str"} | {"filename"}
_EXCEL = (".xlsx", ".xlsm")


def _column_letter(index: int) -> str:
    """Spreadsheet column name of the 0-based ``index`` (0 -> A, 26 -> AA)."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def _cell(value: Any) -> Any:
    """Normalise a cell: None when empty, text stripped, dates as ISO text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    return value


def _as_text(value: Any) -> Any:
    """Numbers typed into a text column as text (``12.0`` -> ``"12"``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def rows_to_entries(rows: Iterable[tuple[int, list[Any]]], *, path: str, unit: str) -> list[ScanEntry]:
    """Turn ``(row number, cells)`` pairs (header first) into scan entries.

    Parameters
    ----------
    rows : iterable of (int, list)
        1-based row/line number and the cell values (strings or typed values).
    path : str
        The sheet's name, for messages.
    unit : str
        ``"line"`` (CSV) or ``"row"`` (Excel), for messages.

    Raises
    ------
    ParameterError
        For an unknown or duplicated column, a missing ``filename`` column, values under
        an empty header or a row without a file name.
    """
    header: list[str | None] | None = None
    known = set(ReconParams.field_names()) | set(_EXTRA_COLUMNS)
    entries: list[ScanEntry] = []
    for number, raw in rows:
        cells = [_cell(c) for c in raw]
        if all(c is None for c in cells):
            continue
        if isinstance(cells[0], str) and cells[0].startswith("#"):
            continue
        where = f"{path} {unit} {number}"
        if header is None:
            header = _read_header(cells, where, known)
            continue
        values: dict[str, Any] = {}
        for col, value in enumerate(cells):
            if value is None:
                continue
            name = header[col] if col < len(header) else None
            if name is None:
                raise ParameterError(
                    f"{where}, column {_column_letter(col)}: value {value!r} under an empty header cell"
                )
            if isinstance(value, str):  # $VARS as in path lists (one rule for every batch source)
                value = expand_env(value, source=f"{where}, column {_column_letter(col)}")
            values[name] = _as_text(value) if name in _TEXT_COLUMNS else value
        if "filename" not in values:
            raise ParameterError(f"{where}: no filename in this row")
        scan = str(values.pop("filename"))
        entries.append(ScanEntry(scan=scan, overrides=values, source=where))
    if header is None:
        raise InputFileError(f"{path}: empty sheet; expected a header row with 'filename' and recon() keyword names")
    return entries


def _read_header(cells: list[Any], where: str, known: set[str]) -> list[str | None]:
    header: list[str | None] = []
    for col, cell in enumerate(cells):
        name = None if cell is None else str(cell)
        if name is not None and name not in known:
            raise ParameterError(
                f"{where}, column {_column_letter(col)}: unknown column {name!r}; "
                f"expected 'filename', 'inputPath' or a recon() keyword"
                f"{suggest_key(name, sorted(known))}"
            )
        if name is not None and name in header:
            raise ParameterError(f"{where}, column {_column_letter(col)}: column {name!r} appears twice")
        header.append(name)
    if "filename" not in header:
        raise ParameterError(f"{where}: the header row has no 'filename' column")
    return header


def _csv_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not a text CSV file ({exc})") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the spreadsheet ({exc.strerror or exc})") from None
    # Comment lines become empty rows (skipped) so that quotes in comments cannot confuse
    # the CSV parser, and reader.line_num still counts the file's lines.
    lines = ["" if line.lstrip().startswith("#") else line for line in text.splitlines()]
    first = next((line for line in lines if line.strip()), "")
    delimiter = next((d for d in (",", ";", "\t") if d in first), ",")
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as exc:
        raise ParameterError(f"{path} line {reader.line_num}: malformed CSV ({exc})") from None


def _excel_rows(path: Path, sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, InvalidFileException, KeyError, ValueError) as exc:
        raise InputFileError(f"{path}: cannot be opened as an Excel workbook ({exc})") from None
    except Exception as exc:  # zipfile.BadZipFile and friends from a corrupt file
        raise InputFileError(f"{path}: not a valid .xlsx workbook ({type(exc).__name__}: {exc})") from None
    try:
        if sheet is None:
            ws = book.worksheets[0]
        elif sheet in book.sheetnames:
            ws = book[sheet]
        else:
            raise ParameterError(f"{path}: no sheet named {sheet!r}; sheets are {book.sheetnames}")
        formulas = _uncached_formulas(path, ws.title)
        for number, cells in enumerate(ws.iter_rows(values_only=True), 1):
            cells = list(cells)
            for col, value in enumerate(cells):
                if value is None and (number, col) in formulas:
                    from openpyxl.utils import get_column_letter

                    raise ParameterError(
                        f"{path} sheet {ws.title!r} cell {get_column_letter(col + 1)}{number}: formula "
                        f"{formulas[number, col]!r} has no saved value (the file was written by a program "
                        "that does not compute formulas); open and save it in Excel/LibreOffice, or type the value"
                    )
            yield number, cells
    finally:
        book.close()


def _uncached_formulas(path: Path, title: str) -> dict[tuple[int, int], str]:
    """Formula cells of sheet ``title``, keyed by (1-based row, 0-based column)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        return {
            (r, c): v
            for r, row in enumerate(book[title].iter_rows(values_only=True), 1)
            for c, v in enumerate(row)
            if isinstance(v, str) and v.startswith("=")
        }
    finally:
        book.close()


def read_spreadsheet(path: str | Path, *, sheet: str | None = None) -> list[ScanEntry]:
    """Read a .csv or .xlsx sheet (see the module docstring) into scan entries.

    Raises
    ------
    InputFileError
        Missing, unreadable or unsupported file, or an empty sheet.
    ParameterError
        Unknown column (with a "did you mean" hint) or malformed row, naming the row.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: spreadsheet not found")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return rows_to_entries(_csv_rows(p), path=str(path), unit="line")
    if suffix in _EXCEL:
        return rows_to_entries(_excel_rows(p, sheet), path=str(path), unit="row")
    raise InputFileError(f"{p}: unsupported spreadsheet type {p.suffix!r}; save it as .xlsx or .csv")
