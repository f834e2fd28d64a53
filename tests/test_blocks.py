"""The final pass's blocks (pipeline.runner.block_rows): at least four blocks where the rows
allow, never below 16 rows, even (same bytes as one block), whole zarr chunk layers; the
memory check sizes its chunk by the same rule."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from alsmicroct.params import ReconParams
from alsmicroct.pipeline.runner import MIN_BLOCK_ROWS, block_rows


@dataclasses.dataclass
class _Plan:
    rows: np.ndarray
    params: ReconParams
    block_cap: int | None = None


def _plan(nrows: int, **kw) -> _Plan:
    return _Plan(np.arange(nrows), ReconParams(**kw))


@pytest.mark.parametrize(
    ("nrows", "kw", "want"),
    [
        (64, {}, 16),
        (66, {}, 18),  # ceil(66 / 4) = 17, made even
        (12, {}, 12),  # small scans stay one block
        (40, {}, MIN_BLOCK_ROWS),
        (2160, {}, 100),  # chunk_sino caps it
        (100, {"chunk_sino": 7}, 7),  # the user's chunk_sino is kept
        (64, {"outputFormat": "zarr"}, 32),  # whole layers of 32-row chunks (chunk_sino=100: blocks of 96)
    ],
)
def test_block_rows(nrows, kw, want):
    assert block_rows(_plan(nrows, **kw)) == want


def test_blocks_do_not_change_the_bytes(tmp_path, monkeypatch):
    import tifffile

    from alsmicroct.pipeline import runner
    from alsmicroct.reconstruction import recon
    from alsmicroct.sim import simulate_scan

    raw = simulate_scan(
        tmp_path / "s.h5", phantom="rock", nangles=121, nslices=34, nrays=64, rings=0.003, seed=2, write_truth=False
    )
    stacks = []
    for blocks in (1, 4):  # one block of 34 rows; blocks of 16, 16, 2
        monkeypatch.setattr(runner, "MIN_BLOCKS", blocks)
        monkeypatch.setattr(runner, "MIN_BLOCK_ROWS", 34 if blocks == 1 else MIN_BLOCK_ROWS)
        res = recon(raw.path.name, str(tmp_path), outputPath=str(tmp_path / f"o{blocks}"), num_threads=1, cor=31.7)
        stacks.append(np.stack([tifffile.imread(f) for f in res.files]))
    np.testing.assert_array_equal(stacks[0], stacks[1])
