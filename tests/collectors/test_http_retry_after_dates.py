"""``Retry-After`` as an HTTP-date: a date without a zone (the asctime form RFC 9110 5.6.7 asks
recipients to accept, or ``-0000``) is UTC whatever the local time zone, and the date is measured
against the answer's own ``Date`` header (the server's clock), not the client's clock; the cap
(``retry_after_max_s``) and the fallbacks stay."""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Iterator

import pytest

import collectors.http as http
from collectors.config import HttpConfig
from collectors.hosts import HostPolicy
from collectors.http import LocalGate, PoliteClient
from tests.collectors.fakesite import FakeSite, Route, fast_http, jpeg_bytes

ZONES = ["Asia/Tokyo", "America/New_York"]
SKEW_S = 120.0  # the client's clock is this far ahead of the server's


def asctime(t: float) -> str:
    """``Sun Nov  6 08:49:37 1994``: the asctime form, in UTC, no zone."""
    return time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(t))


def imf(t: float) -> str:
    return email.utils.formatdate(t, usegmt=True)


def minus_zero(t: float) -> str:
    """The RFC 5322 form with ``-0000`` (UTC, zone not known)."""
    return email.utils.formatdate(t).rsplit(" ", 1)[0] + " -0000"


@pytest.fixture(params=ZONES)
def zone(request) -> Iterator[str]:
    """The process runs in this local time zone for the test (``TZ`` and ``time.tzset``)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


class RecordingGate(LocalGate):
    """A local gate that notes each pause asked of it."""

    def __init__(self, cfg: HttpConfig) -> None:
        super().__init__(cfg)
        self.pauses: list[float] = []

    def pause(self, host: str, seconds: float) -> None:
        self.pauses.append(seconds)


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite() as s:
        yield s


def skewed_server(site: FakeSite, behind_s: float) -> None:
    """The site's clock (its ``Date`` header) runs ``behind_s`` seconds behind the client's."""
    site.server.RequestHandlerClass.date_time_string = lambda self, ts=None: imf(time.time() - behind_s)


@pytest.mark.parametrize("form", [asctime, minus_zero, imf], ids=["asctime", "-0000", "imf-fixdate"])
def test_a_date_without_a_zone_is_utc_in_any_local_zone(zone, form):
    """No ``Date`` to measure against: the local clock, but the date read as UTC, not local time
    (Tokyo read it as 9 h in the past, a 0 s wait; New York as 5 h ahead)."""
    wait = http._parse_retry_after(form(time.time() + 60))
    assert wait is not None and 55 <= wait <= 61, (zone, wait)


@pytest.mark.parametrize("form", [asctime, imf], ids=["asctime", "imf-fixdate"])
def test_the_date_is_measured_against_the_answers_date_not_the_local_clock(zone, form):
    """Server says Date = S and Retry-After = S + 60; the client's clock is 120 s ahead: 60 s."""
    server_now = time.time() - SKEW_S
    assert http._parse_retry_after(form(server_now + 60), imf(server_now)) == 60.0
    assert http._parse_retry_after(form(server_now + 60), asctime(server_now)) == 60.0
    assert http._parse_retry_after(form(server_now - 5), imf(server_now)) == 0.0  # past: at once


def test_an_unreadable_date_header_falls_back_to_the_local_clock():
    wait = http._parse_retry_after(imf(time.time() + 60), "not a date")
    assert wait is not None and 55 <= wait <= 61


def test_seconds_and_unreadable_values_are_unchanged():
    assert http._parse_retry_after(" 7 ", imf(0)) == 7.0  # seconds ignore the Date
    assert http._parse_retry_after("soon", imf(time.time())) is None  # exponential backoff instead
    assert http._parse_retry_after("-1") is None and http._parse_retry_after("1.5") is None


def test_a_client_ahead_of_the_server_waits_what_the_server_asked(zone, site, tmp_path):
    """End to end: the 429's Retry-After is 60 s past the answer's Date; the client's clock is
    120 s ahead (with the local clock it waited 0 s and retried at once). The wait and the
    gate's pause of the host are both 60 s (to the server's 1 s resolution)."""
    skewed_server(site, SKEW_S)
    retry_at = asctime(time.time() - SKEW_S + 60)
    site.routes["/a.jpg"] = Route(
        jpeg_bytes(), content_type="image/jpeg", fail_first=1, fail_status=429, retry_after=retry_at
    )
    cfg = HttpConfig(**{**fast_http(max_retries=1), "retry_after_max_s": 600})
    gate, sleeps = RecordingGate(cfg), []
    client = PoliteClient(
        cfg, policy=HostPolicy.of([site.base.split("//")[1]]), sleep=sleeps.append, gate=gate
    )
    dl = client.download(site.url("/a.jpg"), tmp_path / "it", "shop", "image")
    assert dl.path.exists() and site.hits["/a.jpg"] == 2
    assert len(sleeps) == 1 and 58 <= sleeps[0] <= 61, sleeps
    assert gate.pauses == sleeps


def test_the_cap_still_holds_for_a_far_date(site, tmp_path):
    skewed_server(site, SKEW_S)
    site.routes["/a.jpg"] = Route(
        jpeg_bytes(),
        content_type="image/jpeg",
        fail_first=1,
        fail_status=429,
        retry_after=asctime(time.time() + 86400),
    )
    cfg = HttpConfig(**{**fast_http(max_retries=1), "retry_after_max_s": 30})
    sleeps: list[float] = []
    client = PoliteClient(cfg, policy=HostPolicy.of([site.base.split("//")[1]]), sleep=sleeps.append)
    client.download(site.url("/a.jpg"), tmp_path / "it", "shop", "image")
    # the backoff's wait, then (no time passes in this sleep) what is left of the host's pause
    assert sleeps[0] == 30 and all(s <= 30 for s in sleeps), sleeps


def test_a_library_session_measures_the_date_against_the_answers_date_too(site):
    """instaloader's session goes through the polite transport: the same rule as downloads."""
    import requests

    from collectors.transport import PoliteAdapter, bind

    skewed_server(site, SKEW_S)
    site.routes["/api/q"] = Route(
        b'{"status": "ok"}',
        content_type="application/json",
        fail_first=1,
        fail_status=429,
        retry_after=imf(time.time() - SKEW_S + 60),
    )
    cfg = HttpConfig(**{**fast_http(max_retries=1), "retry_after_max_s": 600})
    sleeps: list[float] = []
    client = PoliteClient(cfg, policy=HostPolicy.of([site.base.split("//")[1]]), sleep=sleeps.append)
    sess = bind(requests.Session(), PoliteAdapter(client))
    assert sess.get(site.url("/api/q")).status_code == 200
    assert [s for s in sleeps if s >= 1] and 58 <= max(sleeps) <= 61, sleeps
