"""Scale-out of :func:`~alsmicroct.reconstruction.recon`: Dask clusters and SLURM row splits.

Two ways to spread one reconstruction over many cores or nodes, both writing exactly the
slices (and provenance) that a single-process ``recon()`` writes:

Dask (interactive, notebooks, one allocation)
    ``recon(..., client=client)`` hands the row blocks of the scan to the workers of a
    ``dask.distributed`` cluster (:func:`run_on_client`); every worker opens the raw file,
    reads only its own rows and writes its own slices. :func:`recon_distributed` does the
    same for one scan, a list of scans or a path-list file, on a ``LocalCluster`` (one
    machine) or a ``dask_jobqueue.SLURMCluster`` (workers are SLURM jobs, across nodes)::

        from alsmicroct.distributed import recon_distributed
        recon_distributed("scan.h5", cluster="local", n_workers=8, chunk_sino=16)
        recon_distributed("list.txt", cluster="slurm", n_workers=20,
                          cluster_options={"account": "als", "queue": "regular",
                                           "job_extra_directives": ["-C cpu"]})

SLURM job arrays (``batch/recon_slices.slurm``)
    One scan split into ``N`` contiguous row ranges, one per array task
    (:func:`recon_part`, ``python -m alsmicroct.distributed part``). The centre is resolved
    on the whole scan in every task (deterministic, so all tasks agree); each task calls
    ``recon()`` for its rows with its own provenance file
    (``recon_parameters.partKKKofNNN.json``); the task that finishes last merges the parts
    into ``recon_parameters.json`` (:func:`merge_parts`, also ``python -m
    alsmicroct.distributed merge``), exactly the record a single-process run writes, plus
    a ``parts`` list.

Dask is imported inside the functions only, so ``import alsmicroct`` stays light.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .errors import AlsMicroCTError, ParameterError, ReconstructionError
from .pipeline.provenance import PROVENANCE_NAME

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

logger = logging.getLogger(__name__)

_LIST_SUFFIXES = (".txt", ".lst", ".list")
_STALE_LOCK_S = 600.0
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


# ============================================================================ Dask
def _require(module: str) -> Any:
    """Import ``module`` (dask, distributed, dask_jobqueue) or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ParameterError(f"{module} is needed for Dask runs ({exc}); install it with "
                             "pip install 'alsmicroct[distributed]'") from exc


def _process_block(plan: Any, skip_rows: frozenset[int], start: int,
                   end: int) -> tuple[int, int, dict[str, float], str]:
    """Worker side: reconstruct and write ``plan.rows[start:end]``; returns the stage timings."""
    from .pipeline.runner import Runner

    runner = Runner(plan, skip_rows=set(skip_rows))
    runner.process_block(start, end)
    return start, end, dict(runner.timer.times), socket.gethostname()


