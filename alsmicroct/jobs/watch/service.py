"""The watcher's loop: detect finished scans, preview them, queue and run them, survive a crash.

One pass of :meth:`WatchService.step`:

1. new files (file-system events from ``watchdog`` plus a full listing every ``rescan``
   seconds; with ``poll``, for network file systems, a listing of names every
   ``poll_interval`` seconds instead) get a ``new`` row;
2. watched files that are finished become ``finished`` (or ``failed`` with the reason
   after ``give_up`` seconds unchanged but incomplete);
3. ``finished`` rows get their preview (one background thread) and become ``previewed``,
   then ``queued``;
4. queued rows go to the runner while it has room (``running``); finished jobs become
   ``done``, or ``queued`` again while retries are left, else ``failed``.

Restart (after anything, kill -9 included): ``done`` rows are never redone; ``running``
rows are handed to the runner again (a SLURM job is followed by its id; local and Dask
work is re-run under the resume rule, which keeps the slices already written);
``finished`` rows get their preview again; ``new`` rows are watched again.
"""

from __future__ import annotations

import difflib
import fnmatch
import logging
import queue as _queue
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ...errors import ParameterError
from .detect import Detector
from .queue import DB_NAME, Attempt, Queue
from .runners import RUNNERS, Runner, make_runner

__all__ = ["LOG_NAME", "WORK_DIR", "WatchService", "WatchSettings", "load_watch_config", "rerun"]

logger = logging.getLogger(__name__)

LOG_NAME = ".alsmicroct-watch.log"
WORK_DIR = ".alsmicroct-watch"


@dataclass
class WatchSettings:
    """The watcher's settings (``[watch]`` table of ``watch.toml``; command-line options win).

    Attributes
    ----------
    raw_dir, rec_dir : Path
        The watched folder and the output root (slices in ``rec_dir/rec<stem>/``).
    recursive, include, exclude
        Which files are scans (globs on the path relative to ``raw_dir`` or the name).
    settle, give_up : float
        Seconds unchanged before a file is checked; before an incomplete one is given up.
    max_retries : int
        Re-runs of a failed reconstruction before it stays failed.
    runner, workers
        ``local``, ``dask`` or ``slurm``, and how many scans at a time.
    host, port, token
        The status page (port 0: none); a host other than 127.0.0.1 needs a token.
    poll, poll_interval
        Poll (network file systems, or where events cannot start): list the folder's names
        every ``poll_interval`` s (known files are skipped before any pattern or stat, so
        10 000 files cost well under 1 % of a core; watchdog's polling observer stats every
        file at each pass: 14 % measured).
    tick, rescan : float
        Seconds between loop passes, and between full listings of ``raw_dir``.
    preview, sweep, sweep_step
        Make previews; number and spacing (px) of the sweep's trial centres.
    warm_up
        At start, preview a small simulated scan (2048 columns, 4 rows) in a temporary folder first
        (:func:`~alsmicroct.jobs.watch.preview.warm_up`), so that the first real scan does
        not pay the imports, numba kernel loads and first FFT plans (0.7-0.9 s on a 2048-column scan).
    sbatch_args, slurm_script, dask_address
        Runner options.
    """

    raw_dir: Path
    rec_dir: Path
    recursive: bool = False
    include: Sequence[str] = ("*.h5",)
    exclude: Sequence[str] = (".*", "*_truth.h5")
    settle: float = 1.0
    give_up: float = 600.0
    max_retries: int = 1
    runner: str = "local"
    workers: int = 1
    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None
    poll: bool = False
    poll_interval: float = 0.5
    tick: float = 0.2
    rescan: float = 60.0
    preview: bool = True
    warm_up: bool = True
    sweep: int = 7
    sweep_step: float = 1.0
    sbatch_args: str = ""
    slurm_script: str | None = None
    dask_address: str | None = None
    matches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.raw_dir = Path(self.raw_dir).absolute()
        self.rec_dir = Path(self.rec_dir).absolute()
        if self.runner not in RUNNERS:
            raise ParameterError(f"runner {self.runner!r}: expected one of {', '.join(RUNNERS)}")
        if self.host not in ("127.0.0.1", "localhost", "::1") and not self.token:
            raise ParameterError(
                f'page host {self.host!r}: binding beyond this machine needs a token (--token or [watch] token = "...")'
            )


_SETTING_TYPES = {f.name: f.type for f in fields(WatchSettings)}
_FILE_SETTINGS = sorted(set(_SETTING_TYPES) - {"raw_dir", "rec_dir", "matches"})


