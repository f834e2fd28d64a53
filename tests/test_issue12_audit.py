"""Independent audit of issue 12 ("never wrong data, never lost data"): new variants of each
class of bad input, tried as a user would, that were accepted silently or gave a traceback.
Each must now give an AlsMicroCTError naming the file / key / value and what was expected,
before anything is written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from alsmicroct.errors import LayoutError, ParameterError
from alsmicroct.io import open_scan
from alsmicroct.params import ReconParams
from alsmicroct.reconstruction import recon
from alsmicroct.sim import simulate_scan

KW = dict(progress=False, autoTilt="off")


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("raw")
    return simulate_scan(folder / "s.h5", nangles=48, nslices=3, nrays=32, cor=15.5, seed=5, write_truth=False).path


def _no_outputs(root: Path) -> bool:
    return not any(p.suffix in (".tiff", ".json", ".h5", ".zarr") for p in Path(root).rglob("*") if p.is_file())


# ------------------------------------------------------------------ outputFilename: a plain name


@pytest.mark.parametrize("name", ["a\nb", "a\tb", "x\x1by", "x\x7fy", "x" * 230, "é" * 120])
def test_output_filename_control_characters_and_length_refused(scan, tmp_path, name):
    """Control characters and names longer than a file system takes (the longest output name
    adds 37 characters: ``recon_parameters_<prefix>.partKKKofNNN.json``) used to be accepted,
    the long one failing with a bare OSError after the output folder was made."""
    with pytest.raises(ParameterError, match="outputFilename"):
        recon(scan, outputPath=tmp_path / "rec", cor=15.5, outputFilename=name, **KW)
    assert _no_outputs(tmp_path)


def test_output_filename_of_200_bytes_accepted():
    assert ReconParams.from_mapping(outputFilename="x" * 200).outputFilename == "x" * 200


# ------------------------------------------------------------------ parameters that mislead


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        # 2-D had a limit (issue 12); 1-D took any window, a median over all angles
        ("outlier_size1D", 10**6, r"outlier_size1D=1000000: must be <= 255"),
        ("outlier_size1D", "1e9", r"outlier_size1D=1000000000: must be <= 255"),
        # a detector tilt of more than 45 degrees is a typo (radians? hundredths?), not a tilt
        ("correcttilt", 400, r"correcttilt=400.0: must be <= 45"),
        ("correcttilt", "-90", r"correcttilt=-90.0: must be >= -45"),
    ],
)
def test_more_bad_values_refused(key, value, message):
    with pytest.raises(ParameterError, match=message):
        ReconParams.from_mapping({key: value})


def test_projignorelist_of_every_projection_refused(scan, tmp_path):
    """Ignoring every projection used reconstructed all-zero slices with exit 0."""
    with pytest.raises(ParameterError, match=r"projIgnoreList.*all 48 projections"):
        recon(scan, outputPath=tmp_path / "rec", cor=15.5, projIgnoreList=list(range(48)), **KW)
    with pytest.raises(ParameterError, match=r"projIgnoreList.*all 24 projections"):
        recon(
            scan, outputPath=tmp_path / "rec", cor=15.5, projused=(0, 48, 2), projIgnoreList=list(range(0, 48, 2)), **KW
        )
    assert _no_outputs(tmp_path)


# ------------------------------------------------------------------ raw data that cannot be right

NANG, NSL, NRAY = 40, 3, 24


def _dx(path, *, dtype=np.float32, proj=None, white=None, dark=None, theta="default"):
    rng = np.random.default_rng(2)
    p = rng.uniform(2000, 3000, (NANG, NSL, NRAY)) if proj is None else proj
    w = rng.uniform(3500, 4000, (4, NSL, NRAY)) if white is None else white
    d = rng.uniform(90, 110, (2, NSL, NRAY)) if dark is None else dark
    with h5py.File(path, "w") as f:
        f["exchange/data"] = np.asarray(p).astype(dtype)
        f["exchange/data_white"] = np.asarray(w).astype(dtype)
        f["exchange/data_dark"] = np.asarray(d).astype(dtype)
        th = np.linspace(0, 180, NANG) if isinstance(theta, str) else theta
        f["exchange/theta"] = np.asarray(th, np.float32)
        f["measurement/instrument/detector/pixel_size"] = np.array([0.001])
    return path


def _good(shape, lo, hi):
    return np.random.default_rng(3).uniform(lo, hi, shape)


@pytest.mark.parametrize(
    ("what", "kwargs", "needle"),
    [
        ("negative projection", dict(proj=-_good((NANG, NSL, NRAY), 2000, 3000)), r"'/exchange/data\[0\]'"),
        ("negative flat", dict(white=-_good((4, NSL, NRAY), 3500, 4000)), r"'/exchange/data_white\[0\]'"),
        # one image of negative counts (a sign flip), the others good
        (
            "one negative projection",
            dict(proj=np.concatenate([-_good((1, NSL, NRAY), 2000, 3000), _good((NANG - 1, NSL, NRAY), 2000, 3000)])),
            r"1 projection image\(s\) '/exchange/data\[0\]'",
        ),
    ],
)
@pytest.mark.parametrize("cor", [None, 11.5])
def test_negative_counts_refused_naming_the_image(tmp_path, what, kwargs, needle, cor):
    """Raw counts are never negative; float32 files holding negative values (signed data,
    already-processed data) reconstructed to garbage with exit 0."""
    path = _dx(tmp_path / "neg.h5", **kwargs)
    with pytest.raises(LayoutError, match=needle) as info:
        recon(path, outputPath=tmp_path / "rec", cor=cor, **KW)
    assert "neg.h5" in str(info.value) and "raw counts are never negative" in str(info.value)
    assert not list((tmp_path / "rec").rglob("*.tiff"))


def test_rerun_after_a_refused_run_is_not_blocked_by_its_record(tmp_path):
    """A run refused on its raw data leaves a record (status "failed") and no slice; the
    rerun with the fix the message names (badData='repair') was refused as "another run"
    whose slices it would mix with, although there were none."""
    proj = _good((NANG, NSL, NRAY), 2000, 3000)
    proj[4] *= -1
    path = _dx(tmp_path / "fix.h5", proj=proj)
    with pytest.raises(LayoutError, match="badData='repair'"):
        recon(path, outputPath=tmp_path / "rec", cor=11.5, **KW)
    res = recon(path, outputPath=tmp_path / "rec", cor=11.5, badData="repair", **KW)
    assert len(res.files) == NSL
    record = json.loads((res.output_dir / "recon_parameters.json").read_text())
    assert record["status"] == "complete" and record["parameters"]["badData"] == "repair"


def test_isolated_negative_values_are_floored_not_refused(tmp_path):
    """A few negative pixels (noise of dark-subtracted data) do not make a row impossible."""
    proj = _good((NANG, NSL, NRAY), 2000, 3000)
    proj[3, 1, :5] = -4.0
    path = _dx(tmp_path / "few.h5", proj=proj)
    with open_scan(path) as s:
        assert s.read_projections().min() == -4.0


def test_negative_rows_repaired_on_request(tmp_path, caplog):
    proj = _good((NANG, NSL, NRAY), 2000, 3000)
    proj[5] *= -1
    path = _dx(tmp_path / "rep.h5", proj=proj)
    with open_scan(path, bad_data="repair") as s:
        out = s.read_projections()
        flats = s.read_flats().mean(axis=0)
    np.testing.assert_allclose(out[5], flats, rtol=1e-5)
    assert "/exchange/data[5]" in caplog.text and "repaired" in caplog.text


@pytest.mark.parametrize("value", [0.0, 37.0])
@pytest.mark.parametrize("cor", [None, 11.5])
def test_dx_theta_without_rotation_refused(tmp_path, value, cor):
    """All projections at one angle (a scan that never rotated, a theta of zeros) only warned
    "covers 0 deg" and reconstructed garbage with exit 0."""
    path = _dx(tmp_path / "th.h5", dtype=np.uint16, theta=np.full(NANG, value))
    with pytest.raises(LayoutError, match=r"th\.h5: every projection used is at the same angle.*/exchange/theta"):
        recon(path, outputPath=tmp_path / "rec", cor=cor, **KW)
    assert not (tmp_path / "rec").exists()


def test_old_layout_range_of_zero_refused(tmp_path):
    """The old layout's angles come from the ``arange`` attribute: 0 deg gives one angle."""
    path = simulate_scan(tmp_path / "ar.h5", nangles=24, nslices=2, nrays=24, seed=1, write_truth=False).path
    with h5py.File(path, "r+") as f:
        objs = [f]
        f.visit(lambda name: objs.append(f[name]))
        for obj in objs:
            if "arange" in obj.attrs:
                obj.attrs["arange"] = np.bytes_(b"0\r")
    with pytest.raises(LayoutError, match=r"ar\.h5.*arange"):
        recon(path, outputPath=tmp_path / "rec", cor=11.5, **KW)


