"""One way into the pipeline: prepare() gives a frozen, centred plan; dry runs use the same
checks as real runs."""

from __future__ import annotations

import dataclasses

import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.jobs.batch import dry_run_job, plan_jobs
from alsmicroct.jobs.entries import ScanEntry
from alsmicroct.params import ReconParams
from alsmicroct.pipeline.prepare import prepare
from alsmicroct.reconstruction import recon
from alsmicroct.sim import simulate_scan


@pytest.fixture(scope="module")
def scan360(tmp_path_factory):
    folder = tmp_path_factory.mktemp("s360")
    return simulate_scan(
        folder / "s360.h5", layout="als", phantom="shepp", nangles=181, nslices=4, nrays=64, arange=360.0, seed=3
    )


def test_plan_is_frozen_and_centred(sim_scans):
    scan = sim_scans["als"]
    plan = prepare(scan.path, ReconParams(cor=float(scan.cor)))
    assert plan.centred and plan.recon_center == plan.cor == pytest.approx(scan.cor)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.cor = 1.0
    unplanned = prepare(scan.path, ReconParams(), center=False)
    assert not unplanned.centred


def test_dry_run_refuses_what_the_real_run_refuses(scan360, tmp_path):
    """A 360 deg scan stitched with a centre off the 64-pixel detector: the dry run said "planned",
    the real run refused. Both now run the same checks."""
    bad = {"use360to180": True, "cor": 80.0, "outputPath": str(tmp_path)}
    with pytest.raises(ParameterError) as real:
        recon(scan360.path.name, inputPath=str(scan360.path.parent), **bad)
    entry = ScanEntry(scan=str(scan360.path), overrides=bad, source="list.txt line 1")
    job = plan_jobs([entry], config={}, cli={})[0]
    result = dry_run_job(job, resume=False)
    assert result.status == "invalid", result
    assert str(real.value).split(": ", 1)[1][:40] in result.error
