"""Finished-scan detection: which raw files under RAW_DIR are complete.

A file counts as finished when (1) its size and modification time have not changed for
``settle`` seconds, (2) it opens read-only as a raw scan of either layout
(:func:`alsmicroct.io.open_scan`), and (3) it holds every projection, flat and dark image
its metadata announces, and the last image of each kind holds data (a Data Exchange file
is allocated at its full size before the camera fills it). A file that stays unchanged but
incomplete for ``give_up`` seconds (truncated, foreign, unreadable) is given up, with the
reason the last check gave. Half-written files are never reported as finished.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import time
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Detector", "check_complete"]

logger = logging.getLogger(__name__)

#: a folder changed within this many seconds is always listed again (coarse time stamps)
FRESH = 2.0
#: and any folder at least this often, s
RELIST = 60.0


def _announced(attrs: dict, *keys: str) -> int | None:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
            return int(value)
    return None


def check_complete(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not (yet) a complete raw scan, or None when it is.

    Opens the file read-only, compares the images present with those its metadata
    announces and reads one row of the last projection, flat and dark image.
    """
    from ...errors import AlsMicroCTError
    from ...io import _common as c
    from ...io import open_scan

    try:
        with open_scan(path) as scan:
            m = scan.meta
            n_flats = int(scan.flat_indices.size)
            if m.layout == "als":
                per_group = _announced(m.attrs, c.ALS_ATTR_NFLATS)
                groups = len(c.expected_flat_positions(m.nangles, m.i0cycle))
                if per_group is not None and n_flats < per_group * groups:
                    return (
                        f"{path}: holds {n_flats} of the {per_group * groups} flat images its metadata "
                        f"announces ({per_group} per group, {groups} groups)"
                    )
                darks = _announced(m.attrs, c.ALS_ATTR_NDARKS)
                if darks is not None and m.num_darks < darks:
                    return f"{path}: holds {m.num_darks} of the {darks} dark images its metadata announces"
            mid = m.nslices // 2
            rows = (mid, mid + 1, 1)
            last = scan.read_projections(proj=(m.nangles - 1, m.nangles, 1), rows=rows)
            if not np.any(last):
                return f"{path}: the last projection ({m.nangles - 1}) holds no data yet"
            if n_flats and not np.any(scan.read_flats(rows=rows)[-1]):
                return f"{path}: the last flat image holds no data yet"
            if m.num_darks and m.layout != "als" and not np.any(scan.read_darks(rows=rows)[-1]):
                return f"{path}: the last dark image holds no data yet"
    except AlsMicroCTError as exc:
        return str(exc)
    except Exception as exc:  # h5py raises many kinds on a file being written
        return f"{path}: cannot be read as a raw scan ({type(exc).__name__}: {exc})"
    return None


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    changed_at: float
    checked: tuple[int, int] | None = None  # (size, mtime) of the last completeness check
    reason: str | None = None


