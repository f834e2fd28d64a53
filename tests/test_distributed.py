"""alsmicroct.distributed without SLURM: Dask LocalCluster runs and row-split parts.

Every comparison uses ``num_threads=1``: the engine's multi-threaded NUFFT spreading is
not bit-reproducible from run to run, single-threaded it is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alsmicroct.errors import AlsMicroCTError, InputFileError, ParameterError, ReconstructionError

pytest.importorskip("distributed")

COMMON = dict(chunk_sino=2, num_threads=1, quicklook=False)


def _stack(files) -> np.ndarray:
    from alsmicroct.io.tiff import read_tiff

    return np.stack([read_tiff(f) for f in files])


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    from alsmicroct.sim import simulate_scan

    folder = tmp_path_factory.mktemp("dist_raw")
    for i in range(2):
        simulate_scan(
            folder / f"scan{i}.h5", layout="als", phantom="shepp", nangles=60, nslices=6, nrays=40, cor=20.3, seed=i
        )
    return folder


@pytest.fixture(scope="module")
def reference(raw, tmp_path_factory):
    """Single-process reconstructions of both scans."""
    from alsmicroct.reconstruction import recon

    out = tmp_path_factory.mktemp("dist_ref")
    return {name: recon(f"{name}.h5", raw, outputPath=str(out), **COMMON) for name in ("scan0", "scan1")}


@pytest.fixture(scope="module")
def client():
    from distributed import Client

    from alsmicroct.jobs.clusters import make_cluster

    with make_cluster("local", n_workers=2) as cluster, Client(cluster) as c:
        yield c


def test_import_is_light():
    code = (
        "import sys, alsmicroct, alsmicroct.jobs.clusters, alsmicroct.jobs.parts; "
        "print(any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_split_rows_balanced_and_capped():
    from alsmicroct.jobs.parts import part_provenance_name, split_rows

    assert split_rows(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert split_rows(2, 5) == [(0, 1), (1, 2)]
    assert split_rows(10, 3, unit=4) == [(0, 4), (4, 8), (8, 10)]
    assert split_rows(10, 2, unit=4) == [(0, 4), (4, 10)]
    assert split_rows(6, 5, unit=2) == [(0, 2), (2, 4), (4, 6)]
    assert part_provenance_name(2, 3) == "recon_parameters.part002of003.json"
    with pytest.raises(ParameterError):
        split_rows(0, 2)


def test_recon_with_client_identical_and_resumes(raw, reference, client, tmp_path):
    from alsmicroct.reconstruction import recon

    ref = reference["scan0"]
    res = recon("scan0.h5", raw, outputPath=str(tmp_path), client=client, **COMMON)
    assert [f.name for f in res.files] == [f.name for f in ref.files]
    np.testing.assert_array_equal(_stack(res.files), _stack(ref.files))
    record = json.loads(res.provenance_path.read_text())
    assert record["status"] == "complete" and record["nfiles"] == 6
    assert record["timings_s"]["reconstruct"] > 0  # workers' timings came back
    q, q_ref = res.quality, ref.quality  # and their quality figures
    assert q["gathered"] and q["raw_saturated_fraction"] == q_ref["raw_saturated_fraction"]
    assert q["ring_index"] == pytest.approx(q_ref["ring_index"], rel=1e-3)
    assert q["sharpness"] == pytest.approx(q_ref["sharpness"], rel=1e-2)
    # resume: drop one slice; only it is recomputed, the others keep their mtime
    kept = {f: f.stat().st_mtime_ns for f in res.files[1:]}
    res.files[0].unlink()
    again = recon("scan0.h5", raw, outputPath=str(tmp_path), client=client, **COMMON)
    assert again.skipped == 5 and res.files[0].is_file()
    assert {f: f.stat().st_mtime_ns for f in res.files[1:]} == kept
    np.testing.assert_array_equal(_stack(again.files), _stack(ref.files))


def test_client_with_projection_steps_and_3d_filter(raw, client, tmp_path):
    """Phase retrieval (pre-passes into a local store read by the workers) and the bilateral filter."""
    from alsmicroct.reconstruction import recon

    kw = dict(COMMON, doPhaseRetrieval=True, propagation_dist=10.0, kev=20.0, doBilateralFilter=True, castTo8bit=True)
    ref = recon("scan0.h5", raw, outputPath=str(tmp_path / "one"), **kw)
    res = recon("scan0.h5", raw, outputPath=str(tmp_path / "dask"), client=client, **kw)
    np.testing.assert_array_equal(_stack(res.files), _stack(ref.files))
    assert not list(res.output_dir.glob(".*work*"))  # the temporary store is gone


def test_recon_distributed_list_with_overrides(raw, reference, client, tmp_path):
    from alsmicroct.jobs.clusters import recon_distributed

    listing = tmp_path / "list.txt"
    listing.write_text(f"# two scans\n{raw / 'scan0.h5'}\n{raw / 'scan1'}  outputFilename=other\n")
    results = recon_distributed(listing, client=client, outputPath=str(tmp_path / "out"), concurrent_scans=2, **COMMON)
    assert [r.files[0].name for r in results] == ["scan0_00000.tiff", "other_00000.tiff"]
    for res, name in zip(results, ("scan0", "scan1"), strict=False):
        np.testing.assert_array_equal(_stack(res.files), _stack(reference[name].files))


def test_recon_distributed_reports_failed_scans(raw, client, tmp_path):
    from alsmicroct.jobs.clusters import DistributedBatchError, recon_distributed

    bad = tmp_path / "bad.h5"
    bad.write_bytes((raw / "scan0.h5").read_bytes()[:5000])
    with pytest.raises(DistributedBatchError) as info:
        recon_distributed([str(raw / "scan1.h5"), str(bad)], client=client, outputPath=str(tmp_path), **COMMON)
    ok, failed = info.value.results
    assert len(ok.files) == 6 and isinstance(failed, InputFileError)
    assert "bad.h5" in str(info.value) and "1 of 2" in str(info.value)


def test_worker_error_is_raised_as_is(raw, client, tmp_path):
    from alsmicroct.jobs.parts import plan_scan
    from alsmicroct.pipeline.cluster import run_on_client
    from alsmicroct.pipeline.runner import Runner

    copy = tmp_path / "gone.h5"
    shutil.copy(raw / "scan0.h5", copy)
    plan = plan_scan(copy, outputPath=str(tmp_path), chunk_sino=2)
    copy.unlink()  # the workers cannot read it any more
    with pytest.raises(AlsMicroCTError, match="gone.h5"):
        run_on_client(client, Runner(plan), retries=0)


def test_bad_cluster_kind_and_missing_package(monkeypatch):
    from alsmicroct.jobs.clusters import make_cluster, recon_distributed

    with pytest.raises(ParameterError, match="cluster='pbs'"):
        make_cluster("pbs")
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)
    with pytest.raises(ParameterError, match=r"pip install 'alsmicroct\[distributed\]'"):
        make_cluster("slurm")
    with pytest.raises(ParameterError, match="expected a raw file"):
        recon_distributed([], client=object())


def test_parts_merge_like_a_single_run(raw, reference, tmp_path):
    from alsmicroct.cli.distributed import main
    from alsmicroct.jobs.parts import merge_parts, recon_part
    from alsmicroct.pipeline.provenance import read_provenance
    from alsmicroct.reconstruction import recon

    kw = dict(outputPath=str(tmp_path), chunk_sino=2, num_threads=1)
    ref = reference["scan1"]
    assert recon_part("scan1.h5", 1, 3, raw, **kw) is not None
    with pytest.raises(ReconstructionError, match="part002of003.json: missing"):
        merge_parts("scan1.h5", 3, raw, **kw)
    assert (
        main(
            [
                "merge",
                "scan1.h5",
                "--parts",
                "3",
                "--input-dir",
                str(raw),
                "--output-dir",
                str(tmp_path),
                "--set",
                "chunk_sino=2",
                "--set",
                "num_threads=1",
            ]
        )
        == 1
    )
    for part in (3, 2):  # the last one to finish merges
        recon_part("scan1.h5", part, 3, raw, **kw)
    out = ref.output_dir.name
    files = sorted((tmp_path / out).glob("*.tiff"))
    np.testing.assert_array_equal(_stack(files), _stack(ref.files))
    merged = read_provenance(tmp_path / out)
    single = read_provenance(ref.output_dir)
    assert merged["status"] == "complete" and merged["nfiles"] == 6
    assert merged["parameters"] == {**single["parameters"], "outputPath": str(tmp_path)}
    assert merged["resolved"]["cor"] == single["resolved"]["cor"]
    assert [p["rows_first_last_step"] for p in merged["parts"]] == [[0, 1, 1], [2, 3, 1], [4, 5, 1]]
    assert (tmp_path / out / "scan1_quicklook.png").is_file()
    # one quality section for the whole scan, pooled from the parts' sections
    q, parts_q = merged["quality"], [read_provenance(tmp_path / out, p["file"])["quality"] for p in merged["parts"]]
    assert q["merged"]["parts"] == 3 and q["sample_rows"] == [0, 1, 2, 3, 4, 5]
    n = [len(p["sample_rows"]) for p in parts_q]
    for key in ("ring_index", "ring_index_slice"):
        pooled = np.sqrt(sum(p[key] ** 2 * k for p, k in zip(parts_q, n, strict=True)) / sum(n))
        assert q[key] == pytest.approx(pooled)
        assert q[key] == pytest.approx(single["quality"][key], rel=0.5)
    assert q["raw_zero_fraction"] == pytest.approx(np.average([p["raw_zero_fraction"] for p in parts_q], weights=n))
    assert q["centre_confidence"] == single["quality"]["centre_confidence"]
    lo = min(p["suggestions"]["range_8bit"]["cast8bit_min"] for p in parts_q)
    assert q["suggestions"]["range_8bit"]["cast8bit_min"] == lo and q["suggestions"]["applied"] is False
    with pytest.raises(ReconstructionError, match=r"another run: butterworth_order=2 \(not 3\)"):
        merge_parts("scan1.h5", 3, raw, butterworth_order=3, **kw)
    # the merged record is what recon() itself writes: a later plain run keeps every slice
    mtimes = [f.stat().st_mtime_ns for f in files]
    assert recon("scan1.h5", raw, outputPath=str(tmp_path), chunk_sino=2, num_threads=1).skipped == 6
    assert [f.stat().st_mtime_ns for f in files] == mtimes


def test_more_parts_than_blocks(raw, tmp_path):
    from alsmicroct.cli.distributed import main
    from alsmicroct.pipeline.provenance import provenance_status

    args = [
        "part",
        "scan0.h5",
        "--input-dir",
        str(raw),
        "--output-dir",
        str(tmp_path),
        "--parts",
        "9",
        "--set",
        "sinoused=(1,3,1)",
        "--set",
        "num_threads=1",
        "--set",
        "chunk_sino=1",
    ]
    assert main([*args, "--part", "5"]) == 0  # nothing to do: only 2 blocks
    assert main([*args, "--part", "1"]) == 0
    assert main([*args, "--part", "2"]) == 0
    assert provenance_status(tmp_path / "recscan0") == "complete"
    assert sorted(p.name for p in (tmp_path / "recscan0").glob("*.tiff")) == ["scan0_00001.tiff", "scan0_00002.tiff"]


def test_cli_bad_input(raw, tmp_path):
    from alsmicroct.cli.distributed import main

    assert main(["part", "scan0.h5", "--input-dir", str(raw), "--part", "4", "--parts", "3"]) == 2
    assert main(["part", "nothere.h5", "--input-dir", str(raw), "--part", "1", "--parts", "1"]) == 2
    assert main(["merge", "scan0.h5", "--input-dir", str(raw), "--parts", "2", "--set", "nosuchkey=1"]) == 2
    assert not Path(raw / "recnothere").exists()


def test_merge_lock_held_then_stale(raw, tmp_path):
    import os

    from alsmicroct.cli.distributed import main
    from alsmicroct.pipeline.provenance import provenance_status

    out = tmp_path / "recscan0"
    out.mkdir()
    lock = out / ".recon_parameters.json.merge.lock"
    lock.write_text("other-host 123\n")
    args = [
        "part",
        "scan0.h5",
        "--input-dir",
        str(raw),
        "--output-dir",
        str(tmp_path),
        "--part",
        "1",
        "--parts",
        "1",
        "--set",
        "sinoused=(2,4,1)",
        "--set",
        "num_threads=1",
    ]
    assert main(args) == 0
    assert provenance_status(out) is None and lock.exists()  # another task "is merging"
    os.utime(lock, (1.0, 1.0))  # ... but was killed long ago
    assert main(args) == 0
    assert provenance_status(out) == "complete" and not lock.exists()


def test_iterative_with_client_like_local_and_logged(raw, client, tmp_path):
    from alsmicroct.reconstruction import recon

    opts = dict(COMMON, algorithm="cgls", num_iter=8)
    local = recon("scan1.h5", raw, outputPath=str(tmp_path / "local"), **opts)
    res = recon("scan1.h5", raw, outputPath=str(tmp_path / "dask"), client=client, **opts)
    np.testing.assert_allclose(_stack(res.files), _stack(local.files), atol=1e-5)
    blocks = json.loads(res.provenance_path.read_text())["iterative"]["blocks"]
    assert [b["rows"] for b in blocks] == [[0, 1], [2, 3], [4, 5]]  # one log per block, from the workers
    assert all(len(b["residual"]) == b["iterations"] >= 1 for b in blocks)


def test_iterative_drifting_axis_with_client_and_chunks(client, tmp_path):
    """Per-row centres (a drifting axis, detected): the Dask run equals the local one, and
    three-row chunks give the slices of one nine-row chunk."""
    from alsmicroct.reconstruction import recon
    from alsmicroct.sim import simulate_scan

    scan = simulate_scan(
        tmp_path / "drift.h5",
        phantom="shepp",
        nangles=241,
        nslices=9,
        nrays=128,
        cor=66.3,
        seed=4,
        rings=0.0,
        flux=20000.0,
        axis_drift_px=3.0,
    )
    opts = dict(COMMON, algorithm="sirt", chunk_sino=3)
    local = recon(str(scan.path), outputPath=str(tmp_path / "local"), **opts)
    assert local.center_info["per_row_applied"], local.center_info
    res = recon(str(scan.path), outputPath=str(tmp_path / "dask"), client=client, **opts)
    whole = recon(str(scan.path), outputPath=str(tmp_path / "whole"), **dict(opts, chunk_sino=9))
    ref = _stack(local.files)
    print(
        f"drift, sirt: |dask - local| {np.abs(_stack(res.files) - ref).max():.2g}, |9 rows - 3 rows| "
        f"{np.abs(_stack(whole.files) - ref).max():.2g} of max {np.abs(ref).max():.3g}"
    )
    np.testing.assert_allclose(_stack(res.files), ref, atol=1e-5)
    np.testing.assert_allclose(_stack(whole.files), ref, atol=2e-3 * float(np.abs(ref).max()))
    blocks = json.loads(res.provenance_path.read_text())["iterative"]["blocks"]
    assert [b["rows"] for b in blocks] == [[0, 2], [3, 5], [6, 8]]


def test_parts_refuse_a_prefix_holding_another_run_of_other_rows(raw, tmp_path):
    """A quick look at 2 central rows, then a split run of every row into the same folder and
    prefix: the parts used to pass by it (a part compares records ignoring the rows) and the
    merge replaced the quick look's record."""
    import json

    from alsmicroct.errors import OutputError
    from alsmicroct.jobs.parts import recon_part
    from alsmicroct.reconstruction import recon

    kw = dict(outputPath=str(tmp_path), chunk_sino=2, num_threads=1, cor=20.3)
    quick = recon("scan1.h5", raw, sinoused=(-1, 2, 1), **kw)
    before = quick.provenance_path.read_text()
    with pytest.raises(OutputError, match=r"recon_parameters\.json describes another run.*sinoused"):
        recon_part("scan1.h5", 1, 3, raw, **kw)
    assert quick.provenance_path.read_text() == before
    assert json.loads(before)["status"] == "complete"
    assert not list(quick.output_dir.glob("*part*"))


