"""Compatibility re-export (one release): moved to :mod:`alsmicroct.cli.convert_8bit`."""

from ..cli.convert_8bit import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