def test_anglelist_without_rotation_refused(scan, tmp_path):
    with pytest.raises(ParameterError, match=r"every projection used is at the same angle.*anglelist"):
        recon(scan, outputPath=tmp_path / "rec", cor=15.5, anglelist=[0.5] * 48, **KW)


def test_dx_theta_in_radians_named_in_the_warning(tmp_path, caplog):
    """A theta written in radians (0..pi) is read as 0..3.1 deg: the warning says so."""
    path = _dx(tmp_path / "rad.h5", dtype=np.uint16, theta=np.linspace(0, np.pi, NANG, endpoint=False))
    with open_scan(path):
        pass
    assert "radians" in caplog.text and "anglelist" in caplog.text


# ------------------------------------------------------------------ one key, two values on one command line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cor", "15.5", "cor=16"], "cor given twice on the command line (--cor 15.5 and cor=16)"),
        (["--cor", "15", "--set", "cor=16"], "cor given twice on the command line (--set cor=16 and --cor 15)"),
        (["--slices", "2", "sinoused=0,2,1"], "sinoused given twice on the command line (--slices 2 and"),
        (["--output-dir", "o1", "outputPath=o2"], "outputPath given twice on the command line (--output-dir o1 and"),
        (["--set", "ringLevel=3", "ringLevel=4"], "ringLevel given twice on the command line (--set ringLevel=3 and"),
    ],
)
def test_one_key_twice_on_the_command_line_refused(scan, tmp_path, capsys, argv, message):
    """``alsmicroct-recon s.h5 --cor 15.5 cor=16`` used cor=16 silently, ``--cor 15 --set cor=16``
    used 15: the same key twice on one command line is the duplicated-key class of a list line."""
    from alsmicroct.cli import recon_one

    assert recon_one.main([str(scan), "--dry-run", *argv]) == 2
    assert message in capsys.readouterr().err


