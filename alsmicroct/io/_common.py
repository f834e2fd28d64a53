"""Pieces shared by the raw-file readers and writers: image names of the old ALS layout,
Data Exchange paths, attribute encoding/decoding, flat-group positions and range checks.

Private module: the public API lives in :mod:`alsmicroct.io`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import RangeError

# --- old ALS layout ---------------------------------------------------------------------
#: Projection ``i`` of dataset ``ds``: ``<ds>_0000_<iiii>.tif``.
ALS_PROJ_FMT = "{ds}_0000_{i:04d}.tif"
#: Flat ``k`` of the group taken at projection ``p``: ``<ds>bak_<kkkk>_<pppp>.tif``.
ALS_FLAT_FMT = "{ds}bak_{k:04d}_{p:04d}.tif"
#: Dark ``k`` (taken after the last projection ``p = nangles - 1``): ``<ds>drk_<kkkk>_<pppp>.tif``.
ALS_DARK_FMT = "{ds}drk_{k:04d}_{p:04d}.tif"
_ALS_IMAGE_TAIL = r"(?P<kind>bak|drk)?_(?P<a>\d{4,})_(?P<b>\d{4,})\.tif$"
#: Any ALS image name: prefix, optional kind (``bak`` / ``drk``), two numeric fields.
ALS_IMAGE_RE = re.compile(r"^(?P<prefix>.+?)" + _ALS_IMAGE_TAIL)


def als_image_regex(ds: str) -> re.Pattern:
    """Names of the images of dataset ``ds``: groups ``kind`` (None for a projection,
    ``"bak"`` flat, ``"drk"`` dark), ``a`` (series / index within the group) and ``b``
    (projection index)."""
    return re.compile("^" + re.escape(ds) + _ALS_IMAGE_TAIL)


#: Group attributes of the old layout and the ScanMetadata quantity each one carries.
ALS_ATTR_NANGLES = "nangles"
ALS_ATTR_NSLICES = "nslices"
ALS_ATTR_NRAYS = "nrays"
ALS_ATTR_ARANGE = "arange"
ALS_ATTR_PXSIZE = "pxsize"  # mm
ALS_ATTR_I0CYCLE = "i0cycle"
ALS_ATTR_NFLATS = "num_bright_field"
ALS_ATTR_NDARKS = "num_dark_fields"
ALS_ATTR_ENERGY = "senergy"  # eV
ALS_ATTR_CAMERA_Z = "Camera_Z_Support"  # mm
ALS_ATTR_ROT_ANGLE = "rot_angle"  # deg, attribute of each projection dataset

# --- Data Exchange layout ---------------------------------------------------------------
DX_DATA = "exchange/data"
DX_WHITE = "exchange/data_white"
DX_DARK = "exchange/data_dark"
DX_THETA = "exchange/theta"
DX_DIM_X = "measurement/instrument/detector/dimension_x"
DX_DIM_Y = "measurement/instrument/detector/dimension_y"
DX_PIXEL_SIZE = "measurement/instrument/detector/pixel_size"  # mm
DX_NUM_ANGLES = "process/acquisition/rotation/num_angles"
DX_RANGE = "process/acquisition/rotation/range"  # deg
DX_I0CYCLE = "process/acquisition/flat_fields/i0cycle"
DX_NUM_FLATS = "process/acquisition/flat_fields/num_flat_fields"
DX_NUM_DARKS = "process/acquisition/dark_fields/num_dark_fields"
DX_ENERGY = "measurement/instrument/monochromator/energy"  # eV
DX_CAMERA_DISTANCE = "measurement/instrument/camera_motor_stack/setup/camera_distance"  # mm
DX_SAMPLE_NAME = "measurement/sample/name"
DX_EXPERIMENTER = "measurement/sample/experimenter/name"

_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def decode_text(value: bytes | str) -> str:
    """Decode one raw string attribute: bytes as UTF-8 (Latin-1 if that fails), trailing
    carriage returns, newlines and NUL padding stripped."""
    if isinstance(value, bytes | np.bytes_):
        raw = bytes(value)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    else:
        text = str(value)
    return text.strip("\r\n\x00 \t")


def parse_scalar_text(text: str) -> int | float | str:
    """Return ``text`` as int or float when it is a plain decimal number, else unchanged."""
    if _INT_RE.match(text):
        return int(text)
    if _FLOAT_RE.match(text):
        return float(text)
    return text


def decode_value(value: Any) -> Any:
    """Decode an HDF5 attribute or small dataset value to plain Python.

    Byte strings and strings are stripped of ``"\\r"`` and parsed as int/float where they
    are plain numbers; 1-element arrays become scalars; longer arrays become lists.
    """
    if isinstance(value, bytes | np.bytes_ | str):
        return parse_scalar_text(decode_text(value))
    if isinstance(value, np.ndarray):
        if value.size == 1:
            return decode_value(value.reshape(-1)[0])
        if value.dtype.kind in "SOU":
            return [decode_value(v) for v in value.reshape(-1)]
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def encode_als_attr(value: Any) -> np.bytes_:
    """Encode one old-layout attribute as the beamline did: a byte string ending in ``\\r``.

    Floats are written with up to 10 significant digits (``180.0`` -> ``b"180\\r"``).
    """
    if isinstance(value, bool | np.bool_):
        text = str(bool(value))
    elif isinstance(value, int | np.integer):
        text = str(int(value))
    elif isinstance(value, float | np.floating):
        text = f"{float(value):.10g}"
    elif isinstance(value, bytes):
        text = value.decode("utf-8")
    else:
        text = str(value)
    return np.bytes_((text.rstrip("\r") + "\r").encode("utf-8"))


def expected_flat_positions(nangles: int, i0cycle: int) -> tuple[int, ...]:
    """Projection indices where flat groups are taken.

    ``0, i0cycle, 2*i0cycle, ...`` and ``nangles - 1`` (only ``0`` and ``nangles - 1`` when
    ``i0cycle`` is 0), without duplicates, in increasing order.
    """
    last = max(int(nangles) - 1, 0)
    if i0cycle > 0:
        positions = list(range(0, int(nangles), int(i0cycle)))
        if positions[-1] != last:
            positions.append(last)
    else:
        positions = [0, last]
    return tuple(sorted(set(positions)))


def infer_i0cycle(nangles: int, positions: Iterable[int]) -> int:
    """Infer ``i0cycle`` from the projection indices where flat groups were taken.

    Returns 0 when only the first and/or last projection hold flats; otherwise the spacing
    of the first two positions.
    """
    pos = sorted(set(int(p) for p in positions))
    inner = [p for p in pos if p not in (0, nangles - 1)]
    if not inner or len(pos) < 2:
        return 0
    return pos[1] - pos[0]


RangeSpec = None | int | slice | tuple | list


def normalize_range(spec: RangeSpec, n: int, *, what: str, where: str) -> range:
    """Turn a ``(start, end, step)`` specification into a checked ``range`` within ``[0, n)``.

    Parameters
    ----------
    spec : None, int, slice, or sequence of 1 to 3 items (int or None)
        Python slice semantics (end exclusive; ``None`` parts take the defaults; negative
        start/end count from the end). ``None`` selects everything; an int selects one
        index.
    n : int
        Length of the axis.
    what, where : str
        Axis name (``"rows"``, ``"proj"``) and file, used in error messages.

    Raises
    ------
    RangeError
        If a bound lies outside ``[-n, n]`` (start: ``[-n, n)``), the step is not positive,
        the items are not integers, or the selection is empty.
    """
    if spec is None:
        start, stop, step = None, None, None
    elif isinstance(spec, slice):
        start, stop, step = spec.start, spec.stop, spec.step
    elif isinstance(spec, int | np.integer) and not isinstance(spec, bool):
        start, stop, step = int(spec), int(spec) + 1, 1
        if spec == -1:
            stop = None
    elif isinstance(spec, tuple | list) and 1 <= len(spec) <= 3:
        parts = [*list(spec), None, None][:3]
        start, stop, step = parts
    else:
        raise RangeError(
            f"{where}: {what}={spec!r} is not a valid range; expected None, an int, a slice or (start, end, step)"
        )
    for name, value in (("start", start), ("end", stop), ("step", step)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer)):
            raise RangeError(f"{where}: {what} {name}={value!r} is not an integer; expected int or None")
    step = 1 if step is None else int(step)
    if step <= 0:
        raise RangeError(f"{where}: {what} step={step} must be a positive integer")
    if start is not None and not -n <= int(start) < n:
        raise RangeError(f"{where}: {what} start={start} is out of range; expected 0 <= start < {n}")
    if stop is not None and not -n <= int(stop) <= n:
        raise RangeError(f"{where}: {what} end={stop} is out of range; expected 0 <= end <= {n}")
    result = range(n)[slice(start, stop, step)]
    if len(result) == 0:
        raise RangeError(f"{where}: {what}={spec!r} selects nothing; the axis has {n} entries (expected start < end)")
    return result
