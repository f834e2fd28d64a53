"""Cost of the quality report (issue 15 section 4), measured in this run.

Prints, best and median of ``--repeat`` runs:

1. the quick-look picture drawn plain and with the quality notes and two curves (the
   stripe residual per column, the centre per row): the added seconds (target <= 0.1 s);
2. the gathering of the figures on 3 sample rows of a scan of ``--nrays`` columns and
   ``--nangles`` projections (raw pixel fractions, outlier snapshot, stripe residual,
   slices, report), next to the reconstruction of the same 3 rows (``engine.reconstruct``,
   gridrec) measured alone in the same run: the ratio is what the report adds to those
   rows' compute.

Run: ``python benchmarks/bench_quality.py [--nrays 1024] [--nangles 1201] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from types import SimpleNamespace

import numpy as np


def _times(func, repeat: int) -> tuple[float, float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        out.append(time.perf_counter() - t0)
    return min(out), statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nrays", type=int, default=1024)
    ap.add_argument("--nangles", type=int, default=1201)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    from alsmicroct import engine
    from alsmicroct.pipeline.quality_report import QualityGather, quality_notes
    from alsmicroct.post.picture import render_quicklook

    rng = np.random.default_rng(0)
    n, na = a.nrays, a.nangles
    print(f"load average before: {os.getloadavg()}")

    # 1. picture
    xy = rng.normal(size=(n, n)).astype(np.float32)
    xz = rng.normal(size=(64, n)).astype(np.float32)
    yz = rng.normal(size=(64, n)).astype(np.float32)
    quality = {
        "gathered": True,
        "centre_confidence": {"label": "high", "uncertainty_px": 0.2},
        "ring_index": 1e-3,
        "ring_index_slice": 2.0,
        "sharpness": 0.3,
        "raw_saturated_fraction": 0.0,
        "raw_zero_fraction": 0.0,
        "flat_drift": 0.02,
        "outliers_removed": {"pixels": 10},
        "suggestions": {"range_8bit": {"cast8bit_min": 0.0, "cast8bit_max": 1.0}},
        "warnings": [],
    }
    curves = (("stripe residual", rng.random(n)), ("centre per row", np.array([1.0, 1.2, 1.4])))
    plain = _times(lambda: render_quicklook(xy, xz, yz, lo=-2, hi=2, title="t").tobytes(), a.repeat)
    full = _times(
        lambda: render_quicklook(
            xy, xz, yz, lo=-2, hi=2, title="t", notes=quality_notes(quality), curves=curves
        ).tobytes(),
        a.repeat,
    )
    print(
        f"quick-look render {n} px: plain best {plain[0]:.4f} s median {plain[1]:.4f} s; with quality "
        f"best {full[0]:.4f} s median {full[1]:.4f} s; added (median) {full[1] - plain[1]:+.4f} s"
    )

    # 2. gathering on 3 sample rows vs reconstructing them
    rows = np.arange(3)
    plan = SimpleNamespace(
        rows=rows,
        center_info=None,
        params=SimpleNamespace(correcttilt=0.0),
        proj_indices=np.arange(na),
        width=n,
        path=SimpleNamespace(name="bench"),
    )
    raw = (rng.random((na, 3, n)) * 60000).astype(np.float32)
    flats = (rng.random((10, 3, n)) * 60000).astype(np.float32)
    sino = rng.random((na, 3, n)).astype(np.float32)
    theta = np.linspace(0, np.pi, na, endpoint=False).astype(np.float32)
    rec = engine.reconstruct(sino, theta, center=(n - 1) / 2, algorithm="gridrec", num_threads=1)

    def gather() -> None:
        g = QualityGather(plan)
        block = SimpleNamespace(
            data=raw, rows=rows, flats=flats, darks=flats[:2] * 0, flat_indices=np.repeat([0, na], 5)
        )
        g.raw(block)
        before = g.snapshot(block)
        g.changed("outliers2D", before, block)
        g.sinogram(SimpleNamespace(data=sino, rows=rows))
        g.slices(rec, rows)
        g.report()

    tg = _times(gather, a.repeat)
    tr = _times(
        lambda: engine.reconstruct(sino, theta, center=(n - 1) / 2, algorithm="gridrec", num_threads=1), a.repeat
    )
    print(
        f"gather on 3 rows of {na} x {n}: best {tg[0]:.4f} s median {tg[1]:.4f} s; gridrec of the same 3 rows "
        f"alone best {tr[0]:.4f} s median {tr[1]:.4f} s; ratio (median) {tg[1] / tr[1]:.2f}"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
