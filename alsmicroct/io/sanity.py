"""Raw-data sanity checks: images that cannot be right are refused, or repaired on request.

Pure functions on one chunk of raw images (float32 ``(image, row, column)``), called by
:class:`alsmicroct.io.RawScan` on every read, so that every path that reads raw data
(reconstruction with or without a given ``cor``, centre finding, dry runs, Dask parts,
the phase-retrieval store) gets them. Each check is a single pass over the chunk just read.

What is checked (all criteria are per image row or per pixel, so the verdict does not
depend on how the rows are chunked):

- NaN or +-inf counts in projections, flats or darks (only possible with float data);
- projection or flat rows that are entirely zero (dropped frames, beam off, empty flat);
  dark rows may be zero (an ideal dark);
- projection or flat rows where more than half of the pixels are negative (only possible
  with signed or float data: counts are never negative, so such a file holds signed or
  already processed data); isolated negative pixels (noise of dark-subtracted data) pass;
- projection rows without beam (a beam dump or a closed shutter: the frame reads the dark
  level, not zero): more than 90 % of the row's pixels with a flat-field transmission below
  0.002 (:func:`check_transmission`, run on the normalised data, ignored projections
  excepted). A dense sample that is opaque over part of the rows is data, not refused;
- projection rows brighter than the flats (more than 10 % of the pixels, the air beside the
  sample, with a transmission above 1.5): in most projections the flats are wrong (another
  exposure, swapped), refused even with ``"repair"``; in a few (a saturated frame, a flash)
  refused, or set to transmission 1 with ``"repair"``; bright fringes on a few pixels pass;
- darks at least as bright as the flats: a detector row where the mean dark is >= the
  mean flat at more than half of the pixels (swapped or wrong references). Isolated
  pixels with dark >= flat (dead pixels) are only reported as a warning: the
  normalisation floors their denominator, as TomoPy does.

Policies (``bad_data``; ReconParams ``badData``):

``"error"`` (default)
    :class:`~alsmicroct.errors.LayoutError` naming the file, the image (its name in the
    raw layout: the old-layout dataset name, or ``/exchange/data[i]``), the rows and the
    count.
``"repair"``
    NaN/inf values are replaced by linear interpolation between the nearest finite
    values of the same image row (``numpy.interp``; constant beyond the ends); zero (or
    mostly negative) flat rows by the mean of the other flats' same row; zero (or mostly
    negative) projection rows (and projection
    rows with no finite value) by the mean flat of that row, i.e. a transmission of 1 and
    a line integral of 0, as ``projIgnoreList`` does. Each repair is logged as a warning
    naming the file, the image and the count. Darks brighter than flats and flat rows
    without any valid flat cannot be repaired and stay errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import LayoutError, ParameterError

__all__ = [
    "BAD_DATA_POLICIES",
    "NO_BEAM_TRANSMISSION",
    "check_bad_data_policy",
    "check_images",
    "check_references",
    "check_transmission",
]

logger = logging.getLogger(__name__)

BAD_DATA_POLICIES = ("error", "repair")

_KINDS = ("projection", "flat", "dark")

#: Transmission below which a pixel saw no beam (line integral > 6.2: dark current and noise).
NO_BEAM_TRANSMISSION = 0.002
#: Fraction of a projection row's pixels without beam that makes the row a frame without beam.
NO_BEAM_FRACTION = 0.9
#: Transmission above which (at more than ``BRIGHT_FRACTION`` of a row: the air beside the
#: sample, where it should be 1) the projection is brighter than the flats.
BRIGHT_TRANSMISSION = 1.5
BRIGHT_FRACTION = 0.1

_WHY = {
    "all-zero": "a {kind} with no counts cannot be normalised",
    "mostly negative": "raw counts are never negative (more than half of the row's pixels are < 0: signed or "
    "already processed data, not detector counts)",
}


def check_bad_data_policy(policy: str) -> str:
    """Return ``policy`` when it is one of :data:`BAD_DATA_POLICIES`, else ParameterError."""
    if policy not in BAD_DATA_POLICIES:
        raise ParameterError(f"badData={policy!r} is not one of {list(BAD_DATA_POLICIES)}")
    return policy


def _row_text(rows: Sequence[int], local: np.ndarray) -> str:
    abs_rows = sorted({int(rows[i]) for i in local})
    if len(abs_rows) == 1:
        return f"row {abs_rows[0]}"
    return f"{len(abs_rows)} rows in {abs_rows[0]}..{abs_rows[-1]}"


def _images_text(names: Sequence[str], idx: np.ndarray, limit: int = 3) -> str:
    shown = ", ".join(repr(names[int(i)]) for i in idx[:limit])
    more = f" and {idx.size - limit} more" if idx.size > limit else ""
    return f"{shown}{more}"


def _interpolate_row(values: np.ndarray, good: np.ndarray) -> None:
    """Fill ``values[~good]`` in place from the nearest good values (linear, 1-D)."""
    cols = np.arange(values.size)
    values[~good] = np.interp(cols[~good], cols[good], values[good])


def check_images(
    images: np.ndarray,
    *,
    kind: str,
    names: Sequence[str],
    rows: Sequence[int],
    where: str,
    policy: str = "error",
    may_be_nonfinite: bool = True,
    fill_rows: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Check (and, with ``policy="repair"``, repair in place) one chunk of raw images.

    Parameters
    ----------
    images : ndarray of float32, shape (image, row, column)
        Raw counts as read; modified in place when repaired.
    kind : {"projection", "flat", "dark"}
        What the images are (zero rows are allowed in darks only).
    names : sequence of str
        The name of each image in the raw layout, for messages.
    rows : sequence of int
        Absolute detector row of each row of ``images``, for messages.
    where : str
        The file, for messages.
    policy : {"error", "repair"}
        See the module documentation.
    may_be_nonfinite : bool
        False when the stored data are integers (no NaN/inf possible; the scan is skipped).
    fill_rows : callable, optional
        ``fill_rows(local_rows) -> (len(local_rows), column)`` counts used for projection
        rows that cannot be interpolated (the reader passes the mean flat of those rows).

    Returns
    -------
    ndarray
        ``images`` (repaired when asked).

    Raises
    ------
    LayoutError
        Bad values with ``policy="error"``, or damage that cannot be repaired.
    """
    if kind not in _KINDS:
        raise ParameterError(f"kind={kind!r}; expected one of {list(_KINDS)}")
    check_bad_data_policy(policy)
    if images.size == 0:
        return images
    label = f"{kind} image"
    if may_be_nonfinite:
        images = _check_finite(images, label, names, rows, where, policy, kind, fill_rows)
    if kind != "dark":
        zero = ~images.any(axis=2)  # (image, row): True where the whole row is 0
        _check_rows(images, zero, "all-zero", label, names, rows, where, policy, kind, fill_rows)
        if images.min() < 0:  # one fast pass; unsigned data never get further
            negative = (images < 0).sum(axis=2) * 2 > images.shape[2]
            _check_rows(images, negative, "mostly negative", label, names, rows, where, policy, kind, fill_rows)
    return images