@dataclass
class Detector:
    """Tracks candidate files and reports each one once: finished, or given up.

    Parameters
    ----------
    raw_dir : Path
        The watched folder.
    include, exclude : sequence of str
        Glob patterns on the path relative to ``raw_dir`` (and on the file name).
    recursive : bool
        Also look in sub-folders.
    settle : float
        Seconds a file must stay unchanged before it is checked.
    give_up : float
        Seconds a file may stay unchanged but incomplete before it is given up.
    """

    raw_dir: Path
    include: Sequence[str] = ("*.h5",)
    exclude: Sequence[str] = (".*", "*_truth.h5")
    recursive: bool = False
    settle: float = 1.0
    give_up: float = 600.0
    _pending: dict[Path, _Seen] = field(default_factory=dict)
    _listings: dict[str, tuple[tuple[int, int, int], float, frozenset[str]]] = field(default_factory=dict)

    def name_of(self, path: Path) -> str:
        """The scan's name: its path relative to ``raw_dir``."""
        return Path(path).relative_to(self.raw_dir).as_posix()

    def matches(self, path: Path) -> bool:
        """Whether ``path`` is a candidate (inside ``raw_dir``, patterns)."""
        try:
            rel = Path(path).relative_to(self.raw_dir)
        except ValueError:
            return False
        if not self.recursive and len(rel.parts) != 1:
            return False
        if any(part.startswith(".") for part in rel.parts[:-1]):
            return False
        text, name = rel.as_posix(), rel.name

        def hit(patterns: Sequence[str]) -> bool:
            return any(fnmatch.fnmatchcase(text, p) or fnmatch.fnmatchcase(name, p) for p in patterns)

        return hit(self.include) and not hit(self.exclude)

    def list_files(self, skip: AbstractSet[str] = frozenset()) -> Iterator[Path]:
        """Every candidate file under ``raw_dir``, less the paths in ``skip``.

        One ``os.listdir`` per changed folder (:meth:`_names`); the names are compared with ``skip`` as sets (in C),
        so a folder of 10 000 known files costs about a millisecond; only the new names are
        stat'ed (a file or a folder?) and matched against the patterns.
        """
        stack = [self.raw_dir]
        while stack:
            folder = stack.pop()
            try:
                paths = self._names(folder)
            except OSError as exc:
                logger.warning("%s: cannot list the folder (%s)", folder, exc.strerror or exc)
                continue
            for text in sorted(paths - skip):
                path = Path(text)
                if os.path.isdir(text) and not os.path.islink(text):
                    if self.recursive:
                        stack.append(path)
                elif self.matches(path):
                    yield path

    def _names(self, folder: Path) -> frozenset[str]:
        """The paths of ``folder``'s visible entries; a folder whose modification time, inode
        and size are unchanged is not listed again (unless it changed within the last
        :data:`FRESH` seconds, for coarse time stamps, or its listing is older than
        :data:`RELIST` seconds)."""
        st = os.stat(folder)
        key = (st.st_mtime_ns, st.st_ino, st.st_size)
        now = time.time()
        cached = self._listings.get(str(folder))
        if (
            cached is not None
            and cached[0] == key
            and now - st.st_mtime > FRESH
            and time.monotonic() - cached[1] < RELIST
        ):
            return cached[2]
        base = os.path.join(str(folder), "")
        paths = frozenset(base + n for n in os.listdir(folder) if not n.startswith("."))
        self._listings[str(folder)] = (key, time.monotonic(), paths)
        return paths

    def watch(self, path: Path) -> None:
        """Start (or keep) watching ``path`` until it is finished or given up."""
        path = Path(path)
        if path not in self._pending and self.matches(path):
            self._pending[path] = _Seen(-1, -1, time.monotonic())

    def forget(self, path: Path) -> None:
        """Stop watching ``path``."""
        self._pending.pop(Path(path), None)

    @property
    def pending(self) -> list[Path]:
        """Files being watched."""
        return list(self._pending)

    def poll(self, now: float | None = None) -> list[tuple[Path, str | None]]:
        """Look at every watched file once.

        Returns
        -------
        list of (path, reason)
            Files that are finished (``reason`` None) or given up (``reason`` says why);
            they are no longer watched.
        """
        now = time.monotonic() if now is None else now
        out: list[tuple[Path, str | None]] = []
        for path, seen in list(self._pending.items()):
            try:
                st = path.stat()
            except FileNotFoundError:
                self._pending.pop(path)  # removed or renamed: an event brings the new name
                continue
            except OSError as exc:
                st = None
                seen.reason = f"{path}: cannot be read ({exc.strerror or exc})"
            if st is not None and (st.st_size, st.st_mtime_ns) != (seen.size, seen.mtime_ns):
                seen.size, seen.mtime_ns, seen.changed_at = st.st_size, st.st_mtime_ns, now
                continue
            if now - seen.changed_at < self.settle:
                continue
            if st is not None and seen.checked != (seen.size, seen.mtime_ns):
                seen.checked = (seen.size, seen.mtime_ns)
                seen.reason = check_complete(path)
                if seen.reason is None:
                    self._pending.pop(path)
                    out.append((path, None))
                    continue
                logger.debug("%s: not complete yet: %s", path, seen.reason)
            if now - seen.changed_at >= self.give_up:
                self._pending.pop(path)
                out.append((path, f"incomplete after {self.give_up:g} s unchanged: {seen.reason}"))
        return out
