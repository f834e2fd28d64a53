"""Shared fixtures: small simulated raw scans (both layouts) with known truth."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sim_scans(tmp_path_factory):
    """Two small scans of the same phantom: old ALS layout and Data Exchange layout."""
    from alsmicroct.sim import simulate_scan

    folder = tmp_path_factory.mktemp("raw")
    common = dict(phantom="shepp", nangles=181, nslices=6, nrays=64, cor=33.3, seed=3, rings=0.0)
    return {
        "als": simulate_scan(folder / "scan_als.h5", layout="als", **common),
        "dxchange": simulate_scan(folder / "scan_dx.h5", layout="dxchange", **common),
    }
