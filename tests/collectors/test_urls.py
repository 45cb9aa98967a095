"""URL lists through yt-dlp's generic extractor: parsing, ids, shop images, faults."""

from __future__ import annotations

import pytest

from collectors.api import collect
from collectors.urls import read_url_list, url_source_id
from schemas.catalog import Catalog
from schemas.errors import DataFormatError
from tests.collectors.conftest import FAST_HTTP
from tests.collectors.conftest import ytdl_cfg as cfg_for
from tests.collectors.fakesite import FakeSite, Route, mp4_bytes


def test_url_list_generic_extractor(tiktok_site, tmp_path):
    site, _, _, bodies, shop, _ = tiktok_site
    lst = tmp_path / "urls.txt"
    lst.write_text(
        f"# street videos\n{site.url('/tiktok/7001.mp4')} {site.url('/shop/7001.jpg')}\n"
        f"{site.url('/tiktok/7002.mp4')}\n"
    )
    out, cat_path = tmp_path / "o", tmp_path / "c.sqlite"
    s = collect("urls", [str(lst)], root=out, catalog=cat_path, cfg=cfg_for(site), workers=2)
    assert s.ok == 2, s.human()
    assert (out / "urls/7001/video.mp4").read_bytes() == bodies["7001"]
    assert (out / "urls/7001/shop.jpg").read_bytes() == shop
    assert (out / "urls/7002/video.mp4").read_bytes() == bodies["7002"]
    with Catalog(cat_path) as cat:
        assert cat.get_item("urls", "7002").item.url == site.url("/tiktok/7002.mp4")
    before = sum(site.hits.values())
    assert collect("urls", [str(lst)], root=out, catalog=cat_path, cfg=cfg_for(site)).skipped == 2
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
        s = collect("urls", [site.url(f"/files/{fault}.mp4")], root=out, catalog=cat_path, cfg=cfg)
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
