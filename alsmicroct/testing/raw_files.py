"""Tiny ALS-layout raw HDF5 files for tests and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np

__all__ = ["RandomScan", "make_catalogue", "write_random_scan", "write_raw_scan"]


class RandomScan(NamedTuple):
    """The images :func:`write_random_scan` wrote (uint16) and the flat positions."""

    proj: np.ndarray
    flats: np.ndarray
    darks: np.ndarray
    flat_positions: tuple[int, ...]


def write_random_scan(
    path: str | os.PathLike[str],
    *,
    nangles: int,
    nslices: int,
    nrays: int,
    i0cycle: int = 0,
    num_flats: int = 1,
    num_darks: int = 1,
    seed: int = 0,
    high: int = 65536,
    **kwargs: Any,
) -> RandomScan:
    """Write a raw file of pseudo-random counts with :func:`alsmicroct.io.write_scan`.

    Parameters
    ----------
    path : str or path-like
        File to create (its folder must exist).
    nangles, nslices, nrays : int
        Projections, detector rows and columns.
    i0cycle, num_flats, num_darks : int
        As for :class:`alsmicroct.io.RawScanWriter`.
    seed : int
        Seed of the counts, drawn uniformly (projections from ``1 .. high - 1``, flats of
        every group from ``high // 2 .. high - 1``, then darks from ``0 .. high // 8 - 1``).
    **kwargs
        Other keywords of :class:`~alsmicroct.io.RawScanWriter`; by default
        ``layout="als"``, ``dataset`` the file stem, ``arange=180.0``, ``pxsize_mm=0.00065``.

    Returns
    -------
    RandomScan
    """
    import numpy as np

    from ..io import write_scan
    from ..io._common import expected_flat_positions

    rng = np.random.default_rng(seed)
    ngroups = len(expected_flat_positions(nangles, i0cycle)) if num_flats else 0
    # Counts a detector could give (flats brighter than darks, no all-zero rows), so that
    # the readers' sanity checks pass: projections 1..high-1, flats in the upper half,
    # darks in the lowest eighth.
    proj, flats, darks = (
        rng.integers(lo, hi, (n, nslices, nrays), dtype=np.uint16)
        for n, lo, hi in ((nangles, 1, high), (ngroups * num_flats, high // 2, high), (num_darks, 0, max(high // 8, 1)))
    )
    kwargs = {"layout": "als", "dataset": Path(path).stem, "arange": 180.0, "pxsize_mm": 0.00065, **kwargs}
    positions = write_scan(path, proj, flats, darks, i0cycle=i0cycle, num_flats=num_flats, **kwargs)
    return RandomScan(proj, flats, darks, positions)


def write_raw_scan(
    path: str | os.PathLike[str],
    dataset: str | None = None,
    *,
    nangles: int = 3,
    nrows: int = 4,
    ncols: int = 5,
    nflats: int = 1,
    ndarks: int = 1,
    seed: int = 0,
) -> Path:
    """Write a small raw file in the beamline 8.3.2 ("als") layout with pseudo-random counts.

    A :func:`write_random_scan`: a group ``/<dataset>`` with byte-string attributes ending
    in ``"\\r"`` (as the beamline writes them, plus ``dataset``) and ``(1, nrows, ncols)``
    ``uint16`` images ``<dataset>_0000_<pppp>.tif`` (projections),
    ``<dataset>bak_<kkkk>_<pppp>.tif`` (``nflats`` flats before the first and after the
    last projection) and ``<dataset>drk_<kkkk>_<pppp>.tif`` (darks).

    Parameters
    ----------
    path : str or path-like
        File to create (parent folders are created).
    dataset : str, optional
        Group name; default the file stem.
    nangles, nrows, ncols : int
        Projections and image size in pixels.
    nflats, ndarks : int
        Flats per group (two groups when ``nangles > 1``) and darks.
    seed : int
        Seed of the pseudo-random pixel values (0 to 4095).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = dataset or path.stem
    write_random_scan(
        path,
        nangles=nangles,
        nslices=nrows,
        nrays=ncols,
        num_flats=nflats,
        num_darks=ndarks,
        seed=seed,
        high=4096,
        dataset=name,
        extra_attrs={"dataset": name},
    )
    return path


def make_catalogue(
    root: str | os.PathLike[str],
    layout: dict[str, list[str]] | None = None,
    *,
    start: float = 1_460_000_000.0,
    step: float = 60.0,
    **image_options: int,
) -> Path:
    """Write a folder of small raw files for :class:`~.spot_server.SpotServer`.

    Parameters
    ----------
    root : str or path-like
        Folder to fill with ``<owner>/<name>.h5``.
    layout : dict of str to list of str, optional
        Names per owner; default 12 scans ``scan_00`` ... ``scan_11`` plus ``scan_h5``
        and ``"my scan#1%"`` for ``alice`` and ``bob_scan`` for ``bob``.
    start, step : float
        Modification time (POSIX seconds) of the first file and the increment between
        files, so that the stage dates sort in writing order.
    **image_options
        Passed to :func:`write_raw_scan`.

    Returns
    -------
    pathlib.Path
        ``root``.
    """
    root = Path(root)
    if layout is None:
        layout = {"alice": [f"scan_{i:02d}" for i in range(12)] + ["scan_h5", "my scan#1%"], "bob": ["bob_scan"]}
    stamp = start
    for owner, names in layout.items():
        for index, name in enumerate(names):
            path = write_raw_scan(root / owner / f"{name}.h5", name, seed=index, **image_options)
            os.utime(path, (stamp, stamp))
            stamp += step
    return root
