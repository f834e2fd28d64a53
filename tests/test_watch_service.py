"""alsmicroct-watch end to end: simulated scans written slowly into a watched folder, the real
SQLite queue, local worker processes; kill -9 of the watcher in each state, then a restart."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from watch_util import simulate, write_slowly_process

from alsmicroct.cli.watch import main
from alsmicroct.jobs.watch.queue import DB_NAME

FAST = ["--settle", "0.2", "--give-up", "20"]
WIDE = dict(nrays=128, cor=66.1)


def _rows(rec: Path) -> list[tuple]:
    db = sqlite3.connect(rec / DB_NAME, timeout=30)
    try:
        return db.execute("SELECT scan, attempt, state, error, prefix FROM attempts ORDER BY scan, attempt").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        db.close()


def _states(rec: Path) -> dict[str, str]:
    return {scan: state for scan, _a, state, _e, _p in _rows(rec)}


def _watcher(raw: Path, rec: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "alsmicroct.cli.watch", str(raw), "--output", str(rec), *FAST, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(predicate, proc: subprocess.Popen | None = None, limit: float = 120.0, what: str = "") -> None:
    t_end = time.monotonic() + limit
    while time.monotonic() < t_end:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"watcher exited ({proc.returncode}) before {what}: {proc.stderr.read()[-3000:]}")
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _stamps(folder: Path, pattern: str) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob(pattern)}


def test_once_previews_and_reconstructs_both_layouts_written_slowly(tmp_path):
    src, raw, rec = tmp_path / "src", tmp_path / "raw", tmp_path / "rec"
    raw.mkdir()
    writers = [
        write_slowly_process(simulate(src, f"s_{lay}.h5", lay, **WIDE), raw / f"s_{lay}.h5", delay=0.005, pause=0.5)
        for lay in ("als", "dxchange")
    ]
    _wait(lambda: all((raw / f"s_{lay}.h5").exists() for lay in ("als", "dxchange")), what="the writers")
    assert main([str(raw), "--output", str(rec), *FAST, "--once"]) == 0
    assert all(w.wait(60) == 0 for w in writers)
    rows = _rows(rec)
    assert [(s, a, st) for s, a, st, _e, _p in rows] == [("s_als.h5", 1, "done"), ("s_dxchange.h5", 1, "done")]
    for lay in ("als", "dxchange"):
        out = rec / f"recs_{lay}"
        assert len(list(out.glob(f"s_{lay}_0000?.tiff"))) == 8
        assert (out / f"s_{lay}_preview.png").stat().st_size > 0
        assert (out / f"s_{lay}_preview_sweep.png").stat().st_size > 0
        assert len(list(out.glob(f"s_{lay}_preview_0000?.tiff"))) == 3
        import json

        pv = json.loads((out / f"s_{lay}_preview.json").read_text())
        assert pv["confidence"]["label"] == "high" and abs(pv["cor"] - 66.1) < 1.0
        rec_json = json.loads((out / "recon_parameters.json").read_text())
        assert rec_json["status"] == "complete" and abs(rec_json["resolved"]["cor"] - pv["cor"]) < 1e-6


@pytest.mark.parametrize("state", ["new", "finished", "previewed", "queued", "running"])
def test_kill_9_in_each_state_then_restart(tmp_path, state):
    """Nothing done is redone, nothing queued is lost, running work resumes keeping its slices."""
    src, raw, rec = tmp_path / "src", tmp_path / "raw", tmp_path / "rec"
    raw.mkdir()
    rec.mkdir()
    # a slow full run (many rows, small chunks) so that 'queued' and 'running' last
    (tmp_path / "watch.toml").write_text("chunk_sino = 2\nnum_threads = 1\n[watch]\nsweep = 61\n")
    extra = ["--config", str(tmp_path / "watch.toml")]
    done_first = simulate(src, "a_done.h5", "als", **WIDE)
    big = dict(nslices=48, nangles=181, **WIDE)
    writer = None
    if state == "new":
        writer = write_slowly_process(simulate(src, "b.h5", "dxchange", **WIDE), raw / "b.h5", delay=0.002, pause=3.0)
    elif state in ("queued", "running", "previewed"):
        simulate(raw, "b.h5", "als", **big)
        simulate(raw, "c.h5", "dxchange", **big)
    else:
        simulate(raw, "b.h5", "dxchange", nslices=16, nangles=721, nrays=256, cor=128.4)
    # one scan done before anything else, to check it is never redone
    os.replace(done_first, raw / done_first.name)
    assert main([str(raw), "--output", str(rec), *FAST, *extra, "--once", "--include", "a_*.h5"]) == 0
    done_stamps = _stamps(rec / "reca_done", "*")
    assert len(done_stamps) > 5

    proc = _watcher(raw, rec, *extra)
    kept: dict[str, tuple[int, int]] = {}
    try:
        target = "queued" if state == "previewed" else state
        if state == "running":

            def ready():
                rows = {s: st for s, st in _states(rec).items() if st == "running"}
                return any(
                    len(list((rec / f"rec{Path(s).stem}").glob(f"{Path(s).stem}_000??.tiff"))) >= 4 for s in rows
                )
        elif target == "queued":

            def ready():  # queued while the one worker is busy: the row cannot move on before the kill
                seen_ = list(_states(rec).values())
                return "queued" in seen_ and "running" in seen_
        else:

            def ready():
                return target in _states(rec).values()

        _wait(ready, proc, what=f"a row in state {target}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if state == "running":
            for scan, st in _states(rec).items():
                if st == "running":
                    stem = Path(scan).stem
                    kept.update(_stamps(rec / f"rec{stem}", f"{stem}_000??.tiff"))
        if state == "previewed":  # the crash right after the preview's commit leaves this row
            db = sqlite3.connect(rec / DB_NAME)
            db.execute("UPDATE attempts SET state = 'previewed' WHERE state = 'queued'")
            db.commit()
            db.close()
        seen = _states(rec)
        assert state in seen.values()
    finally:
        if proc.poll() is None:
            proc.kill()
    if state != "running":  # running: the restart itself waits for a killed worker's claim (runners.wait_for_claim)
        time.sleep(1.0)
    if writer is not None:
        assert writer.wait(60) == 0
    assert main([str(raw), "--output", str(rec), *FAST, *extra, "--once"]) == 0
    rows = _rows(rec)
    scans = sorted(p.name for p in raw.glob("*.h5"))
    assert [(s, a, st) for s, a, st, _e, _p in rows] == [(s, 1, "done") for s in scans]
    assert _stamps(rec / "reca_done", "*") == done_stamps  # done: never redone
    if state == "running":
        assert kept, "no slice was written before the kill"
        for name, stamp in kept.items():
            folder = rec / f"rec{name.rsplit('_', 1)[0]}"
            assert _stamps(folder, name)[name] == stamp  # kept, not rewritten
    for s in scans:
        stem = Path(s).stem
        assert (rec / f"rec{stem}" / f"{stem}_preview.png").exists()
        import json

        assert json.loads((rec / f"rec{stem}" / "recon_parameters.json").read_text())["status"] == "complete"


def test_rerun_makes_a_new_attempt_and_keeps_the_first(tmp_path, capsys):
    raw, rec = tmp_path / "raw", tmp_path / "rec"
    simulate(raw, "a.h5", "als", **WIDE)
    assert main([str(raw), "--output", str(rec), *FAST, "--once"]) == 0
    first = _stamps(rec / "reca", "a_0*.tiff")
    assert main(["rerun", "a.h5", "--output", str(rec), "--cor", "65.5", "butterworth_cutoff=0.3"]) == 0
    assert "attempt 2 queued" in capsys.readouterr().out
    assert main(["rerun", "nope.h5", "--output", str(rec)]) == 2
    assert main([str(raw), "--output", str(rec), *FAST, "--once"]) == 0
    rows = _rows(rec)
    assert [(a, st, p) for _s, a, st, _e, p in rows] == [(1, "done", "a"), (2, "done", "a_a2")]
    assert _stamps(rec / "reca", "a_0*.tiff") == first
    import json

    record = json.loads((rec / "reca" / "recon_parameters_a_a2.json").read_text())
    assert record["resolved"]["cor"] == 65.5 and record["status"] == "complete"
    assert len(list((rec / "reca").glob("a_a2_0*.tiff"))) == 8
    assert (rec / "reca" / "a_a2_preview.png").exists()


def test_bad_input_is_that_scans_failure_and_the_watcher_goes_on(tmp_path, monkeypatch, capsys):
    raw, rec = tmp_path / "raw", tmp_path / "rec"
    simulate(raw, "a.h5", "als", **WIDE)
    simulate(raw, "b.h5", "dxchange", **WIDE)
    (raw / "foreign.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    (raw / "truncated.h5").write_bytes((raw / "a.h5").read_bytes()[:5000])
    # a config with an unknown key: nothing runs, a clear message naming file and line
    bad = tmp_path / "bad.toml"
    bad.write_text("chunk_sino = 4\n[watch]\nmax_retrys = 2\n")
    assert main([str(raw), "--output", str(rec), "--config", str(bad), "--once"]) == 2
    err = capsys.readouterr().err
    assert f"{bad} line 3" in err and "max_retrys" in err and "max_retries" in err
    bad.write_text("chunk_sinoo = 4\n")
    assert main([str(raw), "--output", str(rec), "--config", str(bad), "--once"]) == 2
    assert "chunk_sino" in capsys.readouterr().err
    # a full disk while a.h5's preview is written (a failing writer)
    import errno

    from alsmicroct.io import atomic

    real = atomic.atomic_file

    def full_disk(path, *args, **kwargs):
        if "a_preview" in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(atomic, "atomic_file", full_disk)
    import alsmicroct.jobs.watch.preview as preview

    monkeypatch.setattr(preview, "atomic_file", full_disk)
    assert main([str(raw), "--output", str(rec), "--settle", "0.2", "--give-up", "1", "--once"]) == 1
    rows = {s: (st, e) for s, _a, st, e, _p in _rows(rec)}
    assert rows["b.h5"] == ("done", None)
    assert rows["a.h5"][0] == "failed" and "No space left on device" in rows["a.h5"][1]
    assert rows["foreign.h5"][0] == "failed" and "foreign.h5" in rows["foreign.h5"][1]
    assert rows["truncated.h5"][0] == "failed" and "truncated.h5" in rows["truncated.h5"][1]


def test_a_failed_sbatch_is_that_scans_failure(tmp_path, monkeypatch):
    raw, rec, bin_ = tmp_path / "raw", tmp_path / "rec", tmp_path / "bin"
    simulate(raw, "a.h5", "als", **WIDE)
    bin_.mkdir()
    (bin_ / "sbatch").write_text(
        "#!/bin/sh\necho 'sbatch: error: Batch job submission failed: Invalid account' >&2\nexit 1\n"
    )
    (bin_ / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_}{os.pathsep}{os.environ['PATH']}")
    assert main([str(raw), "--output", str(rec), *FAST, "--runner", "slurm", "--once"]) == 1
    ((scan, _a, state, error, _p),) = _rows(rec)
    assert (scan, state) == ("a.h5", "failed")
    assert "sbatch failed (exit 1)" in error and "Invalid account" in error
