"""Compatibility re-export (one release): moved to :mod:`alsmicroct.cli.recon_parameters`."""

from ..cli.recon_parameters import main, parse_parameter_line, read_parameter_file

__all__ = ["main", "parse_parameter_line", "read_parameter_file"]

if __name__ == "__main__":
    raise SystemExit(main())
