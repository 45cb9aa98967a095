"""Which duplicate video is kept, and reruns: the kept video belongs to an item that can be
accepted when its cluster has one, and a rerun verifies no candidate pair on pixels again."""

from __future__ import annotations

from pathlib import Path

import cv2

import cleaning.dedup as dedup
from cleaning.config import CleaningConfig
from cleaning.pipeline import clean
from cleaning.steps.base import StepContext
from cleaning.steps.state import CleaningState, ItemState
from cleaning.steps.video_duplicates import VideoDuplicatesStep
from schemas.atomic import sha256_file
from schemas.catalog import Catalog
from schemas.items import AssetKind, MediaAsset, SourceItem, Status
from tests.cleaning.media_helpers import scene, still_image, write_mp4
from tests.cleaning.steps.conftest import collected, fresh_context, item, probed_video


def _with_shop(it: ItemState) -> ItemState:
    """``it`` with a shop image that passed the probe."""
    shop = collected(it, AssetKind.SHOP, f"{it.item.source}/{it.item.source_id}/shop.jpg")
    it.assets.append(shop.model_copy(update={"status": Status.ACCEPTED}))
    return it


def _pair(ctx: StepContext, a: ItemState, b: ItemState) -> CleaningState:
    """``a`` and ``b`` carry one clip (b's encoded again: other bytes, verified on pixels)."""
    frames = scene(7, n=60)
    rel = f"{b.item.source}/{b.item.source_id}/video.mp4"
    if not (ctx.root / rel).exists():
        write_mp4(ctx.root / rel, frames, crf=35)
    videos = [probed_video(ctx, a, frames), probed_video(ctx, b, frames)]
    state = CleaningState(items={a.key: a, b.key: b})
    state.videos = {v.asset.path: v for v in videos}
    return state


def test_the_item_with_a_shop_image_keeps_the_video(ctx):
    """a sorts first and its video ties with b's, but only b can be accepted (a has no shop image)."""
    state = _pair(ctx, item("a"), _with_shop(item("b")))
    VideoDuplicatesStep().run(state, ctx)
    a, b = state.items["tiktok/a"], state.items["tiktok/b"]
    assert b.status == Status.ACCEPTED
    assert (a.status, a.duplicate_of) == (Status.DUPLICATE, "tiktok/b")


def test_a_non_clothing_item_does_not_keep_the_video_of_a_garment(ctx):
    state = _pair(ctx, _with_shop(item("a", title="Leather shoulder bag")), _with_shop(item("b")))
    VideoDuplicatesStep().run(state, ctx)
    a, b = state.items["tiktok/a"], state.items["tiktok/b"]
    assert b.status == Status.ACCEPTED
    assert (a.status, a.duplicate_of) == (Status.DUPLICATE, "tiktok/b")


def test_a_published_item_keeps_its_video_against_a_copy_collected_later(ctx):
    """Both can be accepted and a (the copy collected later) sorts first: b, which a split already
    holds, keeps the video, so the copy neither takes the published product out of its split nor
    renames it (a won the tie before, on its smaller key)."""
    b = _with_shop(item("b"))
    b.placed = "test"
    state = _pair(ctx, _with_shop(item("a")), b)
    VideoDuplicatesStep().run(state, ctx)
    a, b = state.items["tiktok/a"], state.items["tiktok/b"]
    assert b.status == Status.ACCEPTED
    assert (a.status, a.duplicate_of) == (Status.DUPLICATE, "tiktok/b")


def test_a_published_item_that_cannot_be_accepted_does_not_keep_the_video(ctx):
    """Usability comes first: a placed item without a shop image gives way to one that has one."""
    a = item("a")
    a.placed = "train"
    state = _pair(ctx, a, _with_shop(item("b")))
    VideoDuplicatesStep().run(state, ctx)
    assert state.items["tiktok/b"].status == Status.ACCEPTED
    assert state.items["tiktok/a"].duplicate_of == "tiktok/b"


def test_a_rerun_verifies_no_candidate_pair_again(ctx, monkeypatch):
    VideoDuplicatesStep().run(_pair(ctx, item("a"), item("b")), ctx)
    later = fresh_context(ctx)

    def boom(*a, **k):
        raise AssertionError("verified again")

    monkeypatch.setattr(dedup, "verify_pair", boom)
    state = _pair(later, item("a"), item("b"))
    VideoDuplicatesStep().run(state, later)
    assert state.failures() == []
    assert (state.items["tiktok/b"].status, state.items["tiktok/b"].duplicate_of) == (
        Status.DUPLICATE,
        "tiktok/a",
    )
    # the pair's evidence sits in the result cache under the first video's SHA-256, stamped
    sha = {p: v.asset.sha256 for p, v in state.videos.items()}
    entry = later.cache.get(sha["tiktok/a/video.mp4"], f"pair:{sha['tiktok/b/video.mp4']}")["evidence"]
    assert entry["duplicate"] is True and entry["score"] >= later.cfg.dedup.verify_threshold


