"""Compatibility re-exports (one release): the Dask and SLURM scale-out moved to
:mod:`alsmicroct.jobs` (:mod:`~alsmicroct.jobs.clusters`, :mod:`~alsmicroct.jobs.parts`),
``run_on_client`` to :mod:`alsmicroct.pipeline.cluster` and the command line to
:mod:`alsmicroct.cli.distributed` (``python -m alsmicroct.distributed part|merge`` still works).
"""

from __future__ import annotations

from .cli.distributed import main
from .jobs.clusters import DistributedBatchError, make_cluster, recon_distributed
from .jobs.parts import merge_parts, part_provenance_name, plan_scan, recon_part, split_rows
from .pipeline.cluster import run_on_client

__all__ = [
    "DistributedBatchError",
    "main",
    "make_cluster",
    "merge_parts",
    "part_provenance_name",
    "plan_scan",
    "recon_distributed",
    "recon_part",
    "run_on_client",
    "split_rows",
]

if __name__ == "__main__":
    raise SystemExit(main())
