"""A download is finished only when verified: size, encoding, ranges and HDF5 signature.

Every test here feeds the client an answer that used to be saved (or could be saved) as
a wrong ``.h5`` without an error.
"""

from __future__ import annotations

import logging

import download_setup as SETUP  # noqa: F401  (read by conftest's fixtures)
import pytest
from download_setup import BIG, FAST, USERS
from download_setup import download_requests as _downloads
from download_setup import source_bytes as _source

from alsmicroct.data_management import (
    DownloadError,
    SizeMismatchError,
    SpotSession,
    UnexpectedContentError,
)
from alsmicroct.testing import SpotServer
from alsmicroct.testing.spot_server import downloaded_files


def extend_catalogue(root):
    # A file the portal would serve as octet-stream, with a right length, that is no HDF5.
    (root / "alice" / "not_hdf5.h5").write_bytes(b"\x00\x01binary junk" * 2000)


def test_identity_encoding_requested_and_gzip_refused(spot, server, tmp_path):
    server.encode_downloads(1)
    with pytest.raises(UnexpectedContentError) as info:
        spot.download(BIG, downloadPath=tmp_path)
    assert "gzip" in str(info.value) and "Content-Encoding" in str(info.value)
    assert _downloads(server)[0].headers.get("Accept-Encoding") == "identity"
    assert list(tmp_path.iterdir()) == []


def test_body_without_length_not_accepted(spot, server, tmp_path):
    server.unsized_downloads(1)
    with pytest.raises(DownloadError, match="size"):
        spot.download(BIG, downloadPath=tmp_path)
    assert not (tmp_path / f"{BIG}.h5").exists()


def test_empty_body_not_accepted(spot, server, tmp_path):
    server.empty_downloads(1)
    with pytest.raises(DownloadError, match="empty"):
        spot.download(BIG, downloadPath=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_file_that_is_not_hdf5_refused(spot, tmp_path):
    with pytest.raises(UnexpectedContentError, match="HDF5") as info:
        spot.download("not_hdf5", downloadPath=tmp_path)
    assert "not_hdf5" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_wrong_content_range_on_resume_restarts_cleanly(spot, server, root, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="alsmicroct.data_management")
    server.drop_downloads(after_bytes=25_000, times=1)
    server.shift_content_range(by=1000, times=1)
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == _source(root)
    assert "Content-Range" in caplog.text
    # after the bad answer the client asks for the whole file again, not for a range
    assert _downloads(server)[-1].headers.get("Range") is None


def test_last_modified_guards_the_resume_without_etag(spot, server, root, tmp_path):
    server.drop_downloads(after_bytes=25_000, times=1)
    server.send_etag = False
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == _source(root)
    assert _downloads(server)[1].headers.get("If-Range", "").endswith("GMT")


def test_truncated_body_with_length_is_resumed_not_saved(spot, server, root, tmp_path):
    server.drop_downloads(after_bytes=10_000, times=1)
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == _source(root)


def test_html_page_while_resuming_refused_and_partial_kept(spot, server, root, tmp_path):
    server.drop_downloads(after_bytes=25_000, times=1)
    server.html_error_next(1)  # the resumed request gets an HTML page with status 200
    with pytest.raises(UnexpectedContentError):
        spot.download(BIG, downloadPath=tmp_path)
    assert not (tmp_path / f"{BIG}.h5").exists()
    # the good bytes are kept for the next run, which resumes and completes
    path = spot.download(BIG, downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == _source(root)
    assert _downloads(server)[-1].headers.get("Range") == "bytes=25000-"
    assert downloaded_files(tmp_path) == [f"{BIG}.h5"]


def test_lie_about_length_detected(spot, server, tmp_path):
    server.lie_about_length(extra=1000)
    with pytest.raises(SizeMismatchError):
        spot.download(BIG, downloadPath=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_expired_session_reported_as_json_200_during_download(root, tmp_path):
    # Some portals answer an expired session with 200 {"auth": false}: that is a login
    # to renew, not a file, and not an error page to report.
    with (
        SpotServer(root, users=USERS, unauthenticated_status=200) as srv,
        SpotSession("alice", "secret", base_url=srv.base_url, **FAST) as spot,
    ):
        srv.answer_next(1, {"auth": False, "error": "not logged in"}, endpoint="hdf/download")
        path = spot.download("small", downloadPath=tmp_path)
        with open(path, "rb") as fh:
            assert fh.read() == _source(root, "small")
        assert srv.login_count == 2
