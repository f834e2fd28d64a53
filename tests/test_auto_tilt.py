"""Automatic detector tilt (issue 15, section 3): estimated from the 0/180 pair, recorded,
corrected by default (``autoTilt="apply"``) when it matters, refused on a featureless pair."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from alsmicroct.params import ReconParams
from alsmicroct.post.quality import psnr
from alsmicroct.reconstruction import recon
from alsmicroct.sim import simulate_scan

COMMON = dict(phantom="rock", nangles=241, nslices=48, nrays=128, cor=64.2, seed=5, rings=0.0, flux=20000.0)
KW = dict(num_threads=1, quicklook=False, sinoused=(-1, 8, 1), cor=64.2)


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tilt")
    return {
        "tilted": simulate_scan(folder / "tilted.h5", tilt_deg=1.0, **COMMON),
        "twin": simulate_scan(folder / "twin.h5", **COMMON),
    }


def _slices(res):
    return np.stack([tifffile.imread(f) for f in res.files])


def _psnr(res, scan):
    truth = scan.volume(res.rows)
    return float(np.mean([psnr(s, t) for s, t in zip(_slices(res), truth, strict=True)]))


def test_detect_records_and_warns(scans, tmp_path, caplog):
    res = recon(str(scans["tilted"].path), outputPath=str(tmp_path / "d"), autoTilt="detect", **KW)
    info = res.tilt_info
    assert info["mode"] == "detect" and info["matters"] and info["applied_deg"] == 0.0, info
    assert abs(info["estimated_deg"] - 1.0) <= 0.05, info
    assert "autoTilt='apply'" in caplog.text
    record = json.loads(res.provenance_path.read_text())
    assert record["resolved"]["tilt"]["estimated_deg"] == info["estimated_deg"]
    assert record["quality"]["tilt_deg"]["estimated"] == info["estimated_deg"]


def test_apply_corrects_within_1_db_of_the_untilted_twin(scans, tmp_path):
    twin = recon(str(scans["twin"].path), outputPath=str(tmp_path / "t"), **KW)
    off = recon(str(scans["tilted"].path), outputPath=str(tmp_path / "o"), autoTilt="off", **KW)
    res = recon(str(scans["tilted"].path), outputPath=str(tmp_path / "a"), **KW)  # the default: apply
    info = res.tilt_info
    assert info["mode"] == "apply" and abs(info["applied_deg"] - 1.0) <= 0.05, info
    assert json.loads(res.provenance_path.read_text())["parameters"]["correcttilt"] == info["applied_deg"]
    ref, fixed, raw = _psnr(twin, scans["twin"]), _psnr(res, scans["tilted"]), _psnr(off, scans["tilted"])
    assert fixed >= ref - 1.0, (ref, fixed, raw)
    assert fixed > raw + 1.0, (ref, fixed, raw)
    assert off.tilt_info["estimated_deg"] is None and off.tilt_info["reason"] == "autoTilt='off'"


def test_given_tilt_is_not_estimated(scans, tmp_path):
    res = recon(str(scans["tilted"].path), outputPath=str(tmp_path / "g"), correcttilt=0.9, autoTilt="apply", **KW)
    assert res.tilt_info["given"] == 0.9 and res.tilt_info["estimated_deg"] is None
    assert res.params.correcttilt == 0.9


def test_untilted_scan_is_negligible(scans, tmp_path):
    res = recon(str(scans["twin"].path), outputPath=str(tmp_path / "n"), autoTilt="apply", **KW)
    info = res.tilt_info
    assert not info["matters"] and info["applied_deg"] == 0.0 and info["reason"] == "negligible", info


def test_saturated_pair_is_refused_and_recorded(tmp_path, caplog):
    """Every pixel saturated (flats too): the pair has no structure, nothing applied, a warning."""
    scan = simulate_scan(tmp_path / "blank.h5", **{**COMMON, "nslices": 24, "flux": 1e7})
    res = recon(str(scan.path), outputPath=str(tmp_path / "b"), autoTilt="apply", **KW)
    info = res.tilt_info
    assert info["applied_deg"] == 0.0 and info["estimated_deg"] is None and "structure" in info["reason"], info
    assert "tilt not estimated" in caplog.text


def test_autotilt_choices():
    assert ReconParams().autoTilt == "apply"
    with pytest.raises(Exception, match="autoTilt"):
        ReconParams.from_mapping({"autoTilt": "maybe"})


def test_too_few_detector_rows_is_said_so_without_reading_the_pair(tmp_path, monkeypatch):
    from alsmicroct.pipeline import center

    scan = simulate_scan(tmp_path / "short.h5", **{**COMMON, "nslices": 8})

    def no_read(*args, **kwargs):
        raise AssertionError("the 0/180 pair was read for a tilt that cannot be estimated")

    monkeypatch.setattr(center, "_normalized_pair", no_read)
    res = recon(str(scan.path), outputPath=str(tmp_path / "s"), autoTilt="apply", corFunction="vo", **KW)
    info = res.tilt_info
    assert info["estimated_deg"] is None and info["reason"] == "only 8 detector rows (fewer than 16)", info
