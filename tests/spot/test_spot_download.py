"""Downloads: staging first, resume after drops, refused error pages, size checks."""

from __future__ import annotations

import logging

import download_setup as SETUP  # noqa: F401  (read by conftest's fixtures)
import pytest
from download_setup import BIG, FAST, USERS
from download_setup import download_requests as _downloads
from download_setup import source_bytes as _source

from alsmicroct.data_management import (
    DownloadError,
    NotFoundError,
    SizeMismatchError,
    SpotParameterError,
    SpotSession,
    UnexpectedContentError,
)
from alsmicroct.testing import SpotServer
from alsmicroct.testing.spot_server import downloaded_files


def test_plain_download(spot, server, root, tmp_path):
    path = spot.download(f"{BIG}.h5", downloadPath=tmp_path / "new" / "dir")
    assert path == str(tmp_path / "new" / "dir" / f"{BIG}.h5")
    with open(path, "rb") as fh:
        assert fh.read() == _source(root)
    assert [r.headers.get("Range") for r in _downloads(server)] == [None]
    assert any("stageifneeded" in r.path for r in server.requests)
    renamed = spot.download("alice/small", downloadPath=tmp_path, downloadName="renamed.h5")
    assert renamed == str(tmp_path / "renamed.h5")
    assert downloaded_files(tmp_path) == ["new", "renamed.h5"]


def test_interrupted_twice_and_resumed(spot, server, root, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="alsmicroct.data_management")
    size = len(_source(root))
    assert size > 60_000
    server.drop_downloads(after_bytes=25_000, times=2)
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == _source(root)
    ranges = [r.headers.get("Range") for r in _downloads(server)]
    assert ranges == [None, "bytes=25000-", "bytes=50000-"]
    assert all(r.headers.get("If-Range") for r in _downloads(server)[1:])
    assert sum("interrupted at byte" in r.getMessage() for r in caplog.records) == 2
    assert downloaded_files(tmp_path) == [f"{BIG}.h5"]


def test_server_without_range_support(spot, server, root, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="alsmicroct.data_management")
    server.accept_ranges = False
    server.drop_downloads(after_bytes=25_000, times=1)
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == _source(root)
    assert "ignored the Range request" in caplog.text
    assert downloaded_files(tmp_path) == [f"{BIG}.h5"]


def test_drop_before_any_byte_then_gives_up(spot, server, tmp_path):
    server.drop_downloads(after_bytes=0, times=10)
    with pytest.raises(DownloadError) as info:
        spot.download(BIG, downloadPath=tmp_path)
    assert "giving up after 2 retries" in str(info.value)
    assert "/als/hdf/download/als/bl832/alice/big_scan/raw/big_scan.h5" in str(info.value)
    assert list(tmp_path.iterdir()) == []
    assert len(_downloads(server)) == 3


def test_html_error_page_refused(spot, server, tmp_path):
    server.html_error_next(1)
    with pytest.raises(UnexpectedContentError) as info:
        spot.download(BIG, downloadPath=tmp_path)
    assert "text/html" in str(info.value) and info.value.status == 200
    assert list(tmp_path.iterdir()) == []  # no .h5 and no temporary file left behind


def test_json_body_refused(spot, server, tmp_path):
    # A 200 answer that is JSON (e.g. {"error": ...}) must not become an .h5 file.
    server.fail_next(1, 200, endpoint="hdf/download")
    with pytest.raises(UnexpectedContentError, match="application/json"):
        spot.download(BIG, downloadPath=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_size_mismatch_detected(spot, server, tmp_path):
    server.lie_about_length(extra=1000)
    with pytest.raises(SizeMismatchError) as info:
        spot.download(BIG, downloadPath=tmp_path)
    assert "announced" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_download_waits_for_staging(root, tmp_path):
    with (
        SpotServer(root, users=USERS, stage_delay=0.2) as srv,
        SpotSession("alice", "secret", base_url=srv.base_url, **FAST) as spot,
    ):
        path = spot.download("small", downloadPath=tmp_path, poll_interval=0.05)
        with open(path, "rb") as fh:
            assert fh.read() == _source(root, "small")


def test_download_after_session_expiry(spot, server, root, tmp_path):
    spot.stage(BIG)
    server.expire_sessions()
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == _source(root)
    assert server.login_count == 2


def test_download_unknown_dataset(spot, tmp_path):
    with pytest.raises(NotFoundError, match="nothing_here"):
        spot.download("nothing_here", downloadPath=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_name_must_be_a_file_name(spot, tmp_path):
    with pytest.raises(SpotParameterError, match="downloadPath"):
        spot.download("small", downloadPath=tmp_path, downloadName="sub/name")
    assert list(tmp_path.iterdir()) == []


def test_existing_file_replaced_atomically_when_asked(spot, root, tmp_path):
    target = tmp_path / "small.h5"
    target.write_bytes(b"old content")
    spot.download("small", downloadPath=tmp_path, overwrite=True)
    assert target.read_bytes() == _source(root, "small")


def test_progress_bar(spot, root, tmp_path, capsys):
    spot.download("small", downloadPath=tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "small" in err and "B" in err
    assert (tmp_path / "small.h5").read_bytes() == _source(root, "small")
