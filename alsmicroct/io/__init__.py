"""Raw-file readers and writers for ALS beamline 8.3.2 scans.

Two layouts are read and written:

- the old ALS layout (about 2012-2021): one HDF5 dataset per image under a group named
  after the dataset, metadata as byte-string group attributes;
- Data Exchange (since about 2021): ``/exchange/data``, ``data_white``, ``data_dark``,
  ``theta`` and metadata under ``/measurement`` and ``/process``.

>>> from alsmicroct.io import open_scan
>>> with open_scan("scan.h5") as scan:  # doctest: +SKIP
...     proj = scan.read_projections(rows=(100, 108))   # float32 (nangles, 8, nrays)
...     flats, darks = scan.read_flats(rows=(100, 108)), scan.read_darks(rows=(100, 108))
...     theta = scan.angles()                            # radians

:class:`RawScanWriter` writes both layouts, one image at a time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = [
    "AlsScan",
    "DxScan",
    "RawScan",
    "RawScanWriter",
    "ScanMetadata",
    "open_scan",
    "write_scan",
]

# Imported on first use, so that `alsmicroct.io.tiff` (and image_processing) do not pull
# in h5py.
_WHERE = {
    "RawScan": "._base",
    "AlsScan": ".als_layout",
    "DxScan": ".dx_layout",
    "ScanMetadata": ".metadata",
    "open_scan": ".readers",
    "RawScanWriter": ".writers",
    "write_scan": ".writers",
}

if TYPE_CHECKING:  # pragma: no cover
    from ._base import RawScan
    from .als_layout import AlsScan
    from .dx_layout import DxScan
    from .metadata import ScanMetadata
    from .readers import open_scan
    from .writers import RawScanWriter, write_scan


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'alsmicroct.io' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
