"""``python -m alsmicroct.cli.distributed part|merge``: one scan split in row ranges over
SLURM array tasks (see ``batch/recon_slices.slurm`` and :mod:`alsmicroct.jobs.parts`)."""

from __future__ import annotations

import argparse
import logging
import socket
from pathlib import Path
from typing import Any

from ..errors import AlsMicroCTError, ReconstructionError
from ..jobs.entries import load_config
from ..jobs.parts import merge_parts, recon_part, slurm_info
from ..params import parse_overrides
from ._common import EXIT_FAILED, EXIT_OK, add_logging_args, guarded_main

__all__ = ["main"]

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m alsmicroct.cli.distributed",
        description="One scan split in row ranges over SLURM array tasks (see batch/recon_slices.slurm).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("part", "reconstruct one part; the last part to finish merges"),
        ("merge", "merge the parts' provenance into recon_parameters.json"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("scan", help="raw HDF5 file (relative to --input-dir)")
        if name == "part":
            p.add_argument("--part", type=int, required=True, metavar="K", help="this part, 1-based")
            p.add_argument("--no-merge", action="store_true", help="never merge (leave it to `merge`)")
            p.add_argument(
                "--resume",
                choices=("auto", "yes", "no"),
                default="auto",
                help="auto: keep slices of an identical earlier run; yes: keep complete "
                "slices (refused if parameters changed); no: recompute",
            )
        p.add_argument("--parts", type=int, required=True, metavar="N", help="number of parts")
        p.add_argument("--config", type=Path, metavar="TOML", help="TOML file of recon() keywords")
        p.add_argument(
            "--set",
            dest="set_tokens",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a recon() keyword (repeatable; wins over --config)",
        )
        p.add_argument("--input-dir", metavar="DIR", help="folder of a relative raw file (default: ./)")
        p.add_argument("--output-dir", metavar="DIR", help="output root (slices in DIR/rec<scan>/)")
        add_logging_args(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m alsmicroct.cli.distributed part|merge ...``; returns the exit status.

    Exit status: 0 done, 1 the reconstruction or the merge failed, 2 bad input (parameters,
    unreadable or corrupt raw file, unwritable output).
    """
    args = _parser().parse_args(argv)

    def body(_add_log_file: Any) -> int:
        keywords = load_config(args.config) if args.config is not None else {}
        keywords.update(parse_overrides(args.set_tokens, source="command line --set"))
        input_dir = keywords.pop("inputPath", "./") if args.input_dir is None else args.input_dir
        if args.output_dir is not None:
            keywords["outputPath"] = args.output_dir
        logger.info("%s on %s: %s %s", args.command, socket.gethostname(), args.scan, slurm_info())
        try:
            if args.command == "merge":
                merge_parts(args.scan, args.parts, input_dir, **keywords)
            else:
                resume = {"auto": None, "yes": True, "no": False}[args.resume]
                recon_part(
                    args.scan, args.part, args.parts, input_dir, resume=resume, merge=not args.no_merge, **keywords
                )
        except (AlsMicroCTError, OSError) as exc:
            if isinstance(exc, AlsMicroCTError) and not isinstance(exc, ReconstructionError):
                raise  # bad input: guarded_main gives exit status 2
            logger.error("%s: %s failed: %s: %s", args.scan, args.command, type(exc).__name__, exc)
            logger.debug("details", exc_info=True)
            return EXIT_FAILED
        return EXIT_OK

    return guarded_main(args, body)


if __name__ == "__main__":
    raise SystemExit(main())
