"""Publish's ``merge:`` hold is one conflict: the items sharing the shop image with another colour,
all of them (the hold's record keeps their keys). A reviewer's accept made under it covers that
conflict whatever its reason text names first now; a conflict with an item the accept did not
see holds the item again, even when the reason text would start with the same page."""

from __future__ import annotations

from pathlib import Path

from cleaning.publish import MERGE_HOLDS, hold_shop_conflicts
from cleaning.steps.state import MERGE_PREFIX
from schemas.catalog import Catalog
from schemas.items import AssetKind, MediaAsset, SourceItem, Status
from schemas.review import record_decision

SHARED, OTHER = "a" * 64, "b" * 64
COLOURS = {"a": "red", "b": "blue", "c": "green", "d": "black"}


def _catalog(path: Path, shops: dict[str, str]) -> Catalog:
    """Accepted netaporter items of ``shops`` (``a`` .. ``d``: products ``A`` .. ``D``, colours
    red, blue, green, black), each with one accepted shop image of the SHA-256 given there."""
    cat = Catalog(path)
    for sid in shops:
        cat.upsert_items(
            [SourceItem(source="netaporter", source_id=sid, url=f"http://shop/{sid}", colour=COLOURS[sid])],
            status=Status.ACCEPTED,
            product_id=sid.upper(),
            df2_class=1,
        )
        _set_shop(cat, sid, shops[sid])
    return cat


def _set_shop(cat: Catalog, sid: str, sha: str) -> None:
    cat.upsert_asset(
        MediaAsset(
            source="netaporter",
            source_id=sid,
            kind=AssetKind.SHOP,
            url=f"http://shop/{sid}.jpg",
            path=f"netaporter/{sid}/shop.jpg",
            sha256=sha,
            status=Status.ACCEPTED,
        )
    )


def _state(cat: Catalog, sid: str) -> tuple[str, str | None]:
    row = cat.get_item("netaporter", sid)
    assert row is not None
    return str(row.status), row.reason


def _accept_held_a(cat: Catalog) -> str:
    """Publish's holds, then a reviewer's accept of ``a`` under its hold; the hold's reason."""
    hold_shop_conflicts(cat)
    status, reason = _state(cat, "a")
    assert status == Status.NEEDS_REVIEW and (reason or "").startswith(MERGE_PREFIX)
    record_decision(cat, video="videos/A_0.mp4", product_id="A", kind="accept")
    assert _state(cat, "a") == (Status.ACCEPTED, None)
    hold_shop_conflicts(cat)
    assert _state(cat, "a") == (Status.ACCEPTED, None)  # the accepted conflict: not held again
    return str(reason)


def test_a_new_page_in_the_conflict_holds_the_accepted_item_again(tmp_path):
    """``c`` joins the conflict ``a`` was accepted under (with ``b``): the first page named stays
    ``b``, but the conflict is another one, which the reviewer did not see."""
    with _catalog(tmp_path / "c.sqlite", {"a": SHARED, "b": SHARED, "c": OTHER}) as cat:
        accepted_under = _accept_held_a(cat)
        _set_shop(cat, "c", SHARED)
        hold_shop_conflicts(cat)
        status, reason = _state(cat, "a")
        assert status == Status.NEEDS_REVIEW
        assert "netaporter/b" in str(reason) and "netaporter/c" in str(reason)
        assert reason != accepted_under
        assert sorted(cat.get_meta(MERGE_HOLDS)["netaporter/a"]["with"]) == ["netaporter/b", "netaporter/c"]


def test_the_same_conflict_named_anew_stays_accepted(tmp_path):
    """The other page's product id changes (its reason text with it): the same conflict, which the
    reviewer accepted, so the item is not held again."""
    with _catalog(tmp_path / "c.sqlite", {"a": SHARED, "b": SHARED, "c": OTHER}) as cat:
        _accept_held_a(cat)
        cat.set_item_state("netaporter", "b", product_id="B2")
        hold_shop_conflicts(cat)
        assert _state(cat, "a") == (Status.ACCEPTED, None)


