"""``WorldServer``: the loopback sites in a background thread, with fault switches.

Example::

    with WorldServer("world", faults=Faults(retry_after_429=1)) as srv:
        print(srv.base_url)           # http://127.0.0.1:<port>
        srv.write_fixtures("fixtures")
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import struct
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from movingfashion.world.truth import load_world
from schemas.errors import listen_error

from . import instagram_api
from .faults import Faults
from .sites import Answer, Site

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
FOREIGN = "http://foreign.invalid"
MAX_POST_BYTES = 64 * 1024


def media_etag(body: bytes) -> str:
    """The strong ETag the world's sites give a media file (its content hash)."""
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _byte_range(header: str) -> tuple[int | None, int | None] | None:
    """``(first, last)`` of a single byte range (``first`` None: the last ``last`` bytes; ``last``
    None: to the end), or None for a Range a server ignores (RFC 9110 14.2): another unit, several
    ranges, or an invalid one."""
    m = _RANGE.match(header.strip())
    if m is None or not (m.group(1) or m.group(2)):
        return None
    first = int(m.group(1)) if m.group(1) else None
    last = int(m.group(2)) if m.group(2) else None
    if first is not None and last is not None and last < first:
        return None
    return first, last


#: the page a CDN or bot check serves in place of a file (html_as_image, html_as_video)
ERROR_PAGE = (
    b"<!DOCTYPE html><html><body><h1>Access denied</h1><p>Please verify you are human.</p></body></html>"
)


def _cut_of(f: Faults, pid: str | None, first: bool) -> str | None:
    """How a media answer's body is cut (see :meth:`WorldServer._send`); ``first``: the first
    GET of its path answered with the file (reset and stall hit only that one)."""
    if f.applies("truncate", pid):
        return "truncate"
    if f.applies("short_length", pid):
        return "short"
    if first and f.applies("reset_mid_body", pid):
        return "reset"
    if first and f.applies("stall_mid_body", pid):
        return "stall"
    return None


def _reset(h: BaseHTTPRequestHandler) -> None:
    """Drop ``h``'s connection with a TCP reset (SO_LINGER 0), as a crashed proxy does."""
    h.close_connection = True
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.05)  # what was sent reaches the client before the reset
    h.rfile.close()  # the socket closes only once no file made from it is open (wfile holds none)
    h.connection.close()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    world_server: WorldServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that drop a keep-alive socket are normal; anything else is still printed."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "MFWorld/1.0"
    #: TCP_NODELAY: an answer is headers then body, two writes on a kept-alive socket; with Nagle's
    #: algorithm the body waited for the client's delayed ACK of the headers (40 ms a request on
    #: Linux loopback), so a collect of many small files spent most of its time waiting
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_HEAD(self) -> None:  # noqa: N802
        self.server.world_server._handle(self, head=True)

    def do_GET(self) -> None:  # noqa: N802
        self.server.world_server._handle(self, head=False)

    def do_POST(self) -> None:  # noqa: N802 - the Instagram API endpoints instaloader posts to
        self.server.world_server._handle(self, head=False)


