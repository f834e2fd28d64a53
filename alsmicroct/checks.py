"""Shared validators for numbers and arrays (the bottom layer, next to :mod:`alsmicroct.errors`).

Every stage checks its keyword arguments with these, so a bad value gives the same kind of
message everywhere: the parameter's name, the value given and what was expected, e.g.
``dif=-1.0; expected a finite number > 0``. Each raises
:class:`~alsmicroct.errors.ParameterError`.

Examples
--------
>>> from alsmicroct.checks import check_number, check_positive_int
>>> check_positive_int(3, "size")
3
>>> check_number("x", "alpha")
Traceback (most recent call last):
...
alsmicroct.errors.ParameterError: alpha='x'; expected a finite number
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from alsmicroct.errors import ParameterError

__all__ = [
    "MAX_PREFIX_BYTES",
    "as_float32_3d",
    "as_real_array",
    "check_file_prefix",
    "check_number",
    "check_order",
    "check_positive_int",
    "check_wavelet",
    "output_array",
]


def check_positive_int(
    value: Any, name: str, *, minimum: int = 1, maximum: int | None = None, integral_float: bool = False
) -> int:
    """Return ``value`` as an int after checking it is a whole number in range.

    Parameters
    ----------
    value : int
        The value to check; ``bool`` is refused.
    name : str
        Parameter name used in the message (a prefix such as ``"RawScanWriter: nangles"`` is
        fine).
    minimum, maximum : int, optional, keyword-only
        Inclusive bounds (``maximum=None``: no upper bound).
    integral_float : bool, optional, keyword-only
        Also accept a float with a whole value (``16.0``).

    Returns
    -------
    int

    Raises
    ------
    ParameterError
        Not an integer, or out of ``[minimum, maximum]``.
    """
    ok = not isinstance(value, bool)
    if ok and not isinstance(value, (int, np.integer)):
        ok = (
            integral_float
            and isinstance(value, (float, np.floating))
            and math.isfinite(value)
            and float(value).is_integer()
        )
    if ok:
        ok = value >= minimum and (maximum is None or value <= maximum)
    if not ok:
        expected = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
        raise ParameterError(f"{name}={value!r}; expected an integer {expected}")
    return int(value)


def check_number(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict: bool = False,
    strict_max: bool = False,
    allow_none: bool = False,
    expected: str | None = None,
) -> float | None:
    """Return ``value`` as a finite float, optionally bounded.

    Parameters
    ----------
    value : float
        The value to check; ``bool`` and strings are refused.
    name : str
        Parameter name used in the message.
    minimum, maximum : float, optional, keyword-only
        Bounds; inclusive unless ``strict`` (for ``minimum``) or ``strict_max`` (for
        ``maximum``) is set.
    allow_none : bool, optional, keyword-only
        Return None for None instead of refusing it.
    expected : str, optional, keyword-only
        Text that replaces the generated "expected ..." part of the message (units, reasons).

    Returns
    -------
    float or None

    Raises
    ------
    ParameterError
        Not a real number, not finite, or out of bounds.
    """
    if value is None and allow_none:
        return None
    out = math.nan
    if not isinstance(value, (bool, str, bytes)):
        try:
            out = float(value)
        except (TypeError, ValueError):
            out = math.nan
    ok = math.isfinite(out)
    if ok and minimum is not None:
        ok = out > minimum if strict else out >= minimum
    if ok and maximum is not None:
        ok = out < maximum if strict_max else out <= maximum
    if not ok:
        if expected is None:
            low = "" if minimum is None else f"{minimum} {'<' if strict else '<='} "
            high = "" if maximum is None else f" {'<' if strict_max else '<='} {maximum}"
            expected = "a finite number" + (f" with {low}{name.rpartition(' ')[2]}{high}" if low or high else "")
        raise ParameterError(f"{name}={value!r}; expected {expected}")
    return out


def check_wavelet(wname: Any, name: str = "wname") -> Any:
    """Return the ``pywt.Wavelet`` named ``wname`` after checking it is a discrete wavelet.

    Raises
    ------
    ParameterError
        Not the name of a discrete PyWavelets wavelet (the message suggests the closest name).
    """
    import difflib

    import pywt  # local: keeps the bottom layer light

    names = pywt.wavelist(kind="discrete")
    if not isinstance(wname, str) or wname not in names:
        hint = difflib.get_close_matches(str(wname), names, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ParameterError(
            f"{name}={wname!r}; expected a discrete PyWavelets wavelet (e.g. 'db5', 'sym5', 'haar'){extra}"
        )
    return pywt.Wavelet(wname)


def as_float32_3d(data: Any, name: str = "data") -> np.ndarray:
    """Return ``data`` as a float32 3-D ``(angle, row, column)`` array (no copy when it is one).

    Raises
    ------
    ParameterError
        If ``data`` is not array-like or not 3-D.
    """
    try:
        arr = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be a numeric array, got {type(data).__name__}") from exc
    if arr.ndim != 3:
        raise ParameterError(f"{name} must be 3-D (angle, row, column); got ndim={arr.ndim}, shape={arr.shape}")
    return arr


def as_real_array(data: Any, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """Return ``data`` as a finite, non-empty float32 array with one of the allowed ``ndim``.

    Raises
    ------
    ParameterError
        Wrong number of dimensions, complex or non-numeric dtype, empty, or NaN/inf values.
    """
    arr = np.asarray(data)
    dims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in dims:
        raise ParameterError(f"{name} has ndim={arr.ndim} (shape {arr.shape}); expected ndim in {dims}")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ParameterError(f"{name} has dtype {arr.dtype}; expected real numbers")
    arr = np.asarray(arr, dtype=np.float32)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} is empty or contains NaN/inf; expected finite values")
    return arr


def output_array(out: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    """Return ``out`` checked as a C-contiguous float32 array shaped like ``like``, or a new
    empty one when ``out`` is None.

    Raises
    ------
    ParameterError
        ``out`` of the wrong type, shape, dtype or memory order.
    """
    if out is None:
        return np.empty_like(like)
    if (
        not isinstance(out, np.ndarray)
        or out.shape != like.shape
        or out.dtype != np.float32
        or not out.flags.c_contiguous
    ):
        raise ParameterError(
            f"out must be a C-contiguous float32 array of shape {like.shape}, got "
            f"{getattr(out, 'dtype', type(out))} {getattr(out, 'shape', '')}"
        )
    return out


#: Longest file-name prefix, UTF-8 bytes: the longest output name adds 37 characters
#: (``recon_parameters_<prefix>.partKKKofNNN.json``) and file systems take 255 bytes.
MAX_PREFIX_BYTES = 200


def check_file_prefix(value: str, name: str = "outputFilename") -> str:
    """A file-name prefix: one plain name, no folder parts or control characters, short enough
    for every output name, so that outputs stay in their folder and can be written.

    Parameters
    ----------
    value : str
        The prefix (e.g. ``outputFilename``).
    name : str
        The parameter's name, for messages.

    Returns
    -------
    str
        ``value``, unchanged.

    Raises
    ------
    ParameterError
        Folder parts (``/``, ``\\``, ``.``/``..``), control characters, a leading ``.``
        (hidden, like the writers' temporaries), surrounding spaces, or more than
        :data:`MAX_PREFIX_BYTES` bytes.
    """
    if (
        not value.strip()
        or value in (".", "..")
        or any(c in value for c in "/\\")
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
        or value != value.strip()
        or value.startswith(".")
    ):
        raise ParameterError(
            f"{name}={value!r}: expected a plain file-name prefix (no '/', '\\', "
            "'..', control characters, leading '.' or surrounding spaces); choose the folder with outputPath"
        )
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_PREFIX_BYTES:
        raise ParameterError(
            f"{name}={value[:40]!r}... is {size} bytes long; expected at most {MAX_PREFIX_BYTES} "
            "(the output names add up to 37 characters and file systems take 255 bytes)"
        )
    return value


def check_order(low: float, high: float, low_name: str, high_name: str, *, strict: bool = True) -> None:
    """Refuse a pair of bounds in the wrong order, naming both parameters.

    Raises
    ------
    ParameterError
        ``low >= high`` (``strict``) or ``low > high``, e.g.
        ``voSMin=40.0 must be <= voSMax=-40.0``.
    """
    if low > high or (strict and low == high):
        relation = "smaller than" if strict else "<="
        raise ParameterError(f"{low_name}={low!r} must be {relation} {high_name}={high!r}")
