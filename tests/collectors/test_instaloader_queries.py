"""instaloader's queries through the polite client: a JSON query answered with a web page fails at
once (one request, naming the URL and what to do), and instaloader's own pause before a query
(``instagram.query_sleep``) is the client's, so Ctrl-C ends it and nothing more is sent."""

from __future__ import annotations

import random
import time

import pytest

from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from collectors.instaloader_net import api_host_map, bind_context
from collectors.transport import PoliteAdapter
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, loopback_http

API = "/api/v1/media/{}/info/"
WALL = b"\xef\xbb\xbf\n  <!DOCTYPE html><html><body>Log in to see this post.</body></html>"


def _loader(site: FakeSite, *, sleep: bool = False):
    import instaloader

    cfg = loopback_http(max_retries=0)
    client = PoliteClient(cfg, policy=HostPolicy.of([site.base.removeprefix("http://")]))
    loader = instaloader.Instaloader(quiet=True, sleep=sleep)  # its 3 tries a query
    bind_context(loader.context, PoliteAdapter(client, host_map=api_host_map(site.base)))
    return loader, client


@pytest.mark.parametrize("ctype", ["text/html", "application/json", "application/octet-stream"])
def test_a_web_page_answering_a_json_query_fails_at_once_naming_the_url(ctype):
    """Whatever its Content-Type claims, a page is a page: one request, not instaloader's three."""
    import instaloader

    with FakeSite() as site:
        site.routes[API.format(1)] = Route(WALL, content_type=ctype)
        site.routes[API.format(2)] = Route(b'{"status": "ok", "n": 2}', content_type="application/json")
        site.routes[API.format(3)] = Route(b"<html>gone</html>", status=404, content_type="text/html")
        loader, _ = _loader(site)
        with pytest.raises(FetchError) as err:
            loader.context.get_json(API.format(1)[1:], {}, host="i.instagram.com")
        assert site.hits[API.format(1)] == 1
        # a JSON answer passes; an error status stays instaloader's to read (a 404 page here)
        assert loader.context.get_json(API.format(2)[1:], {}, host="i.instagram.com")["n"] == 2
        with pytest.raises(instaloader.QueryReturnedNotFoundException):
            loader.context.get_json(API.format(3)[1:], {}, host="i.instagram.com")
    e = err.value
    assert e.reason == "html_instead_of_json" and e.where == site.url(API.format(1))
    assert site.url(API.format(1)) in e.message and "web page instead of JSON" in e.message
    assert "--session-file" in (e.hint or "") and "rerun later" in (e.hint or "")


def test_instaloaders_pause_before_a_query_ends_on_ctrl_c_and_sends_nothing(monkeypatch):
    """instaloader's own pause (up to 15 s before each query) is the client's hold: a wind-down
    (the first Ctrl-C) ends it, the query fails ``interrupted`` and never goes out."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)  # a plain sleep would be seen, not sat out
    monkeypatch.setattr(random, "expovariate", lambda _rate: 40.0)  # its longest pause: 15 s
    with FakeSite() as site:
        site.routes[API.format(1)] = Route(b'{"status": "ok"}', content_type="application/json")
        loader, client = _loader(site, sleep=True)
        waits: list[float] = []

        def ctrl_c_during(seconds: float) -> None:
            waits.append(seconds)
            client.winddown.set()

        client.sleep = ctrl_c_during
        with pytest.raises(FetchError) as err:
            loader.context.get_json(API.format(1)[1:], {}, host="i.instagram.com")
        assert site.hits[API.format(1)] == 0
    assert err.value.reason == "interrupted" and "query_sleep" in str(err.value.where)
    assert waits == [15.0] and not slept
