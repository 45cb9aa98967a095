"""An item held back for review and accepted later, whose shop image is a published product's,
joins that product without renaming it, and publish says so: the result's ``merged`` and the
entry's ``merged_product_ids`` name the item's own id and the id it is published under."""

from __future__ import annotations

from pathlib import Path

from cleaning.publish import publish
from schemas.catalog import Catalog
from schemas.dataset import DatasetEntry, read_entry_rows
from schemas.items import Status
from schemas.official import read_official
from schemas.review import held_for_review, published_ids, record_decision
from tests.cleaning.test_publish_relisting import _relist

NEW = "0000001"


def _published(out: Path) -> set[str]:
    return set(read_official(out / "train.json")) | set(read_official(out / "test.json"))


def test_an_accepted_held_back_item_joins_the_published_product_and_says_so(
    catalog_copy, root_copy, tmp_path
):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, root_copy, out)
        pid, other = sorted(read_official(out / "train.json"))[:2]
        # a new item carrying pid's shop image, flagged by the association check: held back
        _relist(cat, root_copy, pid, NEW, other)
        source = next(r for r in cat.items() if r.item.source_id == NEW).item.source
        cat.set_item_state(source, NEW, status=Status.NEEDS_REVIEW, reason="association: unsure")
        held = publish(cat, root_copy, out)
        assert {h["item"] for h in held["held_back"]} >= {f"{source}/{NEW}"}
        assert held["merged"] == []
        videos = list(read_official(out / "train.json")[pid].video_paths)
        # review lists it under its own id; a reviewer accepts it
        named = {h.product_id: h for h in held_for_review(cat, _published(out))}
        record_decision(cat, video=named[NEW].videos[0][0], product_id=NEW, kind="accept")
        res = publish(cat, root_copy, out)
    assert res["verify"]["ok"] and not res["failed"]
    train = read_official(out / "train.json")
    assert pid in train and NEW not in _published(out), "the published product was renamed"
    assert train[pid].video_paths[: len(videos)] == videos
    assert len(train[pid].video_paths) == len(videos) + 1
    assert res["merged"] == [{"item": f"{source}/{NEW}", "product_id": NEW, "published_as": pid}]
    entry = next(
        e
        for e in map(DatasetEntry.model_validate_json, (out / "entries.jsonl").read_text().splitlines())
        if e.product_id == pid
    )
    members = dict(zip(entry.metadata["merged_items"], entry.metadata["merged_product_ids"], strict=True))
    assert members[NEW] == NEW and members[entry.metadata["source_id"]] == pid
    # review no longer holds it: its own id is published inside pid (it stayed held forever before)
    with Catalog(catalog_copy, read_only=True) as cat:
        still = held_for_review(cat, published_ids(_published(out), read_entry_rows(out / "entries.jsonl")))
    assert NEW not in {h.product_id for h in still}