def test_batch_cli_cor_and_set_cor_refused(scan, tmp_path, capsys):
    from alsmicroct.cli import recon_batch

    lst = tmp_path / "l.txt"
    lst.write_text(f"{scan}\n")
    assert recon_batch.main([str(lst), "--dry-run", "--cor", "15", "--set", "cor=16"]) == 2
    assert "cor given twice on the command line" in capsys.readouterr().err


# ------------------------------------------------------------------ $VARS in every batch source


def test_environment_variables_in_spreadsheets_and_input832_expanded(scan, tmp_path, monkeypatch):
    """Path lists expand ``$VARS``; a spreadsheet (or an input832 file) used them literally
    (``$MYRAW/s.h5`` was looked for in a folder called ``$MYRAW``)."""
    from alsmicroct.jobs.input832 import read_parameter_file
    from alsmicroct.jobs.spreadsheet import read_spreadsheet

    monkeypatch.setenv("MYRAW", str(scan.parent))
    monkeypatch.setenv("MYOUT", str(tmp_path / "o"))
    sheet = tmp_path / "s.csv"
    sheet.write_text("filename,inputPath,outputPath,cor\n$MYRAW/s.h5,${MYRAW},$MYOUT,15.5\n")
    (entry,) = read_spreadsheet(sheet)
    assert entry.scan == f"{scan.parent}/s.h5"
    assert entry.overrides["inputPath"] == str(scan.parent) and entry.overrides["outputPath"] == str(tmp_path / "o")
    text = tmp_path / "input832.txt"
    text.write_text("$MYRAW/s.h5 cor 15.5 outputPath $MYOUT\n")
    (entry,) = read_parameter_file(text)
    assert entry.scan == f"{scan.parent}/s.h5" and entry.overrides["outputPath"] == str(tmp_path / "o")


