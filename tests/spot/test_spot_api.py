"""Search, dataset metadata, images, staging, retries, timeouts and error mapping."""

from __future__ import annotations

import builtins
import logging
import math
import time

import h5py
import numpy as np
import pytest

from alsmicroct.data_management import (
    NotFoundError,
    ServerError,
    SpotConnectionError,
    SpotParameterError,
    SpotResponseError,
    SpotSession,
    SpotTimeoutError,
    StagingTimeout,
)
from alsmicroct.testing import SpotServer, make_catalogue

USERS = {"alice": "secret"}
FAST = {"timeout": 3.0, "retries": 2, "backoff": 0.01, "progress": False}
SCANS = [f"scan_{i:02d}" for i in range(12)]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_catalogue(tmp_path_factory.mktemp("spot"))


@pytest.fixture(scope="module")
def server(root):
    with SpotServer(root, users=USERS) as srv:
        yield srv


@pytest.fixture
def spot(server):
    server.clear_faults()
    with SpotSession("alice", "secret", base_url=server.base_url, **FAST) as session:
        yield session


def test_search_pages(spot, server):
    first = spot.search("scan_", limitnum=5)
    assert [r["name"] for r in first] == ["scan_h5", *SCANS[::-1][:4]]
    second = spot.search("scan_", limitnum=5, skipnum=5, sorttype="asc")
    assert [r["name"] for r in second] == SCANS[5:10]
    rec = first[1]
    assert rec["owner"] == "alice" and rec["fs"]["stage_date"].startswith("2016")
    sent = [r.query for r in server.requests if r.path == "/als/hdf/search"][-1]
    assert "search=scan_" in sent and "limitnum=5" in sent and "skipnum=5" in sent
    assert "sortterm=fs.stage_date" in sent and "sorttype=asc" in sent
    assert [r["name"] for r in spot.search("owner=bob")] == ["bob_scan"]
    assert spot.search("no_such_thing") == []
    with pytest.raises(SpotParameterError):
        spot.search("", sorttype="up")


def test_iter_search_all_pages(spot, server):
    before = len(server.requests)
    names = [r["name"] for r in spot.iter_search("scan_", page_size=5, sorttype="asc")]
    assert names == [*SCANS, "scan_h5"]
    pages = [r for r in server.requests[before:] if r.path == "/als/hdf/search"]
    assert len(pages) == 4  # the last, empty page confirms the end
    assert len(list(spot.iter_search("", page_size=4, max_results=6))) == 6
    assert len(list(spot.iter_search("", page_size=5))) == 15  # exact multiple of pages
    assert list(spot.iter_search("nothing")) == []


def test_derived_datasets(spot, root):
    records = spot.derived_datasets("alice/scan_03.h5")
    assert [r["stage"] for r in records] == ["raw", "norm"]
    raw = records[0]
    assert raw["path"] == "/als/bl832/alice/scan_03/raw/scan_03.h5"
    assert raw["phyloc"] == str((root / "alice" / "scan_03.h5").resolve())
    assert spot.derived_datasets("unknown") == []


def test_attributes_and_images(spot, root):
    top = spot.attributes("scan_h5", group="/scan_h5")
    assert top["nangles"] == "3" and top["dataset"] == "scan_h5"  # trailing "\r" removed
    assert spot.attributes("scan_h5")["dataset"] == "scan_h5"  # root attributes
    images = spot.list_images("scan_h5.h5")
    assert images[0] == "/scan_h5/scan_h5_0000_0000.tif" and len(images) == 3 + 2 + 1
    with h5py.File(root / "alice" / "scan_h5.h5") as f:
        expected = f["scan_h5/scan_h5bak_0000_0000.tif"][()]
    img = spot.image("scan_h5", "scan_h5bak_0000_0000.tif")
    assert img.dtype == np.uint16 and np.array_equal(img, expected)
    assert np.array_equal(spot.image("scan_h5", images[3]), spot.image("alice/scan_h5", images[3][9:]))


def test_other_owner_and_quoting(spot, server):
    assert spot.raw_path("bob/bob_scan.h5") == "als/bl832/bob/bob_scan/raw/bob_scan.h5"
    assert spot.list_images("bob_scan", username="bob")[0].startswith("/bob_scan/")
    odd = "my scan#1%"
    assert spot.raw_path(odd) == "als/bl832/alice/my%20scan%231%25/raw/my%20scan%231%25.h5"
    assert spot.attributes(odd, group=f"/{odd}")["dataset"] == odd
    assert spot.image(odd, f"{odd}_0000_0001.tif").shape == (1, 4, 5)
    paths = [r.path for r in server.requests if "listimages" in r.path or "rawdata" in r.path]
    assert "/als/hdf/rawdata/als/bl832/alice/my%20scan%231%25/raw/my%20scan%231%25.h5" in paths


