"""The tracklet builder's flags recorded while another stage held the item (cleaning's
association check, publish's merge hold) or while cleaning excluded it (rejected, duplicate) hold
the item the moment cleaning or publish writes it ``accepted`` (``tracklet_flags:`` record,
:func:`schemas.review.flag_video`): a rerun clearing its own hold or accepting the item, or
publish releasing its merge hold, never lets ``mf publish`` have it with the flagged videos
unreviewed."""

from __future__ import annotations

import pytest

from cleaning.publish import hold_shop_conflicts
from cleaning.steps.record import Decision, RecordStep, write_decisions
from cleaning.steps.state import MERGE_PREFIX, CleaningState
from schemas.items import SourceItem, Status
from schemas.review import flag_item, flag_video, record_decision, unflag_videos

FLAGGED = (Status.NEEDS_REVIEW, "tracklets: a_1: too few frames")


def _item(ctx, status: Status, reason: str | None) -> None:
    ctx.catalog.upsert_items([SourceItem(source="tiktok", source_id="a", title="silk blouse")], status=status)
    ctx.catalog.set_item_state("tiktok", "a", status=status, reason=reason, product_id="a", df2_class=1)


def _row(ctx) -> tuple[str, str | None]:
    row = ctx.catalog.get_item("tiktok", "a")
    return row.status, row.reason


def _clean_accepts(ctx) -> None:
    """A rerun of ``mf clean`` that accepts the item (no association step after ``record``)."""
    state = CleaningState.from_catalog(ctx.catalog)
    state.items["tiktok/a"].df2_class = 1
    state.items["tiktok/a"].decide(Status.ACCEPTED, None)
    RecordStep().run(state, ctx)


def _check_accepts(ctx) -> None:
    """The association check accepting the item it held (what ``associations`` writes)."""
    state = CleaningState.from_catalog(ctx.catalog)
    state.items["tiktok/a"].df2_class = 1
    write_decisions(
        ctx.catalog,
        [Decision(state.items["tiktok/a"], Status.ACCEPTED, None)],
        {},
        checks_later=False,
        held={},
    )


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (Status.NEEDS_REVIEW, "association: the shop image matches no frame (score 0.1)"),
        (Status.REJECTED, "taxonomy: not clothing"),
        (Status.DUPLICATE, "duplicate of tiktok/b"),
    ],
)
def test_flags_recorded_under_cleanings_state_hold_the_item_cleaning_accepts(ctx, status, reason):
    _item(ctx, status, reason)
    assert flag_video(ctx.catalog, "tiktok", "a", "a_1", "too few frames") is None  # recorded only
    assert _row(ctx) == (status, reason)
    ctx.cfg.association_check = False  # the rerun clears its own hold in record
    _clean_accepts(ctx)
    if reason.startswith("association:"):
        # a run without the check keeps the check's hold; the check's next accept clears it
        assert _row(ctx) == (status, reason)
        _check_accepts(ctx)
    assert _row(ctx) == FLAGGED
    # an accept of the flagged video made under the flag releases it
    record_decision(ctx.catalog, video="videos/a_1.mp4", product_id="a", kind="accept")
    assert _row(ctx) == (Status.ACCEPTED, None)


def test_flags_withdrawn_before_cleaning_accepts_do_not_hold(ctx):
    _item(ctx, Status.REJECTED, "taxonomy: not clothing")
    flag_video(ctx.catalog, "tiktok", "a", "a_1", "too few frames")
    unflag_videos(ctx.catalog, "tiktok", "a")
    ctx.cfg.association_check = False
    _clean_accepts(ctx)
    assert _row(ctx) == (Status.ACCEPTED, None)


def test_flags_recorded_under_a_merge_hold_hold_the_item_publish_releases(ctx):
    hold = f"{MERGE_PREFIX} shares its shop image with tiktok/z (product z), another product page whose colour differs"
    _item(ctx, Status.NEEDS_REVIEW, hold)
    assert flag_video(ctx.catalog, "tiktok", "a", "a_1", "too few frames") is None
    # no conflict left (no shop images here): publish releases its hold
    assert hold_shop_conflicts(ctx.catalog)["released"] == [("tiktok", "a")]
    assert _row(ctx) == FLAGGED


SHOP_FLAG = "shop: candidates too alike to pick one (by colour, scores [0.9, 0.89])"


def _clean_flags(ctx, reason: str) -> None:
    """A rerun of ``mf clean`` whose own check flags the item (``reason``: cleaning's)."""
    state = CleaningState.from_catalog(ctx.catalog)
    state.items["tiktok/a"].df2_class = 1
    state.items["tiktok/a"].decide(Status.NEEDS_REVIEW, reason)
    RecordStep().run(state, ctx)


@pytest.mark.parametrize("whole", [False, True])
def test_cleanings_own_flag_on_an_item_the_builder_holds_by_its_record_is_not_lost(ctx, whole):
    """The item is held by the builder's recorded flag (a video's, or one about the whole item);
    a rerun of ``mf clean`` flags it for a reason of its own: its flag takes the item's reason, and
    the builder's record holds the item again once an accept made under cleaning's hold lifts it,
    until an accept made under the builder's. Before, ``record`` kept the builder's reason and
    dropped cleaning's flag: the accept of the flagged video released the item, and cleaning, which
    does not flag a reviewer's accept again, never held it for its own reason."""
    _item(ctx, Status.ACCEPTED, None)
    if whole:
        flag_item(ctx.catalog, "tiktok", "a", "tracklets: whole item unreadable")
        builders = (Status.NEEDS_REVIEW, "tracklets: whole item unreadable")
    else:
        flag_video(ctx.catalog, "tiktok", "a", "a_1", "too few frames")
        builders = FLAGGED
    assert _row(ctx) == builders
    ctx.cfg.association_check = False
    _clean_flags(ctx, SHOP_FLAG)
    assert _row(ctx) == (Status.NEEDS_REVIEW, SHOP_FLAG)
    record_decision(ctx.catalog, video="videos/a_1.mp4", product_id="a", kind="accept")  # under cleaning's
    assert _row(ctx) == builders
    record_decision(ctx.catalog, video="videos/a_1.mp4", product_id="a", kind="accept")  # under the builder's
    assert _row(ctx) == (Status.ACCEPTED, None)
