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
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from collectors.base import TargetForm
from collectors.config import CollectConfig, host_of
from collectors.core import Candidate, safe_id
from collectors.hosts import HostPolicy
from collectors.shopmap import ShopRef, parse_shop_ref
from collectors.ytdl import YtdlSource
from schemas.errors import DataFormatError, FetchError
from schemas.items import SourceItem, SourceName

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
                parse_shop_ref(parts[1].strip(), path.parent, where=f"{path} line {n}")
                if len(parts) > 1 and parts[1].strip()
                else None
            )
            out.append((parts[0], shop))
    return out


class UrlList(YtdlSource):
    """Any video URL yt-dlp understands, from URL arguments or list files.

    A list file has one ``URL [SHOP_IMAGE]`` per line (separated by space, tab or comma;
    SHOP_IMAGE is a URL or a file relative to the list); ``#`` starts a comment.
    """

    name = SourceName.URLS
    config_section = "urls"
    target_forms = (
        TargetForm("a video URL", "https://example.com/media/123.mp4", r"https?://\S+"),
        TargetForm("a list file (also @FILE): one URL [SHOP_IMAGE] a line", "world/fixtures/urls.txt"),
    )
    examples = (
        "mf-collect urls world/fixtures/urls.txt --root data --workers 8",
        "mf-collect urls https://example.com/media/123.mp4 --root data --dry-run",
    )

    @classmethod
    def check_targets(cls, targets: Sequence[str]) -> None:
        """Also refuse lists that hold no URL at all (nothing to collect is an input error)."""
        super().check_targets(targets)
        if not read_url_list(list(targets)):
            raise DataFormatError(
                "no URL in the list (only blank or # comment lines)",
                where=", ".join(targets),
                hint="one URL [SHOP_IMAGE] a line",
            )

    @classmethod
    def policy(cls, cfg: CollectConfig, targets: Sequence[str], **_: Any) -> HostPolicy:
        """The hosts named in the lists (videos and shop images)."""
        lines = read_url_list(targets)
        hosts = {urlsplit(u).netloc for u, _ in lines} | {
            urlsplit(s.url).netloc for _, s in lines if s and s.url
        }
        return HostPolicy.of(hosts)

    def discover(self, targets: Sequence[str]) -> list[Candidate]:
        out: list[Candidate] = []
        seen: set[str] = set()
        for url, shop in read_url_list(targets):
            sid = url_source_id(url)
            if shop is not None:
                self.shop_map[sid] = shop
            if sid not in seen:
                seen.add(sid)
                out.append(Candidate(raw_id=sid, url=url, key=host_of(url) or None))
        return out

    def extract(self, sid: str, cand: Candidate) -> dict[str, Any]:
        """Hosts, redirects and robots through the polite client first; the item keeps our
        URL-derived id (the generic extractor's ids are not unique across sites)."""
        if cand.url is None:
            return super().extract(sid, cand)
        try:
            self.client.head_check(cand.url, None)
        except FetchError as exc:
            if exc.reason not in ("http_405", "http_501", "http_403"):
                raise
        return {**self.fetcher.extract(cand.url), "id": sid}

    def item_from(self, sid: str, info: dict[str, Any], url: str | None) -> SourceItem:
        item = super().item_from(sid, info, url)
        item.url = url or item.url
        return item
