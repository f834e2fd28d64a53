"""Parsing and planning of the console programs (no reconstruction runs here)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from alsmicroct.cli import convert_8bit, crop, recon_batch, recon_parameters, recon_spreadsheet
from alsmicroct.cli._common import cli_layer, format_table, parse_span
from alsmicroct.cli.find_center import sweep_centres
from alsmicroct.cli.recon_batch import read_path_list, split_list_line
from alsmicroct.cli.recon_parameters import parse_parameter_line, read_parameter_file
from alsmicroct.cli.recon_spreadsheet import read_spreadsheet, rows_to_entries
from alsmicroct.errors import InputFileError, ParameterError
from alsmicroct.jobs.batch import plan_jobs
from alsmicroct.jobs.entries import ScanEntry, load_config, select_line

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------- path lists
def test_list_line_paths_overrides_and_comments():
    e = split_list_line(
        '"/data/my scan (2).h5"  cor=1023.5 sinoused=(-1,20,1) doPhaseRetrieval=true  # note', "l.txt line 3"
    )
    assert e.scan == "/data/my scan (2).h5"
    assert e.overrides == {"cor": 1023.5, "sinoused": (-1, 20, 1), "doPhaseRetrieval": True}
    assert e.source == "l.txt line 3"
    assert split_list_line("   # only a comment", "x") is None
    assert split_list_line("", "x") is None
    assert split_list_line("scan#7.h5 chunk_sino=4", "x").scan == "scan#7.h5"  # '#' inside a word is kept
    e = split_list_line("scan 'BeamHardeningCoefficients=0, 1, 0, 0, 0, 0.1'", "x")
    assert e.overrides["BeamHardeningCoefficients"] == (0, 1, 0, 0, 0, 0.1)


@pytest.mark.parametrize(
    "line, needle",
    [
        ("scan.h5 cor", "expected key=value after the raw file, got 'cor'"),
        ('"scan.h5 cor=3', "check the quotes"),
        ("cor=3 scan.h5", "must start with the raw file"),
        ("scan.h5 corr=3", "did you mean 'cor'"),
        ("scan.h5 sinoused=(5,2)", "sinoused"),
        ("scan.h5 doPhaseRetrieval=maybe", "boolean"),
    ],
)
def test_list_line_errors_name_the_line(line, needle):
    with pytest.raises(ParameterError) as info:
        split_list_line(line, "list.txt line 7")
    assert "list.txt line 7" in str(info.value)
    assert needle in str(info.value)


def test_read_path_list_counts_file_lines(tmp_path):
    p = tmp_path / "list.txt"
    p.write_text("# header\n\na.h5\n  b cor=3\n\nc.h5 chunk_sino=x\n")
    with pytest.raises(ParameterError, match=r"list.txt line 6"):
        read_path_list(p)
    p.write_text("# header\n\na.h5\n  b cor=3\n")
    entries = read_path_list(p)
    assert [e.scan for e in entries] == ["a.h5", "b"]
    assert entries[1].source.endswith("list.txt line 4")
    with pytest.raises(InputFileError, match="cannot read"):
        read_path_list(tmp_path / "nope.txt")


def test_example_files_parse():
    assert [e.scan for e in read_path_list(REPO / "filepath/example_list.txt")] == ["example/example_scan.h5"]
    over = read_path_list(REPO / "filepath/example_overrides.txt")
    assert len(over) == 4 and over[3].overrides["castTo8bit"] is True
    sheet = read_spreadsheet(REPO / "filepath/example_spreadsheet.csv")
    assert len(sheet) == 3 and sheet[0].overrides["inputPath"] == "example"
    old = read_parameter_file(REPO / "filepath/example_input832.txt")
    assert [e.overrides.get("outputFilename") for e in old] == ["c132.5", "c133.0", None]
    spot = read_path_list(REPO / "filepath/example_spot_list.txt")
    assert [e.scan for e in spot] == ["20231005_120000_sample", "20231005_123000_sample_x00y01"]
    config = load_config(REPO / "filepath/example_config.toml")
    assert config["sinoused"] == (-1, 8, 1) and config["chunk_sino"] == 8


# ------------------------------------------------------------------ spreadsheets
def test_spreadsheet_rows_typed_values_and_parenthesis():
    rows = [
        (1, ["# comment", None, None]),
        (2, ["filename", "chunk_sino", "sinoused", "doFWringremoval", "outputFilename"]),
        (3, ["dir (x)/scan(1).h5", 4.0, "(-1,2,1)", False, 1196.5]),
        (4, [None, None, None, None, None]),
        (5, [12345.0, None, "", "TRUE", None]),
    ]
    entries = rows_to_entries(rows, path="s.xlsx", unit="row")
    assert [e.scan for e in entries] == ["dir (x)/scan(1).h5", "12345"]
    assert entries[0].overrides == {
        "chunk_sino": 4.0,
        "sinoused": "(-1,2,1)",
        "doFWringremoval": False,
        "outputFilename": "1196.5",
    }
    assert entries[1].overrides == {"doFWringremoval": "TRUE"} and entries[1].source == "s.xlsx row 5"
    jobs = plan_jobs(entries, config={}, cli={})
    assert jobs[0].params.chunk_sino == 4 and isinstance(jobs[0].params.chunk_sino, int)
    assert jobs[0].params.sinoused == (-1, 2, 1) and jobs[1].params.doFWringremoval is True


@pytest.mark.parametrize(
    "rows, needle",
    [
        ([(1, ["filename", "corr"])], "s.csv line 1, column B: unknown column 'corr'; expected"),
        ([(1, ["filename", "cor", "cor"])], "column C: column 'cor' appears twice"),
        ([(1, ["cor"])], "no 'filename' column"),
        ([(1, ["filename", None]), (2, ["a.h5", "3"])], "s.csv line 2, column B: value '3' under an empty header"),
        ([(1, ["filename", "cor"]), (2, [None, "3"])], "s.csv line 2: no filename"),
    ],
)
def test_spreadsheet_errors(rows, needle):
    with pytest.raises(ParameterError) as info:
        rows_to_entries(rows, path="s.csv", unit="line")
    assert needle in str(info.value)


def test_csv_and_xlsx_files(tmp_path):
    csv_path = tmp_path / "s.csv"
    csv_path.write_text('# "odd, quote\nfilename;cor;sinoused\n"a (1).h5";31.5;(-1,2,1)\n', encoding="utf-8")
    (entry,) = read_spreadsheet(csv_path)
    assert entry.scan == "a (1).h5" and entry.overrides == {"cor": "31.5", "sinoused": "(-1,2,1)"}
    assert entry.source.endswith("s.csv line 3")
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["filename", "nmMask", "voDrop"])
    ws.append(["b.h5", True, 3])
    book.save(tmp_path / "s.xlsx")
    (entry,) = read_spreadsheet(tmp_path / "s.xlsx")
    assert entry.overrides == {"nmMask": True, "voDrop": 3}
    with pytest.raises(ParameterError, match="no sheet named 'x'"):
        read_spreadsheet(tmp_path / "s.xlsx", sheet="x")
    (tmp_path / "bad.xlsx").write_text("not a zip")
    with pytest.raises(InputFileError, match=r"bad\.xlsx"):
        read_spreadsheet(tmp_path / "bad.xlsx")
    with pytest.raises(InputFileError, match="unsupported spreadsheet type '.xls'"):
        (tmp_path / "old.xls").write_text("x")
        read_spreadsheet(tmp_path / "old.xls")
    (tmp_path / "empty.csv").write_text("# nothing\n\n")
    with pytest.raises(InputFileError, match="empty sheet"):
        read_spreadsheet(tmp_path / "empty.csv")


# --------------------------------------------------------------- old input832.txt
def test_old_parameter_line():
    e = parse_parameter_line(
        'f.h5\tcor\t1196.5\tsinoused\t"-1,10,1"\tdoPhaseRetrieval\t0\toutputFilename\tc1196.5', "in.txt line 1"
    )
    assert e.scan == "f.h5"
    assert e.overrides == {"cor": "1196.5", "sinoused": "-1,10,1", "doPhaseRetrieval": "0", "outputFilename": "c1196.5"}
    (job,) = plan_jobs([e], config={}, cli={})
    assert job.params.sinoused == (-1, 10, 1) and job.params.doPhaseRetrieval is False
    assert job.params.outputFilename == "c1196.5"
    with pytest.raises(ParameterError, match=r"in.txt line 2: parameter 'sinoused' has no value"):
        parse_parameter_line("f.h5 cor 3 sinoused", "in.txt line 2")
    with pytest.raises(ParameterError, match=r"in.txt line 3: unknown parameter 'xshift'"):
        parse_parameter_line("f.h5 xshift 3", "in.txt line 3")
    assert parse_parameter_line("  # comment", "x") is None


# --------------------------------------------------------- config, CLI, precedence
def _args(**kw):
    base = dict(set_tokens=[], cor=None, input_dir=None, output_dir=None, slices=None)
    base.update(kw)
    return argparse.Namespace(**base)


def test_precedence_line_over_cli_over_config(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("# config\ncor = 10.0\nchunk_sino = 7\nringLevel = 4\nsinoused = [0, 4, 1]\n")
    config = load_config(cfg)
    cli = cli_layer(
        _args(set_tokens=["chunk_sino=5", "ringLevel=5"], cor="20", slices=3, output_dir=str(tmp_path / "out"))
    )
    entries = [ScanEntry("a.h5", {"ringLevel": 6}, "l line 1"), ScanEntry("b.h5", {}, "l line 2")]
    a, b = plan_jobs(entries, config=config, cli=cli)
    assert (a.params.cor, a.params.chunk_sino, a.params.ringLevel, a.params.sinoused) == (20, 5, 6, (-1, 3, 1))
    assert b.params.ringLevel == 5
    assert a.output_dir == (tmp_path / "out" / "reca").absolute()
    assert a.missing and "raw file not found" in a.missing
    assert "inputPath" not in a.keywords and a.keywords["ringLevel"] == 6
    (only,) = plan_jobs(entries, config=config, cli=cli, selected=[2])
    assert only.number == 2 and only.entry.scan == "b.h5"


@pytest.mark.parametrize(
    "text, needle",
    [
        ("cor = 3\ncorFuncton = 'vo'\n", "c.toml line 2: unknown parameter 'corFuncton'; did you mean 'corFunction'"),
        ("chunk_sino = 'many'\n", "c.toml line 1: chunk_sino='many'"),
        ("[recon]\ncor = 3\n", "[recon] tables are not used"),
        ("cor = \n", "not a valid TOML file"),
        ("cast8bit_min = 5\ncast8bit_max = 1\n", "cast8bit_min=5.0 must be smaller"),
    ],
)
def test_config_errors(tmp_path, text, needle):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ParameterError) as info:
        load_config(cfg)
    assert needle in str(info.value)


def test_plan_collects_every_bad_entry_and_line_selection():
    entries = [
        ScanEntry("a", {"chunk_sino": "0"}, "l line 1"),
        ScanEntry("b", {}, "l line 2"),
        ScanEntry("c", {"npad": "-3"}, "l line 5"),
    ]
    with pytest.raises(ParameterError) as info:
        plan_jobs(entries, config={}, cli={})
    assert "l line 1" in str(info.value) and "l line 5" in str(info.value)
    assert [n for n, _ in select_line(entries, 3, "l")] == [3]
    with pytest.raises(ParameterError, match=r"lists 3 scan\(s\); --line 4 is out of range"):
        select_line(entries, 4, "l")
    with pytest.raises(ParameterError, match="--slices 0"):
        cli_layer(_args(slices=0))
    with pytest.raises(ParameterError, match="--cor 'abc'"):
        cli_layer(_args(cor="abc"))


def test_shared_output_folder_gets_own_provenance():
    entries = [
        ScanEntry("a.h5", {"cor": 1, "outputFilename": "c1"}, "l line 1"),
        ScanEntry("a.h5", {"cor": 2, "outputFilename": "c2"}, "l line 2"),
        ScanEntry("b.h5", {}, "l line 3"),
    ]
    jobs = plan_jobs(entries, config={}, cli={})
    assert [j.provenance_name for j in jobs] == [
        "recon_parameters_c1.json",
        "recon_parameters_c2.json",
        "recon_parameters.json",
    ]


# ------------------------------------------------------------------ small helpers
def test_spans_and_sweep():
    assert parse_span("10:200") == (10, 200) and parse_span(":5") == (None, 5) and parse_span("3:") == (3, None)
    for bad in ("5", "a:b", "5:2", "1:2:3"):
        with pytest.raises(ParameterError, match="--x"):
            parse_span(bad, option="--x")
    assert crop.complete_span((None, 5), 9) == (0, 5) and crop.complete_span((2, None), 9) == (2, 9)
    assert sweep_centres(10.0, "1", 0.5, 64) == [9.0, 9.5, 10.0, 10.5, 11.0]
    assert sweep_centres(None, "0:2", 1, 64) == [0.0, 1.0, 2.0]
    assert sweep_centres(1.0, "3", 1, 64)[0] == 0.0  # clipped to the detector
    with pytest.raises(ParameterError, match="needs a centre estimate"):
        sweep_centres(None, "3", 1, 64)
    with pytest.raises(ParameterError, match="--step"):
        sweep_centres(1.0, "3", 0, 64)
    table = format_table([["1", "a"]], ("#", "scan")).splitlines()
    assert table[0] == "#  scan" and table[2] == "1  a"


# ------------------------------------------------------- programs: bad input, exit 2
@pytest.mark.parametrize(
    ("program", "name", "text", "message"),
    [
        (recon_batch, "empty.txt", "# nothing here\n\n", "no scans listed"),
        (
            recon_spreadsheet,
            "bad.csv",
            "filename,cor,ringLvl\na.h5,3,4\n",
            "bad.csv line 1, column C: unknown column 'ringLvl'",
        ),
        (recon_parameters, "input832.txt", "a.h5 cor\n", "input832.txt line 1: parameter 'cor' has no value"),
    ],
)
def test_batch_programs_reject_bad_input(tmp_path, capsys, program, name, text, message):
    source = tmp_path / name
    source.write_text(text)
    assert program.main([str(source)]) == 2
    assert message in capsys.readouterr().err


def test_programs_reject_bad_input_before_running(tmp_path, capsys):
    missing = tmp_path / "missing.txt"
    missing.write_text("# scans\nnot_there.h5\n")
    assert recon_batch.main([str(missing), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "missing.txt line 2" in err and "raw file not found" in err
    assert not (tmp_path / "out").exists()  # nothing written, not even a log file
    assert convert_8bit.main([str(tmp_path), "--min", "5", "--max", "5"]) == 2
    assert "--min 5.0 must be smaller than --max 5.0" in capsys.readouterr().err
    assert crop.main([str(tmp_path)]) == 2
    assert "nothing to crop" in capsys.readouterr().err
    assert not list(tmp_path.glob("*_8bit")) and not list(tmp_path.glob("*_crop"))
