"""Atomic TIFF slice writing and checked TIFF reading.

Every TIFF the package writes goes through :func:`write_tiff_atomic`: the image is
written under a hidden temporary name in the destination folder
(``.<name>.tmp-<pid>-<thread>``), flushed and ``fsync``-ed, then renamed onto the final name with
:func:`os.replace`. A crash or an exception during the write therefore never leaves a
file under the final name that looks finished; at worst a hidden ``.tmp-`` file remains
(it does not match ``*.tif``/``*.tiff`` listings).

Files are written with :mod:`tifffile` and open in Fiji/ImageJ:

* ``uint8``, ``uint16`` and ``float32`` images are written in ImageJ-compatible mode
  (classic TIFF); a 3-D array becomes an ImageJ stack of ``nslices`` images.
* other dtypes, or ``bigtiff=True`` (needed above 4 GiB), are written as plain
  (Big)TIFF, which Fiji opens through Bio-Formats.

The optional ``metadata`` dictionary is stored as JSON text: in the ImageJ ``Info``
property (Fiji: *Image > Show Info*) for ImageJ files, otherwise in the
``ImageDescription`` tag. :func:`read_tiff_metadata` returns it as a dict.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from alsmicroct.errors import InputFileError, ParameterError
from alsmicroct.io.atomic import atomic_file, temporary_path

__all__ = [
    "is_complete_tiff",
    "natural_sort_key",
    "read_tiff",
    "read_tiff_metadata",
    "read_tiff_rows",
    "temporary_path",
    "tiff_info",
    "write_tiff_atomic",
]

logger = logging.getLogger(__name__)

_IMAGEJ_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
_DIGITS = re.compile(r"(\d+)")


def natural_sort_key(name: str | os.PathLike) -> tuple:
    """Sort key that orders embedded numbers by value (``slice_9`` before ``slice_10``).

    Parameters
    ----------
    name : str or path-like
        File name or path; only the text is used (case-insensitive).

    Returns
    -------
    tuple
        Key for :func:`sorted`; digit runs compare as integers, text as lower case.
    """
    parts = _DIGITS.split(os.fspath(name))
    key: list[tuple[int, int | str]] = []
    for i, part in enumerate(parts):
        if i % 2:  # digit run
            key.append((0, int(part)))
        elif part:
            key.append((1, part.lower()))
    return tuple(key)


def write_tiff_atomic(
    path: str | os.PathLike,
    image: np.ndarray,
    *,
    metadata: Mapping[str, Any] | None = None,
    bigtiff: bool = False,
) -> Path:
    """Write a slice (2-D) or a multi-page stack (3-D) to TIFF atomically.

    Parameters
    ----------
    path : str or path-like
        Final file name (``.tif``/``.tiff``). Its folder must exist. An existing file of
        that name is replaced only once the new one is complete.
    image : numpy.ndarray
        2-D ``(rows, columns)`` image or 3-D ``(nslices, rows, columns)`` stack, in the
        data's own units (e.g. 1/cm for float32 reconstructions, grey levels for
        uint8). ``float64`` is stored as ``float32``; ``bool`` as ``uint8``.
    metadata : mapping, optional
        JSON-serialisable key/value pairs (e.g. reconstruction parameters, pixel size
        in cm) stored as JSON text (ImageJ ``Info`` property, or ``ImageDescription``
        for non-ImageJ files).
    bigtiff : bool, optional
        Write BigTIFF (no 4 GiB limit; not ImageJ-native, Fiji reads it via Bio-Formats).

    Returns
    -------
    pathlib.Path
        The final path.

    Raises
    ------
    ParameterError
        ``image`` is not 2-D or 3-D, or ``metadata`` is not JSON-serialisable.
    OutputError
        The file cannot be written or renamed (message names the path).
    """
    import tifffile

    final = Path(path)
    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise ParameterError(f"write_tiff_atomic({final}): expected a 2-D slice or 3-D stack, got shape {arr.shape}")
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    arr = np.ascontiguousarray(arr)
    text = None
    if metadata is not None:
        try:
            text = json.dumps(dict(metadata), sort_keys=True, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"write_tiff_atomic({final}): metadata is not JSON-serialisable: {exc}") from exc
    imagej = (not bigtiff) and arr.dtype in _IMAGEJ_DTYPES
    # minisblack: never let tifffile read a short first axis as colour samples
    kwargs: dict[str, Any] = {"bigtiff": bigtiff, "imagej": imagej, "photometric": "minisblack"}
    if imagej:
        ij_meta: dict[str, Any] = {"axes": "ZYX" if arr.ndim == 3 else "YX"}
        if text is not None:
            ij_meta["Info"] = text
        kwargs["metadata"] = ij_meta
    else:
        kwargs["metadata"] = None
        if text is not None:
            kwargs["description"] = text

    with atomic_file(final, "wb", what="TIFF") as fh:
        tifffile.imwrite(fh, arr, **kwargs)
    logger.debug("wrote %s %s %s", final, arr.shape, arr.dtype)
    return final


def _json_default(obj: Any) -> Any:
    """Convert numpy scalars/arrays and paths for :func:`json.dumps`."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def read_tiff(path: str | os.PathLike) -> np.ndarray:
    """Read a TIFF file (one slice or all pages of a stack).

    Parameters
    ----------
    path : str or path-like
        TIFF file.

    Returns
    -------
    numpy.ndarray
        2-D ``(rows, columns)`` for a single page, 3-D ``(pages, rows, columns)`` for a
        stack; dtype as stored.

    Raises
    ------
    InputFileError
        The file is missing, not a TIFF, or truncated (message names the path).
    """
    return _read_checked(path, lambda tif: tif.asarray())


