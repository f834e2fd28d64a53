"""Reader of the Data Exchange layout used at ALS 8.3.2 since about 2021.

``/exchange/data`` (nangles, rows, cols) uint16, ``/exchange/data_white``,
``/exchange/data_dark``, ``/exchange/theta`` (deg); metadata as 1-element arrays under
``/measurement`` and ``/process`` (pixel size and camera distance in mm, energy in eV).

Data Exchange does not record where each flat was taken: flat ``j`` of ``n`` is assigned
to the groups ``0, i0cycle, 2 i0cycle, ..., nangles - 1`` in order, ``num_flat_fields``
per group.
"""

from __future__ import annotations

import logging
from typing import Any

import h5py
import numpy as np

from ..errors import LayoutError
from . import _common as c
from ._base import RawScan
from .metadata import ScanMetadata

__all__ = ["DxScan"]

logger = logging.getLogger(__name__)

_SMALL = 64  # datasets with at most this many elements are metadata


class DxScan(RawScan):
    """Open Data Exchange scan. See :class:`alsmicroct.io.RawScan` for the API."""

    layout = "dxchange"

    def _dataset(self, key: str, *, required: bool) -> h5py.Dataset | None:
        obj = self._h5.get(key)
        if obj is None or not isinstance(obj, h5py.Dataset):
            if required:
                raise LayoutError(f"{self.path}: Data Exchange dataset '/{key}' is missing (or not a dataset)")
            return None
        return obj

    def _image_stack(self, key: str, shape: tuple[int, ...]) -> h5py.Dataset | None:
        dset = self._dataset(key, required=False)
        if dset is None:
            logger.warning("%s: no '/%s'; treated as empty", self.path, key)
            return None
        if dset.ndim != 3 or dset.shape[1:] != shape[1:]:
            raise LayoutError(
                f"{self.path}: '/{key}' has shape {dset.shape}; expected (n, {shape[1]}, {shape[2]}) like /{c.DX_DATA}"
            )
        return dset

    def _small_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {k: c.decode_value(v) for k, v in self._h5.attrs.items()}

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset) and obj.size <= _SMALL and not name.startswith("exchange/"):
                values[name] = c.decode_value(obj[()])

        self._h5.visititems(visit)
        return values

    def _number(self, values: dict, key: str, *, integer: bool = False, required: str = ""):
        """A numeric metadata value; None when absent or malformed, unless ``required``
        (then LayoutError)."""
        value = values.get(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
        if ok and integer and float(value).is_integer():
            value = int(value)
        elif ok and integer:
            ok = False
        if ok:
            return value
        kind = "an integer" if integer else "a number"
        if required:
            what = "missing" if value is None else f"{value!r}"
            raise LayoutError(f"{self.path}: Data Exchange '/{key}' is {what}; expected {kind} ({required})")
        if value is not None:
            logger.warning("%s: /%s=%r is not %s; ignored", self.path, key, value, kind)
        return None

    def _flat_assignment(
        self, nwhite: int, nangles: int, i0cycle: int, num_flats: int | None
    ) -> tuple[np.ndarray, int, tuple[int, ...]]:
        if nwhite == 0:
            return np.zeros(0, dtype=np.int64), num_flats or 0, ()
        positions = c.expected_flat_positions(nangles, i0cycle)
        ngroups = len(positions)
        if num_flats and nwhite % num_flats == 0 and nwhite // num_flats <= ngroups:
            used = nwhite // num_flats
            if used < ngroups:
                logger.warning(
                    "%s: %d flats = %d groups of %d, fewer than the %d groups of i0cycle=%d; "
                    "assigned to the first groups",
                    self.path,
                    nwhite,
                    used,
                    num_flats,
                    ngroups,
                    i0cycle,
                )
            idx = np.asarray([positions[j // num_flats] for j in range(nwhite)], dtype=np.int64)
            return idx, num_flats, positions[:used]
        if nwhite % ngroups:
            logger.warning(
                "%s: %d flats do not split into %d groups; assigned in proportion",
                self.path,
                nwhite,
                ngroups,
            )
        idx = np.asarray([positions[j * ngroups // nwhite] for j in range(nwhite)], np.int64)
        per = int(np.bincount(np.searchsorted(positions, idx)).max())
        return idx, per, tuple(sorted(set(idx.tolist())))

    def _build_meta(self) -> ScanMetadata:
        data = self._dataset(c.DX_DATA, required=True)
        if data.ndim != 3 or data.dtype.kind not in "uif":
            raise LayoutError(
                f"{self.path}: '/{c.DX_DATA}' has shape {data.shape} dtype {data.dtype}; "
                f"expected (nangles, rows, cols) uint16"
            )
        nangles, nslices, nrays = (int(n) for n in data.shape)
        if min(nangles, nslices, nrays) == 0:
            raise LayoutError(f"{self.path}: '/{c.DX_DATA}' is empty (shape {data.shape})")
        self._data = data
        self._white = self._image_stack(c.DX_WHITE, data.shape)
        self._dark = self._image_stack(c.DX_DARK, data.shape)
        values = self._small_values()
        self._warn_mismatches(
            values,
            ((c.DX_NUM_ANGLES, nangles), (c.DX_DIM_Y, nslices), (c.DX_DIM_X, nrays)),
            f"%s: /%s=%r differs from /{c.DX_DATA} shape (%d); using the data",
        )

        arange = self._number(values, c.DX_RANGE)
        theta_ds = self._dataset(c.DX_THETA, required=False)
        if theta_ds is not None:
            theta = np.asarray(theta_ds[()], dtype=np.float64).reshape(-1)
            if theta.size != nangles:
                raise LayoutError(
                    f"{self.path}: '/{c.DX_THETA}' has {theta.size} angles; expected "
                    f"{nangles} (one per projection of /{c.DX_DATA})"
                )
            if arange is None:
                arange = abs(float(theta[-1] - theta[0])) if nangles > 1 else 0.0
        else:
            if arange is None:
                arange = 180.0
                logger.warning(
                    "%s: neither /%s nor /%s; assuming a 180 deg scan (as TomoPy's angles() "
                    "does); give anglelist if it is not",
                    self.path,
                    c.DX_THETA,
                    c.DX_RANGE,
                )
            theta = np.linspace(0.0, float(arange), nangles)
            logger.warning(
                "%s: no /%s; assuming %d angles evenly from 0 to %g deg (both included)",
                self.path,
                c.DX_THETA,
                nangles,
                arange,
            )
        self._theta = theta
        self._warn_short_range(theta)
        pxsize, pxsource = self._pixel_size(self._number(values, c.DX_PIXEL_SIZE), f"/{c.DX_PIXEL_SIZE}")
        i0cycle = self._number(values, c.DX_I0CYCLE, integer=True)
        num_flats = self._number(values, c.DX_NUM_FLATS, integer=True)
        nwhite = 0 if self._white is None else int(self._white.shape[0])
        if i0cycle is None:
            i0cycle = self._infer_i0cycle(nwhite, nangles, num_flats)
        idx, per_group, positions = self._flat_assignment(nwhite, nangles, i0cycle, num_flats)
        self._flat_indices = idx
        ndark = 0 if self._dark is None else int(self._dark.shape[0])
        ndark_attr = self._number(values, c.DX_NUM_DARKS, integer=True)
        if ndark_attr is not None and ndark_attr != ndark:
            logger.warning(
                "%s: num_dark_fields=%d but /%s holds %d; using the images",
                self.path,
                ndark_attr,
                c.DX_DARK,
                ndark,
            )
        energy = self._number(values, c.DX_ENERGY)
        name = values.get(c.DX_SAMPLE_NAME)
        return ScanMetadata(
            path=self.path,
            dataset=str(name) if isinstance(name, str) and name else self.path.stem,
            layout=self.layout,
            nangles=nangles,
            nslices=nslices,
            nrays=nrays,
            arange=float(arange),
            pxsize_mm=float(pxsize),
            i0cycle=int(i0cycle),
            num_flats=int(per_group),
            num_darks=ndark,
            flat_positions=positions,
            energy_kev=None if energy is None else float(energy) / 1000.0,
            camera_distance_mm=self._number(values, c.DX_CAMERA_DISTANCE),
            rot_angles=theta,
            first_angle=float(theta[0]),
            attrs=values,
            pxsize_source=pxsource,
        )

    def _warn_short_range(self, theta: np.ndarray) -> None:
        """Warn when the angles cover clearly less than 180 deg (a limited-angle scan
        reconstructs with streaks; nothing is refused)."""
        if theta.size < 2:
            return
        span = float(np.ptp(theta))
        step = span / (theta.size - 1)
        if span + 1.5 * step < 180.0:
            radians = (
                "; the values look like radians (at most 2 pi): Data Exchange stores degrees, so give the angles "
                "with anglelist (radians, one per projection)"
                if 0.0 < span <= 2.0 * np.pi * 1.001 and theta.size > 2
                else ""
            )
            logger.warning(
                "%s: /%s covers %.4g deg (%d angles); a reconstruction needs 180 deg, so "
                "expect limited-angle artefacts (the centre method 'pc' needs a 180 deg pair)%s",
                self.path,
                c.DX_THETA,
                span,
                theta.size,
                radians,
            )

    def _infer_i0cycle(self, nwhite: int, nangles: int, num_flats: int | None) -> int:
        """An i0cycle whose flat groups match the number of flats (0 if none does).

        Several periods can give the same number of groups; operators choose round ones
        (100, 200, ...), so the candidate with the most trailing decimal zeros wins, then
        the smallest.
        """
        if not num_flats or nwhite % num_flats or nwhite // num_flats <= 2:
            return 0
        ngroups = nwhite // num_flats
        fits = [cycle for cycle in range(1, nangles) if len(c.expected_flat_positions(nangles, cycle)) == ngroups]
        if not fits:
            return 0
        best = max(fits, key=lambda n: (len(str(n)) - len(str(n).rstrip("0")), -n))
        log = logger.warning if len(fits) > 1 else logger.info
        log(
            "%s: no i0cycle recorded; %d flat groups fit i0cycle %d..%d; using %d",
            self.path,
            ngroups,
            fits[0],
            fits[-1],
            best,
        )
        return best

    # ------------------------------------------------------------------ reading
    def image_names(self, kind: str, indices: range | None = None) -> list[str]:
        """``/exchange/data[i]``, ``/exchange/data_white[k]``, ``/exchange/data_dark[k]``."""
        key, count = {
            "projection": (c.DX_DATA, int(self._data.shape[0])),
            "flat": (c.DX_WHITE, self._num_flat_images()),
            "dark": (c.DX_DARK, self._num_dark_images()),
        }[kind]
        return [f"/{key}[{i}]" for i in (range(count) if indices is None else indices)]

    def _stored_float(self, kind: str) -> bool:
        dset = {"projection": self._data, "flat": self._white, "dark": self._dark}[kind]
        return dset is not None and dset.dtype.kind == "f"

    def _read_proj_into(self, out: np.ndarray, proj: range, rows: range) -> None:
        sel = (
            slice(proj.start, proj.stop, proj.step),
            slice(rows.start, rows.stop, rows.step),
            slice(None),
        )
        self._read_block(self._data, out, sel)

    def _read_flats_into(self, out: np.ndarray, rows: range) -> None:
        self._read_block(self._white, out, (slice(None), slice(rows.start, rows.stop, rows.step)))

    def _read_darks_into(self, out: np.ndarray, rows: range) -> None:
        self._read_block(self._dark, out, (slice(None), slice(rows.start, rows.stop, rows.step)))

    def _num_dark_images(self) -> int:
        return 0 if self._dark is None else int(self._dark.shape[0])

    def _angles_deg(self, angle_offset: float, use_rot_angle: bool) -> np.ndarray:
        return self._theta + angle_offset