def test_undefined_variable_in_a_spreadsheet_is_an_error(tmp_path, monkeypatch):
    from alsmicroct.jobs.spreadsheet import read_spreadsheet

    monkeypatch.delenv("NOPE_X", raising=False)
    sheet = tmp_path / "s.csv"
    sheet.write_text("filename,cor\n$NOPE_X/s.h5,15\n")
    with pytest.raises(ParameterError, match=r"\$NOPE_X.*is not set \(.*s\.csv line 2, column A\)"):
        read_spreadsheet(sheet)


def test_duplicated_name_in_an_input832_line_refused(tmp_path):
    """``cor 66 cor 70`` on an old-format line used 70 silently (the path-list rule is an error)."""
    from alsmicroct.jobs.input832 import read_parameter_file

    text = tmp_path / "input832.txt"
    text.write_text("s.h5 cor 66 ringLevel 3 cor 70\n")
    with pytest.raises(ParameterError, match=r"input832.txt line 1: cor given twice \(cor 66 and cor 70\)"):
        read_parameter_file(text)


def test_environment_variables_in_toml_configs_expanded(tmp_path, monkeypatch):
    """``outputPath = "$MYOUT"`` in a --config file wrote into a folder called ``$MYOUT``."""
    from alsmicroct.jobs.entries import load_config

    monkeypatch.setenv("MYOUT", str(tmp_path / "o"))
    monkeypatch.delenv("NOPE_X", raising=False)
    cfg = tmp_path / "c.toml"
    cfg.write_text('cor = 15.5\noutputPath = "$MYOUT/rec"\n')
    assert load_config(cfg)["outputPath"] == f"{tmp_path / 'o'}/rec"
    cfg.write_text('cor = 15.5\noutputPath = "${NOPE_X}/rec"\n')
    with pytest.raises(ParameterError, match=r"\$NOPE_X.*is not set \(.*c\.toml line 2\)"):
        load_config(cfg)


# ------------------------------------------------------------------ crop / convert_8bit outputs: never mixed


