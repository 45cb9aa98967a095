"""Net-A-Porter source against a small scripted loopback shop (pagination, sitemaps, faults)."""

from __future__ import annotations

import hashlib
import json

import pytest

from collectors.api import collect
from collectors.config import CollectConfig, load_collect_config
from collectors.pages import breadcrumb_names, parse_product
from schemas.catalog import Catalog
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, loopback_http, mp4_bytes

FAST_HTTP = loopback_http(max_retries=2)


def product_html(
    pid: str, name: str, designer: str, colour: str, crumbs: list[str], broken: bool = False
) -> str:
    product = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": name,
        "brand": {"@type": "Brand", "name": designer},
        "description": f"{name} by {designer}",
        "color": colour,
        "sku": pid,
    }
    bc = {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": i + 1, "name": n} for i, n in enumerate(["Home", *crumbs])
        ],
    }
    ld = json.dumps(product)
    if broken:
        ld = ld[:-5]
    return (
        f"<html><head><title>{name}</title><meta property='og:title' content='{name}'>"
        f"<script type='application/ld+json'>{ld}</script>"
        f"<script type='application/ld+json'>{json.dumps(bc)}</script></head><body>{name}</body></html>"
    )


def urlset_of(locs: list[str]) -> bytes:
    """A sitemap ``urlset`` listing ``locs``."""
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    body = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return f"<?xml version='1.0'?><urlset xmlns='{ns}'>{body}</urlset>".encode()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A NAP-like site: 5 products over 2 listing pages, one without video, one broken page."""
    tmp = tmp_path_factory.mktemp("nap")
    products = {
        "1001": dict(
            name="Silk midi dress",
            designer="Halden",
            colour="red",
            crumbs=["Clothing", "Dresses"],
            video=True,
        ),
        "1002": dict(
            name="Wool blazer",
            designer="Juno Park",
            colour="navy",
            crumbs=["Clothing", "Jackets"],
            video=False,
        ),
        "1003": dict(
            name="Linen shirt", designer="Vera Mondo", colour="white", crumbs=["Clothing", "Tops"], video=True
        ),
        "1004": dict(
            name="Denim shorts", designer="Halden", colour="blue", crumbs=["Clothing", "Shorts"], video=True
        ),
        "1005": dict(
            name="Broken page", designer="X", colour="grey", crumbs=["Clothing"], video=True, broken=True
        ),
    }
    with FakeSite() as site:
        site.routes["/robots.txt"] = Route(
            b"User-agent: *\nDisallow: /checkout/\n", content_type="text/plain"
        )
        files = {}
        for pid, p in products.items():
            path = (
                f"/en-us/shop/product/{p['designer'].lower().replace(' ', '-')}/clothing/x/slug-{pid}/{pid}"
            )
            p["path"] = path
            site.routes[path] = Route(
                product_html(
                    pid, p["name"], p["designer"], p["colour"], p["crumbs"], p.get("broken", False)
                ).encode(),
                content_type="text/html",
            )
            if p["video"]:
                body = mp4_bytes(tmp, int(pid))
                site.routes[f"/videos/productPage/{pid}_detail.mp4"] = Route(body, content_type="video/mp4")
                files[(pid, "video")] = body
            for view, kind in (("fr", "shop"), ("in", "front"), ("bk", "rear"), ("cu", "fabric")):
                if kind == "fabric" and pid == "1003":
                    continue  # an optional view that does not exist
                body = jpeg_bytes(int(pid) * 10 + len(view) + ord(view[0]))
                site.routes[f"/images/products/{pid}/{pid}_{view}_l.jpg"] = Route(
                    body, content_type="image/jpeg"
                )
                files[(pid, kind)] = body
        unsafe = "/en-us/shop/product/a/b/c/d/..%2F..%2Fetc%2Fpasswd"
        nul = "/en-us/shop/product/a/b/c/d/12%0034"
        links = [products[p]["path"] for p in ("1001", "1002", "1003")]
        site.routes["/en-us/shop/clothing"] = Route(
            ("<html>" + "".join(f"<a href='{u}'>p</a>" for u in links) + "</html>").encode(),
            content_type="text/html",
        )
        site.routes["/en-us/shop/clothing?pageNumber=2"] = Route(
            (
                "<html>"
                + "".join(
                    f"<a href='{u}'>p</a>"
                    for u in [products["1004"]["path"], products["1005"]["path"], unsafe, nul]
                )
                + "</html>"
            ).encode(),
            content_type="text/html",
        )
        site.routes["/sitemap.xml"] = Route(
            urlset_of([f"{site.base}{products[p]['path']}" for p in ("1001", "1004")]),
            content_type="application/xml",
        )
        yield site, products, files


def cfg_for(site: FakeSite) -> CollectConfig:
    cfg = load_collect_config(base_url=site.base)
    return cfg.model_copy(update={"http": FAST_HTTP})


def test_parse_product_page():
    meta = parse_product(
        product_html("7", "Silk dress", "Halden", "red", ["Clothing", "Dresses", "Midi"]), where="x"
    )
    assert (meta.title, meta.designer, meta.colour, meta.sku) == ("Silk dress", "Halden", "red", "7")
    assert meta.category_path == ["Clothing", "Dresses", "Midi"]
    with pytest.raises(FetchError) as ei:
        parse_product(product_html("7", "S", "H", "r", [], broken=True), where="x")
    assert ei.value.reason == "malformed_jsonld"
    assert breadcrumb_names(
        {"itemListElement": [{"position": 2, "name": "B"}, {"position": 1, "name": "A"}]}
    ) == ["A", "B"]


def test_base_url_points_every_pattern_at_one_host():
    cfg = load_collect_config(base_url="http://127.0.0.1:9999/")
    nap = cfg.netaporter
    assert nap.site == "http://127.0.0.1:9999"
    assert nap.video_url == "http://127.0.0.1:9999/videos/productPage/{id}_detail.mp4"
    assert nap.image_url.startswith("http://127.0.0.1:9999/images/products/{id}/")
    assert nap.hosts() == {"127.0.0.1:9999"}
    assert CollectConfig().netaporter.hosts() == {
        "www.net-a-porter.com",
        "video.net-a-porter.com",
        "cache.net-a-porter.com",
    }


def test_collect_listing_with_pagination_then_rerun_skips(shop, tmp_path):
    site, products, files = shop
    out, cat_path = tmp_path / "out", tmp_path / "cat.sqlite"
    s = collect("netaporter", [], root=out, catalog=cat_path, cfg=cfg_for(site), workers=3)
    assert (s.ok, s.rejected, s.failed) == (4, 3, 0), s.human()
    assert s.reasons == {"malformed_jsonld": 1, "unsafe_id": 2}
    # each refused id is named with the page it came from (the line named only its stand-in)
    unsafe_lines = [p for p in s.problems if p["reason"] == "unsafe_id"]
    assert len(unsafe_lines) == 2 and all(
        p["url"] and "/en-us/shop/product/" in p["url"] for p in unsafe_lines
    )
    assert any("etc" in p["message"] and "no plain file name" in p["message"] for p in unsafe_lines)
    with Catalog(cat_path) as cat:
        for pid in ("1001", "1002", "1003", "1004"):
            row = cat.get_item("netaporter", pid)
            p = products[pid]
            assert row.status == "downloaded"
            assert (row.item.title, row.item.designer, row.item.colour) == (
                p["name"],
                p["designer"],
                p["colour"],
            )
            assert row.item.category_path == p["crumbs"] and row.item.has_video is p["video"]
            for a in cat.assets(source="netaporter", source_id=pid, status="downloaded"):
                body = files[(pid, str(a.kind))]
                assert (
                    a.sha256
                    == hashlib.sha256(body).hexdigest()
                    == hashlib.sha256((out / a.path).read_bytes()).hexdigest()
                )
                assert a.path == f"netaporter/{pid}/{a.kind}.{'mp4' if a.kind == 'video' else 'jpg'}"
        kinds = {a.kind: a for a in cat.assets(source="netaporter", source_id="1002")}
        assert kinds["video"].status == "rejected" and kinds["video"].reason == "no_video"
        assert cat.get_item("netaporter", "1005").reason == "malformed_jsonld"
        unsafe = [r for r in cat.items(source="netaporter") if r.item.source_id.startswith("unsafe-")]
        assert len(unsafe) == 2 and all(r.reason == "unsafe_id" and r.status == "rejected" for r in unsafe)
        n_assets = len(cat.assets())
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert not [p for p in on_disk if p.endswith(".part")]
    assert not any("passwd" in p or "unsafe" in p for p in on_disk)
    # rerun: no product page, video or image requested again
    before = dict(site.hits)
    s2 = collect("netaporter", [], root=out, catalog=cat_path, cfg=cfg_for(site), workers=3)
    assert s2.ok == 0 and s2.skipped == 7 and s2.files == 0
    fetched = {p: n - before.get(p, 0) for p, n in site.hits.items() if n != before.get(p, 0)}
    assert all("shop/clothing" in p or p == "/robots.txt" for p in fetched), fetched
    with Catalog(cat_path) as cat:
        assert len(cat.assets()) == n_assets and cat.count_items() == 7


def test_sitemap_ids_file_and_limit(shop, tmp_path):
    site, products, _ = shop
    ids = tmp_path / "ids.txt"
    ids.write_text(f"# ids\n{site.base}{products['1003']['path']}\n")
    s = collect(
        "netaporter",
        [f"{site.base}/sitemap.xml", f"@{ids}"],
        root=tmp_path / "o",
        catalog=tmp_path / "c.sqlite",
        cfg=cfg_for(site),
        workers=2,
        dry_run=True,
    )
    assert [i["source_id"] for i in s.items] == ["1001", "1004", "1003"]
    assert s.files == 0 and not (tmp_path / "o" / "netaporter").exists()
    s = collect(
        "netaporter",
        [f"{site.base}/sitemap.xml"],
        root=tmp_path / "o",
        catalog=tmp_path / "c.sqlite",
        cfg=cfg_for(site),
        workers=2,
        limit=1,
    )
    assert s.ok == 1 and (tmp_path / "o/netaporter/1001/video.mp4").exists()


def test_an_id_file_given_by_its_absolute_path_is_read_not_requested_from_the_site(shop, tmp_path):
    site, products, _ = shop
    ids = tmp_path / "ids.txt"
    ids.write_text("1001\n# a comment\n1004\n")
    assert ids.is_absolute()
    site.hits.clear()
    s = collect(
        "netaporter",
        [str(ids)],
        root=tmp_path / "o",
        catalog=tmp_path / "c.sqlite",
        cfg=cfg_for(site),
        dry_run=True,
    )
    assert [i["source_id"] for i in s.items] == ["1001", "1004"] and not s.problems
    assert not [p for p in site.hits if str(tmp_path) in p]  # the local path never went to the site


def test_missing_files_are_fetched_again(shop, tmp_path):
    site, products, files = shop
    out, cat = tmp_path / "o", tmp_path / "c.sqlite"
    target = [f"{site.base}{products['1001']['path']}"]
    assert collect("netaporter", target, root=out, catalog=cat, cfg=cfg_for(site)).ok == 1
    (out / "netaporter/1001/shop.jpg").unlink()
    (out / "netaporter/1001/video.mp4").write_bytes(b"tampered")
    before = site.hits["/videos/productPage/1001_detail.mp4"]
    s = collect("netaporter", target, root=out, catalog=cat, cfg=cfg_for(site))
    assert s.ok == 1
    assert site.hits["/videos/productPage/1001_detail.mp4"] > before
    assert (out / "netaporter/1001/video.mp4").read_bytes() == files[("1001", "video")]
    assert (out / "netaporter/1001/shop.jpg").read_bytes() == files[("1001", "shop")]


def test_id_targets_are_decoded_and_unsafe_ones_refused(shop, tmp_path):
    site, products, _ = shop
    ids = tmp_path / "ids.txt"
    ids.write_text("..%2F..%2Fetc%2Fpasswd\nabc%00def\n")
    s = collect(
        "netaporter", [f"@{ids}"], root=tmp_path / "o", catalog=tmp_path / "c.sqlite", cfg=cfg_for(site)
    )
    assert s.rejected == 2 and s.reasons == {"unsafe_id": 2}
    assert not (tmp_path / "o" / "netaporter").exists() or not any((tmp_path / "o" / "netaporter").iterdir())


def test_base_url_reads_the_real_sites_urls_on_the_base(shop, tmp_path):
    """A sitemap index on the real host, whose child sitemap and pages are on the real host too:
    with --base-url every one of them is read on the base URL (nothing leaves loopback)."""
    site, products, _ = shop
    real = "https://www.net-a-porter.com"
    ns = "xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"
    site.routes["/sitemap-index.xml"] = Route(
        f"<sitemapindex {ns}><sitemap><loc>{real}/sitemap-products.xml</loc></sitemap></sitemapindex>".encode(),
        content_type="application/xml",
    )
    site.routes["/sitemap-products.xml"] = Route(
        f"<urlset {ns}><url><loc>{real}{products['1003']['path']}</loc></url></urlset>".encode(),
        content_type="application/xml",
    )
    s = collect(
        "netaporter",
        [f"{real}/sitemap-index.xml"],
        root=tmp_path / "o",
        catalog=tmp_path / "c.sqlite",
        cfg=cfg_for(site),
        dry_run=True,
    )
    assert s.items == [{"source_id": "1003", "url": site.base + products["1003"]["path"]}]
    assert site.hits["/sitemap-index.xml"] == 1 and site.hits["/sitemap-products.xml"] == 1
    cfg = load_collect_config(base_url=site.base).netaporter
    assert cfg.on_site("https://video.net-a-porter.com/v/1.mp4") == site.base + "/v/1.mp4"
    assert cfg.on_site("https://elsewhere.example/x") == "https://elsewhere.example/x"
    assert CollectConfig().netaporter.on_site(f"{real}/x") == f"{real}/x"  # no --base-url: unchanged


# -- a site of its own per test: HEAD refused, pages discovery cannot read ----------------


def add_product(site: FakeSite, tmp, pid: str, *, video: bool = True) -> None:
    site.routes[f"/en-us/shop/product/{pid}"] = Route(
        product_html(pid, f"Dress {pid}", "Halden", "red", ["Clothing"]).encode(), content_type="text/html"
    )
    if video:
        site.routes[f"/videos/productPage/{pid}_detail.mp4"] = Route(
            mp4_bytes(tmp, int(pid) % 100), content_type="video/mp4"
        )
    for view in ("fr", "in", "bk", "cu"):
        site.routes[f"/images/products/{pid}/{pid}_{view}_l.jpg"] = Route(
            jpeg_bytes(int(pid) + ord(view[0])), content_type="image/jpeg"
        )


def refuse_head(site: FakeSite, status: int) -> None:
    def do_head(handler) -> None:
        handler.send_response(status)
        handler.send_header("Allow", "GET")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    site.server.RequestHandlerClass.do_HEAD = do_head


@pytest.mark.parametrize("status", [405, 501])
def test_a_server_refusing_head_still_gets_the_video_fetched(tmp_path, status):
    """HEAD answered 405/501 says nothing about the video: the GET decides (a 404 there is
    still ``no_video``)."""
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        add_product(site, tmp_path, "1002", video=False)
        refuse_head(site, status)
        s = collect("netaporter", ["1001", "1002"], root=tmp_path / "o", cfg=cfg_for(site), workers=1)
        assert (s.ok, s.failed, s.rejected) == (2, 0, 0), s.human()
        assert site.hits["/videos/productPage/1001_detail.mp4"] == 1  # the GET (HEADs are not counted)
    with Catalog(tmp_path / "o/catalog.sqlite") as cat:
        (video,) = cat.assets(source="netaporter", source_id="1001", kind="video")
        assert video.status == "downloaded" and (tmp_path / "o" / video.path).is_file()
        (none,) = cat.assets(source="netaporter", source_id="1002", kind="video")
        assert (none.status, none.reason) == ("rejected", "no_video")
        assert cat.get_item("netaporter", "1002").item.has_video is False


def urlset(pids: list[str]) -> bytes:
    return urlset_of([f"https://www.net-a-porter.com/en-us/shop/product/{p}" for p in pids])


def test_a_child_sitemap_that_cannot_be_read_is_a_problem_and_the_others_are_read(tmp_path):
    """A sitemap index with a stale (404) and a busy (503) child between good ones: every product
    of the good children is collected, each bad child is listed failed with its URL."""
    with FakeSite() as site:
        for pid in ("1001", "1002", "1003", "1004"):
            add_product(site, tmp_path, pid)
        site.routes["/sitemap-a.xml"] = Route(urlset(["1001", "1002"]), content_type="application/xml")
        site.routes["/sitemap-c.xml"] = Route(b"busy", fail_first=99, fail_status=503)
        site.routes["/sitemap-d.xml"] = Route(urlset(["1003", "1004"]), content_type="application/xml")
        ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
        children = "".join(
            f"<sitemap><loc>https://www.net-a-porter.com/sitemap-{c}.xml</loc></sitemap>" for c in "abcd"
        )
        site.routes["/sitemap.xml"] = Route(
            f"<?xml version='1.0'?><sitemapindex xmlns='{ns}'>{children}</sitemapindex>".encode(),
            content_type="application/xml",
        )
        target = ["https://www.net-a-porter.com/sitemap.xml"]
        dry = collect("netaporter", target, root=tmp_path / "o", cfg=cfg_for(site), dry_run=True)
        assert [i["source_id"] for i in dry.items] == ["1001", "1002", "1003", "1004"]
        s = collect("netaporter", target, root=tmp_path / "o", cfg=cfg_for(site), workers=2)
    assert (s.ok, s.failed) == (4, 2), s.human()
    for summary in (dry, s):
        bad = {p["url"]: p["reason"] for p in summary.problems if p.get("stage") == "discovery"}
        assert bad == {
            site.url("/sitemap-b.xml"): "http_404",
            site.url("/sitemap-c.xml"): "http_503_exhausted",
        }
    assert site.url("/sitemap-b.xml") in s.human()


def test_a_listing_page_that_cannot_be_read_keeps_what_the_pages_before_found(tmp_path):
    with FakeSite() as site:
        for pid in ("1001", "1002", "1003"):
            add_product(site, tmp_path, pid)
        site.routes["/en-us/shop/clothing"] = Route(
            b"<html><a href='/en-us/shop/product/1001'>a</a><a href='/en-us/shop/product/1002'>b</a>"
            b"<a rel='next' href='/en-us/shop/clothing?pageNumber=2'>next</a></html>",
            content_type="text/html",
        )
        site.routes["/en-us/shop/clothing?pageNumber=2"] = Route(b"busy", fail_first=99, fail_status=503)
        s = collect("netaporter", ["/en-us/shop/clothing", "1003"], root=tmp_path / "o", cfg=cfg_for(site))
    assert (s.ok, s.failed) == (3, 1), s.human()
    (problem,) = s.problems
    assert problem["url"] == site.url("/en-us/shop/clothing?pageNumber=2") and problem["stage"] == "discovery"
    assert problem["status"] == "failed" and problem["reason"] == "http_503_exhausted"


def test_a_bot_check_page_answered_200_fails_and_a_rerun_records_the_product(tmp_path):
    """An interstitial ("Just a moment...") has a <title> but no product: it was recorded as the
    product (title "Just a moment...", no category) and a rerun skipped it for good."""
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        real = site.routes["/en-us/shop/product/1001"].body
        site.routes["/en-us/shop/product/1001"].body = (
            b"<html><head><title>Just a moment...</title><meta name='description' "
            b"content='Checking your browser'></head><body>captcha</body></html>"
        )
        cat = tmp_path / "o" / "catalog.sqlite"
        s = collect("netaporter", ["1001"], root=tmp_path / "o", catalog=cat, cfg=cfg_for(site))
        assert (s.ok, s.failed) == (0, 1), s.human()
        (problem,) = s.problems
        assert problem["reason"] == "no_product_data" and "Just a moment" in problem["message"]
        site.routes["/en-us/shop/product/1001"].body = real  # the site lets us through again
        s = collect("netaporter", ["1001"], root=tmp_path / "o", catalog=cat, cfg=cfg_for(site))
        assert s.ok == 1, s.human()
    with Catalog(cat) as c:
        item = c.get_item("netaporter", "1001")
    assert item.item.title == "Dress 1001" and item.item.category_path == ["Clothing"]


def test_a_listing_whose_next_link_changes_forever_ends_once_pages_add_nothing(tmp_path):
    class Listing(dict):
        """/en-us/shop/clothing?cursor=N: the same two products, a next link to cursor N+1."""

        def get(self, path, default=None):
            if path.startswith("/en-us/shop/clothing"):
                n = int(path.partition("cursor=")[2] or 0)
                return Route(
                    b"<html><a href='/en-us/shop/product/1001'>a</a><a href='/en-us/shop/product/1002'>b</a>"
                    + f"<link rel='next' href='/en-us/shop/clothing?cursor={n + 1}'></html>".encode(),
                    content_type="text/html",
                )
            return dict.get(self, path, default)

    with FakeSite() as site:
        site.routes = Listing()
        for pid in ("1001", "1002"):
            add_product(site, tmp_path, pid)
        s = collect("netaporter", ["/en-us/shop/clothing"], root=tmp_path / "o", cfg=cfg_for(site))
        pages = sum(v for k, v in site.hits.items() if k.startswith("/en-us/shop/clothing"))
    assert s.ok == 2, s.human()
    assert pages == 3  # the first page, then two that added nothing (max_empty_pages: 2)


def test_a_sitemap_link_on_a_foreign_host_reads_the_product_from_the_site(tmp_path, caplog):
    """A sitemap linking a product on a host the config does not name (a stale mirror): the
    product is read from the site's own page for its id. It was fetched there, refused
    (host_not_allowed, final) and its id rejected for good: a later run naming the id skipped it."""
    pid = "2001"
    with FakeSite() as site:
        site.routes[f"/en-us/shop/product/{pid}"] = Route(
            product_html(pid, "Silk midi dress", "Halden", "red", ["Clothing", "Dresses"]).encode(),
            content_type="text/html",
        )
        site.routes[f"/videos/productPage/{pid}_detail.mp4"] = Route(
            mp4_bytes(tmp_path, 3), content_type="video/mp4"
        )
        for view in ("fr", "in", "bk", "cu"):
            site.routes[f"/images/products/{pid}/{pid}_{view}_l.jpg"] = Route(
                jpeg_bytes(ord(view[0])), content_type="image/jpeg"
            )
        foreign = f"http://mirror.example/en-us/shop/product/halden/dresses/slug-{pid}/{pid}"
        site.routes["/sitemap.xml"] = Route(urlset_of([foreign]), content_type="application/xml")
        with caplog.at_level("WARNING", logger="collectors.netaporter"):
            s = collect(
                "netaporter",
                [f"{site.base}/sitemap.xml"],
                root=tmp_path / "o",
                catalog=tmp_path / "c.sqlite",
                cfg=cfg_for(site),
                workers=1,
            )
    assert s.ok == 1 and site.hits[f"/en-us/shop/product/{pid}"] == 1, s.human()
    assert f"{foreign}: not on" in caplog.text
    with Catalog(tmp_path / "c.sqlite") as cat:
        assert cat.get_item("netaporter", pid).status == "downloaded"


def test_a_video_head_that_fails_says_why_in_the_problem_line(tmp_path):
    """The video's HEAD failing (a 503 past the retries) left the item's problem line without a
    message (``null`` in --json); it now carries the error's text, naming the video URL."""
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")

        def do_head(handler) -> None:
            handler.send_response(503)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        site.server.RequestHandlerClass.do_HEAD = do_head
        s = collect("netaporter", ["1001"], root=tmp_path / "o", cfg=cfg_for(site), workers=1)
    (problem,) = s.problems
    assert problem["reason"] == "http_503_exhausted", problem
    assert problem["message"] and "503" in problem["message"]
    assert problem["url"] == site.url("/videos/productPage/1001_detail.mp4")
