"""A duplicate of a video review rejected is not accepted unseen: the next `mf clean` keeps the
duplicate's item, but as needs_review naming the rejected twin, so publish holds it back until a
reviewer accepts it; an undo of the reject makes it a duplicate again."""

from __future__ import annotations

from cleaning.pipeline import clean
from cleaning.publish import publish
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.official import read_official, video_relpath
from schemas.review import record_decision, undo_decision


def _status(cat: Catalog, key: str) -> tuple[Status, str | None, str | None]:
    row = next(r for r in cat.items() if f"{r.item.source}/{r.item.source_id}" == key)
    return row.status, row.reason, row.duplicate_of


def test_a_duplicate_of_a_rejected_video_waits_for_review(cleaned_world, catalog_copy, tmp_path):
    root = cleaned_world.root
    with Catalog(catalog_copy) as cat:
        twin = next(r for r in cat.items() if r.status == Status.DUPLICATE)
        twin_key, kept_key = f"{twin.item.source}/{twin.item.source_id}", twin.duplicate_of
        kept = next(r for r in cat.items() if f"{r.item.source}/{r.item.source_id}" == kept_key)
        assert kept.status == Status.ACCEPTED and kept.product_id
        record_decision(
            cat, video=video_relpath(kept.product_id, 0), product_id=kept.product_id, kind="reject"
        )
        report = clean(cat, root)
        status, reason, _ = _status(cat, twin_key)
        assert status == Status.NEEDS_REVIEW, (status, reason)
        assert reason.startswith("dedup: ") and kept_key in reason and "review rejected" in reason
        assert report["duplicates_of_review_rejected"] >= 1
        assert _status(cat, kept_key)[0] == Status.REJECTED  # the reviewer's verdict stays

        out = tmp_path / "dataset"
        publish(cat, root, out)
        split = read_official(out / "train.json") | read_official(out / "test.json")
        assert twin.product_id not in split and kept.product_id not in split

        # a reviewer accepts the duplicate: cleaning does not flag it again
        record_decision(
            cat, video=video_relpath(twin.product_id, 0), product_id=twin.product_id, kind="accept"
        )
        clean(cat, root)
        assert _status(cat, twin_key)[0] == Status.ACCEPTED

        # the reject undone: the first item keeps its video again, the other is its duplicate
        undo_decision(cat, video=video_relpath(kept.product_id, 0), product_id=kept.product_id)
        clean(cat, root)
        assert _status(cat, kept_key)[0] == Status.ACCEPTED
        assert _status(cat, twin_key)[::2] == (Status.DUPLICATE, kept_key)


def test_a_rejected_video_whose_file_is_gone_does_not_reject_an_intact_copy(
    cleaned_world, catalog_copy, tmp_path
):
    """Both copies rejected in review, the first one's file deleted and its cached results lost: its
    fingerprint failed ("video file not found") and was cached as a corrupt probe under the SHA-256
    both share, so once the second one's reject was undone, its intact file was rejected corrupt."""
    import shutil

    from cleaning.config import CleaningConfig
    from cleaning.steps.cache import ResultCache

    root = tmp_path / "collected"
    shutil.copytree(cleaned_world.root, root)
    with Catalog(catalog_copy) as cat:
        twin = next(r for r in cat.items() if (r.reason or "").startswith("dedup: exact duplicate of"))
        twin_key, kept_key = f"{twin.item.source}/{twin.item.source_id}", twin.duplicate_of
        kept = next(r for r in cat.items() if f"{r.item.source}/{r.item.source_id}" == kept_key)
        record_decision(
            cat, video=video_relpath(kept.product_id, 0), product_id=kept.product_id, kind="reject"
        )
        clean(cat, root)
        assert _status(cat, twin_key)[0] == Status.NEEDS_REVIEW
        record_decision(
            cat, video=video_relpath(twin.product_id, 0), product_id=twin.product_id, kind="reject"
        )
        for a in cat.assets(source=kept.item.source, source_id=kept.item.source_id, kind="video"):
            (root / a.path).unlink()
            kept_sha = a.sha256
        (twin_sha,) = {
            a.sha256 for a in cat.assets(source=twin.item.source, source_id=twin.item.source_id, kind="video")
        }
        # the results cached under the SHA-256 both share are lost (was: the whole cache, and
        # every file of the world decoded and scored again; what the failure needs is that none
        # of that SHA-256's results is there)
        cache = ResultCache(catalog_copy.with_name("catalog.cleaning-cache.json"), CleaningConfig())
        assert cache.data.pop(twin_sha) and twin_sha == kept_sha
        cache.dirty = True
        cache.save()
        clean(cat, root)  # both rejected in review: only their videos are looked at
        undo_decision(cat, video=video_relpath(twin.product_id, 0), product_id=twin.product_id)
        clean(cat, root)
        status, reason, _ = _status(cat, twin_key)
        assert status != Status.REJECTED, reason  # its own file is intact
        assert not any(
            a.status == Status.REJECTED
            for a in cat.assets(source=twin.item.source, source_id=twin.item.source_id, kind="video")
        )
