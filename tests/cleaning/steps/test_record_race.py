"""``record`` and ``associations`` against another process writing the catalog meanwhile.

The race is staged deterministically: a second connection (as ``mf-tracklets build --catalog``
or a reviewer would) marks items right after the step read the catalog, before its writes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import cleaning.steps.associations as associations_step
import cleaning.steps.record as record_step
from cleaning.steps.associations import AssociationsStep
from cleaning.steps.base import StepContext
from cleaning.steps.record import RecordStep
from cleaning.steps.state import CleaningState
from schemas.catalog import Catalog
from schemas.errors import CatalogError
from schemas.items import SourceItem, Status

FLAG = "tracklets: b_0: low confidence: det_mean 0.5 < 0.9"
REVIEWED = "review: rejected too noisy (videos/c_0.mp4)"


def _catalog_with(ctx: StepContext, *sids: str, status: Status = Status.ACCEPTED, reason: str | None = None):
    ctx.catalog.upsert_items(
        [SourceItem(source="tiktok", source_id=s, title="silk blouse") for s in sids],
        status=status,
        reason=reason,
    )


def _meanwhile(ctx: StepContext, marks: dict[str, tuple[Status, str]]) -> Callable[[], None]:
    """Set ``marks`` from another connection, as another process would."""

    def mark() -> None:
        with Catalog(ctx.catalog.path) as other:
            for sid, (status, reason) in marks.items():
                other.set_item_state("tiktok", sid, status=status, reason=reason)

    return mark


def _after_read(monkeypatch, ctx: StepContext, then: Callable[[], None]) -> None:
    """Run ``then`` once, right after the step's first read of the items."""
    read, done = ctx.catalog.items, []

    def items(*args, **kw):
        rows = read(*args, **kw)
        if not done:
            done.append(True)
            then()
        return rows

    monkeypatch.setattr(ctx.catalog, "items", items)


class _NeverCalled:
    def score(self, video_path: str, shop_path: str) -> float:
        raise AssertionError("no pair to score")


def _row(ctx: StepContext, sid: str) -> tuple[str, str | None]:
    row = ctx.catalog.get_item("tiktok", sid)
    return str(row.status), row.reason


def test_marks_set_between_record_read_and_write_stay(ctx, monkeypatch):
    _catalog_with(ctx, "a", "b", "c", "d", "e")
    state = CleaningState.from_catalog(ctx.catalog)
    for it in state.items.values():
        it.df2_class = 1
    state.items["tiktok/d"].decide(Status.REJECTED, "probe: no valid video (no video file)")
    state.items["tiktok/e"].decide(Status.DUPLICATE, "dedup: exact duplicate of tiktok/a", "tiktok/a")
    marks = {
        "b": (Status.NEEDS_REVIEW, FLAG),  # the tracklet builder's flag
        "c": (Status.REJECTED, REVIEWED),  # a reviewer's reject
        "d": (Status.NEEDS_REVIEW, FLAG),  # cleaning rejects it itself: its reason wins
        "e": (Status.NEEDS_REVIEW, FLAG),  # a duplicate too
    }
    _after_read(monkeypatch, ctx, _meanwhile(ctx, marks))
    RecordStep().run(state, ctx)

    assert _row(ctx, "a") == ("accepted", None)
    assert _row(ctx, "b") == ("needs_review", FLAG)
    assert _row(ctx, "c") == ("rejected", REVIEWED)
    assert _row(ctx, "d") == ("rejected", "probe: no valid video (no video file)")
    assert _row(ctx, "e") == ("duplicate", "dedup: exact duplicate of tiktok/a")
    b = ctx.catalog.get_item("tiktok", "b")
    assert (b.product_id, b.df2_class) == ("b", 1)  # the rest of the decision is recorded
    assert ctx.catalog.get_item("tiktok", "c").product_id is None  # not cleaning's any more: untouched
    assert (state.items["tiktok/b"].status, state.items["tiktok/b"].reason) == (Status.NEEDS_REVIEW, FLAG)
    assert state.items["tiktok/c"].status == Status.REJECTED


def test_a_reviewer_accept_meanwhile_is_recorded_as_cleaning_accepts(ctx, monkeypatch):
    """A row cleaning read flagged (another stage's flag) and a reviewer accepted meanwhile:
    cleaning's decision applies to the row as it is now (accepted), as on a run after the accept."""
    _catalog_with(ctx, "a", status=Status.NEEDS_REVIEW, reason=FLAG)
    state = CleaningState.from_catalog(ctx.catalog)
    state.items["tiktok/a"].df2_class = 1
    _after_read(monkeypatch, ctx, _meanwhile(ctx, {"a": (Status.ACCEPTED, None)}))
    RecordStep().run(state, ctx)
    assert _row(ctx, "a") == ("accepted", None)


def test_a_row_that_keeps_changing_is_an_error_naming_it(ctx, monkeypatch):
    _catalog_with(ctx, "a")
    state = CleaningState.from_catalog(ctx.catalog)
    monkeypatch.setattr(
        ctx.catalog, "set_item_states_if", lambda updates, **_: [(s, i) for s, i, _, _ in updates]
    )
    with pytest.raises(CatalogError, match="tiktok/a kept changing"):
        RecordStep().run(state, ctx)


def test_a_flag_set_before_the_held_write_back_stays(ctx, monkeypatch):
    """``associations`` writes back this run's decision of an item ``record`` held flagged; a
    tracklet flag set on it meanwhile is kept."""
    _catalog_with(ctx, "h", "k", status=Status.NEEDS_REVIEW, reason="association: match score 0.1")
    state = CleaningState.from_catalog(ctx.catalog)
    state.held = {"tiktok/h": (Status.ACCEPTED, None), "tiktok/k": (Status.ACCEPTED, None)}
    for it in state.items.values():
        it.decide(Status.NEEDS_REVIEW, "association: match score 0.1")
    ctx.scorer = _NeverCalled()
    check, mark = associations_step.run_association_check, _meanwhile(ctx, {"h": (Status.NEEDS_REVIEW, FLAG)})

    def check_then_mark(*args, **kw):
        res = check(*args, **kw)  # no pairs here: nothing scored, nothing flagged
        mark()
        return res

    monkeypatch.setattr(associations_step, "run_association_check", check_then_mark)
    AssociationsStep().run(state, ctx)
    assert _row(ctx, "h") == ("needs_review", FLAG)
    assert _row(ctx, "k") == ("accepted", None)
    assert state.items["tiktok/h"].reason == FLAG


def test_batches_are_one_transaction_each(ctx, monkeypatch):
    _catalog_with(ctx, *(f"i{n:03d}" for n in range(12)))
    state = CleaningState.from_catalog(ctx.catalog)
    monkeypatch.setattr(record_step, "BATCH", 5)
    calls = []
    cas = ctx.catalog.set_item_states_if
    monkeypatch.setattr(ctx.catalog, "set_item_states_if", lambda u, **kw: calls.append(1) or cas(u, **kw))
    RecordStep().run(state, ctx)
    assert len(calls) == 3
    assert {_row(ctx, f"i{n:03d}") for n in range(12)} == {("accepted", None)}
