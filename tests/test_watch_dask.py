"""alsmicroct-watch with ``--runner dask``: full reconstructions on a Dask cluster (a local
one of worker processes, and an existing scheduler by address) give the same slices as the
local worker pool; a scan that fails on a worker is that scan's failure, the others go on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import tifffile
from watch_util import simulate

from alsmicroct.cli.watch import main
from alsmicroct.jobs.watch.queue import DB_NAME

FAST = ["--settle", "0.2", "--give-up", "20", "--once"]
WIDE = dict(nrays=128, cor=66.1)


def _rows(rec: Path) -> dict[str, tuple[str, str | None]]:
    db = sqlite3.connect(rec / DB_NAME, timeout=30)
    try:
        return {s: (st, e) for s, st, e in db.execute("SELECT scan, state, error FROM attempts ORDER BY scan")}
    finally:
        db.close()


def _slices(folder: Path, prefix: str) -> np.ndarray:
    return np.stack([tifffile.imread(p) for p in sorted(folder.glob(f"{prefix}_0000?.tiff"))])


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    simulate(raw, "a.h5", "als", **WIDE)
    simulate(raw, "b.h5", "dxchange", **WIDE)
    local = tmp_path_factory.mktemp("rec_local")
    assert main([str(raw), "--output", str(local), *FAST]) == 0
    return raw, local


def test_dask_local_cluster_equals_the_local_pool(scans, tmp_path):
    raw, local = scans
    rec = tmp_path / "rec"
    assert main([str(raw), "--output", str(rec), *FAST, "--runner", "dask", "--workers", "2"]) == 0
    assert _rows(rec) == {"a.h5": ("done", None), "b.h5": ("done", None)}
    for stem in ("a", "b"):
        got, ref = _slices(rec / f"rec{stem}", stem), _slices(local / f"rec{stem}", stem)
        assert got.shape == ref.shape == (8, 128, 128)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * float(np.abs(ref).max()))


def test_dask_scheduler_address_and_a_failing_scan(scans, tmp_path):
    from distributed import Client, LocalCluster

    raw, _local = scans
    mixed = tmp_path / "raw"
    mixed.mkdir()
    for name in ("a.h5",):
        (mixed / name).symlink_to(raw / name)
    # complete for the watcher (every image present) but the reconstruction fails on the
    # worker: a centre off the detector
    simulate(mixed, "c.h5", "als", **WIDE)
    cfg = tmp_path / "watch.toml"
    cfg.write_text('[[match]]\npattern = "c.h5"\ncor = 5000\n')
    rec = tmp_path / "rec"
    args = [str(mixed), "--output", str(rec), *FAST, "--runner", "dask", "--config", str(cfg)]
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        code = main([*args, "--dask-address", cluster.scheduler_address])
    rows = _rows(rec)
    assert code == 1
    assert rows["a.h5"] == ("done", None)
    assert rows["c.h5"][0] == "failed" and "5000" in rows["c.h5"][1]