@pytest.fixture(scope="module")
def run_folder(scan, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    return recon(scan, outputPath=out, cor=15.5, **KW).output_dir


def test_second_crop_into_the_same_folder_refused_then_overwritten(run_folder, tmp_path, capsys):
    """A second crop with other ranges into ``<DIR>_crop`` rewrote some slices and kept the
    earlier crop's others: one folder with 8- and 18-column slices, no error."""
    import tifffile

    from alsmicroct.cli import crop

    out = tmp_path / "crop"
    assert crop.main([str(run_folder), "--x", "2:20", "--output-dir", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert crop.main([str(run_folder), "--x", "2:10", "--z", "0:2", "--output-dir", str(out)]) == 1
    err = capsys.readouterr()
    assert "--overwrite" in err.out + err.err and "mix" in err.out + err.err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched
    assert crop.main([str(run_folder), "--x", "2:10", "--z", "0:2", "--output-dir", str(out), "--overwrite"]) == 0
    shapes = {p.name: tifffile.imread(p).shape for p in out.glob("*.tiff")}
    assert len(shapes) == 2 and set(shapes.values()) == {(32, 8)}


def test_second_8bit_conversion_refused_and_volume_overwrite(run_folder, tmp_path):
    from alsmicroct.errors import OutputError
    from alsmicroct.image_processing import convert_DirectoryTo8Bit, crop_Directory

    out = tmp_path / "8bit"
    convert_DirectoryTo8Bit(run_folder, 0, 1, outputpath=out)
    with pytest.raises(OutputError, match=r"8bit.*overwrite=True"):
        convert_DirectoryTo8Bit(run_folder, 0, 2, outputpath=out)
    assert len(convert_DirectoryTo8Bit(run_folder, 0, 2, outputpath=out, overwrite=True)) == NSL
    # zarr / h5 outputs: refused already; overwrite=True now replaces them
    store = tmp_path / "c.h5"
    crop_Directory(run_folder, x=(2, 20), outputpath=store, output_format="h5")
    with pytest.raises(OutputError, match="exists already"):
        crop_Directory(run_folder, x=(2, 12), outputpath=store, output_format="h5")
    crop_Directory(run_folder, x=(2, 12), outputpath=store, output_format="h5", overwrite=True)
    with h5py.File(store) as f:
        assert f["exchange/data"].shape == (NSL, 32, 10)


# ------------------------------------------------------------------ watch rerun


@pytest.fixture
def watch_queue(scan, tmp_path) -> Path:
    from alsmicroct.jobs.watch.queue import Queue

    rec = tmp_path / "live"
    rec.mkdir()
    q = Queue(rec / ".alsmicroct-watch.sqlite")
    q.add("s.h5", scan, params={"cor": 15.5}, state="done")
    q.close()
    return rec


def test_watch_rerun_cor_twice_refused(watch_queue, capsys):
    """``rerun s.h5 --cor 15.5 cor=16`` queued cor=15.5 and dropped cor=16 silently."""
    from alsmicroct.cli import watch

    assert watch.main(["rerun", "s.h5", "--output", str(watch_queue), "--cor", "15.5", "cor=16"]) == 2
    assert "cor given twice on the command line (--cor 15.5 and cor=16)" in capsys.readouterr().err


def test_watch_rerun_output_filename_refused_not_dropped(watch_queue):
    """A rerun gets its own prefix (``<stem>_aN``): an outputFilename was dropped silently."""
    from alsmicroct.jobs.watch.service import rerun

    with pytest.raises(ParameterError, match=r"outputFilename='mine'.*own prefix"):
        rerun(watch_queue, "s.h5", {"outputFilename": "mine"})


def test_watch_rerun_into_a_folder_without_a_queue_creates_nothing(tmp_path):
    """A mistyped --output made the folder and an empty queue file there."""
    from alsmicroct.jobs.watch.service import rerun

    with pytest.raises(ParameterError, match=r"nolive.*no watch queue"):
        rerun(tmp_path / "nolive", "s.h5", {"cor": 15.5})
    assert not (tmp_path / "nolive").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ParameterError, match="no watch queue"):
        rerun(tmp_path / "empty", "s.h5", {"cor": 15.5})
    assert list((tmp_path / "empty").iterdir()) == []


# ------------------------------------------------------------------ errors name recon()'s keywords, not internal ones


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(corFunction="vo", voSMin=40, voSMax=-40), r"voSMin=40.0 must be <= voSMax=-40.0"),
        (dict(cor=15.5, doPolarRing=True, Rtmin=10, Rtmax=-10), r"Rtmin=10.0 must be smaller than Rtmax=-10.0"),
        (
            dict(corFunction="nm", nmInit=1000),
            r"s\.h5: nmInit=1000.0 lies outside the detector row \(expected 0 <= nmInit <= 31",
        ),
        (dict(cor=15.5, doTIringremoval=True, ringNBlock=1000), r"s\.h5: ringNBlock=1000 .* 48 projections"),
        (dict(cor=15.5, ringMethod="ti", ringNBlock=49), r"s\.h5: ringNBlock=49 .* 48 projections"),
    ],
)
def test_errors_name_the_recon_keyword(scan, tmp_path, kwargs, message):
    """These said ``smin=40.0, smax=-40.0``, ``remove_ring: need thresh_min < thresh_max``,
    ``init=1000.0`` and ``nblock must be ...``: the stage functions' names, not the keyword
    the user typed, and no file."""
    with pytest.raises(ParameterError, match=message):
        recon(scan, outputPath=tmp_path / "rec", **kwargs, **KW)
    assert not (tmp_path / "rec").exists() or _no_outputs(tmp_path / "rec")


@pytest.mark.parametrize(("vmin", "vmax"), [("nan", "2"), ("0", "inf"), ("-inf", "1")])
def test_convert_8bit_non_finite_range_named_as_such(run_folder, tmp_path, capsys, vmin, vmax):
    """``--min nan --max 2`` said "--min nan must be smaller than --max 2.0"."""
    from alsmicroct.cli import convert_8bit

    argv = [str(run_folder), f"--min={vmin}", f"--max={vmax}", "--output-dir", str(tmp_path / "o")]
    assert convert_8bit.main(argv) == 2
    assert "expected finite numbers" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_convert_8bit_python_range_names_its_keywords(run_folder, tmp_path):
    from alsmicroct.image_processing import convert_DirectoryTo8Bit

    with pytest.raises(ParameterError, match=r"data_min=nan; expected a finite number"):
        convert_DirectoryTo8Bit(run_folder, float("nan"), 1, outputpath=tmp_path / "o")
    with pytest.raises(ParameterError, match=r"data_min=3.0 must be smaller than data_max=1.0"):
        convert_DirectoryTo8Bit(run_folder, 3, 1, outputpath=tmp_path / "o")


