"""End to end: the application scripts run as subprocesses on simulated scans (both layouts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alsmicroct.cli import convert_8bit, recon_one
from alsmicroct.sim import simulate_scan

REPO = Path(__file__).resolve().parents[1]
SIZE = dict(nangles=60, nslices=4, nrays=48)
COR = {"als": 24.3, "dxchange": 22.8}


def run_app(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run applications/<script>.py like a user does; output captured as text."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, str(REPO / "applications" / f"{script}.py"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def tiffs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.tiff"))


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """raw/als_scan.h5, raw/dx_scan.h5, raw/corrupt.h5 (text) and 'raw/dir (x)/scan(1).h5'."""
    root = tmp_path_factory.mktemp("apps")
    folder = root / "raw"
    (folder / "dir (x)").mkdir(parents=True)
    simulate_scan(folder / "als_scan.h5", layout="als", cor=COR["als"], write_truth=False, **SIZE)
    simulate_scan(folder / "dx_scan.h5", layout="dxchange", cor=COR["dxchange"], write_truth=False, **SIZE)
    simulate_scan(folder / "dir (x)" / "scan(1).h5", layout="als", cor=COR["als"], write_truth=False, **SIZE)
    (folder / "corrupt.h5").write_text("this is not an HDF5 file\n")
    return folder


def _write_list(path: Path) -> Path:
    path.write_text(
        "# two good scans (both layouts) and a corrupt one\n"
        "als_scan.h5   cor=24.3\n"
        "\n"
        "dx_scan       cor=22.8 chunk_sino=1   # '.h5' left out\n"
        "corrupt.h5\n"
    )
    return path


def test_batch_isolates_a_corrupt_scan_then_resumes(raw, tmp_path):
    lst = _write_list(tmp_path / "list.txt")
    common = ["--input-dir", raw, "--output-dir", tmp_path / "out", "--slices", "2", "--no-progress"]
    res = run_app("recon_batch", lst, *common, "--summary-json", tmp_path / "s1.json", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    summary = json.loads((tmp_path / "s1.json").read_text())
    assert [s["status"] for s in summary["scans"]] == ["done", "done", "failed"]
    assert "corrupt.h5" in summary["scans"][2]["error"] and summary["scans"][2]["source"].endswith("list.txt line 5")
    assert summary["scans"][0]["cor"] == pytest.approx(24.3) and summary["scans"][1]["slices"] == 2
    assert summary["scans"][0]["ring_index"] is not None and "quality_warnings" in summary["scans"][0]
    assert "quality" in res.stdout and "rings " in res.stdout
    assert "FAILED" in res.stdout and str(tmp_path / "out" / "recals_scan") in res.stdout
    als_dir, dx_dir = tmp_path / "out" / "recals_scan", tmp_path / "out" / "recdx_scan"
    assert len(tiffs(als_dir)) == 2 and len(tiffs(dx_dir)) == 2
    (log,) = (tmp_path / "out").glob("list_batch_*.log")
    assert "corrupt.h5" in log.read_text()

    # Make the dxchange scan look interrupted: one slice gone, provenance "running".
    stamp = tiffs(als_dir)[0].stat().st_mtime_ns
    tiffs(dx_dir)[0].unlink()
    prov = dx_dir / "recon_parameters.json"
    record = json.loads(prov.read_text())
    record["status"] = "running"
    prov.write_text(json.dumps(record))
    res = run_app("recon_batch", lst, *common, "--resume", "--summary-json", tmp_path / "s2.json", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    scans = json.loads((tmp_path / "s2.json").read_text())["scans"]
    assert [s["status"] for s in scans] == ["skipped", "done", "failed"]
    assert scans[1]["kept_slices"] == 1 and len(tiffs(dx_dir)) == 2
    assert tiffs(als_dir)[0].stat().st_mtime_ns == stamp


def test_dry_run_validates_and_writes_nothing(raw, tmp_path):
    lst = _write_list(tmp_path / "list.txt")
    res = run_app(
        "recon_batch",
        lst,
        "--input-dir",
        raw,
        "--output-dir",
        tmp_path / "out",
        "--dry-run",
        "--set",
        "doPhaseRetrieval=true",
        "--summary-json",
        tmp_path / "plan.json",
        cwd=tmp_path,
    )
    assert res.returncode == 1, res.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["dry_run"] is True
    assert [s["status"] for s in plan["scans"]] == ["planned", "planned", "invalid"]
    assert plan["scans"][1]["layout"] == "dxchange" and plan["scans"][1]["parameters"]["chunk_sino"] == 1
    assert plan["scans"][0]["overrides"] == {"doPhaseRetrieval": True, "outputPath": str(tmp_path / "out"), "cor": 24.3}
    assert "INVALID" in res.stdout and "recdx_scan" in res.stdout
    # --line K (SLURM_ARRAY_TASK_ID) picks the K-th scan, counting scan lines only.
    res = run_app(
        "recon_batch",
        lst,
        "--input-dir",
        raw,
        "--output-dir",
        tmp_path / "out",
        "--dry-run",
        "--line",
        "2",
        "--summary-json",
        tmp_path / "line.json",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    (only,) = json.loads((tmp_path / "line.json").read_text())["scans"]
    assert only["number"] == 2 and only["source"].endswith("list.txt line 4")
    assert not (tmp_path / "out").exists()


def test_dry_run_flags_truncated_file_and_bad_centre(raw, tmp_path):
    data = (raw / "als_scan.h5").read_bytes()
    (tmp_path / "truncated.h5").write_bytes(data[: len(data) // 2])
    lst = tmp_path / "l.txt"
    lst.write_text(f"{tmp_path / 'truncated.h5'}\n{raw / 'als_scan.h5'} cor=400\n{raw / 'dx_scan.h5'}\n")
    res = run_app("recon_batch", lst, "--dry-run", "--summary-json", tmp_path / "p.json", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    scans = json.loads((tmp_path / "p.json").read_text())["scans"]
    assert [s["status"] for s in scans] == ["invalid", "invalid", "planned"]
    assert "truncated.h5" in scans[0]["error"] and "cor=400.0 lies outside" in scans[1]["error"]
    assert not (raw / "recdx_scan").exists() and not (tmp_path / "rectruncated").exists()


def _check_typed(folder: Path, prov_name: str = "recon_parameters.json") -> dict:
    params = json.loads((folder / prov_name).read_text())["parameters"]
    assert params["chunk_sino"] == 1 and params["doFWringremoval"] is False
    assert len(tiffs(folder)) == 2
    return params


def test_spreadsheets_csv_and_xlsx(raw, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "# header row: recon() keywords\n"
        "filename,inputPath,cor,sinoused,doFWringremoval,chunk_sino,outputPath\n"
        f'dir (x)/scan(1).h5,{raw},24.3,"(-1,2,1)",false,1.0,{tmp_path / "csv"}\n'
    )
    res = run_app("recon_spreadsheet", sheet, "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    params = _check_typed(tmp_path / "csv" / "recscan(1)")
    assert params["sinoused"] == [-1, 2, 1] and params["cor"] == 24.3

    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["filename", "inputPath", "cor", "sinoused", "doFWringremoval", "chunk_sino"])
    ws.append(["# comment row", None, None, None, None, None])
    ws.append(["dir (x)/scan(1)", str(raw), 24.3, "(1,3,1)", False, 1])
    ws.append(["dx_scan.h5", str(raw), 22.8, "(0,2)", "FALSE", 1.0])
    book.save(tmp_path / "sheet.xlsx")
    res = run_app(
        "recon_spreadsheet",
        tmp_path / "sheet.xlsx",
        "--output-dir",
        tmp_path / "xlsx",
        "--dry-run",
        "--summary-json",
        tmp_path / "xlsx.json",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    scans = json.loads((tmp_path / "xlsx.json").read_text())["scans"]
    assert [s["status"] for s in scans] == ["planned", "planned"]
    assert [s["slices"] for s in scans] == [2, 2] and scans[1]["layout"] == "dxchange"
    for s in scans:
        p = s["parameters"]
        assert p["chunk_sino"] == 1 and p["doFWringremoval"] is False and p["outputPath"] == str(tmp_path / "xlsx")
    assert scans[0]["path"] == str(raw / "dir (x)" / "scan(1).h5") and scans[0]["parameters"]["sinoused"] == [1, 3, 1]
    assert scans[1]["parameters"]["sinoused"] == [0, 2, 1] and scans[1]["cor"] == 22.8
    assert not (tmp_path / "xlsx").exists()


def test_old_parameter_format_centre_pair(raw, tmp_path):
    params = tmp_path / "input832.txt"
    params.write_text(
        f'als_scan.h5\tinputPath\t{raw}\tcor\t24.3\tsinoused\t"-1,1,1"\tdoFWringremoval\t0\t'
        f"outputPath\t{tmp_path}\toutputFilename\tc24.3\n"
        f'als_scan.h5  inputPath {raw}  cor 24.8  sinoused "-1,1,1"  outputPath {tmp_path}  '
        "outputFilename c24.8  chunk_sino 1\n"
    )
    res = run_app("recon_parameters", params, "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    folder = tmp_path / "recals_scan"
    assert [p.name for p in tiffs(folder)] == ["c24.3_00002.tiff", "c24.8_00002.tiff"]
    first = json.loads((folder / "recon_parameters_c24.3.json").read_text())
    assert first["parameters"]["doFWringremoval"] is False and first["resolved"]["cor"] == 24.3
    assert json.loads((folder / "recon_parameters_c24.8.json").read_text())["resolved"]["cor"] == 24.8


def test_convert_8bit_and_crop_on_recon_output(raw, tmp_path, capsys):
    out = tmp_path / "rec"
    assert (
        recon_one.main(
            [
                str(raw / "als_scan.h5"),
                "--cor",
                "24.3",
                "--slices",
                "3",
                "--output-dir",
                str(out),
                "--no-progress",
                "chunk_sino=2",
            ]
        )
        == 0
    )
    folder = out / "recals_scan"
    assert "Summary" in capsys.readouterr().out and len(tiffs(folder)) == 3

    res = run_app("convert_8bit", folder, "--min", "-1", "--max", "3", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    converted = tiffs(out / "recals_scan_8bit")
    assert len(converted) == 3 and str(out / "recals_scan_8bit") in res.stdout
    import tifffile

    assert tifffile.imread(converted[0]).dtype == np.uint8

    # Several folders in isolation: each goes to OUT/<folder name>; a missing one fails alone.
    twin = tmp_path / "twin"
    shutil.copytree(folder, twin)
    assert (
        convert_8bit.main(
            [
                str(folder),
                str(tmp_path / "nope"),
                str(twin),
                "--min",
                "0",
                "--max",
                "1",
                "--output-dir",
                str(tmp_path / "8bit"),
                "--prefix",
                "s",
            ]
        )
        == 1
    )
    table = capsys.readouterr().out
    assert "FAILED" in table and str(tmp_path / "nope") in table
    assert [p.name for p in tiffs(tmp_path / "8bit" / "twin")] == ["s_00001.tiff", "s_00002.tiff", "s_00003.tiff"]
    assert len(tiffs(tmp_path / "8bit" / "recals_scan")) == 3 and not (tmp_path / "8bit" / "nope").exists()

    res = run_app("crop", folder, "--x", "2:40", "--y", ":30", "--z", "1:", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    cropped = tiffs(out / "recals_scan_crop")
    assert len(cropped) == 2 and tifffile.imread(cropped[0]).shape == (30, 38)

    res = run_app("crop", folder, "--x", "2:400", "--output-dir", tmp_path / "bad_crop", cwd=tmp_path)
    assert res.returncode == 1 and "FAILED" in res.stdout and "x range" in res.stdout
    assert not (tmp_path / "bad_crop").exists()


def test_find_center_on_known_centre(tmp_path):
    truth = 33.4
    scan = simulate_scan(
        tmp_path / "centre.h5", layout="dxchange", nangles=90, nslices=4, nrays=64, cor=truth, write_truth=False
    )
    res = run_app("find_center", scan.path, "--range", "1", "--step", "1", "--json", tmp_path / "c.json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    found = json.loads((tmp_path / "c.json").read_text())
    assert abs(found["median"] - truth) <= 1.0, found["estimates"]
    assert len(found["sweep"]["files"]) == 3 and Path(found["sweep"]["montage"]).is_file()
    assert "Montage:" in res.stdout
