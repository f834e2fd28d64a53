"""The light paths of small jobs: the quick-look without a plotting stack, and the pc centre
reading only the rows it measures on and the nearest flat group (issue 14). No timings."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from alsmicroct import image_processing as ip
from alsmicroct.errors import ParameterError
from alsmicroct.params import ReconParams
from alsmicroct.pipeline.center import PC_MIN_ROWS, find_center, pc_rows
from alsmicroct.pipeline.prepare import open_planned
from alsmicroct.sim import simulate_scan


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_quicklook_renderers(tmp_path):
    vol = np.random.default_rng(0).normal(0, 1, (5, 40, 50)).astype(np.float32)
    vol[0, 0, 0] = np.nan
    light = ip.quicklook(vol, tmp_path / "light.png", title="t")
    heavy = ip.quicklook(vol, tmp_path / "heavy.png", renderer="matplotlib")
    assert _png_size(light) == _png_size(heavy) == (1200, 900)
    from PIL import Image

    with Image.open(light) as im:
        pixels = np.asarray(im)
    assert im.mode == "L" and pixels.min() == 0 and pixels.max() == 255
    with pytest.raises(ParameterError, match="renderer"):
        ip.quicklook(vol, tmp_path / "x.png", renderer="svg")
    assert not (tmp_path / "x.png").exists()


def test_recon_quicklook_needs_no_matplotlib(tmp_path):
    scan = simulate_scan(tmp_path / "s.h5", phantom="shepp", nangles=91, nslices=3, nrays=48, seed=1, write_truth=False)
    code = (
        "import sys; from alsmicroct.reconstruction import recon; "
        f"r = recon({str(scan.path)!r}, outputPath={str(tmp_path)!r}, cor={scan.cor}, num_threads=1); "
        "assert r.quicklook.is_file(); print(sorted(m for m in sys.modules if m.startswith('matplotlib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class _Spy:
    """A scan that records the rows of every read."""

    def __init__(self, scan):
        self._scan, self.reads = scan, []

    def __getattr__(self, name):
        attr = getattr(self._scan, name)
        if name.startswith("read_"):

            def read(*args, **kw):
                self.reads.append((name, kw.get("rows")))
                return attr(*args, **kw)

            return read
        return attr


@pytest.mark.parametrize(
    "sinoused, want", [((-1, 4, 1), (68, 132, 1)), ((0, 200, 1), (0, 200, 1)), ((190, 200, 1), (136, 200, 1))]
)
def test_pc_rows(tmp_path, sinoused, want):
    scan = simulate_scan(
        tmp_path / "tall.h5", phantom="shepp", nangles=181, nslices=200, nrays=40, seed=2, write_truth=False
    )
    with open_planned(scan.path, ReconParams(sinoused=sinoused, doFWringremoval=False)) as (raw, plan):
        assert pc_rows(plan, raw.meta.nslices) == want
        assert want[1] - want[0] >= min(PC_MIN_ROWS, raw.meta.nslices)


def test_pc_reads_its_rows_and_nearest_flats(tmp_path):
    # flats before and after the scan, the beam 30 % brighter at the end: each projection
    # must be divided by its own group for the pair to register
    scan = simulate_scan(
        tmp_path / "drift.h5",
        phantom="shepp",
        nangles=181,
        nslices=80,
        nrays=96,
        cor=50.6,
        seed=4,
        rings=0.0,
        write_truth=False,
        flat_drift=0.3,
    )
    with open_planned(scan.path, ReconParams(sinoused=(-1, 2, 1), doFWringremoval=False)) as (raw, plan):
        spy = _Spy(raw)
        cor = find_center(spy, plan, "pc")
        rows = pc_rows(plan, raw.meta.nslices)
    assert abs(cor - scan.cor) <= 0.25
    assert spy.reads and all(r == rows for _, r in spy.reads)
    assert {n for n, _ in spy.reads} == {"read_projections", "read_flats", "read_darks"}
