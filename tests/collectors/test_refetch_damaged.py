"""A file its source itself serves damaged is not downloaded again on every ``--retry-rejected``
(:mod:`collectors.refetch`): one HEAD asks the source (its ETag or Last-Modified, as the world's
sites send them), the item stays rejected as cleaning left it and the run says why; a changed
file, or one damaged on the disk after its download, is downloaded and handed to ``mf clean``.
Without a validator (yt-dlp, instaloader) the same bytes after the download keep it rejected.

Cleaning's verdict is written into the catalog as ``mf clean`` writes it (the probe's reasons):
no cleaning run is needed to test the collector's side."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.base import Found, Source, TargetForm
from collectors.config import CollectConfig
from collectors.core import Candidate, CollectContext
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from collectors.refetch import STILL_DAMAGED, served_path
from collectors.runner import run_collection
from schemas.catalog import Catalog
from schemas.items import AssetKind, SourceItem, SourceName, Status
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, loopback_http

SHOP = "urls/a/shop.jpg"
#: what ``mf clean`` writes for a shop image that does not decode (cleaning.steps.probe)
ITEM_REASON = f"probe: damaged shop image (corrupt: the image does not decode): {SHOP}; mf-collect ..."
FILE_REASON = "probe: corrupt: the image does not decode"


class OneShop(Source):
    """Items of a shop image, fetched from the site (``/m/<id>.jpg``) or, with ``library`` set,
    written by a library into the item folder and adopted (yt-dlp's way), and a front view
    (``/m/<id>-front.jpg``)."""

    name = SourceName.URLS
    config_section = "urls"
    target_forms = (TargetForm("an item", "a", r"\w+"),)

    def __init__(self, ctx: CollectContext, site: FakeSite, library: bytes | None = None) -> None:
        super().__init__(ctx)
        self.site, self.library = site, library

    @classmethod
    def policy(cls, cfg: CollectConfig, targets, **_) -> HostPolicy:
        return HostPolicy(any_host=True)

    def discover(self, targets):
        return [Candidate(raw_id=t, url=self.site.url(f"/m/{t}.jpg")) for t in targets]

    def describe(self, sid: str, cand: Candidate) -> Found:
        return Found(SourceItem(source=self.name, source_id=sid, url=cand.url), cand)

    def fetch_media(self, found: Found):
        ctx, item, url = self.ctx, found.item, found.cand.url
        front = ctx.fetch_asset(
            item, AssetKind.FRONT, self.site.url(f"/m/{item.source_id}-front.jpg"), "image"
        )
        if self.library is None:
            return [ctx.fetch_asset(item, AssetKind.SHOP, url, "image"), front], {AssetKind.SHOP}
        tmp = ctx.item_dir(item.source, item.source_id) / ".shop.lib.jpg"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(self.library)
        shop = ctx.adopt_file(item, AssetKind.SHOP, tmp, "image", url=url, move=True)
        return [shop, front], {AssetKind.SHOP}


@pytest.fixture(scope="module")
def loopback():
    with FakeSite() as site:
        yield site


@pytest.fixture
def world(loopback, tmp_path):
    """``run(**flags)`` collects item ``a`` from a loopback site: (summary, (status, reason), its
    rows by kind); ``reject()`` writes cleaning's verdict: its shop image damaged (with the
    SHA-256 of the file on the disk), its front view accepted."""
    site = loopback
    site.routes.clear()
    site.requests.clear()
    site.headers_seen.clear()
    site.routes["/m/a-front.jpg"] = Route(jpeg_bytes(9), content_type="image/jpeg", headers={"ETag": '"f"'})
    cfg = CollectConfig(http=loopback_http(max_retries=0))

    def run(library: bytes | None = None, **flags):
        client = PoliteClient(cfg.http, policy=HostPolicy(any_host=True))
        with Catalog(tmp_path / "c.sqlite") as cat:
            ctx = CollectContext(tmp_path / "root", cat, cfg, client, **flags)
            summary = run_collection(OneShop(ctx, site, library), ["a"], workers=1, show_progress=False)
            item = cat.get_item("urls", "a")
            rows = {str(a.kind): a for a in cat.assets(source="urls", source_id="a")}
        client.close()
        return summary, (item.status, item.reason), rows

    def reject(sha256: str | None = None, front: dict | None = None):
        with Catalog(tmp_path / "c.sqlite") as cat:
            a, front_row = (cat.assets(source="urls", source_id="a", kind=k)[0] for k in ("shop", "front"))
            update = {"status": Status.REJECTED, "reason": FILE_REASON, "sha256": sha256 or a.sha256}
            front = front_row.model_copy(update=front or {"status": Status.ACCEPTED})
            cat.upsert_assets([a.model_copy(update=update), front])
            cat.set_item_state("urls", "a", status=Status.REJECTED, reason=ITEM_REASON)

    yield site, run, reject, tmp_path / "root"


def undated(rows: dict) -> dict:
    """The rows without their ``updated_at`` (a row written again with the same values)."""
    return {k: r.model_copy(update={"updated_at": None}) for k, r in rows.items()}


def gets(site: FakeSite, path: str = "/m/a.jpg") -> int:
    return sum(1 for method, p in site.requests if method == "GET" and p == path)


@pytest.mark.parametrize(
    "headers,conditional",
    [
        ({"ETag": '"v1"'}, True),  # a 304 to If-None-Match
        ({"ETag": '"v1"'}, False),  # a 200 with the same ETag and size
        ({"Last-Modified": "Mon, 02 Jan 2023 10:00:00 GMT"}, False),  # no ETag: a strong date
    ],
)
def test_a_file_the_source_still_serves_damaged_is_not_downloaded_again(world, headers, conditional):
    site, run, reject, root = world
    body = jpeg_bytes(1)
    site.routes["/m/a.jpg"] = Route(body, content_type="image/jpeg", headers=headers, conditional=conditional)
    s, _, _ = run()
    assert s.ok == 1 and served_path(root / SHOP).is_file()
    reject()
    _, _, before = run()  # a plain rerun skips it
    s, item, rows = run(retry_rejected=True)
    assert gets(site) == 1, site.requests  # one HEAD asked, nothing downloaded again
    assert gets(site, "/m/a-front.jpg") == 1  # nor the front view cleaning accepted (intact)
    assert site.requests[-1][0] == "HEAD"
    asked = site.headers_seen[-1]
    assert asked.get("If-None-Match" if "ETag" in headers else "If-Modified-Since") == next(
        iter(headers.values())
    )
    # the item and its file stay as cleaning left them, and the run says why, once
    assert item == (Status.REJECTED, ITEM_REASON) and rows == before
    assert (s.rejected, s.ok, s.reasons) == (1, 0, {STILL_DAMAGED: 1}), s.human()
    (line,) = [ln for ln in s.human().splitlines() if ln.startswith("  rejected")]
    said = f"{next(iter(headers))} {next(iter(headers.values()))}, {len(body)} bytes"
    assert (
        f"a  {STILL_DAMAGED}  shop {site.url('/m/a.jpg')}: the source still serves the same damaged file"
        in line
    )
    assert said in line and "--force-refetch" in line, line
    # --force-refetch downloads it anyway and hands the item to mf clean
    s, item, rows = run(retry_rejected=True, force_refetch=True)
    assert gets(site) == 2 and item == (Status.DOWNLOADED, None) and rows["shop"].status == Status.DOWNLOADED


def test_a_changed_file_is_downloaded_and_handed_to_mf_clean(world):
    site, run, reject, _ = world
    site.routes["/m/a.jpg"] = Route(jpeg_bytes(1), content_type="image/jpeg", headers={"ETag": '"v1"'})
    run()
    reject()
    new = jpeg_bytes(2)
    site.routes["/m/a.jpg"] = Route(new, content_type="image/jpeg", headers={"ETag": '"v2"'})
    s, item, rows = run(retry_rejected=True)
    assert gets(site) == 2 and s.ok == 1, s.human()
    assert item == (Status.DOWNLOADED, None) and rows["shop"].status == Status.DOWNLOADED
    assert rows["shop"].size == len(new)
    # the front view cleaning accepted is intact: not downloaded again, and stays accepted
    assert gets(site, "/m/a-front.jpg") == 1 and rows["front"].status == Status.ACCEPTED


def test_a_file_damaged_on_the_disk_after_its_download_is_downloaded_again(world):
    """The bytes cleaning found are not the bytes the source served (the record's SHA-256):
    whatever the source says, the file is fetched again."""
    site, run, reject, root = world
    site.routes["/m/a.jpg"] = Route(jpeg_bytes(1), content_type="image/jpeg", headers={"ETag": '"v1"'})
    run()
    (root / SHOP).write_bytes(b"\0" * 100)  # damaged on the disk; cleaning hashed what it found
    reject(sha256="0" * 64)
    s, item, _ = run(retry_rejected=True)
    assert gets(site) == 2 and item == (Status.DOWNLOADED, None), s.human()
    assert (root / SHOP).read_bytes() == jpeg_bytes(1)


def test_without_a_validator_the_same_bytes_after_the_download_keep_the_item_rejected(world):
    """yt-dlp and instaloader give no validator (nor does this server): the file is downloaded,
    and its SHA-256 tells it is the damaged file again; other bytes go to mf clean. A file
    cleaning rejected for another reason is downloaded again too, and its row kept as it was."""
    site, run, reject, _ = world
    body = jpeg_bytes(1)
    for library in (None, body):  # the polite client, then a library's download adopted
        site.routes["/m/a.jpg"] = Route(body, content_type="image/jpeg")
        run(library)
        reject(front={"status": Status.REJECTED, "reason": "probe: too small: 64x48"})
        n, f = gets(site), gets(site, "/m/a-front.jpg")
        _, _, before = run(library)
        s, item, rows = run(library, retry_rejected=True)
        assert gets(site) == n + (library is None), site.requests
        assert gets(site, "/m/a-front.jpg") == f + 1
        assert item == (Status.REJECTED, ITEM_REASON) and undated(rows) == undated(before), s.human()
        assert s.reasons == {STILL_DAMAGED: 1}, s.human()
        assert "downloaded again: the same bytes as the damaged file" in s.problems[0]["message"]
        s, item, _ = run(jpeg_bytes(2) if library else None, retry_rejected=True, force_refetch=True)
        assert item == (Status.DOWNLOADED, None), s.human()


def test_force_refetch_goes_with_retry_rejected(tmp_path):
    from collectors.api import collect
    from schemas.errors import ConfigError

    with pytest.raises(ConfigError, match="works with --retry-rejected only"):
        collect("urls", ["x"], root=Path(tmp_path / "root"), force_refetch=True)
    assert not (tmp_path / "root").exists()
