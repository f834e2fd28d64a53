"""Many scans, many nodes: batch lists, spreadsheets, TOML configs and ``input832`` files
(readers), batch planning and running, Dask clusters, SLURM row parts and their merging.
A library: no argument parsing, no printing (the command lines live in :mod:`alsmicroct.cli`).
"""

from __future__ import annotations

from .batch import dry_run_job, plan_jobs, run_job, run_jobs
from .clusters import DistributedBatchError, make_cluster, recon_distributed
from .entries import JobResult, ScanEntry, ScanJob, load_config
from .input832 import read_parameter_file
from .lists import read_scan_list
from .parts import merge_parts, part_provenance_name, plan_scan, recon_part, split_rows
from .spreadsheet import read_spreadsheet

__all__ = [
    "DistributedBatchError",
    "JobResult",
    "ScanEntry",
    "ScanJob",
    "dry_run_job",
    "load_config",
    "make_cluster",
    "merge_parts",
    "part_provenance_name",
    "plan_jobs",
    "plan_scan",
    "read_parameter_file",
    "read_scan_list",
    "read_spreadsheet",
    "recon_distributed",
    "recon_part",
    "run_job",
    "run_jobs",
    "split_rows",
]
