"""Who reconstructs a queued scan: a local process pool, a Dask cluster, or SLURM.

Every runner runs :func:`alsmicroct.jobs.batch.run_job` with ``resume=True`` (the batch
resume rule): a scan whose record says complete is not redone, slices that a record of the
same run describes are kept, the rest is computed. So re-running an interrupted attempt
after a crash finishes it without redoing finished slices.

- :class:`LocalRunner`: ``workers`` processes (spawned; each dies with the watcher);
- :class:`DaskRunner`: a ``dask.distributed`` client (a scheduler address, or a local
  cluster of ``workers`` processes);
- :class:`SlurmRunner`: ``sbatch batch/recon.slurm LIST CONFIG --output-dir REC_DIR`` per
  attempt (a one-line list and a TOML of its keywords), the job id recorded, its state polled
  with ``squeue`` then ``sacct``.

A runner's :meth:`~Runner.poll` returns ``(attempt_id, ok, error)`` for each finished job.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import ParameterError
from ..entries import ScanJob

__all__ = [
    "CLAIM_WAIT",
    "RUNNERS",
    "DaskRunner",
    "LocalRunner",
    "Runner",
    "SlurmRunner",
    "make_runner",
    "run_one",
    "wait_for_claim",
]

logger = logging.getLogger(__name__)

RUNNERS = ("local", "dask", "slurm")


#: seconds an attempt waits for another process (a killed watcher's worker) to let go of its output
CLAIM_WAIT = 60.0


def wait_for_claim(job: ScanJob, *, timeout: float = CLAIM_WAIT, interval: float = 0.2) -> float | None:
    """Wait until no other live process on this host holds ``job``'s output claim.

    After a kill -9 of the watcher its pool worker may still be writing (or dying) while the
    restarted watcher resumes the attempt; the claim (:mod:`alsmicroct.pipeline.claim`) would
    then refuse the resumed run. The record is re-read every ``interval`` seconds until its
    writer is gone (exited, or a zombie) or ``timeout`` seconds have passed; the wait is logged.

    Returns
    -------
    float or None
        Seconds waited, or None when the holder is still alive after ``timeout`` (the run
        then goes on and the claim refuses it with an error naming the holder).
    """
    from ...io.outputs import run_records
    from ...pipeline.claim import live_writer

    t0 = time.monotonic()
    logged = False
    while True:
        record = run_records(job.output_dir).get(job.provenance_name) if Path(job.output_dir).is_dir() else None
        if not record or not live_writer(record):
            waited = time.monotonic() - t0
            if logged:
                logger.info(
                    "%s: pid %s let go of the output after %.1f s",
                    job.output_dir / job.provenance_name,
                    record.get("pid") if record else "?",
                    waited,
                )
            return waited
        if time.monotonic() - t0 >= timeout:
            logger.warning(
                "%s: pid %s still holds the output after %.0f s",
                job.output_dir / job.provenance_name,
                record.get("pid"),
                timeout,
            )
            return None
        if not logged:
            logger.warning(
                "%s: pid %s (a worker of a stopped watcher?) still holds the output; waiting up to "
                "%.0f s for it to exit",
                job.output_dir / job.provenance_name,
                record.get("pid"),
                timeout,
            )
            logged = True
        time.sleep(interval)


def run_one(job: ScanJob, claim_wait: float = CLAIM_WAIT) -> tuple[bool, str | None, dict[str, Any]]:
    """Reconstruct ``job`` (resume rule) once no other process holds its output (at most
    ``claim_wait`` seconds, :func:`wait_for_claim`); return ``(ok, error, figures)``."""
    from ..batch import run_job

    waited = wait_for_claim(job, timeout=claim_wait)
    result = run_job(job, resume=True, progress=False)
    info = {
        "status": result.status,
        "cor": result.cor,
        "slices": result.slices,
        "seconds": None if result.seconds is None else round(result.seconds, 2),
        "claim_wait_s": None if waited is None else round(waited, 2),
    }
    return (not result.failed), result.error, info


def _orphan_guard() -> None:
    """In a pool worker: die when the watcher dies (even by kill -9), so that no orphan keeps
    writing a run that the restarted watcher resumes."""
    parent = os.getppid()
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class Runner(ABC):
    """The interface of a runner (abstract: a runner defines :meth:`submit`)."""

    name = ""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(int(workers), 1)
        self._jobs: dict[int, Any] = {}

    @property
    def busy(self) -> int:
        """Jobs submitted and not yet reported."""
        return len(self._jobs)

    @property
    def free(self) -> int:
        """How many more jobs it takes now."""
        return max(self.workers - self.busy, 0)

    @abstractmethod
    def submit(self, attempt_id: int, job: ScanJob) -> str | None:
        """Start ``job``; returns an external job id (SLURM) or None."""

    def attach(self, attempt_id: int, job: ScanJob, job_id: str | None) -> str | None:
        """After a restart: follow the job ``job_id`` when it can be followed, else submit
        again (the resume rule keeps what is done)."""
        return self.submit(attempt_id, job)

    def poll(self) -> list[tuple[int, bool, str | None, dict[str, Any]]]:
        """Finished jobs: ``(attempt_id, ok, error, figures)``."""
        out = []
        for attempt_id, future in list(self._jobs.items()):
            if not future.done():
                continue
            del self._jobs[attempt_id]
            try:
                ok, error, info = future.result()
            except BaseException as exc:  # a worker that died, a cancelled future
                ok, error, info = False, f"{type(exc).__name__}: {exc}", {}
            out.append((attempt_id, ok, error, info))
        return out

    def close(self) -> None:
        """Stop (running work is abandoned; a restart resumes it)."""
        self._jobs.clear()


class LocalRunner(Runner):
    """A pool of ``workers`` spawned processes."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        super().__init__(workers)
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_orphan_guard
        )

    def submit(self, attempt_id: int, job: ScanJob) -> str | None:
        self._jobs[attempt_id] = self._pool.submit(run_one, job)
        return None

    def close(self) -> None:
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            if proc.is_alive():
                proc.kill()
        for proc in processes:
            proc.join(5)