class WorldServer:
    """Serve a world folder as Net-A-Porter-like pages, TikTok/Instagram media, TikTok's user,
    video-list and video pages yt-dlp reads (``tiktok_web``), the Instagram API endpoints
    instaloader queries (``instagram_api``) and plain files. Files are only ever served
    from inside the world folder (ids are looked up, never joined as paths)."""

    def __init__(
        self,
        world_dir: str | os.PathLike[str],
        port: int = 0,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        page_size: int = 10,
    ) -> None:
        self.world_dir = Path(world_dir)
        self.truth = load_world(self.world_dir)  # names world.json when it is missing or broken
        self.faults = faults or Faults()
        self.host, self.port = host, port
        self.page_size = page_size
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.bodies: Counter[str] = Counter()  # GETs of each media path answered with the file
        self.log: list[tuple[str, str, int]] = []  # (method, path, status) of every request
        self.site: Site | None = None

    # ------------------------------------------------------------------ life cycle
    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> WorldServer:
        if self._httpd is not None:
            return self
        try:
            self._httpd = _HTTPServer((self.host, self.port), _Handler)
        except (OSError, OverflowError) as exc:  # OverflowError: a port outside 0-65535
            raise listen_error(exc, self.host, self.port) from None
        self._httpd.world_server = self
        self.site = Site(
            self.world_dir,
            self.truth,
            self.base_url,
            evil_ids=self.faults.evil_ids,
            page_size=self.page_size,
            malformed_jsonld=self.faults.malformed_jsonld,
            taken_down=self.faults.taken_down,
        )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="world-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> WorldServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_faults(self, faults: Faults) -> None:
        """Swap the fault switches of a running server (counters restart)."""
        with self._lock:
            self.faults = faults
            self.counts.clear()
            self.bodies.clear()
            if self.site is not None:
                self.site.evil = faults.evil_ids
                self.site.malformed = set(faults.malformed_jsonld)
                self.site.taken_down = set(faults.taken_down)

    def write_fixtures(self, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
        """yt-dlp info JSON, the TikTok shop mapping, instaloader structures and a URL list (see fixtures.py)."""
        from .fixtures import write_fixtures

        assert self.site is not None, "start the server first"
        return write_fixtures(self.site, Path(out_dir), evil=self.faults.evil_ids)

    # ------------------------------------------------------------------ requests
    def _handle(self, h: _Handler, head: bool) -> None:
        f = self.faults
        if f.latency_s:
            time.sleep(f.latency_s)
        url = urlsplit(h.path)
        path = url.path
        assert self.site is not None
        params = parse_qs(url.query)
        if h.command == "POST":
            size = int(h.headers.get("Content-Length") or 0)
            if size > MAX_POST_BYTES:
                h.close_connection = True  # the rest of the body is not read
            body = h.rfile.read(min(size, MAX_POST_BYTES)).decode("utf-8", "replace") if size > 0 else ""
            params = {**params, **parse_qs(body)}
        api = instagram_api.answer(self.site, path, params)
        if api is not None:
            return self._send(h, head, path, api)
        if h.command == "POST":
            return self._send(
                h, head, path, Answer(405, body=b"<html><body>Method not allowed</body></html>")
            )
        if path == "/robots.txt":
            lines = [
                "User-agent: *",
                "Disallow: /checkout/",
                "Disallow: /account/",
                *[f"Disallow: {p}" for p in f.robots_disallow],
                f"Sitemap: {self.base_url}/sitemap.xml",
                "",
            ]
            ans = Answer(200, "text/plain; charset=utf-8", "\n".join(lines).encode())
        else:
            ans = self.site.route(path, params)
        if ans.media and ans.status == 200:
            with self._lock:
                n = self.counts[path]
                self.counts[path] += 1
            if n < f.retry_after_429:
                return self._send(
                    h,
                    head,
                    path,
                    Answer(429, "text/plain", b"Too Many Requests", headers={"Retry-After": "1"}),
                )
            if n < f.retry_after_429 + f.burst_5xx:
                return self._send(h, head, path, Answer(503, "text/plain", b"Service Unavailable"))
            pid = ans.product_id
            if f.applies("redirect_foreign", pid):
                return self._send(h, head, path, Answer(302, headers={"Location": FOREIGN + path}))
            if f.applies("html_as_image", pid):
                return self._send(h, head, path, Answer(200, "image/jpeg", ERROR_PAGE))
            if ans.video and f.applies("html_as_video", pid):
                return self._send(h, head, path, Answer(200, "video/mp4", ERROR_PAGE))
            if f.applies("wrong_content_type", pid):
                ans.content_type = "text/plain"
            if ans.video and f.applies("oversized", pid):
                return self._send_oversized(h, head, path, f.oversized_bytes)
            with self._lock:
                bodies = self.bodies[path]
                self.bodies[path] += not head
            cut = _cut_of(f, pid, first=not head and bodies == 0)
            ranges = not (f.applies("no_range", pid) or cut == "short")
            return self._send(h, head, path, ans, cut=cut, ranges=ranges)
        return self._send(h, head, path, ans)

    def _record(self, h: _Handler, path: str, status: int) -> None:
        with self._lock:
            self.log.append((h.command, path, status))

    def _send(
        self, h: _Handler, head: bool, path: str, ans: Answer, cut: str | None = None, ranges: bool = True
    ) -> None:
        """Answer ``ans`` (a Range of it when asked and allowed). ``cut``: ``truncate`` (half the
        body, the full Content-Length), ``short`` (half the body, a Content-Length that says so),
        ``reset`` (half the body, then a TCP reset), ``stall`` (half, a pause of stall_s, the rest)."""
        body = ans.body.read_bytes() if isinstance(ans.body, Path) else ans.body
        if cut == "short":
            body = body[: len(body) // 2]
        status, extra = ans.status, dict(ans.headers)
        rng = h.headers.get("Range")
        if ans.media and status == 200:
            extra["Accept-Ranges"] = "bytes" if ranges else "none"
            extra["ETag"] = media_etag(body)  # as a CDN: a resume sends it back in If-Range
            if h.headers.get("If-Range") not in (None, extra["ETag"]):
                rng = None  # the file changed since the part was fetched: the whole file
        span = _byte_range(rng) if rng and ranges and ans.media and status == 200 else None
        if span is not None:  # a Range it cannot parse (another unit, several ranges) is ignored: 200
            size = len(body)
            first, last = span
            if first is None:  # a suffix range: the last ``last`` bytes
                first, last = max(0, size - last) if last else size, size - 1
            if first >= size:  # valid, but not satisfiable
                self._record(h, path, 416)
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{size}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            last = size - 1 if last is None else min(last, size - 1)
            extra["Content-Range"] = f"bytes {first}-{last}/{size}"
            body, status = body[first : last + 1], 206
        self._record(h, path, status)
        try:
            h.send_response(status)
            h.send_header("Content-Type", ans.content_type)
            h.send_header("Content-Length", str(len(body)))
            for k, v in extra.items():
                h.send_header(k, v)
            if cut in ("truncate", "reset"):
                h.send_header("Connection", "close")
                h.close_connection = True
            h.end_headers()
            if head:
                return
            half = len(body) // 2 if cut in ("truncate", "reset", "stall") else len(body)
            h.wfile.write(body[:half])
            h.wfile.flush()
            if cut == "reset":
                _reset(h)
            elif cut == "stall":
                time.sleep(self.faults.stall_s)
                h.wfile.write(body[half:])
                h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    def _send_oversized(self, h: _Handler, head: bool, path: str, size: int) -> None:
        self._record(h, path, 200)
        try:
            h.send_response(200)
            h.send_header("Content-Type", "video/mp4")
            h.send_header("Content-Length", str(size))
            h.end_headers()
            if head:
                return
            chunk = b"\0" * 65536
            sent = 0
            while sent < size:
                part = chunk[: min(len(chunk), size - sent)]
                h.wfile.write(part)
                sent += len(part)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
