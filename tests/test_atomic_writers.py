"""Every writer that renames a temporary onto its final name fsyncs it first (io/atomic.py)."""

from __future__ import annotations

import os

import numpy as np

import alsmicroct.io.atomic as atomic
from alsmicroct.io import open_scan, write_scan
from alsmicroct.io._common import expected_flat_positions
from alsmicroct.sim import simulate_scan


def _record_fsyncs(monkeypatch):
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else fd)
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    return synced


def test_raw_scan_writer_fsyncs_before_rename(tmp_path, monkeypatch):
    synced = _record_fsyncs(monkeypatch)
    proj = np.ones((4, 2, 8), np.uint16)
    nflat = len(expected_flat_positions(4, 0))
    write_scan(
        tmp_path / "scan.h5",
        proj,
        np.ones((nflat, 2, 8)),
        np.zeros((1, 2, 8)),
        dataset="scan",
        arange=180.0,
        pxsize_mm=0.001,
        num_flats=1,
    )
    assert any(str(s).startswith(str(tmp_path / ".scan.h5.")) for s in synced), synced
    with open_scan(tmp_path / "scan.h5") as scan:
        assert scan.meta.nangles == 4


def test_simulator_truth_file_fsynced(tmp_path, monkeypatch):
    synced = _record_fsyncs(monkeypatch)
    s = simulate_scan(tmp_path / "s.h5", nangles=8, nslices=2, nrays=16, seed=0)
    assert any(str(x).startswith(str(s.truth_path.with_name(f".{s.truth_path.name}."))) for x in synced), synced