class DaskRunner(Runner):
    """Jobs on a Dask cluster: ``address`` (a scheduler) or a local cluster of ``workers``."""

    name = "dask"

    def __init__(self, workers: int = 1, address: str | None = None) -> None:
        super().__init__(workers)
        from distributed import Client, LocalCluster

        self._cluster = (
            None
            if address
            else LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        )
        self._client = Client(address or self._cluster)

    def submit(self, attempt_id: int, job: ScanJob) -> str | None:
        self._jobs[attempt_id] = self._client.submit(run_one, job, pure=False)
        return None

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def default_slurm_script() -> Path:
    """``batch/recon.slurm`` of this checkout (``ALSMICROCT_BATCH_DIR`` wins)."""
    folder = os.environ.get("ALSMICROCT_BATCH_DIR")
    return (Path(folder) if folder else Path(__file__).resolve().parents[3] / "batch") / "recon.slurm"


_SLURM_DONE = {"COMPLETED"}
_SLURM_ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "RESIZING", "SUSPENDED", "CONFIGURING", "COMPLETING"}


class SlurmRunner(Runner):
    """One ``sbatch`` of ``batch/recon.slurm`` per attempt.

    Parameters
    ----------
    workers : int
        Jobs submitted at a time.
    work_dir : Path
        Where the per-attempt list, config and SLURM log go (``REC_DIR/.alsmicroct-watch``).
    sbatch_args : str
        Extra sbatch options (``-p``, ``-A``, ``-t`` ...), split like a shell does.
    script : Path, optional
        The batch script (default :func:`default_slurm_script`).
    poll_interval : float
        Seconds between two ``squeue`` calls.
    """

    name = "slurm"

    def __init__(
        self,
        workers: int = 1,
        *,
        work_dir: Path,
        sbatch_args: str = "",
        script: Path | None = None,
        poll_interval: float = 2.0,
    ) -> None:
        super().__init__(workers)
        self.work_dir = Path(work_dir) / "slurm"
        self.sbatch_args = shlex.split(sbatch_args)
        self.script = Path(script) if script else default_slurm_script()
        self.poll_interval = poll_interval
        self._last_poll = 0.0
        self._done: list[tuple[int, bool, str | None, dict[str, Any]]] = []

    def _files(self, attempt_id: int, job: ScanJob) -> tuple[Path, Path, Path]:
        stem = f"{job.path.stem}_{attempt_id:06d}"
        return (self.work_dir / f"{stem}.txt", self.work_dir / f"{stem}.toml", self.work_dir / f"{stem}_%j.log")

    def submit(self, attempt_id: int, job: ScanJob) -> str | None:
        import tomli_w

        from ...io.atomic import atomic_file, jsonable

        listing, config, log = self._files(attempt_id, job)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        keywords = {k: v for k, v in jsonable(job.keywords).items() if v is not None and k != "outputPath"}
        with atomic_file(listing, "w", what="SLURM scan list") as fh:
            fh.write(shlex.quote(str(job.path)) + "\n")
        with atomic_file(config, "wb", what="SLURM config") as fh:
            tomli_w.dump(keywords, fh)
        sbatch = shutil.which("sbatch")
        if sbatch is None:
            raise RuntimeError("sbatch not found on PATH; expected a SLURM client (or choose --runner local)")
        cmd = [
            sbatch,
            "--parsable",
            "--job-name",
            f"watch-{job.path.stem}",
            "--output",
            str(log),
            "--chdir",
            str(self.work_dir),
            *self.sbatch_args,
            str(self.script),
            str(listing),
            str(config),
            "--output-dir",
            str(job.params.outputPath),
        ]
        env = {**os.environ, "ALSMICROCT_BATCH_DIR": str(self.script.parent)}
        env.setdefault("ALSMICROCT_PYTHON", sys.executable)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"sbatch failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()}")
        job_id = proc.stdout.strip().split(";")[0]
        self._jobs[attempt_id] = (job_id, job)
        logger.info("%s: submitted as SLURM job %s", job.path.name, job_id)
        return job_id

    def attach(self, attempt_id: int, job: ScanJob, job_id: str | None) -> str | None:
        if job_id:
            self._jobs[attempt_id] = (job_id, job)
            return job_id
        return self.submit(attempt_id, job)

    @staticmethod
    def _state(job_id: str) -> str:
        out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True, timeout=60)
        state = out.stdout.strip().split("\n")[0].strip() if out.returncode == 0 else ""
        if state:
            return state
        out = subprocess.run(
            ["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State"], capture_output=True, text=True, timeout=60
        )
        state = out.stdout.strip().split("\n")[0].strip() if out.returncode == 0 else ""
        return state.split()[0] if state else "UNKNOWN"

    def poll(self) -> list[tuple[int, bool, str | None, dict[str, Any]]]:
        now = time.monotonic()
        if now - self._last_poll < self.poll_interval:
            return []
        self._last_poll = now
        out = []
        for attempt_id, (job_id, job) in list(self._jobs.items()):
            try:
                state = self._state(job_id)
            except (OSError, subprocess.SubprocessError) as exc:
                logger.warning("SLURM job %s: state unknown (%s)", job_id, exc)
                continue
            if state in _SLURM_ACTIVE or state == "UNKNOWN":
                continue
            del self._jobs[attempt_id]
            log = Path(str(self._files(attempt_id, job)[2]).replace("%j", job_id))
            info = {"slurm_state": state, "slurm_log": str(log)}
            if state in _SLURM_DONE:
                out.append((attempt_id, True, None, info))
            else:
                tail = _tail(log)
                out.append(
                    (attempt_id, False, f"SLURM job {job_id} ended {state}" + (f": {tail}" if tail else ""), info)
                )
        return out


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def make_runner(kind: str, *, workers: int, work_dir: Path, options: Mapping[str, Any] | None = None) -> Runner:
    """The runner ``kind`` (one of :data:`RUNNERS`)."""
    options = dict(options or {})
    if kind == "local":
        return LocalRunner(workers)
    if kind == "dask":
        return DaskRunner(workers, address=options.get("dask_address"))
    if kind == "slurm":
        return SlurmRunner(
            workers,
            work_dir=work_dir,
            sbatch_args=str(options.get("sbatch_args", "")),
            script=options.get("slurm_script"),
        )
    raise ParameterError(f"runner {kind!r}: expected one of {', '.join(RUNNERS)}")
