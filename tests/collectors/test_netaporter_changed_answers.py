"""Net-A-Porter answering in another shape, through the real requests path against the loopback
server. Before: a listing whose first page linked no product (a bot check answered 200) and a
sitemap answered with a well-formed web page ended quietly with nothing collected (exit 0); a
product page redirected to the sign-in page was taken for a moved product (``product_moved``,
rejected for good) when that page had an og:title; and JSON-LD naming another product by a
numeric ``sku`` was recorded as the product asked for. Now each fails naming the URL and what
to do, the run goes on, and a rerun reads it again once the site answers."""

from __future__ import annotations

import json

from collectors.api import collect
from schemas.catalog import Catalog
from tests.collectors.fakesite import FakeSite, Route
from tests.collectors.test_netaporter import add_product, cfg_for

BOT = b"<html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>"


def test_a_listing_whose_first_page_links_no_product_fails_and_a_rerun_reads_it(tmp_path):
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        site.routes["/en-us/shop/clothing"] = Route(BOT, content_type="text/html")
        s = collect("netaporter", ["/en-us/shop/clothing"], root=tmp_path / "o", cfg=cfg_for(site))
        assert (s.ok, s.failed) == (0, 1)
        (problem,) = s.problems
        assert problem["url"] == site.url("/en-us/shop/clothing") and problem["stage"] == "discovery"
        assert problem["reason"] == "no_products_listed"
        assert "links no product page; its title: 'Just a moment...'" in problem["message"]
        assert "rerun later" in problem["message"] and "netaporter.product_url_pattern" in problem["message"]

        site.routes["/en-us/shop/clothing"] = Route(
            b"<html><a href='/en-us/shop/product/1001'>a</a></html>", content_type="text/html"
        )
        s = collect("netaporter", ["/en-us/shop/clothing"], root=tmp_path / "o", cfg=cfg_for(site))
    assert (s.ok, s.failed, s.problems) == (1, 0, [])


def test_a_sitemap_answered_with_a_well_formed_web_page_is_no_sitemap(tmp_path):
    page = b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'><head><title>Denied</title></head></html>"
    with FakeSite() as site:
        site.routes["/sitemap.xml"] = Route(page, content_type="text/xml")
        s = collect("netaporter", ["/sitemap.xml"], root=tmp_path / "o", cfg=cfg_for(site))
    (problem,) = s.problems
    assert problem["url"] == site.url("/sitemap.xml") and problem["reason"] == "malformed_sitemap"
    assert "not a sitemap: its root element is <html>" in problem["message"]
    assert "rerun later" in problem["message"]


SIGN_IN = "/en-us/account/login?returnUrl=%2Fen-us%2Fshop%2Fproduct%2F1001"


def test_a_product_page_redirected_to_sign_in_is_a_login_wall_not_a_moved_product(tmp_path):
    """The sign-in page has an og:title (as any page of the site): it was read as the product's
    page, then refused ``product_moved`` (final): the product was rejected for good."""
    sign_in = b"<html><head><title>Sign in</title><meta property='og:title' content='Sign in | NET-A-PORTER'></head></html>"
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        page = site.routes["/en-us/shop/product/1001"]
        site.routes["/en-us/shop/product/1001"] = Route(status=302, location=SIGN_IN)
        site.routes[SIGN_IN] = Route(sign_in, content_type="text/html")
        s = collect("netaporter", ["1001"], root=tmp_path / "o", cfg=cfg_for(site))
        assert (s.ok, s.failed, s.rejected) == (0, 1, 0)
        (problem,) = s.problems
        assert problem["url"] == site.url("/en-us/shop/product/1001") and problem["status"] == "failed"
        assert problem["reason"] == "login_required"
        assert f"redirected to the sign-in page {site.url(SIGN_IN)}" in problem["message"]
        assert "netaporter.login_url_pattern" in problem["message"]

        site.routes["/en-us/shop/product/1001"] = page  # the site lets the client in again
        s = collect("netaporter", ["1001"], root=tmp_path / "o", cfg=cfg_for(site))
    assert (s.ok, s.failed, s.rejected) == (1, 0, 0)


def test_a_listing_redirected_to_sign_in_says_so(tmp_path):
    with FakeSite() as site:
        site.routes["/en-us/shop/clothing"] = Route(status=302, location="/en-us/signin")
        site.routes["/en-us/signin"] = Route(
            b"<html><a href='/en-us/shop/product/9'>x</a></html>", content_type="text/html"
        )
        s = collect("netaporter", ["/en-us/shop/clothing"], root=tmp_path / "o", cfg=cfg_for(site))
    (problem,) = s.problems
    assert problem["reason"] == "login_required" and problem["url"] == site.url("/en-us/shop/clothing")
    assert "sign-in page" in problem["message"]


def test_json_ld_naming_another_product_by_a_numeric_sku_is_refused(tmp_path):
    ld = {"@type": "Product", "name": "Other dress", "sku": 2002}
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        site.routes["/en-us/shop/product/1001"] = Route(
            f"<script type='application/ld+json'>{json.dumps(ld)}</script>".encode(), content_type="text/html"
        )
        s = collect("netaporter", ["1001"], root=tmp_path / "o", cfg=cfg_for(site))
        assert site.hits["/images/products/1001/1001_fr_l.jpg"] == 0  # nothing of it fetched
    (problem,) = s.problems
    assert problem["reason"] == "product_moved" and "describes product 2002" in problem["message"]
    with Catalog(tmp_path / "o" / "catalog.sqlite") as cat:
        assert [a for a in cat.assets(source="netaporter", source_id="1001") if a.path] == []
