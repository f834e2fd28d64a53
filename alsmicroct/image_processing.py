"""Public tools for stacks of reconstructed TIFF slices.

Loading and saving stacks, 8-bit conversion, cropping and a quick-look figure. Every
function that walks a folder streams it one slice at a time (memory stays flat whatever
the number of slices) and writes each output under a temporary name before renaming it
(:func:`alsmicroct.io.tiff.write_tiff_atomic`), so an interrupted run never leaves a file
that looks finished.

Conventions: a volume is ``(nslices, ny, nx)``; ranges are Python slice ranges
``(start, stop)`` with ``stop`` excluded; ``None`` means the whole axis.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from alsmicroct.checks import check_number, check_order
from alsmicroct.errors import (
    InputFileError,
    LayoutError,
    OutputError,
    ParameterError,
    RangeError,
)
from alsmicroct.io.atomic import atomic_file
from alsmicroct.io.outputs import claim_stack, clean_output
from alsmicroct.io.tiff import (
    natural_sort_key,
    read_tiff,
    tiff_info,
    write_tiff_atomic,
)
from alsmicroct.io.volume_tools import copy_volume as _copy_volume
from alsmicroct.io.volumes import detect_format, open_volume

__all__ = [
    "clean_output",
    "convert_ArrayTo8bit",
    "convert_DirectoryTo8Bit",
    "convert_to_zarr",
    "crop_Array",
    "crop_Directory",
    "get_fileList",
    "load_TiffStack",
    "quicklook",
    "save_TiffStack",
    "stack_files",
]

logger = logging.getLogger(__name__)

_NUMBER = re.compile(r"(\d+)(?!.*\d)")  # last run of digits in a name


def get_fileList(inputpath: str | os.PathLike, extensions: Iterable[str] = ("tif", "tiff")) -> list[str]:
    """Files of a folder with the given extensions, in natural order.

    Parameters
    ----------
    inputpath : str or path-like
        Folder.
    extensions : iterable of str, optional
        Extensions without the dot, case-insensitive.

    Returns
    -------
    list of str
        Full paths, naturally sorted (``slice_9`` before ``slice_10``); hidden files
        (temporary files of interrupted writes) are skipped.

    Raises
    ------
    InputFileError
        ``inputpath`` is not a folder.
    """
    folder = Path(inputpath)
    if not folder.is_dir():
        raise InputFileError(f"not a folder: {folder}")
    exts = {"." + e.lower().lstrip(".") for e in extensions}
    names = [
        e.name
        for e in os.scandir(folder)
        if e.is_file() and not e.name.startswith(".") and Path(e.name).suffix.lower() in exts
    ]
    names.sort(key=natural_sort_key)
    return [str(folder / n) for n in names]


def stack_files(path: str | os.PathLike, prefix: str | None = None) -> list[str]:
    """The slices of the one run in folder ``path`` (see :mod:`alsmicroct.io.outputs`).

    A folder written by ``recon()`` holds one run per prefix, each with its record: only
    that run's slices are read (``prefix`` chooses one when there are several). A folder
    without records is read whole (every TIFF). Other TIFFs next to a run's slices are
    ignored with a log line.
    """
    from alsmicroct.io.outputs import run_slices, select_run_prefix

    path = Path(path)
    if not path.is_dir():
        raise InputFileError(f"not a folder: {path}")
    chosen = select_run_prefix(path, prefix)
    if chosen is None:
        files = get_fileList(path)
    else:
        slices = run_slices(path, chosen)
        files = [str(slices[r]) for r in sorted(slices)]
        others = len(get_fileList(path)) - len(files)
        if others:
            logger.info(
                "%s: reading the %d slices of run %r; %d other TIFF file(s) ignored", path, len(files), chosen, others
            )
    if not files:
        what = f"slices {chosen}_NNNNN.tiff" if chosen else ".tif/.tiff files"
        raise InputFileError(f"no {what} in folder {path}")
    return files


def _check_range(rng: Sequence[int] | None, n: int, name: str) -> tuple[int, int]:
    """Validate a (start, stop) range on an axis of length n."""
    if rng is None:
        return 0, n
    try:
        start, stop = (int(v) for v in rng)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} range must be (start, stop), got {rng!r}") from exc
    if not 0 <= start < stop <= n:
        raise RangeError(f"{name} range ({start}, {stop}) outside 0..{n}: need 0 <= start < stop <= {n}")
    return start, stop


def _scan_headers(files: Sequence[str]) -> tuple[tuple[int, int], np.dtype]:
    """Common slice shape and dtype of single-page TIFFs; LayoutError names the odd file."""
    shape0: tuple[int, ...] | None = None
    dtypes = []
    for f in files:
        shape, dtype, npages = tiff_info(f)
        if npages != 1 or len(shape) != 2:
            raise LayoutError(f"{f}: expected a single 2-D slice, found {npages} page(s) of shape {shape}")
        if shape0 is None:
            shape0 = shape
        elif shape != shape0:
            raise LayoutError(f"{f}: slice shape {shape} differs from {shape0} of {files[0]}")
        dtypes.append(dtype)
    assert shape0 is not None
    return (int(shape0[0]), int(shape0[1])), np.result_type(*dtypes)


def load_TiffStack(
    path: str | os.PathLike,
    imagerange: str | Sequence[int] = "all",
    *,
    mmap: bool = False,
    prefix: str | None = None,
) -> np.ndarray:
    """Load a folder of TIFF slices, or a multi-page TIFF, as a 3-D array.

    Parameters
    ----------
    path : str or path-like
        Folder of single-slice TIFFs (naturally sorted) or one multi-page TIFF file.
    imagerange : "all" or (start, stop), optional
        Slices to load, ``stop`` excluded (Python slice semantics).
    mmap : bool, optional
        Return a ``numpy.memmap`` instead of an in-memory array: the pages of an
        uncompressed multi-page file are mapped read-only in place; a folder is copied
        slice by slice into an anonymous temporary file (deleted when the array is
        released), so stacks larger than memory can be loaded.
    prefix : str, optional
        For a ``recon()`` output folder that holds several runs: the run's slice prefix.
        A folder with one run reads that run's slices only.

    Returns
    -------
    numpy.ndarray
        ``(nslices, ny, nx)`` in the stored dtype (the common dtype of all slices).

    Raises
    ------
    InputFileError
        Missing path, empty folder, unreadable or truncated TIFF (names the file).
    LayoutError
        Slices of different shapes (names the odd file).
    RangeError
        ``imagerange`` outside the stack.
    """
    p = Path(path)
    if p.is_dir():
        files = stack_files(p, prefix)
        n = len(files)
    elif p.is_file():
        shape, dtype, n = tiff_info(p)
        files = []
    else:
        raise InputFileError(f"TIFF stack not found: {p}")
    if isinstance(imagerange, str):
        if imagerange != "all":
            raise ParameterError(f"imagerange must be 'all' or (start, stop), got {imagerange!r}")
        start, stop = 0, n
    else:
        start, stop = _check_range(imagerange, n, "imagerange")

    if not files:  # multi-page file
        return _load_multipage(p, start, stop, mmap=mmap)
    sel = files[start:stop]
    shape, dtype = _scan_headers(sel)
    full = (len(sel), *shape)
    if mmap:
        # the mapping keeps the (already unlinked) temporary file alive after close
        with tempfile.TemporaryFile(prefix="alsmicroct-stack-") as fh:
            fh.truncate(int(np.prod(full)) * dtype.itemsize)
            out = np.memmap(fh, dtype=dtype, mode="r+", shape=full)
    else:
        out = np.empty(full, dtype=dtype)
    for i, f in enumerate(sel):
        img = read_tiff(f)
        if img.shape != shape:  # file changed after the header scan
            raise LayoutError(f"{f}: slice shape {img.shape} differs from {shape}")
        out[i] = img
    return out


def _load_multipage(p: Path, start: int, stop: int, *, mmap: bool) -> np.ndarray:
    import tifffile

    if mmap:
        try:
            arr = tifffile.memmap(p, mode="r")
        except ValueError as exc:
            raise InputFileError(f"{p}: cannot memory-map (compressed or non-contiguous pages): {exc}") from exc
        if arr.ndim == 2:
            arr = arr[None]
        return arr[start:stop]
    try:
        with tifffile.TiffFile(p) as tif:
            arr = tif.asarray(key=range(start, stop))
    except Exception as exc:
        raise InputFileError(f"cannot read pages {start}..{stop} of {p}: {exc}") from exc
    return arr[None] if arr.ndim == 2 else arr


def _slice_name(prefix: str, index: int, ndigits: int = 5) -> str:
    return f"{prefix}_{index:0{ndigits}d}.tiff"


def save_TiffStack(
    array: np.ndarray,
    path: str | os.PathLike,
    *,
    one_file: bool = False,
    prefix: str = "slice",
    start_index: int = 0,
    dtype: np.dtype | type | str | None = None,
) -> list[str]:
    """Save a 3-D array as TIFF slices or as one multi-page BigTIFF.

    Parameters
    ----------
    array : numpy.ndarray
        ``(nslices, ny, nx)`` volume (a 2-D slice is saved as one slice).
    path : str or path-like
        Output folder (created if needed) when ``one_file`` is False, else the file
        name of the multi-page BigTIFF (its folder must exist).
    one_file : bool, optional
        Write one multi-page BigTIFF instead of one file per slice.
    prefix : str, optional
        Slice file names are ``<prefix>_<NNNNN>.tiff`` (5 digits, or more if needed).
    start_index : int, optional
        Number of the first slice in the file names.
    dtype : dtype-like, optional
        Cast to this dtype before writing (``numpy.astype`` semantics; for a scaled
        8-bit cast use :func:`convert_ArrayTo8bit`).

    Returns
    -------
    list of str
        Paths written.

    Raises
    ------
    OutputError
        The folder cannot be created or a file cannot be written.
    """
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ParameterError(f"save_TiffStack: expected a 3-D array, got shape {arr.shape}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    out = Path(path)
    if one_file:
        write_tiff_atomic(out, arr, bigtiff=True)
        return [str(out)]
    _make_dir(out)
    last = int(start_index) + arr.shape[0] - 1
    ndigits = max(5, len(str(last)))
    written = []
    for i in range(arr.shape[0]):
        f = out / _slice_name(prefix, int(start_index) + i, ndigits)
        write_tiff_atomic(f, arr[i])
        written.append(str(f))
    return written


def _make_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {folder}: {exc}") from exc


def convert_ArrayTo8bit(array: np.ndarray, data_min: float, data_max: float) -> np.ndarray:
    """Scale values to 8 bit: ``floor(0.5 + 255 (x - data_min) / (data_max - data_min))``.

    Clipped to 0..255 (see :func:`alsmicroct.post.to_uint8`).

    Parameters
    ----------
    array : numpy.ndarray
        Values in the data's units (e.g. 1/cm).
    data_min, data_max : float
        Values mapped to 0 and 255.

    Returns
    -------
    numpy.ndarray
        uint8, same shape.

    Raises
    ------
    ParameterError
        ``data_min >= data_max``.
    """
    from alsmicroct.post.cast import to_uint8

    return to_uint8(array, dmin=data_min, dmax=data_max)


def _output_name(src: str, filename: str | None) -> str:
    """Output file name: the input name, or ``<filename>_<number>.tif`` keeping the number."""
    name = Path(src).name
    if filename is None:
        return name
    m = _NUMBER.search(Path(src).stem)
    if m is None:
        return f"{filename}{Path(src).suffix}"
    return f"{filename}_{m.group(1)}{Path(src).suffix}"


def _stream_directory(
    files: Sequence[str],
    outdir: Path,
    func,
    filename: str | None = None,
    *,
    overwrite: bool = False,
    what: str = "output",
) -> list[str]:
    """Apply func to each slice, one at a time, writing each result atomically (into a folder
    that holds no earlier slices of the same names: :func:`~alsmicroct.io.outputs.claim_stack`)."""
    names = [_output_name(f, filename) for f in files]
    if len(set(names)) != len(names):
        raise ParameterError(
            f"output names for {outdir} are not unique (filename={filename!r}); "
            "input file names must carry distinct numbers"
        )
    shape0, _ = _scan_headers(files)  # bad or mixed-size slices fail before any write
    claim_stack(outdir, names, overwrite=overwrite, what=what)
    _make_dir(outdir)
    written = []
    for f, name in zip(files, names, strict=False):
        img = read_tiff(f)
        if img.shape != shape0:  # file changed after the header scan
            raise LayoutError(f"{f}: slice shape {img.shape} differs from {shape0} of {files[0]}")
        dest = outdir / name
        write_tiff_atomic(dest, func(img))
        written.append(str(dest))
    return written


def convert_DirectoryTo8Bit(
    inputpath: str | os.PathLike,
    data_min: float = -10,
    data_max: float = 10,
    basepath: str | os.PathLike | None = None,
    outputpath: str | os.PathLike | None = None,
    filename: str | None = None,
    *,
    prefix: str | None = None,
    output_format: str | None = None,
    overwrite: bool = False,
) -> list[str]:
    """Convert a folder of float TIFF slices (or a zarr/h5 volume) to 8 bit, one slice at a time.

    Parameters
    ----------
    inputpath : str or path-like
        Folder of slices; relative to ``basepath`` when that is given.
    data_min, data_max : float, optional
        Values (data units, e.g. 1/cm) mapped to 0 and 255; see
        :func:`convert_ArrayTo8bit`.
    basepath : str or path-like, optional
        Base folder for a relative ``inputpath`` (and for a relative ``outputpath``).
    outputpath : str or path-like, optional
        Output folder; default ``<inputpath>_8bit`` next to the input folder.
    filename : str, optional
        Output name prefix: files become ``<filename>_<number>.tif(f)`` where
        ``<number>`` is the last number of the input name (zero padding kept);
        default: the input file names.
    prefix : str, optional
        Run to read from a ``recon()`` folder that holds several (see :func:`load_TiffStack`).
    output_format : {"tiff", "zarr", "h5"}, optional
        Output format (default: the input's).
    overwrite : bool, optional
        Replace an earlier output of the same names (slices of the same prefix, the same
        store); without it such an output is an :class:`~alsmicroct.errors.OutputError`.

    Returns
    -------
    list of str
        Written files, in slice order.

    Raises
    ------
    ParameterError
        ``data_min >= data_max`` (checked before anything is written).
    InputFileError, LayoutError, OutputError
        Empty/unreadable folder, mixed slice sizes, unwritable output, an earlier output
        of the same names without ``overwrite``.
    """
    from alsmicroct.post.cast import to_uint8

    src = _resolve(inputpath, basepath)
    check_order(check_number(data_min, "data_min"), check_number(data_max, "data_max"), "data_min", "data_max")
    if detect_format(src) != "tiff" or output_format not in (None, "tiff"):
        return [
            str(
                _copy_volume(
                    src,
                    None if outputpath is None else _resolve(outputpath, basepath),
                    fmt=output_format,
                    prefix=prefix,
                    tag="_8bit",
                    func=lambda a: to_uint8(a, dmin=data_min, dmax=data_max),
                    attrs={"units": "uint8 levels", "cast8bit_min_max": [data_min, data_max]},
                    overwrite=overwrite,
                )
            )
        ]
    files = stack_files(src, prefix)
    out = _resolve(outputpath, basepath) if outputpath is not None else _sibling(src, "_8bit")
    written = _stream_directory(
        files,
        out,
        lambda a: to_uint8(a, dmin=data_min, dmax=data_max),
        filename,
        overwrite=overwrite,
        what="8-bit conversion",
    )
    logger.info("converted %d slices of %s to 8 bit in %s", len(written), src, out)
    return written


def _resolve(path: str | os.PathLike, base: str | os.PathLike | None) -> Path:
    p = Path(path)
    return Path(base) / p if base is not None and not p.is_absolute() else p


def _sibling(folder: Path, suffix: str) -> Path:
    folder = folder.resolve()
    return folder.with_name(folder.name + suffix)


def crop_Array(
    array: np.ndarray,
    x: Sequence[int] | None = None,
    y: Sequence[int] | None = None,
    z: Sequence[int] | None = None,
) -> np.ndarray:
    """Crop a ``(nslices, ny, nx)`` volume (or a 2-D slice).

    Parameters
    ----------
    array : numpy.ndarray
        Volume ``(z, y, x)`` or slice ``(y, x)``.
    x, y, z : (start, stop), optional
        Ranges in pixels / slices, ``stop`` excluded; None keeps the axis. ``z`` must be
        None for a 2-D slice.

    Returns
    -------
    numpy.ndarray
        A view of ``array`` (copy it to keep it independent).

    Raises
    ------
    RangeError
        A range outside the array or empty.
    """
    arr = np.asarray(array)
    if arr.ndim == 2:
        if z is not None:
            raise ParameterError("crop_Array: z range given for a 2-D slice")
        y0, y1 = _check_range(y, arr.shape[0], "y")
        x0, x1 = _check_range(x, arr.shape[1], "x")
        return arr[y0:y1, x0:x1]
    if arr.ndim != 3:
        raise ParameterError(f"crop_Array: expected 2-D or 3-D array, got shape {arr.shape}")
    z0, z1 = _check_range(z, arr.shape[0], "z")
    y0, y1 = _check_range(y, arr.shape[1], "y")
    x0, x1 = _check_range(x, arr.shape[2], "x")
    return arr[z0:z1, y0:y1, x0:x1]


def crop_Directory(
    inputpath: str | os.PathLike,
    x: Sequence[int] | None = None,
    y: Sequence[int] | None = None,
    z: Sequence[int] | None = None,
    outputpath: str | os.PathLike | None = None,
    *,
    prefix: str | None = None,
    output_format: str | None = None,
    overwrite: bool = False,
) -> list[str]:
    """Crop a folder of TIFF slices (or a zarr/h5 volume), one slice at a time.

    Parameters
    ----------
    inputpath : str or path-like
        Folder of slices (naturally sorted).
    x, y : (start, stop), optional
        Pixel ranges within each slice, ``stop`` excluded; None keeps the axis.
    z : (start, stop), optional
        Range of slice positions in the sorted folder listing (not the numbers in the
        names), ``stop`` excluded.
    outputpath : str or path-like, optional
        Output folder; default ``<inputpath>_crop`` next to the input folder. File names
        (and their numbers) are kept.
    prefix : str, optional
        Run to read from a ``recon()`` folder that holds several (see :func:`load_TiffStack`).
    output_format, overwrite
        As for :func:`convert_DirectoryTo8Bit`.

    Returns
    -------
    list of str
        Written files.

    Raises
    ------
    RangeError
        A range outside the data (checked against the first slice before writing).
    InputFileError, LayoutError, OutputError
        Empty/unreadable folder, mixed sizes, unwritable output.
    """
    src = Path(inputpath)
    if detect_format(src) != "tiff" or output_format not in (None, "tiff"):
        return [
            str(
                _copy_volume(
                    src, outputpath, fmt=output_format, prefix=prefix, tag="_crop", z=z, y=y, x=x, overwrite=overwrite
                )
            )
        ]
    files = stack_files(src, prefix)
    z0, z1 = _check_range(z, len(files), "z")
    shape, _, _ = tiff_info(files[z0])
    if len(shape) != 2:
        raise LayoutError(f"{files[z0]}: expected a 2-D slice, got shape {shape}")
    y0, y1 = _check_range(y, shape[0], "y")
    x0, x1 = _check_range(x, shape[1], "x")
    out = Path(outputpath) if outputpath is not None else _sibling(src, "_crop")
    written = _stream_directory(
        files[z0:z1], out, lambda a: np.ascontiguousarray(a[y0:y1, x0:x1]), overwrite=overwrite, what="crop"
    )
    logger.info("cropped %d slices of %s into %s", len(written), src, out)
    return written


def convert_to_zarr(
    tiff_folder: str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    prefix: str | None = None,
    voxel_size_um: Sequence[float] | None = None,
    chunks: tuple[int, int, int] | None = None,
    ngff_version: str = "0.5",
    multiscale: bool = True,
    compression: int | None = 1,
) -> Path:
    """Convert a folder of TIFF slices (e.g. a ``recon()`` run) to a multiscale OME-Zarr store.

    Streams one chunk layer (``chunks[0]`` slices, default 64) at a time. The voxel size
    (micrometer) and the provenance come from the run's record when there is one.

    Parameters
    ----------
    tiff_folder : str or path-like
        Folder of slices; ``prefix`` chooses the run when it holds several.
    output : str or path-like, optional
        The store (default ``<folder>.ome.zarr`` next to the folder).
    voxel_size_um : (dz, dy, dx), optional
        Overrides the record's voxel size, micrometer.
    chunks, ngff_version, multiscale, compression
        As :func:`alsmicroct.io.volumes.open_writer` (Blosc lz4 level).

    Returns
    -------
    pathlib.Path
        The store written.
    """
    return _copy_volume(
        tiff_folder,
        output,
        fmt="zarr",
        prefix=prefix,
        chunks=chunks,
        ngff_version=ngff_version,
        multiscale=multiscale,
        compression=compression,
        voxel_size_um=voxel_size_um,
    )


def _iter_slices(path: Path, prefix: str | None = None) -> tuple[int, int, int, Iterable[np.ndarray]]:
    """Shape and a one-slice-at-a-time iterator over a folder or a multi-page TIFF."""
    import tifffile

    if path.is_file():
        shape, _, nz = tiff_info(path)

        def pages():
            with tifffile.TiffFile(path) as tif:
                for page in tif.pages:
                    yield page.asarray()

        return nz, int(shape[0]), int(shape[1]), pages()
    files = stack_files(path, prefix)
    shape, _ = _scan_headers(files)
    return len(files), shape[0], shape[1], (read_tiff(f) for f in files)


def _orthogonal_views(
    volume_or_dir: np.ndarray | str | os.PathLike,
    prefix: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int]]:
    """Central xy slice, xz and yz planes; files are read one slice at a time."""
    if isinstance(volume_or_dir, (str, os.PathLike)):
        p = Path(volume_or_dir)
        if not p.exists():
            raise InputFileError(f"quicklook: input not found: {p}")
        if detect_format(p) != "tiff":  # chunked volumes: read the three planes only
            with open_volume(p) as vol:
                nz, ny, nx = vol.shape
                return (
                    vol[nz // 2].astype(np.float32),
                    vol[:, ny // 2, :].astype(np.float32),
                    vol[:, :, nx // 2].astype(np.float32),
                    (nz, ny, nx),
                )
        nz, ny, nx, slices = _iter_slices(p, prefix)
        xz = np.empty((nz, nx), dtype=np.float32)
        yz = np.empty((nz, ny), dtype=np.float32)
        xy = np.zeros((ny, nx), dtype=np.float32)
        for i, img in enumerate(slices):
            xz[i] = img[ny // 2, :]
            yz[i] = img[:, nx // 2]
            if i == nz // 2:
                xy = img.astype(np.float32)
        return xy, xz, yz, (nz, ny, nx)
    vol = np.asarray(volume_or_dir)
    if vol.ndim == 2:
        vol = vol[None]
    if vol.ndim != 3:
        raise ParameterError(f"quicklook: expected a 3-D volume, got shape {vol.shape}")
    nz, ny, nx = vol.shape
    return (
        np.asarray(vol[nz // 2], dtype=np.float32),
        np.asarray(vol[:, ny // 2, :], dtype=np.float32),
        np.asarray(vol[:, :, nx // 2], dtype=np.float32),
        (nz, ny, nx),
    )


def quicklook(
    volume_or_dir: np.ndarray | str | os.PathLike,
    path_png: str | os.PathLike,
    *,
    title: str | None = None,
    prefix: str | None = None,
    renderer: str = "pillow",
    notes: tuple[str, ...] = (),
    curves: tuple = (),
) -> Path:
    """PNG with the central xy, xz and yz slices, a colour bar and a histogram.

    Parameters
    ----------
    volume_or_dir : numpy.ndarray, str or path-like
        ``(nslices, ny, nx)`` volume, a folder of TIFF slices, or a multi-page TIFF.
        Files are read one slice (page) at a time, keeping the central slice whole and
        one row and one column of every other slice, so memory stays flat.
    path_png : str or path-like
        Output PNG (written atomically; its folder must exist).
    title : str, optional
        Figure title (default: the input's name and shape).
    prefix : str, optional
        Run to read from a ``recon()`` folder that holds several (see :func:`load_TiffStack`).
    renderer : {"pillow", "matplotlib"}
        ``"pillow"`` (default): a light 8-bit picture drawn with NumPy and Pillow in a few
        tens of milliseconds (:func:`alsmicroct.post.picture.render_quicklook`);
        ``"matplotlib"``: axes with ticks, over a second for matplotlib's import and layout.
        Both are 1200 x 900 pixels.
    notes, curves : tuple
        Pillow renderer only: text lines under the title and labelled 1-D curves
        ``(name, values)`` drawn under the histogram (the run's quality figures).

    Returns
    -------
    pathlib.Path
        The PNG written.
    """
    if renderer not in ("pillow", "matplotlib"):
        raise ParameterError(f"quicklook: renderer={renderer!r}; expected 'pillow' or 'matplotlib'")
    xy, xz, yz, (nz, ny, nx) = _orthogonal_views(volume_or_dir, prefix)
    values = np.concatenate([xy.ravel(), xz.ravel(), yz.ravel()])
    finite = values[np.isfinite(values)]
    if finite.size:
        lo, hi = (float(v) for v in np.percentile(finite, [0.5, 99.5]))
        if hi <= lo:
            lo, hi = float(finite.min()), float(finite.max()) + 1e-12
    else:
        lo, hi = 0.0, 1.0
    name = Path(volume_or_dir).name if isinstance(volume_or_dir, (str, os.PathLike)) else "volume"
    title = title if title is not None else f"{name}  {nz} x {ny} x {nx}"
    labels = (f"xy (slice {nz // 2})", f"xz (row {ny // 2})", f"yz (column {nx // 2})")
    out = Path(path_png)
    if renderer == "pillow":
        from alsmicroct.post.picture import render_quicklook

        image = render_quicklook(
            xy, xz, yz, lo=lo, hi=hi, title=title, labels=labels, notes=tuple(notes), curves=tuple(curves)
        )
        with atomic_file(out, "wb", what="quick-look picture") as fh:
            image.save(fh, format="png", compress_level=1)
        return out
    _matplotlib_quicklook(xy, xz, yz, finite, lo, hi, title, labels, out)
    return out


def _matplotlib_quicklook(
    xy: np.ndarray,
    xz: np.ndarray,
    yz: np.ndarray,
    finite: np.ndarray,
    lo: float,
    hi: float,
    title: str,
    labels: tuple[str, str, str],
    out: Path,
) -> None:
    """The quick-look figure drawn with matplotlib (``quicklook(..., renderer="matplotlib")``)."""
    # a bare Figure renders through Agg without touching pyplot or the global backend
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 9), dpi=100, layout="constrained")
    axs = fig.subplots(2, 2)
    panels = [
        (axs[0, 0], xy, labels[0], "x", "y"),
        (axs[0, 1], xz, labels[1], "x", "slice"),
        (axs[1, 0], yz, labels[2], "y", "slice"),
    ]
    im = None
    for ax, img, label, xl, yl in panels:
        im = ax.imshow(
            img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest", aspect="auto" if img is not xy else "equal"
        )
        ax.set_title(label)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
    fig.colorbar(im, ax=[axs[0, 0], axs[0, 1]], shrink=0.9, label="value")
    hax = axs[1, 1]
    if finite.size:
        hax.hist(finite, bins=256, range=(lo, hi), color="0.3")
    hax.set_title("histogram (0.5-99.5 percentile range)")
    hax.set_xlabel("value")
    hax.set_ylabel("count")
    fig.suptitle(title)
    with atomic_file(out, "wb", what="quick-look picture") as fh:
        fig.savefig(fh, format="png")
