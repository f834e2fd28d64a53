"""Streaming copies between volume formats (crop, 8-bit, TIFF to OME-Zarr) and a napari view.

:func:`copy_volume` reads a volume (:func:`~alsmicroct.io.volumes.open_volume`) slab by slab,
applies a function to each slab and writes it in any format
(:func:`~alsmicroct.io.volumes.open_writer`), keeping the voxel size and the provenance:
memory is one slab (one Zarr chunk layer), whatever the number of slices.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError, RangeError
from .outputs import claim_stack
from .volumes import detect_format, open_volume, open_writer, remove_volume, slab_ranges

__all__ = ["copy_volume", "default_output", "view"]

logger = logging.getLogger(__name__)

_SUFFIX = {"zarr": ".ome.zarr", "h5": ".h5", "tiff": ""}


def _range(rng: Sequence[int] | None, n: int, name: str) -> tuple[int, int]:
    if rng is None:
        return 0, n
    start, stop = (int(v) for v in rng)
    if not 0 <= start < stop <= n:
        raise RangeError(f"{name} range ({start}, {stop}) outside 0..{n}: need 0 <= start < stop <= {n}")
    return start, stop


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".ome.zarr", ".zarr", ".h5", ".hdf5"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def default_output(src: str | os.PathLike, fmt: str, tag: str = "") -> Path:
    """``<src stem><tag><format suffix>`` next to ``src`` (e.g. ``recx_crop.ome.zarr``)."""
    src = Path(src).resolve()
    return src.with_name(_stem(src) + tag + _SUFFIX[fmt])


def copy_volume(
    src: str | os.PathLike,
    dst: str | os.PathLike | None = None,
    *,
    fmt: str | None = None,
    func: Callable[[np.ndarray], np.ndarray] | None = None,
    z: Sequence[int] | None = None,
    y: Sequence[int] | None = None,
    x: Sequence[int] | None = None,
    prefix: str | None = None,
    tag: str = "",
    chunks: tuple[int, int, int] | None = None,
    ngff_version: str = "0.5",
    multiscale: bool = False,
    compression: Any = "default",
    attrs: Mapping[str, Any] | None = None,
    voxel_size_um: Sequence[float] | None = None,
    overwrite: bool = False,
) -> Path:
    """Copy volume ``src`` (any format) into ``dst`` in format ``fmt``, slab by slab.

    Parameters
    ----------
    src : str or path-like
        TIFF folder (one run: ``prefix`` chooses), OME-Zarr store or HDF5 file.
    dst : str or path-like, optional
        Output (default :func:`default_output` with ``tag``); a store or file name, or for
        zarr/h5 a folder to write ``<stem><tag>.ome.zarr`` / ``.h5`` into.
    fmt : {"tiff", "zarr", "h5"}, optional
        Output format (default: the input's).
    func : callable, optional
        Applied to each ``(n, y, x)`` slab (e.g. the 8-bit cast); its output dtype is stored.
    z, y, x : (start, stop), optional
        Crop ranges in voxels, ``stop`` excluded.
    chunks, ngff_version, multiscale, compression
        As :func:`~alsmicroct.io.volumes.open_writer`.
    attrs : mapping, optional
        Added to the stored attributes (besides the source's).
    voxel_size_um : (dz, dy, dx), optional
        Voxel size, micrometer (default: the source's, when known).
    overwrite : bool, optional
        Replace an earlier output at ``dst`` (the store or file; for TIFF the slices of the
        same prefix, :func:`~alsmicroct.io.outputs.claim_stack`); without it an earlier
        output is refused, nothing overwritten.

    Returns
    -------
    pathlib.Path
        The written volume (TIFF: the folder, slices ``<stem>_NNNNN.tiff``).

    Raises
    ------
    RangeError
        A crop range outside the volume (before anything is written).
    OutputError
        As :func:`~alsmicroct.io.volumes.open_writer`.
    """
    src = Path(src)
    fmt = fmt or detect_format(src)
    out = Path(dst) if dst is not None else default_output(src, fmt, tag)
    if fmt != "tiff" and not out.name.endswith((".zarr", ".h5", ".hdf5")):  # a folder to put it in
        out.mkdir(parents=True, exist_ok=True)
        out = out / default_output(src, fmt, tag).name
    if out.resolve() == src.resolve():
        raise ParameterError(f"{src}: the output would overwrite the input; choose another output")
    with open_volume(src, prefix=prefix) as vol:
        (z0, z1), (y0, y1), (x0, x1) = (
            _range(r, n, name) for r, n, name in zip((z, y, x), vol.shape, "zyx", strict=True)
        )
        shape = (z1 - z0, y1 - y0, x1 - x0)
        probe = vol[z0 : z0 + 1, y0:y1, x0:x1]
        dtype = (func(probe) if func is not None else probe).dtype
        size = voxel_size_um or vol.attrs.get("voxel_size_um")
        origin = [
            float(o) + i * float(s)
            for o, i, s in zip(vol.attrs.get("origin_um") or (0, 0, 0), (z0, y0, x0), size or (1, 1, 1), strict=True)
        ]
        meta = {k: v for k, v in vol.attrs.items() if k not in ("status", "levels")}
        meta.update({"source": str(src), "crop_zyx": [[z0, z1], [y0, y1], [x0, x1]], **(attrs or {})})
        stem = _stem(src.resolve())
        if fmt == "tiff":
            names = [f"{stem}_{i:05d}.tiff" for i in range(shape[0])]
            claim_stack(out, names, overwrite=overwrite, what="copy of a volume")
        elif overwrite and remove_volume(out):
            logger.warning("%s: overwrite=True: removed the earlier output", out)
        writer = open_writer(
            out,
            fmt,
            shape,
            dtype=dtype,
            chunks=chunks,
            voxel_size_um=size,
            origin_um=origin,
            attrs=meta,
            ngff_version=ngff_version,
            multiscale=multiscale,
            compression=compression,
            prefix=stem,
        )
        step = getattr(writer, "chunks", (16,))[0]
        try:
            for a, b in slab_ranges(shape[0], step):
                slab = vol[z0 + a : z0 + b, y0:y1, x0:x1]
                writer.write_slab(a, func(slab) if func is not None else slab)
            writer.finish(meta.get("provenance"))
        except BaseException:
            writer.abort()
            raise
    logger.info("%s -> %s (%s, %d x %d x %d)", src, out, fmt, *shape)
    return out


def view(path: str | os.PathLike, *, prefix: str | None = None, block: bool = False) -> Any:
    """Open a volume in napari (an optional extra: ``pip install 'alsmicroct[view]'``).

    An OME-Zarr store opens with all its levels (napari picks the level for the zoom), in
    micrometer; HDF5 and TIFF folders open lazily (slices read when shown).

    Parameters
    ----------
    path : str or path-like
        A volume of any format.
    prefix : str, optional
        TIFF folder with several runs: the run.
    block : bool
        Run napari's event loop until the window is closed (scripts); otherwise return.

    Returns
    -------
    napari.Viewer

    Raises
    ------
    ParameterError
        napari is not installed.
    """
    try:
        import napari
    except ImportError as exc:
        raise ParameterError(
            f"alsmicroct.view needs napari ({exc}); install it with "
            "pip install 'alsmicroct[view]' (or pip install napari[all])"
        ) from None
    vol = open_volume(path, prefix=prefix)
    data: Any = vol
    if vol.format == "zarr" and len(vol.attrs.get("levels", ())) > 1:
        import zarr

        group = zarr.open_group(str(path), mode="r")
        data = [group[level] for level in vol.attrs["levels"]]
    scale = vol.attrs.get("voxel_size_um") or (1.0, 1.0, 1.0)
    viewer = napari.Viewer(title=str(path))
    viewer.add_image(data, name=Path(path).name, scale=scale, multiscale=isinstance(data, list))
    viewer.scale_bar.visible = True
    viewer.scale_bar.unit = "um"
    if block:
        napari.run()
    return viewer
