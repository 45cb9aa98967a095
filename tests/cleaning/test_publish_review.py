"""`mf publish` follows the review: rejected products out, class changes in, undo restores."""

from __future__ import annotations

from cleaning.publish import publish
from schemas.catalog import Catalog
from schemas.dataset import DatasetEntry
from schemas.items import Status
from schemas.official import read_official
from schemas.review import record_decision, undo_decision


def _entries(out):
    return {
        e.product_id: e
        for e in (
            DatasetEntry.model_validate_json(x) for x in (out / "entries.jsonl").read_text().splitlines()
        )
    }


def test_publish_reads_review_decisions(cleaned_world, tmp_path):
    cat_path = tmp_path / "catalog.sqlite"
    with Catalog(cleaned_world.catalog_path) as cat:
        cat._db.execute(f"VACUUM INTO '{cat_path}'")
    out = tmp_path / "ds"
    with Catalog(cat_path) as cat:
        assert publish(cat, cleaned_world.root, out)["same_version"] is None  # a first release
        first = _entries(out)
        gone, changed = sorted(first)[:2]
        new_class = 13 if first[changed].df2_class != 13 else 12
        record_decision(cat, video=first[gone].video_paths[0], product_id=gone, kind="reject", reason="noise")
        record_decision(
            cat, video=first[changed].video_paths[0], product_id=changed, kind="class", df2_class=new_class
        )
        # a later `mf clean` that puts the item back to accepted does not override the reviewer
        row = next(r for r in cat.items() if r.product_id == gone)
        assert row.status == Status.REJECTED
        cat.set_item_state(row.item.source, row.item.source_id, status=Status.ACCEPTED, reason=None)
        res = publish(cat, cleaned_world.root, out)
        # other pairs under the version the first publish recorded: said (croissant.json)
        assert "split files changed but the dataset keeps version" in res["same_version"], res["same_version"]
        second = _entries(out)
        assert set(second) == set(first) - {gone}
        assert second[changed].df2_class == new_class
        split = read_official(out / "train.json") | read_official(out / "test.json")
        assert gone not in split and not list((out / "videos").glob(f"{gone}_*"))
        assert f"Products: {len(first) - 1}" in (out / "datasheet.md").read_text()
        again = publish(cat, cleaned_world.root, out)  # idempotent
        assert again["written"] == 0 and _entries(out) == second and again["same_version"] is None
        undo_decision(cat, video=first[gone].video_paths[0])
        publish(cat, cleaned_world.root, out)
        assert set(_entries(out)) == set(first)
