"""Resume across runs: a killed download continues in the next process; complete files stay.

The partial file of ``<folder>/<name>.h5`` is ``<folder>/.<name>.h5.part`` (with its
validators in ``.<name>.h5.part.json``), so a new process finds it.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time

import pytest
from download_setup import BIG, CATALOGUE_OPTIONS, FAST, SESSION_OPTIONS, USERS  # noqa: F401
from download_setup import download_requests as _downloads
from download_setup import source_bytes as _source

from alsmicroct.data_management import DownloadError
from alsmicroct.testing import make_catalogue
from alsmicroct.testing.spot_server import downloaded_files

_CHILD = """
import sys
from alsmicroct.data_management import SpotSession
with SpotSession("alice", "secret", base_url=sys.argv[1], chunk_size=4096, progress=False) as s:
    s.download(sys.argv[2], downloadPath=sys.argv[3])
"""


@pytest.fixture
def root(tmp_path_factory):
    return make_catalogue(
        tmp_path_factory.mktemp("spot"), {"alice": [BIG, "small"], "bob": ["small"]}, **CATALOGUE_OPTIONS
    )


SERVER_OPTIONS = {"chunk_size": 4096}


def _partial_from_killed_process(server, folder, min_bytes=20_000):
    """Start a download in a subprocess, kill -9 it mid-transfer; return the partial."""
    server.throttle = 0.05  # ~80 kB/s: the child is surely mid-file when killed
    partial = folder / f".{BIG}.h5.part"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, server.base_url, BIG, str(folder)], stdin=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while not (partial.exists() and partial.stat().st_size >= min_bytes):
            assert child.poll() is None, "the child ended before it could be killed"
            assert time.monotonic() < deadline, "the child never wrote its partial file"
            time.sleep(0.01)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    server.throttle = 0.0
    return partial


def test_resume_after_kill_9(server, spot, root, tmp_path):
    partial = _partial_from_killed_process(server, tmp_path)
    kept = partial.stat().st_size
    assert 0 < kept < len(_source(root))
    assert not (tmp_path / f"{BIG}.h5").exists()
    before = len(_downloads(server))
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == _source(root)
    resumed = _downloads(server)[before:]
    assert resumed[0].headers.get("Range") == f"bytes={kept}-"
    assert resumed[0].headers.get("If-Range", "").startswith('"')  # the ETag
    assert len(resumed) == 1
    assert downloaded_files(tmp_path) == [f"{BIG}.h5"]


def test_remote_changed_since_the_crash_restarts_cleanly(server, spot, root, tmp_path):
    partial = _partial_from_killed_process(server, tmp_path)
    assert partial.stat().st_size > 0
    # The dataset is replaced on the server (other content, other size).
    src = root / "alice" / f"{BIG}.h5"
    src.write_bytes((root / "alice" / "small.h5").read_bytes())
    before = len(_downloads(server))
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == src.read_bytes()
    first = _downloads(server)[before]
    assert first.headers.get("Range") and first.headers.get("If-Range")
    assert downloaded_files(tmp_path) == [f"{BIG}.h5"]


def test_changed_size_detected_when_the_server_ignores_if_range(server, spot, root, tmp_path):
    _partial_from_killed_process(server, tmp_path)
    src = root / "alice" / f"{BIG}.h5"
    src.write_bytes((root / "alice" / "small.h5").read_bytes() * 2)  # another size
    server.honour_if_range = False  # it would serve the range of the new file
    before = len(_downloads(server))
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == src.read_bytes()
    assert _downloads(server)[before + 1].headers.get("Range") is None


def test_same_size_change_detected_when_the_server_ignores_if_range(server, spot, root, tmp_path):
    _partial_from_killed_process(server, tmp_path)
    src = root / "alice" / f"{BIG}.h5"
    data = bytearray(src.read_bytes())
    data[5000] ^= 0xFF  # inside the part already downloaded
    src.write_bytes(bytes(data))
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    server.honour_if_range = False
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == bytes(data)


def test_partial_without_its_record_is_not_trusted(server, spot, root, tmp_path):
    (tmp_path / f".{BIG}.h5.part").write_bytes(b"leftover of something else")
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == _source(root)
    assert _downloads(server)[-1].headers.get("Range") is None
    assert downloaded_files(tmp_path) == [f"{BIG}.h5"]


def test_complete_file_is_skipped(server, spot, root, tmp_path):
    path = spot.download("small", downloadPath=tmp_path)
    stat = os.stat(path)
    before = len(_downloads(server))
    again = spot.download("small", downloadPath=tmp_path)
    assert again == path
    assert os.stat(path).st_ino == stat.st_ino and os.stat(path).st_mtime_ns == stat.st_mtime_ns
    # at most a probe of the remote size, never the whole file again
    probes = _downloads(server)[before:]
    assert len(probes) == 1 and probes[0].headers.get("Range") == "bytes=0-0"
    assert downloaded_files(tmp_path) == ["small.h5"]


def test_file_of_another_dataset_with_the_same_name_is_not_taken(server, spot, root, tmp_path):
    spot.download("alice/small", downloadPath=tmp_path)
    with pytest.raises(DownloadError) as info:
        spot.download("bob/small", downloadPath=tmp_path)
    assert "alice/small" in str(info.value) and "overwrite" in str(info.value)
    assert (tmp_path / "small.h5").read_bytes() == _source(root, "small")
    spot.download("bob/small", downloadPath=tmp_path, overwrite=True)
    assert (tmp_path / "small.h5").read_bytes() == (root / "bob" / "small.h5").read_bytes()
    spot.download("bob/small", downloadPath=tmp_path)  # now complete: skipped


def test_file_replaced_on_the_server_with_the_same_size(server, spot, root, tmp_path):
    spot.download("small", downloadPath=tmp_path)
    src = root / "alice" / "small.h5"
    data = bytearray(src.read_bytes())
    data[-1] ^= 0xFF
    src.write_bytes(bytes(data))
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    with pytest.raises(DownloadError, match="changed on the server"):
        spot.download("small", downloadPath=tmp_path)
    spot.download("small", downloadPath=tmp_path, overwrite=True)
    assert (tmp_path / "small.h5").read_bytes() == bytes(data)


def test_existing_different_file_is_not_replaced_silently(server, spot, root, tmp_path):
    target = tmp_path / "small.h5"
    target.write_bytes(b"old content")
    with pytest.raises(DownloadError) as info:
        spot.download("small", downloadPath=tmp_path)
    text = str(info.value)
    assert str(target) in text and "overwrite" in text and "11 bytes" in text
    assert target.read_bytes() == b"old content"
    spot.download("small", downloadPath=tmp_path, overwrite=True)
    assert target.read_bytes() == _source(root, "small")
    assert downloaded_files(tmp_path) == ["small.h5"]


def test_same_size_but_not_hdf5_is_not_taken_as_complete(server, spot, root, tmp_path):
    target = tmp_path / "small.h5"
    target.write_bytes(b"\0" * len(_source(root, "small")))
    with pytest.raises(DownloadError, match="overwrite"):
        spot.download("small", downloadPath=tmp_path)


def test_concurrent_download_of_the_same_target_refused(server, spot, tmp_path):
    partial = tmp_path / f".{BIG}.h5.part"
    with open(partial, "ab") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(DownloadError, match="another process"):
            spot.download(BIG, downloadPath=tmp_path)
    assert not (tmp_path / f"{BIG}.h5").exists()


def test_unwritable_download_folder_fails_before_staging(server, spot, tmp_path):
    if os.geteuid() == 0:
        folder = "/proc"  # not writable even for root
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    before = len(server.requests)
    with pytest.raises(DownloadError) as info:
        spot.download(BIG, downloadPath=folder)
    assert str(folder) in str(info.value) and "writ" in str(info.value)
    assert not any("stageifneeded" in r.path for r in server.requests[before:])


def test_crash_between_verification_and_rename(server, spot, root, tmp_path, monkeypatch):
    real_replace = os.replace

    def crash_on_rename(src, dst):
        if str(dst).endswith(f"{BIG}.h5"):
            raise KeyboardInterrupt  # the process dies just before the rename
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_rename)
    with pytest.raises(KeyboardInterrupt):
        spot.download(BIG, downloadPath=tmp_path)
    monkeypatch.setattr(os, "replace", real_replace)
    assert (tmp_path / f".{BIG}.h5.part").stat().st_size == len(_source(root))
    before = len(_downloads(server))
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == _source(root)
    # the complete partial file is checked against the remote, not fetched again
    assert [r.headers.get("Range") for r in _downloads(server)[before:]] == ["bytes=0-0"]
    assert downloaded_files(tmp_path) == [f"{BIG}.h5"]


def test_clean_partials_removes_only_unlocked_partials(server, spot, tmp_path):
    from alsmicroct.data_management.transfer import clean_partials

    _partial_from_killed_process(server, tmp_path)
    busy = tmp_path / ".busy.h5.part"
    busy.write_bytes(b"x")
    (tmp_path / "keep.h5").write_bytes(b"y")
    with open(busy, "ab") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a download still running
        removed = clean_partials(tmp_path)
    assert sorted(p.name for p in removed) == [f".{BIG}.h5.part", f".{BIG}.h5.part.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".busy.h5.part", "keep.h5"]
