"""Compatibility re-export (one release): moved to :mod:`alsmicroct.cli.find_center`."""

from ..cli.find_center import main, sweep_centres

__all__ = ["main", "sweep_centres"]

if __name__ == "__main__":
    raise SystemExit(main())
