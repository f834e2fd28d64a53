"""Compatibility re-export (one release): moved to :mod:`alsmicroct.cli.clean`."""

from ..cli.clean import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
