"""The quality report of every reconstruction (issue 15 section 4): figures gathered on a few
sample rows while the scan runs, in the result, the record, the batch summary and the
quick-look picture; data that cannot support a figure warns and falls back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from summary_util import summary_row

from alsmicroct.reconstruction import recon
from alsmicroct.sim import simulate_scan

_SCAN = dict(phantom="shepp", nangles=121, nslices=6, nrays=64, cor=33.3, seed=3)


def _recon(scan, tmp_path, name="out", **kw):
    kw.setdefault("cor", 33.3)
    return recon(str(scan.path), outputPath=str(tmp_path / name), num_threads=1, **kw)


def test_report_in_result_record_and_picture(tmp_path):
    from PIL import Image

    scan = simulate_scan(tmp_path / "a.h5", **_SCAN)
    res = _recon(scan, tmp_path, corFunction="vo", cor=None)
    q = res.quality
    assert q["gathered"] and q["sample_rows"] == [0, 2, 5]
    for key in (
        "ring_index",
        "ring_index_slice",
        "sharpness",
        "raw_saturated_fraction",
        "raw_zero_fraction",
        "flat_drift",
        "max_line_integral",
    ):
        assert q[key] is not None and np.isfinite(q[key]), key
    assert q["centre_confidence"]["label"] in ("high", "low")
    assert q["tilt_deg"]["corrected"] == 0.0
    assert q["suggestions"]["applied"] is False
    lo, hi = q["suggestions"]["range_8bit"]["cast8bit_min"], q["suggestions"]["range_8bit"]["cast8bit_max"]
    assert lo < hi
    assert q["warnings"] == []
    record = json.loads(res.provenance_path.read_text())
    assert record["quality"]["ring_index"] == pytest.approx(q["ring_index"])
    assert Image.open(res.quicklook).size == (1200, 900)


def test_flat_drift_matches_the_simulated_drift(tmp_path):
    scan = simulate_scan(tmp_path / "d.h5", **_SCAN, flat_drift=0.05, noise=False)
    q = _recon(scan, tmp_path, quicklook=False).quality
    from alsmicroct.io import open_scan

    with open_scan(scan.path) as s:  # truth from the file: every flat and dark
        flats, darks, groups = s.read_flats(), s.read_darks(), np.asarray(s.flat_indices)
    means = [flats[groups == g].mean() - darks.mean() for g in np.unique(groups)]
    truth = (max(means) - min(means)) / max(means)
    assert truth > 0.02
    assert q["flat_drift"] == pytest.approx(truth, rel=0.05)


def test_saturated_fraction_equals_the_truth_and_warns(tmp_path, caplog):
    scan = simulate_scan(tmp_path / "s.h5", **_SCAN, flux=90000.0)
    with caplog.at_level("WARNING"):
        q = _recon(scan, tmp_path, quicklook=False).quality
    from alsmicroct.io import open_scan

    with open_scan(scan.path) as s:
        raw = np.stack([s.read_projections(rows=(r, r + 1, 1))[:, 0] for r in q["sample_rows"]])
    truth = np.count_nonzero(raw >= 65535) / raw.size
    assert truth > 0.01
    assert q["raw_saturated_fraction"] == pytest.approx(truth, abs=1e-12)
    assert any("saturated" in w for w in q["warnings"])
    assert any("saturated" in r.getMessage() for r in caplog.records)


def test_rings_raise_the_ring_index(tmp_path):
    clean = simulate_scan(tmp_path / "c.h5", **_SCAN, rings=0.0)
    ringed = simulate_scan(tmp_path / "r.h5", **_SCAN, rings=0.02)
    q0 = _recon(clean, tmp_path, "o0", quicklook=False, doFWringremoval=False).quality
    q1 = _recon(ringed, tmp_path, "o1", quicklook=False, doFWringremoval=False).quality
    assert q1["ring_index"] > 2 * q0["ring_index"]
    removed = _recon(ringed, tmp_path, "o2", quicklook=False).quality  # ring removal on: residual
    assert removed["ring_index"] < 0.5 * q1["ring_index"]


def test_outliers_removed_are_counted(tmp_path):
    scan = simulate_scan(tmp_path / "z.h5", **_SCAN, zingers=2e-3, noise=False)
    q = _recon(scan, tmp_path, quicklook=False, doOutliers2D=True, outlier_diff2D=2000).quality
    z = q["outliers_removed"]
    hits = scan.artefacts["zingers"]  # (projection, row, column) of every pixel hit
    truth = np.count_nonzero(np.isin(hits[:, 1], q["sample_rows"]))
    assert truth > 10
    assert z["per_step"]["outliers2D"] == z["pixels"] == truth
    off = _recon(scan, tmp_path, "off", quicklook=False).quality
    assert off["outliers_removed"] is None


def test_blank_scan_warns_and_falls_back(tmp_path, caplog):
    scan = simulate_scan(tmp_path / "b.h5", **_SCAN, peak_attenuation=1e-4)
    with caplog.at_level("WARNING"):
        q = _recon(scan, tmp_path, quicklook=False).quality
    assert q["sharpness"] is None
    assert "fallback" in q["suggestions"]["range_8bit"]["how"]
    assert any("blank sample" in w for w in q["warnings"])
    assert any("blank sample" in r.getMessage() for r in caplog.records)


def test_too_few_angles_warn(tmp_path):
    scan = simulate_scan(tmp_path / "f.h5", **{**_SCAN, "nangles": 9})
    q = _recon(scan, tmp_path, quicklook=False).quality
    assert any("projections for slices" in w for w in q["warnings"])


def test_batch_summary_shows_quality():
    row = summary_row(cor=33.3, detail={"ring_index": 0.0123, "saturated_fraction": 0.002, "quality_warnings": ["x"]})
    assert row[6] == "rings 0.0123, sat 0.2%, 1 warning"


def test_resume_keeps_the_earlier_report(tmp_path):
    scan = simulate_scan(tmp_path / "k.h5", **_SCAN)
    first = _recon(scan, tmp_path, quicklook=False).quality
    again = _recon(scan, tmp_path, quicklook=False)
    assert again.skipped == 6
    assert again.quality["kept_from_earlier_run"] is True
    assert again.quality["ring_index"] == pytest.approx(first["ring_index"])
    assert json.loads(again.provenance_path.read_text())["quality"]["ring_index"] == pytest.approx(first["ring_index"])
