"""Parameters that crashed or misled (issue 12): each gives a clear ParameterError before any
heavy work, naming the parameter; plus the memory estimate that names chunk_sino / npad."""

from __future__ import annotations

import re

import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.memory import check_memory, estimate_chunk_bytes
from alsmicroct.params import ReconParams, parse_overrides, parse_switch

GIB = 1024**3


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("outlier_size2D", 10**6, r"outlier_size2D=1000000: must be <= 255"),
        ("outlier_size2D", "1e9", r"outlier_size2D=1000000000: must be <= 255"),
        ("npad", 10**7, r"npad=10000000: must be <= 100000"),
        ("npad", "123456789", r"npad=123456789: must be <= 100000"),
        ("angle_offset", 1e300, r"angle_offset=1e\+300: must be <= 360.*modulo 360"),
        ("angle_offset", "-4000", r"angle_offset=-4000.0: must be >= -360"),
        ("angle_offset", "nan", r"angle_offset='nan': expected a number"),
        ("badData", "fix", r"badData='fix' is not one of \['error', 'repair'\]"),
        ("pixel_size", 0, r"pixel_size=0.0: must be > 0"),
        ("pixel_size", "-0.001", r"pixel_size=-0.001: must be > 0"),
    ],
)
def test_bad_values_refused(key, value, message):
    with pytest.raises(ParameterError, match=message):
        ReconParams.from_mapping({key: value})


def test_limits_themselves_accepted():
    p = ReconParams.from_mapping(
        outlier_size2D=255, npad=100000, angle_offset=-360, badData="repair", pixel_size="0.00065"
    )
    assert (p.outlier_size2D, p.npad, p.angle_offset, p.badData, p.pixel_size) == (
        255,
        100000,
        -360.0,
        "repair",
        0.00065,
    )
    assert parse_overrides(["badData=repair", "pixel_size=0.001"]) == {"badData": "repair", "pixel_size": 0.001}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no", False),
        ("No", False),
        ("false", False),
        ("0", False),
        (0, False),
        (False, False),
        ("off", False),
        ("yes", True),
        ("TRUE", True),
        ("1", True),
        (1, True),
        (True, True),
        (" y ", True),
        ("none", None),
        ("auto", None),
        ("", None),
        (None, None),
        ("'auto'", None),
    ],
)
def test_resume_switch(text, expected):
    assert parse_switch("resume", text) is expected


@pytest.mark.parametrize("text", ["nope", "2", 2, 0.5, "maybe", [1]])
def test_resume_switch_refuses_others(text):
    with pytest.raises(ParameterError, match=r"resume=.*expected a boolean"):
        parse_switch("resume", text)


def test_recon_resume_no_is_refused_or_false(tmp_path):
    from alsmicroct.reconstruction import recon

    with pytest.raises(ParameterError, match="resume='maybe'"):
        recon(tmp_path / "x.h5", resume="maybe")


# ----------------------------------------------------------------- memory estimate
def test_estimate_grows_with_rows_and_padding():
    a = estimate_chunk_bytes(chunk_rows=10, nangles=1313, ncols=2560, npad=530, nrefs=60)
    b = estimate_chunk_bytes(chunk_rows=20, nangles=1313, ncols=2560, npad=530, nrefs=60)
    c = estimate_chunk_bytes(chunk_rows=10, nangles=1313, ncols=2560, npad=0, nrefs=60)
    assert b.total > a.total > c.total
    assert a.total == a.raw + a.steps + a.reconstruct + a.output
    # the raw block alone: 2 copies (block + prefetch) + references, float32
    assert a.raw == 4 * (2 * 1313 + 60) * 10 * 2560


def test_check_memory_names_chunk_sino_with_a_value_that_fits():
    with pytest.raises(ParameterError, match=r"scan\.h5: one chunk needs .* set chunk_sino=(\d+) or less") as err:
        check_memory(chunk_rows=100, nangles=1313, ncols=2560, npad=530, nrefs=60, available=8 * GIB, where="scan.h5")
    fits = int(re.search(r"chunk_sino=(\d+)", str(err.value)).group(1))
    assert estimate_chunk_bytes(chunk_rows=fits, nangles=1313, ncols=2560, npad=530, nrefs=60).total <= 0.8 * 8 * GIB
    assert estimate_chunk_bytes(chunk_rows=fits + 1, nangles=1313, ncols=2560, npad=530, nrefs=60).total > 0.8 * 8 * GIB


def test_check_memory_names_npad_when_padding_is_the_problem():
    with pytest.raises(ParameterError, match=r"even 1 row does not fit; lower npad=100000"):
        check_memory(chunk_rows=4, nangles=1313, ncols=2560, npad=100000, available=8 * GIB)


def test_check_memory_warn_and_pass(caplog):
    est = check_memory(chunk_rows=4, nangles=100, ncols=64, available=64 * GIB)
    assert est.rows == 4
    check_memory(chunk_rows=100, nangles=1313, ncols=2560, npad=530, available=GIB, policy="warn")
    assert any("chunk_sino" in r.getMessage() for r in caplog.records)
    with pytest.raises(ParameterError):
        check_memory(chunk_rows=1, nangles=1, ncols=1, policy="maybe")
