"""Many scans or one scan on a Dask cluster: :func:`make_cluster`, :func:`recon_distributed`.

``recon(..., client=client)`` hands the row blocks of a scan to the workers of a
``dask.distributed`` cluster (:func:`alsmicroct.pipeline.cluster.run_on_client`);
:func:`recon_distributed` does the same for one scan, a list of scans or a path-list file,
on a ``LocalCluster`` (one machine) or a ``dask_jobqueue.SLURMCluster`` (workers are SLURM
jobs, across nodes)::

    from alsmicroct.jobs import recon_distributed
    recon_distributed("scan.h5", cluster="local", n_workers=8, chunk_sino=16)
    recon_distributed("list.txt", cluster="slurm", n_workers=20,
                      cluster_options={"account": "als", "queue": "regular",
                                       "job_extra_directives": ["-C cpu"]})
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import ParameterError, ReconstructionError
from ..pipeline.cluster import require

__all__ = ["DistributedBatchError", "make_cluster", "recon_distributed"]

logger = logging.getLogger(__name__)

_LIST_SUFFIXES = (".txt", ".lst", ".list")


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class DistributedBatchError(ReconstructionError):
    """Some scans of :func:`recon_distributed` failed; the others were completed.

    Attributes
    ----------
    results : list
        One entry per scan, in input order: a ``ReconResult`` or the exception raised.
    """

    def __init__(self, message: str, results: list[Any]) -> None:
        super().__init__(message)
        self.results = results


def make_cluster(kind: str = "local", *, n_workers: int = 2, threads_per_worker: int = 1, **options: Any) -> Any:
    """Start a Dask cluster of single-process workers.

    Parameters
    ----------
    kind : {"local", "slurm"}
        ``"local"``: :class:`distributed.LocalCluster` on this machine. ``"slurm"``:
        :class:`dask_jobqueue.SLURMCluster`, one SLURM job per worker (``processes=1``).
    n_workers : int
        Workers to start (for SLURM: jobs submitted; the caller waits for them).
    threads_per_worker : int
        Threads per worker (``cores`` per SLURM job); thread pools inside the worker
        (OpenMP, Numba, OpenBLAS) are limited to it via the environment.
    **options
        Passed to the cluster class, e.g. for SLURM ``account``, ``queue``, ``memory``
        (default "4GB"), ``walltime``, ``job_extra_directives=["-C cpu", "-q regular"]``,
        ``python`` (default: this interpreter), ``log_directory``.

    Returns
    -------
    LocalCluster or SLURMCluster
    """
    if n_workers < 1 or threads_per_worker < 1:
        raise ParameterError(f"n_workers={n_workers}, threads_per_worker={threads_per_worker}: expected >= 1")
    threads = str(threads_per_worker)
    if kind == "local":
        dask = require("dask")
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
        environ.update(dict.fromkeys(_THREAD_VARIABLES, threads))
        # The nannies of a LocalCluster live in this process and apply pre-spawn-environ to
        # os.environ here; restore it once the workers run, or libraries of this process
        # (Numba refuses a changed NUMBA_NUM_THREADS) would see the workers' limits.
        saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
        try:
            with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
                settings = {
                    "n_workers": n_workers,
                    "threads_per_worker": threads_per_worker,
                    "processes": True,
                    "dashboard_address": ":0",
                    **options,
                }
                return require("distributed").LocalCluster(**settings)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    if kind == "slurm":
        prologue = [f"export {name}={threads}" for name in _THREAD_VARIABLES]
        prologue.append("export HDF5_USE_FILE_LOCKING=FALSE")
        settings = {"cores": threads_per_worker, "processes": 1, "memory": "4GB", "python": sys.executable, **options}
        settings["job_script_prologue"] = [*prologue, *settings.get("job_script_prologue", [])]
        cluster = require("dask_jobqueue").SLURMCluster(**settings)
        logger.debug("SLURM worker job script:\n%s", cluster.job_script())
        cluster.scale(n_workers)
        return cluster
    raise ParameterError(f"cluster={kind!r}: expected 'local' or 'slurm'")


def _scan_entries(filenames_or_list: Any) -> list[tuple[str, dict[str, Any]]]:
    """(raw file, per-scan overrides) for a raw file, a path-list file or a sequence of files."""
    if isinstance(filenames_or_list, str | os.PathLike):
        path = Path(os.fspath(filenames_or_list))
        if path.suffix.lower() in _LIST_SUFFIXES:
            from .lists import read_scan_list

            return [(e.scan, dict(e.overrides)) for e in read_scan_list(path)]
        return [(os.fspath(path), {})]
    if isinstance(filenames_or_list, Sequence) and filenames_or_list:
        return [(os.fspath(f), {}) for f in filenames_or_list]
    raise ParameterError(
        f"filenames_or_list={filenames_or_list!r}: expected a raw file, a path-list "
        f"file ({', '.join(_LIST_SUFFIXES)}) or a non-empty sequence of raw files"
    )


def recon_distributed(
    filenames_or_list: Any,
    inputPath: str | os.PathLike = "./",
    *,
    client: Any = None,
    cluster: str = "local",
    n_workers: int = 2,
    threads_per_worker: int = 1,
    cluster_options: Mapping[str, Any] | None = None,
    worker_timeout: float = 600.0,
    concurrent_scans: int = 1,
    **legacy_keywords: Any,
) -> list[Any]:
    """Reconstruct one or more scans with their row blocks spread over a Dask cluster.

    Parameters
    ----------
    filenames_or_list : str, path-like or sequence
        One raw file, a path-list file (``.txt``/``.lst``/``.list``, the format of
        ``alsmicroct-recon-batch``, per-line ``key=value`` overrides included) or a
        sequence of raw files (relative to ``inputPath``).
    inputPath : str or path-like
        Folder of relative raw files, as in ``recon()``.
    client : distributed.Client, optional
        Use this cluster; none is started or closed here.
    cluster : {"local", "slurm"}
        Cluster to start when ``client`` is None (see :func:`make_cluster`); it is closed
        at the end.
    n_workers, threads_per_worker : int
        Size of the started cluster.
    cluster_options : mapping, optional
        Extra options of the cluster class (SLURM account, queue, memory, ...).
    worker_timeout : float
        Seconds to wait for the first worker of a started cluster (SLURM queue wait).
    concurrent_scans : int
        Scans of a list in flight at once (their blocks share the workers).
    **legacy_keywords
        ``recon()`` keywords (``resume``, ``progress``, ``quicklook``,
        ``provenance_name`` and every legacy keyword); ``chunk_sino`` sets the rows per
        task (use a value that gives several blocks per worker).

    Returns
    -------
    list of ReconResult
        One per scan, in input order.

    Raises
    ------
    DistributedBatchError
        When some scans failed (after the others finished); ``.results`` holds each
        scan's result or exception. A single scan's error is raised as is.
    """
    from ..reconstruction import recon

    entries = _scan_entries(filenames_or_list)
    with contextlib.ExitStack() as stack:
        if client is None:
            started = stack.enter_context(
                make_cluster(
                    cluster, n_workers=n_workers, threads_per_worker=threads_per_worker, **dict(cluster_options or {})
                )
            )
            client = stack.enter_context(require("distributed").Client(started))
            client.wait_for_workers(1, timeout=worker_timeout)

        def one(entry: tuple[str, dict[str, Any]]) -> Any:
            name, overrides = entry
            return recon(name, inputPath, client=client, **{**legacy_keywords, **overrides})

        if len(entries) == 1:
            return [one(entries[0])]
        results: list[Any] = []
        with ThreadPoolExecutor(max(1, concurrent_scans), thread_name_prefix="alsmicroct-scan") as pool:
            for entry, future in [(e, pool.submit(one, e)) for e in entries]:
                try:
                    results.append(future.result())
                except Exception as exc:
                    logger.error("%s: failed: %s: %s", entry[0], type(exc).__name__, exc)
                    results.append(exc)
    failed = [
        f"{name}: {type(r).__name__}: {r}"
        for (name, _), r in zip(entries, results, strict=True)
        if isinstance(r, Exception)
    ]
    if failed:
        raise DistributedBatchError(f"{len(failed)} of {len(entries)} scans failed:\n  " + "\n  ".join(failed), results)
    return results
