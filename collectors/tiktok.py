"""TikTok through yt-dlp: single videos, users, hashtags, URL files and saved info JSON files.

Targets:
  ``https://www.tiktok.com/@user/video/<id>``     one video
  ``tiktok:user:NAME`` or ``@NAME``               a user's videos (yt-dlp ``tiktok:user``)
  ``tiktok:tag:NAME`` or ``#NAME``                a hashtag's videos (yt-dlp ``tiktok:tag``)
  ``FILE.json`` / a folder of ``*.json``          saved yt-dlp info JSON files (offline replay)
  ``@FILE`` or a text file                        one of the above per line
Shop images come from a mapping file (``--shop-map``, CSV/JSONL: video id or URL -> shop
image URL or file); without one they are left for split-screen recovery in cleaning.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from collectors.config import HttpConfig, TikTokConfig, normalize_host
from collectors.core import Candidate, CollectContext, Outcome, safe_id
from collectors.http import HostPolicy
from collectors.shopmap import ShopRef, load_shop_map, lookup, url_hosts
from collectors.ytdl import YtdlFetcher, load_info_file, metadata_of
from schemas.errors import DataFormatError, FetchError
from schemas.items import AssetKind, MediaAsset, SourceItem, SourceName, Status

log = logging.getLogger("collectors.tiktok")

_VIDEO_URL = re.compile(r"tiktok\.com/@[^/]+/video/(?P<id>[^/?#]+)|/video/(?P<id2>[^/?#]+)")
_HASHTAG = re.compile(r"#(\w+)")


def expand_target(target: str) -> str:
    """Our target shorthands -> URLs yt-dlp understands."""
    if target.startswith("tiktok:user:"):
        return "tiktokuser:" + target.split(":", 2)[2]
    if target.startswith("tiktok:tag:"):
        return "https://www.tiktok.com/tag/" + target.split(":", 2)[2]
    if target.startswith("#"):
        return "https://www.tiktok.com/tag/" + target[1:]
    if target.startswith("@"):
        return "tiktokuser:" + target[1:]
    return target


class YtdlSource:
    """Shared collect logic of the yt-dlp sources (video + optional shop image per item)."""

    name: SourceName

    def __init__(self, fetcher: YtdlFetcher, shop_map: dict[str, ShopRef] | None = None) -> None:
        self.fetcher = fetcher
        self.shop_map = shop_map or {}

    def _playlist(self, url: str, extra: dict[str, Any] | None = None) -> Iterator[Candidate]:
        info = self.fetcher.extract(url, process=False)
        entries = info.get("entries")
        if entries is None:
            yield Candidate(
                raw_id=info.get("id"),
                url=info.get("webpage_url") or url,
                key=_host(url),
                payload=info if info.get("formats") or info.get("url") else None,
            )
            return
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            yield Candidate(
                raw_id=entry.get("id"),
                url=entry.get("url") or entry.get("webpage_url"),
                key=_host(url),
                payload=entry if entry.get("formats") else None,
            )

    def item_from(self, sid: str, info: dict[str, Any], url: str | None) -> SourceItem:
        desc = info.get("description") or None
        tags = [t for t in info.get("tags") or [] if isinstance(t, str)] or _HASHTAG.findall(desc or "")
        return SourceItem(
            source=self.name,
            source_id=sid,
            url=info.get("webpage_url") or url,
            title=info.get("title") or None,
            description=desc,
            caption=desc,
            hashtags=tags,
            designer=None,
            colour=None,
            has_video=True,
            metadata=metadata_of(info),
        )

    def collect(self, cand: Candidate, ctx: CollectContext) -> Outcome:
        sid = safe_id(cand.raw_id)
        if sid is None:
            return ctx.reject_unsafe(self.name, cand.raw_id, cand.url)
        if ctx.is_done(self.name, sid):
            return Outcome(sid, "skipped")
        info = cand.payload
        if info is None:
            try:
                info = self.fetcher.extract(cand.url or sid)
            except FetchError as exc:
                return ctx.reject_item(SourceItem(source=self.name, source_id=sid, url=cand.url), exc.reason)
        if info.get("id") is not None and str(info["id"]) != sid:
            real = safe_id(str(info["id"]))
            if real is None:
                return ctx.reject_unsafe(self.name, str(info["id"]), cand.url)
            sid = real
            if ctx.is_done(self.name, sid):
                return Outcome(sid, "skipped")
        item = self.item_from(sid, info, cand.url)
        ctx.start_item(item)
        key = item.url or cand.url or f"{self.name}:{sid}"
        assets = [self._video(ctx, item, info, key)]
        required = {AssetKind.VIDEO}
        shop = lookup(self.shop_map, sid, item.url, cand.url, info.get("original_url"))
        if shop is not None:
            required.add(AssetKind.SHOP)
            if shop.url:
                assets.append(ctx.fetch_asset(item, AssetKind.SHOP, shop.url, "image"))
            elif shop.path is not None and shop.path.is_file():
                assets.append(ctx.adopt_file(item, AssetKind.SHOP, shop.path, "image", url=shop.key))
            else:
                assets.append(
                    MediaAsset(
                        source=self.name,
                        source_id=sid,
                        kind=AssetKind.SHOP,
                        url=shop.key,
                        status=Status.REJECTED,
                        reason="shop_file_missing",
                    )
                )
                ctx.catalog.upsert_assets([assets[-1]])
        return ctx.finish_item(item, assets, required=required)

    def _video(self, ctx: CollectContext, item: SourceItem, info: dict[str, Any], key: str) -> MediaAsset:
        known = ctx.known_asset(item.source, item.source_id, AssetKind.VIDEO, key)
        if known is not None:
            return known
        folder = ctx.item_dir(item.source, item.source_id)
        try:
            path = self.fetcher.download(info, folder)
        except FetchError as exc:
            log.info("%s/%s video: %s (%s)", item.source, item.source_id, exc.reason, exc.message)
            asset = MediaAsset(
                source=item.source,
                source_id=item.source_id,
                kind=AssetKind.VIDEO,
                url=key,
                status=_status(exc.reason),
                reason=exc.reason,
            )
            ctx.catalog.upsert_assets([asset])
            return asset
        return ctx.adopt_file(
            item,
            AssetKind.VIDEO,
            path,
            "video",
            url=key,
            move=True,
            content_type="video/" + (info.get("ext") or "mp4"),
        )


class TikTok(YtdlSource):
    """The TikTok source (see module doc)."""

    name = SourceName.TIKTOK

    @staticmethod
    def policy(cfg: TikTokConfig, shop_map: dict[str, ShopRef] | None = None) -> HostPolicy:
        hosts = [*cfg.allowed_hosts, *cfg.shop_hosts, *url_hosts(shop_map or {})]
        return HostPolicy.of(hosts, cfg.media_host_suffixes)

    @classmethod
    def build(cls, root: Path, cfg: TikTokConfig, http: HttpConfig, shop_map_path: str | None) -> TikTok:
        shop_map = load_shop_map(shop_map_path) if shop_map_path else {}
        fetcher = YtdlFetcher(
            http,
            cls.policy(cfg, shop_map),
            fmt=cfg.format,
            archive=_archive(root, SourceName.TIKTOK),
            ratelimit=cfg.ratelimit_bytes_s,
        )
        return cls(fetcher, shop_map)

    def discover(self, targets: list[str]) -> Iterator[Candidate]:
        if not targets:
            raise DataFormatError(
                "no TikTok targets given",
                where="TARGETS",
                hint="give video URLs, tiktok:user:NAME, tiktok:tag:NAME, info JSON files or @FILE",
            )
        seen: set[str] = set()
        for target in targets:
            for cand in self._one(target.strip()):
                if cand.raw_id is not None and cand.raw_id in seen:
                    continue
                seen.add(str(cand.raw_id))
                yield cand

    def _one(self, target: str) -> Iterator[Candidate]:
        path = Path(target[1:] if target.startswith("@") else target)
        if path.is_dir():
            for f in sorted(path.glob("*.json")):
                yield from self._info_file(f)
        elif path.is_file() and path.suffix == ".json":
            yield from self._info_file(path)
        elif path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.split(" #", 1)[0].strip()
                if line and not line.startswith("#!"):
                    yield from self._one(line)
        elif target.startswith("@") and "/" in target:
            raise DataFormatError("URL file not found", where=target[1:])
        else:
            url = expand_target(target)
            m = _VIDEO_URL.search(url)
            if m:
                yield Candidate(raw_id=m.group("id") or m.group("id2"), url=url, key=_host(url))
            else:
                yield from self._playlist(url)

    def _info_file(self, path: Path) -> Iterator[Candidate]:
        for info in load_info_file(path):
            fmt_url = next(
                (f.get("url") for f in info.get("formats") or [] if isinstance(f, dict)), info.get("url")
            )
            yield Candidate(
                raw_id=None if info.get("id") is None else str(info["id"]),
                url=info.get("webpage_url"),
                key=_host(fmt_url or ""),
                payload=info,
            )


def _archive(root: Path, source: SourceName) -> Path:
    folder = Path(root) / str(source)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / ".ytdlp-archive.txt"


def _host(url: str) -> str | None:
    return normalize_host(urlsplit(url).netloc) or None if url else None


def _status(reason: str) -> Status:
    from collectors.core import status_for

    return status_for(reason)
