"""The Instagram API endpoints instaloader queries for one post, answered from the world.

A logged-in instaloader asks ``POST /graphql/query`` (``doc_id`` + ``variables`` with the
shortcode; ``/api/graphql`` when logged out) for a post's metadata, then
``GET /api/v1/media/<pk>/info/`` (the iPhone API on ``i.instagram.com``) for its carousel
images. With ``--base-url`` those hosts are mapped onto the loopback server, which answers
them here in the shape of Instagram's v1 media items (the media URLs point at ``/instagram/``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from movingfashion.world.truth import WorldProduct
from schemas.items import SourceName

from .fixtures import _timestamp, _uid, _user, instaloader_structure, media_id
from .sites import Answer, Site

_MEDIA_INFO = re.compile(r"^/api/v1/media/(\d+)/info/?$")
GRAPHQL_PATHS = ("/graphql/query", "/graphql/query/", "/api/graphql", "/api/graphql/")


def _json(data: Any, status: int = 200) -> Answer:
    return Answer(status, "application/json; charset=utf-8", json.dumps(data).encode())


def api_item(site: Site, p: WorldProduct) -> dict[str, Any]:
    """The v1 media item of an Instagram product (a carousel: video, then candidate images)."""
    node = instaloader_structure(site, p)["node"]
    user = _user(p)
    carousel = []
    for edge in node["edge_sidecar_to_children"]["edges"]:
        child = edge["node"]
        item: dict[str, Any] = {
            "code": child["shortcode"],
            "pk": child["id"],
            "media_type": 2 if child["is_video"] else 1,
            "image_versions2": {"candidates": [{"url": child["display_url"], **child["dimensions"]}]},
        }
        if child["is_video"]:
            item["video_versions"] = [{"url": child["video_url"], "type": 101}]
        carousel.append(item)
    caption = node["edge_media_to_caption"]["edges"][0]["node"]["text"]
    return {
        "code": node["shortcode"],
        "pk": node["id"],
        "id": f"{node['id']}_{_uid(user)}",
        "media_type": 8,
        "taken_at": _timestamp(p),
        "user": {"pk": _uid(user), "username": user, "full_name": user},
        "caption": {"text": caption},
        "like_count": node["edge_media_preview_like"]["count"],
        "comment_count": node["edge_media_to_comment"]["count"],
        "image_versions2": carousel[0]["image_versions2"],
        "carousel_media": carousel,
        "carousel_media_count": len(carousel),
    }


def _posts(site: Site) -> dict[str, WorldProduct]:
    return {p.product_id: p for p in site.products.values() if p.source == SourceName.INSTAGRAM and p.videos}


def answer(site: Site, path: str, params: dict[str, list[str]]) -> Answer | None:
    """The API answer for ``path`` (None: not an API path)."""
    if path in GRAPHQL_PATHS:
        try:
            variables = json.loads((params.get("variables") or ["{}"])[0])
        except json.JSONDecodeError:
            return _json({"message": "bad variables", "status": "fail"}, 400)
        shortcode = variables.get("shortcode") if isinstance(variables, dict) else None
        p = _posts(site).get(str(shortcode))
        items = [api_item(site, p)] if p is not None else []
        return _json({"data": {"xdt_api__v1__media__shortcode__web_info": {"items": items}}, "status": "ok"})
    m = _MEDIA_INFO.match(path)
    if m:
        by_pk = {media_id(p.product_id): p for p in _posts(site).values()}
        p = by_pk.get(m.group(1))
        if p is None:
            return _json({"message": "Media not found or unavailable", "status": "fail"}, 404)
        return _json({"items": [api_item(site, p)], "num_results": 1, "status": "ok"})
    return None
