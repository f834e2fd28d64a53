"""The watcher's status page (standard library ``http.server``, one thread).

``/`` lists every scan and attempt with its state, times, centre and confidence, quality
figures, preview picture, provenance link, error, and a re-run form; the log tail follows.
``/file/<path>`` serves files under REC_DIR only (anything resolving outside it, hidden
files and the database are refused). Bound to 127.0.0.1 by default; with a token (required
for any other address) every request must carry ``?token=...``. The re-run form carries a
per-process CSRF secret, and a POST whose ``Origin`` is not this page is refused.
"""

from __future__ import annotations

import datetime as _dt
import html
import logging
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["Page", "start_page"]

logger = logging.getLogger(__name__)

_TYPES = {
    ".png": "image/png",
    ".json": "application/json",
    ".log": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".tiff": "image/tiff",
}


def _when(t: float | None) -> str:
    return "" if t is None else _dt.datetime.fromtimestamp(t).strftime("%H:%M:%S")


class Page:
    """The running page: :attr:`url`, :meth:`stop`."""

    def __init__(self, service: Any, host: str, port: int, token: str | None) -> None:
        self.service, self.token, self.csrf = service, token, secrets.token_urlsafe(24)
        self.rec_dir = Path(service.settings.rec_dir).resolve()
        page = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:
                logger.debug("page: " + fmt, *args)

            def do_GET(self) -> None:
                page.handle(self, "GET")

            def do_POST(self) -> None:
                page.handle(self, "POST")

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/"
        self._thread = threading.Thread(target=self.server.serve_forever, name="watch-page", daemon=True)
        self._thread.start()
        logger.info("status page at %s", self.url)

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    # ---------------------------------------------------------------- requests
    def _q(self) -> str:
        return f"?token={urllib.parse.quote(self.token)}" if self.token else ""

    def handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        url = urllib.parse.urlsplit(req.path)
        query = urllib.parse.parse_qs(url.query)
        if self.token and not secrets.compare_digest(query.get("token", [""])[0], self.token):
            return self._send(req, 403, "text/plain", b"403: a valid ?token= is required\n")
        if method == "GET" and url.path == "/":
            return self._send(req, 200, "text/html; charset=utf-8", self.index().encode())
        if method == "GET" and url.path.startswith("/file/"):
            return self._file(req, urllib.parse.unquote(url.path[len("/file/") :]))
        if method == "POST" and url.path == "/rerun":
            return self._rerun(req)
        return self._send(req, 404, "text/plain", b"404: not found\n")

    def _send(
        self, req: BaseHTTPRequestHandler, code: int, ctype: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        req.send_response(code)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        req.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(body)

    def _file(self, req: BaseHTTPRequestHandler, rel: str) -> None:
        target = (self.rec_dir / rel).resolve()
        try:
            inside = target.relative_to(self.rec_dir)
        except ValueError:
            return self._send(req, 403, "text/plain", b"403: outside REC_DIR\n")
        if any(p.startswith(".") for p in inside.parts) or target.suffix not in _TYPES or not target.is_file():
            return self._send(req, 404, "text/plain", b"404: not found\n")
        self._send(req, 200, _TYPES[target.suffix], target.read_bytes())

    def _rerun(self, req: BaseHTTPRequestHandler) -> None:
        from ...params import parse_overrides, parse_value
        from .service import rerun

        origin = req.headers.get("Origin")
        host = req.headers.get("Host", "")
        if origin is not None and urllib.parse.urlsplit(origin).netloc != host:
            return self._send(req, 403, "text/plain", b"403: cross-site request refused\n")
        length = min(int(req.headers.get("Content-Length") or 0), 65536)
        form = urllib.parse.parse_qs(req.rfile.read(length).decode("utf-8", "replace"))
        if not secrets.compare_digest(form.get("csrf", [""])[0], self.csrf):
            return self._send(req, 403, "text/plain", b"403: missing or wrong form token\n")
        try:
            overrides = parse_overrides(form.get("params", [""])[0].split(), source="re-run form")
            cor = form.get("cor", [""])[0].strip()
            if cor:
                overrides["cor"] = parse_value("cor", cor)
            rerun(self.rec_dir, form.get("scan", [""])[0], overrides)
        except Exception as exc:
            return self._send(req, 400, "text/plain; charset=utf-8", f"400: {exc}\n".encode())
        self._send(req, 303, "text/plain", b"queued\n", {"Location": "/" + self._q()})

    # ---------------------------------------------------------------- content
    def _link(self, path: str | None, label: str) -> str:
        if not path:
            return ""
        try:
            rel = Path(path).resolve().relative_to(self.rec_dir).as_posix()
        except ValueError:
            return ""
        return f'<a href="/file/{urllib.parse.quote(rel)}{self._q()}">{html.escape(label)}</a>'

    def _img(self, path: str | None) -> str:
        link = self._link(path, "x")
        if not link:
            return ""
        href = link.split('"')[1]
        return f'<a href="{href}"><img class="preview" src="{href}" alt="preview" width="360"></a>'

    def index(self) -> str:
        """The page's HTML."""
        e = html.escape
        rows = []
        for r in self.service.queue.all():
            pv = r.preview
            conf = pv.get("confidence", {})
            quality = " ".join(f"{k}={v}" for k, v in pv.get("quality", {}).items())
            times = " ".join(
                f"{k} {_when(t)}"
                for k, t in (
                    ("seen", r.created_at),
                    ("finished", r.finished_at),
                    ("preview", r.previewed_at),
                    ("start", r.started_at),
                    ("end", r.ended_at),
                )
                if t
            )
            record = str(
                Path(r.output_dir or "")
                / (
                    f"recon_parameters_{r.prefix}.json"
                    if r.prefix and r.prefix != Path(r.path).stem
                    else "recon_parameters.json"
                )
            )
            form = (
                f'<form method="post" action="/rerun{self._q()}"><input type="hidden" name="csrf" '
                f'value="{self.csrf}"><input type="hidden" name="scan" value="{e(r.scan)}">'
                f'cor <input name="cor" size="7" value="{e(str(pv.get("cor", "")))}"> '
                f'<input name="params" size="22" placeholder="key=value ..."> <button>re-run</button></form>'
            )
            rows.append(
                f'<tr class="scan state-{e(r.state)}"><td class="name">{e(r.scan)}</td><td>{r.attempt}</td>'
                f'<td class="state">{e(r.state)}</td><td>{e(times)}</td>'
                f"<td>{e(str(pv.get('cor', '')))} {e(str(conf.get('label', '')))} "
                f"&plusmn;{e(str(conf.get('uncertainty', '')))}</td><td>{e(quality)}</td>"
                f"<td>{self._img(pv.get('png'))}<br>{self._link(pv.get('sweep_png'), 'centre sweep')} "
                f"{self._link(record if r.output_dir else None, 'provenance')}</td>"
                f'<td class="error">{e(r.error or "")}</td><td>{form}</td></tr>'
            )
        log = self.rec_dir / ".alsmicroct-watch.log"
        try:
            tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
        except OSError:
            tail = "(no log yet)"
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.service.queue.counts().items()))
        return (
            "<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' content='5'>"
            "<title>alsmicroct-watch</title><style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "td,th{border:1px solid #999;padding:3px;vertical-align:top}.state-failed{background:#fdd}"
            ".state-done{background:#dfd}</style></head><body>"
            f"<h1>alsmicroct-watch</h1><p>{e(str(self.service.settings.raw_dir))} &rarr; {e(str(self.rec_dir))}"
            f" &mdash; {e(counts)}</p><table id='queue'><tr><th>scan</th><th>attempt</th><th>state</th>"
            "<th>times</th><th>centre</th><th>quality</th><th>preview</th><th>error</th><th>re-run</th></tr>"
            + "".join(rows)
            + f"</table><h2>log</h2><pre id='log'>{e(tail)}</pre></body></html>"
        )


def start_page(service: Any) -> Page:
    """Serve the page of ``service`` (its settings' host, port and token)."""
    s = service.settings
    return Page(service, s.host, s.port, s.token)
