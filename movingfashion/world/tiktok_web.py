"""The world's TikTok web pages, in the shapes yt-dlp's own TikTok extractors read them.

- a user's page ``/@<user>``: its ``__UNIVERSAL_DATA_FOR_REHYDRATION__`` script holding
  ``webapp.user-detail`` (``userInfo.user.secUid``, ``userInfo.stats.videoCount``), what
  yt-dlp's ``tiktok:user`` reads first;
- the user's video list ``/api/creator/item_list/?secUid=..&cursor=..&count=..`` (JSON
  ``itemList``, newest first, each older than ``cursor`` in ms; ``hasMorePrevious``), which
  ``tiktok:user`` pages through (its next cursor: the last item's ``createTime`` in ms);
- a video's page ``/@<user>/video/<id>``: ``webapp.video-detail``'s ``itemInfo.itemStruct``,
  what yt-dlp's ``TikTok`` extractor reads; its ``playAddr`` is on TikTok's CDN
  (``*.tiktokcdn.com``), the world's ``/tiktok/video/<id>.mp4`` under it;
- a hashtag's page ``/tag/<name>`` naming the tag's id in its app link
  (``snssdk1233://challenge/detail/<id>``), what yt-dlp's ``tiktok:tag`` reads first, and the
  tag's videos from TikTok's app API ``/aweme/v1/challenge/aweme/?ch_id=..&cursor=..&count=..``
  (on ``api16-normal-c-useast1a.tiktokv.com``: JSON ``aweme_list`` in the app's shape, newest
  first; ``has_more`` and the next ``cursor``, an offset), which it pages through.

The collector's ``--base-url`` (``tiktok.api_base``) sends yt-dlp's requests for TikTok's hosts
(the app API's ``*.tiktokv.com`` too) here. Uploaders, their ids and upload times are the ones of the world's saved info files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from movingfashion.world.truth import WorldProduct, WorldTruth
from schemas.items import SourceName

FAKE_UPLOAD_BASE = 1_640_000_000
#: The host of TikTok's video CDN the world's pages name (``tiktok.api_base`` maps it back).
CDN = "https://v16-webapp-prime.tiktokcdn.com"


def tiktok_user(p: WorldProduct) -> str:
    """The product's uploader (stable per product)."""
    from .catalog import USERS

    return USERS[int.from_bytes(p.product_id.encode()[-3:], "big") % len(USERS)]


def user_uid(user: str) -> str:
    """The uploader's numeric id."""
    return str(6_800_000_000_000_000_000 + sum(ord(c) * 7919**i for i, c in enumerate(user)) % 10**17)


def upload_time(p: WorldProduct) -> int:
    """The product's upload time (Unix seconds)."""
    return FAKE_UPLOAD_BASE + int.from_bytes(p.product_id.encode()[-4:], "big") % 90_000_000


def sec_uid(user: str) -> str:
    """The uploader's secondary id, in TikTok's form (``MS4wLjABAAAA`` + 64 characters)."""
    return "MS4wLjABAAAA" + hashlib.sha256(f"secuid:{user}".encode()).hexdigest()


def _page(scope: dict[str, Any], title: str) -> bytes:
    script = json.dumps({"__DEFAULT_SCOPE__": scope}).replace("</", "<\\/")
    return (
        f"<!DOCTYPE html><html><head><title>{title} | TikTok</title></head><body>"
        f'<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">{script}</script>'
        "</body></html>"
    ).encode()


def user_videos(truth: WorldTruth, products: Iterable[WorldProduct], user: str) -> list[WorldProduct]:
    """The user's TikTok videos the site has (``products``), newest first."""
    mine = [p for p in products if p.source == SourceName.TIKTOK and p.videos and tiktok_user(p) == user]
    return sorted(mine, key=lambda p: (-upload_time(p), p.product_id))


def item_struct(truth: WorldTruth, p: WorldProduct) -> dict[str, Any]:
    """A video as TikTok's web pages and ``item_list`` describe it."""
    user = tiktok_user(p)
    v = truth.video(p.videos[0])
    ts = upload_time(p)
    return {
        "id": p.product_id,
        "desc": p.caption or p.title,
        "createTime": ts,
        "author": {"uniqueId": user, "nickname": user, "id": user_uid(user), "secUid": sec_uid(user)},
        "video": {
            "width": v.width,
            "height": v.height,
            "duration": max(1, round(v.frames / v.fps)),
            "playAddr": f"{CDN}/tiktok/video/{quote(p.product_id, safe='')}.mp4",
        },
        "stats": {"playCount": 1000 + ts % 90000, "diggCount": 100 + ts % 9000},
    }


