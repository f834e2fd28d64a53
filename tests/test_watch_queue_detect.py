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
    assert not q.advance(row.id, "running")            # new -> running is not allowed
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
    q2 = Queue(tmp_path / DB_NAME)                      # reopened: everything is there
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
