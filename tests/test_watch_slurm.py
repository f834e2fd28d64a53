"""alsmicroct-watch's SLURM runner on the project's real SLURM test cluster (``slurm-local``,
started by ``.ci/run``): one ``sbatch`` per scan, the job id recorded in the queue, the state
followed with ``squeue``/``sacct``, a failing ``sbatch`` recorded as that scan's failure.
Skipped unless the cluster is this test run's own (``test_batch_slurm``'s rules);
``ALSMICROCT_REQUIRE_SLURM=1`` makes an unusable cluster a failure."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_batch_slurm import slurm  # noqa: F401  (the fixture: skip or fail without the cluster)
from watch_util import simulate

from alsmicroct.jobs.watch.queue import DB_NAME

pytestmark = pytest.mark.slurm


def _watch_once(raw: Path, rec: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "alsmicroct.cli.watch",
            str(raw),
            "--output",
            str(rec),
            "--settle",
            "0.2",
            "--give-up",
            "20",
            "--runner",
            "slurm",
            "--once",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )


def _rows(rec: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(rec / DB_NAME)
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM attempts ORDER BY scan, attempt").fetchall()
    finally:
        db.close()


def test_slurm_runner_records_the_job_and_follows_it(slurm, tmp_path):  # noqa: F811
    raw, rec = tmp_path / "raw", tmp_path / "rec"
    simulate(raw, "a.h5", "als", nrays=64, cor=33.3)
    (tmp_path / "watch.toml").write_text("num_threads = 1\n")
    res = _watch_once(raw, rec, "--config", str(tmp_path / "watch.toml"))
    assert res.returncode == 0, res.stderr[-3000:]
    (row,) = _rows(rec)
    assert (row["scan"], row["state"], row["runner"]) == ("a.h5", "done", "slurm")
    job_id = row["job_id"]
    assert job_id and job_id.isdigit()
    run = json.loads(row["preview"])["run"]
    assert run["slurm_state"] == "COMPLETED" and Path(run["slurm_log"]).name.endswith(f"_{job_id}.log")
    out = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State"], capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split()[0] == "COMPLETED"  # the cluster agrees
    assert len(list((rec / "reca").glob("a_0000?.tiff"))) == 8
    record = json.loads((rec / "reca" / "recon_parameters.json").read_text())
    assert record["status"] == "complete"


def test_a_job_that_fails_on_the_cluster_is_that_scans_failure(slurm, tmp_path):  # noqa: F811
    raw, rec = tmp_path / "raw", tmp_path / "rec"
    simulate(raw, "b.h5", "dxchange", nrays=64, cor=33.3)
    # a script that fails on the node: the job ends FAILED, its log tail becomes the error
    script = tmp_path / "fails.slurm"
    script.write_text("#!/bin/bash\necho 'node: no such detector' >&2\nexit 3\n")
    (tmp_path / "watch.toml").write_text(f'[watch]\nslurm_script = "{script}"\nmax_retries = 0\n')
    res = _watch_once(raw, rec, "--config", str(tmp_path / "watch.toml"))
    assert res.returncode == 1, res.stderr[-3000:]
    (row,) = _rows(rec)
    assert row["state"] == "failed" and row["job_id"]
    assert f"SLURM job {row['job_id']} ended FAILED" in row["error"] and "no such detector" in row["error"]


def test_a_refused_sbatch_is_that_scans_failure(slurm, tmp_path):  # noqa: F811
    raw, rec = tmp_path / "raw", tmp_path / "rec"
    simulate(raw, "c.h5", "als", nrays=64, cor=33.3)
    res = _watch_once(raw, rec, "--sbatch-args", "-p no_such_partition")
    assert res.returncode == 1, res.stderr[-3000:]
    (row,) = _rows(rec)
    assert row["state"] == "failed" and row["job_id"] is None
    assert "sbatch failed" in row["error"] and "partition" in row["error"].lower()