def load_watch_config(path: Path) -> tuple[dict[str, Any], dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """Read ``watch.toml``: recon() keywords for every scan at the top level (the batch
    ``--config`` rules), watcher settings in ``[watch]``, per-pattern keywords in
    ``[[match]]`` tables (``pattern = "glob"`` plus recon() keywords; later ones win).

    Raises
    ------
    ParameterError
        For an unknown key anywhere (with a "did you mean" hint) or a bad value, naming the file.
    """
    from ..entries import check_keywords, config_line, read_config

    keywords, extra = read_config(path, tables=("watch", "match"))
    text = Path(path).read_text(encoding="utf-8")
    settings = extra.get("watch", {})
    if not isinstance(settings, dict):
        raise ParameterError(f"{path}: 'watch' must be a [watch] table of watcher settings")
    for key in settings:
        if key not in _FILE_SETTINGS:
            hint = difflib.get_close_matches(key, _FILE_SETTINGS, n=1)
            raise ParameterError(
                f"{config_line(path, text, key)}: unknown [watch] setting {key!r}"
                + (f"; did you mean {hint[0]!r}?" if hint else f"; expected one of {', '.join(_FILE_SETTINGS)}")
            )
    matches = []
    tables = extra.get("match", [])
    if not isinstance(tables, list):
        raise ParameterError(f"{path}: 'match' must be [[match]] tables, each with pattern = \"glob\"")
    for number, table in enumerate(tables, 1):
        pattern = table.get("pattern") if isinstance(table, dict) else None
        if not isinstance(pattern, str) or not pattern:
            raise ParameterError(f'{path}: [[match]] table {number} lacks pattern = "glob"')
        rest = {k: v for k, v in table.items() if k != "pattern"}
        matches.append((pattern, check_keywords(rest, path, text)))
    return keywords, settings, matches


class WatchService:
    """The watcher.

    Parameters
    ----------
    settings : WatchSettings
    keywords : mapping
        recon() keywords for every scan (the config's top level).
    runner : Runner, optional
        Made from the settings when not given.
    """

    def __init__(
        self, settings: WatchSettings, keywords: Mapping[str, Any] | None = None, *, runner: Runner | None = None
    ) -> None:
        self.settings = s = settings
        self.keywords = dict(keywords or {})
        s.rec_dir.mkdir(parents=True, exist_ok=True)
        self.queue = Queue(s.rec_dir / DB_NAME)
        self.detector = Detector(
            s.raw_dir,
            include=tuple(s.include),
            exclude=tuple(s.exclude),
            recursive=s.recursive,
            settle=s.settle,
            give_up=s.give_up,
        )
        self._runner = runner
        self._events: _queue.SimpleQueue[Path] = _queue.SimpleQueue()
        self._observer: Any = None
        self._previews: dict[int, Future] = {}
        self._preview_pool = ThreadPoolExecutor(1, thread_name_prefix="watch-preview")
        self._known: set[str] = set()
        self._last_rescan = -float("inf")
        self._polling = False
        self.stop_event = threading.Event()
        self.page: Any = None
        self.warm: Future | None = None

    # ------------------------------------------------------------------ setup
    @property
    def runner(self) -> Runner:
        """The runner (started on first use)."""
        if self._runner is None:
            s = self.settings
            self._runner = make_runner(
                s.runner,
                workers=s.workers,
                work_dir=s.rec_dir / WORK_DIR,
                options={"sbatch_args": s.sbatch_args, "slurm_script": s.slurm_script, "dask_address": s.dask_address},
            )
        return self._runner

    def recover(self) -> None:
        """Pick up where the last watcher stopped (see the module notes)."""
        self._known = self.queue.known_paths()
        for row in self.queue.in_state("new"):
            self.detector.watch(Path(row.path))
        running = self.queue.in_state("running")
        for row in running:
            logger.info("%s attempt %d was running when the watcher stopped: resumed", row.scan, row.attempt)
            self._start(row, attach=True)
        counts = self.queue.counts()
        if counts:
            logger.info("queue %s: %s", self.queue.path, ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))

    def start_observer(self) -> None:
        """Start the file-system observer (``watchdog``), or poll with listings of names
        (:attr:`WatchSettings.poll`, or when the observer cannot start)."""
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        s = self.settings
        if s.poll:
            self._polling = True
            logger.info("watching %s (a listing every %g s)", s.raw_dir, s.poll_interval)
            return
        events = self._events

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if not event.is_directory:
                    events.put(Path(getattr(event, "dest_path", "") or event.src_path))

        observer = Observer()
        try:
            observer.schedule(Handler(), str(s.raw_dir), recursive=s.recursive)
            observer.start()
        except OSError as exc:
            logger.warning(
                "%s: file-system events could not start (%s); a listing every %g s instead",
                s.raw_dir,
                exc,
                s.poll_interval,
            )
            self._polling = True
            return
        self._observer = observer
        logger.info("watching %s (%s)", s.raw_dir, type(observer).__name__)

    # ------------------------------------------------------------------- loop
    def _scan_name(self, path: Path) -> str:
        return self.detector.name_of(path)

    def _see(self, path: Path) -> None:
        text = str(path)
        if text in self._known or not self.detector.matches(path):
            return
        self._known.add(text)
        self.queue.add(self._scan_name(path), path)
        self.detector.watch(path)

    def _discover(self, *, full: bool) -> None:
        while True:
            try:
                self._see(self._events.get_nowait())
            except _queue.Empty:
                break
        if full:
            for path in self.detector.list_files(skip=self._known):
                self._see(path)

    def _row_of_path(self, path: Path) -> Attempt | None:
        rows = [r for r in self.queue.in_state("new") if r.path == str(path)]
        return rows[0] if rows else None

    def config_for(self, row: Attempt) -> dict[str, Any]:
        """The config layer of a scan: top-level keywords, then each matching ``[[match]]``."""
        out = dict(self.keywords)
        for pattern, keywords in self.settings.matches:
            if fnmatch.fnmatchcase(row.scan, pattern) or fnmatch.fnmatchcase(Path(row.scan).name, pattern):
                out.update(keywords)
        return out

    def prefix_of(self, row: Attempt) -> str:
        """The slice prefix of an attempt: the raw file's stem, ``<stem>_a<k>`` for attempt k > 1."""
        stem = Path(row.path).stem
        return str(row.params.get("outputFilename") or (stem if row.attempt == 1 else f"{stem}_a{row.attempt}"))

    def output_root(self, row: Attempt) -> Path:
        """``rec_dir`` plus the scan's sub-folder under ``raw_dir``."""
        return self.settings.rec_dir / Path(row.scan).parent

    def job_of(self, row: Attempt) -> Any:
        """The batch job of an attempt (batch precedence: attempt parameters > the watcher's
        output root > ``[[match]]`` > top-level config > the preview's centre > defaults)."""
        from ..batch import plan_jobs
        from ..entries import ScanEntry

        config = self.config_for(row)
        if row.preview.get("cor") is not None:
            config = {"cor": row.preview["cor"], **config}
        overrides = dict(row.params)
        if row.attempt > 1:
            overrides.setdefault("outputFilename", self.prefix_of(row))
        entry = ScanEntry(row.path, overrides, f"{row.scan} attempt {row.attempt}")
        (job,) = plan_jobs([entry], config=config, cli={"outputPath": str(self.output_root(row))})
        return job

    def _preview(self, row: Attempt) -> dict[str, Any]:
        from .preview import make_preview

        keywords = {**self.config_for(row), **row.params}
        return make_preview(
            row.path,
            self.output_root(row),
            keywords=keywords,
            prefix=self.prefix_of(row),
            sweep=self.settings.sweep,
            sweep_step=self.settings.sweep_step,
        )

    def _start(self, row: Attempt, *, attach: bool = False) -> None:
        try:
            job = self.job_of(row)
            job_id = self.runner.attach(row.id, job, row.job_id) if attach else self.runner.submit(row.id, job)
        except Exception as exc:
            if not attach:
                self.queue.advance(row.id, "running", runner=self.settings.runner)
            self.queue.fail(row.id, f"{type(exc).__name__}: {exc}", max_retries=0)
            return
        fields_ = {"runner": self.runner.name, "output_dir": str(job.output_dir), "prefix": self.prefix_of(row)}
        if job_id:
            fields_["job_id"] = job_id
        if attach:
            self.queue.update(row.id, **fields_)
        else:
            self.queue.advance(row.id, "running", **fields_)

    def step(self, *, full_listing: bool = False) -> None:
        """One pass of the loop (see the module notes)."""
        now = time.monotonic()
        every = self.settings.poll_interval if self._polling else self.settings.rescan
        full = full_listing or now - self._last_rescan >= every
        if full:
            self._last_rescan = now
        self._discover(full=full)
        for path, reason in self.detector.poll():
            row = self._row_of_path(path)
            if row is None:
                continue
            if reason is None:
                logger.info("%s: finished", row.scan)
                self.queue.advance(row.id, "finished")
            else:
                self.queue.fail(row.id, reason)
        for row in self.queue.in_state("finished"):
            if not self.settings.preview:
                self.queue.advance(row.id, "previewed")
            elif row.id not in self._previews:
                self._previews[row.id] = self._preview_pool.submit(self._preview, row)
        for attempt_id, future in list(self._previews.items()):
            if future.done():
                del self._previews[attempt_id]
                try:
                    result = future.result()
                except Exception as exc:
                    self.queue.fail(attempt_id, f"preview failed: {type(exc).__name__}: {exc}")
                    continue
                self.queue.advance(attempt_id, "previewed", preview=result, output_dir=result.get("output_dir"))
        for row in self.queue.in_state("previewed"):
            self.queue.advance(row.id, "queued")
        queued = self.queue.in_state("queued")
        while queued and self.runner.free:
            self._start(queued.pop(0))
        if self._runner is not None:
            for attempt_id, ok, error, info in self.runner.poll():
                row = self.queue.get(attempt_id)
                preview = {**row.preview, "run": info}
                if ok:
                    self.queue.advance(attempt_id, "done", preview=preview, error=None)
                    logger.info("%s attempt %d done", row.scan, row.attempt)
                else:
                    self.queue.update(attempt_id, preview=preview)
                    self.queue.fail(attempt_id, error or "failed", max_retries=self.settings.max_retries)

    def idle(self) -> bool:
        """Nothing left to do (for ``--once``): no file watched, no row on its way."""
        busy = self.queue.in_state("new", "finished", "previewed", "queued", "running")
        return not busy and not self.detector.pending and not self._previews

    def run(self, *, once: bool = False) -> None:
        """Watch until stopped (SIGTERM/SIGINT, :attr:`stop_event`), or with ``once`` until
        everything present at the start (and found meanwhile) is done or failed."""
        restore = self._install_signals()
        try:
            self.recover()
            if not once:
                if self.settings.preview and self.settings.warm_up:
                    from .preview import warm_up

                    # first on the one preview thread: a scan arriving meanwhile waits for it
                    self.warm = self._preview_pool.submit(warm_up, self.keywords)
                self.start_observer()
                if self.settings.port:
                    from .page import start_page

                    self.page = start_page(self)
            while not self.stop_event.is_set():
                self.step(full_listing=once and self.detector.pending == [])
                if once and self.idle():
                    break
                self.stop_event.wait(self.settings.tick)
        finally:
            self.close()
            restore()

    def _install_signals(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        old = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

        def handler(signum: int, frame: Any) -> None:
            logger.info("signal %d: stopping (running work is resumed at the next start)", signum)
            self.stop_event.set()

        for sig in old:
            signal.signal(sig, handler)

        def restore() -> None:
            for sig, h in old.items():
                signal.signal(sig, h)

        return restore

    def close(self) -> None:
        """Stop the observer, the page, the runner and the preview thread; close the queue."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
            self._observer = None
        if self.page is not None:
            self.page.stop()
            self.page = None
        if self._runner is not None:
            self._runner.close()
        self._preview_pool.shutdown(wait=True, cancel_futures=True)
        self.queue.close()


def rerun(rec_dir: Path, scan: str, overrides: Mapping[str, Any]) -> Attempt:
    """Queue a new attempt of ``scan`` with ``overrides`` on top of its last attempt's
    parameters; it gets its own prefix, output files and record (earlier ones are kept).

    Raises
    ------
    ParameterError
        When ``rec_dir`` holds no queue, the queue has no such scan (naming the scans it
        has), ``overrides`` sets ``outputFilename`` (a rerun has its own prefix),
        ``outputPath`` or ``inputPath`` (the watcher's folders decide), or a parameter is bad.
    """
    from ...params import ReconParams

    path = Path(rec_dir) / DB_NAME
    if not path.is_file():  # never make a queue (or its folder) for a mistyped --output
        raise ParameterError(
            f"{rec_dir}: no watch queue here ({DB_NAME}); expected the --output folder (REC_DIR) of a watcher"
        )
    if "outputFilename" in overrides:
        raise ParameterError(
            f"outputFilename={overrides['outputFilename']!r} cannot be given to a rerun: each attempt gets its own "
            f"prefix ({Path(scan).stem}_aN), so that earlier attempts are kept"
        )
    for key in ("outputPath", "inputPath"):  # the watcher's folders place every attempt, not a rerun
        if key in overrides:
            raise ParameterError(
                f"{key}={overrides[key]!r} cannot be given to a rerun: its attempts are written under the "
                f"watcher's REC_DIR ({rec_dir}) from the scan's own raw file; run alsmicroct-recon for another folder"
            )
    q = Queue(path)
    try:
        attempts = q.attempts_of(scan)
        if not attempts:
            names = sorted({r.scan for r in q.all()})
            raise ParameterError(
                f"{q.path}: no scan named {scan!r}; expected one of: "
                + (", ".join(names) if names else "(the queue is empty)")
            )
        params = {k: v for k, v in {**attempts[-1].params, **overrides}.items() if k != "outputFilename"}
        ReconParams.from_mapping(params, source=f"rerun {scan}")
        from ...io.atomic import jsonable

        return q.add(scan, attempts[-1].path, params=jsonable(params), state="finished")
    finally:
        q.close()
