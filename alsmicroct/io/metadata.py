"""Scan metadata common to both raw layouts: :class:`ScanMetadata`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = ["ScanMetadata"]


@dataclass(frozen=True, eq=False)
class ScanMetadata:
    """What a raw scan file says about the scan (read-only).

    Parameters
    ----------
    path : Path
        The raw file.
    dataset : str
        Dataset name (old layout: image-name prefix; Data Exchange: file stem unless the
        file records a sample name).
    layout : {"als", "dxchange"}
        Old per-image layout or Data Exchange.
    nangles, nslices, nrays : int
        Projections, detector rows, detector columns (taken from the images).
    arange : float
        Angular range in degrees.
    pxsize_mm : float
        Detector pixel size in mm (``pxsize_cm`` is the same in cm).
    pxsize_source : {"file", "keyword", "none"}
        Where ``pxsize_mm`` comes from: the raw file, the ``pixel_size`` keyword of
        :func:`~alsmicroct.io.open_scan` (wins over the file), or neither -- then
        ``pxsize_mm`` is 10 (1 cm) so that values computed "in 1/cm" are in 1/pixel, and a
        warning is logged. Record it with the output.
    i0cycle : int
        Flat-group period in projections (0: flats only at the first and last projection).
    num_flats : int
        Flat images per group (largest group present).
    num_darks : int
        Dark images.
    flat_positions : tuple of int
        Projection indices where flat groups were taken, increasing.
    energy_kev : float or None
        Beam energy in keV.
    camera_distance_mm : float or None
        Sample-to-detector distance in mm.
    rot_angles : ndarray of float64 or None
        Per-projection angles in degrees, read-only: old layout, the stage ``rot_angle``
        attribute of each projection (None when absent); Data Exchange, ``/exchange/theta``.
    first_angle : float
        Old layout: ``rot_angle`` of the first projection (0 when absent); Data Exchange:
        the first ``theta``. Degrees.
    attrs : mapping
        Every raw attribute, decoded (``"\\r"`` stripped, numbers as int/float). Old layout:
        group attributes by name, root attributes by name too (as ``"/<name>"`` where a
        group attribute has the same name and another value). Data Exchange: root
        attributes by name, small metadata datasets by path without the leading ``/``
        (``"measurement/instrument/detector/pixel_size"``).
    """

    path: Path
    dataset: str
    layout: str
    nangles: int
    nslices: int
    nrays: int
    arange: float
    pxsize_mm: float
    i0cycle: int
    num_flats: int
    num_darks: int
    flat_positions: tuple[int, ...]
    energy_kev: float | None
    camera_distance_mm: float | None
    rot_angles: np.ndarray | None
    first_angle: float
    attrs: MappingProxyType[str, Any]
    pxsize_source: str = "file"
    pxsize_cm: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pxsize_cm", float(self.pxsize_mm) / 10.0)
        if not isinstance(self.attrs, MappingProxyType):
            object.__setattr__(self, "attrs", MappingProxyType(dict(self.attrs)))
        if self.rot_angles is not None:
            angles = np.array(self.rot_angles, dtype=np.float64)
            angles.setflags(write=False)
            object.__setattr__(self, "rot_angles", angles)
        object.__setattr__(self, "flat_positions", tuple(int(p) for p in self.flat_positions))

    def summary(self) -> str:
        """One-line description for logs."""
        energy = "?" if self.energy_kev is None else f"{self.energy_kev:g} keV"
        pixel = "pixel size unknown" if self.pxsize_source == "none" else f"{self.pxsize_mm * 1000:g} um"
        return (
            f"{self.path.name} [{self.layout}] {self.dataset}: {self.nangles} x {self.nslices} x "
            f"{self.nrays}, {self.arange:g} deg, {pixel}, {energy}, "
            f"{self.num_flats} flats x {len(self.flat_positions)} groups, {self.num_darks} darks"
        )
