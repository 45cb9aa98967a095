"""Every route of the loopback world server stays inside the world folder: traversal in any
route family answers 404, and a world.json (or a link in the folder) pointing outside is not served."""

from __future__ import annotations

import http.client
import json
import shutil
from urllib.parse import urlsplit

import pytest

from movingfashion.world.server import WorldServer
from schemas.items import SourceName

#: Every route family of the server, each with traversal in the part it looks up.
TRAVERSALS = [
    "/../../world.json",
    "/world.json",
    "/media/../world.json",
    "/robots.txt/../world.json",
    "/sitemap.xml/..%2Fworld.json",
    "/en-us/shop/..%2F..%2Fworld.json",
    "/en-us/shop/designer/..%2F..%2Fworld.json",
    "/en-us/shop/product/x/..%2F..%2F..%2Fworld.json",
    "/product/..%2F..%2Fworld.json",
    "/videos/productPage/..%2F..%2Fworld_detail.mp4",
    "/images/products/..%2F..%2Fmedia/..%2F..%2Fworld_fr_l.jpg",
    "/variants/images/..%2F..%2Fworld/fr/w920.jpg",
    "/tiktok/video/..%2F..%2Fworld.mp4",
    "/tiktok/shop/..%2F..%2Fworld.jpg",
    "/instagram/p/..%2F..%2F/video.mp4",
    "/instagram/p/x/..%2F..%2Fworld.json",
    "/files/..%2F..%2Fworld.json",
    "/files/%2e%2e%2f%2e%2e%2fworld_params.json",
    "/files/..%2Fworld.mp4",
    "/files/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/v1/media/..%2F..%2Fworld.json/info/",
    "/graphql/query?variables=%7B%22shortcode%22%3A%22..%2F..%2Fworld.json%22%7D",
]


def _get(base: str, raw_path: str, method: str = "GET") -> tuple[int, bytes]:
    """Send ``raw_path`` as is (no client-side normalisation)."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.putrequest(method, raw_path, skip_accept_encoding=True)
        conn.putheader("Content-Length", "0")
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_in_any_route_is_never_served(world_server, small_world, path):
    status, body = _get(world_server.base_url, path)
    secret = (small_world / "world.json").read_bytes()
    assert body != secret and b"generator_version" not in body and b"root:" not in body
    if path.startswith("/graphql/"):  # an API lookup: no item for a shortcode that is not one
        assert (
            status == 200
            and json.loads(body)["data"]["xdt_api__v1__media__shortcode__web_info"]["items"] == []
        )
    else:
        assert status in (301, 404), (path, status)
        assert not body.startswith((b"\xff\xd8", b"\x89PNG")) and b"ftyp" not in body[:16]


def test_world_json_and_links_pointing_outside_are_not_served(small_world, world_truth, tmp_path):
    world = tmp_path / "world"
    shutil.copytree(small_world, world)
    outside = tmp_path / "outside.jpg"
    p = next(p for p in world_truth.products if p.source == SourceName.NETAPORTER and "shop" in p.images)
    outside.write_bytes((small_world / p.images["shop"]).read_bytes())
    (world / "media" / "link.jpg").symlink_to(outside)
    data = json.loads((world / "world.json").read_text())
    row = next(r for r in data["products"] if r["product_id"] == p.product_id)
    row["images"]["shop"] = "../outside.jpg"
    row["images"]["front"] = "media/link.jpg"
    row["images"]["rear"] = str(outside)
    (world / "world.json").write_text(json.dumps(data))
    with WorldServer(world) as srv:
        for view in ("fr", "in", "bk"):
            status, body = _get(srv.base_url, f"/images/products/{p.product_id}/{p.product_id}_{view}_l.jpg")
            assert status == 404 and body != outside.read_bytes(), view
        status, body = _get(srv.base_url, f"/images/products/{p.product_id}/{p.product_id}_cu_l.jpg")
        assert (
            status == 200 and body == (small_world / p.images["fabric"]).read_bytes()
        )  # the rest still works
