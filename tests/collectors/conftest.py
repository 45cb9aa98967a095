"""Shared fixtures of the collector tests: a loopback TikTok-like CDN with saved yt-dlp info files."""

from __future__ import annotations

import json

import pytest

from collectors.config import load_collect_config
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, loopback_http, mp4_bytes

FAST_HTTP = loopback_http()


def info(vid: str, url: str, **extra) -> dict:
    return {
        "id": vid,
        "title": f"video {vid}",
        "description": f"my outfit #ootd #dress {vid}",
        "uploader": "styledbymia",
        "webpage_url": f"https://www.tiktok.com/@styledbymia/video/{vid}",
        "extractor": "TikTok",
        "extractor_key": "TikTok",
        "ext": "mp4",
        "duration": 1.6,
        "formats": [
            {
                "format_id": "h264",
                "url": url,
                "ext": "mp4",
                "vcodec": "h264",
                "acodec": "none",
                "protocol": "http",
                "width": 64,
                "height": 48,
                "http_headers": {"Referer": "https://www.tiktok.com/"},
            }
        ],
        **extra,
    }


@pytest.fixture(scope="module")
def tiktok_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tt")
    with FakeSite() as site:
        bodies = {}
        for n, vid in enumerate(["7001", "7002", "7003"]):
            bodies[vid] = mp4_bytes(tmp, 70 + n)
            site.routes[f"/tiktok/{vid}.mp4"] = Route(bodies[vid], content_type="video/mp4")
        site.routes["/tiktok/bad.mp4"] = Route(b"<html>login</html>" * 20, content_type="video/mp4")
        shop = jpeg_bytes(5)
        site.routes["/shop/7001.jpg"] = Route(shop, content_type="image/jpeg")
        infos = tmp / "infos"
        infos.mkdir()
        for vid in bodies:
            (infos / f"{vid}.info.json").write_text(json.dumps(info(vid, site.url(f"/tiktok/{vid}.mp4"))))
        (infos / "evil.info.json").write_text(
            json.dumps(info("../../etc/passwd", site.url("/tiktok/7001.mp4")))
        )
        (infos / "html.info.json").write_text(json.dumps(info("7009", site.url("/tiktok/bad.mp4"))))
        (infos / "foreign.info.json").write_text(json.dumps(info("7010", "http://cdn.evil.example/x.mp4")))
        local = tmp / "local-shop.jpg"
        local.write_bytes(jpeg_bytes(6))
        mapping = tmp / "shops.csv"
        mapping.write_text(
            f"video,shop\n7001,{site.url('/shop/7001.jpg')}\n"
            f"https://www.tiktok.com/@styledbymia/video/7002,local-shop.jpg\n"
        )
        yield site, infos, mapping, bodies, shop, local.read_bytes()


def ytdl_cfg(site):
    return load_collect_config(base_url=site.base).model_copy(update={"http": FAST_HTTP})


def refused_info_folder(site, tmp_path, bad: dict):
    """A folder of two saved infos, the second one changed by ``bad``, collected: the
    :class:`DataFormatError` it is refused with (before anything is created or fetched, which is
    checked), the folder and the output root."""
    from collectors.api import collect
    from schemas.errors import DataFormatError

    folder = tmp_path / "infos"
    folder.mkdir()
    good = info("7300", site.url("/tiktok/7001.mp4"))
    (folder / "a-good.info.json").write_text(json.dumps(good))
    (folder / "b-bad.info.json").write_text(json.dumps({**good, "id": "7301", **bad}))
    before = sum(site.hits.values())
    out = tmp_path / "out"
    with pytest.raises(DataFormatError) as ei:
        collect("tiktok", [str(folder)], root=out, catalog=out / "c.sqlite", cfg=ytdl_cfg(site))
    assert ei.value.where == str(folder / "b-bad.info.json")
    assert not out.exists() and sum(site.hits.values()) == before
    return ei.value, folder, out
