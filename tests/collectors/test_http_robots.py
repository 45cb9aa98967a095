"""A robots.txt that cannot be read (5xx, 429, timeout) allows nothing on its origin for the run
(RFC 9309 2.3.1.4): items fail with a reason naming robots.txt and why, and a rerun reads it
again; a robots.txt that is not there (4xx) still allows everything."""

from __future__ import annotations

import gzip

import pytest

from collectors.api import collect
from collectors.config import HttpConfig, load_collect_config
from collectors.core import status_for
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from schemas.catalog import Catalog
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, fast_http, jpeg_bytes
from tests.collectors.test_netaporter import product_html

FAST = fast_http(max_retries=1)
ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def client_for(site: FakeSite, **over) -> PoliteClient:
    return PoliteClient(HttpConfig(**{**FAST, **over}), policy=HostPolicy.of([site.base.split("//")[1]]))


@pytest.mark.parametrize(
    ("route", "over", "reason"),
    [
        (Route(ROBOTS, content_type="text/plain", fail_first=99, fail_status=503), {}, "robots_txt_http_503"),
        (Route(ROBOTS, content_type="text/plain", fail_first=99, fail_status=500), {}, "robots_txt_http_500"),
        (Route(ROBOTS, content_type="text/plain", fail_first=99, fail_status=429), {}, "robots_txt_http_429"),
        (
            Route(ROBOTS, content_type="text/plain", delay_s=1.0),
            {"read_timeout_s": 0.2},
            "robots_txt_timeout",
        ),
    ],
    ids=["503", "500", "429", "timeout"],
)
def test_an_unreachable_robots_txt_allows_nothing_for_the_run(tmp_path, route, over, reason):
    with FakeSite() as site:
        site.routes["/robots.txt"] = route
        site.routes["/public/a.jpg"] = Route(jpeg_bytes(1), content_type="image/jpeg")
        client = client_for(site, **over)
        for _ in range(2):  # decided once for the run: robots.txt is not asked again
            with pytest.raises(FetchError) as ei:
                client.download(site.url("/public/a.jpg"), tmp_path / "it", "shop", "image")
            err = ei.value
            assert (
                err.reason == reason
                and "robots.txt" in str(err)
                and reason.removeprefix("robots_txt_") in str(err)
            )
            assert status_for(err.reason) == "failed"  # not final: a rerun tries the item again
        assert site.hits["/public/a.jpg"] == 0 and site.hits["/robots.txt"] == 1 + FAST["max_retries"]
        # the rerun reads robots.txt again; now that it answers, its rules apply
        site.routes["/robots.txt"] = Route(ROBOTS, content_type="text/plain")
        rerun = client_for(site)
        assert rerun.download(site.url("/public/a.jpg"), tmp_path / "it", "shop", "image").path.exists()
        with pytest.raises(FetchError) as ei:
            rerun.download(site.url("/private/b.jpg"), tmp_path / "it", "shop", "image")
        assert ei.value.reason == "robots_disallowed"


@pytest.mark.parametrize("status", [404, 410, 400])
def test_a_missing_robots_txt_allows_everything(tmp_path, status):
    with FakeSite() as site:
        site.routes["/robots.txt"] = Route(b"gone", status=status)
        site.routes["/private/a.jpg"] = Route(jpeg_bytes(1), content_type="image/jpeg")
        assert client_for(site).download(site.url("/private/a.jpg"), tmp_path, "shop", "image").path.exists()


def test_a_busy_robots_txt_fails_the_items_of_its_site_and_the_rerun_collects_them(tmp_path):
    with FakeSite() as site:
        site.routes["/robots.txt"] = Route(b"", content_type="text/plain", fail_first=99, fail_status=503)
        site.routes["/en-us/shop/product/1001"] = Route(
            product_html("1001", "Silk dress", "Halden", "red", ["Clothing"]).encode(),
            content_type="text/html",
        )
        site.routes["/images/products/1001/1001_fr_l.jpg"] = Route(jpeg_bytes(3), content_type="image/jpeg")
        cfg = load_collect_config(base_url=site.base).model_copy(update={"http": HttpConfig(**FAST)})
        root = tmp_path / "data"
        s = collect("netaporter", ["1001"], root=root, cfg=cfg, workers=1)
        assert (s.ok, s.failed) == (0, 1) and s.reasons == {"robots_txt_http_503": 1}, s.human()
        assert set(site.hits) == {"/robots.txt"}  # nothing else was asked of the site
        site.routes["/robots.txt"] = Route(b"User-agent: *\nAllow: /\n", content_type="text/plain")
        s = collect("netaporter", ["1001"], root=root, cfg=cfg, workers=1)
        assert s.ok == 1, s.human()
    with Catalog(root / "catalog.sqlite") as cat:
        assert cat.get_item("netaporter", "1001").status == "downloaded"


def test_a_small_gzip_encoded_robots_txt_is_read_not_taken_for_a_cut_off_one(tmp_path):
    """A server gzipping text/plain answers a 24-byte robots.txt with 44 bytes (Content-Length
    counts those): it is read and its rules apply, instead of blocking the whole site."""
    robots = b"User-agent: *\nDisallow:\n"
    with FakeSite() as site:
        site.routes["/robots.txt"] = Route(
            gzip.compress(robots), content_type="text/plain", headers={"Content-Encoding": "gzip"}
        )
        site.routes["/public/a.jpg"] = Route(jpeg_bytes(1), content_type="image/jpeg")
        client = client_for(site)
        assert client.robots_allows(site.url("/public/a.jpg"))
        assert client.download(site.url("/public/a.jpg"), tmp_path / "it", "shop", "image").path.exists()
        assert site.hits["/robots.txt"] == 1


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_robots_txt_allows_nothing_and_says_the_site_may_block_this_client(tmp_path, status):
    """A robots.txt answering 401/403 is read as disallowing everything, and said as that (it was
    "robots.txt disallows this URL, use --ignore-robots", which points a blocked user the wrong
    way); not final: a rerun reads robots.txt again."""
    with FakeSite() as site:
        site.routes["/robots.txt"] = Route(b"no", status=status)
        site.routes["/public/a.jpg"] = Route(jpeg_bytes(1), content_type="image/jpeg")
        with pytest.raises(FetchError) as ei:
            client_for(site).download(site.url("/public/a.jpg"), tmp_path / "it", "shop", "image")
    err = ei.value
    assert err.reason == f"robots_txt_http_{status}" and status_for(err.reason) == "failed"
    assert f"answered {status}" in str(err) and "blocking" in str(err) and "--ignore-robots" not in str(err)
    assert site.hits["/public/a.jpg"] == 0
