"""Inputs that used to give a traceback or wrong data silently: options, answers, CLI."""

from __future__ import annotations

import pytest

from alsmicroct.data_management import (
    SpotParameterError,
    SpotResponseError,
    SpotSession,
    StagingError,
)

USERS = {"alice": "secret"}
FAST = {"timeout": 3.0, "retries": 1, "backoff": 0.01, "progress": False}


@pytest.mark.parametrize(
    "option, value, named",
    [
        ("verify", "/nonexistent/ca-bundle.pem", "/nonexistent/ca-bundle.pem"),
        ("timeout", 0, "timeout"),
        ("timeout", (5.0, -1.0), "timeout"),
        ("retries", -1, "retries"),
        ("backoff", -0.5, "backoff"),
        ("chunk_size", 0, "chunk_size"),
    ],
)
def test_bad_options_are_parameter_errors(server, option, value, named):
    options = {**FAST, option: value}
    with pytest.raises(SpotParameterError, match=named):
        SpotSession("alice", "secret", base_url=server.base_url, login=False, **options)


def test_image_with_a_shape_that_does_not_match(spot, server):
    name = spot.list_images("scan_a")[0]
    server.answer_next(1, {"data": [[1, 2, 3, 4]], "shape": [2, 2], "dtype": "uint16"}, endpoint="hdf/rawdata")
    with pytest.raises(SpotResponseError, match="shape"):
        spot.image("scan_a", name)


@pytest.mark.parametrize("location", ["error", "", None, 17])
def test_staging_failure_is_not_taken_for_a_location(spot, server, location, tmp_path):
    server.answer_next(1, {"location": location, "status": "failed"}, endpoint="hdf/stageifneeded")
    with pytest.raises(StagingError, match="location"):
        spot.stage("scan_a")
