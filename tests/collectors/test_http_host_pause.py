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

WINDOW_S = 2.0


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite() as s:
        yield s


def test_the_gate_holds_every_turn_on_a_paused_host_and_no_other():
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # time passes while it waits
        waits.append(seconds)
        now[0] += seconds

    gate = LocalGate(HttpConfig(**fast_http()), sleep, clock=lambda: now[0])
    gate.pause("shop.example", 5.0)
    gate.pause("shop.example", 2.0)  # a shorter pause does not shorten the window
    with gate.turn("cdn.example"):
        pass
    assert waits == []
    with gate.turn("shop.example"):
        pass
    assert waits == [5.0]
    with gate.turn("shop.example"):
        pass
    assert waits == [5.0]


def _after_the_answer(client: PoliteClient, site: FakeSite, path: str) -> tuple[threading.Thread, float]:
    """Start a request of ``path`` (answered 429/503 first) in a thread; return it and the host's
    pause deadline once the answer came (the retry is counted after the pause is set)."""
    first = threading.Thread(target=client.get_bytes, args=(site.url(path),))
    first.start()
    while client.stats["retries"] == 0:
        time.sleep(0.005)
    return first, client.gate._paused[site.base.split("//")[1]]


def test_another_threads_request_to_the_host_waits_out_a_retry_after(site):
    site.routes["/limited"] = Route(b"ok", fail_first=1, fail_status=429, retry_after=str(int(WINDOW_S)))
    site.routes["/other"] = Route(b"ok")
    cfg = HttpConfig(**{**fast_http(max_retries=2), "retry_after_max_s": 10})
    client = PoliteClient(cfg)
    first, deadline = _after_the_answer(client, site, "/limited")
    client.get_bytes(site.url("/other").replace("127.0.0.1", "localhost"))  # another host: not held
    other_host_done = time.monotonic()
    client.get_bytes(site.url("/other"))
    same_host_done = time.monotonic()
    first.join(10)
    assert site.hits["/limited"] == 2 and site.hits["/other"] == 2
    assert same_host_done >= deadline  # was sent inside the window
    assert other_host_done < deadline


@pytest.mark.parametrize("status", [429, 503])
def test_a_slow_down_without_retry_after_pauses_the_host_for_the_backoff(site, status):
    site.routes["/limited"] = Route(b"ok", fail_first=1, fail_status=status)
    site.routes["/other"] = Route(b"ok")
    cfg = HttpConfig(
        **{**fast_http(max_retries=2), "backoff_base_s": WINDOW_S, "backoff_max_s": WINDOW_S, "jitter": 0.0}
    )
    client = PoliteClient(cfg)
    first, deadline = _after_the_answer(client, site, "/limited")
    client.get_bytes(site.url("/other"))
    first.join(10)
    assert site.hits["/limited"] == 2 and time.monotonic() >= deadline


def test_a_thread_already_waiting_for_the_hosts_slot_waits_out_a_pause_set_meanwhile():
    """One slot per host: a thread queued for it while the holder's request got a 429 takes the
    slot once it is released, and then still waits out the pause (it went out at once)."""
    now = [0.0]
    waits: list[float] = []  # the clock stands still: only what is waited for is noted
    gate = LocalGate(
        HttpConfig(**{**fast_http(), "max_concurrency_per_host": 1}), waits.append, clock=lambda: now[0]
    )
    holding, queued_done = threading.Event(), threading.Event()

    def queued() -> None:
        with gate.turn("shop.example"):
            queued_done.set()

    with gate.turn("shop.example"):
        holding.set()
        other = threading.Thread(target=queued)
        other.start()
        slot = gate._slots["shop.example"]
        deadline = time.monotonic() + 30
        while not slot._cond._waiters and time.monotonic() < deadline:  # until it waits for the slot
            time.sleep(0.005)
        assert slot._cond._waiters and not queued_done.is_set()
        gate.pause("shop.example", 5.0)  # the holder's answer was a 429
    other.join(5)
    assert queued_done.is_set() and waits == [5.0]


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
