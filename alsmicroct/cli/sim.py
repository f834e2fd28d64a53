"""Command line: ``python -m alsmicroct.sim OUT.h5 [options]`` (``alsmicroct-sim``).

Writes a simulated raw scan and its ``<stem>_truth.h5`` and prints where they went.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import AlsMicroCTError
from ..sim.phantom import PHANTOMS

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the simulator's command line."""
    p = argparse.ArgumentParser(
        prog="alsmicroct-sim",
        description="Simulate an ALS 8.3.2 micro-CT raw scan with known truth.",
    )
    p.add_argument("output", help="raw HDF5 file to write (the truth goes to <stem>_truth.h5)")
    p.add_argument("--layout", choices=("als", "dxchange"), default="als", help="raw file layout")
    p.add_argument("--phantom", choices=PHANTOMS, default="shepp", help="sample")
    p.add_argument("--dataset", help="dataset name (default: file stem)")
    p.add_argument("--nangles", type=int, default=361, help="projections")
    p.add_argument("--nslices", type=int, default=16, help="detector rows")
    p.add_argument("--nrays", type=int, default=256, help="detector columns")
    p.add_argument("--arange", type=float, default=180.0, help="angular range, degrees")
    p.add_argument("--cor", type=float, help="rotation axis, pixels from the left edge")
    p.add_argument("--pxsize-mm", type=float, default=0.00325, help="pixel size, mm")
    p.add_argument("--energy-kev", type=float, default=24.0, help="beam energy, keV")
    p.add_argument("--distance-mm", type=float, default=75.0, help="sample-detector distance, mm")
    p.add_argument("--i0cycle", type=int, default=0, help="flat group every N projections (0: ends)")
    p.add_argument("--num-flats", type=int, default=5, help="flats per group")
    p.add_argument("--num-darks", type=int, default=5, help="dark images")
    p.add_argument("--flux", type=float, default=16000.0, help="peak open-beam counts")
    p.add_argument("--no-noise", action="store_true", help="expected counts, no noise")
    p.add_argument("--rings", type=float, default=0.0, help="relative per-pixel gain error")
    p.add_argument("--zingers", type=float, default=0.0, help="zinger probability per pixel")
    p.add_argument("--dead-columns", type=int, default=0, help="unresponsive columns")
    p.add_argument("--partial-columns", type=int, default=0, help="saturating columns")
    p.add_argument("--fluctuating-columns", type=int, default=0, help="fluctuating columns")
    p.add_argument("--tilt-deg", type=float, default=0.0, help="detector tilt, degrees")
    p.add_argument("--beam-hardening", action="store_true", help="polychromatic beam")
    p.add_argument("--delta-beta", type=float, help="phase contrast with this delta/beta")
    p.add_argument(
        "--peak-attenuation",
        type=float,
        help="largest line integral (default 1.5, or 0.05 with --delta-beta)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--no-truth", action="store_true", help="do not write the truth volume")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    return p


#: Options that are not keywords of :class:`~alsmicroct.sim.ScanConfig`.
_NOT_SCAN_PARAMETERS = ("output", "layout", "dataset", "no_truth", "verbose", "no_noise")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 on success, 2 on an error)."""
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from ..sim.scan import simulate_scan

    # every other option is a keyword of ScanConfig under its own name
    params = {k: v for k, v in vars(args).items() if k not in _NOT_SCAN_PARAMETERS}
    params["noise"] = not args.no_noise
    if args.peak_attenuation is None:
        params["peak_attenuation"] = "auto"
    try:
        s = simulate_scan(
            args.output,
            layout=args.layout,
            dataset=args.dataset,
            write_truth=not args.no_truth,
            progress=args.verbose,
            **params,
        )
    except AlsMicroCTError as exc:
        print(f"alsmicroct-sim: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"raw scan: {s.path} ({args.layout}, {s.config.nangles} x {s.config.nslices} x "
        f"{s.config.nrays}, cor {s.cor:.2f} px)"
    )
    print(f"truth: {s.truth_path if s.truth_path is not None else '(not written)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
