"""Sites that hold a run up: a Retry-After of minutes must not outlast Ctrl-C, and a page or a
download that trickles in (a tarpit) fails 'timeout' instead of holding a worker for good."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from collectors.config import HttpConfig
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, fast_http
from tests.polling import wait_for


def test_a_long_retry_after_ends_when_the_run_stops():
    with FakeSite() as site:
        site.routes["/robots.txt"] = Route(b"", status=404)
        site.routes["/busy"] = Route(b"ok", fail_first=10**6, retry_after="300")
        cfg = HttpConfig(**{**fast_http(max_retries=3), "retry_after_max_s": 300})
        stop = threading.Event()
        client = PoliteClient(cfg, policy=HostPolicy.of([site.base.split("//")[1]]), stop=stop)
        got: list[BaseException] = []

        def fetch() -> None:
            try:
                client.get_text(site.url("/busy"))
            except FetchError as exc:
                got.append(exc)

        worker = threading.Thread(target=fetch)
        worker.start()
        # the first try reached the site (a stop before it would send nothing: no hit to count),
        # and its answer had time to come: the client now waits 300 s
        wait_for(lambda: site.hits["/busy"] >= 1, "the first try reached the site", 120)
        time.sleep(0.5)
        t0 = time.monotonic()
        stop.set()
        worker.join(60)
        assert not worker.is_alive() and time.monotonic() - t0 < 30  # not the 300 s asked
        assert got and got[0].reason == "interrupted"
        assert site.hits["/busy"] == 1  # no further try after the stop


def _tarpit(body: bytes, every_s: float) -> tuple[socket.socket, int]:
    """A server that answers every request with ``body``, one byte every ``every_s`` seconds."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return

            def answer(c: socket.socket = conn) -> None:
                try:
                    path = c.recv(65536).decode().split()[1]
                    if path == "/robots.txt":
                        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                        return
                    head = (
                        f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n\r\n"
                    )
                    c.sendall(head.encode())
                    for b in body:
                        c.sendall(bytes([b]))
                        time.sleep(every_s)
                except OSError:
                    pass
                finally:
                    c.close()

            threading.Thread(target=answer, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def test_a_page_that_trickles_in_fails_timeout_after_the_page_deadline():
    srv, port = _tarpit(b"x" * 200, 0.05)  # 10 s in all, never 1 s without a byte
    try:
        cfg = HttpConfig(**{**fast_http(max_retries=0), "read_timeout_s": 1, "page_timeout_s": 0.5})
        client = PoliteClient(cfg, policy=HostPolicy.of([f"127.0.0.1:{port}"]))
        t0 = time.monotonic()
        with pytest.raises(FetchError) as ei:
            client.get_text(f"http://127.0.0.1:{port}/page")
        assert ei.value.reason == "timeout" and ei.value.retryable and "page_timeout_s" in ei.value.hint
        assert time.monotonic() - t0 < 4
    finally:
        srv.close()


def test_the_rate_floor_judges_whole_windows(monkeypatch):
    from collectors.http import _RateFloor

    now = [0.0]
    monkeypatch.setattr("collectors.http.time.monotonic", lambda: now[0])
    floor = _RateFloor(1000.0, window_s=60.0)
    for _ in range(59):  # 100 bytes a second: slow, but the window is not over yet
        now[0] += 1.0
        assert not floor.too_slow(100)
    now[0] += 1.0
    assert floor.too_slow(100)  # 6000 bytes in 60 s < 1000 bytes/s
    fast = _RateFloor(1000.0, window_s=60.0)
    now[0] += 61.0
    assert not fast.too_slow(70_000)
    off = _RateFloor(0.0, window_s=60.0)
    now[0] += 120.0
    assert not off.too_slow(1)  # 0: no minimum
