"""alsmicroct: reconstruction toolkit for ALS beamline 8.3.2 micro-CT.

Public modules (imported lazily, so ``import alsmicroct`` stays light):

- :mod:`alsmicroct.data_management` -- :class:`SpotSession`, the SPOT data portal client.
- :mod:`alsmicroct.reconstruction` -- :func:`recon`, raw HDF5 in, TIFF stack out.
- :mod:`alsmicroct.image_processing` -- 8-bit conversion, cropping, TIFF stacks.
- :mod:`alsmicroct.io`, :mod:`alsmicroct.sim`, :mod:`alsmicroct.prep`, :mod:`alsmicroct.engine`,
  :mod:`alsmicroct.post` -- readers, the simulator and the array-in/array-out stages.
- :mod:`alsmicroct.jobs` -- many scans, many nodes (batches, Dask, SLURM parts).

The layers and where each kind of change goes: ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import AlsMicroCTError

__version__ = "0.1.0"

__all__ = [
    "AlsMicroCTError",
    "__version__",
    "data_management",
    "image_processing",
    "reconstruction",
    "view",
]

_LAZY = {
    "data_management",
    "reconstruction",
    "image_processing",
    "sim",
    "io",
    "prep",
    "engine",
    "post",
    "jobs",
    "distributed",
}

if TYPE_CHECKING:  # pragma: no cover
    from . import data_management, image_processing, reconstruction


def view(path, **kwargs):
    """Open a reconstructed volume (TIFF folder, OME-Zarr, HDF5) in napari, when installed;
    see :func:`alsmicroct.io.volume_tools.view`."""
    from .io.volume_tools import view as _view

    return _view(path, **kwargs)


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'alsmicroct' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY)
