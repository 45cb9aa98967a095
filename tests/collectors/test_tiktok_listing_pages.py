"""A TikTok user or hashtag listing is read lazily: yt-dlp fetches its further pages as its entries
are taken, after ``extract`` returned. A page failing then (busy, refused, an answer its extractor
cannot read) raised yt-dlp's own error out of discovery, which ended the whole run with a
traceback. Now it ends that listing, naming it and what to do; the videos listed before are
collected and the other targets read. Here the page is fetched as yt-dlp's TikTok extractor
fetches one, through a real ``YoutubeDL`` over the polite client, from the loopback server."""

from __future__ import annotations

from collectors.api import collect
from collectors.config import load_collect_config
from collectors.ytdl import YtdlFetcher
from collectors.ytdl_net import polite_youtubedl
from tests.collectors.conftest import info
from tests.collectors.fakesite import FakeSite, Route, loopback_http, mp4_bytes

PAGE = "/api/creator/item_list/"


def _lazy_listing(site: FakeSite, fetcher: YtdlFetcher, url: str):
    """A listing as yt-dlp's ``tiktok:user`` returns it: its first video, then its next page
    asked only when taken (here through a real YoutubeDL, as the extractor's download does)."""
    yield {"_type": "url", "id": "7001", "url": "https://www.tiktok.com/@mia/video/7001"}
    with polite_youtubedl(fetcher.params(where=url), fetcher.client) as ydl:
        ydl.urlopen(site.url(PAGE)).read()
    yield {"_type": "url", "id": "7002", "url": "https://www.tiktok.com/@mia/video/7002"}


def _collect(tmp_path, monkeypatch, site: FakeSite, route: Route):
    site.routes[PAGE] = route
    site.routes["/v/7001.mp4"] = Route(mp4_bytes(tmp_path, 1), content_type="video/mp4")
    site.routes["/v/7003.mp4"] = Route(mp4_bytes(tmp_path, 3), content_type="video/mp4")

    def extract(self, url, *, process=True):
        if url == "tiktokuser:mia":
            return {"_type": "playlist", "id": "mia", "entries": _lazy_listing(site, self, url)}
        vid = url.rsplit("/", 1)[-1]
        return info(vid, site.url(f"/v/{vid}.mp4"))

    monkeypatch.setattr(YtdlFetcher, "extract", extract)
    cfg = load_collect_config(base_url=site.base).model_copy(update={"http": loopback_http(max_retries=0)})
    targets = ["tiktok:user:mia", "https://www.tiktok.com/@mia/video/7003"]
    return collect("tiktok", targets, root=tmp_path / "o", cfg=cfg)


def test_a_listing_page_answering_429_ends_that_listing_and_the_run_goes_on(tmp_path, monkeypatch):
    with FakeSite() as site:
        s = _collect(tmp_path, monkeypatch, site, Route(b"slow down", status=429, retry_after="30"))
        assert site.hits[PAGE] >= 1
    assert s.ok == 2  # the video listed before the page, and the next target
    assert (tmp_path / "o" / "tiktok" / "7001" / "video.mp4").exists()
    (problem,) = s.problems
    assert problem["url"] == "tiktokuser:mia" and problem["stage"] == "discovery"
    assert problem["reason"] == "http_429_exhausted"
    assert "yt-dlp could not read the rest of the listing" in problem["message"]
    assert "HTTP Error 429" in problem["message"] and "rerun later" in problem["message"]


def test_a_listing_page_the_polite_client_refuses_keeps_its_own_reason(tmp_path, monkeypatch):
    """A redirect off the allowed hosts (a login on another site) is refused by the client."""
    with FakeSite() as site:
        route = Route(status=302, location="http://login.example.invalid/signin")
        s = _collect(tmp_path, monkeypatch, site, route)
    assert s.ok == 2
    (problem,) = s.problems
    assert problem["url"] == "tiktokuser:mia" and problem["stage"] == "discovery"
    assert problem["reason"] in ("foreign_redirect", "host_not_allowed"), problem
    assert "login.example.invalid" in problem["message"]


def test_a_listing_whose_entries_are_no_list_says_the_answer_changed(tmp_path, monkeypatch):
    def extract(self, url, *, process=True):
        return {"_type": "playlist", "id": "mia", "entries": {"7001": {}}}

    monkeypatch.setattr(YtdlFetcher, "extract", extract)
    with FakeSite() as site:
        cfg = load_collect_config(base_url=site.base).model_copy(
            update={"http": loopback_http(max_retries=0)}
        )
        s = collect("tiktok", ["tiktok:user:mia"], root=tmp_path / "o", cfg=cfg)
    (problem,) = s.problems
    assert problem["reason"] == "answer_changed_shape" and problem["url"] == "tiktokuser:mia"
    assert "key entries holds a dict, not a list at tiktokuser:mia" in problem["message"]
