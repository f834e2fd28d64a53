"""A SPOT-compatible HTTP server for tests, on 127.0.0.1 (standard library only).

It serves a folder of raw ``.h5`` files through the SPOT API used by
:class:`alsmicroct.data_management.SpotSession`: cookie sessions (``/auth``,
``/logout``), a NEWT-style auth endpoint, search over an in-memory catalogue, derived
datasets, attributes / image list / image data read with h5py, staging with a delay,
and downloads with HTTP Range support. Faults can be injected per test.

Layout of ``root_dir``: ``<root>/<owner>/<name>.h5`` (or ``<root>/<name>.h5``, owned by
``default_owner``).

Examples
--------
>>> with SpotServer("data/", users={"alice": "secret"}) as srv:   # doctest: +SKIP
...     srv.fail_next(2, status=503)
...     SpotSession("alice", "secret", base_url=srv.base_url)
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import email.utils
import gzip
import json
import logging
import os
import re
import secrets
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["SESSION_COOKIE", "RequestRecord", "SpotServer", "downloaded_files"]

logger = logging.getLogger(__name__)

#: Name of the session cookie set by ``POST /als/auth``.
SESSION_COOKIE = "spot_session"
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass(frozen=True)
class RequestRecord:
    """One request seen by the server (no body, no cookie values).

    ``cookies`` holds the *names* of the cookies the client sent, and ``form_keys`` the
    field names of a POSTed form, so tests can check where credentials travelled.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    cookies: tuple[str, ...] = ()
    form_keys: tuple[str, ...] = ()


@dataclass
class _Entry:
    owner: str
    name: str
    file: Path
    size: int
    mtime: float
    ready_at: float | None = None  # None: on tape, staging not requested yet

    def record(self, stage: str = "raw") -> dict[str, Any]:
        date = _dt.datetime.fromtimestamp(self.mtime, _dt.timezone.utc).isoformat()
        path = f"/als/bl832/{self.owner}/{self.name}/{stage}/{self.name}.h5"
        fs = {
            "stage": stage,
            "stage_date": date,
            "size": self.size,
            "phyloc": str(self.file) if stage == "raw" else path,
            "path": path,
        }
        return {
            "name": self.name,
            "dataset": self.name,
            "owner": self.owner,
            "end_station": "bl832",
            "stage": stage,
            "path": path,
            "phyloc": fs["phyloc"],
            "stage_date": date,
            "size": self.size,
            "fs": fs,
        }


@dataclass
class _Fault:
    remaining: int
    prefix: str
    params: dict[str, Any] = field(default_factory=dict)


