"""A re-collect of an item ``mf clean`` accepted reuses its intact files: no download, and their
rows stay ``accepted`` (:meth:`collectors.core.CollectContext.known_asset`). Only a source that
says it now serves another file (one conditional HEAD, the validator rules of
:mod:`collectors.refetch`) or a file not intact on the disk is downloaded again.

Cleaning's verdict is written into the catalog as ``mf clean`` writes it; the item is collected
again because one of its files is gone from the disk (the way every cleaned item comes back to
the collector: ``is_done`` finds a file missing, ``--retry-rejected``...)."""

from __future__ import annotations

import pytest

from collectors.config import CollectConfig
from collectors.core import CollectContext
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from collectors.runner import run_collection
from schemas.catalog import Catalog
from schemas.items import Status
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, loopback_http
from tests.collectors.test_refetch_damaged import OneShop

SHOP, FRONT = "urls/a/shop.jpg", "urls/a/front.jpg"


@pytest.fixture(scope="module")
def loopback():
    with FakeSite() as site:
        yield site


@pytest.fixture
def world(loopback, tmp_path):
    """``run()`` collects item ``a`` (a shop image and a front view) from a loopback site:
    (summary, item status, its rows by kind); ``clean()`` writes what ``mf clean`` writes for
    an item it accepted."""
    site = loopback
    site.routes.clear()
    site.requests.clear()
    site.routes["/m/a-front.jpg"] = Route(jpeg_bytes(9), content_type="image/jpeg")
    cfg = CollectConfig(http=loopback_http(max_retries=0))

    def run():
        client = PoliteClient(cfg.http, policy=HostPolicy(any_host=True))
        with Catalog(tmp_path / "c.sqlite") as cat:
            ctx = CollectContext(tmp_path / "root", cat, cfg, client)
            summary = run_collection(OneShop(ctx, site), ["a"], workers=1, show_progress=False)
            item = cat.get_item("urls", "a")
            rows = {str(a.kind): a for a in cat.assets(source="urls", source_id="a")}
        client.close()
        return summary, item.status, rows

    def clean():
        with Catalog(tmp_path / "c.sqlite") as cat:
            rows = cat.assets(source="urls", source_id="a")
            cat.upsert_assets([a.model_copy(update={"status": Status.ACCEPTED}) for a in rows])
            cat.set_item_state("urls", "a", status=Status.ACCEPTED, reason=None)

    yield site, run, clean, tmp_path / "root"


def asked(site: FakeSite, method: str, path: str = "/m/a.jpg") -> int:
    return sum(1 for m, p in site.requests if m == method and p == path)


@pytest.mark.parametrize(
    "headers,conditional",
    [
        ({}, False),  # no validator recorded: nothing says it changed, no request
        ({"ETag": '"v1"'}, True),  # a 304 to If-None-Match
        ({"Last-Modified": "Mon, 02 Jan 2023 10:00:00 GMT"}, False),  # the same date, a 200
    ],
)
def test_an_accepted_intact_file_is_reused_and_stays_accepted(world, headers, conditional):
    site, run, clean, root = world
    site.routes["/m/a.jpg"] = Route(
        jpeg_bytes(1), content_type="image/jpeg", headers=headers, conditional=conditional
    )
    assert run()[0].ok == 1
    clean()
    (root / FRONT).unlink()  # one file gone: the item is collected again
    s, status, rows = run()
    assert s.ok == 1 and status == Status.DOWNLOADED, s.human()
    assert asked(site, "GET") == 1, site.requests  # the shop image is not downloaded again
    assert asked(site, "HEAD") == (1 if headers else 0), site.requests
    assert rows["shop"].status == Status.ACCEPTED  # cleaning's verdict kept
    assert asked(site, "GET", "/m/a-front.jpg") == 2 and rows["front"].status == Status.DOWNLOADED
    assert (root / FRONT).is_file()


def test_a_file_its_source_changed_is_downloaded_again(world):
    site, run, clean, root = world
    site.routes["/m/a.jpg"] = Route(jpeg_bytes(1), content_type="image/jpeg", headers={"ETag": '"v1"'})
    run()
    clean()
    (root / FRONT).unlink()
    new = jpeg_bytes(2)
    site.routes["/m/a.jpg"] = Route(new, content_type="image/jpeg", headers={"ETag": '"v2"'})
    s, _, rows = run()
    assert asked(site, "GET") == 2, site.requests
    assert rows["shop"].status == Status.DOWNLOADED and rows["shop"].size == len(new), s.human()
    assert (root / SHOP).read_bytes() == new


