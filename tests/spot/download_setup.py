"""Set-up shared by the download tests (``test_spot_download``, ``test_spot_verify``,
``test_spot_resume``): a big scan that several chunks and drops cut through, and helpers."""

from __future__ import annotations

USERS = {"alice": "secret"}
FAST = {"timeout": 3.0, "retries": 2, "backoff": 0.01, "progress": False}
BIG = "big_scan"
CATALOGUE = {"alice": [BIG, "small"]}
# ~100 kB so that drops happen mid-file and several chunks are involved.
CATALOGUE_OPTIONS = {"nangles": 12, "nrows": 64, "ncols": 64}
SERVER_OPTIONS = {"chunk_size": 8192}
SESSION_OPTIONS = {"chunk_size": 4096}


def source_bytes(root, name=BIG):
    """The bytes the portal serves for ``alice``'s scan ``name``."""
    return (root / "alice" / f"{name}.h5").read_bytes()


def download_requests(server):
    """The requests the server saw for file bodies."""
    return [r for r in server.requests if "/hdf/download/" in r.path]
