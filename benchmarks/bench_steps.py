"""One table: every legacy processing step of recon() at beamline size, next to TomoPy.

Times each step on the data it sees inside :func:`alsmicroct.reconstruction.recon` at
2048 columns and 3217 angles, with every core available to the process, and prints:

- seconds per slice (sinogram steps: one detector row of 3217 x 2048; post-processing:
  one 2048 x 2048 slice) or per projection (phase retrieval: one 2048 x 2048 projection);
- the same-run reference (``numpy.fft.rfft`` of one 3217 x 2048 sinogram along the
  angles) and each step in units of it, the stable figure on a shared machine;
- TomoPy's recorded figures (2 threads; labelled as recorded, with source and date), where TomoPy has the
  step, and the ratio (< 1: faster than TomoPy).

The inputs, TomoPy figures and parameters are those of the per-module benchmarks
(``bench_prep_stripes.py``, ``bench_prep_phase.py``, ``bench_post.py``), imported from
them so that the figures agree. Rounds interleave the reference and every step so that
all see the same machine load; the best of ``--repeat`` rounds is kept.

Notes on what a figure covers:

- ``correct_tilt`` (2 degrees, cubic) is timed per row it computes; inside recon() a row
  block of ``chunk_sino`` rows also computes ``tilt_margin`` rows on each side (38 rows
  for 2 degrees at 2048 columns: +76 % per slice for ``chunk_sino=100``). TomoPy has no
  tilt step; its column shows ``scipy.ndimage.rotate`` (order 3) of one 2048 x 2048
  projection, timed in the same run, times ``angles / 2048`` (its share of one slice).
- ``sino_360_to_180`` is timed per 360-degree sinogram (3217 x 2048, axis at column
  1900), which becomes a 1608 x 3801 sinogram.
- ``bilateral_filter`` is timed per slice of an 8-slice chunk, ``spatial_radius=3``
  (target: under 1 s per 2048 x 2048 slice).

Usage::

    python benchmarks/bench_steps.py [--rows 4] [--angles 3217] [--columns 2048] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _tomopy
import bench_post
import bench_prep_phase
import bench_prep_stripes

#: TomoPy, 2 threads: seconds per slice (or per projection for phase); RECORDED figures
#: (source: _tomopy.SOURCE), not measured in the run -- the per-module benchmarks with
#: --tomopy-python time TomoPy in the same run
TOMOPY = {
    "remove_stripe_fw": bench_prep_stripes.TOMOPY_S_PER_SLICE["remove_stripe_fw"],
    "remove_stripe_ti": bench_prep_stripes.TOMOPY_S_PER_SLICE["remove_stripe_ti"],
    "remove_stripe_sf": bench_prep_stripes.TOMOPY_S_PER_SLICE["remove_stripe_sf"],
    "retrieve_phase": bench_prep_phase.TOMOPY_S_PER_2048,
    "remove_ring": bench_post.TOMOPY_REMOVE_RING_S_RECORDED,
}
BILATERAL_TARGET_S = 1.0  # per 2048 x 2048 slice, spatial_radius 3
TILT_DEG = 2.0


def _steps(args) -> dict[str, tuple[Callable[[], object], int, str]]:
    """name -> (call, items per call, unit), on beamline-size inputs."""
    from alsmicroct import post, prep
    from alsmicroct.prep.stitch import sino_360_to_180
    from alsmicroct.prep.tilt import correct_tilt

    nang, nrows, ncol = args.angles, args.rows, args.columns
    sino, counts = bench_prep_stripes.make_block(nang, nrows, ncol)
    flats = np.full((10, nrows, ncol), 4000.0, np.float32)
    darks = np.full((5, nrows, ncol), 100.0, np.float32)
    transmission = np.exp(-sino)
    rng = np.random.default_rng(0)
    proj = (0.8 + 0.2 * rng.random((2, 2048, 2048))).astype(np.float32)
    img = bench_post._slice(2048, rng)
    vol = np.stack([img + rng.normal(0, 0.05, img.shape).astype(np.float32) for _ in range(8)])
    bh = (0.0, 1.0, 0.0, 0.0, 0.0, 0.1)
    centre = ncol - 1 - 0.07 * ncol
    ring = dict(thresh=0.3, thresh_max=3.0, thresh_min=-1.0)
    return {
        "remove_outlier_1d": (lambda: prep.remove_outlier_1d(counts, dif=500.0, size=5), nrows, "slice"),
        "remove_outlier_2d": (lambda: prep.remove_outlier_2d(counts, dif=500.0, size=5), nrows, "slice"),
        "normalize": (lambda: prep.normalize(counts, flats, darks), nrows, "slice"),
        "minus_log": (lambda: prep.minus_log(transmission), nrows, "slice"),
        "beam_hardening": (lambda: prep.beam_hardening(sino, coefficients=bh), nrows, "slice"),
        "remove_stripe_fw": (lambda: prep.remove_stripe_fw(sino, level=8, wname="db5", sigma=3), nrows, "slice"),
        "remove_stripe_ti": (lambda: prep.remove_stripe_ti(sino, nblock=0, alpha=1.5), nrows, "slice"),
        "remove_stripe_sf": (lambda: prep.remove_stripe_sf(sino, size=5), nrows, "slice"),
        "correct_tilt": (lambda: correct_tilt(sino, angle_deg=TILT_DEG, center_row=(nrows - 1) / 2), nrows, "slice"),
        "sino_360_to_180": (lambda: sino_360_to_180(sino, center=centre, rotation="right"), nrows, "slice"),
        "retrieve_phase": (lambda: prep.retrieve_phase(proj, **bench_prep_phase.PARAMS), proj.shape[0], "proj"),
        "remove_ring": (lambda: post.remove_ring(img, **ring), 1, "slice"),
        "circ_mask": (lambda: post.circ_mask(vol, ratio=1.0, val=0.0), vol.shape[0], "slice"),
        "to_uint8": (lambda: post.to_uint8(vol, dmin=-0.5, dmax=2.5), vol.shape[0], "slice"),
        "bilateral_filter": (
            lambda: post.bilateral_filter(vol, spatial_radius=3, range_radius=0.2),
            vol.shape[0],
            "slice",
        ),
    }


def _warm_up() -> None:
    """Compile (or load) every numba kernel on tiny inputs."""
    from alsmicroct import post, prep
    from alsmicroct.prep.stitch import sino_360_to_180
    from alsmicroct.prep.tilt import correct_tilt

    sino, counts = bench_prep_stripes.make_block(64, 2, 128)
    prep.remove_outlier_1d(counts, dif=500.0, size=5)
    prep.remove_outlier_2d(counts, dif=500.0, size=5)
    prep.normalize(counts, np.full((2, 2, 128), 4000.0, np.float32), np.full((2, 2, 128), 100.0, np.float32))
    prep.minus_log(np.exp(-sino))
    prep.beam_hardening(sino, coefficients=(0.0, 1.0, 0.0, 0.0, 0.0, 0.1))
    prep.remove_stripe_fw(sino, level=2, wname="db5", sigma=3)
    prep.remove_stripe_ti(sino, nblock=0, alpha=1.5)
    prep.remove_stripe_sf(sino, size=5)
    correct_tilt(sino, angle_deg=TILT_DEG, center_row=0.5)
    sino_360_to_180(sino, center=120.0, rotation="right")
    small = bench_post._slice(64, np.random.default_rng(0))
    post.remove_ring(small, thresh=0.3, thresh_max=3.0, thresh_min=-1.0)
    post.bilateral_filter(np.stack([small] * 3), spatial_radius=3, range_radius=0.2)


def main(argv: list[str] | None = None) -> None:
    """Run every step ``--repeat`` times and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4, help="sinograms per call of the sinogram steps")
    ap.add_argument("--angles", type=int, default=3217)
    ap.add_argument("--columns", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*", help="time only these steps")
    args = ap.parse_args(argv)
    from scipy import ndimage

    _warm_up()
    steps = _steps(args)
    if args.only:
        steps = {k: v for k, v in steps.items() if k in args.only}
    sino, _ = bench_prep_stripes.make_block(args.angles, 1, args.columns)
    one = np.ascontiguousarray(sino[:, 0, :])
    square = np.ascontiguousarray(np.resize(one, (2048, 2048)))
    timed: dict[str, Callable[[], object]] = {
        "reference": lambda: np.fft.rfft(one, axis=0),
        "ndimage.rotate": lambda: ndimage.rotate(square, TILT_DEG, reshape=False, order=3),
    }
    timed.update({name: call for name, (call, _, _) in steps.items()})
    best = bench_prep_stripes.best_times(timed, args.repeat)
    ref = best.pop("reference")
    if "correct_tilt" in steps:
        TOMOPY["correct_tilt"] = best["ndimage.rotate"] * args.angles / 2048
    best.pop("ndimage.rotate")
    ncores = bench_prep_stripes.available_cores()
    print(
        f"{args.angles} angles x {args.columns} columns ({args.rows} rows per sinogram call), "
        f"2048 x 2048 projections and slices; {ncores} cores; best of {args.repeat}"
    )
    print(f"reference: numpy.fft.rfft of one sinogram along the angles: {ref:.4f} s")
    print(f"{'step':<20}{'seconds':>10}{'per':>7}{'x ref':>8}{'TomoPy':>9}{'ratio':>8}")
    for name, seconds in best.items():
        _, items, unit = steps[name]
        each = seconds / items
        tomopy = TOMOPY.get(name)
        if name == "bilateral_filter":
            tomopy = BILATERAL_TARGET_S
        tp = f"{tomopy:>9.3f}{each / tomopy:>8.2f}" if tomopy else f"{'-':>9}{'-':>8}"
        print(f"{name:<20}{each:>10.4f}{unit:>7}{each / ref:>8.2f}{tp}")
    print(
        f"TomoPy column: recorded figures ({_tomopy.SOURCE}), not measured in this run (the per-module "
        "benchmarks with --tomopy-python measure them); for bilateral_filter the 1 s target; "
        "for correct_tilt scipy.ndimage.rotate (order 3, same run)."
    )


if __name__ == "__main__":
    main()
