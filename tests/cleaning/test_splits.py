"""Stable stratified splits, groups that follow their representative, and the leakage check."""

from __future__ import annotations

from collections import Counter

from cleaning.splits import assign_splits, check_leakage, rebuild_splits, unit_hash
from schemas.catalog import Catalog
from schemas.dataset import Split
from schemas.items import SourceItem, Status


def _products(n: int, start: int = 0) -> list[tuple[str, int, str]]:
    """n products cycling over the 26 (class, partition) strata."""
    return [
        (str(100000 + i), 1 + i % 13, "regular" if (i // 13) % 2 else "hard") for i in range(start, start + n)
    ]


def test_unit_hash_is_deterministic_and_seeded():
    assert unit_hash("123", 0) == unit_hash("123", 0)
    assert unit_hash("123", 0) != unit_hash("123", 1)
    assert 0 <= unit_hash("x", 5) < 1


def test_adding_products_never_moves_existing_ones():
    before = assign_splits(_products(500), seed=3)
    after = assign_splits(_products(800), seed=3)
    assert all(after[pid] == split for pid, split in before.items())
    assert assign_splits(_products(500), seed=4) != before  # the seed matters


def test_ratio_is_about_ten_percent_in_every_stratum():
    prods = _products(13 * 2 * 300)
    split = assign_splits(prods, seed=0)
    per = Counter()
    tot = Counter()
    for pid, cls, part in prods:
        tot[(cls, part)] += 1
        per[(cls, part)] += split[pid] == Split.TEST
    for key, n in tot.items():
        assert 0.04 < per[key] / n < 0.17, (key, per[key], n)
    overall = sum(per.values()) / sum(tot.values())
    assert 0.085 < overall < 0.115


def test_balanced_mode_gives_exact_quotas():
    prods = _products(13 * 2 * 20)
    split = assign_splits(prods, seed=0, mode="balanced")
    per = Counter((cls, part) for pid, cls, part in prods if split[pid] == Split.TEST)
    assert set(per.values()) == {2}


def _item(source, sid):
    return SourceItem(source=source, source_id=sid, title="x")


def test_rebuild_keeps_duplicates_with_their_representative(tmp_path):
    with Catalog(tmp_path / "c.sqlite") as cat:
        items = [_item("netaporter", str(1000 + i)) for i in range(120)]
        cat.upsert_items(items, status=Status.ACCEPTED, partition="regular")
        for i, it in enumerate(items):
            cat.set_item_state(it.source, it.source_id, product_id=it.source_id, df2_class=1 + i % 13)
        # two re-posts of accepted items, one of them a chain
        cat.upsert_items(
            [_item("tiktok", "7001"), _item("tiktok", "7002")], status=Status.DUPLICATE, partition="hard"
        )
        cat.set_item_state("tiktok", "7001", duplicate_of="netaporter/1003", product_id="7001", df2_class=1)
        cat.set_item_state("tiktok", "7002", duplicate_of="tiktok/7001", product_id="7002", df2_class=1)
        res = rebuild_splits(cat, seed=0)
        assert res["products"] == 120 and res["test"] + res["train"] == 120
        rep = cat.get_item("netaporter", "1003").split
        assert cat.get_item("tiktok", "7001").split == rep == cat.get_item("tiktok", "7002").split
        assert check_leakage(cat) == []
        # rebuilding is idempotent
        again = rebuild_splits(cat, seed=0)
        assert [a.model_dump() for a in again["assignments"]] == [a.model_dump() for a in res["assignments"]]
        # a duplicate in the other split is reported as leakage
        other = "train" if rep == "test" else "test"
        cat.set_item_state("tiktok", "7002", split=other)
        assert any("duplicate group" in p for p in check_leakage(cat))


def test_world_splits_have_no_leakage(cleaned_world):
    with Catalog(cleaned_world.catalog_path) as cat:
        assert check_leakage(cat) == []
        rows = cat.items()
        accepted = [r for r in rows if r.status == Status.ACCEPTED]
        assert accepted and all(r.split in ("train", "test") for r in accepted)
        by_key = {f"{r.item.source}/{r.item.source_id}": r for r in rows}
        for r in rows:
            if r.status == Status.DUPLICATE:
                assert r.split == by_key[r.duplicate_of].split
        train = {r.product_id for r in accepted if r.split == "train"}
        test = {r.product_id for r in accepted if r.split == "test"}
        assert not train & test
