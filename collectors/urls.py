"""Generic URL lists through yt-dlp (any site it knows; plain ``.mp4`` links via its generic
extractor), with an optional shop image (URL or local file) per line.

List format, one item a line, ``#`` comments::

    https://example.com/media/123.mp4   https://example.com/shop/123.jpg
    https://www.tiktok.com/@user/video/456,shop/456.jpg

Allowed hosts are the hosts named in the lists. An item's id is the file name stem of its URL
when that is a safe name, else ``url-<hash>``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from collectors.config import HttpConfig, UrlsConfig
from collectors.core import Candidate, safe_id
from collectors.http import HostPolicy
from collectors.shopmap import ShopRef, parse_shop_ref
from collectors.tiktok import YtdlSource, _archive, _host
from collectors.ytdl import YtdlFetcher
from schemas.errors import DataFormatError
from schemas.items import SourceName

_SPLIT = re.compile(r"[\s,\t]+")


def url_source_id(url: str) -> str:
    """The item id of a URL (may be unsafe; callers refuse unsafe ids): the site's video id
    when a yt-dlp extractor knows the URL, else the file stem of the path's last segment
    (decoded, so ``..%2Fx.mp4`` stays visibly unsafe), else ``url-<sha256[:16]>``."""
    sid = _extractor_id(url)
    if sid is not None:
        return sid
    parts = urlsplit(url)
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if last and not parts.query:
        name = unquote(last)
        stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
        if stem:
            return stem
    return "url-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _extractor_id(url: str) -> str | None:
    from yt_dlp.extractor import gen_extractor_classes

    for ie in gen_extractor_classes():
        if ie.ie_key() == "Generic":
            continue
        try:
            if ie.suitable(url):
                return safe_id(ie.get_temp_id(url))
        except Exception:  # noqa: BLE001 - an extractor's URL regex must not break discovery
            continue
    return None


def read_url_list(targets: list[str]) -> list[tuple[str, ShopRef | None]]:
    """(URL, shop reference) pairs from URL arguments and list files."""
    out: list[tuple[str, ShopRef | None]] = []
    for target in targets:
        path = Path(target[1:] if target.startswith("@") else target)
        if target.startswith(("http://", "https://")):
            out.append((target, None))
            continue
        if not path.is_file():
            raise DataFormatError("URL list not found", where=str(path), hint="give URLs or list files")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = _SPLIT.split(line, maxsplit=1)
            if not parts[0].startswith(("http://", "https://")):
                raise DataFormatError(f"line {n}: {parts[0]!r} is not an http(s) URL", where=str(path))
            shop = (
                parse_shop_ref(parts[1].strip(), path.parent) if len(parts) > 1 and parts[1].strip() else None
            )
            out.append((parts[0], shop))
    return out


class UrlList(YtdlSource):
    """The URL-list source."""

    name = SourceName.URLS

    def __init__(self, fetcher: YtdlFetcher, lines: list[tuple[str, ShopRef | None]]) -> None:
        super().__init__(fetcher, {})
        self.lines = lines
        for url, shop in lines:
            if shop is not None:
                self.shop_map[url_source_id(url)] = shop

    @staticmethod
    def policy(lines: list[tuple[str, ShopRef | None]]) -> HostPolicy:
        hosts = {urlsplit(u).netloc for u, _ in lines} | {
            urlsplit(s.url).netloc for _, s in lines if s and s.url
        }
        return HostPolicy.of(hosts)

    @classmethod
    def build(cls, root: Path, targets: list[str], cfg: UrlsConfig, http: HttpConfig) -> UrlList:
        lines = read_url_list(targets)
        fetcher = YtdlFetcher(
            http, cls.policy(lines), fmt=cfg.format, archive=_archive(root, SourceName.URLS)
        )
        return cls(fetcher, lines)

    def discover(self, targets: list[str]) -> Iterator[Candidate]:
        seen: set[str] = set()
        for url, _shop in self.lines:
            sid = url_source_id(url)
            if sid in seen:
                continue
            seen.add(sid)
            yield Candidate(raw_id=sid, url=url, key=_host(url))

    def item_from(self, sid, info, url):  # type: ignore[override]
        item = super().item_from(sid, info, url)
        item.url = url or item.url
        return item

    def collect(self, cand, ctx):  # type: ignore[override]
        # keep our URL-derived id: the generic extractor's ids are not unique across sites
        if cand.payload is None and cand.url:
            sid = safe_id(cand.raw_id)
            if sid is not None and not ctx.is_done(self.name, sid):
                from schemas.errors import FetchError
                from schemas.items import SourceItem

                try:
                    if self.fetcher.client is not None:  # hosts, redirects, robots before yt-dlp looks
                        try:
                            self.fetcher.client.head_check(cand.url, None)
                        except FetchError as exc:
                            if exc.reason not in ("http_405", "http_501", "http_403"):
                                raise
                    info = self.fetcher.extract(cand.url)
                except FetchError as exc:
                    return ctx.reject_item(
                        SourceItem(source=self.name, source_id=sid, url=cand.url), exc.reason
                    )
                info = {**info, "id": sid}
                cand = Candidate(raw_id=sid, url=cand.url, key=cand.key, payload=info)
        return super().collect(cand, ctx)
