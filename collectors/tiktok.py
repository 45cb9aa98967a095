"""TikTok through yt-dlp: single videos, users, hashtags, URL files and saved info JSON files.

Targets:
  ``https://www.tiktok.com/@user/video/<id>``     one video
  ``tiktok:user:NAME`` or ``@NAME``               a user's videos (yt-dlp ``tiktok:user``)
  ``tiktok:tag:NAME`` or ``#NAME``                a hashtag's videos (yt-dlp ``tiktok:tag``; it
                                                  reads TikTok's app API, and needs app info:
                                                  ``tiktok.extractor_args`` app_info or device_id)
  ``FILE.json`` / a folder of ``*.json``          saved yt-dlp info JSON files (offline replay)
  ``@FILE`` or a text file                        one of the above per line (``#`` alone or
                                                  followed by a space starts a comment: a whole
                                                  line, or after a target; ``#NAME`` is a hashtag)
A target that cannot be read (a user page that is gone, a site that is down) is listed as a
failed discovery with its URL and reason; the other targets are still read.
Shop images come from a mapping file (``--shop-map``, CSV/JSONL: video id or URL -> shop
image URL or file); without one they are left for split-screen recovery in cleaning. A map
giving one video (by its id or its URL) two shop images is refused; a video collected before
with another shop image than the map names now is paired anew on the rerun
(:meth:`~collectors.ytdl.YtdlSource.changed`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from collectors.base import SourceOption, TargetForm
from collectors.config import CollectConfig, host_of
from collectors.core import Candidate, CollectContext, DiscoveryProblem, noting_problems
from collectors.hosts import HostPolicy
from collectors.listfiles import expand_lists, is_dir, is_file, target_path
from collectors.shopmap import ShopRef, check_one_shop_each, load_shop_map, url_hosts
from collectors.ytdl import YtdlSource, load_info_file
from schemas.errors import DataFormatError, FetchError
from schemas.items import SourceName
from schemas.redact import redacted_logger

log = redacted_logger("collectors.tiktok")

#: yt-dlp's words when a listing needs TikTok's app API and no app info is given
_NO_APP_INFO = "No working app info is available"
#: yt-dlp's warning when TikTok's app API did not give a single video's details (it then reads
#: the video's web page), with the HTTP status the API answered
_APP_API_FAILED = re.compile(r"HTTP Error (\d{3})\b.*; trying with webpage", re.S)


def _app_api_refused(warning: str) -> bool:
    """Whether ``warning`` says the app API refused a video's details with a client error that
    asking again would get too (not 408 or 429, which a later request may pass)."""
    m = _APP_API_FAILED.search(warning)
    return m is not None and 400 <= int(m.group(1)) < 500 and int(m.group(1)) not in (408, 429)


_VIDEO_URL = re.compile(r"tiktok\.com/@[^/]+/video/(?P<id>[^/?#]+)|/video/(?P<id2>[^/?#]+)")


def video_id_of(key: str) -> str | None:
    """The video id in a TikTok video URL (None for anything else)."""
    m = _VIDEO_URL.search(key) if "/" in key else None
    return (m.group("id") or m.group("id2")) if m else None


def tiktok_host_map(api_base: str | None, hosts: Iterable[str], domains: Iterable[str]) -> dict[str, str]:
    """TikTok's page ``hosts`` and media ``domains`` (``.tiktokcdn.com``: the names under it) ->
    ``api_base`` (a mirror, the loopback world), or nothing; ``api_base``'s own host stays itself."""
    if not api_base:
        return {}
    own = host_of(api_base)
    keys = [*hosts, *("." + d.lstrip(".") for d in domains)]
    return {k: api_base for k in keys if k and k != own}


def load_tiktok_shop_map(path: str | Path) -> dict[str, ShopRef]:
    """:func:`~collectors.shopmap.load_shop_map`, also refusing a video named by its id and by
    its URL with two different shop images."""
    mapping = load_shop_map(path)
    check_one_shop_each(mapping.items(), video_id_of)
    return mapping


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