def read_tiff_rows(path: str | os.PathLike, rows: slice, *, buffer: np.ndarray | None = None) -> np.ndarray:
    """Read rows ``rows`` (a step-1 slice, clipped to the image) of a single-page TIFF.

    Only those rows' bytes are read when the page is stored uncompressed in one contiguous
    block in native byte order (what :func:`write_tiff_atomic` writes; tifffile's parsed
    offsets say so); other files are decoded whole and cut. A sub-volume of a folder of
    slices (:func:`alsmicroct.io.volumes.open_volume`) is read this way: a 256-row box of
    a 2048 x 2048 float32 slice reads 2 MiB, not 16 MiB.

    Parameters
    ----------
    path : str or path-like
        TIFF file with one page (a multi-page file: its first page).
    rows : slice
        Rows (y, pixels) to read; ``step`` must be 1 or None.
    buffer : numpy.ndarray, optional
        Contiguous 1-D array reused from call to call (a stack of slices read row strip by
        row strip; fresh memory costs page faults): when it has the page's dtype and room
        for the rows, they are read into it and the result is a view of it, valid until
        the buffer is used again.

    Returns
    -------
    numpy.ndarray
        ``(n_rows, columns)``, dtype as stored.

    Raises
    ------
    InputFileError
        The file is missing, not a TIFF, or truncated (message names the path).
    ParameterError
        ``rows`` has a step other than 1.
    """
    if rows.step not in (None, 1):
        raise ParameterError(f"read_tiff_rows({path}): rows={rows}; expected a slice with step 1")

    def read(tif: Any) -> np.ndarray:
        page = tif.pages.first
        start, stop, _ = rows.indices(page.shape[0])
        stop = max(start, stop)
        if not (page.is_memmappable and len(page.shape) == 2):
            return page.asarray()[start:stop]
        shape, dtype = (stop - start, page.shape[1]), page.dtype.newbyteorder("=")
        fits = buffer is not None and buffer.dtype == dtype and buffer.ndim == 1 and buffer.size >= shape[0] * shape[1]
        out = buffer[: shape[0] * shape[1]].reshape(shape) if fits else np.empty(shape, dtype)
        if out.size:  # read_array swaps the bytes of a file in the other byte order
            stored = out.dtype.newbyteorder(tif.byteorder)
            tif.filehandle.read_array(stored, out.size, page.dataoffsets[0] + start * out.strides[0], out=out)
        return out

    return _read_checked(path, read)


def _read_checked(path: str | os.PathLike, read: Any) -> np.ndarray:
    """``read(tif)`` on a TIFF whose IFD chain and data extents were checked first."""
    import tifffile

    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"TIFF file not found: {p}")
    _check_structure(p)
    try:
        with tifffile.TiffFile(p) as tif:
            _check_extents(tif, p)
            return read(tif)
    except InputFileError:
        raise
    except Exception as exc:  # tifffile raises assorted errors on corrupt files
        raise InputFileError(f"cannot read TIFF {p}: {exc}") from exc


