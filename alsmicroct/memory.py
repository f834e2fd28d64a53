"""Memory needed by one reconstruction chunk, estimated before the run starts.

:func:`estimate_chunk_bytes` is a model (an upper estimate, not a measurement) of the peak
memory of the streaming pipeline for one block of ``chunk_sino`` rows;
:func:`check_memory` compares it with the memory available (``psutil``) and refuses, or
warns, naming the parameter to change, or (``policy="fit"``, recon()'s default) gives the
largest block that fits, so that a run whose default ``chunk_sino`` is too big for the
machine runs in smaller blocks (the slices do not depend on the blocks). Pure function of the plan's sizes: the pipeline
calls it after the plan (rows, angles, width, padding) is known and before any heavy work.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from dataclasses import dataclass
from functools import cache

from .errors import ParameterError
from .names import MEMORY_CHECKS

__all__ = ["MemoryEstimate", "available_bytes", "check_memory", "estimate_chunk_bytes", "release_free_heap"]

logger = logging.getLogger(__name__)

_F32 = 4
_C64 = 8


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak bytes of one chunk and its main terms (bytes)."""

    total: int
    raw: int  # raw block read + the prefetched next block + flats and darks
    steps: int  # working copies made by the pre-processing steps
    reconstruct: int  # padded sinograms (complex) and the padded reconstruction grid
    output: int  # finished slices waiting for the writers
    rows: int  # rows per chunk the estimate is for

    def describe(self) -> str:
        gib = 1024**3
        return (
            f"{self.total / gib:.2f} GiB for {self.rows} rows (raw {self.raw / gib:.2f}, steps "
            f"{self.steps / gib:.2f}, reconstruction {self.reconstruct / gib:.2f}, output "
            f"{self.output / gib:.2f} GiB)"
        )


def estimate_chunk_bytes(
    *,
    chunk_rows: int,
    nangles: int,
    ncols: int,
    npad: int = 0,
    nrefs: int = 0,
    nsteps: int = 1,
    width: int | None = None,
    margin_rows: int = 0,
) -> MemoryEstimate:
    """Estimate the peak memory of one row chunk.

    Parameters
    ----------
    chunk_rows : int
        Rows per chunk (``chunk_sino``; fewer when the scan has fewer rows).
    nangles : int
        Projections used.
    ncols : int
        Detector columns read.
    npad : int
        Edge padding on each side of a row, pixels.
    nrefs : int
        Flat plus dark images.
    nsteps : int
        Pre-processing steps that make a working copy of the block (normalisation counts).
    width : int, optional
        Reconstructed row width (after 360->180 stitching); default ``ncols``.
    margin_rows : int
        Extra rows read on each side for steps that look at neighbouring rows.

    Returns
    -------
    MemoryEstimate
        Model: ``raw = 4 (2 nangles + nrefs) (rows + 2 margin) ncols`` (block, prefetch,
        references), ``steps = 4 nsteps nangles (rows + 2 margin) ncols``,
        ``reconstruct = 8 nangles rows (width + 2 npad) + 4 rows (width + 2 npad)^2``,
        ``output = 2 * 4 rows width^2`` (slices and their cast/masked copy).
    """
    for name, value in (("chunk_rows", chunk_rows), ("nangles", nangles), ("ncols", ncols)):
        if int(value) < 1:
            raise ParameterError(f"{name}={value!r}: expected >= 1")
    width = int(ncols if width is None else width)
    rows_read = int(chunk_rows) + 2 * int(margin_rows)
    raw = _F32 * (2 * nangles + nrefs) * rows_read * ncols
    steps = _F32 * max(int(nsteps), 1) * nangles * rows_read * ncols
    padded = width + 2 * int(npad)
    reconstruct = _C64 * nangles * chunk_rows * padded + _F32 * chunk_rows * padded * padded
    output = 2 * _F32 * chunk_rows * width * width
    total = int(raw + steps + reconstruct + output)
    return MemoryEstimate(
        total=total,
        raw=int(raw),
        steps=int(steps),
        reconstruct=int(reconstruct),
        output=int(output),
        rows=int(chunk_rows),
    )


def available_bytes() -> int:
    """Memory available to this process now (``psutil.virtual_memory().available``)."""
    import psutil

    return int(psutil.virtual_memory().available)


