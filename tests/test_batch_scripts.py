"""batch/ shell scripts: syntax, shellcheck, and running them without SLURM."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BATCH = Path(__file__).resolve().parents[1] / "batch"
SCRIPTS = sorted([*BATCH.glob("*.slurm"), *BATCH.glob("*.sh")])


def test_scripts_present():
    assert {p.name for p in SCRIPTS} >= {"recon.slurm", "recon_slices.slurm", "alsmicroct_env.sh"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bash_syntax(script):
    out = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script):
    if shutil.which("shellcheck") is None:
        if os.environ.get("ALSMICROCT_REQUIRE_SLURM"):
            pytest.fail("shellcheck is not installed (apt-get install shellcheck)")
        pytest.skip("shellcheck not installed")
    out = subprocess.run(["shellcheck", "-x", script.name], cwd=BATCH, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _run(script: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    return subprocess.run(
        ["bash", str(BATCH / script), *args], cwd=cwd, capture_output=True, text=True, env={**clean, **env}, timeout=120
    )


def test_usage_and_bad_python(tmp_path):
    out = _run("recon.slurm", cwd=tmp_path)
    assert out.returncode == 2 and "usage: sbatch --array=1-N batch/recon.slurm LIST" in out.stderr
    out = _run("recon_slices.slurm", "scan.h5", cwd=tmp_path, ALSMICROCT_PYTHON=str(tmp_path / "nopython"))
    assert out.returncode == 2 and "cannot import alsmicroct" in out.stderr


def test_slices_script_runs_without_slurm(tmp_path):
    """Outside SLURM the script is one part of one: the whole scan, merged provenance."""
    from alsmicroct.sim import simulate_scan

    simulate_scan(
        tmp_path / "s.h5", layout="dxchange", phantom="shepp", nangles=60, nslices=4, nrays=32, cor=16.1, seed=1
    )
    out = _run(
        "recon_slices.slurm",
        "s.h5",
        "--set",
        "num_threads=1",
        "--output-dir",
        "rec",
        cwd=tmp_path,
        ALSMICROCT_PYTHON=sys.executable,
        ALSMICROCT_THREADS="1",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 thread(s), HDF5_USE_FILE_LOCKING=FALSE" in out.stdout
    record = json.loads((tmp_path / "rec" / "recs" / "recon_parameters.json").read_text())
    assert record["status"] == "complete" and record["nfiles"] == 4 and len(record["parts"]) == 1
