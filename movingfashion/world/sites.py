"""What the loopback sites answer: URL patterns and page bodies, in the shapes of the real sources.

Net-A-Porter: listing pages, designer pages, sitemap, product pages (JSON-LD Product and
BreadcrumbList, HTML breadcrumb, Open Graph), ``<id>_detail.mp4`` videos and
``<id>_<view>_<size>.jpg`` images. TikTok and Instagram media live under ``/tiktok/`` and
``/instagram/``; plain files under ``/files/``. TikTok's web pages (a user's ``/@<user>``, its
video list ``/api/creator/item_list/``, a video's ``/@<user>/video/<id>``, a hashtag's
``/tag/<name>`` and its videos from the app API ``/aweme/v1/challenge/aweme/``) are answered in
the shapes yt-dlp's TikTok extractors read (``tiktok_web.py``). No faults here (see ``server.py``).
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from movingfashion.world.truth import WorldProduct, WorldTruth
from schemas.items import SourceName
from schemas.paths import PathEscapeError, resolve_under

from .catalog import slug
from .faults import EVIL_IDS

#: Net-A-Porter image view code -> world image view (shop=fr, front=in, rear=bk, fabric=cu).
NAP_VIEWS = {"fr": "shop", "in": "front", "bk": "rear", "cu": "fabric"}
NAP_SIZES = ("xs", "s", "m", "l", "xl", "xxl")
PAGE_SIZE = 10
CONTENT_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".png": "image/png"}


@dataclass
class Answer:
    """A response before faults: status, content type, body (bytes or a file), and what it is."""

    status: int
    content_type: str = "text/html; charset=utf-8"
    body: bytes | Path = b""
    media: bool = False  # a video or an image (faults apply)
    video: bool = False
    product_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _price(pid: str) -> int:
    return 150 + int.from_bytes(pid.encode()[:4].ljust(4, b"0"), "big") % 1800


#: Instagram's start page as a logged-out visitor gets it, in the parts instaloader reads before
#: a logged-out query: the ``LSD`` token and the (logged-out, 0) ``IG_USER_EIMU``
START_PAGE = (
    b'<!DOCTYPE html><html><head><script type="application/json">'
    b'{"require":[["ScheduledServerJS","handle",null,[{"define":[["LSD",[],{"token":"worldlsd"},323],'
    b'["CurrentUserInitialData",[],{"IG_USER_EIMU":"0"},1]]}]]]}'
    b"</script></head><body></body></html>"
)


class Site:
    """URL builder and request router over one world folder."""

    def __init__(
        self,
        world_dir: Path,
        truth: WorldTruth,
        base_url: str,
        evil_ids: bool = False,
        page_size: int = PAGE_SIZE,
        malformed_jsonld: list[str] | None = None,
        taken_down: list[str] | None = None,
    ) -> None:
        self.world = world_dir
        self.malformed = set(malformed_jsonld or [])
        self.truth = truth
        self.base = base_url.rstrip("/")
        self.evil = evil_ids
        self.page_size = page_size
        self.taken_down = set(taken_down or [])

    @property
    def taken_down(self) -> set[str]:
        """Products removed from the sites: their pages, posts and media answer 404 and no
        listing names them (:attr:`products` leaves them out)."""
        return self._taken_down

    @taken_down.setter
    def taken_down(self, ids: set[str]) -> None:
        self._taken_down = set(ids)
        #: the products the sites have now, by id
        self.products = {p.product_id: p for p in self.truth.products if p.product_id not in self._taken_down}

    # ------------------------------------------------------------------ URLs
    def nap_products(self, every: bool = False) -> list[WorldProduct]:
        """The Net-A-Porter products the site has now (``every``: taken-down ones too)."""
        products = self.truth.products if every else self.products.values()
        return [p for p in products if p.source == SourceName.NETAPORTER]

    def _live(self, items: list[WorldProduct]) -> list[WorldProduct]:
        return [p for p in items if p.product_id not in self.taken_down]

    def nap_path(self, p: WorldProduct | str) -> str:
        if isinstance(p, str):  # an unsafe id: a plausible path with the id URL-encoded
            return f"/en-us/shop/product/studio-nemi/clothing/tops/evil/{quote(p, safe='')}"
        crumbs = p.category_path or ["Clothing", "Other"]
        cat, sub = slug(crumbs[0]), slug(crumbs[-1])
        return (
            f"/en-us/shop/product/{slug(p.designer or 'designer')}/{cat}/{sub}/{slug(p.title)}/{p.product_id}"
        )

    def nap_url(self, p: WorldProduct | str) -> str:
        return self.base + self.nap_path(p)

    def nap_video_url(self, pid: str) -> str:
        return f"{self.base}/videos/productPage/{quote(pid, safe='')}_detail.mp4"

    def nap_image_url(self, pid: str, view: str = "fr", size: str = "l") -> str:
        q = quote(pid, safe="")
        return f"{self.base}/images/products/{q}/{q}_{view}_{size}.jpg"

    def nap_variant_url(self, pid: str, view: str = "fr", width: int = 920) -> str:
        return f"{self.base}/variants/images/{quote(pid, safe='')}/{view}/w{width}.jpg"

    def tiktok_video_url(self, pid: str) -> str:
        return f"{self.base}/tiktok/video/{quote(pid, safe='')}.mp4"

    def tiktok_shop_url(self, pid: str) -> str:
        return f"{self.base}/tiktok/shop/{quote(pid, safe='')}.jpg"

    def instagram_media_url(self, shortcode: str, name: str) -> str:
        return f"{self.base}/instagram/p/{quote(shortcode, safe='')}/{name}"

    def file_url(self, name: str) -> str:
        return f"{self.base}/files/{quote(name, safe='')}"

    # ------------------------------------------------------------------ routing
    def route(self, path: str, query: dict[str, list[str]]) -> Answer:
        parts = [unquote(p) for p in path.split("/") if p != ""]
        if path == "/robots.txt":
            return Answer(200, "text/plain; charset=utf-8", b"")  # filled by the server (faults)
        if path == "/":  # the start page: logged out, instaloader reads its cookie and tokens first
            return Answer(200, body=START_PAGE, headers={"Set-Cookie": "csrftoken=worldcsrf; Path=/"})
        if path == "/sitemap.xml":
            return Answer(200, "application/xml", self.sitemap().encode())
        if len(parts) >= 3 and parts[:2] == ["en-us", "shop"]:
            if parts[2] == "product" and len(parts) >= 4:
                return self.product_page(parts[-1])
            # a designer or category all of whose products were taken down still has its page,
            # listing none (sold out); one the world never had answers 404
            if parts[2] == "designer" and len(parts) == 4:
                items = [p for p in self.nap_products(every=True) if slug(p.designer or "") == parts[3]]
                if not items:
                    return Answer(404, body=b"<html><body>No such designer</body></html>")
                return self.listing(self._live(items), path, query, f"{items[0].designer}")
            if parts[2] not in ("product", "designer"):  # a category, as the breadcrumb links it
                prefix = parts[2:]
                items = [
                    p
                    for p in self.nap_products(every=True)
                    if [slug(c) for c in (p.category_path or ["x"])][: len(prefix)] == prefix
                ]
                if not items:
                    return Answer(404, body=b"<html><body>No such category</body></html>")
                heading = items[0].category_path[len(prefix) - 1] if len(prefix) > 1 else parts[2].title()
                return self.listing(self._live(items), path, query, heading)
        if len(parts) == 2 and parts[0] == "product":  # older product URLs redirect to the canonical page
            p = self.products.get(parts[1])
            if p is None or p.source != SourceName.NETAPORTER:
                return Answer(404, body=b"<html><body>Not found</body></html>")
            return Answer(301, headers={"Location": self.nap_url(p)})
        if len(parts) == 3 and parts[:2] == ["videos", "productPage"] and parts[2].endswith("_detail.mp4"):
            return self.nap_video(parts[2][: -len("_detail.mp4")])
        if len(parts) == 4 and parts[:2] == ["images", "products"]:
            return self.nap_image(parts[2], parts[3])
        if len(parts) == 5 and parts[:2] == ["variants", "images"] and re.fullmatch(r"w\d+\.jpg", parts[4]):
            # newer CDN form: /variants/images/<id>/<view>/w<width>.jpg
            return self.nap_image(parts[2], f"{parts[2]}_{parts[3]}_l.jpg")
        if len(parts) == 3 and parts[0] == "tiktok" and parts[1] in ("video", "shop"):
            return self.tiktok(parts[1], parts[2])
        if len(parts) == 4 and parts[:2] == ["instagram", "p"]:
            return self.instagram(parts[2], parts[3])
        if len(parts) == 2 and parts[0] == "files":
            return self.plain_file(parts[1])
        if (parts and parts[0].startswith("@")) or path.rstrip("/") == "/api/creator/item_list":
            return self.tiktok_web(parts, query)
        if (len(parts) == 2 and parts[0] == "tag") or path.rstrip("/") == "/aweme/v1/challenge/aweme":
            return self.tiktok_tag(parts, query)
        return Answer(404, body=b"<html><body>Not found</body></html>")

    # ------------------------------------------------------------------ media
    def _file(self, rel: str | None, pid: str, video: bool = False) -> Answer:
        """A file of the world folder; a path pointing outside it (links resolved) is never served."""
        try:
            path = (
                None
                if rel is None
                else resolve_under(self.world, rel, what="world file", follow_symlinks=True)
            )
        except PathEscapeError:
            path = None
        if path is None or not path.is_file() or Path(rel or "").suffix not in CONTENT_TYPES:
            return Answer(404, body=b"<html><body>Not found</body></html>", media=True, product_id=pid)
        return Answer(200, CONTENT_TYPES[path.suffix], path, media=True, video=video, product_id=pid)

    def _evil_video(self, pid: str) -> Answer | None:
        if self.evil and pid in EVIL_IDS:
            v = self.truth.videos[0]
            return self._file(v.path, pid, video=True)
        return None

    def nap_video(self, pid: str) -> Answer:
        evil = self._evil_video(pid)
        if evil:
            return evil
        p = self.products.get(pid)
        if p is None or p.source != SourceName.NETAPORTER or not p.videos:
            return Answer(404, body=b"<html><body>Not found</body></html>", media=True, product_id=pid)
        return self._file(self.truth.video(p.videos[0]).path, pid, video=True)

    def nap_image(self, pid: str, name: str) -> Answer:
        p = self.products.get(pid)
        stem = name[:-4] if name.endswith(".jpg") else ""
        bits = stem.split("_")
        if (
            p is None
            or p.source != SourceName.NETAPORTER
            or len(bits) != 3
            or bits[0] != pid
            or bits[1] not in NAP_VIEWS
            or bits[2] not in NAP_SIZES
        ):
            return Answer(404, body=b"<html><body>Not found</body></html>", media=True, product_id=pid)
        return self._file(p.images.get(NAP_VIEWS[bits[1]]), pid)

    def tiktok(self, kind: str, name: str) -> Answer:
        pid = name.rsplit(".", 1)[0]
        evil = self._evil_video(pid) if kind == "video" else None
        if evil:
            return evil
        p = self.products.get(pid)
        if p is None or p.source != SourceName.TIKTOK:
            return Answer(404, body=b"<html><body>Not found</body></html>", media=True, product_id=pid)
        if kind == "video" and name.endswith(".mp4"):
            return self._file(self.truth.video(p.videos[0]).path if p.videos else None, pid, video=True)
        if kind == "shop" and name.endswith(".jpg"):
            return self._file(p.images.get("shop"), pid)
        return Answer(404, body=b"<html><body>Not found</body></html>", media=True, product_id=pid)

    def _page_count(self, arg: dict[str, str]) -> int:
        """The page size a TikTok API request asks for (``count``), at most the site's own."""
        asked = arg.get("count", "")
        if asked.isascii() and asked.isdigit() and len(asked) < 6:
            return min(int(asked), self.page_size)
        return self.page_size

    def tiktok_web(self, parts: list[str], query: dict[str, list[str]]) -> Answer:
        """TikTok's web pages (a user's, its video list, a video's: see tiktok_web.py)."""
        from . import tiktok_web as web
        from .catalog import USERS

        not_found = Answer(404, body=b"<html><body>Not found</body></html>")
        if parts[:3] == ["api", "creator", "item_list"]:
            arg = {k: v[0] for k, v in query.items() if v}
            count = self._page_count(arg)
            body = web.item_list(
                self.truth, self.products.values(), arg.get("secUid", ""), arg.get("cursor", ""), count
            )
            return not_found if body is None else Answer(200, "application/json; charset=utf-8", body)
        user = parts[0][1:]
        if len(parts) == 1 and user in USERS:
            return Answer(200, body=web.user_page(self.truth, self.products.values(), user))
        if len(parts) == 3 and parts[1] == "video":
            p = self.products.get(parts[2])
            if p is not None and p.source == SourceName.TIKTOK and p.videos and web.tiktok_user(p) == user:
                return Answer(200, body=web.video_page(self.truth, p))
        return not_found

    def tiktok_tag(self, parts: list[str], query: dict[str, list[str]]) -> Answer:
        """A hashtag's page and its videos from TikTok's app API (see tiktok_web.py); a tag none of
        the site's videos carries answers 404."""
        from . import tiktok_web as web

        not_found = Answer(404, body=b"<html><body>Not found</body></html>")
        if parts[0] == "tag":
            if not web.tag_videos(self.products.values(), parts[1]):
                return not_found
            return Answer(200, body=web.tag_page(parts[1]))
        arg = {k: v[0] for k, v in query.items() if v}
        count = self._page_count(arg)
        body = web.challenge_feed(
            self.truth, self.products.values(), arg.get("ch_id", ""), arg.get("cursor", ""), count
        )
        return not_found if body is None else Answer(200, "application/json; charset=utf-8", body)

    def instagram(self, shortcode: str, name: str) -> Answer:
        p = self.products.get(shortcode)
        if p is None or p.source != SourceName.INSTAGRAM:
            return Answer(404, body=b"<html><body>Not found</body></html>", media=True, product_id=shortcode)
        if name == "video.mp4" and p.videos:
            return self._file(self.truth.video(p.videos[0]).path, shortcode, video=True)
        if name == "thumb.jpg":
            first = sorted(k for k in p.images if k.startswith("candidate-"))
            return self._file(p.images[first[0]] if first else None, shortcode)
        if name.endswith(".jpg") and name[:-4].startswith("candidate-"):
            return self._file(p.images.get(name[:-4]), shortcode)
        return Answer(404, body=b"<html><body>Not found</body></html>", media=True, product_id=shortcode)

    def plain_file(self, name: str) -> Answer:
        if name.endswith("_shop.jpg"):
            pid = name[: -len("_shop.jpg")]
            p = self.products.get(pid)
            return self._file(p.images.get("shop") if p else None, pid)
        if name.endswith(".mp4"):
            vid = name[:-4]
            evil = self._evil_video(vid)
            if evil:
                return evil
            try:
                v = self.truth.video(vid)
                if v.product_id in self.taken_down:
                    raise KeyError(vid)
            except KeyError:
                return Answer(404, body=b"<html><body>Not found</body></html>", media=True, product_id=vid)
            return self._file(v.path, v.product_id, video=True)
        return Answer(404, body=b"<html><body>Not found</body></html>", media=True)

    # ------------------------------------------------------------------ pages
    def sitemap(self) -> str:
        locs = [self.nap_url(p) for p in self.nap_products()]
        if self.evil:
            locs += [self.nap_url(e) for e in EVIL_IDS]
        body = "".join(f"<url><loc>{html.escape(u)}</loc></url>" for u in locs)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>\n'
        )

    def listing(
        self, items: list[WorldProduct], path: str, query: dict[str, list[str]], heading: str
    ) -> Answer:
        try:
            page = int(query.get("pageNumber", ["1"])[0])
        except ValueError:
            page = 1
        n_pages = max(1, math.ceil(len(items) / self.page_size))
        if page < 1 or page > n_pages:
            return Answer(404, body=b"<html><body>No such page</body></html>")
        chunk = items[(page - 1) * self.page_size : page * self.page_size]
        links = [(self.nap_path(p), p.title, p.designer or "", p.product_id) for p in chunk]
        if self.evil and page == 1:
            links += [(self.nap_path(e), "Limited edition", "Studio Nemi", e) for e in EVIL_IDS]
        cards = "\n".join(
            f'<li class="product-card" data-product-id="{html.escape(quote(pid, safe=""))}">'
            f'<a href="{html.escape(href)}"><span class="designer">{html.escape(des)}</span>'
            f'<span class="name">{html.escape(title)}</span></a></li>'
            for href, title, des, pid in links
        )
        nav = []
        if page > 1:
            nav.append(f'<a rel="prev" href="{path}?pageNumber={page - 1}">Previous</a>')
        if page < n_pages:
            nav.append(f'<a rel="next" href="{path}?pageNumber={page + 1}">Next</a>')
        body = (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(heading)} | '
            f"NET-A-PORTER</title></head><body><h1>{html.escape(heading)}</h1>"
            f'<p class="product-count" data-total-products="{len(items)}">{len(items)} items</p>'
            f'<p class="pagination" data-page="{page}" data-pages="{n_pages}">Page {page} of {n_pages}</p>'
            f'<ul class="product-listing">\n{cards}\n</ul><nav class="pager">{" ".join(nav)}</nav></body></html>'
        )
        return Answer(200, body=body.encode())

    def product_page(self, pid: str) -> Answer:
        malformed = pid in self.malformed
        p = self.products.get(pid)
        if self.evil and pid in EVIL_IDS:
            p = WorldProduct(
                product_id="evil",
                source=SourceName.NETAPORTER,
                partition="regular",
                df2_class=1,
                kind="clothing",
                title="Limited edition cotton T-shirt",
                description="A cotton T-shirt with short sleeves.",
                category_path=["Clothing", "Tops", "T-shirts"],
                designer="Studio Nemi",
                colour="white",
            )
        elif p is None or p.source != SourceName.NETAPORTER:
            return Answer(404, body=b"<html><body>Not found</body></html>", product_id=pid)
        return Answer(200, body=self._product_html(p, pid, malformed).encode(), product_id=pid)

    def _product_html(self, p: WorldProduct, pid: str, malformed: bool) -> str:
        views = [v for v, name in NAP_VIEWS.items() if name in p.images]
        images = [self.nap_image_url(pid, v, "xl") for v in views]
        url = self.nap_url(p if pid == p.product_id else pid)
        product = {
            "@context": "https://schema.org",
            "@type": "Product",
            "name": p.title,
            "brand": {"@type": "Brand", "name": p.designer},
            "description": p.description,
            "image": images,
            "sku": pid,
            "color": p.colour,
            "url": url,
            "category": " > ".join(p.category_path),
            "offers": {
                "@type": "Offer",
                "price": f"{_price(pid)}.00",
                "priceCurrency": "USD",
                "availability": "https://schema.org/InStock",
                "url": url,
            },
        }
        crumbs_ld = {
            "@context": "https://schema.org",
            "@type": "BreadcrumbList",
            "itemListElement": [
                {
                    "@type": "ListItem",
                    "position": i + 1,
                    "name": c,
                    "item": f"{self.base}/en-us/shop/{'/'.join(slug(x) for x in p.category_path[: i + 1])}",
                }
                for i, c in enumerate(p.category_path)
            ],
        }
        product_json = json.dumps(product, ensure_ascii=False).replace("</", "<\\/")
        if malformed:
            product_json = product_json[: len(product_json) // 2] + ',,"'
        crumbs_html = "".join(
            f'<li><a href="/en-us/shop/{"/".join(slug(x) for x in p.category_path[: i + 1])}">{html.escape(c)}</a></li>'
            for i, c in enumerate(p.category_path)
        )
        og = {
            "og:type": "product",
            "og:title": f"{p.designer} | {p.title}",
            "og:description": p.description,
            "og:url": url,
            "og:image": images[0] if images else "",
            "og:site_name": "NET-A-PORTER",
        }
        metas = "".join(f'<meta property="{k}" content="{html.escape(v or "")}">' for k, v in og.items())
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(p.designer or '')} {html.escape(p.title)} | NET-A-PORTER</title>{metas}"
            f'<link rel="canonical" href="{html.escape(url)}">'
            f'<script type="application/ld+json">{product_json}</script>'
            f'<script type="application/ld+json">{json.dumps(crumbs_ld, ensure_ascii=False)}</script>'
            "</head><body>"
            f'<nav aria-label="breadcrumb" class="breadcrumb"><ol>{crumbs_html}</ol></nav>'
            f'<h1 class="designer">{html.escape(p.designer or "")}</h1><h2 class="product-name">'
            f'{html.escape(p.title)}</h2><p class="price">${_price(pid)}</p>'
            f'<div class="description"><p>{html.escape(p.description)}</p></div>'
            + "".join(f'<img src="{html.escape(u)}" alt="">' for u in images)
            + "</body></html>"
        )
