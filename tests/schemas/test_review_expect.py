"""A decision checked against the item's catalog state stores nothing when the state moved before
its transaction (a `mf clean` rerun committed between the check and the write): the comparison
runs inside the decision's own transaction, so there is no window left. Before, record_decision
took no state to compare."""

from __future__ import annotations

import pytest

from schemas.catalog import Catalog
from schemas.items import SourceItem, Status
from schemas.review import ItemChanged, ItemState, item_state, list_decisions, record_decision


def _catalog(path) -> Catalog:
    cat = Catalog(path)
    cat.upsert_items(
        [SourceItem(source="netaporter", source_id="p0", url="http://x/0")], status=Status.ACCEPTED
    )
    cat.set_item_state(
        "netaporter", "p0", product_id="P0", df2_class=1, status=Status.NEEDS_REVIEW, reason="held"
    )
    return cat


def test_a_state_moved_since_the_check_stores_nothing_and_a_retry_is_still_answered(tmp_path):
    path = tmp_path / "c.sqlite"
    with _catalog(path) as cat:
        seen = item_state(cat, "P0")
        assert seen == ItemState("netaporter", "p0", Status.NEEDS_REVIEW, "held")
        assert item_state(cat, "nope") == ItemState()
        events = len(cat.events("review"))
        with Catalog(path) as rerun:  # another connection commits after the check
            rerun.set_item_state("netaporter", "p0", status=Status.DUPLICATE, reason="duplicate of p9")
        ask = {"video": "videos/P0_0.mp4", "product_id": "P0", "kind": "reject", "reason": "bad"}
        with pytest.raises(ItemChanged, match="P0") as exc:
            record_decision(cat, **ask, request_id="r1", expect=seen)
        assert exc.value.now.status == Status.DUPLICATE
        # nothing half-written: no decision, no event, the rerun's state as it left it
        assert list_decisions(cat, include_undone=True) == []
        assert len(cat.events("review")) == events
        row = cat.get_item("netaporter", "p0")
        assert (row.status, row.reason) == (Status.DUPLICATE, "duplicate of p9")

        # checked against the state as it is now, the decision goes through, once
        now = item_state(cat, "P0")
        d, created = record_decision(
            cat, video="videos/P0_0.mp4", product_id="P0", kind="note", note="n", request_id="n1", expect=now
        )
        assert created and d.prev["status"] == Status.DUPLICATE
        # a retry of a stored request is answered as the first time, whatever the state now
        again, created = record_decision(
            cat, video="videos/P0_0.mp4", product_id="P0", kind="note", note="n", request_id="n1", expect=seen
        )
        assert not created and again.id == d.id
        # an item the catalog lost since the check
        with pytest.raises(ItemChanged, match="now absent"):
            record_decision(cat, video="videos/P9_0.mp4", product_id="P9", kind="note", note="n", expect=seen)
        assert len(list_decisions(cat, include_undone=True)) == 1
