"""Two publishes of one catalog (into two folders: each holds its own folder's lock, and both
hold the catalog's cleaning lock shared) write merge holds at the same time. Each writes only
what it decided: the hold records (``MERGE_HOLDS``) of items the other publish held meanwhile
stay, whether this publish goes on (its clean-up of records) or is refused (its undo). The two
publishes are interleaved step by step, on two handles of the catalog, as two processes would
run them."""

from __future__ import annotations

from cleaning.publish import MERGE_HOLDS, hold_shop_conflicts, shop_holds, undo_shop_holds
from schemas.catalog import Catalog
from schemas.items import Status
from tests.cleaning.test_merge_hold_key import SHARED, _catalog, _set_shop, _state

OTHER, THIRD = "c" * 64, "d" * 64


def _records(cat: Catalog) -> dict:
    return cat.get_meta(MERGE_HOLDS) or {}


def test_a_publish_keeps_the_hold_records_another_publish_wrote_meanwhile(tmp_path):
    path = tmp_path / "c.sqlite"
    with _catalog(path, {"a": SHARED, "b": SHARED, "c": OTHER, "d": THIRD}) as first:
        first.set_item_state("netaporter", "c", reason="checked by hand: the tag reads M")
        with Catalog(path) as second:
            decided = shop_holds(first)  # the first publish reads (a and b conflict)
            _set_shop(second, "c", THIRD)  # then c and d share a shop image too
            assert hold_shop_conflicts(second)["held"] == [("netaporter", s) for s in "abcd"]
            hold_shop_conflicts(first, decided)  # the first writes what it decided
            assert sorted(_records(first)) == [f"netaporter/{s}" for s in "abcd"]
            # c's record is what its release needs: the reason c had before the hold
            _set_shop(second, "d", OTHER)
            hold_shop_conflicts(second)
            assert _state(second, "c") == (Status.ACCEPTED, "checked by hand: the tag reads M")


def test_a_publish_undoing_its_holds_leaves_another_publishs_holds(tmp_path):
    path = tmp_path / "c.sqlite"
    with _catalog(path, {"a": SHARED, "b": SHARED, "c": OTHER, "d": THIRD}) as first, Catalog(path) as second:
        decided = shop_holds(first)
        done = hold_shop_conflicts(first, decided)  # the first holds a and b
        _set_shop(second, "c", THIRD)
        assert hold_shop_conflicts(second)["held"] == [("netaporter", "c"), ("netaporter", "d")]
        undo_shop_holds(first, decided, done)  # the first is refused after all
        assert _state(first, "a") == (Status.ACCEPTED, None)
        assert sorted(_records(first)) == ["netaporter/c", "netaporter/d"]
        assert _records(first)["netaporter/c"]["with"] == ["netaporter/d"]
