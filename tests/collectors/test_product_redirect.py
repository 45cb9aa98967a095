"""A Net-A-Porter product page that is another product's (a redirect to another product or to a
listing, or JSON-LD naming another product) is refused, ``product_moved`` (final), naming both
pages and what to do; nothing of it is fetched or recorded as this product's."""

from __future__ import annotations

import json

import pytest

from collectors.api import collect
from collectors.config import load_collect_config
from schemas.catalog import Catalog
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, loopback_http, mp4_bytes

FAST_HTTP = loopback_http()
OTHER = "/en-us/shop/product/designer/clothing/skirts/pleated-skirt/7654321"


def _page(sku: str, name: str) -> bytes:
    ld = {"@context": "https://schema.org", "@type": "Product", "name": name, "sku": sku}
    crumbs = {"@type": "BreadcrumbList", "itemListElement": [{"position": 1, "name": "Skirts"}]}
    return (
        f"<html><head><script type='application/ld+json'>{json.dumps(ld)}</script>"
        f"<script type='application/ld+json'>{json.dumps(crumbs)}</script></head></html>"
    ).encode()


@pytest.fixture
def site(tmp_path):
    with FakeSite() as s:
        for pid in ("1111111", "7654321"):
            s.routes[f"/videos/productPage/{pid}_detail.mp4"] = Route(
                mp4_bytes(tmp_path, 1), content_type="video/mp4"
            )
            for n, view in enumerate(("fr", "in", "bk", "cu")):
                s.routes[f"/images/products/{pid}/{pid}_{view}_l.jpg"] = Route(
                    jpeg_bytes(n), content_type="image/jpeg"
                )
        s.routes[OTHER] = Route(_page("7654321", "Pleated skirt"), content_type="text/html")
        yield s


def _collect(site: FakeSite, tmp_path, *targets: str, retry: bool = False):
    cfg = load_collect_config(base_url=site.base).model_copy(update={"http": FAST_HTTP})
    return collect(
        "netaporter",
        list(targets),
        root=tmp_path / "out",
        catalog=tmp_path / "c.sqlite",
        cfg=cfg,
        workers=1,
        retry_rejected=retry,
    )


def _media_hits(site: FakeSite) -> int:
    return sum(n for p, n in site.hits.items() if p.startswith(("/videos/", "/images/")))


def test_a_redirect_to_another_product_is_refused_naming_both_pages(site, tmp_path):
    site.routes["/en-us/shop/product/1111111"] = Route(status=301, location=OTHER)
    s = _collect(site, tmp_path, "1111111")
    assert (s.ok, s.rejected) == (0, 1) and s.reasons == {"product_moved": 1}, s.human()
    (problem,) = s.problems
    assert problem["url"] == site.url("/en-us/shop/product/1111111") and problem["kind"] == "page"
    assert site.url(OTHER) in problem["message"] and "collect 7654321" in problem["message"]
    assert "product_moved  page " + site.url("/en-us/shop/product/1111111") in s.human()
    assert _media_hits(site) == 0  # neither this id's media nor the other's
    with Catalog(tmp_path / "c.sqlite") as cat:
        row = cat.get_item("netaporter", "1111111")
        assert (row.status, row.reason, row.item.title) == ("rejected", "product_moved", None)
        assert cat.assets(source="netaporter") == []
        assert cat.get_item("netaporter", "7654321") is None  # never collected under a surprise id
    s2 = _collect(site, tmp_path, "1111111")  # final: a rerun skips it
    assert s2.skipped == 1


def test_a_redirect_to_a_listing_is_refused(site, tmp_path):
    site.routes["/en-us/shop/product/1111111"] = Route(status=301, location="/en-us/shop/clothing/skirts")
    site.routes["/en-us/shop/clothing/skirts"] = Route(
        b"<html><head><meta property='og:title' content='Skirts'></head></html>", content_type="text/html"
    )
    s = _collect(site, tmp_path, "1111111")
    assert s.reasons == {"product_moved": 1} and "not a product page" in s.problems[0]["message"], s.human()
    assert _media_hits(site) == 0


def test_a_page_whose_json_ld_names_another_product_is_refused(site, tmp_path):
    site.routes["/en-us/shop/product/1111111"] = Route(
        _page("7654321", "Pleated skirt"), content_type="text/html"
    )
    s = _collect(site, tmp_path, "1111111")
    assert s.reasons == {"product_moved": 1} and "describes product 7654321" in s.problems[0]["message"]


def test_a_redirect_to_the_same_product_is_collected(site, tmp_path):
    """The canonical URL of the same product (designer/category/slug path): no move."""
    canonical = "/en-us/shop/product/designer/clothing/skirts/slug/1111111"
    site.routes["/en-us/shop/product/1111111"] = Route(status=301, location=canonical)
    site.routes[canonical] = Route(_page("1111111", "Silk skirt"), content_type="text/html")
    s = _collect(site, tmp_path, "1111111")
    assert s.ok == 1, s.human()
    with Catalog(tmp_path / "c.sqlite") as cat:
        assert cat.get_item("netaporter", "1111111").item.title == "Silk skirt"


def test_a_moved_product_is_tried_again_with_retry_rejected(site, tmp_path):
    site.routes["/en-us/shop/product/1111111"] = Route(status=301, location=OTHER)
    assert _collect(site, tmp_path, "1111111").rejected == 1
    site.routes["/en-us/shop/product/1111111"] = Route(
        _page("1111111", "Silk skirt"), content_type="text/html"
    )
    assert _collect(site, tmp_path, "1111111").skipped == 1
    assert _collect(site, tmp_path, "1111111", retry=True).ok == 1