#: Info-dict fields the collector (and yt-dlp's processing of a saved info) reads as text.
_TEXT_FIELDS = ("webpage_url", "original_url", "url", "title", "description", "ext")
_FORMAT_TEXT_FIELDS = ("url", "format_id", "protocol", "ext")
#: Fields yt-dlp does sums, rounding and date arithmetic with, in an info dict and in its
#: formats (its ``YoutubeDL._NUMERIC_FIELDS``): NaN, an infinity or a number too large for a
#: float fails its processing with a bare ValueError/OverflowError. Other types it converts.
_NUMERIC_FIELDS = (
    *("width", "height", "asr", "audio_channels", "fps", "tbr", "abr", "vbr", "filesize"),
    *("filesize_approx", "duration", "view_count", "like_count", "dislike_count", "repost_count"),
    *("save_count", "average_rating", "comment_count", "age_limit", "start_time", "end_time"),
    *("chapter_number", "season_number", "episode_number", "track_number", "disc_number"),
    "release_year",
)
#: Unix times (seconds) yt-dlp turns into dates or waits until (``available_at``).
_TIME_FIELDS = ("timestamp", "release_timestamp", "modified_timestamp", "available_at")
_MAX_NUMBER = 2**53  # the integers a float (and any JSON reader) holds exactly
_TIME_RANGE = (-62135596800, 7258118400)  # 0001-01-01 .. 2200-01-01 UTC
_DATE = re.compile(r"\d{8}")
_INFO_HINT = "write it with yt-dlp --write-info-json"


def check_info(info: dict[str, Any], where: str, entry: int | None = None) -> None:
    """Refuse a saved info dict without an ``id`` or whose fields the collector or yt-dlp reads have the wrong type
    or a value yt-dlp cannot process (NaN, an infinity, a number out of range, an
    ``upload_date`` that is no ``YYYYMMDD`` date); the :class:`DataFormatError` names the file
    (``where``), the entry of a multi-info file and the field."""
    at = f"entry {entry}: " if entry is not None else ""

    def bad(field: str, want: str, value: Any) -> DataFormatError:
        return DataFormatError(
            f"{at}field '{field}' must be {want}, got {type(value).__name__}", where=where, hint=_INFO_HINT
        )

    rid = info.get("id")
    if rid is None:  # every item would be refused as the one unsafe id None, the rest "skipped"
        looks = (
            " (it looks like an Instagram post structure: use mf-collect instagram)" if "node" in info else ""
        )
        raise DataFormatError(
            f"{at}no 'id' field: not a yt-dlp info JSON{looks}", where=where, hint=_INFO_HINT
        )
    if isinstance(rid, bool) or not isinstance(rid, str | int):
        raise bad("id", "a string", rid)
    for key in _TEXT_FIELDS:
        value = info.get(key)
        if value is not None and not isinstance(value, str):
            raise bad(key, "a string URL" if key.endswith("url") else "a string", value)
    _check_values(info, "", at, where)
    formats = info.get("formats")
    if formats is None:
        return
    if not isinstance(formats, list):
        raise bad("formats", "a list", formats)
    for i, fmt in enumerate(formats):
        if not isinstance(fmt, dict):
            raise bad(f"formats[{i}]", "an object", fmt)
        for key in _FORMAT_TEXT_FIELDS:
            value = fmt.get(key)
            if value is not None and not isinstance(value, str):
                raise bad(f"formats[{i}].{key}", "a string URL" if key == "url" else "a string", value)
        _check_values(fmt, f"formats[{i}].", at, where)


def _check_values(obj: dict[str, Any], prefix: str, at: str, where: str) -> None:
    """Refuse numbers and an upload date of ``obj`` (an info dict or one of its formats) that
    yt-dlp's processing fails on; ``prefix`` and ``at`` place the field in the message."""

    def bad(key: str, want: str, value: Any) -> DataFormatError:
        text = repr(value)
        shown = text if len(text) <= 30 else f"{text[:20]}... ({len(text)} characters)"
        return DataFormatError(
            f"{at}field '{prefix}{key}' must be {want}, got {shown}", where=where, hint=_INFO_HINT
        )

    for key in (*_NUMERIC_FIELDS, *_TIME_FIELDS):
        value = obj.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue  # absent, or a type yt-dlp converts itself
        if key in _TIME_FIELDS:
            low, high = _TIME_RANGE
            if not low <= value <= high:  # also NaN
                raise bad(key, "a Unix time in seconds between the years 1 and 2200", value)
        elif not abs(value) <= _MAX_NUMBER:  # also NaN
            raise bad(key, "a finite number of size at most 2**53", value)
    date = obj.get("upload_date")
    if date is not None and not (isinstance(date, str) and _DATE.fullmatch(date) and _is_date(date)):
        raise bad("upload_date", "a date as YYYYMMDD", date)


def _is_date(text: str) -> bool:
    """Whether ``YYYYMMDD`` text is a day of the calendar."""
    try:
        datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return False
    return True


