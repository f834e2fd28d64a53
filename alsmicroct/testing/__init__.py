"""Test helpers: a SPOT-compatible server and tiny raw HDF5 files.

Importing this package is light (standard library only); h5py and NumPy are imported
when a file is written or read.
"""

from __future__ import annotations

from .raw_files import RandomScan, make_catalogue, write_random_scan, write_raw_scan
from .spot_server import SESSION_COOKIE, RequestRecord, SpotServer

__all__ = [
    "SESSION_COOKIE",
    "RandomScan",
    "RequestRecord",
    "SpotServer",
    "make_catalogue",
    "write_random_scan",
    "write_raw_scan",
]
