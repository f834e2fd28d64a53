"""Compatibility re-export (one release): moved to :mod:`alsmicroct.cli.recon_spreadsheet`."""

from ..cli.recon_spreadsheet import main, read_spreadsheet, rows_to_entries

__all__ = ["main", "read_spreadsheet", "rows_to_entries"]

if __name__ == "__main__":
    raise SystemExit(main())
