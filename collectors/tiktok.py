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

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from collectors.base import SourceOption, TargetForm
from collectors.config import CollectConfig, host_of
from collectors.core import Candidate, CollectContext
from collectors.hosts import HostPolicy
from collectors.shopmap import load_shop_map, url_hosts
from collectors.ytdl import YtdlSource, load_info_file
from schemas.errors import DataFormatError
from schemas.items import SourceName

_VIDEO_URL = re.compile(r"tiktok\.com/@[^/]+/video/(?P<id>[^/?#]+)|/video/(?P<id2>[^/?#]+)")


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


class TikTok(YtdlSource):
    """TikTok videos through yt-dlp (videos, users, hashtags, URL files, saved info JSON)."""

    name = SourceName.TIKTOK
    config_section = "tiktok"
    target_forms = (
        TargetForm("a video URL", "https://www.tiktok.com/@user/video/7300000000000000001", r"https?://\S+"),
        TargetForm("a user's videos", "tiktok:user:NAME", r"tiktok:user:[\w.-]+"),
        TargetForm("a user's videos", "@NAME", r"@[\w.-]+"),
        TargetForm("a hashtag's videos", "tiktok:tag:NAME", r"tiktok:tag:\w+"),
        TargetForm("a hashtag's videos", "#NAME", r"#\w+"),
        TargetForm(
            "saved yt-dlp info JSON files, a folder of them, or a file (@FILE) with one target a line",
            "world/fixtures/tiktok/",
        ),
    )
    options = (
        SourceOption("--shop-map", "CSV/JSONL: video id or URL -> shop image URL or file.", kind="file"),
    )
    examples = (
        "mf-collect tiktok world/fixtures/tiktok/ --shop-map world/fixtures/tiktok_shops.csv --root data"
        " --base-url http://127.0.0.1:8765",
        "mf-collect tiktok https://www.tiktok.com/@user/video/7300000000000000001 --root data --dry-run",
    )

    def __init__(self, ctx: CollectContext, *, shop_map: str | None = None) -> None:
        super().__init__(ctx)
        if shop_map:
            self.shop_map = load_shop_map(shop_map)

    @classmethod
    def policy(
        cls, cfg: CollectConfig, targets: Sequence[str], shop_map: str | None = None, **_: Any
    ) -> HostPolicy:
        mapping = load_shop_map(shop_map) if shop_map else {}
        hosts = [*cfg.tiktok.allowed_hosts, *cfg.tiktok.shop_hosts, *url_hosts(mapping)]
        return HostPolicy.of(hosts, cfg.tiktok.media_host_suffixes)

    def discover_target(self, target: str) -> Iterator[Candidate]:
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
                    yield from self.discover_target(line)
        elif target.startswith("@") and "/" in target:
            raise DataFormatError("URL file not found", where=target[1:])
        else:
            url = expand_target(target)
            m = _VIDEO_URL.search(url)
            if m:
                yield Candidate(raw_id=m.group("id") or m.group("id2"), url=url, key=host_of(url) or None)
            else:
                yield from self.playlist(url)

    def _info_file(self, path: Path) -> Iterator[Candidate]:
        for info in load_info_file(path):
            fmt_url = next(
                (f.get("url") for f in info.get("formats") or [] if isinstance(f, dict)), info.get("url")
            )
            yield Candidate(
                raw_id=None if info.get("id") is None else str(info["id"]),
                url=info.get("webpage_url"),
                key=host_of(fmt_url or "") or None,
                payload=info,
            )