def check_memory(
    *,
    chunk_rows: int,
    nangles: int,
    ncols: int,
    npad: int = 0,
    nrefs: int = 0,
    nsteps: int = 1,
    width: int | None = None,
    margin_rows: int = 0,
    available: int | None = None,
    fraction: float = 0.8,
    policy: str = "error",
    where: str = "",
    unit: int = 1,
) -> MemoryEstimate:
    """Refuse (or warn about) a chunk that needs more than ``fraction`` of the free memory.

    Parameters
    ----------
    chunk_rows, nangles, ncols, npad, nrefs, nsteps, width, margin_rows
        As for :func:`estimate_chunk_bytes`.
    available : int, optional
        Bytes available; default :func:`available_bytes`.
    fraction : float
        Share of ``available`` one chunk may use (the rest is left to the writers, HDF5
        caches and other processes).
    policy : {"error", "warn", "fit"}
        Raise a ParameterError, log a warning and go on, or fit: return the estimate of the
        largest multiple of ``unit`` rows that fits (its ``rows``; a warning says so), and
        raise as "error" when not even ``unit`` rows fit.
    where : str
        The scan, for messages.
    unit : int
        With ``policy="fit"``: the rows per block must be a multiple of this (a zarr
        volume's chunk height; 2 keeps gridrec's row pairs, hence the bytes).

    Returns
    -------
    MemoryEstimate
        For ``chunk_rows``, or with ``policy="fit"`` for the rows that fit.

    Raises
    ------
    ParameterError
        With ``policy="error"``, when the estimate exceeds ``fraction * available``. The
        message names ``chunk_sino`` and the largest value that fits, or ``npad`` when
        even one row does not fit because of the padding.
    """
    if policy not in MEMORY_CHECKS or policy == "off":
        expected = ", ".join(repr(p) for p in MEMORY_CHECKS if p != "off")
        raise ParameterError(f"policy={policy!r}; expected one of {expected}")
    sizes = dict(
        nangles=nangles, ncols=ncols, npad=npad, nrefs=nrefs, nsteps=nsteps, width=width, margin_rows=margin_rows
    )
    est = estimate_chunk_bytes(chunk_rows=chunk_rows, **sizes)
    budget = fraction * (available_bytes() if available is None else int(available))
    if est.total <= budget:
        return est
    prefix = f"{where}: " if where else ""
    gib = 1024**3
    fits = _largest_rows(int(chunk_rows), budget, sizes)
    unit = max(1, int(unit))
    if policy == "fit" and fits >= unit:
        rows = fits // unit * unit
        smaller = estimate_chunk_bytes(chunk_rows=rows, **sizes)
        logger.warning(
            "%sone block of %d rows needs about %s, more than %.0f%% of the %.2f GiB available: running in "
            "blocks of %d rows (%.2f GiB; the slices do not depend on the blocks). Set chunk_sino=%d to "
            "choose this yourself, or memoryCheck='error' to be refused instead",
            prefix,
            int(chunk_rows),
            est.describe(),
            fraction * 100,
            budget / fraction / gib,
            rows,
            smaller.total / gib,
            rows,
        )
        return smaller
    if fits:
        advice = f"set chunk_sino={fits} or less"
    else:
        unpadded = estimate_chunk_bytes(chunk_rows=1, **{**sizes, "npad": 0}).total
        advice = (
            f"even 1 row does not fit; lower npad={npad}"
            if npad and unpadded <= budget
            else "even 1 row does not fit; use projused to read fewer projections or a bigger machine"
        )
    text = (
        f"{prefix}one chunk needs about {est.describe()}, more than {fraction:.0%} of the "
        f"{budget / fraction / gib:.2f} GiB available; {advice}"
    )
    if policy in ("error", "fit"):
        raise ParameterError(text)
    logger.warning("%s", text)
    return est


def _largest_rows(max_rows: int, budget: float, sizes: dict) -> int:
    """The largest rows per chunk, at most ``max_rows``, whose estimate fits ``budget`` (0: none;
    the estimate grows with the rows)."""
    fits, lo, hi = 0, 1, int(max_rows)
    while lo <= hi:
        mid = (lo + hi) // 2
        if estimate_chunk_bytes(chunk_rows=mid, **sizes).total <= budget:
            fits, lo = mid, mid + 1
        else:
            hi = mid - 1
    return fits


@cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_heap() -> bool:
    """Give the heap memory freed by the last block back to the system (glibc ``malloc_trim``).

    glibc keeps freed blocks below its adaptive mmap threshold in the heap, so without this the
    resident memory of a long run creeps up block after block, although nothing is kept. The
    pipeline calls it once per block, when the block's arrays are gone. Returns whether memory
    was released (False where the C library has no ``malloc_trim``).
    """
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
