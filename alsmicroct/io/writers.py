"""Writers of raw ALS 8.3.2 scan files, in both layouts the beamline has used.

:class:`RawScanWriter` streams one image at a time, so a 12 GB scan never sits in memory.
It writes to a temporary name next to the target and renames it on success; on an error
(or when images are missing) the partial file is removed.

Old ALS layout (about 2012-2021), written as the beamline did::

    /                        attrs dataset, owner, facility, end_station, stage,
                             stage_date, uuid (byte strings)
    /<ds>/                   attrs nangles, nslices, nrays, arange, pxsize (mm), i0cycle,
                             num_bright_field, num_dark_fields, senergy (eV),
                             Camera_Z_Support (mm), ... (byte strings ending in "\\r")
    /<ds>/<ds>_0000_<pppp>.tif           projection pppp, (1, nslices, nrays) uint16,
                                         optional attr rot_angle (deg, byte string)
    /<ds>/<ds>bak_<kkkk>_<pppp>.tif      flat kkkk of the group taken at projection pppp
    /<ds>/<ds>drk_<kkkk>_<pppp>.tif      dark kkkk, pppp = nangles - 1

Data Exchange layout (since about 2021): ``/exchange/{data,data_white,data_dark,theta}``
plus 1-element metadata arrays under ``/measurement`` and ``/process`` (see
:mod:`alsmicroct.io`).
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..checks import check_number, check_positive_int
from ..errors import OutputError, ParameterError, RangeError
from . import _common as c
from .atomic import replace_durably

__all__ = ["RawScanWriter", "write_scan"]

logger = logging.getLogger(__name__)

_LAYOUTS = ("als", "dxchange")


class RawScanWriter:
    """Write a raw scan file in the old ALS layout or the Data Exchange layout.

    Use as a context manager; every projection, flat and dark must be written before the
    ``with`` block ends, in any order.

    Parameters
    ----------
    path : str or Path
        Target file. Written as ``.<name>.<pid>.partial`` in the same folder and renamed
        on success.
    layout : {"als", "dxchange"}
        Old per-image layout or Data Exchange.
    dataset : str
        Dataset name (old layout: group and image-name prefix).
    nangles, nslices, nrays : int
        Number of projections, detector rows and detector columns.
    arange : float
        Angular range of the scan in degrees.
    pxsize_mm : float
        Detector pixel size in mm.
    i0cycle : int
        Flat groups are taken every ``i0cycle`` projections (and after the last one);
        0 means only before the first and after the last projection.
    num_flats : int
        Flat images per group (0 for none).
    num_darks : int
        Dark images (0 for none).
    energy_kev : float or None
        Beam energy in keV (stored in eV), None to omit.
    camera_distance_mm : float or None
        Sample-to-detector distance in mm, None to omit.
    angles_deg : array_like of float, optional
        Per-projection angles in degrees. Data Exchange: stored as ``/exchange/theta``
        (default ``linspace(0, arange, nangles)``), which the reader returns (plus the
        offset) as the reconstruction angle. Old layout: stored as the stage angle
        ``rot_angle`` of each projection; the reader then uses
        ``theta_i = 270 + angle_offset - rot_angle_0 - i * arange / (nangles - 1)`` by
        default and ``270 + angle_offset - rot_angle_i`` with ``use_rot_angle=True``.
        Omitted (no ``rot_angle`` attributes) when None.
    extra_attrs : mapping, optional
        Extra metadata. Old layout: extra group attributes (encoded like the others).
        Data Exchange: keys containing ``"/"`` become datasets at that path, others root
        attributes.
    owner : str
        Owner recorded in the file.
    omit_attrs : iterable of str
        Attribute names (old layout: group, root or ``"rot_angle"``) or metadata dataset
        paths / leaf names (Data Exchange, e.g. ``"i0cycle"`` or ``"exchange/theta"``)
        left out, to produce files that the reader must infer from.
    nest_group : str, optional
        Old layout only: put the dataset group one level deeper, under this group (as for
        tiled scans).

    Attributes
    ----------
    flat_positions : tuple of int
        Projection indices where flat groups are taken.

    Raises
    ------
    ParameterError
        Invalid parameters or image shapes/values.
    RangeError
        An image index outside its range.
    OutputError
        The target cannot be written, or images are missing at the end.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        layout: str = "als",
        dataset: str,
        nangles: int,
        nslices: int,
        nrays: int,
        arange: float,
        pxsize_mm: float,
        i0cycle: int = 0,
        num_flats: int = 5,
        num_darks: int = 5,
        energy_kev: float | None = 24.0,
        camera_distance_mm: float | None = 75.0,
        angles_deg: Iterable[float] | None = None,
        extra_attrs: Mapping[str, Any] | None = None,
        owner: str = "alsuser",
        omit_attrs: Iterable[str] = (),
        nest_group: str | None = None,
    ) -> None:
        if layout not in _LAYOUTS:
            raise ParameterError(f"RawScanWriter: layout={layout!r}; expected one of {_LAYOUTS}")
        if not isinstance(dataset, str) or not dataset or "/" in dataset:
            raise ParameterError(f"RawScanWriter: dataset={dataset!r}; expected a non-empty name without '/'")
        self.path = Path(path)
        self.layout = layout
        self.dataset = dataset
        self.nangles = check_positive_int(nangles, "RawScanWriter: nangles")
        self.nslices = check_positive_int(nslices, "RawScanWriter: nslices")
        self.nrays = check_positive_int(nrays, "RawScanWriter: nrays")
        self.arange = check_number(arange, "RawScanWriter: arange", minimum=0.0, strict=True)
        self.pxsize_mm = check_number(pxsize_mm, "RawScanWriter: pxsize_mm", minimum=0.0, strict=True)
        self.i0cycle = check_positive_int(i0cycle, "RawScanWriter: i0cycle", minimum=0)
        self.num_flats = check_positive_int(num_flats, "RawScanWriter: num_flats", minimum=0)
        self.num_darks = check_positive_int(num_darks, "RawScanWriter: num_darks", minimum=0)
        self.energy_kev = check_number(
            energy_kev, "RawScanWriter: energy_kev", minimum=0.0, strict=True, allow_none=True
        )
        self.camera_distance_mm = check_number(
            camera_distance_mm, "RawScanWriter: camera_distance_mm", minimum=0.0, strict=True, allow_none=True
        )
        self.owner = str(owner)
        self.extra_attrs = dict(extra_attrs or {})
        self.omit_attrs = frozenset(str(a).strip("/") for a in omit_attrs)
        if nest_group is not None and (layout != "als" or not nest_group or "/" in nest_group):
            raise ParameterError(
                f"RawScanWriter: nest_group={nest_group!r}; expected a group name without '/' and layout='als'"
            )
        self.nest_group = nest_group
        self.angles_deg = None
        if angles_deg is not None:
            ang = np.asarray(angles_deg, dtype=np.float64).reshape(-1)
            if ang.size != self.nangles or not np.all(np.isfinite(ang)):
                raise ParameterError(
                    f"RawScanWriter: angles_deg has {ang.size} values; expected {self.nangles} finite angles in degrees"
                )
            self.angles_deg = ang
        self.flat_positions: tuple[int, ...] = (
            c.expected_flat_positions(self.nangles, self.i0cycle) if self.num_flats else ()
        )
        self._group_of_position = {p: g for g, p in enumerate(self.flat_positions)}
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        self._file: h5py.File | None = None
        self._done_proj = np.zeros(self.nangles, dtype=bool)
        self._done_flat = np.zeros((len(self.flat_positions), self.num_flats), dtype=bool)
        self._done_dark = np.zeros(self.num_darks, dtype=bool)
        self._group: h5py.Group | None = None

    # ------------------------------------------------------------------ context manager
    def __enter__(self) -> RawScanWriter:
        if not self.path.parent.is_dir():
            raise OutputError(f"RawScanWriter: folder {self.path.parent} of {self.path} does not exist")
        try:
            self._file = h5py.File(self._tmp, "w")
        except OSError as exc:
            raise OutputError(f"RawScanWriter: cannot create {self._tmp}: {exc}") from exc
        try:
            if self.layout == "als":
                self._init_als()
            else:
                self._init_dx()
        except BaseException:
            self._abort()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._abort()
            return
        missing = self._missing()
        if missing:
            self._abort()
            raise OutputError(f"RawScanWriter: {self.path} not written; images missing: {missing}")
        try:
            self._file.close()
            self._file = None
            replace_durably(self._tmp, self.path)
        except OSError as exc:
            self._abort()
            raise OutputError(f"RawScanWriter: cannot finish {self.path}: {exc}") from exc
        logger.info("wrote %s (%s layout, %d projections)", self.path, self.layout, self.nangles)

    def _abort(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except Exception:  # closing a broken file must not mask the original error
                logger.debug("closing %s failed", self._tmp, exc_info=True)
            self._file = None
        self._tmp.unlink(missing_ok=True)

    def _missing(self) -> str:
        parts = []
        for label, done in (
            ("projections", self._done_proj),
            ("darks", self._done_dark),
        ):
            idx = np.flatnonzero(~done)
            if idx.size:
                parts.append(f"{label} {idx[:10].tolist()}{'...' if idx.size > 10 else ''}")
        g, k = np.nonzero(~self._done_flat)
        if g.size:
            pairs = [(self.flat_positions[gi], int(ki)) for gi, ki in zip(g[:10], k[:10], strict=False)]
            parts.append(f"flats (position, k) {pairs}{'...' if g.size > 10 else ''}")
        return "; ".join(parts)

    # ------------------------------------------------------------------ metadata
    def _omitted(self, key: str) -> bool:
        return key in self.omit_attrs or key.rsplit("/", 1)[-1] in self.omit_attrs

    def _init_als(self) -> None:
        f = self._file
        root = {
            "dataset": self.dataset,
            "owner": self.owner,
            "facility": "als",
            "end_station": "bl832",
            "stage": "raw",
            "stage_date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
            "uuid": str(uuid.uuid4()),
        }
        for key, value in root.items():
            if not self._omitted(key):
                f.attrs[key] = np.bytes_(value.encode("utf-8"))
        parent = f.create_group(self.nest_group) if self.nest_group else f
        self._group = parent.create_group(self.dataset)
        attrs: dict[str, Any] = {
            c.ALS_ATTR_NANGLES: self.nangles,
            c.ALS_ATTR_NSLICES: self.nslices,
            c.ALS_ATTR_NRAYS: self.nrays,
            c.ALS_ATTR_ARANGE: self.arange,
            c.ALS_ATTR_PXSIZE: self.pxsize_mm,
            c.ALS_ATTR_I0CYCLE: self.i0cycle,
            c.ALS_ATTR_NFLATS: self.num_flats,
            c.ALS_ATTR_NDARKS: self.num_darks,
            "object": self.dataset,
            "owner": self.owner,
            "scanner": "ALS 8.3.2",
            "projection_mode": "continuous",
            "dark_num_avg_of": 1,
            "bright_num_avg_of": 1,
            "time_stamp": _dt.datetime.now().strftime("%m/%d/%Y %H:%M:%S"),
        }
        if self.energy_kev is not None:
            attrs[c.ALS_ATTR_ENERGY] = self.energy_kev * 1000.0
        if self.camera_distance_mm is not None:
            attrs[c.ALS_ATTR_CAMERA_Z] = self.camera_distance_mm
        attrs.update(self.extra_attrs)
        for key, value in attrs.items():
            if not self._omitted(key):
                self._group.attrs[key] = c.encode_als_attr(value)

    def _dx_scalar(self, path: str, value: Any) -> None:
        if self._omitted(path):
            return
        if isinstance(value, str):
            data = np.array([value.encode("utf-8")])
        else:
            data = np.array([value])
        self._file.create_dataset(path, data=data)

    def _init_dx(self) -> None:
        f = self._file
        shape = (self.nangles, self.nslices, self.nrays)
        f.create_dataset("implements", data=np.bytes_(b"exchange:measurement:process"))
        self._data = f.create_dataset(c.DX_DATA, shape=shape, dtype="<u2")
        nwhite = len(self.flat_positions) * self.num_flats
        self._white = f.create_dataset(c.DX_WHITE, shape=(nwhite, self.nslices, self.nrays), dtype="<u2")
        self._dark = f.create_dataset(c.DX_DARK, shape=(self.num_darks, self.nslices, self.nrays), dtype="<u2")
        theta = self.angles_deg
        if theta is None:
            theta = np.linspace(0.0, self.arange, self.nangles)
        if not self._omitted(c.DX_THETA):
            f.create_dataset(c.DX_THETA, data=theta.astype(np.float64))
        scalars: list[tuple[str, Any]] = [
            (c.DX_DIM_X, np.int64(self.nrays)),
            (c.DX_DIM_Y, np.int64(self.nslices)),
            (c.DX_PIXEL_SIZE, np.float64(self.pxsize_mm)),
            (c.DX_NUM_ANGLES, np.int64(self.nangles)),
            (c.DX_RANGE, np.float64(self.arange)),
            (c.DX_I0CYCLE, np.int64(self.i0cycle)),
            (c.DX_NUM_FLATS, np.int64(self.num_flats)),
            (c.DX_NUM_DARKS, np.int64(self.num_darks)),
            (c.DX_SAMPLE_NAME, self.dataset),
            (c.DX_EXPERIMENTER, self.owner),
        ]
        if self.energy_kev is not None:
            scalars.append((c.DX_ENERGY, np.float64(self.energy_kev * 1000.0)))
        if self.camera_distance_mm is not None:
            scalars.append((c.DX_CAMERA_DISTANCE, np.float64(self.camera_distance_mm)))
        for path, value in scalars:
            self._dx_scalar(path, value)
        for key, value in self.extra_attrs.items():
            if "/" in key.strip("/"):
                self._dx_scalar(key.strip("/"), value)
            elif not self._omitted(key):
                f.attrs[key] = np.bytes_(str(value).encode("utf-8"))

    # ------------------------------------------------------------------ images
    def _image(self, image: Any, what: str) -> np.ndarray:
        if self._file is None:
            raise OutputError(f"RawScanWriter: {self.path} is not open; use 'with RawScanWriter(...) as w'")
        arr = np.asarray(image)
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.shape != (self.nslices, self.nrays):
            raise ParameterError(
                f"RawScanWriter: {what} of {self.path} has shape {arr.shape}; expected "
                f"({self.nslices}, {self.nrays}) (nslices, nrays)"
            )
        if arr.dtype == np.uint16:
            return np.ascontiguousarray(arr)
        if arr.dtype.kind not in "uifb":
            raise ParameterError(f"RawScanWriter: {what} of {self.path} has dtype {arr.dtype}; expected numbers")
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)):
                raise ParameterError(f"RawScanWriter: {what} of {self.path} has NaN/inf values")
            arr = np.rint(arr)
        lo, hi = (arr.min(), arr.max()) if arr.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise ParameterError(
                f"RawScanWriter: {what} of {self.path} has values in [{lo}, {hi}]; expected 0..65535 (uint16)"
            )
        return arr.astype(np.uint16)

    def _put_als(self, name: str, img: np.ndarray, rot_angle: float | None = None) -> None:
        if name in self._group:
            self._group[name][0] = img
        else:
            dset = self._group.create_dataset(name, data=img[np.newaxis], dtype="<u2")
            if rot_angle is not None and not self._omitted(c.ALS_ATTR_ROT_ANGLE):
                dset.attrs[c.ALS_ATTR_ROT_ANGLE] = c.encode_als_attr(rot_angle)

    @staticmethod
    def _check_index(name: str, value: Any, n: int, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value < n:
            raise RangeError(f"RawScanWriter: {where}: {name}={value!r}; expected 0 <= {name} < {n}")
        return int(value)

    def write_projection(self, i: int, image: Any) -> None:
        """Write projection ``i`` (``0 <= i < nangles``): a ``(nslices, nrays)`` image of
        counts, uint16 or castable to it (floats are rounded)."""
        i = self._check_index("i", i, self.nangles, f"projection of {self.path}")
        img = self._image(image, f"projection {i}")
        if self.layout == "als":
            rot = None if self.angles_deg is None else float(self.angles_deg[i])
            self._put_als(c.ALS_PROJ_FMT.format(ds=self.dataset, i=i), img, rot)
        else:
            self._data[i] = img
        self._done_proj[i] = True

    def write_flat(self, position: int, k: int, image: Any) -> None:
        """Write flat ``k`` (``0 <= k < num_flats``) of the group taken at projection
        ``position`` (one of :attr:`flat_positions`)."""
        if position not in self._group_of_position:
            raise RangeError(
                f"RawScanWriter: flat of {self.path}: position={position!r}; expected one of {self.flat_positions}"
            )
        g = self._group_of_position[position]
        k = self._check_index("k", k, self.num_flats, f"flat at {position} of {self.path}")
        img = self._image(image, f"flat {k} at projection {position}")
        if self.layout == "als":
            self._put_als(c.ALS_FLAT_FMT.format(ds=self.dataset, k=k, p=int(position)), img)
        else:
            self._white[g * self.num_flats + k] = img
        self._done_flat[g, k] = True

    def write_dark(self, k: int, image: Any) -> None:
        """Write dark ``k`` (``0 <= k < num_darks``)."""
        k = self._check_index("k", k, self.num_darks, f"dark of {self.path}")
        img = self._image(image, f"dark {k}")
        if self.layout == "als":
            name = c.ALS_DARK_FMT.format(ds=self.dataset, k=k, p=self.nangles - 1)
            self._put_als(name, img)
        else:
            self._dark[k] = img
        self._done_dark[k] = True


def write_scan(
    path: str | os.PathLike,
    projections: Any,
    flats: Any,
    darks: Any,
    **kwargs: Any,
) -> tuple[int, ...]:
    """Write whole image stacks with :class:`RawScanWriter` (small scans, tests, conversion).

    Parameters
    ----------
    path : str or path-like
        Target file.
    projections : array_like, shape (nangles, nslices, nrays)
        Projection counts (uint16 or castable).
    flats : array_like, shape (len(flat_positions) * num_flats, nslices, nrays)
        Flat images, grouped by position (all flats of the group at position 0 first, in
        ``k`` order, then the next group...). ``num_flats`` is taken from ``kwargs`` (default
        5); the number of groups follows from ``nangles`` and ``i0cycle``.
    darks : array_like, shape (num_darks, nslices, nrays)
        Dark images.
    **kwargs
        Keyword arguments of :class:`RawScanWriter` other than ``nangles``, ``nslices``,
        ``nrays`` and ``num_darks`` (taken from the arrays).

    Returns
    -------
    tuple of int
        The flat positions.
    """
    proj = np.asarray(projections)
    flats = np.asarray(flats)
    darks = np.asarray(darks)
    if proj.ndim != 3:
        raise ParameterError(
            f"write_scan: projections for {path} have shape {proj.shape}; expected (nangles, nslices, nrays)"
        )
    nangles, nslices, nrays = proj.shape
    with RawScanWriter(path, nangles=nangles, nslices=nslices, nrays=nrays, num_darks=len(darks), **kwargs) as w:
        expected = len(w.flat_positions) * w.num_flats
        if len(flats) != expected:
            raise ParameterError(
                f"write_scan: {len(flats)} flats for {path}; expected {expected} "
                f"({w.num_flats} at each of positions {w.flat_positions})"
            )
        for i, image in enumerate(proj):
            w.write_projection(i, image)
        for j, image in enumerate(flats):
            w.write_flat(w.flat_positions[j // w.num_flats], j % w.num_flats, image)
        for k, image in enumerate(darks):
            w.write_dark(k, image)
        return w.flat_positions
