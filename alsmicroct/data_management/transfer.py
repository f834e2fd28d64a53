"""Streaming, verified, resumable download of one file to disk.

The body is written chunk by chunk to a partial file next to the destination whose name
depends only on the destination (``<folder>/.<name>.part``), with the server's
validators (size, ``ETag``, ``Last-Modified``) in ``<folder>/.<name>.part.json``. An
interrupted transfer -- in this process, or in a later one after a crash -- is resumed
with an HTTP ``Range`` request guarded by ``If-Range``; a server that changed the file,
ignores the range or answers with a wrong ``Content-Range`` gets a clean restart from
byte 0. The file is renamed into place only when it is verified: the size announced by
``Content-Length`` / ``Content-Range`` (or given by the caller from the portal's
metadata) is reached exactly, the body is not empty, not content-encoded and not an
HTML/JSON page, and it starts with the HDF5 signature. A complete destination file is
skipped; one that differs from the remote is never replaced unless asked.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import requests
import urllib3

from ..io.atomic import write_json_atomic
from .errors import (
    DownloadError,
    SizeMismatchError,
    SpotError,
    SpotResponseError,
    UnexpectedContentError,
)
from .retry import RetryPolicy

if TYPE_CHECKING:  # pragma: no cover
    from tqdm import tqdm

__all__ = [
    "clean_partials",
    "done_record",
    "is_hdf5",
    "partial_paths",
    "prepare_folder",
    "stream_download",
]

logger = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_ERROR_TYPES = ("text/", "application/json", "application/xhtml", "application/problem")
_ERROR_STARTS = (b"<!doctype", b"<html", b"<?xml", b"{", b"[")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

Opener = Callable[[dict[str, str]], requests.Response]


class _Interrupted(Exception):
    """The body stopped early (connection dropped or timed out), or must be re-fetched."""


class _State:
    """Progress of one download across attempts (and, through the record, across runs)."""

    def __init__(self) -> None:
        self.offset = 0
        self.total: int | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.use_range = True

    @classmethod
    def of(cls, resp: requests.Response, total: int | None) -> _State:
        """The size and validators an answer announces."""
        state = cls()
        state.total = total
        state.etag = resp.headers.get("ETag")
        state.last_modified = resp.headers.get("Last-Modified")
        return state

    def validator(self) -> str | None:
        """The ``If-Range`` value: a strong ETag, else ``Last-Modified``."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified

    def record(self, url_path: str) -> dict[str, Any]:
        return {"url_path": url_path, "total": self.total, "etag": self.etag, "last_modified": self.last_modified}