def run_on_client(client: Any, runner: Any, *, retries: int = 1) -> list[Path]:
    """Run a :class:`~alsmicroct.pipeline.runner.Runner`'s final pass on a Dask cluster.

    Called by ``recon(..., client=client)``. Blocks of ``runner.final_blocks()`` that hold
    a row still to do are submitted one task each; every worker opens the raw file (or
    the pre-processed store, for projection steps such as phase retrieval, which are
    first run here, locally) and writes its own slices atomically, so a block retried
    after a lost worker is harmless. Completions are logged (and shown as a progress bar
    when ``runner.progress``); stage timings of the workers are added to ``runner.timer``.

    Parameters
    ----------
    client : distributed.Client
        Connected client; its workers must see the raw file and the output folder at the
        same paths (shared file system).
    runner : Runner
        Prepared by ``recon()`` (plan resolved, ``skip_rows`` set for resume).
    retries : int
        Times a failed block is retried (a worker lost mid-block, for example).

    Returns
    -------
    list of Path
        Slice files of every planned row, in row order.

    Raises
    ------
    AlsMicroCTError
        The first error raised by a worker, as raised (``ReconstructionError`` wrapping
        anything that is not an ``AlsMicroCTError``); the remaining blocks are cancelled.
    """
    as_completed = _require("distributed").as_completed
    plan = runner.plan
    files = [plan.slice_path(int(r)) for r in plan.rows]
    skip = frozenset(int(r) for r in runner.skip_rows)
    blocks = [(a, b) for a, b in runner.final_blocks() if any(int(r) not in skip for r in plan.rows[a:b])]
    if not blocks:
        logger.info("all %d slices of %s already complete", plan.rows.size, plan.path.name)
        return files
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    try:
        if runner.proj_steps:
            runner.prepare_store()
        workers = client.scheduler_info().get("workers", {})
        logger.info("%s: %d blocks of <= %d rows on %d Dask worker(s) %s", plan.path.name, len(blocks),
                    plan.params.chunk_sino, len(workers), getattr(client, "dashboard_link", ""))
        if plan.params.num_threads is None and len(workers) > 1:
            logger.info("num_threads=None: the engine of every worker uses all the cores it sees; set "
                        "num_threads to the threads per worker to avoid oversubscription")
        remote_plan = client.scatter(plan, broadcast=True, hash=False)
        token = uuid.uuid4().hex[:8]
        futures = []
        for a, b in blocks:
            kept = skip.intersection(int(r) for r in plan.rows[a:b])
            futures.append(client.submit(_process_block, remote_plan, kept, a, b, pure=False, retries=retries,
                                         key=f"alsmicroct-{plan.prefix}-rows{a}-{b}-{token}"))
        _gather_blocks(futures, as_completed(futures), runner, len(blocks))
    finally:
        if runner.proj_steps:
            runner.remove_store()
    return files


def _gather_blocks(futures: list[Any], completed: Iterable[Any], runner: Any, total: int) -> None:
    """Wait for the block futures, log progress, add the workers' timings to ``runner``."""
    plan = runner.plan
    bar = None
    if runner.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"recon {plan.path.name} (dask)", unit="chunk", leave=False)
    t0 = time.perf_counter()
    try:
        for done, future in enumerate(completed, 1):
            try:
                start, end, timings, host = future.result()
            except Exception as exc:
                for other in futures:
                    other.cancel()
                if isinstance(exc, AlsMicroCTError):
                    raise
                raise ReconstructionError(f"{plan.path}: a Dask worker failed on a row block: "
                                          f"{type(exc).__name__}: {exc}") from exc
            for key, value in timings.items():
                runner.timer.times[key] += value
            if bar is not None:
                bar.update(1)
            logger.info("%s: block %d/%d done (rows %d-%d on %s, %.1f s elapsed)", plan.path.name, done, total,
                        int(plan.rows[start]), int(plan.rows[end - 1]), host, time.perf_counter() - t0)
    finally:
        if bar is not None:
            bar.close()


def make_cluster(kind: str = "local", *, n_workers: int = 2, threads_per_worker: int = 1,
                 **options: Any) -> Any:
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
        dask = _require("dask")
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
        environ.update(dict.fromkeys(_THREAD_VARIABLES, threads))
        # The nannies of a LocalCluster live in this process and apply pre-spawn-environ to
        # os.environ here; restore it once the workers run, or libraries of this process
        # (Numba refuses a changed NUMBA_NUM_THREADS) would see the workers' limits.
        saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
        try:
            with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
                settings = {"n_workers": n_workers, "threads_per_worker": threads_per_worker, "processes": True,
                            "dashboard_address": ":0", **options}
                return _require("distributed").LocalCluster(**settings)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    if kind == "slurm":
        prologue = [f"export {name}={threads}" for name in _THREAD_VARIABLES]
        prologue.append("export HDF5_USE_FILE_LOCKING=FALSE")
        settings = {"cores": threads_per_worker, "processes": 1, "memory": "4GB", "python": sys.executable,
                    **options}
        settings["job_script_prologue"] = [*prologue, *settings.get("job_script_prologue", [])]
        cluster = _require("dask_jobqueue").SLURMCluster(**settings)
        logger.debug("SLURM worker job script:\n%s", cluster.job_script())
        cluster.scale(n_workers)
        return cluster
    raise ParameterError(f"cluster={kind!r}: expected 'local' or 'slurm'")


