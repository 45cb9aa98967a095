"""A tiny scriptable loopback HTTP server for precise fault tests of the collectors."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

from collectors.config import HttpConfig


def jpeg_bytes(seed: int = 0, size: tuple[int, int] = (48, 64)) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def mp4_bytes(tmp: Path, seed: int = 0, frames: int = 6) -> bytes:
    path = tmp / f"v{seed}.mp4"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    rng = np.random.default_rng(seed)
    for _ in range(frames):
        w.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    w.release()
    return path.read_bytes()


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    fail_first: int = 0  # answer `fail_status` this many times first
    fail_status: int = 503
    retry_after: str | None = None
    truncate_first: int = 0  # send only half the body this many times (full Content-Length)
    ranges: bool = True  # honour Range with 206
    declare_length: bool = True
    delay_s: float = 0.0
    location: str | None = None  # redirect target (status 302)
    stall_s: float = 0.0  # pause after half the body (to kill a client mid-transfer)
    hold: threading.Event | None = None  # after half the body, wait for it (at most a minute)
    before: threading.Event | None = None  # answer only once it is set (at most a minute)
    reason: str | None = None  # the status line's reason phrase (None: the standard one)
    conditional: bool = False  # 304 to an If-None-Match naming its headers' ETag


class FakeSite:
    """``with FakeSite() as site: site.routes['/x'] = Route(...); site.url('/x')``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.headers_seen: list[dict[str, str]] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                path = self.path
                with site._lock:
                    site.hits[path] += 1
                    n = site.hits[path]
                    site.headers_seen.append(dict(self.headers))
                    site.requests.append((self.command, path))
                    site.inflight += 1
                    site.max_inflight = max(site.max_inflight, site.inflight)
                try:
                    self._answer(path, n, head)
                finally:
                    with site._lock:
                        site.inflight -= 1

            def _answer(self, path: str, n: int, head: bool) -> None:
                route = site.routes.get(path)
                if route is None:
                    return self._send(404, b"not found", "text/plain", head)
                if route.delay_s:
                    time.sleep(route.delay_s)
                if route.before is not None:
                    route.before.wait(60)
                if n <= route.fail_first:
                    extra = {"Retry-After": route.retry_after} if route.retry_after else {}
                    return self._send(route.fail_status, b"busy", "text/plain", head, extra)
                if route.location:
                    return self._send(302, b"", "text/plain", head, {"Location": route.location})
                etag = route.headers.get("ETag")
                if route.conditional and etag and self.headers.get("If-None-Match") == etag:
                    return self._send(304, b"", route.content_type, True, {"ETag": etag})
                body, status, extra = route.body, route.status, dict(route.headers)
                rng = self.headers.get("Range")
                if rng and route.ranges and status == 200:
                    start = int(rng.split("=")[1].split("-")[0])
                    extra["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
                    body, status = body[start:], 206
                if route.ranges:
                    extra["Accept-Ranges"] = "bytes"
                truncated = n <= route.fail_first + route.truncate_first and not head
                self._send(
                    status,
                    body,
                    route.content_type,
                    head,
                    extra,
                    truncate=truncated,
                    declare=route.declare_length,
                    stall=route.stall_s,
                    hold=route.hold,
                    reason=route.reason,
                )

            def _send(
                self,
                status: int,
                body: bytes,
                ctype: str,
                head: bool,
                extra: dict | None = None,
                truncate: bool = False,
                declare: bool = True,
                stall: float = 0.0,
                hold: threading.Event | None = None,
                reason: str | None = None,
            ) -> None:
                self.send_response(status, reason)
                self.send_header("Content-Type", ctype)
                if declare:
                    self.send_header("Content-Length", str(len(body)))
                else:
                    self.send_header("Connection", "close")
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if head:
                    return
                if truncate:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if (stall or hold is not None) and len(body) > 1:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    time.sleep(stall)
                    if hold is not None:
                        hold.wait(60)
                    body = body[len(body) // 2 :]
                try:
                    self.wfile.write(body)
                except OSError:
                    return
                if not declare:
                    self.close_connection = True

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that hang up mid-body are part of the tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> FakeSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def fast_http(max_retries: int = 3) -> dict:
    """HttpConfig settings for loopback tests: no real waiting, ``max_retries`` retries."""
    return dict(
        backoff_base_s=0.001,
        backoff_max_s=0.01,
        retry_after_max_s=0.01,
        rate_per_host=1000.0,
        burst_per_host=100,
        max_retries=max_retries,
        connect_timeout_s=2,
        read_timeout_s=5,
    )


def loopback_http(**overrides: object) -> HttpConfig:
    """An HttpConfig for collector runs against loopback sites: waits of a few ms, one retry
    (``overrides`` change any field, e.g. ``max_retries=3`` or ``max_page_bytes=...``)."""
    base = dict(
        backoff_base_s=0.001,
        backoff_max_s=0.005,
        retry_after_max_s=0.005,
        rate_per_host=1000,
        burst_per_host=100,
        max_retries=1,
    )
    return HttpConfig(**{**base, **overrides})