def _video_names(keys: Iterable[str]) -> set[str]:
    """``keys`` (video ids and URLs) with the video ids of the URLs among them."""
    return {name for k in keys for name in (k, video_id_of(k)) if name}


def _candidate_names(cand: Candidate) -> set[str]:
    """What a shop map may name a candidate's video by: the keys it is looked up by, and the
    video ids of its URLs (its page URL may only be known once it is read)."""
    info = cand.payload if isinstance(cand.payload, dict) else {}
    keys = (cand.raw_id, cand.url, info.get("id"), info.get("webpage_url"), info.get("original_url"))
    return _video_names(str(k) for k in keys if k is not None)


def read_infos(path: Path) -> list[dict[str, Any]]:
    """The checked info dicts of a saved info file (:func:`check_info`)."""
    infos = load_info_file(path)
    for n, info in enumerate(infos, 1):
        check_info(info, str(path), n if len(infos) > 1 else None)
    return infos


def _info_paths(path: Path) -> list[Path] | None:
    """The info files a folder or ``.json`` file target names; None for other targets."""
    if is_dir(path):
        return sorted(path.glob("*.json"))
    if is_file(path) and path.suffix == ".json":
        return [path]
    return None


def _is_list(path: Path) -> bool:
    return is_file(path) and path.suffix != ".json"


#: A list line that is a comment: ``#`` alone, or followed by a space (``# my picks``) or ``!``.
_COMMENT = re.compile(r"#(\s|!|$)")


def _line_target(line: str) -> str | None:
    """A list line's target; None for a blank or comment line (``#NAME``, no space, is a hashtag)."""
    line = line.split(" #", 1)[0].strip()
    return line if line and not _COMMENT.match(line) else None


def _targets(target: str) -> Iterator[str]:
    """The targets of ``target``, list files expanded (a list naming itself is refused)."""
    return expand_lists(target, is_list=_is_list, line_target=_line_target)


