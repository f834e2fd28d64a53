"""Compatibility re-export (one release): the batch library moved to :mod:`alsmicroct.jobs`
(:mod:`~alsmicroct.jobs.entries`, :mod:`~alsmicroct.jobs.batch`), the command-line helpers to
:mod:`alsmicroct.cli._common`."""

from ..cli._common import *  # noqa: F403
from ..cli._common import __all__ as _cli_all
from ..io.atomic import write_json_atomic
from ..jobs.batch import plan_jobs
from ..jobs.entries import (
    JobResult,
    ScanEntry,
    ScanJob,
    load_config,
    read_line_entries,
    read_text_lines,
    select_line,
)

__all__ = [
    *_cli_all,
    "JobResult",
    "ScanEntry",
    "ScanJob",
    "load_config",
    "plan_jobs",
    "read_line_entries",
    "read_text_lines",
    "select_line",
    "write_json_atomic",
]
