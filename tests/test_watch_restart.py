"""Restart race: a resumed attempt waits (bounded, logged) for the process that still holds
its output claim (a killed watcher's pool worker) instead of failing; a zombie holder counts
as gone. Real files from the simulator, real processes as holders."""

from __future__ import annotations

import json
import logging
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from watch_util import simulate

from alsmicroct.io.outputs import pid_alive
from alsmicroct.jobs.batch import plan_jobs
from alsmicroct.jobs.entries import ScanEntry
from alsmicroct.jobs.watch.runners import run_one, wait_for_claim


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return stat[stat.rfind(b")") + 1 :].split()[0].decode()


def _until(predicate, what: str, limit: float = 60.0) -> None:
    t_end = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > t_end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def interrupted(tmp_path):
    """A scan reconstructed once, its record then set back to 'running' by ``pid`` (what a
    kill -9 in the middle of the run leaves), as a function of the holder's pid."""
    raw = simulate(tmp_path / "raw", "a.h5", "dxchange", nrays=64, cor=33.3)
    (job,) = plan_jobs([ScanEntry(raw, {}, "a.h5")], config={"cor": 33.3}, cli={"outputPath": str(tmp_path / "rec")})
    ok, error, _info = run_one(job, claim_wait=0)
    assert ok, error
    record = Path(job.output_dir) / job.provenance_name

    def hold(pid: int):
        data = json.loads(record.read_text())
        data.update(status="running", pid=pid, host=platform.node())
        record.write_text(json.dumps(data))
        return job

    return hold


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_zombie_is_not_alive():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    _until(lambda: _state(proc.pid) == "Z", "the child to exit (not reaped)")
    try:
        assert not pid_alive(proc.pid)
    finally:
        proc.wait()
    assert not pid_alive(proc.pid)


def test_resume_with_a_zombie_holder_does_not_wait(interrupted, caplog):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    _until(lambda: _state(proc.pid) == "Z", "the child to exit (not reaped)")
    try:
        job = interrupted(proc.pid)
        with caplog.at_level(logging.INFO, logger="alsmicroct.jobs.watch.runners"):
            ok, error, info = run_one(job, claim_wait=120)
    finally:
        proc.wait()
    assert ok, error
    assert info["claim_wait_s"] is not None and info["claim_wait_s"] < 60
    assert "waiting" not in caplog.text


def test_resume_waits_for_a_live_holder_to_exit(interrupted, caplog):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        job = interrupted(holder.pid)
        out = {}
        with caplog.at_level(logging.INFO, logger="alsmicroct.jobs.watch.runners"):
            worker = threading.Thread(target=lambda: out.update(r=run_one(job, claim_wait=300)))
            worker.start()
            _until(lambda: "waiting up to 300 s" in caplog.text, "the logged wait")
            assert worker.is_alive()  # waiting, not failed
            holder.kill()
            holder.wait()
            worker.join(120)
        ok, error, info = out["r"]
        assert ok, error
        assert info["claim_wait_s"] > 0 and "let go of the output" in caplog.text
        assert f"pid {holder.pid}" in caplog.text
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_holder_alive_past_the_bound_is_a_clear_failure(interrupted, caplog):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        job = interrupted(holder.pid)
        with caplog.at_level(logging.INFO, logger="alsmicroct.jobs.watch.runners"):
            assert wait_for_claim(job, timeout=0.3, interval=0.05) is None
            ok, error, info = run_one(job, claim_wait=0.3)
        assert not ok and f"pid {holder.pid}" in error and "writing this run right now" in error
        assert info["claim_wait_s"] is None and "still holds the output after" in caplog.text
    finally:
        holder.kill()
        holder.wait()
