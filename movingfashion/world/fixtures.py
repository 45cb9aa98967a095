"""Files that let the real downloaders fetch the world from the loopback server, offline.

- ``tiktok/<id>.info.json``: yt-dlp info dicts (replay with ``YoutubeDL.download_with_info_file``)
- ``tiktok_shops.csv``: ``video_id,shop_image_url`` for TikTok items with a shop image
- ``instagram/<shortcode>.json``: instaloader structures (``load_structure_from_file``)
- ``urls.txt``: ``<video url> [<shop image url>]`` per line (yt-dlp's generic extractor)
- ``netaporter_ids.txt`` / ``netaporter_urls.txt``: product ids and page URLs
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from movingfashion.world.truth import WorldProduct
from schemas.atomic import json_bytes, write_if_changed
from schemas.items import SourceName
from schemas.taxonomy import DF2_CLASSES

from .faults import EVIL_IDS
from .sites import Site

# the uploaders, their ids and upload times (of the TikTok pages too; instagram_api reads them here)
from .tiktok_web import tiktok_user as _user
from .tiktok_web import upload_time as _timestamp
from .tiktok_web import user_uid as _uid


def _versions() -> tuple[str, str]:
    import instaloader
    import yt_dlp.version as ytv

    return ytv.__version__, instaloader.__version__


def ytdlp_info(site: Site, p: WorldProduct, video_id: str | None = None) -> dict[str, Any]:
    """A yt-dlp info dict of a TikTok item whose format URL points at the loopback server."""
    v = site.truth.video(p.videos[0]) if p.videos else None
    vid = video_id or p.product_id
    user = _user(p)
    w, h = (v.width, v.height) if v else (288, 512)
    fps = v.fps if v else 30.0
    duration = round(v.frames / v.fps, 3) if v else 0.0
    ts = _timestamp(p)
    import datetime as dt

    fmt = {
        "format_id": "h264_540p_0-0",
        "format_note": "Direct video",
        "url": site.tiktok_video_url(vid),
        "ext": "mp4",
        "protocol": "http",
        "width": w,
        "height": h,
        "fps": fps,
        "vcodec": "h264",
        "acodec": "none",
        "dynamic_range": "SDR",
        "http_headers": {"User-Agent": "Mozilla/5.0", "Referer": "https://www.tiktok.com/"},
    }
    yv, _ = _versions()
    return {
        "id": vid,
        "title": (p.caption or p.title)[:80],
        "description": p.caption or p.title,
        "uploader": user,
        "uploader_id": _uid(user),
        "channel": user,
        "uploader_url": f"https://www.tiktok.com/@{user}",
        "timestamp": ts,
        "upload_date": dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y%m%d"),
        "duration": duration,
        "width": w,
        "height": h,
        "fps": fps,
        "ext": "mp4",
        "vcodec": "h264",
        "acodec": "none",
        "tags": list(p.hashtags),
        "view_count": 1000 + ts % 90000,
        "like_count": 100 + ts % 9000,
        "webpage_url": f"https://www.tiktok.com/@{user}/video/{quote(vid, safe='')}",
        "original_url": f"https://www.tiktok.com/@{user}/video/{quote(vid, safe='')}",
        "webpage_url_basename": quote(vid, safe=""),
        "webpage_url_domain": "tiktok.com",
        "extractor": "TikTok",
        "extractor_key": "TikTok",
        "format_id": fmt["format_id"],
        "url": fmt["url"],
        "protocol": "http",
        "formats": [fmt],
        "_type": "video",
        "_version": {"version": yv, "release_git_head": None, "repository": "yt-dlp/yt-dlp"},
    }


def media_id(shortcode: str) -> str:
    """The numeric media id (``pk``) of a post, stable per shortcode."""
    return str(3_000_000_000_000_000_000 + int.from_bytes(shortcode.encode()[-6:], "big") % 10**18)


def _image_dimensions(site: Site, rel: str) -> dict[str, int]:
    """``{"width", "height"}`` of a world image as served (read from its header; 256x320, the
    default shop size, when the file cannot be read: the server answers 404 for it anyway)."""
    from movingfashion.media.images import image_size
    from schemas.errors import MFError
    from schemas.paths import resolve_under

    try:
        w, h = image_size(resolve_under(site.world, rel, what="world file", follow_symlinks=True))
    except (MFError, OSError, ValueError):
        w, h = 256, 320
    return {"width": w, "height": h}


def instaloader_structure(site: Site, p: WorldProduct, shortcode: str | None = None) -> dict[str, Any]:
    """An instaloader Post structure (GraphSidecar: the street video + candidate shop images)."""
    sc = shortcode or p.product_id
    cands = sorted((k for k in p.images if k.startswith("candidate-")), key=lambda k: int(k.split("-")[1]))
    v = site.truth.video(p.videos[0]) if p.videos else None
    user = _user(p)
    media = media_id(sc)
    children = [
        {
            "node": {
                "__typename": "GraphVideo",
                "id": media + "1",
                "shortcode": sc,
                "is_video": True,
                "display_url": site.instagram_media_url(sc, "thumb.jpg"),
                "video_url": site.instagram_media_url(sc, "video.mp4"),
                "dimensions": {"width": v.width if v else 288, "height": v.height if v else 512},
                "video_view_count": 1234,
            }
        }
    ]
    for k, name in enumerate(cands):
        children.append(
            {
                "node": {
                    "__typename": "GraphImage",
                    "id": media + str(k + 2),
                    "shortcode": sc,
                    "is_video": False,
                    "display_url": site.instagram_media_url(sc, f"{name}.jpg"),
                    "dimensions": _image_dimensions(site, p.images[name]),
                }
            }
        )
    node = {
        "__typename": "GraphSidecar",
        "id": media,
        "shortcode": sc,
        "is_video": False,
        "display_url": children[0]["node"]["display_url"],
        "taken_at_timestamp": _timestamp(p),
        "edge_media_to_caption": {"edges": [{"node": {"text": p.caption or p.title}}]},
        "owner": {"id": _uid(user), "username": user},
        "edge_media_preview_like": {"count": 100 + _timestamp(p) % 5000},
        "edge_media_to_comment": {"count": _timestamp(p) % 90},
        "edge_sidecar_to_children": {"edges": children},
        "accessibility_caption": None,
        "location": None,
        "title": None,
        "dimensions": children[0]["node"]["dimensions"],
    }
    _, iv = _versions()
    return {"node": node, "instaloader": {"version": iv, "node_type": "Post"}}


def write_fixtures(site: Site, out: Path, evil: bool = False) -> dict[str, Any]:
    """Write every fixture file under ``out``; returns the paths written (and counts).

    What an earlier call wrote in ``out/tiktok`` and ``out/instagram`` and this one does not (the
    unsafe-id fixtures of ``evil``) is removed: every file there when ``out`` is inside the world
    folder, else the files the earlier ``fixtures.json`` lists."""
    out.mkdir(parents=True, exist_ok=True)
    earlier = _listed(out / "fixtures.json")
    truth = site.truth
    info_files, insta_files = [], []
    csv_buf = io.StringIO()
    writer = csv.writer(csv_buf, lineterminator="\n")
    writer.writerow(["video_id", "shop_image_url"])
    url_lines = []
    nap_ids = []
    for p in truth.products:
        if p.source == SourceName.TIKTOK and p.videos:
            path = out / "tiktok" / f"{p.product_id}.info.json"
            write_if_changed(path, json_bytes(path, ytdlp_info(site, p)))
            info_files.append(str(path))
            if "shop" in p.images:
                writer.writerow([p.product_id, site.tiktok_shop_url(p.product_id)])
        elif p.source == SourceName.INSTAGRAM and p.videos:
            path = out / "instagram" / f"{p.product_id}.json"
            write_if_changed(path, json_bytes(path, instaloader_structure(site, p), indent=4, sort_keys=True))
            insta_files.append(str(path))
        elif p.source == SourceName.NETAPORTER:
            nap_ids.append(p.product_id)
        if p.source != SourceName.NETAPORTER and p.videos:
            line = site.file_url(f"{p.videos[0]}.mp4")
            if "shop" in p.images:
                line += " " + site.file_url(f"{p.product_id}_shop.jpg")
            url_lines.append(line)
    if evil:
        tiktok_src = next((p for p in truth.products if p.source == SourceName.TIKTOK and p.videos), None)
        insta_src = next((p for p in truth.products if p.source == SourceName.INSTAGRAM and p.videos), None)
        for k, bad in enumerate(EVIL_IDS):
            if tiktok_src:
                path = out / "tiktok" / f"evil-{k}.info.json"
                write_if_changed(path, json_bytes(path, ytdlp_info(site, tiktok_src, video_id=bad)))
                info_files.append(str(path))
                writer.writerow([bad, site.tiktok_shop_url(bad)])
            if insta_src:
                path = out / "instagram" / f"evil-{k}.json"
                doc = instaloader_structure(site, insta_src, shortcode=bad)
                write_if_changed(path, json_bytes(path, doc, indent=4, sort_keys=True))
                insta_files.append(str(path))
            url_lines.append(site.file_url(f"{bad}.mp4"))
            nap_ids.append(bad)
    shops = out / "tiktok_shops.csv"
    write_if_changed(shops, csv_buf.getvalue().encode("utf-8"))
    urls = out / "urls.txt"
    write_if_changed(urls, ("\n".join(url_lines) + "\n").encode("utf-8"))
    ids_file = out / "netaporter_ids.txt"
    write_if_changed(ids_file, ("\n".join(quote(i, safe="") for i in nap_ids) + "\n").encode("utf-8"))
    nap_urls = out / "netaporter_urls.txt"
    nap_pages = [site.nap_url(site.products[i]) if i in site.products else site.nap_url(i) for i in nap_ids]
    write_if_changed(nap_urls, ("\n".join(nap_pages) + "\n").encode("utf-8"))
    local = _local_fixture(truth, site.world, out / "local")
    result = {
        "local": str(local),
        "base_url": site.base,
        "tiktok_info": info_files,
        "tiktok_shops": str(shops),
        "instagram": insta_files,
        "urls": str(urls),
        "netaporter_ids": str(ids_file),
        "netaporter_urls": str(nap_urls),
        "netaporter_listing": f"{site.base}/en-us/shop/clothing",
        "sitemap": f"{site.base}/sitemap.xml",
        "robots": f"{site.base}/robots.txt",
    }
    write_if_changed(out / "fixtures.json", json_bytes(out / "fixtures.json", result))
    inside = out.resolve().is_relative_to(site.world.resolve())
    for folder in (out / "tiktok", out / "instagram"):
        for f in folder.iterdir() if folder.is_dir() else ():
            if f.is_file() and str(f) not in {*info_files, *insta_files} and (inside or f.name in earlier):
                f.unlink()
    return result


def _listed(path: Path) -> set[str]:
    """Names of the TikTok and Instagram fixture files an earlier ``fixtures.json`` lists."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return set()
    if not isinstance(doc, dict):
        return set()
    files = [f for k in ("tiktok_info", "instagram") if isinstance(doc.get(k), list) for f in doc[k]]
    return {Path(f).name for f in files if isinstance(f, str)}


