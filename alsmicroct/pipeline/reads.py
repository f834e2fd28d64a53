"""One read of the raw file for the centre, its checks and the first row block of a run.

A small scan's centre finding (the 0/180 pair of ``pc`` and the tilt estimate, the
confidence check's sinograms) reads rows that the run's first row block reads again a moment
later. :class:`SharedReads` wraps the open :class:`~alsmicroct.io.RawScan` and is told which
raw read that first block will make (:func:`alsmicroct.pipeline.runner.first_raw_read`): the
first read falling inside it loads the whole block once, reads inside it are served from
memory (copies), and the block's own read hands the arrays over and forgets them. Anything
else goes to the file. The values are those a direct read gives (the same reader, the same
checks), so results do not change; only the number of passes over the file does.

A block that is never asked for costs nothing; a loaded block whose own read never comes
(another first read than planned) is dropped at the first read outside it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["SharedReads"]

logger = logging.getLogger(__name__)

Spec = tuple[int, int, int]


def _as_range(spec: Any) -> range | None:
    """A ``(start, stop, step)`` spec of non-negative ints with a positive step as a range;
    None for anything else (those reads always go to the file)."""
    if not isinstance(spec, tuple) or len(spec) != 3:
        return None
    if not all(isinstance(v, int | np.integer) for v in spec):
        return None
    start, stop, step = (int(v) for v in spec)
    if start < 0 or stop < start or step < 1:
        return None
    return range(start, stop, step)


def _positions(inner: range, outer: range) -> slice | None:
    """``inner`` as a slice of the positions of ``outer``, or None when not all inside it."""
    if len(inner) == 0 or len(outer) == 0:
        return None
    first, last = inner[0], inner[-1]
    if first < outer[0] or last > outer[-1] or (first - outer[0]) % outer.step:
        return None
    if len(inner) > 1 and inner.step % outer.step:
        return None
    k0 = (first - outer[0]) // outer.step
    kstep = inner.step // outer.step if len(inner) > 1 else 1
    return slice(k0, k0 + (len(inner) - 1) * kstep + 1, kstep)


class SharedReads:
    """An open raw scan whose planned first block is read once and shared.

    Parameters
    ----------
    scan : RawScan
        The open scan (left open; its owner closes it). Every other attribute
        (``meta``, ``flat_indices``, ``angles``, ...) is the scan's own.
    block : ((int, int, int), (int, int, int)) or None
        ``(proj, rows)`` specs of the raw read the run's first row block makes; None: no
        sharing, every read goes to the file.
    """

    def __init__(self, scan: Any, block: tuple[Spec, Spec] | None) -> None:
        self._scan = scan
        self._proj_range = self._rows_range = None
        if block is not None:
            self._proj_range, self._rows_range = _as_range(block[0]), _as_range(block[1])
        self._block: dict[str, np.ndarray] | None = None
        self._handed: set[str] = set()
        self._memo: dict[tuple, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._scan, name)

    @property
    def holds_block(self) -> bool:
        """True while a loaded block waits for its read."""
        return self._block is not None

    def remember(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """``compute()``, once per ``key`` for this open scan (e.g. the normalised 0/180 pair
        that the tilt estimate and the ``pc`` centre both use)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # ------------------------------------------------------------------ the block
    def _load(self) -> None:
        p, r = self._proj_range, self._rows_range
        spec = (r.start, r.stop, r.step)
        logger.debug("%s: reading the first block once (projections %s, rows %s)", self._scan.path, p, r)
        self._block = {
            "proj": self._scan.read_projections(proj=(p.start, p.stop, p.step), rows=spec),
            "flat": self._scan.read_flats(rows=spec),
            "dark": self._scan.read_darks(rows=spec),
        }

    def _drop(self) -> None:
        if self._block is not None:
            logger.debug("%s: shared first block dropped (its read did not come)", self._scan.path)
        self._block = None
        self._proj_range = self._rows_range = None

    def _rows_slice(self, rows: Any) -> slice | None:
        """Positions of ``rows`` in the block's rows, loading the block if needed; None when
        the read is not the block's to serve."""
        if self._rows_range is None:
            return None
        asked = _as_range(rows)
        at = None if asked is None else _positions(asked, self._rows_range)
        if at is None:
            if self._block is not None:
                self._drop()
            return None
        return at

    def _serve(self, kind: str, index: tuple[slice, ...], exact: bool) -> np.ndarray:
        if self._block is None:
            self._load()
        data = self._block[kind]
        if exact and (kind == "proj" or "proj" in self._handed):
            self._handed.add(kind)
            if self._handed >= {"proj", "flat", "dark"}:
                self._drop()
            return data
        return data[index].copy()

    # ------------------------------------------------------------------ reads
    def read_projections(self, proj: Any = None, rows: Any = None) -> np.ndarray:
        """As :meth:`alsmicroct.io.RawScan.read_projections` (served from the block when inside it)."""
        at_rows = self._rows_slice(rows)
        asked = _as_range(proj)
        at_proj = None if at_rows is None or asked is None else _positions(asked, self._proj_range)
        if at_proj is None:
            if self._block is not None:
                self._drop()
            return self._scan.read_projections(proj=proj, rows=rows)
        exact = asked == self._proj_range and _as_range(rows) == self._rows_range
        return self._serve("proj", (at_proj, at_rows), exact)

    def read_flats(self, rows: Any = None) -> np.ndarray:
        """As :meth:`alsmicroct.io.RawScan.read_flats` (served from the block when inside it)."""
        return self._reference("flat", rows, self._scan.read_flats)

    def read_darks(self, rows: Any = None) -> np.ndarray:
        """As :meth:`alsmicroct.io.RawScan.read_darks` (served from the block when inside it)."""
        return self._reference("dark", rows, self._scan.read_darks)

    def _reference(self, kind: str, rows: Any, read: Callable[..., np.ndarray]) -> np.ndarray:
        at_rows = self._rows_slice(rows)
        if at_rows is None:
            return read(rows=rows)
        return self._serve(kind, (slice(None), at_rows), _as_range(rows) == self._rows_range)
