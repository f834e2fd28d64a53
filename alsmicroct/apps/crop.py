"""Compatibility re-export (one release): moved to :mod:`alsmicroct.cli.crop`."""

from ..cli.crop import complete_span, main

__all__ = ["complete_span", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
