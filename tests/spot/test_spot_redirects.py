"""Redirects never carry credentials or cookies to another host.

A login (a POST of the password) is never redirected; API and download requests follow a
redirect only within the API's own scheme, host and port, unless the download target's
origin was allowed explicitly (``SpotSession(download_redirects=[...])``), and then
without the session cookie.
"""

from __future__ import annotations

import functools
import http.server
import threading
from typing import ClassVar

import pytest

from alsmicroct.data_management import AuthenticationError, SpotError, SpotSession
from alsmicroct.testing import SESSION_COOKIE, SpotServer

PASSWORD = "redir-Pw-44"
USERS = {"alice": PASSWORD}
FAST = {"timeout": 3.0, "retries": 1, "backoff": 0.01, "progress": False}


@pytest.fixture
def evil(root):
    """Another server (other port: another origin) that would accept the password."""
    with SpotServer(root, users=USERS) as srv:
        yield srv


class _Recorder(http.server.SimpleHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        type(self).seen.append(dict(self.headers.items()))
        super().do_GET()


@pytest.fixture
def mirror(root):
    """A plain static file server for ``root`` (a data-transfer host)."""
    handler = type("Handler", (_Recorder,), {"seen": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler.seen
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_login_redirect_to_other_host_refused(server, evil, status):
    server.redirect_next(1, evil.base_url + "/auth", status=status, endpoint="auth")
    with pytest.raises(AuthenticationError) as info:
        SpotSession("alice", PASSWORD, base_url=server.base_url, **FAST)
    text = str(info.value)
    assert "redirect" in text and evil.base_url.rsplit("/", 1)[0] in text
    assert PASSWORD not in text
    assert evil.requests == []  # nothing at all reached the other host
    assert evil.login_count == 0


def test_login_redirect_on_same_host_refused_without_reposting(server):
    server.redirect_next(1, server.base_url + "/auth", status=307, endpoint="auth")
    with pytest.raises(AuthenticationError, match="redirect"):
        SpotSession("alice", PASSWORD, base_url=server.base_url, **FAST)
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 1 and server.login_count == 0


def test_newt_login_redirect_refused(server, evil):
    # The NEWT endpoint is outside the API root; the test server injects faults only
    # there, so redirect the *second* step (the session id is a credential too).
    server.redirect_next(1, evil.base_url + "/auth", status=307, endpoint="auth")
    with pytest.raises(AuthenticationError, match="redirect"):
        SpotSession("alice", PASSWORD, base_url=server.base_url, newt_url=server.newt_url, **FAST)
    assert evil.requests == []


def test_api_redirect_within_the_same_origin_followed(server):
    with SpotSession("alice", PASSWORD, base_url=server.base_url, **FAST) as spot:
        server.redirect_next(1, server.base_url + "/hdf/search?search=scan_a", endpoint="hdf/search")
        assert [r["name"] for r in spot.search("ignored")] == ["scan_a"]
    follow = [r for r in server.requests if r.path == "/als/hdf/search"]
    assert len(follow) == 2 and SESSION_COOKIE in follow[1].cookies


def test_api_redirect_to_other_host_refused(server, evil):
    with SpotSession("alice", PASSWORD, base_url=server.base_url, **FAST) as spot:
        server.redirect_next(1, evil.base_url + "/hdf/search?search=", endpoint="hdf/search")
        with pytest.raises(SpotError, match="redirect"):
            spot.search("scan")
    assert evil.requests == []


def test_https_downgrade_refused(server):
    with SpotSession("alice", PASSWORD, base_url=server.base_url, **FAST) as spot:
        other = server.base_url.replace("http://", "https://")
        server.redirect_next(1, other + "/hdf/search", endpoint="hdf/search")
        with pytest.raises(SpotError, match="redirect"):
            spot.search("scan")


def test_download_redirect_to_other_host_refused_by_default(server, mirror, tmp_path):
    origin, seen = mirror
    with SpotSession("alice", PASSWORD, base_url=server.base_url, **FAST) as spot:
        server.redirect_next(1, f"{origin}/alice/scan_a.h5", endpoint="hdf/download")
        with pytest.raises(SpotError) as info:
            spot.download("scan_a", downloadPath=tmp_path)
    assert "redirect" in str(info.value) and origin in str(info.value)
    assert "download_redirects" in str(info.value)  # names the option that allows it
    assert seen == []
    assert list(tmp_path.iterdir()) == []


def test_download_redirect_to_allowed_origin_without_cookie(server, mirror, root, tmp_path):
    origin, seen = mirror
    with SpotSession("alice", PASSWORD, base_url=server.base_url, download_redirects=[origin], **FAST) as spot:
        server.redirect_next(1, f"{origin}/alice/scan_a.h5", endpoint="hdf/download")
        path = spot.download("scan_a", downloadPath=tmp_path)
    with open(path, "rb") as fh:
        assert fh.read() == (root / "alice" / "scan_a.h5").read_bytes()
    assert len(seen) == 1
    assert "Cookie" not in seen[0] and "Authorization" not in seen[0]


def test_download_redirects_option_validated():
    with pytest.raises(SpotError, match="download_redirects"):
        SpotSession("a", "b", base_url="http://127.0.0.1:1/als", login=False, download_redirects=["not a url"])


def test_plain_http_to_a_remote_host_warns(caplog):
    caplog.set_level("WARNING", logger="alsmicroct.data_management")
    SpotSession("a", "b", base_url="http://portal.example.org/als", login=False).close()
    assert "unencrypted" in caplog.text and "portal.example.org" in caplog.text
    caplog.clear()
    SpotSession("a", "b", base_url="http://127.0.0.1:1/als", login=False).close()
    SpotSession("a", "b", base_url="https://portal.example.org/als", login=False).close()
    assert caplog.text == ""
