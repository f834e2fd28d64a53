"""A small scan is read once (issue 14): recon() opens the raw file once, and the rows the
centre, the tilt estimate and the confidence check read inside the run's first row block come
from one read of that block (pipeline/reads.py), with the values a direct read gives."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from alsmicroct.io import _base, open_scan, readers
from alsmicroct.params import ReconParams
from alsmicroct.pipeline.prepare import open_planned
from alsmicroct.pipeline.reads import SharedReads
from alsmicroct.pipeline.runner import first_raw_read
from alsmicroct.reconstruction import recon
from alsmicroct.sim import simulate_scan


@pytest.fixture(scope="module")
def scan12(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shared")
    return simulate_scan(
        folder / "s12.h5", phantom="shepp", nangles=181, nslices=12, nrays=64, cor=33.3, seed=5, write_truth=False
    )


def _count_reads(monkeypatch):
    calls = {"open": 0, "read_projections": []}
    opener = readers.open_scan
    reader = _base.RawScan.read_projections

    def counting_open(*a, **kw):
        calls["open"] += 1
        return opener(*a, **kw)

    def counting_read(self, proj=None, rows=None):
        calls["read_projections"].append((proj, rows))
        return reader(self, proj=proj, rows=rows)

    monkeypatch.setattr("alsmicroct.io.open_scan", counting_open)
    monkeypatch.setattr(_base.RawScan, "read_projections", counting_read)
    return calls


def _digests(files):
    return [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]


def test_recon_opens_and_reads_the_scan_once(scan12, tmp_path, monkeypatch):
    kw = dict(cor=None, corFunction="pc", num_threads=1, outputPath=str(tmp_path / "a"))
    calls = _count_reads(monkeypatch)
    res = recon(str(scan12.path), **kw)
    assert calls["open"] == 1
    # one pass over the projections: the first (only) row block, shared with the centre checks
    assert calls["read_projections"] == [((0, 181, 1), (0, 12, 1))]
    assert res.center_info["label"] == "high"
    # the same slices as a run that reads everything from the file (no block given)
    monkeypatch.setattr("alsmicroct.pipeline.runner.first_raw_read", lambda plan: None)
    again = recon(str(scan12.path), **{**kw, "outputPath": str(tmp_path / "b")})
    assert len(calls["read_projections"]) > 2
    assert again.cor == res.cor and again.center_info == res.center_info
    assert _digests(again.files) == _digests(res.files)


def test_shared_reads_equal_direct_reads(scan12):
    with open_scan(scan12.path) as scan:
        shared = SharedReads(scan, ((0, 181, 1), (2, 11, 1)))
        assert not shared.holds_block
        for proj, rows in [((5, 6, 1), (2, 11, 1)), ((0, 181, 1), (2, 11, 4)), ((10, 100, 3), (4, 9, 2))]:
            np.testing.assert_array_equal(
                shared.read_projections(proj=proj, rows=rows), scan.read_projections(proj=proj, rows=rows)
            )
            np.testing.assert_array_equal(shared.read_flats(rows=rows), scan.read_flats(rows=rows))
            np.testing.assert_array_equal(shared.read_darks(rows=rows), scan.read_darks(rows=rows))
        assert shared.holds_block
        assert shared.meta is scan.meta and shared.flat_indices is scan.flat_indices
        # the block's own read hands the arrays over, then everything goes to the file
        block = shared.read_projections(proj=(0, 181, 1), rows=(2, 11, 1))
        np.testing.assert_array_equal(block, scan.read_projections(proj=(0, 181, 1), rows=(2, 11, 1)))
        shared.read_flats(rows=(2, 11, 1))
        shared.read_darks(rows=(2, 11, 1))
        assert not shared.holds_block


def test_shared_block_dropped_when_its_read_never_comes(scan12):
    with open_scan(scan12.path) as scan:
        shared = SharedReads(scan, ((0, 181, 1), (0, 6, 1)))
        shared.read_projections(proj=(0, 1, 1), rows=(0, 3, 1))  # outside nothing: loads
        assert shared.holds_block
        out = shared.read_projections(proj=(0, 181, 1), rows=(0, 8, 1))  # not inside: from the file
        assert not shared.holds_block
        np.testing.assert_array_equal(out, scan.read_projections(proj=(0, 181, 1), rows=(0, 8, 1)))
        shared.read_projections(proj=(0, 1, 1), rows=(0, 3, 1))  # no block any more: from the file
        assert not shared.holds_block


def test_first_raw_read_follows_the_runner(scan12):
    with open_planned(scan12.path, ReconParams(sinoused=(2, 10, 2), chunk_sino=3)) as (_, plan):
        assert first_raw_read(plan) == ((0, 181, 1), (2, 7, 2))
    with open_planned(scan12.path, ReconParams(outputFormat="zarr")) as (_, plan):
        assert first_raw_read(plan) is None
