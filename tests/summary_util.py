"""The batch summary row of one finished job (for tests of its columns)."""

from __future__ import annotations

from typing import Any

from alsmicroct.jobs.batch import summary_rows
from alsmicroct.jobs.entries import JobResult


class _Job:
    number = 1
    output_dir = "out"

    class entry:
        scan = "scan_als"


def summary_row(*, cor: float, detail: dict[str, Any]) -> list:
    """The summary table row of a 'done' job of 6 slices in 1 s with ``cor`` and ``detail``."""
    return summary_rows([JobResult(_Job(), "done", cor=cor, slices=6, seconds=1.0, detail=detail)])[0]
