"""`mf publish` accounts for every catalog item: published, held back, duplicates (naming the kept
item), failed, not cleaned; the counts add up to the catalog's items, in --json and in the text."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cleaning.cli import _publish_human
from cleaning.cli import publish as publish_cmd
from cleaning.publish.accounting import FATES, LABELS
from schemas.catalog import Catalog
from schemas.items import Status


def test_publish_accounts_for_every_item(cleaned_world, catalog_copy, tmp_path):
    out = tmp_path / "ds"
    args = ["--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out), "--json"]
    res = CliRunner().invoke(publish_cmd, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    items = doc["items"]
    with Catalog(catalog_copy, read_only=True) as cat:
        n = {s: cat.count_items(status=str(s)) for s in Status}
        dup_rows = {f"{r.item.source}/{r.item.source_id}": r for r in cat.items(status=Status.DUPLICATE)}
        keys = {f"{r.item.source}/{r.item.source_id}" for r in cat.items()}
    # the counts add up to the catalog's items, none left unsaid
    assert items["catalog"] == sum(n.values()) == sum(items[f] for f in FATES)
    assert items["other"] == 0 and doc["unaccounted"] == []
    assert items["needs_review"] == n[Status.NEEDS_REVIEW] and items["rejected"] == n[Status.REJECTED]
    assert items["published"] + items["no_class"] == n[Status.ACCEPTED] and items["failed"] == 0
    held = doc["held_back"]
    assert items["needs_review"] + items["rejected"] + items["no_class"] == len(held)
    # the small world plants duplicates: each is listed with the item it copies, a kept one
    assert items["duplicate"] == len(dup_rows) == len(doc["duplicates"]) > 0
    for d in doc["duplicates"]:
        assert d["duplicate_of"] == dup_rows[d["item"]].duplicate_of
        assert d["duplicate_of"] in keys and d["duplicate_of"] not in dup_rows
        assert d["kept_fate"] in FATES and d["kept_fate"] != "duplicate"
    assert any(d["kept_fate"] == "published" and d["kept_product_id"] for d in doc["duplicates"])
    # the text says the same
    text = _publish_human(doc)
    parts = " + ".join(f"{items[f]} {LABELS[f]}" for f in FATES if items[f])
    assert f"catalog items: {items['catalog']} = {parts}" in text
    assert f"duplicates (dropped as copies of a kept item): {items['duplicate']}" in text
    for d in doc["duplicates"]:
        assert f"{d['item']}: copy of {d['duplicate_of']}" in text