# ------------------------------------------------------------------ SPOT dataset lists


def test_spot_list_not_utf8_is_a_clear_error(tmp_path):
    """A UTF-16 list (Windows Notepad) gave a UnicodeDecodeError traceback."""
    from alsmicroct.data_management.paths import read_path_list
    from alsmicroct.errors import InputFileError

    lst = tmp_path / "l.txt"
    lst.write_bytes("scan_a\n".encode("utf-16"))
    with pytest.raises(InputFileError, match=r"l\.txt.*not a UTF-8 text file"):
        read_path_list(lst)


def test_spot_list_with_a_bom_reads_the_first_name(tmp_path):
    """A UTF-8 BOM (Excel's "CSV UTF-8", Notepad) became part of the first name: a 404."""
    from alsmicroct.data_management.paths import read_path_list

    lst = tmp_path / "l.txt"
    lst.write_bytes(b"\xef\xbb\xbfscan_a\nscan_b\n")
    assert read_path_list(lst) == ["scan_a", "scan_b"]


# ------------------------------------------------------------------ SLURM row parts


def test_part_refused_with_advice_that_works(scan, tmp_path):
    """A row part refused because the folder holds another run said "use resume=False
    (--overwrite)", which a part never honours (it never removes other runs' files)."""
    from alsmicroct.errors import OutputError
    from alsmicroct.jobs.parts import recon_part

    out = tmp_path / "o"
    recon(scan, outputPath=out, cor=15.5, **KW)
    for resume in (None, False):
        with pytest.raises(OutputError) as info:
            recon_part(
                scan.name, 1, 2, scan.parent, outputPath=out, cor=15.5, ringLevel=3, resume=resume, autoTilt="off"
            )
        text = str(info.value)
        assert "--overwrite" not in text and "resume=False" not in text
        assert "part of a split run never removes" in text and "outputPath" in text


# ------------------------------------------------------------------ projections without beam (beam dump)


def _beam_off(path, images, layout="dxchange"):
    """Projections ``images`` read the dark level (dark current and noise, not zero)."""
    rng = np.random.default_rng(7)
    with h5py.File(path, "r+") as f:
        if layout == "dxchange":
            d = f["exchange/data"]
            for i in images:
                d[i] = rng.normal(100, 3, d.shape[1:]).clip(0).astype(d.dtype)
        else:
            g = next(v for v in f.values() if isinstance(v, h5py.Group))
            for i in images:
                name = next(n for n in g if n.endswith(f"_0000_{i:04d}.tif"))
                g[name][0] = rng.normal(100, 3, g[name].shape[1:]).clip(0).astype(g[name].dtype)


@pytest.mark.parametrize("layout", ["als", "dxchange"])
@pytest.mark.parametrize("cor", [None, 15.5])
def test_projections_at_the_dark_level_refused(tmp_path, layout, cor):
    """A beam dump mid-scan leaves frames at the dark level: not zero, so the all-zero check
    let them through and they reconstructed as streaks with exit 0."""
    path = simulate_scan(
        tmp_path / "b.h5", layout=layout, nangles=48, nslices=3, nrays=32, cor=15.5, seed=3, write_truth=False
    ).path
    _beam_off(path, [30, 31, 32], layout)
    with pytest.raises(
        LayoutError, match=r"b\.h5: 3 projection\(s\) 30, 31, 32 .*no beam.*projIgnoreList=\[30, 31, 32\]"
    ):
        recon(path, outputPath=tmp_path / "rec", cor=cor, corFunction="vo", **KW)
    assert not list((tmp_path / "rec").rglob("*.tiff"))
    ok = recon(path, outputPath=tmp_path / "rec2", cor=15.5, projIgnoreList=[30, 31, 32], **KW)
    assert len(ok.files) == 3


def test_projections_at_the_dark_level_repaired_on_request(tmp_path, caplog):
    path = simulate_scan(
        tmp_path / "r.h5", layout="dxchange", nangles=48, nslices=3, nrays=32, cor=15.5, seed=3, write_truth=False
    ).path
    _beam_off(path, [5], "dxchange")
    res = recon(path, outputPath=tmp_path / "rec", cor=15.5, badData="repair", **KW)
    assert len(res.files) == 3 and "projection(s) 5" in caplog.text and "repaired" in caplog.text


