"""yt-dlp downloads only with its own HTTP downloader (through the polite client): an info dict
that would make it hand a download to ffmpeg (a section of the video, a merge, HLS, ...) is
refused (``unsupported_protocol``) before and at download time, and an earlier run's format
selection in a saved info JSON is ignored."""

from __future__ import annotations

import json

import pytest

from collectors.api import collect
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from collectors.ytdl import YtdlFetcher, allowed_formats
from collectors.ytdl_net import policy_refusal, polite_youtubedl
from schemas.catalog import Catalog
from schemas.errors import FetchError
from tests.collectors.conftest import FAST_HTTP, info
from tests.collectors.conftest import ytdl_cfg as cfg_for
from tests.collectors.fakesite import FakeSite, Route, mp4_bytes

M3U8 = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nseg0.ts\n#EXT-X-ENDLIST\n"


@pytest.fixture()
def media_site(tmp_path):
    with FakeSite() as site:
        body = mp4_bytes(tmp_path, 1, frames=20)
        for vid in ("7001", "7002", "7003"):
            site.routes[f"/v/{vid}.mp4"] = Route(body, content_type="video/mp4")
        site.routes["/v/list.m3u8"] = Route(M3U8, content_type="application/vnd.apple.mpegurl")
        site.routes["/v/seg0.ts"] = Route(body, content_type="video/mp2t")
        yield site, body


def _fetcher(site) -> YtdlFetcher:
    policy = HostPolicy.of([site.base.removeprefix("http://")])
    return YtdlFetcher(FAST_HTTP, policy, client=PoliteClient(FAST_HTTP, policy=policy))


@pytest.mark.parametrize("section", [{"section_end": 1.5}, {"section_start": 0.5}])
def test_a_saved_info_asking_for_a_section_is_refused_before_any_request(media_site, tmp_path, section):
    site, body = media_site
    folder = tmp_path / "infos"
    folder.mkdir()
    (folder / "7001.info.json").write_text(json.dumps(info("7001", site.url("/v/7001.mp4"))))
    (folder / "7002.info.json").write_text(json.dumps(info("7002", site.url("/v/7002.mp4"), **section)))
    out = tmp_path / "o"
    s = collect("tiktok", [str(folder)], root=out, catalog=out / "c.sqlite", cfg=cfg_for(site), workers=1)
    assert s.ok == 1 and s.reasons == {"unsupported_protocol": 1}, s.human()
    assert site.hits["/v/7002.mp4"] == 0  # ffmpeg would have fetched it, outside the polite client
    with Catalog(out / "c.sqlite") as cat:
        assert cat.get_item("tiktok", "7002").status == "rejected"
    with pytest.raises(FetchError) as err:
        allowed_formats(info("7002", site.url("/v/7002.mp4"), **section), HostPolicy.of([site.base[7:]]))
    assert err.value.reason == "unsupported_protocol" and next(iter(section)) in err.value.hint


def test_a_format_asking_for_a_section_is_dropped(media_site):
    site, _ = media_site
    policy = HostPolicy.of([site.base.removeprefix("http://")])
    cut = {"format_id": "cut", "url": site.url("/v/7001.mp4"), "protocol": "http", "section_end": 1.0}
    whole = {"format_id": "whole", "url": site.url("/v/7001.mp4"), "protocol": "http"}
    assert allowed_formats({"id": "x", "formats": [cut, whole]}, policy)["formats"] == [whole]
    with pytest.raises(FetchError) as err:
        allowed_formats({"id": "x", "formats": [cut]}, policy)
    assert err.value.reason == "unsupported_protocol"


@pytest.mark.parametrize(
    "extra",
    [
        {"section_end": 1.0},  # ffmpeg (FFmpegFD)
        {"formats": [{"format_id": "h", "url": "/v/list.m3u8", "protocol": "m3u8", "ext": "mp4"}]},  # ffmpeg
        {"formats": [{"format_id": "h", "url": "/v/list.m3u8", "protocol": "m3u8_native", "ext": "mp4"}]},
    ],
)
def test_yt_dlp_may_use_no_downloader_but_its_http_one_whatever_chose_it(media_site, tmp_path, extra):
    """Past the checks of the info (a key they do not know yet): refused when the download starts."""
    site, _ = media_site
    data = info("7003", site.url("/v/7003.mp4"), **extra)
    for f in data["formats"]:
        f["url"] = site.url(f["url"]) if f["url"].startswith("/") else f["url"]
    with pytest.raises(FetchError) as err:
        _fetcher(site)._download_once(data, tmp_path / "item", "video")  # no allowed_formats first
    assert err.value.reason == "unsupported_protocol", err.value
    assert not {p: n for p, n in site.hits.items() if p.startswith("/v/") and n}  # nothing fetched
    assert not [p for p in (tmp_path / "item").iterdir() if not p.name.endswith(".part")]


