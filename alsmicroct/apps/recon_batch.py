"""Compatibility re-export (one release): moved to :mod:`alsmicroct.cli.recon_batch`."""

from ..cli.recon_batch import main, read_path_list, read_scan_list, split_list_line

__all__ = ["main", "read_path_list", "read_scan_list", "split_list_line"]

if __name__ == "__main__":
    raise SystemExit(main())