def _collected_item(cat: Catalog, root: Path, sid: str, title: str, shop: bool) -> None:
    """A TikTok post with the shared clip (a byte copy) and, when ``shop``, a shop image."""
    d = root / "tiktok" / sid
    files = [(AssetKind.VIDEO, write_mp4(d / "video.mp4", scene(7, 45)))]
    if shop:
        cv2.imwrite(str(d / "shop.jpg"), still_image(3, 200, 260)[:, :, ::-1])
        files.append((AssetKind.SHOP, d / "shop.jpg"))
    cat.upsert_items([SourceItem(source="tiktok", source_id=sid, title=title)], status=Status.DOWNLOADED)
    cat.upsert_assets(
        [
            MediaAsset(
                source="tiktok",
                source_id=sid,
                kind=kind,
                url=f"https://example.com/{sid}/{p.name}",
                path=f"tiktok/{sid}/{p.name}",
                sha256=sha256_file(p),
                size=p.stat().st_size,
                status=Status.DOWNLOADED,
            )
            for kind, p in files
        ]
    )


def test_mf_clean_publishes_the_usable_post_of_a_duplicate_pair(tmp_path: Path):
    """The audit's cases: the post that sorts first has no shop image (a1) or shows a bag (a2);
    the other post of each pair (b1, b2) is accepted and the first one points at it."""
    root = tmp_path / "data"
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        _collected_item(cat, root, "a1", "Short sleeve silk blouse", shop=False)
        _collected_item(cat, root, "b1", "Short sleeve silk blouse", shop=True)
        clean(cat, root, CleaningConfig(association_check=False))
        rows = {r.item.source_id: r for r in cat.items()}
        assert rows["b1"].status == Status.ACCEPTED
        assert (rows["a1"].status, rows["a1"].duplicate_of) == (Status.DUPLICATE, "tiktok/b1")
    with Catalog(tmp_path / "catalog2.sqlite") as cat:
        root2 = tmp_path / "data2"
        _collected_item(cat, root2, "a2", "Leather shoulder bag", shop=True)
        _collected_item(cat, root2, "b2", "Short sleeve silk blouse", shop=True)
        clean(cat, root2, CleaningConfig(association_check=False))
        rows = {r.item.source_id: r for r in cat.items()}
        assert rows["b2"].status == Status.ACCEPTED
        assert rows["a2"].status == Status.REJECTED and rows["a2"].reason.startswith("taxonomy: non_clothing")
        assert rows["a2"].duplicate_of == "tiktok/b2"


def _rows(cat: Catalog) -> dict:
    return {r.item.source_id: r for r in cat.items()}


def test_a_published_item_keeps_its_video_through_splits_rebuild_and_reruns(tmp_path: Path):
    """b1 is published; a1, a re-post of its clip collected later, sorts first. ``mf splits
    rebuild`` places the duplicate a1 in b1's split too, and the next ``mf clean`` counted both as
    placed and let a1 take b1's place (the smaller key won the tie again)."""
    from cleaning.splits import rebuild_splits

    root, cfg = tmp_path / "data", CleaningConfig(association_check=False)
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        _collected_item(cat, root, "b1", "Short sleeve silk blouse", shop=True)
        clean(cat, root, cfg)
        rebuild_splits(cat)
        assert _rows(cat)["b1"].status == Status.ACCEPTED and _rows(cat)["b1"].split
        _collected_item(cat, root, "a1", "Short sleeve silk blouse", shop=True)
        for _ in range(2):
            clean(cat, root, cfg)
            rebuild_splits(cat)
            rows = _rows(cat)
            assert rows["b1"].status == Status.ACCEPTED, rows["b1"]
            assert (rows["a1"].status, rows["a1"].duplicate_of) == (Status.DUPLICATE, "tiktok/b1")


def test_a_class_review_chose_makes_an_ambiguous_published_item_usable_for_the_keep_rule(tmp_path: Path):
    """b1's title is ambiguous; a reviewer chose its class and it was published. A clear-titled
    re-post collected later (a1) ranked as more usable and took b1's video."""
    from cleaning.splits import rebuild_splits
    from schemas.review import record_decision

    root, cfg = tmp_path / "data", CleaningConfig(association_check=False)
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        _collected_item(cat, root, "b1", "Ruffled georgette blouse", shop=True)
        clean(cat, root, cfg)
        assert _rows(cat)["b1"].status == Status.NEEDS_REVIEW  # ambiguous: a reviewer sets the class
        record_decision(cat, video="videos/b1_0.mp4", product_id="b1", kind="class", df2_class=1)
        clean(cat, root, cfg)
        rebuild_splits(cat)
        assert _rows(cat)["b1"].status == Status.ACCEPTED and _rows(cat)["b1"].split
        _collected_item(cat, root, "a1", "Short sleeve silk blouse", shop=True)
        clean(cat, root, cfg)
        rows = _rows(cat)
        assert (rows["b1"].status, rows["b1"].df2_class) == (Status.ACCEPTED, 1)
        assert (rows["a1"].status, rows["a1"].duplicate_of) == (Status.DUPLICATE, "tiktok/b1")
