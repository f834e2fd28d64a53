"""Batch inputs that used to mislead silently (issue 12): each is now a clear error or a
documented, consistent behaviour, found before any heavy work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.params import ReconParams, parse_overrides
from alsmicroct.sim import simulate_scan

REPO = Path(__file__).resolve().parents[1]


def _run_app(script: str, *args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, str(REPO / "applications" / f"{script}.py"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    simulate_scan(folder / "a.h5", nangles=40, nslices=2, nrays=32, write_truth=False)
    return folder


def test_duplicated_key_is_an_error():
    with pytest.raises(ParameterError, match=r"cor.*twice|twice.*cor"):
        parse_overrides(["cor=66", "cor=70"], source="list.txt line 3")


def test_duplicated_key_in_a_path_list_line(raw, tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text("a.h5 cor=16 cor=17\n")
    res = _run_app("recon_batch", lst, "--input-dir", raw, "--dry-run", cwd=tmp_path)
    assert res.returncode != 0 and "twice" in res.stderr + res.stdout
    assert "line 1" in res.stderr + res.stdout


def test_environment_variables_in_path_lists_are_expanded(raw, tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text("$RAWDIR/a.h5 outputPath=${OUTDIR}/rec\n")
    res = _run_app(
        "recon_batch", lst, "--dry-run", cwd=tmp_path, env={"RAWDIR": str(raw), "OUTDIR": str(tmp_path / "o")}
    )
    assert res.returncode == 0, res.stderr
    assert str(tmp_path / "o" / "rec") in res.stdout + res.stderr
    assert "$" not in (res.stdout.split("planned")[0] if "planned" in res.stdout else "")


def test_undefined_environment_variable_is_an_error(raw, tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text("$NO_SUCH_VARIABLE_XYZ/a.h5\n")
    res = _run_app("recon_batch", lst, "--dry-run", cwd=tmp_path)
    assert res.returncode != 0 and "NO_SUCH_VARIABLE_XYZ" in res.stderr + res.stdout


def test_spreadsheet_formula_without_cached_value_is_an_error(raw, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["filename", "inputPath", "cor"])
    ws.append(["a.h5", str(raw), "=10+6"])  # saved by openpyxl: a formula with no cached value
    path = tmp_path / "s.xlsx"
    book.save(path)
    res = _run_app("recon_spreadsheet", path, "--dry-run", cwd=tmp_path)
    assert res.returncode != 0
    text = res.stderr + res.stdout
    assert "formula" in text and "C2" in text


@pytest.mark.parametrize(
    "text,value",
    [("no", False), ("false", False), ("0", False), ("yes", True), ("true", True), ("none", None), ("auto", None)],
)
def test_resume_strings(text, value):
    from alsmicroct.params import parse_resume

    assert parse_resume(text) is value


@pytest.mark.parametrize("text", ["maybe", "2", "nope"])
def test_resume_bad_strings(text):
    from alsmicroct.params import parse_resume

    with pytest.raises(ParameterError, match="resume"):
        parse_resume(text)


def test_recon_resume_string_no_is_not_true(raw, tmp_path):
    from alsmicroct.reconstruction import recon

    with pytest.raises(ParameterError, match="resume"):
        recon("a.h5", inputPath=raw, outputPath=tmp_path, resume="maybe", cor=16.0)


def test_output_filename_from_a_list_cannot_escape(raw, tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text("a.h5 outputFilename=../../x\n")
    res = _run_app("recon_batch", lst, "--input-dir", raw, "--dry-run", cwd=tmp_path)
    assert res.returncode != 0 and "outputFilename" in res.stderr + res.stdout


def test_output_filename_checked_by_params():
    for bad in ("../../x", "a/b", "..", "."):
        with pytest.raises(ParameterError, match="outputFilename"):
            ReconParams(outputFilename=bad)