def tiff_info(path: str | os.PathLike) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and page count of a TIFF without reading its pixels.

    Parameters
    ----------
    path : str or path-like
        TIFF file.

    Returns
    -------
    (shape, dtype, npages)
        ``shape`` of one page ``(rows, columns)``, its dtype, and the number of pages.

    Raises
    ------
    InputFileError
        Missing, unreadable or truncated file.
    """
    import tifffile

    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"TIFF file not found: {p}")
    _check_structure(p)
    try:
        with tifffile.TiffFile(p) as tif:
            _check_extents(tif, p)
            page = tif.pages.first
            return tuple(page.shape), np.dtype(page.dtype), len(tif.pages)
    except InputFileError:
        raise
    except Exception as exc:
        raise InputFileError(f"cannot read TIFF header of {p}: {exc}") from exc


def read_tiff_metadata(path: str | os.PathLike) -> dict:
    """Metadata dictionary stored by :func:`write_tiff_atomic` (empty if none).

    Parameters
    ----------
    path : str or path-like
        TIFF file.

    Returns
    -------
    dict
        Decoded JSON from the ImageJ ``Info`` property or the ``ImageDescription`` tag.

    Raises
    ------
    InputFileError
        Missing or unreadable file.
    """
    import tifffile

    p = Path(path)
    try:
        with tifffile.TiffFile(p) as tif:
            texts = []
            ij = tif.imagej_metadata
            if ij and isinstance(ij.get("Info"), str):
                texts.append(ij["Info"])
            desc = tif.pages.first.description
            if desc:
                texts.append(desc)
    except Exception as exc:
        raise InputFileError(f"cannot read TIFF metadata of {p}: {exc}") from exc
    for text in texts:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


_TYPE_SIZES = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
    13: 4,
    16: 8,
    17: 8,
    18: 8,
}


def _check_structure(path: Path) -> None:
    """Walk the raw IFD chain before tifffile parses it.

    Raises InputFileError if the header is not TIFF, an IFD or a tag value lies past the
    end of the file, or the chain loops (truncated or corrupt file).
    """
    import struct

    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(16)
        if len(head) < 8 or head[:2] not in (b"II", b"MM"):
            raise InputFileError(f"{path} is not a TIFF file (bad header, {size} bytes)")
        bo = "<" if head[:2] == b"II" else ">"
        version = struct.unpack(bo + "H", head[2:4])[0]
        if version == 42:
            osize, ofmt, nfmt, nsize, tsize = 4, "I", "H", 2, 12
            offset = struct.unpack(bo + "I", head[4:8])[0]
        elif version == 43 and len(head) == 16:
            osize, ofmt, nfmt, nsize, tsize = 8, "Q", "Q", 8, 20
            offset = struct.unpack(bo + "Q", head[8:16])[0]
        else:
            raise InputFileError(f"{path} is not a TIFF file (version {version})")
        seen: set[int] = set()
        while offset:
            if offset in seen or offset + nsize > size:
                raise InputFileError(f"TIFF {path} is truncated or corrupt: IFD at byte {offset}, file has {size}")
            seen.add(offset)
            fh.seek(offset)
            ntags = struct.unpack(bo + nfmt, fh.read(nsize))[0]
            end = offset + nsize + ntags * tsize + osize
            if end > size:
                raise InputFileError(f"TIFF {path} is truncated: IFD at byte {offset} ends at {end}, file has {size}")
            block = fh.read(ntags * tsize + osize)
            for k in range(ntags):
                entry = block[k * tsize : (k + 1) * tsize]
                dtype, count = struct.unpack(bo + "H" + ofmt, entry[2 : 4 + osize])
                nbytes = _TYPE_SIZES.get(dtype, 1) * count
                if nbytes > osize:
                    voff = struct.unpack(bo + ofmt, entry[4 + osize :])[0]
                    if voff + nbytes > size:
                        raise InputFileError(
                            f"TIFF {path} is truncated: a tag value reaches byte {voff + nbytes}, file has {size}"
                        )
            offset = struct.unpack(bo + ofmt, block[ntags * tsize :])[0]


def _check_extents(tif: Any, path: Path) -> None:
    """Raise InputFileError if any page's strips/tiles reach past the end of file."""
    size = tif.filehandle.size
    for page in tif.pages:
        offsets = page.dataoffsets
        counts = page.databytecounts
        if not offsets or not counts:
            raise InputFileError(f"TIFF {path} has a page without image data")
        end = max(int(o) + int(c) for o, c in zip(offsets, counts, strict=True))
        if end > size or min(int(c) for c in counts) <= 0:
            raise InputFileError(f"TIFF {path} is truncated: image data reaches byte {end}, file has {size}")


def is_complete_tiff(
    path: str | os.PathLike,
    *,
    shape: tuple[int, ...] | None = None,
    dtype: np.dtype | type | str | None = None,
) -> bool:
    """Whether ``path`` is a complete, readable TIFF of the expected shape and dtype.

    Opens the header only: every page's image data must lie inside the file (a
    truncated or corrupt file gives False), no pixel data is decoded.

    Parameters
    ----------
    path : str or path-like
        TIFF file.
    shape : tuple of int, optional
        Expected shape: ``(rows, columns)`` of a single-page file, or
        ``(pages, rows, columns)`` of a stack.
    dtype : dtype-like, optional
        Expected pixel dtype.

    Returns
    -------
    bool
        True if the file exists, is intact, and matches ``shape``/``dtype`` when given.
    """
    p = Path(path)
    if not p.is_file():
        return False
    try:
        page_shape, page_dtype, npages = tiff_info(p)
    except InputFileError:
        return False
    if dtype is not None and page_dtype != np.dtype(dtype):
        return False
    if shape is not None:
        full = page_shape if npages == 1 else (npages, *page_shape)
        if tuple(int(s) for s in shape) != tuple(full):
            return False
    return True