def _check_finite(images, label, names, rows, where, policy, kind, fill_rows) -> np.ndarray:
    bad = ~np.isfinite(images)
    per_image = bad.reshape(bad.shape[0], -1).sum(axis=1)
    hit = np.flatnonzero(per_image)
    if hit.size == 0:
        return images
    count = int(per_image.sum())
    text = (
        f"{where}: {count} NaN/inf value(s) in {hit.size} {label}(s) "
        f"{_images_text(names, hit)}, {_row_text(rows, np.flatnonzero(bad.any(axis=(0, 2))))}"
    )
    if policy == "error":
        raise LayoutError(
            f"{text}; raw counts must be finite (badData='repair' interpolates them "
            "from the neighbouring pixels of the row)"
        )
    for i in hit:
        for r in np.flatnonzero(bad[i].any(axis=1)):
            good = ~bad[i, r]
            if good.any():
                _interpolate_row(images[i, r], good)
            elif kind == "projection" and fill_rows is not None:
                images[i, r] = fill_rows(np.array([r]))[0]
            elif kind == "dark":
                images[i, r] = 0.0
            else:  # a flat row with no finite value: left for the zero-row check to replace
                images[i, r] = 0.0
    logger.warning("%s; repaired (badData='repair'): interpolated along the row", text)
    return images


