"""The flow every source shares (collectors.base.Source.collect), on a scripted source without network."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from collectors.base import Found, Source, TargetForm, UnsafeId
from collectors.config import CollectConfig, HttpConfig
from collectors.core import Candidate, CollectContext
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from collectors.runner import run_collection
from schemas.catalog import Catalog
from schemas.errors import DataFormatError, FetchError
from schemas.items import AssetKind, SourceItem, SourceName, Status


class Scripted(Source):
    """A source whose items say what happens to them: ``ok-*`` fine, ``gone-*`` 404, ``busy-*`` a
    server error, ``novid-*`` no video, ``renamed-*`` the site's own id is ``site-*``,
    ``evilname-*`` the site's own id is unsafe. Its "media" is a copy of a local image."""

    name = SourceName.URLS
    config_section = "urls"
    target_forms = (TargetForm("an item", "ok-1", r"[\w./-]+"),)

    def __init__(self, ctx: CollectContext, image: Path, fixed: Sequence[str] = ()) -> None:
        super().__init__(ctx)
        self.image = image
        self.fixed = set(fixed)  # ``novid-*`` ids whose site has a video now
        self.described: list[str] = []

    @classmethod
    def policy(cls, cfg: CollectConfig, targets: Sequence[str], **_) -> HostPolicy:
        return HostPolicy()

    def discover(self, targets: Sequence[str]) -> list[Candidate]:
        return [Candidate(raw_id=t, url=f"http://x.invalid/{t}") for t in targets]

    def describe(self, sid: str, cand: Candidate) -> Found:
        self.described.append(sid)
        kind = sid.split("-")[0]
        if kind == "gone":
            raise FetchError("no page", where=cand.url, reason="http_404")
        if kind == "busy":
            raise FetchError("server down", where=cand.url, reason="http_503_exhausted")
        if kind == "evilname":
            raise UnsafeId("../../etc")
        if kind == "renamed":
            sid = "site-" + sid.split("-", 1)[1]
        item = SourceItem(source=self.name, source_id=sid, url=cand.url, title=f"title {sid}")
        return Found(item, cand, rejected="no_video" if kind == "novid" and sid not in self.fixed else None)

    def fetch_media(self, found: Found):
        asset = self.ctx.adopt_file(found.item, AssetKind.SHOP, self.image, "image", url=str(self.image))
        return [asset], {AssetKind.SHOP}


@pytest.fixture
def run(tmp_path):
    from tests.collectors.fakesite import jpeg_bytes

    image = tmp_path / "shop.jpg"
    image.write_bytes(jpeg_bytes(3))
    cfg = CollectConfig(http=HttpConfig(max_retries=0))

    def go(targets: list[str], *, retry_rejected: bool = False, fixed: Sequence[str] = ()):
        client = PoliteClient(cfg.http, policy=HostPolicy())
        with Catalog(tmp_path / "c.sqlite") as cat:
            ctx = CollectContext(tmp_path / "root", cat, cfg, client, retry_rejected=retry_rejected)
            src = Scripted(ctx, image, fixed)
            summary = run_collection(src, targets, workers=2, show_progress=False)
            rows = {r.item.source_id: (r.status, r.reason) for r in cat.items()}
        client.close()
        return src, summary, rows

    return go


def test_flow_safe_id_skip_describe_fetch_record(run):
    targets = ["ok-1", "gone-2", "busy-3", "novid-4", "renamed-5", "evilname-6", "../etc/passwd"]
    src, s, rows = run(targets)
    assert (s.ok, s.failed, s.rejected) == (2, 1, 4), s.human()
    assert rows["ok-1"] == ("downloaded", None) and rows["site-5"] == ("downloaded", None)
    assert rows["gone-2"] == ("rejected", "http_404") and rows["busy-3"] == ("failed", "http_503_exhausted")
    assert rows["novid-4"] == ("rejected", "no_video")
    unsafe = [k for k in rows if k.startswith("unsafe-")]
    assert len(unsafe) == 2 and all(rows[k] == ("rejected", "unsafe_id") for k in unsafe)
    assert "../etc/passwd" not in src.described  # refused before its hook ran
    assert sorted(p["source_id"] for p in s.problems) == sorted(["gone-2", "busy-3", "novid-4", *unsafe])
    # rerun: done and finally rejected items are skipped before any hook runs; the failed one is
    # retried; the two whose site id differs from the discovered one need their hook to learn it
    src, s, _ = run(targets)
    assert sorted(src.described) == ["busy-3", "evilname-6", "renamed-5"]
    assert (s.ok, s.failed, s.rejected, s.skipped) == (0, 1, 0, 6), s.human()


def test_retry_rejected_collects_the_collectors_rejections_again_but_not_cleanings(run, tmp_path):
    targets = ["novid-1", "ok-2", "ok-3"]
    _, s, rows = run(targets)
    assert rows["novid-1"] == ("rejected", "no_video") and s.ok == 2
    damaged = (
        "probe: no valid video (corrupt: empty file): urls/ok-2/video.mp4; mf-collect --retry-rejected ..."
    )
    with Catalog(tmp_path / "c.sqlite") as cat:  # cleaning rejects two collected items
        cat.set_item_state("urls", "ok-3", status=Status.REJECTED, reason="probe: no valid video")
        cat.set_item_state("urls", "ok-2", status=Status.REJECTED, reason=damaged)
    src, s, _ = run(targets, fixed=["novid-1"])  # the site is fixed, but a plain rerun skips
    assert src.described == [] and s.skipped == 3, s.human()
    src, s, rows = run(targets, retry_rejected=True, fixed=["novid-1"])
    # a video damaged after its download is collected again (its reason says so); was: skipped
    assert sorted(src.described) == ["novid-1", "ok-2"] and (s.ok, s.skipped) == (2, 1), s.human()
    assert rows["novid-1"] == ("downloaded", None) and rows["ok-2"] == ("downloaded", None)
    assert rows["ok-3"] == ("rejected", "probe: no valid video")  # cleaning's other decisions stay


def test_targets_are_checked_against_the_declared_forms():
    Scripted.check_targets(["ok-1", "a/b"])
    with pytest.raises(DataFormatError) as ei:
        Scripted.check_targets([])
    assert "no urls targets given" in str(ei.value) and "ok-1" in str(ei.value)
    with pytest.raises(DataFormatError):
        Scripted.check_targets(["has space"])


def test_retry_rejected_collects_an_item_cleaning_rejected_for_a_damaged_shop_image(run, tmp_path):
    """A truncated shop JPEG is damaged media as a damaged video is: --retry-rejected downloads
    the item again (a plain rerun skips it)."""
    _, s, _ = run(["ok-1"])
    damaged = "probe: damaged shop image (corrupt: the image does not decode): urls/ok-1/shop.jpg; ..."
    with Catalog(tmp_path / "c.sqlite") as cat:
        cat.set_item_state("urls", "ok-1", status=Status.REJECTED, reason=damaged)
    src, s, _ = run(["ok-1"])
    assert src.described == [] and s.skipped == 1, s.human()
    src, s, rows = run(["ok-1"], retry_rejected=True)
    assert src.described == ["ok-1"] and rows["ok-1"] == ("downloaded", None), s.human()
