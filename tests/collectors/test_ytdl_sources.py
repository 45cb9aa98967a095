"""TikTok (saved info JSON replay through yt-dlp's real downloader) and URL lists (generic extractor)."""

from __future__ import annotations

import hashlib
import json

import pytest

from collectors.api import collect
from collectors.config import HttpConfig, load_collect_config
from collectors.shopmap import load_shop_map
from collectors.tiktok import expand_target
from collectors.urls import read_url_list, url_source_id
from schemas.catalog import Catalog
from schemas.errors import DataFormatError
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, mp4_bytes

FAST_HTTP = HttpConfig(
    backoff_base_s=0.001,
    backoff_max_s=0.005,
    retry_after_max_s=0.005,
    rate_per_host=1000,
    burst_per_host=100,
    max_retries=1,
)


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


def cfg_for(site):
    return load_collect_config(base_url=site.base).model_copy(update={"http": FAST_HTTP})


def test_expand_targets():
    assert expand_target("tiktok:user:mia") == "tiktokuser:mia"
    assert expand_target("@mia") == "tiktokuser:mia"
    assert expand_target("#ootd") == "https://www.tiktok.com/tag/ootd"
    assert expand_target("tiktok:tag:ootd") == "https://www.tiktok.com/tag/ootd"


def test_tiktok_info_files_with_shop_map_and_faults(tiktok_site, tmp_path):
    site, infos, mapping, bodies, shop, local = tiktok_site
    out, cat_path = tmp_path / "o", tmp_path / "c.sqlite"
    s = collect(
        "tiktok", [str(infos)], out=out, catalog=cat_path, cfg=cfg_for(site), workers=2, shop_map=str(mapping)
    )
    assert s.ok == 3, s.human()
    assert s.reasons == {"unsafe_id": 1, "not_a_video": 1, "host_not_allowed": 1}
    with Catalog(cat_path) as cat:
        for vid, body in bodies.items():
            row = cat.get_item("tiktok", vid)
            assert row.status == "downloaded"
            assert row.item.hashtags == ["ootd", "dress"] and row.item.caption.startswith("my outfit")
            assert row.item.metadata["uploader"] == "styledbymia" and "formats" not in row.item.metadata
            (video,) = cat.assets(source="tiktok", source_id=vid, kind="video")
            assert (
                video.path == f"tiktok/{vid}/video.mp4" and video.sha256 == hashlib.sha256(body).hexdigest()
            )
            assert (out / video.path).read_bytes() == body and video.probe.frames == 6
        assert (out / "tiktok/7001/shop.jpg").read_bytes() == shop
        assert (out / "tiktok/7002/shop.jpg").read_bytes() == local
        assert not cat.assets(
            source="tiktok", source_id="7003", kind="shop"
        )  # left for split-screen recovery
        assert cat.get_item("tiktok", "7009").status == "rejected"
        assert cat.get_item("tiktok", "7010").reason.endswith("host_not_allowed")
    assert site.hits.get("/x.mp4") is None
    leftovers = [p.name for p in out.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert leftovers == [".ytdlp-archive.txt"]
    archive = (out / "tiktok/.ytdlp-archive.txt").read_text().split()
    assert {"7001", "7002", "7003"} <= set(archive)
    before = sum(site.hits.values())
    s2 = collect(
        "tiktok", [str(infos)], out=out, catalog=cat_path, cfg=cfg_for(site), workers=2, shop_map=str(mapping)
    )
    assert s2.ok == 0 and s2.files == 0 and s2.skipped == 6
    assert sum(site.hits.values()) == before


def test_url_list_generic_extractor(tiktok_site, tmp_path):
    site, _, _, bodies, shop, _ = tiktok_site
    lst = tmp_path / "urls.txt"
    lst.write_text(
        f"# street videos\n{site.url('/tiktok/7001.mp4')} {site.url('/shop/7001.jpg')}\n"
        f"{site.url('/tiktok/7002.mp4')}\n"
    )
    out, cat_path = tmp_path / "o", tmp_path / "c.sqlite"
    s = collect("urls", [str(lst)], out=out, catalog=cat_path, cfg=cfg_for(site), workers=2)
    assert s.ok == 2, s.human()
    assert (out / "urls/7001/video.mp4").read_bytes() == bodies["7001"]
    assert (out / "urls/7001/shop.jpg").read_bytes() == shop
    assert (out / "urls/7002/video.mp4").read_bytes() == bodies["7002"]
    with Catalog(cat_path) as cat:
        assert cat.get_item("urls", "7002").item.url == site.url("/tiktok/7002.mp4")
    before = sum(site.hits.values())
    assert collect("urls", [str(lst)], out=out, catalog=cat_path, cfg=cfg_for(site)).skipped == 2
    assert sum(site.hits.values()) == before


def test_url_list_parsing(tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text("http://a.example/v/1.mp4,shop/1.jpg\nhttp://a.example/watch?v=9\n")
    (url1, shop1), (url2, shop2) = read_url_list([str(lst)])
    assert shop1.path == tmp_path / "shop/1.jpg" and shop2 is None
    assert url_source_id(url1) == "1" and url_source_id(url2).startswith("url-")
    assert url_source_id("http://a.example/files/..%2F..%2Fetc%2Fpasswd.mp4") == "../../etc/passwd"
    assert url_source_id("http://a.example/files/abc%00def.mp4") == "abc\x00def"
    assert url_source_id("https://www.tiktok.com/@a/video/123") == "123"
    lst.write_text("not a url\n")
    with pytest.raises(DataFormatError):
        read_url_list([str(lst)])


def test_shop_map_jsonl(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text('{"video_id": "1", "shop_url": "http://x.example/1.jpg"}\n{"video": "2", "shop": "a.jpg"}\n')
    refs = load_shop_map(m)
    assert refs["1"].url == "http://x.example/1.jpg" and refs["2"].path == tmp_path / "a.jpg"
    m.write_text('{"video_id": "1"}\n')
    with pytest.raises(DataFormatError):
        load_shop_map(m)


@pytest.mark.parametrize(
    "fault,route,reason,status",
    [
        ("429", dict(fail_first=2, fail_status=429, retry_after="1"), None, "downloaded"),
        ("5xx", dict(fail_first=2, fail_status=503), None, "downloaded"),
        ("truncated", dict(truncate_first=1), None, "downloaded"),
        ("ctype", dict(content_type="text/plain"), "content_type_mismatch", "rejected"),
        ("html", dict(body=b"<html>" * 100), "not_a_video", "rejected"),
        ("redirect", dict(location="http://foreign.invalid/v.mp4"), "foreign_redirect", "rejected"),
        ("big", dict(body=b"\0" * 300_000, declare_length=False), "too_large", "rejected"),
    ],
)
def test_url_source_faults(tmp_path, fault, route, reason, status):
    body = mp4_bytes(tmp_path, 1)
    with FakeSite() as site:
        site.routes[f"/files/{fault}.mp4"] = Route(**{"body": body, "content_type": "video/mp4", **route})
        cfg = cfg_for(site).model_copy(
            update={"http": FAST_HTTP.model_copy(update={"max_retries": 3, "max_body_bytes": 100_000})}
        )
        out, cat_path = tmp_path / "o", tmp_path / "c.sqlite"
        s = collect("urls", [site.url(f"/files/{fault}.mp4")], out=out, catalog=cat_path, cfg=cfg)
    with Catalog(cat_path) as cat:
        row = cat.get_item("urls", fault)
        assert row.status == status, (row.reason, s.human())
        if reason:
            assert row.reason == reason
            assert not (out / f"urls/{fault}").exists() or not any(
                p.suffix == ".mp4" for p in (out / f"urls/{fault}").iterdir()
            )
        else:
            assert (out / f"urls/{fault}/video.mp4").read_bytes() == body
    leftovers = [
        p for p in out.rglob("*") if p.is_file() and p.name.startswith(".") and "archive" not in p.name
    ]
    assert not leftovers


def test_user_and_tag_targets_expand_through_the_playlist(monkeypatch, tmp_path):
    from collectors.tiktok import TikTok

    src = TikTok.build(tmp_path, load_collect_config().tiktok, FAST_HTTP, None)
    asked = []

    def fake_extract(url, process=True):
        asked.append((url, process))
        return {
            "_type": "playlist",
            "entries": iter(
                [
                    {"_type": "url", "id": "11", "url": "https://www.tiktok.com/@u/video/11"},
                    {"_type": "url", "id": "12", "url": "https://www.tiktok.com/@u/video/12"},
                ]
            ),
        }

    monkeypatch.setattr(src.fetcher, "extract", fake_extract)
    cands = list(src.discover(["tiktok:user:mia", "#ootd"]))
    assert asked == [("tiktokuser:mia", False), ("https://www.tiktok.com/tag/ootd", False)]
    assert [c.raw_id for c in cands] == ["11", "12"]  # the second listing repeats them: deduplicated
    single = list(src.discover(["https://www.tiktok.com/@u/video/99"]))
    assert single[0].raw_id == "99" and single[0].payload is None and len(asked) == 2
