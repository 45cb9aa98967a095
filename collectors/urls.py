"""Generic URL lists through yt-dlp (any site it knows; plain ``.mp4`` links via its generic
extractor), with an optional shop image (URL or local file) per line.

List format, one item a line; ``#`` at the start of a line or after a space, tab or comma
starts a comment (a URL's own ``#fragment`` is kept)::

    # street videos
    https://example.com/media/123.mp4   https://example.com/shop/123.jpg   # the first one
    https://www.tiktok.com/@user/video/456,shop/456.jpg

Allowed hosts are the hosts named in the lists. An item's id is the site's video id when a
yt-dlp extractor knows the URL, else the file name stem of its URL when that is a safe name,
else ``url-<hash>`` (a stem that would leave its folder, ``..%2Fx.mp4``, is refused visibly:
``unsafe_id``). Different URLs with one stem (``/alice/video.mp4``, ``/bob/video.mp4``) each get
their ``url-<hash>``, except the one the catalog already holds under the stem: ids do not
change between runs, whatever the order of the list. A shop image belongs to its line's URL;
two lines giving one video (the same URL, or URLs of one video id) different shop images are
refused, naming both lines.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from collectors.base import LOCAL_HINT, TargetForm
from collectors.config import CollectConfig, LocalConfig, host_of
from collectors.core import Candidate, safe_id
from collectors.hosts import HostPolicy
from collectors.listfiles import checked_url, is_file, is_url, target_path
from collectors.shopmap import ShopRef, check_one_shop_each, parse_shop_ref
from collectors.ytdl import YtdlSource
from schemas.errors import DataFormatError, FetchError
from schemas.items import SourceItem, SourceName
from schemas.naming import has_control_char
from schemas.text_input import read_text_input

_SPLIT = re.compile(r"[\s,\t]+")
#: where a comment starts: a ``#`` opening the line or after a separator (not a URL's fragment)
_COMMENT = re.compile(r"(?:^|[\s,])#")


def url_source_id(url: str) -> str:
    """The item id of one URL on its own (may be unsafe; callers refuse unsafe ids): the site's
    video id when a yt-dlp extractor knows the URL, else the file stem of the path's last segment
    when it is a safe name, or when it would leave its folder (decoded, so ``..%2Fx.mp4`` stays
    visibly unsafe), else ``url-<sha256[:16]>`` (``summer%20look.mp4``, ``résumé.mp4``, a long
    name). :func:`url_ids` settles URLs of one stem."""
    return _extractor_id(url) or _stem_id(url) or url_hash_id(url)


def url_hash_id(url: str) -> str:
    """``url-<sha256[:16]>``: the id of a URL whose file name cannot be its id."""
    return "url-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _file_stem(url: str) -> str | None:
    """The decoded file name stem of the URL's last path segment (None with a query or none)."""
    parts = urlsplit(url)
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if not last or parts.query:
        return None
    name = unquote(last)
    return (name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name) or None


def escapes_folder(name: str) -> bool:
    """A name that is no plain file name but a path (separators, only dots) or holds control
    characters (NUL, newline): refused as an id, never replaced by a hash."""
    return "/" in name or "\\" in name or not name.strip(".") or has_control_char(name)


def _stem_id(url: str) -> str | None:
    """The file name stem as the id: a safe one, or one that escapes its folder (refused later)."""
    stem = _file_stem(url)
    if stem is None:
        return None
    return stem if safe_id(stem) is not None or escapes_folder(stem) else None