def test_the_download_guard_lets_yt_dlps_http_downloader_through(media_site, tmp_path):
    site, body = media_site
    path = _fetcher(site)._download_once(info("7003", site.url("/v/7003.mp4")), tmp_path / "item", "video")
    assert path.read_bytes() == body


@pytest.mark.parametrize("protocol", ["m3u8", "m3u8_native", "rtmp", "http_dash_segments", "f4m"])
def test_the_download_guard_refuses_each_other_downloader(protocol):
    client = PoliteClient(FAST_HTTP, policy=HostPolicy.of(["127.0.0.1:9"]))
    fmt = {"id": "x", "url": "http://127.0.0.1:9/v", "protocol": protocol, "ext": "mp4", "fragments": []}
    with polite_youtubedl({"quiet": True}, client) as ydl, pytest.raises(Exception) as err:
        ydl.dl("/nonexistent/x.mp4", fmt)
    refused = policy_refusal(err.value)
    assert refused is not None and refused.reason == "unsupported_protocol", err.value


def test_an_earlier_runs_format_selection_in_a_saved_info_is_ignored(media_site, tmp_path):
    """``requested_formats`` of a saved info JSON would be downloaded as they are (past the
    host and protocol checks): yt-dlp selects again from the checked ``formats``."""
    site, body = media_site
    stale = [
        {"format_id": "v", "url": site.url("/v/list.m3u8"), "protocol": "m3u8_native", "ext": "mp4"},
        {"format_id": "a", "url": "http://cdn.evil.example/a.m4a", "protocol": "https", "ext": "m4a"},
    ]
    saved = info("7001", site.url("/v/7001.mp4"), requested_formats=stale)
    checked = allowed_formats(saved, HostPolicy.of([site.base.removeprefix("http://")]))
    assert "requested_formats" not in checked
    folder = tmp_path / "infos"
    folder.mkdir()
    (folder / "7001.info.json").write_text(json.dumps(saved))
    out = tmp_path / "o"
    s = collect("tiktok", [str(folder)], root=out, catalog=out / "c.sqlite", cfg=cfg_for(site), workers=1)
    assert s.ok == 1, s.human()
    assert (out / "tiktok/7001/video.mp4").read_bytes() == body
    assert site.hits["/v/list.m3u8"] == 0


def test_a_format_available_only_later_is_waited_for_here_or_failed_for_a_rerun(media_site, tmp_path):
    """yt-dlp sleeps until a format's ``available_at`` with no cap and deaf to Ctrl-C; the
    fetcher waits out a short time itself (stoppable) and fails a far one for a rerun."""
    import time

    site, body = media_site
    folder = tmp_path / "infos"
    folder.mkdir()
    later = info("7001", site.url("/v/7001.mp4"))
    later["formats"][0]["available_at"] = int(time.time()) + 3600
    (folder / "7001.info.json").write_text(json.dumps(later))
    out = tmp_path / "o"
    s = collect("tiktok", [str(folder)], root=out, catalog=out / "c.sqlite", cfg=cfg_for(site), workers=1)
    assert s.ok == 0 and s.reasons == {"not_yet_available": 1}, s.human()
    assert site.hits["/v/7001.mp4"] == 0
    with Catalog(out / "c.sqlite") as cat:
        assert cat.get_item("tiktok", "7001").status == "failed"  # a rerun tries it again
    policy = HostPolicy.of([site.base.removeprefix("http://")])
    sleeps: list[float] = []
    http = FAST_HTTP.model_copy(update={"retry_after_max_s": 60})
    fetcher = YtdlFetcher(http, policy, client=PoliteClient(http, policy=policy), sleep=sleeps.append)
    soon = allowed_formats(info("7002", site.url("/v/7002.mp4")), policy)
    soon["formats"][0]["available_at"] = time.time() + 30
    ready = fetcher._wait_until_available(soon)
    assert len(sleeps) == 1 and 25 < sleeps[0] <= 30
    assert all("available_at" not in f for f in ready["formats"])  # yt-dlp does not wait again
