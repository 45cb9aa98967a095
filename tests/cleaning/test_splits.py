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


def test_hash_mode_is_a_pure_function_of_id_and_seed():
    before = assign_splits(_products(500), seed=3, mode="hash")
    after = assign_splits(_products(800), seed=3, mode="hash")
    assert all(after[pid] == split for pid, split in before.items())
    assert assign_splits(_products(500), seed=4, mode="hash") != before  # the seed matters


def _tally(prods, split):
    per, tot = Counter(), Counter()
    for pid, cls, part in prods:
        tot[(cls, part)] += 1
        per[(cls, part)] += split[pid] == Split.TEST
    return per, tot


def test_stable_mode_meets_the_quota_of_every_partition_and_class():
    # uneven strata: 1..40 products per (class, partition), 47-product and 2,000-product worlds
    for n in (47, 2000):
        prods = [(str(5000 + i), 1 + (i * 7) % 13, "regular" if i % 3 else "hard") for i in range(n)]
        split = assign_splits(prods, seed=0)
        per, tot = _tally(prods, split)
        for part in ("regular", "hard"):
            n_part = sum(v for k, v in tot.items() if k[1] == part)
            n_test = sum(v for k, v in per.items() if k[1] == part)
            assert n_test == int(0.1 * n_part + 0.5), (n, part, n_test, n_part)
        for key, m in tot.items():
            assert int(0.1 * m) <= per[key] <= int(0.1 * m) + 1, (key, per[key], m)
    assert assign_splits(prods, seed=0) == split  # deterministic
    assert assign_splits(prods, seed=1) != split  # and seeded


def test_quotas_are_exact_when_strata_divide_evenly():
    prods = _products(13 * 2 * 20)
    split = assign_splits(prods, seed=0)
    per = Counter((cls, part) for pid, cls, part in prods if split[pid] == Split.TEST)
    assert set(per.values()) == {2} and len(per) == 26


def test_pinned_products_keep_their_split_and_new_ones_fill_the_quota():
    first = _products(260)
    split = assign_splits(first, seed=0)
    grown = _products(520)
    # pin everything of the first batch into train: new products must supply every test seat
    pinned = {pid: Split.TRAIN for pid in split}
    again = assign_splits(grown, seed=0, pinned=pinned)
    assert all(again[pid] == Split.TRAIN for pid in pinned)
    per, tot = _tally(grown, again)
    assert sum(per.values()) == 52  # 10% of 520, all from the new half


def _item(source, sid):
    return SourceItem(source=source, source_id=sid, title="x")


def test_adding_products_to_the_catalog_never_moves_existing_ones(tmp_path):
    history: dict[str, str] = {}
    with Catalog(tmp_path / "c.sqlite") as cat:
        for batch in range(5):  # the catalog grows five times, 97 products each
            prods = [
                (
                    str(200000 + batch * 1000 + i),
                    1 + (i * 5 + batch) % 13,
                    "regular" if (i + batch) % 2 else "hard",
                )
                for i in range(97)
            ]
            cat.upsert_items([_item("netaporter", p) for p, _, _ in prods], status=Status.ACCEPTED)
            for pid, cls, part in prods:
                cat.set_item_state("netaporter", pid, product_id=pid, df2_class=cls, partition=part)
            res = rebuild_splits(cat, seed=7)
            now = {a.product_id: str(a.split) for a in res["assignments"]}
            assert all(now[p] == s for p, s in history.items()), "an existing product moved"
            assert res["pinned"] == len(history) and res["placed"] == 97
            history = now
            n = len(now)
            assert abs(res["test"] - 0.1 * n) <= 2, (batch, res["test"], n)
        # a different seed is a different rule: everything is redrawn
        res = rebuild_splits(cat, seed=8)
        assert res["pinned"] == 0
        # and --reassign forgets the pins of the same rule
        assert rebuild_splits(cat, seed=8, reassign=True)["pinned"] == 0
        assert rebuild_splits(cat, seed=8)["pinned"] == res["products"]


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


def _seats(n: int) -> int:
    """round-half-up(10% of n), at least one from 5 products on."""
    return max(int(0.1 * n + 0.5), 1 if n >= 5 else 0)


