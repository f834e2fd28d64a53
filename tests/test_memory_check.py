"""The memory estimate runs before a local reconstruction writes anything (issue 12); by
default a block too big for the free memory is made smaller instead of refused (issue 14)."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest
import tifffile

from alsmicroct import memory
from alsmicroct.errors import ParameterError
from alsmicroct.params import ReconParams
from alsmicroct.pipeline.execute import check_plan_memory
from alsmicroct.pipeline.prepare import prepare
from alsmicroct.pipeline.runner import _chunk_z, block_rows
from alsmicroct.reconstruction import recon


def test_a_chunk_that_cannot_fit_is_refused_before_anything_is_written(sim_scans, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2 * 1024 * 1024)
    out = tmp_path / "out"
    with pytest.raises(ParameterError, match=r"chunk_sino") as err:
        recon(
            str(sim_scans["als"].path), outputPath=str(out), cor=33.3, chunk_sino=6, num_threads=1, memoryCheck="error"
        )
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


def _bytes_for_rows(scan, rows: int) -> int:
    """Free memory in which a block of ``rows`` rows of ``scan`` just fits (and one of more does not)."""
    params = ReconParams(inputPath=str(scan.parent), cor=33.3)
    plan = prepare(scan.name, params, center=False)
    return int(check_plan_memory(dataclasses.replace(plan, block_cap=rows), available=1 << 60).total / 0.8) + 1


def test_by_default_a_block_too_big_for_the_machine_runs_smaller_with_the_same_slices(
    sim_scans, tmp_path, monkeypatch, caplog
):
    scan = sim_scans["als"].path
    ref = recon(str(scan), outputPath=str(tmp_path / "ref"), cor=33.3, num_threads=1, quicklook=False)
    monkeypatch.setattr(memory, "available_bytes", lambda: _bytes_for_rows(scan, 2))
    with caplog.at_level("WARNING"):
        res = recon(str(scan), outputPath=str(tmp_path / "out"), cor=33.3, num_threads=1, quicklook=False)
    said = [r.getMessage() for r in caplog.records if "running in blocks of 2 rows" in r.getMessage()]
    assert said and str(scan) in said[0] and "chunk_sino=2" in said[0], caplog.text
    assert len(res.files) == len(ref.files) == 6
    for a, b in zip(ref.files, res.files, strict=True):
        assert np.array_equal(tifffile.imread(a), tifffile.imread(b))
    record = json.loads(res.provenance_path.read_text())
    assert record["resolved"]["block_rows_memory_cap"] == 2
    assert json.loads(ref.provenance_path.read_text())["resolved"]["block_rows_memory_cap"] is None
    # the fitted run is the same run: resuming it with the plain default keeps every slice
    monkeypatch.setattr(memory, "available_bytes", lambda: 1 << 40)
    again = recon(str(scan), outputPath=str(tmp_path / "out"), cor=33.3, num_threads=1, quicklook=False)
    assert len(again.files) == 6


def test_fit_refuses_when_not_even_the_smallest_block_fits(sim_scans, tmp_path, monkeypatch):
    scan = sim_scans["als"].path
    monkeypatch.setattr(memory, "available_bytes", lambda: _bytes_for_rows(scan, 2) - 2)
    out = tmp_path / "out"
    with pytest.raises(ParameterError, match=r"chunk_sino=1 or less") as err:
        recon(str(scan), outputPath=str(out), cor=33.3, num_threads=1)
    assert str(scan) in str(err.value)
    assert not out.exists() or not any(out.rglob("*"))


def test_fitted_blocks_keep_whole_zarr_layers_and_the_even_rule():
    def plan(fmt, cap, nrows=200):
        return SimpleNamespace(
            rows=np.arange(nrows), params=SimpleNamespace(chunk_sino=100, outputFormat=fmt), block_cap=cap
        )

    layer = _chunk_z(100)  # the store's chunk height for chunk_sino=100
    assert block_rows(plan("zarr", None)) == 2 * layer
    assert block_rows(plan("zarr", layer + 5)) == layer  # whole layers, never a part of one
    assert block_rows(plan("zarr", 7)) == layer  # the store's layout does not change with the memory
    assert block_rows(plan("tiff", None)) == 50
    assert block_rows(plan("tiff", 30)) == 30
    assert block_rows(plan("h5", 31, nrows=2000)) == 31


def test_check_memory_fit_returns_the_rows_that_fit():
    sizes = dict(nangles=1313, ncols=2560, npad=530, nrefs=60)
    budget = memory.estimate_chunk_bytes(chunk_rows=37, **sizes).total
    est = memory.check_memory(chunk_rows=100, available=int(budget / 0.8) + 1, policy="fit", unit=2, **sizes)
    assert est.rows == 36
    est = memory.check_memory(chunk_rows=100, available=int(budget / 0.8) + 1, policy="fit", unit=32, **sizes)
    assert est.rows == 32
    with pytest.raises(ParameterError, match=r"set chunk_sino=37 or less"):
        memory.check_memory(chunk_rows=100, available=int(budget / 0.8) + 1, policy="fit", unit=50, **sizes)
    with pytest.raises(ParameterError, match=r"policy='off'"):
        memory.check_memory(chunk_rows=1, nangles=1, ncols=1, policy="off")


def test_freed_heap_is_given_back_after_every_block(sim_scans, tmp_path, monkeypatch):
    """Resident memory must not creep up block after block (issue 14): the runner hands the
    heap the block freed back to the system once per block, where the C library can."""
    import alsmicroct.pipeline.runner as runner

    calls = []
    monkeypatch.setattr(runner, "release_free_heap", lambda: calls.append(1) or memory.release_free_heap())
    res = recon(str(sim_scans["als"].path), outputPath=str(tmp_path / "out"), cor=33.3, chunk_sino=2, num_threads=1)
    blocks = -(-len(res.files) // 2)
    assert len(calls) == blocks >= 2
    released = memory.release_free_heap()
    assert isinstance(released, bool)
    if memory._malloc_trim() is None:  # not glibc: nothing to call, nothing claimed
        assert released is False
