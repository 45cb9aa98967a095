"""Settings of the collectors: HTTP politeness and every site pattern, with documented defaults.

Everything a site may change (hosts, URL templates, image views) lives here so that a user
fixes a broken pattern with a YAML file (``--config``) instead of a patch. ``--base-url``
points every host of every source at one loopback site (see :func:`with_base_url`).
"""

from __future__ import annotations

import os
import re
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from schemas.config import load_config
from schemas.items import AssetKind
from schemas.taxonomy import Partition

#: items collected at once at most (``workers``, ``--workers``): the HTTP pool holds two
#: connections per worker
MAX_WORKERS = 256
#: the longest wait a timeout or backoff may ask for (seconds; a day): sockets and timers refuse
#: values past ~9.2e9 with a traceback
MAX_WAIT_S = 86400.0
#: the slowest request rate per host (requests per second: one an hour)
MIN_RATE = 1 / 3600

DEFAULT_USER_AGENT = (
    "MovingFashionToolkit/0.1 (+https://github.com/movingfashion/toolkit; research dataset builder)"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class HttpConfig(_Model):
    """Politeness and safety limits of the shared HTTP client."""

    user_agent: str = Field(DEFAULT_USER_AGENT, description="identifying User-Agent with a contact URL")
    connect_timeout_s: float = Field(
        10.0, gt=0, le=MAX_WAIT_S, description="seconds to wait for a connection"
    )
    read_timeout_s: float = Field(
        30.0, gt=0, le=MAX_WAIT_S, description="seconds to wait for the next bytes of an answer"
    )
    page_timeout_s: float = Field(
        120.0,
        gt=0,
        le=MAX_WAIT_S,
        description="seconds a page (HTML, JSON, robots.txt) may take in all, however it trickles in; "
        "then it fails 'timeout' and is retried",
    )
    min_rate_bytes_s: float = Field(
        1024.0,
        ge=0,
        description="a download slower than this many bytes/s over a whole minute fails 'timeout' "
        "(kept for resuming) and is retried; 0: no minimum",
    )
    rate_per_host: float = Field(
        2.0, ge=MIN_RATE, description="sustained requests per second per host (at least one an hour)"
    )
    burst_per_host: int = Field(4, ge=1, description="token-bucket size per host")
    max_concurrency_per_host: int = Field(4, ge=1, description="requests in flight per host")
    max_retries: int = Field(5, ge=0, description="retries after the first attempt")
    backoff_base_s: float = Field(0.5, ge=0, le=MAX_WAIT_S, description="first backoff; doubles each retry")
    backoff_max_s: float = Field(60.0, ge=0, le=MAX_WAIT_S, description="longest backoff between retries")
    jitter: float = Field(0.25, ge=0, le=1, description="random extra fraction added to each backoff")
    retry_after_max_s: float = Field(
        300.0, ge=0, le=MAX_WAIT_S, description="longest Retry-After honoured (longer is capped)"
    )
    retry_statuses: list[Annotated[int, Field(ge=400, le=599)]] = Field(
        default_factory=lambda: [429, 500, 502, 503, 504],
        description="HTTP statuses retried with backoff (error statuses, 400-599)",
    )
    block_after: int = Field(
        25,
        ge=0,
        description="a host answering 403 or 429 (past the retries) this many times in a row is taken as "
        "blocking this client: nothing more is asked of it in the run and its items fail host_blocked, "
        "retried by a rerun (0: never). Counted: the client's answers and the site libraries' "
        "(instaloader's API 403s too: Instagram sends them to a client it limits, not for one post; a "
        "deleted or private post is answered with no post). Not counted: a 403 refusing one URL only "
        "(item_refusal_pattern), which clears the count as any other answer does",
    )
    item_refusal_pattern: str = Field(
        r"(?i)url signature (?:expired|mismatch)|bad url (?:hash|timestamp)|invalid url signature",
        description="regex: a 403 of a download whose body (its first KiB) matches it refuses that URL only "
        "(a signed media URL expired, as Instagram's CDN says), not this client: the item fails http_403 "
        "and the 403 does not count towards block_after ('': every 403 counts)",
    )
    max_body_bytes: int = Field(512 * 1024 * 1024, gt=0, description="responses larger than this are cut off")
    max_page_bytes: int = Field(8 * 1024 * 1024, gt=0, description="cap for HTML/JSON/robots pages")
    max_range_rounds: int = Field(
        64,
        ge=1,
        description="answers one download try may take when the server sends the file in ranges "
        "(each 206 ending short of the file is followed by a request for the rest)",
    )
    max_redirects: int = Field(
        5, ge=0, description="redirects followed per request (each checked against the allow-list)"
    )
    respect_robots: bool = Field(True, description="obey each host's robots.txt (Disallow and Crawl-delay)")
    chunk_bytes: int = Field(256 * 1024, gt=0, description="read size of streamed downloads")
    video_content_types: list[str] = Field(
        default_factory=lambda: ["video/", "application/octet-stream", "binary/octet-stream"],
        description="accepted Content-Type prefixes for videos",
    )
    image_content_types: list[str] = Field(
        default_factory=lambda: ["image/", "application/octet-stream", "binary/octet-stream"],
        description="accepted Content-Type prefixes for images",
    )

    @field_validator("item_refusal_pattern")
    @classmethod
    def _item_refusal(cls, value: str) -> str:
        return check_regex(value)


#: The image kinds a Net-A-Porter view can be (``views`` keys, ``required_views``).
VIEW_KINDS = (AssetKind.SHOP, AssetKind.FRONT, AssetKind.REAR, AssetKind.FABRIC)

#: The placeholders each Net-A-Porter URL template may use.
TEMPLATE_FIELDS = {
    "listing_path": ("locale",),
    "product_url": ("site", "locale", "id"),
    "video_url": ("id",),
    "image_url": ("id", "view", "size"),
}


def check_regex(value: str) -> str:
    """``value`` when it compiles as a regular expression; else a ValueError saying why."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression ({exc})") from None
    return value


def check_template(template: str, names: tuple[str, ...]) -> str:
    """``template`` if ``str.format`` fills it with ``names`` alone; else ValueError saying why."""
    allowed = ", ".join("{" + n + "}" for n in names)
    try:
        template.format(**dict.fromkeys(names, "1234567"))
    except KeyError as exc:
        raise ValueError(f"unknown placeholder {{{exc.args[0]}}} (allowed: {allowed})") from None
    except (IndexError, AttributeError, TypeError, ValueError) as exc:
        raise ValueError(
            f"not a URL template of {allowed} ({exc}); write a literal brace as {{{{ or }}}}"
        ) from None
    return template


class NetAPorterConfig(_Model):
    """Net-A-Porter site patterns (defaults: the real site). The patterns are checked when the
    config is read: a regex that does not compile or lacks its group, a template placeholder
    other than the ones named, or a view that is not an image kind is a config error."""

    site: str = Field("https://www.net-a-porter.com", description="pages, listings, sitemaps, robots.txt")
    locale: str = Field("en-us", description="the {locale} of page and listing URLs")
    listing_path: str = Field(
        "/{locale}/shop/clothing", description="default listing when no target is given"
    )
    page_param: str = Field("pageNumber", description="query parameter of listing pagination")
    max_pages: int = Field(500, ge=1, description="stop following listing pages after this many")
    max_empty_pages: int = Field(
        2,
        ge=1,
        description="stop a listing after this many pages in a row add no product, even when they link a next page",
    )
    product_url_pattern: str = Field(
        r"/shop/product/(?:[^/?#]+/)*(?P<id>[^/?#]+)/?$|/product/(?P<old>[^/?#]+)/?$",
        description="regex matching product page paths; group 'id' or 'old'",
    )
    login_url_pattern: str = Field(
        r"/(?:[^/?#]+/)*(?:sign-?in|log-?in)(?:[/?#]|$)",
        description="regex matching the site's sign-in pages: a page redirected there fails login_required "
        "(retried by a rerun), not as a moved product or an empty listing",
    )
    listing_count_pattern: str = Field(
        r"""(?:\bdata-(?:total-products|product-count|results-count)\s*=\s*["']?\s*"""
        r"""|"(?:totalProducts|recordSetTotal|productCount)"\s*:\s*)(?P<count>\d+)""",
        description="regex finding a listing page's own count of its products (group 'count'; the first "
        "match counts): a listing that links no product and counts 0 is an empty category (a warning, "
        "exit 0); one that counts more than 0, or has no count, fails no_products_listed (the page "
        "changed, or a bot check answered); empty: every listing linking no product fails",
    )
    product_url: str = Field(
        "{site}/{locale}/shop/product/{id}", description="page of an id from a user file"
    )
    video_url: str = Field(
        "https://video.net-a-porter.com/videos/productPage/{id}_detail.mp4",
        description="product video of an id (a 404 means the product has none)",
    )
    image_url: str = Field(
        "https://cache.net-a-porter.com/images/products/{id}/{id}_{view}_{size}.jpg",
        description="image of an id in a view (see views) and size",
    )
    image_size: str = Field("l", description="the {size} of image_url")
    views: dict[str, str] = Field(
        default_factory=lambda: {"shop": "fr", "front": "in", "rear": "bk", "fabric": "cu"},
        description="asset kind -> site view code",
    )
    required_views: list[str] = Field(
        default_factory=lambda: ["shop"],
        description="kinds whose failure fails the item (others are optional)",
    )
    check_video_with_head: bool = Field(True, description="HEAD the video URL first (404 -> no video)")
    site_aliases: list[str] = Field(
        default_factory=list,
        description="hosts whose URLs (targets, sitemap and listing links) are read as URLs of `site`; "
        "--base-url sets them to the real site's hosts, so its sitemap URL works on a mirror",
    )

    @field_validator("product_url_pattern")
    @classmethod
    def _product_pattern(cls, value: str) -> str:
        try:
            groups = re.compile(value).groupindex
        except re.error as exc:
            raise ValueError(f"not a regular expression ({exc})") from None
        if not {"id", "old"} & set(groups):
            raise ValueError("the regex needs a group named 'id' (or 'old'): (?P<id>...)")
        return value

    @field_validator("login_url_pattern")
    @classmethod
    def _login_pattern(cls, value: str) -> str:
        return check_regex(value)

    @field_validator("listing_count_pattern")
    @classmethod
    def _count_pattern(cls, value: str) -> str:
        if not value:
            return value
        groups = re.compile(check_regex(value)).groupindex
        if "count" not in groups:
            raise ValueError("the regex needs a group named 'count': (?P<count>\\d+) (empty: no check)")
        return value

    @field_validator(*TEMPLATE_FIELDS)
    @classmethod
    def _template(cls, value: str, info: ValidationInfo) -> str:
        return check_template(value, TEMPLATE_FIELDS[str(info.field_name)])

    @field_validator("views")
    @classmethod
    def _views(cls, value: dict[str, str]) -> dict[str, str]:
        _check_kinds(value)
        return value

    @field_validator("required_views")
    @classmethod
    def _required_kinds(cls, value: list[str]) -> list[str]:
        _check_kinds(value)
        return value

    @model_validator(mode="after")
    def _required_are_views(self) -> NetAPorterConfig:
        missing = [k for k in self.required_views if k not in self.views]
        if missing:
            raise ValueError(
                f"required_views {missing} are not in views {sorted(self.views)}: add them to views "
                "(with their site view code) or drop them from required_views"
            )
        return self

    def hosts(self) -> set[str]:
        return {_netloc(self.site), _netloc(self.video_url), _netloc(self.image_url)}

    def on_site(self, url: str) -> str:
        """``url`` moved onto ``site`` when its host is one of ``site_aliases`` (else unchanged)."""
        parts = urlsplit(url)
        if not self.site_aliases or host_of(url) not in {normalize_host(h) for h in self.site_aliases}:
            return url
        site = urlsplit(self.site)
        return urlunsplit(parts._replace(scheme=site.scheme, netloc=site.netloc))


def _check_kinds(kinds: list[str] | dict[str, str]) -> None:
    """ValueError naming the first kind that is not an image kind a view can be."""
    allowed = [str(k) for k in VIEW_KINDS]
    for kind in kinds:
        if kind not in allowed:
            raise ValueError(f"unknown view kind {kind!r} (allowed: {', '.join(allowed)})")


class TikTokConfig(_Model):
    """TikTok through yt-dlp."""

    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["www.tiktok.com", "tiktok.com", "vm.tiktok.com", "m.tiktok.com"],
        description="pages the extractor may visit (host[:port]; without a port, the web ports only)",
    )
    media_host_suffixes: list[str] = Field(
        default_factory=lambda: [
            ".tiktokcdn.com",
            ".tiktokcdn-us.com",
            ".tiktokv.com",
            ".byteoversea.com",
            ".ibytedtos.com",
            ".muscdn.com",
        ],
        description="domains that format URLs may point at (each domain and the names under it, on the web ports)",
    )
    shop_hosts: list[str] = Field(default_factory=list, description="extra hosts allowed for shop images")
    ratelimit_bytes_s: int | None = Field(None, ge=1, description="yt-dlp bandwidth cap (bytes/s)")
    format: str = Field("best[ext=mp4]/best", description="yt-dlp format selector")
    api_base: str | None = Field(
        None,
        description="where yt-dlp's requests for TikTok's page hosts (allowed_hosts) and media domains "
        "(media_host_suffixes) go instead; the allow-list still applies to the real host asked for; "
        "--base-url sets it (a mirror, the loopback world)",
    )
    extractor_args: dict[str, list[str]] = Field(
        default_factory=dict,
        description="yt-dlp's TikTok extractor arguments (its extractor_args 'tiktok:' ones), name -> "
        "values; a hashtag listing (#NAME) is read from TikTok's app API and needs app_info "
        "(IID/APP_NAME/APP_VERSION/MANIFEST_APP_VERSION/AID, the IID of a real app install) or "
        "device_id; with app_info, single videos are asked of the app API first too (until it refuses"
        " one with a client error: later videos are read from their pages only)",
    )

    @field_validator("extractor_args", mode="before")
    @classmethod
    def _extractor_args(cls, value: object) -> object:
        """A single value may be given as a string; names are yt-dlp's (lower case, ``_``)."""
        if not isinstance(value, dict):
            return value
        out: dict[object, object] = {}
        for name, values in value.items():
            if not isinstance(name, str) or not _ARG_NAME.fullmatch(name):
                raise ValueError(
                    f"extractor argument name {name!r} is not one of yt-dlp's (lower case letters, "
                    "digits and '_', e.g. app_info, device_id)"
                )
            vals = [values] if isinstance(values, str) else values
            if isinstance(vals, list):
                for v in vals:
                    if isinstance(v, str) and (not v.strip() or any(c < " " for c in v)):
                        raise ValueError(
                            f"extractor argument {name!r}: a value must be non-empty text on one line"
                        )
            out[name] = vals
        return out


#: a yt-dlp extractor argument's name (``tiktok.extractor_args``)
_ARG_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


class InstagramConfig(_Model):
    """Instagram through instaloader."""

    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["www.instagram.com", "instagram.com", "i.instagram.com"],
        description="pages and API hosts instaloader may query (host[:port]; without a port, the web ports only)",
    )
    media_host_suffixes: list[str] = Field(
        default_factory=lambda: [".cdninstagram.com", ".fbcdn.net"],
        description="domains that post media URLs may point at (each domain and the names under it, on the web ports)",
    )
    max_posts_per_target: int = Field(1000, ge=1, description="posts read per profile or hashtag at most")
    api_base: str | None = Field(
        None,
        description="where instaloader's queries go instead of Instagram's API hosts (www./i.instagram.com); "
        "--base-url sets it (a mirror, the loopback world)",
    )
    query_sleep: bool = Field(True, description="instaloader's own random pause before each query")
    missing_page_pattern: str = Field(
        r"(?i)this page isn(?:'|&#39;|&#x27;|’)t available|Page not found",
        description="regex: a profile page (404 or 200) whose text matches it says the profile does not "
        "exist (http_404), whatever other queries it embeds",
    )
    login_page_pattern: str = Field(
        r"(?i)/accounts/login|loginForm|Log in to Instagram|Log into Instagram",
        description="regex: a 200 page embedding no data whose text matches it is Instagram's login page "
        "(login_required); any other such page is a block or a 'please wait' page (page_without_data, "
        "retried by a rerun)",
    )

    @field_validator("missing_page_pattern", "login_page_pattern")
    @classmethod
    def _page_patterns(cls, value: str) -> str:
        return check_regex(value)