def test_html_page_instead_of_json(spot, server):
    server.html_error_next(1, endpoint="hdf/search")
    with pytest.raises(SpotResponseError, match="not JSON.*text/html"):
        spot.search("")


def test_not_found(spot):
    with pytest.raises(NotFoundError) as info:
        spot.attributes("nope")
    assert "/als/hdf/attributes/als/bl832/alice/nope/raw/nope.h5" in str(info.value)
    assert info.value.status == 404 and isinstance(info.value, LookupError)
    with pytest.raises(NotFoundError):
        spot.image("scan_00", "missing.tif")
    with pytest.raises(NotFoundError):
        spot.attributes("bob/scan_00")


def test_retries_with_backoff(spot, server, caplog):
    caplog.set_level(logging.WARNING, logger="alsmicroct.data_management")
    server.fail_next(2, 500, endpoint="hdf/search")
    assert spot.search("scan_00")[0]["name"] == "scan_00"
    waits = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(waits) == 2
    assert "retry 1/2 in 0.01 s" in waits[0] and "retry 2/2 in 0.02 s" in waits[1]
    assert "HTTP 500" in waits[0] and "/als/hdf/search" in waits[0]
    server.fail_next(3, 503, endpoint="hdf/search")
    with pytest.raises(ServerError) as info:
        spot.search("")
    assert info.value.status == 503 and "/als/hdf/search" in str(info.value)
    assert "after 3 attempts" in str(info.value)


def test_retry_after_is_honoured_up_to_max(server):
    with SpotSession(
        "alice", "secret", base_url=server.base_url, timeout=3, retries=1, backoff=0.01, max_backoff=0.2
    ) as spot:
        server.fail_next(1, 503, endpoint="hdf/search", retry_after=30)
        start = time.monotonic()
        spot.search("")
        assert 0.15 < time.monotonic() - start < 10


def test_client_errors_not_retried(spot, server):
    server.fail_next(1, 400, endpoint="hdf/search")
    with pytest.raises(SpotResponseError) as info:
        spot.search("")
    assert info.value.status == 400 and "injected failure" in str(info.value)
    assert spot.search("scan_00")  # the single fault was consumed, no retry happened


def test_timeouts(server):
    with SpotSession("alice", "secret", base_url=server.base_url, timeout=0.6, retries=1, backoff=0.01) as spot:
        server.slow_next(1, 2.0, endpoint="hdf/search")
        assert spot.search("scan_00")  # the retry is answered in time
        server.slow_next(2, 2.0, endpoint="hdf/dataset")
        start = time.monotonic()
        with pytest.raises(SpotTimeoutError) as info:
            spot.derived_datasets("scan_00")
        assert time.monotonic() - start < 10
        assert isinstance(info.value, builtins.TimeoutError)
        assert "/als/hdf/dataset" in str(info.value)


def test_connection_refused(root):
    srv = SpotServer(root, users=USERS).start()
    spot = SpotSession("alice", "secret", base_url=srv.base_url, **FAST)
    srv.stop()
    with pytest.raises(SpotConnectionError) as info:
        spot.search("")
    assert isinstance(info.value, ConnectionError)
    assert "/als/hdf/search" in str(info.value) and "after 3 attempts" in str(info.value)
    spot.close()  # the logout fails quietly
    assert spot.closed


def test_staging_poll(root):
    with (
        SpotServer(root, users=USERS, stage_delay=0.3) as srv,
        SpotSession("alice", "secret", base_url=srv.base_url, **FAST) as spot,
    ):
        first = spot.stage("scan_01", wait=False)
        assert first["location"] == "unknown"
        answer = spot.stage("scan_01", poll_interval=0.05, timeout=10)
        assert answer["location"] == str((root / "alice" / "scan_01.h5").resolve())
        polls = [r for r in srv.requests if "stageifneeded" in r.path]
        assert len(polls) >= 3


def test_staging_timeout(root):
    with (
        SpotServer(root, users=USERS, stage_delay=math.inf) as srv,
        SpotSession("alice", "secret", base_url=srv.base_url, **FAST) as spot,
    ):
        with pytest.raises(StagingTimeout) as info:
            spot.stage("scan_02", poll_interval=0.05, timeout=0.3)
        assert "staging" in str(info.value) and "/scan_02.h5" in str(info.value)
        assert isinstance(info.value, SpotTimeoutError)
