"""Run a plan's row blocks on a Dask cluster: ``recon(..., client=client)``.

Every worker opens the raw file (or the pre-processed store, for projection steps such as
phase retrieval, which run here first), reads only its own rows and writes its own slices
atomically, so a block retried after a lost worker is harmless. Dask is imported inside the
functions only, so ``import alsmicroct`` stays light.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import AlsMicroCTError, ParameterError, ReconstructionError

__all__ = ["require", "run_on_client"]

logger = logging.getLogger(__name__)


def require(module: str) -> Any:
    """Import ``module`` (dask, distributed, dask_jobqueue) or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ParameterError(
            f"{module} is needed for Dask runs ({exc}); install it with pip install 'alsmicroct[distributed]'"
        ) from exc


def _process_block(
    plan: Any, skip_rows: frozenset[int], start: int, end: int, store: tuple[Path, int] | None
) -> tuple[int, int, dict[str, float], str, list[dict], dict]:
    """Worker side: reconstruct and write ``plan.rows[start:end]``; returns the stage timings,
    the convergence log of an iterative algorithm and the quality figures gathered."""
    from .runner import Runner

    runner = Runner(plan, skip_rows=set(skip_rows), store=store)
    runner.process_block(start, end)
    return start, end, dict(runner.timer.times), socket.gethostname(), runner.convergence, runner.quality.state()


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
        Slice files of every planned row, in row order (or the zarr store). With
        ``outputFormat="zarr"`` every worker attaches to the store that ``runner.volume``
        holds the lock of and writes whole chunk layers only (blocks are whole layers).

    Raises
    ------
    AlsMicroCTError
        The first error raised by a worker, as raised (``ReconstructionError`` wrapping
        anything that is not an ``AlsMicroCTError``); the remaining blocks are cancelled.
    """
    as_completed = require("distributed").as_completed
    plan = runner.plan
    files = runner.files()
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
        logger.info(
            "%s: %d blocks of <= %d rows on %d Dask worker(s) %s",
            plan.path.name,
            len(blocks),
            plan.params.chunk_sino,
            len(workers),
            getattr(client, "dashboard_link", ""),
        )
        if plan.params.num_threads is None and len(workers) > 1:
            logger.info(
                "num_threads=None: the engine of every worker uses all the cores it sees; set "
                "num_threads to the threads per worker to avoid oversubscription"
            )
        remote_plan = client.scatter(plan, broadcast=True, hash=False)
        token = uuid.uuid4().hex[:8]
        futures = []
        for a, b in blocks:
            kept = skip.intersection(int(r) for r in plan.rows[a:b])
            futures.append(
                client.submit(
                    _process_block,
                    remote_plan,
                    kept,
                    a,
                    b,
                    runner.store,
                    pure=False,
                    retries=retries,
                    key=f"alsmicroct-{plan.prefix}-rows{a}-{b}-{token}",
                )
            )
        _gather_blocks(futures, as_completed(futures), runner, len(blocks))
    finally:
        if runner.proj_steps:
            runner.remove_store()
    return files


def _gather_blocks(futures: list[Any], completed: Iterable[Any], runner: Any, total: int) -> None:
    """Wait for the block futures, log progress, add the workers' timings and quality figures
    to ``runner``."""
    plan = runner.plan
    bar = None
    if runner.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"recon {plan.path.name} (dask)", unit="chunk", leave=False)
    t0 = time.perf_counter()
    try:
        for done, future in enumerate(completed, 1):
            try:
                start, end, timings, host, convergence, quality = future.result()
            except Exception as exc:
                for other in futures:
                    other.cancel()
                if isinstance(exc, AlsMicroCTError):
                    raise
                raise ReconstructionError(
                    f"{plan.path}: a Dask worker failed on a row block: {type(exc).__name__}: {exc}"
                ) from exc
            for key, value in timings.items():
                runner.timer.times[key] += value
            runner.convergence.extend(convergence)
            runner.quality.merge(quality)
            if bar is not None:
                bar.update(1)
            logger.info(
                "%s: block %d/%d done (rows %d-%d on %s, %.1f s elapsed)",
                plan.path.name,
                done,
                total,
                int(plan.rows[start]),
                int(plan.rows[end - 1]),
                host,
                time.perf_counter() - t0,
            )
    finally:
        if bar is not None:
            bar.close()