class UrlsConfig(_Model):
    """Generic URL lists through yt-dlp (any host given in the list is allowed)."""

    ratelimit_bytes_s: int | None = Field(None, ge=1, description="yt-dlp bandwidth cap (bytes/s)")
    format: str = Field("best[ext=mp4]/best", description="yt-dlp format selector")


class LocalConfig(_Model):
    """Your own files (``mf-collect local``): a manifest, or a folder of videos beside their shop images."""

    partition: Partition = Field(
        Partition.HARD,
        description="partition of an item whose manifest row names none (and of a folder's items): "
        "regular (one person, plain background) or hard (social media, street)",
    )
    video_extensions: list[str] = Field(
        default_factory=lambda: [".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi"],
        description="file name endings read as videos when a folder is collected",
    )
    image_extensions: list[str] = Field(
        default_factory=lambda: [".jpg", ".jpeg", ".png", ".webp"],
        description="file name endings read as a video's shop image (the same stem, beside it) in a folder",
    )

    @field_validator("video_extensions", "image_extensions")
    @classmethod
    def _dotted(cls, exts: list[str]) -> list[str]:
        if not exts or any(not e.startswith(".") or len(e) < 2 for e in exts):
            raise ValueError("give file name endings with their dot, e.g. ['.mp4', '.mov']")
        return [e.lower() for e in exts]


