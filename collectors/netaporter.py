"""Net-A-Porter: discover product pages, read their metadata, fetch the detail video and views.

Targets: nothing (the configured clothing listing), listing/designer/category page URLs or
paths (followed through their pagination; a page number that is not a whole number is refused
before anything is created), sitemap URLs (``*.xml``, gzip-compressed ``*.xml.gz`` too,
indexes followed), product page URLs, decimal product ids, or ``@FILE`` / a file path with one
id or URL a line (a target starting with ``/`` that is an existing local file is that file,
never a path requested from the site).

A product page that redirects to another product (or to a listing: sold out) is refused,
``product_moved`` (final), naming both pages: its metadata would describe the other product
while its video and images are looked up by the id asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

from collectors.base import Found, Source, TargetForm
from collectors.config import CollectConfig, host_of
from collectors.core import IN_PLACE, Candidate, CollectContext, status_for
from collectors.hosts import HostPolicy
from collectors.listfiles import expand_lists, is_file, target_path
from collectors.pages import gunzip_capped, parse_product, read_page, sitemap_locs
from schemas.errors import DataFormatError, FetchError
from schemas.items import AssetKind, MediaAsset, SourceItem, SourceName, Status
from schemas.redact import redacted_logger

log = redacted_logger("collectors.netaporter")


def _is_list(path: Path) -> bool:
    """An id file: ``@FILE``, or a path to an existing file (not a URL or a site path)."""
    return is_file(path)


def _line_target(line: str) -> str | None:
    line = line.split("#", 1)[0].strip()
    return line or None


def _on_site(target: str) -> bool:
    """A URL, or a path on the site: one starting with ``/`` that is not an existing local file
    (an id file given by its absolute path is read here, never requested from the site)."""
    if target.startswith(("http://", "https://")):
        return True
    return target.startswith("/") and not is_file(Path(target))


def _targets(target: str) -> Iterator[str]:
    """The targets of ``target``, id files expanded (a file naming itself is refused)."""
    if _on_site(target):
        return iter([target])
    if target.startswith("@") and not is_file(target_path(target)):
        raise DataFormatError("id file not found", where=target[1:], hint="give @FILE of an existing file")
    return expand_lists(target, is_list=_is_list, line_target=_line_target)


class NetAPorter(Source):
    """Net-A-Porter product pages, detail videos and shop/front/rear/fabric images.

    No target: the configured clothing listing. Listing pagination and sitemap indexes are
    followed. With --base-url, URLs on the real site's hosts are read on the base URL.
    """

    name = SourceName.NETAPORTER
    config_section = "netaporter"
    needs_targets = False
    target_forms = (
        TargetForm(
            "a listing, designer or category URL or path",
            "/en-us/shop/clothing",
            r"(https?://\S+)?/\S*",
        ),
        TargetForm(
            "a sitemap URL (indexes are followed)",
            "https://www.net-a-porter.com/sitemap.xml",
            r"https?://\S+",
        ),
        TargetForm(
            "a product page URL",
            "https://www.net-a-porter.com/en-us/shop/product/1234567",
            r"https?://\S+",
        ),
        TargetForm("a product id", "1234567", r"(?!\S*\.(?:txt|csv|jsonl?|xml)$)[^@\s/]\S*"),
        TargetForm("a file (also @FILE) with one id or URL a line", "world/fixtures/netaporter_ids.txt"),
    )
    examples = (
        "mf-collect netaporter https://www.net-a-porter.com/sitemap.xml --root data"
        " --base-url http://127.0.0.1:8765",
        "mf-collect netaporter @world/fixtures/netaporter_ids.txt --root data --catalog data/catalog.sqlite"
        " --base-url http://127.0.0.1:8765 --workers 4 --json",
        "mf-collect netaporter /en-us/shop/clothing --root data --base-url http://127.0.0.1:8765 --dry-run",
        "mf-collect netaporter --recheck --root data --base-url http://127.0.0.1:8765",
    )

    def __init__(self, ctx: CollectContext) -> None:
        super().__init__(ctx)
        self._product_re = re.compile(self.cfg.product_url_pattern)
        self._login_re = re.compile(self.cfg.login_url_pattern)
        self._count_re = (
            re.compile(self.cfg.listing_count_pattern) if self.cfg.listing_count_pattern else None
        )

    @classmethod
    def policy(cls, cfg: CollectConfig, targets: Sequence[str], **_: Any) -> HostPolicy:
        """The site's hosts; listing targets are checked against the config here (their page
        number), before anything is created."""
        for target in targets:
            for one in _targets(target.strip()):
                _check_page_number(one, cfg.netaporter.page_param)
        return HostPolicy.of(cfg.netaporter.hosts())

    # -- discovery -----------------------------------------------------------------
    def product_id(self, url: str) -> str | None:
        """The raw (unvalidated, unquoted) product id in a product page URL, or None."""
        m = self._product_re.search(urlsplit(url).path)
        if not m:
            return None
        raw = next((g for g in m.groups() if g), None)
        return unquote(raw) if raw is not None else None

    def _abs(self, target: str) -> str:
        """A path on the site, or a URL (on a host of the real site: moved onto ``site``)."""
        if target.startswith("/"):
            return self.cfg.site.rstrip("/") + target
        return self.cfg.on_site(target)

    def default_targets(self) -> list[str]:
        return [self.cfg.listing_path.format(locale=self.cfg.locale)]

    expand_target = staticmethod(_targets)

    def discover_target(self, target: str) -> Iterator[Candidate]:
        """Candidates of one target (an id file: of each of its lines). A page that cannot be
        read (a listing or sitemap the site does not answer) ends that target with a
        :class:`~collectors.core.DiscoveryProblem`; the other targets are still read."""
        from collectors.core import noting_problems

        for one in _targets(target):
            yield from noting_problems(self._discover_one(one))

    def _discover_one(self, target: str) -> Iterator[Candidate]:
        if target.isdigit():
            yield self._candidate(self._product_url(target), target)
        elif target.startswith(("http://", "https://", "/")):
            url = self._abs(target)
            raw = self.product_id(url)
            if raw is not None:
                yield self._candidate(url, raw)
            elif urlsplit(url).path.endswith(".xml") or "sitemap" in urlsplit(url).path:
                yield from self._from_sitemap(url, depth=0)
            else:
                yield from self._from_listing(url)
        elif target:
            # anything else is a product id (decoded; unsafe ones are refused when collected)
            raw = unquote(target)
            yield Candidate(raw_id=raw, url=None, key=host_of(self.cfg.site))
        else:
            raise DataFormatError(
                "empty target",
                where="TARGETS",
                hint="give product ids, product/listing/designer/sitemap URLs, or @FILE",
            )

    def page_url(self, sid: str) -> str | None:
        return self._product_url(sid)

    def _product_url(self, pid: str) -> str:
        return self.cfg.product_url.format(site=self.cfg.site.rstrip("/"), locale=self.cfg.locale, id=pid)

    def _candidate(self, url: str, raw_id: str) -> Candidate:
        """The candidate of a product URL. One on a host the site's config does not name (a
        sitemap's stale mirror or locale host) is read from the site's own product URL for its
        id: fetching it would be refused, and the refusal (final) would reject the id for good."""
        if host_of(url) not in self.cfg.hosts():
            log.warning(
                "%s: not on %s; product %s is read from the site's own page", url, self.cfg.site, raw_id
            )
            return Candidate(raw_id=raw_id, url=None, key=host_of(self.cfg.site))
        return Candidate(raw_id=raw_id, url=url, key=host_of(self.cfg.site))

    def _from_sitemap(self, url: str, depth: int) -> Iterator[Candidate]:
        """Product pages of a sitemap, and of its children for an index (3 levels deep). A child
        that cannot be read (gone, busy, malformed) is a problem of its own: the others are read."""
        from collectors.core import noting_problems
        from collectors.http import decode_text

        body, ctype, _ = self.client.get_bytes(url)
        body = gunzip_capped(body, self.client.cfg.max_page_bytes, where=url)
        pages, children = sitemap_locs(decode_text(body, ctype), where=url)
        for page in pages:
            raw = self.product_id(page)
            if raw is not None:
                yield self._candidate(self.cfg.on_site(page), raw)
        if depth < 3:
            for child in children:
                yield from noting_problems(self._from_sitemap(self.cfg.on_site(child), depth + 1))

    def _from_listing(self, url: str) -> Iterator[Candidate]:
        """Follow a listing's pages (``rel=next`` links, else ``?pageNumber=N+1``) until one adds
        nothing (with ``rel=next`` links: ``max_empty_pages`` in a row, so a cursor that changes
        on every page past the end is not followed to ``max_pages``). A page that cannot be read
        ends the listing (404/410 after the first page: its end; anything else raises, and the
        target is listed as a problem with the candidates of the pages before it kept). A first
        page that links no product at all (a bot check or an error page answered 200, a changed
        page) and a page redirected to the sign-in page are such problems too: a rerun reads them
        again, where an empty listing would have ended the run quietly with nothing collected.
        Only a first page that says itself it lists 0 products (its count, found by
        ``netaporter.listing_count_pattern``: a sold-out or new category) is an empty listing: a
        warning, nothing collected from it, no problem (exit 0)."""
        from collectors.http import decode_text

        seen_pages: set[str] = set()
        empty = 0  # pages in a row that added no product
        number = _page_number(url, self.cfg.page_param) or 1
        page_url: str | None = url
        found: set[str] = set()
        while page_url and page_url not in seen_pages and len(seen_pages) < self.cfg.max_pages:
            seen_pages.add(page_url)
            try:
                body, ctype, final = self.client.get_bytes(page_url)
            except FetchError as exc:
                if exc.reason in ("http_404", "http_410") and len(seen_pages) > 1:
                    break  # ran past the last page
                raise
            self._refuse_sign_in(page_url, final)
            text = decode_text(body, ctype)
            page = read_page(text)
            new = 0
            for href in page.links:
                link = self.cfg.on_site(urljoin(page_url, href))
                raw = self.product_id(link)
                if raw is not None and raw not in found:
                    found.add(raw)
                    new += 1
                    yield self._candidate(link, raw)
            if not found:
                count = self._listed_count(text)
                if count == 0:
                    log.warning(
                        "%s: the listing counts 0 products (an empty category: sold out, or new); "
                        "nothing to collect from it",
                        page_url,
                    )
                    return
                raise _no_products(page_url, page.title, count)
            empty = 0 if new else empty + 1
            if empty >= self.cfg.max_empty_pages:
                log.info("%s: %d pages in a row added no product; the listing ends here", page_url, empty)
                page_url = None
            elif page.next_links:
                page_url = self.cfg.on_site(urljoin(page_url, page.next_links[0]))
            elif new:
                number += 1
                page_url = _with_param(page_url, self.cfg.page_param, str(number))
            else:
                page_url = None

    def _listed_count(self, html: str) -> int | None:
        """The listing page's own count of its products (``netaporter.listing_count_pattern``'s
        first match), or None when the page has none (or the pattern is empty)."""
        m = self._count_re.search(html) if self._count_re else None
        return int(m.group("count")) if m and m.group("count") else None

    # -- one product ---------------------------------------------------------------
    def describe(self, sid: str, cand: Candidate) -> Found:
        from collectors.http import decode_text

        url = cand.url or self._product_url(sid)
        body, ctype, final = self.client.get_bytes(url)
        self._refuse_sign_in(url, final)
        meta = parse_product(decode_text(body, ctype), where=url)
        self._check_same_product(sid, url, final, meta.sku)
        item = SourceItem(
            source=self.name,
            source_id=sid,
            url=url,
            title=meta.title,
            description=meta.description,
            category_path=meta.category_path,
            designer=meta.designer,
            colour=meta.colour,
            metadata=meta.raw,
        )
        return Found(item, cand)

    def _refuse_sign_in(self, url: str, final: str) -> None:
        """Fail ``login_required`` (retried by a rerun) when ``url`` was redirected to the site's
        sign-in page (``netaporter.login_url_pattern``): the site wants a login or took this
        client for a bot; the page says nothing of the product or listing asked for."""
        if final == url or not self._login_re.search(urlsplit(final).path):
            return
        raise FetchError(
            f"redirected to the sign-in page {final}",
            where=url,
            reason="login_required",
            hint="the site asks this client to sign in (bot protection?): rerun later, slower "
            "(http.rate_per_host); if that is no sign-in page, set netaporter.login_url_pattern",
        )

    def _check_same_product(self, sid: str, url: str, final: str, sku: str | None) -> None:
        """Refuse (``product_moved``, final) a page that is another product's: the site
        redirected to another product page or to a page that is none (a listing: sold out), or
        its JSON-LD names another product number. Its metadata and this id's media would make
        a wrong pair; the item is never collected under an id that was not asked for."""
        other = self.product_id(final) if final != url else sid
        if other == sid and not (sku and sku.isdecimal() and sid.isdecimal() and sku != sid):
            return
        if other is None:
            message = f"redirects to {final}, which is not a product page (sold out or gone?)"
            hint = "nothing to collect for this id; --retry-rejected tries it again"
        else:
            now = other if other != sid else str(sku)
            message = (
                f"redirects to product {now} ({final})"
                if other != sid
                else f"its JSON-LD describes product {now}"
            )
            hint = f"collect {now} if that is the product you want; --retry-rejected tries {sid} again"
        raise FetchError(message, where=url, reason="product_moved", hint=hint)

    def _video_exists(self, item: SourceItem, video_url: str) -> bool:
        """HEAD the detail video: False on 404/410. A server that does not answer HEAD (405,
        501) says nothing about the video: True, and the GET decides (its 404 = no video). The
        answer is kept for the item (:meth:`CollectContext.head`): it also tells whether the
        source still serves a video collected before (one HEAD, not two)."""
        from collectors.http import HEAD_REFUSED

        try:
            self.ctx.head(item, video_url)
            return True
        except FetchError as exc:
            if exc.reason in ("http_404", "http_410"):
                return False
            if exc.reason in HEAD_REFUSED:
                log.debug("%s: HEAD refused (%s); fetching it decides", video_url, exc.reason)
                return True
            raise

    def fetch_media(self, found: Found) -> tuple[list[MediaAsset], set[AssetKind]]:
        ctx, item, sid = self.ctx, found.item, found.item.source_id
        assets: list[MediaAsset] = []
        video_url = self.cfg.video_url.format(id=sid)
        has_video: bool | None = True
        if self.cfg.check_video_with_head:
            try:
                has_video = self._video_exists(item, video_url)
            except FetchError as exc:
                failed = MediaAsset(
                    source=self.name,
                    source_id=sid,
                    kind=AssetKind.VIDEO,
                    url=video_url,
                    status=status_for(exc.reason),
                    reason=exc.reason,
                )
                if exc.reason == "interrupted":
                    return [failed], {AssetKind.VIDEO}
                ctx.note_failure(failed, exc, video_url)  # its problem line says why (it said null)
                ctx.catalog.upsert_assets([failed])
                assets.append(failed)
                has_video = None
        if has_video:
            video = ctx.fetch_asset(item, AssetKind.VIDEO, video_url, "video")
            if video.reason in ("http_404", "http_410"):
                has_video = False
            else:
                assets.append(video)
        if has_video is False:
            ctx.catalog.upsert_assets(
                [
                    MediaAsset(
                        source=self.name,
                        source_id=sid,
                        kind=AssetKind.VIDEO,
                        url=video_url,
                        status=Status.REJECTED,
                        reason="no_video",
                    )
                ]
            )
        for kind_name, view in self.cfg.views.items():
            kind = AssetKind(kind_name)
            img_url = self.cfg.image_url.format(id=sid, view=view, size=self.cfg.image_size)
            asset = ctx.fetch_asset(item, kind, img_url, "image")
            if (
                asset.status in IN_PLACE
                or kind_name in self.cfg.required_views
                or asset.reason not in ("http_404", "http_410")
            ):
                assets.append(asset)
        item.has_video = has_video
        required = {AssetKind(k) for k in self.cfg.required_views}
        if has_video is not False:
            required.add(AssetKind.VIDEO)
        return assets, required


def _no_products(url: str, title: str | None, count: int | None = None) -> FetchError:
    """The error of a listing whose first page links no product page (``count``: the number of
    products the page says it lists, None when it says none)."""
    titled = f"; its title: {title[:80]!r}" if title else ""
    if count:
        return FetchError(
            f"listing page counts {count} products but links no product page{titled} "
            "(its product links look different now)",
            where=url,
            reason="no_products_listed",
            hint="look at a product link of the page and set netaporter.product_url_pattern to match it",
        )
    return FetchError(
        f"listing page links no product page{titled} and does not count its products"
        " (a bot check or an error page answered in its place, or the listing page changed)",
        where=url,
        reason="no_products_listed",
        hint="rerun later (it is read again), slower (http.rate_per_host); if product links look "
        "different now, set netaporter.product_url_pattern; if the page counts its products "
        "otherwise, set netaporter.listing_count_pattern (a count of 0 is an empty category)",
    )


def _page_number(url: str, param: str) -> int | None:
    """The listing page number in ``url``'s query (None without one or when it is no whole number)."""
    raw = dict(parse_qsl(urlsplit(url).query)).get(param, "").strip()
    return int(raw) if raw.isdecimal() else None


def _check_page_number(target: str, param: str) -> None:
    """Refuse a listing target whose page number is not a whole number (``?pageNumber=abc``)."""
    if not target.startswith(("http://", "https://", "/")):
        return
    raw = dict(parse_qsl(urlsplit(target).query)).get(param)
    if raw is not None and raw.strip() and _page_number(target, param) is None:
        raise DataFormatError(
            f"listing page number {param}={raw!r} is not a whole number",
            where=target,
            hint=f"give {param}=N (N = 1, 2, ...) or leave it out to start at the first page",
        )


def _with_param(url: str, key: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != key] + [(key, value)]
    return urlunsplit(parts._replace(query=urlencode(query)))
