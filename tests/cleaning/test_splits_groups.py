"""`rebuild_splits` when an item joins an existing product's group (a re-listing of the same shop
image): the group keeps the split its product already holds, whatever the newcomer's key."""

from __future__ import annotations

from pathlib import Path

from cleaning.splits import check_leakage, rebuild_splits
from schemas.catalog import Catalog
from schemas.items import AssetKind, MediaAsset, SourceItem, Status


def _add(
    cat: Catalog,
    sid: str,
    cls: int,
    dup_of: str | None = None,
    status: Status = Status.ACCEPTED,
    duplicate_of: str | None = None,
) -> None:
    """An accepted Net-A-Porter product with a shop image (``dup_of``: the shop image it
    duplicates); ``duplicate_of``: the item whose video it re-posts (then a duplicate item)."""
    cat.upsert_item(
        SourceItem(source="netaporter", source_id=sid, url=f"https://x/{sid}"),
        status=Status.DUPLICATE if duplicate_of else status,
        product_id=sid,
        df2_class=cls,
        partition="regular",
        duplicate_of=duplicate_of,
    )
    cat.upsert_asset(
        MediaAsset(
            source="netaporter",
            source_id=sid,
            kind=AssetKind.SHOP,
            url=f"https://x/{sid}.jpg",
            path=f"netaporter/{sid}/shop.jpg",
            status=Status.ACCEPTED,
            duplicate_of=dup_of,
        )
    )


def _splits(cat: Catalog) -> dict[str, str | None]:
    return {r.item.source_id: r.split for r in cat.items()}


def test_a_relisting_whose_key_sorts_first_never_moves_the_product_it_joins(tmp_path: Path):
    moved = []
    for trial in range(40):  # the newcomer's own hash draws train in some of these, test in others
        with Catalog(tmp_path / f"c{trial}.sqlite") as cat:
            ids = [f"p{trial:02d}{i:03d}" for i in range(20)]
            for i, sid in enumerate(ids):
                _add(cat, sid, 1 + i % 4)
            rebuild_splits(cat)
            before = _splits(cat)
            old = next(s for s, sp in before.items() if sp == "test")
            cls = cat.get_item("netaporter", old).df2_class
            # a re-listing of the test product (its key sorts first) and three other new products
            _add(cat, "0" + old, cls, dup_of=f"netaporter/{old}/shop.jpg")
            for j in range(3):
                _add(cat, f"q{trial:02d}{j}", 1 + cls % 4)
            rebuild_splits(cat)
            after = _splits(cat)
            moved += [(trial, s, before[s], after[s]) for s in before if after[s] != before[s]]
            assert after["0" + old] == after[old]  # the newcomer joins its product's split
            assert check_leakage(cat) == []
    assert moved == [], f"existing products moved: {moved[:5]}"


def test_a_held_back_test_product_keeps_its_split_when_a_relisting_joins_it(tmp_path: Path):
    moved = []
    for trial in range(20):
        with Catalog(tmp_path / f"c{trial}.sqlite") as cat:
            ids = [f"p{trial:02d}{i:03d}" for i in range(20)]
            for i, sid in enumerate(ids):
                _add(cat, sid, 1 + i % 4)
            rebuild_splits(cat)
            old = next(s for s, sp in _splits(cat).items() if sp == "test")
            cls = cat.get_item("netaporter", old).df2_class
            cat.set_item_state("netaporter", old, status=Status.NEEDS_REVIEW, reason="tracklets: noisy")
            _add(cat, "z" + old, cls, dup_of=f"netaporter/{old}/shop.jpg")  # the only accepted member
            for j in range(6):  # new products competing for the seat the held-back product left
                _add(cat, f"q{trial:02d}{j}", 1 + j % 4)
            rebuild_splits(cat)
            after = _splits(cat)
            if after[old] != "test" or after["z" + old] != "test":
                moved.append((trial, old, after[old], after["z" + old]))
    assert moved == [], f"a test product's group went to train: {moved[:5]}"


def test_the_report_counts_products_not_the_items_a_product_groups(tmp_path: Path, caplog):
    """Two items carrying one shop image are one product (``mf publish`` publishes them as one):
    the rebuild's report counted each accepted item as a product (15 for 14 products, pinned +
    placed 14), its strata too, and warned that the partition of 15 "products" was one test
    product short of the 2 it calls for, though the 14 products call for 1."""
    with Catalog(tmp_path / "c.sqlite") as cat:
        ids = [f"p{i:03d}" for i in range(14)]
        for i, sid in enumerate(ids):
            _add(cat, sid, 1 + i % 4)
        first = rebuild_splits(cat)
        train = next(a.product_id for a in first["assignments"] if str(a.split) == "train")
        _add(
            cat,
            "r" + train,
            cat.get_item("netaporter", train).df2_class,
            dup_of=f"netaporter/{train}/shop.jpg",
        )
        with caplog.at_level("WARNING"):
            res = rebuild_splits(cat)
        joined = _splits(cat)["r" + train]
    assert joined == "train"
    assert res["products"] == 14 == res["pinned"] + res["placed"] and res["test"] + res["train"] == 14
    assert sum(n for s in res["stratum_counts"].values() for n in s.values()) == 14
    assert len(res["assignments"]) == 14 and "r" + train not in {a.product_id for a in res["assignments"]}
    assert res["test_seats_short"] == {} and "test products of the" not in caplog.text
