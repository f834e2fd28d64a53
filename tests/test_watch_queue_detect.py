"""The watcher's queue (real SQLite in WAL mode) and finished-file detection on simulated raw
files written slowly into a watched folder (both layouts)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from watch_util import simulate, write_slowly

from alsmicroct.jobs.watch.detect import Detector, check_complete
from alsmicroct.jobs.watch.queue import DB_NAME, Queue


# ----------------------------------------------------------------------- queue
def test_queue_state_machine_and_wal(tmp_path):
    q = Queue(tmp_path / DB_NAME)
    row = q.add("a.h5", tmp_path / "a.h5")
    assert (row.state, row.attempt) == ("new", 1)
    assert not q.advance(row.id, "running")  # new -> running is not allowed
    for state in ("finished", "previewed", "queued", "running"):
        assert q.advance(row.id, state)
    assert q.fail(row.id, "disk full", max_retries=1) == "queued"
    assert q.get(row.id).retries == 1 and q.get(row.id).error == "disk full"
    q.advance(row.id, "running")
    assert q.fail(row.id, "disk full again", max_retries=1) == "failed"
    again = q.add("a.h5", tmp_path / "a.h5", params={"cor": 30.5}, state="queued")
    assert (again.attempt, again.params, again.state) == (2, {"cor": 30.5}, "queued")
    assert again.queued_at is not None
    q.close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = db.execute("SELECT scan, attempt, state, error FROM attempts ORDER BY attempt").fetchall()
    assert rows == [("a.h5", 1, "failed", "disk full again"), ("a.h5", 2, "queued", None)]
    q2 = Queue(tmp_path / DB_NAME)  # reopened: everything is there
    assert q2.counts() == {"failed": 1, "queued": 1}
    assert q2.known_paths() == {str(tmp_path / "a.h5")}


def test_queue_unwritable_place_is_a_clear_error(tmp_path):
    from alsmicroct.errors import OutputError

    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="queue database"):
        Queue(tmp_path / "file" / DB_NAME)


# --------------------------------------------------------------------- detect
@pytest.mark.parametrize("layout", ["als", "dxchange"])
def test_growing_file_is_never_finished_early(tmp_path, layout):
    src = simulate(tmp_path / "src", f"s_{layout}.h5", layout)
    raw = tmp_path / "raw"
    raw.mkdir()
    dst = raw / src.name
    det = Detector(raw, settle=0.05, give_up=60)
    written = threading.Event()
    writer = threading.Thread(target=lambda: (write_slowly(src, dst, delay=0.005, pause=0.4), written.set()))
    writer.start()
    found, reasons = [], set()
    t_end = time.monotonic() + 60
    while not found and time.monotonic() < t_end:
        for path in det.list_files():
            det.watch(path)
        for path, reason in det.poll():
            assert written.is_set(), "reported finished while still being written"
            found.append((path, reason))
        reasons.update(s.reason for s in det._pending.values() if s.reason)
        time.sleep(0.01)
    writer.join()
    assert found == [(dst, None)]
    assert check_complete(dst) is None
    assert reasons, "the half-written file was never seen incomplete"


def test_stable_but_incomplete_files_are_given_up_with_a_reason(tmp_path):
    raw = tmp_path / "raw"
    src = simulate(tmp_path / "src", "full.h5", "als")
    raw.mkdir()
    (raw / "foreign.h5").write_bytes(b"not an HDF5 file at all\n" * 10)
    (raw / "truncated.h5").write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    import h5py

    with h5py.File(raw / "other.h5", "w") as f:
        f["x"] = [1, 2, 3]
    (raw / "notes.txt").write_text("ignored")
    (raw / ".hidden.h5").write_text("ignored")
    det = Detector(raw, settle=0.05, give_up=0.3)
    assert sorted(p.name for p in det.list_files()) == ["foreign.h5", "other.h5", "truncated.h5"]
    for p in det.list_files():
        det.watch(p)
    out = {}
    t_end = time.monotonic() + 30
    while len(out) < 3 and time.monotonic() < t_end:
        out.update({p.name: r for p, r in det.poll()})
        time.sleep(0.05)
    assert set(out) == {"foreign.h5", "other.h5", "truncated.h5"}
    for name, reason in out.items():
        assert reason.startswith("incomplete after 0.3 s unchanged: ") and name in reason
    assert "HDF5" in out["foreign.h5"]


def test_patterns_and_recursion(tmp_path):
    (tmp_path / "sub").mkdir()
    for n in ("a.h5", "b_truth.h5", "sub/c.h5", "skip_me.h5"):
        (tmp_path / n).write_text("")
    flat = Detector(tmp_path, exclude=(".*", "*_truth.h5", "skip_*"))
    assert [p.name for p in flat.list_files()] == ["a.h5"]
    deep = Detector(tmp_path, recursive=True, include=("*.h5", "sub/*.h5"), exclude=("*_truth.h5",))
    assert sorted(deep.name_of(p) for p in deep.list_files()) == ["a.h5", "skip_me.h5", "sub/c.h5"]
    assert not deep.matches(Path("/elsewhere/a.h5"))


def test_runner_is_abstract():
    import pytest

    from alsmicroct.jobs.watch.runners import LocalRunner, Runner

    with pytest.raises(TypeError, match="submit"):
        Runner()
    assert "submit" in Runner.__abstractmethods__ and not LocalRunner.__abstractmethods__


def test_listing_skips_known_files_before_any_pattern(tmp_path):
    for name in ("a.h5", "b.h5", ".hidden.h5", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    det = Detector(tmp_path)
    assert sorted(p.name for p in det.list_files()) == ["a.h5", "b.h5"]
    assert [p.name for p in det.list_files(skip={str(tmp_path / "a.h5")})] == ["b.h5"]


def test_polling_mode_finds_a_new_scan_among_many_known_files(tmp_path):
    """--poll (network file systems): listings of names, known files skipped; a finished scan
    renamed into the folder becomes 'finished'."""
    import os

    from alsmicroct.jobs.watch.runners import Runner
    from alsmicroct.jobs.watch.service import WatchService, WatchSettings

    raw, rec, src = tmp_path / "raw", tmp_path / "rec", tmp_path / "src"
    raw.mkdir()
    q = Queue(rec / DB_NAME)
    for k in range(500):
        (raw / f"old_{k:04d}.h5").write_bytes(b"")
        q.add(f"old_{k:04d}.h5", raw / f"old_{k:04d}.h5", state="done")
    q.close()

    class Holds(Runner):  # no full run here: queued rows stay queued
        free = 0

        def submit(self, attempt_id, job):
            raise AssertionError("not started")

    service = WatchService(
        WatchSettings(raw, rec, poll=True, poll_interval=0.1, settle=0.2, preview=False), runner=Holds()
    )
    try:
        service.recover()
        service.start_observer()
        assert service._observer is None and service._polling
        service.step()
        assert service.queue.counts() == {"done": 500}
        scan = simulate(src, "new.h5", "dxchange")
        os.replace(scan, raw / "new.h5")
        t_end = time.monotonic() + 60
        while time.monotonic() < t_end and service.queue.counts().get("queued", 0) == 0:
            service.step()
            time.sleep(0.05)
        row = service.queue.attempts_of("new.h5")[-1]
        assert row.state == "queued" and row.finished_at is not None
    finally:
        service.close()
