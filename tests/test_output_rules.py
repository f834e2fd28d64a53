"""One output folder holds one run, described by one record (issue 12).

A run is (input file, parameters as they change the slices, rows, prefix). A folder that
holds another run's slices or record is never partly overwritten: the new run is refused
with an error that names the way out (``resume=False`` / ``--overwrite``, or another
``outputPath``). Resume keeps a slice only when the folder's record proves it was made by the
same run. Outputs never escape the output folder, and crash debris is cleaned up.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alsmicroct.errors import AlsMicroCTError, OutputError, ParameterError
from alsmicroct.io.tiff import write_tiff_atomic as write_tiff
from alsmicroct.reconstruction import recon
from alsmicroct.sim import simulate_scan

REPO = Path(__file__).resolve().parents[1]
KW = dict(num_threads=1, quicklook=False, chunk_sino=2)


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("rules")
    return simulate_scan(folder / "s.h5", nangles=90, nslices=6, nrays=48, cor=23.6, seed=5, write_truth=False).path


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _run_app(script: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "applications" / f"{script}.py"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_rerun_with_other_parameters_is_refused_and_touches_nothing(scan, tmp_path):
    out = tmp_path / "rec"
    first = recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, **KW)
    before = _digest(first.output_dir)
    for change in (dict(cor=23.6, doPhaseRetrieval=True), dict(cor=23.6, sinoused=(1, 3, 1)), dict(cor=24.0)):
        with pytest.raises(OutputError, match=r"resume=False|overwrite"):
            recon(scan.name, inputPath=scan.parent, outputPath=out, **change, **KW)
        assert _digest(first.output_dir) == before, change


def test_another_prefix_is_another_run_beside_it(scan, tmp_path):
    out = tmp_path / "rec"
    first = recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, **KW)
    before = _digest(first.output_dir)
    other = recon(scan.name, inputPath=scan.parent, outputPath=out, cor=24.0, outputFilename="c24", **KW)
    after = _digest(first.output_dir)
    assert {k: after[k] for k in before} == before  # the first run is untouched
    assert other.provenance_path.name == "recon_parameters_c24.json"
    assert json.loads(other.provenance_path.read_text())["resolved"]["cor"] == 24.0
    assert json.loads(first.provenance_path.read_text())["resolved"]["cor"] == 23.6


def test_overwrite_replaces_the_whole_earlier_run(scan, tmp_path):
    out = tmp_path / "rec"
    first = recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, **KW)
    assert len(first.files) == 6
    second = recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, sinoused=(1, 3, 1), resume=False, **KW)
    tiffs = sorted(p.name for p in second.output_dir.glob("*.tiff"))
    assert tiffs == sorted(p.name for p in second.files) and len(tiffs) == 2
    record = json.loads((second.output_dir / "recon_parameters.json").read_text())
    assert record["status"] == "complete" and record["nfiles"] == 2


def test_resume_keeps_nothing_without_a_record(scan, tmp_path):
    out = tmp_path / "rec"
    first = recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, **KW)
    junk = np.full((48, 48), 7.0, np.float32)
    (first.output_dir / "recon_parameters.json").unlink()
    write_tiff(first.files[0], junk)
    # Slices without a record are not proved to be this run's: refused, not kept.
    with pytest.raises(OutputError, match="record"):
        recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, resume=True, **KW)
    # Overwriting recomputes every slice.
    again = recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, resume=False, **KW)
    assert again.skipped == 0
    from alsmicroct.io.tiff import read_tiff

    assert not np.array_equal(read_tiff(again.files[0]), junk)


def test_resume_keeps_only_slices_the_record_proves(scan, tmp_path):
    out = tmp_path / "rec"
    first = recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, **KW)
    again = recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, resume=True, **KW)
    assert again.skipped == 6 and _digest(first.output_dir) == _digest(again.output_dir) | {
        "recon_parameters.json": _digest(again.output_dir)["recon_parameters.json"]
    }


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", "a\\b", "", " "])
def test_output_filename_cannot_escape(scan, tmp_path, name):
    with pytest.raises(ParameterError, match="outputFilename"):
        recon(scan.name, inputPath=scan.parent, outputPath=tmp_path / "rec", cor=23.6, outputFilename=name, **KW)
    assert not any(p.suffix == ".tiff" for p in tmp_path.rglob("*"))


def test_batch_resume_after_the_readme_example_mixes_nothing(scan, tmp_path):
    """README flow: a default run, then a batch with other parameters and --resume into the same folder."""
    out = tmp_path / "rec"
    first = recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, **KW)
    before = _digest(first.output_dir)
    lst = tmp_path / "list.txt"
    lst.write_text(f"{scan}  cor=23.6 sinoused=(-1,4,1) ringLevel=3\n")
    res = _run_app("recon_batch", lst, "--resume", "--output-dir", out, "--no-progress", cwd=tmp_path)
    assert res.returncode != 0
    assert "overwrite" in (res.stdout + res.stderr)
    assert _digest(first.output_dir) == before


def test_crop_reads_one_runs_stack(scan, tmp_path):
    out = tmp_path / "rec"
    first = recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, **KW)
    write_tiff(first.output_dir / "stranger_00003.tiff", np.zeros((48, 48), np.float32))
    write_tiff(first.output_dir / "aaa.tiff", np.zeros((10, 10), np.float32))
    from alsmicroct.image_processing import load_TiffStack

    vol = load_TiffStack(first.output_dir)
    assert vol.shape == (6, 48, 48)
    res = _run_app("crop", first.output_dir, "--x", "0:10", "--y", "0:10", "--z", "0:6", cwd=tmp_path)
    assert res.returncode == 0, res.stderr


def test_stale_temporaries_are_cleaned(scan, tmp_path):
    out = tmp_path / "rec"
    first = recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, **KW)
    dead = 2**22 + 12345  # above pid_max on Linux defaults: no such process
    stale = [first.output_dir / f".s_00001.tiff.tmp-{dead}-1", first.output_dir / f".s.work-{dead}.h5"]
    for p in stale:
        p.write_bytes(b"x" * 100)
    live = first.output_dir / f".s_00002.tiff.tmp-{os.getpid()}-1"
    live.write_bytes(b"y")
    recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, resume=True, **KW)
    assert not any(p.exists() for p in stale)
    assert live.exists()  # its writer (this process) is alive
    live.unlink()
    for p in stale:
        p.write_bytes(b"x")
    from alsmicroct.image_processing import clean_output

    removed = clean_output(first.output_dir)
    assert sorted(removed) == sorted(stale) and not any(p.exists() for p in stale)


def test_filename_of_wrong_type_is_a_clear_error(tmp_path):
    for bad in (None, 5, 3.5):
        with pytest.raises(AlsMicroCTError):
            recon(bad, inputPath=tmp_path)


def test_clean_command(scan, tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    dead = 2**22 + 54321
    stale = folder / f".x.work-{dead}.h5"
    stale.write_bytes(b"z" * 10)
    keep = folder / "x_00001.tiff"
    keep.write_bytes(b"")
    dry = subprocess.run(
        [sys.executable, str(REPO / "applications" / "clean.py"), str(folder), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0 and "would remove 1" in dry.stdout and stale.exists()
    res = subprocess.run(
        [sys.executable, str(REPO / "applications" / "clean.py"), str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0 and "removed 1" in res.stdout and not stale.exists() and keep.exists()
    bad = subprocess.run(
        [sys.executable, str(REPO / "applications" / "clean.py"), str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "not a folder" in bad.stderr + bad.stdout


def test_crop_and_convert_choose_a_run(scan, tmp_path):
    out = tmp_path / "rec"
    recon(scan.name, inputPath=scan.parent, outputPath=out, cor=23.6, **KW)
    other = recon(
        scan.name, inputPath=scan.parent, outputPath=out, cor=24.0, outputFilename="c24", sinoused=(0, 2, 1), **KW
    )
    res = _run_app("crop", other.output_dir, "--x", "0:10", cwd=tmp_path)
    assert res.returncode != 0 and "--run" in res.stdout + res.stderr and "c24" in res.stdout + res.stderr
    res = _run_app(
        "crop", other.output_dir, "--x", "0:10", "--run", "c24", "--output-dir", tmp_path / "c", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "c").glob("*.tiff"))) == 2
    res = _run_app("convert_8bit", other.output_dir, "--run", "s", "--output-dir", tmp_path / "e", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "e").glob("*.tif*"))) == 6
