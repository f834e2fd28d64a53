"""Compatibility re-export (one release): moved to :mod:`alsmicroct.cli.recon_one`."""

from ..cli.recon_one import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
