"""The watcher's queue: one SQLite database (WAL mode) holding one row per scan and attempt.

States, in order::

    new -> finished -> previewed -> queued -> running -> done | failed

``new``: the file was seen and is being watched until it is complete; ``finished``: it is
complete (see :mod:`.detect`); ``previewed``: the preview is on disk; ``queued``: waiting for
a runner; ``running``: a runner works on it (``job_id`` holds a SLURM job id); ``done`` and
``failed`` are final (``failed`` keeps its ``error``). A failure with retries left puts the
row back to ``queued`` (``retries`` counts them). Every change is one committed
transaction, so the file is consistent whenever the watcher is killed.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import OutputError

__all__ = ["DB_NAME", "STATES", "Attempt", "Queue"]

logger = logging.getLogger(__name__)

DB_NAME = ".alsmicroct-watch.sqlite"
STATES = ("new", "finished", "previewed", "queued", "running", "done", "failed")
_FROM = {  # state -> the states it may be reached from
    "new": (),
    "finished": ("new",),
    "previewed": ("finished",),
    "queued": ("previewed", "running", "failed"),
    "running": ("queued",),
    "done": ("running",),
    "failed": ("new", "finished", "previewed", "queued", "running"),
}
_STAMP = {
    "finished": "finished_at",
    "previewed": "previewed_at",
    "queued": "queued_at",
    "running": "started_at",
    "done": "ended_at",
    "failed": "ended_at",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scan TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    path TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL, previewed_at REAL, queued_at REAL, started_at REAL, ended_at REAL,
    params TEXT NOT NULL DEFAULT '{}',
    output_dir TEXT,
    prefix TEXT,
    preview TEXT NOT NULL DEFAULT '{}',
    runner TEXT,
    job_id TEXT,
    retries INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    UNIQUE (scan, attempt)
);
CREATE INDEX IF NOT EXISTS attempts_state ON attempts (state);
"""


