"""Reconstructed volumes in any output format: a folder of TIFF slices, OME-Zarr or HDF5.

>>> from alsmicroct.io.volumes import open_volume, open_writer
>>> w = open_writer("rec/x.ome.zarr", "zarr", (64, 2048, 2048), voxel_size_um=(0.65,) * 3)  # doctest: +SKIP
>>> w.write_slab(0, block)            # (n, y, x), any z0; see volume_zarr for the chunk rules
>>> w.finish(provenance)              # final metadata last: only now does the store look complete
>>> with open_volume("rec/x.ome.zarr") as vol:   # doctest: +SKIP
...     sub = vol[0:256, 0:256, 0:256]           # reads only the chunks it needs

Writers have ``write_slab(z0, array)``, ``done_slices()``, ``finish(provenance)`` and
``abort()``. Names in a ``recon()`` output folder: ``<prefix>_NNNNN.tiff``,
``<prefix>.ome.zarr``, ``<prefix>.h5`` (:func:`volume_path`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, OutputError, ParameterError
from ..names import OUTPUT_FORMATS

__all__ = [
    "FORMATS",
    "TiffFolderWriter",
    "Volume",
    "detect_format",
    "done_rows",
    "open_volume",
    "open_writer",
    "remove_volume",
    "slab_ranges",
    "volume_path",
]

logger = logging.getLogger(__name__)

FORMATS = OUTPUT_FORMATS
_H5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".nxs")


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        import difflib

        hint = difflib.get_close_matches(str(fmt), FORMATS, n=1)
        raise ParameterError(
            f"output format {fmt!r} is not one of {list(FORMATS)}" + (f"; did you mean {hint[0]!r}?" if hint else "")
        )
    return fmt


def volume_path(folder: str | os.PathLike, prefix: str, fmt: str) -> Path:
    """Where run ``prefix`` keeps its volume in ``folder``: the folder itself for TIFF slices,
    ``<prefix>.ome.zarr`` or ``<prefix>.h5``."""
    fmt = _check_format(fmt)
    folder = Path(folder)
    return {"tiff": folder, "zarr": folder / f"{prefix}.ome.zarr", "h5": folder / f"{prefix}.h5"}[fmt]


def detect_format(path: str | os.PathLike) -> str:
    """``"zarr"`` (a Zarr group: ``zarr.json`` or ``.zgroup``, or a ``.zarr`` name), ``"h5"``
    (an HDF5 file) or ``"tiff"`` (a folder of slices or a TIFF file).

    Raises
    ------
    InputFileError
        ``path`` does not exist or is none of these.
    """
    p = Path(path)
    if p.is_dir():
        if (p / "zarr.json").is_file() or (p / ".zgroup").is_file() or p.suffix == ".zarr":
            return "zarr"
        return "tiff"
    if p.is_file():
        with open(p, "rb") as fh:
            head = fh.read(8)
        if head == b"\x89HDF\r\n\x1a\n" or p.suffix.lower() in _H5_SUFFIXES:
            return "h5"
        if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return "tiff"
    if not p.exists():
        raise InputFileError(f"volume not found: {p}")
    raise InputFileError(f"{p}: not a volume (expected a folder of TIFF slices, an OME-Zarr store or an HDF5 file)")


def open_writer(
    path: str | os.PathLike,
    fmt: str,
    shape: tuple[int, int, int],
    *,
    dtype: Any = np.float32,
    chunks: tuple[int, int, int] | None = None,
    voxel_size_um: tuple[float, float, float] | None = None,
    origin_um: tuple[float, float, float] = (0.0, 0.0, 0.0),
    attrs: Mapping[str, Any] | None = None,
    ngff_version: str = "0.5",
    multiscale: bool = False,
    compression: Any = "default",
    prefix: str = "slice",
) -> Any:
    """A writer of a ``(z, y, x)`` volume in format ``fmt``.

    Parameters
    ----------
    path : str or path-like
        The TIFF folder, the ``.ome.zarr`` store or the ``.h5`` file.
    fmt : {"tiff", "zarr", "h5"}
        Output format.
    shape : (nz, ny, nx)
        Volume size, voxels.
    dtype : numpy dtype
        Stored type (float32, or uint8 for 8-bit volumes).
    chunks : (cz, cy, cx), optional
        Zarr chunk shape (default: z = 32 or the volume, y and x = 128 pixels).
    voxel_size_um : (dz, dy, dx), optional
        Voxel size, micrometer (default 1).
    origin_um : (z, y, x)
        Position of voxel 0, micrometer (the first reconstructed row's height).
    attrs : mapping, optional
        Stored with the volume (parameters, units; JSON-able).
    ngff_version : {"0.5", "0.4"}
        OME-Zarr version: 0.5 writes Zarr v3, 0.4 Zarr v2.
    multiscale : bool
        Zarr: build the 2x-downsampled levels down to <= 256 px at :meth:`finish`.
    compression : int, str or None
        Zarr: Blosc level of :data:`~alsmicroct.io.volume_zarr.CODEC` (lz4, byte shuffle;
        default :data:`~alsmicroct.io.volume_zarr.DEFAULT_LEVEL`; None: uncompressed). HDF5: None (default),
        "gzip" or "lzf".
    prefix : str
        TIFF: slice names ``<prefix>_NNNNN.tiff`` (NNNNN = z).

    Raises
    ------
    ParameterError
        Unknown format.
    OutputError
        The output exists in a way that would be overwritten, is locked by a live writer,
        or is read-only.
    """
    fmt = _check_format(fmt)
    if fmt == "zarr":
        from .volume_zarr import DEFAULT_LEVEL, ZarrVolumeWriter

        return ZarrVolumeWriter(
            path,
            shape,
            dtype=dtype,
            chunks=chunks,
            voxel_size_um=voxel_size_um,
            origin_um=origin_um,
            attrs=attrs,
            ngff_version=ngff_version,
            multiscale=multiscale,
            compression=DEFAULT_LEVEL if compression == "default" else compression,
        )
    if fmt == "h5":
        from .volume_h5 import H5VolumeWriter

        return H5VolumeWriter(
            path,
            shape,
            dtype=dtype,
            voxel_size_um=voxel_size_um,
            attrs=attrs,
            compression=None if compression == "default" else compression,
        )
    return TiffFolderWriter(path, shape, dtype=dtype, prefix=prefix, attrs=attrs)


def remove_volume(path: str | os.PathLike) -> bool:
    """Remove a Zarr store or HDF5 file with its lock and progress files (asked for with
    resume=False); returns whether anything was there."""
    p = Path(path)
    found = p.exists()
    if p.is_dir():
        shutil.rmtree(p)
    elif found:
        p.unlink()
    for kind in ("lock", "progress"):
        side = p.with_name(f".{p.name}.{kind}")
        if side.is_dir():
            shutil.rmtree(side, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                side.unlink()
    return found


class TiffFolderWriter:
    """Slices ``<prefix>_NNNNN.tiff`` (NNNNN = z) in a folder, each written atomically."""

    format = "tiff"

    def __init__(
        self,
        folder: str | os.PathLike,
        shape: tuple[int, int, int],
        *,
        dtype: Any = np.float32,
        prefix: str = "slice",
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self.folder = self.path = Path(folder)
        self.shape, self.dtype, self.prefix = tuple(shape), np.dtype(dtype), prefix
        self.attrs = dict(attrs or {})
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create output folder {self.folder}: {exc.strerror}") from None
        if not os.access(self.folder, os.W_OK):
            raise OutputError(f"{self.folder}: the folder is read-only; nothing was written")
        self.files: list[Path] = []

    def slice_path(self, z: int) -> Path:
        return self.folder / f"{self.prefix}_{z:05d}.tiff"

    def done_slices(self) -> set[int]:
        """Slices already present as complete TIFF files."""
        from .tiff import is_complete_tiff

        return {
            z
            for z in range(self.shape[0])
            if is_complete_tiff(self.slice_path(z), shape=self.shape[1:], dtype=self.dtype)
        }

    def write_slab(self, z0: int, data: np.ndarray) -> None:
        from .tiff import write_tiff_atomic

        for i, image in enumerate(np.asarray(data)):
            path = self.slice_path(z0 + i)
            write_tiff_atomic(
                path, np.ascontiguousarray(image.astype(self.dtype, copy=False)), metadata={**self.attrs, "z": z0 + i}
            )
            self.files.append(path)

    def finish(self, provenance: Mapping[str, Any] | None = None) -> Path:
        return self.folder

    def abort(self) -> None:
        pass


# ---------------------------------------------------------------------- reading
class Volume:
    """Read-only ``(z, y, x)`` view of a volume: ``shape``, ``dtype``, numpy indexing that
    reads only what it needs, ``attrs`` (with ``voxel_size_um`` when known). A context
    manager; :meth:`close` releases the file."""

    def __init__(self, path: Path, fmt: str, array: Any, attrs: dict[str, Any], closer: Any = None) -> None:
        self.path, self.format, self._array, self.attrs, self._closer = path, fmt, array, attrs, closer
        self.shape = tuple(int(s) for s in array.shape)
        self.dtype = np.dtype(array.dtype)
        self.ndim = 3

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self._array[key])

    def read(self, key: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """``self[key]``, written into ``out`` when given (and returned).

        A Zarr volume decodes straight into ``out`` for a box of integers and slices; reusing
        one ``out`` for many boxes of the same shape saves the fresh memory of each result
        (``benchmarks/bench_volume_outputs.py --read-only`` times both).

        Parameters
        ----------
        key : index
            numpy index of the ``(z, y, x)`` volume.
        out : numpy.ndarray, optional
            C-contiguous, of the selection's shape and of :attr:`dtype`.

        Raises
        ------
        ParameterError
            ``out`` has another shape or dtype than the selection, or is not C-contiguous.
        """
        if out is None:
            return self[key]
        shape = _selection_shape(self.shape, key)
        data = None if shape is not None else self[key]  # not a box of integers and slices: read, copy
        if data is not None:
            shape = data.shape
        if out.shape != shape or out.dtype != self.dtype or not out.flags.c_contiguous:
            raise ParameterError(
                f"{self.path}: out {out.shape} {out.dtype} (C-contiguous: {out.flags.c_contiguous}) for the "
                f"selection {key!r}; expected a C-contiguous {shape} {self.dtype} array"
            )
        if data is None and self.format == "zarr":
            from zarr.buffer.cpu import NDBuffer

            self._array.get_basic_selection(key, out=NDBuffer.from_numpy_array(out))
        else:
            out[...] = self[key] if data is None else data
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:, :, :]
        return out if dtype is None else out.astype(dtype)

    def __len__(self) -> int:
        return self.shape[0]

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None

    def __enter__(self) -> Volume:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Volume({str(self.path)!r}, {self.format}, shape={self.shape}, dtype={self.dtype})"


def _selection_shape(shape: tuple[int, ...], key: Any) -> tuple[int, ...] | None:
    """Shape of ``array[key]`` for a key of integers and slices of positive step (missing
    axes: whole), or None for any other key."""
    key = key if isinstance(key, tuple) else (key,)
    if len(key) > len(shape):
        return None
    out: list[int] = []
    for k, n in zip((*key, *(slice(None),) * (len(shape) - len(key))), shape, strict=True):
        if isinstance(k, slice) and (k.step is None or k.step > 0):
            out.append(len(range(*k.indices(n))))
        elif not (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and -n <= k < n):
            return None
    return tuple(out)


class _TiffStack:
    """Slices of TIFF files as one lazily read array: only the slices asked for are read,
    and of each only the rows asked for (:func:`~alsmicroct.io.tiff.read_tiff_rows`) when
    the row index is an integer or a slice."""

    def __init__(self, files: list[Path]) -> None:
        from .tiff import tiff_info

        self.files = files
        shape, dtype, _ = tiff_info(files[0])
        self.shape = (len(files), *shape)
        self.dtype = np.dtype(dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        zkey, rest = key[0], key[1:]
        if isinstance(zkey, (int, np.integer)):
            return self._slice(self.files[zkey], rest)
        picked = self.files[zkey]
        if not picked:
            return np.empty((0, *self.shape[1:]), self.dtype)[(slice(None), *rest)]
        ykey = rest[0] if rest else slice(None)
        start, stop, _ = ykey.indices(self.shape[1]) if isinstance(ykey, slice) else (0, 1, 1)
        nrows = max(0, stop - start)  # the rows read (all between start and stop, any step)
        strip = np.empty(nrows * self.shape[2], self.dtype)  # every slice's rows, one buffer
        first = self._slice(picked[0], rest, strip)
        out = np.empty((len(picked), *first.shape), first.dtype)
        out[0] = first
        for i, f in enumerate(picked[1:], 1):
            out[i] = self._slice(f, rest, strip)
        return out

    def _slice(self, path: Path, rest: tuple, strip: np.ndarray | None = None) -> np.ndarray:
        """``image[rest]`` of one slice, reading only the rows ``rest[0]`` selects (into
        ``strip`` when it has room)."""
        from .tiff import read_tiff, read_tiff_rows

        ykey = rest[0] if rest else slice(None)
        if isinstance(ykey, (int, np.integer)) and not isinstance(ykey, bool):
            y = int(ykey) + (self.shape[1] if ykey < 0 else 0)
            if not 0 <= y < self.shape[1]:
                raise IndexError(f"{path}: row {ykey} is outside the slice's {self.shape[1]} rows")
            return read_tiff_rows(path, slice(y, y + 1), buffer=strip)[(0, *rest[1:])]
        if isinstance(ykey, slice):
            start, stop, step = ykey.indices(self.shape[1])
            if step > 0:
                return read_tiff_rows(path, slice(start, stop), buffer=strip)[(slice(None, None, step), *rest[1:])]
        return read_tiff(path)[rest]


def _tiff_files(folder: Path, prefix: str | None) -> list[Path]:
    from .outputs import run_slices, select_run_prefix
    from .tiff import natural_sort_key

    chosen = select_run_prefix(folder, prefix)
    if chosen is not None:
        slices = run_slices(folder, chosen)
        return [slices[r] for r in sorted(slices)]
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.suffix.lower() in (".tif", ".tiff") and p.is_file() and not p.name.startswith(".")
        ),
        key=lambda p: natural_sort_key(p.name),
    )


def _record_attrs(folder: Path, prefix: str | None) -> dict[str, Any]:
    from .outputs import run_records

    for record in run_records(folder, prefix).values():
        resolved = record.get("resolved") or {}
        px = resolved.get("pixel_size_cm")
        if px:
            first, _, step = resolved.get("rows_first_last_step") or (0, 0, 1)
            um = float(px) * 1e4
            return {
                "voxel_size_um": [um * step, um, um],
                "origin_um": [first * um, 0.0, 0.0],
                "units": resolved.get("units"),
                "provenance": record,
            }
    return {}


def open_volume(path: str | os.PathLike, *, prefix: str | None = None) -> Volume:
    """Open a volume read-only: a TIFF folder (one run's slices: ``prefix`` chooses among
    several), an OME-Zarr store (its full-resolution level) or an HDF5 file
    (``/exchange/data``).

    Raises
    ------
    InputFileError
        Missing, unreadable or empty.
    """
    p = Path(path)
    fmt = detect_format(p)
    if fmt == "zarr":
        import zarr

        try:
            group = zarr.open_group(str(p), mode="r")
            array = group["0"]
        except Exception as exc:
            raise InputFileError(f"{p}: cannot open the Zarr store ({exc})") from None
        attrs = dict(group.attrs.asdict().get("alsmicroct") or {})
        ms = (group.attrs.asdict().get("ome") or {}).get("multiscales") or group.attrs.asdict().get("multiscales")
        if ms:
            attrs["voxel_size_um"] = ms[0]["datasets"][0]["coordinateTransformations"][0]["scale"]
            attrs["levels"] = [d["path"] for d in ms[0]["datasets"]]
        return Volume(p, fmt, array, attrs)
    if fmt == "h5":
        import h5py

        from .volume_h5 import DATASET

        try:
            fh = h5py.File(p, "r")
            dset = fh[DATASET]
        except (OSError, KeyError) as exc:
            raise InputFileError(f"{p}: cannot read {DATASET} ({exc})") from None
        attrs = json.loads(fh.attrs["alsmicroct"]) if "alsmicroct" in fh.attrs else {}
        if "voxel_size_um" in dset.attrs:
            attrs["voxel_size_um"] = [float(v) for v in dset.attrs["voxel_size_um"]]
        return Volume(p, fmt, dset, attrs, closer=fh.close)
    if p.is_file():
        return Volume(p, fmt, _multipage(p), {})
    files = _tiff_files(p, prefix)
    if not files:
        raise InputFileError(f"no .tif/.tiff slices in folder {p}")
    return Volume(p, fmt, _TiffStack(files), _record_attrs(p, prefix))


def _multipage(path: Path) -> np.ndarray:
    import tifffile

    data = tifffile.imread(path)
    return data[None] if data.ndim == 2 else data


def slab_ranges(n: int, size: int) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of ``size`` slices covering ``range(n)``."""
    return [(i, min(i + size, n)) for i in range(0, n, size)]


def done_rows(path: str | os.PathLike, fmt: str) -> set[int]:
    """Indices z a previous writer of the Zarr store ``path`` completed (HDF5: all when the
    file exists, since it appears only complete); empty when absent."""
    p = Path(path)
    if fmt == "zarr":
        from .volume_zarr import zarr_done_layers

        if not p.exists():
            return set()
        import zarr

        arr = zarr.open_group(str(p), mode="r")["0"]
        c = arr.chunks[0]
        return {z for layer in zarr_done_layers(p) for z in range(layer * c, min(arr.shape[0], (layer + 1) * c))}
    if fmt == "h5" and p.is_file():
        with open_volume(p) as vol:
            return set(range(vol.shape[0]))
    return set()
