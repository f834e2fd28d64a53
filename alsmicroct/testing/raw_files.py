"""Tiny ALS-layout raw HDF5 files for tests and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_raw_scan", "make_catalogue"]


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

    A thin use of :func:`alsmicroct.io.write_scan`: a group ``/<dataset>`` with byte-string
    attributes ending in ``"\\r"`` (as the beamline writes them, plus ``dataset``) and
    ``(1, nrows, ncols)`` ``uint16`` images ``<dataset>_0000_<pppp>.tif`` (projections),
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
        Seed of the pseudo-random pixel values.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import numpy as np

    from ..io import write_scan
    from ..io._common import expected_flat_positions

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = dataset or path.stem
    rng = np.random.default_rng(seed)
    nflat_images = len(expected_flat_positions(nangles, 0)) * nflats if nflats else 0
    proj, flats, darks = (
        rng.integers(0, 4096, size=(n, nrows, ncols), dtype=np.uint16)
        for n in (nangles, nflat_images, ndarks)
    )
    write_scan(
        path, proj, flats, darks, dataset=name, arange=180.0, pxsize_mm=0.00065,
        num_flats=nflats, extra_attrs={"dataset": name},
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
        layout = {"alice": [f"scan_{i:02d}" for i in range(12)] + ["scan_h5", "my scan#1%"],
                  "bob": ["bob_scan"]}
    stamp = start
    for owner, names in layout.items():
        for index, name in enumerate(names):
            path = write_raw_scan(root / owner / f"{name}.h5", name, seed=index, **image_options)
            os.utime(path, (stamp, stamp))
            stamp += step
    return root
