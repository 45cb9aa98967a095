"""The tracklet builder's flags recorded while another stage held the item (cleaning's
association check, publish's merge hold) or while cleaning excluded it (rejected, duplicate) hold
the item the moment cleaning or publish writes it ``accepted`` (``tracklet_flags:`` record,
:func:`schemas.review.flag_video`): a rerun clearing its own hold or accepting the item, or
publish releasing its merge hold, never lets ``mf publish`` have it with the flagged videos
unreviewed."""

from __future__ import annotations

import pytest

from cleaning.publish import MERGE_PREFIX, hold_shop_conflicts
from cleaning.steps.record import RecordStep
from cleaning.steps.state import CleaningState
from schemas.items import SourceItem, Status
from schemas.review import flag_video, record_decision, unflag_videos

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