def test_an_accepted_file_not_intact_on_the_disk_is_downloaded_again(world):
    """Its size or its SHA-256 is not the recorded one: fetched again (no HEAD asked)."""
    site, run, clean, root = world
    body = jpeg_bytes(1)
    site.routes["/m/a.jpg"] = Route(body, content_type="image/jpeg", headers={"ETag": '"v1"'})
    run()
    clean()
    for n, damage in enumerate((b"\0" * 10, bytes(len(body))), start=2):  # other size, same size
        (root / SHOP).write_bytes(damage)
        s, _, rows = run()
        assert asked(site, "GET") == n and asked(site, "HEAD") == 0, site.requests
        assert rows["shop"].status == Status.DOWNLOADED and (root / SHOP).read_bytes() == body
        clean()


def test_net_a_porter_asks_one_head_of_a_video_it_collected_before(tmp_path):
    """Net-A-Porter HEADs the detail video before fetching it (``check_video_with_head``); that
    answer also says whether the source still serves the video collected before: one HEAD, not
    a second conditional one. Both ways a cleaned item comes back: a file gone from the disk
    (the video, accepted, is kept) and ``--retry-rejected`` of a damaged video the source still
    serves (kept rejected)."""
    from collectors.api import collect
    from collectors.config import load_collect_config
    from collectors.refetch import STILL_DAMAGED
    from tests.collectors.fakesite import mp4_bytes
    from tests.collectors.test_netaporter import product_html, urlset_of

    pid, video = "1001", "/videos/productPage/1001_detail.mp4"
    with FakeSite() as site:
        page = f"/en-us/shop/product/halden/clothing/x/slug-{pid}/{pid}"
        site.routes["/robots.txt"] = Route(b"User-agent: *\n", content_type="text/plain")
        site.routes[page] = Route(
            product_html(pid, "Dress", "Halden", "red", ["Clothing"]).encode(), content_type="text/html"
        )
        site.routes["/sitemap.xml"] = Route(urlset_of([site.url(page)]), content_type="application/xml")
        etag = {"ETag": '"v1"'}
        site.routes[video] = Route(
            mp4_bytes(tmp_path), content_type="video/mp4", headers=etag, conditional=True
        )
        for view in ("fr", "in", "bk", "cu"):
            path = f"/images/products/{pid}/{pid}_{view}_l.jpg"
            site.routes[path] = Route(
                jpeg_bytes(ord(view[0])), content_type="image/jpeg", headers=etag, conditional=True
            )
        cfg = load_collect_config(base_url=site.base).model_copy(
            update={"http": loopback_http(max_retries=0)}
        )
        cat_path, root = tmp_path / "c.sqlite", tmp_path / "o"

        def run(**kw):
            n = len(site.requests)
            s = collect("netaporter", [site.url("/sitemap.xml")], root=root, catalog=cat_path, cfg=cfg, **kw)
            return s, [(m, p) for m, p in site.requests[n:] if p == video]

        assert run()[0].ok == 1
        with Catalog(cat_path) as cat:  # mf clean accepted it
            rows = {str(a.kind): a for a in cat.assets(source="netaporter", source_id=pid)}
            cat.upsert_assets([a.model_copy(update={"status": Status.ACCEPTED}) for a in rows.values()])
            cat.set_item_state("netaporter", pid, status=Status.ACCEPTED, reason=None)
        (root / rows["front"].path).unlink()
        s, asked = run()
        assert s.ok == 1 and asked == [("HEAD", video)], asked
        with Catalog(cat_path) as cat:  # mf clean found the video damaged (as its source serves it)
            v = cat.assets(source="netaporter", source_id=pid, kind="video")[0]
            assert v.status == Status.ACCEPTED
            cat.upsert_assets(
                [v.model_copy(update={"status": Status.REJECTED, "reason": "probe: truncated: 3 of 6"})]
            )
            reason = f"probe: no valid video (truncated: 3 of 6): {v.path}; mf-collect --retry-rejected ..."
            cat.set_item_state("netaporter", pid, status=Status.REJECTED, reason=reason)
        s, asked = run(retry_rejected=True)
        assert s.reasons == {STILL_DAMAGED: 1} and asked == [("HEAD", video)], (asked, s.human())