#: how many clothing products ``fixtures/local`` holds (``mf-collect local``'s examples)
LOCAL_PRODUCTS = 4


def _local_fixture(truth: Any, world: Path, out: Path) -> Path:
    """``out/manifest.csv`` and the files it names: a few clothing products' first video and
    shop image, copied as a user's own files would be, with their class (the first two) and
    partition, so ``mf-collect local`` has something to read; returns the manifest's path."""
    videos = {v.video_id: v for v in truth.videos}
    chosen = [  # (a world folder holding only world.json has no files to copy: no rows)
        p
        for p in truth.products
        if p.df2_class is not None
        and p.videos
        and "shop" in p.images
        and not p.wrong_shop
        and (world / videos[p.videos[0]].path).is_file()
        and (world / p.images["shop"]).is_file()
    ][:LOCAL_PRODUCTS]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["video", "shop_image", "partition", "class", "title"])
    for n, p in enumerate(chosen):
        video, shop = world / videos[p.videos[0]].path, world / p.images["shop"]
        for src, name in ((video, f"{p.product_id}.mp4"), (shop, f"{p.product_id}{shop.suffix}")):
            dst = out / "clips" / name
            write_if_changed(dst, src.read_bytes())
        cls = DF2_CLASSES[p.df2_class] if n < 2 else ""
        writer.writerow(
            [f"clips/{p.product_id}.mp4", f"clips/{p.product_id}{shop.suffix}", p.partition, cls, p.title]
        )
    manifest = out / "manifest.csv"
    write_if_changed(manifest, buf.getvalue().encode("utf-8"))
    return manifest
