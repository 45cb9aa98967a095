"""instaloader's and yt-dlp's own sessions read answers under the polite client's limits: a
body past the size cap (declared, undeclared or compressed) is cut off ``too_large``, a page
that trickles in past ``http.page_timeout_s`` fails ``timeout``, and a library's longer
timeouts are shortened to the client's connect/read timeouts."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from collectors.instaloader_net import api_host_map, bind_context
from collectors.transport import PoliteAdapter
from collectors.ytdl import YtdlFetcher
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, loopback_http, mp4_bytes

CAP = 4096
BIG_JSON = json.dumps({"status": "ok", "pad": "x" * (4 * CAP)}).encode()


def _loader(site: FakeSite, **http):
    """An instaloader session bound to the polite client, Instagram's API hosts on ``site``."""
    import instaloader

    cfg = loopback_http(max_retries=0, max_page_bytes=CAP, **http)
    client = PoliteClient(cfg, policy=HostPolicy.of([site.base.removeprefix("http://")]))
    loader = instaloader.Instaloader(quiet=True, sleep=False, max_connection_attempts=1)
    bind_context(loader.context, PoliteAdapter(client, host_map=api_host_map(site.base)))
    return loader


@pytest.mark.parametrize(
    "route",
    [
        Route(BIG_JSON, content_type="application/json"),
        Route(BIG_JSON, content_type="application/json", declare_length=False),
        Route(
            gzip.compress(BIG_JSON),
            content_type="application/json",
            headers={"Content-Encoding": "gzip"},
        ),
    ],
    ids=["declared", "undeclared", "gzip-bomb"],
)
def test_an_instaloader_answer_past_the_cap_is_cut_off(route):
    with FakeSite() as site:
        site.routes["/api/v1/media/1/info/"] = route
        site.routes["/api/v1/media/2/info/"] = Route(
            b'{"status": "ok", "n": 2}', content_type="application/json"
        )
        loader = _loader(site)
        assert loader.context.get_json("api/v1/media/2/info/", {}, host="i.instagram.com")["n"] == 2
        with pytest.raises(FetchError) as err:
            loader.context.get_json("api/v1/media/1/info/", {}, host="i.instagram.com")
    assert err.value.reason == "too_large" and f"{CAP}-byte cap" in str(err.value)
    assert "/api/v1/media/1/info/" in str(err.value.where)
    assert site.hits["/api/v1/media/1/info/"] == 1  # not asked again: the answer will not shrink


def test_an_instaloader_answer_that_trickles_past_the_page_time_fails_timeout():
    with FakeSite() as site:
        body = json.dumps({"status": "ok", "pad": "y" * 200}).encode()
        site.routes["/api/v1/media/1/info/"] = Route(body, content_type="application/json", stall_s=1.0)
        loader = _loader(site, page_timeout_s=0.2, read_timeout_s=10)
        with pytest.raises(FetchError) as err:
            loader.context.get_json("api/v1/media/1/info/", {}, host="i.instagram.com")
    assert err.value.reason == "timeout" and "page_timeout_s" in str(err.value.hint)


def test_instaloaders_long_timeout_is_shortened_to_the_clients():
    """instaloader asks for 300 s; the client's read timeout (here 0.1 s) applies."""
    import instaloader

    with FakeSite() as site:
        site.routes["/api/v1/media/1/info/"] = Route(
            b'{"status": "ok"}', content_type="application/json", delay_s=1.0
        )
        loader = _loader(site, read_timeout_s=0.1)
        with pytest.raises(instaloader.ConnectionException) as err:
            loader.context.get_json("api/v1/media/1/info/", {}, host="i.instagram.com")
    assert "timed out" in str(err.value).lower()


def _fetcher(site: FakeSite, **http) -> YtdlFetcher:
    cfg = loopback_http(max_retries=0, max_page_bytes=CAP, **http)
    policy = HostPolicy.of([site.base.removeprefix("http://")])
    return YtdlFetcher(cfg, policy, client=PoliteClient(cfg, policy=policy))


@pytest.mark.parametrize("declare", [True, False], ids=["declared", "undeclared"])
def test_a_page_yt_dlp_reads_past_the_cap_is_cut_off(declare, tmp_path):
    page = b"<html><head><title>t</title></head><body>" + b"<p>x</p>" * CAP + b"</body></html>"
    with FakeSite() as site:
        site.routes["/watch/1"] = Route(page, content_type="text/html", declare_length=declare)
        site.routes["/v/1.mp4"] = Route(mp4_bytes(tmp_path, 1, frames=40), content_type="video/mp4")
        fetcher = _fetcher(site)
        with pytest.raises(FetchError) as err:
            fetcher.extract(site.url("/watch/1"))
        # a media URL larger than a page is no page: the generic extractor reads only its start
        assert len(site.routes["/v/1.mp4"].body) > CAP
        assert fetcher.extract(site.url("/v/1.mp4"))["url"] == site.url("/v/1.mp4")
    assert err.value.reason == "too_large" and f"{CAP}-byte cap" in str(err.value)
    assert "/watch/1" in str(err.value.where)


def test_a_page_yt_dlp_reads_that_trickles_past_the_page_time_fails_timeout():
    page = b"<html><head><title>t</title></head><body>" + b"<p>x</p>" * 50 + b"</body></html>"
    with FakeSite() as site:
        site.routes["/watch/1"] = Route(page, content_type="text/html", stall_s=1.0)
        with pytest.raises(FetchError) as err:
            _fetcher(site, page_timeout_s=0.2, read_timeout_s=10).extract(site.url("/watch/1"))
    assert err.value.reason == "timeout" and "/watch/1" in str(err.value.where)