class _Faults:
    """Thread-safe one-shot fault queues, keyed by kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, list[_Fault]] = {}

    def add(self, kind: str, times: int, prefix: str, **params: Any) -> None:
        with self._lock:
            self._queues.setdefault(kind, []).append(_Fault(times, prefix, params))

    def take(self, kind: str, endpoint: str) -> dict[str, Any] | None:
        with self._lock:
            for fault in self._queues.get(kind, []):
                if fault.remaining > 0 and endpoint.startswith(fault.prefix):
                    fault.remaining -= 1
                    return fault.params
        return None

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()


def downloaded_files(folder: str | os.PathLike[str]) -> list[str]:
    """Sorted names in a download folder, leaving out the records of completed downloads
    (``.<name>.spot.json``) that :meth:`SpotSession.download` keeps next to each file."""
    return sorted(p.name for p in Path(folder).iterdir() if not p.name.endswith(".spot.json"))


def _lookup(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, spot: SpotServer) -> None:
        self.spot = spot
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__((spot.host, 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        if self.spot.ssl_context is not None:
            # handshake lazily, in the handler thread, so a stalled client cannot block accept()
            conn = self.spot.ssl_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        with self.conn_lock:
            self.connections.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that rejects our certificate or drops the line is an expected event here
        logger.debug("SPOT test server: connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    timeout = 10  # idle keep-alive connections end after this

    # ------------------------------------------------------------- plumbing
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _send(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None, length: int | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def _drop(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        return {k: v[0] for k, v in parse_qs(raw).items()}

    def _session_user(self) -> str | None:
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        morsel = cookie.get(SESSION_COOKIE)
        return self.server.spot._session_user(morsel.value if morsel else None)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        spot = self.server.spot
        split = urlsplit(self.path)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "cookie"}
        form = self._form() if self.command == "POST" else {}
        cookies = tuple(SimpleCookie(self.headers.get("Cookie", "")).keys())
        spot._record(RequestRecord(self.command, split.path, split.query, headers, cookies, tuple(form)))
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        try:
            if split.path == spot.newt_path:
                self._newt_auth(form)
                return
            if not split.path.startswith(spot.base_path + "/"):
                self._error(404, f"no such endpoint {split.path}")
                return
            endpoint = split.path[len(spot.base_path) + 1 :]
            if self._inject(endpoint):
                return
            self._route(endpoint, query, form)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            logger.exception("SPOT test server failed on %s %s", self.command, split.path)
            with contextlib.suppress(OSError):
                self._error(500, "internal server error")
            self.close_connection = True

    def _inject(self, endpoint: str) -> bool:
        faults = self.server.spot.faults
        slow = faults.take("slow", endpoint)
        if slow is not None and self.server.spot._stopping.wait(slow["delay"]):
            return True
        canned = faults.take("answer", endpoint)
        if canned is not None:
            self._json(canned["payload"], canned["status"])
            return True
        moved = faults.take("redirect", endpoint)
        if moved is not None:
            self._json({"moved": True}, moved["status"], {"Location": moved["location"]})
            return True
        fail = faults.take("fail", endpoint)
        if fail is not None:
            extra = {"Retry-After": str(fail["retry_after"])} if fail["retry_after"] else {}
            self._json({"error": "injected failure"}, fail["status"], extra)
            return True
        if faults.take("html", endpoint) is not None:
            page = b"<!DOCTYPE html><html><body><h1>Service unavailable</h1></body></html>"
            self._send(200, page, "text/html; charset=utf-8")
            return True
        return False

    # --------------------------------------------------------------- routes
    def _newt_auth(self, form: dict[str, str]) -> None:
        spot = self.server.spot
        user = form.get("username", "")
        if self.command != "POST" or spot.users.get(user) != form.get("password") or not user:
            self._json({"auth": False, "error": "invalid credentials"}, 401)
            return
        token = secrets.token_hex(16)
        with spot._lock:
            spot._newt_tokens[token] = user
            spot._issued.append(token)
        self._json({"auth": True, "username": user, "newt_sessionid": token})

    def _route(self, endpoint: str, query: dict[str, str], form: dict[str, str]) -> None:
        spot = self.server.spot
        if endpoint == "auth":
            self._auth(form)
            return
        user = self._session_user()
        if endpoint == "logout":
            spot._end_session(SimpleCookie(self.headers.get("Cookie", "")).get(SESSION_COOKIE))
            expire = {"Set-Cookie": f"{SESSION_COOKIE}=; Path=/; Max-Age=0"}
            self._json({"auth": False}, headers=expire)
            return
        if user is None:
            self._json({"auth": False, "error": "not logged in"}, spot.unauthenticated_status)
            return
        parts = endpoint.split("/")
        if parts[:2] == ["hdf", "search"]:
            self._json(spot._search(query))
        elif parts[:2] == ["hdf", "dataset"]:
            self._json(spot._derived(query.get("dataset", "")))
        elif len(parts) > 2 and parts[0] == "hdf":
            entry = spot._entry_for([unquote(p) for p in parts[2:]])
            if entry is None:
                self._error(404, "no such dataset")
                return
            handler = {
                "attributes": self._attributes,
                "listimages": self._listimages,
                "rawdata": self._rawdata,
                "stageifneeded": self._stage,
                "download": self._download,
            }.get(parts[1])
            if handler is None:
                self._error(404, f"no such endpoint hdf/{parts[1]}")
            else:
                handler(entry, query)
        else:
            self._error(404, f"no such endpoint {endpoint}")

    def _auth(self, form: dict[str, str]) -> None:
        spot = self.server.spot
        if self.command != "POST":
            user = self._session_user()
            self._json({"auth": user is not None, "username": user})
            return
        user, secret = form.get("username", ""), form.get("password", "")
        with spot._lock:
            newt_ok = spot._newt_tokens.get(secret) == user
        if not user or (spot.users.get(user) != secret and not newt_ok):
            self._json({"auth": False, "error": "invalid credentials"})
            return
        token = spot._new_session(user)
        self._json(
            {"auth": True, "username": user}, headers={"Set-Cookie": f"{SESSION_COOKIE}={token}; Path=/; HttpOnly"}
        )

    def _h5(self, entry: _Entry, group: str, fn: Any) -> None:
        import h5py

        with h5py.File(entry.file, "r") as f:
            if group not in f:
                self._error(404, f"no group {group} in the file")
                return
            self._json(fn(f, f[group]))

    def _attributes(self, entry: _Entry, query: dict[str, str]) -> None:
        self._h5(entry, query.get("group", "/"), lambda f, obj: {k: _jsonable(v) for k, v in obj.attrs.items()})

    def _listimages(self, entry: _Entry, query: dict[str, str]) -> None:
        import h5py

        def images(f: Any, root: Any) -> list[str]:
            found: list[str] = []
            root.visititems(
                lambda name, obj: found.append("/" + name) if isinstance(obj, h5py.Dataset) and obj.ndim >= 2 else None
            )
            return found

        self._h5(entry, "/", images)

    def _rawdata(self, entry: _Entry, query: dict[str, str]) -> None:
        import h5py

        def data(f: Any, obj: Any) -> dict[str, Any]:
            if not isinstance(obj, h5py.Dataset):
                return {"error": "not an image"}
            arr = obj[()]
            return {"data": arr.tolist(), "shape": list(arr.shape), "dtype": str(arr.dtype)}

        self._h5(entry, query.get("group", ""), data)

    def _stage(self, entry: _Entry, query: dict[str, str]) -> None:
        spot = self.server.spot
        now = time.monotonic()
        with spot._lock:
            if entry.ready_at is None:
                entry.ready_at = now + spot.stage_delay
                location = "unknown" if spot.stage_delay > 0 else str(entry.file)
            elif now < entry.ready_at:
                location = "staging"
            else:
                location = str(entry.file)
        self._json(
            {
                "location": location,
                "dataset": entry.name,
                "status": "staged" if location == str(entry.file) else "pending",
            }
        )

    def _download(self, entry: _Entry, query: dict[str, str]) -> None:
        spot = self.server.spot
        if entry.ready_at is None or time.monotonic() < entry.ready_at:
            self._error(409, "file is on tape; stage it first")
            return
        st = entry.file.stat()
        size = st.st_size
        etag = f'"{size:x}-{st.st_mtime_ns:x}"'
        modified = email.utils.formatdate(st.st_mtime, usegmt=True)
        start, end = 0, size - 1
        status = 200
        headers = {
            "Accept-Ranges": "bytes",
            "Last-Modified": modified,
            "Content-Disposition": f'attachment; filename="{entry.name}.h5"',
        }
        if spot.send_etag:
            headers["ETag"] = etag
        match = _RANGE.fullmatch(self.headers.get("Range", "").strip())
        if_range = self.headers.get("If-Range")
        fresh = (
            if_range is None
            or not spot.honour_if_range
            or if_range in ((etag,) if spot.send_etag else ()) + (modified,)
        )
        if match and spot.accept_ranges and fresh:
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            if start >= size or start > end:
                self._send(416, b"", "application/json", {"Content-Range": f"bytes */{size}"})
                return
            status = 206
            shift = spot.faults.take("shift", "hdf/download")
            told = start + (shift["by"] if shift else 0)
            headers["Content-Range"] = f"bytes {told}-{end}/{size}"
        with entry.file.open("rb") as fh:
            fh.seek(start)
            self._send_body(status, fh, end - start + 1, headers)

    def _send_body(self, status: int, fh: Any, length: int, headers: dict[str, str]) -> None:
        """Stream ``length`` bytes of ``fh``, applying the injected download faults."""
        spot = self.server.spot
        faults = spot.faults
        lie = faults.take("lie", "hdf/download")
        drop = faults.take("drop", "hdf/download")
        encode = faults.take("encode", "hdf/download")
        unsized = faults.take("unsized", "hdf/download")
        if faults.take("empty", "hdf/download") is not None:
            length = 0
        if encode is not None:  # the whole body, gzip-compressed, whatever was asked
            packed = gzip.compress(fh.read(length))
            headers["Content-Encoding"] = "gzip"
            length, fh = len(packed), _BytesReader(packed)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        if unsized is None:
            self.send_header("Content-Length", str(length + (lie["extra"] if lie else 0)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        limit = min(length, drop["after"]) if drop else length
        sent = 0
        while sent < limit:
            chunk = fh.read(min(spot.chunk_size, limit - sent))
            if not chunk:
                break
            self.wfile.write(chunk)
            sent += len(chunk)
            if spot.throttle and sent < limit and spot._stopping.wait(spot.throttle):
                break
        if drop or lie or unsized:
            self._drop()


class _BytesReader:
    """Minimal ``read(n)`` over bytes (for encoded bodies)."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int) -> bytes:
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


