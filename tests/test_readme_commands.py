"""The README's runnable commands work as written after the two set-up commands.

The first ``bash`` block of the README's "Applications" section (and the example block of
``filepath/README.md``) is run line by line, in a scratch copy of the repository root that
holds this test run's virtual environment as ``.venv``, after ``alsmicroct-example`` has
made the example scan, as a new user would. Each command must exit 0, and no output folder
may end up holding slices that its records do not describe.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _block(text: str, after: str) -> list[str]:
    start = text.index(after)
    body = re.search(r"```bash\n(.*?)```", text[start:], flags=re.DOTALL).group(1)
    return [line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    if sys.prefix == sys.base_prefix:
        pytest.skip("the README's commands use .venv/bin: run the tests from a virtual environment")
    root = tmp_path_factory.mktemp("readme")
    (root / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    for name in ("applications", "filepath"):
        (root / name).symlink_to(REPO / name, target_is_directory=True)
    res = subprocess.run(
        [str(root / ".venv/bin/alsmicroct-example"), "-q"], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    return root


def _run(line: str, cwd: Path) -> None:
    res = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", line],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert res.returncode == 0, f"{line}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"


def test_readme_application_commands(scratch):
    lines = _block((REPO / "README.md").read_text(), "## Applications")
    assert len(lines) >= 8
    for line in lines:
        _run(line, scratch)
    _check_no_mixing(scratch / "example")


def test_filepath_readme_commands(scratch):
    lines = _block((REPO / "filepath" / "README.md").read_text(), "Try them")
    for line in lines:
        _run(line, scratch)
    _check_no_mixing(scratch / "example")


def _check_no_mixing(root: Path) -> None:
    from alsmicroct.io.outputs import record_prefix, rows_of, run_records, run_slices

    for folder in [p for p in root.rglob("*") if p.is_dir()]:
        records = run_records(folder)
        if not records:
            continue
        described: dict[str, set[int]] = {}
        for rec in records.values():
            described.setdefault(record_prefix(rec), set()).update(rows_of(rec))
        for prefix, rows in described.items():
            assert set(run_slices(folder, prefix)) <= rows, (folder, prefix)
        for rec in records.values():
            json.dumps(rec)


def test_readme_live_reconstruction_commands(scratch):
    lines = _block((REPO / "README.md").read_text(), "## Live reconstruction at the beamline")
    assert any("alsmicroct-watch rerun" in line for line in lines)
    for line in lines:
        _run(line, scratch)
    import sqlite3

    db = sqlite3.connect(scratch / "example" / "live" / ".alsmicroct-watch.sqlite")
    try:
        rows = db.execute("SELECT scan, attempt, state, prefix FROM attempts ORDER BY attempt").fetchall()
    finally:
        db.close()
    assert rows == [("example_scan.h5", 1, "done", "example_scan"), ("example_scan.h5", 2, "done", "example_scan_a2")]
    out = scratch / "example" / "live" / "recexample_scan"
    assert (out / "example_scan_preview.png").exists() and (out / "example_scan_preview_sweep.png").exists()
    _check_no_mixing(scratch / "example")


def test_readme_volume_output_commands(scratch):
    """The "Volume outputs" section: its bash block, then its Python block, as written."""
    text = (REPO / "README.md").read_text()
    start = text.index("## Volume outputs")
    if not (scratch / "example" / "quick").is_dir():
        _run(
            ".venv/bin/alsmicroct-recon example/example_scan.h5 --cor 132.6 --slices 4 --output-dir example/quick",
            scratch,
        )
    for line in _block(text, "## Volume outputs"):
        _run(line, scratch)
    code = re.search(r"```python\n(.*?)```", text[start:], flags=re.DOTALL).group(1)
    res = subprocess.run(
        [str(scratch / ".venv/bin/python"), "-c", code], cwd=scratch, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-3000:]
    _check_no_mixing(scratch / "example")
