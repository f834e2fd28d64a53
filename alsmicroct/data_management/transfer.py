"""Streaming, resumable download of one file to disk.

The body is written chunk by chunk to a temporary file next to the destination; an
interrupted transfer is resumed with an HTTP ``Range`` request (guarded by ``If-Range``
when the server gave an ``ETag``); the final size is checked against the announced
length; HTML/JSON error pages are refused; only a complete file is renamed into place.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import requests
import urllib3

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

__all__ = ["stream_download"]

logger = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_ERROR_TYPES = ("text/", "application/json", "application/xhtml", "application/problem")
_ERROR_STARTS = (b"<!doctype", b"<html", b"<?xml", b"{", b"[")

Opener = Callable[[dict[str, str]], requests.Response]


class _Interrupted(Exception):
    """The body stopped early (connection dropped or timed out)."""


class _State:
    """Progress of one download across attempts."""

    def __init__(self) -> None:
        self.offset = 0
        self.total: int | None = None
        self.etag: str | None = None


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


def _announced_total(resp: requests.Response, state: _State, url_path: str) -> int | None:
    """Validate the status/headers of one answer; return the full size if known."""
    if resp.status_code == 206:
        match = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", "").strip())
        if match is None or int(match.group(1)) != state.offset:
            raise DownloadError(
                f"GET {url_path}: bad Content-Range {resp.headers.get('Content-Range')!r} "
                f"for a resume at byte {state.offset}",
                path=url_path,
                status=206,
            )
        return None if match.group(3) == "*" else int(match.group(3))
    length = resp.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


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


def _attempt(
    opener: Opener, fh: BinaryIO, state: _State, url_path: str, chunk_size: int, bar: tqdm
) -> None:
    headers = {"Accept-Encoding": "identity"}
    if state.offset:
        headers["Range"] = f"bytes={state.offset}-"
        if state.etag:
            headers["If-Range"] = state.etag
    try:
        resp = opener(headers)
    except SpotResponseError as exc:
        if exc.status == 416 and state.total is not None:
            raise SizeMismatchError(
                f"GET {url_path}: server refused a resume at byte {state.offset} although "
                f"{state.total} bytes were announced",
                path=url_path,
                status=416,
            ) from None
        raise
    with contextlib.closing(resp):
        if resp.status_code not in (200, 206):
            raise DownloadError(
                f"GET {url_path}: unexpected HTTP {resp.status_code} for a download",
                path=url_path,
                status=resp.status_code,
            )
        _check_content(resp, b"", url_path)
        if resp.status_code == 200 and state.offset:
            logger.info("%s: server ignored the Range request (or the file changed); "
                        "restarting from 0", url_path)
            fh.seek(0)
            fh.truncate()
            state.offset = 0
            state.total = None
            bar.reset(total=None)
        total = _announced_total(resp, state, url_path)
        if state.total is not None and total is not None and total != state.total:
            raise SizeMismatchError(
                f"GET {url_path}: file size changed from {state.total} to {total} bytes "
                "during the download",
                path=url_path,
            )
        if total is not None:
            state.total = total
            bar.total = total
        state.etag = resp.headers.get("ETag") or state.etag
        try:
            for chunk in _chunks(resp, chunk_size):
                if state.offset == 0:
                    _check_content(resp, chunk, url_path)
                fh.write(chunk)
                state.offset += len(chunk)
                bar.update(len(chunk))
        except (
            requests.RequestException, urllib3.exceptions.HTTPError,
            ConnectionError, builtins.TimeoutError,
        ) as exc:
            # Not a bare OSError: a failing local write (disk full) must not be retried.
            raise _Interrupted(type(exc).__name__) from exc


def stream_download(
    opener: Opener,
    target: str | os.PathLike[str],
    *,
    url_path: str,
    policy: RetryPolicy,
    chunk_size: int = 1 << 20,
    progress: bool | None = None,
    label: str | None = None,
) -> int:
    """Download into ``target`` atomically, resuming after interruptions.

    Parameters
    ----------
    opener : callable
        ``opener(headers) -> requests.Response``: sends the streaming GET with the given
        extra headers and returns an answer whose body is not read yet; it raises
        :class:`SpotError` subclasses for refused requests.
    target : str or path-like
        Final file; its folder must exist. Written only once complete.
    url_path : str
        URL path named in messages.
    policy : RetryPolicy
        Retries allowed after interruptions that made no progress.
    chunk_size : int
        Bytes per read/write; bounds the memory used.
    progress : bool or None
        Show a progress bar; ``None`` shows it only when stderr is a terminal.
    label : str, optional
        Progress bar label.

    Returns
    -------
    int
        Size of the file in bytes.

    Raises
    ------
    DownloadError
        Interrupted more often than allowed, wrong size, or error page instead of data.
    """
    from tqdm import tqdm

    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    state = _State()
    failures = 0
    try:
        with os.fdopen(fd, "wb") as fh, tqdm(
            total=None,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=label or target.name,
            disable=None if progress is None else not progress,
            leave=False,
        ) as bar:
            while True:
                before = state.offset
                interrupted: _Interrupted | None = None
                try:
                    _attempt(opener, fh, state, url_path, chunk_size, bar)
                except _Interrupted as exc:
                    interrupted = exc
                if state.total is not None and state.offset > state.total:
                    raise SizeMismatchError(
                        f"GET {url_path}: received {state.offset} bytes but "
                        f"{state.total} were announced",
                        path=url_path,
                    )
                if state.offset == state.total or (interrupted is None and state.total is None):
                    break
                if interrupted is not None:
                    reason = f"transfer interrupted at byte {state.offset} ({interrupted})"
                else:
                    reason = f"body ended early at byte {state.offset} of {state.total}"
                failures = 0 if state.offset > before else failures + 1
                if failures > policy.retries:
                    raise DownloadError(
                        f"GET {url_path}: {reason}; giving up after {policy.retries} "
                        "retries without progress",
                        path=url_path,
                    )
                policy.pause(max(failures - 1, 0), f"GET {url_path}", f"{reason}; resuming")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except SpotError:
        raise
    except OSError as exc:
        raise DownloadError(f"GET {url_path}: cannot write {str(target)!r}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    logger.info("downloaded %s -> %s (%d bytes)", url_path, target, state.offset)
    return state.offset
