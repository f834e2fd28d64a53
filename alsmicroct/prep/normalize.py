"""Flat/dark-field normalisation and the -log transform.

All functions take and return float32 ``(angle, row, column)`` blocks. They are
projection steps: each projection is processed independently of the others, so the
result does not depend on how the projections are split into chunks (``normalize_nf``
receives the absolute projection index of every projection for that reason).

Input checks come from :mod:`alsmicroct.checks` (shared by every stage).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from ..checks import as_float32_3d, check_number, check_positive_int, output_array  # noqa: F401 (re-export)
from ..errors import ParameterError
from ..jit import njit, prange, use_twins

__all__ = ["DENOMINATOR_FLOOR", "minus_log", "normalize", "normalize_nf"]

logger = logging.getLogger(__name__)

#: Smallest flat - dark difference (counts) used as a denominator; TomoPy uses the same.
DENOMINATOR_FLOOR = 1e-6


# --------------------------------------------------------------------------- checks
def _reference_stack(images, name: str, shape: tuple[int, int]) -> np.ndarray:
    """Check a flat or dark stack (2-D single image or 3-D stack) against ``shape``."""
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.ndim != 3:
        raise ParameterError(f"{name} must be 3-D (image, row, column) or one 2-D image; got shape {arr.shape}")
    if arr.shape[1:] != shape:
        raise ParameterError(f"{name} images have shape {arr.shape[1:]} (row, column) but the projections have {shape}")
    return arr


def _mean_image(stack: np.ndarray) -> np.ndarray:
    """Mean over axis 0 accumulated in float64, returned as float32."""
    return stack.mean(axis=0, dtype=np.float64).astype(np.float32)


# --------------------------------------------------------------------------- kernels
@njit(parallel=True, cache=True)
def _normalize_kernel(proj, dark, flat_minus_dark, group, cutoff, use_cutoff, out):
    nang, nrow, ncol = proj.shape
    for idx in prange(nang * nrow):
        a = idx // nrow
        r = idx - a * nrow
        g = group[a]
        for c in range(ncol):
            v = (proj[a, r, c] - dark[r, c]) / flat_minus_dark[g, r, c]
            if use_cutoff and v > cutoff:
                v = cutoff
            out[a, r, c] = v


_TWIN_STEP = 1 << 16  # values per piece in the NumPy twins: float64 scratch stays in cache


def _group_runs(group) -> list[tuple[int, int, int]]:
    """``(start, stop, group)`` of each run of equal group indexes along the angles."""
    g = np.asarray(group)
    if g.size == 0:
        return []
    cuts = np.flatnonzero(g[1:] != g[:-1]) + 1
    starts = np.concatenate(([0], cuts))
    stops = np.concatenate((cuts, [g.size]))
    return [(int(a), int(b), int(g[a])) for a, b in zip(starts, stops, strict=True)]


@_normalize_kernel.twin
def _normalize_numpy(proj, dark, flat_minus_dark, group, cutoff, use_cutoff, out):
    """:func:`_normalize_kernel` in NumPy: the same float32 operations, equal values. Each
    run of projections with the same flat group is divided by its denominator broadcast,
    with no per-projection copy of the denominators."""
    np.subtract(proj, dark, out=out)
    for start, stop, g in _group_runs(group):
        np.divide(out[start:stop], flat_minus_dark[g], out=out[start:stop])
    if use_cutoff:
        np.minimum(out, cutoff, out=out)  # NaN stays NaN, as in the kernel


@njit(parallel=True, cache=True)
def _minus_log_kernel(data, floor, ceil, out):
    flat_in = data.reshape(-1)
    flat_out = out.reshape(-1)
    n = flat_in.size
    nan_value = np.float32(0.0)
    for i in prange(n):
        t = flat_in[i]
        if t != t:  # NaN: unknown transmission, treated as no attenuation
            flat_out[i] = nan_value
            continue
        if t < floor:
            t = floor
        elif t > ceil:
            t = ceil
        flat_out[i] = -math.log(t)


@_minus_log_kernel.twin
def _minus_log_numpy(data, floor, ceil, out):
    """:func:`_minus_log_kernel` in NumPy (``data`` may be ``out``): the logarithm in float64,
    rounded to float32, equals numba's float32 ``log`` to float32 rounding (see its test).
    Computed in pieces of ``_TWIN_STEP`` values, so the float64 scratch stays in cache and no
    full-size temporary is allocated."""
    flat_in = data.reshape(-1)
    flat_out = out.reshape(-1)
    scratch = np.empty(min(_TWIN_STEP, flat_in.size), dtype=np.float64)
    for start in range(0, flat_in.size, _TWIN_STEP):
        stop = min(flat_in.size, start + _TWIN_STEP)
        piece, logs = flat_out[start:stop], scratch[: stop - start]
        nan = np.isnan(flat_in[start:stop])
        np.clip(flat_in[start:stop], floor, ceil, out=piece)
        np.log(piece, out=logs, dtype=np.float64)
        np.negative(logs, out=logs)
        piece[...] = logs
        piece[nan] = 0.0


def _denominators(flat_means: np.ndarray, dark: np.ndarray) -> np.ndarray:
    den = flat_means - dark[np.newaxis]
    nbad = int(np.count_nonzero(~(den >= DENOMINATOR_FLOOR)))
    if nbad:
        logger.info(
            "%d flat-field pixels have flat - dark < %g counts; their denominator is clipped to %g",
            nbad,
            DENOMINATOR_FLOOR,
            DENOMINATOR_FLOOR,
        )
        np.copyto(den, np.float32(DENOMINATOR_FLOOR), where=~(den >= DENOMINATOR_FLOOR))
    return den


def _run_normalize(proj, flat_means, dark, group, cutoff) -> np.ndarray:
    den = _denominators(flat_means, dark)
    use_cutoff = cutoff is not None
    cut = np.float32(check_number(cutoff, "cutoff") if use_cutoff else 0.0)
    out = np.empty(proj.shape, dtype=np.float32)
    _normalize_kernel.pick(use_twins(proj))(proj, dark, den, group.astype(np.int64), cut, use_cutoff, out)
    return out


def _dark_mean(darks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if darks.shape[0] == 0:
        logger.info("no dark images given: using a dark level of 0 counts")
        return np.zeros(shape, dtype=np.float32)
    return _mean_image(darks)


# --------------------------------------------------------------------------- public
def normalize(proj, flats, darks, *, cutoff: float | None = None) -> np.ndarray:
    """Flat- and dark-field correction: ``(proj - dark) / (flat - dark)``.

    Parameters
    ----------
    proj : ndarray, shape (angle, row, column)
        Raw projections in detector counts.
    flats : ndarray, shape (n_flat, row, column) or (row, column)
        Flat-field (open beam) images in counts; their mean is used.
    darks : ndarray, shape (n_dark, row, column) or (row, column)
        Dark-field images in counts; their mean is used. An empty stack means a dark
        level of 0 counts.
    cutoff : float, optional
        Largest transmission kept; larger values are set to ``cutoff`` (dimensionless).

    Returns
    -------
    ndarray of float32, shape (angle, row, column)
        Transmission (dimensionless, about 1 in open beam).

    Notes
    -----
    Where ``mean(flat) - mean(dark)`` is below :data:`DENOMINATOR_FLOOR` (1e-6 counts;
    dead or saturated pixels) the denominator is clipped to that value, as TomoPy does,
    so the output stays finite; an INFO log record gives the number of such pixels.

    Raises
    ------
    ParameterError
        Wrong number of dimensions, flats/darks of another image shape than ``proj``,
        no flat image, or a non-finite ``cutoff``.
    """
    proj = as_float32_3d(proj, "proj")
    shape = proj.shape[1:]
    flats = _reference_stack(flats, "flats", shape)
    darks = _reference_stack(darks, "darks", shape)
    if flats.shape[0] == 0:
        raise ParameterError("flats is empty: at least one flat-field image is needed")
    flat_means = _mean_image(flats)[np.newaxis]
    group = np.zeros(proj.shape[0], dtype=np.int64)
    return _run_normalize(proj, flat_means, _dark_mean(darks, shape), group, cutoff)


def normalize_nf(
    proj,
    flats,
    darks,
    *,
    flat_indices: Sequence[int] | np.ndarray,
    proj_indices: Sequence[int] | np.ndarray,
    cutoff: float | None = None,
) -> np.ndarray:
    """Normalise each projection with the nearest group of flat fields.

    Flats taken at several moments of a scan (e.g. before and after) form groups: the
    flat images sharing the same value in ``flat_indices``. Each projection is divided
    by the mean of the group whose index is closest to its own absolute index; a
    projection exactly half-way between two groups uses the later group, as TomoPy's
    ``normalize_nf`` (and so the legacy pipeline) does.

    Parameters
    ----------
    proj : ndarray, shape (angle, row, column)
        Raw projections in counts.
    flats : ndarray, shape (n_flat, row, column)
        All flat-field images, in counts.
    darks : ndarray, shape (n_dark, row, column) or (row, column)
        Dark-field images in counts (their mean is used; empty means 0 counts).
    flat_indices : sequence of int, length n_flat
        Projection index at which each flat image was taken (e.g. ``scan.flat_indices``).
    proj_indices : sequence of int, length angle
        Absolute projection index of each projection of ``proj`` (so that a chunk of
        projections is normalised as it would be in the whole scan).
    cutoff : float, optional
        Largest transmission kept (dimensionless).

    Returns
    -------
    ndarray of float32, shape (angle, row, column)
        Transmission (dimensionless). Denominators are clipped as in :func:`normalize`.

    Raises
    ------
    ParameterError
        Shape mismatches, lengths of ``flat_indices``/``proj_indices`` that do not match
        the number of flats/projections, or non-integer indices.
    """
    proj = as_float32_3d(proj, "proj")
    shape = proj.shape[1:]
    flats = _reference_stack(flats, "flats", shape)
    darks = _reference_stack(darks, "darks", shape)
    fidx = _index_array(flat_indices, "flat_indices", flats.shape[0], "flat images")
    pidx = _index_array(proj_indices, "proj_indices", proj.shape[0], "projections")
    if flats.shape[0] == 0:
        raise ParameterError("flats is empty: at least one flat-field image is needed")
    positions = np.unique(fidx)
    flat_means = np.stack([_mean_image(flats[fidx == p]) for p in positions])
    # nearest group; exact ties go to the later group (TomoPy's rule): argmin over the
    # groups in reverse order returns the last of the equally near ones
    distance = np.abs(pidx[:, None] - positions[None, :])
    group = positions.size - 1 - np.argmin(distance[:, ::-1], axis=1)
    logger.debug("normalize_nf: flat groups at %s", positions.tolist())
    return _run_normalize(proj, flat_means, _dark_mean(darks, shape), group, cutoff)


def _index_array(values, name: str, expected: int, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != expected:
        raise ParameterError(
            f"{name} must be a 1-D sequence with one index per {what[:-1]} ({expected} {what}); got shape {arr.shape}"
        )
    if (
        arr.size
        and not np.issubdtype(arr.dtype, np.integer)
        and (not np.all(np.isfinite(arr)) or not np.all(np.equal(np.mod(arr, 1), 0)))
    ):
        raise ParameterError(f"{name} must hold integer projection indices, got {arr!r}")
    return arr.astype(np.int64)


def minus_log(data, *, floor: float = 1e-6, out: np.ndarray | None = None) -> np.ndarray:
    """Line integrals from transmission: ``-ln(data)``, with clamping.

    Parameters
    ----------
    data : ndarray, shape (angle, row, column)
        Transmission (dimensionless, normalised data).
    floor : float, optional
        Smallest transmission used (default 1e-6, i.e. an attenuation of at most
        ``-ln(1e-6) = 13.8``). Transmissions below it, zero or negative (noise in a
        fully absorbing region, dead pixels) are set to ``floor``; transmissions above
        ``1 / floor`` are set to ``1 / floor``. NaN transmissions give 0 (no
        attenuation). The output therefore holds no NaN or infinity.
    out : ndarray of float32, optional
        Where to write the result; may be ``data`` itself (in-place, no extra memory)
        when ``data`` is a C-contiguous float32 array.

    Returns
    -------
    ndarray of float32, shape (angle, row, column)
        Dimensionless line integrals.

    Raises
    ------
    ParameterError
        Not 3-D, ``floor`` not in (0, 1), or ``out`` of the wrong shape/dtype.
    """
    arr = np.ascontiguousarray(as_float32_3d(data))
    fl = check_number(floor, "floor", minimum=0.0, strict=True)
    if fl >= 1.0:
        raise ParameterError(f"floor must be in (0, 1), got {floor!r}")
    out = output_array(out, arr)
    _minus_log_kernel.pick(use_twins(arr))(arr, np.float32(fl), np.float32(1.0 / fl), out)
    return out
