"""Reader of the old ALS 8.3.2 layout (about 2012-2021): one HDF5 dataset per image.

The root holds a group named after the dataset (sometimes one level deeper, as for tiled
scans) with one ``(1, nslices, nrays)`` uint16 dataset per image:

- projections ``<ds>_0000_<pppp>.tif``,
- flats ``<ds>bak_<kkkk>_<pppp>.tif`` (``kkkk`` within the group taken at projection
  ``pppp``: 0, i0cycle, 2 i0cycle, ... and nangles - 1),
- darks ``<ds>drk_<kkkk>_<pppp>.tif`` (``pppp = nangles - 1``).

Group attributes are byte strings ending in ``"\\r"``. Missing ``nangles``, ``nslices``,
``nrays``, ``i0cycle``, ``num_bright_field`` and ``num_dark_fields`` are inferred from the
image names and shapes; the images present always decide what is read.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import h5py
import numpy as np

from ..errors import InputFileError, LayoutError
from . import _common as c
from ._base import RawScan
from .metadata import ScanMetadata

__all__ = ["AlsScan"]

logger = logging.getLogger(__name__)

_MAX_DEPTH = 3


def _names_list(names: list[str], limit: int = 5) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


def _datasets(group: h5py.Group, names: list[str]) -> list[Any]:
    """The members ``names`` of ``group``, opened as datasets directly (``group[name]`` first
    asks HDF5 what each member is: ~3x the time over a scan's thousands of images); a member
    that is not a dataset comes as ``group[name]`` gives it (the shape checks then name it)."""
    out = []
    for name in names:
        try:
            out.append(h5py.Dataset(h5py.h5d.open(group.id, name.encode())))
        except (KeyError, OSError, ValueError, TypeError):
            out.append(group[name])
    return out


class AlsScan(RawScan):
    """Open old-layout ALS scan. See :class:`alsmicroct.io.RawScan` for the API."""

    layout = "als"

    # ------------------------------------------------------------------ discovery
    def _find_image_group(self, root_dataset: str | None) -> h5py.Group:
        """Breadth-first search (3 levels) for groups holding ALS image datasets."""
        found: list[h5py.Group] = []
        frontier: list[tuple[h5py.Group, int]] = [(self._h5, 0)]
        while frontier:
            group, depth = frontier.pop(0)
            names = list(group.keys())
            if group.name != "/" and any(c.ALS_IMAGE_RE.match(n) for n in names):
                found.append(group)
                continue
            if depth >= _MAX_DEPTH:
                continue
            for name in names:
                if group.get(name, getclass=True) is h5py.Group:
                    frontier.append((group[name], depth + 1))
        if not found:
            raise LayoutError(
                f"{self.path}: neither a Data Exchange '/exchange/data' dataset nor an ALS "
                f"group of images named '<dataset>_0000_<nnnn>.tif' (searched {_MAX_DEPTH} "
                f"levels below the root); root holds {_names_list(list(self._h5.keys()))}"
            )
        if len(found) > 1:
            named = [g for g in found if g.name.rsplit("/", 1)[-1] == root_dataset]
            if len(named) != 1:
                raise LayoutError(
                    f"{self.path}: several groups hold ALS images "
                    f"({_names_list([g.name for g in found])}); expected one (or one named "
                    f"after the root attribute dataset={root_dataset!r})"
                )
            found = named
        return found[0]

    def _dataset_prefix(self, names: list[str], candidates: list[str]) -> str:
        """The image-name prefix: the first candidate (group name, root attribute
        ``dataset``) that projections use, else the most common prefix of names that are
        not flats/darks."""
        for cand in candidates:
            if cand:
                rx = c.als_image_regex(cand)
                if any((m := rx.match(n)) and not m["kind"] for n in names):
                    return cand
        prefixes = Counter(m["prefix"] for m in map(c.ALS_IMAGE_RE.match, names) if m and not m["kind"])
        if not prefixes:
            prefixes = Counter(m["prefix"] for m in map(c.ALS_IMAGE_RE.match, names) if m)
        return prefixes.most_common(1)[0][0]

    def _classify(
        self, group: h5py.Group, names: list[str], ds: str
    ) -> tuple[dict[int, str], dict[tuple[int, int], str], dict[int, str]]:
        """Sort image names into projections ``{index: name}``, flats ``{(position, k):
        name}`` and darks ``{k: name}``."""
        rx = c.als_image_regex(ds)
        proj: dict[int, str] = {}
        flats: dict[tuple[int, int], str] = {}
        darks: dict[int, str] = {}
        series: set[int] = set()
        other: list[str] = []
        for name in names:
            m = rx.match(name)
            if m is None:
                other.append(name)
                continue
            a, b = int(m["a"]), int(m["b"])
            if m["kind"] is None:
                series.add(a)
                proj[b] = name
            elif m["kind"] == "bak":
                flats[(b, a)] = name
            else:
                darks[a] = name
        if len(series) > 1:
            raise LayoutError(
                f"{self.path}: group {group.name!r} holds several projection series "
                f"{sorted(series)} ('{ds}_<series>_<nnnn>.tif'); expected one"
            )
        if other:
            logger.debug("%s: ignoring %d other members of %s", self.path, len(other), group.name)
        if not proj:
            raise LayoutError(f"{self.path}: group {group.name!r} holds no projection images '{ds}_0000_<nnnn>.tif'")
        return proj, flats, darks

    # ------------------------------------------------------------------ attributes
    def _int_attr(self, attrs: dict, key: str, group: str) -> int | None:
        """A count attribute; None when absent or unusable (the caller infers it from the
        images, so a malformed count is not fatal)."""
        value = attrs.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or value < 0:
            logger.warning(
                "%s: group %r attribute %r=%r is not a non-negative integer; inferring it from the images",
                self.path,
                group,
                key,
                value,
            )
            return None
        return value

    def _float_attr(self, attrs: dict, key: str, group: str, *, required: str = "") -> float | None:
        value = attrs.get(key)
        if value is None or value == "":
            if required:
                raise LayoutError(
                    f"{self.path}: group {group!r} lacks attribute {key!r} ({required}); it "
                    f"cannot be inferred from the images"
                )
            return None
        if isinstance(value, int | float) and np.isfinite(value):
            return float(value)
        if required:
            raise LayoutError(
                f"{self.path}: group {group!r} attribute {key!r}={value!r}; expected a number ({required})"
            )
        logger.warning("%s: attribute %r=%r is not a number; ignored", self.path, key, value)
        return None

    def _check_shapes(self, dsets: list[h5py.Dataset]) -> tuple[int, ...]:
        shape0 = dsets[0].shape
        if not (len(shape0) == 2 or (len(shape0) == 3 and shape0[0] == 1)):
            raise LayoutError(f"{self.path}: image {dsets[0].name!r} has shape {shape0}; expected (1, nslices, nrays)")
        for d in dsets:
            if d.shape != shape0:
                raise LayoutError(
                    f"{self.path}: image {d.name!r} has shape {d.shape}; expected {shape0} like {dsets[0].name!r}"
                )
            if d.dtype.kind not in "uif":
                raise LayoutError(f"{self.path}: image {d.name!r} has dtype {d.dtype}; expected uint16")
        return shape0

    def _rot_angles(self, dsets: list[h5py.Dataset]) -> tuple[np.ndarray | None, float]:
        key = c.ALS_ATTR_ROT_ANGLE
        if key not in dsets[0].attrs:
            return None, 0.0
        values = []
        for d in dsets:
            raw = d.attrs.get(key)
            if raw is None:
                logger.warning(
                    "%s: %s lacks %r although the first projection has it; rot_angles unused",
                    self.path,
                    d.name,
                    key,
                )
                return None, float(values[0])
            value = c.decode_value(raw)
            if not isinstance(value, int | float):
                raise LayoutError(
                    f"{self.path}: dataset {d.name!r} attribute {key!r}={value!r}; expected an angle in degrees"
                )
            values.append(float(value))
        return np.asarray(values, dtype=np.float64), values[0]

    # ------------------------------------------------------------------ metadata
    def _build_meta(self) -> ScanMetadata:
        root_attrs = {k: c.decode_value(v) for k, v in self._h5.attrs.items()}
        root_ds = root_attrs.get("dataset")
        group = self._find_image_group(str(root_ds) if root_ds is not None else None)
        gname = group.name
        attrs_g = {k: c.decode_value(v) for k, v in group.attrs.items()}
        names = list(group.keys())
        ds = self._dataset_prefix(names, [gname.rsplit("/", 1)[-1], "" if root_ds is None else str(root_ds)])
        proj, flats, darks = self._classify(group, names, ds)

        # projections and nangles
        nangles = self._int_attr(attrs_g, c.ALS_ATTR_NANGLES, gname)
        if nangles is None:
            nangles = max(proj) + 1
            logger.info("%s: nangles inferred from the images: %d", self.path, nangles)
        missing = [i for i in range(nangles) if i not in proj]
        if missing:
            raise LayoutError(
                f"{self.path}: group {gname!r} (nangles={nangles}) lacks projection images "
                f"{_names_list([c.ALS_PROJ_FMT.format(ds=ds, i=i) for i in missing])}"
            )
        extra = sorted(i for i in proj if i >= nangles)
        if extra:
            logger.warning("%s: %d projection images beyond nangles=%d ignored", self.path, len(extra), nangles)
        self._proj = _datasets(group, [proj[i] for i in range(nangles)])

        # flats, grouped by position, and darks
        flat_keys = sorted(flats)
        self._flats = _datasets(group, [flats[key] for key in flat_keys])
        self._flat_indices = np.array([p for p, _ in flat_keys], dtype=np.int64)
        positions = tuple(sorted({p for p, _ in flat_keys}))
        per_group = Counter(p for p, _ in flat_keys)
        num_flats = max(per_group.values(), default=0)
        if len(set(per_group.values())) > 1:
            logger.warning("%s: flat groups of unequal size %s", self.path, dict(per_group))
        self._darks = _datasets(group, [darks[k] for k in sorted(darks)])

        shape = self._check_shapes(self._proj + self._flats + self._darks)
        self._sel_prefix: tuple = (0,) if len(shape) == 3 else ()
        nslices, nrays = shape[-2:]
        self._warn_mismatches(
            attrs_g,
            ((c.ALS_ATTR_NSLICES, nslices), (c.ALS_ATTR_NRAYS, nrays)),
            "%s: attribute %s=%r differs from the image shape (%d); using the images",
        )

        i0cycle = self._int_attr(attrs_g, c.ALS_ATTR_I0CYCLE, gname)
        if i0cycle is None:
            i0cycle = c.infer_i0cycle(nangles, positions)
            logger.info("%s: i0cycle inferred from the flat names: %d", self.path, i0cycle)
        elif positions and positions != c.expected_flat_positions(nangles, i0cycle):
            logger.warning(
                "%s: flats taken at projections %s, not where i0cycle=%d puts them; using the images",
                self.path,
                positions,
                i0cycle,
            )
        self._check_count(attrs_g, c.ALS_ATTR_NFLATS, num_flats, gname)
        self._check_count(attrs_g, c.ALS_ATTR_NDARKS, len(self._darks), gname)

        rot_angles, first_angle = self._rot_angles(self._proj)
        arange = self._float_attr(attrs_g, c.ALS_ATTR_ARANGE, gname)
        if arange is None:
            if rot_angles is None or nangles < 2:
                raise LayoutError(
                    f"{self.path}: group {gname!r} lacks attribute 'arange' (angular range, "
                    f"deg) and the projections carry no rot_angle to infer it from"
                )
            arange = abs(float(rot_angles[-1] - rot_angles[0]))
            logger.info("%s: arange inferred from rot_angle: %g deg", self.path, arange)
        if arange <= 0:
            raise LayoutError(
                f"{self.path}: group {gname!r} attribute 'arange'={arange!r}; expected a "
                f"positive angular range in degrees"
            )
        pxsize, pxsource = self._pixel_size(
            self._float_attr(attrs_g, c.ALS_ATTR_PXSIZE, gname),
            f"group {gname!r} attribute {c.ALS_ATTR_PXSIZE!r}",
        )
        energy_ev = self._float_attr(attrs_g, c.ALS_ATTR_ENERGY, gname)
        all_attrs: dict[str, Any] = dict(attrs_g)
        for key, value in root_attrs.items():
            all_attrs[key if all_attrs.get(key, value) == value else f"/{key}"] = value
        return ScanMetadata(
            path=self.path,
            dataset=ds,
            layout=self.layout,
            nangles=nangles,
            nslices=int(nslices),
            nrays=int(nrays),
            arange=float(arange),
            pxsize_mm=pxsize,
            i0cycle=i0cycle,
            num_flats=num_flats,
            num_darks=len(self._darks),
            flat_positions=positions,
            energy_kev=None if energy_ev is None else energy_ev / 1000.0,
            camera_distance_mm=self._float_attr(attrs_g, c.ALS_ATTR_CAMERA_Z, gname),
            rot_angles=rot_angles,
            first_angle=first_angle,
            attrs=all_attrs,
            pxsize_source=pxsource,
        )

    def _check_count(self, attrs: dict, key: str, found: int, group: str) -> None:
        value = self._int_attr(attrs, key, group)
        if value is None:
            logger.info("%s: %s inferred from the image names: %d", self.path, key, found)
        elif value != found:
            logger.warning(
                "%s: attribute %s=%d but %d such images per group found; using the images",
                self.path,
                key,
                value,
                found,
            )

    # ------------------------------------------------------------------ reading
    def image_names(self, kind: str, indices: range | None = None) -> list[str]:
        """Dataset names (``<ds>_0000_<pppp>.tif``, ...) of the ``kind`` images, in read order."""
        dsets = {"projection": self._proj, "flat": self._flats, "dark": self._darks}[kind]
        chosen = dsets if indices is None else [dsets[i] for i in indices]
        return [d.name.rsplit("/", 1)[-1] for d in chosen]

    def _stored_float(self, kind: str) -> bool:
        dsets = {"projection": self._proj, "flat": self._flats, "dark": self._darks}[kind]
        return any(d.dtype.kind == "f" for d in dsets)

    def _read_list_into(self, dsets: list[h5py.Dataset], out: np.ndarray, rows: range) -> None:
        """Read ``rows`` of each image into ``out[k]``. Every image has the same shape (checked
        at opening), so one file selection and one memory space serve them all: one HDF5 read
        per image (what ``Dataset.read_direct`` does, without rebuilding both per call; the
        same conversion to float32, so the same values)."""
        if not dsets or len(rows) == 0:
            return
        shape = dsets[0].shape
        lead = len(self._sel_prefix)
        fspace = h5py.h5s.create_simple(shape)
        fspace.select_hyperslab(
            (0,) * lead + (rows.start, 0), (1,) * lead + (len(rows), shape[-1]), (1,) * lead + (rows.step, 1)
        )
        mspace = h5py.h5s.create_simple(out.shape[1:])
        for k, dset in enumerate(dsets):
            try:
                dset.id.read(mspace, fspace, out[k])
            except (OSError, KeyError, RuntimeError) as exc:
                raise InputFileError(
                    f"{self.path}: cannot read dataset {dset.name!r} ({exc}); the file may be truncated or corrupt"
                ) from exc

    def _read_proj_into(self, out: np.ndarray, proj: range, rows: range) -> None:
        self._read_list_into([self._proj[i] for i in proj], out, rows)

    def _read_flats_into(self, out: np.ndarray, rows: range) -> None:
        self._read_list_into(self._flats, out, rows)

    def _read_darks_into(self, out: np.ndarray, rows: range) -> None:
        self._read_list_into(self._darks, out, rows)

    def _num_dark_images(self) -> int:
        return len(self._darks)

    def _angles_deg(self, angle_offset: float, use_rot_angle: bool) -> np.ndarray:
        m = self.meta
        base = 270.0 + angle_offset
        if use_rot_angle:
            if m.rot_angles is None:
                raise LayoutError(
                    f"{self.path}: use_rot_angle=True but the projections of {m.dataset!r} "
                    f"carry no 'rot_angle' attribute"
                )
            return base - m.rot_angles
        step = m.arange / (m.nangles - 1) if m.nangles > 1 else 0.0
        return base - m.first_angle - step * np.arange(m.nangles, dtype=np.float64)