def _check_rows(images, zero, what, label, names, rows, where, policy, kind, fill_rows) -> None:
    """Refuse (or repair) the rows marked in ``zero`` (image, row): ``what`` says why."""
    per_image = zero.sum(axis=1)
    hit = np.flatnonzero(per_image)
    if hit.size == 0:
        return
    count = int(per_image.sum())
    whole = " (every row read)" if bool(zero[hit].all()) else ""
    text = (
        f"{where}: {count} {what} row(s) in {hit.size} {label}(s) {_images_text(names, hit)}, "
        f"{_row_text(rows, np.flatnonzero(zero.any(axis=0)))}{whole}"
    )
    if policy == "error":
        fix = "the mean of the other flats" if kind == "flat" else "a transmission of 1, as projIgnoreList does"
        raise LayoutError(f"{text}; {_WHY[what].format(kind=kind)} (badData='repair' replaces such rows by {fix})")
    if kind == "flat":
        valid = ~zero
        for r in np.flatnonzero(zero.any(axis=0)):
            donors = np.flatnonzero(valid[:, r])
            if donors.size == 0:
                raise LayoutError(
                    f"{text}; row {int(rows[r])} has no valid flat in any image, so it cannot be repaired"
                )
            images[zero[:, r], r] = images[donors, r].mean(axis=0, dtype=np.float64)
    else:
        if fill_rows is None:
            raise LayoutError(f"{text}; no flat is available to repair them")
        for i in hit:
            local = np.flatnonzero(zero[i])
            images[i, local] = fill_rows(local)
    logger.warning("%s; repaired (badData='repair')", text)


def check_references(
    flat_mean: np.ndarray,
    dark_mean: np.ndarray,
    *,
    rows: Sequence[int],
    where: str,
    flat_names: Sequence[str] = (),
    dark_names: Sequence[str] = (),
) -> int:
    """Refuse darks that are as bright as the flats; count dead pixels.

    Parameters
    ----------
    flat_mean, dark_mean : ndarray, shape (row, column)
        Mean flat and mean dark of the same detector rows, counts.
    rows : sequence of int
        Absolute detector rows, for messages.
    where : str
        The file, for messages.
    flat_names, dark_names : sequence of str
        Names of the flat and dark images in the raw layout, for messages.

    Returns
    -------
    int
        Pixels with dark >= flat in rows that pass (dead pixels; the caller reports them).

    Raises
    ------
    LayoutError
        A row where more than half of the pixels have dark >= flat (not repairable).
    """
    if flat_mean.size == 0 or dark_mean.size == 0:
        return 0
    dead = dark_mean >= flat_mean
    per_row = dead.sum(axis=1)
    bad_rows = np.flatnonzero(per_row * 2 > flat_mean.shape[1])
    if bad_rows.size:
        count = int(per_row[bad_rows].sum())
        darks = _images_text(dark_names, np.arange(len(dark_names))) if dark_names else "the darks"
        flats = _images_text(flat_names, np.arange(len(flat_names))) if flat_names else "the flats"
        raise LayoutError(
            f"{where}: the darks ({darks}) are as bright as or brighter than the flats ({flats}) at "
            f"{count} pixel(s), {_row_text(rows, bad_rows)} (mean dark {float(dark_mean[bad_rows].mean()):.4g}, "
            f"mean flat {float(flat_mean[bad_rows].mean()):.4g} counts); expected flats brighter than "
            "darks -- the references are swapped or wrong, which cannot be repaired"
        )
    return int(per_row.sum())


