"""Layout-independent part of an open raw scan: :class:`RawScan`.

The layout modules (:mod:`alsmicroct.io.als_layout`, :mod:`alsmicroct.io.dx_layout`)
subclass it; :func:`alsmicroct.io.open_scan` picks the subclass through the reader registry
(:data:`alsmicroct.io.readers.READERS`). The base class holds any open handle with a
``close()`` (an ``h5py.File`` for the HDF5 layouts; a TIFF-stack reader can pass a folder
object or None), so a non-HDF5 reader subclasses it too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, LayoutError
from . import sanity
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
    bad_data : {"error", "repair"}
        What the read methods do with raw data that cannot be right (NaN/inf, all-zero
        rows, darks as bright as flats): see :mod:`alsmicroct.io.sanity`.
    skip_projections : frozenset of int
        Projection indices that are not checked (the user's ``projIgnoreList``: they are
        zeroed after normalisation, so whatever they hold does not matter).
    """

    layout = ""

    def __init__(
        self,
        path: Path,
        handle: Any = None,
        *,
        bad_data: str = "error",
        pixel_size: float | None = None,
        skip_projections=(),
    ) -> None:
        self.path = Path(path)
        self._h5 = handle  # the open file (h5py.File for the HDF5 layouts), closed by close()
        self._closed = False
        self.bad_data = sanity.check_bad_data_policy(bad_data)
        self._pixel_size_kw = pixel_size
        self.skip_projections = frozenset(int(i) for i in skip_projections)
        self._ref_means: dict[str, tuple[tuple, np.ndarray]] = {}
        self._refs_checked: set[tuple] = set()
        self._dead_reported = False
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

    def image_names(self, kind: str, indices: range | None = None) -> list[str]:  # pragma: no cover
        """Names in the raw layout of the ``kind`` ("projection", "flat", "dark") images."""
        raise LayoutError(f"{self.path}: no reader for this layout")

    def _stored_float(self, kind: str) -> bool:  # pragma: no cover - abstract
        """True when the ``kind`` images are stored as floats (NaN/inf possible)."""
        return True

    def _pixel_size(self, recorded: float | None, key: str) -> tuple[float, str]:
        """Pixel size in mm and where it comes from (see :class:`ScanMetadata`)."""
        return pixel_size_fallback(self.path, recorded, key, self._pixel_size_kw)

    def _num_flat_images(self) -> int:
        return int(self._flat_indices.size)

    def _num_dark_images(self) -> int:
        return int(self.meta.num_darks)

    # -------------------------------------------------------------- helpers for layouts
    def _read_block(self, dset: Any, out: np.ndarray, sel: tuple) -> None:
        """Read the hyperslab ``sel`` of ``dset`` into ``out`` (HDF5 converts to float32)."""
        try:
            dset.read_direct(out, source_sel=sel)
        except (OSError, KeyError, RuntimeError) as exc:
            raise InputFileError(
                f"{self.path}: cannot read dataset {dset.name!r} ({exc}); the file may be truncated or corrupt"
            ) from exc

    def _warn_mismatches(self, recorded: dict, found, template: str) -> None:
        """Log ``template % (path, key, recorded value, value)`` (with the layout module's
        logger) for each ``(key, value)`` of ``found`` whose recorded value differs."""
        for key, value in found:
            attr = recorded.get(key)
            if attr is not None and attr != value:
                logging.getLogger(type(self).__module__).warning(template, self.path, key, attr, value)

    # -------------------------------------------------------------- public API
    @property
    def flat_indices(self) -> np.ndarray:
        """Projection index at which each flat image (in :meth:`read_flats` order) was
        taken, int64, read-only."""
        return self._flat_indices

    def _rows(self, rows: RangeSpec) -> range:
        return normalize_range(rows, self.meta.nslices, what="rows", where=str(self.path))

    def _check_open(self) -> None:
        if self.closed:
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
        LayoutError
            NaN/inf counts, all-zero or mostly negative rows (unless :attr:`bad_data` is ``"repair"``),
            naming the file, the images and the count; see :mod:`alsmicroct.io.sanity`.
            Flats and darks are checked the same way by :meth:`read_flats` and
            :meth:`read_darks`, which also refuse darks as bright as the flats.
        """
        self._check_open()
        p = normalize_range(proj, self.meta.nangles, what="proj", where=str(self.path))
        r = self._rows(rows)
        out = np.empty((len(p), len(r), self.meta.nrays), dtype=np.float32)
        self._read_proj_into(out, p, r)
        keep = [k for k, i in enumerate(p) if i not in self.skip_projections]
        if not keep:
            return out
        checked = out if len(keep) == len(p) else out[keep]
        checked = sanity.check_images(
            checked,
            kind="projection",
            names=self.image_names("projection", [p[k] for k in keep]),
            rows=r,
            where=str(self.path),
            policy=self.bad_data,
            may_be_nonfinite=self._stored_float("projection"),
            fill_rows=lambda local: self._mean_flat_rows([r[int(i)] for i in local]),
        )
        if checked is not out:
            out[keep] = checked
        return out

    def _mean_flat_rows(self, rows: list[int]) -> np.ndarray:
        """Mean flat of the absolute detector ``rows`` (used to repair projection rows)."""
        if self._num_flat_images() == 0:
            raise LayoutError(f"{self.path}: no flats to repair the projection rows {rows} with")
        return np.stack(
            [self.read_flats(rows=(row, row + 1, 1)).mean(axis=0, dtype=np.float64)[0] for row in rows]
        ).astype(np.float32)

    def _read_references(self, kind: str, count, read_into, rows: RangeSpec) -> np.ndarray:
        """``count()`` flat or dark images of the detector ``rows``, read by ``read_into``,
        checked; the mean is kept so that flats and darks of the same rows are compared."""
        self._check_open()
        r = self._rows(rows)
        out = np.empty((count(), len(r), self.meta.nrays), dtype=np.float32)
        if out.shape[0]:
            read_into(out, r)
            out = sanity.check_images(
                out,
                kind=kind,
                names=self.image_names(kind),
                rows=r,
                where=str(self.path),
                policy=self.bad_data,
                may_be_nonfinite=self._stored_float(kind),
            )
            key = (r.start, r.stop, r.step)
            self._ref_means[kind] = (key, out.mean(axis=0, dtype=np.float64))
            self._compare_references(key, r)
        return out

    def _compare_references(self, key: tuple, rows: range) -> None:
        flat, dark = self._ref_means.get("flat"), self._ref_means.get("dark")
        if flat is None or dark is None or flat[0] != key or dark[0] != key or key in self._refs_checked:
            return
        dead = sanity.check_references(
            flat[1],
            dark[1],
            rows=rows,
            where=str(self.path),
            flat_names=self.image_names("flat"),
            dark_names=self.image_names("dark"),
        )
        self._refs_checked.add(key)
        if dead and not self._dead_reported:
            self._dead_reported = True
            logger.warning(
                "%s: %d dead pixel(s) with mean dark >= mean flat in rows %d..%d (reported once "
                "per file); their normalisation denominator is floored",
                self.path,
                dead,
                rows.start,
                rows.stop - 1,
            )

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
        return self._read_references("flat", self._num_flat_images, self._read_flats_into, rows)

    def read_darks(self, rows: RangeSpec = None) -> np.ndarray:
        """Read every dark image: like :meth:`read_flats`, float32 ``(n_dark_images,
        n_rows, nrays)`` raw counts, the first axis empty when the file holds no darks."""
        return self._read_references("dark", self._num_dark_images, self._read_darks_into, rows)

    def angles(self, proj: RangeSpec = None, *, angle_offset: float = 0.0, use_rot_angle: bool = False) -> np.ndarray:
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
        if not self._closed and self._h5 is not None:
            self._h5.close()
        self._closed = True

    @property
    def closed(self) -> bool:
        """True once the file is closed."""
        return self._closed or (self._h5 is not None and not self._h5)  # an h5py.File is falsy once closed

    def __enter__(self) -> RawScan:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {state} {self.meta.summary()}>"


#: Pixel size (mm) used when neither the file nor a ``pixel_size`` keyword gives one: 1 cm,
#: so that values written "in 1/cm" are in 1/pixel.
UNIT_PIXEL_MM = 10.0
#: Largest detector pixel size accepted (mm): the unit fallback itself; a larger one is a
#: unit mistake (metres, or micrometres given as mm for a huge value)
MAX_PIXEL_MM = UNIT_PIXEL_MM


def pixel_size_fallback(path: Path, recorded: float | None, key: str, keyword: float | None) -> tuple[float, str]:
    """The pixel size to use, in mm, and its source: ``"keyword"`` (``pixel_size`` given,
    wins over the file), ``"file"`` (the file's ``key``), or ``"none"`` (neither: a warning,
    and :data:`UNIT_PIXEL_MM`, so the output is in 1/pixel)."""
    if keyword is not None:
        value = float(keyword)
        if not (np.isfinite(value) and 0 < value <= MAX_PIXEL_MM):
            raise LayoutError(
                f"{path}: pixel_size={keyword!r}; expected a detector pixel size in mm (0 < size <= {MAX_PIXEL_MM:g})"
            )
        if recorded is not None and not np.isclose(recorded, value):
            logger.warning(
                "%s: pixel_size=%g mm given; the file records %s=%g mm (using %g)", path, value, key, recorded, value
            )
        return value, "keyword"
    if recorded is None:
        logger.warning(
            "%s: no detector pixel size (%s); reconstructions are in 1/pixel, not 1/cm "
            "(give pixel_size in mm to get 1/cm)",
            path,
            key,
        )
        return UNIT_PIXEL_MM, "none"
    if not recorded > 0:
        raise LayoutError(
            f"{path}: {key}={recorded!r}; expected a positive pixel size in mm (or give pixel_size in mm)"
        )
    return float(recorded), "file"