class CollectConfig(_Model):
    """Everything ``mf-collect`` reads from ``--config``."""

    http: HttpConfig = Field(default_factory=HttpConfig)
    netaporter: NetAPorterConfig = Field(default_factory=NetAPorterConfig)
    tiktok: TikTokConfig = Field(default_factory=TikTokConfig)
    instagram: InstagramConfig = Field(default_factory=InstagramConfig)
    urls: UrlsConfig = Field(default_factory=UrlsConfig)
    local: LocalConfig = Field(default_factory=LocalConfig)
    executor: str = Field(
        "local",
        description="executor backend: local (threads here) or ray (a Ray cluster; movingfashion.executors)",
    )
    workers: int = Field(
        4, ge=1, le=MAX_WORKERS, description="items collected at once (downloads in flight; --workers)"
    )
    max_failed_runs: int = Field(
        3,
        ge=0,
        description="runs in which an item may fail for a reason that looks permanent (a page without "
        "product data, a file always cut short, a malformed saved post, ...) before reruns give it up: "
        "it is rejected gave_up:<reason> and skipped until --retry-given-up; a success sets its count "
        "back to 0; transient failures (429/5xx past the retries, timeouts, connection errors, a "
        "blocked host, 401/403, a local fault, a video not yet available) never count; 0: never give up",
    )
    recheck_max_gone_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="--recheck marks nothing gone when more than this share of the items asked "
        "(and at least 5) answer gone: a site answering 404 for everything (moved, a login wall) "
        "is not a mass takedown",
    )

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, name: str) -> str:
        from movingfashion.executors import known_executor

        return known_executor(name)


