"""Each fault switch of the loopback sites does what it says."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from movingfashion.world.faults import EVIL_IDS, Faults, parse_faults
from movingfashion.world.server import WorldServer
from schemas.errors import ConfigError
from schemas.items import SourceName


@pytest.fixture()
def nap_item(world_truth):
    return next(p for p in world_truth.products if p.source == SourceName.NETAPORTER and p.videos)


def raw(url: str, method: str = "GET", headers: dict | None = None):
    """(status, headers, body or None when the body was cut short) without following redirects."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request(method, u.path + (f"?{u.query}" if u.query else ""), headers=headers or {})
    r = conn.getresponse()
    try:
        body = r.read()
    except http.client.IncompleteRead as exc:
        body = None
        r.partial = exc.partial  # type: ignore[attr-defined]
    status, hdrs = r.status, dict(r.getheaders())
    partial = getattr(r, "partial", None)
    conn.close()
    return status, hdrs, body, partial


def test_latency(small_world, nap_item):
    with WorldServer(small_world, faults=Faults(latency_s=0.3)) as srv:
        t0 = time.perf_counter()
        raw(srv.base_url + "/robots.txt")
        assert time.perf_counter() - t0 >= 0.3  # a lower bound: the server sleeps before answering


def test_retry_after_then_5xx_then_ok_per_path(small_world, nap_item):
    with WorldServer(small_world, faults=Faults(retry_after_429=2, burst_5xx=1)) as srv:
        url = srv.site.nap_video_url(nap_item.product_id)
        s1, h1, _, _ = raw(url)
        s2, _, _, _ = raw(url, "HEAD")
        s3, _, _, _ = raw(url)
        s4, h4, _, _ = raw(url)
        assert (s1, s2, s3, s4) == (429, 429, 503, 200)
        assert h1["Retry-After"] == "1" and h4["Content-Type"] == "video/mp4"
        # counted per media path; pages are not affected
        assert raw(srv.site.nap_image_url(nap_item.product_id, "fr"))[0] == 429
        assert raw(srv.site.nap_url(nap_item))[0] == 200


def test_truncated_body(small_world, nap_item, world_truth):
    v = world_truth.video(nap_item.videos[0])
    size = (small_world / v.path).stat().st_size
    with WorldServer(small_world, faults=Faults(truncate=[nap_item.product_id])) as srv:
        status, headers, body, partial = raw(srv.site.nap_video_url(nap_item.product_id))
        assert status == 200 and int(headers["Content-Length"]) == size
        assert body is None and len(partial) == size // 2
        other = next(
            p
            for p in world_truth.products
            if p.source == SourceName.NETAPORTER and p.videos and p.product_id != nap_item.product_id
        )
        assert raw(srv.site.nap_video_url(other.product_id))[2] is not None


def test_wrong_content_type_and_html_as_image(small_world, nap_item):
    pid = nap_item.product_id
    with WorldServer(small_world, faults=Faults(wrong_content_type=[pid])) as srv:
        assert raw(srv.site.nap_video_url(pid))[1]["Content-Type"] == "text/plain"
        assert raw(srv.site.nap_image_url(pid, "fr"))[1]["Content-Type"] == "text/plain"
    with WorldServer(small_world, faults=Faults(html_as_image=[pid])) as srv:
        status, headers, body, _ = raw(srv.site.nap_image_url(pid, "fr"))
        assert (
            status == 200 and headers["Content-Type"] == "image/jpeg" and body.startswith(b"<!DOCTYPE html>")
        )


def test_redirect_foreign(small_world, nap_item):
    with WorldServer(small_world, faults=Faults(redirect_foreign=[nap_item.product_id])) as srv:
        status, headers, _, _ = raw(srv.site.nap_video_url(nap_item.product_id))
        assert status == 302 and headers["Location"].startswith("http://foreign.invalid/videos/productPage/")


def test_oversized_is_streamed(small_world, nap_item):
    n = 3 * 1024 * 1024 + 5
    with WorldServer(small_world, faults=Faults(oversized=[nap_item.product_id], oversized_bytes=n)) as srv:
        status, headers, body, _ = raw(srv.site.nap_video_url(nap_item.product_id))
        assert status == 200 and int(headers["Content-Length"]) == n and len(body) == n
        # a client that stops early does not break the server
        u = urllib.parse.urlsplit(srv.site.nap_video_url(nap_item.product_id))
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        conn.request("GET", u.path)
        conn.getresponse().read(1000)
        conn.close()
        assert raw(srv.base_url + "/robots.txt")[0] == 200


