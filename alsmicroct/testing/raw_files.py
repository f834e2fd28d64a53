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
    """Write a small raw file in the beamline 8.3.2 ("als") layout.

    The file holds a group ``/<dataset>`` with byte-string attributes ending in
    ``"\\r"`` (as the beamline writes them) and 2-D ``uint16`` images
    ``<dataset>_0000_<i>.tif`` (projections), ``<dataset>bak_<i>.tif`` (flats) and
    ``<dataset>drk_<i>.tif`` (darks).

    Parameters
    ----------
    path : str or path-like
        File to create (parent folders are created).
    dataset : str, optional
        Group name; default the file stem.
    nangles, nrows, ncols, nflats, ndarks : int
        Image counts and size in pixels.
    seed : int
        Seed of the pseudo-random pixel values.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import h5py
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = dataset or path.stem
    rng = np.random.default_rng(seed)
    attrs = {
        "nangles": nangles, "nslices": nrows, "nrays": ncols, "arange": 180,
        "pxsize": 0.00065, "num_bright_field": nflats, "num_dark_fields": ndarks,
        "dataset": name, "end_station": "bl832",
    }
    with h5py.File(path, "w") as f:
        group = f.create_group(name)
        for key, value in attrs.items():
            group.attrs[key] = np.bytes_(f"{value}\r".encode())
        images = [f"{name}_0000_{i:04d}.tif" for i in range(nangles)]
        images += [f"{name}bak_{i:04d}.tif" for i in range(nflats)]
        images += [f"{name}drk_{i:04d}.tif" for i in range(ndarks)]
        for image in images:
            ds = group.create_dataset(
                image, data=rng.integers(0, 4096, size=(nrows, ncols), dtype=np.uint16)
            )
            ds.attrs["date"] = np.bytes_(b"2016-05-12 09:22:20\r")
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
