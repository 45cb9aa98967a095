"""Small HTML/XML readers for product and listing pages (JSON-LD, Open Graph, links, sitemaps,
gzip-compressed ones too)."""

from __future__ import annotations

import gzip
import io
import json
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from schemas.errors import FetchError


@dataclass
class PageData:
    """What a page carries that collectors read."""

    jsonld: list[Any] = field(default_factory=list)
    jsonld_errors: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)  # og:*, description, ...
    links: list[str] = field(default_factory=list)  # hrefs of <a> and <link>
    next_links: list[str] = field(default_factory=list)  # rel="next"
    title: str | None = None


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.data = PageData()
        self._script: list[str] | None = None
        self._in_title = False
        self._title: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "script" and a.get("type", "").lower().startswith("application/ld+json"):
            self._script = []
        elif tag == "meta":
            key = a.get("property") or a.get("name")
            if key and "content" in a:
                self.data.meta.setdefault(key.lower(), a["content"])
        elif tag in ("a", "link") and a.get("href"):
            self.data.links.append(a["href"])
            if "next" in a.get("rel", "").lower().split():
                self.data.next_links.append(a["href"])
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            text = "".join(self._script).strip()
            self._script = None
            if text:
                try:
                    self.data.jsonld.append(json.loads(text))
                except json.JSONDecodeError as exc:
                    self.data.jsonld_errors.append(f"line {exc.lineno} col {exc.colno}: {exc.msg}")
        elif tag == "title":
            self._in_title = False
            self.data.title = "".join(self._title).strip() or None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)
        elif self._in_title:
            self._title.append(data)


def read_page(html: str) -> PageData:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.data


def jsonld_nodes(blocks: list[Any]) -> list[dict[str, Any]]:
    """Every JSON-LD object, flattening lists and ``@graph``."""
    out: list[dict[str, Any]] = []
    stack = list(blocks)
    while stack:
        node = stack.pop(0)
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            out.append(node)
            if isinstance(node.get("@graph"), list):
                stack.extend(node["@graph"])
    return out


def has_type(node: dict[str, Any], name: str) -> bool:
    t = node.get("@type")
    return t == name or (isinstance(t, list) and name in t)


@dataclass
class ProductMeta:
    title: str | None
    description: str | None
    designer: str | None
    colour: str | None
    category_path: list[str]
    sku: str | None
    raw: dict[str, Any]


def parse_product(html: str, *, where: str) -> ProductMeta:
    """Title, designer, description, colour and breadcrumb of a product page.

    Raises ``FetchError(reason="malformed_jsonld")`` when a JSON-LD block does not parse and
    ``reason="no_product_data"`` when the page names no product at all.
    """
    page = read_page(html)
    if page.jsonld_errors:
        raise FetchError(
            f"JSON-LD does not parse ({page.jsonld_errors[0]})",
            where=where,
            reason="malformed_jsonld",
            hint="the site's page format may have changed",
        )
    nodes = jsonld_nodes(page.jsonld)
    product = next((n for n in nodes if has_type(n, "Product")), {})
    crumbs = next((n for n in nodes if has_type(n, "BreadcrumbList")), None)
    brand = product.get("brand")
    designer = brand.get("name") if isinstance(brand, dict) else (brand if isinstance(brand, str) else None)
    # the page's <title> alone is no product data: a bot check or an error page answered with
    # 200 ("Just a moment...") has one, and must fail (a rerun reads it again), not be recorded
    title = _text(product.get("name")) or page.meta.get("og:title")
    if not title:
        raise FetchError(
            "page has no product data (no JSON-LD Product, no og:title)"
            + (f"; its title: {page.title[:80]!r}" if page.title else ""),
            where=where,
            reason="no_product_data",
            hint="a bot check or an error page answered in its place? rerun later (it is tried again), "
            "or slow down with http.rate_per_host",
        )
    description = (
        _text(product.get("description")) or page.meta.get("og:description") or page.meta.get("description")
    )
    colour = _text(product.get("color") or product.get("colour"))
    path = breadcrumb_names(crumbs) if crumbs else []
    raw = {
        "jsonld": product,
        "breadcrumb": crumbs,
        "og": {k: v for k, v in page.meta.items() if k.startswith("og:")},
    }
    return ProductMeta(
        title=title,
        description=description,
        designer=designer or page.meta.get("product:brand"),
        colour=colour,
        category_path=path,
        sku=_id_text(product.get("sku") or product.get("productID")),
        raw=raw,
    )


def breadcrumb_names(crumbs: dict[str, Any]) -> list[str]:
    """Names of a BreadcrumbList in position order, leaving out a leading 'Home'."""
    items = crumbs.get("itemListElement") or []
    if not isinstance(items, list):
        return []
    pairs = []
    for i, el in enumerate(items):
        if not isinstance(el, dict):
            continue
        name = el.get("name")
        if name is None and isinstance(el.get("item"), dict):
            name = el["item"].get("name")
        if isinstance(name, str) and name.strip():
            pos = el.get("position", i)
            pairs.append((pos if isinstance(pos, int | float) else i, name.strip()))
    names = [n for _, n in sorted(pairs, key=lambda p: p[0])]
    if names and names[0].lower() in ("home", "net-a-porter", "homepage"):
        names = names[1:]
    return names


GZIP_MAGIC = b"\x1f\x8b"


def gunzip_capped(body: bytes, cap: int, *, where: str) -> bytes:
    """``body`` decompressed when it is gzip data (a ``*.xml.gz`` sitemap, sent as it is
    stored: no Content-Encoding), refused past ``cap`` bytes once decompressed; other bodies
    as they are."""
    if not body.startswith(GZIP_MAGIC):
        return body
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
            data = fh.read(cap + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise FetchError(
            f"gzip-compressed sitemap does not decompress ({exc})", where=where, reason="malformed_sitemap"
        ) from None
    if len(data) > cap:
        raise FetchError(
            f"sitemap exceeds the {cap}-byte cap once decompressed",
            where=where,
            reason="too_large",
            hint="raise http.max_page_bytes if the sitemap is legitimate",
        )
    return data


def sitemap_locs(xml_text: str, *, where: str) -> tuple[list[str], list[str]]:
    """(page URLs, child sitemap URLs) of a sitemap or sitemap index; anything else (a web page
    that is well-formed XML: a bot check) raises ``malformed_sitemap`` naming its root element."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise FetchError(f"sitemap does not parse: {exc}", where=where, reason="malformed_sitemap") from None
    tag = root.tag.rsplit("}", 1)[-1]
    if tag not in ("urlset", "sitemapindex"):
        raise FetchError(
            f"not a sitemap: its root element is <{tag[:40]}>, not <urlset> or <sitemapindex>",
            where=where,
            reason="malformed_sitemap",
            hint="a bot check or an error page answered in its place? rerun later (it is read again); "
            "else give the sitemap's own URL",
        )
    locs = [el.text.strip() for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "loc" and el.text]
    return ([], locs) if tag == "sitemapindex" else (locs, [])


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0].strip() or None
    return None


def _id_text(value: Any) -> str | None:
    """An id of JSON-LD (``sku``, ``productID``): a string, or a whole number written as one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value)
