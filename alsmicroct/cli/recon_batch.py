"""``alsmicroct-recon-batch``: reconstruct every scan of a plain-text path list.

List format (parsed, never executed)::

    # comment lines and blank lines are ignored; text after " #" is a comment too
    20240101_120000_rock.h5
    /data/raw/20240101_121500_bone                     cor=1023.5 sinoused=(-1,20,1)
    "folder with spaces/scan 3.h5"                     doPhaseRetrieval=true alphaReg=0.001

One raw file per line (absolute, or relative to ``--input-dir``; ".h5" may be left out),
then optional ``key=value`` overrides (recon() keyword names) for that scan only. Tokens
are split like a shell does (:mod:`shlex`): quote a path or a value that contains spaces.
``$NAME`` / ``${NAME}`` are replaced by environment variables (an unset one is an error;
``$$`` is a literal ``$``). A keyword given twice on one line is an error.

Examples
--------
::

    alsmicroct-recon-batch filepath/example_list.txt --dry-run
    alsmicroct-recon-batch list.txt --config beamtime.toml --output-dir /scratch/rec --resume
    alsmicroct-recon-batch list.txt --line $SLURM_ARRAY_TASK_ID      # one scan per array task
"""

from __future__ import annotations

import logging

from ..jobs.lists import LIST_FORMAT, read_scan_list, split_list_line
from ._common import batch_main, build_batch_parser

__all__ = ["main", "read_path_list", "read_scan_list", "split_list_line"]

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = build_batch_parser(
        "alsmicroct-recon-batch",
        "Reconstruct every raw scan of a path list with recon(), each in isolation.",
        "text file: one raw file per line, optional key=value overrides after it",
        epilog=LIST_FORMAT,
    )
    return batch_main(parser.parse_args(argv), lambda args: read_scan_list(args.source))


#: The old name (kept for one release; :func:`alsmicroct.data_management.read_path_list` is the
#: SPOT client's list of dataset names).
read_path_list = read_scan_list


if __name__ == "__main__":
    raise SystemExit(main())
