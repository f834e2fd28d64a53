"""Layout-independent part of an open raw scan: :class:`RawScan`.

The layout modules (:mod:`alsmicroct.io.als_layout`, :mod:`alsmicroct.io.dx_layout`)
subclass it; :func:`alsmicroct.io.open_scan` picks the subclass.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import InputFileError, LayoutError
from ._common import RangeSpec, normalize_range
from .metadata import ScanMetadata

__all__ = ["RawScan"]

logger = logging.getLogger(__name__)


class RawScan:
    """An open raw scan file (read-only). Obtain one with :func:`alsmicroct.io.open_scan`.

    Use as a context manager, or call :meth:`close`. All read methods return float32
    arrays ``(image, row, column)`` holding the raw counts, and read only the requested
    rows from disk (HDF5 hyperslab selections).

    Attributes
    ----------
    path : Path
        The file.
    meta : ScanMetadata
        The scan's metadata.
    """

    layout = ""

    def __init__(self, path: Path, h5file: h5py.File) -> None:
        self.path = Path(path)
        self._h5 = h5file
        self._flat_indices = np.zeros(0, dtype=np.int64)
        self.meta: ScanMetadata = self._build_meta()
        self._flat_indices.setflags(write=False)
        logger.debug("opened %s", self.meta.summary())

    # -------------------------------------------------------------- subclass interface
    def _build_meta(self) -> ScanMetadata:  # pragma: no cover - abstract
        raise LayoutError(f"{self.path}: no reader for this layout")

    def _read_proj_into(self, out: np.ndarray, proj: range, rows: range) -> None:
        raise LayoutError(f"{self.path}: no reader for this layout")  # pragma: no cover

    def _read_flats_into(self, out: np.ndarray, rows: range) -> None:
        raise LayoutError(f"{self.path}: no reader for this layout")  # pragma: no cover

    def _read_darks_into(self, out: np.ndarray, rows: range) -> None:
        raise LayoutError(f"{self.path}: no reader for this layout")  # pragma: no cover

    def _angles_deg(self, angle_offset: float, use_rot_angle: bool) -> np.ndarray:
        raise LayoutError(f"{self.path}: no reader for this layout")  # pragma: no cover

    def _num_flat_images(self) -> int:
        return int(self._flat_indices.size)

    def _num_dark_images(self) -> int:
        return int(self.meta.num_darks)

    # -------------------------------------------------------------- helpers for layouts
    def _read_block(self, dset: h5py.Dataset, out: np.ndarray, sel: tuple) -> None:
        """Read the hyperslab ``sel`` of ``dset`` into ``out`` (HDF5 converts to float32)."""
        try:
            dset.read_direct(out, source_sel=sel)
        except (OSError, KeyError, RuntimeError) as exc:
            raise InputFileError(
                f"{self.path}: cannot read dataset {dset.name!r} ({exc}); the file may be "
                f"truncated or corrupt"
            ) from exc

    def _warn_mismatches(self, recorded: dict, found, template: str) -> None:
        """Log ``template % (path, key, recorded value, value)`` (with the layout module's
        logger) for each ``(key, value)`` of ``found`` whose recorded value differs."""
        for key, value in found:
            attr = recorded.get(key)
            if attr is not None and attr != value:
                logging.getLogger(type(self).__module__).warning(
                    template, self.path, key, attr, value
                )

    # -------------------------------------------------------------- public API
    @property
    def flat_indices(self) -> np.ndarray:
        """Projection index at which each flat image (in :meth:`read_flats` order) was
        taken, int64, read-only."""
        return self._flat_indices

    def _rows(self, rows: RangeSpec) -> range:
        return normalize_range(rows, self.meta.nslices, what="rows", where=str(self.path))

    def _check_open(self) -> None:
        if not self._h5:
            raise InputFileError(f"{self.path}: the scan is closed; use 'with open_scan(...)'")

    def read_projections(self, proj: RangeSpec = None, rows: RangeSpec = None) -> np.ndarray:
        """Read projections.

        Parameters
        ----------
        proj : (start, end, step), slice, int or None
            Projections, Python slice semantics; None: all.
        rows : (start, end, step), slice, int or None
            Detector rows, Python slice semantics; None: all.

        Returns
        -------
        ndarray of float32, shape (n_proj, n_rows, nrays)
            Raw counts.

        Raises
        ------
        RangeError
            ``proj`` or ``rows`` outside the data.
        InputFileError
            The file cannot be read (truncated, corrupt).
        """
        self._check_open()
        p = normalize_range(proj, self.meta.nangles, what="proj", where=str(self.path))
        r = self._rows(rows)
        out = np.empty((len(p), len(r), self.meta.nrays), dtype=np.float32)
        self._read_proj_into(out, p, r)
        return out

    def _read_references(self, count, read_into, rows: RangeSpec) -> np.ndarray:
        """``count()`` flat or dark images of the detector ``rows``, read by ``read_into``."""
        self._check_open()
        r = self._rows(rows)
        out = np.empty((count(), len(r), self.meta.nrays), dtype=np.float32)
        if out.shape[0]:
            read_into(out, r)
        return out

    def read_flats(self, rows: RangeSpec = None) -> np.ndarray:
        """Read every flat (bright) image, in the order of :attr:`flat_indices`.

        Parameters
        ----------
        rows : (start, end, step), slice, int or None
            Detector rows; None: all.

        Returns
        -------
        ndarray of float32, shape (n_flat_images, n_rows, nrays)
            Raw counts; first axis empty when the file holds no flats.
        """
        return self._read_references(self._num_flat_images, self._read_flats_into, rows)

    def read_darks(self, rows: RangeSpec = None) -> np.ndarray:
        """Read every dark image: like :meth:`read_flats`, float32 ``(n_dark_images,
        n_rows, nrays)`` raw counts, the first axis empty when the file holds no darks."""
        return self._read_references(self._num_dark_images, self._read_darks_into, rows)

    def angles(
        self, proj: RangeSpec = None, *, angle_offset: float = 0.0, use_rot_angle: bool = False
    ) -> np.ndarray:
        """Reconstruction angle of each selected projection.

        Parameters
        ----------
        proj : (start, end, step), slice, int or None
            Projections, Python slice semantics; None: all.
        angle_offset : float
            Added to every angle, degrees.
        use_rot_angle : bool
            Old layout only: take the per-projection stage angles ``rot_angle`` instead of
            the evenly spaced list (Data Exchange files always use ``/exchange/theta``).

        Returns
        -------
        ndarray of float64
            Angles in radians.

        Notes
        -----
        Old ALS layout (degrees, as the beamline's earlier software):
        ``theta_i = 270 + angle_offset - first_angle - i * arange / (nangles - 1)``, decreasing,
        both ends of the range included; ``first_angle`` is the ``rot_angle`` of the first
        projection (0 when absent). With ``use_rot_angle=True`` the stage angles replace the
        even spacing, with the same sign and origin: ``theta_i = 270 + angle_offset -
        rot_angle_i`` (identical to the default at ``i = 0`` and for an ideal stage, whose
        ``rot_angle_i = first_angle + i * arange / (nangles - 1)``).

        Data Exchange: ``theta_i = /exchange/theta[i] + angle_offset``.

        Orientation: given to :func:`alsmicroct.engine.reconstruct` with the projections,
        these angles give slices in the frame of ``docs/geometry.md``: ``x = column - (N -
        1) / 2`` to the right and ``y = row - (N - 1) / 2`` downwards, both from the rotation
        axis, projection ``i`` being the line integral over ``x cos(theta_i) - y
        sin(theta_i) = s`` with ``s = detector column - cor``. At ``theta = 0`` the
        detector columns run along the slice columns, left to right; at ``theta = 90`` deg
        along the slice rows, bottom to top. This is the orientation of the beamline's
        earlier TomoPy-based reconstructions (no flip, no rotation).

        Raises
        ------
        RangeError
            ``proj`` outside the data.
        LayoutError
            ``use_rot_angle=True`` on an old-layout file without ``rot_angle`` attributes.
        """
        p = normalize_range(proj, self.meta.nangles, what="proj", where=str(self.path))
        deg = self._angles_deg(float(angle_offset), bool(use_rot_angle))
        return np.deg2rad(deg[p.start : p.stop : p.step])

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._h5:
            self._h5.close()

    @property
    def closed(self) -> bool:
        """True once the file is closed."""
        return not self._h5

    def __enter__(self) -> RawScan:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {state} {self.meta.summary()}>"