def test_small_partitions_get_at_least_one_test_product():
    # 28 products (the size a small unseen world publishes): 15 Regular, 13 Hard -> 2 + 1 test
    for n_reg, n_hard in ((15, 13), (5, 5), (7, 9), (4, 6), (24, 16), (35, 3)):
        prods = [(f"r{i}", 1 + i % 13, "regular") for i in range(n_reg)]
        prods += [(f"h{i}", 1 + (i * 5) % 13, "hard") for i in range(n_hard)]
        split = assign_splits(prods, seed=0)
        for part, n in (("regular", n_reg), ("hard", n_hard)):
            got = sum(split[p] == Split.TEST for p, _, pt in prods if pt == part)
            assert got == _seats(n), (n_reg, n_hard, part, got)


def test_a_growing_catalog_keeps_every_partition_at_its_seats_and_moves_nothing(tmp_path):
    """Products arrive three at a time, so the first ones are pinned to train before a partition
    has 5 products; new products must then supply the seats the pinned strata cannot."""
    history: dict[str, str] = {}
    meta: dict[str, tuple[int, str]] = {}
    with Catalog(tmp_path / "c.sqlite") as cat:
        for batch in range(14):
            prods = [
                (str(300000 + batch * 10 + i), 1 + (batch * 3 + i) % 13, "regular" if i % 2 else "hard")
                for i in range(3)
            ]
            cat.upsert_items([_item("netaporter", p) for p, _, _ in prods], status=Status.ACCEPTED)
            for pid, cls, part in prods:
                cat.set_item_state("netaporter", pid, product_id=pid, df2_class=cls, partition=part)
                meta[pid] = (cls, part)
            res = rebuild_splits(cat, seed=3)
            now = {a.product_id: str(a.split) for a in res["assignments"]}
            assert all(now[p] == s for p, s in history.items()), "an existing product moved"
            for part in ("regular", "hard"):
                members = [p for p in now if meta[p][1] == part]
                n_test = sum(now[p] == "test" for p in members)
                assert n_test >= _seats(len(members)), (batch, part, n_test, len(members))
                assert n_test <= _seats(len(members)) + 1, (batch, part, n_test, len(members))
            history = now


def test_a_partition_whose_test_products_were_taken_down_is_reported_short(tmp_path, caplog):
    """Pinned train products never move to test: once the only Hard test product is taken down
    the Hard evaluation is empty, and the rebuild says so (it said nothing); new products fill
    the seats and the report clears."""
    with Catalog(tmp_path / "c.sqlite") as cat:
        pids = [str(400000 + i) for i in range(8)]
        cat.upsert_items([_item("netaporter", p) for p in pids], status=Status.ACCEPTED)
        for i, pid in enumerate(pids):
            cat.set_item_state("netaporter", pid, product_id=pid, df2_class=1 + i % 3, partition="hard")
        first = rebuild_splits(cat, seed=1)
        assert first["test_seats_short"] == {}
        tested = [a.product_id for a in first["assignments"] if a.split == Split.TEST]
        assert len(tested) == _seats(8) == 1
        cat.set_item_state("netaporter", tested[0], status=Status.REJECTED, reason="gone: http_404")
        with caplog.at_level("WARNING", logger="cleaning.splits"):
            short = rebuild_splits(cat, seed=1)
        assert short["test_seats_short"] == {"hard": {"products": 7, "seats": 1, "test": 0}}
        assert (
            "hard partition has 0 test products of the 1" in caplog.text
            and "evaluation is empty" in caplog.text
        )
        assert all(a.split == Split.TRAIN for a in short["assignments"])  # nothing pinned moved
        new = "400100"
        cat.upsert_items([_item("netaporter", new)], status=Status.ACCEPTED)
        cat.set_item_state("netaporter", new, product_id=new, df2_class=2, partition="hard")
        filled = rebuild_splits(cat, seed=1)
    assert filled["test_seats_short"] == {}
    assert {a.product_id: a.split for a in filled["assignments"]}[new] == Split.TEST