def test_an_opaque_sample_region_is_not_a_beam_off_frame(tmp_path):
    """Transmission near 0 over part of a row (a dense inclusion) is data, not a dropped frame."""
    path = simulate_scan(
        tmp_path / "o.h5", layout="dxchange", nangles=48, nslices=3, nrays=32, cor=15.5, seed=3, write_truth=False
    ).path
    rng = np.random.default_rng(1)
    with h5py.File(path, "r+") as f:
        d = f["exchange/data"]
        block = d[:, :, 8:24]  # half of every row at the dark level in every projection
        d[:, :, 8:24] = rng.normal(100, 3, block.shape).clip(0).astype(d.dtype)
    assert len(recon(path, outputPath=tmp_path / "rec", cor=15.5, **KW).files) == 3


@pytest.mark.parametrize("key", ["outputPath", "inputPath"])
@pytest.mark.parametrize("value", ["", "  "])
def test_blank_folder_refused(key, value):
    """``outputPath=$EMPTY`` (a variable set but empty) wrote into the current folder."""
    with pytest.raises(ParameterError, match=rf"{key}='{value}': expected a folder"):
        ReconParams.from_mapping({key: value})


def test_blank_output_path_from_an_empty_variable_in_a_list(scan, tmp_path, monkeypatch):
    from alsmicroct.jobs.lists import read_scan_list

    monkeypatch.setenv("EMPTY_OUT", "")
    lst = tmp_path / "l.txt"
    lst.write_text(f"{scan} cor=15.5 outputPath=$EMPTY_OUT\n")
    with pytest.raises(ParameterError, match=r"outputPath='': expected a folder"):
        (entry,) = read_scan_list(lst)
        ReconParams.from_mapping(entry.overrides)


# ------------------------------------------------------------------ temporaries on a shared file system


def test_temporaries_name_their_host_and_other_hosts_are_left_alone(tmp_path):
    """Row parts on several nodes write into one folder; a temporary named only by its pid
    was removed by a part starting on another node (the pid is not alive *there*), which
    broke the live writer's rename. Temporaries now carry the host; another host's are left
    alone unless asked (``all_hosts=True``, ``alsmicroct-clean --all-hosts``)."""
    import platform

    from alsmicroct.io.atomic import temporary_path
    from alsmicroct.io.outputs import clean_output, work_store_path

    host = re.sub(r"\W", "_", platform.node())
    assert f"@{host}-" in temporary_path(tmp_path / "s_00001.tiff").name
    assert work_store_path(tmp_path, "s").name.endswith(f"@{host}.h5")
    other = tmp_path / ".s_00001.tiff.tmp-999999@othernode-140"
    other_work = tmp_path / ".s.work-999999@othernode.h5"
    legacy = tmp_path / ".s_00002.tiff.tmp-999999-140"
    for p in (other, other_work, legacy):
        p.write_bytes(b"x")
    assert clean_output(tmp_path) == [legacy]
    assert other.exists() and other_work.exists()
    assert sorted(clean_output(tmp_path, all_hosts=True)) == sorted([other, other_work])


def test_clean_command_recursive_and_all_hosts(tmp_path, capsys):
    """``alsmicroct-clean /data/rec`` (the output root) found nothing in its rec* folders."""
    from alsmicroct.cli import clean

    sub = tmp_path / "rec" / "recs"
    sub.mkdir(parents=True)
    debris = sub / ".s_00001.tiff.tmp-999999-1"
    debris.write_bytes(b"x")
    far = sub / ".s_00002.tiff.tmp-999999@othernode-1"
    far.write_bytes(b"x")
    assert clean.main([str(tmp_path / "rec")]) == 0
    assert debris.exists() and "below it" in capsys.readouterr().out  # says where to look
    assert clean.main([str(tmp_path / "rec"), "--recursive"]) == 0
    assert not debris.exists() and far.exists()
    assert clean.main([str(tmp_path / "rec"), "--recursive", "--all-hosts"]) == 0
    assert not far.exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["download", "l.txt", "--allow-redirect", "https://dtn.example"], ["https://dtn.example"]),
        (["--allow-redirect", "https://a.example", "download", "l.txt"], ["https://a.example"]),
        (["download", "l.txt"], []),
    ],
)
def test_spot_allow_redirect_after_the_command(argv, expected):
    """The README's ``--allow-redirect https://host`` was refused ("unrecognized arguments")
    where a user writes it, after ``download``."""
    from alsmicroct.cli.spot import build_parser

    assert build_parser().parse_args(argv).allow_redirect == expected


