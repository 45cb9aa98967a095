"""A review decision stored while `mf publish` runs: the report describes what this run
published (``held_back`` as it planned, ``changed_during_run`` naming the decision), and the
media of a product publish takes down go only once the split files no longer list them, under
the dataset's lock."""

from __future__ import annotations

import logging

import cleaning.publish.run as publish_run
from cleaning.publish import held_back, publish
from movingfashion.archive.at_rest import DATASET_LOCK
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.official import read_official
from tests.cleaning.lock_probe import lock_taken


def _in_splits(out) -> set[str]:
    return set(read_official(out / "train.json")) | set(read_official(out / "test.json"))


def _key(row) -> str:
    return f"{row.item.source}/{row.item.source_id}"


def test_the_report_lists_what_this_run_held_back(cleaned_world, catalog_copy, tmp_path, monkeypatch, caplog):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
        rows = [r for r in cat.items(status=Status.ACCEPTED) if r.product_id in _in_splits(out)]
        waiting, published = rows[0], rows[-1]
        cat.set_item_state(
            waiting.item.source,
            waiting.item.source_id,
            status=Status.NEEDS_REVIEW,
            reason="tracklets: flagged",
        )
        real = publish_run.held_videos

        def review_meanwhile(*args, **kwargs):  # after planning: a reviewer accepts one, rejects another
            cat.set_item_state(
                waiting.item.source, waiting.item.source_id, status=Status.ACCEPTED, reason=None
            )
            cat.set_item_state(
                published.item.source,
                published.item.source_id,
                status=Status.REJECTED,
                reason="review: wrong",
            )
            return real(*args, **kwargs)

        monkeypatch.setattr(publish_run, "held_videos", review_meanwhile)
        with caplog.at_level(logging.WARNING, logger="cleaning.publish"):
            res = publish(cat, cleaned_world.root, out)
    listed = _in_splits(out)
    held = {h["item"] for h in res["held_back"]}
    assert published.product_id in listed and _key(published) not in held  # was: reported held back
    assert waiting.product_id not in listed and _key(waiting) in held  # was: missing from held_back
    assert res["changed_during_run"] == sorted([_key(waiting), _key(published)])
    assert any("run mf publish again" in r.getMessage() for r in caplog.records)


def test_an_unchanged_catalog_changes_nothing_during_the_run(cleaned_world, catalog_copy, tmp_path):
    with Catalog(catalog_copy) as cat:
        res = publish(cat, cleaned_world.root, tmp_path / "ds")
        again = publish(cat, cleaned_world.root, tmp_path / "ds")
        now = held_back(cat)
    assert res["changed_during_run"] == [] == again["changed_during_run"]
    assert res["held_back"] == again["held_back"] == now["held_back"]
    assert res["held_back_by_reason"] == now["held_back_by_reason"]


def test_media_go_after_the_split_files_stop_listing_them(cleaned_world, catalog_copy, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
        row = next(r for r in cat.items(status=Status.ACCEPTED) if r.product_id in _in_splits(out))
        entry = {**read_official(out / "train.json"), **read_official(out / "test.json")}[row.product_id]
        cat.set_item_state(
            row.item.source, row.item.source_id, status=Status.REJECTED, reason="review: taken down"
        )
        seen: list[tuple[bool, bool, bool]] = []
        real = publish_run._remove_stale_media

        def check(folder, stale):
            seen.append(
                (
                    row.product_id in _in_splits(out),  # still listed
                    all((out / v).is_file() for v in entry.video_paths),  # still there
                    lock_taken(out / DATASET_LOCK),
                )
            )
            return real(folder, stale)

        monkeypatch.setattr(publish_run, "_remove_stale_media", check)
        res = publish(cat, cleaned_world.root, out)
    assert seen == [(False, True, True)]  # was: (True, True, False): listed, then gone
    assert res["removed"] >= 2 and not any((out / v).exists() for v in entry.video_paths)
    assert res["verify"]["ok"], res["verify"]["breaks"]
