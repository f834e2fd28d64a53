"""Login, NEWT two-step login, re-authentication, credentials and their hygiene."""

from __future__ import annotations

import getpass
import io
import logging
import sys
import traceback

import pytest

from alsmicroct.data_management import (
    AuthenticationError,
    DownloadError,
    MissingCredentialsError,
    NotFoundError,
    SpotError,
    SpotSession,
)
from alsmicroct.testing import SpotServer

PASSWORD = "Pw-9f3Kq!x"
USERS = {"alice": PASSWORD, "bob": "bob-pass"}
FAST = {"timeout": 3.0, "retries": 2, "backoff": 0.01, "progress": False}


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch, tmp_path):
    for var in ("SPOT_USERNAME", "SPOT_PASSWORD", "NETRC", "ALSMICROCT_SPOT_URL", "ALSMICROCT_NEWT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def test_login_check_and_close(server):
    with SpotSession("alice", PASSWORD, base_url=server.base_url, **FAST) as spot:
        assert spot.authenticated and spot.username == "alice"
        assert spot.check_authentication() is True
        assert server.login_count == 1
    assert spot.closed and not spot.authenticated
    assert any(r.path == "/als/logout" for r in server.requests)
    # The server-side session is really gone.
    assert server._sessions == {}
    with pytest.raises(SpotError, match="closed"):
        spot.search("")


def test_failed_login(server):
    with pytest.raises(AuthenticationError) as info:
        SpotSession("alice", "wrong", base_url=server.base_url, **FAST)
    assert "/als/auth" in str(info.value) and "alice" in str(info.value)
    with pytest.raises(AuthenticationError):
        SpotSession("mallory", PASSWORD, base_url=server.base_url, **FAST)


def test_lazy_login_and_check_false(server):
    spot = SpotSession("alice", PASSWORD, base_url=server.base_url, login=False, **FAST)
    assert not spot.authenticated
    assert spot.check_authentication() is False
    assert spot.search("scan_a")[0]["name"] == "scan_a"
    assert spot.authenticated
    spot.close()


def test_base_url_from_environment(server, monkeypatch):
    monkeypatch.setenv("ALSMICROCT_SPOT_URL", server.base_url + "/")
    with SpotSession("alice", PASSWORD, **FAST) as spot:
        assert spot.base_url == server.base_url


def test_newt_two_step_login(server):
    with SpotSession("alice", PASSWORD, base_url=server.base_url, newt_url=server.newt_url, **FAST) as spot:
        assert spot.check_authentication()
        assert spot.search("")
    posts = [r.path for r in server.requests if r.method == "POST"]
    assert posts == ["/newt/auth", "/als/auth"]
    with pytest.raises(AuthenticationError, match="/newt/auth"):
        SpotSession("alice", "wrong", base_url=server.base_url, newt_url=server.newt_url, **FAST)


@pytest.mark.parametrize("status", [401, 403, 200])
def test_reauthentication_after_expiry(root, status):
    with (
        SpotServer(root, users=USERS, unauthenticated_status=status) as srv,
        SpotSession("alice", PASSWORD, base_url=srv.base_url, **FAST) as spot,
    ):
        srv.expire_sessions()
        assert spot.search("scan_a")[0]["name"] == "scan_a"
        assert srv.login_count == 2
        srv.expire_sessions()
        assert spot.list_images("scan_a")
        assert srv.login_count == 3


def test_reauthentication_fails_cleanly(server):
    with SpotSession("alice", PASSWORD, base_url=server.base_url, **FAST) as spot:
        server.expire_sessions()
        server.users["alice"] = "changed"
        with pytest.raises(AuthenticationError, match="/als/auth"):
            spot.search("")


def test_login_retried_on_server_error(server):
    server.fail_next(2, 503, endpoint="auth")
    with SpotSession("alice", PASSWORD, base_url=server.base_url, **FAST) as spot:
        assert spot.authenticated


def test_credentials_from_environment(server, monkeypatch):
    monkeypatch.setenv("SPOT_USERNAME", "bob")
    monkeypatch.setenv("SPOT_PASSWORD", "bob-pass")
    with SpotSession(base_url=server.base_url, **FAST) as spot:
        assert spot.username == "bob"
    # An explicit user that differs from SPOT_USERNAME does not get bob's password.
    with pytest.raises(MissingCredentialsError):
        SpotSession("alice", base_url=server.base_url, **FAST)


def _write_netrc(tmp_path, text, mode):
    """``~/.netrc`` in the home folder set by ``_no_ambient_credentials``."""
    netrc = tmp_path / "home" / ".netrc"
    netrc.parent.mkdir()
    netrc.write_text(text)
    netrc.chmod(mode)


def test_credentials_from_netrc(server, tmp_path):
    _write_netrc(tmp_path, f"machine 127.0.0.1\n  login alice\n  password {PASSWORD}\n", 0o600)
    with SpotSession(base_url=server.base_url, **FAST) as spot:
        assert spot.username == "alice"
        spot.search("")
    # requests' own netrc handling must not add a Basic-auth header with the password.
    assert not any("Authorization" in r.headers for r in server.requests)


def test_unsafe_netrc_reported_without_secret(server, tmp_path):
    _write_netrc(tmp_path, f"machine 127.0.0.1 login alice password {PASSWORD} garbage\n", 0o644)
    with pytest.raises(MissingCredentialsError) as info:
        SpotSession(base_url=server.base_url, **FAST)
    assert ".netrc" in str(info.value)
    assert PASSWORD not in "".join(traceback.format_exception(info.value))


def test_no_credentials_in_batch_job(server, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("must not prompt without a terminal")

    monkeypatch.setattr(getpass, "getpass", forbidden)
    monkeypatch.setattr("builtins.input", forbidden)
    with pytest.raises(MissingCredentialsError) as info:
        SpotSession(base_url=server.base_url, **FAST)
    text = str(info.value)
    assert "SPOT_USERNAME" in text and ".netrc" in text and "127.0.0.1" in text
    assert isinstance(info.value, AuthenticationError)


def test_prompt_when_stdin_is_a_terminal(server, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr("builtins.input", lambda prompt: "alice")
    monkeypatch.setattr(getpass, "getpass", lambda prompt: PASSWORD)
    with SpotSession(base_url=server.base_url, **FAST) as spot:
        assert spot.username == "alice"


def test_bad_base_url():
    with pytest.raises(SpotError, match="scheme"):
        SpotSession("a", "b", base_url="ftp://example.org/als", login=False)
    with pytest.raises(SpotError, match="credentials"):
        SpotSession("a", "b", base_url="https://u:p@example.org/als", login=False)


def test_credential_hygiene(root, caplog):
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    def remember(exc: BaseException) -> None:
        texts.extend([str(exc), repr(exc), "".join(traceback.format_exception(exc))])

    with SpotServer(root, users=USERS) as srv:
        try:
            SpotSession("alice", PASSWORD + "x", base_url=srv.base_url, **FAST)
        except AuthenticationError as exc:
            remember(exc)
        spot = SpotSession("alice", PASSWORD, base_url=srv.base_url, newt_url=srv.newt_url, **FAST)
        texts += [repr(spot), str(spot), repr(vars(spot))]
        srv.expire_sessions()
        spot.search("")
        for call in (
            lambda: spot.attributes("nope"),
            lambda: (srv.html_error_next(1), spot.download("scan_a", downloadPath=root / "x")),
        ):
            try:
                call()
            except (NotFoundError, DownloadError) as exc:
                remember(exc)
        srv.fail_next(10, 500)
        try:
            spot.search("")
        except SpotError as exc:
            remember(exc)
        srv.clear_faults()
        spot.close()
        texts.append(repr(spot))
        secrets = [PASSWORD, *srv.secrets_in_use()]
        urls = [r.path + "?" + r.query for r in srv.requests]
    assert len(secrets) >= 4  # session ids and NEWT tokens were issued
    haystacks = {"logs": caplog.text, "errors/reprs": "\n".join(texts), "urls": "\n".join(urls)}
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {where}"


def test_netrc_readable_by_others_warns_like_ssh(server, tmp_path, caplog):
    _write_netrc(tmp_path, f"machine 127.0.0.1 login alice password {PASSWORD}\n", 0o644)
    caplog.set_level(logging.WARNING, logger="alsmicroct.data_management")
    with SpotSession(base_url=server.base_url, **FAST) as spot:
        assert spot.username == "alice"
    netrc = str(tmp_path / "home" / ".netrc")
    assert netrc in caplog.text and "0644" in caplog.text and "chmod 600" in caplog.text
    assert PASSWORD not in caplog.text


def test_private_netrc_does_not_warn(server, tmp_path, caplog):
    _write_netrc(tmp_path, f"machine 127.0.0.1 login alice password {PASSWORD}\n", 0o600)
    caplog.set_level(logging.WARNING, logger="alsmicroct.data_management")
    with SpotSession(base_url=server.base_url, **FAST):
        pass
    assert ".netrc" not in caplog.text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("machine 127.0.0.1 login alice\n", "no password"),
        ("machine 127.0.0.1 password only-a-password\n", "no login"),
        ("machine 127.0.0.1 login alice password\n", "no password"),
        ("machine 127.0.0.1 login alice password only-a-password bogus\n", "syntax error at line"),
        (b"machine 127.0.0.1 login alice password \xff\xfe\n", "UTF-8"),
    ],
)
def test_malformed_netrc_entry_is_a_clear_error(server, tmp_path, text, expected):
    netrc = tmp_path / "home" / ".netrc"
    netrc.parent.mkdir()
    if isinstance(text, bytes):
        netrc.write_bytes(text)
    else:
        netrc.write_text(text)
    netrc.chmod(0o600)
    with pytest.raises(MissingCredentialsError) as info:
        SpotSession(base_url=server.base_url, **FAST)
    assert str(netrc) in str(info.value) and expected in str(info.value)
    assert "only-a-password" not in str(info.value)