def check_transmission(
    trans: np.ndarray,
    *,
    proj_indices: Sequence[int],
    rows: Sequence[int],
    where: str,
    policy: str = "error",
    ignore: np.ndarray | None = None,
) -> np.ndarray:
    """Refuse (or repair) projection rows without beam in flat-field normalised data.

    Parameters
    ----------
    trans : ndarray of float32, shape (angle, row, column)
        Transmission ``(proj - dark) / (flat - dark)``; modified in place when repaired.
    proj_indices : sequence of int
        Projection index (in the raw file) of each image of ``trans``, for messages.
    rows : sequence of int
        Absolute detector row of each row of ``trans``, for messages.
    where : str
        The file, for messages.
    policy : {"error", "repair"}
        ``"repair"`` sets such rows to a transmission of 1 (line integral 0, as
        ``projIgnoreList`` does), with a warning.
    ignore : ndarray of bool, optional
        Images not to check (``projIgnoreList``).

    Returns
    -------
    ndarray
        ``trans`` (repaired when asked).

    Raises
    ------
    LayoutError
        Rows without beam with ``policy="error"``, naming the projections and the
        ``projIgnoreList`` that skips them; rows brighter than the flats (in most projections:
        with any policy).
    """
    check_bad_data_policy(policy)
    if trans.size == 0:
        return trans
    bright = _rows_where(trans, lambda a: a > BRIGHT_TRANSMISSION, ignore, fraction=BRIGHT_FRACTION)
    if bright.any():
        idx = [int(proj_indices[i]) for i in np.flatnonzero(bright.any(axis=1))]
        text = (
            f"{where}: {len(idx)} projection(s) {_indices_text(idx)} brighter than the flats at "
            f"{int(bright.sum())} row(s), {_row_text(rows, np.flatnonzero(bright.any(axis=0)))}: more than "
            f"{BRIGHT_FRACTION:.0%} of the pixels with a transmission above {BRIGHT_TRANSMISSION} (median "
            f"{float(np.median(trans[bright])):.3g})"
        )
        checked = trans.shape[0] - (int(np.count_nonzero(ignore)) if ignore is not None else 0)
        if 2 * len(idx) > checked:  # most projections: the references are wrong
            raise LayoutError(
                f"{text}; expected flats at least as bright as the projections -- flats taken with another "
                "exposure or beam current, or swapped with projections, which cannot be repaired"
            )
        if policy == "error":  # a few frames: saturated, a flash
            raise LayoutError(
                f"{text}; such frames (saturated, a flash) hold no data. Skip them with projIgnoreList={idx}, "
                "or badData='repair' (transmission 1 there)"
            )
        trans[bright] = 1.0
        logger.warning("%s; repaired (badData='repair'): transmission 1 there", text)
    dark = _rows_where(trans, lambda a: a < NO_BEAM_TRANSMISSION, ignore)
    hit = np.flatnonzero(dark.any(axis=1))
    if hit.size == 0:
        return trans
    idx = [int(proj_indices[i]) for i in hit]
    shown = _indices_text(idx)
    text = (
        f"{where}: {len(idx)} projection(s) {shown} without beam at {int(dark.sum())} row(s), "
        f"{_row_text(rows, np.flatnonzero(dark.any(axis=0)))}: more than {NO_BEAM_FRACTION:.0%} of the pixels "
        f"at the dark level (transmission < {NO_BEAM_TRANSMISSION}; a beam dump or a closed shutter)"
    )
    if policy == "error":
        raise LayoutError(
            f"{text}; no beam means no data. Skip them with projIgnoreList={idx}, or badData='repair' "
            "(transmission 1 there)"
        )
    trans[dark] = 1.0
    logger.warning("%s; repaired (badData='repair'): transmission 1 there", text)
    return trans


def _rows_where(
    trans: np.ndarray,
    cond: Callable[[np.ndarray], np.ndarray],
    ignore: np.ndarray | None,
    *,
    fraction: float = NO_BEAM_FRACTION,
) -> np.ndarray:
    """(image, row) mask of the rows where ``cond`` holds at more than ``fraction`` of the
    pixels: candidates from every 8th column (loosely), then exact."""
    sample = trans[:, :, ::8]
    mask = np.count_nonzero(cond(sample), axis=2) > 0.5 * fraction * sample.shape[2]
    images = np.flatnonzero(mask.any(axis=1))
    if images.size:
        mask[images] = np.count_nonzero(cond(trans[images]), axis=2) > fraction * trans.shape[2]
    if ignore is not None:
        mask[np.asarray(ignore, dtype=bool)] = False
    return mask


def _indices_text(idx: Sequence[int], limit: int = 8) -> str:
    return ", ".join(str(i) for i in idx[:limit]) + (f" and {len(idx) - limit} more" if len(idx) > limit else "")