def partial_paths(target: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The partial file of a download target and the record of its validators.

    Parameters
    ----------
    target : str or path-like
        Final file, e.g. ``raw/scan.h5``.

    Returns
    -------
    tuple of Path
        ``raw/.scan.h5.part`` and ``raw/.scan.h5.part.json``.
    """
    target = Path(target)
    return (target.with_name(f".{target.name}.part"), target.with_name(f".{target.name}.part.json"))


def done_record(target: str | os.PathLike[str]) -> Path:
    """Record of a completed download: ``raw/.scan.h5.spot.json`` for ``raw/scan.h5``.

    It holds the URL path, size and validators of the remote file, so that a rerun can
    tell a complete file of this dataset from another dataset's or an older version.
    """
    target = Path(target)
    return target.with_name(f".{target.name}.spot.json")


def prepare_folder(folder: str | os.PathLike[str]) -> Path:
    """Create a download folder if needed and check that files can be written in it.

    Raises
    ------
    DownloadError
        The folder cannot be created, or is not writable (names the folder and why).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create download folder {str(folder)!r}: {exc.strerror or exc}") from None
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise DownloadError(
            f"download folder {str(folder)!r} is not writable ({exc.strerror or exc}); choose another downloadPath (-o)"
        ) from None
    return folder


def clean_partials(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the partial downloads of a folder that no process is writing any more.

    A partial file (``.<name>.h5.part``) is what a later download of the same file resumes
    from, so only an explicit clean-up should call this. Partial files locked by a
    running download are left alone.

    Parameters
    ----------
    folder : str or path-like
        A download folder.

    Returns
    -------
    list of Path
        The files removed (partial files and their records).
    """
    removed: list[Path] = []
    for partial in sorted(Path(folder).glob(".*.h5.part")):
        try:
            fh = open(partial, "rb")  # noqa: SIM115 (closed just below)
        except OSError:
            continue
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            for path in (partial, partial.with_name(partial.name + ".json")):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    logger.info("removed %d stale partial download files in %s", len(removed), folder)
    return removed


def is_hdf5(path: str | os.PathLike[str]) -> bool:
    """Whether a file carries the HDF5 signature (at byte 0, 512, 1024, 2048, ...)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        offset = 0
        while offset + len(_HDF5_SIGNATURE) <= size:
            fh.seek(offset)
            if fh.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def _check_content(resp: requests.Response, first: bytes, url_path: str) -> None:
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    head = first[:64].lstrip().lower()
    if ctype.startswith(_ERROR_TYPES) or head.startswith(_ERROR_STARTS):
        raise UnexpectedContentError(
            f"GET {url_path}: the server sent a {ctype or 'text'} page "
            f"(HTTP {resp.status_code}) instead of an HDF5 file; nothing was saved",
            path=url_path,
            status=resp.status_code,
        )
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        # Ranges, lengths and resumes all count encoded bytes; saving them would give a
        # file that is not the dataset, and decoding them would make the size unverifiable.
        raise UnexpectedContentError(
            f"GET {url_path}: the server sent the file with Content-Encoding {encoding!r} "
            "although 'Accept-Encoding: identity' was asked; refused, nothing was saved "
            "(a proxy may be compressing downloads)",
            path=url_path,
            status=resp.status_code,
        )


def _header_int(resp: requests.Response, name: str) -> int | None:
    value = resp.headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _chunks(resp: requests.Response, chunk_size: int) -> Iterator[bytes]:
    """Body pieces as they arrive (at most ``chunk_size`` bytes each).

    ``read1`` hands over whatever the socket delivered, so the bytes received before a
    dropped connection are kept and the resume starts after them.
    """
    raw = resp.raw
    if not hasattr(raw, "read1"):  # urllib3 < 2
        yield from (c for c in resp.iter_content(chunk_size=chunk_size) if c)
        return
    while True:
        chunk = raw.read1(chunk_size)
        if not chunk:
            return
        yield chunk


class _Download:
    """One download into the partial file of ``target``, across attempts."""

    def __init__(self, opener: Opener, fh: BinaryIO, record: Path, url_path: str, chunk_size: int, bar: tqdm) -> None:
        self.opener, self.fh, self.record_path = opener, fh, record
        self.url_path, self.chunk_size, self.bar = url_path, chunk_size, bar
        self.state = _State()

    # ----------------------------------------------------------- the record
    def load(self) -> None:
        """Continue from the partial file when its record proves what it holds."""
        size = os.fstat(self.fh.fileno()).st_size
        try:
            saved = json.loads(self.record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = None
        usable = (
            isinstance(saved, dict)
            and saved.get("url_path") == self.url_path
            and isinstance(saved.get("total"), int)
            and 0 < size <= saved["total"]
        )
        if not usable:
            if size:
                logger.info("%s: partial file without a usable record; starting from byte 0", self.url_path)
            self.restart()
            return
        assert isinstance(saved, dict)
        state = self.state
        state.offset, state.total = size, saved["total"]
        state.etag, state.last_modified = saved.get("etag"), saved.get("last_modified")
        self.fh.seek(size)
        self.bar.reset(total=state.total)
        self.bar.update(size)
        logger.info(
            "%s: resuming the partial file of an earlier run at byte %d of %d", self.url_path, size, state.total
        )

    def save(self) -> None:
        write_json_atomic(self.record_path, self.state.record(self.url_path), what="download record")

    def restart(self) -> None:
        self.fh.seek(0)
        self.fh.truncate()
        use_range = self.state.use_range
        self.state = _State()
        self.state.use_range = use_range
        with contextlib.suppress(FileNotFoundError):
            self.record_path.unlink()
        self.bar.reset(total=None)

    # ------------------------------------------------------------ attempts
    def attempt(self) -> None:
        state, url_path = self.state, self.url_path
        if state.offset and not state.use_range:
            self.restart()
        headers = {"Accept-Encoding": "identity"}
        asked = state.offset
        if asked:
            headers["Range"] = f"bytes={asked}-"
            validator = state.validator()
            if validator:
                headers["If-Range"] = validator
        try:
            resp = self.opener(headers)
        except SpotResponseError as exc:
            if exc.status == 416 and state.total is not None:
                raise SizeMismatchError(
                    f"GET {url_path}: server refused a resume at byte {asked} although "
                    f"{state.total} bytes were announced",
                    path=url_path,
                    status=416,
                ) from None
            raise
        with contextlib.closing(resp):
            self._accept(resp, asked)
            self._receive(resp)

    def _accept(self, resp: requests.Response, asked: int) -> None:
        """Check the status and headers of one answer; restart when they require it."""
        state, url_path = self.state, self.url_path
        status = resp.status_code
        if status not in (200, 206):
            raise DownloadError(
                f"GET {url_path}: unexpected HTTP {status} for a download", path=url_path, status=status
            )
        _check_content(resp, b"", url_path)
        length = _header_int(resp, "Content-Length")
        if status == 200:
            if asked:
                logger.info(
                    "%s: the server ignored the Range request from byte %d and sent "
                    "the whole file (no range support, or the file changed); "
                    "restarting from 0",
                    url_path,
                    asked,
                )
                self.restart()
            total = length
        else:
            text = resp.headers.get("Content-Range", "").strip()
            match = _CONTENT_RANGE.fullmatch(text)
            first, last = (int(match.group(1)), int(match.group(2))) if match else (-1, -1)
            if match is None or first != asked or (length is not None and length != last - first + 1):
                logger.warning(
                    "%s: bad Content-Range %r (length %s) for a request at byte %d; "
                    "downloading the whole file again, without ranges",
                    url_path,
                    text,
                    length,
                    asked,
                )
                state.use_range = False
                self.restart()
                raise _Interrupted("bad Content-Range")
            total = None if match.group(3) == "*" else int(match.group(3))
            if asked and (total != state.total or _changed(state.record(url_path), _State.of(resp, total))):
                # a server that ignores If-Range serves a range of another version
                logger.info(
                    "%s: the remote file changed (size %s, was %s; or other ETag / Last-Modified); restarting from 0",
                    url_path,
                    total,
                    state.total,
                )
                self.restart()
                raise _Interrupted("the remote file changed")
        state = self.state  # a new one after a restart
        if state.offset == 0:
            fresh = _State.of(resp, total)
            state.total, state.etag, state.last_modified = total, fresh.etag, fresh.last_modified
            self.save()
            self.bar.reset(total=total)

    def _receive(self, resp: requests.Response) -> None:
        state = self.state
        try:
            for chunk in _chunks(resp, self.chunk_size):
                if state.offset == 0:
                    _check_content(resp, chunk, self.url_path)
                self.fh.write(chunk)
                state.offset += len(chunk)
                self.bar.update(len(chunk))
        except (
            requests.RequestException,
            urllib3.exceptions.HTTPError,
            ConnectionError,
            builtins.TimeoutError,
        ) as exc:
            # Not a bare OSError: a failing local write (disk full) must not be retried.
            raise _Interrupted(type(exc).__name__) from exc

    def run(self, policy: RetryPolicy) -> None:
        """Attempts until the announced size is reached, or the retries are spent."""
        state, url_path = self.state, self.url_path
        if state.total is not None and state.offset == state.total:
            # complete but not renamed by an earlier run: still the remote's version?
            remote = _remote(self.opener, url_path)
            if remote.total == state.total and not _changed(state.record(url_path), remote):
                return
            logger.info("%s: the remote file changed since the earlier run; restarting from 0", url_path)
            self.restart()
            state = self.state
        failures = 0
        while True:
            before = state.offset
            interrupted: _Interrupted | None = None
            try:
                self.attempt()
            except _Interrupted as exc:
                interrupted = exc
            state = self.state
            if state.total is not None and state.offset > state.total:
                raise SizeMismatchError(
                    f"GET {url_path}: received {state.offset} bytes but {state.total} were announced",
                    path=url_path,
                )
            if state.offset == state.total or (interrupted is None and state.total is None):
                return
            if interrupted is not None:
                reason = f"transfer interrupted at byte {state.offset} ({interrupted})"
            else:
                reason = f"body ended early at byte {state.offset} of {state.total}"
            failures = 0 if state.offset > before else failures + 1
            if failures > policy.retries:
                raise DownloadError(
                    f"GET {url_path}: {reason}; giving up after {policy.retries} retries "
                    "without progress (the partial file is kept: run the download again to "
                    "resume it)",
                    path=url_path,
                )
            policy.pause(max(failures - 1, 0), f"GET {url_path}", f"{reason}; resuming")

    def verify(self, target: Path, partial: Path, expected_size: int | None) -> None:
        """Refuse a body that cannot be proven to be the whole HDF5 file."""
        state, url_path = self.state, self.url_path
        if state.offset == 0:
            raise DownloadError(f"GET {url_path}: the server sent an empty file; nothing saved", path=url_path)
        if expected_size is not None and state.offset != expected_size:
            raise SizeMismatchError(
                f"GET {url_path}: received {state.offset} bytes but the portal's metadata "
                f"gives {expected_size}; nothing saved",
                path=url_path,
            )
        if state.total is None and expected_size is None:
            raise DownloadError(
                f"GET {url_path}: the server announced no size (no Content-Length or "
                f"Content-Range), so the {state.offset} bytes received cannot be verified as "
                "the whole file; nothing saved",
                path=url_path,
            )
        self.fh.flush()
        if not is_hdf5(partial):
            raise UnexpectedContentError(
                f"GET {url_path}: the {state.offset} bytes received are not an HDF5 file "
                f"(no HDF5 signature); {str(target)!r} was not written",
                path=url_path,
            )


def _remote(opener: Opener, url_path: str) -> _State:
    """Size and validators of the remote file, from a one-byte range request."""
    resp = opener({"Accept-Encoding": "identity", "Range": "bytes=0-0"})
    with contextlib.closing(resp):
        if resp.status_code not in (200, 206):
            return _State()
        _check_content(resp, b"", url_path)
        if resp.status_code == 200:
            return _State.of(resp, _header_int(resp, "Content-Length"))
        match = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", "").strip())
        return _State.of(resp, int(match.group(3)) if match and match.group(3) != "*" else None)


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


def _changed(saved: dict[str, Any], remote: _State) -> bool:
    """Whether the validators recorded at download time differ from the remote's now."""
    for key, now in (("etag", remote.etag), ("last_modified", remote.last_modified)):
        if saved.get(key) and now:
            return saved[key] != now
    return False


def _check_existing(opener: Opener, target: Path, url_path: str) -> int | None:
    """Size of a complete existing ``target`` (skip it), ``None`` when there is none.

    Complete means: the size of the remote file, the HDF5 signature and -- when the
    record of its download (``.<name>.spot.json``) is there -- the same URL path and
    the same validators (``ETag`` / ``Last-Modified``) as the remote file now.
    """
    if not target.exists():
        return None
    local = target.stat().st_size if target.is_file() else -1
    remote = _remote(opener, url_path)
    saved = _read_record(done_record(target))
    if local < 0:
        problem = "is not a file"
    elif saved is not None and saved.get("url_path") != url_path:
        problem = f"was downloaded from {saved.get('url_path')}, another dataset"
    elif remote.total is None or local != remote.total:
        size = "an unknown number of" if remote.total is None else remote.total
        problem = f"has {local} bytes, but {url_path} has {size} bytes"
    elif not is_hdf5(target):
        problem = f"has {local} bytes but is not an HDF5 file"
    elif saved is not None and _changed(saved, remote):
        problem = (
            f"is an earlier version: {url_path} changed on the server since it was "
            "downloaded (ETag / Last-Modified differ)"
        )
    else:
        logger.info("%s already complete (%d bytes, the size of %s); skipped", target, local, url_path)
        return local
    raise DownloadError(
        f"{str(target)!r} already exists and {problem}; nothing was downloaded: remove it, "
        "choose another downloadName/downloadPath, or pass overwrite=True "
        "(alsmicroct-spot download --overwrite) to replace it",
        path=url_path,
    )


def stream_download(
    opener: Opener,
    target: str | os.PathLike[str],
    *,
    url_path: str,
    policy: RetryPolicy,
    chunk_size: int = 1 << 20,
    progress: bool | None = None,
    label: str | None = None,
    overwrite: bool = False,
    expected_size: int | None = None,
) -> int:
    """Download into ``target`` atomically and verified, resuming after interruptions.

    Parameters
    ----------
    opener : callable
        ``opener(headers) -> requests.Response``: sends the streaming GET with the given
        extra headers and returns an answer whose body is not read yet; it raises
        :class:`SpotError` subclasses for refused requests.
    target : str or path-like
        Final file; its folder must exist. Written only once complete and verified.
    url_path : str
        URL path named in messages (and recorded with the partial file).
    policy : RetryPolicy
        Retries allowed after interruptions that made no progress.
    chunk_size : int
        Bytes per read/write; bounds the memory used.
    progress : bool or None
        Show a progress bar; ``None`` shows it only when stderr is a terminal.
    label : str, optional
        Progress bar label.
    overwrite : bool
        Replace an existing ``target`` that differs from the remote file (by default
        that is an error, and a complete one -- same size, HDF5 -- is skipped).
    expected_size : int, optional
        Size in bytes known from the portal's metadata; then a body without a length is
        accepted when it has exactly this size.

    Returns
    -------
    int
        Size of the file in bytes.

    Raises
    ------
    DownloadError
        Interrupted more often than allowed (the partial file is kept for the next run),
        wrong size, empty or unsized body, encoded body, error page instead of data, not
        HDF5, another process downloading the same target, unwritable folder, or an
        existing different ``target`` without ``overwrite``.
    """
    from tqdm import tqdm

    target = Path(target)
    if not overwrite:
        done = _check_existing(opener, target, url_path)
        if done is not None:
            return done
    partial, record = partial_paths(target)
    try:
        fd = os.open(partial, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DownloadError(
            f"GET {url_path}: cannot write in the download folder {str(target.parent)!r}: {exc.strerror or exc}",
            path=url_path,
        ) from None
    discard = True
    with os.fdopen(fd, "r+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(
                f"GET {url_path}: another process is downloading to {str(target)!r} (its "
                f"partial file {partial.name} is locked); wait for it to finish",
                path=url_path,
            ) from None
        try:
            with tqdm(
                total=None,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=label or target.name,
                leave=False,
                disable=None if progress is None else not progress,
            ) as bar:
                job = _Download(opener, fh, record, url_path, chunk_size, bar)
                job.load()
                discard = False
                try:
                    job.run(policy)
                except SizeMismatchError:
                    discard = True
                    raise
                discard = True  # a failed verification means the bytes are unusable
                job.verify(target, partial, expected_size)
                discard = False
                fh.flush()
                os.fsync(fh.fileno())
            job.save()
            os.replace(partial, target)
            os.replace(record, done_record(target))
        except SpotError:
            raise
        except OSError as exc:  # a local write failed (disk full, ...)
            raise DownloadError(
                f"GET {url_path}: cannot write {str(target)!r}: {exc.strerror or exc}",
                path=url_path,
            ) from exc
        finally:
            if partial.exists() and (discard or os.fstat(fh.fileno()).st_size == 0):
                for path in (partial, record):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
    size = job.state.offset
    logger.info("downloaded %s -> %s (%d bytes)", url_path, target, size)
    return size
