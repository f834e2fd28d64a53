"""The memory estimate runs before a local reconstruction writes anything (issue 12)."""

from __future__ import annotations

import pytest

from alsmicroct import memory
from alsmicroct.errors import ParameterError
from alsmicroct.reconstruction import recon


def test_a_chunk_that_cannot_fit_is_refused_before_anything_is_written(sim_scans, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2 * 1024 * 1024)
    out = tmp_path / "out"
    with pytest.raises(ParameterError, match=r"chunk_sino") as err:
        recon(str(sim_scans["als"].path), outputPath=str(out), cor=33.3, chunk_sino=6, num_threads=1)
    assert str(sim_scans["als"].path) in str(err.value)
    assert not out.exists() or not any(out.rglob("*"))


def test_warn_policy_logs_and_runs(sim_scans, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2 * 1024 * 1024)
    with caplog.at_level("WARNING"):
        res = recon(
            str(sim_scans["als"].path),
            outputPath=str(tmp_path / "out"),
            cor=33.3,
            chunk_sino=6,
            num_threads=1,
            memoryCheck="warn",
            quicklook=False,
        )
    assert len(res.files) == 6
    assert any("chunk_sino" in r.getMessage() for r in caplog.records)


def test_check_is_off_on_request_and_on_by_default(sim_scans, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2 * 1024 * 1024)
    res = recon(
        str(sim_scans["als"].path),
        outputPath=str(tmp_path / "out"),
        cor=33.3,
        num_threads=1,
        memoryCheck="off",
        quicklook=False,
    )
    assert len(res.files) == 6
    with pytest.raises(ParameterError, match=r"memoryCheck='never' is not one of"):
        recon(str(sim_scans["als"].path), outputPath=str(tmp_path / "o2"), memoryCheck="never")
