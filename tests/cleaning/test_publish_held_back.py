"""`mf publish` holds back needs_review and rejected items until they are accepted, and says so."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cleaning.cli import publish as publish_cmd
from cleaning.publish import publish
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.official import read_official
from schemas.review import record_decision


def _in_splits(out) -> set[str]:
    return set(read_official(out / "train.json")) | set(read_official(out / "test.json"))


def test_flagged_items_stay_out_until_accepted(cleaned_world, catalog_copy, tmp_path):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        first = publish(cat, cleaned_world.root, out)
        published = _in_splits(out)
        flagged_before = {h["item"] for h in first["held_back"] if h["status"] == "needs_review"}
        # every needs_review / rejected item of the catalog is listed with its reason, none published
        for status in (Status.NEEDS_REVIEW, Status.REJECTED):
            for r in cat.items(status=status):
                h = next(h for h in first["held_back"] if h["item"] == f"{r.item.source}/{r.item.source_id}")
                assert h["reason"] == r.reason and h["status"] == str(status)
                assert r.product_id not in published
        # the tracklet builder flags a published product (mf-tracklets build --catalog)
        row = next(r for r in cat.items(status=Status.ACCEPTED) if r.product_id in published)
        cat.set_item_state(
            row.item.source, row.item.source_id, status=Status.NEEDS_REVIEW, reason="tracklets: 3 of 90 boxed"
        )
        second = publish(cat, cleaned_world.root, out)
        assert row.product_id not in _in_splits(out)
        held = {h["item"]: h for h in second["held_back"]}
        key = f"{row.item.source}/{row.item.source_id}"
        assert held[key]["reason"] == "tracklets: 3 of 90 boxed" and set(held) >= flagged_before
        assert second["held_back_by_reason"]["needs_review/tracklets"] == 1
        assert second["products"] == first["products"] - 1
        # a reviewer accepts it: the next publish has it back
        record_decision(cat, video=f"videos/{row.product_id}_0.mp4", product_id=row.product_id, kind="accept")
        publish(cat, cleaned_world.root, out)
        assert row.product_id in _in_splits(out)
    res = CliRunner().invoke(
        publish_cmd,
        ["--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out), "--json"],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert key not in {h["item"] for h in doc["held_back"]} and "held_back_by_reason" in doc
    text = CliRunner().invoke(
        publish_cmd, ["--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out)]
    )
    assert f"held back (not in train.json/test.json until accepted): {len(doc['held_back'])}" in text.output
    # the command that lifts a hold is named (human and --json), next to the reasons
    assert any(h["status"] == "needs_review" for h in doc["held_back"])
    lift = f"mf-tracklets review --dataset {out} --catalog {catalog_copy}"
    assert doc["held_back_lift"] == lift and f"lift a hold: {lift} lists each held item" in text.output