class SpotServer:
    """SPOT-compatible server on 127.0.0.1 and a random port, in a background thread.

    Parameters
    ----------
    root_dir : str or path-like
        Folder of raw files (``<owner>/<name>.h5`` or ``<name>.h5``).
    users : dict of str to str, optional
        Accepted user names and passwords (default ``{"alice": "secret"}``).
    default_owner : str, optional
        Owner of files directly in ``root_dir`` (default: the first user).
    stage_delay : float
        Seconds a dataset takes to come from tape after the first ``stageifneeded``;
        0 means every file is already on disk; ``math.inf`` never finishes.
    derived_stages : tuple of str
        Extra stages listed by ``hdf/dataset`` besides ``raw``.
    unauthenticated_status : int
        Status of API answers without a valid session (401, or 200 with
        ``{"auth": false}``).
    chunk_size : int
        Bytes written per send in downloads.
    accept_ranges : bool
        Honour ``Range`` requests (206); when false, always send the whole file (200).
    host : str
        Address to bind (loopback by default).
    ssl_context : ssl.SSLContext, optional
        Serve HTTPS with this server-side context (e.g. a self-signed certificate made by
        the test), to exercise the client's certificate verification.
    send_etag : bool
        Send an ``ETag`` with downloads (``Last-Modified`` is always sent, and either
        validator is accepted in ``If-Range``).
    throttle : float
        Seconds to pause after each download chunk (to kill a client mid-transfer).
    honour_if_range : bool
        Send the whole file when ``If-Range`` does not match (as HTTP says); when false,
        serve the range anyway, as some servers and proxies do.

    Attributes
    ----------
    base_url : str
        ``http(s)://127.0.0.1:<port>/als`` (valid while started).
    newt_url : str
        URL of the NEWT-style auth endpoint.
    requests : list of RequestRecord
        Every request received (for assertions), without bodies or cookies.
    login_count : int
        Successful logins so far.
    """

    base_path = "/als"
    newt_path = "/newt/auth"

    def __init__(
        self,
        root_dir: str | os.PathLike[str],
        users: dict[str, str] | None = None,
        *,
        default_owner: str | None = None,
        stage_delay: float = 0.0,
        derived_stages: tuple[str, ...] = ("norm",),
        unauthenticated_status: int = HTTPStatus.UNAUTHORIZED,
        chunk_size: int = 256 * 1024,
        accept_ranges: bool = True,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
        send_etag: bool = True,
        throttle: float = 0.0,
        honour_if_range: bool = True,
    ) -> None:
        self.root_dir = Path(root_dir)
        self.users = dict(users if users is not None else {"alice": "secret"})
        self.default_owner = default_owner or next(iter(self.users), "alice")
        self.stage_delay = float(stage_delay)
        self.derived_stages = tuple(derived_stages)
        self.unauthenticated_status = int(unauthenticated_status)
        self.chunk_size = int(chunk_size)
        self.accept_ranges = bool(accept_ranges)
        self.host = host
        self.ssl_context = ssl_context
        self.send_etag = bool(send_etag)
        self.throttle = float(throttle)
        self.honour_if_range = bool(honour_if_range)
        self.faults = _Faults()
        self.requests: list[RequestRecord] = []
        self.login_count = 0
        self._lock = threading.Lock()
        self._sessions: dict[str, str] = {}
        self._newt_tokens: dict[str, str] = {}
        self._issued: list[str] = []
        self._catalogue: dict[tuple[str, str], _Entry] = {}
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.rescan()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> SpotServer:
        """Bind and serve in a daemon thread; returns ``self``."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="SpotServer",
            daemon=True,
        )
        self._thread.start()
        logger.debug("SPOT test server on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and release the port."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        with self._httpd.conn_lock:
            conns = list(self._httpd.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> SpotServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._httpd is None:
            raise RuntimeError("SpotServer is not started")
        return self._httpd.server_address[1]

    @property
    def scheme(self) -> str:
        """``"https"`` when started with an ``ssl_context``, else ``"http"``."""
        return "http" if self.ssl_context is None else "https"

    @property
    def base_url(self) -> str:
        """API root URL, e.g. ``http://127.0.0.1:40123/als``."""
        return f"{self.scheme}://{self.host}:{self.port}{self.base_path}"

    @property
    def newt_url(self) -> str:
        """NEWT-style auth URL."""
        return f"{self.scheme}://{self.host}:{self.port}{self.newt_path}"

    # ------------------------------------------------------- fault injection
    def fail_next(self, n: int, status: int = 500, *, endpoint: str = "", retry_after: float | None = None) -> None:
        """Answer the next ``n`` API calls (under ``endpoint``) with ``status``."""
        self.faults.add("fail", n, endpoint, status=status, retry_after=retry_after)

    def slow_next(self, n: int, delay: float, *, endpoint: str = "") -> None:
        """Delay the next ``n`` API calls (under ``endpoint``) by ``delay`` seconds."""
        self.faults.add("slow", n, endpoint, delay=delay)

    def drop_downloads(self, after_bytes: int, times: int = 1) -> None:
        """Drop the connection of the next ``times`` downloads after ``after_bytes``."""
        self.faults.add("drop", times, "hdf/download", after=after_bytes)

    def lie_about_length(self, extra: int, times: int = 1) -> None:
        """Announce ``extra`` more bytes than the next ``times`` downloads hold."""
        self.faults.add("lie", times, "hdf/download", extra=extra)

    def redirect_next(self, n: int, location: str, *, status: int = 302, endpoint: str = "") -> None:
        """Answer the next ``n`` API calls (under ``endpoint``) with a redirect."""
        self.faults.add("redirect", n, endpoint, status=status, location=location)

    def answer_next(self, n: int, payload: Any, *, endpoint: str, status: int = 200) -> None:
        """Answer the next ``n`` API calls under ``endpoint`` with this JSON payload."""
        self.faults.add("answer", n, endpoint, payload=payload, status=status)

    def encode_downloads(self, times: int = 1) -> None:
        """Send the next ``times`` download bodies gzip-compressed (``Content-Encoding``)."""
        self.faults.add("encode", times, "hdf/download")

    def unsized_downloads(self, times: int = 1) -> None:
        """Send the next ``times`` downloads without ``Content-Length`` (body ends at close)."""
        self.faults.add("unsized", times, "hdf/download")

    def empty_downloads(self, times: int = 1) -> None:
        """Answer the next ``times`` downloads with an empty body (``Content-Length: 0``)."""
        self.faults.add("empty", times, "hdf/download")

    def shift_content_range(self, by: int, times: int = 1) -> None:
        """Misstate the start of the next ``times`` ``Content-Range`` headers by ``by``."""
        self.faults.add("shift", times, "hdf/download", by=by)

    def html_error_next(self, n: int = 1, *, endpoint: str = "hdf/download") -> None:
        """Serve an HTML error page with status 200 for the next ``n`` calls."""
        self.faults.add("html", n, endpoint)

    def expire_sessions(self) -> None:
        """Forget every login session (clients must log in again)."""
        with self._lock:
            self._sessions.clear()

    def secrets_in_use(self) -> list[str]:
        """Every session id and NEWT token issued so far (for credential-hygiene tests)."""
        with self._lock:
            return [*self._issued]

    def clear_faults(self) -> None:
        """Cancel all pending injected faults."""
        self.faults.clear()

    # --------------------------------------------------------------- state
    def rescan(self) -> None:
        """Rebuild the catalogue from ``root_dir``."""
        files = [(self.default_owner, p) for p in sorted(self.root_dir.glob("*.h5"))]
        files += [(p.parent.name, p) for p in sorted(self.root_dir.glob("*/*.h5"))]
        ready = 0.0 if self.stage_delay <= 0 else None
        catalogue = {}
        for owner, path in files:
            st = path.stat()
            catalogue[(owner, path.stem)] = _Entry(owner, path.stem, path.resolve(), st.st_size, st.st_mtime, ready)
        with self._lock:
            self._catalogue = catalogue

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _new_session(self, user: str) -> str:
        token = secrets.token_hex(16)
        with self._lock:
            self._sessions[token] = user
            self._issued.append(token)
            self.login_count += 1
        return token

    def _session_user(self, token: str | None) -> str | None:
        with self._lock:
            return self._sessions.get(token) if token else None

    def _end_session(self, morsel: Any) -> None:
        with self._lock:
            if morsel is not None:
                self._sessions.pop(morsel.value, None)

    def _entry_for(self, parts: list[str]) -> _Entry | None:
        if len(parts) != 6 or parts[:2] != ["als", "bl832"] or parts[4] != "raw":
            return None
        owner, name, filename = parts[2], parts[3], parts[5]
        if filename != f"{name}.h5":
            return None
        with self._lock:
            return self._catalogue.get((owner, name))

    def _search(self, query: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            records = [e.record() for e in self._catalogue.values()]
        terms = query.get("search", "").split()
        station = query.get("end_station")
        if station:
            terms.append(f"end_station={station}")

        def matches(rec: dict[str, Any]) -> bool:
            for term in terms:
                if "=" in term:
                    key, _, value = term.partition("=")
                    if str(_lookup(rec, key)).lower() != value.lower():
                        return False
                elif term != "*" and term.lower() not in rec["name"].lower():
                    return False
            return True

        sortterm = query.get("sortterm", "fs.stage_date")
        found = sorted((r for r in records if matches(r)), key=lambda r: r["name"])
        found.sort(key=lambda r: str(_lookup(r, sortterm) or ""), reverse=query.get("sorttype", "desc") == "desc")
        skip = int(query.get("skipnum", 0))
        return found[skip : skip + int(query.get("limitnum", 10))]

    def _derived(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            entries = [e for e in self._catalogue.values() if e.name == name]
        return [e.record(stage) for e in entries for stage in ("raw", *self.derived_stages)]
