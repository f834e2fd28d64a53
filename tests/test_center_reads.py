"""Centre finding reads the raw file sparingly (issue 14): the confidence check's rows come
from one read of the projections, and the many-row sinograms equal the one-row ones."""

from __future__ import annotations

import numpy as np

from alsmicroct.io import open_scan
from alsmicroct.params import ReconParams
from alsmicroct.pipeline import center
from alsmicroct.pipeline.prepare import prepare


def test_confidence_reads_the_projections_once(sim_scans, monkeypatch):
    path = sim_scans["als"].path
    plan = prepare(str(path), ReconParams.from_mapping({"num_threads": 1, "cor": 33.3}))
    with open_scan(path) as scan:
        calls = []
        read = scan.read_projections
        monkeypatch.setattr(scan, "read_projections", lambda **kw: calls.append(kw) or read(**kw))
        info = center.center_confidence(scan, plan, 33.3)
    assert len(calls) == 1, calls
    assert len(info["rows"]) == 3 and info["rows"][0] == int(plan.rows[0])
    assert info["label"] == "high", info


def test_many_row_sinograms_equal_one_row_ones(sim_scans):
    path = sim_scans["als"].path
    plan = prepare(str(path), ReconParams.from_mapping({"num_threads": 1, "cor": 33.3}))
    rows = plan.rows
    spec = (int(rows[0]), int(rows[-1]) + 1, 2)
    with open_scan(path) as scan:
        many = center.preprocessed_sinograms(scan, plan, spec)
        for k, r in enumerate(range(*spec)):
            np.testing.assert_array_equal(many[:, k, :], center.preprocessed_sinogram(scan, plan, r))
