"""``record`` against publish's ``merge: ...`` hold (an item sharing its shop image with another
product page of another colour): kept while cleaning accepts the item, replaced by a
needs_review of cleaning's own, since publish releases its hold back to ``accepted`` by itself."""

from __future__ import annotations

from cleaning.publish import hold_shop_conflicts
from cleaning.steps.record import RecordStep
from cleaning.steps.state import MERGE_PREFIX, CleaningState
from schemas.items import SourceItem, Status

HOLD = f"{MERGE_PREFIX} shares its shop image with tiktok/z (product z), another product page whose colour differs"
FLAG = "taxonomy: not sure it is clothing"


def test_cleanings_own_hold_replaces_a_merge_hold_and_survives_its_release(ctx):
    ctx.catalog.upsert_items(
        [SourceItem(source="tiktok", source_id=s, title="silk blouse") for s in ("a", "b")],
        status=Status.NEEDS_REVIEW,
        reason=HOLD,
    )
    state = CleaningState.from_catalog(ctx.catalog)
    for it in state.items.values():
        it.df2_class = 1
    state.items["tiktok/a"].decide(Status.NEEDS_REVIEW, FLAG)
    state.items["tiktok/b"].decide(Status.ACCEPTED, None)
    RecordStep().run(state, ctx)

    rows = {r.item.source_id: (r.status, r.reason) for r in ctx.catalog.items()}
    assert rows == {"a": (Status.NEEDS_REVIEW, FLAG), "b": (Status.NEEDS_REVIEW, HOLD)}
    # no conflict left (no shop images here): publish releases its own hold only
    assert hold_shop_conflicts(ctx.catalog)["released"] == [("tiktok", "b")]
    assert ctx.catalog.get_item("tiktok", "a").status == Status.NEEDS_REVIEW
