"""A new item that links two placed duplicate groups (it re-posts one product's video and carries
another's shop image) merges them: the train product moves to test (no leakage), and the
rebuild reports the move in ``moved`` and `mf splits rebuild` warns about it."""

from __future__ import annotations

import json
from pathlib import Path

from cleaning.splits import check_leakage, rebuild_splits
from schemas.catalog import Catalog
from schemas.items import Status
from tests.cleaning.test_splits_groups import _add
from tests.mf_cli import run_mf


def _linked(tmp_path: Path) -> tuple[Path, str, str]:
    """20 placed products, then a new item linking a test product's group to a train product's:
    (catalog, the test product, the train product)."""
    path = tmp_path / "c.sqlite"
    with Catalog(path) as cat:
        for i in range(20):
            _add(cat, f"p{i:02d}", 1)
        first = rebuild_splits(cat)
        assert first["moved"] == []
        splits = {r.item.source_id: r.split for r in cat.items()}
        test = next(s for s, sp in sorted(splits.items()) if sp == "test")
        train = next(s for s, sp in sorted(splits.items()) if sp == "train")
        _add(cat, "new", 1, dup_of=f"netaporter/{train}/shop.jpg", duplicate_of=f"netaporter/{test}")
    return path, test, train


def test_a_product_moved_by_a_group_merge_is_reported(tmp_path: Path):
    path, test, train = _linked(tmp_path)
    with Catalog(path) as cat:
        res = rebuild_splits(cat)
        assert cat.get_item("netaporter", train).split == "test"  # the merged group is in test
        assert check_leakage(cat) == []
    assert res["moved"] == [
        {
            "product": train,
            "item": f"netaporter/{train}",
            "from": "train",
            "to": "test",
            "because": f"its duplicate group now holds netaporter/{test} (in test)",
        }
    ]
    with Catalog(path) as cat:
        assert rebuild_splits(cat)["moved"] == []  # nothing moves twice
        events = [e["message"] for e in cat.events("splits")]
        assert "moved=1" in events[-2] and "moved" not in events[-1]


def test_reassign_lists_every_moved_product_with_its_cause(tmp_path: Path):
    path, _, _ = _linked(tmp_path)
    with Catalog(path) as cat:
        before = {r.product_id: r.split for r in cat.items() if r.status == Status.ACCEPTED}
        res = rebuild_splits(cat, reassign=True, seed=7)
        after = {r.product_id: r.split for r in cat.items() if r.status == Status.ACCEPTED}
    changed = {p for p in before if before[p] != after[p]}
    assert changed  # seed 7 draws other test products
    assert {m["product"] for m in res["moved"]} == changed
    assert all(m["because"] == "--reassign redrew every split" for m in res["moved"])


def test_mf_splits_rebuild_warns_about_a_moved_product(tmp_path: Path, capsys):
    path, test, train = _linked(tmp_path)
    code, out, err = run_mf(["splits", "rebuild", "--catalog", str(path), "--json"], capsys)
    assert code == 0
    assert json.loads(out)["moved"][0]["product"] == train
    assert (
        f"warning: product {train} (netaporter/{train}) moved from train to test: its duplicate group "
        f"now holds netaporter/{test} (in test)" in err
    )
    code, out, err = run_mf(["splits", "rebuild", "--catalog", str(path)], capsys)
    assert code == 0 and "moved: []" in out and "warning: product" not in err