@dataclass(frozen=True)
class Attempt:
    """One row of the queue (one scan, one attempt); times are seconds since the epoch."""

    id: int
    scan: str
    attempt: int
    path: str
    state: str
    created_at: float
    updated_at: float
    finished_at: float | None
    previewed_at: float | None
    queued_at: float | None
    started_at: float | None
    ended_at: float | None
    params: dict[str, Any]
    output_dir: str | None
    prefix: str | None
    preview: dict[str, Any]
    runner: str | None
    job_id: str | None
    retries: int
    error: str | None

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON-friendly dict."""
        return dict(self.__dict__)


def _row(row: sqlite3.Row) -> Attempt:
    d = dict(row)
    d["params"] = json.loads(d["params"] or "{}")
    d["preview"] = json.loads(d["preview"] or "{}")
    return Attempt(**d)


class Queue:
    """The queue database; safe to use from several threads (one connection, one lock).

    Parameters
    ----------
    path : path-like
        The SQLite file (created with its folder).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(
                f"{self.path}: cannot open the watcher's queue database ({exc}); expected a writable SQLite file"
            ) from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, tuple(args))

    # ----------------------------------------------------------------- reading
    def get(self, attempt_id: int) -> Attempt:
        """The row ``attempt_id`` (KeyError when there is none)."""
        row = self._exec("SELECT * FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
        if row is None:
            raise KeyError(attempt_id)
        return _row(row)

    def all(self) -> list[Attempt]:
        """Every row, newest scan first, attempts in order."""
        rows = self._exec("SELECT * FROM attempts ORDER BY created_at DESC, scan, attempt").fetchall()
        return [_row(r) for r in rows]

    def in_state(self, *states: str) -> list[Attempt]:
        """Rows in any of ``states``, oldest first."""
        marks = ",".join("?" * len(states))
        rows = self._exec(f"SELECT * FROM attempts WHERE state IN ({marks}) ORDER BY id", states).fetchall()
        return [_row(r) for r in rows]

    def attempts_of(self, scan: str) -> list[Attempt]:
        """Every attempt of ``scan``, in order."""
        rows = self._exec("SELECT * FROM attempts WHERE scan = ? ORDER BY attempt", (scan,)).fetchall()
        return [_row(r) for r in rows]

    def known_paths(self) -> set[str]:
        """Raw files that have a row."""
        return {r[0] for r in self._exec("SELECT DISTINCT path FROM attempts").fetchall()}

    def counts(self) -> dict[str, int]:
        """Rows per state."""
        rows = self._exec("SELECT state, COUNT(*) FROM attempts GROUP BY state").fetchall()
        return {s: n for s, n in rows}

    # ----------------------------------------------------------------- writing
    def add(
        self, scan: str, path: str | Path, *, params: Mapping[str, Any] | None = None, state: str = "new"
    ) -> Attempt:
        """A new attempt of ``scan`` (attempt 1, or one more than its last)."""
        now = time.time()
        stamp = _STAMP.get(state)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                last = self._db.execute("SELECT MAX(attempt) FROM attempts WHERE scan = ?", (scan,)).fetchone()[0]
                cur = self._db.execute(
                    "INSERT INTO attempts (scan, attempt, path, state, created_at, updated_at, params"
                    + (f", {stamp}" if stamp else "")
                    + ") VALUES (?, ?, ?, ?, ?, ?, ?"
                    + (", ?" if stamp else "")
                    + ")",
                    (
                        scan,
                        (last or 0) + 1,
                        str(path),
                        state,
                        now,
                        now,
                        json.dumps(dict(params or {})),
                        *((now,) if stamp else ()),
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        logger.debug("queue: %s attempt %d added (%s)", scan, (last or 0) + 1, state)
        return self.get(int(cur.lastrowid))

    def update(self, attempt_id: int, **fields: Any) -> None:
        """Set ``fields`` (params and preview as dicts) without changing the state."""
        for key in ("params", "preview"):
            if key in fields:
                fields[key] = json.dumps(fields[key])
        fields["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._exec(f"UPDATE attempts SET {sets} WHERE id = ?", (*fields.values(), attempt_id))

    def advance(self, attempt_id: int, state: str, **fields: Any) -> bool:
        """Move a row to ``state`` (and set ``fields``) if its state allows it.

        Returns
        -------
        bool
            False (nothing changed) when the row is not in a state ``state`` follows.
        """
        if state not in STATES:
            raise ValueError(f"unknown queue state {state!r}; expected one of {', '.join(STATES)}")
        for key in ("params", "preview"):
            if key in fields:
                fields[key] = json.dumps(fields[key])
        now = time.time()
        fields["updated_at"] = now
        if state in _STAMP:
            fields[_STAMP[state]] = now
        sets = ", ".join(f"{k} = ?" for k in fields)
        froms = _FROM[state]
        marks = ",".join("?" * len(froms))
        cur = self._exec(
            f"UPDATE attempts SET state = ?, {sets} WHERE id = ? AND state IN ({marks})",
            (state, *fields.values(), attempt_id, *froms),
        )
        if cur.rowcount:
            logger.debug("queue: row %d -> %s", attempt_id, state)
        return bool(cur.rowcount)

    def fail(self, attempt_id: int, error: str, *, max_retries: int = 0) -> str:
        """Record a failure: back to ``queued`` while retries are left, else ``failed``.

        Returns
        -------
        str
            The new state.
        """
        row = self.get(attempt_id)
        if row.state == "running" and row.retries < max_retries:
            self.advance(attempt_id, "queued", error=error, retries=row.retries + 1, job_id=None)
            logger.warning(
                "%s attempt %d failed (%s); retry %d of %d", row.scan, row.attempt, error, row.retries + 1, max_retries
            )
            return "queued"
        self.advance(attempt_id, "failed", error=error)
        logger.error("%s attempt %d failed: %s", row.scan, row.attempt, error)
        return "failed"
