"""Open a raw ALS 8.3.2 scan file of either layout: :func:`open_scan`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import h5py

from ..errors import InputFileError
from . import sanity
from ._base import RawScan
from .als_layout import AlsScan
from .dx_layout import DxScan

__all__ = ["READERS", "ReaderSpec", "check_path_arg", "detect_reader", "open_scan", "register_reader"]

logger = logging.getLogger(__name__)


def check_path_arg(value: object, what: str = "filename") -> Path:
    """``value`` as a Path when it is a str or path-like, else an InputFileError naming it.

    Used by :func:`open_scan` and by ``recon()`` for its ``filename``: ``None`` or a number
    is a clear error, not a TypeError from deep inside.
    """
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if not isinstance(value, str | os.PathLike) or (isinstance(value, str) and not value.strip()):
        raise InputFileError(f"{what}={value!r}: expected the path of a raw HDF5 file (str or path-like)")
    return Path(os.fspath(value)).expanduser()


def _open_h5(path: Path) -> h5py.File:
    """Open read-only with file locking off (raw files often sit on NFS/Lustre, where HDF5
    locks fail) and no data-sieve buffer: the old layout holds one contiguous dataset per
    image, and HDF5 keeps a 64 KiB sieve buffer per open dataset, which would make memory
    grow with the number of images rather than with the rows read."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_sieve_buf_size(0)
    fapl.set_file_locking(False, True)
    fapl.set_fclose_degree(h5py.h5f.CLOSE_STRONG)
    try:
        fid = h5py.h5f.open(os.fsencode(str(path)), h5py.h5f.ACC_RDONLY, fapl=fapl)
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputFileError(
            f"{path}: cannot be opened as HDF5 ({exc}); expected a complete HDF5 raw scan "
            f"file (it may be truncated or corrupt)"
        ) from exc
    return h5py.File(fid)


def open_scan(
    path: str | os.PathLike,
    *,
    bad_data: str = "error",
    pixel_size: float | None = None,
    skip_projections: Iterable[int] = (),
) -> RawScan:
    """Open a raw scan file read-only and detect its layout.

    Parameters
    ----------
    path : str or path-like
        HDF5 file in the old ALS layout (one dataset per image) or the Data Exchange
        layout (``/exchange/data``).
    bad_data : {"error", "repair"}
        Raw data that cannot be right (NaN/inf counts, all-zero projection or flat rows,
        darks as bright as the flats) raise a LayoutError naming the file, the image and
        the count (``"error"``), or are repaired with a warning (``"repair"``); see
        :mod:`alsmicroct.io.sanity`. Checked on every read.
    pixel_size : float, optional
        Detector pixel size in mm; wins over the file's. When neither gives one the
        scan opens with a warning, ``meta.pxsize_source == "none"`` and a 1 cm pixel
        (reconstructions in 1/pixel).
    skip_projections : iterable of int
        Projection indices left unchecked (pass ``projIgnoreList``: those frames are
        zeroed later, so a dropped frame there is no reason to refuse the scan).

    Returns
    -------
    RawScan
        ``AlsScan`` or ``DxScan``; a context manager that closes the file. The file is
        opened with mode ``"r"`` and never modified.

    Raises
    ------
    InputFileError
        The file is missing, a folder, not HDF5, unreadable or truncated.
    LayoutError
        Neither layout is found, or a group/dataset/attribute that cannot be inferred is
        missing, or images have inconsistent shapes.

    Examples
    --------
    A small simulated scan (run as a doctest by ``tests/test_doctests.py``):

    >>> from alsmicroct.sim import simulate_scan
    >>> s = simulate_scan("scan.h5", nangles=91, nslices=4, nrays=64, seed=0)
    >>> with open_scan("scan.h5") as scan:
    ...     sino = scan.read_projections(rows=(1, 3))
    ...     theta = scan.angles()
    ...     layout = scan.meta.layout
    >>> layout, sino.shape, sino.dtype.name, theta.shape
    ('als', (91, 2, 64), 'float32', (91,))
    """
    p = check_path_arg(path, "path")
    sanity.check_bad_data_policy(bad_data)
    if not p.exists():
        raise InputFileError(f"{p}: raw scan file not found")
    if not p.is_file():
        raise InputFileError(f"{p}: is not a file; expected an HDF5 raw scan file")
    spec = detect_reader(p)
    return spec.open(p, bad_data=bad_data, pixel_size=pixel_size, skip_projections=skip_projections)


def _is_hdf5(path: Path) -> bool:
    try:
        return bool(h5py.is_hdf5(path))
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc})") from exc


def _open_hdf5_scan(path: Path, **kw) -> RawScan:
    """Both HDF5 layouts: Data Exchange when ``/exchange`` exists, else the old ALS layout."""
    h5 = _open_h5(path)
    try:
        cls = DxScan if "exchange" in h5 else AlsScan
        return cls(path, h5, **kw)
    except BaseException:
        h5.close()
        raise


@dataclass(frozen=True)
class ReaderSpec:
    """One kind of raw file :func:`open_scan` can read.

    Attributes
    ----------
    name : str
        Short name used in messages (``"hdf5"``, ``"tiff-stack"``...).
    detect : callable
        ``detect(path) -> bool``: cheap check of the file's signature; may raise
        :class:`~alsmicroct.errors.InputFileError` when the file cannot be read at all.
    open : callable
        ``open(path, *, bad_data, pixel_size, skip_projections) -> RawScan``.
    expected : str
        What such a file is, for the "no reader" message.
    """

    name: str
    detect: Callable[[Path], bool]
    open: Callable[..., RawScan]
    expected: str


#: The reader registry, tried in order by :func:`open_scan` (the one place layouts are detected).
READERS: list[ReaderSpec] = [
    ReaderSpec("hdf5", _is_hdf5, _open_hdf5_scan, "an HDF5 file (old ALS or Data Exchange layout)"),
]


def register_reader(spec: ReaderSpec, *, first: bool = False) -> None:
    """Add a reader (e.g. a TIFF-stack reader subclassing :class:`~alsmicroct.io.RawScan`).

    Parameters
    ----------
    spec : ReaderSpec
        The reader; one with the same ``name`` is replaced.
    first : bool, optional, keyword-only
        Try it before the others.
    """
    READERS[:] = [r for r in READERS if r.name != spec.name]
    READERS.insert(0 if first else len(READERS), spec)


def detect_reader(path: str | os.PathLike) -> ReaderSpec:
    """The first registered reader whose ``detect`` accepts ``path``.

    Raises
    ------
    InputFileError
        No reader recognises the file (the message lists what was expected).
    """
    p = Path(path)
    for spec in READERS:
        if spec.detect(p):
            return spec
    if len(READERS) == 1 and READERS[0].name == "hdf5":
        raise InputFileError(f"{p}: is not an HDF5 file (no HDF5 signature); expected a raw scan")
    raise InputFileError(f"{p}: no reader recognises it; expected {' or '.join(r.expected for r in READERS)}")