def test_a_page_leaving_the_accepted_conflict_keeps_the_item_accepted(tmp_path):
    """Accepted in conflict with ``b`` and ``c`` (both named); ``b`` is rejected, so ``c`` is the
    first page named now: still part of what the reviewer accepted."""
    with _catalog(tmp_path / "c.sqlite", {"a": SHARED, "b": SHARED, "c": SHARED}) as cat:
        reason = _accept_held_a(cat)
        assert "netaporter/b" in reason and "netaporter/c" in reason
        cat.set_item_state("netaporter", "b", status=Status.REJECTED, reason="review: wrong shop image")
        hold_shop_conflicts(cat)
        assert _state(cat, "a") == (Status.ACCEPTED, None)


def test_a_subset_of_the_accepted_conflict_is_that_conflict_a_newcomer_is_another(tmp_path):
    """The rule both ways: accepted beside ``b`` and ``c``, the item stays accepted while the
    conflict is any part of that (``b`` fixed aside: its shop image replaced; ``b`` back: a page
    the reviewer saw), and is held again once ``d``, which the reviewer never saw beside it,
    joins, even with ``b`` and ``c`` gone from it."""
    shops = {"a": SHARED, "b": SHARED, "c": SHARED, "d": OTHER}
    with _catalog(tmp_path / "c.sqlite", shops) as cat:
        _accept_held_a(cat)
        _set_shop(cat, "b", "e" * 64)  # b's shop image fixed: the conflict is a and c only
        hold_shop_conflicts(cat)
        assert _state(cat, "a") == (Status.ACCEPTED, None)
        _set_shop(cat, "b", SHARED)  # b's image back: the conflict the reviewer accepted
        hold_shop_conflicts(cat)
        assert _state(cat, "a") == (Status.ACCEPTED, None)
        for sid in "bc":
            cat.set_item_state("netaporter", sid, status=Status.REJECTED, reason="review: wrong shop image")
        _set_shop(cat, "d", SHARED)  # d joins: a conflict of one item, but not one the accept saw
        hold_shop_conflicts(cat)
        status, reason = _state(cat, "a")
        assert status == Status.NEEDS_REVIEW and "netaporter/d" in str(reason)
        assert cat.get_meta(MERGE_HOLDS)["netaporter/a"]["with"] == ["netaporter/d"]


def test_a_page_joining_a_held_items_conflict_renews_its_hold_so_one_accept_suffices(tmp_path):
    """``a`` and ``b`` are held (one conflict); ``c`` joins it before any review: the held items'
    hold names ``c`` now (its record too), so one accept of the conflict as it stands releases ``a``
    for good. Before, the hold kept naming ``b`` alone: the accept made under it did not cover
    ``c``, and the next publish held ``a`` again, for a second accept."""
    with _catalog(tmp_path / "c.sqlite", {"a": SHARED, "b": SHARED, "c": OTHER}) as cat:
        hold_shop_conflicts(cat)
        status, first = _state(cat, "a")
        assert status == Status.NEEDS_REVIEW and "netaporter/c" not in str(first)
        _set_shop(cat, "c", SHARED)
        hold_shop_conflicts(cat)
        for sid, others in (("a", "bc"), ("b", "ac")):
            status, reason = _state(cat, sid)
            assert status == Status.NEEDS_REVIEW
            assert all(f"netaporter/{o}" in str(reason) for o in others)
            rec = cat.get_meta(MERGE_HOLDS)[f"netaporter/{sid}"]
            assert rec["hold"] == reason and rec["with"] == [f"netaporter/{o}" for o in others]
            assert rec["reason"] is None  # the reason before the first hold, not the first hold's
        renewed = _state(cat, "a")
        _set_shop(cat, "c", OTHER)  # c leaves again: a part of the conflict the hold names
        hold_shop_conflicts(cat)
        assert _state(cat, "a") == renewed
        _set_shop(cat, "c", SHARED)
        record_decision(cat, video="videos/A_0.mp4", product_id="A", kind="accept")
        assert _state(cat, "a") == (Status.ACCEPTED, None)
        hold_shop_conflicts(cat)
        assert _state(cat, "a") == (Status.ACCEPTED, None)
        hold_shop_conflicts(cat)  # a rerun with nothing changed changes nothing
        assert _state(cat, "a") == (Status.ACCEPTED, None)