def test_instaloaders_wait_after_a_429_ends_on_ctrl_c_and_sends_nothing_more(monkeypatch):
    """After a 429 instaloader waits ~11 minutes before asking again: that wait is the client's
    (a wind-down, the first Ctrl-C, ends it) and the query fails ``interrupted``."""
    import time

    import instaloader

    from collectors.instagram import _rate_controller_class

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)  # a wait past the client's is seen, not sat out
    with FakeSite() as site:
        site.routes["/api/v1/media/1/info/"] = Route(status=429, content_type="application/json")
        cfg = loopback_http(max_retries=0)
        waits: list[float] = []
        client = PoliteClient(cfg, policy=HostPolicy.of([site.base.removeprefix("http://")]))

        def ctrl_c_during(seconds: float) -> None:
            waits.append(seconds)
            client.winddown.set()

        client.sleep = ctrl_c_during
        rc = _rate_controller_class()
        loader = instaloader.Instaloader(quiet=True, sleep=False, rate_controller=lambda ctx: rc(ctx, client))
        bind_context(loader.context, PoliteAdapter(client, host_map=api_host_map(site.base)))
        with pytest.raises(FetchError) as err:
            loader.context.get_json("api/v1/media/1/info/", {}, host="i.instagram.com")
    assert err.value.reason == "interrupted" and "rate control" in str(err.value.where)
    assert len(waits) == 1 and waits[0] > 60 and not [s for s in slept if s > 1]
    assert site.hits["/api/v1/media/1/info/"] == 1  # no query went out after the wait


def _sleepy_fetcher(site: FakeSite) -> tuple[YtdlFetcher, list[float]]:
    """A fetcher whose waits (backoff, Retry-After, a host's pause) are recorded, not sat out."""
    cfg = loopback_http(max_retries=2, retry_after_max_s=100)
    policy = HostPolicy.of([site.base.removeprefix("http://")])
    waits: list[float] = []
    client = PoliteClient(cfg, policy=policy, sleep=waits.append)
    return YtdlFetcher(cfg, policy, client=client), waits


def test_yt_dlp_honours_a_retry_after_given_as_an_http_date():
    from email.utils import formatdate

    with FakeSite() as site:
        site.routes["/v/1.mp4"] = Route(
            b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64,
            content_type="video/mp4",
            fail_first=1,
            fail_status=429,
            retry_after=formatdate(time.time() + 40, usegmt=True),
        )
        fetcher, waits = _sleepy_fetcher(site)
        assert fetcher.extract(site.url("/v/1.mp4"))["url"] == site.url("/v/1.mp4")
    assert site.hits["/v/1.mp4"] == 2 and [w for w in waits if 30 <= w <= 41], waits


def test_yt_dlps_own_retries_of_a_busy_download_wait_for_its_retry_after(tmp_path):
    from collectors.ytdl_net import polite_youtubedl
    from tests.collectors.conftest import info

    with FakeSite() as site:
        body = mp4_bytes(tmp_path, 3)
        site.routes["/v/3.mp4"] = Route(
            body, content_type="video/mp4", fail_first=1, fail_status=503, retry_after="7"
        )
        fetcher, waits = _sleepy_fetcher(site)
        params = fetcher.params(outtmpl={"default": str(tmp_path / "out.%(ext)s")}, paths={})
        with polite_youtubedl(params, fetcher.client) as ydl:  # yt-dlp's own downloader and retries
            ydl.process_ie_result(info("3", site.url("/v/3.mp4")), download=True)
    assert (tmp_path / "out.mp4").read_bytes() == body and site.hits["/v/3.mp4"] == 2
    assert [w for w in waits if 6 <= w <= 7], waits  # the retry waited for the host's pause


def test_a_yt_dlp_download_slower_than_the_floor_fails_timeout_and_the_rerun_finishes_it(
    tmp_path, monkeypatch
):
    """A video trickling in under http.min_rate_bytes_s fails ``timeout`` instead of holding a
    worker for hours; no file is taken for done, and the rerun fetches it whole."""
    import collectors.transport as transport
    from tests.collectors.conftest import info

    monkeypatch.setattr(
        transport, "RATE_WINDOW_S", 0.3, raising=False
    )  # the floor's window (a minute in a run)
    body = mp4_bytes(tmp_path, 5, frames=30)
    with FakeSite() as site:
        site.routes["/v/5.mp4"] = Route(body, content_type="video/mp4", stall_s=1.0)
        cfg = loopback_http(max_retries=0, min_rate_bytes_s=1e6, read_timeout_s=10)
        policy = HostPolicy.of([site.base.removeprefix("http://")])
        fetcher = YtdlFetcher(cfg, policy, client=PoliteClient(cfg, policy=policy))
        folder = tmp_path / "item"
        with pytest.raises(FetchError) as err:
            fetcher.download(info("5", site.url("/v/5.mp4")), folder)
        assert err.value.reason == "timeout" and "/v/5.mp4" in str(err.value.where)
        assert not [f for f in folder.iterdir() if f.name.endswith(".mp4")]  # only a .part, if any
        site.routes["/v/5.mp4"].stall_s = 0.0
        assert fetcher.download(info("5", site.url("/v/5.mp4")), folder).read_bytes() == body
