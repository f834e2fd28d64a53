"""TLS: certificate verification stays on, a CA bundle can be given, failures are clear."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest

from alsmicroct.data_management import SpotConnectionError, SpotSession
from alsmicroct.testing import SpotServer, make_catalogue

PASSWORD = "tls-Pw-31x"
FAST = {"timeout": 3.0, "retries": 2, "backoff": 0.01, "progress": False}


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """HTTPS server on 127.0.0.1 with a self-signed certificate for that address."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    root = make_catalogue(folder / "data", {"alice": ["scan_a"]})
    with SpotServer(root, users={"alice": PASSWORD}, ssl_context=context) as srv:
        yield srv, cert


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch, tmp_path):
    for var in (
        "SPOT_USERNAME",
        "SPOT_PASSWORD",
        "NETRC",
        "ALSMICROCT_SPOT_URL",
        "ALSMICROCT_NEWT_URL",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_untrusted_certificate_is_refused_clearly_and_not_retried(tls_server, caplog):
    srv, _ = tls_server
    assert srv.base_url.startswith("https://127.0.0.1:")
    before = len(srv.requests)
    with caplog.at_level("DEBUG"), pytest.raises(SpotConnectionError, match="TLS verification failed") as info:
        SpotSession("alice", PASSWORD, base_url=srv.base_url, **FAST)
    assert "/als/auth" in str(info.value) and PASSWORD not in str(info.value)
    assert len(srv.requests) == before  # no request got through the handshake
    assert "retry" not in caplog.text.lower()  # a certificate failure is not retried
    assert PASSWORD not in caplog.text


def test_ca_bundle_makes_it_work(tls_server, monkeypatch):
    srv, cert = tls_server
    with SpotSession("alice", PASSWORD, base_url=srv.base_url, verify=str(cert), **FAST) as spot:
        assert spot.check_authentication() is True
        assert [r["name"] for r in spot.search("scan")] == ["scan_a"]
    # a site's REQUESTS_CA_BUNDLE is honoured by the default verify=True ...
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with SpotSession("alice", PASSWORD, base_url=srv.base_url, **FAST) as spot:
        assert spot.check_authentication() is True
    # ... but never overrides a bundle given explicitly (here the public CAs, which do not
    # include our self-signed certificate)
    import requests.certs

    with pytest.raises(SpotConnectionError, match="TLS verification failed"):
        SpotSession("alice", PASSWORD, base_url=srv.base_url, verify=requests.certs.where(), **FAST)