@pytest.mark.parametrize("cor", [None, 15.5])
def test_projections_brighter_than_the_flats_refused(tmp_path, cor):
    """Flats taken at a shorter exposure (or swapped with projections): a transmission of 2-3
    over whole rows only warned "blank sample" and reconstructed negative attenuation."""
    path = simulate_scan(
        tmp_path / "x.h5", layout="dxchange", nangles=48, nslices=3, nrays=32, cor=15.5, seed=3, write_truth=False
    ).path
    with h5py.File(path, "r+") as f:
        w = f["exchange/data_white"]
        w[...] = (w[()] // 3).astype(w.dtype)  # a third of the exposure
    with pytest.raises(LayoutError, match=r"x\.h5: 48 projection\(s\) .*brighter than the flats.*cannot be repaired"):
        recon(path, outputPath=tmp_path / "rec", cor=cor, corFunction="vo", badData="repair", **KW)
    assert not list((tmp_path / "rec").rglob("*.tiff"))


def test_bright_edges_are_not_refused(tmp_path):
    """Phase-contrast fringes and noise exceed a transmission of 1 on a few pixels: data."""
    path = simulate_scan(
        tmp_path / "e.h5", layout="dxchange", nangles=48, nslices=3, nrays=32, cor=15.5, seed=3, write_truth=False
    ).path
    with h5py.File(path, "r+") as f:
        d = f["exchange/data"]
        w = f["exchange/data_white"][()].mean(axis=0)
        d[:, :, 4:6] = np.minimum(2.5 * w[None, :, 4:6], 65535).astype(d.dtype)  # 2 of 32 columns
    assert len(recon(path, outputPath=tmp_path / "rec", cor=15.5, **KW).files) == 3


def test_a_saturated_frame_refused_or_repaired(tmp_path, caplog):
    """One frame at 65535 everywhere (a flash, a readout fault) reconstructed as streaks."""
    path = simulate_scan(
        tmp_path / "f.h5", layout="dxchange", nangles=48, nslices=3, nrays=32, cor=15.5, seed=3, write_truth=False
    ).path
    with h5py.File(path, "r+") as f:
        f["exchange/data"][20] = 65535
    with pytest.raises(
        LayoutError, match=r"f\.h5: 1 projection\(s\) 20 brighter than the flats.*projIgnoreList=\[20\]"
    ):
        recon(path, outputPath=tmp_path / "rec", cor=15.5, **KW)
    assert len(recon(path, outputPath=tmp_path / "rec", cor=15.5, badData="repair", **KW).files) == 3
    assert "repaired" in caplog.text


def test_watch_rerun_folders_refused_not_used(watch_queue):
    """A rerun's attempts go under the watcher's REC_DIR: outputPath=/elsewhere was accepted."""
    from alsmicroct.jobs.watch.service import rerun

    for key in ("outputPath", "inputPath"):
        with pytest.raises(ParameterError, match=rf"{key}='/elsewhere' cannot be given to a rerun.*REC_DIR"):
            rerun(watch_queue, "s.h5", {key: "/elsewhere"})


@pytest.mark.parametrize(
    ("key", "value"),
    [("ringSize", 100000), ("voStep", 1e6), ("voDrop", 10**6), ("num_threads", 10**6), ("pixel_size", 1e9)],
)
def test_absurd_upper_values_refused_before_any_work(key, value):
    with pytest.raises(ParameterError, match=rf"{key}"):
        ReconParams.from_mapping({key: value})


def test_absurd_pixel_size_keyword_refused_by_the_reader(tmp_path):
    from alsmicroct.errors import AlsMicroCTError
    from alsmicroct.io import open_scan
    from alsmicroct.sim import simulate_scan

    raw = simulate_scan(tmp_path / "px.h5", nangles=31, nslices=2, nrays=32, write_truth=False)
    with pytest.raises(AlsMicroCTError, match=r"px\.h5: pixel_size=1000000000.0; expected a detector pixel size"):
        open_scan(raw.path, pixel_size=1e9)
