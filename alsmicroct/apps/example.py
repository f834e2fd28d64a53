"""Compatibility re-export (one release): moved to :mod:`alsmicroct.cli.example`."""

from ..cli.example import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
