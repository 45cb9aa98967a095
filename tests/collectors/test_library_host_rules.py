"""instaloader's and yt-dlp's answers count for their host as the polite client's own do: a 403,
or a 429 handed back to the library, counts towards ``http.block_after`` (then nothing more is
asked of the host in the run, by the libraries or the client), and a 429/503 without a
``Retry-After`` pauses the host for every thread for the backoff's delay."""

from __future__ import annotations

import pytest

from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from collectors.instaloader_net import api_host_map, bind_context
from collectors.transport import PoliteAdapter
from collectors.ytdl import YtdlFetcher
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, loopback_http

API = "/api/v1/media/{}/info/"


def _client(site: FakeSite, waits: list[float] | None = None, **http) -> PoliteClient:
    cfg = loopback_http(max_retries=0, **http)
    policy = HostPolicy.of([site.base.removeprefix("http://")])
    return PoliteClient(cfg, policy=policy, sleep=None if waits is None else waits.append)


def test_403s_to_instaloader_count_towards_the_hosts_block():
    import instaloader

    with FakeSite() as site:
        for i in range(3):
            site.routes[API.format(i)] = Route(b"no", status=403, content_type="application/json")
        site.routes["/ok"] = Route(b"ok")
        client = _client(site, block_after=2)
        loader = instaloader.Instaloader(quiet=True, sleep=False, max_connection_attempts=1)
        bind_context(loader.context, PoliteAdapter(client, host_map=api_host_map(site.base)))
        for i in range(2):
            with pytest.raises(instaloader.InstaloaderException):  # its own error for a 403
                loader.context.get_json(API.format(i)[1:], {}, host="i.instagram.com")
        with pytest.raises(FetchError) as err:  # the client's own request: the host blocks us
            client.get_bytes(site.url("/ok"))
        assert err.value.reason == "host_blocked"
        with pytest.raises(FetchError) as err:  # and the library's next one is not sent
            loader.context.get_json(API.format(2)[1:], {}, host="i.instagram.com")
        assert err.value.reason == "host_blocked"
    assert site.hits[API.format(2)] == 0 and site.hits["/ok"] == 0


def test_429s_handed_to_yt_dlp_count_towards_the_hosts_block():
    with FakeSite() as site:
        for i in range(3):
            site.routes[f"/watch/{i}"] = Route(b"busy", fail_first=99, fail_status=429, retry_after="0")
        site.routes["/ok"] = Route(b"ok")
        client = _client(site, block_after=2)
        fetcher = YtdlFetcher(client.cfg, client.policy, client=client)
        for i in range(2):
            with pytest.raises(FetchError):
                fetcher.extract(site.url(f"/watch/{i}"))
        with pytest.raises(FetchError) as err:
            client.get_bytes(site.url("/ok"))
        assert err.value.reason == "host_blocked"
        with pytest.raises(FetchError) as err:
            fetcher.extract(site.url("/watch/2"))
        assert err.value.reason == "host_blocked"
    assert site.hits["/watch/2"] == 0 and site.hits["/ok"] == 0


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_answer_to_yt_dlp_without_retry_after_pauses_the_host_for_other_threads(status):
    waits: list[float] = []  # the client's waits (a host's pause, a backoff), recorded, not sat out
    with FakeSite() as site:
        site.routes["/watch/1"] = Route(b"busy", fail_first=99, fail_status=status)
        site.routes["/other"] = Route(b"other")
        client = _client(site, waits, backoff_base_s=30, backoff_max_s=30, jitter=0.0)
        fetcher = YtdlFetcher(client.cfg, client.policy, client=client)
        with pytest.raises(FetchError):
            fetcher.extract(site.url("/watch/1"))
        assert not [w for w in waits if w > 1]
        assert client.get_bytes(site.url("/other"))[0] == b"other"  # another thread's request
    assert [w for w in waits if 20 <= w <= 30], waits  # waited for the host's pause first
