"""A ``Retry-After`` (or a 429/503 without one: the backoff's delay) pauses the host for every
thread of the run, not only for the request that got it: the other workers' requests to that host wait out the window (on a bot-protected site,
requests inside it are what turns a rate limit into a ban); other hosts are not held up, and a
run stopped during the pause sends nothing more."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from collectors.config import HttpConfig
from collectors.http import LocalGate, PoliteClient
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, fast_http

WINDOW_S = 1.0


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite() as s:
        yield s


def test_the_gate_holds_every_turn_on_a_paused_host_and_no_other():
    now = [100.0]
    waits: list[float] = []
    gate = LocalGate(HttpConfig(**fast_http()), waits.append, clock=lambda: now[0])
    gate.pause("shop.example", 5.0)
    gate.pause("shop.example", 2.0)  # a shorter pause does not shorten the window
    with gate.turn("shop.example"):
        pass
    with gate.turn("cdn.example"):
        pass
    assert waits == [5.0]
    now[0] += 5.0
    with gate.turn("shop.example"):
        pass
    assert waits == [5.0]


def test_another_threads_request_to_the_host_waits_out_a_retry_after(site):
    site.routes["/limited"] = Route(b"ok", fail_first=1, fail_status=429, retry_after=str(int(WINDOW_S)))
    site.routes["/other"] = Route(b"ok")
    cfg = HttpConfig(**{**fast_http(max_retries=2), "retry_after_max_s": 10})
    client = PoliteClient(cfg)
    first = threading.Thread(target=client.get_bytes, args=(site.url("/limited"),))
    first.start()
    while site.hits["/limited"] == 0:
        time.sleep(0.005)
    limited_at = time.monotonic()  # the 429 is on its way
    elsewhere = site.url("/other").replace("127.0.0.1", "localhost")  # another host: not held
    client.get_bytes(elsewhere)
    other_host_s = time.monotonic() - limited_at
    client.get_bytes(site.url("/other"))
    same_host_s = time.monotonic() - limited_at
    first.join(10)
    assert site.hits["/limited"] == 2 and site.hits["/other"] == 2
    assert same_host_s >= WINDOW_S * 0.9, same_host_s  # was ~0: sent inside the window
    assert other_host_s < WINDOW_S * 0.9, other_host_s


@pytest.mark.parametrize("status", [429, 503])
def test_a_slow_down_without_retry_after_pauses_the_host_for_the_backoff(site, status):
    site.routes["/limited"] = Route(b"ok", fail_first=1, fail_status=status)
    site.routes["/other"] = Route(b"ok")
    cfg = HttpConfig(
        **{**fast_http(max_retries=2), "backoff_base_s": WINDOW_S, "backoff_max_s": WINDOW_S, "jitter": 0.0}
    )
    client = PoliteClient(cfg)
    first = threading.Thread(target=client.get_bytes, args=(site.url("/limited"),))
    first.start()
    while site.hits["/limited"] == 0:
        time.sleep(0.005)
    limited_at = time.monotonic()
    client.get_bytes(site.url("/other"))
    waited = time.monotonic() - limited_at
    first.join(10)
    assert site.hits["/limited"] == 2 and waited >= WINDOW_S * 0.9, waited


def test_a_run_stopped_during_the_pause_sends_nothing_more(site):
    site.routes["/other"] = Route(b"ok")
    client = PoliteClient(HttpConfig(**fast_http()))
    host = site.base.split("//")[1]
    client.gate.pause(host, 30.0)
    threading.Timer(0.2, client.stop.set).start()
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        client.get_bytes(site.url("/other"))
    assert err.value.reason == "interrupted" and site.hits["/other"] == 0
    assert time.monotonic() - started < 10  # the 30 s pause ended with the run
