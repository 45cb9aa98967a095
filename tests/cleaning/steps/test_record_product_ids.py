"""``record``'s product ids: the source id, ``<source>-<source_id>`` when two items share it, and
an id once written kept, so an item collected later under the same source id (a URL-list copy of
a TikTok video) never renames a published product (its videos, tracklets and review decisions)."""

from __future__ import annotations

from cleaning.steps.record import RecordStep
from cleaning.steps.state import CleaningState
from schemas.items import SourceItem, Status


def _record(ctx) -> dict[str, str]:
    state = CleaningState.from_catalog(ctx.catalog)
    for it in state.items.values():
        it.df2_class = 1
        it.decide(Status.ACCEPTED, None)
    RecordStep().run(state, ctx)
    return {f"{r.item.source}/{r.item.source_id}": r.product_id for r in ctx.catalog.items()}


def test_an_item_collected_later_under_the_same_source_id_renames_nothing(ctx):
    ctx.catalog.upsert_items(
        [SourceItem(source="tiktok", source_id="7063", title="silk blouse")], status=Status.DOWNLOADED
    )
    assert _record(ctx) == {"tiktok/7063": "7063"}
    ctx.catalog.upsert_items(
        [SourceItem(source="urls", source_id="7063", title="silk blouse")], status=Status.DOWNLOADED
    )
    assert _record(ctx) == {"tiktok/7063": "7063", "urls/7063": "urls-7063"}  # was tiktok-7063
    assert _record(ctx) == {"tiktok/7063": "7063", "urls/7063": "urls-7063"}


def test_items_sharing_a_source_id_from_the_start_both_carry_their_source(ctx):
    ctx.catalog.upsert_items(
        [SourceItem(source=s, source_id="C1q", title="silk blouse") for s in ("instagram", "urls")],
        status=Status.DOWNLOADED,
    )
    assert _record(ctx) == {"instagram/C1q": "instagram-C1q", "urls/C1q": "urls-C1q"}