class TikTok(YtdlSource):
    """TikTok videos through yt-dlp (videos, users, hashtags, URL files, saved info JSON)."""

    name = SourceName.TIKTOK
    config_section = "tiktok"
    recheck_note = (
        "a TikTok video's page is read by yt-dlp's TikTok extractor, whose answer for a removed "
        "video this toolkit does not map to 'gone' yet (check its items by hand; mf-tracklets "
        "review --reject takes one out)"
    )
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
        SourceOption(
            "--shop-map",
            "CSV/JSONL: video id or URL -> shop image URL or file (one per video; a video collected "
            "with another one is paired anew).",
            kind="file",
        ),
    )
    examples = (
        "mf-collect tiktok world/fixtures/tiktok/ --shop-map world/fixtures/tiktok_shops.csv --root data"
        " --base-url http://127.0.0.1:8765",
        "mf-collect tiktok https://www.tiktok.com/@user/video/7300000000000000001 --root data --dry-run",
    )

    def __init__(self, ctx: CollectContext, *, shop_map: str | None = None) -> None:
        super().__init__(ctx)
        #: TikTok's app API refused a single video's details this run (:meth:`extract`)
        self._app_api_refused = False
        self.shop_map_file = shop_map
        if shop_map:
            self.shop_map = load_tiktok_shop_map(shop_map)

    def discover(self, targets: Sequence[str]) -> Iterator[Candidate]:
        """:meth:`Source.discover`; once every target is read, a ``--shop-map`` that names none
        of the videos found (other videos, or keyed otherwise) is named in a warning."""
        names = _video_names(self.shop_map)
        found, named = 0, False
        for cand in super().discover(targets):
            if not isinstance(cand, DiscoveryProblem):
                found += 1
                named = named or not names.isdisjoint(_candidate_names(cand))
            yield cand
        if self.shop_map_file and found and not named:
            log.warning(
                "%s: the shop map %s names none of the %d video%s found: no shop image is paired",
                self.name,
                self.shop_map_file,
                found,
                "" if found == 1 else "s",
            )

    expand_target = staticmethod(_targets)

    def host_map(self) -> dict[str, str]:
        """TikTok's page hosts and media domains -> ``tiktok.api_base`` (set by ``--base-url``)."""
        return tiktok_host_map(self.cfg.api_base, self.cfg.allowed_hosts, self.cfg.media_host_suffixes)

    def extractor_args(self) -> dict[str, dict[str, list[str]]]:
        """``tiktok.extractor_args`` as yt-dlp's ``extractor_args`` of its TikTok extractors."""
        return {"tiktok": dict(self.cfg.extractor_args)} if self.cfg.extractor_args else {}

    def extract(self, sid: str, cand: Candidate) -> dict[str, Any]:
        """:meth:`YtdlSource.extract`. With app info (``app_info`` or ``device_id``), yt-dlp asks
        TikTok's app API for a single video first and reads its web page when that fails: once
        the app API has refused such a request with a client error (it does not serve it there:
        405, 404, 403), later videos of the run are read from their web pages straight away, as
        yt-dlp would have read them after the same refusal (one request a video less)."""
        if not self.cfg.extractor_args:
            return super().extract(sid, cand)
        url = cand.url or sid
        if self._app_api_refused:
            args = {**self.cfg.extractor_args, "app_info": []}  # none: yt-dlp asks the web page only
            return self.fetcher.extract(url, extractor_args={"tiktok": args})
        warnings: list[str] = []
        try:
            return self.fetcher.extract(url, warnings=warnings)
        finally:
            self._app_api_refused = any(_app_api_refused(w) for w in warnings)

    @classmethod
    def check_targets(cls, targets: Sequence[str]) -> None:
        """Also check saved info files (after the list files: :meth:`Source.check_targets`),
        before anything is created."""
        super().check_targets(targets)
        for target in targets:
            for t in _targets(target.strip()):
                paths = _info_paths(target_path(t))
                if paths == []:
                    raise DataFormatError(
                        "folder holds no saved info file (*.json)",
                        where=str(target_path(t)),
                        hint="give the folder yt-dlp --write-info-json wrote, or a video, user or hashtag URL",
                    )
                if paths is not None:
                    for p in paths:
                        read_infos(p)
                elif t.startswith("@") and "/" in t:
                    raise DataFormatError("URL file not found", where=t[1:])

    @classmethod
    def policy(
        cls, cfg: CollectConfig, targets: Sequence[str], shop_map: str | None = None, **_: Any
    ) -> HostPolicy:
        mapping = load_tiktok_shop_map(shop_map) if shop_map else {}
        hosts = [*cfg.tiktok.allowed_hosts, *cfg.tiktok.shop_hosts, *url_hosts(mapping)]
        return HostPolicy.of(hosts, cfg.tiktok.media_host_suffixes)

    def discover_target(self, target: str) -> Iterator[Candidate]:
        """Candidates of each target ``target`` stands for; one that cannot be read (a user page
        that is gone) is a discovery problem, and the next targets are still read."""
        for t in _targets(target):
            yield from noting_problems(self._discover_one(t))

    def _discover_one(self, target: str) -> Iterator[Candidate]:
        """Candidates of one target that is not a list file."""
        paths = _info_paths(target_path(target))
        if paths is not None:
            for f in paths:
                yield from self._info_file(f)
        elif target.startswith("@") and "/" in target:
            raise DataFormatError("URL file not found", where=target[1:])
        else:
            url = expand_target(target)
            m = _VIDEO_URL.search(url)
            if m:
                yield Candidate(raw_id=m.group("id") or m.group("id2"), url=url, key=host_of(url) or None)
            else:
                yield from self._listing(url)

    def _listing(self, url: str) -> Iterator[Candidate]:
        """:meth:`playlist`; yt-dlp failing for want of app info (its hashtag listing asks TikTok's
        app API, only with an app install's info or a device id) is a :class:`FetchError` naming
        the setting that gives them (``app_info_required``)."""
        try:
            yield from self.playlist(url)
        except FetchError as exc:
            if _NO_APP_INFO not in exc.message:
                raise
            raise FetchError(
                "yt-dlp reads this listing from TikTok's app API, which it asks only with the info "
                "of an app install: no tiktok.extractor_args app_info or device_id is set",
                where=url,
                reason="app_info_required",
                hint="set tiktok.extractor_args in the --config YAML, e.g. 'tiktok: {extractor_args: "
                "{app_info: [IID/musical_ly/35.1.3/2023501030/0]}}' with the install id (IID) of a "
                "real TikTok app, or 'device_id: [ID]'; users' videos (@NAME) and video URLs need "
                "neither",
            ) from None

    def _info_file(self, path: Path) -> Iterator[Candidate]:
        for info in read_infos(path):
            fmt_url = next(
                (f.get("url") for f in info.get("formats") or [] if isinstance(f, dict)), info.get("url")
            )
            yield Candidate(
                raw_id=None if info.get("id") is None else str(info["id"]),
                url=info.get("webpage_url"),
                key=host_of(fmt_url or "") or None,
                payload=info,
            )
