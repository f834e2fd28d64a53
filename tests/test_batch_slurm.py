"""batch/ on a real SLURM cluster: job arrays over a list, a row-split scan, Dask SLURMCluster.

Skipped when SLURM is not there (``sinfo`` missing or not answering) unless
``ALSMICROCT_REQUIRE_SLURM`` is set (CI), in which case an unusable SLURM is a failure.
Jobs run this test's interpreter (``ALSMICROCT_PYTHON=sys.executable``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
BATCH = REPO / "batch"
KW = dict(chunk_sino=2, num_threads=1)
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
            "BOOT_FAIL", "DEADLINE"}


def _slurm_problem() -> str | None:
    """Why SLURM cannot be used here (None when it can)."""
    for tool in ("sinfo", "sbatch", "sacct"):
        if shutil.which(tool) is None:
            return f"{tool} not found on PATH"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo does not answer ({exc})"
    if out.returncode != 0:
        return f"sinfo failed: {out.stderr.strip()}"
    states = out.stdout.split()
    if not any(s.rstrip("*~#").lower() in ("idle", "mixed", "allocated", "completing") for s in states):
        return f"no usable node (sinfo states: {states or 'none'})"
    return None


@pytest.fixture(scope="module")
def slurm():
    problem = _slurm_problem()
    if problem is not None:
        if os.environ.get("ALSMICROCT_REQUIRE_SLURM"):
            pytest.fail(f"ALSMICROCT_REQUIRE_SLURM is set but SLURM is unusable: {problem}")
        pytest.skip(f"SLURM not available: {problem}")


def _env() -> dict[str, str]:
    return {**os.environ, "ALSMICROCT_PYTHON": sys.executable}


def _sbatch(args: list[str], cwd: Path, **env: str) -> str:
    out = subprocess.run(["sbatch", "--parsable", f"--chdir={cwd}", *args], cwd=cwd, env={**_env(), **env},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"sbatch {args} failed: {out.stderr}"
    return out.stdout.strip().split(";")[0]


def _wait(job: str, ntasks: int, timeout: float = 150.0) -> dict[int, tuple[str, str]]:
    """Poll sacct until the ``ntasks`` tasks of array ``job`` ended: {task: (state, exit code)}."""
    deadline = time.monotonic() + timeout
    states: dict[int, tuple[str, str]] = {}
    while time.monotonic() < deadline:
        out = subprocess.run(["sacct", "-X", "-n", "-P", "-j", job, "-o", "JobID,State,ExitCode"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, f"sacct failed: {out.stderr}"
        states = {}
        for line in out.stdout.split():
            jobid, state, code = line.split("|")
            if "_" in jobid and "[" not in jobid:
                states[int(jobid.split("_")[1])] = (state.split()[0], code)
        if len(states) == ntasks and all(s in TERMINAL for s, _ in states.values()):
            return states
        time.sleep(1.0)
    subprocess.run(["scancel", job], timeout=30)
    pytest.fail(f"job {job} not finished after {timeout} s: {states}")


def _stack(files) -> np.ndarray:
    from alsmicroct.io.tiff import read_tiff

    return np.stack([read_tiff(f) for f in files])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Three listed scans (the second one truncated), a config, and local reference runs."""
    from alsmicroct.reconstruction import recon
    from alsmicroct.sim import simulate_scan

    folder = tmp_path_factory.mktemp("slurm")
    for i in range(2):
        simulate_scan(folder / f"scan{i}.h5", layout="als", phantom="shepp", nangles=60, nslices=6, nrays=40,
                      cor=20.3, seed=i)
    (folder / "bad.h5").write_bytes((folder / "scan0.h5").read_bytes()[:20000])
    (folder / "list.txt").write_text("# beamtime list\nscan0.h5\n\nbad.h5   # truncated copy\nscan1.h5\n")
    (folder / "cfg.toml").write_text("chunk_sino = 2\nnum_threads = 1\n")
    ref = {n: recon(f"{n}.h5", folder, outputPath=str(folder / "ref"), quicklook=False, **KW)
           for n in ("scan0", "scan1")}
    return folder, ref


def test_array_over_list_then_resubmit(slurm, work):
    folder, ref = work
    count = subprocess.run(["bash", "-c", r"grep -cvE '^\s*(#|$)' list.txt"], cwd=folder, capture_output=True,
                           text=True).stdout.strip()
    assert count == "3"                                      # the documented --array size
    args = [f"--array=1-{count}", str(BATCH / "recon.slurm"), "list.txt", "cfg.toml", "--output-dir", "out"]
    job = _sbatch(args, folder)
    states = _wait(job, 3)
    assert states == {1: ("COMPLETED", "0:0"), 2: ("FAILED", "1:0"), 3: ("COMPLETED", "0:0")}
    for name in ("scan0", "scan1"):
        files = sorted((folder / "out" / f"rec{name}").glob("*.tiff"))
        assert [f.name for f in files] == [f.name for f in ref[name].files]
        np.testing.assert_array_equal(_stack(files), _stack(ref[name].files))
    log = (folder / f"alsmicroct-recon_{job}_2.log").read_text()
    assert "bad.h5" in log and "InputFileError" in log and "truncated" in log

    mtimes = {f: f.stat().st_mtime_ns for f in (folder / "out").glob("rec*/*.tiff")}
    assert len(mtimes) == 12
    again = _sbatch(args, folder)
    assert _wait(again, 3) == states
    assert {f: f.stat().st_mtime_ns for f in (folder / "out").glob("rec*/*.tiff")} == mtimes
    assert "skipped" in (folder / f"alsmicroct-recon_{again}_1.log").read_text()


