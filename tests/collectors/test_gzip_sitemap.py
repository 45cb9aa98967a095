"""Gzip-compressed sitemaps (``*.xml.gz`` sent as stored: no Content-Encoding, as the
sitemaps.org protocol allows) are decompressed, within the page size cap, before parsing."""

from __future__ import annotations

import gzip

import pytest

from collectors.api import collect
from collectors.config import load_collect_config
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, loopback_http

FAST_HTTP = loopback_http(max_page_bytes=64 * 1024)
NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def _index(*children: str) -> bytes:
    locs = "".join(f"<sitemap><loc>https://www.net-a-porter.com{c}</loc></sitemap>" for c in children)
    return f"<?xml version='1.0' encoding='UTF-8'?><sitemapindex xmlns='{NS}'>{locs}</sitemapindex>".encode()


def _urlset(*ids: str) -> bytes:
    locs = "".join(
        f"<url><loc>https://www.net-a-porter.com/en-us/shop/product/d/c/s/x/{i}</loc></url>" for i in ids
    )
    return f"<?xml version='1.0' encoding='UTF-8'?><urlset xmlns='{NS}'>{locs}</urlset>".encode()


def _dry_run(site: FakeSite, tmp_path):
    cfg = load_collect_config(base_url=site.base).model_copy(update={"http": FAST_HTTP})
    return collect(
        "netaporter",
        ["https://www.net-a-porter.com/sitemap.xml"],
        root=tmp_path / "out",
        catalog=tmp_path / "c.sqlite",
        cfg=cfg,
        dry_run=True,
    )


def test_a_gzip_child_sitemap_is_read(tmp_path):
    with FakeSite() as site:
        site.routes["/sitemap.xml"] = Route(
            _index("/sitemap-1.xml.gz", "/sitemap-2.xml"), content_type="application/xml"
        )
        site.routes["/sitemap-1.xml.gz"] = Route(
            gzip.compress(_urlset("1001", "1002")), content_type="application/x-gzip"
        )
        site.routes["/sitemap-2.xml"] = Route(_urlset("1003"), content_type="application/xml")
        s = _dry_run(site, tmp_path)
    assert [i["source_id"] for i in s.items] == ["1001", "1002", "1003"] and not s.problems


def test_a_sitemap_past_the_cap_once_decompressed_is_refused_and_the_others_read(tmp_path):
    bomb = gzip.compress(b"<urlset>" + b" " * (FAST_HTTP.max_page_bytes + 10) + b"</urlset>")
    assert len(bomb) < FAST_HTTP.max_page_bytes  # small on the wire
    with FakeSite() as site:
        site.routes["/sitemap.xml"] = Route(
            _index("/bomb.xml.gz", "/sitemap-2.xml"), content_type="application/xml"
        )
        site.routes["/bomb.xml.gz"] = Route(bomb, content_type="application/x-gzip")
        site.routes["/sitemap-2.xml"] = Route(_urlset("1003"), content_type="application/xml")
        s = _dry_run(site, tmp_path)
    assert [i["source_id"] for i in s.items] == ["1003"]
    assert [(p["url"], p["reason"]) for p in s.problems] == [(site.url("/bomb.xml.gz"), "too_large")]


def test_gunzip_capped():
    from collectors.pages import gunzip_capped

    assert gunzip_capped(b"<urlset/>", 100, where="x") == b"<urlset/>"  # not gzip: as it is
    assert gunzip_capped(gzip.compress(b"<urlset/>"), 100, where="x") == b"<urlset/>"
    with pytest.raises(FetchError) as ei:
        gunzip_capped(gzip.compress(b"x" * 101), 100, where="x")
    assert ei.value.reason == "too_large"
    with pytest.raises(FetchError) as ei:
        gunzip_capped(gzip.compress(b"<urlset/>")[:12], 100, where="s.xml.gz")
    assert ei.value.reason == "malformed_sitemap" and ei.value.where == "s.xml.gz"
