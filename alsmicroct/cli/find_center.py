"""``alsmicroct-find-center``: estimate the centre of rotation and sweep around it.

Prints the estimates of the automatic methods (``pc`` phase correlation of the 0 and 180
degree projections, ``vo`` Vo's Fourier method, ``nm`` entropy minimisation), then
reconstructs one row over a range of centres and writes one TIFF per centre plus a
labelled montage PNG, to pick the sharpest by eye.

Examples
--------
::

    alsmicroct-find-center scan.h5                      # estimates + sweep +/-5 px, step 0.5
    alsmicroct-find-center scan.h5 --range 1010:1040 --step 1 --row 900
    alsmicroct-find-center scan.h5 --methods pc,vo --no-sweep --json centres.json
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

from ..errors import ParameterError
from ..io.atomic import write_json_atomic
from ..names import CENTER_METHODS
from ..params import parse_overrides
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    add_logging_args,
    format_table,
    guarded_main,
)

__all__ = ["main", "sweep_centres"]

logger = logging.getLogger(__name__)

_METHODS = CENTER_METHODS


def sweep_centres(around: float | None, spec: str, step: float, nrays: int) -> list[float]:
    """Trial centres for the sweep.

    Parameters
    ----------
    around : float or None
        Centre of the sweep when ``spec`` is a half-width.
    spec : str
        ``"R"``: from ``around - R`` to ``around + R``; ``"A:B"``: from A to B (pixels).
    step : float
        Spacing, pixels (> 0).
    nrays : int
        Detector columns; centres are kept within ``0 .. nrays - 1``.

    Raises
    ------
    ParameterError
        For a malformed range, a step <= 0, or no centre inside the detector.
    """
    if not step > 0:
        raise ParameterError(f"--step {step}: expected a positive number of pixels")
    try:
        if ":" in spec:
            lo_text, _, hi_text = spec.partition(":")
            lo, hi = float(lo_text), float(hi_text)
        else:
            half = float(spec)
    except ValueError:
        raise ParameterError(f"--range {spec!r}: expected a half-width R or A:B in pixels") from None
    if ":" not in spec:
        if around is None or not math.isfinite(around):
            raise ParameterError("--range R needs a centre estimate; give --center or --range A:B")
        lo, hi = around - half, around + half
    if not lo <= hi:
        raise ParameterError(f"--range {spec!r}: the start must not exceed the end")
    count = math.floor((hi - lo) / step + 1e-9) + 1
    centres = [round(lo + i * step, 6) for i in range(count)]
    inside = [c for c in centres if 0 <= c <= nrays - 1]
    if not inside:
        raise ParameterError(f"--range {spec!r}: no centre lies on the detector (0..{nrays - 1})")
    return inside


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alsmicroct-find-center",
        description="Print the centre-of-rotation estimates (pc, vo, nm) of a raw scan, then "
        "reconstruct one row over a range of centres: one TIFF per centre and a "
        "labelled montage PNG to pick the sharpest by eye.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: alsmicroct-find-center scan.h5 --range 1010:1040 --step 1 --row 900",
    )
    parser.add_argument("scan", help="raw HDF5 file ('.h5' may be left out)")
    parser.add_argument("--methods", default="pc,vo,nm", help="comma-separated methods among pc, vo, nm (default: all)")
    parser.add_argument(
        "--range",
        dest="span",
        default="5",
        metavar="R|A:B",
        help="sweep +/-R pixels around the estimate, or from A to B (default: 5)",
    )
    parser.add_argument("--step", type=float, default=0.5, help="sweep step, pixels (default: 0.5)")
    parser.add_argument("--row", type=int, help="detector row of the sweep (default: the middle row)")
    parser.add_argument(
        "--center", type=float, metavar="PIXELS", help="sweep around this centre instead of the median estimate"
    )
    parser.add_argument("--no-sweep", action="store_true", help="only print the estimates")
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        help="output root (default: next to the raw file); the sweep goes to DIR/rec<scan>/try_centers_row<row>/",
    )
    parser.add_argument(
        "--set",
        dest="set_tokens",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="recon() keyword used for pre-processing and centre finding "
        "(e.g. voInd=100, doFWringremoval=false); repeatable",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    add_logging_args(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _build_parser().parse_args(argv)

    def body(add_log_file) -> int:
        from ..io import open_scan
        from ..pipeline.plan import resolve_input
        from ..reconstruction import find_centers, try_centers

        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
        unknown = [m for m in methods if m not in _METHODS]
        if unknown or not methods:
            raise ParameterError(f"--methods {args.methods!r}: expected a comma list of {', '.join(_METHODS)}")
        keywords = parse_overrides(args.set_tokens, source="command line --set")
        path = resolve_input(args.scan, keywords.pop("inputPath", "./"))
        with open_scan(path) as scan:
            nrays = scan.meta.nrays
        estimates = find_centers(path.name, path.parent, methods=methods, **keywords)
        good = sorted(v for v in estimates.values() if math.isfinite(v))
        median = None
        if good:
            mid = len(good) // 2
            median = good[mid] if len(good) % 2 else (good[mid - 1] + good[mid]) / 2
        rows = [[m, "failed" if not math.isfinite(v) else f"{v:.2f}"] for m, v in estimates.items()]
        rows.append(["median", "-" if median is None else f"{median:.2f}"])
        print(f"Centre of rotation of {path} (pixels from the left edge, {nrays} columns)")
        print(format_table(rows, ("method", "centre")))
        record = {
            "scan": str(path),
            "estimates": {m: (v if math.isfinite(v) else None) for m, v in estimates.items()},
            "median": median,
            "sweep": None,
        }
        status = EXIT_OK if median is not None else EXIT_FAILED
        if not args.no_sweep:
            around = args.center if args.center is not None else median
            centres = sweep_centres(around, args.span, args.step, nrays)
            logger.info("sweeping %d centres from %.2f to %.2f", len(centres), centres[0], centres[-1])
            files, montage = try_centers(
                path.name, centres, path.parent, row=args.row, outputPath=args.output_dir, **keywords
            )
            record["sweep"] = {"centres": centres, "files": [str(f) for f in files], "montage": str(montage)}
            print(
                f"Sweep: {len(files)} slices ({centres[0]:.2f} .. {centres[-1]:.2f}, step {args.step}) "
                f"in {Path(files[0]).parent}"
            )
            print(f"Montage: {montage}")
        if args.json is not None:
            print(f"JSON: {write_json_atomic(args.json, record)}")
        return status

    return guarded_main(args, body)


if __name__ == "__main__":
    raise SystemExit(main())
