"""Memory needed by one reconstruction chunk, estimated before the run starts.

:func:`estimate_chunk_bytes` is a model (an upper estimate, not a measurement) of the peak
memory of the streaming pipeline for one block of ``chunk_sino`` rows;
:func:`check_memory` compares it with the memory available (``psutil``) and refuses, or
warns, naming the parameter to change. Pure function of the plan's sizes: the pipeline
calls it after the plan (rows, angles, width, padding) is known and before any heavy work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .errors import ParameterError

__all__ = ["MemoryEstimate", "available_bytes", "check_memory", "estimate_chunk_bytes"]

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
    policy : {"error", "warn"}
        Raise a ParameterError, or log a warning and go on.
    where : str
        The scan, for messages.

    Returns
    -------
    MemoryEstimate

    Raises
    ------
    ParameterError
        With ``policy="error"``, when the estimate exceeds ``fraction * available``. The
        message names ``chunk_sino`` and the largest value that fits, or ``npad`` when
        even one row does not fit because of the padding.
    """
    if policy not in ("error", "warn"):
        raise ParameterError(f"policy={policy!r}; expected 'error' or 'warn'")
    sizes = dict(
        nangles=nangles, ncols=ncols, npad=npad, nrefs=nrefs, nsteps=nsteps, width=width, margin_rows=margin_rows
    )
    est = estimate_chunk_bytes(chunk_rows=chunk_rows, **sizes)
    budget = fraction * (available_bytes() if available is None else int(available))
    if est.total <= budget:
        return est
    prefix = f"{where}: " if where else ""
    gib = 1024**3
    fits = 0
    lo, hi = 1, int(chunk_rows)
    while lo <= hi:  # largest chunk_rows that fits (the estimate grows with the rows)
        mid = (lo + hi) // 2
        if estimate_chunk_bytes(chunk_rows=mid, **sizes).total <= budget:
            fits, lo = mid, mid + 1
        else:
            hi = mid - 1
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
    if policy == "error":
        raise ParameterError(text)
    logger.warning("%s", text)
    return est
