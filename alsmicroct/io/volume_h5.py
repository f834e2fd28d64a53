"""HDF5 volume writer: one dataset ``/exchange/data`` (z, y, x), chunked by slice.

The file is written under a hidden temporary name (``.<name>.tmp-<pid>@<host>``, crash debris that
:func:`alsmicroct.io.outputs.clean_output` removes once its writer is gone) and renamed onto
the final name by :meth:`H5VolumeWriter.finish`, after the provenance attributes: a file
under the final name is always complete. HDF5 has one writer per file, so a resumed run
writes the volume again from the start, and Dask runs refuse this format.

Attributes: on ``/exchange/data`` ``units`` and ``voxel_size_um`` (z, y, x) and
``axes`` ("z", "y", "x"); on the root ``alsmicroct`` (the run's parameters and provenance,
JSON text). Readable by h5py, Fiji's HDF5 plugin and :func:`alsmicroct.io.volumes.open_volume`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputError
from .atomic import jsonable, replace_durably, writer_tag
from .volume_zarr import StoreLock

__all__ = ["DATASET", "H5VolumeWriter"]

DATASET = "/exchange/data"
COMPRESSIONS = (None, "gzip", "lzf")


class H5VolumeWriter:
    """Write a ``(z, y, x)`` volume into ``/exchange/data`` of an HDF5 file, slab by slab."""

    format = "h5"

    def __init__(
        self,
        path: str | os.PathLike,
        shape: tuple[int, int, int],
        *,
        dtype: Any = np.float32,
        voxel_size_um: tuple[float, float, float] | None = None,
        attrs: Mapping[str, Any] | None = None,
        compression: str | None = None,
    ) -> None:
        import h5py

        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        if compression not in COMPRESSIONS:
            raise OutputError(f"{self.path}: HDF5 compression={compression!r} is not one of {list(COMPRESSIONS)}")
        if not self.path.parent.is_dir():
            raise OutputError(f"{self.path}: folder {self.path.parent} does not exist")
        if not os.access(self.path.parent, os.W_OK):
            raise OutputError(f"{self.path}: its folder is read-only; nothing was written")
        if self.path.exists():
            raise OutputError(
                f"{self.path} exists already; remove it (resume=False, --overwrite) to write it "
                "again. Nothing was overwritten."
            )
        self.attrs = dict(attrs or {})
        self.voxel_size_um = tuple(float(v) for v in (voxel_size_um or (1.0, 1.0, 1.0)))
        self._lock = StoreLock(self.path)
        self._lock.acquire()
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{writer_tag()}")
        self._done: set[int] = set()
        try:
            self.file = h5py.File(self.tmp, "w")
            self.dset = self.file.create_dataset(
                DATASET,
                shape=self.shape,
                dtype=np.dtype(dtype),
                chunks=(1, *self.shape[1:]),
                compression=compression,
                shuffle=compression is not None,
            )
        except BaseException:
            self._lock.release()
            raise

    def done_slices(self) -> set[int]:
        """Slices written by this writer (a new file starts empty; see the module notes)."""
        return set(self._done)

    def write_slab(self, z0: int, data: np.ndarray) -> None:
        """Write ``data`` (n, y, x) at slices ``z0 .. z0 + n - 1``."""
        data = np.asarray(data)
        if data.ndim == 2:
            data = data[None]
        if data.shape[1:] != self.shape[1:] or z0 < 0 or z0 + data.shape[0] > self.shape[0]:
            raise OutputError(f"{self.path}: slab {data.shape} at z={z0} does not fit the volume {self.shape}")
        self.dset[z0 : z0 + data.shape[0]] = data
        self._done.update(range(z0, z0 + data.shape[0]))

    def finish(self, provenance: Mapping[str, Any] | None = None) -> Path:
        """Check every slice was written, store the attributes, rename onto the final name."""
        missing = self.shape[0] - len(self._done)
        if missing:
            self.abort()
            raise OutputError(f"{self.path}: {missing} slice(s) never written; no file was left")
        attrs = jsonable({**self.attrs, "status": "complete", **({"provenance": provenance} if provenance else {})})
        self.dset.attrs["axes"] = ["z", "y", "x"]
        self.dset.attrs["voxel_size_um"] = list(self.voxel_size_um)
        self.dset.attrs["units"] = str(self.attrs.get("units", ""))
        self.file.attrs["alsmicroct"] = json.dumps(attrs)
        self.file.flush()
        self.file.close()
        replace_durably(self.tmp, self.path)
        self._lock.release()
        return self.path

    def abort(self) -> None:
        """Stop writing and remove the temporary file."""
        with contextlib.suppress(Exception):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()
        self._lock.release()