def _scan_entries(filenames_or_list: Any) -> list[tuple[str, dict[str, Any]]]:
    """(raw file, per-scan overrides) for a raw file, a path-list file or a sequence of files."""
    if isinstance(filenames_or_list, str | os.PathLike):
        path = Path(os.fspath(filenames_or_list))
        if path.suffix.lower() in _LIST_SUFFIXES:
            from .apps.recon_batch import read_path_list

            return [(e.scan, dict(e.overrides)) for e in read_path_list(path)]
        return [(os.fspath(path), {})]
    if isinstance(filenames_or_list, Sequence) and filenames_or_list:
        return [(os.fspath(f), {}) for f in filenames_or_list]
    raise ParameterError(f"filenames_or_list={filenames_or_list!r}: expected a raw file, a path-list "
                         f"file ({', '.join(_LIST_SUFFIXES)}) or a non-empty sequence of raw files")


def recon_distributed(filenames_or_list: Any, inputPath: str | os.PathLike = "./", *, client: Any = None,
                      cluster: str = "local", n_workers: int = 2, threads_per_worker: int = 1,
                      cluster_options: Mapping[str, Any] | None = None, worker_timeout: float = 600.0,
                      concurrent_scans: int = 1, **legacy_keywords: Any) -> list[Any]:
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
    from .reconstruction import recon

    entries = _scan_entries(filenames_or_list)
    with contextlib.ExitStack() as stack:
        if client is None:
            started = stack.enter_context(make_cluster(cluster, n_workers=n_workers,
                                                       threads_per_worker=threads_per_worker,
                                                       **dict(cluster_options or {})))
            client = stack.enter_context(_require("distributed").Client(started))
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
    failed = [f"{name}: {type(r).__name__}: {r}" for (name, _), r in zip(entries, results)
              if isinstance(r, Exception)]
    if failed:
        raise DistributedBatchError(f"{len(failed)} of {len(entries)} scans failed:\n  " + "\n  ".join(failed),
                                    results)
    return results