def test_malformed_jsonld(small_world, nap_item):
    with WorldServer(small_world, faults=Faults(malformed_jsonld=[nap_item.product_id])) as srv:
        body = raw(srv.site.nap_url(nap_item))[2].decode()
        block = body.split('<script type="application/ld+json">')[1].split("</script>")[0]
        with pytest.raises(json.JSONDecodeError):
            json.loads(block)


def test_no_range(small_world, nap_item, world_truth):
    data = (small_world / world_truth.video(nap_item.videos[0]).path).read_bytes()
    with WorldServer(small_world, faults=Faults(no_range=[nap_item.product_id])) as srv:
        status, headers, body, _ = raw(
            srv.site.nap_video_url(nap_item.product_id), headers={"Range": "bytes=10-20"}
        )
        assert status == 200 and body == data and headers["Accept-Ranges"] == "none"


def test_evil_ids(small_world, tmp_path):
    with WorldServer(small_world, faults=Faults(evil_ids=True)) as srv:
        listing = raw(srv.base_url + "/en-us/shop/clothing")[2].decode()
        sitemap = raw(srv.base_url + "/sitemap.xml")[2].decode()
        for bad in EVIL_IDS:
            q = urllib.parse.quote(bad, safe="")
            assert q in listing and q in sitemap
            page = raw(srv.site.nap_url(bad))
            assert page[0] == 200
            assert raw(srv.site.nap_video_url(bad), "HEAD")[0] == 200
        fx = srv.write_fixtures(tmp_path)
        ids = {json.loads(Path(f).read_text())["id"] for f in fx["tiktok_info"]}
        assert set(EVIL_IDS) <= ids
        codes = {json.loads(Path(f).read_text())["node"]["shortcode"] for f in fx["instagram"]}
        assert set(EVIL_IDS) <= codes
        assert all("/" not in f.rsplit("/", 1)[1].replace(".info.json", "") for f in fx["tiktok_info"])


def test_a_later_plain_serve_leaves_no_unsafe_fixtures_behind(small_world, tmp_path):
    """Before, the evil_ids fixtures of an earlier start stayed in fixtures/tiktok and
    fixtures/instagram, where mf-collect reads every file, though fixtures.json no longer listed them."""
    import shutil

    world = tmp_path / "world"  # the fixtures only need world.json
    world.mkdir()
    shutil.copyfile(small_world / "world.json", world / "world.json")
    outside = tmp_path / "elsewhere"
    (outside / "tiktok").mkdir(parents=True)
    (outside / "tiktok" / "mine.info.json").write_text("{}\n")  # not the server's: kept
    for out in (world / "fixtures", outside):
        with WorldServer(world, faults=Faults(evil_ids=True)) as srv:
            srv.write_fixtures(out)
        assert list(out.rglob("evil-*"))
        with WorldServer(world) as srv:
            fx = srv.write_fixtures(out)
        assert not list(out.rglob("evil-*"))
        on_disk = sorted(str(f) for d in ("tiktok", "instagram") for f in (out / d).iterdir())
        extra = [str(outside / "tiktok" / "mine.info.json")] if out == outside else []
        assert on_disk == sorted(fx["tiktok_info"] + fx["instagram"] + extra)


def test_faults_off_by_default_and_parsing():
    f = Faults()
    assert not any([f.latency_s, f.retry_after_429, f.burst_5xx, f.truncate, f.evil_ids, f.robots_disallow])
    g = parse_faults(
        ["latency_s=0.5", "retry_after_429=2", "truncate=1,2", "evil_ids=true", "robots_disallow=/a/,/b/"]
    )
    assert g.latency_s == 0.5 and g.retry_after_429 == 2 and g.truncate == ["1", "2"] and g.evil_ids
    assert g.robots_disallow == ["/a/", "/b/"]
    with pytest.raises(ConfigError, match="unknown fault"):
        parse_faults(["slowness=1"])
    with pytest.raises(ConfigError, match="name=value"):
        parse_faults(["latency_s"])
    with pytest.raises(ConfigError, match="retry_after_429"):
        parse_faults(["retry_after_429=-1"])


def test_set_faults_on_a_running_server(small_world, nap_item):
    with WorldServer(small_world) as srv:
        url = srv.site.nap_video_url(nap_item.product_id)
        assert raw(url)[0] == 200
        srv.set_faults(Faults(burst_5xx=1))
        assert raw(url)[0] == 503 and raw(url)[0] == 200
