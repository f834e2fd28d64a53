"""Scan simulator: phantoms with known truth, analytic projections, detector artefacts and
raw beamline files (both layouts) for tests, examples and benchmarks.

>>> from alsmicroct.sim import simulate_scan
>>> s = simulate_scan("scan.h5", phantom="shepp", nangles=181, nslices=8, nrays=128)  # doctest: +SKIP
>>> s.cor, s.angles[:2], s.volume().shape  # doctest: +SKIP

Array level: :func:`phantom_volume` (truth), :func:`project` (line integrals),
:func:`simulate_data` (all images in memory).
"""

from __future__ import annotations

from .artefacts import Spectrum, fresnel_intensity
from .phantom import PHANTOMS, Phantom, foam, make_phantom, phantom_volume, rock, shepp_logan
from .project import legacy_angles, project
from .scan import ScanConfig, SimulatedScan, simulate_data, simulate_scan, truth_path_for

__all__ = [
    "PHANTOMS",
    "Phantom",
    "ScanConfig",
    "SimulatedScan",
    "Spectrum",
    "foam",
    "fresnel_intensity",
    "legacy_angles",
    "make_phantom",
    "phantom_volume",
    "project",
    "rock",
    "shepp_logan",
    "simulate_data",
    "simulate_scan",
    "truth_path_for",
]