# ================================================================= SLURM row split
def split_rows(nrows: int, nparts: int, *, unit: int = 1) -> list[tuple[int, int]]:
    """Split ``range(nrows)`` into contiguous, balanced ``[start, end)`` ranges of whole units.

    Every range starts at a multiple of ``unit`` (the last unit may be short); there are
    ``min(nparts, ceil(nrows / unit))`` ranges.
    """
    if nrows < 1 or nparts < 1 or unit < 1:
        raise ParameterError(f"split_rows({nrows}, {nparts}, unit={unit}): expected at least one row, "
                             "one part and a unit >= 1")
    nunits = -(-nrows // unit)
    n = min(nparts, nunits)
    bounds = [min(nrows, (nunits * k // n) * unit) for k in range(n + 1)]
    return list(itertools.pairwise(bounds))


def part_provenance_name(part: int, nparts: int, record: str = PROVENANCE_NAME) -> str:
    """Record of part ``part`` (1-based) of ``nparts`` of the run whose record is ``record``:
    ``recon_parameters.partKKKofNNN.json`` for the default prefix."""
    from .io.outputs import part_record_name

    return part_record_name(record, part, nparts)


def _record(plan: Any) -> str:
    from .io.outputs import record_name

    return record_name(plan.prefix, plan.path.stem)


def plan_scan(filename: str | os.PathLike, inputPath: str | os.PathLike = "./", **keywords: Any) -> Any:
    """The resolved :class:`~alsmicroct.pipeline.plan.ReconPlan` of a whole scan, centre included.

    Exactly what ``recon()`` plans before reconstructing (same parameters, rows and
    centre), without writing anything.
    """
    from .io import open_scan
    from .params import ReconParams
    from .pipeline.plan import make_plan, resolve_input, scan_options
    from .reconstruction import resolve_center

    params = ReconParams.from_mapping(keywords, inputPath=os.fspath(inputPath))
    path = resolve_input(filename, params.inputPath)
    with open_scan(path, **scan_options(params)) as scan:
        plan = make_plan(path, scan, params)
        resolve_center(scan, plan)
    return plan


def _part_ranges(plan: Any, nparts: int) -> list[tuple[int, int]]:
    """Row-index ranges of the parts: whole ``chunk_sino`` blocks, as a single run cuts them.

    A part's blocks are then exactly the blocks of a single-process run (gridrec pairs
    the rows of a block, so block boundaries show in the last bits of the result).
    """
    return split_rows(plan.rows.size, nparts, unit=plan.params.chunk_sino)


def _part_rows(plan: Any, part: int, nparts: int) -> tuple[int, int, int] | None:
    """``sinoused`` of part ``part`` (1-based), None when the scan has fewer blocks than parts."""
    if not 1 <= part <= nparts:
        raise ParameterError(f"part {part} of {nparts}: expected 1 <= part <= parts")
    ranges = _part_ranges(plan, nparts)
    if part > len(ranges):
        return None
    a, b = ranges[part - 1]
    rows = plan.rows
    step = int(rows[1] - rows[0]) if rows.size > 1 else 1
    return int(rows[a]), int(rows[b - 1]) + 1, step


def _slurm_info() -> dict[str, str]:
    names = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_CLUSTER_NAME")
    return {"host": socket.gethostname(), **{n.lower(): os.environ[n] for n in names if n in os.environ}}


def recon_part(filename: str | os.PathLike, part: int, nparts: int, inputPath: str | os.PathLike = "./", *,
               resume: bool | None = None, merge: bool = True, **keywords: Any) -> Any:
    """Reconstruct part ``part`` (1-based) of ``nparts`` contiguous row ranges of one scan.

    The centre is resolved on the whole scan (as a single ``recon()`` run does), the part
    is reconstructed by ``recon()`` with ``provenance_name=part_provenance_name(...)``;
    then, with ``merge``, the part that finds all parts complete merges them
    (:func:`merge_parts`). Parts are made of whole ``chunk_sino`` blocks, so at most
    ``ceil(rows / chunk_sino)`` parts get rows. Results equal a single-process run, except with
    ``doBilateralFilter`` (a 3-D filter: slices within ``bilateral_srad`` of a part
    boundary only see their own part) and at the edges of a projection step's margin.

    Returns
    -------
    ReconResult or None
        None when the scan has fewer rows than parts and this part has none.
    """
    from .pipeline.provenance import read_provenance, write_provenance
    from .reconstruction import recon

    plan = plan_scan(filename, inputPath, **keywords)
    rows = _part_rows(plan, part, nparts)
    nparts = len(_part_ranges(plan, nparts))
    if rows is None:
        logger.info("%s: %d rows make only %d blocks of chunk_sino=%d rows; part %d has nothing to do",
                    plan.path.name, plan.rows.size, nparts, plan.params.chunk_sino, part)
        return None
    if plan.params.doBilateralFilter:
        logger.warning("%s: doBilateralFilter filters across slices; slices near part boundaries differ "
                       "from a single-process run (use the Dask path for identical results)", plan.path.name)
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    name = part_provenance_name(part, nparts, _record(plan))
    logger.info("%s: part %d/%d, rows %d..%d step %d, cor %.3f -> %s", plan.path.name, part, nparts,
                rows[0], rows[1] - 1, rows[2], plan.cor, plan.output_dir / name)
    kw = {**{k: v for k, v in keywords.items() if k != "inputPath"}, "sinoused": rows, "cor": plan.cor}
    result = recon(plan.path.name, plan.path.parent, resume=resume, quicklook=False, provenance_name=name, **kw)
    record = read_provenance(plan.output_dir, name) or {}
    record["part"] = {"index": part, "of": nparts, "slurm": _slurm_info()}
    write_provenance(plan.output_dir / name, record)
    if merge and _parts_complete(plan, nparts):
        _merge_locked(plan, nparts)
    return result


def _parts_complete(plan: Any, nparts: int) -> bool:
    from .pipeline.provenance import provenance_status

    return all(provenance_status(plan.output_dir, part_provenance_name(k, nparts, _record(plan))) == "complete"
               for k in range(1, nparts + 1))


def _merge_locked(plan: Any, nparts: int) -> Path | None:
    """Merge unless another task is merging right now (exclusive lock file)."""
    lock = plan.output_dir / f".{_record(plan)}.merge.lock"
    with contextlib.suppress(FileNotFoundError):
        if time.time() - lock.stat().st_mtime > _STALE_LOCK_S:      # left by a task killed mid-merge
            logger.warning("%s: removing a stale merge lock", lock)
            lock.unlink(missing_ok=True)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        logger.info("%s: another task is merging the parts (lock %s)", plan.output_dir, lock)
        return None
    try:
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
        return _merge_plan(plan, nparts, quicklook=True)
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)


def merge_parts(filename: str | os.PathLike, nparts: int, inputPath: str | os.PathLike = "./", *,
                quicklook: bool = True, **keywords: Any) -> Path:
    """Merge the part provenance files of a split run into ``recon_parameters.json``.

    Checks that every part is complete and made from the same input and centre, and that
    every slice of the whole scan is a complete TIFF; writes the record a single
    ``recon()`` run would write (same parameters and fingerprint, so a later ``recon()``
    with ``resume=None`` keeps the slices) plus ``parts``, then the quick-look picture.

    Parameters
    ----------
    filename, inputPath, **keywords
        The scan and the ``recon()`` keywords the parts were run with (not the parts'
        ``sinoused``).
    nparts : int
        Number of parts of the split.

    Returns
    -------
    Path
        The merged provenance file.

    Raises
    ------
    ReconstructionError
        Naming the missing or unfinished parts, or the number of missing slices.
    """
    plan = plan_scan(filename, inputPath, **keywords)
    return _merge_plan(plan, len(_part_ranges(plan, nparts)), quicklook=quicklook)


def _part_problems(plan: Any, name: str, record: dict[str, Any] | None) -> list[str]:
    """Why the part record ``name`` cannot be merged into ``plan`` (empty when it can)."""
    from .pipeline.provenance import fingerprint, run_differences

    if record is None or record.get("status") != "complete":
        return [f"{name}: {'missing' if record is None else record.get('status')}"]
    return [f"{name}: made by another run: {d}"
            for d in run_differences(record.get("fingerprint"), fingerprint(plan), ignore=("sinoused",))]


def _merge_plan(plan: Any, nparts: int, *, quicklook: bool) -> Path:
    from .io.tiff import is_complete_tiff
    from .pipeline.provenance import provenance_record, read_provenance, write_provenance
    from .reconstruction import write_quicklook

    names = [part_provenance_name(k, nparts, _record(plan)) for k in range(1, nparts + 1)]
    records = [read_provenance(plan.output_dir, n) for n in names]
    problems = [problem for n, r in zip(names, records) for problem in _part_problems(plan, n, r)]
    if problems:
        raise ReconstructionError(f"{plan.output_dir}: cannot merge {nparts} parts:\n  " + "\n  ".join(problems))
    shape = (plan.width, plan.width)
    missing = [int(r) for r in plan.rows if not is_complete_tiff(plan.slice_path(int(r)), shape=shape,
                                                                   dtype=plan.out_dtype)]
    if missing:
        raise ReconstructionError(f"{plan.output_dir}: {len(missing)} of {plan.rows.size} slices missing or "
                                  f"incomplete (first: row {missing[0]}); re-run the parts")
    timings: dict[str, float] = {}
    for record in records:
        for key, value in record.get("timings_s", {}).items():
            timings[key] = round(timings.get(key, 0.0) + value, 4)
    merged = provenance_record(plan, status="complete", timings=timings, nfiles=int(plan.rows.size),
                               started=min(r["started"] for r in records))
    merged["parts"] = [{"file": n, "status": r["status"], "nrows": r["resolved"]["nrows"],
                        "rows_first_last_step": r["resolved"]["rows_first_last_step"], "started": r["started"],
                        "updated": r["updated"], "timings_s": r.get("timings_s", {}), **r.get("part", {})}
                       for n, r in zip(names, records)]
    path = write_provenance(plan.output_dir / _record(plan), merged)
    logger.info("%s: merged %d parts (%d slices) into %s", plan.path.name, nparts, plan.rows.size, path)
    if quicklook:
        write_quicklook(plan)
    return path


# ============================================================================= CLI
def _parser() -> argparse.ArgumentParser:
    from .apps._common import add_logging_args

    parser = argparse.ArgumentParser(
        prog="python -m alsmicroct.distributed",
        description="One scan split in row ranges over SLURM array tasks (see batch/recon_slices.slurm).")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("part", "reconstruct one part; the last part to finish merges"),
                       ("merge", "merge the parts' provenance into recon_parameters.json")):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("scan", help="raw HDF5 file (relative to --input-dir)")
        if name == "part":
            p.add_argument("--part", type=int, required=True, metavar="K", help="this part, 1-based")
            p.add_argument("--no-merge", action="store_true", help="never merge (leave it to `merge`)")
            p.add_argument("--resume", choices=("auto", "yes", "no"), default="auto",
                           help="auto: keep slices of an identical earlier run; yes: keep complete "
                                "slices (refused if parameters changed); no: recompute")
        p.add_argument("--parts", type=int, required=True, metavar="N", help="number of parts")
        p.add_argument("--config", type=Path, metavar="TOML", help="TOML file of recon() keywords")
        p.add_argument("--set", dest="set_tokens", action="append", default=[], metavar="KEY=VALUE",
                       help="a recon() keyword (repeatable; wins over --config)")
        p.add_argument("--input-dir", metavar="DIR", help="folder of a relative raw file (default: ./)")
        p.add_argument("--output-dir", metavar="DIR", help="output root (slices in DIR/rec<scan>/)")
        add_logging_args(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m alsmicroct.distributed part|merge ...``; returns the exit status.

    Exit status: 0 done, 1 the reconstruction or the merge failed, 2 bad input (parameters,
    unreadable or corrupt raw file, unwritable output).
    """
    from .apps._common import EXIT_FAILED, EXIT_OK, guarded_main, load_config
    from .params import parse_overrides

    args = _parser().parse_args(argv)

    def body(_add_log_file: Any) -> int:
        keywords = load_config(args.config) if args.config is not None else {}
        keywords.update(parse_overrides(args.set_tokens, source="command line --set"))
        input_dir = keywords.pop("inputPath", "./") if args.input_dir is None else args.input_dir
        if args.output_dir is not None:
            keywords["outputPath"] = args.output_dir
        logger.info("%s on %s: %s %s", args.command, socket.gethostname(), args.scan, _slurm_info())
        try:
            if args.command == "merge":
                merge_parts(args.scan, args.parts, input_dir, **keywords)
            else:
                resume = {"auto": None, "yes": True, "no": False}[args.resume]
                recon_part(args.scan, args.part, args.parts, input_dir, resume=resume,
                           merge=not args.no_merge, **keywords)
        except (AlsMicroCTError, OSError) as exc:
            if isinstance(exc, AlsMicroCTError) and not isinstance(exc, ReconstructionError):
                raise                                   # bad input: guarded_main gives exit status 2
            logger.error("%s: %s failed: %s: %s", args.scan, args.command, type(exc).__name__, exc)
            logger.debug("details", exc_info=True)
            return EXIT_FAILED
        return EXIT_OK

    return guarded_main(args, body)


if __name__ == "__main__":
    raise SystemExit(main())