def test_row_split_over_three_tasks(slurm, work):
    from alsmicroct.pipeline.provenance import read_provenance

    folder, ref = work
    job = _sbatch(["--array=1-3", str(BATCH / "recon_slices.slurm"), "scan1.h5", "cfg.toml",
                   "--output-dir", "split"], folder)
    assert _wait(job, 3) == {k: ("COMPLETED", "0:0") for k in (1, 2, 3)}
    out = folder / "split" / "recscan1"
    files = sorted(out.glob("*.tiff"))
    assert [f.name for f in files] == [f.name for f in ref["scan1"].files]
    np.testing.assert_array_equal(_stack(files), _stack(ref["scan1"].files))
    merged, single = read_provenance(out), read_provenance(ref["scan1"].output_dir)
    assert merged["status"] == "complete" and merged["nfiles"] == 6 and merged["error"] is None
    assert merged["parameters"] == {**single["parameters"], "outputPath": "split", "inputPath": "./"}
    assert merged["resolved"]["cor"] == single["resolved"]["cor"]
    assert merged["resolved"]["rows_first_last_step"] == [0, 5, 1]
    parts = merged["parts"]
    assert [p["index"] for p in parts] == [1, 2, 3] and sum(p["nrows"] for p in parts) == 6
    assert {p["slurm"]["slurm_array_job_id"] for p in parts} == {job}
    assert (out / "scan1_quicklook.png").is_file()

    # part 2 lost a slice: rerun that part alone; it alone is recomputed, the merge redone
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    files[3].unlink()
    again = _sbatch(["--array=2", str(BATCH / "recon_slices.slurm"), "scan1.h5", "cfg.toml",
                     "--output-dir", "split"], folder, ALSMICROCT_PARTS="3")
    assert _wait(again, 1) == {2: ("COMPLETED", "0:0")}
    del mtimes[files[3]]
    assert {f: f.stat().st_mtime_ns for f in files if f != files[3]} == mtimes
    np.testing.assert_array_equal(_stack(files), _stack(ref["scan1"].files))
    merged = read_provenance(out)
    assert merged["status"] == "complete" and merged["parts"][1]["slurm"]["slurm_array_job_id"] == again


def test_dask_slurm_cluster_two_workers(slurm, work):
    pytest.importorskip("dask_jobqueue")
    from distributed import Client

    from alsmicroct.distributed import make_cluster
    from alsmicroct.reconstruction import recon

    folder, ref = work
    options = dict(memory="1GB", walltime="00:10:00", log_directory=str(folder / "dask-logs"),
                   job_extra_directives=[f"--chdir={folder}"], local_directory=str(folder / "dask-tmp"))
    with make_cluster("slurm", n_workers=2, **options) as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=120)
        assert len(client.scheduler_info()["workers"]) == 2
        res = recon("scan0.h5", folder, outputPath=str(folder / "dask"), client=client, quicklook=False, **KW)
    np.testing.assert_array_equal(_stack(res.files), _stack(ref["scan0"].files))
    assert res.timings["reconstruct"] > 0


def test_row_split_merged_by_dependent_job(slurm, work):
    """The documented alternative: tasks with --no-merge, then an afterok job merges."""
    from alsmicroct.pipeline.provenance import read_provenance

    folder, ref = work
    job = _sbatch(["--array=1-2", str(BATCH / "recon_slices.slurm"), "scan0.h5", "cfg.toml",
                   "--output-dir", "dep", "--no-merge"], folder)
    merge = (f"{sys.executable} -m alsmicroct.distributed merge scan0.h5 --parts 2 --config cfg.toml "
             "--output-dir dep")
    dependent = _sbatch([f"--dependency=afterok:{job}", "-o", "merge_%j.log", "--wrap", merge], folder)
    assert _wait(job, 2) == {1: ("COMPLETED", "0:0"), 2: ("COMPLETED", "0:0")}
    deadline = time.monotonic() + 60
    while subprocess.run(["squeue", "-h", "-j", dependent], capture_output=True, text=True).stdout.strip():
        assert time.monotonic() < deadline, "merge job still queued"
        time.sleep(1.0)
    record = read_provenance(folder / "dep" / "recscan0")
    assert record is not None and record["status"] == "complete", (folder / f"merge_{dependent}.log").read_text()
    assert [p["index"] for p in record["parts"]] == [1, 2]
    np.testing.assert_array_equal(_stack(sorted((folder / "dep" / "recscan0").glob("*.tiff"))),
                                  _stack(ref["scan0"].files))
