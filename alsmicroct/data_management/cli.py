"""Compatibility re-export (one release): ``alsmicroct-spot`` moved to :mod:`alsmicroct.cli.spot`."""

from ..cli.spot import build_parser, expand_datasets, main

__all__ = ["build_parser", "expand_datasets", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
