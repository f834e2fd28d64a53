"""The watcher's preview: the centre recon() uses, its confidence, three slices, a cheap but
useful centre sweep; on simulated scans with a known centre."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from watch_util import simulate

from alsmicroct.jobs.watch.preview import bin_sinogram, make_preview

WIDE = dict(nrays=256, cor=131.3, nangles=361, nslices=8, phantom="shepp", noise=False)


@pytest.mark.parametrize("layout", ["als", "dxchange"])
def test_preview_reports_the_centre_recon_uses(tmp_path, layout):
    from alsmicroct.reconstruction import recon

    raw = simulate(tmp_path / "raw", f"s_{layout}.h5", layout, **WIDE)
    out = make_preview(raw, tmp_path / "rec", sweep=5, sweep_width=128, max_angles=200)
    res = recon(raw.name, inputPath=str(raw.parent), outputPath=str(tmp_path / "full"), quicklook=False)
    assert out["cor"] == pytest.approx(res.cor, abs=1e-3)  # the centre the full run uses
    assert abs(out["cor"] - WIDE["cor"]) < 1.0
    assert out["confidence"]["label"] == res.center_info["label"] == "high"  # recon()'s own check, bounded
    assert out["confidence"]["vo"] == pytest.approx(res.center_info["vo"], abs=0.5)
    assert out["confidence"]["method"] == "pc"
    # three slices, read with every 2nd projection (361 > max_angles=200)
    assert out["projection_step"] == 2 and len(out["slices"]) == 3
    with open(out["record"], encoding="utf-8") as fh:
        assert json.load(fh)["parameters"]["projused"] == [0, 361, 2]
    with Image.open(out["png"]) as png, Image.open(out["sweep_png"]) as sweep:
        assert png.size[0] == 3 * (384 + 4) and sweep.size[0] == 4 * (256 + 4)
    assert len(out["sweep_centers"]) == 5 and out["sweep_centers"][2] == pytest.approx(out["cor"], abs=0.01)


def test_preview_with_a_given_centre_searches_nothing(tmp_path):
    raw = simulate(tmp_path / "raw", "g.h5", "dxchange", **WIDE)
    out = make_preview(raw, tmp_path / "rec", keywords={"cor": 130.0}, sweep=3)
    assert out["cor"] == 130.0 and out["confidence"]["label"] == "given"
    assert out["projection_step"] == 1 and out["sweep_centers"] == [129.0, 130.0, 131.0]


def test_binned_sweep_stays_sharpest_at_the_true_centre(tmp_path):
    """The sweep on a 2x binned sinogram (every 2nd angle) still picks the right centre to
    within one raw pixel: the sharpest trial is the one nearest the truth."""
    from alsmicroct import engine
    from alsmicroct.post import quality
    from alsmicroct.sim import simulate_data

    cfg = dict(phantom="shepp", nangles=721, nslices=1, nrays=256, cor=129.5, noise=False, rings=0.0)
    data = simulate_data(**cfg)
    flats, darks = data.flats.mean(axis=0), data.darks.mean(axis=0)
    sino = -np.log(np.clip((data.proj[:, 0] - darks[0]) / (flats[0] - darks[0]), 1e-6, None)).astype(np.float32)
    centers = np.arange(125.5, 134.0, 1.0)
    small, theta, c_small, f = bin_sinogram(sino, data.angles, 129.5, 128)
    assert f == 2 and small.shape == (361, 128) and theta.size == 361
    assert c_small == pytest.approx((129.5 - 0.5) / 2)
    recs = engine.center_sweep(small, theta, (centers - 0.5) / 2)
    sharp = [quality.sharpness(r) for r in recs]
    assert abs(centers[int(np.argmax(sharp))] - 129.5) <= 1.0
    # no binning asked for: unchanged
    same, _th, c, f1 = bin_sinogram(sino, data.angles, 129.5, 4096)
    assert f1 == 1 and same.shape == sino.shape and c == 129.5


@pytest.mark.parametrize("layout", ["als", "dxchange"])
def test_preview_opens_the_raw_file_once(tmp_path, monkeypatch, layout):
    """Centre, sweep row and the three slices come from one open of the raw file (each open
    of the old layout reads every image's attributes), and the preview's quality figures are
    those of the slices' own quality report (its record), not computed a second time."""
    import alsmicroct.io as io

    raw = simulate(tmp_path / "raw", f"o_{layout}.h5", layout, **WIDE)
    opened = []
    real = io.open_scan

    def counting(path, *args, **kwargs):
        opened.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(io, "open_scan", counting)
    out = make_preview(raw, tmp_path / "rec", sweep=3, sweep_width=128, max_angles=200)
    assert opened == [str(raw)]
    with open(out["record"], encoding="utf-8") as fh:
        report = json.load(fh)["quality"]
    assert report["sample_rows"] == out["rows"]
    assert out["quality"]["sharpness"] == pytest.approx(report["sharpness"], abs=1e-5)
    assert out["quality"]["ring_index_slice"] == pytest.approx(report["ring_index_slice"], abs=1e-5)
    low = report["suggestions"]["range_8bit"]["cast8bit_min"]
    assert out["quality"]["range_8bit_low"] == pytest.approx(low, abs=1e-5)


def test_warm_up_runs_first_and_leaves_nothing_behind(tmp_path, monkeypatch):
    """A watcher previews a tiny simulated scan in a temporary folder at start (on its one
    preview thread, so a scan arriving meanwhile waits), and nothing of it reaches REC_DIR,
    the queue or the temporary folder."""
    import tempfile
    import threading

    from alsmicroct.jobs.watch.service import WatchService, WatchSettings

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    raw, rec = tmp_path / "raw", tmp_path / "rec"
    raw.mkdir()
    service = WatchService(WatchSettings(raw, rec, tick=0.05))
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        for _ in range(600):
            if service.warm is not None:
                break
            threading.Event().wait(0.05)
        assert service.warm is not None
        assert service.warm.result(timeout=120) > 0
    finally:
        service.stop_event.set()
        thread.join(60)
    assert sorted(p.name for p in rec.iterdir() if not p.name.startswith(".alsmicroct-watch")) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_killed_watchers_warm_up_folder_is_removed_by_the_next_warm_up(tmp_path, monkeypatch):
    """A watcher killed (kill -9, out of memory, a node reboot) during its warm-up cannot remove
    its temporary folder; the next warm-up on this host removes those of dead processes, and
    leaves alone a live process's, another host's and folders it did not name."""
    import subprocess
    import tempfile

    from alsmicroct.io.atomic import host_tag
    from alsmicroct.jobs.watch import preview

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    dead = subprocess.Popen(["true"])
    dead.wait()
    names = {
        "dead": f"alsmicroct-warm-{dead.pid}@{host_tag()}-abc123",
        "live": f"alsmicroct-warm-{os.getpid()}@{host_tag()}-def456",
        "other host": f"alsmicroct-warm-{dead.pid}@not_{host_tag()}-ghi789",
        "unnamed": "alsmicroct-warm-jkl012",
    }
    for name in names.values():
        (tmp / name).mkdir()
        (tmp / name / "warmup.h5").write_bytes(b"x")
    seen = []
    monkeypatch.setattr(preview, "make_preview", lambda raw, out, **kw: seen.append(raw.parent.name))
    monkeypatch.setattr("alsmicroct.sim.simulate_scan", lambda path, **kw: Path(path).write_bytes(b""))
    assert preview.warm_up() >= 0
    assert seen and seen[0].startswith(f"alsmicroct-warm-{os.getpid()}@{host_tag()}-")
    assert sorted(p.name for p in tmp.iterdir()) == sorted(v for k, v in names.items() if k != "dead")


def test_a_failed_warm_up_is_a_warning_not_a_stop(tmp_path, monkeypatch, caplog):
    from alsmicroct.jobs.watch import preview

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(preview, "make_preview", broken)
    with caplog.at_level("WARNING", logger="alsmicroct.jobs.watch.preview"):
        assert preview.warm_up() >= 0
    assert "warm-up preview failed" in caplog.text and "disk full" in caplog.text