def _netloc(url: str) -> str:
    return normalize_host(urlsplit(url.replace("{", "").replace("}", "")).netloc)


def host_of(url: str) -> str:
    """The normalized ``host[:port]`` of a URL (``""`` for none)."""
    return normalize_host(urlsplit(url).netloc) if url else ""


def normalize_host(netloc: str) -> str:
    """``Host:443`` -> ``host``; keeps non-default ports (``127.0.0.1:8000``)."""
    netloc = netloc.lower().rsplit("@", 1)[-1]
    for default in (":80", ":443"):
        if netloc.endswith(default):
            netloc = netloc[: -len(default)]
    return netloc


def with_base_url(cfg: CollectConfig, base_url: str) -> CollectConfig:
    """Point every host of every source at ``base_url`` (a loopback test site, a mirror).

    Net-A-Porter's page, video and image URLs move onto ``base_url``, and URLs on the real
    site's hosts given as targets (``https://www.net-a-porter.com/sitemap.xml``) or found in
    sitemaps and listings are read as the same paths on ``base_url``. instaloader's queries to
    Instagram's API hosts are sent to ``base_url`` (``instagram.api_base``), and so are yt-dlp's
    requests for TikTok's pages and media domains (``tiktok.api_base``).
    """
    base = base_url.rstrip("/")
    host = normalize_host(urlsplit(base).netloc)
    nap = cfg.netaporter.model_copy(
        update={
            "site": base,
            "video_url": base + urlsplit(cfg.netaporter.video_url).path,
            "image_url": base + urlsplit(cfg.netaporter.image_url).path,
            "site_aliases": sorted({*cfg.netaporter.site_aliases, *cfg.netaporter.hosts()} - {host}),
        }
    )
    tiktok = cfg.tiktok.model_copy(
        update={"allowed_hosts": [*cfg.tiktok.allowed_hosts, host], "api_base": base}
    )
    insta = cfg.instagram.model_copy(
        update={"allowed_hosts": [*cfg.instagram.allowed_hosts, host], "api_base": base}
    )
    return cfg.model_copy(update={"netaporter": nap, "tiktok": tiktok, "instagram": insta})


def load_collect_config(
    path: str | os.PathLike[str] | None = None,
    *,
    base_url: str | None = None,
    ignore_robots: bool = False,
    workers: int | None = None,
) -> CollectConfig:
    """Defaults, then the YAML file, then the command-line switches."""
    cfg = load_config(CollectConfig, path, stage="collect")
    if base_url:
        cfg = with_base_url(cfg, base_url)
    if ignore_robots:
        cfg = cfg.model_copy(update={"http": cfg.http.model_copy(update={"respect_robots": False})})
    if workers is not None:
        cfg = cfg.model_copy(update={"workers": workers})
    return cfg