def url_ids(urls: Sequence[str], known_url: Callable[[str], str | None]) -> dict[str, str]:
    """The id of each URL of a run; ``known_url(id)`` is the URL the catalog holds under an id
    (None: no such item).

    A URL gets :func:`url_source_id`, unless that is its file stem and: the catalog holds the URL
    under its ``url-<hash>`` (kept), or holds the stem for another URL, or (nothing collected
    under the stem) another URL of the run has the same stem; then it gets its ``url-<hash>``.
    So two files ``video.mp4`` of different folders are two items, and a collected URL keeps its
    id whatever the order of the list or the URLs added to it.
    """
    out: dict[str, str] = {}
    stems: dict[str, str] = {}  # URL -> its safe file-stem id
    for url in dict.fromkeys(urls):
        sid = _extractor_id(url)
        if sid is None:
            stem = _stem_id(url)
            if stem is not None and safe_id(stem) is not None:
                stems[url] = stem
            sid = stem or url_hash_id(url)
        out[url] = sid
    shared = Counter(stems.values())
    for url, stem in stems.items():
        hashed, holder = url_hash_id(url), known_url(stem)
        held_elsewhere = holder is not None and holder != url
        shared_uncollected = holder is None and shared[stem] > 1
        if known_url(hashed) is not None or held_elsewhere or shared_uncollected:
            out[url] = hashed
    return out


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
    """(URL, shop reference) pairs from URL arguments and list files (``#`` comments cut); two
    lines giving one video different shop images raise :class:`DataFormatError` naming both."""
    out: list[tuple[str, ShopRef | None]] = []
    for target in targets:
        path = target_path(target)
        if is_url(target):
            out.append((checked_url(target, "TARGETS"), None))
            continue
        if path.is_dir():  # "not found" sent the user looking for a typo in a path that exists
            raise DataFormatError(
                "a folder, not a URL list",
                where=str(path),
                hint=f"give URLs or a list file (one URL [SHOP_IMAGE] a line); {LOCAL_HINT}",
            )
        if not is_file(path):
            raise DataFormatError("URL list not found", where=str(path), hint="give URLs or list files")
        if path.suffix.lower() in LocalConfig().video_extensions:
            raise DataFormatError("a video file, not a URL list", where=str(path), hint=LOCAL_HINT)
        for n, line in enumerate(read_text_input(path, "URL list").splitlines(), 1):
            entry = _url_line(line, n, path)
            if entry is not None:
                out.append(entry)
    paired = [(url, shop) for url, shop in out if shop is not None]
    check_one_shop_each(paired, lambda url: _extractor_id(url) or url)
    return out


def _url_line(line: str, n: int, path: Path) -> tuple[str, ShopRef | None] | None:
    """Line ``n`` of the list ``path`` as (URL, shop reference); None for a blank or comment line.

    A shop image URL is one field (text after it is refused, naming the line); a local shop
    file's name may hold spaces."""
    line = _COMMENT.split(line, maxsplit=1)[0].strip()
    if not line:
        return None
    parts = _SPLIT.split(line, maxsplit=1)
    url, shop = parts[0], parts[1].strip() if len(parts) > 1 else ""
    if not url.startswith(("http://", "https://")):
        raise DataFormatError(
            f"line {n}: {url!r} is not an http(s) URL",
            where=str(path),
            hint=LOCAL_HINT if not url.lower().startswith(("ftp:", "rtsp:", "rtmp:")) else None,
        )
    checked_url(url, f"{path} line {n}")
    if shop.startswith(("http://", "https://")) and len(_SPLIT.split(shop)) > 1:
        raise DataFormatError(
            f"line {n}: text after the shop image URL ({shop!r})",
            where=str(path),
            hint="one URL [SHOP_IMAGE] a line; start a comment with ' #'",
        )
    return url, parse_shop_ref(shop, path.parent, where=f"{path} line {n}") if shop else None


class UrlList(YtdlSource):
    """Any video URL yt-dlp understands, from URL arguments or list files.

    A list file has one ``URL [SHOP_IMAGE]`` per line (separated by space, tab or comma;
    SHOP_IMAGE is a URL or a file relative to the list); ``#`` at the start of a line or after
    a space, tab or comma starts a comment.
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
        """One candidate per id (:func:`url_ids`; URLs an extractor gives one video id are one
        item); a line's shop image goes to its own candidate only (keyed by that one's URL)."""
        lines = read_url_list(targets)
        ids = url_ids([u for u, _ in lines], self._known_url)
        by_id: dict[str, Candidate] = {}
        for url, shop in lines:
            cand = by_id.setdefault(ids[url], Candidate(raw_id=ids[url], url=url, key=host_of(url) or None))
            if shop is not None:
                self.shop_map[str(cand.url)] = shop
        return list(by_id.values())

    def _known_url(self, sid: str) -> str | None:
        """The URL of the catalog's item ``sid`` of this source ("" without one), None if none."""
        if safe_id(sid) is None or getattr(self.ctx, "catalog", None) is None:
            return None
        row = self.ctx.catalog.get_item(str(self.name), sid)
        return None if row is None else row.item.url or ""

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
