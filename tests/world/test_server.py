"""The loopback sites serve every asset of the world, in the real shapes, with correct types."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from html.parser import HTMLParser

from movingfashion.world.server import WorldServer
from movingfashion.world.sites import NAP_VIEWS
from schemas.atomic import sha256_file
from schemas.items import SourceName


def get(url: str, method: str = "GET", headers: dict | None = None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.jsonld: list[str] = []
        self.meta: dict[str, str] = {}
        self.links: list[tuple[dict, str]] = []
        self.crumbs: list[str] = []
        self._in_ld = self._in_nav = self._in_a = False
        self._attrs: dict = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("type") == "application/ld+json":
            self._in_ld = True
            self.jsonld.append("")
        elif tag == "meta" and "property" in a:
            self.meta[a["property"]] = a.get("content", "")
        elif tag == "nav" and a.get("aria-label") == "breadcrumb":
            self._in_nav = True
        elif tag == "a":
            self._in_a, self._attrs = True, a

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_ld = False
        elif tag == "nav":
            self._in_nav = False
        elif tag == "a":
            self._in_a = False

    def handle_data(self, data):
        if self._in_ld:
            self.jsonld[-1] += data
        if self._in_a:
            self.links.append((self._attrs, data))
            if self._in_nav:
                self.crumbs.append(data)


def parse(body: bytes) -> _Page:
    p = _Page()
    p.feed(body.decode())
    return p


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_netaporter_pages_and_media(world_server, small_world, world_truth):
    site = world_server.site
    for p in world_truth.products:
        if p.source != SourceName.NETAPORTER:
            continue
        status, headers, body = get(site.nap_url(p))
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        page = parse(body)
        product, crumbs = (json.loads(x) for x in page.jsonld)
        assert product["@type"] == "Product" and product["name"] == p.title and product["sku"] == p.product_id
        assert product["brand"]["name"] == p.designer and product["description"] == p.description
        assert [e["name"] for e in crumbs["itemListElement"]] == p.category_path == page.crumbs
        assert page.meta["og:title"].endswith(p.title) and page.meta["og:type"] == "product"
        # video: HEAD tells whether there is one
        status, headers, body = get(site.nap_video_url(p.product_id), "HEAD")
        if p.videos:
            v = world_truth.video(p.videos[0])
            assert status == 200 and headers["Content-Type"] == "video/mp4" and body == b""
            assert int(headers["Content-Length"]) == (small_world / v.path).stat().st_size
            status, headers, body = get(site.nap_video_url(p.product_id))
            assert sha(body) == v.sha256
        else:
            assert status == 404
        for code, view in NAP_VIEWS.items():
            status, headers, body = get(site.nap_image_url(p.product_id, code, "m"))
            if view in p.images:
                assert status == 200 and headers["Content-Type"] == "image/jpeg"
                assert sha(body) == sha256_file(small_world / p.images[view])
            else:
                assert status == 404
        if "shop" in p.images:
            assert sha(get(site.nap_variant_url(p.product_id, "fr", 920))[2]) == sha256_file(
                small_world / p.images["shop"]
            )
    assert get(world_server.base_url + "/videos/productPage/999_detail.mp4", "HEAD")[0] == 404
    assert get(world_server.base_url + "/nothing/here")[0] == 404


def test_listing_sitemap_and_designer_pages_find_every_product(world_server, world_truth):
    nap = {p.product_id for p in world_truth.products if p.source == SourceName.NETAPORTER}
    clothing = {
        p.product_id
        for p in world_truth.products
        if p.source == SourceName.NETAPORTER and p.category_path[0] == "Clothing"
    }
    found, url, pages = set(), world_server.base_url + "/en-us/shop/clothing?pageNumber=1", 0
    while url:
        status, _, body = get(url)
        assert status == 200
        pages += 1
        page = parse(body)
        found |= {a["href"].rsplit("/", 1)[1] for a, _ in page.links if "/shop/product/" in a.get("href", "")}
        nxt = [a["href"] for a, _ in page.links if a.get("rel") == "next"]
        url = world_server.base_url + nxt[0] if nxt else None
    assert found == clothing and pages >= 2
    status, headers, body = get(world_server.base_url + "/sitemap.xml")
    assert status == 200 and headers["Content-Type"] == "application/xml"
    assert {u.rsplit("/", 1)[1] for u in re.findall(r"<loc>([^<]+)</loc>", body.decode())} == nap
    p = next(p for p in world_truth.products if p.source == SourceName.NETAPORTER)
    designer_path = world_server.site.nap_path(p).split("/")[4]
    status, _, body = get(f"{world_server.base_url}/en-us/shop/designer/{designer_path}")
    assert status == 200 and p.product_id.encode() in body
    assert get(world_server.base_url + "/en-us/shop/clothing?pageNumber=99")[0] == 404
    # old-style product URL redirects to the canonical page
    req = urllib.request.Request(f"{world_server.base_url}/product/{p.product_id}")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.url == world_server.site.nap_url(p)


def test_every_breadcrumb_link_is_a_listing_of_its_category(small_world, world_truth):
    """The HTML and JSON-LD breadcrumbs link /en-us/shop/<category>/<sub>[/<subsub>]; before, only
    the top level was a listing and the deeper links answered 404. Each lists exactly the products
    under that category path, paginated as the top level is."""
    with WorldServer(small_world, page_size=2) as srv:
        nap = [p for p in world_truth.products if p.source == SourceName.NETAPORTER]
        seen = set()
        for p in nap:
            page = parse(get(srv.site.nap_url(p))[2])
            html_links = [a["href"] for a, _ in page.links if a.get("href", "").startswith("/en-us/shop/")]
            ld = [e["item"] for e in json.loads(page.jsonld[1])["itemListElement"]]
            assert [srv.base_url + h for h in html_links] == ld and len(ld) == len(p.category_path)
            for depth, href in enumerate(html_links, 1):
                if href in seen:
                    continue
                seen.add(href)
                want = {q.product_id for q in nap if q.category_path[:depth] == p.category_path[:depth]}
                found, url = [], srv.base_url + href
                while url:
                    status, _, body = get(url)
                    assert status == 200, url
                    page = parse(body)
                    found += re.findall(r'data-product-id="([^"]+)"', body.decode())
                    nxt = [a["href"] for a, _ in page.links if a.get("rel") == "next"]
                    url = srv.base_url + nxt[0] if nxt else None
                assert sorted(found) == sorted(want), href  # each product once
        assert any(h.count("/") == 5 for h in seen)  # /en-us/shop/<cat>/<sub>/<subsub>
        assert get(srv.base_url + "/en-us/shop/clothing/no-such-thing")[0] == 404


def test_instagram_declares_the_size_of_every_served_image(world_server, world_truth):
    """Before, every carousel image was declared 256x320 (the fabric close-up is 256x256)."""
    import io

    from PIL import Image

    from movingfashion.world.fixtures import instaloader_structure
    from movingfashion.world.instagram_api import api_item

    sizes = set()
    for p in world_truth.products:
        if p.source != SourceName.INSTAGRAM or not p.videos:
            continue
        edges = instaloader_structure(world_server.site, p)["node"]["edge_sidecar_to_children"]["edges"]
        carousel = api_item(world_server.site, p)["carousel_media"]
        for edge, item in zip(edges[1:], carousel[1:], strict=True):
            c = edge["node"]
            served = Image.open(io.BytesIO(get(c["display_url"])[2])).size
            assert (c["dimensions"]["width"], c["dimensions"]["height"]) == served, c["display_url"]
            cand = item["image_versions2"]["candidates"][0]
            assert (cand["width"], cand["height"]) == served
            sizes.add(served)
    assert len(sizes) >= 2  # shop-size product shots and square close-ups


def test_robots_txt(world_server, small_world):
    status, headers, body = get(world_server.base_url + "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert b"User-agent: *" in body and b"Sitemap: " in body
    with WorldServer(small_world, faults=_faults(robots_disallow=["/en-us/shop/product/"])) as srv:
        assert b"Disallow: /en-us/shop/product/" in get(srv.base_url + "/robots.txt")[2]


def test_social_media_and_plain_files(world_server, small_world, world_truth, tmp_path):
    site = world_server.site
    for p in world_truth.products:
        if not p.videos:
            continue
        v = world_truth.video(p.videos[0])
        if p.source == SourceName.TIKTOK:
            status, headers, body = get(site.tiktok_video_url(p.product_id))
            assert status == 200 and headers["Content-Type"] == "video/mp4" and sha(body) == v.sha256
            status, headers, body = get(site.tiktok_shop_url(p.product_id))
            if "shop" in p.images:
                assert headers["Content-Type"] == "image/jpeg"
                assert sha(body) == sha256_file(small_world / p.images["shop"])
            else:
                assert status == 404  # split-screen: the shop image is inside the video
        elif p.source == SourceName.INSTAGRAM:
            assert sha(get(site.instagram_media_url(p.product_id, "video.mp4"))[2]) == v.sha256
            for view, rel in p.images.items():
                if view.startswith("candidate-"):
                    status, headers, body = get(site.instagram_media_url(p.product_id, f"{view}.jpg"))
                    assert headers["Content-Type"] == "image/jpeg" and sha(body) == sha256_file(
                        small_world / rel
                    )
    fx = world_server.write_fixtures(tmp_path / "fx")
    lines = (tmp_path / "fx" / "urls.txt").read_text().split("\n")
    assert len([x for x in lines if x]) == sum(
        1 for p in world_truth.products if p.source != SourceName.NETAPORTER and p.videos
    )
    for line in filter(None, lines):
        urls = line.split()
        body = get(urls[0])[2]
        assert sha(body) in {v.sha256 for v in world_truth.videos}
        if len(urls) > 1:
            assert get(urls[1])[1]["Content-Type"] == "image/jpeg"
    rows = (tmp_path / "fx" / "tiktok_shops.csv").read_text().splitlines()
    assert rows[0] == "video_id,shop_image_url"
    split_ids = {
        p.product_id for p in world_truth.products if p.source == SourceName.TIKTOK and "shop" not in p.images
    }
    assert split_ids and not split_ids & {r.split(",")[0] for r in rows[1:]}
    assert set(fx) >= {"tiktok_info", "tiktok_shops", "instagram", "urls", "netaporter_ids"}


def test_range_requests(world_server, world_truth, small_world):
    v = next(v for v in world_truth.videos if v.source == SourceName.NETAPORTER)
    data = (small_world / v.path).read_bytes()
    url = world_server.site.nap_video_url(v.product_id)
    status, headers, body = get(url, headers={"Range": "bytes=100-199"})
    assert status == 206 and body == data[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(data)}" and headers["Accept-Ranges"] == "bytes"
    assert get(url, headers={"Range": "bytes=-50"})[2] == data[-50:]
    assert get(url, headers={"Range": "bytes=1000-"})[2] == data[1000:]
    assert get(url, headers={"Range": f"bytes={len(data) + 10}-"})[0] == 416


def test_a_range_the_server_does_not_support_is_ignored(world_server, world_truth, small_world):
    """RFC 9110 14.2: a Range of another unit, several ranges or an invalid one is ignored (200 with
    the whole file); only a valid, unsatisfiable byte range is 416 (before: all of them were 416)."""
    v = next(v for v in world_truth.videos if v.source == SourceName.NETAPORTER)
    data = (small_world / v.path).read_bytes()
    url = world_server.site.nap_video_url(v.product_id)
    for rng in ("items=0-9", "bytes=0-9,20-29", "bytes=20-9", "bytes=-", "bytes=abc"):
        status, headers, body = get(url, headers={"Range": rng})
        assert (status, body) == (200, data), rng
        assert "Content-Range" not in headers and headers["Accept-Ranges"] == "bytes"
    status, headers, _ = get(url, headers={"Range": "bytes=-0"})  # a suffix of no bytes
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(data)}"
    assert get(url, headers={"Range": f"bytes=5-{len(data) * 2}"})[2] == data[5:]


def _faults(**kw):
    from movingfashion.world.faults import Faults

    return Faults(**kw)