def test_part_record_without_its_part_section_is_not_merged(raw, tmp_path, monkeypatch):
    """SLURM CI failure (KeyError 'index'): ``recon()`` marks a part's record complete, then
    the task adds its ``part`` section in a second write. A task finishing in that window saw
    every part "complete" and merged a record without it. A part is done only with both."""
    from alsmicroct.jobs import parts as parts_mod
    from alsmicroct.pipeline.provenance import read_provenance, write_provenance

    kw = dict(outputPath=str(tmp_path), chunk_sino=2, num_threads=1, cor=20.3)
    for part in (1, 2, 3):
        parts_mod.recon_part("scan1.h5", part, 3, raw, merge=False, **kw)
    plan = parts_mod.plan_scan("scan1.h5", raw, **kw)
    name = parts_mod.part_provenance_name(2, 3)
    record = read_provenance(plan.output_dir, name)
    del record["part"]  # the state between recon()'s write and the task's own
    write_provenance(plan.output_dir / name, record)
    assert not parts_mod._parts_complete(plan, 3)
    with pytest.raises(ReconstructionError, match=r"part 2.*not finished"):
        parts_mod.merge_parts("scan1.h5", 3, raw, **kw)
    # the task then writes its section and checks again: now it merges
    parts_mod.recon_part("scan1.h5", 2, 3, raw, **kw)
    merged = read_provenance(plan.output_dir)
    assert [p["index"] for p in merged["parts"]] == [1, 2, 3]
    assert all(p["of"] == 3 for p in merged["parts"])