def user_page(truth: WorldTruth, products: Iterable[WorldProduct], user: str) -> bytes:
    """A user's page: who they are and how many videos they posted (``itemList`` left empty,
    as TikTok's server-rendered page has it)."""
    count = len(user_videos(truth, products, user))
    detail = {
        "statusCode": 0,
        "userInfo": {
            "user": {"id": user_uid(user), "uniqueId": user, "nickname": user, "secUid": sec_uid(user)},
            "stats": {"videoCount": count, "followerCount": 1000},
            "itemList": [],
        },
    }
    return _page({"webapp.user-detail": detail}, f"@{user}")


def item_list(
    truth: WorldTruth, products: Iterable[WorldProduct], secuid: str, cursor: str, count: int
) -> bytes | None:
    """The ``item_list`` answer of the user ``secuid`` names: up to ``count`` videos older than
    ``cursor`` (ms), newest first; None for a ``secuid`` of no user."""
    from .catalog import USERS

    user = next((u for u in USERS if sec_uid(u) == secuid), None)
    if user is None:
        return None
    try:
        before = int(cursor)
    except ValueError:
        before = 2**62
    older = [p for p in user_videos(truth, products, user) if upload_time(p) * 1000 < before]
    page = older[: max(1, count)]
    doc = {
        "statusCode": 0,
        "itemList": [item_struct(truth, p) for p in page],
        "hasMorePrevious": len(older) > len(page),
        "hasMoreLatest": False,
    }
    return json.dumps(doc).encode()


def video_page(truth: WorldTruth, p: WorldProduct) -> bytes:
    """A video's page."""
    detail = {"statusCode": 0, "itemInfo": {"itemStruct": item_struct(truth, p)}}
    return _page({"webapp.video-detail": detail}, p.product_id)


def challenge_id(tag: str) -> str:
    """A hashtag's numeric id (TikTok's ``ch_id``), stable per tag."""
    return str(1_600_000 + int(hashlib.sha256(f"tag:{tag.lower()}".encode()).hexdigest()[:8], 16) % 10**9)


def tag_videos(products: Iterable[WorldProduct], tag: str) -> list[WorldProduct]:
    """The TikTok videos the site has (``products``) carrying hashtag ``tag``, newest first."""
    want = tag.lower()
    mine = [
        p
        for p in products
        if p.source == SourceName.TIKTOK and p.videos and want in (h.lower() for h in p.hashtags)
    ]
    return sorted(mine, key=lambda p: (-upload_time(p), p.product_id))


def tag_page(tag: str) -> bytes:
    """A hashtag's page: its app link carries the tag's id, what ``tiktok:tag`` reads."""
    link = f"snssdk1233://challenge/detail/{challenge_id(tag)}"
    name = tag.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return (
        f"<!DOCTYPE html><html><head><title>#{name} | TikTok</title>"
        f'<meta property="al:android:url" content="{link}"></head><body></body></html>'
    ).encode()


def aweme(truth: WorldTruth, p: WorldProduct) -> dict[str, Any]:
    """A video as TikTok's app API describes it (what yt-dlp's ``_parse_aweme_video_app`` reads)."""
    user = tiktok_user(p)
    v = truth.video(p.videos[0])
    ts = upload_time(p)
    play = {
        "url_list": [f"{CDN}/tiktok/video/{quote(p.product_id, safe='')}.mp4"],
        "width": v.width,
        "height": v.height,
    }
    return {
        "aweme_id": p.product_id,
        "desc": p.caption or p.title,
        "create_time": ts,
        "author": {"unique_id": user, "uid": user_uid(user), "nickname": user, "sec_uid": sec_uid(user)},
        "video": {
            "width": v.width,
            "height": v.height,
            "duration": max(1, round(v.frames / v.fps)) * 1000,
            "play_addr": play,
        },
        "statistics": {"play_count": 1000 + ts % 90000, "digg_count": 100 + ts % 9000},
    }


def challenge_feed(
    truth: WorldTruth, products: Iterable[WorldProduct], ch_id: str, cursor: str, count: int
) -> bytes | None:
    """The app API's ``challenge/aweme`` answer for the tag ``ch_id`` names: up to ``count``
    videos from offset ``cursor``, newest first, ``has_more`` and the next ``cursor``; None for
    an id of no tag the site's videos carry."""
    products = list(products)
    tags = {h.lower() for p in products if p.source == SourceName.TIKTOK for h in p.hashtags}
    tag = next((t for t in sorted(tags) if challenge_id(t) == ch_id), None)
    if tag is None:
        return None
    start = int(cursor) if cursor.isascii() and cursor.isdigit() and len(cursor) < 9 else 0
    videos = tag_videos(products, tag)
    page = videos[start : start + max(1, count)]
    end = start + len(page)
    doc = {
        "status_code": 0,
        "aweme_list": [aweme(truth, p) for p in page],
        "has_more": 1 if end < len(videos) else 0,
        "cursor": end,
    }
    return json.dumps(doc).encode()
